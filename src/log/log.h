#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "io/file_system.h"
#include "log/cursors.h"
#include "log/format.h"
#include "log/index.h"
#include "log/options.h"
#include "log/state_file.h"
#include "telemetry/health.h"
#include "telemetry/metrics.h"

namespace sluice::log {

struct LogMetrics {
  explicit LogMetrics(telemetry::Registry& r);
  telemetry::Counter& appended_batches;
  telemetry::Counter& appended_bytes;
  telemetry::Counter& appended_records;
  telemetry::Counter& append_errors;
  telemetry::Counter& refused_full;
  telemetry::Counter& fsyncs;
  telemetry::Counter& fsync_errors;
  telemetry::Counter& truncated_bytes;
  telemetry::Counter& corrupt_bytes;
  telemetry::Counter& deleted_segments;
  telemetry::Gauge& segments;
  telemetry::Gauge& size_bytes;
  telemetry::Gauge& pending_bytes;
  telemetry::Gauge& retention_backlog_bytes;
  telemetry::Histogram& fsync_seconds;
  telemetry::CounterFamily& evicted_records;
};

// What a receiver hands to the log.
struct AppendRequest {
  Signal signal = Signal::kTraces;
  Encoding encoding = Encoding::kOtlpProto;
  // Every pipeline the batch goes to: it is written once, naming them all.
  PipelineSet pipelines;
  std::string tenant;
  uint32_t item_count = 0;
  int64_t min_event_unix_nanos = 0;
  int64_t max_event_unix_nanos = 0;
  std::string payload;
  // Crc32c(payload); filled in by AppendAsync on the calling thread.
  uint32_t payload_crc = 0;
};

// Where a consumer without a committed cursor starts reading.
enum class StartAt { kOldest, kNewest };

struct AppendResult {
  uint64_t base_offset = 0;  // record offset given to the batch's first item
};

using AppendCallback = std::function<void(Result<AppendResult>)>;

// The durable log.
//
// Writing: one writer thread owns the active segment; any number of threads
// append, and each append completes when its batch meets the fsync policy
// (`always`: fdatasync done; `interval`/`never`: write() done). Appends
// queued while a group is being written are committed together: one write and
// at most one fdatasync (group commit).
//
// Cursors: each consumer (exporter) has a durable cursor in the state file.
// Retention never deletes a segment a committed cursor still needs, unless
// `when_full: drop_oldest` forces it; then the cursor is advanced and
// committed first and the loss is counted per consumer.
//
// Retention runs on its own thread, off the ingest path: by age and by total
// bytes, every retention_interval and whenever a segment is closed.
//
// Corruption: a damaged frame found on open or by a reader is stepped over
// (the next valid frame is searched for), counted once in
// sluice_log_corrupt_bytes_total, and reported in the health detail.
//
// Thread-safety: every public method may be called from any thread.
// Lifetime: Close() (or the destructor) completes queued appends first.
class Log {
 public:
  // Opens or creates the log in options.directory, recovering its tail.
  // `health` (optional) receives the "log" component's state.
  static Result<std::unique_ptr<Log>> Open(const LogOptions& options, io::FileSystem& fs,
                                           Clock& clock, telemetry::Registry& registry,
                                           telemetry::Health* health = nullptr);
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Queues a batch. `done` runs on the writer thread once the batch is
  // durable per policy, or with an error: ResourceExhausted when the writer
  // queue is full, the log is at retention.max_bytes under when_full: reject,
  // or the disk is full; Unavailable after Close; IoError if a write failed.
  // `done` must not block.
  void AppendAsync(AppendRequest request, AppendCallback done);
  // Blocking form of AppendAsync.
  Result<AppendResult> Append(AppendRequest request);

  // Makes everything written so far durable.
  Status Sync();
  // Stops accepting appends, finishes queued ones, syncs, stops retention.
  Status Close();

  // Position just past the last committed batch (readers stop there).
  Position End() const;
  // Position of the first batch still on disk.
  Position Begin() const;
  // Blocks until a batch is appended past `after` (one of `pipelines`' when
  // given), the timeout passes, or Close(). Only a waiter whose pipelines
  // received a batch is woken: a reader beside a busy pipeline of others
  // sleeps through its appends.
  void WaitForAppend(const Position& after, std::chrono::milliseconds timeout,
                     const PipelineSet* pipelines = nullptr) const;

