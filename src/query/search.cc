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

Result<SearchResult> SearchTraces(log::Log& log, const Indexer& index, const TraceQuery& q,
                                  uint64_t max_scan_bytes, size_t max_traces) {
  SearchResult result;
  log::PipelineSet pipelines;
  for (uint32_t id : index.traces_pipelines()) pipelines.Add(id);
  std::vector<uint64_t> segments = index.SegmentsFor(q.start_unix_nano, q.end_unix_nano, q.service);
  const uint32_t all_attributes =
      q.attributes.empty() ? 0 : static_cast<uint32_t>((uint64_t{1} << q.attributes.size()) - 1);
  absl::flat_hash_map<TraceKey, uint32_t> trace_index;
  std::vector<TraceState> traces;
  Interned services, names;
  auto matches = [&](const TraceState& t) {
    const int64_t duration = t.end_unix_nano - t.start_unix_nano;
    return (q.service.empty() || t.matched_span) && t.matched_attributes == all_attributes &&
           (!q.errors_only || t.errors > 0) && duration >= q.min_duration_nanos &&
           duration <= q.max_duration_nanos && t.start_unix_nano >= q.start_unix_nano &&
           t.start_unix_nano <= q.end_unix_nano;
  };
  int32_t service = -1;
  bool service_matches = false;
  for (auto seg = segments.rbegin(); seg != segments.rend() && !result.partial; ++seg) {
    ++result.segments_read;
    auto take = [&](const log::LogReader::Batch& batch) {
      if (batch.header.signal != log::Signal::kTraces ||
          batch.header.encoding != log::Encoding::kOtlpProto || !q.scope.Admits(batch.tenant) ||
          batch.header.max_event_unix_nanos < q.start_unix_nano ||
          batch.header.min_event_unix_nanos > q.end_unix_nano + kHour) {
        return true;  // no span of it starts in the range (a trace lasts under an hour)
      }
      result.scanned_bytes += batch.payload.size();
      if (result.scanned_bytes > max_scan_bytes) {
        result.partial = true;
        return false;
      }
      const char* resource_seen = nullptr;
      wire::otlp::ForEachLeaf(
          batch.payload,
          [&](std::string_view resource, std::string_view, std::string_view leaf) -> Status {
            if (resource.data() != resource_seen || resource_seen == nullptr) {
              resource_seen = resource.data();
              const std::string name = wire::otlp::ServiceName(resource);
              service = services.Of(name);
              service_matches = !q.service.empty() && name == q.service;
            }
            wire::otlp::SpanView span;
            if (!wire::otlp::ViewSpan(leaf, &span).ok() || span.trace_id.size() != 16) {
              return Status::Ok();
            }
            TraceKey key;
            std::memcpy(&key.hi, span.trace_id.data(), 8);
            std::memcpy(&key.lo, span.trace_id.data() + 8, 8);
            auto [it, added] = trace_index.try_emplace(key, static_cast<uint32_t>(traces.size()));
            if (added) {
              if (traces.size() >= max_traces) {
                trace_index.erase(it);
                result.partial = true;
                return Status::Ok();
              }
              traces.emplace_back().key = key;
            }
            TraceState& t = traces[it->second];
            t.start_unix_nano =
                std::min(t.start_unix_nano, static_cast<int64_t>(span.start_time_unix_nano));
            t.end_unix_nano =
                std::max(t.end_unix_nano, static_cast<int64_t>(span.end_time_unix_nano));
            ++t.spans;
            if (wire::LastVarintField(span.status, of::kStatusCode) == kStatusError) ++t.errors;
            const auto sid = static_cast<uint16_t>(std::min(service, 0xffff));
            if (std::find(t.services, t.services + t.service_count, sid) ==
                    t.services + t.service_count &&
                t.service_count < kMaxServicesPerTrace) {
              t.services[t.service_count++] = sid;
            }
            if (span.parent_span_id.empty()) {
              t.root_service = service;
              t.root_name = names.Of(span.name);
            }
            if (service_matches && (q.operation.empty() || span.name == q.operation)) {
              t.matched_span = true;
            }
            for (size_t i = 0; i < q.attributes.size(); ++i) {
              const auto& [key_text, value] = q.attributes[i];
              if ((t.matched_attributes >> i & 1) == 0 &&
                  (wire::otlp::AttributeTextIs(leaf, of::kSpanAttributes, key_text, value) ||
                   wire::otlp::AttributeTextIs(resource, of::kResourceAttributes, key_text,
                                               value))) {
                t.matched_attributes |= 1U << i;
              }
            }
            return Status::Ok();
          })
          .IgnoreError();  // stored batches were checked on receipt

      return !result.partial;
    };
    SLUICE_RETURN_IF_ERROR(ForEachBatchIn(log, *seg, pipelines, take));
    if (q.order == TraceQuery::Order::kNewest) {
      size_t matched = 0;
      for (const TraceState& t : traces) matched += matches(t) ? 1 : 0;
      if (matched >= q.limit) break;
    }
  }
  for (const TraceState& t : traces) {
    if (!matches(t)) continue;
    TraceSummary s;
    s.trace_id.resize(16);
    std::memcpy(s.trace_id.data(), &t.key.hi, 8);
    std::memcpy(s.trace_id.data() + 8, &t.key.lo, 8);
    if (t.root_service >= 0) s.root_service = services[t.root_service];
    if (t.root_name >= 0) s.root_name = names[t.root_name];
    s.start_unix_nano = t.start_unix_nano;
    s.end_unix_nano = t.end_unix_nano;
    s.spans = t.spans;
    s.errors = t.errors;
    for (uint8_t i = 0; i < t.service_count; ++i) s.services.push_back(services[t.services[i]]);
    result.traces.push_back(std::move(s));
  }
  auto duration = [](const TraceSummary& s) { return s.end_unix_nano - s.start_unix_nano; };
  std::sort(result.traces.begin(), result.traces.end(),
            [&](const TraceSummary& a, const TraceSummary& b) {
              if (q.order == TraceQuery::Order::kSlowest && duration(a) != duration(b)) {
                return duration(a) > duration(b);
              }
              if (a.start_unix_nano != b.start_unix_nano) {
                return a.start_unix_nano > b.start_unix_nano;
              }
              return a.trace_id < b.trace_id;
            });
  if (result.traces.size() > q.limit) result.traces.resize(q.limit);
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
