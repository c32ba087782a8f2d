#include "receivers/prometheus/prometheus_receiver.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "log/log.h"
#include "prometheus/remote.pb.h"
#include "support/service_harness.h"
#include "support/stored_batches.h"
#include "support/stored_samples.h"
#include "support/target_farm.h"
#include "support/temp_dir.h"
#include "support/tls_certificate.h"
#include "support/wait.h"

namespace sluice::receivers::prometheus {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

using Point = testing::StoredPoint;

class PrometheusReceiverTest : public ::testing::Test {
 protected:
  // A service whose prometheus receiver takes `scrape_configs` (YAML,
  // indented under `config:`).
  void Start(const std::string& scrape_configs, const std::string& extra = "") {
    const std::string yaml = R"(
receivers:
  prometheus:
)" + extra + R"(    config:
      global:
        scrape_interval: 200ms
        scrape_timeout: 150ms
        external_labels: {region: eu}
      scrape_configs:
)" + scrape_configs + R"(
storage:
  directory: )" + dir_.path() +
                             R"(
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    metrics:
      receivers: [prometheus]
)";
    service_ = testing::StartService(yaml, registry_);
    ASSERT_NE(service_, nullptr);
  }

  uint64_t Scrapes(const std::string& job, const std::string& result) {
    return registry_.AddCounter("sluice_receiver_scrapes_total", "", {"receiver", "job", "result"})
        .With({"prometheus", job, result})
        .Value();
  }

  // Stops the service and returns every stored sample by series, in order.
  std::map<std::string, std::vector<Point>> Stored() {
    service_->Shutdown();
    return testing::ReadStoredSamples(dir_.path());
  }

  testing::TempDir dir_;
  telemetry::Registry registry_;
  std::unique_ptr<pipeline::Service> service_;
  testing::TargetFarm farm_;
};

