#include "connectors/spanmetrics/spanmetrics_connector.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/logging.h"
#include "io/crc32c.h"
#include "io/file_system.h"
#include "pipeline/read_loop.h"
#include "receivers/common/ingest.h"
#include "wire/otlp/common.h"
#include "wire/otlp/inspect.h"
#include "wire/otlp/metrics.h"
#include "wire/otlp/traces.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sluice::connectors::spanmetrics {
namespace {

namespace of = wire::otlp::field;

constexpr char kOverflowAttribute[] = "otel.metric.overflow";

const char* KindName(int64_t kind) {
  static const char* kNames[] = {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL",
                                 "SPAN_KIND_SERVER",      "SPAN_KIND_CLIENT",
                                 "SPAN_KIND_PRODUCER",    "SPAN_KIND_CONSUMER"};
  return kind >= 0 && kind <= 5 ? kNames[kind] : "SPAN_KIND_UNSPECIFIED";
}

const char* StatusName(uint64_t code) {
  static const char* kNames[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"};
  return code <= 2 ? kNames[code] : "STATUS_CODE_UNSET";
}

std::string Key(std::string_view service,
                const std::vector<std::pair<std::string, std::string>>& attrs) {
  std::string key(service);
  for (const auto& [k, v] : attrs) {
    key.push_back('\x1f');
    key += k;
    key.push_back('\x1e');
    key += v;
  }
  return key;
}

// An OTLP KeyValue with a string value.
void AppendStringAttribute(wire::ProtoWriter& w, uint32_t field, std::string_view key,
                           std::string_view value) {
  size_t kv = w.BeginMessage(field);
  w.Bytes(of::kKeyValueKey, key);
  size_t any = w.BeginMessage(of::kKeyValueValue);
  w.Bytes(of::kAnyString, value);
  w.EndMessage(any);
  w.EndMessage(kv);
}

constexpr char kMagic[4] = {'S', 'L', 'S', 'M'};
constexpr uint32_t kStateVersion = 1;

}  // namespace

Result<uint64_t> Aggregator::Add(std::string_view request, int64_t now_unix_nano) {
  uint64_t overflowed = 0;
  const double scale = options_.unit_seconds ? 1e-9 : 1e-6;  // ns to the histogram unit
  std::vector<std::pair<std::string, std::string>> attrs;
  SLUICE_RETURN_IF_ERROR(wire::otlp::ForEachLeaf(
      request, [&](std::string_view resource, std::string_view, std::string_view leaf) -> Status {
        wire::otlp::SpanView span;
        SLUICE_RETURN_IF_ERROR(wire::otlp::ViewSpan(leaf, &span));
        std::string_view v;
        std::string service =
            wire::otlp::FindAttribute(resource, of::kResourceAttributes, "service.name", &v)
                ? wire::otlp::AnyValueText(v)
                : "unknown_service";
        attrs.clear();
        attrs.emplace_back("span.name", std::string(span.name));
        attrs.emplace_back("span.kind", KindName(span.kind));
        attrs.emplace_back("status.code",
                           StatusName(wire::LastVarintField(span.status, of::kStatusCode)));
        for (const Dimension& d : options_.dimensions) {
          if (wire::otlp::FindAttribute(leaf, of::kSpanAttributes, d.name, &v) ||
              wire::otlp::FindAttribute(resource, of::kResourceAttributes, d.name, &v)) {
            attrs.emplace_back(d.name, wire::otlp::AnyValueText(v));
          } else if (d.default_value) {
            attrs.emplace_back(d.name, *d.default_value);
          }
        }
        std::string key = Key(service, attrs);
        auto it = series_.find(key);
        if (it == series_.end() && options_.aggregation_cardinality_limit > 0 &&
            static_cast<int64_t>(series_.size()) >= options_.aggregation_cardinality_limit) {
          // Past the limit: the span counts in its service's overflow series.
          attrs.assign({{kOverflowAttribute, "true"}});
          key = Key(service, attrs);
          it = series_.find(key);
          ++overflowed;
        }
        if (it == series_.end()) {
          Series s;
          s.service = service;
          s.attributes = attrs;
          s.bucket_counts.assign(options_.buckets_seconds.size() + 1, 0);
          it = series_.emplace(std::move(key), std::move(s)).first;
        }
        Series& s = it->second;
        uint64_t duration_ns = span.end_time_unix_nano > span.start_time_unix_nano
                                   ? span.end_time_unix_nano - span.start_time_unix_nano
                                   : 0;
        double value = static_cast<double>(duration_ns) * scale;
        double seconds = static_cast<double>(duration_ns) * 1e-9;
        size_t bucket =
            static_cast<size_t>(std::lower_bound(options_.buckets_seconds.begin(),
                                                 options_.buckets_seconds.end(), seconds) -
                                options_.buckets_seconds.begin());
        ++s.calls;
        ++s.bucket_counts[bucket];
        s.sum += value;
        s.last_update_unix_nano = now_unix_nano;
        if (options_.exemplars) {
          s.exemplar = Exemplar{std::string(span.trace_id), std::string(span.span_id), value,
                                static_cast<int64_t>(span.end_time_unix_nano)};
        }
        return Status::Ok();
      }));
  return overflowed;
}

uint64_t Aggregator::Expire(int64_t now_unix_nano) {
  if (options_.metrics_expiration.count() <= 0) return 0;
  int64_t cutoff = now_unix_nano - options_.metrics_expiration.count();
  return static_cast<uint64_t>(std::erase_if(
      series_, [&](const auto& kv) { return kv.second.last_update_unix_nano < cutoff; }));
}

std::string Aggregator::Encode(int64_t start_time_unix_nano, int64_t now_unix_nano) const {
  if (series_.empty()) return "";
  // Series by service, each service one resource.
  std::map<std::string_view, std::vector<const Series*>> by_service;
  for (const auto& [key, s] : series_) by_service[s.service].push_back(&s);
  const std::string calls_name = options_.metric_namespace + ".calls";
  const std::string duration_name = options_.metric_namespace + ".duration";
  std::string out;
  wire::ProtoWriter w(&out);
  auto point_attributes = [&](wire::ProtoWriter& pw, uint32_t field, const Series& s) {
    AppendStringAttribute(pw, field, "service.name", s.service);
    for (const auto& [k, v] : s.attributes) AppendStringAttribute(pw, field, k, v);
  };
  for (const auto& [service, list] : by_service) {
    size_t rm = w.BeginMessage(of::kRequestResourceMetrics);
    size_t res = w.BeginMessage(of::kResourceMetricsResource);
    AppendStringAttribute(w, of::kResourceAttributes, "service.name", service);
    w.EndMessage(res);
    size_t sm = w.BeginMessage(of::kResourceMetricsScopeMetrics);
    size_t scope = w.BeginMessage(of::kScopeMetricsScope);
    w.Bytes(of::kScopeName, "sluice/connector/spanmetrics");
    w.EndMessage(scope);
    // calls: a monotonic cumulative int sum.
    size_t m = w.BeginMessage(of::kScopeMetricsMetrics);
    w.Bytes(of::kMetricName, calls_name);
    size_t sum = w.BeginMessage(of::kMetricSum);
    for (const Series* s : list) {
      size_t p = w.BeginMessage(of::kDataPoints);
      w.Fixed64(of::kPointStartTime, static_cast<uint64_t>(start_time_unix_nano));
      w.Fixed64(of::kPointTime, static_cast<uint64_t>(now_unix_nano));
      w.Fixed64(of::kNumberAsInt, s->calls);
      point_attributes(w, of::kNumberAttributes, *s);
      w.EndMessage(p);
    }
    w.Varint(of::kTemporality, 2);  // AGGREGATION_TEMPORALITY_CUMULATIVE
    w.Varint(of::kSumIsMonotonic, 1);
    w.EndMessage(sum);
    w.EndMessage(m);
    // duration: a cumulative explicit-bucket histogram.
    m = w.BeginMessage(of::kScopeMetricsMetrics);
    w.Bytes(of::kMetricName, duration_name);
    w.Bytes(of::kMetricUnit, options_.unit_seconds ? "s" : "ms");
    size_t hist = w.BeginMessage(of::kMetricHistogram);
    for (const Series* s : list) {
      size_t p = w.BeginMessage(of::kDataPoints);
      w.Fixed64(of::kPointStartTime, static_cast<uint64_t>(start_time_unix_nano));
      w.Fixed64(of::kHistogramTime, static_cast<uint64_t>(now_unix_nano));
      w.Fixed64(of::kHistogramCount, s->calls);
      w.Double(of::kHistogramSum, s->sum);
      std::string counts, bounds;
      for (uint64_t c : s->bucket_counts) {
        char b[8];
        std::memcpy(b, &c, 8);
        counts.append(b, 8);
      }
      for (double bound : options_.buckets_seconds) {
        double v = options_.unit_seconds ? bound : bound * 1e3;
        char b[8];
        std::memcpy(b, &v, 8);
        bounds.append(b, 8);
      }
      w.Bytes(of::kHistogramBucketCounts, counts);    // packed fixed64
      w.Bytes(of::kHistogramExplicitBounds, bounds);  // packed double
      if (s->exemplar) {
        // Exemplar: time_unix_nano = 2, as_double = 3, span_id = 4, trace_id = 5.
        size_t e = w.BeginMessage(of::kHistogramExemplars);
        w.Fixed64(2, static_cast<uint64_t>(s->exemplar->time_unix_nano));
        w.Double(3, s->exemplar->value);
        w.Bytes(4, s->exemplar->span_id);
        w.Bytes(5, s->exemplar->trace_id);
        w.EndMessage(e);
      }
      point_attributes(w, of::kHistogramAttributes, *s);
      w.EndMessage(p);
    }
    w.Varint(of::kTemporality, 2);
    w.EndMessage(hist);
    w.EndMessage(m);
    w.EndMessage(sm);
    w.EndMessage(rm);
  }
  return out;
}

// Checkpoint layout (our own; protobuf wire format): repeated Series = 1 {
// service = 1, repeated attribute = 2 {key = 1, value = 2}, calls = 3,
// repeated bucket = 4, sum = 5 (double), last_update = 6, exemplar = 7
// {trace_id = 1, span_id = 2, value = 3, time = 4}}.
std::string Aggregator::Serialize() const {
  std::string out;
  wire::ProtoWriter w(&out);
  for (const auto& [key, s] : series_) {
    size_t m = w.BeginMessage(1);
    w.Bytes(1, s.service);
    for (const auto& [k, v] : s.attributes) {
      size_t a = w.BeginMessage(2);
      w.Bytes(1, k);
      w.Bytes(2, v);
      w.EndMessage(a);
    }
    w.Varint(3, s.calls);
    for (uint64_t c : s.bucket_counts) w.Varint(4, c);
    w.Double(5, s.sum);
    w.Varint(6, static_cast<uint64_t>(s.last_update_unix_nano));
    if (s.exemplar) {
      size_t e = w.BeginMessage(7);
      w.Bytes(1, s.exemplar->trace_id);
      w.Bytes(2, s.exemplar->span_id);
      w.Double(3, s.exemplar->value);
      w.Varint(4, static_cast<uint64_t>(s.exemplar->time_unix_nano));
      w.EndMessage(e);
    }
    w.EndMessage(m);
  }
  return out;
}

Status Aggregator::Deserialize(std::string_view bytes) {
  series_.clear();
  wire::ProtoReader r(bytes);
  while (r.Next()) {
    if (r.field() != 1) continue;
    Series s;
    wire::ProtoReader f(r.bytes());
    while (f.Next()) {
      switch (f.field()) {
        case 1:
          s.service = std::string(f.bytes());
          break;
        case 2:
          s.attributes.emplace_back(std::string(wire::LastBytesField(f.bytes(), 1)),
                                    std::string(wire::LastBytesField(f.bytes(), 2)));
          break;
        case 3:
          s.calls = f.varint();
          break;
        case 4:
          s.bucket_counts.push_back(f.varint());
          break;
        case 5:
          s.sum = f.as_double();
          break;
        case 6:
          s.last_update_unix_nano = f.as_int64();
          break;
        case 7: {
          Exemplar e;
          e.trace_id = std::string(wire::LastBytesField(f.bytes(), 1));
          e.span_id = std::string(wire::LastBytesField(f.bytes(), 2));
          wire::ProtoReader x(f.bytes());
          while (x.Next()) {
            if (x.field() == 3) e.value = x.as_double();
            if (x.field() == 4) e.time_unix_nano = x.as_int64();
          }
          s.exemplar = std::move(e);
          break;
        }
        default:
          break;
      }
    }
    if (!f.ok()) return Status::Corruption(std::string("series: ") + f.error());
    if (s.bucket_counts.size() != options_.buckets_seconds.size() + 1) {
      return Status::Corruption("the checkpoint's buckets differ from the configured ones");
    }
    std::string key = Key(s.service, s.attributes);
    series_.emplace(std::move(key), std::move(s));
  }
  if (!r.ok()) return Status::Corruption(r.error());
  return Status::Ok();
}

namespace {

// The checkpoint file: magic, version, CRC-32C of the rest, then
// position (3 varints), start time, and the series.
std::string EncodeCheckpoint(const log::Position& pos, int64_t start_time,
                             const std::string& series) {
  std::string body;
  wire::ProtoWriter w(&body);
  w.Varint(1, pos.segment);
  w.Varint(2, pos.byte_offset);
  w.Varint(3, pos.record_offset);
  w.Varint(4, static_cast<uint64_t>(start_time));
  w.Bytes(5, series);
  std::string out(kMagic, 4);
  uint32_t version = kStateVersion;
  uint32_t crc = io::Crc32c(body);
  out.append(reinterpret_cast<const char*>(&version), 4);
  out.append(reinterpret_cast<const char*>(&crc), 4);
  out += body;
  return out;
}

Status DecodeCheckpoint(std::string_view file, log::Position* pos, int64_t* start_time,
                        std::string_view* series) {
  if (file.size() < 12 || std::memcmp(file.data(), kMagic, 4) != 0) {
    return Status::Corruption("not a spanmetrics checkpoint");
  }
  uint32_t version, crc;
  std::memcpy(&version, file.data() + 4, 4);
  std::memcpy(&crc, file.data() + 8, 4);
  if (version != kStateVersion) {
    return Status::Corruption("checkpoint version " + std::to_string(version) + ", expected " +
                              std::to_string(kStateVersion));
  }
  std::string_view body = file.substr(12);
  if (io::Crc32c(body) != crc) return Status::Corruption("checkpoint checksum mismatch");
  wire::ProtoReader r(body);
  while (r.Next()) {
    switch (r.field()) {
      case 1:
        pos->segment = r.varint();
        break;
      case 2:
        pos->byte_offset = r.varint();
        break;
      case 3:
        pos->record_offset = r.varint();
        break;
      case 4:
        *start_time = r.as_int64();
        break;
      case 5:
        *series = r.bytes();
        break;
      default:
        break;
    }
  }
  if (!r.ok()) return Status::Corruption(r.error());
  return Status::Ok();
}

class SpanMetricsConnector final : public pipeline::Exporter, private pipeline::LogSink {
 public:
  SpanMetricsConnector(const pipeline::ComponentSettings& settings,
                       const SpanMetricsOptions& options, pipeline::Runtime& rt)
      : settings_(settings),
        options_(options),
        rt_(rt),
        aggregator_(options_),
        path_(io::JoinPath(io::JoinPath(rt.log.directory(), "connectors"), settings.id + ".state")),
        metrics_(rt.metrics, settings.id),
        ingest_(rt.metrics, settings.id, "metric_points"),
        spans_(rt.metrics
                   .AddCounter("sluice_connector_spans_total",
                               "Spans a connector aggregated (each once, across restarts).",
                               {"connector"})
                   .With({settings.id})),
        overflow_(rt.metrics
                      .AddCounter("sluice_connector_overflow_spans_total",
                                  "Spans a connector counted in an overflow series "
                                  "(otel.metric.overflow=true) past "
                                  "aggregation_cardinality_limit.",
                                  {"connector"})
                      .With({settings.id})),
        expired_(rt.metrics
                     .AddCounter("sluice_connector_expired_series_total",
                                 "Series a connector stopped exporting after "
                                 "metrics_expiration without a span.",
                                 {"connector"})
                     .With({settings.id})),
        resets_(rt.metrics
                    .AddCounter("sluice_connector_state_resets_total",
                                "Checkpoints a connector could not read and started over from "
                                "(counters restart with a new start time).",
                                {"connector"})
                    .With({settings.id})),
        series_(rt.metrics
                    .AddGauge("sluice_connector_series", "Series a connector holds.", {"connector"})
                    .With({settings.id})) {}

