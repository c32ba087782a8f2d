#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/mutex.h"
#include "base/result.h"
#include "io/file_system.h"
#include "log/append.h"
#include "log/metrics.h"
#include "log/options.h"
#include "log/retention.h"
#include "log/segment_table.h"

namespace sluice::log {

// The writer of the active segment: the queue of appends, the writer thread
// that hands them to the segment file in groups (group commit), the sync
// policy, repair after a failed write or fdatasync, and rolling to a new
// segment (writing the closed one's index file).
//
// Durability: an append completes once its bytes have reached the OS
// (`never`, `interval`: write() done) or, under `always`, after the
// fdatasync that follows its chunk. Under `interval` the active segment is
// synced every fsync_interval by a thread of its own ("log-sync"), which
// covers every append completed before the sync began, while the writer
// goes on completing appends (an fdatasync takes milliseconds, and
// receivers would wait on it). A failed write refuses the batches it
// carried and all after them; what reached the OS before stays
// acknowledged. A failed interval sync moves writing to a new segment.
//
// Threads: Append, Sync and ReadRecent may be called from any thread; the
// rest runs on the writer thread ("log-writer"), or before Start / after
// Stop. The active file has its own I/O thread (write-behind).
//
// Locks: the queue and sync requests are guarded by the table's mu (one
// acquisition per append and per completed group). recent_mu_ guards which
// file is active, for ReadRecent; observer_mu_ the append observer (taken
// once per completed group when one is set); neither is held together with
// mu.
class SegmentWriter {
 public:
  struct Hooks {
    std::function<void()> health_changed;       // disk full, or no longer
    std::function<void(const Status&)> failed;  // no segment can be written any more
  };
  SegmentWriter(const LogOptions& options, io::FileSystem& fs, Clock& clock, LogMetrics& metrics,
                SegmentTable& table, Retention& retention, Hooks hooks);
  // Stop() first, once started.
  ~SegmentWriter() = default;
  SegmentWriter(const SegmentWriter&) = delete;
  SegmentWriter& operator=(const SegmentWriter&) = delete;

  // Recovery, before Start: writes on the existing segment `base`, whose
  // frames end at `next_offset`.
  Status Resume(uint64_t base, uint64_t next_offset);
  // Closes the active segment (if any) and creates `base_offset`'s.
  // Recovery, or the writer thread. Precondition: unwritten_ is empty.
  Status OpenNewSegment(uint64_t base_offset) SLUICE_EXCLUDES(table_.mu);

  void Start();
  // Log::AppendAsync, the batch checksummed and within the size limits.
  void Append(AppendRequest request, AppendCallback done) SLUICE_EXCLUDES(table_.mu);
  // Log::Sync.
  Status Sync() SLUICE_EXCLUDES(table_.mu);
  // Finishes the queue and joins the writer thread (the table must be
  // closing: SegmentTable::BeginClose), then syncs and closes the active
  // segment.
  Status Stop() SLUICE_EXCLUDES(table_.mu);
  // Log::ReadRecent.
  bool ReadRecent(uint64_t segment, uint64_t offset, std::span<uint8_t> out) const
      SLUICE_EXCLUDES(recent_mu_);

  // Log::SetAppendObserver.
  void SetObserver(AppendObserver observer) SLUICE_EXCLUDES(observer_mu_);

  // The disk-full error appends are refused for ("" if none): set by a
  // failed write, cleared once an append succeeds.
  std::string DiskFull() const SLUICE_EXCLUDES(table_.mu);

 private:
  struct Pending {
    AppendRequest request;
    AppendCallback done;
  };
  // A batch handed to the active segment whose bytes may still be on their
  // way to the OS (write-behind).
  struct Unwritten {
    Pending pending;
    uint64_t base_offset;
    uint64_t start;  // its frame's byte range in the active segment
    uint64_t end;
    int64_t append_unix_nanos;
  };

