// Interoperability with the OpenTelemetry JavaScript SDK: tests/interop/js/send.mjs
// exports a fixed set of traces, logs and metrics with the SDK's own OTLP
// exporters (gRPC, HTTP/protobuf, HTTP/JSON) to the real binary. Spans must
// reach the file exporter, and logs and metrics the otlphttp exporter's
// backend, each exactly once and field for field.
//
// node and the SDK (tests/interop/js/node_modules) are installed by
// `make js-deps`; without them these tests fail rather than skip.

#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "integration/harness.h"
#include "support/fault_backend.h"
#include "support/otlp_builders.h"

namespace sluice::testing {
namespace {

using LogsRequest = otlp_pb::collector::logs::v1::ExportLogsServiceRequest;
using MetricsRequest = otlp_pb::collector::metrics::v1::ExportMetricsServiceRequest;

// The data send.mjs makes; keep in step with it.
constexpr uint64_t kBaseNanos = 1700000000123456789ull;
constexpr int kChildren = 4;
constexpr int kBatchSpans = 40;
constexpr int kSpans = 1 + kChildren + 1 + kBatchSpans + 1;
constexpr int kLogs = 5;
constexpr const char* kScope = "sluice-interop";
constexpr const char* kScopeVersion = "0.1.0";

// send.mjs's timestamps: kBaseNanos + `ms` milliseconds, as OTLP/JSON writes them.
std::string At(int ms) {
  return std::to_string(kBaseNanos + static_cast<uint64_t>(ms) * 1000000);
}

// Attribute key → its AnyValue as minified OTLP/JSON, e.g. {"intValue":"200"}.
using Attributes = std::map<std::string, std::string>;

struct Event {
  std::string name;
  std::string time;
  Attributes attributes;
};

struct Link {
  std::string trace_id;
  std::string span_id;
  Attributes attributes;
};

// One line of the file exporter, parsed so that field order does not matter.
struct ExportedSpan {
  std::string line;
  Attributes resource;
  std::string scope_name;
  std::string scope_version;
  std::string trace_id;
  std::string span_id;
  std::string parent_span_id;
  int64_t flags = -1;
  std::string name;
  int64_t kind = -1;
  std::string start;
  std::string end;
  Attributes attributes;
  std::vector<Event> events;
  std::vector<Link> links;
  int64_t status_code = 0;
  std::string status_message;
};

std::string String(simdjson::dom::object o, const char* key) {
  std::string_view v;
  return o[key].get(v) == simdjson::SUCCESS ? std::string(v) : std::string();
}

int64_t Int(simdjson::dom::object o, const char* key, int64_t missing) {
  int64_t v;
  return o[key].get(v) == simdjson::SUCCESS ? v : missing;
}

Attributes ParseAttributes(simdjson::dom::object o) {
  Attributes out;
  simdjson::dom::array list;
  if (o["attributes"].get(list) != simdjson::SUCCESS) return out;
  for (simdjson::dom::element kv : list) {
    simdjson::dom::element value;
    std::string key = String(kv.get_object().value(), "key");
    out[key] = kv["value"].get(value) == simdjson::SUCCESS ? simdjson::minify(value) : "";
  }
  return out;
}

bool ParseSpan(simdjson::dom::parser& parser, const std::string& line, ExportedSpan* span) {
  simdjson::dom::object o;
  if (parser.parse(line).get(o) != simdjson::SUCCESS) return false;
  span->line = line;
  simdjson::dom::object part;
  if (o["resource"].get(part) == simdjson::SUCCESS) span->resource = ParseAttributes(part);
  if (o["scope"].get(part) == simdjson::SUCCESS) {
    span->scope_name = String(part, "name");
    span->scope_version = String(part, "version");
  }
  span->trace_id = String(o, "traceId");
  span->span_id = String(o, "spanId");
  span->parent_span_id = String(o, "parentSpanId");
  span->flags = Int(o, "flags", -1);
  span->name = String(o, "name");
  span->kind = Int(o, "kind", -1);
  span->start = String(o, "startTimeUnixNano");
  span->end = String(o, "endTimeUnixNano");
  span->attributes = ParseAttributes(o);
  simdjson::dom::array list;
  if (o["events"].get(list) == simdjson::SUCCESS) {
    for (simdjson::dom::element e : list) {
      simdjson::dom::object eo = e.get_object().value();
      span->events.push_back({String(eo, "name"), String(eo, "timeUnixNano"), ParseAttributes(eo)});
    }
  }
  if (o["links"].get(list) == simdjson::SUCCESS) {
    for (simdjson::dom::element l : list) {
      simdjson::dom::object lo = l.get_object().value();
      span->links.push_back({String(lo, "traceId"), String(lo, "spanId"), ParseAttributes(lo)});
    }
  }
  if (o["status"].get(part) == simdjson::SUCCESS) {
    span->status_code = Int(part, "code", 0);
    span->status_message = String(part, "message");
  }
  return true;
}

// Every span line of the file exporter's output, and how many lines there were.
std::vector<ExportedSpan> ReadSpans(const TempDir& dir, size_t* lines) {
  std::vector<ExportedSpan> spans;
  *lines = 0;
  simdjson::dom::parser parser;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir.Sub("out"), ec)) {
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      ++*lines;
      ExportedSpan span;
      if (ParseSpan(parser, line, &span)) spans.push_back(std::move(span));
    }
  }
  return spans;
}

