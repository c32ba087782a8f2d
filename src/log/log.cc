#include "log/log.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <future>

#include "base/logging.h"
#include "base/thread.h"
#include "io/crc32c.h"
#include "log/scan.h"

namespace sluice::log {
namespace {

// A group is written in chunks of at most this many bytes.
constexpr uint64_t kMaxWriteChunk = 4 << 20;
// Under interval/never, writeback of written data is started every this many
// bytes so dirty pages stay few and writes are not throttled.
constexpr uint64_t kWritebackStep = 8 << 20;

uint64_t FrameBytes(const AppendRequest& r) {
  return FrameSize(r.pipelines, r.tenant.size(), r.payload.size());
}

}  // namespace

LogMetrics::LogMetrics(telemetry::Registry& r)
    : appended_batches(
          r.AddCounter("sluice_log_appended_batches_total", "Batches committed to the log.").Get()),
      appended_bytes(
          r.AddCounter("sluice_log_appended_bytes_total", "Frame bytes committed to the log.")
              .Get()),
      appended_records(r.AddCounter("sluice_log_appended_records_total",
                                    "Spans, points and log records committed to the log.")
                           .Get()),
      append_errors(
          r.AddCounter("sluice_log_append_errors_total", "Appends that failed with an I/O error.")
              .Get()),
      refused_full(r.AddCounter("sluice_log_refused_appends_total",
                                "Appends refused: writer queue full, or log at retention.max_bytes "
                                "under when_full: reject.")
                       .Get()),
      fsyncs(r.AddCounter("sluice_log_fsyncs_total", "fdatasync calls on log segments.").Get()),
      fsync_errors(r.AddCounter("sluice_log_fsync_errors_total",
                                "fdatasync calls on log segments that failed.")
                       .Get()),
      truncated_bytes(r.AddCounter("sluice_log_truncated_bytes_total",
                                   "Bytes of torn tail removed during recovery.")
                          .Get()),
      corrupt_bytes(r.AddCounter("sluice_log_corrupt_bytes_total",
                                 "Bytes of damaged frames stepped over (each range counted once).")
                        .Get()),
      deleted_segments(
          r.AddCounter("sluice_log_deleted_segments_total", "Segments deleted by retention.")
              .Get()),
      segments(r.AddGauge("sluice_log_segments", "Segment files on disk.").Get()),
      size_bytes(r.AddGauge("sluice_log_size_bytes", "Bytes in all segment files.").Get()),
      pending_bytes(
          r.AddGauge("sluice_log_pending_bytes", "Bytes queued for the writer thread.").Get()),
      retention_backlog_bytes(r.AddGauge("sluice_log_retention_backlog_bytes",
                                         "Bytes over the retention target still on disk.")
                                  .Get()),
      fsync_seconds(r.AddHistogram("sluice_log_fsync_seconds", "Duration of fdatasync calls.", {},
                                   telemetry::LatencyBuckets())
                        .Get()),
      evicted_records(r.AddCounter("sluice_log_evicted_records_total",
                                   "Records deleted by retention before an exporter read them.",
                                   {"exporter"})) {}

Log::Log(const LogOptions& options, io::FileSystem& fs, Clock& clock, telemetry::Registry& registry,
         telemetry::Health* health)
    : options_(options),
      fs_(fs),
      clock_(clock),
      registry_(registry),
      metrics_(registry),
      health_(health),
      segment_dir_(io::JoinPath(options.directory, "log")) {}

Result<std::unique_ptr<Log>> Log::Open(const LogOptions& options, io::FileSystem& fs, Clock& clock,
                                       telemetry::Registry& registry, telemetry::Health* health) {
  std::unique_ptr<Log> log(new Log(options, fs, clock, registry, health));
  if (health != nullptr) health->Set("log", false, "opening");
  SLUICE_RETURN_IF_ERROR(fs.CreateDirs(options.directory));
  StateFile::Options so;
  so.path = io::JoinPath(options.directory, "state");
  so.compaction_threshold_bytes = options.state_compaction.threshold_bytes;
  so.compaction_cooldown = options.state_compaction.cooldown;
  SLUICE_ASSIGN_OR_RETURN(log->state_, StateFile::Open(so, fs, clock, registry));
  SLUICE_RETURN_IF_ERROR(log->Recover());
  // Every committed cursor holds back retention from the start, before the
  // exporter that owns it has started.
  log->cursors_ = std::make_unique<CursorTable>(*log->state_, log->metrics_.evicted_records);
  log->cursors_->Load();
  log->last_sync_mono_ = clock.MonotonicNanos();
  log->writer_ = std::thread([l = log.get()] {
    SetThreadName("log-writer");
    if (l->options_.background_threads) SetThreadBackground();
    l->WriterLoop();
  });
  log->retention_ = std::thread([l = log.get()] {
    SetThreadName("log-retention");
    if (l->options_.background_threads) SetThreadBackground();
    l->RetentionLoop();
  });
  log->UpdateHealth();
  return log;
}

Log::~Log() {
  Close().IgnoreError();
}

std::string Log::SegmentPath(uint64_t base) const {
  return io::JoinPath(segment_dir_, SegmentFileName(base));
}

std::string Log::IndexPath(uint64_t base) const {
  return io::JoinPath(segment_dir_, IndexFileName(base));
}

std::vector<uint64_t> Log::Segments() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<uint64_t> out;
  out.reserve(segments_.size());
  for (const auto& [base, info] : segments_) out.push_back(base);
  return out;
}

