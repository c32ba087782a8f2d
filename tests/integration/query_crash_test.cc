// The query layer through kill -9 while queries run: after the restart its
// index and rollups are rebuilt or reused, and every answer is what it was.

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <regex>
#include <set>
#include <thread>

#include "harness.h"
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
    histogram:
      exponential:
        max_size: 160
    metrics_flush_interval: 300ms
  servicegraph:
    metrics_flush_interval: 300ms
storage:
  directory: )" +
         dir.Sub("data") + R"(
  segment_bytes: 1MiB
query:
  enabled: true
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
      # The test asks dozens of questions at once from one address; the
      # admin port's per-client limit must not answer any of them 429.
      rate_limit: {requests_per_second: 1000000, burst: 1000000}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [spanmetrics, servicegraph]
    logs:
      receivers: [otlp]
    metrics/derived:
      receivers: [spanmetrics, servicegraph]
)";
}

std::vector<std::string> Matches(const std::string& text, const std::string& pattern) {
  std::vector<std::string> out;
  std::regex re(pattern);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it) {
    out.push_back((*it)[1].str());
  }
  return out;
}

// What the query API answers about the data, in a form to compare: calls
// and errors per service and edge, the trace ids of a search, the span
// count of each of them, and the log records of a search.
struct Answers {
  std::vector<std::string> services, edges, traces, spans, logs;
  bool operator==(const Answers&) const = default;
};

Answers Ask(const std::string& admin) {
  Answers a;
  a.services = Matches(HttpGet(admin, "/api/v1/services?window=1h").body,
                       R"re(("name":"[^"]+","calls":\d+,"errors":\d+))re");
  a.edges = Matches(
      HttpGet(admin, "/api/v1/graph?window=1h").body,
      R"re(("client":"[^"]+","server":"[^"]+",("connectionType":"[^"]+",)?"requests":\d+,"failed":\d+))re");
  a.traces = Matches(HttpGet(admin, "/api/v1/traces?limit=1000").body,
                     R"re("traceId":"([0-9a-f]{32})")re");
  std::sort(a.traces.begin(), a.traces.end());
  for (size_t i = 0; i < a.traces.size() && i < 40; ++i) {
    std::string body = HttpGet(admin, "/api/v1/traces/" + a.traces[i]).body;
    a.spans.push_back(std::to_string(Matches(body, R"re(("spanId"))re").size()));
  }
  a.logs = Matches(HttpGet(admin, "/api/v1/logs?limit=1000&severity=ERROR").body,
                   R"re("spanId":"([0-9a-f]+)")re");
  std::sort(a.logs.begin(), a.logs.end());
  return a;
}

TEST(QueryCrashTest, AnswersAreUnchangedAfterKill9DuringQueries) {
  TempDir dir;
  Answers before;
  {
    SluiceProcess sluice(dir, Config(dir), "first");
    ASSERT_TRUE(sluice.WaitStarted()) << sluice.process().Output();
    RunResult sent = RunToCompletion(
        SLUICE_BINARY,
        {"loadgen", "--endpoint", sluice.otlp(), "--topology", "shop", "--rate", "200",
         "--logs-rate", "1", "--duration", "3s", "--ramp", "0s", "--no-progress", "--seed", "7"},
        dir.path(), std::chrono::seconds(60));
    ASSERT_EQ(sent.exit_code, 0) << sent.output;
    const std::string calls = std::regex_replace(
        sent.output, std::regex(R"re([\s\S]*edge user->frontend calls=(\d+)[\s\S]*)re"), "$1");
    // Settled: the connectors have counted every root span, and the index
    // has read the log to its end.
    ASSERT_TRUE(WaitUntil(
        [&] {
          return HttpGet(sluice.admin(), "/api/v1/services?window=1h")
                     .body.find("\"name\":\"frontend\",\"calls\":" + calls + ",") !=
                 std::string::npos;
        },
        std::chrono::seconds(60)))
        << HttpGet(sluice.admin(), "/api/v1/services?window=1h").body;
    // ... and the rest has settled too: two answers a second apart agree.
    ASSERT_TRUE(WaitUntil(
        [&] {
          Answers now = Ask(sluice.admin());
          const bool same = now == before;
          before = std::move(now);
          if (!same) std::this_thread::sleep_for(std::chrono::seconds(1));
          return same;
        },
        std::chrono::seconds(60)));
    ASSERT_GT(before.traces.size(), 100u);
    ASSERT_FALSE(before.logs.empty());

    // Queries in flight when the process dies.
    std::atomic<bool> stop{false};
    std::thread load([&] {
      while (!stop.load()) {
        HttpGet(sluice.admin(), "/api/v1/traces?limit=1000&error=true");
        HttpGet(sluice.admin(), "/api/v1/logs?q=failed&limit=1000");
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    sluice.process().Signal(SIGKILL);
    sluice.process().Wait(std::chrono::seconds(10));
    stop.store(true);
    load.join();
  }
  SluiceProcess again(dir, Config(dir), "again");
  ASSERT_TRUE(again.WaitStarted()) << again.process().Output();
  Answers after;
  const bool same = WaitUntil(
      [&] {
        after = Ask(again.admin());
        return after == before;
      },
      std::chrono::seconds(60));
  EXPECT_TRUE(same) << "services " << before.services.size() << "/" << after.services.size()
                    << ", edges " << before.edges.size() << "/" << after.edges.size() << ", traces "
                    << before.traces.size() << "/" << after.traces.size() << ", logs "
                    << before.logs.size() << "/" << after.logs.size();
  // Once equal they stay equal: nothing counted twice later.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(Ask(again.admin()), before);
}

}  // namespace
}  // namespace sluice::testing
