#include "wire/otlp/json.h"

#include <simdjson.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "wire/proto_writer.h"

namespace sluice::wire::otlp {
namespace {

// How one JSON value becomes one protobuf field.
enum class Kind {
  kMessage,
  kString,
  kHexBytes,     // trace/span ids
  kBase64Bytes,  // AnyValue.bytesValue
  kBool,
  kVarint,  // int32, uint32, enums, int64, uint64
  kSint32,
  kFixed64,
  kSfixed64,
  kFixed32,
  kDouble,
};

struct MessageSpec;

struct FieldSpec {
  const char* json;   // lowerCamelCase
  const char* snake;  // original proto name
  uint32_t number;
  Kind kind;
  bool repeated = false;
  const MessageSpec* message = nullptr;
};

struct MessageSpec {
  const char* name;
  std::vector<FieldSpec> fields;
};

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
    any.fields = {{"stringValue", "string_value", 1, K::kString},
                  {"boolValue", "bool_value", 2, K::kBool},
                  {"intValue", "int_value", 3, K::kVarint},
                  {"doubleValue", "double_value", 4, K::kDouble},
                  {"arrayValue", "array_value", 5, K::kMessage, false, &array},
                  {"kvlistValue", "kvlist_value", 6, K::kMessage, false, &kvlist},
                  {"bytesValue", "bytes_value", 7, K::kBase64Bytes}};
    array.fields = {{"values", "values", 1, K::kMessage, true, &any}};
    kvlist.fields = {{"values", "values", 1, K::kMessage, true, &kv}};
    kv.fields = {{"key", "key", 1, K::kString}, {"value", "value", 2, K::kMessage, false, &any}};
    scope.fields = {{"name", "name", 1, K::kString},
                    {"version", "version", 2, K::kString},
                    {"attributes", "attributes", 3, K::kMessage, true, &kv},
                    {"droppedAttributesCount", "dropped_attributes_count", 4, K::kVarint}};
    resource.fields = {{"attributes", "attributes", 1, K::kMessage, true, &kv},
                       {"droppedAttributesCount", "dropped_attributes_count", 2, K::kVarint}};

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
                   {"kind", "kind", 6, K::kVarint},
                   {"startTimeUnixNano", "start_time_unix_nano", 7, K::kFixed64},
                   {"endTimeUnixNano", "end_time_unix_nano", 8, K::kFixed64},
                   {"attributes", "attributes", 9, K::kMessage, true, &kv},
                   {"droppedAttributesCount", "dropped_attributes_count", 10, K::kVarint},
                   {"events", "events", 11, K::kMessage, true, &event},
                   {"droppedEventsCount", "dropped_events_count", 12, K::kVarint},
                   {"links", "links", 13, K::kMessage, true, &link},
                   {"droppedLinksCount", "dropped_links_count", 14, K::kVarint},
                   {"status", "status", 15, K::kMessage, false, &status}};
    event.fields = {{"timeUnixNano", "time_unix_nano", 1, K::kFixed64},
                    {"name", "name", 2, K::kString},
                    {"attributes", "attributes", 3, K::kMessage, true, &kv},
                    {"droppedAttributesCount", "dropped_attributes_count", 4, K::kVarint}};
    link.fields = {{"traceId", "trace_id", 1, K::kHexBytes},
                   {"spanId", "span_id", 2, K::kHexBytes},
                   {"traceState", "trace_state", 3, K::kString},
                   {"attributes", "attributes", 4, K::kMessage, true, &kv},
                   {"droppedAttributesCount", "dropped_attributes_count", 5, K::kVarint},
                   {"flags", "flags", 6, K::kFixed32}};
    status.fields = {{"message", "message", 2, K::kString}, {"code", "code", 3, K::kVarint}};

