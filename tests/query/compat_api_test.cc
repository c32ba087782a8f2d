// Jaeger's query API and Loki's, answered from the log (docs/api.md,
// "Jaeger and Loki APIs"): a real service, OTLP in over HTTP, the answers
// read off the admin port.

#include <gtest/gtest.h>

#include <ctime>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/otlp_builders.h"
#include "support/service_harness.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace sluice::query {
namespace {

namespace pb = testing::otlp_pb;
using TraceRequest = pb::collector::trace::v1::ExportTraceServiceRequest;
using LogsRequest = pb::collector::logs::v1::ExportLogsServiceRequest;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kMs = 1'000'000;

void Attr(pb::common::v1::KeyValue* kv, const std::string& key, const std::string& value) {
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}

// The known trace of the Jaeger tests, `base` ns from the epoch:
//   frontend (host.name web-1, scope shop-lib 1.2)
//     a1 "GET /checkout"  server, 250 ms, OK, typed attributes, an event
//     b2 "call payments"  client, child of a1
//   payments
//     c3 "charge"         server, child of b2, ERROR "card declined", a link
TraceRequest Checkout(int64_t base) {
  TraceRequest req;
  const std::string trace = std::string(8, '\x11') + std::string(8, '\x22');
  auto* rs = req.add_resource_spans();
  Attr(rs->mutable_resource()->add_attributes(), "service.name", "frontend");
  Attr(rs->mutable_resource()->add_attributes(), "host.name", "web-1");
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("shop-lib");
  ss->mutable_scope()->set_version("1.2");
  const auto t = [&](int64_t offset) { return static_cast<uint64_t>(base + offset); };

  auto* a = ss->add_spans();
  a->set_trace_id(trace);
  a->set_span_id(std::string(8, '\xa1'));
  a->set_name("GET /checkout");
  a->set_kind(pb::trace::v1::Span::SPAN_KIND_SERVER);
  a->set_start_time_unix_nano(t(0));
  a->set_end_time_unix_nano(t(250 * kMs + 999));  // microseconds truncate
  a->set_flags(0x101);                            // sampled, and has-is-remote
  a->set_trace_state("vendor=1");
  Attr(a->add_attributes(), "http.method", "GET");
  auto* kv = a->add_attributes();
  kv->set_key("http.status_code");
  kv->mutable_value()->set_int_value(200);
  kv = a->add_attributes();
  kv->set_key("retry");
  kv->mutable_value()->set_bool_value(true);
  kv = a->add_attributes();
  kv->set_key("ratio");
  kv->mutable_value()->set_double_value(0.5);
  kv = a->add_attributes();
  kv->set_key("payload");
  kv->mutable_value()->set_bytes_value(std::string("\x01\x02"));
  kv = a->add_attributes();
  kv->set_key("tags");
  kv->mutable_value()->mutable_array_value()->add_values()->set_string_value("a");
  kv->mutable_value()->mutable_array_value()->add_values()->set_string_value("b");
  a->mutable_status()->set_code(pb::trace::v1::Status::STATUS_CODE_OK);
  auto* event = a->add_events();
  event->set_time_unix_nano(t(1 * kMs));
  event->set_name("cache miss");
  Attr(event->add_attributes(), "cart", "c-42");

  auto* b = ss->add_spans();
  b->set_trace_id(trace);
  b->set_span_id(std::string(8, '\xb2'));
  b->set_parent_span_id(std::string(8, '\xa1'));
  b->set_name("call payments");
  b->set_kind(pb::trace::v1::Span::SPAN_KIND_CLIENT);
  b->set_start_time_unix_nano(t(10 * kMs));
  b->set_end_time_unix_nano(t(200 * kMs));

  rs = req.add_resource_spans();
  Attr(rs->mutable_resource()->add_attributes(), "service.name", "payments");
  auto* c = rs->add_scope_spans()->add_spans();
  c->set_trace_id(trace);
  c->set_span_id(std::string(8, '\xc3'));
  c->set_parent_span_id(std::string(8, '\xb2'));
  c->set_name("charge");
  c->set_kind(pb::trace::v1::Span::SPAN_KIND_SERVER);
  c->set_start_time_unix_nano(t(20 * kMs));
  c->set_end_time_unix_nano(t(190 * kMs));
  c->mutable_status()->set_code(pb::trace::v1::Status::STATUS_CODE_ERROR);
  c->mutable_status()->set_message("card declined");
  auto* link = c->add_links();
  link->set_trace_id(std::string(16, '\x33'));
  link->set_span_id(std::string(8, '\x44'));
  return req;
}

// Shop trace `n`: frontend serves "GET /checkout" (100 + 20 n ms) and calls
// payments, whose "charge" fails when n is a multiple of five and pays by
// card (odd n) or cash. Starts n seconds after `base`.
TraceRequest Shop(int n, int64_t base) {
  TraceRequest req;
  std::string id(16, '\x05');
  id[0] = static_cast<char>(n);
  const uint64_t start = static_cast<uint64_t>(base + n * kSecond);
  const uint64_t end = start + static_cast<uint64_t>(100 + 20 * n) * kMs;
  auto span = [&](const char* service, char self, char parent, const char* name,
                  pb::trace::v1::Span::SpanKind kind, uint64_t from, uint64_t to) {
    auto* rs = req.add_resource_spans();
    Attr(rs->mutable_resource()->add_attributes(), "service.name", service);
    auto* s = rs->add_scope_spans()->add_spans();
    s->set_trace_id(id);
    s->set_span_id(std::string(7, self) + static_cast<char>(n));
    if (parent != 0) s->set_parent_span_id(std::string(7, parent) + static_cast<char>(n));
    s->set_name(name);
    s->set_kind(kind);
    s->set_start_time_unix_nano(from);
    s->set_end_time_unix_nano(to);
    return s;
  };
  span("frontend", 1, 0, "GET /checkout", pb::trace::v1::Span::SPAN_KIND_SERVER, start, end);
  span("frontend", 2, 1, "call payments", pb::trace::v1::Span::SPAN_KIND_CLIENT, start + kMs,
       end - kMs);
  auto* charge = span("payments", 3, 2, "charge", pb::trace::v1::Span::SPAN_KIND_SERVER,
                      start + 2 * kMs, end - 2 * kMs);
  Attr(charge->add_attributes(), "payment.method", n % 2 ? "card" : "cash");
  if (n % 5 == 0) charge->mutable_status()->set_code(pb::trace::v1::Status::STATUS_CODE_ERROR);
  return req;
}

std::string ShopId(int n) {
  std::string id(16, '\x05');
  id[0] = static_cast<char>(n);
  return testing::Hex(id);
}

// The trace ids of a Jaeger "data" array, in order.
std::vector<std::string> TraceIds(const std::string& json) {
  std::vector<std::string> out;
  static const std::regex id(R"re(\{"traceID":"([0-9a-f]+)","spans")re");
  for (auto it = std::sregex_iterator(json.begin(), json.end(), id); it != std::sregex_iterator();
       ++it) {
    out.push_back((*it)[1].str());
  }
  return out;
}

std::set<std::string> IdSet(const std::string& json) {
  std::vector<std::string> ids = TraceIds(json);
  return {ids.begin(), ids.end()};
}

struct LogLine {
  int64_t time;
  int severity;
  std::string severity_text, body;
};

void AddLogs(LogsRequest& req, const std::vector<std::pair<std::string, std::string>>& resource,
             const std::vector<LogLine>& lines) {
  auto* rl = req.add_resource_logs();
  for (const auto& [k, v] : resource) Attr(rl->mutable_resource()->add_attributes(), k, v);
  auto* sl = rl->add_scope_logs();
  for (const LogLine& l : lines) {
    auto* r = sl->add_log_records();
    r->set_time_unix_nano(static_cast<uint64_t>(l.time));
    r->set_severity_number(static_cast<pb::logs::v1::SeverityNumber>(l.severity));
    r->set_severity_text(l.severity_text);
    r->mutable_body()->set_string_value(l.body);
  }
}

class CompatApiTest : public ::testing::Test {
 protected:
  // Whole seconds, ten minutes ago: microsecond and second times are exact.
  CompatApiTest() : base_((Clock::Real().NowUnixNanos() / kSecond - 600) * kSecond) {}

