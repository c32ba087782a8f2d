#include "wire/otlp/json.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "base/check.h"
#include "base/strings.h"
#include "wire/otlp/common.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sluice::wire::otlp {
namespace {

// How one JSON value becomes one protobuf field, and back.
enum class Kind {
  kMessage,
  kString,
  kHexBytes,     // trace/span ids
  kBase64Bytes,  // AnyValue.bytesValue
  kBool,
  kInt32,   // int32 and enums: varint, a JSON number
  kUint32,  // varint, a JSON number
  kInt64,   // varint, a decimal string
  kUint64,  // varint, a decimal string
  kSint32,
  kFixed64,   // uint64, a decimal string
  kSfixed64,  // int64, a decimal string
  kFixed32,
  kDouble,
};

// Whether a scalar field holding its default value is rendered. Plain proto3
// scalars are not (implicit presence); members of a oneof and `optional`
// fields are. (A singular message is rendered whenever it is on the wire.)
// Every OTLP message has at most one oneof, so kOneof needs no group name: of
// its members only the last one on the wire is set.
enum class Presence { kImplicit, kOptional, kOneof };

struct MessageSpec;

struct FieldSpec {
  const char* json;   // lowerCamelCase
  const char* snake;  // original proto name
  uint32_t number;
  Kind kind;
  bool repeated = false;
  const MessageSpec* message = nullptr;
  Presence presence = Presence::kImplicit;
};

struct MessageSpec {
  const char* name;
  std::vector<FieldSpec> fields;
};

// The most fields any OTLP message has (Span: 16); the renderer keeps one
// slot per field on the stack.
constexpr size_t kMaxFields = 16;

// Field numbers and names from the OTLP .proto definitions.
struct Specs {
  MessageSpec any{"AnyValue", {}}, array{"ArrayValue", {}}, kvlist{"KeyValueList", {}},
      kv{"KeyValue", {}}, scope{"InstrumentationScope", {}}, resource{"Resource", {}};
  MessageSpec trace_req{"ExportTraceServiceRequest", {}}, resource_spans{"ResourceSpans", {}},
      scope_spans{"ScopeSpans", {}}, span{"Span", {}}, event{"Span.Event", {}},
      link{"Span.Link", {}}, status{"Status", {}};
  MessageSpec logs_req{"ExportLogsServiceRequest", {}}, resource_logs{"ResourceLogs", {}},
      scope_logs{"ScopeLogs", {}}, log_record{"LogRecord", {}};
  MessageSpec metrics_req{"ExportMetricsServiceRequest", {}},
      resource_metrics{"ResourceMetrics", {}}, scope_metrics{"ScopeMetrics", {}},
      metric{"Metric", {}}, gauge{"Gauge", {}}, sum{"Sum", {}}, histogram{"Histogram", {}},
      exp_histogram{"ExponentialHistogram", {}}, summary{"Summary", {}},
      number_point{"NumberDataPoint", {}}, histogram_point{"HistogramDataPoint", {}},
      exp_point{"ExponentialHistogramDataPoint", {}}, buckets{"Buckets", {}},
      summary_point{"SummaryDataPoint", {}}, quantile{"ValueAtQuantile", {}},
      exemplar{"Exemplar", {}};

