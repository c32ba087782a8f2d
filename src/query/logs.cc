#include "query/logs.h"

#include <queue>
#include <tuple>

#include "base/strings.h"
#include "query/params.h"
#include "query/segment_reader.h"
#include "wire/otlp/common.h"
#include "wire/otlp/inspect.h"
#include "wire/otlp/logs.h"
#include "wire/proto_reader.h"

namespace sluice::query {
namespace {

namespace of = wire::otlp::field;
constexpr int64_t kHour = 3600LL * 1'000'000'000;

struct Severity {
  const char* name;
  int32_t number;  // the lowest SeverityNumber of the range
};
constexpr Severity kSeverities[] = {{"TRACE", 1}, {"DEBUG", 5},  {"INFO", 9},
                                    {"WARN", 13}, {"ERROR", 17}, {"FATAL", 21}};

bool ParseCursor(std::string_view text, LogCursor* c) {
  size_t a = text.find(':');
  size_t b = a == std::string_view::npos ? a : text.find(':', a + 1);
  if (b == std::string_view::npos) return false;
  int64_t segment = 0, ordinal = 0;
  return ParseInt(text.substr(0, a), 0, std::numeric_limits<int64_t>::max(), &c->time_unix_nano) &&
         ParseInt(text.substr(a + 1, b - a - 1), 0, std::numeric_limits<int64_t>::max(),
                  &segment) &&
         ParseInt(text.substr(b + 1), 0, std::numeric_limits<int64_t>::max(), &ordinal) &&
         (c->segment = static_cast<uint64_t>(segment), c->ordinal = static_cast<uint64_t>(ordinal),
          true);
}

std::tuple<int64_t, uint64_t, uint64_t> Key(const LogCursor& c) {
  return {c.time_unix_nano, c.segment, c.ordinal};
}

// Whether the AnyValue holds only a string, and where.
bool StringBody(std::string_view any_value, std::string_view* text) {
  wire::ProtoReader r(any_value);
  bool is_string = false;
  while (r.Next()) {
    if (r.field() != 1 || !r.Is(wire::WireType::kLengthDelimited)) return false;
    *text = r.bytes();
    is_string = true;
  }
  return is_string && r.ok();
}

// The body as text: a string as it is, anything else as its plain JSON.
std::string BodyText(std::string_view any_value) {
  wire::ProtoReader r(any_value);
  std::string_view text;
  bool is_string = false, other = false;
  while (r.Next()) {
    if (r.field() == 1) {
      text = r.bytes();
      is_string = true;
    } else {
      other = true;
    }
  }
  if (is_string && !other) return std::string(text);
  if (any_value.empty()) return "";
  std::string json;
  wire::otlp::AppendAnyValuePlainJson(json, any_value);
  return json;
}

}  // namespace

Result<LogQuery> ParseLogQuery(const std::vector<std::pair<std::string, std::string>>& params,
                               int64_t now_unix_nano, bool tail) {
  LogQuery q;
  q.end_unix_nano = now_unix_nano;
  bool start_set = false;
  for (const auto& [name, value] : params) {
    if (name == "service") {
      q.service = value;
    } else if (name == "severity") {
      bool known = false;
      for (const Severity& s : kSeverities) {
        if (value == s.name) {
          q.min_severity = s.number;
          known = true;
        }
      }
      if (!known) return BadParam(name, "expected TRACE, DEBUG, INFO, WARN, ERROR or FATAL");
    } else if (name == "q") {
      q.contains = value;
    } else if (name == "regex") {
      RE2::Options o;
      o.set_log_errors(false);
      o.set_max_mem(8 << 20);
      auto re = std::make_shared<const RE2>(value, o);
      if (!re->ok()) return BadParam(name, "not a valid RE2 expression: " + re->error());
      q.regex = std::move(re);
    } else if (name == "attribute") {
      size_t eq = value.find('=');
      if (eq == std::string::npos || eq == 0) return BadParam(name, "expected key=value");
      if (q.attributes.size() == 32) return BadParam(name, "at most 32");
      q.attributes.emplace_back(value.substr(0, eq), value.substr(eq + 1));
    } else if (!tail && name == "trace_id") {
      if (value.size() != 32 || !HexDecode(value, &q.trace_id)) {
        return BadParam(name, "expected 32 hex digits");
      }
    } else if (!tail && (name == "start" || name == "end")) {
      int64_t t = 0;
      if (!ParseUnixSeconds(value, &t)) return BadParam(name, "expected Unix seconds");
      (name == "start" ? q.start_unix_nano : q.end_unix_nano) = t;
      start_set |= name == "start";
    } else if (!tail && name == "limit") {
      int64_t n = 0;
      if (!ParseInt(value, 1, 1000, &n)) return BadParam(name, "expected 1 to 1000");
      q.limit = static_cast<size_t>(n);
    } else if (!tail && name == "before") {
      LogCursor c;
      if (!ParseCursor(value, &c)) return BadParam(name, "expected the next of a previous page");
      q.before = c;
    } else {
      return BadParam(name, tail
                                ? "unknown parameter; known: service, severity, q, regex, attribute"
                                : "unknown parameter; known: start, end, service, severity, q, "
                                  "regex, attribute, trace_id, limit, before");
    }
  }
  if (tail) {
    q.start_unix_nano = std::numeric_limits<int64_t>::min();
    q.end_unix_nano = std::numeric_limits<int64_t>::max();
    return q;
  }
  if (!start_set) q.start_unix_nano = q.end_unix_nano - kHour;
  if (q.start_unix_nano > q.end_unix_nano) return BadParam("start", "after end");
  return q;
}

LogRecordRef ReadLogRecord(std::string_view resource, std::string_view service,
                           std::string_view record) {
  LogRecordRef r{resource, service, record};
  int64_t observed = 0;
  wire::ProtoReader p(record);
  while (p.Next()) {
    switch (p.field()) {
      case of::kRecordTime:
        r.time_unix_nano = p.as_int64();
        break;
      case of::kRecordObservedTime:
        observed = p.as_int64();
        break;
      case of::kRecordSeverityNumber:
        r.severity = static_cast<int32_t>(p.varint());
        break;
      case of::kRecordSeverityText:
        r.severity_text = p.bytes();
        break;
      case of::kRecordBody:
        r.body = p.bytes();
        break;
      case of::kRecordTraceId:
        r.trace_id = p.bytes();
        break;
      case of::kRecordSpanId:
        r.span_id = p.bytes();
        break;
      default:
        break;
    }
  }
  if (r.time_unix_nano == 0) r.time_unix_nano = observed;
  return r;
}

bool LogMatches(const LogQuery& q, const LogRecordRef& r) {
  if (r.time_unix_nano < q.start_unix_nano || r.time_unix_nano > q.end_unix_nano) return false;
  if (!q.service.empty() && r.service != q.service) return false;
  if (r.severity < q.min_severity) return false;
  if (!q.trace_id.empty() && r.trace_id != q.trace_id) return false;
  for (const auto& [key, value] : q.attributes) {
    if (!wire::otlp::AttributeTextIs(r.record, of::kRecordAttributes, key, value) &&
        !wire::otlp::AttributeTextIs(r.resource, of::kResourceAttributes, key, value)) {
      return false;
    }
  }
  if (!q.contains.empty() || q.regex) {
    // A string body (nearly all) is matched where it lies, without a copy.
    std::string rendered;
    std::string_view body;
    if (!StringBody(r.body, &body)) {
      rendered = BodyText(r.body);
      body = rendered;
    }
    if (!q.contains.empty() && body.find(q.contains) == std::string_view::npos) return false;
    if (q.regex && !RE2::PartialMatch(body, *q.regex)) return false;
  }
  return true;
}

void AppendLogRecordJson(std::string& out, const LogRecordRef& r) {
  out += "{\"timeUnixNano\":\"" + std::to_string(r.time_unix_nano) +
         "\",\"severityNumber\":" + std::to_string(r.severity) + ",\"severityText\":";
  AppendJsonString(out, r.severity_text);
  out += ",\"body\":";
  AppendJsonString(out, BodyText(r.body));
  out += ",\"service\":";
  AppendJsonString(out, r.service);
  out += ",\"traceId\":\"";
  AppendHex(out, r.trace_id);
  out += "\",\"spanId\":\"";
  AppendHex(out, r.span_id);
  out += "\",\"attributes\":";
  wire::otlp::AppendAttributesPlainJson(out, r.record, of::kRecordAttributes);
  out += ",\"resource\":";
  wire::otlp::AppendAttributesPlainJson(out, r.resource, of::kResourceAttributes);
  out += '}';
}

Result<LogSearchResult> SearchLogs(log::Log& log, const Indexer& index, const LogQuery& q,
                                   uint64_t max_scan_bytes) {
  LogSearchResult result;
  log::PipelineSet pipelines;
  for (uint32_t id : index.logs_pipelines()) pipelines.Add(id);
  if (index.logs_pipelines().empty()) return result;
  // The newest limit + 1 matches (one more tells whether a next page
  // exists), oldest on top.
  struct Kept {
    LogCursor at;
    std::string json;
  };
  auto newer = [](const Kept& a, const Kept& b) { return Key(a.at) > Key(b.at); };
  std::priority_queue<Kept, std::vector<Kept>, decltype(newer)> kept(newer);
  const size_t want = q.limit + 1;
  std::vector<uint64_t> segments = index.SegmentsFor(q.start_unix_nano, q.end_unix_nano, q.service);
  for (auto seg = segments.rbegin(); seg != segments.rend() && !result.partial; ++seg) {
    // A segment whose newest record is older than every record kept cannot
    // add to the page.
    if (kept.size() == want && index.MaxTimeOf(*seg) < kept.top().at.time_unix_nano) continue;
    auto take = [&](const log::LogReader::Batch& batch) {
      if (batch.header.signal != log::Signal::kLogs ||
          batch.header.encoding != log::Encoding::kOtlpProto || !q.scope.Admits(batch.tenant)) {
        return true;
      }
      const bool outside =
          batch.header.max_event_unix_nanos < q.start_unix_nano ||
          batch.header.min_event_unix_nanos > q.end_unix_nano ||
          (kept.size() == want && batch.header.max_event_unix_nanos < kept.top().at.time_unix_nano);
      if (outside) return true;
      result.scanned_bytes += batch.payload.size();
      if (result.scanned_bytes > max_scan_bytes) {
        result.partial = true;
        return false;
      }
      // A record's place: its offset in the log, the same in every query.
      uint64_t ordinal = batch.header.base_offset;
      ForEachLogRecord(batch.payload, [&](const LogRecordRef& r) {
        const LogCursor at{r.time_unix_nano, *seg, ordinal++};
        if (q.before && Key(at) >= Key(*q.before)) return;
        if (kept.size() == want && Key(at) < Key(kept.top().at)) return;
        if (!LogMatches(q, r)) return;
        Kept k{at, {}};
        AppendLogRecordJson(k.json, r);
        kept.push(std::move(k));
        if (kept.size() > want) kept.pop();
      });
      return true;
    };
    SLUICE_RETURN_IF_ERROR(ForEachBatchIn(log, *seg, pipelines, take));
  }
  std::vector<Kept> page;
  while (!kept.empty()) {
    page.push_back(std::move(const_cast<Kept&>(kept.top())));
    kept.pop();
  }
  std::reverse(page.begin(), page.end());  // newest first
  if (page.size() > q.limit) {
    page.resize(q.limit);
    result.next = page.back().at;
  }
  for (const Kept& k : page) {
    if (result.count++ > 0) result.records_json += ',';
    result.records_json += k.json;
  }
  return result;
}

std::string RenderLogs(const LogSearchResult& r) {
  std::string out = "{\"logs\":[" + r.records_json + "],\"next\":";
  if (r.next) {
    out += "\"" + std::to_string(r.next->time_unix_nano) + ":" + std::to_string(r.next->segment) +
           ":" + std::to_string(r.next->ordinal) + "\"";
  } else {
    out += "null";
  }
  out += std::string(",\"partial\":") + (r.partial ? "true" : "false") + ",\"scannedBytes\":\"" +
         std::to_string(r.scanned_bytes) + "\"}";
  return out;
}

}  // namespace sluice::query