  std::string Config(bool connectors, const std::string& query_options = "") {
    std::string config = R"(
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
storage:
  directory: )" + dir_.Sub("data") +
                         R"(
query:
  enabled: true
)" + query_options;
    if (connectors) {
      config += R"(connectors:
  spanmetrics:
    metrics_flush_interval: 1s
  servicegraph:
    metrics_flush_interval: 1s
)";
    }
    config += R"(service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    traces:
      receivers: [otlp]
)";
    if (connectors) {
      config += R"(      exporters: [spanmetrics, servicegraph]
    metrics/derived:
      receivers: [spanmetrics, servicegraph]
)";
    }
    config += R"(    logs:
      receivers: [otlp]
)";
    return config;
  }
  void Start(bool connectors = false, const std::string& query_options = "") {
    service_ = testing::StartService(Config(connectors, query_options), registry_);
    ASSERT_NE(service_, nullptr);
    otlp_ = testing::AddressOf(*service_, "receiver otlp http ");
    admin_ = testing::AddressOf(*service_, "admin ");
  }
  void TearDown() override {
    if (service_ != nullptr) service_->Shutdown();
  }
  void Post(const std::string& path, const std::string& body, const std::string& tenant = "") {
    Headers headers = {{"Content-Type", "application/x-protobuf"}};
    if (!tenant.empty()) headers.emplace_back("X-Scope-OrgID", tenant);
    auto r = testing::HttpRequest("POST", otlp_, path, body, headers);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  void Send(const TraceRequest& req, const std::string& tenant = "") {
    Post("/v1/traces", req.SerializeAsString(), tenant);
  }
  void Send(const LogsRequest& req, const std::string& tenant = "") {
    Post("/v1/logs", req.SerializeAsString(), tenant);
  }
  testing::HttpResult Get(const std::string& target, const std::string& tenant = "") {
    Headers headers;
    if (!tenant.empty()) headers.emplace_back("X-Scope-OrgID", tenant);
    return testing::HttpRequest("GET", admin_, target, "", headers);
  }
  // A Loki query_range of `logql` with more parameters (`&limit=2`).
  testing::HttpResult Loki(const std::string& logql, const std::string& more = "",
                           const std::string& tenant = "") {
    return Get(testing::QueryTarget("/loki/api/v1/query_range", logql) + more, tenant);
  }
  // The "result" array of a Loki answer.
  static std::string Result(const std::string& body) {
    size_t from = body.find("\"result\":");
    size_t to = body.find(",\"stats\"");
    if (from == std::string::npos || to == std::string::npos) return body;
    return body.substr(from + 9, to - from - 9);
  }
  std::string Micros(int64_t offset_nanos) const {
    return std::to_string((base_ + offset_nanos) / 1000);
  }
  std::string Nanos(int64_t offset_nanos) const { return std::to_string(base_ + offset_nanos); }

  // The Loki test's records, from `base_`: checkout's (environment prod) at
  // 0, 1, 2 and 5 s, payments' (pod pay-1) at 3 and 4 s.
  void SendLogs(const std::string& tenant = "") {
    LogsRequest req;
    AddLogs(req, {{"service.name", "checkout"}, {"deployment.environment", "prod"}},
            {{base_, 9, "INFO", "order 1 accepted"},
             {base_ + 1 * kSecond, 17, "ERROR", "payment declined for order 2"},
             {base_ + 2 * kSecond, 13, "WARN", "retrying order 3"},
             {base_ + 5 * kSecond, 9, "INFO", "order 4 accepted"}});
    AddLogs(req, {{"service.name", "payments"}, {"k8s.pod.name", "pay-1"}},
            {{base_ + 3 * kSecond, 17, "ERROR", "card declined"},
             {base_ + 4 * kSecond, 0, "DEBUG", "heartbeat"}});
    Send(req, tenant);
  }

  const int64_t base_;
  testing::TempDir dir_;
  telemetry::Registry registry_;
  std::unique_ptr<pipeline::Service> service_;
  std::string otlp_, admin_;
};

