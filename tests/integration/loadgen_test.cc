// `sluice loadgen` against the real binary over both OTLP transports: every
// item it reports accepted is counted by the server, and nothing fails.

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "integration/harness.h"
#include "support/wait.h"

namespace sluice::testing {
namespace {

uint64_t Field(const std::string& summary, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(summary, m, std::regex(name + "=([0-9]+)"))) return UINT64_MAX;
  return std::stoull(m[1].str());
}

uint64_t ServerCounter(const std::string& admin, const std::string& series) {
  HttpResult metrics = HttpGet(admin, "/metrics");
  std::smatch m;
  std::string pattern = std::regex_replace(series, std::regex(R"([{}"])"), R"(\$&)");
  if (!std::regex_search(metrics.body, m, std::regex(pattern + " ([0-9]+)"))) return 0;
  return std::stoull(m[1].str());
}

// OTLP over gRPC and HTTP into the log, traces and logs, nothing exported.
std::string OtlpOnlyConfig(const TempDir& dir) {
  return R"(
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
      http:
        endpoint: 127.0.0.1:0
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
    logs:
      receivers: [otlp]
)";
}

TEST(LoadgenTest, EverySpanItReportsAcceptedIsCountedByTheServer) {
  TempDir dir;
  SluiceProcess sluice(dir, OtlpOnlyConfig(dir));
  ASSERT_TRUE(sluice.WaitStarted()) << sluice.process().Output();
  auto grpc = sluice.process().WaitForOutput(R"re(receiver=otlp address="grpc ([0-9.]+:[0-9]+)")re",
                                             std::chrono::seconds(10));
  ASSERT_TRUE(grpc.has_value());

  RunResult http = RunToCompletion(
      SLUICE_BINARY,
      {"loadgen", "--endpoint", sluice.otlp(), "--services", "20", "--rate", "100", "--logs-rate",
       "10", "--duration", "2s", "--ramp", "500ms", "--interval", "200ms", "--no-progress"},
      dir.path(), std::chrono::seconds(60));
  ASSERT_EQ(http.exit_code, 0) << http.output;
  RunResult over_grpc = RunToCompletion(
      SLUICE_BINARY,
      {"loadgen", "--protocol", "grpc", "--endpoint", *grpc, "--services", "20", "--rate", "100",
       "--duration", "2s", "--ramp", "500ms", "--interval", "200ms", "--no-progress"},
      dir.path(), std::chrono::seconds(60));
  ASSERT_EQ(over_grpc.exit_code, 0) << over_grpc.output;

  for (const RunResult* r : {&http, &over_grpc}) {
    EXPECT_GT(Field(r->output, "sent"), 1000u) << r->output;
    EXPECT_EQ(Field(r->output, "accepted"), Field(r->output, "sent")) << r->output;
    EXPECT_EQ(Field(r->output, "failed"), 0u);
  }
  // The spans and log records both runs sent are what the server accepted.
  uint64_t accepted_items = Field(http.output, "accepted") + Field(over_grpc.output, "accepted");
  uint64_t spans =
      ServerCounter(sluice.admin(), R"(sluice_receiver_accepted_spans_total{receiver="otlp"})");
  uint64_t logs = ServerCounter(sluice.admin(),
                                R"(sluice_receiver_accepted_log_records_total{receiver="otlp"})");
  EXPECT_GT(logs, 0u);
  EXPECT_EQ(spans + logs, accepted_items);
  sluice.process().Signal(SIGTERM);
  EXPECT_EQ(sluice.process().Wait(std::chrono::seconds(30)), 0);
}