  Specs() {
    using K = Kind;
    using P = Presence;
    any.fields = {{"stringValue", "string_value", 1, K::kString, false, nullptr, P::kOneof},
                  {"boolValue", "bool_value", 2, K::kBool, false, nullptr, P::kOneof},
                  {"intValue", "int_value", 3, K::kInt64, false, nullptr, P::kOneof},
                  {"doubleValue", "double_value", 4, K::kDouble, false, nullptr, P::kOneof},
                  {"arrayValue", "array_value", 5, K::kMessage, false, &array, P::kOneof},
                  {"kvlistValue", "kvlist_value", 6, K::kMessage, false, &kvlist, P::kOneof},
                  {"bytesValue", "bytes_value", 7, K::kBase64Bytes, false, nullptr, P::kOneof}};
    array.fields = {{"values", "values", 1, K::kMessage, true, &any}};
    kvlist.fields = {{"values", "values", 1, K::kMessage, true, &kv}};
    kv.fields = {{"key", "key", 1, K::kString}, {"value", "value", 2, K::kMessage, false, &any}};
    scope.fields = {{"name", "name", 1, K::kString},
                    {"version", "version", 2, K::kString},
                    {"attributes", "attributes", 3, K::kMessage, true, &kv},
                    {"droppedAttributesCount", "dropped_attributes_count", 4, K::kUint32}};
    resource.fields = {{"attributes", "attributes", 1, K::kMessage, true, &kv},
                       {"droppedAttributesCount", "dropped_attributes_count", 2, K::kUint32}};

    trace_req.fields = {{"resourceSpans", "resource_spans", 1, K::kMessage, true, &resource_spans}};
    resource_spans.fields = {{"resource", "resource", 1, K::kMessage, false, &resource},
                             {"scopeSpans", "scope_spans", 2, K::kMessage, true, &scope_spans},
                             {"schemaUrl", "schema_url", 3, K::kString}};
    scope_spans.fields = {{"scope", "scope", 1, K::kMessage, false, &scope},
                          {"spans", "spans", 2, K::kMessage, true, &span},
                          {"schemaUrl", "schema_url", 3, K::kString}};
    span.fields = {{"traceId", "trace_id", 1, K::kHexBytes},
                   {"spanId", "span_id", 2, K::kHexBytes},
                   {"traceState", "trace_state", 3, K::kString},
                   {"parentSpanId", "parent_span_id", 4, K::kHexBytes},
                   {"flags", "flags", 16, K::kFixed32},
                   {"name", "name", 5, K::kString},
                   {"kind", "kind", 6, K::kInt32},
                   {"startTimeUnixNano", "start_time_unix_nano", 7, K::kFixed64},
                   {"endTimeUnixNano", "end_time_unix_nano", 8, K::kFixed64},
                   {"attributes", "attributes", 9, K::kMessage, true, &kv},
                   {"droppedAttributesCount", "dropped_attributes_count", 10, K::kUint32},
                   {"events", "events", 11, K::kMessage, true, &event},
                   {"droppedEventsCount", "dropped_events_count", 12, K::kUint32},
                   {"links", "links", 13, K::kMessage, true, &link},
                   {"droppedLinksCount", "dropped_links_count", 14, K::kUint32},
                   {"status", "status", 15, K::kMessage, false, &status}};
    event.fields = {{"timeUnixNano", "time_unix_nano", 1, K::kFixed64},
                    {"name", "name", 2, K::kString},
                    {"attributes", "attributes", 3, K::kMessage, true, &kv},
                    {"droppedAttributesCount", "dropped_attributes_count", 4, K::kUint32}};
    link.fields = {{"traceId", "trace_id", 1, K::kHexBytes},
                   {"spanId", "span_id", 2, K::kHexBytes},
                   {"traceState", "trace_state", 3, K::kString},
                   {"attributes", "attributes", 4, K::kMessage, true, &kv},
                   {"droppedAttributesCount", "dropped_attributes_count", 5, K::kUint32},
                   {"flags", "flags", 6, K::kFixed32}};
    status.fields = {{"message", "message", 2, K::kString}, {"code", "code", 3, K::kInt32}};

    logs_req.fields = {{"resourceLogs", "resource_logs", 1, K::kMessage, true, &resource_logs}};
    resource_logs.fields = {{"resource", "resource", 1, K::kMessage, false, &resource},
                            {"scopeLogs", "scope_logs", 2, K::kMessage, true, &scope_logs},
                            {"schemaUrl", "schema_url", 3, K::kString}};
    scope_logs.fields = {{"scope", "scope", 1, K::kMessage, false, &scope},
                         {"logRecords", "log_records", 2, K::kMessage, true, &log_record},
                         {"schemaUrl", "schema_url", 3, K::kString}};
    log_record.fields = {{"timeUnixNano", "time_unix_nano", 1, K::kFixed64},
                         {"observedTimeUnixNano", "observed_time_unix_nano", 11, K::kFixed64},
                         {"severityNumber", "severity_number", 2, K::kInt32},
                         {"severityText", "severity_text", 3, K::kString},
                         {"body", "body", 5, K::kMessage, false, &any},
                         {"attributes", "attributes", 6, K::kMessage, true, &kv},
                         {"droppedAttributesCount", "dropped_attributes_count", 7, K::kUint32},
                         {"flags", "flags", 8, K::kFixed32},
                         {"traceId", "trace_id", 9, K::kHexBytes},
                         {"spanId", "span_id", 10, K::kHexBytes},
                         {"eventName", "event_name", 12, K::kString}};

    metrics_req.fields = {
        {"resourceMetrics", "resource_metrics", 1, K::kMessage, true, &resource_metrics}};
    resource_metrics.fields = {
        {"resource", "resource", 1, K::kMessage, false, &resource},
        {"scopeMetrics", "scope_metrics", 2, K::kMessage, true, &scope_metrics},
        {"schemaUrl", "schema_url", 3, K::kString}};
    scope_metrics.fields = {{"scope", "scope", 1, K::kMessage, false, &scope},
                            {"metrics", "metrics", 2, K::kMessage, true, &metric},
                            {"schemaUrl", "schema_url", 3, K::kString}};
    metric.fields = {{"name", "name", 1, K::kString},
                     {"description", "description", 2, K::kString},
                     {"unit", "unit", 3, K::kString},
                     {"gauge", "gauge", 5, K::kMessage, false, &gauge, P::kOneof},
                     {"sum", "sum", 7, K::kMessage, false, &sum, P::kOneof},
                     {"histogram", "histogram", 9, K::kMessage, false, &histogram, P::kOneof},
                     {"exponentialHistogram", "exponential_histogram", 10, K::kMessage, false,
                      &exp_histogram, P::kOneof},
                     {"summary", "summary", 11, K::kMessage, false, &summary, P::kOneof},
                     {"metadata", "metadata", 12, K::kMessage, true, &kv}};
    gauge.fields = {{"dataPoints", "data_points", 1, K::kMessage, true, &number_point}};
    sum.fields = {{"dataPoints", "data_points", 1, K::kMessage, true, &number_point},
                  {"aggregationTemporality", "aggregation_temporality", 2, K::kInt32},
                  {"isMonotonic", "is_monotonic", 3, K::kBool}};
    histogram.fields = {{"dataPoints", "data_points", 1, K::kMessage, true, &histogram_point},
                        {"aggregationTemporality", "aggregation_temporality", 2, K::kInt32}};
    exp_histogram.fields = {{"dataPoints", "data_points", 1, K::kMessage, true, &exp_point},
                            {"aggregationTemporality", "aggregation_temporality", 2, K::kInt32}};
    summary.fields = {{"dataPoints", "data_points", 1, K::kMessage, true, &summary_point}};
    number_point.fields = {{"attributes", "attributes", 7, K::kMessage, true, &kv},
                           {"startTimeUnixNano", "start_time_unix_nano", 2, K::kFixed64},
                           {"timeUnixNano", "time_unix_nano", 3, K::kFixed64},
                           {"asDouble", "as_double", 4, K::kDouble, false, nullptr, P::kOneof},
                           {"asInt", "as_int", 6, K::kSfixed64, false, nullptr, P::kOneof},
                           {"exemplars", "exemplars", 5, K::kMessage, true, &exemplar},
                           {"flags", "flags", 8, K::kUint32}};
    histogram_point.fields = {{"attributes", "attributes", 9, K::kMessage, true, &kv},
                              {"startTimeUnixNano", "start_time_unix_nano", 2, K::kFixed64},
                              {"timeUnixNano", "time_unix_nano", 3, K::kFixed64},
                              {"count", "count", 4, K::kFixed64},
                              {"sum", "sum", 5, K::kDouble, false, nullptr, P::kOptional},
                              {"bucketCounts", "bucket_counts", 6, K::kFixed64, true},
                              {"explicitBounds", "explicit_bounds", 7, K::kDouble, true},
                              {"exemplars", "exemplars", 8, K::kMessage, true, &exemplar},
                              {"flags", "flags", 10, K::kUint32},
                              {"min", "min", 11, K::kDouble, false, nullptr, P::kOptional},
                              {"max", "max", 12, K::kDouble, false, nullptr, P::kOptional}};
    exp_point.fields = {{"attributes", "attributes", 1, K::kMessage, true, &kv},
                        {"startTimeUnixNano", "start_time_unix_nano", 2, K::kFixed64},
                        {"timeUnixNano", "time_unix_nano", 3, K::kFixed64},
                        {"count", "count", 4, K::kFixed64},
                        {"sum", "sum", 5, K::kDouble, false, nullptr, P::kOptional},
                        {"scale", "scale", 6, K::kSint32},
                        {"zeroCount", "zero_count", 7, K::kFixed64},
                        {"positive", "positive", 8, K::kMessage, false, &buckets},
                        {"negative", "negative", 9, K::kMessage, false, &buckets},
                        {"flags", "flags", 10, K::kUint32},
                        {"exemplars", "exemplars", 11, K::kMessage, true, &exemplar},
                        {"min", "min", 12, K::kDouble, false, nullptr, P::kOptional},
                        {"max", "max", 13, K::kDouble, false, nullptr, P::kOptional},
                        {"zeroThreshold", "zero_threshold", 14, K::kDouble}};
    buckets.fields = {{"offset", "offset", 1, K::kSint32},
                      {"bucketCounts", "bucket_counts", 2, K::kUint64, true}};
    summary_point.fields = {{"attributes", "attributes", 7, K::kMessage, true, &kv},
                            {"startTimeUnixNano", "start_time_unix_nano", 2, K::kFixed64},
                            {"timeUnixNano", "time_unix_nano", 3, K::kFixed64},
                            {"count", "count", 4, K::kFixed64},
                            {"sum", "sum", 5, K::kDouble},
                            {"quantileValues", "quantile_values", 6, K::kMessage, true, &quantile},
                            {"flags", "flags", 8, K::kUint32}};
    quantile.fields = {{"quantile", "quantile", 1, K::kDouble}, {"value", "value", 2, K::kDouble}};
    exemplar.fields = {{"filteredAttributes", "filtered_attributes", 7, K::kMessage, true, &kv},
                       {"timeUnixNano", "time_unix_nano", 2, K::kFixed64},
                       {"asDouble", "as_double", 3, K::kDouble, false, nullptr, P::kOneof},
                       {"asInt", "as_int", 6, K::kSfixed64, false, nullptr, P::kOneof},
                       {"spanId", "span_id", 4, K::kHexBytes},
                       {"traceId", "trace_id", 5, K::kHexBytes}};
    for (const MessageSpec* m : {&any,
                                 &array,
                                 &kvlist,
                                 &kv,
                                 &scope,
                                 &resource,
                                 &trace_req,
                                 &resource_spans,
                                 &scope_spans,
                                 &span,
                                 &event,
                                 &link,
                                 &status,
                                 &logs_req,
                                 &resource_logs,
                                 &scope_logs,
                                 &log_record,
                                 &metrics_req,
                                 &resource_metrics,
                                 &scope_metrics,
                                 &metric,
                                 &gauge,
                                 &sum,
                                 &histogram,
                                 &exp_histogram,
                                 &summary,
                                 &number_point,
                                 &histogram_point,
                                 &exp_point,
                                 &buckets,
                                 &summary_point,
                                 &quantile,
                                 &exemplar}) {
      SLUICE_CHECK(m->fields.size() <= kMaxFields);
    }
  }
};

const Specs& AllSpecs() {
  static const Specs specs;
  return specs;
}

// Deepest message nesting accepted either way: the request's own structure
// (at most 9 levels, down to an exemplar's attribute values) plus the deepest
// attribute value the receivers accept, three messages per kvlist level.
constexpr int kMaxDepth = 16 + 3 * kMaxValueDepth;

Status Bad(const std::string& path, const std::string& why) {
  return Status::InvalidArgument(path + ": " + why);
}

bool Base64Decode(std::string_view in, std::string* out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    int v = value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return true;
}

// A JSON number, or a string holding one, as a 64-bit integer.
bool AsInt(simdjson::dom::element v, bool is_signed, uint64_t* out) {
  int64_t i;
  uint64_t u;
  double d;
  std::string_view s;
  if (v.get_int64().get(i) == simdjson::SUCCESS) {
    if (!is_signed && i < 0) return false;
    *out = static_cast<uint64_t>(i);
    return true;
  }
  if (v.get_uint64().get(u) == simdjson::SUCCESS) {
    *out = u;
    return true;
  }
  if (v.get_double().get(d) == simdjson::SUCCESS) {
    // Integral and in range: the casts below are defined only there.
    if (d != std::floor(d) || d >= 0x1p64 || d < (is_signed ? -0x1p63 : 0)) return false;
    if (is_signed && d >= 0x1p63) return false;
    *out = is_signed ? static_cast<uint64_t>(static_cast<int64_t>(d)) : static_cast<uint64_t>(d);
    return true;
  }
  if (v.get_string().get(s) == simdjson::SUCCESS && !s.empty()) {
    std::string text(s);
    char* end = nullptr;
    errno = 0;
    *out = is_signed ? static_cast<uint64_t>(std::strtoll(text.c_str(), &end, 10))
                     : std::strtoull(text.c_str(), &end, 10);
    return *end == '\0' && errno == 0 && (is_signed || text[0] != '-');
  }
  return false;
}

bool AsDouble(simdjson::dom::element v, double* out) {
  if (v.get_double().get(*out) == simdjson::SUCCESS) return true;
  int64_t i;
  if (v.get_int64().get(i) == simdjson::SUCCESS) {
    *out = static_cast<double>(i);
    return true;
  }
  uint64_t u;
  if (v.get_uint64().get(u) == simdjson::SUCCESS) {
    *out = static_cast<double>(u);
    return true;
  }
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) return false;
  if (s == "NaN")
    *out = std::nan("");
  else if (s == "Infinity")
    *out = INFINITY;
  else if (s == "-Infinity")
    *out = -INFINITY;
  else
    return false;
  return true;
}