constexpr const char* kCheckoutId = "11111111111111112222222222222222";

TEST_F(CompatApiTest, JaegerTraceTranslatesKindsStatusAttributesEventsLinksAndProcesses) {
  Start();
  Send(Checkout(base_));
  const std::string path = std::string("/api/traces/") + kCheckoutId;
  ASSERT_TRUE(testing::WaitUntil([&] { return Get(path).status == 200; })) << Get(path).body;

  const std::string id = kCheckoutId;
  const std::string scope = R"({"key":"otel.scope.name","type":"string","value":"shop-lib"},)"
                            R"({"key":"otel.scope.version","type":"string","value":"1.2"})";
  const std::string want =
      R"({"data":[{"traceID":")" + id +
      R"(","spans":[)"
      // a1: scope, attributes of every type, kind, status, trace state.
      R"({"traceID":")" +
      id +
      R"(","spanID":"a1a1a1a1a1a1a1a1","flags":1,)"
      R"("operationName":"GET /checkout","references":[],"startTime":)" +
      Micros(0) + R"(,"duration":250000,"tags":[)" + scope +
      R"(,{"key":"http.method","type":"string","value":"GET"},)"
      R"({"key":"http.status_code","type":"int64","value":200},)"
      R"({"key":"retry","type":"bool","value":true},)"
      R"({"key":"ratio","type":"float64","value":0.5},)"
      R"({"key":"payload","type":"binary","value":"AQI="},)"
      R"({"key":"tags","type":"string","value":"[\"a\",\"b\"]"},)"
      R"({"key":"span.kind","type":"string","value":"server"},)"
      R"({"key":"otel.status_code","type":"string","value":"OK"},)"
      R"({"key":"w3c.tracestate","type":"string","value":"vendor=1"}],)"
      R"("logs":[{"timestamp":)" +
      Micros(kMs) +
      R"(,"fields":[{"key":"event","type":"string","value":"cache miss"},)"
      R"({"key":"cart","type":"string","value":"c-42"}]}],"processID":"p1","warnings":null},)"
      // b2: its parent as CHILD_OF.
      R"({"traceID":")" +
      id +
      R"(","spanID":"b2b2b2b2b2b2b2b2","operationName":"call payments",)"
      R"("references":[{"refType":"CHILD_OF","traceID":")" +
      id + R"(","spanID":"a1a1a1a1a1a1a1a1"}],"startTime":)" + Micros(10 * kMs) +
      R"(,"duration":190000,"tags":[)" + scope +
      R"(,{"key":"span.kind","type":"string","value":"client"}],)"
      R"("logs":[],"processID":"p1","warnings":null},)"
      // c3: the error as error=true with its description, the link as
      // FOLLOWS_FROM, another process.
      R"({"traceID":")" +
      id +
      R"(","spanID":"c3c3c3c3c3c3c3c3","operationName":"charge",)"
      R"("references":[{"refType":"CHILD_OF","traceID":")" +
      id +
      R"(","spanID":"b2b2b2b2b2b2b2b2"},{"refType":"FOLLOWS_FROM",)"
      R"("traceID":"33333333333333333333333333333333","spanID":"4444444444444444"}],)"
      R"("startTime":)" +
      Micros(20 * kMs) +
      R"(,"duration":170000,"tags":[{"key":"span.kind","type":"string","value":"server"},)"
      R"({"key":"otel.status_code","type":"string","value":"ERROR"},)"
      R"({"key":"error","type":"bool","value":true},)"
      R"({"key":"otel.status_description","type":"string","value":"card declined"}],)"
      R"("logs":[],"processID":"p2","warnings":null}],)"
      R"("processes":{"p1":{"serviceName":"frontend","tags":[)"
      R"({"key":"host.name","type":"string","value":"web-1"}]},)"
      R"("p2":{"serviceName":"payments","tags":[]}},"warnings":null}],)"
      R"("total":0,"limit":0,"offset":0,"errors":null})";
  auto r = Get(path);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, want);
  EXPECT_EQ(r.Header("Content-Type"), "application/json");
}

