#pragma once

// Counting the records of some pipelines' batches between a position and the
// log's end (Log::RecordsAfter: an exporter's lag in records) without reading
// other pipelines' batches.
//
// The index lists a pipeline's frames but not their records; a frame's head
// holds its base offset and item count. Offsets are dense across the log, so
// a run of back-to-back frames of the pipelines (nothing of anyone else's
// between them) holds exactly the records from its first frame's base offset
// to its last frame's base offset plus item count: a run costs at most two
// head reads to count, however long it is, and none at all where it starts
// a segment (the segment's name is its first record) or reaches the log's
// end (the end position's record offset). A frame of several of the
// pipelines is one frame of their runs, counted once.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "base/result.h"
#include "io/file_system.h"
#include "log/cursors.h"
#include "log/format.h"
#include "log/index.h"
#include "log/segment_table.h"

namespace sluice::log {

// The records in one segment's frames of some pipelines, as runs. Counted
// frame by frame as they are listed (the active segment's grow). Not
// thread-safe.
class SegmentRuns {
 public:
  // Reads the head of `frame`: true with *header filled, false when the head
  // fails its checks (a damaged frame, which readers step over).
  using ReadHead = std::function<Result<bool>(const FrameExtent& frame, BatchHeader* header)>;

  SegmentRuns() = default;
  explicit SegmentRuns(uint64_t segment) : segment_(segment) {}

  // UINT64_MAX for none.
  uint64_t segment() const { return segment_; }
  // Frames that start before this are counted.
  uint64_t counted_to() const { return counted_to_; }
  // All of the segment's frames of the pipelines are counted (a closed one).
  bool complete() const { return complete_; }
  void set_complete() { complete_ = true; }

  // Counts `frames`, the segment's next frames of the pipelines (ascending,
  // none before counted_to()). `end`, for the active segment, is the log's
  // end: a run that reaches it ends at end->record_offset. A run whose every
  // head fails its checks holds no records; a damaged frame inside a run
  // (neither its first nor its last) is counted with it.
  Status Add(const std::vector<FrameExtent>& frames, const ReadHead& read_head,
             const Position* end);
  // Records from `from` on: all of them for a position in an earlier
  // segment, none for one in a later segment; a run that `from` falls in
  // counts from from.record_offset. O(log runs).
  uint64_t After(const Position& from) const;
  uint64_t total() const { return cum_.empty() ? 0 : cum_.back(); }

 private:
  struct Run {
    uint64_t offset;        // its first frame's
    uint64_t end;           // just past its last frame
    uint64_t first_record;  // its first batch's base offset
    uint64_t end_record;    // just past its last batch's records
  };
  // Sets run->end_record from the last of frames[lo, hi) whose head passes
  // its checks (or from `end`); leaves it when none does.
  static Status ResolveEnd(const std::vector<FrameExtent>& frames, size_t lo, size_t hi,
                           const ReadHead& read_head, const Position* end, Run* run);

  uint64_t segment_ = UINT64_MAX;
  uint64_t counted_to_ = 0;
  bool complete_ = false;
  std::vector<Run> runs_;
  std::vector<uint64_t> cum_;  // cum_[i]: the records of runs_[0..i]
};

// Log::RecordsAfter: counts with SegmentRuns, from the table's active index
// for the active segment and from index files for closed ones.
//
// Kept between calls: per closed segment and set of pipelines counted, its
// total (a closed segment does not change; forgotten once retention deletes
// it); per set, the runs of the active segment counted so far, and those of
// the closed segment a position was last in. So a call for a reader at
// steady state costs one acquisition of the table's lock (copying the
// frames appended since the last call), head reads for the new runs (from
// the writer's memory while it holds them), and a lookup per closed segment
// between the position and the end. The first count of a closed segment for
// a set reads the index file's directory and the set's sections, and its
// runs' heads; that of a segment without a usable index rebuilds the index
// as a reader would.
//
// A call counts at most a few closed segments afresh
// (kMaxSegmentsCountedPerCall); when more need counting it counts those,
// keeps them, and answers Unavailable, and a later call goes on.
//
// Memory: one ForSet per set of pipelines ever asked about (a reader's; they
// come from the configuration), holding the runs of at most three segments
// (the active one, the one before it, the one a position is in), and a
// total per closed segment and set.
//
// Thread-safe; calls for one set run one at a time. Locks: a set's own lock
// is held throughout a call, and the table's mu (briefly, to copy; and by
// ReportDamage), ReadRecent's lock and mu_ (a leaf) are taken under it, one
// at a time. No I/O under mu_ or the table's mu.
class RecordCounter {
 public:
  // Log::ReadRecent.
  using ReadRecent = std::function<bool(uint64_t segment, uint64_t offset, std::span<uint8_t> out)>;
  // Log::ReportCorruption, for ranges an index rebuild stepped over.
  using ReportDamage = std::function<void(uint64_t segment, uint64_t offset, uint64_t bytes)>;