Status Encode(simdjson::dom::element obj, const MessageSpec& spec, const std::string& path,
              int depth, std::string* out);

Status EncodeValue(simdjson::dom::element v, const FieldSpec& f, const std::string& path, int depth,
                   ProtoWriter& w, std::string* out) {
  switch (f.kind) {
    case Kind::kMessage: {
      size_t mark = w.BeginMessage(f.number);
      SLUICE_RETURN_IF_ERROR(Encode(v, *f.message, path, depth + 1, out));
      w.EndMessage(mark);
      return Status::Ok();
    }
    case Kind::kString: {
      std::string_view s;
      if (v.get_string().get(s) != simdjson::SUCCESS) return Bad(path, "expected a string");
      w.Bytes(f.number, s);
      return Status::Ok();
    }
    case Kind::kHexBytes: {
      std::string_view s;
      std::string bytes;
      if (v.get_string().get(s) != simdjson::SUCCESS || !HexDecode(s, &bytes)) {
        return Bad(path, "expected a hex string");
      }
      w.Bytes(f.number, bytes);
      return Status::Ok();
    }
    case Kind::kBase64Bytes: {
      std::string_view s;
      std::string bytes;
      if (v.get_string().get(s) != simdjson::SUCCESS || !Base64Decode(s, &bytes)) {
        return Bad(path, "expected a base64 string");
      }
      w.Bytes(f.number, bytes);
      return Status::Ok();
    }
    case Kind::kBool: {
      bool b;
      if (v.get_bool().get(b) != simdjson::SUCCESS) return Bad(path, "expected true or false");
      w.Varint(f.number, b ? 1 : 0);
      return Status::Ok();
    }
    case Kind::kInt32:
    case Kind::kUint32:
    case Kind::kInt64:
    case Kind::kUint64:
    case Kind::kSint32:
    case Kind::kFixed64:
    case Kind::kSfixed64:
    case Kind::kFixed32: {
      const bool is_signed = f.kind == Kind::kInt32 || f.kind == Kind::kInt64 ||
                             f.kind == Kind::kSint32 || f.kind == Kind::kSfixed64;
      uint64_t n;
      if (!AsInt(v, is_signed, &n)) return Bad(path, "expected an integer");
      const auto i = static_cast<int64_t>(n);
      switch (f.kind) {
        case Kind::kInt32:
        case Kind::kSint32:
          if (i < INT32_MIN || i > INT32_MAX) return Bad(path, "expected a 32-bit integer");
          break;
        case Kind::kUint32:
        case Kind::kFixed32:
          if (n > UINT32_MAX) return Bad(path, "expected a 32-bit integer");
          break;
        default:
          break;
      }
      if (f.kind == Kind::kFixed64 || f.kind == Kind::kSfixed64) {
        w.Fixed64(f.number, n);
      } else if (f.kind == Kind::kFixed32) {
        w.Fixed32(f.number, static_cast<uint32_t>(n));
      } else if (f.kind == Kind::kSint32) {
        auto s = static_cast<int32_t>(i);
        w.Varint(f.number, (static_cast<uint32_t>(s) << 1) ^ static_cast<uint32_t>(s >> 31));
      } else {
        w.Varint(f.number, n);  // a negative int32 is sign-extended to ten bytes, as protobuf does
      }
      return Status::Ok();
    }
    case Kind::kDouble: {
      double d;
      if (!AsDouble(v, &d)) return Bad(path, "expected a number");
      w.Double(f.number, d);
      return Status::Ok();
    }
  }
  return Status::Ok();
}