TEST_F(CompatApiTest, JaegerTraceIdWithZeroHighHalfIsShownAndFoundAsSixteenDigits) {
  Start();
  TraceRequest req;
  auto* rs = req.add_resource_spans();
  Attr(rs->mutable_resource()->add_attributes(), "service.name", "frontend");
  auto* s = rs->add_scope_spans()->add_spans();
  s->set_trace_id(std::string(8, '\0') + std::string(8, '\x55'));
  s->set_span_id(std::string(8, '\x66'));
  s->set_name("ping");
  s->set_start_time_unix_nano(static_cast<uint64_t>(base_));
  s->set_end_time_unix_nano(static_cast<uint64_t>(base_ + kMs));
  Send(req);
  ASSERT_TRUE(
      testing::WaitUntil([&] { return Get("/api/traces/5555555555555555").status == 200; }));
  auto r = Get("/api/traces/5555555555555555");
  EXPECT_EQ(TraceIds(r.body), std::vector<std::string>{"5555555555555555"});
  EXPECT_NE(r.body.find(R"("references":[],)"), std::string::npos);
  EXPECT_NE(r.body.find(R"("tags":[],"logs":[])"), std::string::npos)
      << "no kind, no status, no scope: no tags";
  EXPECT_EQ(Get("/api/traces/00000000000000005555555555555555").status, 200);
}

