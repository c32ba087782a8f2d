#include "query/jaeger.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "base/units.h"
#include "net/http_fields.h"
#include "query/params.h"
#include "query/search.h"
#include "query/segment_reader.h"
#include "query/traces.h"
#include "wire/otlp/common.h"
#include "wire/otlp/inspect.h"
#include "wire/otlp/traces.h"
#include "wire/proto_reader.h"

namespace sluice::query {
namespace {

namespace of = wire::otlp::field;
using Params = std::vector<std::pair<std::string, std::string>>;

constexpr int64_t kMicro = 1'000;
constexpr int64_t kMilli = 1'000'000;
constexpr int64_t kHour = 3600LL * 1'000'000'000;
// Jaeger's defaults: a search without `start` looks back two days, a
// dependencies query one day.
constexpr int64_t kTraceLookback = 48 * kHour;
constexpr int64_t kDependenciesLookback = 24 * kHour;
// Without rollups (no connectors, or none of the tenant's yet), services
// and operations come from the spans of the last hour.
constexpr int64_t kCatalogScan = kHour;
// Each trace found is read again by id: fewer than Jaeger's 100 by default.
constexpr int64_t kDefaultLimit = 20;
constexpr int64_t kMaxLimit = 1000;
constexpr size_t kMaxTags = 32;
constexpr uint64_t kStatusOk = 1;
constexpr uint64_t kStatusError = 2;

constexpr std::string_view kServices = "/api/services";
constexpr std::string_view kOperationsSuffix = "/operations";
constexpr std::string_view kOperations = "/api/operations";
constexpr std::string_view kTraces = "/api/traces";
constexpr std::string_view kDependencies = "/api/dependencies";

// Jaeger's envelope: {"data":...,"total":n,"limit":0,"offset":0,"errors":null}.
net::HttpResponse Envelope(std::string data, size_t total, bool partial = false) {
  std::string body = "{\"data\":" + data + ",\"total\":" + std::to_string(total) +
                     ",\"limit\":0,\"offset\":0,\"errors\":null";
  if (partial) body += ",\"partial\":true";  // sluice's own: the scan budget ran out
  body += '}';
  return net::HttpResponse::Json(200, std::move(body));
}

net::HttpResponse Error(int status, std::string_view msg) {
  std::string body = "{\"data\":null,\"total\":0,\"limit\":0,\"offset\":0,\"errors\":[{\"code\":" +
                     std::to_string(status) + ",\"msg\":";
  AppendJsonString(body, msg);
  body += "}]}";
  return net::HttpResponse::Json(status, std::move(body));
}

net::HttpResponse BadParamError(std::string_view param, std::string_view why) {
  return Error(400, "unable to parse param '" + std::string(param) + "': " + std::string(why));
}

// The first value of a parameter (Go's FormValue), or null.
// A Jaeger trace id: 32 hex digits, or 16 when its high half is zero
// (Jaeger's TraceID.String()).
void AppendTraceId(std::string& out, std::string_view id) {
  if (id.size() == 16 && id.substr(0, 8) == std::string_view("\0\0\0\0\0\0\0\0", 8)) {
    AppendHex(out, id.substr(8));
  } else {
    AppendHex(out, id);
  }
}

// A trace id as Jaeger accepts it: 1 to 32 hex digits, the missing ones
// leading zeros.
bool ParseTraceId(std::string_view hex, std::string* out) {
  if (hex.empty() || hex.size() > 32) return false;
  std::string padded(32 - hex.size(), '0');
  padded += hex;
  return HexDecode(padded, out);
}

// ---- Tags ------------------------------------------------------------------

// Calls fn(key, value) for each KeyValue at `field` of `message`.
template <typename F>
void ForEachKeyValue(std::string_view message, uint32_t field, F fn) {
  wire::ProtoReader r(message);
  while (r.Next()) {
    if (r.field() != field || !r.Is(wire::WireType::kLengthDelimited)) continue;
    std::string_view key, value;
    wire::ProtoReader kv(r.bytes());
    while (kv.Next()) {
      if (kv.field() == of::kKeyValueKey) key = kv.bytes();
      if (kv.field() == of::kKeyValueValue) value = kv.bytes();
    }
    fn(key, value);
  }
}

void AppendDouble(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, static_cast<size_t>(end - buf));
}

// Appends a tag separated by a comma unless it is the first of its list.
class TagList {
 public:
  explicit TagList(std::string& out) : out_(out) { out_ += '['; }
  void Close() { out_ += ']'; }

