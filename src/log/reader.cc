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
    if (frames_segment_ == file_segment_) {
      // A filtered reader in a closed segment: ask ahead only once a read
      // finds the disk cold (a warm scan would pay for asking).
      SLUICE_ASSIGN_OR_RETURN(n, file_->ReadCached(offset, into));
      if (n < into.size()) {
        if (!cold_) {
          cold_ = true;
          PrefetchRuns(limit);
        }
        SLUICE_ASSIGN_OR_RETURN(size_t rest, file_->Read(offset + n, into.subspan(n)));
        n += rest;
      }
    } else {
      SLUICE_ASSIGN_OR_RETURN(n, file_->Read(offset, into));
    }
  }
  window_length_ = n;
  window_offset_ = offset;
  window_segment_ = file_segment_;
  return Status::Ok();
}

Result<FrameStatus> LogReader::ReadFrame(uint64_t limit, uint64_t read_ahead, DecodedFrame* frame,
                                         uint64_t* frame_size) {
  const uint64_t pos = pos_.byte_offset;
  if (limit - pos < kFrameHeaderSize) return FrameStatus::kTorn;
  auto held = [&](uint64_t n) {
    return window_segment_ == pos_.segment && pos >= window_offset_ &&
           pos + n <= window_offset_ + window_length_;
  };
  auto at = [&](uint64_t n) {
    return std::string_view(window_.data() + (pos - window_offset_), static_cast<size_t>(n));
  };
  if (!held(kFrameHeaderSize)) {
    SLUICE_RETURN_IF_ERROR(Fill(pos, kFrameHeaderSize, limit, read_ahead));
  }
  if (!held(kFrameHeaderSize)) return FrameStatus::kTorn;
  uint64_t size = FrameSizeFromPrefix(at(kFrameHeaderSize));
  if (size == 0) return FrameStatus::kCorrupt;
  if (pos + size > limit) return FrameStatus::kTorn;
  if (!held(size)) SLUICE_RETURN_IF_ERROR(Fill(pos, size, limit, read_ahead));
  if (!held(size)) return FrameStatus::kTorn;
  if (DecodeFrame(at(size), frame) != DecodeResult::kOk) return FrameStatus::kCorrupt;
  *frame_size = size;
  return FrameStatus::kOk;
}

Status LogReader::LoadFrames(uint64_t size) {
  frames_.clear();
  frames_segment_ = UINT64_MAX;
  const uint64_t segment = pos_.segment;
  std::vector<DamagedRange> damaged;
  Result<std::vector<FrameExtent>> frames =
      LoadIndexFor(log_.fs(), log_.IndexPath(segment), *file_, segment, size, pipelines_, &damaged);
  for (const DamagedRange& d : damaged) log_.ReportCorruption(segment, d.offset, d.bytes);
  SLUICE_RETURN_IF_ERROR(frames.status());
  frames_ = std::move(frames).value();
  frames_segment_ = segment;
  return Status::Ok();
}

Result<bool> LogReader::SeekOwnFrame(uint64_t limit, uint64_t* run) {
  if (frames_segment_ != pos_.segment) {
    SLUICE_RETURN_IF_ERROR(LoadFrames(limit));
    prefetched_to_ = refill_at_ = 0;
  }
  FrameExtent next = NextRun(frames_, pos_.byte_offset, limit, kReadAhead);
  if (next.offset >= limit) return false;
  pos_.byte_offset = next.offset;
  *run = next.size;
  if (cold_ && pos_.byte_offset >= refill_at_) PrefetchRuns(limit);
  return true;
}

void LogReader::PrefetchRuns(uint64_t limit) {
  limit = std::min(limit, prefetch_end_);
  uint64_t from = std::max(prefetched_to_, pos_.byte_offset);
  uint64_t asked = 0;
  refill_at_ = limit;
  while (asked < kPrefetchBytes) {
    const FrameExtent run = NextRun(frames_, from, limit, kPrefetchBytes);
    if (run.offset >= limit) break;
    file_->Prefetch(run.offset, run.size);
    asked += run.size;
    from = run.end();
    if (refill_at_ == limit && asked >= kPrefetchBytes / 2) refill_at_ = run.offset;
  }
  prefetched_to_ = from;
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
    uint64_t read_ahead = kReadAhead;
    uint64_t limit = end.byte_offset;
    if (filtered_ && pos_.segment == end.segment) {
      // The active segment: its frames are listed in the log's memory.
      FrameExtent next;
      Position active_end;
      if (!log_.NextFrameInActive(pos_.segment, pipelines_, pos_.byte_offset, kReadAhead, &next,
                                  &active_end)) {
        continue;  // closed meanwhile: read it as a closed segment
      }
      if (next.offset >= active_end.byte_offset) {
        // Nothing of ours before the end: pass over the rest.
        pos_ = active_end;
        return Status::EndOfStream();
      }
      // Read the run of our frames there, and nothing around it.
      pos_.byte_offset = next.offset;
      read_ahead = next.size;
      limit = active_end.byte_offset;
    } else if (pos_.segment != end.segment) {
      // Read no further than the file's end in a closed segment.
      if (!closed_size_) {
        SLUICE_ASSIGN_OR_RETURN(uint64_t size, file_->Size());
        closed_size_ = size;
      }
      limit = *closed_size_;
      bool more = pos_.byte_offset < limit;
      if (more && filtered_) {
        SLUICE_ASSIGN_OR_RETURN(more, SeekOwnFrame(limit, &read_ahead));
      }
      if (!more) {
        if (!NextSegment()) return Status::EndOfStream();
        continue;
      }
    }
    DecodedFrame frame;
    uint64_t frame_size = 0;
    SLUICE_ASSIGN_OR_RETURN(FrameStatus st, ReadFrame(limit, read_ahead, &frame, &frame_size));
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
    pos_ = Position{pos_.segment, pos_.byte_offset + frame_size,
                    frame.header.base_offset + frame.header.item_count};
    // An index built over a damaged range cannot list a frame of another
    // pipeline here, but a frame found by stepping over damage may be one.
    if (filtered_ && !frame.header.pipelines.Intersects(pipelines_)) continue;
    Batch batch;
    batch.header = frame.header;
    batch.tenant = frame.tenant;
    batch.payload = frame.payload;
    batch.next = pos_;
    return batch;
  }
}

}  // namespace sluice::log