Status Encode(simdjson::dom::element obj, const MessageSpec& spec, const std::string& path,
              int depth, std::string* out) {
  if (depth > kMaxDepth) return Bad(path, "nested too deeply");
  simdjson::dom::object o;
  if (obj.get_object().get(o) != simdjson::SUCCESS) {
    return Bad(path, std::string("expected an object (") + spec.name + ")");
  }
  ProtoWriter w(out);
  for (auto [key, value] : o) {
    const FieldSpec* f = nullptr;
    for (const FieldSpec& candidate : spec.fields) {
      if (key == candidate.json || key == candidate.snake) f = &candidate;
    }
    if (f == nullptr || value.is_null()) continue;  // unknown keys are ignored
    std::string child = path.empty() ? std::string(key) : path + "." + std::string(key);
    if (f->repeated) {
      simdjson::dom::array a;
      if (value.get_array().get(a) != simdjson::SUCCESS) return Bad(child, "expected an array");
      size_t i = 0;
      for (simdjson::dom::element item : a) {
        SLUICE_RETURN_IF_ERROR(
            EncodeValue(item, *f, child + "[" + std::to_string(i++) + "]", depth, w, out));
      }
    } else {
      SLUICE_RETURN_IF_ERROR(EncodeValue(value, *f, child, depth, w, out));
    }
  }
  return Status::Ok();
}