  // An attribute, typed as the OpenTelemetry Collector's Jaeger translator
  // types it: arrays and maps as their JSON text, bytes as base64 binary.
  void Attribute(std::string_view key, std::string_view any_value) {
    uint32_t kind = 0;
    std::string_view bytes;
    uint64_t scalar = 0;
    wire::ProtoReader r(any_value);
    while (r.Next()) {
      kind = r.field();
      if (r.Is(wire::WireType::kLengthDelimited)) {
        bytes = r.bytes();
      } else {
        scalar = r.varint();
      }
    }
    Begin(key);
    switch (kind) {
      case of::kAnyBool:
        out_ += "\"bool\",\"value\":";
        out_ += scalar != 0 ? "true" : "false";
        break;
      case of::kAnyInt:
        out_ += "\"int64\",\"value\":" + std::to_string(static_cast<int64_t>(scalar));
        break;
      case of::kAnyDouble: {
        double d;
        std::memcpy(&d, &scalar, sizeof d);
        out_ += "\"float64\",\"value\":";
        AppendDouble(out_, d);
        break;
      }
      case of::kAnyBytes:
        out_ += "\"binary\",\"value\":\"";
        wire::otlp::AppendBase64(out_, bytes);
        out_ += '"';
        break;
      case of::kAnyArray:
      case of::kAnyKvlist: {
        std::string json;
        wire::otlp::AppendAnyValuePlainJson(json, any_value);
        out_ += "\"string\",\"value\":";
        AppendJsonString(out_, json);
        break;
      }
      default:  // a string, or no value
        out_ += "\"string\",\"value\":";
        AppendJsonString(out_, kind == of::kAnyString ? bytes : std::string_view());
        break;
    }
    out_ += '}';
  }
  void String(std::string_view key, std::string_view value) {
    Begin(key);
    out_ += "\"string\",\"value\":";
    AppendJsonString(out_, value);
    out_ += '}';
  }
  void True(std::string_view key) {
    Begin(key);
    out_ += "\"bool\",\"value\":true}";
  }

 private:
  void Begin(std::string_view key) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += "{\"key\":";
    AppendJsonString(out_, key);
    out_ += ",\"type\":";
  }

  std::string& out_;
  bool first_ = true;
};

const char* KindName(int64_t kind) {
  switch (kind) {
    case 1:
      return "internal";
    case 2:
      return "server";
    case 3:
      return "client";
    case 4:
      return "producer";
    case 5:
      return "consumer";
    default:
      return "";
  }
}

