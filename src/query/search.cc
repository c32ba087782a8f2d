#include "query/search.h"

#include <absl/container/flat_hash_map.h>
#include <absl/strings/string_view.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <deque>
#include <limits>

#include "base/strings.h"
#include "base/units.h"
#include "query/params.h"
#include "query/segment_reader.h"
#include "wire/otlp/common.h"
#include "wire/otlp/inspect.h"
#include "wire/otlp/traces.h"
#include "wire/otlp/walk.h"
#include "wire/proto_reader.h"

namespace sluice::query {
namespace {

namespace of = wire::otlp::field;

constexpr int64_t kHour = 3600LL * 1'000'000'000;
constexpr size_t kMaxServicesPerTrace = 32;
constexpr uint64_t kStatusError = 2;

Status Bad(std::string_view param, std::string_view why) {
  return BadParam(param, why);
}

// A 16-byte trace id as two words: a search keys some 10^5 traces per
// segment, and a std::string key allocated for each of them.
struct TraceKey {
  uint64_t hi = 0, lo = 0;
  bool operator==(const TraceKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const TraceKey& k) {
    return H::combine(std::move(h), k.hi, k.lo);
  }
};

// The per-trace state of a search, without allocations: services and the
// root's name are indexes into tables interned per search.
struct TraceState {
  TraceKey key;
  int64_t start_unix_nano = std::numeric_limits<int64_t>::max();
  int64_t end_unix_nano = std::numeric_limits<int64_t>::min();
  uint64_t spans = 0;
  uint64_t errors = 0;
  uint32_t matched_attributes = 0;  // bit i: attribute i seen on a span
  bool matched_span = false;        // a span of the service and operation
  uint8_t service_count = 0;
  int32_t root_service = -1;
  int32_t root_name = -1;
  uint16_t services[kMaxServicesPerTrace];  // in the order first seen
};

// Strings met many times in a search, each kept once.
class Interned {
 public:
  int32_t Of(std::string_view s) {
    auto it = ids_.find(absl::string_view(s.data(), s.size()));
    if (it != ids_.end()) return it->second;
    const auto id = static_cast<int32_t>(names_.size());
    names_.emplace_back(s);
    ids_.emplace(names_.back(), id);
    return id;
  }
  const std::string& operator[](int32_t id) const { return names_[static_cast<size_t>(id)]; }

 private:
  std::deque<std::string> names_;  // stable: the map's keys point into them
  absl::flat_hash_map<absl::string_view, int32_t> ids_;
};

}  // namespace

Result<TraceQuery> ParseTraceQuery(const std::vector<std::pair<std::string, std::string>>& params,
                                   int64_t now_unix_nano) {
  TraceQuery q;
  q.end_unix_nano = now_unix_nano;
  bool start_set = false;
  for (const auto& [name, value] : params) {
    if (name == "service") {
      q.service = value;
    } else if (name == "operation") {
      q.operation = value;
    } else if (name == "attribute") {
      size_t eq = value.find('=');
      if (eq == std::string::npos || eq == 0) return Bad(name, "expected key=value");
      if (q.attributes.size() == 32) return Bad(name, "at most 32");
      q.attributes.emplace_back(value.substr(0, eq), value.substr(eq + 1));
    } else if (name == "min_duration" || name == "max_duration") {
      Result<std::chrono::nanoseconds> d = ParseDuration(value);
      if (!d.ok()) return Bad(name, "expected a duration such as 250ms or 2s");
      (name == "min_duration" ? q.min_duration_nanos : q.max_duration_nanos) = d->count();
    } else if (name == "error") {
      if (value != "true" && value != "false") return Bad(name, "expected true or false");
      q.errors_only = value == "true";
    } else if (name == "start" || name == "end") {
      int64_t t = 0;
      if (!ParseUnixSeconds(value, &t)) return Bad(name, "expected Unix seconds");
      (name == "start" ? q.start_unix_nano : q.end_unix_nano) = t;
      start_set |= name == "start";
    } else if (name == "limit") {
      int64_t n = 0;
      if (!ParseInt(value, 1, 1000, &n)) return Bad(name, "expected 1 to 1000");
      q.limit = static_cast<size_t>(n);
    } else if (name == "order") {
      if (value != "newest" && value != "slowest") return Bad(name, "expected newest or slowest");
      q.order = value == "newest" ? TraceQuery::Order::kNewest : TraceQuery::Order::kSlowest;
    } else {
      return Bad(name,
                 "unknown parameter; known: service, operation, attribute, min_duration, "
                 "max_duration, error, start, end, limit, order");
    }
  }
  if (!start_set) q.start_unix_nano = q.end_unix_nano - kHour;
  if (q.start_unix_nano > q.end_unix_nano) return Bad("start", "after end");
  if (q.min_duration_nanos > q.max_duration_nanos) return Bad("min_duration", "above max_duration");
  if (!q.operation.empty() && q.service.empty()) {
    return Bad("operation", "needs a service");
  }
  return q;
}

namespace {

TraceKey KeyOf(std::string_view trace_id) {
  TraceKey key;
  std::memcpy(&key.hi, trace_id.data(), 8);
  std::memcpy(&key.lo, trace_id.data() + 8, 8);
  return key;
}

// One search: the traces it keeps and what it has read.
class Search {
 public:
  Search(const TraceQuery& q, uint64_t max_scan_bytes, size_t max_traces, SearchResult* result)
      : q_(q), max_scan_bytes_(max_scan_bytes), max_traces_(max_traces), result_(*result) {}