uint64_t Log::size_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_bytes_;
}

// ---------------------------------------------------------------------------
// Recovery

Status Log::Recover() {
  SLUICE_RETURN_IF_ERROR(fs_.CreateDirs(segment_dir_));
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_.ListDir(segment_dir_));
  std::vector<uint64_t> bases;
  std::vector<uint64_t> indexes;
  for (const auto& name : names) {
    uint64_t base;
    if (ParseSegmentFileName(name, &base)) bases.push_back(base);
    if (ParseIndexFileName(name, &base)) indexes.push_back(base);
  }
  std::sort(bases.begin(), bases.end());
  // An index whose segment is gone (deleted between the two removals), or
  // of the segment that becomes active again, is stale.
  for (uint64_t base : indexes) {
    if (bases.empty() || base == bases.back() ||
        !std::binary_search(bases.begin(), bases.end(), base)) {
      fs_.Remove(IndexPath(base)).IgnoreError();
    }
  }
  if (bases.empty()) return OpenNewSegment(0);
  // Closed segments were synced before their successor was created; only the
  // last one can have a torn tail.
  for (size_t i = 0; i + 1 < bases.size(); ++i) {
    std::string path = SegmentPath(bases[i]);
    Result<uint64_t> size = fs_.FileSize(path);
    Result<int64_t> mtime = fs_.ModifiedUnixNanos(path);
    if (!size.ok() || !mtime.ok()) continue;  // vanished: tolerated
    segments_[bases[i]] = SegmentInfo{*size, *mtime};
    total_bytes_ += *size;
  }
  return RecoverLastSegment(bases.back());
}