// "SPAN_KIND_SERVER" (the connectors' label) as Jaeger names it: "server".
std::string KindFromLabel(std::string_view label) {
  constexpr std::string_view kPrefix = "SPAN_KIND_";
  if (!label.starts_with(kPrefix) || label == "SPAN_KIND_UNSPECIFIED") return "";
  std::string kind(label.substr(kPrefix.size()));
  for (char& c : kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return kind;
}

// ---- Traces ----------------------------------------------------------------

// The process of a resource: {"serviceName":...,"tags":[...]}, its
// attributes but service.name as tags.
std::string ProcessJson(std::string_view resource) {
  std::string out = "{\"serviceName\":";
  AppendJsonString(out, wire::otlp::ServiceName(resource));
  out += ",\"tags\":";
  TagList tags(out);
  ForEachKeyValue(resource, of::kResourceAttributes, [&](std::string_view k, std::string_view v) {
    if (k != "service.name") tags.Attribute(k, v);
  });
  tags.Close();
  out += '}';
  return out;
}

// One span as Jaeger's JSON, translated as the OpenTelemetry Collector's
// Jaeger translator does: the parent as a CHILD_OF reference and links as
// FOLLOWS_FROM; tags: the scope's name and version, the attributes, then
// span.kind, otel.status_code, error, otel.status_description and
// w3c.tracestate; events as logs with their name as the `event` field.
void AppendSpan(std::string& out, const wire::otlp::SpanView& s, std::string_view scope,
                std::string_view process_id) {
  out += "{\"traceID\":\"";
  AppendTraceId(out, s.trace_id);
  out += "\",\"spanID\":\"";
  AppendHex(out, s.span_id);
  out += '"';
  if ((s.flags & 0x1) != 0) out += ",\"flags\":1";  // W3C sampled: Jaeger's sampled
  out += ",\"operationName\":";
  AppendJsonString(out, s.name);
  out += ",\"references\":[";
  bool first = true;
  auto reference = [&](const char* type, std::string_view trace, std::string_view span) {
    if (!first) out += ',';
    first = false;
    out += "{\"refType\":\"";
    out += type;
    out += "\",\"traceID\":\"";
    AppendTraceId(out, trace);
    out += "\",\"spanID\":\"";
    AppendHex(out, span);
    out += "\"}";
  };
  if (!s.parent_span_id.empty()) reference("CHILD_OF", s.trace_id, s.parent_span_id);
  wire::ProtoReader fields(s.raw);
  while (fields.Next()) {
    if (fields.field() != of::kSpanLinks || !fields.Is(wire::WireType::kLengthDelimited)) continue;
    const std::string_view link = fields.bytes();
    reference("FOLLOWS_FROM", wire::LastBytesField(link, of::kLinkTraceId),
              wire::LastBytesField(link, of::kLinkSpanId));
  }
  const uint64_t start = s.start_time_unix_nano / kMicro;
  const uint64_t duration = s.end_time_unix_nano > s.start_time_unix_nano
                                ? (s.end_time_unix_nano - s.start_time_unix_nano) / kMicro
                                : 0;
  out += "],\"startTime\":" + std::to_string(start) + ",\"duration\":" + std::to_string(duration);

  out += ",\"tags\":";
  TagList tags(out);
  const std::string_view scope_name = wire::LastBytesField(scope, of::kScopeName);
  const std::string_view scope_version = wire::LastBytesField(scope, of::kScopeVersion);
  if (!scope_name.empty()) tags.String("otel.scope.name", scope_name);
  if (!scope_version.empty()) tags.String("otel.scope.version", scope_version);
  ForEachKeyValue(s.raw, of::kSpanAttributes,
                  [&](std::string_view k, std::string_view v) { tags.Attribute(k, v); });
  if (*KindName(s.kind) != '\0') tags.String("span.kind", KindName(s.kind));
  const uint64_t code = wire::LastVarintField(s.status, of::kStatusCode);
  if (code == kStatusOk) tags.String("otel.status_code", "OK");
  if (code == kStatusError) {
    tags.String("otel.status_code", "ERROR");
    tags.True("error");
  }
  const std::string_view message = wire::LastBytesField(s.status, of::kStatusMessage);
  if (!message.empty()) tags.String("otel.status_description", message);
  if (!s.trace_state.empty()) tags.String("w3c.tracestate", s.trace_state);
  tags.Close();

  out += ",\"logs\":[";
  first = true;
  wire::ProtoReader events(s.raw);
  while (events.Next()) {
    if (events.field() != of::kSpanEvents || !events.Is(wire::WireType::kLengthDelimited)) continue;
    const std::string_view event = events.bytes();
    if (!first) out += ',';
    first = false;
    out +=
        "{\"timestamp\":" + std::to_string(wire::LastFixed64Field(event, of::kEventTime) / kMicro) +
        ",\"fields\":";
    TagList log_fields(out);
    const std::string_view name = wire::LastBytesField(event, of::kEventName);
    bool has_event_attribute = false;
    ForEachKeyValue(event, of::kEventAttributes, [&](std::string_view k, std::string_view) {
      has_event_attribute |= k == "event";
    });
    if (!name.empty() && !has_event_attribute) log_fields.String("event", name);
    ForEachKeyValue(event, of::kEventAttributes,
                    [&](std::string_view k, std::string_view v) { log_fields.Attribute(k, v); });
    log_fields.Close();
    out += '}';
  }
  out += "],\"processID\":";
  AppendJsonString(out, process_id);
  out += ",\"warnings\":null}";
}

// A trace (FindTrace's request) as Jaeger's JSON: its spans, and their
// processes numbered p1, p2, ... in the order first seen, one per distinct
// service and tags.
void AppendTrace(std::string& out, std::string_view trace_id, std::string_view request) {
  out += "{\"traceID\":\"";
  AppendTraceId(out, trace_id);
  out += "\",\"spans\":[";
  std::vector<std::string> processes;
  const char* resource_seen = nullptr;
  std::string process_id;
  bool first = true;
  wire::otlp::ForEachLeaf(
      request,
      [&](std::string_view resource, std::string_view scope, std::string_view leaf) -> Status {
        wire::otlp::SpanView span;
        if (!wire::otlp::ViewSpan(leaf, &span).ok() || span.trace_id != trace_id) {
          return Status::Ok();
        }
        if (resource_seen == nullptr || resource.data() != resource_seen) {
          resource_seen = resource.data();
          std::string process = ProcessJson(resource);
          auto it = std::find(processes.begin(), processes.end(), process);
          if (it == processes.end()) {
            it = processes.insert(processes.end(), std::move(process));
          }
          process_id = "p" + std::to_string(it - processes.begin() + 1);
        }
        if (!first) out += ',';
        first = false;
        AppendSpan(out, span, scope, process_id);
        return Status::Ok();
      })
      .IgnoreError();  // stored batches were checked on receipt
  out += "],\"processes\":{";
  for (size_t i = 0; i < processes.size(); ++i) {
    if (i > 0) out += ',';
    out += "\"p" + std::to_string(i + 1) + "\":" + processes[i];
  }
  out += "},\"warnings\":null}";
}

// The traces of `ids` as a "data" array (those no longer in the log left
// out); *found counts them.
Result<std::string> TracesJson(const std::vector<std::string>& ids, const QueryContext& ctx,
                               size_t* found) {
  std::string data = "[";
  *found = 0;
  for (const std::string& id : ids) {
    Result<std::string> trace = FindTrace(ctx.log, ctx.index, id, ctx.scope);
    if (!trace.ok()) {
      if (trace.status().code() == StatusCode::kNotFound) continue;  // removed since
      return trace.status();
    }
    if ((*found)++ > 0) data += ',';
    AppendTrace(data, id, *trace);
  }
  data += ']';
  return data;
}

// Jaeger's `tags` parameter: a JSON object of strings ({"k":"v",...}).
Status ParseTags(std::string_view text, std::vector<std::pair<std::string, std::string>>* out) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(text);
  simdjson::dom::object object;
  if (auto error = parser.parse(padded).get(object); error) {
    return Status::InvalidArgument(simdjson::error_message(error));
  }
  for (auto [key, value] : object) {
    std::string_view v;
    if (value.get_string().get(v) != simdjson::SUCCESS) {
      return Status::InvalidArgument("tag values are strings");
    }
    out->emplace_back(std::string(key), std::string(v));
  }
  return Status::Ok();
}