Status Transcode(std::string_view json, const MessageSpec& root, std::string* out) {
  // Each call has its own parser: receivers transcode concurrently.
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  auto error = parser.parse(json.data(), json.size(), true).get(doc);
  if (error != simdjson::SUCCESS) {
    return Status::InvalidArgument(std::string("invalid JSON: ") + simdjson::error_message(error));
  }
  out->clear();
  return Encode(doc, root, "", 0, out);
}

// --- protobuf → OTLP/JSON -------------------------------------------------

// Fields of one message seen on the wire: the first and the last occurrence
// (key and value, as raw_field() gives them) and how many there were.
struct Seen {
  std::string_view first;
  std::string_view last;
  uint32_t count = 0;
};

bool FitsWireType(const FieldSpec& f, WireType t) {
  switch (f.kind) {
    case Kind::kMessage:
    case Kind::kString:
    case Kind::kHexBytes:
    case Kind::kBase64Bytes:
      return t == WireType::kLengthDelimited;
    default:
      break;
  }
  // Repeated numbers may come packed (proto3's default) or one by one.
  if (f.repeated && t == WireType::kLengthDelimited) return true;
  switch (f.kind) {
    case Kind::kFixed64:
    case Kind::kSfixed64:
    case Kind::kDouble:
      return t == WireType::kFixed64;
    case Kind::kFixed32:
      return t == WireType::kFixed32;
    default:
      return t == WireType::kVarint;
  }
}