Status Log::RecoverLastSegment(uint64_t base) {
  std::string path = SegmentPath(base);
  SLUICE_ASSIGN_OR_RETURN(auto file, fs_.OpenReadable(path));
  SLUICE_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  std::string header(kSegmentHeaderSize, '\0');
  SLUICE_ASSIGN_OR_RETURN(
      size_t got, file->Read(0, {reinterpret_cast<uint8_t*>(header.data()), header.size()}));
  uint64_t header_base;
  uint16_t version = 0;
  if (got == kSegmentHeaderSize && std::memcmp(header.data(), kSegmentMagic, 8) == 0) {
    std::memcpy(&version, header.data() + 8, sizeof version);
    if (version > kFormatVersion) {
      return Status::FailedPrecondition(
          "segment " + path + " has log format version " + std::to_string(version) +
          ", written by a newer sluice; this build reads versions " +
          std::to_string(kOldestReadableVersion) + " to " + std::to_string(kFormatVersion) +
          ": run the newer sluice on this storage.directory, or move the directory away to "
          "start an empty log");
    }
  }
  if (got < kSegmentHeaderSize || !DecodeSegmentHeader(header, &header_base, &version) ||
      header_base != base) {
    // Written as one 4 KiB block under direct I/O: a file no larger than
    // that with a bad header was torn while being created.
    if (size > 4096) return Status::Corruption("segment " + path + " has an invalid header");
    // Torn while being created: start it again.
    metrics_.truncated_bytes.Inc(size);
    file.reset();
    SLUICE_RETURN_IF_ERROR(fs_.Remove(path));
    uint64_t next = base;
    return OpenNewSegment(next);
  }
  Result<int64_t> mtime = fs_.ModifiedUnixNanos(path);
  int64_t newest = mtime.ok() ? *mtime : clock_.NowUnixNanos();
  uint64_t pos = kSegmentHeaderSize;
  uint64_t next_offset = base;
  std::string scratch;
  while (pos < size) {
    DecodedFrame frame;
    uint64_t frame_size = 0;
    SLUICE_ASSIGN_OR_RETURN(FrameStatus st,
                            ReadFrameAt(*file, pos, size, scratch, &frame, &frame_size));
    if (st == FrameStatus::kOk) {
      next_offset = frame.header.base_offset + frame.header.item_count;
      active_index_.Add(FrameExtent{pos, frame_size}, frame.header.pipelines);
      pos += frame_size;
      continue;
    }
    // A damaged frame followed by whole ones is corruption in the middle:
    // step over it. With nothing whole after it, it is a torn tail.
    SLUICE_ASSIGN_OR_RETURN(uint64_t next, FindNextFrame(*file, pos + 1, size, scratch));
    if (next >= size) break;
    ReportCorruption(base, pos, next - pos);
    pos = next;
  }
  file.reset();
  if (pos < size) {
    logging::Warn("log", "truncating torn tail",
                  {{"segment", path}, {"at", pos}, {"bytes", size - pos}});
    metrics_.truncated_bytes.Inc(size - pos);
    SLUICE_RETURN_IF_ERROR(fs_.Truncate(path, pos));
  }
  {
    SLUICE_ASSIGN_OR_RETURN(auto reopened, OpenSegmentFile(path, io::OpenMode::kAppend));
    SetActive(std::move(reopened), base);
  }
  active_created_mono_ = clock_.MonotonicNanos();
  writeback_from_ = active_->Size();
  next_offset_ = next_offset;
  {
    std::lock_guard<std::mutex> lock(mu_);
    segments_[base] = SegmentInfo{pos, newest};
    total_bytes_ += pos;
    end_ = Position{base, pos, next_offset};
    metrics_.size_bytes.Set(static_cast<double>(total_bytes_));
    metrics_.segments.Set(static_cast<double>(segments_.size()));
  }
  // An older version's segment is read as it is, never written on: new
  // batches go into a segment of the current version.
  if (version < kFormatVersion && pos > kSegmentHeaderSize) return OpenNewSegment(next_offset);
  return Status::Ok();
}

Result<std::unique_ptr<io::WritableFile>> Log::OpenSegmentFile(const std::string& path,
                                                               io::OpenMode mode) {
  return options_.direct_io ? fs_.OpenDirectWritable(path, mode) : fs_.OpenWritable(path, mode);
}

void Log::SetActive(std::unique_ptr<io::WritableFile> file, uint64_t segment) {
  std::unique_ptr<io::WritableFile> old;
  {
    std::lock_guard<std::mutex> lock(recent_mu_);
    old = std::exchange(active_, std::move(file));
    recent_segment_ = active_ ? segment : UINT64_MAX;
  }
  // No reader is inside the old file any more: ReadRecent holds recent_mu_.
}

