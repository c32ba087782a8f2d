#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/result.h"
#include "log/format.h"

namespace sluice::log {

// What a receiver hands to the log.
struct AppendRequest {
  Signal signal = Signal::kTraces;
  Encoding encoding = Encoding::kOtlpProto;
  // Every pipeline the batch goes to: it is written once, naming them all.
  PipelineSet pipelines;
  std::string tenant;
  uint32_t item_count = 0;
  int64_t min_event_unix_nanos = 0;
  int64_t max_event_unix_nanos = 0;
  std::string payload;
  // Crc32c(payload); filled in by AppendAsync on the calling thread.
  uint32_t payload_crc = 0;
};

struct AppendResult {
  uint64_t base_offset = 0;  // record offset given to the batch's first item
};

using AppendCallback = std::function<void(Result<AppendResult>)>;

// The bytes the batch's frame takes in a segment.
inline uint64_t FrameBytes(const AppendRequest& r) {
  return FrameSize(r.pipelines, r.tenant.size(), r.payload.size());
}

}  // namespace sluice::log
