#include "query/indexer.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <limits>

#include "base/logging.h"
#include "base/thread.h"
#include "io/file_system.h"
#include "query/segment_reader.h"
#include "wire/otlp/common.h"
#include "wire/otlp/traces.h"
#include "wire/otlp/walk.h"
#include "wire/proto_reader.h"

namespace sluice::query {
namespace {

namespace of = wire::otlp::field;

log::Position SegmentStart(uint64_t segment) {
  return log::Position{segment, log::kSegmentHeaderSize, segment};
}

}  // namespace

Indexer::Indexer(pipeline::Runtime& rt, const std::vector<pipeline::PipelineRef>& pipelines)
    : rt_(rt),
      directory_(io::JoinPath(rt.log->directory(), "query")),
      metrics_(rt.metrics, kCursor),
      sealed_counter_(rt.metrics
                          .AddCounter("sluice_query_index_segments_sealed_total",
                                      "Segment summaries the query index wrote.")
                          .Get()),
      rebuilt_(rt.metrics
                   .AddCounter("sluice_query_index_segments_rebuilt_total",
                               "Segment summaries rebuilt from their segment at start-up "
                               "(missing or damaged).")
                   .Get()),
      damaged_(rt.metrics
                   .AddCounter("sluice_query_index_damaged_files_total",
                               "Segment summary files that failed a check and were rebuilt.")
                   .Get()) {
  for (const pipeline::PipelineRef& p : pipelines) {
    if (p.signal == log::Signal::kTraces) traces_.push_back(p.id);
    if (p.signal == log::Signal::kLogs) logs_.push_back(p.id);
  }
  for (uint32_t id : traces_) indexed_.Add(id);
  for (uint32_t id : logs_) indexed_.Add(id);
}

Indexer::~Indexer() {
  Stop(std::chrono::steady_clock::now());
}

std::string Indexer::PathOf(uint64_t segment) const {
  char name[32];
  std::snprintf(name, sizeof name, "%020" PRIu64 "%s", segment, kSummarySuffix);
  return io::JoinPath(directory_, name);
}

Status Indexer::Start() {
  if (traces_.empty() && logs_.empty()) return Status::Ok();  // nothing to index
  SLUICE_RETURN_IF_ERROR(rt_.log->fs().CreateDirs(directory_));
  Load();
  pipeline::ReadLoop::Options o;
  o.name = kCursor;
  o.pipeline_ids = traces_;
  o.pipeline_ids.insert(o.pipeline_ids.end(), logs_.begin(), logs_.end());
  o.lag_from_read = true;  // the open segment is indexed, in memory, before it is committed
  // The observer follows the head: the loop wakes to file what it queued
  // (a wake-up per 10 ms of appends), seal and commit, and reads only what
  // the observer left to it.
  o.linger = std::chrono::milliseconds(10);
  pipeline::LogSink& sink = *this;
  loop_ = std::make_unique<pipeline::ReadLoop>(rt_, o, sink, metrics_);
  rt_.log->SetAppendObserver([this](std::span<log::WrittenBatch> b) { Observe(b); });
  SLUICE_RETURN_IF_ERROR(loop_->Start());
  // Segments before the cursor were indexed once; those whose summary is
  // missing or was damaged are read again, off the loop's thread.
  const uint64_t cursor_segment = rt_.log->CursorOf(kCursor).segment;
  std::vector<uint64_t> missing;
  {
    MutexLock lock(mu_);
    for (uint64_t segment : rt_.log->Segments()) {
      if (segment < cursor_segment && !sealed_.contains(segment)) missing.push_back(segment);
    }
  }
  if (!missing.empty()) {
    rebuild_thread_ = std::thread([this, missing = std::move(missing)] {
      SetThreadName("query-rebuild");
      SetThreadLowPriority();
      Rebuild(missing);
    });
  }
  return Status::Ok();
}

void Indexer::Stop(pipeline::Deadline deadline) {
  stop_ = true;
  if (loop_) rt_.log->SetAppendObserver(nullptr);
  if (rebuild_thread_.joinable()) rebuild_thread_.join();
  if (loop_) {
    loop_->Stop(deadline);
    loop_.reset();
  }
  FileQueued();  // left behind by the observer after the loop's last look
  SealWaiting();
}

void Indexer::Load() {
  auto names = rt_.log->fs().ListDir(directory_);
  if (!names.ok()) return;
  const uint64_t begin = rt_.log->Begin().segment;
  MutexLock lock(mu_);
  for (const std::string& name : *names) {
    if (!name.ends_with(kSummarySuffix)) continue;
    const std::string path = io::JoinPath(directory_, name);
    uint64_t segment = 0;
    if (std::sscanf(name.c_str(), "%" SCNu64, &segment) != 1 || segment < begin) {
      rt_.log->fs().Remove(path).IgnoreError();  // its segment is gone
      continue;
    }
    Result<std::string> bytes = io::ReadSmallFile(rt_.log->fs(), path);
    Result<SegmentSummary> summary =
        bytes.ok() ? DecodeSummary(*bytes) : Result<SegmentSummary>(bytes.status());
    if (!summary.ok() || summary->segment != segment) {
      damaged_.Inc();
      logging::Warn("query", "segment summary unreadable; rebuilt from its segment",
                    {{"file", path}});
      rt_.log->fs().Remove(path).IgnoreError();
      continue;
    }
    sealed_[segment] = std::move(summary).value();
  }
}

void Indexer::Index(const log::LogReader::Batch& batch, Open* into) const {
  if (batch.header.encoding != log::Encoding::kOtlpProto) return;
  const bool traces = batch.header.signal == log::Signal::kTraces;
  if (!traces && batch.header.signal != log::Signal::kLogs) return;
  SegmentSummary& s = into->summary;
  if (batch.header.item_count > 0) {
    s.min_time_unix_nano = std::min(s.min_time_unix_nano, batch.header.min_event_unix_nanos);
    s.max_time_unix_nano = std::max(s.max_time_unix_nano, batch.header.max_event_unix_nanos);
  }
  // Read by hand, not through ForEachLeaf and ViewSpan: the index needs
  // only each resource's service and each span's trace id (its first field
  // as every SDK writes it), and this pass shares a core with ingest.
  if (!traces) s.log_records += batch.header.item_count;
  // The batch lies within [what was indexed before it, its end): a block of
  // the trace filter covers whole batches that way without knowing where
  // each starts.
  const uint64_t begin = into->indexed_end == 0 ? log::kSegmentHeaderSize : into->indexed_end;
  into->indexed_end = batch.next.byte_offset;
  Open::Block* filter_block = nullptr;
  if (traces) {
    if (into->blocks.empty() ||
        into->blocks.back().end - into->blocks.back().begin >= kTraceBlockBytes) {
      into->blocks.push_back(Open::Block{begin, begin, {}});
    }
    filter_block = &into->blocks.back();
    filter_block->end = batch.next.byte_offset;
  }
  std::string_view last_trace;
  std::string_view last_resource;
  wire::ProtoReader request(batch.payload);
  while (request.Next()) {
    if (request.field() != 1 || !request.Is(wire::WireType::kLengthDelimited)) continue;
    wire::ProtoReader block(request.bytes());  // ResourceSpans or ResourceLogs
    while (block.Next()) {
      if (!block.Is(wire::WireType::kLengthDelimited)) continue;
      if (block.field() == 1) {                        // the resource
        if (block.bytes() == last_resource) continue;  // a batch of one service's requests
        last_resource = block.bytes();
        std::string service = wire::otlp::ServiceName(block.bytes());
        if (!into->services.contains(service)) into->services.insert(std::move(service));
        continue;
      }
      if (!traces || block.field() != 2) continue;
      wire::ProtoReader scope(block.bytes());  // ScopeSpans
      while (scope.Next()) {
        if (scope.field() != 2 || !scope.Is(wire::WireType::kLengthDelimited)) continue;
        const std::string_view trace_id = wire::otlp::SpanTraceId(scope.bytes());
        ++s.spans;
        if (trace_id == last_trace) continue;  // a trace's spans mostly come together
        last_trace = trace_id;
        filter_block->traces.push_back(TraceHash(trace_id));
      }
    }
  }
  into->any = true;
}

Status Indexer::Take(const log::LogReader::Batch& batch, const log::Position&) {
  FileQueued();  // they come before this batch
  {
    MutexLock lock(mu_);
    // The reader starts at or before where the index stopped and meets the
    // batches of its pipelines in order: a batch that ends past that point
    // is the next one, one that does not was taken by the observer.
    if (covered_known_ && !log::Before(covered_, batch.next)) return Status::Ok();
    File(batch);
    covered_ = batch.next;
    covered_known_ = true;
  }
  SealWaiting();
  return Status::Ok();
}

log::Position Indexer::CoveredTo(const log::Position& at) {
  if (!lowered_) {
    // The loop's thread (which asks this before anything else): indexing
    // yields the CPU to ingest when both want it.
    SetThreadLowPriority();
    lowered_ = true;
  }
  FileQueued();
  SealWaiting();
  MutexLock lock(mu_);
  if (!covered_known_) {
    // Every batch of the indexed pipelines before the reader's position
    // was filed (or it is where the reader starts).
    covered_ = at;
    covered_known_ = true;
  }
  return log::Before(at, covered_) ? covered_ : at;
}

void Indexer::Observe(std::span<log::WrittenBatch> batches) {
  MutexLock lock(mu_);
  for (log::WrittenBatch& b : batches) {
    if (!covered_known_ || b.previous.segment != covered_.segment ||
        b.previous.byte_offset != covered_.byte_offset) {
      continue;  // the reader has not reached it (or has passed it)
    }
    if (b.header.pipelines.Intersects(indexed_)) {
      if (queued_bytes_ + b.payload.size() > kMaxQueuedBytes) continue;  // left to the reader
      queued_bytes_ += b.payload.size();
      covered_ = b.next;
      queued_.push_back(std::move(b));
    } else {
      covered_ = b.next;
    }
  }
}

void Indexer::FileQueued() {
  std::vector<log::WrittenBatch> queued;
  {
    MutexLock lock(mu_);
    if (queued_.empty()) return;
    std::swap(queued, queued_);
    queued_bytes_ = 0;
  }
  // Only this thread files: the lock is taken per batch, so that the
  // observer (on the writer thread) never waits for more than one.
  for (const log::WrittenBatch& b : queued) {
    log::LogReader::Batch batch;
    batch.header = b.header;
    batch.tenant = b.tenant;
    batch.payload = b.payload;
    batch.next = b.next;
    MutexLock lock(mu_);
    File(batch);
  }
}

void Indexer::File(const log::LogReader::Batch& batch) {
  // The batch's own segment: that of the position past it. (Where the read
  // started may be the end of the segment before.)
  const uint64_t segment = batch.next.segment;
  if (open_.any && segment != open_.summary.segment) {
    sealing_.push_back(std::move(open_));
    open_ = Open{};
  }
  if (!open_.any) open_.summary.segment = segment;
  Index(batch, &open_);
  if (observer_) observer_(batch);
}

void Indexer::SealWaiting() {
  std::vector<Open> waiting;
  {
    MutexLock lock(mu_);
    if (sealing_.empty()) return;
    std::swap(waiting, sealing_);
  }
  for (Open& open : waiting) Seal(open);
}

Result<log::Position> Indexer::Committable(const log::Position& read) {
  FileQueued();
  SealWaiting();
  MutexLock lock(mu_);
  // The open segment's summary is only in memory: a restart reads it again.
  if (open_.any && !log::Before(read, SegmentStart(open_.summary.segment))) {
    return SegmentStart(open_.summary.segment);
  }
  return read;
}

void Indexer::Seal(Open& open) {
  SegmentSummary s = std::move(open.summary);
  // A trace's repeats within a block (its spans apart) are added again
  // rather than sorted away: adding a key twice sets no new bit, and the
  // filter is sized a little larger for them.
  size_t keys = 0;
  for (const Open::Block& b : open.blocks) keys += b.traces.size();
  s.traces = BloomFilter(keys, kSegmentFilterBitsPerKey);
  for (Open::Block& b : open.blocks) {
    TraceBlock block{b.begin, b.end, BloomFilter(b.traces.size())};
    for (uint64_t h : b.traces) {
      block.traces.Add(h);
      s.traces.Add(h);
    }
    s.blocks.push_back(std::move(block));
  }
  s.services.assign(open.services.begin(), open.services.end());
  std::sort(s.services.begin(), s.services.end());
  Status st = io::WriteFileAtomically(rt_.log->fs(), PathOf(s.segment), EncodeSummary(s),
                                      io::Durability::kUnsynced);
  if (!st.ok()) {
    // Kept in memory; rebuilt from the segment at the next start.
    logging::Warn("query", "cannot write segment summary", {{"error", st.ToString()}});
  }
  sealed_counter_.Inc();
  MutexLock lock(mu_);
  sealed_[s.segment] = std::move(s);
  Forget(rt_.log->Begin().segment);
}

void Indexer::Forget(uint64_t before_segment) {
  while (!sealed_.empty() && sealed_.begin()->first < before_segment) {
    rt_.log->fs().Remove(PathOf(sealed_.begin()->first)).IgnoreError();
    sealed_.erase(sealed_.begin());
  }
}

void Indexer::Rebuild(std::vector<uint64_t> segments) {
  log::PipelineSet pipelines;
  for (uint32_t id : traces_) pipelines.Add(id);
  for (uint32_t id : logs_) pipelines.Add(id);
  for (uint64_t segment : segments) {
    if (stop_) return;
    Open open;
    open.summary.segment = segment;
    bool whole = false;
    Status st = ForEachBatchIn(
        *rt_.log, segment, pipelines,
        [&](const log::LogReader::Batch& batch) {
          Index(batch, &open);
          return !stop_.load();
        },
        &whole);
    if (!st.ok() || !whole) continue;  // deleted since, unreadable, or stopping
    Seal(open);
    rebuilt_.Inc();
  }
}

std::vector<Indexer::Range> Indexer::RangesWithTrace(std::string_view trace_id) const {
  const uint64_t h = TraceHash(trace_id);
  std::vector<Range> out;
  const std::vector<uint64_t> segments = rt_.log->Segments();
  MutexLock lock(mu_);
  for (uint64_t segment : segments) {
    auto it = sealed_.find(segment);
    if (it != sealed_.end()) {
      if (!it->second.traces.MayContain(h)) continue;
      for (const TraceBlock& b : it->second.blocks) {
        if (b.traces.MayContain(h)) out.push_back({segment, b.begin, b.end});
      }
    } else if (open_.any && open_.summary.segment == segment) {
      for (const Open::Block& b : open_.blocks) {
        if (std::find(b.traces.begin(), b.traces.end(), h) != b.traces.end()) {
          out.push_back({segment, b.begin, b.end});
        }
      }
      // Appended since the index read it.
      out.push_back({segment, open_.indexed_end, UINT64_MAX});
    } else {
      out.push_back({segment, log::kSegmentHeaderSize, UINT64_MAX});  // not summarized yet
    }
  }
  return out;
}

std::vector<Indexer::Range> Indexer::BlocksWithAny(uint64_t segment,
                                                   const std::vector<uint64_t>& hashes) const {
  std::vector<Range> out;
  auto add = [&](uint64_t begin, uint64_t end) {
    if (!out.empty() && out.back().end == begin) {
      out.back().end = end;  // the blocks are contiguous: one read for a run
    } else {
      out.push_back({segment, begin, end});
    }
  };
  MutexLock lock(mu_);
  if (auto it = sealed_.find(segment); it != sealed_.end()) {
    const SegmentSummary& s = it->second;
    std::vector<bool> marked(s.blocks.size());
    for (uint64_t h : hashes) {
      if (!s.traces.MayContain(h)) continue;
      for (size_t i = 0; i < s.blocks.size(); ++i) {
        marked[i] = marked[i] || s.blocks[i].traces.MayContain(h);
      }
    }
    for (size_t i = 0; i < s.blocks.size(); ++i) {
      if (marked[i]) add(s.blocks[i].begin, s.blocks[i].end);
    }
  } else if (open_.any && open_.summary.segment == segment) {
    const absl::flat_hash_set<uint64_t> wanted(hashes.begin(), hashes.end());
    for (const Open::Block& b : open_.blocks) {
      if (std::any_of(b.traces.begin(), b.traces.end(),
                      [&](uint64_t h) { return wanted.contains(h); })) {
        add(b.begin, b.end);
      }
    }
    add(open_.indexed_end, UINT64_MAX);  // appended since the index read it
  } else {
    out.push_back({segment, log::kSegmentHeaderSize, UINT64_MAX});  // not summarized yet
  }
  return out;
}

std::vector<uint64_t> Indexer::SegmentsFor(int64_t from_unix_nano, int64_t to_unix_nano,
                                           std::string_view service) const {
  auto has_service = [&](const std::vector<std::string>& services) {
    return service.empty() || std::binary_search(services.begin(), services.end(), service);
  };
  std::vector<uint64_t> out;
  const std::vector<uint64_t> segments = rt_.log->Segments();
  MutexLock lock(mu_);
  for (uint64_t segment : segments) {
    auto it = sealed_.find(segment);
    if (it != sealed_.end()) {
      if (it->second.Overlaps(from_unix_nano, to_unix_nano) && has_service(it->second.services)) {
        out.push_back(segment);
      }
    } else if (open_.any && open_.summary.segment == segment) {
      if (open_.summary.Overlaps(from_unix_nano, to_unix_nano) &&
          (service.empty() || open_.services.contains(std::string(service)))) {
        out.push_back(segment);
      }
    } else {
      out.push_back(segment);  // not summarized yet
    }
  }
  return out;
}

int64_t Indexer::MaxTimeOf(uint64_t segment) const {
  MutexLock lock(mu_);
  auto it = sealed_.find(segment);
  // The open segment may hold records the index has not read yet.
  return it == sealed_.end() ? std::numeric_limits<int64_t>::max() : it->second.max_time_unix_nano;
}

size_t Indexer::sealed_segments() const {
  MutexLock lock(mu_);
  return sealed_.size();
}

}  // namespace sluice::query
