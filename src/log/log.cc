#include "log/log.h"

#include <algorithm>
#include <future>

#include "base/logging.h"

namespace sluice::log {

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
                                "Appends refused because the writer queue was full.")
                       .Get()),
      fsyncs(r.AddCounter("sluice_log_fsyncs_total", "fdatasync calls on log segments.").Get()),
      truncated_bytes(r.AddCounter("sluice_log_truncated_bytes_total",
                                   "Bytes of torn tail removed during recovery.")
                          .Get()),
      segments(r.AddGauge("sluice_log_segments", "Segment files on disk.").Get()),
      size_bytes(r.AddGauge("sluice_log_size_bytes", "Bytes in all segment files.").Get()),
      pending_bytes(
          r.AddGauge("sluice_log_pending_bytes", "Bytes queued for the writer thread.").Get()),
      fsync_seconds(r.AddHistogram("sluice_log_fsync_seconds", "Duration of fdatasync calls.", {},
                                   telemetry::LatencyBuckets())
                        .Get()) {}

Log::Log(const LogOptions& options, io::FileSystem& fs, Clock& clock, telemetry::Registry& registry)
    : options_(options),
      fs_(fs),
      clock_(clock),
      metrics_(registry),
      segment_dir_(io::JoinPath(options.directory, "log")) {}

Result<std::unique_ptr<Log>> Log::Open(const LogOptions& options, io::FileSystem& fs, Clock& clock,
                                       telemetry::Registry& registry) {
  std::unique_ptr<Log> log(new Log(options, fs, clock, registry));
  SLUICE_RETURN_IF_ERROR(log->Recover());
  log->last_sync_mono_ = clock.MonotonicNanos();
  log->writer_ = std::thread([l = log.get()] { l->WriterLoop(); });
  return log;
}

Log::~Log() {
  Close().IgnoreError();
}

std::string Log::SegmentPath(uint64_t base) const {
  return io::JoinPath(segment_dir_, SegmentFileName(base));
}

std::vector<uint64_t> Log::Segments() const {
  std::lock_guard<std::mutex> lock(mu_);
  return segments_;
}

Status Log::Recover() {
  SLUICE_RETURN_IF_ERROR(fs_.CreateDirs(segment_dir_));
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_.ListDir(segment_dir_));
  for (const auto& name : names) {
    uint64_t base;
    if (ParseSegmentFileName(name, &base)) segments_.push_back(base);
  }
  std::sort(segments_.begin(), segments_.end());
  if (segments_.empty()) return OpenNewSegment(0);

  // Scan the last segment to find its last whole batch; cut anything after it.
  uint64_t base = segments_.back();
  std::string path = SegmentPath(base);
  SLUICE_ASSIGN_OR_RETURN(auto file, fs_.OpenReadable(path));
  SLUICE_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  std::string header(kSegmentHeaderSize, '\0');
  SLUICE_ASSIGN_OR_RETURN(
      size_t got, file->Read(0, {reinterpret_cast<uint8_t*>(header.data()), header.size()}));
  uint64_t header_base;
  if (got < kSegmentHeaderSize || !DecodeSegmentHeader(header, &header_base) ||
      header_base != base) {
    if (size > kSegmentHeaderSize) {
      return Status::Corruption("segment " + path + " has an invalid header");
    }
    // Torn while being created: start it again.
    segments_.pop_back();
    metrics_.truncated_bytes.Inc(size);
    SLUICE_RETURN_IF_ERROR(fs_.Remove(path));
    return OpenNewSegment(base);
  }
  uint64_t pos = kSegmentHeaderSize;
  uint64_t next_offset = base;
  std::string frame;
  while (pos < size) {
    if (size - pos < kFrameHeaderSize) break;
    frame.resize(kFrameHeaderSize);
    SLUICE_ASSIGN_OR_RETURN(
        size_t n, file->Read(pos, {reinterpret_cast<uint8_t*>(frame.data()), frame.size()}));
    if (n < kFrameHeaderSize) break;
    uint64_t frame_size = FrameSizeFromPrefix(frame);
    if (frame_size == 0 || pos + frame_size > size) break;
    frame.resize(frame_size);
    SLUICE_ASSIGN_OR_RETURN(
        n, file->Read(pos, {reinterpret_cast<uint8_t*>(frame.data()), frame.size()}));
    DecodedFrame decoded;
    if (n < frame_size || DecodeFrame(frame, &decoded) != DecodeResult::kOk) break;
    next_offset = decoded.header.base_offset + decoded.header.item_count;
    pos += frame_size;
  }
  if (pos < size) {
    logging::Warn("log", "truncating torn tail",
                  {{"segment", path}, {"at", pos}, {"bytes", size - pos}});
    metrics_.truncated_bytes.Inc(size - pos);
    SLUICE_RETURN_IF_ERROR(fs_.Truncate(path, pos));
  }
  SLUICE_ASSIGN_OR_RETURN(active_, fs_.OpenWritable(path, io::OpenMode::kAppend));
  active_created_mono_ = clock_.MonotonicNanos();
  next_offset_ = next_offset;
  end_ = Position{base, pos, next_offset};
  uint64_t total = 0;
  for (uint64_t s : segments_) {
    Result<uint64_t> sz = fs_.FileSize(SegmentPath(s));
    if (sz.ok()) total += *sz;
  }
  metrics_.size_bytes.Set(static_cast<double>(total));
  metrics_.segments.Set(static_cast<double>(segments_.size()));
  return Status::Ok();
}