TEST_F(PrometheusReceiverTest, SamplesAreStoredWithTheTargetsLabelsTimestampsAndUp) {
  farm_.Set("/metrics", {"# HELP http_requests_total Requests.\n"
                         "# TYPE http_requests_total counter\n"
                         "http_requests_total{code=\"200\",job=\"app\"} 10 1700000000000\n"
                         "temperature 21.5\n"});
  Start(R"(        - job_name: farm
          static_configs:
            - targets: [')" +
        farm_.address() + R"(']
              labels: {env: dev}
        - job_name: honored
          honor_labels: true
          honor_timestamps: false
          static_configs:
            - targets: [')" +
        farm_.address() + R"(']
)");
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return Scrapes("farm", "ok") >= 2 && Scrapes("honored", "ok") >= 1; }, seconds(10)));
  const std::string target =
      "env=\"dev\",instance=\"" + farm_.address() + "\",job=\"farm\",region=\"eu\"";
  auto stored = Stored();
  // The target's job wins; the scraped one is kept as exported_job.
  auto requests = stored
      ["http_requests_total{code=\"200\",env=\"dev\",exported_job=\"app\","
       "instance=\"" +
       farm_.address() + "\",job=\"farm\",region=\"eu\"}"];
  ASSERT_GE(requests.size(), 2u);
  EXPECT_EQ(requests[0].value, 10);
  EXPECT_EQ(requests[0].timestamp_ms, 1700000000000) << "honor_timestamps";
  auto temperature = stored["temperature{" + target + "}"];
  ASSERT_GE(temperature.size(), 2u);
  EXPECT_EQ(temperature[0].value, 21.5);
  const int64_t now = Clock::Real().NowUnixNanos() / 1'000'000;
  EXPECT_NEAR(temperature[0].timestamp_ms, now, 20'000) << "the scrape's time";
  auto up = stored["up{" + target + "}"];
  ASSERT_GE(up.size(), 2u);
  EXPECT_EQ(up[0].value, 1);
  EXPECT_EQ(up[0].timestamp_ms, temperature[0].timestamp_ms);
  EXPECT_EQ(stored["scrape_samples_scraped{" + target + "}"][0].value, 2);
  EXPECT_EQ(stored["scrape_samples_post_metric_relabeling{" + target + "}"][0].value, 2);
  EXPECT_EQ(stored["scrape_series_added{" + target + "}"][0].value, 2);
  EXPECT_EQ(stored["scrape_series_added{" + target + "}"][1].value, 0);
  EXPECT_GT(stored["scrape_duration_seconds{" + target + "}"][0].value, 0);
  // honor_labels: the scraped job stays; honor_timestamps: false, the
  // scrape's time instead of the exposed one.
  auto honored = stored["http_requests_total{code=\"200\",instance=\"" + farm_.address() +
                        "\",job=\"app\",region=\"eu\"}"];
  ASSERT_GE(honored.size(), 1u);
  EXPECT_NEAR(honored[0].timestamp_ms, now, 20'000);
}

TEST_F(PrometheusReceiverTest, DisappearedSeriesAndFailedScrapesGetStaleMarkersOnce) {
  farm_.Set("/metrics", {"a 1\nb 2\n"});
  Start(R"(        - job_name: farm
          static_configs:
            - targets: [')" +
        farm_.address() + R"(']
)");
  ASSERT_TRUE(testing::WaitUntil([&] { return Scrapes("farm", "ok") >= 2; }, seconds(10)));
  farm_.Set("/metrics", {"a 1\n"});
  const uint64_t ok = Scrapes("farm", "ok");
  ASSERT_TRUE(testing::WaitUntil([&] { return Scrapes("farm", "ok") >= ok + 3; }, seconds(10)));
  farm_.Set("/metrics", {"oops", "text/plain", 500});
  ASSERT_TRUE(testing::WaitUntil([&] { return Scrapes("farm", "failed") >= 2; }, seconds(10)));
  const std::string target = "instance=\"" + farm_.address() + "\",job=\"farm\",region=\"eu\"";
  auto stored = Stored();
  auto b = stored["b{" + target + "}"];
  ASSERT_GE(b.size(), 3u);
  EXPECT_FALSE(b[b.size() - 2].stale());
  EXPECT_TRUE(b.back().stale()) << "one stale marker once b is gone";
  auto a = stored["a{" + target + "}"];
  EXPECT_TRUE(a.back().stale()) << "the failed scrape marks a stale";
  EXPECT_FALSE(a[a.size() - 2].stale());
  auto up = stored["up{" + target + "}"];
  EXPECT_EQ(up.back().value, 0);
  EXPECT_EQ(stored["scrape_samples_scraped{" + target + "}"].back().value, 0);
}

TEST_F(PrometheusReceiverTest, SampleLimitFailsTheScrapeUnlessTruncateKeepsTheFirstSamples) {
  farm_.Set("/metrics", {"x 1\ny 2\nz 3\n"});
  Start(R"(        - job_name: strict
          sample_limit: 2
          static_configs:
            - targets: [')" +
        farm_.address() + R"(']
        - job_name: lenient
          sample_limit: 2
          sample_limit_action: truncate
          static_configs:
            - targets: [')" +
        farm_.address() + R"(']
)");
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return Scrapes("strict", "failed") >= 2 && Scrapes("lenient", "ok") >= 2; },
      seconds(10)));
  const uint64_t truncated =
      registry_.AddCounter("sluice_receiver_scrape_truncated_samples_total", "", {"receiver"})
          .With({"prometheus"})
          .Value();
  auto stored = Stored();
  auto target = [&](const char* job) {
    return "{instance=\"" + farm_.address() + "\",job=\"" + job + "\",region=\"eu\"}";
  };
  EXPECT_EQ(stored.count("x" + target("strict")), 0u) << "a failed scrape stores no sample";
  EXPECT_EQ(stored["up" + target("strict")][0].value, 0);
  EXPECT_GE(stored["x" + target("lenient")].size(), 2u);
  EXPECT_GE(stored["y" + target("lenient")].size(), 2u);
  EXPECT_EQ(stored.count("z" + target("lenient")), 0u) << "the third sample is past the limit";
  EXPECT_EQ(stored["up" + target("lenient")][0].value, 1);
  EXPECT_GE(truncated, 2u);
}

TEST_F(PrometheusReceiverTest, GzipBodiesAreInflatedAndBodySizeLimitFailsTheScrape) {
  std::string big;
  for (int i = 0; i < 5000; ++i)
    big += "series_" + std::to_string(i) + " " + std::to_string(i) + "\n";
  farm_.Set("/big", {big, "text/plain; version=0.0.4", 200, /*gzip=*/true});
  farm_.Set("/om", {"# TYPE c counter\nc_total 7\n# EOF\n",
                    "application/openmetrics-text; version=1.0.0; charset=utf-8", 200, true});
  Start(R"(        - job_name: big
          metrics_path: /big
          static_configs:
            - targets: [')" +
        farm_.address() + R"(']
        - job_name: limited
          metrics_path: /big
          body_size_limit: 10KiB
          static_configs:
            - targets: [')" +
        farm_.address() + R"(']
        - job_name: om
          metrics_path: /om
          static_configs:
            - targets: [')" +
        farm_.address() + R"(']
)");
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        return Scrapes("big", "ok") >= 1 && Scrapes("limited", "failed") >= 1 &&
               Scrapes("om", "ok") >= 1;
      },
      seconds(10)));
  auto stored = Stored();
  const std::string big_target = "{instance=\"" + farm_.address() + "\",job=\"big\",region=\"eu\"}";
  EXPECT_EQ(stored["series_4999" + big_target][0].value, 4999);
  EXPECT_EQ(stored["scrape_samples_scraped" + big_target][0].value, 5000);
  EXPECT_EQ(
      stored.count("series_0{instance=\"" + farm_.address() + "\",job=\"limited\",region=\"eu\"}"),
      0u);
  EXPECT_EQ(
      stored["c_total{instance=\"" + farm_.address() + "\",job=\"om\",region=\"eu\"}"][0].value, 7);
}

TEST_F(PrometheusReceiverTest, RelabelConfigsDropAndRewriteTargetsAndMetricRelabelDropsSamples) {
  farm_.Set("/metrics", {"keep_me 1\ndebug_noise 2\n"});
  Start(R"(        - job_name: farm
          static_configs:
            - targets: [')" +
        farm_.address() + R"(']
              labels: {team: a}
            - targets: [')" +
        farm_.address() + R"(']
              labels: {team: b, skip: "yes"}
          relabel_configs:
            - source_labels: [skip]
              regex: "yes"
              action: drop
            - source_labels: [team]
              target_label: owner
              replacement: team-$1
          metric_relabel_configs:
            - source_labels: [__name__]
              regex: debug_.*
              action: drop
)");
  ASSERT_TRUE(testing::WaitUntil([&] { return Scrapes("farm", "ok") >= 2; }, seconds(10)));
  auto stored = Stored();
  const std::string target = "{instance=\"" + farm_.address() +
                             "\",job=\"farm\",owner=\"team-a\",region=\"eu\",team=\"a\"}";
  EXPECT_GE(stored["keep_me" + target].size(), 2u);
  EXPECT_EQ(stored["scrape_samples_post_metric_relabeling" + target][0].value, 1);
  for (const auto& [key, points] : stored) {
    EXPECT_EQ(key.find("debug_noise"), std::string::npos) << key;
    EXPECT_EQ(key.find("team=\"b\""), std::string::npos) << key << ": a dropped target";
  }
}

TEST_F(PrometheusReceiverTest, FileSdTargetsFollowTheFileAndRemovedTargetsGoStale) {
  const std::string file = dir_.path() + "/targets.json";
  auto write = [&](const std::string& text) {
    std::ofstream(file + ".tmp") << text;
    std::filesystem::rename(file + ".tmp", file);
  };
  write(R"([{"targets": [")" + farm_.address() + R"("], "labels": {"__metrics_path__": "/one"}},
            {"targets": [")" +
        farm_.address() + R"("], "labels": {"__metrics_path__": "/two"}}])");
  Start(R"(        - job_name: sd
          file_sd_configs:
            - files: [')" +
        dir_.path() + R"(/*.json']
)");
  ASSERT_TRUE(testing::WaitUntil([&] { return farm_.Hits("/one") >= 2 && farm_.Hits("/two") >= 2; },
                                 seconds(10)));
  write(R"([{"targets": [")" + farm_.address() + R"("], "labels": {"__metrics_path__": "/one"}}])");
  // Checked every 5 s: /two stops being scraped.
  int two = 0;
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        two = farm_.Hits("/two");
        std::this_thread::sleep_for(milliseconds(600));
        return farm_.Hits("/two") == two;
      },
      seconds(20)));
  const int one = farm_.Hits("/one");
  ASSERT_TRUE(testing::WaitUntil([&] { return farm_.Hits("/one") >= one + 2; }, seconds(10)));
  auto stored = Stored();
  auto gone = stored["farm_sample{instance=\"" + farm_.address() +
                     "\",job=\"sd\",path=\"/two\",region=\"eu\"}"];
  ASSERT_GE(gone.size(), 2u);
  EXPECT_TRUE(gone.back().stale()) << "a removed target's series are marked stale";
  EXPECT_FALSE(stored["farm_sample{instance=\"" + farm_.address() +
                      "\",job=\"sd\",path=\"/one\",region=\"eu\"}"]
                   .back()
                   .stale());
}

