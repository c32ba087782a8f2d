#include "exporters/prometheus/prometheus_exporter.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "components/builtin.h"
#include "pipeline/service.h"
#include "support/http_client.h"
#include "support/otlp_builders.h"
#include "support/prometheus_server.h"
#include "support/service_harness.h"
#include "support/temp_dir.h"
#include "support/wait.h"
#include "wire/compression.h"
#include "wire/prom/exposition.h"

namespace sluice::exporters::prometheus {
namespace {

using testing::HttpGet;
using testing::HttpRequest;
using testing::HttpResult;
using wire::prom::MetricType;
using MetricsRequest = testing::otlp_pb::collector::metrics::v1::ExportMetricsServiceRequest;

constexpr int64_t kT0 = 1'700'000'000'000;  // ms

using Labels = std::vector<std::pair<std::string, std::string>>;

// "name{a=x,b=y}" with the labels in name order: how a test names a series.
std::string Key(const std::string& name, Labels labels) {
  std::sort(labels.begin(), labels.end());
  std::string k = name + "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) k += ",";
    k += labels[i].first + "=" + labels[i].second;
  }
  return k + "}";
}

// A /metrics answer read back with the project's exposition parser, so what
// is checked is what a scraper reads.
struct Scrape {
  int status = 0;
  std::string content_type;
  std::string body;
  std::map<std::string, double> values;                  // Key() → value
  std::map<std::string, std::optional<int64_t>> stamps;  // Key() → timestamp
  std::map<std::string, MetricType> types;               // family → # TYPE
  std::map<std::string, std::string> family_of;          // Key() → family
  std::string error;

  bool Has(const std::string& key) const { return values.count(key) > 0; }
  // The value served for `key`, NaN when it is not served.
  double At(const std::string& key) const {
    auto it = values.find(key);
    return it == values.end() ? std::nan("") : it->second;
  }
};

Scrape ParseScrape(const HttpResult& r) {
  Scrape s;
  s.status = r.status;
  s.content_type = r.Header("Content-Type");
  s.body = r.body;
  wire::prom::ExpositionParser parser(wire::prom::ExpositionFormat::kText004);
  auto on_sample = [&](const wire::prom::ExpositionSample& x) {
    Labels labels;
    for (const auto& l : x.labels) labels.emplace_back(std::string(l.name), std::string(l.value));
    std::string key = Key(std::string(x.name), labels);
    s.values[key] = x.value;
    s.stamps[key] = x.has_timestamp ? std::optional<int64_t>(x.timestamp_ms) : std::nullopt;
    s.family_of[key] = std::string(x.family);
    if (x.type != MetricType::kUnknown) s.types[std::string(x.family)] = x.type;
  };
  Status st = parser.Feed(r.body, on_sample);
  if (st.ok()) st = parser.Finish(on_sample);
  if (!st.ok()) s.error = st.ToString();
  return s;
}

void AddLabel(::prometheus::TimeSeries* ts, const std::string& n, const std::string& v) {
  auto* l = ts->add_labels();
  l->set_name(n);
  l->set_value(v);
}

// One series (labels given in name order, __name__ included) with samples.
::prometheus::TimeSeries* AddSeries(::prometheus::WriteRequest* req, const std::string& name,
                                    Labels labels,
                                    const std::vector<std::pair<double, int64_t>>& samples) {
  auto* ts = req->add_timeseries();
  labels.emplace_back("__name__", name);
  std::sort(labels.begin(), labels.end());
  for (const auto& [n, v] : labels) AddLabel(ts, n, v);
  for (const auto& [v, t] : samples) {
    auto* s = ts->add_samples();
    s->set_value(v);
    s->set_timestamp(t);
  }
  return ts;
}

double StaleNaN() {
  uint64_t bits = 0x7ff0000000000002ULL;
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

// A service with the OTLP and remote write receivers feeding a `prometheus`
// exporter on a free port. Time is a ManualClock, so expiration is driven
// by the test.
class PrometheusExporterTest : public ::testing::Test {
 protected:
  void StartSluice(const std::string& exporter_options = "") {
    endpoint_ = "127.0.0.1:" + std::to_string(testing::FreeLocalPort());
    std::string yaml = R"(
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
  prometheus_remote_write:
    endpoint: 127.0.0.1:0
exporters:
  prometheus:
    endpoint: )" + endpoint_ +
                       "\n" + exporter_options + R"(
storage:
  directory: )" + dir_.Sub("data") +
                       R"(
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    metrics:
      receivers: [otlp, prometheus_remote_write]
      exporters: [prometheus]
)";
    service_ = testing::StartService(yaml, registry_, clock_);
    ASSERT_NE(service_, nullptr);
    otlp_ = testing::AddressOf(*service_, "receiver otlp http ");
    remote_write_ = testing::AddressOf(*service_, "receiver prometheus_remote_write http ");
    ASSERT_FALSE(otlp_.empty());
    ASSERT_FALSE(remote_write_.empty());
  }

  void TearDown() override {
    if (service_) service_->Shutdown();
  }

  void WriteRemote(const ::prometheus::WriteRequest& req) {
    HttpResult r = testing::PostRemoteWrite(remote_write_, req);
    ASSERT_EQ(r.status, 204) << r.body;
  }

  void WriteOtlp(const MetricsRequest& req) {
    HttpResult r = HttpRequest("POST", otlp_, "/v1/metrics", req.SerializeAsString(),
                               {{"Content-Type", "application/x-protobuf"}});
    ASSERT_EQ(r.status, 200) << r.body;
  }

  Scrape Get(std::vector<std::pair<std::string, std::string>> headers = {}) {
    return ParseScrape(HttpRequest("GET", endpoint_, "/metrics", "", std::move(headers)));
  }

  // Scrapes until `done` holds of an answer (or 30 s pass); the last answer.
  template <class F>
  Scrape WaitForScrape(F done) {
    Scrape s;
    testing::WaitUntil([&] {
      s = Get();
      return done(s);
    });
    return s;
  }

  // Sends a marker series after what a test wrote before and waits until it
  // is served: everything earlier in the log has been applied by then.
  void Barrier() {
    ::prometheus::WriteRequest req;
    AddSeries(&req, "barrier", {{"n", std::to_string(++barriers_)}}, {{1, kT0}});
    WriteRemote(req);
    std::string key = Key("barrier", {{"n", std::to_string(barriers_)}});
    ASSERT_TRUE(WaitForScrape([&](const Scrape& s) { return s.Has(key); }).Has(key));
  }

  uint64_t Counter(const std::string& name) {
    return testing::SeriesValue(registry_, name + "{exporter=\"prometheus\"}");
  }

  testing::TempDir dir_;
  ManualClock clock_;
  telemetry::Registry registry_;
  std::unique_ptr<pipeline::Service> service_;
  std::string endpoint_;
  std::string otlp_;
  std::string remote_write_;
  int barriers_ = 0;
};

