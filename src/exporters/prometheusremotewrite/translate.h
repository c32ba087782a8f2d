#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/status.h"
#include "wire/prom/naming.h"

namespace sluice::exporters::prw {

// Turns OTLP metrics and Prometheus remote write requests into encoded
// prometheus.TimeSeries messages, one at a time, for the remote_write
// exporter to route to shards by label hash and batch into WriteRequests.
// The mapping rules are in docs/exporters/prometheusremotewrite_translation.md;
// the names they give are in naming.h.

struct Label {
  std::string name;
  std::string value;
};

struct TranslateOptions {
  // Unit suffixes (`_seconds`, `_ratio`, ...) and `_total` on counters.
  bool add_metric_suffixes = true;
  // One `target_info` gauge per resource carrying its non-identifying attributes.
  bool send_target_info = true;
  // `otel_scope_name` / `otel_scope_version` labels on every translated series.
  bool add_scope_labels = true;
  // Every resource attribute (besides those job and instance come from) as
  // a label of each of the resource's series, replacing a point attribute
  // with the same key (the Collector's resource_to_telemetry_conversion).
  bool resource_to_telemetry = false;
  // Added to every series that lacks a label of the same name (a series'
  // own label wins, as Prometheus does). Names must match
  // [a-zA-Z_][a-zA-Z0-9_]*, must not start with "__", and must be unique;
  // entries with an empty value are ignored.
  std::vector<Label> external_labels;
};

// Counters are added to (never reset), so one struct can span many calls.
// Every dropped data point is counted under exactly one reason.
struct TranslateStats {
  uint64_t series = 0;   // TimeSeries passed to the sink
  uint64_t samples = 0;  // samples (and, in pass-through, native histograms) in them
  uint64_t target_info_series = 0;
  uint64_t dropped_points = 0;                   // sum of the dropped_* reasons below
  uint64_t dropped_delta_temporality = 0;        // delta sums/histograms: need state to accumulate
  uint64_t dropped_unspecified_temporality = 0;  // sums/histograms without a temporality
  uint64_t dropped_exponential_histogram = 0;    // remote write 1.0 has no native histograms
  uint64_t dropped_invalid_point = 0;  // no value, bucket/bound mismatch, non-UTF-8 label value
  uint64_t dropped_invalid_name = 0;   // metric name empty after sanitising
  // Not data points:
  uint64_t dropped_no_data = 0;    // metrics with no data field
  uint64_t dropped_exemplars = 0;  // remote write 1.0 has no exemplars
  uint64_t dropped_metadata = 0;   // pass-through MetricMetadata entries (not points)
  std::string first_error;         // describes the first drop, for a log line
};

// Receives one encoded prometheus.TimeSeries (the message bytes, without the
// WriteRequest field key) and the hash of its label set. `timeseries` is only
// valid during the call. Labels in it are sorted by name, unique and non-empty.
class SeriesSink {
 public:
  virtual ~SeriesSink() = default;
  // `samples`: the samples and native histograms in it.
  virtual void Series(uint64_t label_hash, std::string_view timeseries, uint64_t samples) = 0;
};

// The hash passed to SeriesSink: XXH3-64 of the label set's canonical
// encoding (labels sorted by name, empty values left out, each one a
// prometheus.Label field with name then value and minimal varints). The same
// label set always hashes the same, from either translation or pass-through.
// `labels` must already be sorted by name. Not persisted: it may change
// between sluice versions.
uint64_t LabelSetHash(const std::vector<Label>& sorted_labels);

// The Prometheus sample value that marks a series stale.
inline constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ULL;

// Reuses its buffers across calls, so the hot path allocates only while they
// grow. Not thread-safe: one Translator per thread. The sink is called
// synchronously. If a call fails with InvalidArgument, series already passed
// to the sink stay passed; a caller wanting all-or-nothing discards them.
class Translator {
 public:
  // Fails with InvalidArgument if an external label is unusable.
  static Result<std::unique_ptr<Translator>> Create(TranslateOptions options);
  ~Translator();
  Translator(const Translator&) = delete;
  Translator& operator=(const Translator&) = delete;

  // Translates an uncompressed opentelemetry ExportMetricsServiceRequest.
  Status TranslateOtlpMetrics(std::string_view request, SeriesSink& sink, TranslateStats* stats);

  // Splits an uncompressed prometheus.WriteRequest whose series have labels
  // sorted by name without repeats (as the receiver validates) into its
  // series. Without external labels each series is passed on as the very
  // bytes of the request; with them, its labels are re-encoded merged with
  // the external labels and the other fields are copied as they are.
  // MetricMetadata entries are counted and dropped.
  Status SplitWriteRequest(std::string_view request, SeriesSink& sink, TranslateStats* stats);

 private:
  struct Impl;
  explicit Translator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One-shot forms for callers that do not keep a Translator (they allocate
// their buffers on every call). `stats` may be null.
Status TranslateOtlpMetrics(std::string_view request, const TranslateOptions& options,
                            SeriesSink& sink, TranslateStats* stats);
Status SplitWriteRequest(std::string_view request, const TranslateOptions& options,
                         SeriesSink& sink, TranslateStats* stats);

// Accumulates encoded TimeSeries into one prometheus.WriteRequest body
// (uncompressed). Clear() keeps the buffer's capacity.
class WriteRequestBuilder {
 public:
  void Add(std::string_view timeseries);
  // Bytes Add(timeseries) would append.
  static size_t EncodedSize(std::string_view timeseries);

  size_t series() const { return series_; }
  size_t bytes() const { return body_.size(); }
  std::string_view body() const { return body_; }
  void Clear() {
    body_.clear();
    series_ = 0;
  }
  void Reserve(size_t bytes) { body_.reserve(bytes); }
  // Hands over the body and starts empty (with a buffer of the same capacity
  // for the next request).
  std::string Take() {
    std::string out;
    out.reserve(body_.capacity());
    out.swap(body_);
    series_ = 0;
    return out;
  }

 private:
  std::string body_;
  size_t series_ = 0;
};

}  // namespace sluice::exporters::prw