net::HttpResponse SearchTracesJaeger(const Params& params, const QueryContext& ctx) {
  // Traces by id (repeated traceID): the other parameters do not apply.
  std::vector<std::string> ids;
  for (const auto& [name, value] : params) {
    if (name != "traceID") continue;
    std::string id;
    if (!ParseTraceId(value, &id)) return BadParamError("traceID", "expected 1 to 32 hex digits");
    ids.push_back(std::move(id));
  }
  if (!ids.empty()) {
    size_t found = 0;
    Result<std::string> data = TracesJson(ids, ctx, &found);
    if (!data.ok()) return Error(500, data.status().message());
    return Envelope(std::move(*data), 0);
  }

  TraceQuery q;
  q.scope = ctx.scope;
  const std::string* service = FindParam(params, "service");
  if (service == nullptr || service->empty()) return Error(400, "parameter 'service' is required");
  q.service = *service;
  if (const std::string* op = FindParam(params, "operation")) q.operation = *op;

  std::vector<std::pair<std::string, std::string>> tags;
  for (const auto& [name, value] : params) {
    if (name == "tag") {
      size_t colon = value.find(':');
      if (colon == std::string::npos) {
        return Error(400, "malformed 'tag' parameter, expecting key:value, received: " + value);
      }
      tags.emplace_back(value.substr(0, colon), value.substr(colon + 1));
    } else if (name == "tags") {
      Status st = ParseTags(value, &tags);
      if (!st.ok()) {
        return Error(400, "malformed 'tags' parameter, cannot unmarshal JSON: " + st.message());
      }
    }
  }
  for (auto& [key, value] : tags) {
    // error=true is the failed-span condition; other tags are attributes
    // of a span or its resource.
    if (key == "error" && value == "true") {
      q.errors_only = true;
      continue;
    }
    if (q.attributes.size() == kMaxTags) return Error(400, "at most 32 tags");
    q.attributes.emplace_back(std::move(key), std::move(value));
  }

  for (const char* name : {"minDuration", "maxDuration"}) {
    const std::string* text = FindParam(params, name);
    if (text == nullptr || text->empty()) continue;
    Result<std::chrono::nanoseconds> d = ParseDuration(*text);
    if (!d.ok() || d->count() < 0) {
      return BadParamError(name, "expected a duration such as 250ms, 1.5s or 2m");
    }
    // 0 is Jaeger's "no bound".
    if (d->count() > 0) {
      (std::string_view(name) == "minDuration" ? q.min_duration_nanos : q.max_duration_nanos) =
          d->count();
    }
  }
  if (q.min_duration_nanos > q.max_duration_nanos) {
    return Error(400, "'maxDuration' should be greater than 'minDuration'");
  }

  q.end_unix_nano = ctx.now_unix_nano;
  int64_t lookback = kTraceLookback;
  if (const std::string* text = FindParam(params, "lookback")) {
    // The UI sends "1h", "2d" or "custom"; only a duration counts.
    Result<std::chrono::nanoseconds> d = ParseDuration(*text);
    if (d.ok() && d->count() > 0) lookback = d->count();
  }
  bool start_set = false;
  for (const char* name : {"start", "end"}) {
    const std::string* text = FindParam(params, name);
    if (text == nullptr || text->empty()) continue;
    int64_t micros = 0;
    if (!ParseInt(*text, 0, std::numeric_limits<int64_t>::max() / kMicro, &micros)) {
      return BadParamError(name, "expected Unix microseconds");
    }
    (std::string_view(name) == "start" ? q.start_unix_nano : q.end_unix_nano) = micros * kMicro;
    start_set |= std::string_view(name) == "start";
  }
  if (!start_set) q.start_unix_nano = std::max<int64_t>(0, q.end_unix_nano - lookback);

  int64_t limit = kDefaultLimit;
  if (const std::string* text = FindParam(params, "limit"); text != nullptr && !text->empty()) {
    if (!ParseInt(*text, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max(),
                  &limit)) {
      return BadParamError("limit", "expected a whole number");
    }
    if (limit <= 0) limit = kDefaultLimit;
    limit = std::min(limit, kMaxLimit);
  }
  q.limit = static_cast<size_t>(limit);
  if (q.start_unix_nano > q.end_unix_nano) return Envelope("[]", 0);

  Result<SearchResult> found =
      SearchTraces(ctx.log, ctx.index, q, static_cast<uint64_t>(ctx.options.max_scan_bytes),
                   static_cast<size_t>(ctx.options.max_traces_per_search));
  if (!found.ok()) return Error(500, found.status().message());
  for (const TraceSummary& s : found->traces) ids.push_back(s.trace_id);
  size_t count = 0;
  Result<std::string> data = TracesJson(ids, ctx, &count);
  if (!data.ok()) return Error(500, data.status().message());
  return Envelope(std::move(*data), 0, found->partial);
}