TEST_F(PrometheusReceiverTest, HttpSdTargetsComeFromTheUrlAndABadAnswerKeepsThem) {
  farm_.Set("/sd", {R"([{"targets": [")" + farm_.address() +
                        R"("], "labels": {"__metrics_path__": "/a", "zone": "z1"}}])",
                    "application/json"});
  Start(R"(        - job_name: http
          http_sd_configs:
            - url: http://)" +
        farm_.address() + R"(/sd
              refresh_interval: 1s
)");
  ASSERT_TRUE(testing::WaitUntil([&] { return farm_.Hits("/a") >= 2; }, seconds(10)))
      << farm_.Hits("/sd") << " answers from /sd";
  farm_.Set("/sd", {"not json [", "application/json"});
  const int sd = farm_.Hits("/sd");
  ASSERT_TRUE(testing::WaitUntil([&] { return farm_.Hits("/sd") >= sd + 2; }, seconds(10)));
  const int a = farm_.Hits("/a");
  ASSERT_TRUE(testing::WaitUntil([&] { return farm_.Hits("/a") >= a + 2; }, seconds(10)))
      << "the targets of the last good answer are still scraped";
  auto stored = Stored();
  EXPECT_GE(stored["farm_sample{instance=\"" + farm_.address() +
                   "\",job=\"http\",path=\"/a\",region=\"eu\",zone=\"z1\"}"]
                .size(),
            4u);
}