// The ids send.mjs printed: span name → {trace id, span id, parent span id}.
struct SentIds {
  std::string trace_id;
  std::string span_id;
  std::string parent_span_id;
};
struct Sent {
  std::map<std::string, SentIds> spans;
  std::string log_trace_id;  // of the log record made inside the root span
  std::string log_span_id;
};

Sent ParseSent(const std::string& output) {
  Sent sent;
  static const std::regex span_re(R"(^span (.+) ([0-9a-f]{32}) ([0-9a-f]{16}) ([0-9a-f]{16}|-)$)");
  static const std::regex log_re(R"(^log [0-9]+ ([0-9a-f]{32}) ([0-9a-f]{16})$)");
  std::istringstream in(output);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, span_re)) {
      sent.spans[m[1].str()] = {m[2].str(), m[3].str(), m[4].str() == "-" ? "" : m[4].str()};
    } else if (std::regex_match(line, m, log_re)) {
      sent.log_trace_id = m[1].str();
      sent.log_span_id = m[2].str();
    }
  }
  return sent;
}

// What the otlphttp exporter delivered.
class Backend {
 public:
  Backend()
      : server_([](const BackendRequest&) { return Fault{}; },
                [this](const BackendRequest& r) {
                  std::lock_guard<std::mutex> lock(mu_);
                  if (r.path == "/v1/logs") {
                    LogsRequest req;
                    if (req.ParseFromString(r.body)) logs_.push_back(std::move(req));
                  } else if (r.path == "/v1/metrics") {
                    MetricsRequest req;
                    if (req.ParseFromString(r.body)) metrics_.push_back(std::move(req));
                  }
                }) {}

  bool Start() { return server_.Start(); }
  std::string url() const { return server_.url(); }

  // Log records and metrics received so far.
  size_t LogRecords() const {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (const auto& req : logs_) {
      for (const auto& rl : req.resource_logs()) {
        for (const auto& sl : rl.scope_logs()) n += sl.log_records_size();
      }
    }
    return n;
  }
  size_t Metrics() const {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (const auto& req : metrics_) {
      for (const auto& rm : req.resource_metrics()) {
        for (const auto& sm : rm.scope_metrics()) n += sm.metrics_size();
      }
    }
    return n;
  }
  std::vector<LogsRequest> logs() const {
    std::lock_guard<std::mutex> lock(mu_);
    return logs_;
  }
  std::vector<MetricsRequest> metrics() const {
    std::lock_guard<std::mutex> lock(mu_);
    return metrics_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<LogsRequest> logs_;
  std::vector<MetricsRequest> metrics_;
  FaultBackend server_;
};

std::string Config(const TempDir& dir, const std::string& backend) {
  return R"(
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
      http:
        endpoint: 127.0.0.1:0
exporters:
  file:
    path: )" +
         dir.Sub("out/spans.jsonl") + R"(
  otlphttp:
    endpoint: )" +
         backend + R"(
    compression: none
    retry_on_failure:
      initial_interval: 10ms
      max_interval: 100ms