  // For a reader of `pipelines` in the active segment: the first of their
  // frames in [from, end) of `segment` with the run of theirs that follows it
  // back to back (SegmentIndex::Next; offset == end.byte_offset when none),
  // and in *end the log's end. False when `segment` is no longer the active
  // one (read its index file instead).
  bool NextFrameInActive(uint64_t segment, const PipelineSet& pipelines, uint64_t from,
                         uint64_t max_bytes, FrameExtent* next, Position* end) const;
  // Where the index file of a segment lives.
  std::string IndexPath(uint64_t base) const;

  // The committed cursor of `consumer`; for a new one, Begin() (kOldest) or
  // End() (kNewest), committed at once so that it holds retention across
  // restarts too. Registers the consumer so that retention holds what it has
  // not read.
  Result<Position> OpenCursor(const std::string& consumer, StartAt start = StartAt::kOldest);
  // Forgets the cursors of consumers not in `keep` (exporters removed from
  // the configuration), so they no longer hold back retention.
  Status DropCursorsExcept(const std::vector<std::string>& keep);
  // Durably records the consumer's position (state file, fdatasync).
  // Positions only move forward; an older one is ignored.
  Status CommitCursor(const std::string& consumer, const Position& pos);
  // The position retention keeps for the consumer (its commit, or further if
  // drop_oldest moved it).
  Position CursorOf(const std::string& consumer) const;

  // Bytes of log between two positions (from ≤ to).
  uint64_t BytesBetween(const Position& from, const Position& to) const;
  // Runs one retention pass now (tests, and after a disk-full error).
  void RunRetention();

  // A reader found a damaged frame: count it once and report it.
  void ReportCorruption(uint64_t segment, uint64_t offset, uint64_t bytes);
  // Damaged ranges remembered (bounded) and found in all.
  size_t corrupt_ranges_kept() const;

  std::string SegmentPath(uint64_t base) const;
  // Base offsets of segments on disk, ascending.
  std::vector<uint64_t> Segments() const;
  uint64_t size_bytes() const;
  io::FileSystem& fs() const { return fs_; }
  // Copies bytes [offset, offset + out.size()) of `segment` from the
  // memory of the active segment's file, if it is that segment and still
  // holds them (io::WritableFile::ReadRecent); false otherwise. Lets readers
  // close behind the writer skip the disk under direct I/O. Thread-safe.
  bool ReadRecent(uint64_t segment, uint64_t offset, std::span<uint8_t> out) const;

  // The storage directory the log lives in.
  const std::string& directory() const { return options_.directory; }
  StateFile& state() { return *state_; }

 private:
  // The consumer whose cursor still needs the oldest segment ("" if none);
  // mu_ held.
  std::string OldestSegmentHolderLocked() const;
  struct Pending {
    AppendRequest request;
    AppendCallback done;
  };
  struct SegmentInfo {
    uint64_t bytes = 0;
    int64_t newest_unix_nanos = 0;  // last append (or file mtime for old segments)
  };

