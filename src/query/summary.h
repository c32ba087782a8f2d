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
// bloom = 7 (of all the segment's trace ids, at 6 bits each), repeated block
// = 8 {begin = 1, end = 2, bloom = 3 (BloomFilter::Serialize)}.
// A file that fails a check, or of another version, is rebuilt from its
// segment.
//
// Trace ids are filtered per block of about 1 MiB of the segment's traces
// batches, so a lookup reads only the blocks that may hold the trace, not the
// whole segment. A lookup asks the segment's filter first (6 bits per trace
// id, about 5% of segments pass falsely), then, in the segments that pass,
// the blocks' (10 bits per trace id, about 1% each): with thousands of
// blocks in a large log, the blocks' filters alone would let through tens of
// blocks per lookup.
struct TraceBlock {
  uint64_t begin = 0;  // byte offsets in the segment: every traces batch of
  uint64_t end = 0;    // the block starts at or after begin and ends by end
  BloomFilter traces;
};

struct SegmentSummary {
  uint64_t segment = 0;  // base offset
  int64_t min_time_unix_nano = std::numeric_limits<int64_t>::max();
  int64_t max_time_unix_nano = std::numeric_limits<int64_t>::min();
  uint64_t spans = 0;
  uint64_t log_records = 0;
  std::vector<std::string> services;  // sorted, unique
  BloomFilter traces;                 // every trace id of the segment
  std::vector<TraceBlock> blocks;     // ascending, not overlapping

  bool MayContain(uint64_t trace_hash) const {
    if (!traces.MayContain(trace_hash)) return false;
    for (const TraceBlock& b : blocks) {
      if (b.traces.MayContain(trace_hash)) return true;
    }
    return false;
  }

  // Whether an item at [from, to] may be in the segment.
  bool Overlaps(int64_t from_unix_nano, int64_t to_unix_nano) const {
    return spans + log_records > 0 && min_time_unix_nano <= to_unix_nano &&
           max_time_unix_nano >= from_unix_nano;
  }
};

inline constexpr uint16_t kSummaryVersion = 2;
// Bytes of traces batches a block of the trace id filter covers.
inline constexpr uint64_t kTraceBlockBytes = 1 << 20;
inline constexpr size_t kSegmentFilterBitsPerKey = 6;
inline constexpr const char* kSummarySuffix = ".qix";

std::string EncodeSummary(const SegmentSummary& s);
// Corruption when the bytes fail a check.
Result<SegmentSummary> DecodeSummary(std::string_view bytes);

// The hash a trace id is filed under.
uint64_t TraceHash(std::string_view trace_id);

}  // namespace sluice::query
