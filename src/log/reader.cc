#include <algorithm>

#include "log/log.h"
#include "log/scan.h"

namespace sluice::log {

Status LogReader::OpenSegment(uint64_t base) {
  SLUICE_ASSIGN_OR_RETURN(file_, log_.fs().OpenReadable(log_.SegmentPath(base)));
  file_segment_ = base;
  return Status::Ok();
}

bool LogReader::NextSegment() {
  std::vector<uint64_t> segments = log_.Segments();
  auto next = std::upper_bound(segments.begin(), segments.end(), pos_.segment);
  if (next == segments.end()) return false;
  Seek(Position{*next, kSegmentHeaderSize, *next});
  return true;
}

Result<LogReader::Batch> LogReader::Next() {
  while (true) {
    Position end = log_.End();
    if (pos_.segment == end.segment && pos_.byte_offset >= end.byte_offset) {
      return Status::EndOfStream();
    }
    if (pos_.segment > end.segment) return Status::EndOfStream();
    if (file_segment_ != pos_.segment) {
      Status st = OpenSegment(pos_.segment);
      if (st.code() == StatusCode::kNotFound) {
        // Deleted by retention, or lost: go on with the next one.
        file_segment_ = UINT64_MAX;
        if (!NextSegment()) return Status::EndOfStream();
        continue;
      }
      SLUICE_RETURN_IF_ERROR(st);
    }
    // Read no further than the log's committed end in the active segment, and
    // to the file's end in a closed one.
    uint64_t limit = end.byte_offset;
    if (pos_.segment != end.segment) {
      SLUICE_ASSIGN_OR_RETURN(limit, file_->Size());
      if (pos_.byte_offset >= limit) {
        if (!NextSegment()) return Status::EndOfStream();
        continue;
      }
    }
    DecodedFrame frame;
    uint64_t frame_size = 0;
    SLUICE_ASSIGN_OR_RETURN(
        FrameStatus st, ReadFrameAt(*file_, pos_.byte_offset, limit, buffer_, &frame, &frame_size));
    if (st != FrameStatus::kOk) {
      // Damaged (or cut short inside a closed segment): step over to the next
      // frame that passes its checks, or to the end of the segment.
      std::string scratch;
      SLUICE_ASSIGN_OR_RETURN(uint64_t next,
                              FindNextFrame(*file_, pos_.byte_offset + 1, limit, scratch));
      log_.ReportCorruption(pos_.segment, pos_.byte_offset, next - pos_.byte_offset);
      pos_.byte_offset = next;
      continue;
    }
    Batch batch;
    batch.header = frame.header;
    batch.tenant = frame.tenant;
    batch.payload = frame.payload;
    pos_ = Position{pos_.segment, pos_.byte_offset + frame_size,
                    frame.header.base_offset + frame.header.item_count};
    batch.next = pos_;
    return batch;
  }
}

}  // namespace sluice::log