TEST_F(PrometheusReceiverTest, HttpsHttpSdIsAskedWithItsOwnTlsConfig) {
  testing::CertificateFiles cert;
  ASSERT_TRUE(testing::MakeSelfSignedCertificate(dir_, "sd", "sd.test", &cert));
  testing::TargetFarm secure(net::TlsFiles{cert.cert_file, cert.key_file});
  secure.Set("/sd", {R"([{"targets": [")" + farm_.address() +
                         R"("], "labels": {"__metrics_path__": "/via-https-sd"}}])",
                     "application/json"});
  Start(R"(        - job_name: trusted
          http_sd_configs:
            - url: https://)" +
        secure.address() + R"(/sd
              refresh_interval: 1s
              tls_config: {ca_file: )" +
        cert.cert_file + R"(}
        - job_name: untrusted
          http_sd_configs:
            - url: https://)" +
        secure.address() + R"(/sd
              refresh_interval: 1s
)");
  ASSERT_TRUE(testing::WaitUntil([&] { return farm_.Hits("/via-https-sd") >= 2; }, seconds(10)));
  ASSERT_TRUE(testing::WaitUntil([&] { return secure.Hits("/sd") >= 3; }, seconds(10)));
  auto stored = Stored();
  EXPECT_FALSE(
      stored["up{instance=\"" + farm_.address() + "\",job=\"trusted\",region=\"eu\"}"].empty());
  EXPECT_TRUE(
      stored["up{instance=\"" + farm_.address() + "\",job=\"untrusted\",region=\"eu\"}"].empty())
      << "the system's CAs do not know the discovery server: no targets from it";
}

TEST_F(PrometheusReceiverTest, LabelLimitCountsTheSamplesOwnLabelsNotTheExternalOnes) {
  farm_.Set("/limited", {"a{x=\"1\"} 1\n"});
  // __name__, x, instance and job: 4; the external region is added later.
  Start(R"(        - job_name: fits
          metrics_path: /limited
          label_limit: 4
          static_configs:
            - targets: [')" +
        farm_.address() + R"(']
        - job_name: over
          metrics_path: /limited
          label_limit: 3
          static_configs:
            - targets: [')" +
        farm_.address() + R"(']
)");
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return Scrapes("fits", "ok") >= 2 && Scrapes("over", "failed") >= 2; }, seconds(10)));
  EXPECT_EQ(Scrapes("fits", "failed"), 0u);
  EXPECT_EQ(Scrapes("over", "ok"), 0u);
}