  RecordCounter(SegmentTable& table, io::FileSystem& fs, ReadRecent read_recent,
                ReportDamage report);
  RecordCounter(const RecordCounter&) = delete;
  RecordCounter& operator=(const RecordCounter&) = delete;

  // Log::RecordsAfter.
  Result<uint64_t> RecordsAfter(const Position& from, const PipelineSet& pipelines);

 private:
  // What is kept for one set of pipelines (the ids in ascending order).
  struct ForSet {
    explicit ForSet(const PipelineSet& p) : pipelines(p) {}
    const PipelineSet pipelines;
    Mutex mu;
    SegmentRuns active SLUICE_GUARDED_BY(mu);    // the active segment's, counted so far
    SegmentRuns previous SLUICE_GUARDED_BY(mu);  // the one active before, until counted
    SegmentRuns partial SLUICE_GUARDED_BY(mu);   // the closed segment a position was in
    SegmentTable::CountView view SLUICE_GUARDED_BY(mu);
    std::unique_ptr<io::RandomAccessFile> file SLUICE_GUARDED_BY(mu);  // of file_segment
    uint64_t file_segment SLUICE_GUARDED_BY(mu) = UINT64_MAX;
    std::string head SLUICE_GUARDED_BY(mu);  // scratch for a frame head
  };

  ForSet& For(const PipelineSet& pipelines) SLUICE_EXCLUDES(mu_);
  // Opens set.file on `segment`'s file.
  Status OpenSegment(ForSet& set, uint64_t segment) SLUICE_REQUIRES(set.mu);
  // SegmentRuns::ReadHead for `segment`, from the writer's memory first when
  // it is the active one.
  Result<bool> ReadHead(ForSet& set, uint64_t segment, bool active, const FrameExtent& frame,
                        BatchHeader* header) SLUICE_REQUIRES(set.mu);
  // Counts the rest of the closed segment `base` of `bytes` into *runs
  // (empty, or its runs so far); NotFound when the segment is gone.
  Status CountClosed(ForSet& set, uint64_t base, uint64_t bytes, SegmentRuns* runs)
      SLUICE_REQUIRES(set.mu);
  // The runs of closed segment `base`, complete, kept as set.partial.
  Result<const SegmentRuns*> Partial(ForSet& set, uint64_t base, uint64_t bytes)
      SLUICE_REQUIRES(set.mu);
  // The total of closed segment `base` for the set, if it is kept.
  std::optional<uint64_t> KeptTotal(const ForSet& set, uint64_t base) SLUICE_EXCLUDES(mu_);
  // True when closed segment `base` needs no counting for the set (its
  // total is kept).
  bool Counted(ForSet& set, uint64_t base) SLUICE_REQUIRES(set.mu) SLUICE_EXCLUDES(mu_);
  // The total of closed segment `base` for the set, counted once.
  Result<uint64_t> Total(ForSet& set, uint64_t base, uint64_t bytes) SLUICE_REQUIRES(set.mu);

  SegmentTable& table_;
  io::FileSystem& fs_;
  const ReadRecent read_recent_;
  const ReportDamage report_;

  mutable Mutex mu_;
  std::vector<std::unique_ptr<ForSet>> sets_ SLUICE_GUARDED_BY(mu_);
  // Per closed segment, each counted set's total.
  std::map<uint64_t, std::vector<std::pair<PipelineSet, uint64_t>>> totals_ SLUICE_GUARDED_BY(mu_);
};

}  // namespace sluice::log
