#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "query/bloom.h"

namespace sluice::query {

// What the query layer knows of one closed segment of the log, without
// reading it: the time range of its spans and log records, the services
// they come from, and a filter of its trace ids. Kept in memory for every
// segment and written next to the log as <storage>/query/<segment>.qix:
//
//   magic "SLUICEQX" (8) | version u16 | reserved u16 | body length u32 |
//   body | crc32c u32 (of everything before it)
//
// The body is protobuf wire format: segment = 1, min_time = 2, max_time = 3
// (unix ns, zigzag), spans = 4, log_records = 5, repeated service = 6,
// bloom = 7 (BloomFilter::Serialize). A file that fails a check is rebuilt
// from its segment.
struct SegmentSummary {
  uint64_t segment = 0;  // base offset
  int64_t min_time_unix_nano = std::numeric_limits<int64_t>::max();
  int64_t max_time_unix_nano = std::numeric_limits<int64_t>::min();
  uint64_t spans = 0;
  uint64_t log_records = 0;
  std::vector<std::string> services;  // sorted, unique
  BloomFilter traces;

  // Whether an item at [from, to] may be in the segment.
  bool Overlaps(int64_t from_unix_nano, int64_t to_unix_nano) const {
    return spans + log_records > 0 && min_time_unix_nano <= to_unix_nano &&
           max_time_unix_nano >= from_unix_nano;
  }
};

inline constexpr uint16_t kSummaryVersion = 1;
inline constexpr const char* kSummarySuffix = ".qix";

std::string EncodeSummary(const SegmentSummary& s);
// Corruption when the bytes fail a check.
Result<SegmentSummary> DecodeSummary(std::string_view bytes);

// The hash a trace id is filed under.
uint64_t TraceHash(std::string_view trace_id);

}  // namespace sluice::query
