// The prometheus receiver against real targets and a real backend: Debian's
// prometheus-node-exporter and Prometheus' own /metrics are scraped by
// sluice and forwarded by remote write to Prometheus, which scrapes the same
// targets itself; both must hold the same series.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "support/http_client.h"
#include "support/process.h"
#include "support/prometheus_server.h"
#include "support/service_harness.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace sluice::receivers::prometheus {
namespace {

using testing::HttpGet;
using testing::Process;

TEST(ScrapeBackendsTest, NodeExporterScrapedBySluiceMatchesWhatPrometheusScrapesItself) {
  const char* kNode = "/usr/bin/prometheus-node-exporter";
  if (!std::filesystem::exists(kNode) || !testing::PrometheusServer::Installed()) {
    GTEST_SKIP() << "prometheus and prometheus-node-exporter are installed by `make test`";
  }
  testing::TempDir dir;
  const std::string node = "127.0.0.1:" + std::to_string(testing::FreeLocalPort());
  Process node_exporter(kNode, {"--web.listen-address=" + node}, dir.Sub("node.log"));
  testing::PrometheusServer prometheus(dir.path());
  const std::string prom = prometheus.address();
  testing::PrometheusServer::Options options;
  options.config = R"(global:
  scrape_interval: 1s
scrape_configs:
  - job_name: node_direct
    static_configs:
      - targets: [')" +
                   node + R"(']
  - job_name: prometheus_direct
    static_configs:
      - targets: [')" +
                   prom + R"(']
)";
  options.remote_write_receiver = true;
  ASSERT_TRUE(prometheus.Start(options, std::chrono::seconds(30))) << prometheus.Output();
  ASSERT_TRUE(testing::WaitUntil([&] { return HttpGet(node, "/metrics").status == 200; }))
      << node_exporter.Output();

  telemetry::Registry registry;
  auto service = testing::StartService(R"(
receivers:
  prometheus:
    config:
      global:
        scrape_interval: 1s
      scrape_configs:
        - job_name: node_via_sluice
          static_configs:
            - targets: [')" + node + R"(']
        - job_name: prometheus_via_sluice
          static_configs:
            - targets: [')" + prom + R"(']
exporters:
  prometheusremotewrite:
    endpoint: http://)" + prom + R"(/api/v1/write
storage:
  directory: )" + dir.Sub("data") + R"(
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    metrics:
      receivers: [prometheus]
      exporters: [prometheusremotewrite]
)",
                                       registry);
  ASSERT_NE(service, nullptr);
  // A few scrapes of each, both ways.
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        return prometheus.Query(
                   "sum(up{job=\"node_via_sluice\"}) + sum(up{job=\"node_direct\"})") == "2" &&
               std::atof(
                   prometheus.Query("count_over_time(up{job=\"node_via_sluice\"}[1m])").c_str()) >=
                   3;
      },
      std::chrono::seconds(60)))
      << prometheus.Output();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  // The same series, metric by metric: every name node_exporter exposes,
  // with as many series each, and the five a scrape adds.
  const std::string direct = prometheus.Query("count({job=\"node_direct\"})");
  const std::string via = prometheus.Query("count({job=\"node_via_sluice\"})");
  ASSERT_FALSE(direct.empty());
  EXPECT_EQ(via, direct);
  EXPECT_EQ(prometheus.Query("count(count by (__name__) ({job=\"node_via_sluice\"}))"),
            prometheus.Query("count(count by (__name__) ({job=\"node_direct\"}))"));
  EXPECT_EQ(prometheus.Query("count(node_cpu_seconds_total{job=\"node_via_sluice\"})"),
            prometheus.Query("count(node_cpu_seconds_total{job=\"node_direct\"})"));
  // A value that does not move: the same through sluice as scraped directly.
  EXPECT_EQ(prometheus.Query("node_memory_MemTotal_bytes{job=\"node_via_sluice\"}"),
            prometheus.Query("node_memory_MemTotal_bytes{job=\"node_direct\"}"));
  EXPECT_EQ(prometheus.Query("scrape_samples_scraped{job=\"node_via_sluice\"}"),
            prometheus.Query("scrape_samples_scraped{job=\"node_direct\"}"));
  // Prometheus' own /metrics: its series grow while it runs, so by name.
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return prometheus.Query("up{job=\"prometheus_via_sluice\"}") == "1"; },
      std::chrono::seconds(30)));
  EXPECT_EQ(prometheus.Query("count(prometheus_build_info{job=\"prometheus_via_sluice\"})"), "1");
  EXPECT_EQ(prometheus.Query("count(count by (__name__) ({job=\"prometheus_via_sluice\",__name__=~"
                             "\"prometheus_tsdb_head_.*\"}))"),
            prometheus.Query("count(count by (__name__) ({job=\"prometheus_direct\",__name__=~"
                             "\"prometheus_tsdb_head_.*\"}))"));
  service->Shutdown();
}

}  // namespace
}  // namespace sluice::receivers::prometheus
