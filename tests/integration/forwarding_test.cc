// Forwarding through the real binary: kill -9 while exporting, and the
// dead-letter queue from the command line.

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "integration/harness.h"
#include "support/fault_backend.h"
#include "support/http_client.h"
#include "support/otlp_builders.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace sluice::testing {
namespace {

using TraceRequest = otlp_pb::collector::trace::v1::ExportTraceServiceRequest;

class Tally {
 public:
  void Add(const BackendRequest& r) {
    TraceRequest req;
    if (!req.ParseFromString(r.body)) return;
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& rs : req.resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& s : ss.spans()) ++seen_[s.span_id()];
      }
    }
  }
  bool Has(const std::string& id) const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_.count(id) > 0;
  }
  size_t distinct() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_.size();
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, int> seen_;
};

std::string Config(const TempDir& dir, const std::string& backend) {
  return R"(
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  otlphttp:
    endpoint: )" +
         backend + R"(
    timeout: 2s
    retry_on_failure:
      initial_interval: 10ms
      max_interval: 100ms
storage:
  directory: )" +
         dir.Sub("data") + R"(
  fsync: always
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlphttp]
)";
}

uint64_t Metric(const std::string& admin, const std::string& series) {
  HttpResult r = HttpGet(admin, "/metrics");
  size_t at = r.body.find(series + " ");
  return at == std::string::npos ? 0 : std::stoull(r.body.substr(at + series.size() + 1));
}

TEST(ForwardingTest, KillDuringForwardingLosesNothingAcknowledged) {
  TempDir dir;
  Tally tally;
  FaultBackend backend(
      [](const BackendRequest&) {
        Fault f;
        f.kind = Fault::Kind::kSlowAnswer;  // keeps requests in flight at the kill
        f.delay = std::chrono::milliseconds(5);
        return f;
      },
      [&](const BackendRequest& r) { tally.Add(r); });
  ASSERT_TRUE(backend.Start());
  std::vector<std::string> acked;
  std::mt19937 rng(11);
  uint64_t seed = 1;
  for (int round = 0; round < 6; ++round) {
    SluiceProcess sluice(dir, Config(dir, backend.url()), "run" + std::to_string(round));
    ASSERT_TRUE(sluice.WaitStarted()) << sluice.process().Output();
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::thread client([&] {
      while (!stop.load()) {
        TraceRequest req = MakeTraceRequest(1, 20, seed++);
        HttpResult r = HttpRequest("POST", sluice.otlp(), "/v1/traces", req.SerializeAsString(),
                                   {{"Content-Type", "application/x-protobuf"}});
        if (r.status != 200) continue;  // killed mid-request: never acknowledged
        std::lock_guard<std::mutex> lock(mu);
        for (const auto& s : req.resource_spans(0).scope_spans(0).spans()) {
          acked.push_back(s.span_id());
        }
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 300));
    sluice.process().Signal(SIGKILL);
    stop.store(true);
    client.join();
    sluice.process().Wait(std::chrono::seconds(10));
  }
  // A last clean run delivers whatever the killed ones left in the log.
  SluiceProcess last(dir, Config(dir, backend.url()), "last");
  ASSERT_TRUE(last.WaitStarted()) << last.process().Output();
  // Wait for every acknowledged span, not for a count: spans stored but
  // never acknowledged (the client was cut off by the kill) arrive too.
  auto missing_now = [&] {
    size_t n = 0;
    for (const auto& id : acked) n += tally.Has(id) ? 0 : 1;
    return n;
  };
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (missing_now() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GT(acked.size(), 0u);
  size_t missing = missing_now();
  EXPECT_EQ(missing, 0u) << "of " << acked.size();
  last.process().Signal(SIGTERM);
  EXPECT_EQ(last.process().Wait(std::chrono::seconds(20)), 0);
}

TEST(ForwardingTest, DeadLettersAreListedReplayedAndPurgedFromTheCommandLine) {
  TempDir dir;
  Tally tally;
  std::atomic<int> answer{400};
  FaultBackend backend(
      [&](const BackendRequest&) {
        Fault f;
        f.kind = Fault::Kind::kStatus;
        f.status = answer.load();
        f.reply = "no such tenant";
        return f;
      },
      [&](const BackendRequest& r) { tally.Add(r); });
  ASSERT_TRUE(backend.Start());
  std::string config = Config(dir, backend.url());
  std::ofstream(dir.Sub("sluice.yaml")) << config;
  {
    SluiceProcess sluice(dir, config);
    ASSERT_TRUE(sluice.WaitStarted()) << sluice.process().Output();
    TraceRequest req = MakeTraceRequest(1, 7, 5);
    HttpResult r = HttpRequest("POST", sluice.otlp(), "/v1/traces", req.SerializeAsString(),
                               {{"Content-Type", "application/x-protobuf"}});
    ASSERT_EQ(r.status, 200);
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    const std::string series = "sluice_dlq_records{exporter=\"otlphttp\"}";
    while (Metric(sluice.admin(), series) < 1 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_EQ(Metric(sluice.admin(), series), 1u);
    sluice.process().Signal(SIGTERM);
    ASSERT_EQ(sluice.process().Wait(std::chrono::seconds(20)), 0);
  }
  RunResult list = RunToCompletion(SLUICE_BINARY,
                                   {"dlq", "list", "--config", dir.Sub("sluice.yaml")}, dir.path());
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find("otlphttp\t1\t"), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("\ttraces\t7\t"), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("400"), std::string::npos) << list.output;

  // Still refused: replay keeps the entry and says so.
  RunResult refused = RunToCompletion(
      SLUICE_BINARY,
      {"dlq", "replay", "--config", dir.Sub("sluice.yaml"), "--exporter", "otlphttp"}, dir.path());
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("kept 1"), std::string::npos) << refused.output;

  answer.store(200);
  RunResult replay = RunToCompletion(
      SLUICE_BINARY, {"dlq", "replay", "--config", dir.Sub("sluice.yaml"), "-e", "otlphttp"},
      dir.path());
  EXPECT_EQ(replay.exit_code, 0) << replay.output;
  EXPECT_NE(replay.output.find("replayed 1, kept 0"), std::string::npos) << replay.output;
  EXPECT_EQ(tally.distinct(), 7u);
  list = RunToCompletion(SLUICE_BINARY, {"dlq", "list", "--config", dir.Sub("sluice.yaml")},
                         dir.path());
  EXPECT_EQ(list.output.find("otlphttp\t"), std::string::npos) << list.output;

  RunResult purge = RunToCompletion(
      SLUICE_BINARY, {"dlq", "purge", "--config", dir.Sub("sluice.yaml"), "-e", "otlphttp"},
      dir.path());
  EXPECT_EQ(purge.exit_code, 0) << purge.output;
  EXPECT_NE(purge.output.find("purged 0"), std::string::npos) << purge.output;
  RunResult missing = RunToCompletion(
      SLUICE_BINARY, {"dlq", "purge", "--config", dir.Sub("sluice.yaml"), "-e", "nope"},
      dir.path());
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("no exporter \"nope\""), std::string::npos) << missing.output;
}

}  // namespace
}  // namespace sluice::testing
