#include "wire/otlp/inspect.h"

#include <algorithm>

#include "wire/otlp/common.h"
#include "wire/otlp/logs.h"
#include "wire/otlp/metrics.h"
#include "wire/otlp/traces.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sluice::wire::otlp {
namespace {

constexpr uint32_t kContainerChild = 2;  // scope_* in resource_*, leaves in scope_*

struct LeafResult {
  uint64_t items = 1;
  int64_t min_time = 0;
  int64_t max_time = 0;
};

using LeafFn = Status (*)(std::string_view leaf, uint64_t index, LeafResult* result);

Status Invalid(std::string why) {
  return Status::InvalidArgument(std::move(why));
}

void NoteTime(int64_t t, LeafResult* r) {
  if (t <= 0) return;
  if (r->min_time == 0 || t < r->min_time) r->min_time = t;
  r->max_time = std::max(r->max_time, t);
}

Status Walk(std::string_view request, const char* container, LeafFn leaf_fn, Inspection* out) {
  *out = Inspection{};
  ProtoReader req(request);
  while (req.Next()) {
    if (req.field() != 1) continue;
    if (!req.Is(WireType::kLengthDelimited)) {
      return Invalid(std::string("resource_") + container + " has the wrong wire type");
    }
    ProtoReader rs(req.bytes());
    while (rs.Next()) {
      if (rs.field() == 1) SLUICE_RETURN_IF_ERROR(ValidateResource(rs.bytes()));
      if (rs.field() != kContainerChild) continue;
      if (!rs.Is(WireType::kLengthDelimited)) {
        return Invalid(std::string("scope_") + container + " has the wrong wire type");
      }
      ProtoReader ss(rs.bytes());
      while (ss.Next()) {
        if (ss.field() == 1) SLUICE_RETURN_IF_ERROR(ValidateScope(ss.bytes()));
        if (ss.field() != kContainerChild) continue;
        LeafResult r;
        Status st =
            ss.Is(WireType::kLengthDelimited)
                ? leaf_fn(ss.bytes(), out->leaves, &r)
                : Invalid("item " + std::to_string(out->leaves) + " has the wrong wire type");
        out->items += r.items;
        ++out->leaves;
        out->leaf_ok.push_back(st.ok());
        if (!st.ok()) {
          out->rejected_items += r.items;
          ++out->rejected_leaves;
          if (out->first_error.empty()) out->first_error = st.message();
          continue;
        }
        if (r.min_time != 0 &&
            (out->min_time_unix_nano == 0 || r.min_time < out->min_time_unix_nano)) {
          out->min_time_unix_nano = r.min_time;
        }
        out->max_time_unix_nano = std::max(out->max_time_unix_nano, r.max_time);
      }
      if (!ss.ok()) return Invalid(std::string("malformed scope_") + container + ": " + ss.error());
    }
    if (!rs.ok())
      return Invalid(std::string("malformed resource_") + container + ": " + rs.error());
  }
  if (!req.ok()) return Invalid(std::string("malformed request: ") + req.error());
  return Status::Ok();
}

Status SpanLeaf(std::string_view leaf, uint64_t index, LeafResult* r) {
  SpanView span;
  SLUICE_RETURN_IF_ERROR(ValidateSpan(leaf, index, &span));
  NoteTime(static_cast<int64_t>(span.start_time_unix_nano), r);
  NoteTime(static_cast<int64_t>(span.end_time_unix_nano), r);
  return Status::Ok();
}

// One pass over the record's fields; the reference for errors is made only
// when there is one.
Status LogLeaf(std::string_view leaf, uint64_t index, LeafResult* r) {
  auto ref = [index] { return "log record " + std::to_string(index); };
  ProtoReader p(leaf);
  uint64_t time = 0;
  uint64_t observed = 0;
  while (p.Next()) {
    bool ok = true;
    switch (p.field()) {
      case field::kRecordTime:
        ok = p.Is(WireType::kFixed64);
        time = p.fixed64();
        break;
      case field::kRecordObservedTime:
        ok = p.Is(WireType::kFixed64);
        observed = p.fixed64();
        break;
      case field::kRecordSeverityNumber:
      case field::kRecordDroppedAttributes:
        ok = p.Is(WireType::kVarint);
        break;
      case field::kRecordFlags:
        ok = p.Is(WireType::kFixed32);
        break;
      case field::kRecordSeverityText:
      case field::kRecordEventName:
        ok = p.Is(WireType::kLengthDelimited);
        break;
      case field::kRecordAttributes:
        ok = p.Is(WireType::kLengthDelimited);
        if (ok) {
          Status st = ValidateKeyValue(p.bytes());
          if (!st.ok()) return Invalid(ref() + ": " + st.message());
        }
        break;
      case field::kRecordBody: {
        ok = p.Is(WireType::kLengthDelimited);
        if (ok) {
          Status st = ValidateAnyValue(p.bytes());
          if (!st.ok()) return Invalid(ref() + ": body: " + st.message());
        }
        break;
      }
      case field::kRecordTraceId:
        ok = p.Is(WireType::kLengthDelimited);
        if (ok && !p.bytes().empty() && p.bytes().size() != kTraceIdSize) {
          return Invalid(ref() + ": trace_id must be empty or 16 bytes (got " +
                         std::to_string(p.bytes().size()) + ")");
        }
        break;
      case field::kRecordSpanId:
        ok = p.Is(WireType::kLengthDelimited);
        if (ok && !p.bytes().empty() && p.bytes().size() != kSpanIdSize) {
          return Invalid(ref() + ": span_id must be empty or 8 bytes (got " +
                         std::to_string(p.bytes().size()) + ")");
        }
        break;
      default:
        break;
    }
    if (!ok)
      return Invalid(ref() + ": field " + std::to_string(p.field()) + " has the wrong wire type");
  }
  if (!p.ok()) return Invalid(ref() + ": " + p.error());
  NoteTime(static_cast<int64_t>(time != 0 ? time : observed), r);
  return Status::Ok();
}

// Counts the values of a repeated fixed64/double field, packed or not.
bool CountFixed64(const ProtoReader& p, uint64_t* n) {
  if (p.Is(WireType::kFixed64)) {
    ++*n;
    return true;
  }
  if (p.Is(WireType::kLengthDelimited) && p.bytes().size() % 8 == 0) {
    *n += p.bytes().size() / 8;
    return true;
  }
  return false;
}

Status MetricLeaf(std::string_view leaf, uint64_t index, LeafResult* r) {
  // References for errors are made only when there is one.
  auto by_index = [index] { return "metric " + std::to_string(index); };
  ProtoReader m(leaf);
  std::string_view name;
  std::string_view data;
  uint32_t data_field = 0;
  int data_types = 0;
  while (m.Next()) {
    switch (m.field()) {
      case field::kMetricName:
      case field::kMetricDescription:
      case field::kMetricUnit:
      case field::kMetricMetadata:
        if (!m.Is(WireType::kLengthDelimited)) return Invalid(by_index() + ": wrong wire type");
        if (m.field() == field::kMetricName) name = m.bytes();
        break;
      case field::kMetricGauge:
      case field::kMetricSum:
      case field::kMetricHistogram:
      case field::kMetricExponentialHistogram:
      case field::kMetricSummary:
        if (!m.Is(WireType::kLengthDelimited)) return Invalid(by_index() + ": wrong wire type");
        data = m.bytes();
        data_field = m.field();
        ++data_types;
        break;
      default:
        break;
    }
  }
  if (!m.ok()) return Invalid(by_index() + ": " + m.error());
  auto ref = [&] { return name.empty() ? by_index() : "metric \"" + std::string(name) + "\""; };
  // Count the points first, so a rejected metric reports how many it held.
  r->items = 0;
  ProtoReader count(data);
  while (count.Next()) r->items += count.field() == field::kDataPoints ? 1 : 0;
  if (name.empty()) return Invalid(ref() + ": name must not be empty");
  if (data_types != 1) {
    return Invalid(ref() + (data_types == 0 ? ": has no data (gauge, sum, histogram, ...)"
                                            : ": has more than one data type"));
  }
  uint32_t attributes_field = data_field == field::kMetricHistogram ? field::kHistogramAttributes
                              : data_field == field::kMetricExponentialHistogram
                                  ? field::kExpHistogramAttributes
                                  : field::kNumberAttributes;
  ProtoReader d(data);
  uint64_t point = 0;
  while (d.Next()) {
    if (d.field() != field::kDataPoints) continue;
    if (!d.Is(WireType::kLengthDelimited))
      return Invalid(ref() + ": data point has wrong wire type");
    auto pref = [&, at = point++] { return ref() + " point " + std::to_string(at); };
    ProtoReader p(d.bytes());
    uint64_t buckets = 0;
    uint64_t bounds = 0;
    while (p.Next()) {
      // Every data point type has start_time = 2 and time = 3 (fixed64).
      if (p.field() == field::kPointTime || p.field() == field::kPointStartTime) {
        if (!p.Is(WireType::kFixed64)) return Invalid(pref() + ": time has the wrong wire type");
        if (p.field() == field::kPointTime) NoteTime(static_cast<int64_t>(p.fixed64()), r);
      }
      if (p.field() == attributes_field) {
        if (!p.Is(WireType::kLengthDelimited)) {
          return Invalid(pref() + ": attributes have wrong wire type");
        }
        Status st = ValidateKeyValue(p.bytes());
        if (!st.ok()) return Invalid(pref() + ": " + st.message());
      }
      if (data_field == field::kMetricHistogram) {
        if (p.field() == field::kHistogramBucketCounts && !CountFixed64(p, &buckets)) {
          return Invalid(pref() + ": malformed bucket_counts");
        }
        if (p.field() == field::kHistogramExplicitBounds && !CountFixed64(p, &bounds)) {
          return Invalid(pref() + ": malformed explicit_bounds");
        }
      }
    }
    if (!p.ok()) return Invalid(pref() + ": " + p.error());
    if (buckets != 0 && buckets != bounds + 1) {
      return Invalid(pref() + ": " + std::to_string(buckets) + " bucket_counts need " +
                     std::to_string(buckets - 1) + " explicit_bounds, got " +
                     std::to_string(bounds));
    }
  }
  if (!d.ok()) return Invalid(ref() + ": " + d.error());
  return Status::Ok();
}

// Copies `msg` to *out keeping, at nesting `depth` (0 = request), only the
// children on the leaf path that survive; returns false if nothing survived.
bool Filter(std::string_view msg, int depth, const std::vector<bool>& leaf_ok, size_t* leaf,
            std::string* out) {
  const uint32_t child_field = depth == 0 ? 1 : kContainerChild;
  ProtoReader r(msg);
  bool kept_any = false;
  while (r.Next()) {
    if (depth == 2 && r.field() == child_field && !r.Is(WireType::kLengthDelimited)) {
      ++*leaf;  // counted as a (rejected) leaf by Walk: drop it and stay aligned
      continue;
    }
    if (r.field() != child_field || !r.Is(WireType::kLengthDelimited)) {
      out->append(r.raw_field());
      continue;
    }
    if (depth == 2) {
      bool keep = *leaf < leaf_ok.size() && leaf_ok[*leaf];
      ++*leaf;
      if (keep) {
        out->append(r.raw_field());
        kept_any = true;
      }
      continue;
    }
    std::string child;
    if (Filter(r.bytes(), depth + 1, leaf_ok, leaf, &child)) {
      ProtoWriter(out).Bytes(child_field, child);
      kept_any = true;
    }
  }
  return kept_any;
}

}  // namespace