  // Writes the active index as the index file of the segment `base`
  // (closed); a failure is logged, and readers rebuild the index.
  void WriteIndex(uint64_t base) SLUICE_EXCLUDES(table_.mu);
  // Makes `file` (null for none) the active segment's file.
  void SetActive(std::unique_ptr<io::WritableFile> file, uint64_t segment)
      SLUICE_EXCLUDES(recent_mu_);
  Result<std::unique_ptr<io::WritableFile>> OpenSegmentFile(const std::string& path,
                                                            io::OpenMode mode);
  void Loop() SLUICE_EXCLUDES(table_.mu);
  // Hands the group to the active segment in chunks (syncing each under
  // `always`); batches wait in unwritten_ until their bytes reach the OS.
  void WriteGroup(std::vector<Pending>& group) SLUICE_EXCLUDES(table_.mu);
  // Completes, in order, the unwritten batches that end at or before
  // `written` (a byte position in the active segment).
  void CompleteWritten(uint64_t written) SLUICE_EXCLUDES(table_.mu);
  // Shows the first n unwritten batches, completed, of the active segment
  // `segment` to the observer, if one is set.
  void Observe(size_t n, uint64_t segment) SLUICE_EXCLUDES(table_.mu, observer_mu_);
  // Waits for the active segment's background writes (all, or the next
  // one) and completes what they carried.
  void WaitAndComplete(bool all) SLUICE_EXCLUDES(table_.mu);
  // After a failed write or sync: completes what reached the OS, refuses
  // the rest, and repairs the segment.
  void WriteFailed(const Status& st, bool sync_failed) SLUICE_EXCLUDES(table_.mu);
  // The writer is done with `bytes` of queued batches.
  void ReleaseQueued(uint64_t bytes) SLUICE_EXCLUDES(table_.mu);
  // Refuses group[from, end) with `why`.
  void FailRest(std::vector<Pending>& group, size_t from, const Status& why)
      SLUICE_EXCLUDES(table_.mu);
  // After a failed write: cut the segment back to `size_before`; after a
  // failed sync, also move to a new segment. False if no segment is usable.
  bool Repair(uint64_t size_before, bool sync_failed) SLUICE_EXCLUDES(table_.mu);
  // A periodic or requested fdatasync is due.
  bool SyncDue() const SLUICE_REQUIRES(table_.mu);
  // Completes the background writes and syncs the active segment.
  Status SyncActive() SLUICE_EXCLUDES(table_.mu);
  // Unavailable after an unrecoverable error.
  void Fail(const Status& why);
  // A background sync is running, or its outcome is not yet taken.
  bool BackgroundSyncPending() const SLUICE_REQUIRES(table_.mu) {
    return background_file_ != nullptr || background_done_;
  }
  // Under `interval`: hands the active segment to the sync thread.
  // Precondition: !BackgroundSyncPending() (SyncDue holds). Writer thread.
  void StartBackgroundSync() SLUICE_REQUIRES(table_.mu);
  // Acts on a finished background sync: a failure moves writing to a new
  // segment. Writer thread.
  void FinishBackgroundSync() SLUICE_EXCLUDES(table_.mu);
  // Waits until the sync thread no longer uses the active file, before it
  // is closed or replaced. Writer thread.
  void WaitForBackgroundSync() SLUICE_EXCLUDES(table_.mu);
  void SyncLoop() SLUICE_EXCLUDES(table_.mu);
  // Frees the active file's write-behind memory once writing has paused.
  // Writer thread.
  void ReleaseIdleMemory() SLUICE_EXCLUDES(table_.mu);

  const LogOptions& options_;
  io::FileSystem& fs_;
  Clock& clock_;
  LogMetrics& metrics_;
  SegmentTable& table_;
  Retention& retention_;
  const Hooks hooks_;

  // Shared with appenders and Sync callers, under the table's lock.
  CondVar writer_cv_;
  CondVar sync_cv_;
  std::vector<Pending> queue_ SLUICE_GUARDED_BY(table_.mu);
  uint64_t queued_bytes_ SLUICE_GUARDED_BY(table_.mu) = 0;
  uint64_t sync_requested_ SLUICE_GUARDED_BY(table_.mu) = 0;
  uint64_t sync_completed_ SLUICE_GUARDED_BY(table_.mu) = 0;
  Status last_sync_status_ SLUICE_GUARDED_BY(table_.mu);
  std::string disk_full_ SLUICE_GUARDED_BY(table_.mu);
  // The background sync. A job is the file to sync (null: none), set by the
  // writer and cleared by the sync thread when done; its outcome waits in
  // background_done_ until the writer takes it.
  CondVar syncer_cv_;
  io::WritableFile* background_file_ SLUICE_GUARDED_BY(table_.mu) = nullptr;
  uint64_t background_segment_ SLUICE_GUARDED_BY(table_.mu) = 0;
  bool background_done_ SLUICE_GUARDED_BY(table_.mu) = false;
  Status background_status_ SLUICE_GUARDED_BY(table_.mu);
  bool syncer_stop_ SLUICE_GUARDED_BY(table_.mu) = false;

  // The active file, replaced only through SetActive (under recent_mu_) so
  // that ReadRecent can use it from other threads; the writer thread reads
  // it without the lock, being its only writer.
  mutable Mutex recent_mu_;
  uint64_t recent_segment_ SLUICE_GUARDED_BY(recent_mu_) = UINT64_MAX;  // active_'s segment
  std::unique_ptr<io::WritableFile> active_;

  // Writer thread only (or before Start / after the thread is joined).
  int64_t active_created_mono_ = 0;
  uint64_t next_offset_ = 0;
  bool dirty_ = false;
  int64_t last_sync_mono_ = 0;
  uint64_t writeback_from_ = 0;
  int64_t last_write_mono_ = 0;
  bool memory_released_ = false;
  std::deque<Unwritten> unwritten_;
  std::string write_buffer_;  // frame heads of the chunk being written
  std::vector<size_t> head_ends_;
  std::vector<std::span<const uint8_t>> pieces_;
  // Just past the last batch shown to the observer (set once one was).
  Position observed_end_;
  bool observed_any_ = false;
  std::vector<WrittenBatch> written_;  // the group shown to the observer
  std::thread thread_;
  std::thread syncer_;

  // Held while the observer runs, so that replacing it waits for a call in
  // progress. Never held together with table_.mu.
  Mutex observer_mu_;
  AppendObserver observer_ SLUICE_GUARDED_BY(observer_mu_);
};

}  // namespace sluice::log