net::HttpResponse TraceById(std::string_view hex, const QueryContext& ctx) {
  std::string id;
  if (!ParseTraceId(hex, &id)) return BadParamError("traceID", "expected 1 to 32 hex digits");
  Result<std::string> trace = FindTrace(ctx.log, ctx.index, id, ctx.scope);
  if (!trace.ok()) {
    if (trace.status().code() == StatusCode::kNotFound) return Error(404, "trace not found");
    return Error(500, trace.status().message());
  }
  std::string data = "[";
  AppendTrace(data, id, *trace);
  data += ']';
  return Envelope(std::move(data), 0);
}

// ---- Services, operations, dependencies ----------------------------------

// What services and operations (name, Jaeger span kind) have spans.
struct Catalog {
  std::set<std::string> services;
  std::set<std::pair<std::string, std::string>> operations;  // of the service asked for
  bool partial = false;
};

// From the scope's tenant's rollups, over their retention.
void CatalogFromRollups(const QueryContext& ctx, std::string_view service, Catalog* into) {
  const int64_t from = ctx.now_unix_nano - ctx.options.rollups.retention.count();
  ctx.rollups.Read([&](const Rollups& r) {
    r.ForEach(from, ctx.now_unix_nano, ctx.scope,
              [&](const Rollups::Series& s, int64_t, const Totals& t) {
                if (t.calls == 0) return;
                if (s.kind == Rollups::Kind::kService || s.kind == Rollups::Kind::kServiceAll) {
                  into->services.insert(s.a);
                } else if (s.kind == Rollups::Kind::kOperation && s.a == service) {
                  into->operations.emplace(s.b, KindFromLabel(s.c));
                }
              });
  });
}

