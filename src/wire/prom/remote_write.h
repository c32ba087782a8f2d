#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sluice::wire::prom {

// Field numbers from the Prometheus remote write 1.0 specification
// (prometheus.WriteRequest and its messages).
namespace field {
inline constexpr uint32_t kWriteTimeseries = 1;
inline constexpr uint32_t kWriteMetadata = 3;
inline constexpr uint32_t kSeriesLabels = 1;
inline constexpr uint32_t kSeriesSamples = 2;
inline constexpr uint32_t kSeriesExemplars = 3;
inline constexpr uint32_t kSeriesHistograms = 4;
inline constexpr uint32_t kLabelName = 1;
inline constexpr uint32_t kLabelValue = 2;
inline constexpr uint32_t kSampleValue = 1;
inline constexpr uint32_t kSampleTimestamp = 2;
inline constexpr uint32_t kHistogramTimestamp = 15;
inline constexpr uint32_t kExemplarLabels = 1;
inline constexpr uint32_t kExemplarValue = 2;
inline constexpr uint32_t kExemplarTimestamp = 3;
inline constexpr uint32_t kMetadataType = 1;
inline constexpr uint32_t kMetadataFamilyName = 2;
inline constexpr uint32_t kMetadataHelp = 4;
inline constexpr uint32_t kMetadataUnit = 5;
}  // namespace field

// Sample and histogram timestamps are milliseconds since the epoch, and the
// log keeps a batch's event times as int64 nanoseconds, so a series is kept
// only while its timestamps still fit once multiplied by a million: from
// 1677-09-21 to 2262-04-11 UTC. Both versions reject a series with a
// timestamp outside that range, saying so.
inline constexpr int64_t kNanosPerMilli = 1'000'000;
inline constexpr int64_t kMinTimestampMs = INT64_MIN / kNanosPerMilli;
inline constexpr int64_t kMaxTimestampMs = INT64_MAX / kNanosPerMilli;
constexpr bool TimestampInRange(int64_t ms) {
  return ms >= kMinTimestampMs && ms <= kMaxTimestampMs;
}
// The reason a series with `ms` as the timestamp of its `what` is rejected.
std::string TimestampOutOfRange(std::string_view what, int64_t ms);

struct WriteInspection {
  uint64_t series = 0;
  uint64_t rejected_series = 0;
  uint64_t items = 0;  // samples and native histograms
  uint64_t rejected_items = 0;
  // Over the kept series' samples and histograms (one without a timestamp
  // field has timestamp 0, as proto3 leaves 0 out), when any_timestamp;
  // both are 0 otherwise (0 is also a real timestamp, so not "none").
  bool any_timestamp = false;
  int64_t min_timestamp_ms = 0;
  int64_t max_timestamp_ms = 0;
  std::string first_error;
  std::vector<bool> series_ok;  // per series, in wire order
};

// Walks a decompressed WriteRequest. Each series must have labels whose
// names match [a-zA-Z_][a-zA-Z0-9_]*, sorted by name with no repeats, a
// non-empty __name__, UTF-8 values, and timestamps in range
// (TimestampInRange). A series breaking a rule is marked
// (not fatal); a request whose structure is malformed, or that has the 2.0
// Request's fields (symbols, timeseries = 4, 5), is InvalidArgument.
Status InspectWriteRequest(std::string_view request, WriteInspection* out);

// Re-encodes the request keeping only the series marked ok (and metadata).
std::string FilterWriteRequest(std::string_view request, const std::vector<bool>& series_ok);

}  // namespace sluice::wire::prom
