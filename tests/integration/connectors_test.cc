// The spanmetrics connector through kill -9: every acknowledged span is
// counted exactly once across restarts, and the exported counters never go
// down.

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <thread>

#include "harness.h"
#include "support/otlp_builders.h"
#include "support/prometheus_server.h"
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

// A crash after the connector wrote its checkpoint but before its cursor
// moved, made by hand: the log's state file (which holds the cursors) is put
// back as it was one checkpoint earlier. The spans between the two
// positions are read again and must be skipped, not counted twice.
TEST(ConnectorsTest, CheckpointAheadOfTheCursorSkipsWhatItAlreadyCounted) {
  TempDir dir;
  uint64_t acked = 0;
  uint64_t seed = 1;
  auto round = [&](const std::string& name, int requests) {
    SluiceProcess sluice(dir, Config(dir), name);
    ASSERT_TRUE(sluice.WaitStarted()) << sluice.process().Output();
    for (int i = 0; i < requests; ++i) {
      auto req = MakeTraceRequest(2, 10, seed++ % 4);
      HttpResult r = HttpRequest("POST", sluice.otlp(), "/v1/traces", req.SerializeAsString(),
                                 {{"Content-Type", "application/x-protobuf"}});
      ASSERT_EQ(r.status, 200) << r.body;
      acked += 20;
    }
    sluice.process().Signal(SIGTERM);  // a clean stop checkpoints and commits
    ASSERT_EQ(sluice.process().Wait(std::chrono::seconds(30)), 0) << sluice.process().Output();
  };
  round("first", 3);
  std::filesystem::copy_file(dir.Sub("data/state"), dir.Sub("state.first"));
  round("second", 2);
  // The connector's checkpoint is past the second round; its cursor goes
  // back to the end of the first.
  std::filesystem::copy_file(dir.Sub("state.first"), dir.Sub("data/state"),
                             std::filesystem::copy_options::overwrite_existing);
  SluiceProcess last(dir, Config(dir), "last");
  ASSERT_TRUE(last.WaitStarted()) << last.process().Output();
  auto req = MakeTraceRequest(2, 10, seed++ % 4);
  ASSERT_EQ(HttpRequest("POST", last.otlp(), "/v1/traces", req.SerializeAsString(),
                        {{"Content-Type", "application/x-protobuf"}})
                .status,
            200);
  acked += 20;
  std::vector<std::map<std::string, uint64_t>> exports;
  ASSERT_TRUE(WaitUntil(
      [&] {
        exports = ReadCalls(dir.Sub("metrics.jsonl"));
        return !exports.empty() && Total(exports.back()) >= acked;
      },
      std::chrono::seconds(60)))
      << "calls " << (exports.empty() ? 0 : Total(exports.back())) << " of " << acked;
  // A little longer: a double count would show in the next export.
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  exports = ReadCalls(dir.Sub("metrics.jsonl"));
  EXPECT_EQ(Total(exports.back()), acked) << "the second round's spans counted twice";
}

// {"client->server": value} of a Prometheus instant query summed by client
// and server.
std::map<std::string, uint64_t> ByEdge(const std::string& prometheus, const std::string& query) {
  HttpResult r = HttpGet(prometheus, QueryTarget("/api/v1/query", query));
  std::map<std::string, uint64_t> out;
  const std::regex item(
      R"re(\{"metric":\{"client":"([^"]*)","server":"([^"]*)"\},"value":\[[0-9.]+,"([0-9]+)"\]\})re");
  for (std::sregex_iterator it(r.body.begin(), r.body.end(), item), end; it != end; ++it) {
    out[(*it)[1].str() + "->" + (*it)[2].str()] = std::stoull((*it)[3].str());
  }
  return out;
}

// Calls and errors per edge, from loadgen's summary lines.
void AddEdges(const std::string& summary, std::map<std::string, uint64_t>* calls,
              std::map<std::string, uint64_t>* errors) {
  const std::regex line(R"re(edge (\S+) calls=([0-9]+) errors=([0-9]+))re");
  for (std::sregex_iterator it(summary.begin(), summary.end(), line), end; it != end; ++it) {
    (*calls)[(*it)[1].str()] += std::stoull((*it)[2].str());
    (*errors)[(*it)[1].str()] += std::stoull((*it)[3].str());
  }
}

// The seeded topology's calls and errors, through a kill -9 of sluice
// between two loadgen runs, reach a real Prometheus as the service graph's
// counters, exactly.
TEST(ConnectorsTest, ServiceGraphOfTheShopTopologyReachesPrometheusExactlyThroughKill9) {
  if (!PrometheusServer::Installed()) {
    GTEST_SKIP() << "prometheus is not installed (make installs it)";
  }
  TempDir dir;
  PrometheusServer prometheus(dir.path());
  PrometheusServer::Options options;
  options.remote_write_receiver = true;
  ASSERT_TRUE(prometheus.Start(options)) << prometheus.Output();
  const std::string& address = prometheus.address();
  std::string config = R"(
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
connectors:
  servicegraph:
    metrics_flush_interval: 500ms
    store: {ttl: 300ms, max_items: 100000}
exporters:
  prometheusremotewrite:
    endpoint: http://)" +
                       address + R"(/api/v1/write
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
      exporters: [servicegraph]
    metrics:
      receivers: [servicegraph]
      exporters: [prometheusremotewrite]
)";
  std::map<std::string, uint64_t> calls, errors;
  for (int round = 0; round < 2; ++round) {
    SluiceProcess sluice(dir, config, "run" + std::to_string(round));
    ASSERT_TRUE(sluice.WaitStarted()) << sluice.process().Output();
    RunResult lg = RunToCompletion(SLUICE_BINARY,
                                   {"loadgen", "--endpoint", sluice.otlp(), "--topology", "shop",
                                    "--rate", "150", "--duration", "2s", "--interval", "200ms",
                                    "--seed", std::to_string(round + 4), "--no-progress"},
                                   dir.path(), std::chrono::seconds(60));
    ASSERT_EQ(lg.exit_code, 0) << lg.output;
    ASSERT_EQ(lg.output.find("refused=0 retried=0 failed=0") != std::string::npos, true)
        << lg.output;
    AddEdges(lg.output, &calls, &errors);
    if (round == 0) {
      // Killed mid-way through its flush cycle, with spans still waiting.
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      sluice.process().Signal(SIGKILL);
      sluice.process().Wait(std::chrono::seconds(10));
    } else {
      std::map<std::string, uint64_t> got_calls, got_errors;
      bool done = WaitUntil(
          [&] {
            got_calls = ByEdge(address,
                               "sum by (client, server) "
                               "(traces_service_graph_request_total)");
            return got_calls == calls;
          },
          std::chrono::seconds(60));
      EXPECT_TRUE(done);
      EXPECT_EQ(got_calls, calls);
      got_errors =
          ByEdge(address, "sum by (client, server) (traces_service_graph_request_failed_total)");
      // Edges without a failure have no failed series to sum.
      std::map<std::string, uint64_t> nonzero;
      for (const auto& [edge, n] : errors) {
        if (n > 0) nonzero[edge] = n;
      }
      for (auto it = got_errors.begin(); it != got_errors.end();) {
        it = it->second == 0 ? got_errors.erase(it) : std::next(it);
      }
      EXPECT_EQ(got_errors, nonzero);
      EXPECT_EQ(calls.size(), 6u) << "user, checkout, recommendation, payments, cart, notifier";
      sluice.process().Signal(SIGTERM);
      sluice.process().Wait(std::chrono::seconds(30));
    }
  }
}

}  // namespace
}  // namespace sluice::testing
