#include <algorithm>

#include "log/log.h"
#include "log/scan.h"

namespace sluice::log {

Status LogReader::OpenSegment(uint64_t base) {
  SLUICE_ASSIGN_OR_RETURN(file_, log_.fs().OpenReadable(log_.SegmentPath(base)));
  file_segment_ = base;
  closed_size_.reset();
  return Status::Ok();
}

bool LogReader::NextSegment() {
  std::vector<uint64_t> segments = log_.Segments();
  auto next = std::upper_bound(segments.begin(), segments.end(), pos_.segment);
  if (next == segments.end()) return false;
  Seek(Position{*next, kSegmentHeaderSize, *next});
  return true;
}

Status LogReader::Fill(uint64_t offset, uint64_t need, uint64_t limit, uint64_t read_ahead) {
  // Read ahead a whole window where the log allows, so that a run of small
  // batches costs one read rather than two per batch.
  uint64_t want = std::min<uint64_t>(std::max<uint64_t>(need, read_ahead), limit - offset);
  // A window grown for one large frame is not kept beyond its use. Let go
  // here, where its bytes are being replaced anyway: batches returned by
  // Next() point into it until the next call.
  if (window_.size() > 4 * kReadAhead && want <= kReadAhead) std::string().swap(window_);
  // Grown, never cut to what a read returned: growing a string zero-fills
  // the new part, which a reader at the log's end would pay on every read.
  if (window_.size() < want) window_.resize(static_cast<size_t>(want));
  std::span<uint8_t> into(reinterpret_cast<uint8_t*>(window_.data()), static_cast<size_t>(want));
  // Close behind the writer the bytes may still be in its memory.
  size_t n = into.size();
  if (!log_.ReadRecent(file_segment_, offset, into)) {
    SLUICE_ASSIGN_OR_RETURN(n, file_->Read(offset, into));
  }
  window_length_ = n;
  window_offset_ = offset;
  window_segment_ = file_segment_;
  return Status::Ok();
}

Result<FrameStatus> LogReader::ReadFrame(uint64_t limit, DecodedFrame* frame, uint64_t* frame_size,
                                         bool* skipped) {
  *skipped = false;
  const uint64_t pos = pos_.byte_offset;
  if (limit - pos < kFrameHeaderSize) return FrameStatus::kTorn;
  auto held = [&](uint64_t n) {
    return window_segment_ == pos_.segment && pos >= window_offset_ &&
           pos + n <= window_offset_ + window_length_;
  };
  auto at = [&](uint64_t n) {
    return std::string_view(window_.data() + (pos - window_offset_), static_cast<size_t>(n));
  };
  const uint64_t read_ahead = skipping_ ? kSkipReadAhead : kReadAhead;
  if (!held(kFrameHeaderSize)) {
    SLUICE_RETURN_IF_ERROR(Fill(pos, kFrameHeaderSize, limit, read_ahead));
  }
  if (!held(kFrameHeaderSize)) return FrameStatus::kTorn;
  uint64_t size = FrameSizeFromPrefix(at(kFrameHeaderSize));
  if (size == 0) return FrameStatus::kCorrupt;
  if (pos + size > limit) return FrameStatus::kTorn;
  if (wanted_) {
    uint64_t head = FrameHeadSize(at(kFrameHeaderSize));
    if (head == 0 || head > size) return FrameStatus::kCorrupt;
    if (!held(head)) SLUICE_RETURN_IF_ERROR(Fill(pos, head, limit, read_ahead));
    if (!held(head)) return FrameStatus::kTorn;
    if (DecodeFrameHead(at(head), frame) != DecodeResult::kOk) return FrameStatus::kCorrupt;
    skipping_ = !wanted_(frame->header);
    if (skipping_) {
      *skipped = true;
      *frame_size = size;
      return FrameStatus::kOk;
    }
  }
  if (!held(size)) SLUICE_RETURN_IF_ERROR(Fill(pos, size, limit));
  if (!held(size)) return FrameStatus::kTorn;
  if (DecodeFrame(at(size), frame) != DecodeResult::kOk) return FrameStatus::kCorrupt;
  *frame_size = size;
  return FrameStatus::kOk;
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
      if (!closed_size_) {
        SLUICE_ASSIGN_OR_RETURN(uint64_t size, file_->Size());
        closed_size_ = size;
      }
      limit = *closed_size_;
      if (pos_.byte_offset >= limit) {
        if (!NextSegment()) return Status::EndOfStream();
        continue;
      }
    }
    DecodedFrame frame;
    uint64_t frame_size = 0;
    bool skipped = false;
    SLUICE_ASSIGN_OR_RETURN(FrameStatus st, ReadFrame(limit, &frame, &frame_size, &skipped));
    if (st == FrameStatus::kOk && skipped) {
      pos_ = Position{pos_.segment, pos_.byte_offset + frame_size,
                      frame.header.base_offset + frame.header.item_count};
      continue;
    }
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