// SIGINT in the middle of a long run: loadgen stops making requests, settles
// those it had started, and reports totals the server agrees with.
TEST(LoadgenTest, InterruptedRunStopsPromptlyAndCountsWhatItSent) {
  TempDir dir;
  SluiceProcess sluice(dir, OtlpOnlyConfig(dir));
  ASSERT_TRUE(sluice.WaitStarted()) << sluice.process().Output();
  {
    Process loadgen(
        SLUICE_BINARY,
        {"loadgen", "--endpoint", sluice.otlp(), "--services", "50", "--rate", "200", "--duration",
         "10m", "--ramp", "200ms", "--interval", "100ms", "--no-progress"},
        dir.Sub("loadgen.log"), dir.path());
    ASSERT_TRUE(loadgen.started());
    // Running: the server has taken some spans.
    ASSERT_TRUE(WaitUntil(
        [&] {
          return ServerCounter(sluice.admin(),
                               R"(sluice_receiver_accepted_spans_total{receiver="otlp"})") > 0;
        },
        std::chrono::seconds(20)));
    auto interrupted = std::chrono::steady_clock::now();
    loadgen.Signal(SIGINT);
    ASSERT_EQ(loadgen.Wait(std::chrono::seconds(20)), 0) << loadgen.Output();
    EXPECT_LT(std::chrono::steady_clock::now() - interrupted, std::chrono::seconds(5));
    std::string out = loadgen.Output();
    EXPECT_GT(Field(out, "sent"), 0u) << out;
    EXPECT_EQ(Field(out, "accepted"), Field(out, "sent")) << out;
    EXPECT_EQ(
        Field(out, "accepted"),
        ServerCounter(sluice.admin(), R"(sluice_receiver_accepted_spans_total{receiver="otlp"})"));
  }
  sluice.process().Signal(SIGTERM);
  EXPECT_EQ(sluice.process().Wait(std::chrono::seconds(30)), 0);
}

// --operations gives each service its own root span names, and
// --name-churn names a share of root spans after routes never used before:
// what the span-metrics benchmarks run on.
TEST(LoadgenTest, OperationsAndNameChurnShapeTheRootSpanNames) {
  TempDir dir;
  std::string config = R"(
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  file:
    path: )" + dir.Sub("spans.jsonl") +
                       R"(
storage:
  directory: )" + dir.Sub("data") +
                       R"(
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
)";
  SluiceProcess sluice(dir, config);
  ASSERT_TRUE(sluice.WaitStarted()) << sluice.process().Output();
  RunResult run =
      RunToCompletion(SLUICE_BINARY,
                      {"loadgen", "--endpoint", sluice.otlp(), "--services", "2", "--operations",
                       "4", "--name-churn", "0.25", "--rate", "300", "--duration", "2s", "--ramp",
                       "0s", "--interval", "200ms", "--no-progress"},
                      dir.path(), std::chrono::seconds(60));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const uint64_t accepted = Field(run.output, "accepted");
  ASSERT_TRUE(WaitUntil(
      [&] {
        return ServerCounter(sluice.admin(),
                             R"(sluice_exporter_sent_items_total{exporter="file"})") >= accepted;
      },
      std::chrono::seconds(20)));
  std::ifstream in(dir.Sub("spans.jsonl"));
  std::stringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  std::set<std::string> operations, churned, others;
  std::regex root(R"re("name":"GET ([^"]+)")re");
  for (auto it = std::sregex_iterator(all.begin(), all.end(), root); it != std::sregex_iterator();
       ++it) {
    std::string route = (*it)[1].str();
    if (route.starts_with("/api/v1/op-")) {
      operations.insert(route);
    } else if (route.starts_with("/api/v1/item/")) {
      churned.insert(route);
    } else {
      others.insert(route);
    }
  }
  EXPECT_EQ(operations, (std::set<std::string>{"/api/v1/op-0", "/api/v1/op-1", "/api/v1/op-2",
                                               "/api/v1/op-3"}));
  EXPECT_GT(churned.size(), 20u) << "about a quarter of some 400 root spans, each a new name";
  EXPECT_TRUE(others.empty()) << *others.begin();
  sluice.process().Signal(SIGTERM);
  EXPECT_EQ(sluice.process().Wait(std::chrono::seconds(30)), 0);
}

}  // namespace
}  // namespace sluice::testing