storage:
  directory: )" +
         dir.Sub("data") + R"(
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
    logs:
      receivers: [otlp]
      exporters: [otlphttp]
    metrics:
      receivers: [otlp]
      exporters: [otlphttp]
)";
}

// Why the JS side cannot run, or "" when it can.
std::string MissingJsDependency() {
  const std::string node = SLUICE_NODE;
  if (node.empty() || ::access(node.c_str(), X_OK) != 0) {
    return "node was not found when the build was configured (SLUICE_NODE=\"" + node +
           "\"); run `make js-deps` and configure again";
  }
  const std::string sdk =
      std::string(SLUICE_INTEROP_JS_DIR) + "/node_modules/@opentelemetry/sdk-trace-base";
  if (!std::filesystem::is_directory(sdk)) {
    return "the OpenTelemetry JS SDK is not installed (" + sdk + " is missing); run `make js-deps`";
  }
  return "";
}

std::string AttributeString(const std::string& v) {
  return R"({"stringValue":")" + v + R"("})";
}
std::string AttributeInt(int64_t v) {
  return R"({"intValue":")" + std::to_string(v) + R"("})";
}

const otlp_pb::common::v1::AnyValue* Find(
    const google::protobuf::RepeatedPtrField<otlp_pb::common::v1::KeyValue>& attributes,
    const std::string& key) {
  for (const auto& kv : attributes) {
    if (kv.key() == key) return &kv.value();
  }
  return nullptr;
}

