#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "io/file_system.h"
#include "log/format.h"
#include "log/options.h"
#include "telemetry/metrics.h"

namespace sluice::log {

// A place in the log: the segment (named by its base offset), the byte
// position in that segment file, and the record offset found there.
struct Position {
  uint64_t segment = 0;
  uint64_t byte_offset = kSegmentHeaderSize;
  uint64_t record_offset = 0;
  bool operator==(const Position&) const = default;
};

struct LogMetrics {
  explicit LogMetrics(telemetry::Registry& r);
  telemetry::Counter& appended_batches;
  telemetry::Counter& appended_bytes;
  telemetry::Counter& appended_records;
  telemetry::Counter& append_errors;
  telemetry::Counter& refused_full;
  telemetry::Counter& fsyncs;
  telemetry::Counter& truncated_bytes;
  telemetry::Gauge& segments;
  telemetry::Gauge& size_bytes;
  telemetry::Gauge& pending_bytes;
  telemetry::Histogram& fsync_seconds;
};

// What a receiver hands to the log.
struct AppendRequest {
  Signal signal = Signal::kTraces;
  Encoding encoding = Encoding::kOtlpProto;
  uint32_t pipeline_id = 0;
  std::string tenant;
  uint32_t item_count = 0;
  int64_t min_event_unix_nanos = 0;
  int64_t max_event_unix_nanos = 0;
  std::string payload;
};

struct AppendResult {
  uint64_t base_offset = 0;  // record offset given to the batch's first item
};

using AppendCallback = std::function<void(Result<AppendResult>)>;

// The durable log. One writer thread owns the active segment; any number of
// threads append, and each append completes when its batch meets the fsync
// policy (`always`: fdatasync done; `interval`/`never`: write() done).
// Concurrent appends are committed as a group: one write and at most one
// fdatasync for everything queued while the previous group was written.
//
// Thread-safety: every public method may be called from any thread.
// Lifetime: Close() (or the destructor) completes queued appends first.
class Log {
 public:
  // Opens or creates the log in options.directory, recovering its tail.
  static Result<std::unique_ptr<Log>> Open(const LogOptions& options, io::FileSystem& fs,
                                           Clock& clock, telemetry::Registry& registry);
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Queues a batch. `done` runs on the writer thread once the batch is
  // durable per policy, or with an error (ResourceExhausted when more than
  // max_pending_bytes are queued, Unavailable after Close, IoError if the
  // write failed). `done` must not block.
  void AppendAsync(AppendRequest request, AppendCallback done);
  // Blocking form of AppendAsync.
  Result<AppendResult> Append(AppendRequest request);

  // Makes everything written so far durable.
  Status Sync();
  // Stops accepting appends, finishes queued ones, syncs, and joins the writer.
  Status Close();

  // Position just past the last committed batch (readers stop there).
  Position End() const;
  // Position of the first batch still on disk.
  Position Begin() const;
  // Blocks until End() moves past `after`, the deadline passes, or Close().
  void WaitForAppend(const Position& after, std::chrono::milliseconds timeout) const;

  const std::string& segment_dir() const { return segment_dir_; }
  std::string SegmentPath(uint64_t base) const;
  // Base offsets of segments on disk, ascending.
  std::vector<uint64_t> Segments() const;
  io::FileSystem& fs() const { return fs_; }

 private:
  struct Pending {
    AppendRequest request;
    AppendCallback done;
  };

  Log(const LogOptions& options, io::FileSystem& fs, Clock& clock, telemetry::Registry& registry);
  Status Recover();
  Status OpenNewSegment(uint64_t base_offset);
  void WriterLoop();
  void WriteGroup(std::vector<Pending>& group);
  // Writer thread only (or after the writer has been joined).
  Status SyncActive();

  const LogOptions options_;
  io::FileSystem& fs_;
  Clock& clock_;
  LogMetrics metrics_;
  const std::string segment_dir_;

  mutable std::mutex mu_;
  mutable std::condition_variable writer_cv_;
  mutable std::condition_variable append_cv_;
  std::vector<Pending> queue_;
  uint64_t queued_bytes_ = 0;
  bool closing_ = false;
  bool closed_ = false;
  uint64_t sync_requested_ = 0;
  uint64_t sync_completed_ = 0;
  Status last_sync_status_;
  mutable std::condition_variable sync_cv_;
  Position end_;
  std::vector<uint64_t> segments_;

  // Writer-thread state.
  std::unique_ptr<io::WritableFile> active_;
  int64_t active_created_mono_ = 0;
  uint64_t next_offset_ = 0;
  bool dirty_ = false;
  int64_t last_sync_mono_ = 0;
  std::string write_buffer_;
  std::thread writer_;
};

// Streams batches from the log from a position on, with one reusable buffer
// bounded by the largest batch; never reads a whole segment into memory.
// Not thread-safe: one reader per consumer.
class LogReader {
 public:
  LogReader(const Log& log, Position from) : log_(log), pos_(from) {}

  struct Batch {
    BatchHeader header;
    std::string_view tenant;   // valid until the next call to Next()
    std::string_view payload;  // valid until the next call to Next()
    Position next;             // position just after this batch
  };

  // Reads the batch at the current position and advances. Returns
  // EndOfStream when it has caught up with the log's end; Corruption for a
  // frame that fails its checks (the position then stays at the bad frame).
  Result<Batch> Next();
  const Position& position() const { return pos_; }
  // Moves to another position (dropping the open file).
  void Seek(const Position& pos) {
    pos_ = pos;
    file_.reset();
    file_segment_ = UINT64_MAX;
  }

 private:
  Status OpenSegment(uint64_t base);

  const Log& log_;
  Position pos_;
  std::unique_ptr<io::RandomAccessFile> file_;
  uint64_t file_segment_ = UINT64_MAX;
  std::string buffer_;
};

// Durable per-consumer positions, one small file each, replaced atomically.
class CursorStore {
 public:
  CursorStore(io::FileSystem& fs, std::string directory)
      : fs_(fs), directory_(std::move(directory)) {}
  Status Init();
  // NotFound when the consumer has never committed.
  Result<Position> Load(const std::string& consumer) const;
  // Durable once it returns ok (write, fsync, rename, fsync dir).
  Status Commit(const std::string& consumer, const Position& pos);

 private:
  std::string PathFor(const std::string& consumer) const;
  io::FileSystem& fs_;
  std::string directory_;
};

}  // namespace sluice::log
