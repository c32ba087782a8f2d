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

struct WriteInspection {
  uint64_t series = 0;
  uint64_t rejected_series = 0;
  uint64_t items = 0;  // samples and native histograms
  uint64_t rejected_items = 0;
  int64_t min_timestamp_ms = 0;  // over kept samples; 0 when none
  int64_t max_timestamp_ms = 0;
  std::string first_error;
  std::vector<bool> series_ok;  // per series, in wire order
};

// Walks a decompressed WriteRequest. Each series must have labels whose
// names match [a-zA-Z_][a-zA-Z0-9_]*, sorted by name with no repeats, a
// non-empty __name__, and UTF-8 values. A series breaking a rule is marked
// (not fatal); a request whose structure is malformed, or that has the 2.0
// Request's fields (symbols, timeseries = 4, 5), is InvalidArgument.
Status InspectWriteRequest(std::string_view request, WriteInspection* out);

// Re-encodes the request keeping only the series marked ok (and metadata).
std::string FilterWriteRequest(std::string_view request, const std::vector<bool>& series_ok);

}  // namespace sluice::wire::prom