// JSON strings must be UTF-8; bytes that are not (which protobuf parsers
// refuse in string fields, but sluice stores as received) become U+FFFD.
void AppendUtf8JsonString(std::string& out, std::string_view s) {
  if (simdjson::validate_utf8(s.data(), s.size())) {
    AppendJsonString(out, s);
    return;
  }
  out += '"';
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    // Length of a well-formed sequence at i (RFC 3629), 0 if there is none.
    unsigned char c = p[i];
    size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;  // range of the second byte
    if (c < 0x80) {
      len = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
    }
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      unsigned char b = p[i + k];
      ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    }
    if (!ok) {
      out += "\xEF\xBF\xBD";  // U+FFFD as UTF-8, as it reads back after a round trip
      ++i;
      continue;
    }
    AppendJsonEscaped(out, s.substr(i, len));
    i += len;
  }
  out += '"';
}

// A double as the shortest text that reads back as the same value; the
// three values JSON has no number for as the strings the mapping names.
void AppendJsonDouble(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "\"NaN\"";
  } else if (std::isinf(d)) {
    out += d > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  } else if (d == 0 && std::signbit(d)) {
    out += "-0.0";  // "-0" would read back as the integer 0
  } else {
    char buf[32];
    // Integers past 64 bits as digits are valid JSON, but many parsers
    // (simdjson among them) refuse them: those take an exponent.
    auto [end, ec] = std::fabs(d) < 0x1p63
                         ? std::to_chars(buf, buf + sizeof buf, d)
                         : std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    out.append(buf, end);
  }
}

// One scalar value: `raw` is the varint, fixed32 or fixed64 as read.
void AppendJsonNumber(std::string& out, Kind kind, uint64_t raw) {
  switch (kind) {
    case Kind::kBool:
      out += raw != 0 ? "true" : "false";
      return;
    case Kind::kInt32:
      out += std::to_string(static_cast<int32_t>(static_cast<uint32_t>(raw)));
      return;
    case Kind::kUint32:
    case Kind::kFixed32:
      out += std::to_string(static_cast<uint32_t>(raw));
      return;
    case Kind::kSint32: {
      auto u = static_cast<uint32_t>(raw);
      out += std::to_string(static_cast<int32_t>((u >> 1) ^ (0U - (u & 1))));
      return;
    }
    case Kind::kInt64:
    case Kind::kSfixed64:
      out += '"';
      out += std::to_string(static_cast<int64_t>(raw));
      out += '"';
      return;
    case Kind::kUint64:
    case Kind::kFixed64:
      out += '"';
      out += std::to_string(raw);
      out += '"';
      return;
    case Kind::kDouble: {
      double d;
      std::memcpy(&d, &raw, sizeof d);
      AppendJsonDouble(out, d);
      return;
    }
    default:
      return;
  }
}

// Whether a number kind is read as a varint (rather than fixed 4 or 8 bytes).
bool IsVarintKind(Kind kind) {
  return kind != Kind::kFixed64 && kind != Kind::kSfixed64 && kind != Kind::kDouble &&
         kind != Kind::kFixed32;
}

