#include "exporters/postgresql/postgresql_exporter.h"

#include <algorithm>
#include <cstring>

#include "exporters/postgresql/postgres_sender.h"
#include "exporters/prometheusremotewrite/series.h"
#include "io/file_system.h"
#include "net/libpq.h"

namespace sluice::exporters::postgresql {
namespace {

constexpr const char* kRoute = "postgresql_copy";
// Bound on the series names whose table and column are remembered.
constexpr size_t kMaxTargets = 100'000;
// Bytes a row adds to a request besides its text: its share of the framing.
constexpr uint64_t kRowOverhead = 8;

// OTLP metrics keep their own names (no unit or _total suffixes), so a
// metric named as pgwatch names its series still maps to its table; no
// target_info or scope labels, which would be tables and tags of their own.
prw::TranslateOptions Translation() {
  prw::TranslateOptions t;
  t.add_metric_suffixes = false;
  t.send_target_info = false;
  t.add_scope_labels = false;
  return t;
}

SenderSettings SettingsOf(const PostgresqlOptions& o) {
  return {o.conninfo(), o.schema, o.partition_seconds(), o.timeout};
}

}  // namespace

Result<std::shared_ptr<const pgmetrics::Definitions>> LoadDefinitions(
    const std::string& metrics_file) {
  auto defs = std::make_shared<pgmetrics::Definitions>(pgmetrics::Builtin());
  if (!metrics_file.empty()) {
    Result<std::string> text = io::ReadSmallFile(io::FileSystem::Posix(), metrics_file);
    if (!text.ok()) {
      return Status::InvalidArgument("metrics_file: " + text.status().ToString());
    }
    SLUICE_ASSIGN_OR_RETURN(pgmetrics::Definitions own,
                            pgmetrics::ParseDefinitions(text.value(), metrics_file, defs.get()));
    defs->Merge(std::move(own));
  }
  return std::shared_ptr<const pgmetrics::Definitions>(std::move(defs));
}

const config::Schema<PostgresqlOptions>& PostgresqlOptionsSchema() {
  static const config::Schema<PostgresqlOptions> schema = [] {
    config::Schema<PostgresqlOptions> s("postgresql");
    s.String("endpoint", &PostgresqlOptions::endpoint,
             "libpq connection string of the database written to: key=value pairs "
             "(host=db dbname=metrics user=pgwatch) or a postgresql:// URI. Required, here or "
             "as conn_str.")
        .String("conn_str", &PostgresqlOptions::conn_str, "Another name for endpoint.")
        .String("schema", &PostgresqlOptions::schema,
                "Schema of the metric tables (it must exist).")
        .String("namespace", &PostgresqlOptions::name_space,
                "Prefix of the series names of pgwatch metrics: <namespace>_<metric>_<column> is "
                "column <column> of the metric's table.")
        .String("metrics_file", &PostgresqlOptions::metrics_file,
                "Metric definitions in pgwatch's metrics.yaml shape, added to the built-in ones "
                "(replacing those of the same name): which metrics exist and their tables "
                "(metric_storage_name).")
        .Duration("partition_interval", &PostgresqlOptions::partition_interval,
                  "Time span of each partition of a metric table: 1h, 2h, 3h, 4h, 6h, 8h, 12h, "
                  "1d or 7d (weeks from Monday), counted from midnight UTC.",
                  {3600e9L, 7 * 86400e9L})
        .Duration("timeout", &PostgresqlOptions::timeout,
                  "connect_timeout and statement_timeout of the connections; a server silent "
                  "for a second longer than this loses the connection.",
                  {1e9L, 600e9L})
        .Int("max_rows_per_request", &PostgresqlOptions::max_rows_per_request,
             "Rows written in one transaction at most.", {1, 1000000})
        .Bytes("max_request_bytes", &PostgresqlOptions::max_request_bytes,
               "Rows are gathered into transactions of about this much COPY text.",
               {64 * 1024, 256.0L * 1024 * 1024})
        .Object("retry_on_failure", &PostgresqlOptions::retry_on_failure, RetryOptionsSchema(), "")
        .Object("sending_queue", &PostgresqlOptions::sending_queue, QueueOptionsSchema(),
                "num_consumers is the number of connections writing at once.")
        .Enum("start_at", &PostgresqlOptions::start_at, StartAtChoices(), kStartAtHelp)
        .Object("dead_letter", &PostgresqlOptions::dead_letter, DeadLetterOptionsSchema(), "")
        .Check([](const PostgresqlOptions& o) -> std::string {
          if (o.endpoint.empty() == o.conn_str.empty()) {
            return "set the connection string in one of endpoint and conn_str";
          }
          if (o.schema.empty()) return "schema must not be empty";
          if (o.partition_interval.count() % 1'000'000'000 != 0 ||
              !ValidPartitionInterval(o.partition_seconds())) {
            return "partition_interval must be 1h, 2h, 3h, 4h, 6h, 8h, 12h, 1d or 7d";
          }
          Result<std::shared_ptr<const pgmetrics::Definitions>> defs =
              LoadDefinitions(o.metrics_file);
          if (!defs.ok()) return defs.status().message();
          return "";
        });
    return s;
  }();
  return schema;
}

RowEncoder::RowEncoder(std::shared_ptr<const pgmetrics::Definitions> defs,
                       const PostgresqlOptions& options,
                       std::unique_ptr<prw::Translator> translator, RowCounters counters,
                       std::string exporter_id)
    : defs_(std::move(defs)),
      name_space_(options.name_space),
      max_rows_(static_cast<uint64_t>(options.max_rows_per_request)),
      max_bytes_(options.max_request_bytes),
      counters_(counters),
      reader_(std::move(translator),
              prw::BatchCounters{counters.unsupported_items, counters.dropped_points},
              std::move(exporter_id)) {}

RowEncoder::Target RowEncoder::TargetOf(const pgmetrics::Definitions& defs,
                                        std::string_view name_space, std::string_view series_name) {
  std::optional<pgmetrics::SplitName> split = pgmetrics::Split(defs, name_space, series_name);
  if (split) return {TableName(split->metric->table()), std::move(split->column)};
  return {TableName(series_name), "value"};
}

const RowEncoder::Target& RowEncoder::TargetFor(std::string_view series_name) {
  auto it = targets_.find(std::string(series_name));
  if (it != targets_.end()) return it->second;
  return targets_.emplace(std::string(series_name), TargetOf(*defs_, name_space_, series_name))
      .first->second;
}

void RowEncoder::Series(uint64_t, std::string_view timeseries, uint64_t samples) {
  // Labels arrive sorted by name and unique (SeriesSink's contract).
  std::string_view name;
  std::string_view dbname;
  std::string tags;
  samples_.clear();
  std::optional<uint64_t> histograms = prw::ReadTimeSeries(
      timeseries,
      [&](std::string_view label_name, std::string_view label_value) {
        if (label_name == "__name__") {
          name = label_value;
        } else if (label_name == "dbname") {
          dbname = label_value;
        } else {
          tags += tags.empty() ? '{' : ',';
          AppendJsonText(tags, label_name);
          tags += ':';
          AppendJsonText(tags, label_value);
        }
      },
      [&](double value, int64_t ms) {
        samples_.push_back({value, ms});
      });
  if (!histograms) {
    counters_.unsupported_items->Inc(samples);
    return;
  }
  if (!tags.empty()) tags += '}';
  if (*histograms > 0) counters_.unsupported_items->Inc(*histograms);
  if (name.empty()) return;  // the receivers refuse such series
  const Target& target = TargetFor(name);

  for (const auto& [value, ms] : samples_) {
    uint64_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    if (bits == prw::kStaleNaNBits) {
      counters_.stale_markers->Inc();
      continue;
    }
    key_.assign(target.table);
    key_ += '\0';
    key_.append(reinterpret_cast<const char*>(&ms), sizeof ms);
    key_.append(dbname);
    key_ += '\0';
    key_ += tags;
    auto [it, inserted] = row_index_.try_emplace(key_, rows_.size());
    if (inserted) rows_.push_back(Row{target.table, ms, std::string(dbname), tags, {}});
    Row& row = rows_[it->second];
    const size_t before = row.data.size();
    if (before > 0) row.data += ',';
    AppendJsonText(row.data, target.column);
    row.data += ':';
    // NaN (other than the stale marker) and infinities have no JSON form:
    // the column is left out of the row.
    if (!AppendJsonNumber(row.data, value)) {
      row.data.resize(before);
      counters_.non_finite_values->Inc();
    }
  }
}

void RowEncoder::Add(const log::LogReader::Batch& batch, uint64_t record, const EmitFn& emit) {
  if (targets_.size() > kMaxTargets) targets_.clear();
  reader_.Read(batch, *this);
  EndBatch(record, emit);
}

void RowEncoder::EndBatch(uint64_t record, const EmitFn& emit) {
  for (Row& row : rows_) {
    if (row.data.empty()) continue;  // every value was NaN or infinite
    // A request emitted part-way through a batch leaves the rest of the
    // batch, and only that, in the next one.
    if (open_rows_ == 0) first_record_ = record;
    OpenTable& t = open_[row.table];
    const size_t before = t.copy.size();
    t.copy += TimestampText(row.unix_millis);
    t.copy += '\t';
    AppendCopyEscaped(t.copy, row.dbname);
    t.copy += "\t{";
    AppendCopyEscaped(t.copy, row.data);
    t.copy += "}\t";
    if (row.tags.empty()) {
      t.copy += "\\N";
    } else {
      AppendCopyEscaped(t.copy, row.tags);
    }
    t.copy += '\n';
    const int64_t hour = row.unix_millis >= 0 ? row.unix_millis / 1000 / kSecondsPerHour
                                              : -((-row.unix_millis + 3'599'999) / 3'600'000);
    auto at = std::lower_bound(t.hours.begin(), t.hours.end(), hour);
    if (at == t.hours.end() || *at != hour) t.hours.insert(at, hour);
    ++t.rows;
    ++open_rows_;
    open_bytes_ += t.copy.size() - before + kRowOverhead;
    if (open_rows_ >= max_rows_ || open_bytes_ >= max_bytes_) Emit(emit);
  }
  rows_.clear();
  row_index_.clear();
}

void RowEncoder::Emit(const EmitFn& emit) {
  if (open_rows_ == 0) return;
  std::vector<TableRows> tables;
  tables.reserve(open_.size());
  for (auto& [name, t] : open_) {
    tables.push_back(TableRows{name, std::move(t.hours), t.rows, std::move(t.copy)});
  }
  pipeline::OutboundRequest out;
  out.signal = log::Signal::kMetrics;
  out.route = kRoute;
  out.items = open_rows_;
  out.first_record = first_record_;
  EncodeRequest(tables, &out.body);
  open_.clear();
  open_rows_ = 0;
  open_bytes_ = 0;
  emit(std::move(out));
}

void RowEncoder::Flush(const EmitFn& emit) {
  Emit(emit);
}

std::optional<uint64_t> RowEncoder::OldestHeld() const {
  if (open_rows_ == 0) return std::nullopt;
  return first_record_;
}

pipeline::ComponentType PostgresqlExporterType() {
  pipeline::ComponentType t = pipeline::MakeExporterType(
      "postgresql",
      "Writes metrics into PostgreSQL as pgwatch's sink does: a time-partitioned table per "
      "metric of (time, dbname, data jsonb, tag_data jsonb) rows, by COPY.",
      {log::Signal::kMetrics}, PostgresqlOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const PostgresqlOptions& o,
         pipeline::Runtime& rt) -> Result<std::unique_ptr<pipeline::Exporter>> {
        SLUICE_RETURN_IF_ERROR(net::LoadLibPq().status());
        SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<const pgmetrics::Definitions> defs,
                                LoadDefinitions(o.metrics_file));
        SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<prw::Translator> probe,
                                prw::Translator::Create(Translation()));
        (void)probe;
        auto& dropped = prw::DroppedPointsCounter(rt.metrics, s.id);
        auto& stale =
            rt.metrics
                .AddCounter("sluice_exporter_postgresql_stale_markers_total",
                            "Remote write stale markers, which are not rows.", {"exporter"})
                .With({s.id});
        auto& non_finite =
            rt.metrics
                .AddCounter("sluice_exporter_postgresql_non_finite_values_total",
                            "NaN and infinite values, which JSON cannot hold: left out of their "
                            "row.",
                            {"exporter"})
                .With({s.id});
        return std::unique_ptr<pipeline::Exporter>(new RequestExporter(
            s, rt, o.start_at, o.retry_on_failure, o.sending_queue, o.dead_letter,
            [o, defs, &dropped, &stale, &non_finite, id = s.id](telemetry::Counter& unsupported) {
              return std::make_unique<RowEncoder>(
                  defs, o, std::move(*prw::Translator::Create(Translation())),
                  RowCounters{&unsupported, &dropped, &stale, &non_finite}, id);
            },
            [o] { return std::make_unique<PostgresSender>(SettingsOf(o)); }));
      });
  return Feedable(pipeline::WithSender<PostgresqlOptions>(
      std::move(t), [](const PostgresqlOptions& o) -> std::unique_ptr<pipeline::Sender> {
        return std::make_unique<PostgresSender>(SettingsOf(o));
      }));
}

}  // namespace sluice::exporters::postgresql