TEST_F(PrometheusExporterTest, RemoteWriteSamplesAreServedWithTheirValuesLabelsAndConstLabels) {
  StartSluice("    const_labels: {cluster: eu-1, job: overridden}\n");
  ::prometheus::WriteRequest req;
  AddSeries(&req, "http_requests_total", {{"job", "api"}, {"path", "/a\"b\\c\nd"}}, {{5, kT0}});
  AddSeries(&req, "temperature", {{"room", "kitchen"}}, {{21.25, kT0}});
  WriteRemote(req);

  const std::string requests =
      Key("http_requests_total", {{"cluster", "eu-1"}, {"job", "api"}, {"path", "/a\"b\\c\nd"}});
  const std::string temperature =
      Key("temperature", {{"cluster", "eu-1"}, {"job", "overridden"}, {"room", "kitchen"}});
  Scrape s = WaitForScrape([&](const Scrape& x) { return x.Has(requests) && x.Has(temperature); });
  ASSERT_TRUE(s.error.empty()) << s.error << "\n" << s.body;
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.content_type, "text/plain; version=0.0.4; charset=utf-8");
  ASSERT_TRUE(s.Has(requests)) << s.body;
  EXPECT_EQ(s.values[requests], 5);
  ASSERT_TRUE(s.Has(temperature)) << s.body;
  EXPECT_EQ(s.values[temperature], 21.25);
  EXPECT_FALSE(s.stamps[temperature].has_value()) << "send_timestamps is off by default";
  EXPECT_TRUE(s.types.empty()) << "remote write without metadata is untyped:\n" << s.body;
  EXPECT_NE(s.body.find(R"(path="/a\"b\\c\nd")"), std::string::npos) << s.body;
}