TEST_F(CompatApiTest, JaegerSearchFiltersByServiceOperationTagsDurationAndTime) {
  Start();
  for (int n = 0; n < 10; ++n) Send(Shop(n, base_));
  auto search = [&](const std::string& query) { return Get("/api/traces?" + query); };
  ASSERT_TRUE(testing::WaitUntil([&] {
    return TraceIds(search("service=frontend&limit=100").body).size() == 10;
  })) << search("service=frontend").body.substr(0, 300);

  auto all = search("service=frontend&limit=100");
  EXPECT_EQ(all.status, 200);
  EXPECT_NE(all.body.find(R"(],"total":0,"limit":0,"offset":0,"errors":null})"), std::string::npos);
  EXPECT_EQ(TraceIds(search("service=payments&tags=%7B%22error%22%3A%22true%22%7D").body),
            (std::vector<std::string>{ShopId(5), ShopId(0)}))
      << "error=true is the failed-span condition; newest first";
  EXPECT_EQ(IdSet(search("service=payments&tag=payment.method:cash&limit=100").body),
            (std::set<std::string>{ShopId(0), ShopId(2), ShopId(4), ShopId(6), ShopId(8)}));
  EXPECT_EQ(IdSet(search("service=frontend&operation=GET%20%2Fcheckout&minDuration=250ms&"
                         "maxDuration=0.3s")
                      .body),
            (std::set<std::string>{ShopId(8), ShopId(9)}))
      << "100 + 20 n ms within [250, 300] ms";
  EXPECT_TRUE(TraceIds(search("service=frontend&operation=charge").body).empty())
      << "charge is a span of payments";
  EXPECT_EQ(TraceIds(search("service=frontend&limit=3").body),
            (std::vector<std::string>{ShopId(9), ShopId(8), ShopId(7)}));
  EXPECT_EQ(
      IdSet(search("service=frontend&start=" + Micros(5 * kSecond) + "&end=" + Micros(7 * kSecond))
                .body),
      (std::set<std::string>{ShopId(5), ShopId(6), ShopId(7)}));
  EXPECT_TRUE(TraceIds(search("service=frontend&lookback=1m").body).empty())
      << "lookback applies when start is not given";
  EXPECT_EQ(TraceIds(search("traceID=" + ShopId(3) + "&traceID=" + ShopId(4)).body),
            (std::vector<std::string>{ShopId(3), ShopId(4)}));

  EXPECT_EQ(
      search("").body,
      R"({"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":400,"msg":"parameter 'service' is required"}]})");
  for (const char* bad : {"service=frontend&minDuration=fast", "service=frontend&tags=%7Bbad",
                          "service=frontend&tags=%7B%22k%22%3A1%7D", "service=frontend&tag=novalue",
                          "service=frontend&start=yesterday", "service=frontend&limit=many",
                          "service=frontend&minDuration=2s&maxDuration=1s", "traceID=xyz"}) {
    auto r = search(bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_NE(r.body.find(R"({"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":400,)"),
              std::string::npos)
        << bad << ": " << r.body;
  }
  EXPECT_NE(search("service=frontend&tags=%7Bbad").body.find("malformed 'tags' parameter"),
            std::string::npos);

  auto missing = Get("/api/traces/00000000000000000000000000000abc");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(
      missing.body,
      R"({"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":404,"msg":"trace not found"}]})");
  EXPECT_EQ(Get("/api/traces/not-hex").status, 400);
  EXPECT_EQ(Get("/api/operations").status, 400) << "service is required";
  EXPECT_EQ(Get("/api/dependencies?endTs=soon").status, 400);
  EXPECT_EQ(Get("/api/v1/traces?service=frontend").status, 200) << "sluice's own routes still";
}

TEST_F(CompatApiTest, JaegerServicesOperationsAndDependenciesComeFromTheRollups) {
  Start(/*connectors=*/true);
  for (int n = 0; n < 10; ++n) Send(Shop(n, Clock::Real().NowUnixNanos() - 60 * kSecond));
  const std::string deps =
      "/api/dependencies?endTs=" + std::to_string(Clock::Real().NowUnixNanos() / kMs + 60'000) +
      "&lookback=3600000";
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return Get(deps).body.find("\"callCount\":10") != std::string::npos; },
      std::chrono::seconds(30)))
      << Get(deps).body;
  EXPECT_EQ(
      Get(deps).body,
      R"({"data":[{"parent":"frontend","child":"payments","callCount":10}],"total":0,"limit":0,"offset":0,"errors":null})");
  EXPECT_EQ(Get("/api/services").body,
            R"({"data":["frontend","payments"],"total":2,"limit":0,"offset":0,"errors":null})");
  EXPECT_EQ(
      Get("/api/services/frontend/operations").body,
      R"({"data":["GET /checkout","call payments"],"total":2,"limit":0,"offset":0,"errors":null})");
  EXPECT_EQ(
      Get("/api/operations?service=frontend").body,
      R"({"data":[{"name":"GET /checkout","spanKind":"server"},{"name":"call payments","spanKind":"client"}],"total":2,"limit":0,"offset":0,"errors":null})");
  EXPECT_EQ(
      Get("/api/operations?service=frontend&spanKind=client").body,
      R"({"data":[{"name":"call payments","spanKind":"client"}],"total":1,"limit":0,"offset":0,"errors":null})");
  EXPECT_EQ(Get("/api/dependencies?endTs=1000&lookback=1000").body,
            R"({"data":[],"total":0,"limit":0,"offset":0,"errors":null})")
      << "nothing in 1970";
}

TEST_F(CompatApiTest, JaegerServicesAndOperationsWithoutConnectorsComeFromTheSpans) {
  Start();
  for (int n = 0; n < 3; ++n) Send(Shop(n, Clock::Real().NowUnixNanos() - 60 * kSecond));
  ASSERT_TRUE(testing::WaitUntil([&] {
    return Get("/api/services").body.find(R"("data":["frontend","payments"])") != std::string::npos;
  })) << Get("/api/services").body;
  EXPECT_EQ(
      Get("/api/operations?service=payments").body,
      R"({"data":[{"name":"charge","spanKind":"server"}],"total":1,"limit":0,"offset":0,"errors":null})");
  EXPECT_EQ(Get("/api/services/nobody/operations").body,
            R"({"data":[],"total":0,"limit":0,"offset":0,"errors":null})");
}