bool Log::ReadRecent(uint64_t segment, uint64_t offset, std::span<uint8_t> out) const {
  std::lock_guard<std::mutex> lock(recent_mu_);
  if (!active_ || segment != recent_segment_) return false;
  return active_->ReadRecent(offset, out);
}

Status Log::OpenNewSegment(uint64_t base_offset) {
  // Invariant: a closed segment is durable and trimmed to its last frame
  // before the next one exists, so only the last segment can end torn.
  std::string previous;
  uint64_t previous_base = 0;
  if (active_) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      previous_base = end_.segment;
      previous = SegmentPath(previous_base);
    }
    Status st = active_->Sync();
    if (!st.ok()) metrics_.fsync_errors.Inc();
    if (st.ok()) st = active_->Close();
    SetActive(nullptr, 0);
    dirty_ = false;
    if (!st.ok()) {
      Fail(st);
      return st;
    }
    // Before readers can see the segment as closed (end_ moves on below),
    // so that they find its index rather than rebuild it.
    WriteIndex(previous_base);
  }
  std::string path = SegmentPath(base_offset);
  std::string header = EncodeSegmentHeader(base_offset, clock_.NowUnixNanos());
  Result<std::unique_ptr<io::WritableFile>> file = OpenSegmentFile(path, io::OpenMode::kTruncate);
  Status st = file.status();
  if (st.ok()) {
    st = (*file)->Append({reinterpret_cast<const uint8_t*>(header.data()), header.size()});
  }
  if (st.ok()) st = (*file)->Sync();
  if (st.ok()) st = fs_.SyncDir(segment_dir_);
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
    std::lock_guard<std::mutex> lock(mu_);
    segments_[base_offset] = SegmentInfo{kSegmentHeaderSize, clock_.NowUnixNanos()};
    total_bytes_ += kSegmentHeaderSize;
    end_ = Position{base_offset, kSegmentHeaderSize, base_offset};
    active_index_.Clear();
    metrics_.segments.Set(static_cast<double>(segments_.size()));
    metrics_.size_bytes.Set(static_cast<double>(total_bytes_));
    retention_wake_ = true;
  }
  retention_cv_.notify_one();
  return Status::Ok();
}

void Log::WriteIndex(uint64_t base) {
  uint64_t bytes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = segments_.find(base);
    if (it == segments_.end()) return;
    bytes = it->second.bytes;
  }
  // The writer thread is the index's only mutator: it reads it unlocked.
  std::string data = active_index_.Encode(base, bytes);
  std::string path = IndexPath(base);
  std::string tmp = path + ".tmp";
  Status st;
  {
    Result<std::unique_ptr<io::WritableFile>> file = fs_.OpenWritable(tmp, io::OpenMode::kTruncate);
    st = file.status();
    if (st.ok()) st = (*file)->Append({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
    if (st.ok()) st = (*file)->Close();
  }
  if (st.ok()) st = fs_.Rename(tmp, path);
  if (!st.ok()) {
    // Readers rebuild a missing index from the segment.
    fs_.Remove(tmp).IgnoreError();
    logging::Warn("log", "cannot write a segment index; readers will rebuild it",
                  {{"segment", SegmentFileName(base)}, {"error", st.ToString()}});
  }
}

// ---------------------------------------------------------------------------
// Appending

void Log::AppendAsync(AppendRequest request, AppendCallback done) {
  uint64_t bytes = FrameBytes(request);
  if (request.payload.size() > kMaxPayloadSize || request.tenant.size() > kMaxTenantSize) {
    done(Status::InvalidArgument("batch exceeds the log's size limits"));
    return;
  }
  // Checksummed here, on the appending thread, in parallel with other
  // appenders; the writer thread only sums each frame's head.
  request.payload_crc = io::Crc32c(request.payload.data(), request.payload.size());
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (closing_) {
      lock.unlock();
      done(Status::Unavailable("log is closed"));
      return;
    }
    if (queued_bytes_ + bytes > options_.max_pending_bytes && queued_bytes_ > 0) {
      metrics_.refused_full.Inc();
      lock.unlock();
      done(Status::ResourceExhausted("log writer queue is full"));
      return;
    }
    if (options_.when_full == WhenFull::kReject &&
        total_bytes_ + queued_bytes_ + bytes > options_.retention.max_bytes) {
      metrics_.refused_full.Inc();
      std::string holder = blocked_by_.empty() ? OldestSegmentHolderLocked() : blocked_by_;
      std::string who =
          holder.empty() ? "" : "; exporter " + holder + " has not read the oldest segment";
      retention_wake_ = true;
      lock.unlock();
      retention_cv_.notify_one();
      done(Status::ResourceExhausted("log is full (retention.max_bytes)" + who));
      return;
    }
    queued_bytes_ += bytes;
    metrics_.pending_bytes.Set(static_cast<double>(queued_bytes_));
    queue_.push_back(Pending{std::move(request), std::move(done)});
  }
  writer_cv_.notify_one();
}