Status InspectTraces(std::string_view request, Inspection* out) {
  return Walk(request, "spans", SpanLeaf, out);
}

Status InspectLogs(std::string_view request, Inspection* out) {
  return Walk(request, "logs", LogLeaf, out);
}

Status InspectMetrics(std::string_view request, Inspection* out) {
  return Walk(request, "metrics", MetricLeaf, out);
}

namespace {

// The last field 1 (resource or scope) of a container, wherever it stands.
std::string_view Head(std::string_view container) {
  std::string_view head;
  ProtoReader r(container);
  while (r.Next()) {
    if (r.field() == 1) head = r.bytes();
  }
  return head;
}

}  // namespace

Status ForEachLeaf(std::string_view request,
                   const std::function<Status(std::string_view resource, std::string_view scope,
                                              std::string_view leaf)>& fn) {
  ProtoReader req(request);
  while (req.Next()) {
    if (req.field() != 1) continue;
    std::string_view resource = Head(req.bytes());
    ProtoReader rs(req.bytes());
    while (rs.Next()) {
      if (rs.field() != kContainerChild) continue;
      std::string_view scope = Head(rs.bytes());
      ProtoReader ss(rs.bytes());
      while (ss.Next()) {
        if (ss.field() == kContainerChild) SLUICE_RETURN_IF_ERROR(fn(resource, scope, ss.bytes()));
      }
      if (!ss.ok()) return Status::InvalidArgument(std::string("malformed request: ") + ss.error());
    }
    if (!rs.ok()) return Status::InvalidArgument(std::string("malformed request: ") + rs.error());
  }
  if (!req.ok()) return Status::InvalidArgument(std::string("malformed request: ") + req.error());
  return Status::Ok();
}

std::string FilterRequest(std::string_view request, const std::vector<bool>& leaf_ok) {
  std::string out;
  size_t leaf = 0;
  Filter(request, 0, leaf_ok, &leaf, &out);
  return out;
}

std::string EncodePartialSuccess(uint64_t rejected, std::string_view message) {
  std::string out;
  if (rejected == 0 && message.empty()) return out;
  ProtoWriter w(&out);
  size_t m = w.BeginMessage(1);
  if (rejected != 0) w.Varint(1, rejected);
  if (!message.empty()) w.Bytes(2, message);
  w.EndMessage(m);
  return out;
}

}  // namespace sluice::wire::otlp