TEST_F(CompatApiTest, LokiStreamsHoldEachSelectorAndLineFilterKindsMatches) {
  Start();
  SendLogs();
  ASSERT_TRUE(testing::WaitUntil([&] {
    return Loki(R"({service_name=~".+"})").body.find("heartbeat") != std::string::npos;
  })) << Loki(R"({service_name=~".+"})").body;

  const std::string checkout = R"({"deployment_environment":"prod","detected_level":)";
  const std::string svc = R"(,"service_name":"checkout"})";
  const std::string error = checkout + R"("error")" + svc;
  const std::string info = checkout + R"("info")" + svc;
  const std::string warn = checkout + R"("warn")" + svc;
  const std::string payments_error =
      R"({"detected_level":"error","k8s_pod_name":"pay-1","service_name":"payments"})";
  auto stream = [](const std::string& labels, const std::vector<std::string>& values) {
    std::string s = "{\"stream\":" + labels + ",\"values\":[";
    for (size_t i = 0; i < values.size(); ++i) s += (i > 0 ? "," : "") + values[i];
    return s + "]}";
  };
  auto value = [&](int seconds, const std::string& line) {
    return "[\"" + Nanos(seconds * kSecond) + "\",\"" + line + "\"]";
  };
  const std::string v0 = value(0, "order 1 accepted"),
                    v1 = value(1, "payment declined for order 2"),
                    v2 = value(2, "retrying order 3"), v3 = value(3, "card declined"),
                    v5 = value(5, "order 4 accepted");

  auto r = Loki(R"({service_name="checkout"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.rfind(R"({"status":"success","data":{"resultType":"streams","result":[)", 0),
            0u);
  EXPECT_EQ(Result(r.body), "[" + stream(error, {v1}) + "," + stream(info, {v5, v0}) + "," +
                                stream(warn, {v2}) + "]")
      << "one stream per label set, newest first";
  EXPECT_NE(r.body.find(R"("stats":{"summary":{"totalBytesProcessed":)"), std::string::npos);
  EXPECT_EQ(r.body.find("warnings"), std::string::npos) << "complete";

  EXPECT_EQ(Result(Loki(R"({service_name="checkout"} |= "order" != "retrying")").body),
            "[" + stream(error, {v1}) + "," + stream(info, {v5, v0}) + "]");
  EXPECT_EQ(Result(Loki(R"q({service_name=~"check.*|pay.*"} |~ "declin(ed|e)")q").body),
            "[" + stream(error, {v1}) + "," + stream(payments_error, {v3}) + "]");
  EXPECT_EQ(Result(Loki(R"({service_name="checkout"} !~ "order [12]")").body),
            "[" + stream(info, {v5}) + "," + stream(warn, {v2}) + "]");
  EXPECT_EQ(Result(Loki("{service_name=\"payments\"} |~ `^card`").body),
            "[" + stream(payments_error, {v3}) + "]");
  EXPECT_EQ(Result(Loki(R"({detected_level="error", service_name!="nobody",})").body),
            "[" + stream(error, {v1}) + "," + stream(payments_error, {v3}) + "]");
  EXPECT_EQ(
      Result(Loki(R"({service_name="payments"} |= "heart")").body),
      "[" +
          stream(R"({"detected_level":"debug","k8s_pod_name":"pay-1","service_name":"payments"})",
                 {value(4, "heartbeat")}) +
          "]")
      << "severity text when the number is unset";
  EXPECT_EQ(
      Result(Loki(R"({k8s_pod_name!~"pay.*", deployment_environment="prod"} |= "nothing")").body),
      "[]");

  // The limit keeps the newest (backward) or the oldest (forward) entries.
  EXPECT_EQ(Result(Loki(R"({deployment_environment="prod"})", "&limit=2").body),
            "[" + stream(info, {v5}) + "," + stream(warn, {v2}) + "]");
  EXPECT_EQ(Result(Loki(R"({deployment_environment="prod"})", "&limit=2&direction=FORWARD").body),
            "[" + stream(error, {v1}) + "," + stream(info, {v0}) + "]");
  EXPECT_EQ(
      Result(Loki(R"({deployment_environment="prod"})", "&direction=forward").body),
      "[" + stream(error, {v1}) + "," + stream(info, {v0, v5}) + "," + stream(warn, {v2}) + "]")
      << "forward: oldest first";

  // Times as Loki takes them: Unix seconds, Unix nanoseconds (end is
  // exclusive), RFC 3339.
  EXPECT_EQ(
      Result(Loki(R"({service_name="checkout"})",
                  "&start=" + std::to_string(base_ / kSecond + 2) + "&end=" + Nanos(5 * kSecond))
                 .body),
      "[" + stream(warn, {v2}) + "]");
  char rfc[32];
  const std::time_t t = static_cast<std::time_t>(base_ / kSecond + 1);
  std::strftime(rfc, sizeof rfc, "%Y-%m-%dT%H:%M:%S", std::gmtime(&t));
  EXPECT_EQ(Result(Loki(R"({service_name="checkout"})",
                        "&start=" + std::string(rfc) + ".5Z&end=" + Nanos(3 * kSecond))
                       .body),
            "[" + stream(warn, {v2}) + "]");
  EXPECT_EQ(Result(Loki(R"({service_name="checkout"})", "&since=1s").body), "[]")
      << "the last second holds none";
}

TEST_F(CompatApiTest, LokiLabelsAndValuesListWhatTheRecordsCarry) {
  Start();
  SendLogs();
  ASSERT_TRUE(testing::WaitUntil([&] {
    return Get("/loki/api/v1/label/service_name/values").body.find("payments") != std::string::npos;
  }));
  EXPECT_EQ(
      Get("/loki/api/v1/labels").body,
      R"({"status":"success","data":["deployment_environment","detected_level","k8s_pod_name","service_name"]})");
  EXPECT_EQ(Get("/loki/api/v1/label/service_name/values").body,
            R"({"status":"success","data":["checkout","payments"]})");
  EXPECT_EQ(Get(testing::QueryTarget("/loki/api/v1/label/detected_level/values",
                                     R"({service_name="payments"})"))
                .body,
            R"({"status":"success","data":["debug","error"]})");
  EXPECT_EQ(Get("/loki/api/v1/label/nothing/values").body, R"({"status":"success","data":[]})");
  EXPECT_EQ(Get("/loki/api/v1/labels?start=1000&end=2000").body,
            R"({"status":"success","data":[]})")
      << "outside the range";
}

TEST_F(CompatApiTest, LokiRefusesWhatItDoesNotAnswerWithThePosition) {
  Start();
  auto refused = [&](const std::string& logql, const std::string& more = "") {
    auto r = Loki(logql, more);
    EXPECT_EQ(r.status, 400) << logql << more << ": " << r.body;
    EXPECT_EQ(r.Header("Content-Type").rfind("text/plain", 0), 0u) << r.Header("Content-Type");
    return r.body;
  };
  EXPECT_NE(refused(R"(count_over_time({service_name="checkout"}[5m]))").find("metric queries"),
            std::string::npos);
  EXPECT_NE(refused(R"(sum by (level) (rate({a="b"}[1m])))").find("are not supported"),
            std::string::npos);
  EXPECT_EQ(refused(R"({service_name="checkout")"),
            "parse error at line 1, col 25: syntax error: unexpected end of query, expected }\n");
  EXPECT_EQ(refused(R"({service_name="checkout"} | json)").substr(0, 61),
            "parse error at line 1, col 27: only line filters (|=, !=, |~,");
  EXPECT_NE(refused(R"({service_name=".*"} |~ "(")").find("col 24: invalid regular expression"),
            std::string::npos);
  EXPECT_NE(refused(R"({service_name="a\qb"})").find("col 17: invalid escape sequence \\q"),
            std::string::npos);
  EXPECT_NE(refused(R"({service_name=~".*"})").find("empty-compatible value"), std::string::npos);
  EXPECT_NE(refused("{}").find("empty-compatible value"), std::string::npos);
  EXPECT_NE(refused(R"({service_name "x"})").find("col 15: syntax error: expected =, !=, =~ or !~"),
            std::string::npos);
  EXPECT_NE(refused(R"({a="b"} |= "x" or "y")").find("col 16: \"or\""), std::string::npos);
  EXPECT_EQ(refused(R"({a="b"})", "&limit=5001"),
            "max entries limit per query exceeded, limit > max_entries_limit (5001 > 5000)\n");
  EXPECT_NE(refused(R"({a="b"})", "&limit=0").find("positive"), std::string::npos);
  EXPECT_NE(refused(R"({a="b"})", "&direction=sideways").find("direction"), std::string::npos);
  EXPECT_NE(refused(R"({a="b"})", "&start=yesterday").find("invalid start"), std::string::npos);
  EXPECT_NE(refused(R"({a="b"})", "&start=2000&end=1000").find("end timestamp"), std::string::npos);
  EXPECT_EQ(Get("/loki/api/v1/query_range").status, 400) << "no query";

  // Instant queries: Grafana's connection test, and nothing else.
  auto health = Get(testing::QueryTarget("/loki/api/v1/query", "vector(1)+vector(1)") + "&time=5");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(
      health.body,
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[5,"2"]}],"stats":{}}})");
  auto instant = Get(testing::QueryTarget("/loki/api/v1/query", R"({a="b"})"));
  EXPECT_EQ(instant.status, 400);
  EXPECT_NE(instant.body.find("not supported as an instant query"), std::string::npos);
  EXPECT_EQ(Get("/loki/api/v1/tail").status, 404) << "not one of the routes";
}

