#pragma once

#include <absl/container/flat_hash_map.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/schema.h"
#include "connectors/spanmetrics/exponential.h"
#include "log/cursors.h"
#include "pipeline/component.h"

namespace sluice::connectors::spanmetrics {

// The OpenTelemetry Collector's `spanmetrics` connector: a `calls` counter
// and a `duration` histogram per service, span name, kind and status code
// (plus the configured dimensions), from the spans of the traces pipelines
// it is an exporter of, into the metrics pipelines it is a receiver of.
//
// Beyond the Collector's: the aggregation is checkpointed with the position
// in the log it covers, so a restart (or a kill -9) continues the counters
// from the checkpoint and re-reads the spans after it exactly once.
struct Dimension {
  std::string name;
  std::optional<std::string> default_value;
};

struct SpanMetricsOptions {
  // Explicit histogram bounds, in seconds (the Collector's defaults).
  std::vector<double> buckets_seconds = {0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2,
                                         0.4,   0.8,   1,     1.4,   2,    5,    10,  15};
  bool unit_seconds = false;  // histogram.unit: ms (default) or s
  // histogram.exponential.max_size: > 0 makes the duration histogram an
  // exponential one of at most this many buckets instead of explicit ones.
  int64_t exponential_max_size = 0;
  std::vector<Dimension> dimensions;
  std::chrono::nanoseconds metrics_flush_interval = std::chrono::seconds(60);
  std::chrono::nanoseconds metrics_expiration = std::chrono::minutes(5);  // 0: never
  int64_t aggregation_cardinality_limit = 10000;                          // 0: no limit
  bool exemplars = true;
  std::string metric_namespace = "traces.span.metrics";
  log::StartAt start_at = log::StartAt::kOldest;
  int64_t max_tenants = 100;  // besides the default tenant
};

const config::Schema<SpanMetricsOptions>& SpanMetricsOptionsSchema();
pipeline::ComponentType SpanMetricsConnectorType();

// The aggregation, separate from the log and the clock so tests can drive
// it: spans in, series out, and its own encoding for the checkpoint.
class Aggregator {
 public:
  explicit Aggregator(const SpanMetricsOptions& options) : options_(options) {}

  struct Exemplar {
    std::string trace_id, span_id;
    double value = 0;
    int64_t time_unix_nano = 0;
  };
  struct Series {
    std::string service;
    std::vector<std::pair<std::string, std::string>> attributes;  // besides service.name
    uint64_t calls = 0;
    std::vector<uint64_t> bucket_counts;  // explicit: buckets_seconds.size() + 1
    ExponentialHistogram exponential;     // exponential: in the histogram's unit
    double sum = 0;                       // in the histogram's unit
    int64_t last_update_unix_nano = 0;
    std::optional<Exemplar> exemplar;
  };

  // Adds every span of an OTLP traces request; `now` is the wall time.
  // Returns the spans folded into overflow series.
  Result<uint64_t> Add(std::string_view request, int64_t now_unix_nano);
  // Drops series not updated within metrics_expiration of `now`.
  uint64_t Expire(int64_t now_unix_nano);
  // The OTLP ExportMetricsServiceRequest of every series (cumulative,
  // started at start_time), "" when there are none.
  std::string Encode(int64_t start_time_unix_nano, int64_t now_unix_nano) const;

  // Checkpoint form of the series and back.
  std::string Serialize() const;
  Status Deserialize(std::string_view bytes);

  const absl::flat_hash_map<uint64_t, Series>& series() const { return series_; }

 private:
  const SpanMetricsOptions options_;  // a copy: callers pass temporaries
  // The hash Add finds a series by, from the series' own fields.
  uint64_t HashOf(const Series& s) const;

  // By a 64-bit hash of service, name, kind, status and dimensions (see
  // SeriesHash): two series share a hash with a probability of about
  // n^2 / 2^65 (3e-12 at 10k series).
  absl::flat_hash_map<uint64_t, Series> series_;
};

}  // namespace sluice::connectors::spanmetrics