Result<AppendResult> Log::Append(AppendRequest request) {
  std::promise<Result<AppendResult>> promise;
  auto future = promise.get_future();
  AppendAsync(std::move(request),
              [&promise](Result<AppendResult> r) { promise.set_value(std::move(r)); });
  return future.get();
}

void Log::WriterLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  std::vector<Pending> group;
  while (true) {
    if (queue_.empty() && unwritten_.empty() && !closing_ && sync_requested_ == sync_completed_) {
      if (options_.fsync == FsyncPolicy::kInterval && dirty_) {
        int64_t wait = last_sync_mono_ + options_.fsync_interval.count() - clock_.MonotonicNanos();
        if (wait > 0) writer_cv_.wait_for(lock, std::chrono::nanoseconds(wait));
      } else {
        writer_cv_.wait_for(lock, std::chrono::milliseconds(100));
      }
    }
    // Syncs are due whether or not more appends are waiting, so a steady
    // stream of appends cannot postpone them.
    MaybeSync(lock);
    if (queue_.empty()) {
      if (!unwritten_.empty()) {
        // Nothing more to hand over: complete what the disk takes, write
        // by write, looking for new appends in between.
        lock.unlock();
        AwaitWrite();
        lock.lock();
        continue;
      }
      if (closing_) break;
      continue;
    }
    group.swap(queue_);
    lock.unlock();
    WriteGroup(group);
    group.clear();
    lock.lock();
  }
  lock.unlock();
  DrainWrites();
  Status last = dirty_ ? SyncActive() : Status::Ok();
  lock.lock();
  last_sync_status_ = last;
  sync_completed_ = sync_requested_;
  sync_cv_.notify_all();
}

void Log::MaybeSync(std::unique_lock<std::mutex>& lock) {
  bool requested = sync_requested_ > sync_completed_;
  bool due = options_.fsync == FsyncPolicy::kInterval && dirty_ &&
             clock_.MonotonicNanos() - last_sync_mono_ >= options_.fsync_interval.count();
  if (!requested && !due) return;
  uint64_t target = sync_requested_;
  lock.unlock();
  Status st = SyncActive();
  if (!st.ok() && active_ && active_->Size() > kSegmentHeaderSize) {
    // What the failed fdatasync left on disk is unknown: go on in a new file.
    OpenNewSegment(next_offset_).IgnoreError();
  }
  lock.lock();
  if (requested) {
    last_sync_status_ = st;
    sync_completed_ = target;
    sync_cv_.notify_all();
  }
}

void Log::Fail(const Status& why) {
  failed_ = true;
  logging::Error("log", "the log cannot write any more; refusing appends",
                 {{"error", why.ToString()}});
  if (health_ != nullptr) health_->Set("log", false, "cannot write: " + why.message());
}

void Log::ReleaseQueued(uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  queued_bytes_ -= std::min(queued_bytes_, bytes);
  metrics_.pending_bytes.Set(static_cast<double>(queued_bytes_));
}

