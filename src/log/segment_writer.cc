#include "log/segment_writer.h"

#include <algorithm>
#include <utility>

#include "base/logging.h"
#include "base/thread.h"

namespace sluice::log {
namespace {

// A group is written in chunks of at most this many bytes.
constexpr uint64_t kMaxWriteChunk = 4 << 20;
// Under interval/never, writeback of written data is started every this many
// bytes so dirty pages stay few and writes are not throttled.
constexpr uint64_t kWritebackStep = 8 << 20;
// After this long without a write the active file's write-behind memory is
// freed (the next write allocates it again).
constexpr int64_t kReleaseMemoryAfterNanos = 1'000'000'000;

}  // namespace

SegmentWriter::SegmentWriter(const LogOptions& options, io::FileSystem& fs, Clock& clock,
                             LogMetrics& metrics, SegmentTable& table, Retention& retention,
                             Hooks hooks)
    : options_(options),
      fs_(fs),
      clock_(clock),
      metrics_(metrics),
      table_(table),
      retention_(retention),
      hooks_(std::move(hooks)) {}

// ---------------------------------------------------------------------------
// The active segment

Result<std::unique_ptr<io::WritableFile>> SegmentWriter::OpenSegmentFile(const std::string& path,
                                                                         io::OpenMode mode) {
  return options_.direct_io ? fs_.OpenDirectWritable(path, mode) : fs_.OpenWritable(path, mode);
}

void SegmentWriter::SetActive(std::unique_ptr<io::WritableFile> file, uint64_t segment) {
  std::unique_ptr<io::WritableFile> old;
  {
    MutexLock lock(recent_mu_);
    old = std::exchange(active_, std::move(file));
    recent_segment_ = active_ ? segment : UINT64_MAX;
  }
  // No reader is inside the old file any more: ReadRecent holds recent_mu_.
}

bool SegmentWriter::ReadRecent(uint64_t segment, uint64_t offset, std::span<uint8_t> out) const {
  MutexLock lock(recent_mu_);
  if (!active_ || segment != recent_segment_) return false;
  return active_->ReadRecent(offset, out);
}

Status SegmentWriter::Resume(uint64_t base, uint64_t next_offset) {
  SLUICE_ASSIGN_OR_RETURN(auto reopened,
                          OpenSegmentFile(table_.SegmentPath(base), io::OpenMode::kAppend));
  SetActive(std::move(reopened), base);
  active_created_mono_ = clock_.MonotonicNanos();
  writeback_from_ = active_->Size();
  next_offset_ = next_offset;
  return Status::Ok();
}

Status SegmentWriter::OpenNewSegment(uint64_t base_offset) {
  // Invariant: a closed segment is durable and trimmed to its last frame
  // before the next one exists, so only the last segment can end torn.
  std::string previous;
  uint64_t previous_base = 0;
  if (active_) {
    WaitForBackgroundSync();
    {
      MutexLock lock(table_.mu);
      previous_base = table_.end().segment;
    }
    previous = table_.SegmentPath(previous_base);
    Status st = active_->Sync();
    if (!st.ok()) metrics_.fsync_errors.Inc();
    if (st.ok()) st = active_->Close();
    SetActive(nullptr, 0);
    dirty_ = false;
    if (!st.ok()) {
      Fail(st);
      return st;
    }
    // Before readers can see the segment as closed (the end moves on below),
    // so that they find its index rather than rebuild it.
    WriteIndex(previous_base);
  }
  std::string path = table_.SegmentPath(base_offset);
  std::string header = EncodeSegmentHeader(base_offset, clock_.NowUnixNanos());
  Result<std::unique_ptr<io::WritableFile>> file = OpenSegmentFile(path, io::OpenMode::kTruncate);
  Status st = file.status();
  if (st.ok()) {
    st = (*file)->Append({reinterpret_cast<const uint8_t*>(header.data()), header.size()});
  }
  if (st.ok()) st = (*file)->Sync();
  if (st.ok()) st = fs_.SyncDir(table_.dir());
  if (!st.ok()) {
    // Go on writing the previous segment rather than stop.
    if (file.ok()) (*file)->Close().IgnoreError();
    fs_.Remove(path).IgnoreError();
    if (!previous.empty()) {
      auto reopened = OpenSegmentFile(previous, io::OpenMode::kAppend);
      if (reopened.ok()) SetActive(std::move(reopened).value(), previous_base);
    }
    return st;
  }
  SetActive(std::move(file).value(), base_offset);
  active_created_mono_ = clock_.MonotonicNanos();
  writeback_from_ = active_->Size();
  next_offset_ = base_offset;
  {
    MutexLock lock(table_.mu);
    table_.StartActive(SegmentInfo{kSegmentHeaderSize, clock_.NowUnixNanos()},
                       Position{base_offset, kSegmentHeaderSize, base_offset});
  }
  retention_.Wake();
  return Status::Ok();
}

void SegmentWriter::WriteIndex(uint64_t base) {
  uint64_t bytes;
  {
    MutexLock lock(table_.mu);
    auto it = table_.segments().find(base);
    if (it == table_.segments().end()) return;
    bytes = it->second.bytes;
  }
  std::string data = table_.active_index_for_writer().Encode(base, bytes);
  Status st = io::WriteFileAtomically(fs_, table_.IndexPath(base), data, io::Durability::kUnsynced);
  if (!st.ok()) {
    // Readers rebuild a missing index from the segment.
    logging::Warn("log", "cannot write a segment index; readers will rebuild it",
                  {{"segment", SegmentFileName(base)}, {"error", st.ToString()}});
  }
}

// ---------------------------------------------------------------------------
// Appending

void SegmentWriter::Start() {
  last_sync_mono_ = clock_.MonotonicNanos();
  thread_ = std::thread([this] {
    SetThreadName("log-writer");
    if (options_.background_threads) SetThreadBackground();
    Loop();
  });
  if (options_.fsync == FsyncPolicy::kInterval) {
    syncer_ = std::thread([this] {
      SetThreadName("log-sync");
      if (options_.background_threads) SetThreadBackground();
      SyncLoop();
    });
  }
}

void SegmentWriter::Append(AppendRequest request, AppendCallback done) {
  uint64_t bytes = FrameBytes(request);
  {
    MutexLock lock(table_.mu);
    if (table_.closing()) {
      lock.Unlock();
      done(Status::Unavailable("log is closed"));
      return;
    }
    if (queued_bytes_ + bytes > options_.max_pending_bytes && queued_bytes_ > 0) {
      metrics_.refused_full.Inc();
      lock.Unlock();
      done(Status::ResourceExhausted("log writer queue is full"));
      return;
    }
    if (options_.when_full == WhenFull::kReject &&
        table_.total_bytes() + queued_bytes_ + bytes > options_.retention.max_bytes) {
      metrics_.refused_full.Inc();
      lock.Unlock();
      std::string holder = retention_.Holder();
      std::string who =
          holder.empty() ? "" : "; exporter " + holder + " has not read the oldest segment";
      retention_.Wake();
      done(Status::ResourceExhausted("log is full (retention.max_bytes)" + who));
      return;
    }
    queued_bytes_ += bytes;
    metrics_.pending_bytes.Set(static_cast<double>(queued_bytes_));
    queue_.push_back(Pending{std::move(request), std::move(done)});
  }
  writer_cv_.NotifyOne();
}

void SegmentWriter::Loop() {
  MutexLock lock(table_.mu);
  std::vector<Pending> group;
  while (true) {
    if (queue_.empty() && unwritten_.empty() && !table_.closing() &&
        sync_requested_ == sync_completed_ && !background_done_) {
      if (options_.fsync == FsyncPolicy::kInterval && dirty_ && !BackgroundSyncPending()) {
        int64_t wait = last_sync_mono_ + options_.fsync_interval.count() - clock_.MonotonicNanos();
        if (wait > 0) writer_cv_.WaitFor(lock, std::chrono::nanoseconds(wait));
      } else {
        writer_cv_.WaitFor(lock, std::chrono::milliseconds(100));
      }
    }
    if (background_done_) {
      lock.Unlock();
      FinishBackgroundSync();
      lock.Lock();
    }
    if (queue_.empty() && unwritten_.empty() && !memory_released_ &&
        clock_.MonotonicNanos() - last_write_mono_ >= kReleaseMemoryAfterNanos) {
      lock.Unlock();
      ReleaseIdleMemory();
      lock.Lock();
    }
    // Syncs are due whether or not more appends are waiting, so a steady
    // stream of appends cannot postpone them.
    if (sync_requested_ > sync_completed_) {
      // Log::Sync waits for this one: it runs here, after every append
      // queued before it.
      uint64_t target = sync_requested_;
      lock.Unlock();
      Status st = SyncActive();
      if (!st.ok() && active_ && active_->Size() > kSegmentHeaderSize) {
        // What the failed fdatasync left on disk is unknown: go on in a new file.
        OpenNewSegment(next_offset_).IgnoreError();
      }
      lock.Lock();
      last_sync_status_ = st;
      sync_completed_ = target;
      sync_cv_.NotifyAll();
    } else if (SyncDue()) {
      StartBackgroundSync();  // the periodic one, under `interval`
    }
    if (queue_.empty()) {
      if (!unwritten_.empty()) {
        // Nothing more to hand over: complete what the disk takes, write
        // by write, looking for new appends in between.
        lock.Unlock();
        WaitAndComplete(/*all=*/false);
        lock.Lock();
        continue;
      }
      if (table_.closing()) break;
      continue;
    }
    group.swap(queue_);
    lock.Unlock();
    WriteGroup(group);
    group.clear();
    lock.Lock();
  }
  lock.Unlock();
  WaitAndComplete(/*all=*/true);
  WaitForBackgroundSync();
  FinishBackgroundSync();
  Status last = dirty_ ? SyncActive() : Status::Ok();
  lock.Lock();
  last_sync_status_ = last;
  sync_completed_ = sync_requested_;
  sync_cv_.NotifyAll();
}

bool SegmentWriter::SyncDue() const {
  return sync_requested_ > sync_completed_ ||
         (options_.fsync == FsyncPolicy::kInterval && dirty_ && !BackgroundSyncPending() &&
          clock_.MonotonicNanos() - last_sync_mono_ >= options_.fsync_interval.count());
}

void SegmentWriter::ReleaseIdleMemory() {
  memory_released_ = true;
  if (!active_) return;
  Status st = active_->ReleaseMemory();
  if (!st.ok()) WriteFailed(st, /*sync_failed=*/false);
}

void SegmentWriter::StartBackgroundSync() {
  if (!active_) {
    dirty_ = false;
    return;
  }
  background_file_ = active_.get();
  background_segment_ = table_.end().segment;
  last_sync_mono_ = clock_.MonotonicNanos();
  // The sync covers what has reached the OS by the time it begins, which
  // is at least what has now. Bytes still in write-behind are not covered
  // (their appends have not completed yet): they leave the file dirty.
  dirty_ = active_->Written() < active_->Size();
  syncer_cv_.NotifyOne();
}

void SegmentWriter::SyncLoop() {
  MutexLock lock(table_.mu);
  while (true) {
    syncer_cv_.Wait(lock, [&]() SLUICE_REQUIRES(table_.mu) {
      return background_file_ != nullptr || syncer_stop_;
    });
    if (background_file_ == nullptr) return;
    io::WritableFile* file = background_file_;
    lock.Unlock();
    int64_t t0 = clock_.MonotonicNanos();
    Status st = file->SyncWritten();
    metrics_.fsyncs.Inc();
    metrics_.fsync_seconds.Observe(static_cast<double>(clock_.MonotonicNanos() - t0) / 1e9);
    if (!st.ok()) {
      metrics_.fsync_errors.Inc();
      logging::Error("log", "fdatasync failed", {{"error", st.ToString()}});
    }
    lock.Lock();
    background_file_ = nullptr;
    background_status_ = st;
    background_done_ = true;
    writer_cv_.NotifyOne();
  }
}

void SegmentWriter::WaitForBackgroundSync() {
  MutexLock lock(table_.mu);
  writer_cv_.Wait(lock, [&]() SLUICE_REQUIRES(table_.mu) { return background_file_ == nullptr; });
}

void SegmentWriter::FinishBackgroundSync() {
  Status st;
  bool active_segment;
  {
    MutexLock lock(table_.mu);
    if (!background_done_) return;
    background_done_ = false;
    st = std::move(background_status_);
    active_segment = background_segment_ == table_.end().segment;
  }
  if (st.ok() || !active_ || !active_segment || active_->Size() <= kSegmentHeaderSize) return;
  // What the failed fdatasync left on disk is unknown: go on in a new file
  // (closing this one syncs it again).
  WaitAndComplete(/*all=*/true);
  if (active_) OpenNewSegment(next_offset_).IgnoreError();
}

std::string SegmentWriter::DiskFull() const {
  MutexLock lock(table_.mu);
  return disk_full_;
}

void SegmentWriter::Fail(const Status& why) {
  hooks_.failed(why);
}

void SegmentWriter::ReleaseQueued(uint64_t bytes) {
  MutexLock lock(table_.mu);
  queued_bytes_ -= std::min(queued_bytes_, bytes);
  metrics_.pending_bytes.Set(static_cast<double>(queued_bytes_));
}

void SegmentWriter::FailRest(std::vector<Pending>& group, size_t from, const Status& why) {
  uint64_t bytes = 0;
  for (size_t k = from; k < group.size(); ++k) {
    bytes += FrameBytes(group[k].request);
    group[k].done(why);
  }
  ReleaseQueued(bytes);
}
void SegmentWriter::WriteGroup(std::vector<Pending>& group) {
  std::vector<uint64_t> offsets;
  offsets.reserve(group.size());
  size_t i = 0;
  while (i < group.size()) {
    if (!active_) {
      FailRest(group, i, Status::Unavailable("log has failed"));
      return;
    }
    // Roll before a batch that would overflow the segment, or an old segment.
    bool has_data = active_->Size() > kSegmentHeaderSize;
    bool too_old =
        clock_.MonotonicNanos() - active_created_mono_ >= options_.segment_max_age.count();
    if (has_data && (active_->Size() >= options_.segment_bytes || too_old)) {
      WaitAndComplete(/*all=*/true);
      if (!active_) continue;
      Status st = OpenNewSegment(next_offset_);
      if (!st.ok()) {
        logging::Error("log", "cannot start a new segment", {{"error", st.ToString()}});
        metrics_.append_errors.Inc();
        FailRest(group, i, st);
        return;
      }
    }
    // Take batches while they fit in this segment (at least one). Frame
    // heads go to write_buffer_; payloads are written from the requests,
    // which wait in unwritten_ until their bytes have reached the OS.
    write_buffer_.clear();
    offsets.clear();
    head_ends_.clear();
    size_t first = i;
    uint64_t offset = next_offset_;
    uint64_t chunk = 0;
    int64_t now = clock_.NowUnixNanos();
    while (i < group.size()) {
      const AppendRequest& r = group[i].request;
      if (i > first && (active_->Size() + chunk + FrameBytes(r) > options_.segment_bytes ||
                        chunk + FrameBytes(r) > kMaxWriteChunk)) {
        break;
      }
      BatchHeader h;
      h.base_offset = offset;
      h.item_count = r.item_count;
      h.signal = r.signal;
      h.encoding = r.encoding;
      h.pipelines = r.pipelines;
      h.min_event_unix_nanos = r.min_event_unix_nanos;
      h.max_event_unix_nanos = r.max_event_unix_nanos;
      h.append_unix_nanos = now;
      EncodeFrameHead(h, r.tenant, r.payload.size(), r.payload_crc, &write_buffer_);
      head_ends_.push_back(write_buffer_.size());
      offsets.push_back(offset);
      offset += r.item_count;
      chunk += FrameBytes(r);
      ++i;
    }
    // Moved before the pieces point at them: a short payload lives inside
    // its string, and moving the string moves it.
    size_t u0 = unwritten_.size();
    uint64_t pos = active_->Size();
    for (size_t k = first; k < i; ++k) {
      uint64_t bytes = FrameBytes(group[k].request);
      unwritten_.push_back(
          Unwritten{std::move(group[k]), offsets[k - first], pos, pos + bytes, now});
      pos += bytes;
    }
    pieces_.clear();
    size_t head_start = 0;
    for (size_t k = 0; k < i - first; ++k) {
      const std::string& payload = unwritten_[u0 + k].pending.request.payload;
      size_t head_end = head_ends_[k];
      pieces_.emplace_back(reinterpret_cast<const uint8_t*>(write_buffer_.data()) + head_start,
                           head_end - head_start);
      if (!payload.empty()) {
        pieces_.emplace_back(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
      }
      head_start = head_end;
    }
    next_offset_ = offset;
    bool sync_failed = false;
    Status st = active_->AppendV(pieces_);
    last_write_mono_ = clock_.MonotonicNanos();
    memory_released_ = false;
    if (st.ok() && options_.fsync == FsyncPolicy::kAlways) {
      int64_t t0 = clock_.MonotonicNanos();
      st = active_->Sync();
      metrics_.fsyncs.Inc();
      metrics_.fsync_seconds.Observe(static_cast<double>(clock_.MonotonicNanos() - t0) / 1e9);
      if (!st.ok()) {
        sync_failed = true;
        metrics_.fsync_errors.Inc();
      }
    }
    if (!st.ok()) {
      WriteFailed(st, sync_failed);
      continue;
    }
    if (options_.fsync != FsyncPolicy::kAlways &&
        active_->Size() >= writeback_from_ + kWritebackStep) {
      active_->StartWriteback(writeback_from_, active_->Size() - writeback_from_);
      writeback_from_ = active_->Size();
    }
    dirty_ = options_.fsync != FsyncPolicy::kAlways;
    CompleteWritten(options_.fsync == FsyncPolicy::kAlways ? active_->Size() : active_->Written());
  }
}

void SegmentWriter::CompleteWritten(uint64_t written) {
  size_t n = 0;
  uint64_t bytes = 0;
  uint64_t records = 0;
  while (n < unwritten_.size() && unwritten_[n].end <= written) {
    bytes += unwritten_[n].end - unwritten_[n].start;
    records += unwritten_[n].pending.request.item_count;
    ++n;
  }
  if (n == 0) return;
  const Unwritten& last = unwritten_[n - 1];
  metrics_.appended_batches.Inc(n);
  metrics_.appended_bytes.Inc(bytes);
  metrics_.appended_records.Inc(records);
  bool recovered = false;  // from a full disk
  uint64_t segment = 0;    // the active one, which holds the batches
  // The pipelines that received batches, to wake only their readers.
  PipelineSet appended;
  bool many = false;
  for (size_t k = 0; k < n && !many; ++k) {
    for (uint32_t id : unwritten_[k].pending.request.pipelines) many = many || !appended.Add(id);
  }
  {
    MutexLock lock(table_.mu);
    for (size_t k = 0; k < n; ++k) {
      table_.AddFrame(FrameExtent{unwritten_[k].start, unwritten_[k].end - unwritten_[k].start},
                      unwritten_[k].pending.request.pipelines);
    }
    segment = table_.end().segment;
    table_.Extend(last.end, last.base_offset + last.pending.request.item_count, bytes,
                  last.append_unix_nanos, appended, many);
    queued_bytes_ -= std::min(queued_bytes_, bytes);
    metrics_.pending_bytes.Set(static_cast<double>(queued_bytes_));
    recovered = !disk_full_.empty();
    disk_full_.clear();
  }
  if (recovered) hooks_.health_changed();
  for (size_t k = 0; k < n; ++k) {
    unwritten_[k].pending.done(AppendResult{unwritten_[k].base_offset});
  }
  Observe(n, segment);
  unwritten_.erase(unwritten_.begin(), unwritten_.begin() + static_cast<ptrdiff_t>(n));
}

void SegmentWriter::Observe(size_t n, uint64_t segment) {
  MutexLock lock(observer_mu_);
  if (!observer_) return;
  written_.clear();
  for (size_t k = 0; k < n; ++k) {
    Unwritten& u = unwritten_[k];
    AppendRequest& r = u.pending.request;
    WrittenBatch& b = written_.emplace_back();
    b.header.base_offset = u.base_offset;
    b.header.item_count = r.item_count;
    b.header.signal = r.signal;
    b.header.encoding = r.encoding;
    b.header.pipelines = r.pipelines;
    b.header.min_event_unix_nanos = r.min_event_unix_nanos;
    b.header.max_event_unix_nanos = r.max_event_unix_nanos;
    b.header.append_unix_nanos = u.append_unix_nanos;
    b.tenant = std::move(r.tenant);  // completed: the writer is done with them
    b.payload = std::move(r.payload);
    // The first batch shown has no predecessor the observer saw: its own
    // start stands in, which only a reader that stopped exactly there
    // matches.
    b.previous = observed_any_ ? observed_end_ : Position{segment, u.start, u.base_offset};
    b.next = Position{segment, u.end, u.base_offset + r.item_count};
    observed_end_ = b.next;
    observed_any_ = true;
  }
  observer_(written_);
}

void SegmentWriter::SetObserver(AppendObserver observer) {
  MutexLock lock(observer_mu_);
  observer_ = std::move(observer);
}

void SegmentWriter::WaitAndComplete(bool all) {
  if (unwritten_.empty() || !active_) return;
  Status st = all ? active_->Flush() : active_->WaitForWrite();
  if (!st.ok()) {
    WriteFailed(st, false);
    return;
  }
  CompleteWritten(active_->Written());
}

void SegmentWriter::WriteFailed(const Status& st, bool sync_failed) {
  metrics_.append_errors.Inc();
  logging::Error("log", "append failed", {{"error", st.ToString()}});
  bool disk_full = io::IsDiskFull(st);
  Status reported = disk_full ? Status::ResourceExhausted("disk full: " + st.message()) : st;
  if (disk_full) {
    // Not ready before the refused appends are answered.
    {
      MutexLock lock(table_.mu);
      disk_full_ = st.message();
    }
    retention_.Wake();
    hooks_.health_changed();
  }
  // What reached the OS before the failure stands (unless the sync that was
  // to make it durable failed); everything after it is cut off and refused.
  if (!sync_failed) CompleteWritten(active_->Written());
  uint64_t cut = active_->Size();
  if (!unwritten_.empty()) {
    cut = unwritten_.front().start;
    next_offset_ = unwritten_.front().base_offset;
  }
  uint64_t bytes = 0;
  for (Unwritten& u : unwritten_) {
    bytes += u.end - u.start;
    u.pending.done(reported);
  }
  unwritten_.clear();
  ReleaseQueued(bytes);
  Repair(cut, sync_failed);
}

bool SegmentWriter::Repair(uint64_t size_before, bool sync_failed) {
  uint64_t base;
  {
    MutexLock lock(table_.mu);
    base = table_.end().segment;
  }
  std::string path = table_.SegmentPath(base);
  WaitForBackgroundSync();
  active_->Close().IgnoreError();
  SetActive(nullptr, 0);
  // Cut the partial write so the segment ends on a whole batch again.
  Status st = fs_.Truncate(path, size_before);
  if (st.ok()) {
    auto reopened = OpenSegmentFile(path, io::OpenMode::kAppend);
    if (reopened.ok()) {
      SetActive(std::move(reopened).value(), base);
      writeback_from_ = active_->Size();
    } else {
      st = reopened.status();
    }
  }
  // After a failed fdatasync the kernel may have dropped the dirty pages, so
  // what the file shows is not what the disk holds: write on in a new file.
  if (st.ok() && sync_failed && size_before > kSegmentHeaderSize) {
    st = OpenNewSegment(next_offset_);
  }
  if (!st.ok()) {
    SetActive(nullptr, 0);
    Fail(st);
    return false;
  }
  return true;
}

Status SegmentWriter::SyncActive() {
  WaitAndComplete(/*all=*/true);
  if (!active_) return Status::Ok();
  int64_t t0 = clock_.MonotonicNanos();
  Status st = active_->Sync();
  metrics_.fsyncs.Inc();
  metrics_.fsync_seconds.Observe(static_cast<double>(clock_.MonotonicNanos() - t0) / 1e9);
  last_sync_mono_ = clock_.MonotonicNanos();
  if (!st.ok()) {
    metrics_.fsync_errors.Inc();
    logging::Error("log", "fdatasync failed", {{"error", st.ToString()}});
    return st;
  }
  dirty_ = false;
  return Status::Ok();
}

Status SegmentWriter::Sync() {
  MutexLock lock(table_.mu);
  if (table_.closing()) return Status::Ok();  // Stop() syncs
  uint64_t target = ++sync_requested_;
  writer_cv_.NotifyOne();
  sync_cv_.Wait(lock, [&]() SLUICE_REQUIRES(table_.mu) { return sync_completed_ >= target; });
  return last_sync_status_;
}

Status SegmentWriter::Stop() {
  writer_cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
  {
    MutexLock lock(table_.mu);
    syncer_stop_ = true;
  }
  syncer_cv_.NotifyAll();
  if (syncer_.joinable()) syncer_.join();
  Status st = Status::Ok();
  if (active_) {
    st = active_->Sync();
    Status c = active_->Close();
    if (st.ok()) st = c;
    SetActive(nullptr, 0);
  }
  return st;
}

}  // namespace sluice::log
