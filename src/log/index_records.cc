#include "log/index_records.h"

#include <algorithm>

namespace sluice::log {
namespace {

// The most a frame's head can take: the fixed header, every pipeline id and
// the longest tenant.
constexpr size_t kMaxFrameHeadSize =
    kFrameHeaderSize + kPipelineIdSize * kMaxPipelinesPerFrame + kMaxTenantSize;

// The most closed segments one call counts afresh (each an index file and
// its runs' heads); the others wait for later calls. A reader far behind
// after a restart so spreads the first count over several lag updates
// instead of holding up its read loop for the whole backlog at once.
constexpr size_t kMaxSegmentsCountedPerCall = 4;

// The ids of `pipelines` in ascending order: one key per set, whatever the
// order a reader lists them in.
PipelineSet Sorted(const PipelineSet& pipelines) {
  std::vector<uint32_t> ids(pipelines.begin(), pipelines.end());
  std::sort(ids.begin(), ids.end());
  PipelineSet out;
  for (uint32_t id : ids) out.Add(id);
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// SegmentRuns

Status SegmentRuns::ResolveEnd(const std::vector<FrameExtent>& frames, size_t lo, size_t hi,
                               const ReadHead& read_head, const Position* end, Run* run) {
  if (end != nullptr && frames[hi - 1].end() == end->byte_offset) {
    run->end_record = end->record_offset;
    return Status::Ok();
  }
  for (size_t i = hi; i-- > lo;) {
    BatchHeader h;
    SLUICE_ASSIGN_OR_RETURN(bool ok, read_head(frames[i], &h));
    if (ok) {
      run->end_record = h.base_offset + h.item_count;
      return Status::Ok();
    }
  }
  return Status::Ok();
}

Status SegmentRuns::Add(const std::vector<FrameExtent>& frames, const ReadHead& read_head,
                        const Position* end) {
  if (frames.empty()) return Status::Ok();
  // The end of the run of back-to-back frames that starts at frames[k].
  auto run_end = [&frames](size_t k) {
    size_t j = k + 1;
    while (j < frames.size() && frames[j].offset == frames[j - 1].end()) ++j;
    return j;
  };
  size_t changed = runs_.size();  // runs_[changed...] are new or grew
  size_t k = 0;
  if (!runs_.empty() && runs_.back().end == frames[0].offset) {
    // The last run goes on: its first record is known, its end moves.
    changed = runs_.size() - 1;
    k = run_end(0);
    Run& run = runs_.back();
    SLUICE_RETURN_IF_ERROR(ResolveEnd(frames, 0, k, read_head, end, &run));
    run.end = frames[k - 1].end();
  }
  while (k < frames.size()) {
    const size_t j = run_end(k);
    Run run{frames[k].offset, frames[j - 1].end(), 0, 0};
    size_t first = k;
    bool found = false;
    if (frames[k].offset == kSegmentHeaderSize) {
      run.first_record = segment_;  // a segment is named by its first record
      found = true;
    }
    for (; !found && first < j; ++first) {
      BatchHeader h;
      SLUICE_ASSIGN_OR_RETURN(bool ok, read_head(frames[first], &h));
      if (ok) {
        run.offset = frames[first].offset;
        run.first_record = h.base_offset;
        found = true;
        break;
      }
    }
    if (found) {
      run.end_record = run.first_record;
      SLUICE_RETURN_IF_ERROR(ResolveEnd(frames, first, j, read_head, end, &run));
      run.end_record = std::max(run.end_record, run.first_record);
      runs_.push_back(run);
    }
    k = j;
  }
  counted_to_ = frames.back().end();
  cum_.resize(runs_.size());
  for (size_t i = changed; i < runs_.size(); ++i) {
    cum_[i] = (i == 0 ? 0 : cum_[i - 1]) + (runs_[i].end_record - runs_[i].first_record);
  }
  return Status::Ok();
}

uint64_t SegmentRuns::After(const Position& from) const {
  if (from.segment < segment_) return total();
  if (from.segment > segment_) return 0;
  // The first run that ends past `from`.
  auto it = std::upper_bound(runs_.begin(), runs_.end(), from.byte_offset,
                             [](uint64_t at, const Run& r) { return at < r.end; });
  if (it == runs_.end()) return 0;
  const size_t i = static_cast<size_t>(it - runs_.begin());
  uint64_t n = total() - (i == 0 ? 0 : cum_[i - 1]);
  if (from.byte_offset > it->offset) {
    // `from` is inside the run: what comes before it there is read.
    n -= std::clamp(from.record_offset, it->first_record, it->end_record) - it->first_record;
  }
  return n;
}

// ---------------------------------------------------------------------------
// RecordCounter

RecordCounter::RecordCounter(SegmentTable& table, io::FileSystem& fs, ReadRecent read_recent,
                             ReportDamage report)
    : table_(table), fs_(fs), read_recent_(std::move(read_recent)), report_(std::move(report)) {}

RecordCounter::ForSet& RecordCounter::For(const PipelineSet& pipelines) {
  const PipelineSet key = Sorted(pipelines);
  MutexLock lock(mu_);
  for (const auto& set : sets_) {
    if (set->pipelines == key) return *set;
  }
  sets_.push_back(std::make_unique<ForSet>(key));
  return *sets_.back();
}

Status RecordCounter::OpenSegment(ForSet& set, uint64_t segment) {
  if (set.file_segment == segment) return Status::Ok();
  set.file.reset();
  set.file_segment = UINT64_MAX;
  SLUICE_ASSIGN_OR_RETURN(set.file, fs_.OpenReadable(table_.SegmentPath(segment)));
  set.file_segment = segment;
  return Status::Ok();
}

Result<bool> RecordCounter::ReadHead(ForSet& set, uint64_t segment, bool active,
                                     const FrameExtent& frame, BatchHeader* header) {
  const size_t want = static_cast<size_t>(std::min<uint64_t>(frame.size, kMaxFrameHeadSize));
  set.head.resize(want);
  std::span<uint8_t> out(reinterpret_cast<uint8_t*>(set.head.data()), want);
  if (!active || !read_recent_(segment, frame.offset, out)) {
    SLUICE_RETURN_IF_ERROR(OpenSegment(set, segment));
    SLUICE_ASSIGN_OR_RETURN(size_t got, set.file->Read(frame.offset, out));
    set.head.resize(got);
  }
  DecodedFrame decoded;
  if (DecodeFrameHead(set.head, &decoded) != DecodeResult::kOk) return false;
  // A frame the index lists for the set names one of its pipelines; one
  // that does not is no frame of theirs (readers pass over it).
  if (!decoded.header.pipelines.Intersects(set.pipelines)) return false;
  *header = decoded.header;
  return true;
}

Status RecordCounter::CountClosed(ForSet& set, uint64_t base, uint64_t bytes, SegmentRuns* runs) {
  SLUICE_RETURN_IF_ERROR(OpenSegment(set, base));
  std::vector<DamagedRange> damaged;
  Result<std::vector<FrameExtent>> frames =
      LoadIndexFor(fs_, table_.IndexPath(base), *set.file, base, bytes, set.pipelines, &damaged);
  for (const DamagedRange& d : damaged) report_(base, d.offset, d.bytes);
  SLUICE_RETURN_IF_ERROR(frames.status());
  // Frames a count of the segment while it was active took already.
  std::vector<FrameExtent>& rest = *frames;
  rest.erase(rest.begin(),
             std::lower_bound(rest.begin(), rest.end(), FrameExtent{runs->counted_to(), 0}));
  SLUICE_RETURN_IF_ERROR(runs->Add(
      rest,
      [&](const FrameExtent& f, BatchHeader* h)
          SLUICE_NO_THREAD_SAFETY_ANALYSIS { return ReadHead(set, base, false, f, h); },
      nullptr));
  runs->set_complete();
  return Status::Ok();
}

Result<const SegmentRuns*> RecordCounter::Partial(ForSet& set, uint64_t base, uint64_t bytes) {
  if (set.partial.segment() == base) return &set.partial;
  if (set.previous.segment() == base) {
    set.partial = std::move(set.previous);
    set.previous = SegmentRuns();
  } else {
    set.partial = SegmentRuns(base);
  }
  if (!set.partial.complete()) {
    Status st = CountClosed(set, base, bytes, &set.partial);
    if (!st.ok()) {
      set.partial = SegmentRuns();
      return st;
    }
  }
  return &set.partial;
}

std::optional<uint64_t> RecordCounter::KeptTotal(const ForSet& set, uint64_t base) {
  MutexLock lock(mu_);
  auto it = totals_.find(base);
  if (it == totals_.end()) return std::nullopt;
  for (const auto& [pipelines, total] : it->second) {
    if (pipelines == set.pipelines) return total;
  }
  return std::nullopt;
}

bool RecordCounter::Counted(ForSet& set, uint64_t base) {
  return (set.partial.segment() == base && set.partial.complete()) ||
         KeptTotal(set, base).has_value();
}

Result<uint64_t> RecordCounter::Total(ForSet& set, uint64_t base, uint64_t bytes) {
  if (std::optional<uint64_t> kept = KeptTotal(set, base)) return *kept;
  uint64_t total = 0;
  if (set.partial.segment() == base && set.partial.complete()) {
    total = set.partial.total();
  } else {
    SegmentRuns runs(base);
    SegmentRuns* into = &runs;
    // The segment that was active: its count goes on, and is kept for when
    // a reader gets to it.
    if (set.previous.segment() == base) into = &set.previous;
    if (!into->complete()) {
      Status st = CountClosed(set, base, bytes, into);
      if (!st.ok()) {
        if (into == &set.previous) set.previous = SegmentRuns();
        return st;
      }
    }
    total = into->total();
  }
  MutexLock lock(mu_);
  totals_[base].emplace_back(set.pipelines, total);
  return total;
}

Result<uint64_t> RecordCounter::RecordsAfter(const Position& from, const PipelineSet& pipelines) {
  if (pipelines.empty()) return uint64_t{0};
  ForSet& set = For(pipelines);
  MutexLock lock(set.mu);
  SegmentTable::CountView& view = set.view;
  table_.ViewForCount(from.segment, set.pipelines, set.active.segment(), set.active.counted_to(),
                      &view);
  {
    // Retention deleted these.
    MutexLock totals_lock(mu_);
    totals_.erase(totals_.begin(), totals_.lower_bound(view.oldest));
  }
  if (set.active.segment() != view.end.segment) {
    // The segment counted as active has closed: the rest of it is counted
    // from its index file, when needed.
    if (set.active.segment() != UINT64_MAX) set.previous = std::move(set.active);
    set.active = SegmentRuns(view.end.segment);
  }
  const uint64_t active = view.end.segment;
  SLUICE_RETURN_IF_ERROR(set.active.Add(
      view.active_frames,
      [&](const FrameExtent& f, BatchHeader* h)
          SLUICE_NO_THREAD_SAFETY_ANALYSIS { return ReadHead(set, active, true, f, h); },
      &view.end));
  if (view.end.segment < from.segment) return uint64_t{0};
  uint64_t records = set.active.After(from);
  size_t counted = 0;
  bool whole = true;
  for (const auto& [base, bytes] : view.closed) {
    Result<uint64_t> n = uint64_t{0};
    if (base == from.segment) {
      Result<const SegmentRuns*> runs = Partial(set, base, bytes);
      n = runs.ok() ? Result<uint64_t>((*runs)->After(from)) : Result<uint64_t>(runs.status());
    } else {
      if (!Counted(set, base)) {
        if (counted == kMaxSegmentsCountedPerCall) {
          whole = false;  // counted by a later call
          continue;
        }
        ++counted;
      }
      n = Total(set, base, bytes);
    }
    // A segment retention deleted meanwhile holds nothing to read any more.
    if (!n.ok() && n.status().code() == StatusCode::kNotFound) continue;
    SLUICE_RETURN_IF_ERROR(n.status());
    records += *n;
  }
  if (!whole) {
    return Status::Unavailable("counting the records of the closed segments; " +
                               std::to_string(kMaxSegmentsCountedPerCall) + " more a call");
  }
  return records;
}

}  // namespace sluice::log
