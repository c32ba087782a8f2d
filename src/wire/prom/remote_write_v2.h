#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice::wire::prom {

// Field numbers from the Prometheus remote write 2.0 specification
// (io.prometheus.write.v2.Request and its messages). Request fields 1..3 are
// reserved so that a 1.0 WriteRequest never parses as a 2.0 Request.
namespace field_v2 {
inline constexpr uint32_t kRequestFirstReserved = 1;
inline constexpr uint32_t kRequestLastReserved = 3;
inline constexpr uint32_t kRequestSymbols = 4;
inline constexpr uint32_t kRequestTimeseries = 5;
inline constexpr uint32_t kSeriesLabelsRefs = 1;  // packed uint32, name/value pairs
inline constexpr uint32_t kSeriesSamples = 2;
inline constexpr uint32_t kSeriesHistograms = 3;
inline constexpr uint32_t kSeriesExemplars = 4;
inline constexpr uint32_t kSeriesMetadata = 5;
inline constexpr uint32_t kSeriesCreatedTimestamp = 6;
inline constexpr uint32_t kExemplarLabelsRefs = 1;
inline constexpr uint32_t kExemplarValue = 2;
inline constexpr uint32_t kExemplarTimestamp = 3;
inline constexpr uint32_t kSampleValue = 1;
inline constexpr uint32_t kSampleTimestamp = 2;
inline constexpr uint32_t kMetadataType = 1;
inline constexpr uint32_t kMetadataHelpRef = 3;
inline constexpr uint32_t kMetadataUnitRef = 4;
inline constexpr uint32_t kHistogramSchema = 4;  // sint32
inline constexpr uint32_t kHistogramTimestamp = 15;
inline constexpr uint32_t kHistogramCustomValues = 16;
}  // namespace field_v2

// Native histogram schemas with a 1.0 form: the exponential ones. Schema -53
// (custom buckets) needs custom_values, which remote write 1.0 does not define.
inline constexpr int32_t kMinExponentialSchema = -4;
inline constexpr int32_t kMaxExponentialSchema = 8;

// The result of converting one 2.0 Request. "Written" counts are what
// `write_request` holds; rejected series are left out of it entirely.
struct V2Conversion {
  uint64_t series = 0;
  uint64_t invalid_series = 0;      // broke a rule of the specification
  uint64_t unsupported_series = 0;  // valid, but without a 1.0 form
  uint64_t samples = 0;             // written
  uint64_t histograms = 0;
  uint64_t exemplars = 0;
  uint64_t invalid_items = 0;  // samples and histograms of invalid series
  uint64_t unsupported_items = 0;
  // Over the written samples and histograms (one without a timestamp field
  // has timestamp 0, as proto3 leaves 0 out), when any_timestamp; both are 0
  // otherwise (0 is also a real timestamp, so not "none").
  bool any_timestamp = false;
  int64_t min_timestamp_ms = 0;
  int64_t max_timestamp_ms = 0;
  std::string first_error;  // names the series, e.g. "series 3: ..."
  // A prometheus.WriteRequest (1.0) holding every accepted series.
  std::string write_request;

  uint64_t rejected_series() const { return invalid_series + unsupported_series; }
};

// Decodes a decompressed io.prometheus.write.v2.Request and re-encodes it as
// the 1.0 prometheus.WriteRequest the log stores:
//
//   2.0 TimeSeries                      1.0 TimeSeries
//   labels_refs [n0 v0 n1 v1 ...]   ->  labels {name=symbols[n0] value=symbols[v0]} ...
//   samples (value=1, timestamp=2)  ->  samples, bytes unchanged (same fields)
//   exemplars (labels_refs, 2, 3)   ->  exemplars {labels, value, timestamp}
//   histograms, exponential schema  ->  histograms, bytes unchanged (fields 1..15 agree)
//   metadata (type, help/unit refs) ->  WriteRequest.metadata, once per metric name
//   created_timestamp               ->  dropped (1.0 has no field for it)
//
// Each series must satisfy the same label rules as 1.0 (a non-empty
// __name__, names matching [a-zA-Z_][a-zA-Z0-9_]*, sorted by name without
// repeats, UTF-8 values, timestamps in range), reference symbols in range in
// pairs, and not mix samples with histograms. A series breaking a rule is counted as invalid,
// one with a custom-bucket histogram as unsupported; neither is fatal. A
// request that is malformed protobuf, whose symbols[0] is not "", or that
// carries 1.0 fields is InvalidArgument.
//
// `write_request` does not point into `request`; `request` may be freed.
Status ConvertRequestV2(std::string_view request, V2Conversion* out);

}  // namespace sluice::wire::prom