void Log::FailRest(std::vector<Pending>& group, size_t from, const Status& why) {
  uint64_t bytes = 0;
  for (size_t k = from; k < group.size(); ++k) {
    bytes += FrameBytes(group[k].request);
    group[k].done(why);
  }
  ReleaseQueued(bytes);
}

void Log::WriteGroup(std::vector<Pending>& group) {
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
      DrainWrites();
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

void Log::CompleteWritten(uint64_t written) {
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
  // The pipelines that received batches, to wake only their readers.
  PipelineSet appended;
  bool many = false;
  for (size_t k = 0; k < n && !many; ++k) {
    for (uint32_t id : unwritten_[k].pending.request.pipelines) many = many || !appended.Add(id);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t k = 0; k < n; ++k) {
      active_index_.Add(FrameExtent{unwritten_[k].start, unwritten_[k].end - unwritten_[k].start},
                        unwritten_[k].pending.request.pipelines);
    }
    SegmentInfo& info = segments_[end_.segment];
    info.bytes = last.end;
    info.newest_unix_nanos = last.append_unix_nanos;
    total_bytes_ += bytes;
    queued_bytes_ -= std::min(queued_bytes_, bytes);
    metrics_.pending_bytes.Set(static_cast<double>(queued_bytes_));
    end_ = Position{end_.segment, last.end, last.base_offset + last.pending.request.item_count};
    metrics_.size_bytes.Set(static_cast<double>(total_bytes_));
    for (AppendWaiter* w : waiters_) {
      if (w->pipelines != nullptr && !many && !w->pipelines->Intersects(appended)) continue;
      w->woken = true;
      w->cv.notify_one();
    }
    recovered = !disk_full_.empty();
    disk_full_.clear();
  }
  if (recovered) UpdateHealth();
  for (size_t k = 0; k < n; ++k) {
    unwritten_.front().pending.done(AppendResult{unwritten_.front().base_offset});
    unwritten_.pop_front();
  }
}

void Log::DrainWrites() {
  WaitAndComplete(/*all=*/true);
}

void Log::AwaitWrite() {
  WaitAndComplete(/*all=*/false);
}

void Log::WaitAndComplete(bool all) {
  if (unwritten_.empty() || !active_) return;
  Status st = all ? active_->Flush() : active_->WaitForWrite();
  if (!st.ok()) {
    WriteFailed(st, false);
    return;
  }
  CompleteWritten(active_->Written());
}

void Log::WriteFailed(const Status& st, bool sync_failed) {
  metrics_.append_errors.Inc();
  logging::Error("log", "append failed", {{"error", st.ToString()}});
  bool disk_full = st.message().find("No space") != std::string::npos;
  Status reported = disk_full ? Status::ResourceExhausted("disk full: " + st.message()) : st;
  if (disk_full) {
    // Not ready before the refused appends are answered.
    {
      std::lock_guard<std::mutex> lock(mu_);
      disk_full_ = st.message();
      retention_wake_ = true;
      retention_cv_.notify_one();
    }
    UpdateHealth();
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

bool Log::Repair(uint64_t size_before, bool sync_failed) {
  uint64_t base;
  {
    std::lock_guard<std::mutex> lock(mu_);
    base = end_.segment;
  }
  std::string path = SegmentPath(base);
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

Status Log::SyncActive() {
  DrainWrites();
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

Status Log::Sync() {
  std::unique_lock<std::mutex> lock(mu_);
  if (closing_) return Status::Ok();  // Close() syncs
  uint64_t target = ++sync_requested_;
  writer_cv_.notify_one();
  sync_cv_.wait(lock, [&] { return sync_completed_ >= target; });
  return last_sync_status_;
}

Status Log::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return Status::Ok();
    closing_ = true;
    closed_ = true;
  }
  writer_cv_.notify_all();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (AppendWaiter* w : waiters_) w->cv.notify_one();
  }
  retention_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (retention_.joinable()) retention_.join();
  Status st = Status::Ok();
  if (active_) {
    st = active_->Sync();
    Status c = active_->Close();
    if (st.ok()) st = c;
    SetActive(nullptr, 0);
  }
  return st;
}

Position Log::End() const {
  std::lock_guard<std::mutex> lock(mu_);
  return end_;
}

Position Log::Begin() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t first = segments_.empty() ? end_.segment : segments_.begin()->first;
  return Position{first, kSegmentHeaderSize, first};
}

