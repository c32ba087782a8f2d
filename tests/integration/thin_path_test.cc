// End to end: the real binary, OTLP/HTTP protobuf requests built with the
// protobuf library, the log, and the file exporter's output.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <regex>
#include <thread>

#include "integration/harness.h"
#include "support/otlp_builders.h"

namespace sluice::testing {
namespace {

std::string Config(const TempDir& dir, const std::string& extra_storage = "") {
  return R"(
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  file:
    path: )" +
         dir.Sub("out/spans.jsonl") + R"(
    rotation:
      max_megabytes: 1
      max_backups: 0
storage:
  directory: )" +
         dir.Sub("data") + R"(
)" + extra_storage +
         R"(
service:
  shutdown_grace: 20s
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
)";
}

// Every line of the exporter's current file and its rotated backups, keyed by spanId.
std::map<std::string, std::string> ExportedSpans(const TempDir& dir, size_t* lines) {
  std::map<std::string, std::string> by_id;
  *lines = 0;
  std::regex id_re(R"re("spanId":"([0-9a-f]{16})")re");
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir.Sub("out"), ec)) {
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      ++*lines;
      std::smatch m;
      if (std::regex_search(line, m, id_re)) by_id[m[1].str()] = line;
    }
  }
  return by_id;
}

HttpResult PostTraces(const std::string& endpoint, const std::string& body) {
  return HttpRequest("POST", endpoint, "/v1/traces", body,
                     {{"Content-Type", "application/x-protobuf"}});
}

TEST(ThinPathTest, EverySpanPostedReachesTheFileWithItsAttributes) {
  TempDir dir;
  SluiceProcess sluice(dir, Config(dir));
  ASSERT_TRUE(sluice.WaitStarted()) << sluice.process().Output();

  EXPECT_EQ(HttpGet(sluice.admin(), "/healthz").status, 200);
  HttpResult ready = HttpGet(sluice.admin(), "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_NE(ready.body.find("\"receiver/otlp\":{\"ready\":true}"), std::string::npos);

  // 4 clients × 8 requests × 100 spans, with malformed requests mixed in.
  constexpr int kClients = 4;
  constexpr int kRequests = 8;
  std::vector<opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest> sent;
  for (int c = 0; c < kClients * kRequests; ++c) sent.push_back(MakeTraceRequest(4, 25, c + 1));
  std::atomic<int> ok{0};
  std::atomic<int> rejected{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < kRequests; ++i) {
        if (PostTraces(sluice.otlp(), sent[c * kRequests + i].SerializeAsString()).status == 200) {
          ++ok;
        }
        if (PostTraces(sluice.otlp(), "\x0a\x10 not a protobuf").status == 400) ++rejected;
      }
    });
  }
  for (auto& t : clients) t.join();
  ASSERT_EQ(ok.load(), kClients * kRequests);
  EXPECT_EQ(rejected.load(), kClients * kRequests);

  const size_t expected = static_cast<size_t>(kClients * kRequests) * 100;
  size_t lines = 0;
  std::map<std::string, std::string> spans;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    spans = ExportedSpans(dir, &lines);
    if (spans.size() >= expected) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(spans.size(), expected);
  EXPECT_EQ(lines, expected);  // each span exactly once

  for (const auto& req : sent) {
    for (const auto& rs : req.resource_spans()) {
      std::string service = rs.resource().attributes(0).value().string_value();
      for (const auto& span : rs.scope_spans(0).spans()) {
        auto it = spans.find(Hex(span.span_id()));
        ASSERT_NE(it, spans.end()) << "missing span " << span.name();
        const std::string& line = it->second;
        EXPECT_NE(line.find("\"traceId\":\"" + Hex(span.trace_id()) + "\""), std::string::npos);
        EXPECT_NE(line.find("\"name\":\"" + span.name() + "\""), std::string::npos);
        EXPECT_NE(line.find("{\"key\":\"http.route\",\"value\":{\"stringValue\":\"" +
                            span.attributes(0).value().string_value() + "\"}}"),
                  std::string::npos)
            << line;
        EXPECT_NE(line.find("{\"key\":\"retry.count\",\"value\":{\"intValue\":\"" +
                            std::to_string(span.attributes(1).value().int_value()) + "\"}}"),
                  std::string::npos);
        EXPECT_NE(
            line.find("{\"key\":\"service.name\",\"value\":{\"stringValue\":\"" + service + "\"}}"),
            std::string::npos);
        if (span.has_status()) {
          EXPECT_NE(line.find("\"status\":{\"message\":\"boom\",\"code\":2}"), std::string::npos);
        }
      }
    }
  }
  // The file was rotated by size (max_megabytes: 1).
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.Sub("out"))) {
    (void)e;
    ++files;
  }
  EXPECT_GE(files, 2u);

  HttpResult metrics = HttpGet(sluice.admin(), "/metrics");
  EXPECT_NE(metrics.body.find("sluice_receiver_accepted_spans_total{receiver=\"otlp\"} " +
                              std::to_string(expected)),
            std::string::npos);
  EXPECT_NE(metrics.body.find("sluice_exporter_sent_items_total{exporter=\"file\"} " +
                              std::to_string(expected)),
            std::string::npos);

  sluice.process().Signal(SIGTERM);
  auto code = sluice.process().Wait(std::chrono::seconds(30));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << sluice.process().Output();
}