  // Whether the batch may hold spans of the search (signal, encoding,
  // tenant, time: a trace lasts under an hour), charged to the budget; sets
  // partial and returns false once the budget is spent.
  bool Admit(const log::LogReader::Batch& batch) {
    if (batch.header.signal != log::Signal::kTraces ||
        batch.header.encoding != log::Encoding::kOtlpProto || !q_.scope.Admits(batch.tenant) ||
        batch.header.max_event_unix_nanos < q_.start_unix_nano ||
        batch.header.min_event_unix_nanos > q_.end_unix_nano + kHour) {
      return false;
    }
    result_.scanned_bytes += batch.payload.size();
    if (result_.scanned_bytes > max_scan_bytes_) result_.partial = true;
    resource_seen_ = nullptr;  // the reader's buffer holds another batch now
    return !result_.partial;
  }

  // Without a service condition: every span's trace is kept.
  void TakeAll(std::string_view payload) {
    wire::otlp::WalkLeaves(
        payload, [](std::string_view) { return true; },
        [&](std::string_view resource, std::string_view span) {
          std::string_view id = wire::otlp::SpanTraceId(span);
          if (id.size() != 16) return;
          TraceState* t = Add(KeyOf(id));
          if (t != nullptr) Accumulate(*t, resource, span);
        });
  }

  // The first pass over a segment, with a service condition: a trace with
  // a span of the service (and operation) becomes a candidate. Other
  // services' resources are stepped over whole.
  void FindCandidates(std::string_view payload) {
    wire::otlp::WalkLeaves(
        payload,
        [&](std::string_view resource) { return wire::otlp::ServiceName(resource) == q_.service; },
        [&](std::string_view, std::string_view span) {
          if (!q_.operation.empty() &&
              wire::LastBytesField(span, of::kSpanName) != std::string_view(q_.operation)) {
            return;
          }
          std::string_view id = wire::otlp::SpanTraceId(span);
          if (id.size() == 16) Add(KeyOf(id));
        });
  }

  // The second pass: the spans of candidates numbered `first` and up
  // accumulate; a span of any other trace costs its trace id's lookup.
  void Complete(std::string_view payload, size_t first) {
    wire::otlp::WalkLeaves(
        payload, [](std::string_view) { return true; },
        [&](std::string_view resource, std::string_view span) {
          std::string_view id = wire::otlp::SpanTraceId(span);
          if (id.size() != 16) return;
          auto it = index_.find(KeyOf(id));
          if (it == index_.end() || it->second < first) return;
          Accumulate(traces_[it->second], resource, span);
        });
  }

  size_t trace_count() const { return traces_.size(); }
  // Hashes (TraceHash) of the trace ids of traces numbered `first` and up.
  std::vector<uint64_t> HashesFrom(size_t first) const {
    std::vector<uint64_t> out;
    std::string id(16, '\0');
    for (size_t i = first; i < traces_.size(); ++i) {
      std::memcpy(id.data(), &traces_[i].key.hi, 8);
      std::memcpy(id.data() + 8, &traces_[i].key.lo, 8);
      out.push_back(TraceHash(id));
    }
    return out;
  }
  size_t Matched() const {
    size_t n = 0;
    for (const TraceState& t : traces_) n += Matches(t) ? 1 : 0;
    return n;
  }
  // The summaries of the matching traces, in the query's order, `limit` of
  // them.
  std::vector<TraceSummary> Results() const;

