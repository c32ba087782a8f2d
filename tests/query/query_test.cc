#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "base/clock.h"
#include "io/file_system.h"
#include "log/log.h"
#include "query/bloom.h"
#include "query/summary.h"
#include "support/http_client.h"
#include "support/otlp_builders.h"
#include "support/service_harness.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace sluice::query {
namespace {

namespace pb = testing::otlp_pb;
using TraceRequest = pb::collector::trace::v1::ExportTraceServiceRequest;

TEST(BloomFilterTest, AddedKeysAreAlwaysFoundAndFewOthersAre) {
  BloomFilter f(10000);
  for (uint64_t i = 0; i < 10000; ++i) f.Add(TraceHash(std::to_string(i)));
  for (uint64_t i = 0; i < 10000; ++i) ASSERT_TRUE(f.MayContain(TraceHash(std::to_string(i))));
  int false_positives = 0;
  for (uint64_t i = 10000; i < 20000; ++i)
    false_positives += f.MayContain(TraceHash(std::to_string(i)));
  EXPECT_LT(false_positives, 300) << "about 1% at 10 bits per key";
  BloomFilter back;
  ASSERT_TRUE(back.Deserialize(f.Serialize()));
  for (uint64_t i = 0; i < 10000; ++i) ASSERT_TRUE(back.MayContain(TraceHash(std::to_string(i))));
  EXPECT_FALSE(back.Deserialize("abc")) << "not a whole number of blocks";
}

TEST(SegmentSummaryTest, RoundTripsAndRefusesDamage) {
  SegmentSummary s;
  s.segment = 4096;
  s.min_time_unix_nano = -5;
  s.max_time_unix_nano = 1'700'000'000'000'000'000;
  s.spans = 12;
  s.log_records = 3;
  s.services = {"cart", "checkout"};
  s.blocks.push_back({32, 4096, BloomFilter(2)});
  s.blocks.push_back({4096, 9000, BloomFilter(2)});
  s.blocks[1].traces.Add(TraceHash("t1"));
  s.traces = BloomFilter(2, kSegmentFilterBitsPerKey);
  s.traces.Add(TraceHash("t1"));
  std::string bytes = EncodeSummary(s);
  Result<SegmentSummary> back = DecodeSummary(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->segment, 4096u);
  EXPECT_EQ(back->min_time_unix_nano, -5);
  EXPECT_EQ(back->max_time_unix_nano, s.max_time_unix_nano);
  EXPECT_EQ(back->spans, 12u);
  EXPECT_EQ(back->log_records, 3u);
  EXPECT_EQ(back->services, s.services);
  ASSERT_EQ(back->blocks.size(), 2u);
  EXPECT_EQ(back->blocks[1].begin, 4096u);
  EXPECT_EQ(back->blocks[1].end, 9000u);
  EXPECT_TRUE(back->blocks[1].traces.MayContain(TraceHash("t1")));
  EXPECT_TRUE(back->MayContain(TraceHash("t1")));
  for (size_t at : {size_t{3}, size_t{9}, bytes.size() / 2, bytes.size() - 1}) {
    std::string damaged = bytes;
    damaged[at] ^= 0x20;
    EXPECT_EQ(DecodeSummary(damaged).status().code(), StatusCode::kCorruption) << at;
  }
  EXPECT_EQ(DecodeSummary(bytes.substr(0, bytes.size() - 1)).status().code(),
            StatusCode::kCorruption);
}

// A request of `spans` spans of trace `trace` (16 bytes from the number),
// each carrying 2 KB of attribute so a few dozen requests fill segments.
TraceRequest Trace(int trace, int spans, int first_span = 0) {
  TraceRequest req;
  auto* rs = req.add_resource_spans();
  auto* kv = rs->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("svc-" + std::to_string(trace % 3));
  auto* ss = rs->add_scope_spans();
  std::string id(16, '\0');
  std::memcpy(id.data(), &trace, sizeof trace);
  id[15] = 1;
  for (int i = 0; i < spans; ++i) {
    auto* s = ss->add_spans();
    s->set_trace_id(id);
    std::string span_id(8, '\x07');
    int n = first_span + i;
    std::memcpy(span_id.data(), &n, sizeof n);
    s->set_span_id(span_id);
    s->set_name("op");
    s->set_start_time_unix_nano(1'700'000'000'000'000'000ull);
    s->set_end_time_unix_nano(1'700'000'000'100'000'000ull);
    auto* a = s->add_attributes();
    a->set_key("filler");
    a->mutable_value()->set_string_value(std::string(2048, 'x'));
  }
  return req;
}

std::string Hex(int trace) {
  std::string id(16, '\0');
  std::memcpy(id.data(), &trace, sizeof trace);
  id[15] = 1;
  return testing::Hex(id);
}

int SpansIn(const std::string& json) {
  static const std::regex span(R"("spanId":)");
  return static_cast<int>(
      std::distance(std::sregex_iterator(json.begin(), json.end(), span), std::sregex_iterator()));
}

class QueryApiTest : public ::testing::Test {
 protected:
  std::string Config() {
    return R"(
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
storage:
  directory: )" +
           dir_.Sub("data") + R"(
  segment_bytes: 1MiB
  retention:
    max_bytes: 64MiB
query:
  enabled: true
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    traces:
      receivers: [otlp]
)";
  }
  void Start() {
    service_ = testing::StartService(Config(), registry_);
    ASSERT_NE(service_, nullptr);
    otlp_ = testing::AddressOf(*service_, "receiver otlp http ");
    admin_ = testing::AddressOf(*service_, "admin ");
  }
  void Send(const TraceRequest& req) {
    auto r = testing::HttpRequest("POST", otlp_, "/v1/traces", req.SerializeAsString(),
                                  {{"Content-Type", "application/x-protobuf"}});
    ASSERT_EQ(r.status, 200) << r.body;
  }
  uint64_t Counter(const std::string& name) { return registry_.AddCounter(name, "").Get().Value(); }

  testing::TempDir dir_;
  telemetry::Registry registry_;
  std::unique_ptr<pipeline::Service> service_;
  std::string otlp_, admin_;
};