void Log::WaitForAppend(const Position& after, std::chrono::milliseconds timeout,
                        const PipelineSet* pipelines) const {
  std::unique_lock<std::mutex> lock(mu_);
  auto appended = [&] {
    if (closing_) return true;
    if (end_ == after) return false;
    if (pipelines == nullptr || end_.segment != after.segment) return true;
    return active_index_.Any(*pipelines, after.byte_offset, end_.byte_offset);
  };
  if (appended()) return;
  AppendWaiter waiter;
  waiter.pipelines = pipelines;
  waiters_.push_back(&waiter);
  waiter.cv.wait_for(lock, timeout, [&] { return waiter.woken || closing_; });
  waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &waiter));
}

bool Log::NextFrameInActive(uint64_t segment, const PipelineSet& pipelines, uint64_t from,
                            uint64_t max_bytes, FrameExtent* next, Position* end) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (segment != end_.segment) return false;
  *end = end_;
  *next = active_index_.Next(pipelines, from, end_.byte_offset, max_bytes);
  return true;
}

// ---------------------------------------------------------------------------
// Cursors

Result<Position> Log::OpenCursor(const std::string& consumer, StartAt start) {
  return cursors_->Open(consumer, start == StartAt::kNewest ? End() : Begin(), End());
}

Status Log::CommitCursor(const std::string& consumer, const Position& pos) {
  SLUICE_RETURN_IF_ERROR(cursors_->Commit(consumer, pos));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!blocked_by_.empty()) retention_wake_ = true;
  }
  retention_cv_.notify_one();
  return Status::Ok();
}

Status Log::DropCursorsExcept(const std::vector<std::string>& keep) {
  SLUICE_RETURN_IF_ERROR(cursors_->DropExcept(keep));
  retention_cv_.notify_one();
  return Status::Ok();
}

Position Log::CursorOf(const std::string& consumer) const {
  return cursors_->PositionOf(consumer);
}

uint64_t Log::BytesBetween(const Position& from, const Position& to) const {
  if (!Before(from, to)) return 0;
  std::lock_guard<std::mutex> lock(mu_);
  if (from.segment == to.segment) return to.byte_offset - from.byte_offset;
  uint64_t bytes = 0;
  for (auto it = segments_.lower_bound(from.segment);
       it != segments_.end() && it->first < to.segment; ++it) {
    uint64_t start = it->first == from.segment ? from.byte_offset : 0;
    bytes += it->second.bytes > start ? it->second.bytes - start : 0;
  }
  return bytes + to.byte_offset;
}

// ---------------------------------------------------------------------------
// Retention

void Log::RetentionLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!closing_) {
    retention_cv_.wait_for(lock, options_.retention_interval,
                           [&] { return retention_wake_ || closing_; });
    if (closing_) break;
    retention_wake_ = false;
    lock.unlock();
    RunRetention();
    lock.lock();
  }
}

std::string Log::OldestSegmentHolderLocked() const {
  if (segments_.size() < 2) return "";
  uint64_t next_base = std::next(segments_.begin())->first;
  return cursors_->FirstBefore(Position{next_base, kSegmentHeaderSize, next_base});
}

