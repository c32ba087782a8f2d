#pragma once

#include <absl/container/flat_hash_set.h>

#include <atomic>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "pipeline/component.h"
#include "pipeline/read_loop.h"
#include "query/summary.h"

namespace sluice::query {

// The query layer's index of the log: a SegmentSummary per segment, so a
// query reads only the segments that can answer it.
//
// Two paths feed it, and each batch of its pipelines is indexed once, by
// whichever reaches it first: the log's append observer, which hands over
// every batch as it is written (so following the head costs no read of the
// segment files), and its own ReadLoop (cursor `query/index`), which reads
// what was written before it started or while it was behind. Both take a
// batch only when it starts where the index stopped (`covered_`); the
// observer takes over once the reader has caught up, and the reader then
// skips what the observer covered without reading it. The observer only
// queues the batches it takes (their payloads moved, not copied): the
// writer thread that calls it also answers the appends, so the work of
// indexing is done on the loop's thread, at a low priority. A queue at
// kMaxQueuedBytes takes no more: the reader reads those batches back later.
//
// The open segment's summary is kept in memory, its trace ids exactly; when
// a batch of the next segment arrives the summary is sealed on the loop's
// thread: its Bloom filter is built and written to
// <storage>/query/<segment>.qix, and only then may the cursor pass the
// segment, so a restart re-reads at most the segment that was open. On
// start it loads the summaries of segments still in the log, deletes those
// of deleted segments, and rebuilds on a thread of its own those of
// segments before its cursor that lack a valid one. A segment without a
// summary yet is one any query must read.
//
// Thread-safety: Start and Stop from one thread; the lookups from any. The
// observer runs on the log's writer thread, the rest of the indexing on the
// loop's; the state they share is under mu_.
class Indexer final : private pipeline::LogSink {
 public:
  static constexpr const char* kCursor = "query/index";

  // `pipelines`: those to index (traces and logs; others are ignored).
  Indexer(pipeline::Runtime& rt, const std::vector<pipeline::PipelineRef>& pipelines);
  ~Indexer() override;

  // Before Start: a function called with every batch of the indexed
  // pipelines once it is indexed (on the loop's or the log writer's thread,
  // one call at a time).
  void SetObserver(std::function<void(const log::LogReader::Batch&)> observer) {
    observer_ = std::move(observer);
  }

  Status Start();
  void Stop(pipeline::Deadline deadline);

  // A byte range of a segment: [begin, end), end UINT64_MAX for all of it.
  struct Range {
    uint64_t segment, begin, end;
  };
  // The ranges of the log, ascending, that may hold spans of `trace_id`:
  // the blocks whose filter passes it, in summarized segments; the rest of
  // the open segment past what the index has read; whole segments without a
  // summary yet.
  std::vector<Range> RangesWithTrace(std::string_view trace_id) const;
  // The ranges of `segment`, ascending, that may hold spans of any of the
  // traces whose TraceHash is in `hashes`: its blocks whose filters pass one
  // of them (exactly, in the open segment, plus what was appended since the
  // index read it), or all of it without a summary.
  std::vector<Range> BlocksWithAny(uint64_t segment, const std::vector<uint64_t>& hashes) const;
  // Segments, ascending, that may hold items of `service` ("": any) with
  // event times in [from, to]: summaries that say so, and segments without
  // one yet.
  std::vector<uint64_t> SegmentsFor(int64_t from_unix_nano, int64_t to_unix_nano,
                                    std::string_view service) const;
  // Summaries held, sealed or open (for tests and the index status).
  size_t sealed_segments() const;

  // The newest event time of a sealed segment's summary; the largest value
  // for a segment without one (it may hold anything).
  int64_t MaxTimeOf(uint64_t segment) const;

  const std::vector<uint32_t>& traces_pipelines() const { return traces_; }
  const std::vector<uint32_t>& logs_pipelines() const { return logs_; }

 private:
  struct Open {
    SegmentSummary summary;  // without its filter
    // Trace id hashes as read (a trace's repeats mostly skipped): appending
    // costs the index reader next to nothing, where a hash set's inserts
    // missed the cache at every span; a lookup scans them (about 0.3 ms per
    // 250k), and sealing sorts them once.
    struct Block {
      uint64_t begin = 0, end = 0;
      std::vector<uint64_t> traces;
    };
    std::vector<Block> blocks;
    uint64_t indexed_end = 0;  // past the last batch indexed
    absl::flat_hash_set<std::string> services;
    bool any = false;
  };

  Status Take(const log::LogReader::Batch& batch, const log::Position& start) override;
  log::Position CoveredTo(const log::Position& at) override;
  Result<log::Position> Committable(const log::Position& read) override;
  // The append observer: queues the batches that continue the index.
  void Observe(std::span<log::WrittenBatch> batches);
  // Files the queued batches (the loop's thread).
  void FileQueued();
  // Files a batch of the indexed pipelines that starts where the index
  // stopped: seals the open summary first if the batch is in a later
  // segment (moved to sealing_), then adds it to open_ and offers it to the
  // observer.
  void File(const log::LogReader::Batch& batch) SLUICE_REQUIRES(mu_);
  // Seals the summaries waiting in sealing_ (the loop's thread).
  void SealWaiting();
  // Adds a batch's items to `into`.
  void Index(const log::LogReader::Batch& batch, Open* into) const;
  // Seals `open`: writes its file and files its summary.
  void Seal(Open& open);
  void Load();
  void Forget(uint64_t before_segment) SLUICE_REQUIRES(mu_);
  void Rebuild(std::vector<uint64_t> segments);
  std::string PathOf(uint64_t segment) const;

  pipeline::Runtime& rt_;
  std::vector<uint32_t> traces_, logs_;
  std::string directory_;
  pipeline::ExporterMetrics metrics_;
  telemetry::Counter& sealed_counter_;
  telemetry::Counter& rebuilt_;
  telemetry::Counter& damaged_;
  std::unique_ptr<pipeline::ReadLoop> loop_;
  std::thread rebuild_thread_;
  std::atomic<bool> stop_{false};
  bool lowered_ = false;  // the loop thread's priority (loop thread only)
  std::function<void(const log::LogReader::Batch&)> observer_;

  log::PipelineSet indexed_;  // traces_ and logs_

  mutable Mutex mu_;
  std::map<uint64_t, SegmentSummary> sealed_ SLUICE_GUARDED_BY(mu_);
  Open open_ SLUICE_GUARDED_BY(mu_);
  // Summaries of segments left behind, not sealed yet (queries read those
  // segments whole meanwhile).
  std::vector<Open> sealing_ SLUICE_GUARDED_BY(mu_);
  // Just past the last batch filed or queued (or stepped over: other
  // pipelines'), once known: the reader's first position.
  log::Position covered_ SLUICE_GUARDED_BY(mu_);
  bool covered_known_ SLUICE_GUARDED_BY(mu_) = false;
  // Taken by the observer, not filed yet, in log order.
  static constexpr uint64_t kMaxQueuedBytes = 16 << 20;
  std::vector<log::WrittenBatch> queued_ SLUICE_GUARDED_BY(mu_);
  uint64_t queued_bytes_ SLUICE_GUARDED_BY(mu_) = 0;
};

}  // namespace sluice::query