    logs_req.fields = {{"resourceLogs", "resource_logs", 1, K::kMessage, true, &resource_logs}};
    resource_logs.fields = {{"resource", "resource", 1, K::kMessage, false, &resource},
                            {"scopeLogs", "scope_logs", 2, K::kMessage, true, &scope_logs},
                            {"schemaUrl", "schema_url", 3, K::kString}};
    scope_logs.fields = {{"scope", "scope", 1, K::kMessage, false, &scope},
                         {"logRecords", "log_records", 2, K::kMessage, true, &log_record},
                         {"schemaUrl", "schema_url", 3, K::kString}};
    log_record.fields = {{"timeUnixNano", "time_unix_nano", 1, K::kFixed64},
                         {"observedTimeUnixNano", "observed_time_unix_nano", 11, K::kFixed64},
                         {"severityNumber", "severity_number", 2, K::kVarint},
                         {"severityText", "severity_text", 3, K::kString},
                         {"body", "body", 5, K::kMessage, false, &any},
                         {"attributes", "attributes", 6, K::kMessage, true, &kv},
                         {"droppedAttributesCount", "dropped_attributes_count", 7, K::kVarint},
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
    metric.fields = {
        {"name", "name", 1, K::kString},
        {"description", "description", 2, K::kString},
        {"unit", "unit", 3, K::kString},
        {"gauge", "gauge", 5, K::kMessage, false, &gauge},
        {"sum", "sum", 7, K::kMessage, false, &sum},
        {"histogram", "histogram", 9, K::kMessage, false, &histogram},
        {"exponentialHistogram", "exponential_histogram", 10, K::kMessage, false, &exp_histogram},
        {"summary", "summary", 11, K::kMessage, false, &summary},
        {"metadata", "metadata", 12, K::kMessage, true, &kv}};
    gauge.fields = {{"dataPoints", "data_points", 1, K::kMessage, true, &number_point}};
    sum.fields = {{"dataPoints", "data_points", 1, K::kMessage, true, &number_point},
                  {"aggregationTemporality", "aggregation_temporality", 2, K::kVarint},
                  {"isMonotonic", "is_monotonic", 3, K::kBool}};
    histogram.fields = {{"dataPoints", "data_points", 1, K::kMessage, true, &histogram_point},
                        {"aggregationTemporality", "aggregation_temporality", 2, K::kVarint}};
    exp_histogram.fields = {{"dataPoints", "data_points", 1, K::kMessage, true, &exp_point},
                            {"aggregationTemporality", "aggregation_temporality", 2, K::kVarint}};
    summary.fields = {{"dataPoints", "data_points", 1, K::kMessage, true, &summary_point}};
    number_point.fields = {{"attributes", "attributes", 7, K::kMessage, true, &kv},
                           {"startTimeUnixNano", "start_time_unix_nano", 2, K::kFixed64},
                           {"timeUnixNano", "time_unix_nano", 3, K::kFixed64},
                           {"asDouble", "as_double", 4, K::kDouble},
                           {"asInt", "as_int", 6, K::kSfixed64},
                           {"exemplars", "exemplars", 5, K::kMessage, true, &exemplar},
                           {"flags", "flags", 8, K::kVarint}};
    histogram_point.fields = {{"attributes", "attributes", 9, K::kMessage, true, &kv},
                              {"startTimeUnixNano", "start_time_unix_nano", 2, K::kFixed64},
                              {"timeUnixNano", "time_unix_nano", 3, K::kFixed64},
                              {"count", "count", 4, K::kFixed64},
                              {"sum", "sum", 5, K::kDouble},
                              {"bucketCounts", "bucket_counts", 6, K::kFixed64, true},
                              {"explicitBounds", "explicit_bounds", 7, K::kDouble, true},
                              {"exemplars", "exemplars", 8, K::kMessage, true, &exemplar},
                              {"flags", "flags", 10, K::kVarint},
                              {"min", "min", 11, K::kDouble},
                              {"max", "max", 12, K::kDouble}};
    exp_point.fields = {{"attributes", "attributes", 1, K::kMessage, true, &kv},
                        {"startTimeUnixNano", "start_time_unix_nano", 2, K::kFixed64},
                        {"timeUnixNano", "time_unix_nano", 3, K::kFixed64},
                        {"count", "count", 4, K::kFixed64},
                        {"sum", "sum", 5, K::kDouble},
                        {"scale", "scale", 6, K::kSint32},
                        {"zeroCount", "zero_count", 7, K::kFixed64},
                        {"positive", "positive", 8, K::kMessage, false, &buckets},
                        {"negative", "negative", 9, K::kMessage, false, &buckets},
                        {"flags", "flags", 10, K::kVarint},
                        {"exemplars", "exemplars", 11, K::kMessage, true, &exemplar},
                        {"min", "min", 12, K::kDouble},
                        {"max", "max", 13, K::kDouble},
                        {"zeroThreshold", "zero_threshold", 14, K::kDouble}};
    buckets.fields = {{"offset", "offset", 1, K::kSint32},
                      {"bucketCounts", "bucket_counts", 2, K::kVarint, true}};
    summary_point.fields = {{"attributes", "attributes", 7, K::kMessage, true, &kv},
                            {"startTimeUnixNano", "start_time_unix_nano", 2, K::kFixed64},
                            {"timeUnixNano", "time_unix_nano", 3, K::kFixed64},
                            {"count", "count", 4, K::kFixed64},
                            {"sum", "sum", 5, K::kDouble},
                            {"quantileValues", "quantile_values", 6, K::kMessage, true, &quantile},
                            {"flags", "flags", 8, K::kVarint}};
    quantile.fields = {{"quantile", "quantile", 1, K::kDouble}, {"value", "value", 2, K::kDouble}};
    exemplar.fields = {{"filteredAttributes", "filtered_attributes", 7, K::kMessage, true, &kv},
                       {"timeUnixNano", "time_unix_nano", 2, K::kFixed64},
                       {"asDouble", "as_double", 3, K::kDouble},
                       {"asInt", "as_int", 6, K::kSfixed64},
                       {"spanId", "span_id", 4, K::kHexBytes},
                       {"traceId", "trace_id", 5, K::kHexBytes}};
  }
};

