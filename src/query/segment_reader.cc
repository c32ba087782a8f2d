#include "query/segment_reader.h"

#include <algorithm>
#include <vector>

namespace sluice::query {

Status ForEachBatchIn(log::Log& log, uint64_t segment, const log::PipelineSet& pipelines,
                      const std::function<bool(const log::LogReader::Batch&)>& fn, bool* whole) {
  return ForEachBatchInRange(log, segment, log::kSegmentHeaderSize, UINT64_MAX, pipelines, fn,
                             whole);
}

Status ForEachBatchInRange(log::Log& log, uint64_t segment, uint64_t begin, uint64_t end,
                           const log::PipelineSet& pipelines,
                           const std::function<bool(const log::LogReader::Batch&)>& fn,
                           bool* whole) {
  if (whole != nullptr) *whole = false;
  const std::vector<uint64_t> all = log.Segments();
  auto next = std::upper_bound(all.begin(), all.end(), segment);
  const uint64_t limit = next == all.end() ? UINT64_MAX : *next;
  // The reader keeps to the pipelines' own frames, so `begin` need only be
  // at or before the first of them; the record offset it starts with is
  // replaced by the first frame's.
  log::LogReader reader(
      log, log::Position{segment, std::max<uint64_t>(begin, log::kSegmentHeaderSize), segment});
  reader.SetPipelines(pipelines);
  reader.LimitPrefetch(end);
  while (true) {
    Result<log::LogReader::Batch> batch = reader.Next();
    if (!batch.ok()) {
      if (batch.status().code() != StatusCode::kEndOfStream) return batch.status();
      break;
    }
    if (batch->header.base_offset >= limit || batch->next.byte_offset > end) break;
    if (!fn(*batch)) return Status::Ok();
  }
  if (whole != nullptr) *whole = next != all.end();
  return Status::Ok();
}

}  // namespace sluice::query