void Log::RunRetention() {
  std::lock_guard<std::mutex> pass(retention_mu_);
  const uint64_t target = options_.retention.max_bytes > options_.segment_bytes
                              ? options_.retention.max_bytes - options_.segment_bytes
                              : options_.retention.max_bytes;
  while (true) {
    // Plan the deletion of the oldest segment under the lock...
    uint64_t base;
    uint64_t bytes;
    std::vector<CursorTable::Eviction> evictions;  // cursors drop_oldest moves
    {
      std::lock_guard<std::mutex> lock(mu_);
      blocked_by_.clear();
      if (segments_.size() < 2 || segments_.begin()->first == end_.segment) break;
      auto it = segments_.begin();
      base = it->first;
      bytes = it->second.bytes;
      uint64_t next_base = std::next(it)->first;
      bool over = total_bytes_ > target;
      bool expired = clock_.NowUnixNanos() - it->second.newest_unix_nanos >=
                     options_.retention.max_age.count();
      if (!over && !expired) break;
      evictions = cursors_->Behind(base, Position{next_base, kSegmentHeaderSize, next_base});
      if (!evictions.empty() && options_.when_full == WhenFull::kReject) {
        blocked_by_ = evictions.front().consumer;
        break;
      }
    }
    // ...commit every cursor it moves before the segment goes...
    bool committed = true;
    for (const CursorTable::Eviction& e : evictions) {
      Status st = cursors_->Evict(e);
      if (!st.ok()) {
        logging::Error("log", "cannot commit an evicted cursor; keeping the segment",
                       {{"exporter", e.consumer}, {"error", st.ToString()}});
        committed = false;
        break;
      }
    }
    if (!committed) break;
    // ...then delete it.
    {
      std::lock_guard<std::mutex> lock(mu_);
      segments_.erase(base);
      total_bytes_ -= std::min(total_bytes_, bytes);
      metrics_.segments.Set(static_cast<double>(segments_.size()));
      metrics_.size_bytes.Set(static_cast<double>(total_bytes_));
    }
    Status st = fs_.Remove(SegmentPath(base));
    if (!st.ok()) logging::Error("log", "cannot delete segment", {{"error", st.ToString()}});
    // Missing when it was never written (an older segment not yet read).
    fs_.Remove(IndexPath(base)).IgnoreError();
    metrics_.deleted_segments.Inc();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    metrics_.retention_backlog_bytes.Set(
        static_cast<double>(total_bytes_ > target ? total_bytes_ - target : 0));
  }
  UpdateHealth();
}

// ---------------------------------------------------------------------------
// Corruption and health

void Log::ReportCorruption(uint64_t segment, uint64_t offset, uint64_t bytes) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const std::pair<uint64_t, uint64_t> range{segment, offset};
    if (std::find(corrupt_ranges_.begin(), corrupt_ranges_.end(), range) != corrupt_ranges_.end()) {
      return;
    }
    corrupt_ranges_.push_back(range);
    if (corrupt_ranges_.size() > kMaxCorruptRanges) corrupt_ranges_.pop_front();
    ++corrupt_places_;
    corrupt_total_ += bytes;
  }
  metrics_.corrupt_bytes.Inc(bytes);
  logging::Error("log", "skipped a damaged batch",
                 {{"segment", SegmentFileName(segment)}, {"at", offset}, {"bytes", bytes}});
  UpdateHealth();
}

size_t Log::corrupt_ranges_kept() const {
  std::lock_guard<std::mutex> lock(mu_);
  return corrupt_ranges_.size();
}

void Log::UpdateHealth() {
  if (health_ == nullptr) return;
  std::string detail;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!disk_full_.empty()) {
      // Not ready: a load balancer sends the traffic to another instance
      // until appends succeed again.
      health_->Set("log", false, "disk full, appends refused: " + disk_full_);
      return;
    }
    if (corrupt_total_ > 0) {
      detail = "skipped " + std::to_string(corrupt_total_) + " corrupt bytes in " +
               std::to_string(corrupt_places_) + " place(s), latest in segment " +
               SegmentFileName(corrupt_ranges_.back().first) + " at byte " +
               std::to_string(corrupt_ranges_.back().second);
    }
    if (!blocked_by_.empty() &&
        total_bytes_ + options_.segment_bytes > options_.retention.max_bytes) {
      if (!detail.empty()) detail += "; ";
      detail += "full: exporter " + blocked_by_ + " has not read the oldest segment";
    }
  }
  if (!failed_) health_->Set("log", true, detail);
}

}  // namespace sluice::log