Status Log::OpenNewSegment(uint64_t base_offset) {
  std::string path = SegmentPath(base_offset);
  SLUICE_ASSIGN_OR_RETURN(auto file, fs_.OpenWritable(path, io::OpenMode::kTruncate));
  std::string header = EncodeSegmentHeader(base_offset, clock_.NowUnixNanos());
  SLUICE_RETURN_IF_ERROR(
      file->Append({reinterpret_cast<const uint8_t*>(header.data()), header.size()}));
  SLUICE_RETURN_IF_ERROR(file->Sync());
  SLUICE_RETURN_IF_ERROR(fs_.SyncDir(segment_dir_));
  if (active_) {
    // Invariant: a closed segment is fully durable before the next one starts.
    SLUICE_RETURN_IF_ERROR(active_->Sync());
    SLUICE_RETURN_IF_ERROR(active_->Close());
  }
  active_ = std::move(file);
  active_created_mono_ = clock_.MonotonicNanos();
  next_offset_ = base_offset;
  std::lock_guard<std::mutex> lock(mu_);
  segments_.push_back(base_offset);
  end_ = Position{base_offset, kSegmentHeaderSize, base_offset};
  metrics_.segments.Set(static_cast<double>(segments_.size()));
  metrics_.size_bytes.Add(static_cast<double>(kSegmentHeaderSize));
  return Status::Ok();
}

void Log::AppendAsync(AppendRequest request, AppendCallback done) {
  uint64_t bytes = request.payload.size() + request.tenant.size() + kFrameHeaderSize;
  if (request.payload.size() > kMaxPayloadSize || request.tenant.size() > kMaxTenantSize) {
    done(Status::InvalidArgument("batch exceeds the log's size limits"));
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) {
      done(Status::Unavailable("log is closing"));
      return;
    }
    if (queued_bytes_ + bytes > options_.max_pending_bytes && queued_bytes_ > 0) {
      metrics_.refused_full.Inc();
      done(Status::ResourceExhausted("log writer queue is full"));
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
    if (queue_.empty() && !closing_) {
      if (options_.fsync == FsyncPolicy::kInterval && dirty_) {
        int64_t due = last_sync_mono_ + options_.fsync_interval.count();
        int64_t wait = due - clock_.MonotonicNanos();
        if (wait > 0) writer_cv_.wait_for(lock, std::chrono::nanoseconds(wait));
      } else {
        writer_cv_.wait_for(lock, std::chrono::milliseconds(100));
      }
    }
    if (sync_requested_ > sync_completed_ && queue_.empty()) {
      uint64_t target = sync_requested_;
      lock.unlock();
      Status st = SyncActive();
      lock.lock();
      last_sync_status_ = st;
      sync_completed_ = target;
      sync_cv_.notify_all();
      continue;
    }
    if (queue_.empty()) {
      if (closing_) break;
      if (options_.fsync == FsyncPolicy::kInterval && dirty_ &&
          clock_.MonotonicNanos() - last_sync_mono_ >= options_.fsync_interval.count()) {
        lock.unlock();
        SyncActive().IgnoreError();  // counted and logged inside
        lock.lock();
      }
      continue;
    }
    group.swap(queue_);
    lock.unlock();
    WriteGroup(group);
    group.clear();
    lock.lock();
  }
  sync_completed_ = sync_requested_;
  sync_cv_.notify_all();
  lock.unlock();
  if (dirty_) SyncActive().IgnoreError();
}