// The value a scalar field holds when it is not set (protobuf reads a 32-bit
// varint modulo 2^32, and a double is the default only as +0.0).
bool IsDefaultNumber(Kind kind, uint64_t raw) {
  switch (kind) {
    case Kind::kInt32:
    case Kind::kUint32:
    case Kind::kSint32:
    case Kind::kFixed32:
      return static_cast<uint32_t>(raw) == 0;
    default:
      return raw == 0;
  }
}

Status Render(std::string_view message, const MessageSpec& spec, int depth, std::string& out);

Status Malformed(const MessageSpec& spec, const FieldSpec* f, const char* why) {
  std::string where = spec.name;
  if (f != nullptr) where = where + "." + f->json;
  return Status::InvalidArgument("malformed " + where + ": " + why);
}

// Appends the elements of a packed repeated number field, each preceded by a
// comma unless *first.
Status AppendPacked(const MessageSpec& spec, const FieldSpec& f, std::string_view packed,
                    bool* first, std::string& out) {
  const auto* p = reinterpret_cast<const uint8_t*>(packed.data());
  const uint8_t* end = p + packed.size();
  while (p < end) {
    uint64_t raw = 0;
    if (IsVarintKind(f.kind)) {
      int shift = 0;
      for (;; shift += 7) {
        if (p == end) return Malformed(spec, &f, "truncated varint in a packed field");
        if (shift >= 64) return Malformed(spec, &f, "varint longer than 10 bytes");
        uint8_t b = *p++;
        raw |= static_cast<uint64_t>(b & 0x7F) << shift;
        if ((b & 0x80) == 0) break;
      }
    } else {
      size_t width = f.kind == Kind::kFixed32 ? 4 : 8;
      if (static_cast<size_t>(end - p) < width) {
        return Malformed(spec, &f, "packed field length is not a multiple of its element size");
      }
      std::memcpy(&raw, p, width);  // little-endian hosts only, as ProtoReader
      p += width;
    }
    if (!*first) out += ',';
    *first = false;
    AppendJsonNumber(out, f.kind, raw);
  }
  return Status::Ok();
}

bool IsLengthDelimitedKind(Kind kind) {
  return kind == Kind::kMessage || kind == Kind::kString || kind == Kind::kHexBytes ||
         kind == Kind::kBase64Bytes;
}

// Appends one element (of a repeated field) or the value of a singular one,
// read by r. Appends nothing, and sets *appended false, when a field with
// implicit presence holds its default value.
Status AppendValue(const FieldSpec& f, const ProtoReader& r, int depth, std::string& out,
                   bool* appended) {
  const bool keep_default = f.repeated || f.presence != Presence::kImplicit;
  *appended = true;
  switch (f.kind) {
    case Kind::kMessage:
      return Render(r.bytes(), *f.message, depth + 1, out);
    case Kind::kString:
    case Kind::kHexBytes:
    case Kind::kBase64Bytes:
      if (r.bytes().empty() && !keep_default) {
        *appended = false;
        return Status::Ok();
      }
      if (f.kind == Kind::kString) {
        AppendUtf8JsonString(out, r.bytes());
      } else {
        out += '"';
        if (f.kind == Kind::kHexBytes) {
          AppendHex(out, r.bytes());
        } else {
          AppendBase64(out, r.bytes());
        }
        out += '"';
      }
      return Status::Ok();
    default: {
      uint64_t raw = r.Is(WireType::kFixed32) ? r.fixed32() : r.varint();  // fixed64 too
      if (!keep_default && IsDefaultNumber(f.kind, raw)) {
        *appended = false;
        return Status::Ok();
      }
      AppendJsonNumber(out, f.kind, raw);
      return Status::Ok();
    }
  }
}

// Appends `"name":` with the comma before it when needed.
void AppendKey(std::string& out, const FieldSpec& f, bool* first) {
  if (!*first) out += ',';
  *first = false;
  out += '"';
  out += f.json;
  out += "\":";
}

