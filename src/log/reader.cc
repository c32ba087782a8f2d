#include <algorithm>

#include "log/log.h"

namespace sluice::log {

Status LogReader::OpenSegment(uint64_t base) {
  SLUICE_ASSIGN_OR_RETURN(file_, log_.fs().OpenReadable(log_.SegmentPath(base)));
  file_segment_ = base;
  return Status::Ok();
}

Result<LogReader::Batch> LogReader::Next() {
  while (true) {
    Position end = log_.End();
    if (pos_.segment == end.segment && pos_.byte_offset >= end.byte_offset) {
      return Status::EndOfStream();
    }
    if (pos_.segment != end.segment) {
      // A closed segment: read to its file end, then move to the next one.
      if (file_segment_ != pos_.segment) {
        Status st = OpenSegment(pos_.segment);
        if (st.code() == StatusCode::kNotFound) {
          file_segment_ = UINT64_MAX;
          std::vector<uint64_t> segments = log_.Segments();
          auto next = std::upper_bound(segments.begin(), segments.end(), pos_.segment);
          if (next == segments.end()) return Status::EndOfStream();
          pos_ = Position{*next, kSegmentHeaderSize, *next};
          continue;
        }
        SLUICE_RETURN_IF_ERROR(st);
      }
      SLUICE_ASSIGN_OR_RETURN(uint64_t size, file_->Size());
      if (pos_.byte_offset >= size) {
        std::vector<uint64_t> segments = log_.Segments();
        auto next = std::upper_bound(segments.begin(), segments.end(), pos_.segment);
        if (next == segments.end()) return Status::EndOfStream();
        pos_ = Position{*next, kSegmentHeaderSize, *next};
        continue;
      }
    } else if (file_segment_ != pos_.segment) {
      SLUICE_RETURN_IF_ERROR(OpenSegment(pos_.segment));
    }

    buffer_.resize(kFrameHeaderSize);
    SLUICE_ASSIGN_OR_RETURN(
        size_t n, file_->Read(pos_.byte_offset,
                              {reinterpret_cast<uint8_t*>(buffer_.data()), buffer_.size()}));
    if (n < kFrameHeaderSize) {
      return Status::Corruption("short frame header in segment " + SegmentFileName(pos_.segment) +
                                " at byte " + std::to_string(pos_.byte_offset));
    }
    uint64_t frame_size = FrameSizeFromPrefix(buffer_);
    if (frame_size == 0) {
      return Status::Corruption("impossible frame length in segment " +
                                SegmentFileName(pos_.segment) + " at byte " +
                                std::to_string(pos_.byte_offset));
    }
    buffer_.resize(frame_size);
    SLUICE_ASSIGN_OR_RETURN(
        n, file_->Read(pos_.byte_offset,
                       {reinterpret_cast<uint8_t*>(buffer_.data()), buffer_.size()}));
    DecodedFrame frame;
    if (n < frame_size || DecodeFrame(buffer_, &frame) != DecodeResult::kOk) {
      return Status::Corruption("bad frame in segment " + SegmentFileName(pos_.segment) +
                                " at byte " + std::to_string(pos_.byte_offset));
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