void CheckSpans(const TempDir& dir, const Sent& sent, const std::string& service) {
  ASSERT_EQ(sent.spans.size(), static_cast<size_t>(kSpans)) << "send.mjs printed other spans";
  size_t lines = 0;
  std::vector<ExportedSpan> spans = ReadSpans(dir, &lines);
  EXPECT_EQ(lines, static_cast<size_t>(kSpans)) << "each span exactly once";
  ASSERT_EQ(spans.size(), lines) << "every line is OTLP/JSON";

  std::map<std::string, const ExportedSpan*> by_name;
  for (const ExportedSpan& s : spans) {
    EXPECT_TRUE(by_name.emplace(s.name, &s).second) << "span twice: " << s.line;
  }
  const SentIds& root = sent.spans.at("GET /orders/{id}");
  for (const auto& [name, ids] : sent.spans) {
    auto it = by_name.find(name);
    ASSERT_NE(it, by_name.end()) << "span " << name << " never reached the file";
    const ExportedSpan& s = *it->second;
    SCOPED_TRACE(s.line);
    EXPECT_EQ(s.trace_id, ids.trace_id);
    EXPECT_EQ(s.span_id, ids.span_id);
    EXPECT_EQ(s.parent_span_id, ids.parent_span_id);
    EXPECT_EQ(s.flags, 0x101) << "sampled, with the is-remote bit known";
    EXPECT_EQ(s.resource,
              (Attributes{{"service.name", AttributeString(service)},
                          {"service.version", AttributeString("1.2.3")},
                          {"deployment.environment.name", AttributeString("interop")}}));
    EXPECT_EQ(s.scope_name, kScope);
    EXPECT_EQ(s.scope_version, kScopeVersion);
    if (name != "async.consume") {
      EXPECT_EQ(s.trace_id, root.trace_id);
    }
  }

  const ExportedSpan& r = *by_name.at("GET /orders/{id}");
  EXPECT_EQ(r.kind, 2);  // SERVER
  EXPECT_EQ(r.start, At(0));
  EXPECT_EQ(r.end, At(100));
  EXPECT_EQ(
      r.attributes,
      (Attributes{
          {"http.route", AttributeString("/orders/{id}")},
          {"http.response.status_code", AttributeInt(200)},
          {"cache.hit", R"({"boolValue":true})"},
          {"sampling.ratio", R"({"doubleValue":0.25})"},
          {"tags", R"({"arrayValue":{"values":[{"stringValue":"a"},{"stringValue":"b"}]}})"}}))
      << r.line;
  ASSERT_EQ(r.events.size(), 1u) << r.line;
  EXPECT_EQ(r.events[0].name, "request.received");
  EXPECT_EQ(r.events[0].time, At(1));
  EXPECT_EQ(r.events[0].attributes, (Attributes{{"bytes", AttributeInt(512)}}));
  EXPECT_EQ(r.status_code, 1);  // OK
  EXPECT_EQ(r.status_message, "");

  for (int i = 0; i < kChildren; ++i) {
    const ExportedSpan& c = *by_name.at("query-" + std::to_string(i));
    SCOPED_TRACE(c.line);
    EXPECT_EQ(c.kind, 3);  // CLIENT
    EXPECT_EQ(c.start, At(10 + i));
    EXPECT_EQ(c.end, At(20 + i));
    EXPECT_EQ(c.attributes,
              (Attributes{{"db.row", AttributeInt(i)},
                          {"db.statement", AttributeString("SELECT " + std::to_string(i))}}));
    ASSERT_EQ(c.events.size(), 1u);
    EXPECT_EQ(c.events[0].name, "retry");
    EXPECT_EQ(c.events[0].time, At(10 + i));
    EXPECT_EQ(c.events[0].attributes, (Attributes{{"attempt", AttributeInt(i)}}));
    EXPECT_EQ(c.status_code, i % 2 == 1 ? 2 : 0);  // ERROR for the odd ones, else UNSET
    EXPECT_EQ(c.status_message, i % 2 == 1 ? "failed " + std::to_string(i) : "");
  }

  const ExportedSpan& d = *by_name.at("decode");
  EXPECT_EQ(d.parent_span_id, sent.spans.at("query-0").span_id);
  EXPECT_EQ(d.kind, 1);  // INTERNAL
  EXPECT_EQ(d.start, At(11));
  EXPECT_EQ(d.end, At(12));
  EXPECT_TRUE(d.attributes.empty() && d.events.empty() && d.links.empty()) << d.line;

  for (int i = 0; i < kBatchSpans; ++i) {
    const ExportedSpan& b = *by_name.at("batch-" + std::to_string(i));
    EXPECT_EQ(b.start, At(30 + i)) << b.line;
    EXPECT_EQ(b.end, At(31 + i)) << b.line;
    EXPECT_EQ(b.attributes, (Attributes{{"batch.index", AttributeInt(i)}})) << b.line;
  }

  const ExportedSpan& a = *by_name.at("async.consume");
  EXPECT_NE(a.trace_id, root.trace_id);
  EXPECT_EQ(a.parent_span_id, "");
  EXPECT_EQ(a.kind, 5);  // CONSUMER
  EXPECT_EQ(a.start, At(200));
  EXPECT_EQ(a.end, At(201));
  ASSERT_EQ(a.links.size(), 1u) << a.line;
  EXPECT_EQ(a.links[0].trace_id, root.trace_id);
  EXPECT_EQ(a.links[0].span_id, root.span_id);
  EXPECT_EQ(a.links[0].attributes, (Attributes{{"link.kind", AttributeString("follows_from")}}));
}

void CheckResource(const otlp_pb::resource::v1::Resource& resource, const std::string& service) {
  const auto* name = Find(resource.attributes(), "service.name");
  ASSERT_NE(name, nullptr) << resource.DebugString();
  EXPECT_EQ(name->string_value(), service);
}