// From the spans of the scope's tenant in the last hour, at most
// max_scan_bytes of them.
Status CatalogFromSpans(const QueryContext& ctx, std::string_view service, Catalog* into) {
  const int64_t from = ctx.now_unix_nano - kCatalogScan, to = ctx.now_unix_nano;
  log::PipelineSet pipelines;
  for (uint32_t id : ctx.index.traces_pipelines()) pipelines.Add(id);
  if (ctx.index.traces_pipelines().empty()) return Status::Ok();
  std::vector<uint64_t> segments = ctx.index.SegmentsFor(from, to, service);
  uint64_t scanned = 0;
  for (auto seg = segments.rbegin(); seg != segments.rend() && !into->partial; ++seg) {
    SLUICE_RETURN_IF_ERROR(
        ForEachBatchIn(ctx.log, *seg, pipelines, [&](const log::LogReader::Batch& batch) {
          if (batch.header.signal != log::Signal::kTraces ||
              batch.header.encoding != log::Encoding::kOtlpProto ||
              !ctx.scope.Admits(batch.tenant) || batch.header.max_event_unix_nanos < from ||
              batch.header.min_event_unix_nanos > to) {
            return true;
          }
          scanned += batch.payload.size();
          if (scanned > ctx.options.max_scan_bytes) {
            into->partial = true;
            return false;
          }
          const char* resource_seen = nullptr;
          std::string name;
          wire::otlp::ForEachLeaf(
              batch.payload,
              [&](std::string_view resource, std::string_view, std::string_view leaf) -> Status {
                if (resource_seen == nullptr || resource.data() != resource_seen) {
                  resource_seen = resource.data();
                  name = wire::otlp::ServiceName(resource);
                  into->services.insert(name);
                }
                if (service.empty() || name != service) return Status::Ok();
                wire::otlp::SpanView span;
                if (wire::otlp::ViewSpan(leaf, &span).ok()) {
                  into->operations.emplace(std::string(span.name), KindName(span.kind));
                }
                return Status::Ok();
              })
              .IgnoreError();
          return true;
        }));
  }
  return Status::Ok();
}

Result<Catalog> ReadCatalog(const QueryContext& ctx, std::string_view service) {
  Catalog c;
  CatalogFromRollups(ctx, service, &c);
  if (service.empty() ? c.services.empty() : c.operations.empty()) {
    SLUICE_RETURN_IF_ERROR(CatalogFromSpans(ctx, service, &c));
  }
  return c;
}

net::HttpResponse Services(const QueryContext& ctx) {
  Result<Catalog> c = ReadCatalog(ctx, "");
  if (!c.ok()) return Error(500, c.status().message());
  std::string data = "[";
  for (const std::string& s : c->services) {
    if (data.size() > 1) data += ',';
    AppendJsonString(data, s);
  }
  data += ']';
  return Envelope(std::move(data), c->services.size(), c->partial);
}