TEST_F(QueryApiTest, TraceByIdFindsEverySpanAcrossSegmentsAndSurvivesRestartAndDamage) {
  Start();
  // Trace 7's spans go out first and last, with 80 other traces between:
  // the two halves land in different segments.
  Send(Trace(7, 5, 0));
  for (int t = 100; t < 180; ++t) Send(Trace(t, 20));
  Send(Trace(7, 4, 5));
  auto answered = [&](int trace, int spans) {
    auto r = testing::HttpGet(admin_, "/api/v1/traces/" + Hex(trace));
    return r.status == 200 && SpansIn(r.body) == spans;
  };
  ASSERT_TRUE(testing::WaitUntil([&] { return answered(7, 9); }, std::chrono::seconds(20)))
      << testing::HttpGet(admin_, "/api/v1/traces/" + Hex(7)).body.substr(0, 300);
  EXPECT_TRUE(answered(120, 20));
  auto body = testing::HttpGet(admin_, "/api/v1/traces/" + Hex(7)).body;
  EXPECT_NE(body.find("\"resourceSpans\""), std::string::npos) << "OTLP/JSON";
  EXPECT_NE(body.find("svc-1"), std::string::npos);
  EXPECT_EQ(testing::HttpGet(admin_, "/api/v1/traces/" + Hex(999)).status, 404);
  auto bad = testing::HttpGet(admin_, "/api/v1/traces/xyz");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("32 hex digits"), std::string::npos) << bad.body;
  EXPECT_EQ(testing::HttpGet(admin_, "/api/v1/nothing").status, 404);
  service_->Shutdown();
  const uint64_t sealed_before = Counter("sluice_query_index_segments_sealed_total");

  // The sealed segments' summaries were written; one is damaged by hand.
  std::vector<std::filesystem::path> files;
  for (const auto& f : std::filesystem::directory_iterator(dir_.Sub("data/query"))) {
    files.push_back(f.path());
  }
  ASSERT_GE(files.size(), 2u) << "the traces fill at least three segments";
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(DecodeSummary(bytes).ok()) << f << ": " << DecodeSummary(bytes).status().ToString();
  }
  {
    std::fstream f(files[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    f.put('\x55');
  }
  Start();
  ASSERT_TRUE(
      testing::WaitUntil([&] { return Counter("sluice_query_index_segments_rebuilt_total") == 1; },
                         std::chrono::seconds(20)))
      << "rebuilt " << Counter("sluice_query_index_segments_rebuilt_total") << ", damaged "
      << Counter("sluice_query_index_damaged_files_total") << ", " << files[0];
  EXPECT_EQ(Counter("sluice_query_index_damaged_files_total"), 1u);
  EXPECT_TRUE(answered(7, 9)) << "the same answer after a restart";
  EXPECT_TRUE(answered(100, 20));
  EXPECT_LE(Counter("sluice_query_index_segments_sealed_total"), sealed_before + 2)
      << "its cursor survived the restart: only the damaged summary and the open segment are "
         "read again";
  service_->Shutdown();
}

// The index is fed two ways: the log's append observer at the head, and its
// own reader behind it (after a restart, while it catches up). Each batch
// must be filed once: every sealed summary counts exactly the spans its
// segment holds and passes every trace id in it.
TEST_F(QueryApiTest, EveryBatchIsIndexedOnceWhetherObservedAtTheHeadOrReadBack) {
  Start();
  for (int t = 0; t < 60; ++t) Send(Trace(t, 20));
  service_->Shutdown();
  // The reader reads the open segment again while new batches arrive.
  Start();
  for (int t = 60; t < 200; ++t) Send(Trace(t, 20));
  service_->Shutdown();
  service_.reset();

  std::map<uint64_t, uint64_t> spans;                // per segment, as stored
  std::map<uint64_t, std::vector<std::string>> ids;  // per segment
  {
    telemetry::Registry registry;
    log::LogOptions o;
    o.directory = dir_.Sub("data");
    auto log = log::Log::Open(o, io::FileSystem::Posix(), Clock::Real(), registry);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log::LogReader reader(**log, (*log)->Begin());
    while (true) {
      auto b = reader.Next();
      if (!b.ok()) break;
      TraceRequest req;
      ASSERT_TRUE(req.ParseFromArray(b->payload.data(), static_cast<int>(b->payload.size())));
      spans[b->next.segment] += b->header.item_count;
      ids[b->next.segment].push_back(req.resource_spans(0).scope_spans(0).spans(0).trace_id());
    }
    ASSERT_TRUE((*log)->Close().ok());
  }
  ASSERT_GE(spans.size(), 6u);
  size_t checked = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir_.Sub("data/query"))) {
    std::ifstream in(f.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Result<SegmentSummary> summary = DecodeSummary(bytes);
    ASSERT_TRUE(summary.ok()) << f.path();
    ASSERT_TRUE(spans.contains(summary->segment)) << summary->segment;
    EXPECT_EQ(summary->spans, spans[summary->segment]) << "segment " << summary->segment;
    for (const std::string& id : ids[summary->segment]) {
      EXPECT_TRUE(summary->MayContain(TraceHash(id))) << "segment " << summary->segment;
    }
    ++checked;
  }
  // Every segment but the last (open at the stop) was sealed.
  EXPECT_EQ(checked, spans.size() - 1);
}

