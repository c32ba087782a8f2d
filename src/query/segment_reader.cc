#include "query/segment_reader.h"

#include <algorithm>
#include <vector>

namespace sluice::query {

Status ForEachBatchIn(log::Log& log, uint64_t segment, const log::PipelineSet& pipelines,
                      const std::function<bool(const log::LogReader::Batch&)>& fn, bool* whole) {
  if (whole != nullptr) *whole = false;
  const std::vector<uint64_t> all = log.Segments();
  auto next = std::upper_bound(all.begin(), all.end(), segment);
  const uint64_t limit = next == all.end() ? UINT64_MAX : *next;
  log::LogReader reader(log, log::Position{segment, log::kSegmentHeaderSize, segment});
  reader.SetPipelines(pipelines);
  while (true) {
    Result<log::LogReader::Batch> batch = reader.Next();
    if (!batch.ok()) {
      if (batch.status().code() != StatusCode::kEndOfStream) return batch.status();
      break;
    }
    if (batch->header.base_offset >= limit) break;
    if (!fn(*batch)) return Status::Ok();
  }
  if (whole != nullptr) *whole = next != all.end();
  return Status::Ok();
}

}  // namespace sluice::query