void Log::WriteGroup(std::vector<Pending>& group) {
  size_t i = 0;
  uint64_t group_bytes = 0;
  for (const auto& p : group) {
    group_bytes += p.request.payload.size() + p.request.tenant.size() + kFrameHeaderSize;
  }
  while (i < group.size()) {
    // Roll before the batch that would overflow the segment, or an old one.
    bool has_data = active_->Size() > kSegmentHeaderSize;
    bool too_old =
        clock_.MonotonicNanos() - active_created_mono_ >= options_.segment_max_age.count();
    if (has_data && (active_->Size() >= options_.segment_bytes || too_old)) {
      Status st = OpenNewSegment(next_offset_);
      if (!st.ok()) {
        logging::Error("log", "cannot start a new segment", {{"error", st.ToString()}});
        metrics_.append_errors.Inc();
        for (; i < group.size(); ++i) group[i].done(st);
        break;
      }
    }
    // Take batches until the segment would be full.
    write_buffer_.clear();
    size_t first = i;
    uint64_t offset = next_offset_;
    uint64_t records = 0;
    int64_t now = clock_.NowUnixNanos();
    std::vector<uint64_t> offsets;
    offsets.reserve(group.size() - i);
    while (i < group.size()) {
      const AppendRequest& r = group[i].request;
      if (i > first &&
          active_->Size() + write_buffer_.size() + r.payload.size() >= options_.segment_bytes) {
        break;
      }
      BatchHeader h;
      h.base_offset = offset;
      h.item_count = r.item_count;
      h.signal = r.signal;
      h.encoding = r.encoding;
      h.pipeline_id = r.pipeline_id;
      h.min_event_unix_nanos = r.min_event_unix_nanos;
      h.max_event_unix_nanos = r.max_event_unix_nanos;
      h.append_unix_nanos = now;
      EncodeFrame(h, r.tenant, r.payload, &write_buffer_);
      offsets.push_back(offset);
      offset += r.item_count;
      records += r.item_count;
      ++i;
    }
    uint64_t size_before = active_->Size();
    Status st = active_->Append(
        {reinterpret_cast<const uint8_t*>(write_buffer_.data()), write_buffer_.size()});
    if (st.ok() && options_.fsync == FsyncPolicy::kAlways) {
      int64_t t0 = clock_.MonotonicNanos();
      st = active_->Sync();
      metrics_.fsyncs.Inc();
      metrics_.fsync_seconds.Observe(static_cast<double>(clock_.MonotonicNanos() - t0) / 1e9);
    }
    if (!st.ok()) {
      // Cut the partial write so the segment ends on a whole batch again.
      metrics_.append_errors.Inc();
      logging::Error("log", "append failed", {{"error", st.ToString()}});
      std::string path = SegmentPath(end_.segment);
      active_->Close().IgnoreError();
      active_.reset();
      Status repair = fs_.Truncate(path, size_before);
      if (repair.ok()) {
        auto reopened = fs_.OpenWritable(path, io::OpenMode::kAppend);
        if (reopened.ok())
          active_ = std::move(reopened).value();
        else
          repair = reopened.status();
      }
      if (!repair.ok()) {
        logging::Error("log", "cannot repair segment after failed append",
                       {{"error", repair.ToString()}});
        // Without an active segment nothing more can be written safely.
        std::lock_guard<std::mutex> lock(mu_);
        closing_ = true;
      }
      Status reported =
          st.code() == StatusCode::kIoError && st.message().find("No space") != std::string::npos
              ? Status::ResourceExhausted("disk full: " + st.message())
              : st;
      for (size_t k = first; k < i; ++k) group[k].done(reported);
      if (!active_) {
        for (; i < group.size(); ++i) group[i].done(Status::Unavailable("log failed"));
      }
      continue;
    }
    next_offset_ = offset;
    dirty_ = options_.fsync != FsyncPolicy::kAlways;
    metrics_.appended_batches.Inc(i - first);
    metrics_.appended_bytes.Inc(write_buffer_.size());
    metrics_.appended_records.Inc(records);
    metrics_.size_bytes.Add(static_cast<double>(write_buffer_.size()));
    {
      std::lock_guard<std::mutex> lock(mu_);
      end_ = Position{end_.segment, active_->Size(), next_offset_};
    }
    append_cv_.notify_all();
    for (size_t k = first; k < i; ++k) group[k].done(AppendResult{offsets[k - first]});
  }
  std::lock_guard<std::mutex> lock(mu_);
  queued_bytes_ -= std::min(queued_bytes_, group_bytes);
  metrics_.pending_bytes.Set(static_cast<double>(queued_bytes_));
}

Status Log::Sync() {
  std::unique_lock<std::mutex> lock(mu_);
  if (closing_) return Status::Ok();  // Close() syncs
  uint64_t target = ++sync_requested_;
  writer_cv_.notify_one();
  sync_cv_.wait(lock, [&] { return sync_completed_ >= target; });
  return last_sync_status_;
}

Status Log::SyncActive() {
  if (!active_) return Status::Ok();
  int64_t t0 = clock_.MonotonicNanos();
  Status st = active_->Sync();
  metrics_.fsyncs.Inc();
  metrics_.fsync_seconds.Observe(static_cast<double>(clock_.MonotonicNanos() - t0) / 1e9);
  last_sync_mono_ = clock_.MonotonicNanos();
  if (!st.ok()) {
    logging::Error("log", "fdatasync failed", {{"error", st.ToString()}});
    return st;
  }
  dirty_ = false;
  return Status::Ok();
}

Status Log::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return Status::Ok();
    closing_ = true;
    closed_ = true;
  }
  writer_cv_.notify_all();
  append_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  Status st = Status::Ok();
  if (active_) {
    st = active_->Sync();
    Status c = active_->Close();
    if (st.ok()) st = c;
    active_.reset();
  }
  return st;
}

Position Log::End() const {
  std::lock_guard<std::mutex> lock(mu_);
  return end_;
}

Position Log::Begin() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t first = segments_.empty() ? end_.segment : segments_.front();
  return Position{first, kSegmentHeaderSize, first};
}

void Log::WaitForAppend(const Position& after, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  append_cv_.wait_for(lock, timeout, [&] { return !(end_ == after) || closing_; });
}

}  // namespace sluice::log