TEST_F(PrometheusExporterTest, ANewerSampleReplacesTheHeldOneAndAnOlderOneDoesNot) {
  StartSluice("    send_timestamps: true\n");
  const std::string key = Key("queue_depth", {{"q", "a"}});
  ::prometheus::WriteRequest first;
  AddSeries(&first, "queue_depth", {{"q", "a"}}, {{1, kT0}});
  WriteRemote(first);
  ASSERT_TRUE(WaitForScrape([&](const Scrape& s) { return s.Has(key); }).Has(key));

  ::prometheus::WriteRequest newer;
  AddSeries(&newer, "queue_depth", {{"q", "a"}}, {{2, kT0 + 1000}});
  WriteRemote(newer);
  Scrape s = WaitForScrape([&](const Scrape& x) { return x.Has(key) && x.At(key) == 2; });
  EXPECT_EQ(s.values[key], 2);
  EXPECT_EQ(s.stamps[key], std::optional<int64_t>(kT0 + 1000));

  ::prometheus::WriteRequest older;
  AddSeries(&older, "queue_depth", {{"q", "a"}}, {{3, kT0 + 500}});
  WriteRemote(older);
  Barrier();
  s = Get();
  EXPECT_EQ(s.values[key], 2) << "an older sample must not replace a newer one";
  EXPECT_EQ(s.stamps[key], std::optional<int64_t>(kT0 + 1000));
  EXPECT_EQ(Counter("sluice_exporter_prometheus_out_of_order_samples_total"), 1u);
}

TEST_F(PrometheusExporterTest, AStaleMarkerRemovesTheSeries) {
  StartSluice();
  const std::string gone = Key("up", {{"instance", "a"}});
  const std::string kept = Key("up", {{"instance", "b"}});
  ::prometheus::WriteRequest req;
  AddSeries(&req, "up", {{"instance", "a"}}, {{1, kT0}});
  AddSeries(&req, "up", {{"instance", "b"}}, {{1, kT0}});
  WriteRemote(req);
  ASSERT_TRUE(WaitForScrape([&](const Scrape& s) { return s.Has(gone) && s.Has(kept); }).Has(gone));

  ::prometheus::WriteRequest stale;
  AddSeries(&stale, "up", {{"instance", "a"}}, {{StaleNaN(), kT0 + 1000}});
  WriteRemote(stale);
  Scrape s = WaitForScrape([&](const Scrape& x) { return !x.Has(gone); });
  EXPECT_FALSE(s.Has(gone)) << s.body;
  EXPECT_TRUE(s.Has(kept)) << s.body;
  EXPECT_EQ(Counter("sluice_exporter_prometheus_stale_series_total"), 1u);
}

TEST_F(PrometheusExporterTest, OtlpMetricsAreServedUnderTheirTranslatedNamesWithTypeLines) {
  StartSluice("    namespace: shop\n");
  WriteOtlp(testing::MakeCheckoutMetrics(kT0));
  const Labels job = {{"job", "checkout"}};
  const std::string count = Key("shop_latency_seconds_count", job);
  Scrape s = WaitForScrape([&](const Scrape& x) { return x.Has(count); });
  ASSERT_TRUE(s.error.empty()) << s.error << "\n" << s.body;
  ASSERT_TRUE(s.Has(count)) << s.body;

  EXPECT_EQ(s.values[Key("shop_queue_size_bytes", job)], 42.5) << s.body;
  EXPECT_EQ(s.values[Key("shop_orders_total", job)], 7) << s.body;
  EXPECT_EQ(s.values[Key("shop_latency_seconds_bucket", {{"job", "checkout"}, {"le", "0.1"}})], 1)
      << s.body;
  EXPECT_EQ(s.values[Key("shop_latency_seconds_bucket", {{"job", "checkout"}, {"le", "1"}})], 3)
      << s.body;
  EXPECT_EQ(s.values[Key("shop_latency_seconds_bucket", {{"job", "checkout"}, {"le", "+Inf"}})], 6)
      << s.body;
  EXPECT_EQ(s.values[Key("shop_latency_seconds_sum", job)], 3) << s.body;
  EXPECT_EQ(s.values[count], 6) << s.body;

  EXPECT_EQ(s.types["shop_queue_size_bytes"], MetricType::kGauge) << s.body;
  EXPECT_EQ(s.types["shop_orders_total"], MetricType::kCounter) << s.body;
  EXPECT_EQ(s.types["shop_latency_seconds"], MetricType::kHistogram) << s.body;
  EXPECT_EQ(s.family_of[count], "shop_latency_seconds") << "a histogram's series are one family";
}