void CheckLogs(const Backend& backend, const Sent& sent, const std::string& service) {
  std::map<std::string, otlp_pb::logs::v1::LogRecord> by_body;
  size_t records = 0;
  for (const auto& req : backend.logs()) {
    for (const auto& rl : req.resource_logs()) {
      CheckResource(rl.resource(), service);
      for (const auto& sl : rl.scope_logs()) {
        EXPECT_EQ(sl.scope().name(), kScope);
        EXPECT_EQ(sl.scope().version(), kScopeVersion);
        for (const auto& record : sl.log_records()) {
          ++records;
          by_body[record.body().string_value()] = record;
        }
      }
    }
  }
  EXPECT_EQ(records, static_cast<size_t>(kLogs)) << "each log record exactly once";
  for (int i = 0; i < kLogs; ++i) {
    auto it = by_body.find("log line " + std::to_string(i));
    ASSERT_NE(it, by_body.end()) << "log record " << i << " was not forwarded";
    const auto& record = it->second;
    SCOPED_TRACE(record.DebugString());
    const bool error = i == kLogs - 1;
    EXPECT_EQ(std::to_string(record.time_unix_nano()), At(300 + i));
    EXPECT_EQ(std::to_string(record.observed_time_unix_nano()), At(400 + i));
    EXPECT_EQ(record.severity_number(), error ? 17 : 9);  // ERROR, INFO
    EXPECT_EQ(record.severity_text(), error ? "ERROR" : "INFO");
    ASSERT_EQ(record.attributes_size(), 2);
    EXPECT_EQ(record.attributes(0).key(), "log.index");
    EXPECT_EQ(record.attributes(0).value().int_value(), i);
    EXPECT_EQ(record.attributes(1).key(), "user.id");
    EXPECT_EQ(record.attributes(1).value().string_value(), "u-" + std::to_string(i));
    EXPECT_EQ(Hex(record.trace_id()), error ? sent.log_trace_id : "");
    EXPECT_EQ(Hex(record.span_id()), error ? sent.log_span_id : "");
  }
  EXPECT_EQ(sent.log_span_id, sent.spans.at("GET /orders/{id}").span_id);
}

void CheckMetrics(const Backend& backend, const std::string& service) {
  std::map<std::string, otlp_pb::metrics::v1::Metric> by_name;
  size_t metrics = 0;
  for (const auto& req : backend.metrics()) {
    for (const auto& rm : req.resource_metrics()) {
      CheckResource(rm.resource(), service);
      for (const auto& sm : rm.scope_metrics()) {
        EXPECT_EQ(sm.scope().name(), kScope);
        for (const auto& m : sm.metrics()) {
          ++metrics;
          by_name[m.name()] = m;
        }
      }
    }
  }
  EXPECT_EQ(metrics, 3u) << "each metric exactly once";
  constexpr int kCumulative = 2;

  ASSERT_TRUE(by_name.count("js.requests"));
  const auto& requests = by_name["js.requests"];
  EXPECT_EQ(requests.description(), "requests served");
  EXPECT_EQ(requests.unit(), "{request}");
  ASSERT_TRUE(requests.has_sum()) << requests.DebugString();
  EXPECT_TRUE(requests.sum().is_monotonic());
  EXPECT_EQ(requests.sum().aggregation_temporality(), kCumulative);
  std::map<std::string, int64_t> per_route;
  for (const auto& p : requests.sum().data_points()) {
    ASSERT_EQ(p.value_case(), otlp_pb::metrics::v1::NumberDataPoint::kAsInt) << p.DebugString();
    const auto* route = Find(p.attributes(), "route");
    ASSERT_NE(route, nullptr);
    per_route[route->string_value()] = p.as_int();
    EXPECT_NE(p.time_unix_nano(), 0u);
  }
  EXPECT_EQ(per_route, (std::map<std::string, int64_t>{{"/a", 3}, {"/b", 2}}));

  ASSERT_TRUE(by_name.count("js.latency"));
  const auto& latency = by_name["js.latency"];
  EXPECT_EQ(latency.unit(), "ms");
  ASSERT_TRUE(latency.has_histogram()) << latency.DebugString();
  EXPECT_EQ(latency.histogram().aggregation_temporality(), kCumulative);
  ASSERT_EQ(latency.histogram().data_points_size(), 1);
  const auto& h = latency.histogram().data_points(0);
  EXPECT_EQ(h.count(), 3u);
  EXPECT_DOUBLE_EQ(h.sum(), 270);
  EXPECT_DOUBLE_EQ(h.min(), 5);
  EXPECT_DOUBLE_EQ(h.max(), 250);
  // The SDK's default bounds: 5 falls in (0,5], 15 in (10,25], 250 in (100,250].
  ASSERT_EQ(h.explicit_bounds_size(), 15) << h.DebugString();
  ASSERT_EQ(h.bucket_counts_size(), 16);
  std::vector<uint64_t> counts(h.bucket_counts().begin(), h.bucket_counts().end());
  std::vector<uint64_t> expected(16, 0);
  expected[1] = expected[3] = expected[7] = 1;
  EXPECT_EQ(counts, expected);

  ASSERT_TRUE(by_name.count("js.queue.depth"));
  const auto& depth = by_name["js.queue.depth"];
  ASSERT_TRUE(depth.has_gauge()) << depth.DebugString();
  ASSERT_EQ(depth.gauge().data_points_size(), 1);
  EXPECT_DOUBLE_EQ(depth.gauge().data_points(0).as_double(), 7);
  const auto* queue = Find(depth.gauge().data_points(0).attributes(), "queue");
  ASSERT_NE(queue, nullptr);
  EXPECT_EQ(queue->string_value(), "q1");
}