TEST_F(PrometheusReceiverTest, CredentialsParamsAndTheScrapeTimeoutAreSentWithEachScrape) {
  std::ofstream(dir_.path() + "/token") << "s3cret\n";
  Start(R"(        - job_name: basic
          metrics_path: /basic
          params: {module: [http_2xx], target: [a.example]}
          basic_auth: {username: alice, password: wonder}
          static_configs:
            - targets: [')" +
        farm_.address() + R"(']
        - job_name: bearer
          metrics_path: /bearer
          authorization: {credentials_file: )" +
        dir_.path() + R"(/token}
          static_configs:
            - targets: [')" +
        farm_.address() + R"(']
)");
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return farm_.Hits("/basic") >= 1 && farm_.Hits("/bearer") >= 1; }, seconds(10)));
  EXPECT_EQ(farm_.LastHeader("/basic", "authorization"), "Basic YWxpY2U6d29uZGVy");
  EXPECT_EQ(farm_.LastHeader("/bearer", "authorization"), "Bearer s3cret");
  EXPECT_EQ(farm_.LastHeader("/basic", ":query"), "module=http_2xx&target=a.example");
  EXPECT_EQ(farm_.LastHeader("/basic", "x-prometheus-scrape-timeout-seconds"), "0.150000");
  EXPECT_NE(farm_.LastHeader("/basic", "accept").find("application/openmetrics-text"),
            std::string::npos);
  auto stored = Stored();
  // The farm echoes the path; params are in the query, not the path.
  EXPECT_GE(stored["farm_sample{instance=\"" + farm_.address() +
                   "\",job=\"basic\",path=\"/basic\",region=\"eu\"}"]
                .size(),
            1u);
}

TEST_F(PrometheusReceiverTest, ShardsOfTheSameConfigurationScrapeEachTargetOnce) {
  // Two instances with the same 40 targets, one with shard index 0 and one
  // with 1: together they scrape every target, and no target twice.
  std::string groups = "[";
  for (int i = 0; i < 40; ++i) {
    groups += std::string(i ? "," : "") + R"({"targets": [")" + farm_.address() +
              R"("], "labels": {"__metrics_path__": "/s/)" + std::to_string(i) + "\"}}";
  }
  std::ofstream(dir_.path() + "/shard.json") << groups + "]";
  const std::string configs = R"(        - job_name: sharded
          scrape_interval: 1s
          file_sd_configs:
            - files: [')" + dir_.path() +
                              R"(/shard.json']
)";
  auto run = [&](int index) {
    Start(configs, "    shard: {count: 2, index: " + std::to_string(index) + "}\n");
    const double targets = registry_.AddGauge("sluice_receiver_scrape_targets", "", {"receiver"})
                               .With({"prometheus"})
                               .Value();
    std::this_thread::sleep_for(milliseconds(1500));
    service_->Shutdown();
    service_.reset();
    return targets;
  };
  const double first = run(0);
  std::map<std::string, int> after_first;
  for (int i = 0; i < 40; ++i)
    after_first["/s/" + std::to_string(i)] = farm_.Hits("/s/" + std::to_string(i));
  const double second = run(1);
  EXPECT_EQ(first + second, 40);
  EXPECT_GT(first, 5);
  EXPECT_GT(second, 5);
  for (int i = 0; i < 40; ++i) {
    const std::string path = "/s/" + std::to_string(i);
    const bool by_first = after_first[path] > 0;
    const bool by_second = farm_.Hits(path) > after_first[path];
    EXPECT_NE(by_first, by_second) << path << " is scraped by exactly one shard";
  }
}

