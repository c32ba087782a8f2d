#include "log/segment_table.h"

#include <algorithm>
#include <utility>

namespace sluice::log {

SegmentTable::SegmentTable(std::string directory, LogMetrics& metrics)
    : directory_(std::move(directory)), dir_(SegmentDirectory(directory_)), metrics_(metrics) {}

std::vector<uint64_t> SegmentTable::Bases() const {
  MutexLock lock(mu);
  std::vector<uint64_t> out;
  out.reserve(segments_.size());
  for (const auto& [base, info] : segments_) out.push_back(base);
  return out;
}

uint64_t SegmentTable::TotalBytes() const {
  MutexLock lock(mu);
  return total_bytes_;
}

Position SegmentTable::End() const {
  MutexLock lock(mu);
  return end_;
}

Position SegmentTable::Begin() const {
  MutexLock lock(mu);
  uint64_t first = segments_.empty() ? end_.segment : segments_.begin()->first;
  return Position{first, kSegmentHeaderSize, first};
}

uint64_t SegmentTable::BytesBetween(const Position& from, const Position& to) const {
  if (!Before(from, to)) return 0;
  MutexLock lock(mu);
  if (from.segment == to.segment) return to.byte_offset - from.byte_offset;
  uint64_t bytes = 0;
  for (auto it = segments_.lower_bound(from.segment);
       it != segments_.end() && it->first < to.segment; ++it) {
    uint64_t start = it->first == from.segment ? from.byte_offset : 0;
    bytes += it->second.bytes > start ? it->second.bytes - start : 0;
  }
  return bytes + to.byte_offset;
}

void SegmentTable::WaitForAppend(const Position& after, std::chrono::milliseconds timeout,
                                 const PipelineSet* pipelines) const {
  MutexLock lock(mu);
  auto appended = [&]() SLUICE_REQUIRES(mu) {
    if (closing_) return true;
    if (end_ == after) return false;
    if (pipelines == nullptr || end_.segment != after.segment) return true;
    return active_index_.Any(*pipelines, after.byte_offset, end_.byte_offset);
  };
  if (appended()) return;
  AppendWaiter waiter;
  waiter.pipelines = pipelines;
  waiters_.push_back(&waiter);
  waiter.cv.WaitFor(lock, timeout, [&]() SLUICE_REQUIRES(mu) { return waiter.woken || closing_; });
  waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &waiter));
}

bool SegmentTable::NextFrameInActive(uint64_t segment, const PipelineSet& pipelines, uint64_t from,
                                     uint64_t max_bytes, FrameExtent* next, Position* end) const {
  MutexLock lock(mu);
  if (segment != end_.segment) return false;
  *end = end_;
  *next = active_index_.Next(pipelines, from, end_.byte_offset, max_bytes);
  return true;
}

void SegmentTable::ViewForCount(uint64_t first, const PipelineSet& pipelines,
                                uint64_t since_segment, uint64_t since, CountView* view) const {
  MutexLock lock(mu);
  view->end = end_;
  view->oldest = segments_.empty() ? end_.segment : segments_.begin()->first;
  view->closed.clear();
  for (auto it = segments_.lower_bound(first); it != segments_.end() && it->first != end_.segment;
       ++it) {
    view->closed.emplace_back(it->first, it->second.bytes);
  }
  view->active_frames =
      active_index_.FramesOf(pipelines, since_segment == end_.segment ? since : 0);
}

bool SegmentTable::BeginClose() {
  MutexLock lock(mu);
  if (closing_) return false;
  closing_ = true;
  for (AppendWaiter* w : waiters_) w->cv.NotifyOne();
  return true;
}

void SegmentTable::UpdateGauges() {
  metrics_.segments.Set(static_cast<double>(segments_.size()));
  metrics_.size_bytes.Set(static_cast<double>(total_bytes_));
}

void SegmentTable::AddSegment(uint64_t base, const SegmentInfo& info) {
  segments_[base] = info;
  total_bytes_ += info.bytes;
}

void SegmentTable::StartActive(const SegmentInfo& info, const Position& end,
                               SegmentIndex* recovered) {
  AddSegment(end.segment, info);
  end_ = end;
  if (recovered != nullptr) {
    std::swap(active_index_, *recovered);
  } else {
    active_index_.Clear();
  }
  UpdateGauges();
}

void SegmentTable::EraseSegment(uint64_t base, uint64_t bytes) {
  segments_.erase(base);
  total_bytes_ -= std::min(total_bytes_, bytes);
  UpdateGauges();
}

void SegmentTable::Extend(uint64_t end_byte, uint64_t end_record, uint64_t bytes,
                          int64_t newest_unix_nanos, const PipelineSet& appended, bool any) {
  SegmentInfo& info = segments_[end_.segment];
  info.bytes = end_byte;
  info.newest_unix_nanos = newest_unix_nanos;
  total_bytes_ += bytes;
  end_ = Position{end_.segment, end_byte, end_record};
  metrics_.size_bytes.Set(static_cast<double>(total_bytes_));
  for (AppendWaiter* w : waiters_) {
    if (w->pipelines != nullptr && !any && !w->pipelines->Intersects(appended)) continue;
    w->woken = true;
    w->cv.NotifyOne();
  }
}

}  // namespace sluice::log