  Log(const LogOptions& options, io::FileSystem& fs, Clock& clock, telemetry::Registry& registry,
      telemetry::Health* health);
  Status Recover();
  Status RecoverLastSegment(uint64_t base);
  // Precondition: unwritten_ is empty.
  Status OpenNewSegment(uint64_t base_offset);
  // Writes active_index_ as the index file of the segment `base` (closed);
  // a failure is logged, and readers rebuild the index.
  void WriteIndex(uint64_t base);
  // Makes `file` (null for none) the active segment's file.
  void SetActive(std::unique_ptr<io::WritableFile> file, uint64_t segment);
  Result<std::unique_ptr<io::WritableFile>> OpenSegmentFile(const std::string& path,
                                                            io::OpenMode mode);
  void WriterLoop();
  // Hands the group to the active segment in chunks (syncing each under
  // `always`); batches wait in unwritten_ until their bytes reach the OS.
  void WriteGroup(std::vector<Pending>& group);
  // Completes, in order, the unwritten batches that end at or before
  // `written` (a byte position in the active segment).
  void CompleteWritten(uint64_t written);
  // Waits for the active segment's background writes and completes what
  // they carried.
  void DrainWrites();
  // The same for the next background write only.
  void AwaitWrite();
  void WaitAndComplete(bool all);
  // After a failed write or sync: completes what reached the OS, refuses
  // the rest, and repairs the segment.
  void WriteFailed(const Status& st, bool sync_failed);
  // Refuses group[from, end) with `why`.
  void FailRest(std::vector<Pending>& group, size_t from, const Status& why);
  // The writer is done with `bytes` of queued batches.
  void ReleaseQueued(uint64_t bytes);
  // After a failed write: cut the segment back to `size_before`; after a
  // failed sync, also move to a new segment. False if no segment is usable.
  bool Repair(uint64_t size_before, bool sync_failed);
  void RetentionLoop();
  // Marks the log unable to write (health not ready) after an unrecoverable error.
  void Fail(const Status& why);
  // Writer thread: the periodic or requested fdatasync, if due.
  void MaybeSync(std::unique_lock<std::mutex>& lock);
  void UpdateHealth();
  // Writer thread only (or after the writer has been joined).
  Status SyncActive();

  const LogOptions options_;
  io::FileSystem& fs_;
  Clock& clock_;
  telemetry::Registry& registry_;
  LogMetrics metrics_;
  telemetry::Health* health_;
  const std::string segment_dir_;
  std::unique_ptr<StateFile> state_;
  std::unique_ptr<CursorTable> cursors_;

  mutable std::mutex mu_;
  mutable std::condition_variable writer_cv_;
  // A reader waiting for appends (WaitForAppend); woken only for its pipelines.
  struct AppendWaiter {
    const PipelineSet* pipelines = nullptr;  // null: any append
    std::condition_variable cv;
    bool woken = false;
  };
  mutable std::vector<AppendWaiter*> waiters_;
  // Frames of the active segment per pipeline; mutated by the writer thread
  // only, under mu_.
  SegmentIndex active_index_;
  std::condition_variable retention_cv_;
  std::vector<Pending> queue_;
  uint64_t queued_bytes_ = 0;
  bool closing_ = false;
  bool closed_ = false;
  bool retention_wake_ = false;
  uint64_t sync_requested_ = 0;
  uint64_t sync_completed_ = 0;
  Status last_sync_status_;
  mutable std::condition_variable sync_cv_;
  Position end_;
  std::map<uint64_t, SegmentInfo> segments_;
  uint64_t total_bytes_ = 0;
  // The newest damaged ranges found, (segment, offset) in the order found;
  // at most kMaxCorruptRanges, the oldest forgotten (a forgotten range found
  // again is counted again). corrupt_places_ counts every range.
  static constexpr size_t kMaxCorruptRanges = 256;
  std::deque<std::pair<uint64_t, uint64_t>> corrupt_ranges_;
  uint64_t corrupt_places_ = 0;
  uint64_t corrupt_total_ = 0;
  // Appends are being refused because the disk is full; /readyz says so
  // until an append succeeds again.
  std::string disk_full_;
  std::string blocked_by_;           // consumer holding retention back, if any
  std::atomic<bool> failed_{false};  // no segment can be written any more
  std::mutex retention_mu_;          // one retention pass at a time