  Status Start() override {
    LoadCheckpoint();
    pipeline::ReadLoop::Options o;
    o.name = settings_.id;
    for (const auto& p : settings_.pipelines) o.pipeline_ids.push_back(p.id);
    o.start_at = options_.start_at;
    pipeline::LogSink& sink = *this;
    loop_ = std::make_unique<pipeline::ReadLoop>(rt_, o, sink, metrics_);
    last_flush_ = rt_.clock.NowUnixNanos();
    return loop_->Start();
  }

  void Stop(pipeline::Deadline deadline) override {
    if (loop_) loop_->Stop(deadline);
  }

 private:
  void LoadCheckpoint() {
    start_time_ = rt_.clock.NowUnixNanos();
    if (!rt_.log.fs().Exists(path_)) return;
    Result<std::string> file = io::ReadSmallFile(rt_.log.fs(), path_);
    log::Position pos;
    int64_t start = 0;
    std::string_view series;
    Status st = file.ok() ? DecodeCheckpoint(*file, &pos, &start, &series) : file.status();
    if (st.ok()) st = aggregator_.Deserialize(series);
    if (!st.ok()) {
      // Counters restart, with a new start time so backends see a reset.
      resets_.Inc();
      aggregator_.Deserialize("").IgnoreError();
      logging::Error("connector", "checkpoint unreadable; counters start over",
                     {{"connector", settings_.id}, {"error", st.ToString()}});
      return;
    }
    start_time_ = start;
    resume_ = pos;
    checkpointed_ = pos;
    series_.Set(static_cast<int64_t>(aggregator_.series().size()));
  }