enum class Compression { kNone, kGzip };

// Starts sluice, runs send.mjs against it with `protocol`, and checks all it
// stored and forwarded.
void SendWithJsSdkAndCheck(const std::string& protocol, Compression compression) {
  const std::string missing = MissingJsDependency();
  ASSERT_EQ(missing, "");

  TempDir dir;
  Backend backend;
  ASSERT_TRUE(backend.Start());
  SluiceProcess sluice(dir, Config(dir, backend.url()));
  ASSERT_TRUE(sluice.WaitStarted()) << sluice.process().Output();
  ASSERT_NE(sluice.otlp_grpc(), "") << sluice.process().Output();

  const std::string service = "js-interop-" + protocol;
  RunResult sender = RunToCompletion(
      SLUICE_NODE,
      {std::string(SLUICE_INTEROP_JS_DIR) + "/send.mjs", "--protocol", protocol, "--endpoint",
       protocol == "grpc" ? sluice.otlp_grpc() : sluice.otlp(), "--service", service,
       "--compression", compression == Compression::kGzip ? "gzip" : "none"},
      dir.path(), std::chrono::seconds(60));
  ASSERT_EQ(sender.exit_code, 0) << sender.output;
  ASSERT_NE(sender.output.find("exported traces=" + std::to_string(kSpans) +
                               " logs=" + std::to_string(kLogs) + " metrics=1"),
            std::string::npos)
      << sender.output;
  Sent sent = ParseSent(sender.output);

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  size_t lines = 0;
  while (std::chrono::steady_clock::now() < deadline &&
         (ReadSpans(dir, &lines).size() < static_cast<size_t>(kSpans) ||
          backend.LogRecords() < static_cast<size_t>(kLogs) || backend.Metrics() < 3)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Long enough for a duplicate to show.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  CheckSpans(dir, sent, service);
  CheckLogs(backend, sent, service);
  CheckMetrics(backend, service);

  HttpResult metrics = HttpGet(sluice.admin(), "/metrics");
  EXPECT_NE(metrics.body.find("sluice_receiver_accepted_spans_total{receiver=\"otlp\"} " +
                              std::to_string(kSpans)),
            std::string::npos)
      << metrics.body;

  sluice.process().Signal(SIGTERM);
  auto code = sluice.process().Wait(std::chrono::seconds(30));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << sluice.process().Output();
}

TEST(InteropJsTest, GrpcExportFromTheJsSdkIsStoredFieldForField) {
  SendWithJsSdkAndCheck("grpc", Compression::kNone);
}

TEST(InteropJsTest, HttpProtobufExportFromTheJsSdkIsStoredFieldForField) {
  SendWithJsSdkAndCheck("http/protobuf", Compression::kNone);
}

// The JSON encoding differs from protobuf's mapping: hex ids, 64-bit integers
// as strings, keys in the SDK's own order.
TEST(InteropJsTest, HttpJsonExportFromTheJsSdkKeepsHexIdsAndNanosecondTimes) {
  SendWithJsSdkAndCheck("http/json", Compression::kNone);
}

TEST(InteropJsTest, GzipGrpcMessagesFromTheJsSdkAreInflated) {
  SendWithJsSdkAndCheck("grpc", Compression::kGzip);
}

TEST(InteropJsTest, GzipHttpBodiesFromTheJsSdkAreInflated) {
  SendWithJsSdkAndCheck("http/json", Compression::kGzip);
}

}  // namespace
}  // namespace sluice::testing