 private:
  bool Matches(const TraceState& t) const {
    // A candidate whose spans were not read (the budget ran out first).
    if (t.spans == 0) return false;
    const uint32_t all_attributes =
        q_.attributes.empty() ? 0
                              : static_cast<uint32_t>((uint64_t{1} << q_.attributes.size()) - 1);
    const int64_t duration = t.end_unix_nano - t.start_unix_nano;
    return (q_.service.empty() || t.matched_span) && t.matched_attributes == all_attributes &&
           (!q_.errors_only || t.errors > 0) && duration >= q_.min_duration_nanos &&
           duration <= q_.max_duration_nanos && t.start_unix_nano >= q_.start_unix_nano &&
           t.start_unix_nano <= q_.end_unix_nano;
  }

  // The trace's state, added if new and within max_traces (else null, and
  // the search is partial).
  TraceState* Add(const TraceKey& key) {
    auto it = index_.find(key);
    if (it != index_.end()) return &traces_[it->second];
    if (traces_.size() >= max_traces_) {
      result_.partial = true;
      return nullptr;
    }
    index_.emplace(key, static_cast<uint32_t>(traces_.size()));
    traces_.emplace_back().key = key;
    return &traces_.back();
  }

  void Accumulate(TraceState& t, std::string_view resource, std::string_view leaf) {
    if (resource.data() != resource_seen_ || resource_seen_ == nullptr) {
      resource_seen_ = resource.data();
      const std::string name = wire::otlp::ServiceName(resource);
      service_ = services_.Of(name);
      service_matches_ = !q_.service.empty() && name == q_.service;
    }
    wire::otlp::SpanView span;
    if (!wire::otlp::ViewSpan(leaf, &span).ok()) return;
    t.start_unix_nano =
        std::min(t.start_unix_nano, static_cast<int64_t>(span.start_time_unix_nano));
    t.end_unix_nano = std::max(t.end_unix_nano, static_cast<int64_t>(span.end_time_unix_nano));
    ++t.spans;
    if (wire::LastVarintField(span.status, of::kStatusCode) == kStatusError) ++t.errors;
    const auto sid = static_cast<uint16_t>(std::min(service_, 0xffff));
    if (std::find(t.services, t.services + t.service_count, sid) == t.services + t.service_count &&
        t.service_count < kMaxServicesPerTrace) {
      t.services[t.service_count++] = sid;
    }
    if (span.parent_span_id.empty()) {
      t.root_service = service_;
      t.root_name = names_.Of(span.name);
    }
    if (service_matches_ && (q_.operation.empty() || span.name == q_.operation)) {
      t.matched_span = true;
    }
    for (size_t i = 0; i < q_.attributes.size(); ++i) {
      const auto& [key_text, value] = q_.attributes[i];
      if ((t.matched_attributes >> i & 1) == 0 &&
          (wire::otlp::AttributeTextIs(leaf, of::kSpanAttributes, key_text, value) ||
           wire::otlp::AttributeTextIs(resource, of::kResourceAttributes, key_text, value))) {
        t.matched_attributes |= 1U << i;
      }
    }
  }

