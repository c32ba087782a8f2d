#pragma once

#include <memory>

#include "backfill/source.h"
#include "log/log.h"

namespace sluice::backfill {

// The batches of some pipelines still held in sluice's own log whose event
// times overlap the time range (a batch that straddles an end is sent
// whole), read from the log's beginning. What `sluice replay` sends.
//
// Positions are the log's own. Data that retention removes before the
// reader reaches it is gone: the reader goes on at the oldest batch left.
class LogSource final : public Source {
 public:
  // `segment_bytes`: the log's segment size (storage.segment_bytes), for
  // progress.
  LogSource(log::Log& log, const log::PipelineSet& pipelines, TimeRange range,
            uint64_t segment_bytes);

  Status Seek(const log::Position& at) override;
  Result<bool> Next(InputBatch* out) override;
  log::Position position() const override { return reader_.position(); }
  uint64_t bytes_read() const override;
  uint64_t total_bytes() const override;
  uint64_t skipped_items() const override { return skipped_; }

 private:
  log::Log& log_;
  const TimeRange range_;
  log::LogReader reader_;
  const uint64_t begin_segment_;
  const uint64_t segment_bytes_;
  uint64_t skipped_ = 0;
};

}  // namespace sluice::backfill