TEST_F(PrometheusReceiverTest, PastTheTargetLimitNoTargetOfTheJobIsScraped) {
  Start(R"(        - job_name: limited
          target_limit: 1
          static_configs:
            - targets: [')" +
        farm_.address() + R"(']
              labels: {n: "1"}
            - targets: [')" +
        farm_.address() + R"(']
              labels: {n: "2"}
)");
  ASSERT_TRUE(testing::WaitUntil([&] { return Scrapes("limited", "failed") >= 4; }, seconds(10)));
  EXPECT_EQ(farm_.Hits("/metrics"), 0);
  auto stored = Stored();
  EXPECT_EQ(
      stored["up{instance=\"" + farm_.address() + "\",job=\"limited\",n=\"1\",region=\"eu\"}"][0]
          .value,
      0);
}

TEST_F(PrometheusReceiverTest, HttpsTargetsAreScrapedWhenTheirCertificateChecksOut) {
  testing::CertificateFiles cert;
  ASSERT_TRUE(testing::MakeSelfSignedCertificate(dir_, "farm", "farm.test", &cert));
  testing::TargetFarm secure(net::TlsFiles{cert.cert_file, cert.key_file});
  const std::string addr = secure.address();
  Start(R"(        - job_name: trusted
          scheme: https
          metrics_path: /trusted
          tls_config: {ca_file: )" +
        cert.cert_file + R"(}
          static_configs:
            - targets: [')" +
        addr + R"(']
        - job_name: renamed
          scheme: https
          metrics_path: /renamed
          tls_config: {ca_file: )" +
        cert.cert_file + R"(, server_name: localhost}
          static_configs:
            - targets: [')" +
        addr + R"(']
        - job_name: unknown_ca
          scheme: https
          metrics_path: /unknown
          static_configs:
            - targets: [')" +
        addr + R"(']
        - job_name: wrong_name
          scheme: https
          metrics_path: /wrong
          tls_config: {ca_file: )" +
        cert.cert_file + R"(, server_name: other.test}
          static_configs:
            - targets: [')" +
        addr + R"(']
)");
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        return Scrapes("trusted", "ok") >= 2 && Scrapes("renamed", "ok") >= 2 &&
               Scrapes("unknown_ca", "failed") >= 2 && Scrapes("wrong_name", "failed") >= 2;
      },
      seconds(10)))
      << Scrapes("trusted", "ok") << " " << Scrapes("renamed", "ok") << " "
      << Scrapes("unknown_ca", "failed") << " " << Scrapes("wrong_name", "failed") << " "
      << Scrapes("trusted", "failed") << " " << Scrapes("renamed", "failed");
  EXPECT_EQ(Scrapes("unknown_ca", "ok"), 0u) << "the system's CAs do not know the farm";
  EXPECT_EQ(Scrapes("wrong_name", "ok"), 0u);
  EXPECT_EQ(secure.Hits("/unknown") + secure.Hits("/wrong"), 0);
  auto stored = Stored();
  EXPECT_EQ(stored["farm_sample{instance=\"" + addr +
                   "\",job=\"trusted\",path=\"/trusted\",region=\"eu\"}"][0]
                .value,
            1);
}

TEST_F(PrometheusReceiverTest, ATargetRemovedWhileItsScrapeRunsFinishesItAndGoesStale) {
  farm_.Set("/slow", {"slow_sample 1\n", "text/plain", 200, false, milliseconds(1500)});
  const std::string file = dir_.path() + "/slow.json";
  auto write = [&](const std::string& text) {
    std::ofstream(file + ".tmp") << text;
    std::filesystem::rename(file + ".tmp", file);
  };
  write(R"([{"targets": [")" + farm_.address() + R"("], "labels": {"__metrics_path__": "/slow"}},
            {"targets": [")" +
        farm_.address() + R"("], "labels": {"__metrics_path__": "/fast"}}])");
  Start(R"(        - job_name: churn
          scrape_interval: 2s
          scrape_timeout: 2s
          file_sd_configs:
            - files: [')" +
        file + R"(']
)");
  // The slow target answers after 1.5 s; it is removed while a scrape of it
  // waits (the file is checked every 5 s).
  ASSERT_TRUE(testing::WaitUntil([&] { return Scrapes("churn", "ok") >= 2; }, seconds(10)));
  write(R"([{"targets": [")" + farm_.address() +
        R"("], "labels": {"__metrics_path__": "/fast"}}])");
  const int fast = farm_.Hits("/fast");
  ASSERT_TRUE(testing::WaitUntil([&] { return farm_.Hits("/fast") >= fast + 4; }, seconds(20)));
  auto stored = Stored();
  auto slow =
      stored["slow_sample{instance=\"" + farm_.address() + "\",job=\"churn\",region=\"eu\"}"];
  ASSERT_GE(slow.size(), 2u);
  EXPECT_TRUE(slow.back().stale());
}