// Trace `n` of a shop: frontend's root span "GET /checkout" lasting
// `duration_ms`, calling payments' "charge" (payment.method card for odd n,
// cash for even), which fails when `error`. Starts `n` seconds after `base`.
TraceRequest Shop(int n, bool error, int duration_ms, int64_t base) {
  TraceRequest req;
  std::string id(16, '\0');
  std::memcpy(id.data(), &n, sizeof n);
  id[15] = 2;
  const uint64_t start = static_cast<uint64_t>(base) + static_cast<uint64_t>(n) * 1'000'000'000;
  const uint64_t end = start + static_cast<uint64_t>(duration_ms) * 1'000'000;
  for (const char* service : {"frontend", "payments"}) {
    auto* rs = req.add_resource_spans();
    auto* kv = rs->mutable_resource()->add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value(service);
    auto* s = rs->add_scope_spans()->add_spans();
    s->set_trace_id(id);
    bool root = std::string(service) == "frontend";
    s->set_span_id(std::string(7, root ? '\x01' : '\x02') + static_cast<char>(n));
    if (!root) s->set_parent_span_id(std::string(7, '\x01') + static_cast<char>(n));
    s->set_name(root ? "GET /checkout" : "charge");
    s->set_start_time_unix_nano(root ? start : start + 1'000'000);
    s->set_end_time_unix_nano(root ? end : end - 1'000'000);
    if (!root) {
      auto* a = s->add_attributes();
      a->set_key("payment.method");
      a->mutable_value()->set_string_value(n % 2 ? "card" : "cash");
      if (error) s->mutable_status()->set_code(pb::trace::v1::Status::STATUS_CODE_ERROR);
    }
  }
  return req;
}

std::vector<std::string> Ids(const std::string& json) {
  std::vector<std::string> out;
  static const std::regex id(R"re("traceId":"([0-9a-f]{32})")re");
  for (auto it = std::sregex_iterator(json.begin(), json.end(), id); it != std::sregex_iterator();
       ++it) {
    out.push_back((*it)[1].str());
  }
  return out;
}

std::string ShopHex(int n) {
  std::string id(16, '\0');
  std::memcpy(id.data(), &n, sizeof n);
  id[15] = 2;
  return testing::Hex(id);
}

// The half of Shop(n, error, 300, base) of one service: its span alone.
TraceRequest ShopHalf(int n, const char* service, bool error, int64_t base) {
  TraceRequest whole = Shop(n, error, 300, base);
  TraceRequest half;
  for (const auto& rs : whole.resource_spans()) {
    if (rs.resource().attributes(0).value().string_value() == service) {
      *half.add_resource_spans() = rs;
    }
  }
  return half;
}

// A search with a service condition reads a segment twice (the service's
// traces, then their spans); a trace whose spans lie in several segments
// must still be seen whole, whichever of them holds the service's span.
TEST_F(QueryApiTest, TraceSearchSeesWholeTracesWhoseSpansLieInSeveralSegments) {
  Start();
  const int64_t base = Clock::Real().NowUnixNanos() - 30LL * 60 * 1'000'000'000;
  // Trace 1: frontend's span first, payments' failing span three segments
  // later. Trace 2: the other way round.
  Send(ShopHalf(1, "frontend", false, base));
  Send(ShopHalf(2, "payments", true, base));
  for (int t = 100; t < 180; ++t) Send(Trace(t, 20));
  Send(ShopHalf(1, "payments", true, base));
  Send(ShopHalf(2, "frontend", false, base));
  auto search = [&](const std::string& query) {
    return testing::HttpGet(admin_, "/api/v1/traces?" + query).body;
  };
  ASSERT_TRUE(
      testing::WaitUntil([&] { return Ids(search("service=frontend&limit=100")).size() == 2; },
                         std::chrono::seconds(20)));
  const std::string failing = search("service=frontend&error=true&limit=100");
  EXPECT_EQ(Ids(failing), (std::vector<std::string>{ShopHex(2), ShopHex(1)})) << failing;
  int whole = 0;
  for (size_t at = 0;
       (at = failing.find(R"("spanCount":2,"errorCount":1,)", at)) != std::string::npos; ++at) {
    ++whole;
  }
  EXPECT_EQ(whole, 2) << "each trace summarized from both its spans: " << failing;
  EXPECT_NE(failing.find(R"("partial":false)"), std::string::npos);
  // The same traces found from payments' side.
  EXPECT_EQ(Ids(search("service=payments&operation=charge&min_duration=250ms&limit=100")),
            (std::vector<std::string>{ShopHex(2), ShopHex(1)}));
  service_->Shutdown();
}

