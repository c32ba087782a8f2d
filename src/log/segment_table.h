#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "log/cursors.h"
#include "log/format.h"
#include "log/index.h"
#include "log/metrics.h"
#include "log/paths.h"

namespace sluice::log {

// What the log knows of one segment file.
struct SegmentInfo {
  uint64_t bytes = 0;
  int64_t newest_unix_nanos = 0;  // last append (or file mtime for old segments)
};

// The log's shared state: the segments on disk with their sizes and newest
// times, their total bytes, the end position, the active segment's index of
// frames per pipeline, and the readers waiting for appends.
//
// Thread-safety: everything here is guarded by `mu`, the log's one shared
// lock. The segment writer's queue and retention's flags are guarded by it
// too, so that an append checks the log's size and queues under one
// acquisition and a completed group is published under one.
//
// Lock order: Retention's pass lock before `mu`; `mu` before the
// CursorTable's locks (retention and a refused append consult cursors
// under it). The writer's lock of the active file (SegmentWriter's
// recent_mu_) is never held together with `mu`. Nothing blocks on I/O with
// `mu` held.
//
// Writers of the state: the segment writer (recovery, new segments, completed
// appends) and retention (deleted segments). The active index is mutated by
// the writer thread only.
class SegmentTable {
 public:
  // `directory`: the log's storage directory (paths.h).
  SegmentTable(std::string directory, LogMetrics& metrics);
  SegmentTable(const SegmentTable&) = delete;
  SegmentTable& operator=(const SegmentTable&) = delete;

  mutable Mutex mu;

  // The segment directory, and the files in it (paths.h).
  const std::string& dir() const { return dir_; }
  std::string SegmentPath(uint64_t base) const { return SegmentFilePath(directory_, base); }
  std::string IndexPath(uint64_t base) const { return IndexFilePath(directory_, base); }

  // Base offsets of segments on disk, ascending.
  std::vector<uint64_t> Bases() const SLUICE_EXCLUDES(mu);
  uint64_t TotalBytes() const SLUICE_EXCLUDES(mu);
  // Position just past the last committed batch.
  Position End() const SLUICE_EXCLUDES(mu);
  // Position of the first batch still on disk.
  Position Begin() const SLUICE_EXCLUDES(mu);
  // Bytes of log between two positions (from ≤ to).
  uint64_t BytesBetween(const Position& from, const Position& to) const SLUICE_EXCLUDES(mu);
  // Log::WaitForAppend.
  void WaitForAppend(const Position& after, std::chrono::milliseconds timeout,
                     const PipelineSet* pipelines) const SLUICE_EXCLUDES(mu);
  // Log::NextFrameInActive (the reader's view of the active index).
  bool NextFrameInActive(uint64_t segment, const PipelineSet& pipelines, uint64_t from,
                         uint64_t max_bytes, FrameExtent* next, Position* end) const
      SLUICE_EXCLUDES(mu);
  // What RecordCounter reads of the table, under one acquisition.
  struct CountView {
    Position end;
    uint64_t oldest = 0;  // the first segment on disk
    // The closed segments from `first` on, ascending: (base, bytes).
    std::vector<std::pair<uint64_t, uint64_t>> closed;
    // The frames of the pipelines in the active segment (end.segment) that
    // start at or after `since` if it is `since_segment`, all of them if not.
    std::vector<FrameExtent> active_frames;
  };
  void ViewForCount(uint64_t first, const PipelineSet& pipelines, uint64_t since_segment,
                    uint64_t since, CountView* view) const SLUICE_EXCLUDES(mu);
  // Marks the log closing and wakes every waiting reader. False if it
  // already was.
  bool BeginClose() SLUICE_EXCLUDES(mu);

  // With mu held.
  bool closing() const SLUICE_REQUIRES(mu) { return closing_; }
  const std::map<uint64_t, SegmentInfo>& segments() const SLUICE_REQUIRES(mu) { return segments_; }
  uint64_t total_bytes() const SLUICE_REQUIRES(mu) { return total_bytes_; }
  const Position& end() const SLUICE_REQUIRES(mu) { return end_; }
  // Adds a closed (or recovered) segment of info.bytes.
  void AddSegment(uint64_t base, const SegmentInfo& info) SLUICE_REQUIRES(mu);
  // Makes end.segment the active segment, of info.bytes ending at `end`,
  // its index empty or, for a recovered segment, taken from `*recovered`.
  void StartActive(const SegmentInfo& info, const Position& end, SegmentIndex* recovered = nullptr)
      SLUICE_REQUIRES(mu);
  // Forgets a segment retention deleted.
  void EraseSegment(uint64_t base, uint64_t bytes) SLUICE_REQUIRES(mu);
  // Publishes appends to the active segment: the frame at `extent` of
  // `pipelines` (call per frame, then Extend once).
  void AddFrame(const FrameExtent& extent, const PipelineSet& pipelines) SLUICE_REQUIRES(mu) {
    active_index_.Add(extent, pipelines);
  }
  // The active segment now ends at byte `end_byte` and record `end_record`,
  // `bytes` more than before; wakes the readers of `appended` (all of them
  // when `any`).
  void Extend(uint64_t end_byte, uint64_t end_record, uint64_t bytes, int64_t newest_unix_nanos,
              const PipelineSet& appended, bool any) SLUICE_REQUIRES(mu);
  // The active index, for the writer thread (its only mutator) to read
  // without the lock.
  const SegmentIndex& active_index_for_writer() const SLUICE_NO_THREAD_SAFETY_ANALYSIS {
    return active_index_;
  }

 private:
  // A reader waiting for appends (WaitForAppend); woken only for its pipelines.
  struct AppendWaiter {
    const PipelineSet* pipelines = nullptr;  // null: any append
    CondVar cv;
    bool woken = false;
  };
  void UpdateGauges() SLUICE_REQUIRES(mu);

  const std::string directory_;
  const std::string dir_;
  LogMetrics& metrics_;
  bool closing_ SLUICE_GUARDED_BY(mu) = false;
  std::map<uint64_t, SegmentInfo> segments_ SLUICE_GUARDED_BY(mu);
  uint64_t total_bytes_ SLUICE_GUARDED_BY(mu) = 0;
  Position end_ SLUICE_GUARDED_BY(mu);
  // Frames of the active segment per pipeline.
  SegmentIndex active_index_ SLUICE_GUARDED_BY(mu);
  mutable std::vector<AppendWaiter*> waiters_ SLUICE_GUARDED_BY(mu);
};

}  // namespace sluice::log
