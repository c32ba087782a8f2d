#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "exporters/common/delivery.h"
#include "exporters/postgresql/rows.h"
#include "exporters/prometheusremotewrite/batch_series.h"
#include "exporters/prometheusremotewrite/translate.h"
#include "pgmetrics/metrics.h"
#include "pipeline/component.h"

namespace sluice::exporters::postgresql {

struct PostgresqlOptions {
  // A libpq connection string, key=value or postgresql:// URI; `conn_str`
  // is another name for it.
  std::string endpoint;
  std::string conn_str;
  std::string schema = "public";
  std::string name_space = "pgwatch";  // `namespace`
  std::string metrics_file;
  std::chrono::nanoseconds partition_interval = std::chrono::hours(24);
  std::chrono::nanoseconds timeout = std::chrono::seconds(30);
  int64_t max_rows_per_request = 10000;
  uint64_t max_request_bytes = 8ull << 20;
  RetryOptions retry_on_failure;
  QueueOptions sending_queue;
  DeadLetterOptions dead_letter;
  log::StartAt start_at = log::StartAt::kOldest;

  const std::string& conninfo() const { return endpoint.empty() ? conn_str : endpoint; }
  int64_t partition_seconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(partition_interval).count();
  }
};

const config::Schema<PostgresqlOptions>& PostgresqlOptionsSchema();

// The built-in metric definitions merged with those of `metrics_file` (when
// set), which replace built-in ones of the same name. Error: the file cannot
// be read or parsed (saying which, with its line).
Result<std::shared_ptr<const pgmetrics::Definitions>> LoadDefinitions(
    const std::string& metrics_file);

// Each points into the runtime's registry and outlives the encoder.
struct RowCounters {
  telemetry::Counter* unsupported_items;  // wrong signal, native histograms, undecodable
  telemetry::Counter* dropped_points;     // OTLP points with no series form
  telemetry::Counter* stale_markers;      // remote write stale markers (not rows)
  telemetry::Counter* non_finite_values;  // NaN and ±Inf, which JSON cannot hold
};

// Rebuilds pgwatch's rows from the series of each metrics batch (remote
// write split as it is, OTLP translated by prw::Translator):
//
//   series <namespace>_<metric>_<column>{dbname="d", k="v"} = x @ t
//     → table metric.table(), row (t, "d", {"<column>": x}, {"k": "v"})
//
// Series of one batch with the same table, timestamp and labels (besides
// __name__) make one row with a column each. A series no definition
// claims is a table of its own (TableName of its name) with {"value": x}.
// A NaN or infinite value is left out of its row (counted), and a row left
// with no column is not written.
// Rows go into requests of at most max_rows_per_request rows or about
// max_request_bytes, one COPY text block per table (rows.h). Requests carry
// no shard: rows of a table may be written by any worker in any order.
class RowEncoder final : public RequestEncoder, private prw::SeriesSink {
 public:
  // `exporter_id` names the exporter in the log lines about batches skipped.
  RowEncoder(std::shared_ptr<const pgmetrics::Definitions> defs, const PostgresqlOptions& options,
             std::unique_ptr<prw::Translator> translator, RowCounters counters,
             std::string exporter_id = {});
  void Add(const log::LogReader::Batch& batch, uint64_t record, const EmitFn& emit) override;
  void Flush(const EmitFn& emit) override;
  std::optional<uint64_t> OldestHeld() const override;

  // How a series name maps to a table and a column of `data`.
  struct Target {
    std::string table;
    std::string column;
  };
  static Target TargetOf(const pgmetrics::Definitions& defs, std::string_view name_space,
                         std::string_view series_name);

 private:
  // One row being gathered from the series of the current batch.
  struct Row {
    std::string table;
    int64_t unix_millis;
    std::string dbname;
    std::string tags;  // JSON object, empty for none
    std::string data;  // JSON members without the braces
  };
  struct OpenTable {
    std::vector<int64_t> hours;  // sorted, distinct
    uint64_t rows = 0;
    std::string copy;
  };

  void Series(uint64_t label_hash, std::string_view timeseries, uint64_t samples) override;
  const Target& TargetFor(std::string_view series_name);
  // Moves the rows of the batch at `record` into the open request,
  // emitting it as it fills.
  void EndBatch(uint64_t record, const EmitFn& emit);
  void Emit(const EmitFn& emit);

  const std::shared_ptr<const pgmetrics::Definitions> defs_;
  const std::string name_space_;
  const uint64_t max_rows_;
  const uint64_t max_bytes_;
  RowCounters counters_;
  prw::MetricsBatchReader reader_;

  // Series name → where it goes; cleared when it grows past a bound.
  std::unordered_map<std::string, Target> targets_;
  // The current batch's rows and their index by (table, time, labels).
  std::vector<Row> rows_;
  std::unordered_map<std::string, size_t> row_index_;
  std::string key_;                                  // scratch
  std::vector<std::pair<double, int64_t>> samples_;  // scratch: one series' (value, ms)

  // The open request.
  std::map<std::string, OpenTable> open_;
  uint64_t open_rows_ = 0;
  uint64_t open_bytes_ = 0;
  uint64_t first_record_ = 0;
};

// The `postgresql` exporter type's registration record: a RequestExporter
// (delivery loop, retries, dead-letter queue) with RowEncoder and one
// PostgresSender per worker. The cursor passes a batch once every row made
// from it is committed by the database or dead-lettered (at least once: a
// request whose COMMIT answer was lost is written again).
pipeline::ComponentType PostgresqlExporterType();

}  // namespace sluice::exporters::postgresql