// /api/services/{service}/operations: names; /api/operations: names and
// kinds, of `span_kind` only when given.
net::HttpResponse Operations(const QueryContext& ctx, std::string_view service, bool with_kinds,
                             std::string_view span_kind) {
  Result<Catalog> c = ReadCatalog(ctx, service);
  if (!c.ok()) return Error(500, c.status().message());
  std::string data = "[";
  size_t total = 0;
  std::string last;
  for (const auto& [name, kind] : c->operations) {
    if (with_kinds) {
      if (!span_kind.empty() && kind != span_kind) continue;
      if (total++ > 0) data += ',';
      data += "{\"name\":";
      AppendJsonString(data, name);
      data += ",\"spanKind\":";
      AppendJsonString(data, kind);
      data += '}';
    } else {
      if (total > 0 && name == last) continue;  // one per name, whatever its kinds
      if (total++ > 0) data += ',';
      AppendJsonString(data, name);
      last = name;
    }
  }
  data += ']';
  return Envelope(std::move(data), total, c->partial);
}

net::HttpResponse Dependencies(const Params& params, const QueryContext& ctx) {
  int64_t end = ctx.now_unix_nano, lookback = kDependenciesLookback;
  if (const std::string* text = FindParam(params, "endTs"); text != nullptr && !text->empty()) {
    int64_t ms = 0;
    if (!ParseInt(*text, 0, std::numeric_limits<int64_t>::max() / kMilli, &ms)) {
      return BadParamError("endTs", "expected Unix milliseconds");
    }
    end = ms * kMilli;
  }
  if (const std::string* text = FindParam(params, "lookback"); text != nullptr && !text->empty()) {
    int64_t ms = 0;
    if (!ParseInt(*text, 0, std::numeric_limits<int64_t>::max() / kMilli, &ms)) {
      return BadParamError("lookback", "expected milliseconds");
    }
    lookback = ms * kMilli;
  }
  std::map<std::pair<std::string, std::string>, uint64_t> calls;
  ctx.rollups.Read([&](const Rollups& r) {
    r.ForEach(std::max<int64_t>(0, end - lookback), end, ctx.scope,
              [&](const Rollups::Series& s, int64_t, const Totals& t) {
                if (s.kind == Rollups::Kind::kEdge && t.calls > 0) calls[{s.a, s.b}] += t.calls;
              });
  });
  std::string data = "[";
  for (const auto& [edge, n] : calls) {
    if (data.size() > 1) data += ',';
    data += "{\"parent\":";
    AppendJsonString(data, edge.first);
    data += ",\"child\":";
    AppendJsonString(data, edge.second);
    data += ",\"callCount\":" + std::to_string(n) + "}";
  }
  data += ']';
  return Envelope(std::move(data), 0);
}

}  // namespace

std::optional<net::HttpResponse> AnswerJaeger(const net::HttpRequest& request,
                                              const QueryContext& ctx) {
  const std::string_view path = request.path;
  if (path == kServices) return Services(ctx);
  if (path.starts_with(std::string(kServices) + "/") && path.ends_with(kOperationsSuffix) &&
      path.size() > kServices.size() + 1 + kOperationsSuffix.size()) {
    const std::string service =
        net::PercentDecode(path.substr(kServices.size() + 1, path.size() - kServices.size() - 1 -
                                                                 kOperationsSuffix.size()),
                           false);
    return Operations(ctx, service, false, "");
  }
  if (path == kOperations) {
    const Params params = net::ParseQueryString(request.query);
    const std::string* service = FindParam(params, "service");
    if (service == nullptr || service->empty()) {
      return Error(400, "parameter 'service' is required");
    }
    const std::string* kind = FindParam(params, "spanKind");
    return Operations(ctx, *service, true, kind == nullptr ? "" : *kind);
  }
  if (path == kTraces) return SearchTracesJaeger(net::ParseQueryString(request.query), ctx);
  if (path.starts_with(std::string(kTraces) + "/")) {
    return TraceById(path.substr(kTraces.size() + 1), ctx);
  }
  if (path == kDependencies) return Dependencies(net::ParseQueryString(request.query), ctx);
  return std::nullopt;
}

}  // namespace sluice::query
