#include "backfill/log_source.h"

#include <algorithm>

namespace sluice::backfill {

LogSource::LogSource(log::Log& log, const log::PipelineSet& pipelines, TimeRange range,
                     uint64_t segment_bytes)
    : log_(log),
      range_(range),
      reader_(log, log.Begin()),
      begin_segment_(log.Begin().segment),
      segment_bytes_(segment_bytes) {
  reader_.SetPipelines(pipelines);
}

Status LogSource::Seek(const log::Position& at) {
  const log::Position begin = log_.Begin();
  reader_.Seek(log::Before(at, begin) ? begin : at);
  return Status::Ok();
}

// Progress by byte positions: whole segments passed plus the offset in the
// current one.
uint64_t LogSource::bytes_read() const {
  const log::Position& p = reader_.position();
  return (p.segment - std::min(p.segment, begin_segment_)) * segment_bytes_ + p.byte_offset;
}

uint64_t LogSource::total_bytes() const {
  const log::Position end = log_.End();
  return (end.segment - std::min(end.segment, begin_segment_)) * segment_bytes_ + end.byte_offset;
}

Result<bool> LogSource::Next(InputBatch* out) {
  for (;;) {
    const log::Position start = reader_.position();
    Result<log::LogReader::Batch> batch = reader_.Next();
    if (!batch.ok()) {
      if (batch.status().code() == StatusCode::kEndOfStream) return false;
      return batch.status();
    }
    const log::BatchHeader& h = batch->header;
    if (!range_.Overlaps(h.min_event_unix_nanos / 1'000'000, h.max_event_unix_nanos / 1'000'000)) {
      skipped_ += h.item_count;
      continue;
    }
    out->signal = h.signal;
    out->encoding = h.encoding;
    out->payload.assign(batch->payload);
    out->tenant.assign(batch->tenant);
    out->items = h.item_count;
    out->min_event_unix_nanos = h.min_event_unix_nanos;
    out->max_event_unix_nanos = h.max_event_unix_nanos;
    out->start = start;
    out->start.record_offset = h.base_offset;
    return true;
  }
}

}  // namespace sluice::backfill
