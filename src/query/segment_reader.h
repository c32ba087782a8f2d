#pragma once

#include <cstdint>
#include <functional>

#include "base/status.h"
#include "log/log.h"

namespace sluice::query {

// Reads the batches of `pipelines` in segment `segment` of the log, in
// order, one in memory at a time, calling fn(batch) until it returns false
// or the segment ends (at the next segment's first batch, or the log's end).
// *whole (optional) is set when every batch of the segment was offered: the
// segment is closed (a later one exists) and fn did not stop early.
Status ForEachBatchIn(log::Log& log, uint64_t segment, const log::PipelineSet& pipelines,
                      const std::function<bool(const log::LogReader::Batch&)>& fn,
                      bool* whole = nullptr);

// The same for the batches that start at or after byte `begin` of the
// segment and end by `end` (a frame boundary, or UINT64_MAX for the rest).
Status ForEachBatchInRange(log::Log& log, uint64_t segment, uint64_t begin, uint64_t end,
                           const log::PipelineSet& pipelines,
                           const std::function<bool(const log::LogReader::Batch&)>& fn,
                           bool* whole = nullptr);

}  // namespace sluice::query