TEST_F(PrometheusExporterTest, ASeriesNotUpdatedWithinMetricExpirationIsNoLongerServed) {
  StartSluice("    metric_expiration: 1m\n");
  const std::string old_key = Key("old_series", {});
  const std::string fresh_key = Key("fresh_series", {});
  ::prometheus::WriteRequest old_req;
  AddSeries(&old_req, "old_series", {}, {{1, kT0}});
  WriteRemote(old_req);
  ASSERT_TRUE(WaitForScrape([&](const Scrape& s) { return s.Has(old_key); }).Has(old_key));

  clock_.Advance(std::chrono::seconds(45));
  ::prometheus::WriteRequest fresh_req;
  AddSeries(&fresh_req, "fresh_series", {}, {{1, kT0}});
  WriteRemote(fresh_req);
  ASSERT_TRUE(WaitForScrape([&](const Scrape& s) { return s.Has(fresh_key); }).Has(old_key))
      << "45 s after its update the old series is still served";

  // 75 s after the old series' update, 30 s after the fresh one's.
  clock_.Advance(std::chrono::seconds(30));
  Scrape s = Get();
  EXPECT_FALSE(s.Has(old_key)) << s.body;
  EXPECT_TRUE(s.Has(fresh_key)) << s.body;
  EXPECT_EQ(Counter("sluice_exporter_prometheus_expired_series_total"), 1u);
}

TEST_F(PrometheusExporterTest, AScrapeThatAcceptsGzipGetsTheSameExpositionCompressed) {
  StartSluice();
  ::prometheus::WriteRequest req;
  for (int i = 0; i < 50; ++i) AddSeries(&req, "load", {{"cpu", std::to_string(i)}}, {{i, kT0}});
  WriteRemote(req);
  const std::string last = Key("load", {{"cpu", "49"}});
  Scrape plain = WaitForScrape([&](const Scrape& s) { return s.Has(last); });
  ASSERT_TRUE(plain.Has(last));

  HttpResult r = HttpRequest("GET", endpoint_, "/metrics", "", {{"Accept-Encoding", "gzip"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Encoding"), "gzip");
  std::string body;
  ASSERT_TRUE(wire::Decompress(wire::Compression::kGzip, r.body, 64 << 20, &body).ok());
  EXPECT_EQ(body, plain.body);
  EXPECT_LT(r.body.size(), body.size());

  HttpResult refused =
      HttpRequest("GET", endpoint_, "/metrics", "", {{"Accept-Encoding", "gzip;q=0"}});
  EXPECT_EQ(refused.Header("Content-Encoding"), "");
  EXPECT_EQ(refused.body, plain.body);
}

TEST_F(PrometheusExporterTest, SeriesBeyondMaxSeriesAreRefusedAndCounted) {
  StartSluice("    max_series: 3\n");
  ::prometheus::WriteRequest req;
  for (int i = 0; i < 5; ++i) AddSeries(&req, "item", {{"i", std::to_string(i)}}, {{1, kT0}});
  WriteRemote(req);
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return Counter("sluice_exporter_prometheus_refused_series_total") == 2; }));
  Scrape s = Get();
  EXPECT_EQ(s.values.size(), 3u) << s.body;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(s.Has(Key("item", {{"i", std::to_string(i)}})));

  // A held series still takes new samples.
  ::prometheus::WriteRequest update;
  AddSeries(&update, "item", {{"i", "0"}}, {{9, kT0 + 1}});
  WriteRemote(update);
  const std::string key = Key("item", {{"i", "0"}});
  EXPECT_EQ(WaitForScrape([&](const Scrape& x) { return x.At(key) == 9; }).values[key], 9);
}

TEST_F(PrometheusExporterTest, ARestartStartsEmptyAndServesOnlyWhatArrivesAfterTheCursor) {
  StartSluice();
  const std::string before = Key("before_restart", {});
  const std::string after = Key("after_restart", {});
  ::prometheus::WriteRequest first;
  AddSeries(&first, "before_restart", {}, {{1, kT0}});
  WriteRemote(first);
  ASSERT_TRUE(WaitForScrape([&](const Scrape& s) { return s.Has(before); }).Has(before));
  service_->Shutdown();
  service_.reset();

  StartSluice();
  ::prometheus::WriteRequest second;
  AddSeries(&second, "after_restart", {}, {{1, kT0}});
  WriteRemote(second);
  Scrape s = WaitForScrape([&](const Scrape& x) { return x.Has(after); });
  EXPECT_TRUE(s.Has(after)) << s.body;
  EXPECT_FALSE(s.Has(before)) << "applied before the restart, behind the committed cursor:\n"
                              << s.body;
}

TEST_F(PrometheusExporterTest, OtherPathsAndMethodsAreRefused) {
  StartSluice();
  EXPECT_EQ(HttpGet(endpoint_, "/").status, 404);
  EXPECT_EQ(HttpRequest("POST", endpoint_, "/metrics", "x").status, 405);
}