TEST_F(QueryApiTest, TraceSearchFindsTracesByServiceErrorDurationAndAttribute) {
  Start();
  const int64_t base = Clock::Real().NowUnixNanos() - 30LL * 60 * 1'000'000'000;  // 30 min ago
  // 40 traces: every fifth fails; trace n lasts 100 + 20 n ms.
  for (int n = 0; n < 40; ++n) Send(Shop(n, n % 5 == 0, 100 + 20 * n, base));
  auto search = [&](const std::string& query) {
    return testing::HttpGet(admin_, "/api/v1/traces?" + query);
  };
  ASSERT_TRUE(testing::WaitUntil([&] { return Ids(search("limit=1000").body).size() == 40; },
                                 std::chrono::seconds(20)));

  auto failing = search("service=payments&error=true&limit=100");
  ASSERT_EQ(failing.status, 200) << failing.body;
  const std::vector<std::string> failing_ids = Ids(failing.body);
  std::set<std::string> got(failing_ids.begin(), failing_ids.end());
  std::set<std::string> want;
  for (int n = 0; n < 40; n += 5) want.insert(ShopHex(n));
  EXPECT_EQ(got, want);
  EXPECT_NE(failing.body.find(R"("rootService":"frontend","rootName":"GET /checkout")"),
            std::string::npos);
  EXPECT_NE(failing.body.find(R"("spanCount":2,"errorCount":1,"services":["frontend","payments"])"),
            std::string::npos)
      << failing.body.substr(0, 400);
  EXPECT_NE(failing.body.find(R"("partial":false)"), std::string::npos);

  // Slowest first among the traces of at least 500 ms (n >= 20).
  auto slow = search(
      "service=frontend&operation=GET%20%2Fcheckout&min_duration=500ms&order=slowest&limit=3");
  ASSERT_EQ(slow.status, 200) << slow.body;
  EXPECT_EQ(Ids(slow.body), (std::vector<std::string>{ShopHex(39), ShopHex(38), ShopHex(37)}));
  EXPECT_NE(slow.body.find(R"("durationNanos":"880000000")"), std::string::npos)
      << "100 + 20 * 39 ms";

  // Newest first: the latest starts.
  EXPECT_EQ(Ids(search("limit=2").body), (std::vector<std::string>{ShopHex(39), ShopHex(38)}));
  EXPECT_EQ(Ids(search("attribute=payment.method%3Dcash&limit=100").body).size(), 20u);
  EXPECT_EQ(
      Ids(search("attribute=payment.method%3Dcash&service=payments&error=true&limit=100").body)
          .size(),
      4u)
      << "n = 0, 10, 20, 30";
  EXPECT_TRUE(Ids(search("service=nobody").body).empty());
  // Outside the time range searched.
  EXPECT_TRUE(Ids(search("end=1000").body).empty());

  for (const char* bad : {"limit=0", "bogus=1", "operation=charge", "min_duration=fast",
                          "error=maybe", "start=yesterday", "attribute=novalue"}) {
    auto r = search(bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_NE(r.body.find("\"error\""), std::string::npos) << bad;
  }
  EXPECT_NE(search("bogus=1").body.find("unknown parameter"), std::string::npos);
  service_->Shutdown();
}

TEST_F(QueryApiTest, PipelineHealthShowsReceiversLogAndExportersNowAndAsHistory) {
  Start();
  for (int n = 0; n < 3; ++n) Send(Shop(n, false, 100, Clock::Real().NowUnixNanos()));
  auto health = testing::HttpGet(admin_, "/api/v1/pipeline");
  ASSERT_EQ(health.status, 200);
  const std::string& b = health.body;
  EXPECT_NE(
      b.find(
          R"({"name":"sluice_receiver_accepted_spans_total","labels":{"receiver":"otlp"},"value":6})"),
      std::string::npos)
      << b.substr(0, 600);
  for (const char* section :
       {"\"receivers\":[", "\"log\":[", "\"exporters\":[", "\"connectors\":[", "\"processors\":[",
        "\"query\":[", "\"history\":{\"intervalSeconds\":10,\"times\":[\""}) {
    EXPECT_NE(b.find(section), std::string::npos)
        << section << " in " << b.substr(b.find("\"history\""), 300);
  }
  // The query layer's own index reader shows as an exporter with its lag.
  EXPECT_NE(b.find(R"("name":"sluice_exporter_lag_seconds","labels":{"exporter":"query/index"})"),
            std::string::npos);
  // History: the first sample was taken at start, before any span arrived.
  EXPECT_NE(b.find(R"({"name":"sluice_log_appended_batches_total","labels":{},"values":[)"),
            std::string::npos);
  service_->Shutdown();
}

// Trace `n` with span kinds: frontend serves "GET /checkout" (lasting
// 100 + 20 n ms) and calls payments ("call payments", a client span), whose
// server span "charge" fails when n is a multiple of five.
TraceRequest ShopWithKinds(int n, int64_t base) {
  TraceRequest req;
  std::string id(16, '\0');
  std::memcpy(id.data(), &n, sizeof n);
  id[15] = 3;
  const uint64_t start = static_cast<uint64_t>(base);
  const uint64_t end = start + static_cast<uint64_t>(100 + 20 * n) * 1'000'000;
  auto span = [&](const char* service, char self, char parent, const char* name, int kind,
                  uint64_t from, uint64_t to, bool error) {
    auto* rs = req.add_resource_spans();
    auto* kv = rs->mutable_resource()->add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value(service);
    auto* s = rs->add_scope_spans()->add_spans();
    s->set_trace_id(id);
    s->set_span_id(std::string(7, self) + static_cast<char>(n));
    if (parent != 0) s->set_parent_span_id(std::string(7, parent) + static_cast<char>(n));
    s->set_name(name);
    s->set_kind(static_cast<pb::trace::v1::Span::SpanKind>(kind));
    s->set_start_time_unix_nano(from);
    s->set_end_time_unix_nano(to);
    if (error) s->mutable_status()->set_code(pb::trace::v1::Status::STATUS_CODE_ERROR);
  };
  span("frontend", 1, 0, "GET /checkout", 2, start, end, false);
  span("frontend", 2, 1, "call payments", 3, start + 1'000'000, end - 1'000'000, false);
  span("payments", 3, 2, "charge", 2, start + 2'000'000, end - 2'000'000, n % 5 == 0);
  return req;
}

// The value of `"key":<number>` in the object that starts at `from`.
double NumberAfter(const std::string& json, size_t from, const std::string& key) {
  size_t at = json.find("\"" + key + "\":", from);
  if (at == std::string::npos || json.compare(at + key.size() + 3, 4, "null") == 0) return -1;
  return std::stod(json.substr(at + key.size() + 3));
}

// Config() with the spanmetrics and servicegraph connectors feeding the
// rollups, flushing every second.
std::string WithConnectors(std::string config) {
  config.replace(config.find("service:\n"), 0, R"(connectors:
  spanmetrics:
    histogram:
      exponential:
        max_size: 160
    metrics_flush_interval: 1s
  servicegraph:
    metrics_flush_interval: 1s
)");
  config.replace(config.find("      receivers: [otlp]\n"), 25, R"(      receivers: [otlp]
      exporters: [spanmetrics, servicegraph]
    metrics/derived:
      receivers: [spanmetrics, servicegraph]
)");
  return config;
}

TEST_F(QueryApiTest, ServicesAndGraphCountEveryCallOnceWithQuantilesInBoundsAcrossRestarts) {
  const std::string config = WithConnectors(Config());
  service_ = testing::StartService(config, registry_);
  ASSERT_NE(service_, nullptr);
  otlp_ = testing::AddressOf(*service_, "receiver otlp http ");
  admin_ = testing::AddressOf(*service_, "admin ");
  const int64_t now = Clock::Real().NowUnixNanos();
  for (int n = 0; n < 40; ++n) Send(ShopWithKinds(n, now - 60'000'000'000));

  auto services = [&] { return testing::HttpGet(admin_, "/api/v1/services?window=1h&sort=p99"); };
  auto settled = [&] {
    std::string b = services().body;
    return b.find(R"("name":"frontend","calls":40,"errors":0,)") != std::string::npos &&
           b.find(R"("name":"payments","calls":40,"errors":8,)") != std::string::npos;
  };
  ASSERT_TRUE(testing::WaitUntil(settled, std::chrono::seconds(30))) << services().body;
  // The two connectors flush on their own timers: the graph's edges may land
  // a flush after the services' calls.
  auto edges = [&] { return testing::HttpGet(admin_, "/api/v1/graph?window=1h").body; };
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        return edges().find(R"("client":"frontend","server":"payments","requests":40,)") !=
               std::string::npos;
      },
      std::chrono::seconds(30)))
      << edges();
  std::string b = services().body;
  // Slowest first; frontend's server spans last 100..880 ms: p50 is the
  // 20th (480 ms), p99 the 40th (880 ms), within the rollups' 4.5% and the
  // connector's bucket.
  size_t frontend = b.find(R"("name":"frontend")");
  ASSERT_NE(frontend, std::string::npos);
  EXPECT_NEAR(NumberAfter(b, frontend, "p50"), 0.480, 0.480 * 0.05) << b;
  EXPECT_NEAR(NumberAfter(b, frontend, "p99"), 0.880, 0.880 * 0.05) << b;
  EXPECT_NEAR(NumberAfter(b, frontend, "rate"), 40.0 / 3600, 1e-4);

  auto detail = testing::HttpGet(admin_, "/api/v1/services/frontend?window=1h");
  ASSERT_EQ(detail.status, 200) << detail.body;
  EXPECT_NE(detail.body.find(
                R"({"name":"GET /checkout","kind":"SPAN_KIND_SERVER","calls":40,"errors":0,)"),
            std::string::npos)
      << detail.body;
  EXPECT_NE(detail.body.find(
                R"({"name":"call payments","kind":"SPAN_KIND_CLIENT","calls":40,"errors":0,)"),
            std::string::npos);
  EXPECT_NE(detail.body.find(R"("series":{"times":[")"), std::string::npos);

  auto graph = testing::HttpGet(admin_, "/api/v1/graph?window=1h");
  ASSERT_EQ(graph.status, 200);
  EXPECT_NE(
      graph.body.find(R"({"client":"frontend","server":"payments","requests":40,"failed":8,)"),
      std::string::npos)
      << graph.body;
  EXPECT_NE(graph.body.find(R"({"id":"payments","virtual":false})"), std::string::npos);

  for (const char* bad :
       {"/api/v1/services?window=soon", "/api/v1/services?sort=size", "/api/v1/graph?bogus=1"}) {
    EXPECT_EQ(testing::HttpGet(admin_, bad).status, 400) << bad;
  }
  EXPECT_EQ(testing::HttpGet(admin_, "/api/v1/services/nobody").status, 404);

  // A restart restores the rollups from their checkpoint: every call still
  // counted once, none twice.
  service_->Shutdown();
  service_ = testing::StartService(config, registry_);
  ASSERT_NE(service_, nullptr);
  admin_ = testing::AddressOf(*service_, "admin ");
  EXPECT_TRUE(settled()) << services().body;
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // connectors flush again
  EXPECT_TRUE(settled()) << services().body;
  service_->Shutdown();
}

TEST_F(QueryApiTest, ServicesAndGraphOfATenantCountOnlyItsOwnCallsAcrossRestarts) {
  std::string config = WithConnectors(Config());
  // The graph keeps one tenant besides the default apart; a third is counted.
  const std::string graph_options = "  servicegraph:\n    metrics_flush_interval: 1s\n";
  config.insert(config.find(graph_options) + graph_options.size(), "    max_tenants: 1\n");
  service_ = testing::StartService(config, registry_);
  ASSERT_NE(service_, nullptr);
  otlp_ = testing::AddressOf(*service_, "receiver otlp http ");
  admin_ = testing::AddressOf(*service_, "admin ");
  auto send = [&](int n, const std::string& tenant, int64_t start) {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "application/x-protobuf"}};
    if (!tenant.empty()) headers.emplace_back("X-Scope-OrgID", tenant);
    auto r = testing::HttpRequest("POST", otlp_, "/v1/traces",
                                  ShopWithKinds(n, start).SerializeAsString(), headers);
    ASSERT_EQ(r.status, 200) << r.body;
  };
  auto get = [&](const std::string& target, const std::string& tenant) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!tenant.empty()) headers.emplace_back("X-Scope-OrgID", tenant);
    return testing::HttpRequest("GET", admin_, target, "", headers).body;
  };
  // The same services under two tenants: 20 shops of the default tenant
  // (4 failing payments), 10 of acme's (2 failing).
  const int64_t now = Clock::Real().NowUnixNanos();
  for (int n = 0; n < 20; ++n) send(n, "", now - 60'000'000'000);
  for (int n = 0; n < 10; ++n) send(n, "acme", now - 60'000'000'000);
  for (int n = 0; n < 2; ++n) send(n, "bravo", now - 60'000'000'000);
  auto counted = [&](const std::string& tenant, int calls, int errors) {
    // Polled: slower than the admin port's per-client rate limit.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const std::string services = get("/api/v1/services?window=1h", tenant);
    const std::string graph = get("/api/v1/graph?window=1h", tenant);
    return services.find(R"("name":"frontend","calls":)" + std::to_string(calls) +
                         R"(,"errors":0,)") != std::string::npos &&
           services.find(R"("name":"payments","calls":)" + std::to_string(calls) + R"(,"errors":)" +
                         std::to_string(errors) + ",") != std::string::npos &&
           graph.find(R"({"client":"frontend","server":"payments","requests":)" +
                      std::to_string(calls) + R"(,"failed":)" + std::to_string(errors) + ",") !=
               std::string::npos;
  };
  ASSERT_TRUE(testing::WaitUntil([&] { return counted("", 20, 4) && counted("acme", 10, 2); },
                                 std::chrono::seconds(30)))
      << get("/api/v1/services?window=1h", "") << "\n"
      << get("/api/v1/services?window=1h", "acme");
  // Past max_tenants: bravo's 6 spans are counted, not paired.
  EXPECT_TRUE(testing::WaitUntil([&] {
    return registry_.AddCounter("sluice_connector_refused_tenant_spans_total", "", {"connector"})
               .With({"servicegraph"})
               .Value() == 6;
  }));
  EXPECT_EQ(get("/api/v1/graph?window=1h", "bravo").find("\"client\""), std::string::npos);
  EXPECT_NE(get("/api/v1/services?window=1h", "bravo").find(R"("name":"payments","calls":2,)"),
            std::string::npos);
  // A tenant with no spans sees no services and no edges.
  EXPECT_EQ(get("/api/v1/services?window=1h", "nobody").find("\"name\""), std::string::npos);
  EXPECT_EQ(get("/api/v1/graph?window=1h", "nobody").find("\"client\""), std::string::npos);
  // The Jaeger routes read the same rollups.
  EXPECT_NE(get("/api/dependencies?lookback=3600000", "acme")
                .find(R"({"parent":"frontend","child":"payments","callCount":10})"),
            std::string::npos)
      << get("/api/dependencies?lookback=3600000", "acme");
  EXPECT_NE(get("/api/services", "acme").find(R"("data":["frontend","payments"])"),
            std::string::npos);

  // Each tenant's counters and pending spans are checkpointed apart: after a
  // restart, more of acme's calls add to acme's alone.
  service_->Shutdown();
  service_ = testing::StartService(config, registry_);
  ASSERT_NE(service_, nullptr);
  otlp_ = testing::AddressOf(*service_, "receiver otlp http ");
  admin_ = testing::AddressOf(*service_, "admin ");
  for (int n = 10; n < 15; ++n) send(n, "acme", now - 30'000'000'000);
  EXPECT_TRUE(testing::WaitUntil([&] { return counted("", 20, 4) && counted("acme", 15, 3); },
                                 std::chrono::seconds(30)))
      << get("/api/v1/services?window=1h", "") << "\n"
      << get("/api/v1/services?window=1h", "acme");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // connectors flush again
  EXPECT_TRUE(counted("", 20, 4) && counted("acme", 15, 3));
  service_->Shutdown();
}

using LogsRequest = pb::collector::logs::v1::ExportLogsServiceRequest;

// Log records n in [from, from + count): of service svc-(n % 3), ERROR with
// body "order <n> declined" when n % 4 == 0, else INFO "order <n> ok";
// attribute order=<n>; the trace id of ShopHex(n); `n` seconds after `base`.
LogsRequest Logs(int from, int count, int64_t base) {
  LogsRequest req;
  for (int n = from; n < from + count; ++n) {
    auto* rl = req.add_resource_logs();
    auto* kv = rl->mutable_resource()->add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value("svc-" + std::to_string(n % 3));
    auto* r = rl->add_scope_logs()->add_log_records();
    r->set_time_unix_nano(static_cast<uint64_t>(base) + static_cast<uint64_t>(n) * 1'000'000'000);
    const bool error = n % 4 == 0;
    r->set_severity_number(error ? pb::logs::v1::SEVERITY_NUMBER_ERROR
                                 : pb::logs::v1::SEVERITY_NUMBER_INFO);
    r->set_severity_text(error ? "ERROR" : "INFO");
    r->mutable_body()->set_string_value("order " + std::to_string(n) +
                                        (error ? " declined" : " ok"));
    auto* a = r->add_attributes();
    a->set_key("order");
    a->mutable_value()->set_string_value(std::to_string(n));
    std::string id(16, '\0');
    std::memcpy(id.data(), &n, sizeof n);
    id[15] = 2;
    r->set_trace_id(id);
  }
  return req;
}

// The n of every "order <n> ..." body, in the order listed.
std::vector<int> Orders(const std::string& json) {
  std::vector<int> out;
  static const std::regex body(R"re("body":"order ([0-9]+) )re");
  for (auto it = std::sregex_iterator(json.begin(), json.end(), body); it != std::sregex_iterator();
       ++it) {
    out.push_back(std::stoi((*it)[1].str()));
  }
  return out;
}

std::string NextOf(const std::string& json) {
  static const std::regex next(R"re("next":"([0-9:]+)")re");
  std::smatch m;
  return std::regex_search(json, m, next) ? m[1].str() : "";
}

class QueryLogsTest : public QueryApiTest {
 protected:
  void StartWithLogs() {
    std::string config = Config();
    config += "    logs:\n      receivers: [otlp]\n";
    service_ = testing::StartService(config, registry_);
    ASSERT_NE(service_, nullptr);
    otlp_ = testing::AddressOf(*service_, "receiver otlp http ");
    admin_ = testing::AddressOf(*service_, "admin ");
  }
  void SendLogs(const LogsRequest& req, const std::string& tenant = "") {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "application/x-protobuf"}};
    if (!tenant.empty()) headers.emplace_back("X-Scope-OrgID", tenant);
    auto r = testing::HttpRequest("POST", otlp_, "/v1/logs", req.SerializeAsString(), headers);
    ASSERT_EQ(r.status, 200) << r.body;
  }
};

TEST_F(QueryLogsTest, LogSearchFiltersExactlyAndPagesNewestFirstWithoutRepeatsOrGaps) {
  StartWithLogs();
  const int64_t base = Clock::Real().NowUnixNanos() - 10LL * 60 * 1'000'000'000;
  for (int from = 0; from < 60; from += 20) SendLogs(Logs(from, 20, base));
  auto search = [&](const std::string& query) {
    return testing::HttpGet(admin_, "/api/v1/logs?" + query);
  };
  ASSERT_TRUE(testing::WaitUntil([&] { return Orders(search("limit=1000").body).size() == 60; },
                                 std::chrono::seconds(20)));
  // The index holds the open segment in memory: it is not lag, though its
  // cursor moves only at the segment's end.
  EXPECT_TRUE(testing::WaitUntil(
      [&] {
        return registry_.AddGauge("sluice_exporter_lag_records", "", {"exporter"})
                   .With({"query/index"})
                   .Value() == 0;
      },
      std::chrono::seconds(20)));
  auto errors = search("severity=ERROR&limit=1000");
  ASSERT_EQ(errors.status, 200) << errors.body;
  EXPECT_EQ(Orders(errors.body).size(), 15u);
  EXPECT_EQ(errors.body.find(" ok\""), std::string::npos);
  EXPECT_EQ(Orders(search("q=order%2042%20").body), std::vector<int>{42});
  EXPECT_EQ(Orders(search("regex=order%20[0-9]*7%20&limit=1000").body),
            (std::vector<int>{57, 47, 37, 27, 17, 7}));
  EXPECT_EQ(Orders(search("service=svc-1&limit=1000").body).size(), 20u);
  EXPECT_EQ(Orders(search("attribute=order%3D5").body), std::vector<int>{5});
  EXPECT_EQ(Orders(search("trace_id=" + ShopHex(8)).body), std::vector<int>{8});
  auto one = search("q=order%208%20");
  EXPECT_NE(one.body.find(R"("severityNumber":17,"severityText":"ERROR","body":"order 8 declined",)"
                          R"("service":"svc-2","traceId":")" +
                          ShopHex(8) +
                          R"(","spanId":"","attributes":{"order":"8"},)"
                          R"("resource":{"service.name":"svc-2"}})"),
            std::string::npos)
      << one.body;

  // Three pages of 25, 25 and 10: every record once, newest first.
  std::vector<int> all;
  std::string before;
  for (int page = 0; page < 3; ++page) {
    auto r = search("limit=25" + (before.empty() ? "" : "&before=" + before));
    ASSERT_EQ(r.status, 200) << r.body;
    std::vector<int> got = Orders(r.body);
    EXPECT_EQ(got.size(), page < 2 ? 25u : 10u);
    all.insert(all.end(), got.begin(), got.end());
    before = NextOf(r.body);
    EXPECT_EQ(before.empty(), page == 2) << r.body.substr(r.body.size() - 120);
  }
  std::vector<int> want(60);
  for (int i = 0; i < 60; ++i) want[static_cast<size_t>(i)] = 59 - i;
  EXPECT_EQ(all, want);

  for (const char* bad : {"severity=LOUD", "regex=(", "before=x", "limit=0", "trace_id=zz",
                          "start=5&end=1", "bogus=1"}) {
    auto r = search(bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_NE(r.body.find("\"error\""), std::string::npos) << bad;
  }
  service_->Shutdown();
}

TEST_F(QueryLogsTest, LiveTailStreamsOnlyMatchingRecordsAsTheyArrive) {
  StartWithLogs();
  EXPECT_EQ(testing::HttpGet(admin_, "/api/v1/logs/tail?start=1").status, 400)
      << "a tail takes filters only";
  testing::HttpStream tail(admin_, "/api/v1/logs/tail?severity=ERROR&service=svc-0");
  std::string got =
      tail.ReadUntil([](const std::string& s) { return s.find(": tailing") != std::string::npos; },
                     std::chrono::seconds(10));
  ASSERT_NE(got.find("Content-Type: text/event-stream"), std::string::npos) << got;
  EXPECT_EQ(got.find("Content-Length"), std::string::npos);
  // Records 100..123: ERROR and svc-0 are those with n % 12 == 0.
  SendLogs(Logs(100, 24, Clock::Real().NowUnixNanos()));
  auto events = [](const std::string& s) {
    size_t n = 0;
    for (size_t at = s.find("\ndata: "); at != std::string::npos; at = s.find("\ndata: ", at + 1)) {
      ++n;
    }
    return n;
  };
  got = tail.ReadUntil([&](const std::string& s) { return events(s) >= 2; },
                       std::chrono::seconds(20));
  EXPECT_EQ(Orders(got), (std::vector<int>{108, 120})) << got;
  // Another tenant's records never reach this tail.
  SendLogs(Logs(132, 1, Clock::Real().NowUnixNanos()), "acme");
  SendLogs(Logs(144, 1, Clock::Real().NowUnixNanos()));
  got = tail.ReadUntil([&](const std::string& s) { return events(s) >= 3; },
                       std::chrono::seconds(20));
  EXPECT_EQ(Orders(got), (std::vector<int>{108, 120, 144})) << got;
  service_->Shutdown();
  got = tail.ReadUntil([](const std::string&) { return false; }, std::chrono::seconds(5));
  EXPECT_TRUE(tail.closed()) << "the stream ends at shutdown";
}

TEST_F(QueryLogsTest, ATenantSeesOnlyItsOwnTracesAndLogs) {
  StartWithLogs();
  auto send_trace = [&](int trace, const std::string& tenant) {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "application/x-protobuf"}};
    if (!tenant.empty()) headers.emplace_back("X-Scope-OrgID", tenant);
    auto r = testing::HttpRequest("POST", otlp_, "/v1/traces", Trace(trace, 2).SerializeAsString(),
                                  headers);
    ASSERT_EQ(r.status, 200) << r.body;
  };
  send_trace(1, "");
  send_trace(2, "acme");
  const int64_t now = Clock::Real().NowUnixNanos();
  SendLogs(Logs(0, 4, now - 60'000'000'000));
  SendLogs(Logs(10, 2, now - 60'000'000'000), "acme");
  auto get = [&](const std::string& target, const std::string& tenant) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!tenant.empty()) headers.emplace_back("X-Scope-OrgID", tenant);
    return testing::HttpRequest("GET", admin_, target, "", headers);
  };
  ASSERT_TRUE(testing::WaitUntil([&] { return Orders(get("/api/v1/logs", "").body).size() == 4; },
                                 std::chrono::seconds(20)));
  EXPECT_EQ(Orders(get("/api/v1/logs", "acme").body), (std::vector<int>{11, 10}));
  EXPECT_EQ(get("/api/v1/traces/" + Hex(1), "").status, 200);
  EXPECT_EQ(get("/api/v1/traces/" + Hex(1), "acme").status, 404);
  EXPECT_EQ(get("/api/v1/traces/" + Hex(2), "acme").status, 200);
  EXPECT_EQ(get("/api/v1/traces/" + Hex(2), "").status, 404);
  // Trace() spans start at 1,700,000,000 s.
  const std::string range = "/api/v1/traces?limit=100&start=1699999999&end=1700000001";
  EXPECT_EQ(Ids(get(range, "acme").body), std::vector<std::string>{Hex(2)});
  EXPECT_EQ(Ids(get(range, "").body), std::vector<std::string>{Hex(1)});
  service_->Shutdown();
}

TEST_F(QueryApiTest, QueryLayerIsOffUnlessEnabled) {
  std::string config = Config();
  config.replace(config.find("query:\n  enabled: true\n"), 23, "");
  service_ = testing::StartService(config, registry_);
  ASSERT_NE(service_, nullptr);
  admin_ = testing::AddressOf(*service_, "admin ");
  EXPECT_EQ(testing::HttpGet(admin_, "/api/v1/traces/" + Hex(1)).status, 404);
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("data/query")));
  service_->Shutdown();
}

}  // namespace
}  // namespace sluice::query