  Status Take(const log::LogReader::Batch& batch, const log::Position& start) override {
    // Batches before the checkpoint's position are in its counts already.
    if (resume_ && log::Before(start, *resume_)) return Status::Ok();
    if (batch.header.encoding != log::Encoding::kOtlpProto ||
        batch.header.signal != log::Signal::kTraces) {
      return Status::Ok();
    }
    Result<uint64_t> overflowed = aggregator_.Add(batch.payload, rt_.clock.NowUnixNanos());
    if (!overflowed.ok()) {
      logging::Error("connector", "stored batch does not decode; skipped",
                     {{"connector", settings_.id}, {"error", overflowed.status().ToString()}});
      return Status::Ok();
    }
    spans_.Inc(batch.header.item_count);
    overflow_.Inc(*overflowed);
    series_.Set(static_cast<int64_t>(aggregator_.series().size()));
    return Status::Ok();
  }

  // The cursor moves only at a checkpoint, once per flush interval and at
  // stop: the state is written with the position it covers first, then the
  // metrics of exactly that state are appended, so what was exported never
  // exceeds what a restart resumes from.
  Result<log::Position> Committable(const log::Position& read) override {
    int64_t now = rt_.clock.NowUnixNanos();
    if (!loop_->Stopping() && now - last_flush_ < options_.metrics_flush_interval.count()) {
      return loop_->committed();
    }
    last_flush_ = now;
    expired_.Inc(aggregator_.Expire(now));
    series_.Set(static_cast<int64_t>(aggregator_.series().size()));
    SLUICE_RETURN_IF_ERROR(rt_.log.fs().CreateDirs(io::DirName(path_)));
    SLUICE_RETURN_IF_ERROR(io::WriteFileAtomically(
        rt_.log.fs(), path_, EncodeCheckpoint(read, start_time_, aggregator_.Serialize())));
    checkpointed_ = read;
    resume_ = read;
    Emit(now);
    return read;
  }

