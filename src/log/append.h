#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"
#include "log/cursors.h"
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

// A batch as the writer wrote it, handed to the append observer, which may
// keep its tenant and payload (move them out): the log is done with them.
struct WrittenBatch {
  BatchHeader header;
  std::string tenant;
  std::string payload;
  // Just past the batch written before it (in this segment or, for a
  // segment's first batch, the one before), and just past this one: every
  // batch is shown once, so a batch whose `previous` is where the observer
  // stopped follows it with nothing in between.
  Position previous;
  Position next;
};

// Called on the log's writer thread with each group of batches once they
// are written and acknowledged, in log order, every pipeline's. It runs on
// the path of every append: it must be quick (hand the batches on rather
// than work on them) and must not append to the log.
using AppendObserver = std::function<void(std::span<WrittenBatch>)>;

// The bytes the batch's frame takes in a segment.
inline uint64_t FrameBytes(const AppendRequest& r) {
  return FrameSize(r.pipelines, r.tenant.size(), r.payload.size());
}

}  // namespace sluice::log
