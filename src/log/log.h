#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/mutex.h"
#include "base/result.h"
#include "io/file_system.h"
#include "log/append.h"
#include "log/cursors.h"
#include "log/format.h"
#include "log/index.h"
#include "log/metrics.h"
#include "log/options.h"
#include "log/retention.h"
#include "log/segment_table.h"
#include "log/segment_writer.h"
#include "log/state_file.h"
#include "telemetry/health.h"
#include "telemetry/metrics.h"

namespace sluice::log {

class RecordCounter;  // index_records.h

// Where a consumer without a committed cursor starts reading.
enum class StartAt { kOldest, kNewest };

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
// Parts: a SegmentTable (the shared state under the log's one lock), a
// SegmentWriter (the writer thread and the active segment), a Retention
// (its thread and passes), a CursorTable and a RecordCounter (records left
// per set of pipelines); Log opens and recovers them, keeps the health and
// the damaged ranges, and fronts them. paths.h names its files.
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

  // Sets the one append observer (null: none), which sees every batch once
  // as it is written (AppendObserver): a consumer that follows the log's
  // head reads it from memory instead of from the segment files. Returns
  // once a call to the observer it replaces has finished.
  void SetAppendObserver(AppendObserver observer);

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

  // Bytes of log between two positions (from ≤ to), every pipeline's.
  uint64_t BytesBetween(const Position& from, const Position& to) const;
  // The records of `pipelines`' batches from `from` (a reader's position)
  // to the end: what a reader of those pipelines there has yet to read
  // (sluice_exporter_lag_records). A batch of several of them counts once;
  // other pipelines' batches count nothing, and no byte of theirs is read.
  // Exact for the log as it stood at one moment during the call, but for a
  // damaged batch of theirs between two whole ones, counted until a reader
  // has stepped past it; 0 for an empty set.
  //
  // Cost (RecordCounter, index_records.h): what is counted is kept, per set
  // of pipelines, so a call by a reader that keeps up costs a copy of the
  // index entries appended since its last call, under the log's lock, and
  // at most two frame-head reads per new run of their back-to-back frames,
  // mostly from the writer's memory. The first call over a closed segment
  // reads its index file's sections for the set and the heads of its runs;
  // a call counts at most four closed segments so, and answers Unavailable
  // when more are left for later calls (a reader far behind after a
  // restart: its lag is known after a few updates, its loop is not held up).
  // Thread-safe; calls for one set wait for each other. IoError if a file
  // cannot be read.
  Result<uint64_t> RecordsAfter(const Position& from, const PipelineSet& pipelines) const;
  // Runs one retention pass now (tests, and after a disk-full error).
  void RunRetention();

  // Damaged ranges remembered (bounded; see ReportCorruption).
  size_t corrupt_ranges_kept() const;

  // Base offsets of segments on disk, ascending.
  std::vector<uint64_t> Segments() const;
  uint64_t size_bytes() const;
  io::FileSystem& fs() const { return fs_; }
  // The storage directory the log lives in; paths.h names its files.
  const std::string& directory() const { return options_.directory; }

 private:
  // What only LogReader needs of the log.
  friend class LogReader;

  std::string SegmentPath(uint64_t base) const { return table_.SegmentPath(base); }
  std::string IndexPath(uint64_t base) const { return table_.IndexPath(base); }
  // Recovery or a reader found a damaged range of `bytes` at `offset` of
  // `segment`: counts it (sluice_log_corrupt_bytes_total) and names it in the
  // health detail, once while it is among the last kMaxCorruptRanges found.
  void ReportCorruption(uint64_t segment, uint64_t offset, uint64_t bytes);

  // For a reader of `pipelines` in the active segment: the first of their
  // frames in [from, end) of `segment` with the run of theirs that follows it
  // back to back (SegmentIndex::Next; offset == end.byte_offset when none),
  // and in *end the log's end. False when `segment` is no longer the active
  // one (read its index file instead).
  bool NextFrameInActive(uint64_t segment, const PipelineSet& pipelines, uint64_t from,
                         uint64_t max_bytes, FrameExtent* next, Position* end) const;
  // Copies bytes [offset, offset + out.size()) of `segment` from the
  // memory of the active segment's file, if it is that segment and still
  // holds them (io::WritableFile::ReadRecent); false otherwise. Lets readers
  // close behind the writer skip the disk under direct I/O. Thread-safe.
  bool ReadRecent(uint64_t segment, uint64_t offset, std::span<uint8_t> out) const;

  Log(const LogOptions& options, io::FileSystem& fs, Clock& clock, telemetry::Registry& registry,
      telemetry::Health* health);
  Status Recover();
  Status RecoverLastSegment(uint64_t base);
  // Marks the log unable to write (health not ready) after an unrecoverable error.
  void Fail(const Status& why);
  void UpdateHealth() SLUICE_EXCLUDES(table_.mu);

  const LogOptions options_;
  io::FileSystem& fs_;
  Clock& clock_;
  LogMetrics metrics_;
  telemetry::Health* health_;
  SegmentTable table_;
  std::unique_ptr<io::FileLock> lock_;  // held from Open to Close
  std::unique_ptr<StateFile> state_;
  std::unique_ptr<CursorTable> cursors_;
  std::unique_ptr<Retention> retention_;
  std::unique_ptr<SegmentWriter> writer_;
  std::unique_ptr<RecordCounter> records_;

  // The newest damaged ranges found, (segment, offset) in the order found;
  // at most kMaxCorruptRanges, the oldest forgotten (a forgotten range found
  // again is counted again). corrupt_places_ counts every range.
  static constexpr size_t kMaxCorruptRanges = 256;
  std::deque<std::pair<uint64_t, uint64_t>> corrupt_ranges_ SLUICE_GUARDED_BY(table_.mu);
  uint64_t corrupt_places_ SLUICE_GUARDED_BY(table_.mu) = 0;
  uint64_t corrupt_total_ SLUICE_GUARDED_BY(table_.mu) = 0;
  std::atomic<bool> failed_{false};  // no segment can be written any more
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
  // For a reader that stops at byte `end` of its segment (a lookup of a few
  // blocks): asks the OS ahead for nothing past it.
  void LimitPrefetch(uint64_t end) { prefetch_end_ = end; }
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
  // A filtered reader's frames are spread over a closed segment, and the
  // OS reads ahead only where reads follow each other: once a read finds
  // the disk cold, and then whenever the reader passes refill_at_, the next
  // kPrefetchBytes of its frames' runs are asked for at once, so a cold
  // read keeps the disk busy.
  void PrefetchRuns(uint64_t limit);
  static constexpr uint64_t kPrefetchBytes = 8 << 20;

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
  // Asked of the OS ahead of the reader (Prefetch): the runs of its frames
  // in frames_segment_ before prefetched_to_; more are asked for once the
  // reader passes refill_at_.
  uint64_t prefetched_to_ = 0;
  uint64_t refill_at_ = 0;
  uint64_t prefetch_end_ = UINT64_MAX;
  // A read found the disk cold: from then on the reader asks ahead.
  bool cold_ = false;
};

}  // namespace sluice::log
