// The prometheusremotewrite exporter against real backends: Prometheus with
// its remote-write receiver and VictoriaMetrics, each started on a free
// port and queried back through its HTTP API.

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "support/http_client.h"
#include "support/otlp_builders.h"
#include "support/process.h"
#include "support/prometheus_server.h"
#include "support/service_harness.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace sluice::testing {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A backend takes its time to store and answer: a minute, asking it every
// 100 ms.
template <class F>
bool WaitFor(F done) {
  return WaitUntil(done, std::chrono::seconds(60), std::chrono::milliseconds(100));
}

// A remote write request of `series` series × `samples` samples ending now.
prometheus::WriteRequest RecentWriteRequest(int series, int samples, const std::string& name,
                                            int64_t end_ms) {
  prometheus::WriteRequest req;
  for (int i = 0; i < series; ++i) {
    auto* ts = req.add_timeseries();
    auto add = [ts](const std::string& n, const std::string& v) {
      auto* l = ts->add_labels();
      l->set_name(n);
      l->set_value(v);
    };
    add("__name__", name);
    add("job", "api");
    add("series", std::to_string(i));
    for (int s = 0; s < samples; ++s) {
      auto* sample = ts->add_samples();
      sample->set_value(static_cast<double>(i * 1000 + s));
      sample->set_timestamp(end_ms - (samples - 1 - s) * 1000);
    }
  }
  return req;
}

class RemoteWriteBackendTest : public ::testing::Test {
 protected:
  void StartSluice(const std::string& endpoint) {
    std::string yaml = R"(
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
  prometheus_remote_write:
    endpoint: 127.0.0.1:0
exporters:
  prometheusremotewrite:
    endpoint: )" + endpoint +
                       R"(
    external_labels: {cluster: test}
    max_series_per_request: 50
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 1s
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
      exporters: [prometheusremotewrite]
)";
    service_ = StartService(yaml, registry_);
    ASSERT_NE(service_, nullptr);
    otlp_ = AddressOf(*service_, "receiver otlp http ");
    remote_write_ = AddressOf(*service_, "receiver prometheus_remote_write http ");
    ASSERT_FALSE(otlp_.empty());
    ASSERT_FALSE(remote_write_.empty());
  }

  void WriteRemote(const prometheus::WriteRequest& req) {
    HttpResult r = PostRemoteWrite(remote_write_, req);
    ASSERT_EQ(r.status, 204) << r.body;
  }

  void WriteOtlp(int64_t now_ms) {
    HttpResult r =
        HttpRequest("POST", otlp_, "/v1/metrics", MakeCheckoutMetrics(now_ms).SerializeAsString(),
                    {{"Content-Type", "application/x-protobuf"}});
    ASSERT_EQ(r.status, 200) << r.body;
  }

  void TearDown() override {
    if (service_) service_->Shutdown();
  }

  TempDir dir_;
  telemetry::Registry registry_;
  std::unique_ptr<pipeline::Service> service_;
  std::string otlp_;
  std::string remote_write_;
};

// The number after `"value":[<t>,"` in a Prometheus instant-query answer.
std::string QueryValue(const std::string& host_port, const std::string& query) {
  return testing::PromQueryValue(host_port, query);
}

TEST_F(RemoteWriteBackendTest, PrometheusStoresPassedThroughAndTranslatedSeries) {
  if (!PrometheusServer::Installed()) GTEST_SKIP() << "prometheus not installed";
  PrometheusServer prometheus(dir_.path());
  PrometheusServer::Options options;
  options.remote_write_receiver = true;
  ASSERT_TRUE(prometheus.Start(options)) << prometheus.Output();
  const std::string& address = prometheus.address();
  StartSluice("http://" + address + "/api/v1/write");

  int64_t now = NowMs();
  WriteRemote(RecentWriteRequest(120, 3, "sluice_passthrough_total", now));
  WriteOtlp(now);

  ASSERT_TRUE(WaitFor([&] {
    return QueryValue(address, "count(sluice_passthrough_total{cluster=\"test\"})") == "120";
  })) << prometheus.Output();
  // The newest sample of series 7 is 7 * 1000 + 2.
  EXPECT_EQ(QueryValue(address, "sluice_passthrough_total{series=\"7\"}"), "7002");
  ASSERT_TRUE(WaitFor([&] { return !QueryValue(address, "queue_size_bytes").empty(); }));
  EXPECT_EQ(QueryValue(address, "queue_size_bytes{job=\"checkout\",cluster=\"test\"}"), "42.5");
  EXPECT_EQ(QueryValue(address, "orders_total{job=\"checkout\"}"), "7");
  EXPECT_EQ(QueryValue(address, "latency_seconds_bucket{le=\"1\"}"), "3");
  EXPECT_EQ(QueryValue(address, "latency_seconds_bucket{le=\"+Inf\"}"), "6");
  EXPECT_EQ(QueryValue(address, "latency_seconds_count"), "6");
  EXPECT_EQ(QueryValue(address, "latency_seconds_sum"), "3");
}

TEST_F(RemoteWriteBackendTest, VictoriaMetricsStoresEverySampleThroughAnOutage) {
  if (!std::filesystem::exists("/usr/bin/victoria-metrics")) {
    GTEST_SKIP() << "victoria-metrics not installed";
  }
  int port = FreeLocalPort();
  std::string address = "127.0.0.1:" + std::to_string(port);
  // Samples sent while the backend is down wait in the log and arrive later.
  StartSluice("http://" + address + "/api/v1/write");
  int64_t now = NowMs();
  WriteRemote(RecentWriteRequest(200, 5, "sluice_outage_total", now));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  Process vm("/usr/bin/victoria-metrics",
             {"-httpListenAddr=" + address, "-storageDataPath=" + dir_.Sub("vm"),
              "-retentionPeriod=1y", "-search.latencyOffset=0s"},
             dir_.Sub("vm.log"));
  ASSERT_TRUE(WaitFor([&] { return HttpGet(address, "/health").status == 200; })) << vm.Output();
  WriteRemote(RecentWriteRequest(200, 5, "sluice_after_total", now));

  auto samples = [&](const std::string& name) {
    HttpGet(address, "/internal/force_flush");
    HttpResult r = HttpGet(address, "/api/v1/export?match[]=" + name);
    size_t n = 0;
    // One JSON line per series: {"metric":{...},"values":[...],"timestamps":[...]}
    for (size_t at = r.body.find("\"values\":["); at != std::string::npos;
         at = r.body.find("\"values\":[", at + 1)) {
      size_t end = r.body.find(']', at);
      n += 1 + static_cast<size_t>(std::count(r.body.begin() + static_cast<long>(at),
                                              r.body.begin() + static_cast<long>(end), ','));
    }
    return n;
  };
  EXPECT_TRUE(WaitFor([&] { return samples("sluice_outage_total") == 1000; }))
      << samples("sluice_outage_total") << "\n"
      << vm.Output();
  EXPECT_TRUE(WaitFor([&] { return samples("sluice_after_total") == 1000; }));
  HttpResult one = HttpGet(address, "/api/v1/export?match[]=sluice_outage_total{series=\"3\"}");
  EXPECT_NE(one.body.find("\"cluster\":\"test\""), std::string::npos) << one.body;
  EXPECT_NE(one.body.find("3000,3001,3002,3003,3004"), std::string::npos) << one.body;
}

}  // namespace
}  // namespace sluice::testing
