#include "log/log.h"

#include <algorithm>
#include <cstring>
#include <future>

#include "base/crc32c.h"
#include "base/logging.h"
#include "log/index_records.h"
#include "log/paths.h"
#include "log/scan.h"

namespace sluice::log {

Log::Log(const LogOptions& options, io::FileSystem& fs, Clock& clock, telemetry::Registry& registry,
         telemetry::Health* health)
    : options_(options),
      fs_(fs),
      clock_(clock),
      metrics_(registry),
      health_(health),
      table_(options.directory, metrics_) {}

Result<std::unique_ptr<Log>> Log::Open(const LogOptions& options, io::FileSystem& fs, Clock& clock,
                                       telemetry::Registry& registry, telemetry::Health* health) {
  std::unique_ptr<Log> log(new Log(options, fs, clock, registry, health));
  if (health != nullptr) health->Set("log", false, "opening");
  SLUICE_RETURN_IF_ERROR(fs.CreateDirs(options.directory));
  // One process at a time: a second one's recovery would cut the tail the
  // first is writing.
  Result<std::unique_ptr<io::FileLock>> lock = fs.LockFile(LockFilePath(options.directory));
  if (!lock.ok()) {
    if (lock.status().code() != StatusCode::kFailedPrecondition) return lock.status();
    return Status::FailedPrecondition("the log in " + options.directory +
                                      " is open in another process (a running sluice?)");
  }
  log->lock_ = std::move(*lock);
  StateFile::Options so;
  so.path = StateFilePath(options.directory);
  so.compaction_threshold_bytes = options.state_compaction.threshold_bytes;
  so.compaction_cooldown = options.state_compaction.cooldown;
  SLUICE_ASSIGN_OR_RETURN(log->state_, StateFile::Open(so, fs, clock, registry));
  Log* l = log.get();
  l->cursors_ = std::make_unique<CursorTable>(*l->state_, l->metrics_.evicted_records);
  l->retention_ = std::make_unique<Retention>(l->options_, fs, clock, l->metrics_, l->table_,
                                              *l->cursors_, [l] { l->UpdateHealth(); });
  l->writer_ = std::make_unique<SegmentWriter>(
      l->options_, fs, clock, l->metrics_, l->table_, *l->retention_,
      SegmentWriter::Hooks{[l] { l->UpdateHealth(); }, [l](const Status& why) { l->Fail(why); }});
  l->records_ = std::make_unique<RecordCounter>(
      l->table_, fs,
      [l](uint64_t segment, uint64_t offset, std::span<uint8_t> out) {
        return l->ReadRecent(segment, offset, out);
      },
      [l](uint64_t segment, uint64_t offset, uint64_t bytes) {
        l->ReportCorruption(segment, offset, bytes);
      });
  SLUICE_RETURN_IF_ERROR(log->Recover());
  // Every committed cursor holds back retention from the start, before the
  // exporter that owns it has started.
  log->cursors_->Load();
  log->writer_->Start();
  log->retention_->Start();
  log->UpdateHealth();
  return log;
}

Log::~Log() {
  Close().IgnoreError();
}

std::vector<uint64_t> Log::Segments() const {
  return table_.Bases();
}

uint64_t Log::size_bytes() const {
  return table_.TotalBytes();
}

// ---------------------------------------------------------------------------
// Recovery

Status Log::Recover() {
  SLUICE_RETURN_IF_ERROR(fs_.CreateDirs(table_.dir()));
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_.ListDir(table_.dir()));
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
  if (bases.empty()) return writer_->OpenNewSegment(0);
  // Closed segments were synced before their successor was created; only the
  // last one can have a torn tail.
  for (size_t i = 0; i + 1 < bases.size(); ++i) {
    std::string path = SegmentPath(bases[i]);
    Result<uint64_t> size = fs_.FileSize(path);
    Result<int64_t> mtime = fs_.ModifiedUnixNanos(path);
    if (!size.ok() || !mtime.ok()) continue;  // vanished: tolerated
    MutexLock lock(table_.mu);
    table_.AddSegment(bases[i], SegmentInfo{*size, *mtime});
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
    return writer_->OpenNewSegment(next);
  }
  Result<int64_t> mtime = fs_.ModifiedUnixNanos(path);
  int64_t newest = mtime.ok() ? *mtime : clock_.NowUnixNanos();
  uint64_t pos = kSegmentHeaderSize;
  uint64_t next_offset = base;
  std::string scratch;
  SegmentIndex index;  // of the frames found
  while (pos < size) {
    DecodedFrame frame;
    uint64_t frame_size = 0;
    SLUICE_ASSIGN_OR_RETURN(FrameStatus st,
                            ReadFrameAt(*file, pos, size, scratch, &frame, &frame_size));
    if (st == FrameStatus::kOk) {
      next_offset = frame.header.base_offset + frame.header.item_count;
      index.Add(FrameExtent{pos, frame_size}, frame.header.pipelines);
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
  SLUICE_RETURN_IF_ERROR(writer_->Resume(base, next_offset));
  {
    MutexLock lock(table_.mu);
    table_.StartActive(SegmentInfo{pos, newest}, Position{base, pos, next_offset}, &index);
  }
  // An older version's segment is read as it is, never written on: new
  // batches go into a segment of the current version.
  if (version < kFormatVersion && pos > kSegmentHeaderSize)
    return writer_->OpenNewSegment(next_offset);
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Appending, syncing, closing: the segment writer

void Log::AppendAsync(AppendRequest request, AppendCallback done) {
  if (request.payload.size() > kMaxPayloadSize || request.tenant.size() > kMaxTenantSize) {
    done(Status::InvalidArgument("batch exceeds the log's size limits"));
    return;
  }
  // Checksummed here, on the appending thread, in parallel with other
  // appenders; the writer thread only sums each frame's head.
  request.payload_crc = Crc32c(request.payload.data(), request.payload.size());
  writer_->Append(std::move(request), std::move(done));
}

Result<AppendResult> Log::Append(AppendRequest request) {
  std::promise<Result<AppendResult>> promise;
  auto future = promise.get_future();
  AppendAsync(std::move(request),
              [&promise](Result<AppendResult> r) { promise.set_value(std::move(r)); });
  return future.get();
}

Status Log::Sync() {
  return writer_->Sync();
}

void Log::SetAppendObserver(AppendObserver observer) {
  if (writer_) writer_->SetObserver(std::move(observer));
}

Status Log::Close() {
  if (!table_.BeginClose()) return Status::Ok();
  Status st = writer_ ? writer_->Stop() : Status::Ok();
  if (retention_) retention_->Stop();
  lock_.reset();  // another process (or a new Log here) may open it now
  return st;
}

bool Log::ReadRecent(uint64_t segment, uint64_t offset, std::span<uint8_t> out) const {
  return writer_->ReadRecent(segment, offset, out);
}

void Log::Fail(const Status& why) {
  failed_ = true;
  logging::Error("log", "the log cannot write any more; refusing appends",
                 {{"error", why.ToString()}});
  if (health_ != nullptr) health_->Set("log", false, "cannot write: " + why.message());
}

// ---------------------------------------------------------------------------
// Reading: the segment table

Position Log::End() const {
  return table_.End();
}

Position Log::Begin() const {
  return table_.Begin();
}

void Log::WaitForAppend(const Position& after, std::chrono::milliseconds timeout,
                        const PipelineSet* pipelines) const {
  table_.WaitForAppend(after, timeout, pipelines);
}

bool Log::NextFrameInActive(uint64_t segment, const PipelineSet& pipelines, uint64_t from,
                            uint64_t max_bytes, FrameExtent* next, Position* end) const {
  return table_.NextFrameInActive(segment, pipelines, from, max_bytes, next, end);
}

uint64_t Log::BytesBetween(const Position& from, const Position& to) const {
  return table_.BytesBetween(from, to);
}

Result<uint64_t> Log::RecordsAfter(const Position& from, const PipelineSet& pipelines) const {
  return records_->RecordsAfter(from, pipelines);
}

// ---------------------------------------------------------------------------
// Cursors and retention

Result<Position> Log::OpenCursor(const std::string& consumer, StartAt start) {
  return cursors_->Open(consumer, start == StartAt::kNewest ? End() : Begin(), End());
}

Status Log::CommitCursor(const std::string& consumer, const Position& pos) {
  SLUICE_RETURN_IF_ERROR(cursors_->Commit(consumer, pos));
  retention_->CursorMoved();
  return Status::Ok();
}

Status Log::DropCursorsExcept(const std::vector<std::string>& keep) {
  SLUICE_RETURN_IF_ERROR(cursors_->DropExcept(keep));
  retention_->Notify();
  return Status::Ok();
}

Position Log::CursorOf(const std::string& consumer) const {
  return cursors_->PositionOf(consumer);
}

void Log::RunRetention() {
  retention_->RunPass();
}

// ---------------------------------------------------------------------------
// Corruption and health

void Log::ReportCorruption(uint64_t segment, uint64_t offset, uint64_t bytes) {
  {
    MutexLock lock(table_.mu);
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
  MutexLock lock(table_.mu);
  return corrupt_ranges_.size();
}

void Log::UpdateHealth() {
  if (health_ == nullptr) return;
  std::string disk_full = writer_->DiskFull();
  if (!disk_full.empty()) {
    // Not ready: a load balancer sends the traffic to another instance
    // until appends succeed again.
    health_->Set("log", false, "disk full, appends refused: " + disk_full);
    return;
  }
  std::string blocked_by = retention_->BlockedBy();
  std::string detail;
  {
    MutexLock lock(table_.mu);
    if (corrupt_total_ > 0) {
      detail = "skipped " + std::to_string(corrupt_total_) + " corrupt bytes in " +
               std::to_string(corrupt_places_) + " place(s), latest in segment " +
               SegmentFileName(corrupt_ranges_.back().first) + " at byte " +
               std::to_string(corrupt_ranges_.back().second);
    }
    if (!blocked_by.empty() &&
        table_.total_bytes() + options_.segment_bytes > options_.retention.max_bytes) {
      if (!detail.empty()) detail += "; ";
      detail += "full: exporter " + blocked_by + " has not read the oldest segment";
    }
  }
  if (!failed_) health_->Set("log", true, detail);
}

}  // namespace sluice::log
