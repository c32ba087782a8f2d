// The spanmetrics connector through kill -9: every acknowledged span is
// counted exactly once across restarts, and the exported counters never go
// down.

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "harness.h"
#include "support/otlp_builders.h"
#include "support/wait.h"

namespace sluice::testing {
namespace {

std::string Config(const TempDir& dir) {
  return R"(
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
connectors:
  spanmetrics:
    metrics_flush_interval: 300ms
exporters:
  file:
    path: )" +
         dir.Sub("metrics.jsonl") +
         R"(
storage:
  directory: )" +
         dir.Sub("data") +
         R"(
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [spanmetrics]
    metrics:
      receivers: [spanmetrics]
      exporters: [file]
)";
}

// Per exported request, calls per series (by service and attributes).
std::vector<std::map<std::string, uint64_t>> ReadCalls(const std::string& path) {
  std::vector<std::map<std::string, uint64_t>> out;
  std::ifstream in(path);
  std::string line;
  const std::regex point(
      R"re(\{"attributes":(\[.*?\]),"startTimeUnixNano":"\d+","timeUnixNano":"\d+","asInt":"(\d+)"\})re");
  while (std::getline(in, line)) {
    std::map<std::string, uint64_t> calls;
    for (std::sregex_iterator it(line.begin(), line.end(), point), end; it != end; ++it) {
      calls[(*it)[1].str()] = std::stoull((*it)[2].str());
    }
    out.push_back(std::move(calls));
  }
  return out;
}

uint64_t Total(const std::map<std::string, uint64_t>& calls) {
  uint64_t n = 0;
  for (const auto& [k, v] : calls) n += v;
  return n;
}

TEST(ConnectorsTest, SpanMetricsCountEveryAcknowledgedSpanOnceThroughKill9) {
  TempDir dir;
  uint64_t acked = 0;
  uint64_t seed = 1;
  std::mt19937 rng(5);
  for (int round = 0; round < 4; ++round) {
    SluiceProcess sluice(dir, Config(dir), "run" + std::to_string(round));
    ASSERT_TRUE(sluice.WaitStarted()) << sluice.process().Output();
    // Ten services, a handful of span names each: some series repeat
    // across rounds, so the counts must carry over the kill.
    for (int i = 0; i < 15; ++i) {
      auto req = MakeTraceRequest(2, 10, seed++ % 10);
      HttpResult r = HttpRequest("POST", sluice.otlp(), "/v1/traces", req.SerializeAsString(),
                                 {{"Content-Type", "application/x-protobuf"}});
      ASSERT_EQ(r.status, 200) << r.body;
      acked += 20;
    }
    // The kill lands anywhere in the connector's flush cycle.
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 700));
    sluice.process().Signal(SIGKILL);
    sluice.process().Wait(std::chrono::seconds(10));
  }
  SluiceProcess last(dir, Config(dir), "last");
  ASSERT_TRUE(last.WaitStarted()) << last.process().Output();
  std::vector<std::map<std::string, uint64_t>> exports;
  bool done = WaitUntil(
      [&] {
        exports = ReadCalls(dir.Sub("metrics.jsonl"));
        return !exports.empty() && Total(exports.back()) >= acked;
      },
      std::chrono::seconds(60));
  ASSERT_TRUE(done) << "calls " << (exports.empty() ? 0 : Total(exports.back())) << " of " << acked;
  EXPECT_EQ(Total(exports.back()), acked) << "a span counted twice";
  // Counters never go down, from one export to the next, across restarts.
  std::map<std::string, uint64_t> seen;
  for (size_t i = 0; i < exports.size(); ++i) {
    for (const auto& [series, calls] : exports[i]) {
      EXPECT_GE(calls, seen[series]) << "export " << i << " " << series;
      seen[series] = calls;
    }
  }
}

}  // namespace
}  // namespace sluice::testing