TEST(PrometheusExporterConfigTest, AnUnknownKeyIsAnErrorWithItsPosition) {
  std::string yaml = R"(receivers:
  otlp:
    protocols:
      http:
exporters:
  prometheus:
    endpoint: 127.0.0.1:0
    expiration: 5m
service:
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [prometheus]
)";
  config::Context ctx("sluice.yaml");
  auto root = config::LoadString(yaml, ctx);
  ASSERT_TRUE(root.has_value());
  auto cfg = pipeline::ParseServiceConfig(*root, ctx, components::BuiltinCatalog());
  EXPECT_FALSE(cfg.has_value());
  ASSERT_FALSE(ctx.errors().empty());
  EXPECT_NE(
      ctx.errors()[0].ToString().find("sluice.yaml:8:5: prometheus: unknown key \"expiration\""),
      std::string::npos)
      << ctx.errors()[0].ToString();
}

TEST(PrometheusExporterConfigTest, AMissingEndpointOrUnusableNamespaceOrConstLabelIsAnError) {
  for (const std::string options : {"    namespace: shop\n", "    endpoint: nonsense\n",
                                    "    endpoint: 127.0.0.1:0\n    namespace: 9lives\n",
                                    "    endpoint: 127.0.0.1:0\n    const_labels: {__x: y}\n"}) {
    std::string yaml = "exporters:\n  prometheus:\n" + options + R"(receivers:
  otlp:
    protocols:
      http:
service:
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [prometheus]
)";
    config::Context ctx("sluice.yaml");
    auto root = config::LoadString(yaml, ctx);
    ASSERT_TRUE(root.has_value());
    EXPECT_FALSE(pipeline::ParseServiceConfig(*root, ctx, components::BuiltinCatalog()))
        << "accepted: " << options;
  }
}

// The real Prometheus scrapes the endpoint; what it stored, queried back,
// equals what was sent.
TEST_F(PrometheusExporterTest, PrometheusScrapesTheEndpointAndStoresTheSentValues) {
  ASSERT_TRUE(testing::PrometheusServer::Installed())
      << testing::PrometheusServer::kBinary
      << " is missing: install the Debian package `prometheus` (the Makefile does)";
  StartSluice("    const_labels: {cluster: eu-1}\n");
  ::prometheus::WriteRequest req;
  AddSeries(&req, "http_requests_total", {{"path", "/a"}}, {{1234, kT0}});
  AddSeries(&req, "temperature", {{"room", "kitchen"}}, {{21.25, kT0}});
  WriteRemote(req);
  WriteOtlp(testing::MakeCheckoutMetrics(kT0));
  const std::string bucket =
      Key("latency_seconds_bucket", {{"cluster", "eu-1"}, {"job", "checkout"}, {"le", "1"}});
  ASSERT_TRUE(WaitForScrape([&](const Scrape& s) {
                return s.Has(bucket) &&
                       s.Has(Key("temperature", {{"cluster", "eu-1"}, {"room", "kitchen"}}));
              }).Has(bucket));

  testing::PrometheusServer prometheus(dir_.path());
  testing::PrometheusServer::Options o;
  o.config = R"(global:
  scrape_interval: 1s
scrape_configs:
  - job_name: sluice
    static_configs:
      - targets: [')" +
             endpoint_ + R"(']
)";
  ASSERT_TRUE(prometheus.Start(o)) << prometheus.Output();
  auto query = [&](const std::string& q) { return prometheus.Query(q); };
  ASSERT_TRUE(testing::WaitUntil([&] { return !query("latency_seconds_count").empty(); },
                                 std::chrono::seconds(60)))
      << prometheus.Output();

  EXPECT_EQ(query("http_requests_total{path=\"/a\",cluster=\"eu-1\"}"), "1234");
  EXPECT_EQ(query("temperature{room=\"kitchen\"}"), "21.25");
  EXPECT_EQ(query("queue_size_bytes"), "42.5");
  EXPECT_EQ(query("orders_total"), "7");
  EXPECT_EQ(query("latency_seconds_bucket{le=\"0.1\"}"), "1");
  EXPECT_EQ(query("latency_seconds_bucket{le=\"1\"}"), "3");
  EXPECT_EQ(query("latency_seconds_bucket{le=\"+Inf\"}"), "6");
  EXPECT_EQ(query("latency_seconds_sum"), "3");
  EXPECT_EQ(query("latency_seconds_count"), "6");
  EXPECT_EQ(query("up{job=\"sluice\"}"), "1");
}

}  // namespace
}  // namespace sluice::exporters::prometheus