  void Emit(int64_t now) {
    if (settings_.outputs.empty()) return;
    receivers::Batch batch;
    batch.signal = log::Signal::kMetrics;
    batch.encoding = log::Encoding::kOtlpProto;
    batch.payload = aggregator_.Encode(start_time_, now);
    if (batch.payload.empty()) return;
    batch.items = aggregator_.series().size() * 2;
    batch.min_time_unix_nano = batch.max_time_unix_nano = now;
    bool taken = receivers::Store(rt_, settings_.outputs, ingest_, std::move(batch), [](Status) {});
    if (!taken) ingest_.Refused("memory_limit", aggregator_.series().size() * 2);
  }

  const pipeline::ComponentSettings settings_;
  const SpanMetricsOptions options_;
  pipeline::Runtime& rt_;
  Aggregator aggregator_;
  const std::string path_;
  pipeline::ExporterMetrics metrics_;
  receivers::IngestCounters ingest_;
  telemetry::Counter& spans_;
  telemetry::Counter& overflow_;
  telemetry::Counter& expired_;
  telemetry::Counter& resets_;
  telemetry::Gauge& series_;
  std::unique_ptr<pipeline::ReadLoop> loop_;
  int64_t start_time_ = 0;
  int64_t last_flush_ = 0;
  std::optional<log::Position> resume_;
  std::optional<log::Position> checkpointed_;
};

}  // namespace

const config::Schema<SpanMetricsOptions>& SpanMetricsOptionsSchema() {
  static const config::Schema<SpanMetricsOptions> schema = [] {
    config::Schema<SpanMetricsOptions> s("spanmetrics connector");
    s.Custom("histogram", "map", "explicit, ms",
             "`explicit: {buckets: [2ms, 4ms, ...]}` (the Collector's default buckets when "
             "unset) and `unit: ms|s`. `exponential` is not supported yet.",
             [](const YAML::Node& n, SpanMetricsOptions* o, config::Context& ctx) {
               if (!n.IsMap()) {
                 ctx.AddError(n, "expected a map with explicit and unit");
                 return;
               }
               for (auto it = n.begin(); it != n.end(); ++it) {
                 std::string key = it->first.Scalar();
                 const YAML::Node v = it->second;
                 if (key == "unit") {
                   std::string unit;
                   if (!ctx.Scalar(v, &unit)) continue;
                   if (unit != "ms" && unit != "s") {
                     ctx.AddError(v, "unknown unit \"" + unit + "\"; choose one of ms, s");
                   }
                   o->unit_seconds = unit == "s";
                 } else if (key == "explicit") {
                   if (!v.IsMap()) continue;
                   const YAML::Node buckets = v["buckets"];
                   if (!buckets.IsDefined()) continue;
                   if (!buckets.IsSequence()) {
                     ctx.AddError(buckets, "expected a list of durations");
                     continue;
                   }
                   o->buckets_seconds.clear();
                   for (const auto& b : buckets) {
                     std::chrono::nanoseconds d{};
                     if (config::internal::ParseDuration(b, ctx, {0, {}}, &d)) {
                       o->buckets_seconds.push_back(static_cast<double>(d.count()) * 1e-9);
                     }
                   }
                   if (!std::is_sorted(o->buckets_seconds.begin(), o->buckets_seconds.end())) {
                     ctx.AddError(buckets, "buckets must be in increasing order");
                   }
                 } else if (key == "exponential") {
                   ctx.AddError(it->first,
                                "exponential histograms are not supported yet; use "
                                "explicit buckets");
                 } else {
                   ctx.AddError(it->first, "unknown key \"" + key +
                                               "\" in histogram; valid keys: explicit, unit");
                 }
               }
             });
    s.Custom("dimensions", "list", "[]",
             "`{name, default}`: a span attribute (or else a resource attribute) added to the "
             "series' attributes; without `default`, spans lacking it leave it out.",
             [](const YAML::Node& n, SpanMetricsOptions* o, config::Context& ctx) {
               if (!n.IsSequence()) {
                 ctx.AddError(n, "expected a list of {name, default}");
                 return;
               }
               for (const auto& d : n) {
                 Dimension dim;
                 if (!d.IsMap() || !d["name"] || !ctx.Scalar(d["name"], &dim.name)) {
                   ctx.AddError(d, "expected {name: ..., default: ...}");
                   continue;
                 }
                 if (d["default"]) {
                   std::string v;
                   if (ctx.Scalar(d["default"], &v)) dim.default_value = v;
                 }
                 o->dimensions.push_back(std::move(dim));
               }
             });
    s.Duration("metrics_flush_interval", &SpanMetricsOptions::metrics_flush_interval,
               "How often the aggregation is checkpointed and its metrics appended to the "
               "metrics pipelines.",
               {1e8L, 3600e9L})
        .Duration("metrics_expiration", &SpanMetricsOptions::metrics_expiration,
                  "Series without a span for this long stop being exported (0: never).",
                  {0, 365 * 86400e9L})
        .Int("aggregation_cardinality_limit", &SpanMetricsOptions::aggregation_cardinality_limit,
             "Series held at most; spans of new series past it count in one overflow series "
             "per service (otel.metric.overflow=\"true\"). 0: no limit.",
             {0, 100'000'000})
        .Custom("exemplars", "map", "enabled: true",
                "`enabled`: the last span's trace and span id as an exemplar on each "
                "histogram point.",
                [](const YAML::Node& n, SpanMetricsOptions* o, config::Context& ctx) {
                  if (n.IsMap() && n["enabled"]) {
                    config::internal::ParseBool(n["enabled"], ctx, &o->exemplars);
                  }
                })
        .String("namespace", &SpanMetricsOptions::metric_namespace,
                "Prefix of the metric names: <namespace>.calls and <namespace>.duration.")
        .Custom("aggregation_temporality", "string", "AGGREGATION_TEMPORALITY_CUMULATIVE",
                "Only cumulative is supported.",
                [](const YAML::Node& n, SpanMetricsOptions*, config::Context& ctx) {
                  std::string t;
                  if (ctx.Scalar(n, &t) && t != "AGGREGATION_TEMPORALITY_CUMULATIVE") {
                    ctx.AddError(n, "only AGGREGATION_TEMPORALITY_CUMULATIVE is supported");
                  }
                })
        .Enum("start_at", &SpanMetricsOptions::start_at,
              {{"oldest", log::StartAt::kOldest}, {"newest", log::StartAt::kNewest}},
              "Where a connector without a checkpoint starts reading: the oldest spans the log "
              "holds (rebuilding from the log), or new ones only.");
    return s;
  }();
  return schema;
}

pipeline::ComponentType SpanMetricsConnectorType() {
  return pipeline::MakeConnectorType(
      "spanmetrics",
      "Calls and duration metrics per service, span name, kind and status from a traces "
      "pipeline, checkpointed with its position in the log (docs/connectors.md).",
      {log::Signal::kTraces}, {log::Signal::kMetrics}, SpanMetricsOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const SpanMetricsOptions& o,
         pipeline::Runtime& rt) -> Result<std::unique_ptr<pipeline::Exporter>> {
        return std::unique_ptr<pipeline::Exporter>(new SpanMetricsConnector(s, o, rt));
      });
}

}  // namespace sluice::connectors::spanmetrics