Status Render(std::string_view message, const MessageSpec& spec, int depth, std::string& out) {
  if (depth > kMaxDepth) return Malformed(spec, nullptr, "nested too deeply");
  Seen seen[kMaxFields];  // Invariant: spec.fields.size() <= kMaxFields, checked in Specs()
  ProtoReader r(message);
  while (r.Next()) {
    size_t i = 0;
    while (i < spec.fields.size() && spec.fields[i].number != r.field()) ++i;
    if (i == spec.fields.size()) continue;  // unknown fields are skipped
    if (!FitsWireType(spec.fields[i], r.wire_type())) {
      return Malformed(spec, &spec.fields[i], "wrong wire type");
    }
    Seen& s = seen[i];
    if (s.count++ == 0) s.first = r.raw_field();
    s.last = r.raw_field();
  }
  if (!r.ok()) return Malformed(spec, nullptr, r.error());

  // Of a oneof's members only the last one on the wire is set; parsing it
  // discarded whatever the others (and its own earlier occurrences before
  // them) had set.
  const char* oneof_last = nullptr;
  size_t oneof_member = kMaxFields;
  for (size_t i = 0; i < spec.fields.size(); ++i) {
    if (spec.fields[i].presence != Presence::kOneof || seen[i].count == 0) continue;
    if (oneof_last == nullptr || seen[i].last.data() > oneof_last) {
      oneof_last = seen[i].last.data();
      oneof_member = i;
    }
  }
  const char* oneof_reset = nullptr;  // end of the last other member's last occurrence
  for (size_t i = 0; i < spec.fields.size(); ++i) {
    if (spec.fields[i].presence != Presence::kOneof || seen[i].count == 0 || i == oneof_member) {
      continue;
    }
    const char* end = seen[i].last.data() + seen[i].last.size();
    if (oneof_reset == nullptr || end > oneof_reset) oneof_reset = end;
  }

  out += '{';
  bool first = true;
  for (size_t i = 0; i < spec.fields.size(); ++i) {
    const FieldSpec& f = spec.fields[i];
    const Seen& s = seen[i];
    if (s.count == 0) continue;
    if (f.presence == Presence::kOneof && i != oneof_member) continue;
    // Every occurrence lies between the first and the end of the last.
    std::string_view span(s.first.data(),
                          static_cast<size_t>(s.last.data() + s.last.size() - s.first.data()));
    const size_t mark = out.size();
    const bool was_first = first;
    if (f.repeated) {
      AppendKey(out, f, &first);
      out += '[';
      bool first_element = true;
      ProtoReader e(span);
      while (e.Next()) {
        if (e.field() != f.number) continue;
        if (!IsLengthDelimitedKind(f.kind) && e.Is(WireType::kLengthDelimited)) {
          SLUICE_RETURN_IF_ERROR(AppendPacked(spec, f, e.bytes(), &first_element, out));
          continue;
        }
        if (!first_element) out += ',';
        first_element = false;
        bool appended;  // always, for an element
        SLUICE_RETURN_IF_ERROR(AppendValue(f, e, depth, out, &appended));
      }
      if (!e.ok()) return Malformed(spec, &f, e.error());
      if (first_element) {
        // Only empty packed runs: nothing to show.
        out.resize(mark);
        first = was_first;
        continue;
      }
      out += ']';
      continue;
    }
    if (f.kind == Kind::kMessage && s.count > 1) {
      // A message field that occurs more than once is the merge of its
      // occurrences, which is what parsing their concatenation gives.
      std::string merged;
      ProtoReader e(span);
      while (e.Next()) {
        if (e.field() != f.number) continue;
        if (f.presence == Presence::kOneof && oneof_reset != nullptr &&
            e.raw_field().data() < oneof_reset) {
          continue;
        }
        merged.append(e.bytes());
      }
      if (!e.ok()) return Malformed(spec, &f, e.error());
      AppendKey(out, f, &first);
      SLUICE_RETURN_IF_ERROR(Render(merged, *f.message, depth + 1, out));
      continue;
    }
    // A singular scalar: the last occurrence wins.
    ProtoReader last(s.last);
    if (!last.Next()) return Malformed(spec, &f, last.ok() ? "empty field" : last.error());
    AppendKey(out, f, &first);
    bool appended;
    SLUICE_RETURN_IF_ERROR(AppendValue(f, last, depth, out, &appended));
    if (!appended) {
      out.resize(mark);
      first = was_first;
    }
  }
  out += '}';
  return Status::Ok();
}

Status RenderRequest(std::string_view proto, const MessageSpec& root, std::string* out) {
  size_t mark = out->size();
  Status st = Render(proto, root, 0, *out);
  if (!st.ok()) out->resize(mark);
  return st;
}

}  // namespace

Status TracesJsonToProto(std::string_view json, std::string* out) {
  return Transcode(json, AllSpecs().trace_req, out);
}
Status MetricsJsonToProto(std::string_view json, std::string* out) {
  return Transcode(json, AllSpecs().metrics_req, out);
}
Status LogsJsonToProto(std::string_view json, std::string* out) {
  return Transcode(json, AllSpecs().logs_req, out);
}

Status AppendTracesRequestJson(std::string_view proto, std::string* out) {
  return RenderRequest(proto, AllSpecs().trace_req, out);
}
Status AppendMetricsRequestJson(std::string_view proto, std::string* out) {
  return RenderRequest(proto, AllSpecs().metrics_req, out);
}
Status AppendLogsRequestJson(std::string_view proto, std::string* out) {
  return RenderRequest(proto, AllSpecs().logs_req, out);
}

}  // namespace sluice::wire::otlp