  // Writer-thread state. active_ is replaced only through SetActive, under
  // recent_mu_, so ReadRecent can use it from other threads.
  mutable std::mutex recent_mu_;
  uint64_t recent_segment_ = UINT64_MAX;  // active_'s segment
  std::unique_ptr<io::WritableFile> active_;
  int64_t active_created_mono_ = 0;
  uint64_t next_offset_ = 0;
  bool dirty_ = false;
  int64_t last_sync_mono_ = 0;
  uint64_t writeback_from_ = 0;
  // A batch handed to the active segment whose bytes may still be on their
  // way to the OS (write-behind).
  struct Unwritten {
    Pending pending;
    uint64_t base_offset;
    uint64_t start;  // its frame's byte range in the active segment
    uint64_t end;
    int64_t append_unix_nanos;
  };
  std::deque<Unwritten> unwritten_;
  std::string write_buffer_;  // frame heads of the chunk being written
  std::vector<size_t> head_ends_;
  std::vector<std::span<const uint8_t>> pieces_;
  std::thread writer_;
  std::thread retention_;
};

// Streams batches from the log from a position on, with one reusable buffer
// bounded by the largest batch; never reads a whole segment into memory.
// Steps over damaged frames (reporting them to the log) and over missing
// segment files. Not thread-safe: one reader per consumer.
//
// A reader of some pipelines (SetPipelines) reads only their frames: in a
// closed segment it looks them up in the segment's index file (rebuilding
// it when missing or damaged), in the active one in the log's memory, and
// seeks to each; other pipelines' batches are never read, not even their
// heads.
enum class FrameStatus;  // scan.h

class LogReader {
 public:
  LogReader(Log& log, Position from) : log_(log), pos_(from) {}

  struct Batch {
    BatchHeader header;
    std::string_view tenant;   // valid until the next call to Next()
    std::string_view payload;  // valid until the next call to Next()
    Position next;             // position just after this batch
  };

  // Reads the next batch (of the reader's pipelines, if set) and advances.
  // EndOfStream when it has caught up with the log's end (position() is then
  // the end, past any other pipelines' batches); IoError if the disk fails.
  Result<Batch> Next();
  // Only batches that belong to one of `pipelines` are returned.
  void SetPipelines(const PipelineSet& pipelines) {
    pipelines_ = pipelines;
    filtered_ = true;
    frames_segment_ = UINT64_MAX;
  }
  const PipelineSet* pipelines() const { return filtered_ ? &pipelines_ : nullptr; }
  const Position& position() const { return pos_; }
  // Moves to another position (dropping the open file).
  void Seek(const Position& pos) {
    pos_ = pos;
    file_.reset();
    file_segment_ = UINT64_MAX;
    closed_size_.reset();
    window_segment_ = UINT64_MAX;
  }

 private:
  // Bytes read at once past the current position (bounded by the log's end).
  static constexpr uint64_t kReadAhead = 1 << 20;

  Status OpenSegment(uint64_t base);
  // Reads [offset, offset + max(need, read_ahead)) clipped to limit into window_.
  Status Fill(uint64_t offset, uint64_t need, uint64_t limit, uint64_t read_ahead);
  // Decodes the frame at pos_ from the read-ahead window.
  Result<FrameStatus> ReadFrame(uint64_t limit, uint64_t read_ahead, DecodedFrame* frame,
                                uint64_t* frame_size);
  // Moves to the first segment after the current one; false if none.
  bool NextSegment();
  // Filtered readers: moves pos_ to the next frame of the reader's pipelines
  // in the closed current segment of `limit` bytes, and sets *run to the
  // bytes of the run of its frames that starts there. False (pos_
  // unchanged) when the segment holds no more of them.
  Result<bool> SeekOwnFrame(uint64_t limit, uint64_t* run);
  // Loads frames_ for the closed segment pos_.segment of `size` bytes.
  Status LoadFrames(uint64_t size);

  Log& log_;
  Position pos_;
  std::unique_ptr<io::RandomAccessFile> file_;
  uint64_t file_segment_ = UINT64_MAX;
  // The size of file_ once its segment is closed (closed segments do not
  // grow), so that a reader behind the writer does not ask for it per batch.
  std::optional<uint64_t> closed_size_;
  // File bytes [window_offset_, window_offset_ + window_length_) of segment
  // window_segment_, at the start of window_; batches returned by Next()
  // point into it.
  std::string window_;
  size_t window_length_ = 0;
  uint64_t window_offset_ = 0;
  uint64_t window_segment_ = UINT64_MAX;
  PipelineSet pipelines_;
  bool filtered_ = false;
  // The frames of the reader's pipelines in closed segment frames_segment_.
  std::vector<FrameExtent> frames_;
  uint64_t frames_segment_ = UINT64_MAX;
};

}  // namespace sluice::log