TEST(ThinPathTest, RestartDoesNotExportCommittedSpansAgain) {
  TempDir dir;
  {
    SluiceProcess sluice(dir, Config(dir), "first");
    ASSERT_TRUE(sluice.WaitStarted()) << sluice.process().Output();
    ASSERT_EQ(PostTraces(sluice.otlp(), MakeTraceRequest(1, 50, 7).SerializeAsString()).status,
              200);
    size_t lines = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (ExportedSpans(dir, &lines).size() < 50 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    sluice.process().Signal(SIGTERM);
    ASSERT_EQ(sluice.process().Wait(std::chrono::seconds(30)), 0);
  }
  SluiceProcess again(dir, Config(dir), "second");
  ASSERT_TRUE(again.WaitStarted()) << again.process().Output();
  ASSERT_EQ(PostTraces(again.otlp(), MakeTraceRequest(1, 10, 8).SerializeAsString()).status, 200);
  size_t lines = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (ExportedSpans(dir, &lines).size() < 60 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(ExportedSpans(dir, &lines).size(), 60u);
  EXPECT_EQ(lines, 60u);
  again.process().Signal(SIGTERM);
  EXPECT_EQ(again.process().Wait(std::chrono::seconds(30)), 0);
}

// Waits until the OTLP/HTTP server reports a request in flight.
bool WaitForRequestInFlight(const std::string& admin) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (HttpGet(admin, "/metrics")
            .body.find("sluice_http_server_requests_in_flight{server=\"otlp/http\"} 1") !=
        std::string::npos) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// Opens a connection and sends headers plus part of a body: a request in flight.
int StartPartialRequest(const std::string& endpoint, size_t content_length) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  size_t colon = endpoint.rfind(':');
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(endpoint.substr(colon + 1))));
  ::inet_pton(AF_INET, endpoint.substr(0, colon).c_str(), &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return -1;
  std::string head =
      "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf"
      "\r\nContent-Length: " +
      std::to_string(content_length) + "\r\n\r\n";
  ::send(fd, head.data(), head.size(), 0);
  return fd;
}

TEST(LifecycleTest, SigtermWaitsForAnInFlightRequestThenExitsZero) {
  TempDir dir;
  SluiceProcess sluice(dir, Config(dir));
  ASSERT_TRUE(sluice.WaitStarted()) << sluice.process().Output();
  std::string body = MakeTraceRequest(1, 3, 1).SerializeAsString();
  int fd = StartPartialRequest(sluice.otlp(), body.size());
  ASSERT_GE(fd, 0);
  ::send(fd, body.data(), 10, 0);
  ASSERT_TRUE(WaitForRequestInFlight(sluice.admin()));
  sluice.process().Signal(SIGTERM);
  ASSERT_TRUE(sluice.process().WaitForOutput("shutting down", std::chrono::seconds(10)));
  // Still running: it waits for the request in flight.
  EXPECT_FALSE(sluice.process().Wait(std::chrono::milliseconds(500)).has_value());
  ::send(fd, body.data() + 10, body.size() - 10, 0);
  char reply[512] = {};
  ssize_t n = ::recv(fd, reply, sizeof reply - 1, 0);
  ::close(fd);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(reply).rfind("HTTP/1.1 200", 0), 0u) << reply;
  EXPECT_EQ(sluice.process().Wait(std::chrono::seconds(30)), 0) << sluice.process().Output();
}