TEST_F(PrometheusReceiverTest,
       HonorLabelsKeepsAnEmptyScrapedInstanceAndOwnTimestampsAreNeverStale) {
  // Pushgateway's shape: instance="" means no instance, not the target's.
  farm_.Set("/push", {"pushed{instance=\"\",job=\"batch\"} 3\nfixed 1 1700000000000\n"});
  Start(R"(        - job_name: pushgateway
          honor_labels: true
          metrics_path: /push
          static_configs:
            - targets: [')" +
        farm_.address() + R"(']
)");
  ASSERT_TRUE(testing::WaitUntil([&] { return Scrapes("pushgateway", "ok") >= 1; }, seconds(10)));
  farm_.Set("/push", {"pushed{instance=\"\",job=\"batch\"} 4\n"});
  const uint64_t ok = Scrapes("pushgateway", "ok");
  ASSERT_TRUE(
      testing::WaitUntil([&] { return Scrapes("pushgateway", "ok") >= ok + 2; }, seconds(10)));
  auto stored = Stored();
  EXPECT_GE(stored["pushed{job=\"batch\",region=\"eu\"}"].size(), 2u);
  auto fixed =
      stored["fixed{instance=\"" + farm_.address() + "\",job=\"pushgateway\",region=\"eu\"}"];
  ASSERT_GE(fixed.size(), 1u);
  for (const Point& p : fixed) {
    EXPECT_FALSE(p.stale()) << "a series with its own timestamps gets no stale marker";
  }
}

TEST_F(PrometheusReceiverTest, ARotatedCredentialsFileIsReadAtTheNextScrape) {
  const std::string token = dir_.path() + "/token";
  std::ofstream(token) << "first\n";
  Start(R"(        - job_name: rotated
          authorization: {credentials_file: )" +
        token + R"(}
          static_configs:
            - targets: [')" +
        farm_.address() + R"(']
)");
  ASSERT_TRUE(testing::WaitUntil([&] { return farm_.Hits("/metrics") >= 1; }, seconds(10)));
  EXPECT_EQ(farm_.LastHeader("/metrics", "authorization"), "Bearer first");
  std::ofstream(token) << "second\n";
  EXPECT_TRUE(testing::WaitUntil(
      [&] { return farm_.LastHeader("/metrics", "authorization") == "Bearer second"; },
      seconds(10)));
}

TEST_F(PrometheusReceiverTest, DiscoveredAddressesOutOfRangeAreLeftOutAndTheRestScraped) {
  std::ofstream(dir_.path() + "/bad.json")
      << R"([{"targets": ["127.0.0.1:99999999999", "127.0.0.1:0", "http://x:1", ")" +
             farm_.address() + R"("]}])";
  Start(R"(        - job_name: mixed
          file_sd_configs:
            - files: [')" +
        dir_.path() + R"(/bad.json']
)");
  ASSERT_TRUE(testing::WaitUntil([&] { return Scrapes("mixed", "ok") >= 2; }, seconds(10)));
  EXPECT_EQ(registry_.AddGauge("sluice_receiver_scrape_targets", "", {"receiver"})
                .With({"prometheus"})
                .Value(),
            1);
  EXPECT_EQ(Scrapes("mixed", "failed"), 0u);
}