  const TraceQuery& q_;
  const uint64_t max_scan_bytes_;
  const size_t max_traces_;
  SearchResult& result_;
  absl::flat_hash_map<TraceKey, uint32_t> index_;
  std::vector<TraceState> traces_;
  Interned services_, names_;
  const char* resource_seen_ = nullptr;  // the resource service_ is of
  int32_t service_ = -1;
  bool service_matches_ = false;
};

std::vector<TraceSummary> Search::Results() const {
  std::vector<TraceSummary> out;
  for (const TraceState& t : traces_) {
    if (!Matches(t)) continue;
    TraceSummary s;
    s.trace_id.resize(16);
    std::memcpy(s.trace_id.data(), &t.key.hi, 8);
    std::memcpy(s.trace_id.data() + 8, &t.key.lo, 8);
    if (t.root_service >= 0) s.root_service = services_[t.root_service];
    if (t.root_name >= 0) s.root_name = names_[t.root_name];
    s.start_unix_nano = t.start_unix_nano;
    s.end_unix_nano = t.end_unix_nano;
    s.spans = t.spans;
    s.errors = t.errors;
    for (uint8_t i = 0; i < t.service_count; ++i) s.services.push_back(services_[t.services[i]]);
    out.push_back(std::move(s));
  }
  auto duration = [](const TraceSummary& s) { return s.end_unix_nano - s.start_unix_nano; };
  std::sort(out.begin(), out.end(), [&](const TraceSummary& a, const TraceSummary& b) {
    if (q_.order == TraceQuery::Order::kSlowest && duration(a) != duration(b)) {
      return duration(a) > duration(b);
    }
    if (a.start_unix_nano != b.start_unix_nano) return a.start_unix_nano > b.start_unix_nano;
    return a.trace_id < b.trace_id;
  });
  if (out.size() > q_.limit) out.resize(q_.limit);
  return out;
}

}  // namespace

Result<SearchResult> SearchTraces(log::Log& log, const Indexer& index, const TraceQuery& q,
                                  uint64_t max_scan_bytes, size_t max_traces) {
  SearchResult result;
  log::PipelineSet pipelines;
  for (uint32_t id : index.traces_pipelines()) pipelines.Add(id);
  const std::vector<uint64_t> segments =
      index.SegmentsFor(q.start_unix_nano, q.end_unix_nano, q.service);
  Search search(q, max_scan_bytes, max_traces, &result);
  // Applies `fn` to the payload of every admitted batch of [begin, end) of
  // a segment.
  auto read = [&](uint64_t segment, uint64_t begin, uint64_t end, auto&& fn) {
    return ForEachBatchInRange(log, segment, begin, end, pipelines,
                               [&](const log::LogReader::Batch& batch) {
                                 if (search.Admit(batch)) fn(batch.payload);
                                 return !result.partial;
                               });
  };
  std::vector<uint64_t> done;  // segments read, newest first
  for (auto seg = segments.rbegin(); seg != segments.rend() && !result.partial; ++seg) {
    ++result.segments_read;
    if (q.service.empty()) {
      SLUICE_RETURN_IF_ERROR(read(*seg, log::kSegmentHeaderSize, UINT64_MAX,
                                  [&](std::string_view p) { search.TakeAll(p); }));
    } else {
      // A service condition: the segment is read twice, first for the
      // traces with a span of the service (its resources alone), then for
      // every span of those traces (the others cost a lookup of their trace
      // id). The new candidates' spans in the newer segments already read
      // are then added from the blocks whose filter may hold them.
      const size_t fresh = search.trace_count();
      SLUICE_RETURN_IF_ERROR(read(*seg, log::kSegmentHeaderSize, UINT64_MAX,
                                  [&](std::string_view p) { search.FindCandidates(p); }));
      SLUICE_RETURN_IF_ERROR(read(*seg, log::kSegmentHeaderSize, UINT64_MAX,
                                  [&](std::string_view p) { search.Complete(p, 0); }));
      if (search.trace_count() > fresh && !done.empty()) {
        const std::vector<uint64_t> hashes = search.HashesFrom(fresh);
        for (uint64_t newer : done) {
          for (const Indexer::Range& r : index.BlocksWithAny(newer, hashes)) {
            SLUICE_RETURN_IF_ERROR(read(newer, r.begin, r.end,
                                        [&](std::string_view p) { search.Complete(p, fresh); }));
          }
        }
      }
      done.push_back(*seg);
    }
    if (q.order == TraceQuery::Order::kNewest && search.Matched() >= q.limit) break;
  }
  result.traces = search.Results();
  return result;
}

std::string RenderSearch(const SearchResult& r) {
  std::string out = "{\"traces\":[";
  for (size_t i = 0; i < r.traces.size(); ++i) {
    const TraceSummary& s = r.traces[i];
    if (i > 0) out += ',';
    out += "{\"traceId\":\"";
    AppendHex(out, s.trace_id);
    out += "\",\"rootService\":";
    AppendJsonString(out, s.root_service);
    out += ",\"rootName\":";
    AppendJsonString(out, s.root_name);
    out += ",\"startTimeUnixNano\":\"" + std::to_string(s.start_unix_nano) + "\"";
    out += ",\"durationNanos\":\"" + std::to_string(s.end_unix_nano - s.start_unix_nano) + "\"";
    out += ",\"spanCount\":" + std::to_string(s.spans);
    out += ",\"errorCount\":" + std::to_string(s.errors);
    out += ",\"services\":[";
    for (size_t k = 0; k < s.services.size(); ++k) {
      if (k > 0) out += ',';
      AppendJsonString(out, s.services[k]);
    }
    out += "]}";
  }
  out += "],\"partial\":";
  out += r.partial ? "true" : "false";
  out += ",\"scannedBytes\":\"" + std::to_string(r.scanned_bytes) + "\"";
  out += ",\"segmentsRead\":" + std::to_string(r.segments_read) + "}";
  return out;
}

}  // namespace sluice::query