TEST(LifecycleTest, SecondSignalExitsAtOnce) {
  TempDir dir;
  SluiceProcess sluice(dir, Config(dir));
  ASSERT_TRUE(sluice.WaitStarted()) << sluice.process().Output();
  int fd = StartPartialRequest(sluice.otlp(), 1000);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(WaitForRequestInFlight(sluice.admin()));
  sluice.process().Signal(SIGTERM);
  ASSERT_TRUE(sluice.process().WaitForOutput("shutting down", std::chrono::seconds(10)));
  EXPECT_FALSE(sluice.process().Wait(std::chrono::milliseconds(300)).has_value());
  sluice.process().Signal(SIGINT);
  auto code = sluice.process().Wait(std::chrono::seconds(5));
  ::close(fd);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 128 + SIGINT);
  EXPECT_NE(sluice.process().Output().find("second signal"), std::string::npos);
}

TEST(LifecycleTest, PortInUseStopsStartupWithAOneLineReason) {
  TempDir dir;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string port = std::to_string(ntohs(addr.sin_port));
  std::string cfg = std::regex_replace(Config(dir), std::regex("endpoint: 127.0.0.1:0"),
                                       "endpoint: 127.0.0.1:" + port);
  SluiceProcess sluice(dir, cfg);
  auto code = sluice.process().Wait(std::chrono::seconds(30));
  ::close(fd);
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  std::string out = sluice.process().Output();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      out, m, std::regex("level=error[^\n]*cannot listen on 127.0.0.1:" + port + "[^\n]*in use")))
      << out;
}

TEST(LifecycleTest, UnwritableDataDirectoryStopsStartup) {
  TempDir dir;
  std::ofstream(dir.Sub("blocker")) << "a file, not a directory";
  std::string cfg = Config(dir);
  cfg = std::regex_replace(cfg, std::regex("directory: [^\n]*"),
                           "directory: " + dir.Sub("blocker/data"));
  SluiceProcess sluice(dir, cfg);
  auto code = sluice.process().Wait(std::chrono::seconds(30));
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  EXPECT_NE(sluice.process().Output().find("cannot open the log in " + dir.Sub("blocker/data")),
            std::string::npos)
      << sluice.process().Output();
}

}  // namespace
}  // namespace sluice::testing

namespace sluice::testing {
namespace {

TEST(AdminTest, AdminRoutesAreRateLimitedPerClientButIngestIsNot) {
  TempDir dir;
  std::string cfg = std::regex_replace(
      Config(dir), std::regex("address: 127.0.0.1:0"),
      "address: 127.0.0.1:0\n      rate_limit: {requests_per_second: 1, burst: 2}");
  SluiceProcess sluice(dir, cfg);
  ASSERT_TRUE(sluice.WaitStarted()) << sluice.process().Output();
  EXPECT_EQ(HttpGet(sluice.admin(), "/healthz").status, 200);
  EXPECT_EQ(HttpGet(sluice.admin(), "/healthz").status, 200);
  HttpResult limited = HttpGet(sluice.admin(), "/metrics");
  EXPECT_EQ(limited.status, 429);
  EXPECT_FALSE(limited.Header("Retry-After").empty());
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(PostTraces(sluice.otlp(), MakeTraceRequest(1, 1, i + 1).SerializeAsString()).status,
              200);
  }
  sluice.process().Signal(SIGTERM);
  EXPECT_EQ(sluice.process().Wait(std::chrono::seconds(30)), 0);
}

}  // namespace
}  // namespace sluice::testing