const Specs& AllSpecs() {
  static const Specs specs;
  return specs;
}

constexpr int kMaxDepth = 64;

Status Bad(const std::string& path, const std::string& why) {
  return Status::InvalidArgument(path + ": " + why);
}

bool HexDecode(std::string_view hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  out->resize(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int v = 0;
    for (int k = 0; k < 2; ++k) {
      char c = hex[i + static_cast<size_t>(k)];
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0) return false;
      v = v * 16 + d;
    }
    (*out)[i / 2] = static_cast<char>(v);
  }
  return true;
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
    if (d != std::floor(d)) return false;
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
    case Kind::kVarint:
    case Kind::kSint32:
    case Kind::kFixed64:
    case Kind::kSfixed64:
    case Kind::kFixed32: {
      bool is_signed =
          f.kind == Kind::kVarint || f.kind == Kind::kSint32 || f.kind == Kind::kSfixed64;
      uint64_t n;
      if (!AsInt(v, is_signed, &n)) return Bad(path, "expected an integer");
      if (f.kind == Kind::kFixed64 || f.kind == Kind::kSfixed64)
        w.Fixed64(f.number, n);
      else if (f.kind == Kind::kFixed32)
        w.Fixed32(f.number, static_cast<uint32_t>(n));
      else if (f.kind == Kind::kSint32) {
        auto s = static_cast<int32_t>(static_cast<int64_t>(n));
        w.Varint(f.number, (static_cast<uint32_t>(s) << 1) ^ static_cast<uint32_t>(s >> 31));
      } else {
        w.Varint(f.number, n);
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

}  // namespace sluice::wire::otlp