TEST_F(CompatApiTest, AnswersCutByTheScanBudgetSayTheyArePartial) {
  Start(/*connectors=*/false, "  max_scan_bytes: 1MiB\n");
  // 24 requests of 100 KB each, of traces and of logs: 2.4 MB each.
  for (int n = 0; n < 24; ++n) {
    TraceRequest traces = Shop(n, base_);
    auto* kv = traces.mutable_resource_spans(0)
                   ->mutable_scope_spans(0)
                   ->mutable_spans(0)
                   ->add_attributes();
    kv->set_key("filler");
    kv->mutable_value()->set_string_value(std::string(100'000, 'x'));
    Send(traces);
    LogsRequest logs;
    AddLogs(logs, {{"service.name", "big"}},
            {{base_ + n * kSecond, 9, "INFO", "line " + std::string(100'000, 'y')}});
    Send(logs);
  }
  auto logs_done = [&] {
    return Get("/loki/api/v1/label/service_name/values").body.find("big") != std::string::npos;
  };
  ASSERT_TRUE(testing::WaitUntil(logs_done));
  auto loki = Loki(R"({service_name="big"} |= "nothing")");
  EXPECT_EQ(loki.status, 200);
  EXPECT_EQ(Result(loki.body), "[]");
  EXPECT_NE(loki.body.find(R"(,"warnings":["partial result: the query stopped at )"),
            std::string::npos)
      << loki.body.substr(0, 300);
  EXPECT_NE(Get("/loki/api/v1/labels").body.find("\"warnings\""), std::string::npos);

  auto jaeger = Get("/api/traces?service=frontend&tag=nothing:here&limit=1000");
  EXPECT_EQ(jaeger.status, 200);
  EXPECT_EQ(jaeger.body,
            R"({"data":[],"total":0,"limit":0,"offset":0,"errors":null,"partial":true})");
  auto complete =
      Get("/api/traces?service=frontend&tag=nothing:here&start=" + Micros(23 * kSecond));
  EXPECT_EQ(complete.body, R"({"data":[],"total":0,"limit":0,"offset":0,"errors":null})")
      << "a narrower range reads less";
}

TEST_F(CompatApiTest, AnotherTenantSeesNoneOfTheDefaultTenantsTracesOrLogs) {
  Start();
  Send(Checkout(base_));
  SendLogs();
  // The other tenant's own: one trace and one record of service "secret".
  TraceRequest secret;
  auto* rs = secret.add_resource_spans();
  Attr(rs->mutable_resource()->add_attributes(), "service.name", "secret");
  auto* s = rs->add_scope_spans()->add_spans();
  s->set_trace_id(std::string(16, '\x77'));
  s->set_span_id(std::string(8, '\x78'));
  s->set_name("hidden");
  s->set_start_time_unix_nano(static_cast<uint64_t>(base_));
  s->set_end_time_unix_nano(static_cast<uint64_t>(base_ + kMs));
  Send(secret, "other");
  LogsRequest secret_logs;
  AddLogs(secret_logs, {{"service.name", "secret"}}, {{base_, 9, "INFO", "hidden line"}});
  Send(secret_logs, "other");

  const std::string trace = std::string("/api/traces/") + kCheckoutId;
  ASSERT_TRUE(testing::WaitUntil([&] {
    return Get(trace).status == 200 &&
           Get("/api/traces/77777777777777777777777777777777", "other").status == 200 &&
           Get("/loki/api/v1/label/service_name/values", "other").body.find("secret") !=
               std::string::npos &&
           Get("/loki/api/v1/label/service_name/values").body.find("payments") != std::string::npos;
  }));

  // The other tenant: its own data only.
  EXPECT_EQ(Get(trace, "other").status, 404);
  EXPECT_TRUE(TraceIds(Get("/api/traces?service=frontend", "other").body).empty());
  EXPECT_EQ(Get("/api/services", "other").body,
            R"({"data":["secret"],"total":1,"limit":0,"offset":0,"errors":null})");
  EXPECT_EQ(Get("/api/dependencies", "other").body,
            R"({"data":[],"total":0,"limit":0,"offset":0,"errors":null})");
  EXPECT_EQ(Result(Loki(R"({service_name="checkout"})", "", "other").body), "[]");
  EXPECT_EQ(Get("/loki/api/v1/label/service_name/values", "other").body,
            R"({"status":"success","data":["secret"]})");
  EXPECT_EQ(Result(Loki(R"({service_name=~".+"})", "", "other").body),
            R"([{"stream":{"detected_level":"info","service_name":"secret"},"values":[[")" +
                Nanos(0) + R"(","hidden line"]]}])");

  // The default tenant: none of the other's.
  EXPECT_EQ(Get("/api/traces/77777777777777777777777777777777").status, 404);
  EXPECT_EQ(Get("/api/services").body.find("secret"), std::string::npos);
  EXPECT_EQ(Get("/loki/api/v1/label/service_name/values").body,
            R"({"status":"success","data":["checkout","payments"]})");
  EXPECT_EQ(Loki(R"({service_name="secret"})").body.find("hidden"), std::string::npos);
}

}  // namespace
}  // namespace sluice::query