TEST_F(PrometheusReceiverTest, RelabellingGivesATargetItsOwnIntervalAndTimeout) {
  Start(R"(        - job_name: paced
          static_configs:
            - targets: [')" +
        farm_.address() + R"(']
              labels: {__metrics_path__: /often}
            - targets: [')" +
        farm_.address() + R"(']
              labels: {__metrics_path__: /seldom}
          relabel_configs:
            - source_labels: [__metrics_path__]
              regex: /seldom
              target_label: __scrape_interval__
              replacement: 2s
            - source_labels: [__metrics_path__]
              regex: /seldom
              target_label: __scrape_timeout__
              replacement: 1500ms
)");
  ASSERT_TRUE(testing::WaitUntil([&] { return farm_.Hits("/often") >= 15; }, seconds(10)));
  EXPECT_LE(farm_.Hits("/seldom"), 3) << "every 2 s, not every 200 ms";
  EXPECT_GE(farm_.Hits("/seldom"), 1);
  EXPECT_EQ(farm_.LastHeader("/seldom", "x-prometheus-scrape-timeout-seconds"), "1.500000");
  service_->Shutdown();
}

TEST_F(PrometheusReceiverTest, AHungTargetFailsAtItsTimeoutAndDelaysNoOtherTarget) {
  farm_.Set("/slow", {"s 1\n", "text/plain", 200, false, seconds(30)});
  Start(R"(        - job_name: slow
          metrics_path: /slow
          static_configs:
            - targets: [')" +
        farm_.address() + R"(']
        - job_name: fast
          static_configs:
            - targets: [')" +
        farm_.address() + R"(']
)");
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(testing::WaitUntil([&] { return Scrapes("slow", "failed") >= 3; }, seconds(10)));
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(took, 5.0) << "each slow scrape ends at its 150 ms timeout";
  // Both run every 200 ms at their own phases: the fast one is at most one
  // scrape behind.
  EXPECT_GE(Scrapes("fast", "ok") + 1, Scrapes("slow", "failed"))
      << "the fast target kept its schedule meanwhile";
  auto stored = Stored();
  EXPECT_EQ(stored["up{instance=\"" + farm_.address() + "\",job=\"slow\",region=\"eu\"}"][0].value,
            0);
}

// Threads of this process, from /proc.
size_t Threads() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

TEST_F(PrometheusReceiverTest, ThreadCountIsTheSameForTenAndTenThousandTargets) {
  auto run = [&](int targets) {
    std::string groups = "[";
    for (int i = 0; i < targets; ++i) {
      groups += std::string(i ? "," : "") + R"({"targets": [")" + farm_.address() +
                R"("], "labels": {"__metrics_path__": "/t/)" + std::to_string(i) + "\"}}";
    }
    groups += "]";
    const std::string file = dir_.path() + "/farm-" + std::to_string(targets) + ".json";
    std::ofstream(file) << groups;
    const uint64_t before = farm_.requests();
    // 60 s apart: the first scrapes of 10,000 targets spread over a minute,
    // about 170 a second.
    Start(R"(        - job_name: farm
          scrape_interval: 60s
          scrape_timeout: 10s
          file_sd_configs:
            - files: [')" +
          file + R"(']
)");
    const uint64_t want = std::min<uint64_t>(static_cast<uint64_t>(targets), 300);
    EXPECT_TRUE(
        testing::WaitUntil([&] { return farm_.requests() - before >= want / 10; }, seconds(30)))
        << targets << " targets: " << farm_.requests() - before << " requests";
    const size_t threads = Threads();
    service_->Shutdown();
    service_.reset();
    return threads;
  };
  const size_t ten = run(10);
  const size_t many = run(10'000);
  EXPECT_EQ(ten, many);
}

TEST(PrometheusConfigTest, UnknownKeysAndBadValuesAreErrorsAtTheirPlace) {
  config::Context ctx("prom.yaml");
  auto root = config::LoadString(R"(config:
  scrape_configs:
    - job_name: a
      scrape_interval: 10s
      scrape_timeout: 20s
      static_configs:
        - targets: [x:1]
    - job_name: b
      kubernetes_sd_configs: []
    - job_name: a
    - job_name: c
      scheme: ftp
)",
                                 ctx);
  ASSERT_TRUE(root);
  PrometheusOptions o;
  PrometheusOptionsSchema().Parse(*root, &o, ctx);
  ASSERT_FALSE(ctx.ok());
  std::string all;
  for (const auto& e : ctx.errors()) all += e.ToString() + "\n";
  EXPECT_NE(all.find("prom.yaml:3:7"), std::string::npos) << all;
  EXPECT_NE(all.find("scrape_timeout is greater than scrape_interval"), std::string::npos) << all;
  EXPECT_NE(all.find("prom.yaml:9:7"), std::string::npos) << all;
  EXPECT_NE(all.find("kubernetes_sd_configs"), std::string::npos) << all;
  EXPECT_NE(all.find("prom.yaml:12:15"), std::string::npos) << all << " (ftp)";

  config::Context external("external.yaml");
  auto ext = config::LoadString(
      "config:\n  global:\n    external_labels: {cluster: \"\"}\n  scrape_configs: []\n", external);
  ASSERT_TRUE(ext);
  PrometheusOptionsSchema().Parse(*ext, &o, external);
  ASSERT_FALSE(external.ok());
  EXPECT_NE(external.errors()[0].ToString().find("label \"cluster\" has no value"),
            std::string::npos)
      << external.errors()[0].ToString();

  config::Context twice("twice.yaml");
  auto again = config::LoadString(
      "config:\n  scrape_configs:\n    - job_name: a\n    - job_name: a\n", twice);
  ASSERT_TRUE(again);
  PrometheusOptionsSchema().Parse(*again, &o, twice);
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.errors()[0].ToString().find("job_name \"a\" is used twice"), std::string::npos)
      << twice.errors()[0].ToString();
}

TEST(PrometheusConfigTest, TargetGroupsParseFromJsonAndYamlAndRefuseOtherShapes) {
  auto json = ParseTargetGroups(R"([{"targets": ["a:1", "b:2"], "labels": {"env": "x"}}])", "f");
  ASSERT_TRUE(json.ok());
  ASSERT_EQ(json->size(), 1u);
  EXPECT_EQ((*json)[0].targets, (std::vector<std::string>{"a:1", "b:2"}));
  auto yaml = ParseTargetGroups("- targets: [c:3]\n  labels:\n    env: y\n", "f");
  ASSERT_TRUE(yaml.ok());
  EXPECT_EQ((*yaml)[0].labels[0].second, "y");
  EXPECT_FALSE(ParseTargetGroups(R"({"targets": []})", "f").ok());
  EXPECT_FALSE(ParseTargetGroups(R"([{"target": ["a:1"]}])", "f").ok());
}

}  // namespace
}  // namespace sluice::receivers::prometheus
