#include "exporters/file/file_exporter.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "support/http_client.h"
#include "support/otlp_builders.h"
#include "support/service_harness.h"
#include "support/temp_dir.h"
#include "wire/compression.h"

namespace sluice::exporters::file {
namespace {

using google::protobuf::util::MessageDifferencer;
using LogsRequest = testing::otlp_pb::collector::logs::v1::ExportLogsServiceRequest;
using MetricsRequest = testing::otlp_pb::collector::metrics::v1::ExportMetricsServiceRequest;
using TraceRequest = testing::otlp_pb::collector::trace::v1::ExportTraceServiceRequest;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t at = 0;
  for (size_t nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1) {
    lines.push_back(text.substr(at, nl - at));
  }
  return lines;
}

TEST(RotatingFileTest, RotatesBeforeExceedingTheSizeAndKeepsMaxBackups) {
  testing::TempDir dir;
  ManualClock clock;
  std::string path = dir.Sub("out/spans.jsonl");
  RotatingFile f(io::FileSystem::Posix(), clock, path, /*max_bytes=*/100, /*max_backups=*/2);
  ASSERT_TRUE(f.Open().ok());
  std::string line(40, 'x');
  line += '\n';
  for (int i = 0; i < 12; ++i) {
    clock.Advance(std::chrono::seconds(1));
    ASSERT_TRUE(f.Write(line).ok());
  }
  ASSERT_TRUE(f.Close().ok());
  auto backups = f.Backups();
  ASSERT_TRUE(backups.ok());
  EXPECT_EQ(backups->size(), 2u);
  for (const auto& b : *backups) {
    EXPECT_EQ(b.rfind("spans-", 0), 0u) << b;
    EXPECT_EQ(b.substr(b.size() - 6), ".jsonl");
    EXPECT_LE(std::filesystem::file_size(dir.Sub("out/" + b)), 100u);
  }
  EXPECT_LE(std::filesystem::file_size(path), 100u);
}

TEST(RotatingFileTest, RotationsWithinOneMillisecondDoNotOverwriteEachOther) {
  testing::TempDir dir;
  ManualClock clock;
  std::string path = dir.Sub("spans.jsonl");
  RotatingFile f(io::FileSystem::Posix(), clock, path, 10, 0);
  ASSERT_TRUE(f.Open().ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(f.Write("0123456789\n").ok());
  ASSERT_TRUE(f.Close().ok());
  auto backups = f.Backups();
  ASSERT_TRUE(backups.ok());
  EXPECT_EQ(backups->size(), 4u);
  std::string all = Slurp(path);
  for (const auto& b : *backups) all += Slurp(dir.Sub(b));
  EXPECT_EQ(all.size(), 55u);
}

// A service whose OTLP receiver (and, with a metrics pipeline, remote write
// receiver) feed the exporters given in `exporters` (YAML under `exporters:`)
// through every pipeline named in `pipelines`.
class FileExporterTest : public ::testing::Test {
 protected:
  void StartSluice(const std::string& exporters, const std::vector<std::string>& pipelines,
                   const std::string& exporter_ids) {
    bool metrics = std::find(pipelines.begin(), pipelines.end(), "metrics") != pipelines.end();
    std::string yaml = R"(
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
)";
    if (metrics) yaml += "  prometheus_remote_write:\n    endpoint: 127.0.0.1:0\n";
    yaml += "exporters:\n" + exporters + "storage:\n  directory: " + dir_.Sub("data") + R"(
service:
  shutdown_grace: 10s
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
)";
    for (const auto& p : pipelines) {
      std::string receivers = p == "metrics" ? "[otlp, prometheus_remote_write]" : "[otlp]";
      yaml += "    " + p + ":\n      receivers: " + receivers + "\n      exporters: [" +
              exporter_ids + "]\n";
    }
    service_ = testing::StartService(yaml, registry_);
    ASSERT_NE(service_, nullptr);
    otlp_ = testing::AddressOf(*service_, "receiver otlp http ");
    ASSERT_FALSE(otlp_.empty());
    if (metrics) {
      remote_write_ = testing::AddressOf(*service_, "receiver prometheus_remote_write http ");
      ASSERT_FALSE(remote_write_.empty());
    }
  }

  void Post(const std::string& route, const google::protobuf::Message& request) {
    auto r = testing::HttpRequest("POST", otlp_, route, request.SerializeAsString(),
                                  {{"Content-Type", "application/x-protobuf"}});
    ASSERT_EQ(r.status, 200) << r.body << r.error;
  }

  void PostRemoteWrite(const prometheus::WriteRequest& request) {
    auto r = testing::PostRemoteWrite(remote_write_, request);
    ASSERT_EQ(r.status, 204) << r.body << r.error;
  }

  // Waits (up to 60 s) until `path` holds at least `n` complete lines.
  std::vector<std::string> WaitForLines(const std::string& path, size_t n) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::vector<std::string> lines = Lines(Slurp(path));
    while (lines.size() < n && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      lines = Lines(Slurp(path));
    }
    return lines;
  }

  uint64_t Counter(const std::string& name, const std::string& labels) {
    std::string text = registry_.Render();
    std::string key = name + "{" + labels + "} ";
    size_t at = text.find(key);
    return at == std::string::npos ? 0 : std::stoull(text.substr(at + key.size()));
  }

  testing::TempDir dir_;
  telemetry::Registry registry_;
  std::unique_ptr<pipeline::Service> service_;
  std::string otlp_;
  std::string remote_write_;
};

TEST_F(FileExporterTest, LogsAndMetricsLinesParseBackToTheRequestsSent) {
  std::string path = dir_.Sub("out/telemetry.jsonl");
  ASSERT_NO_FATAL_FAILURE(
      StartSluice("  file:\n    path: " + path + "\n", {"traces", "metrics", "logs"}, "file"));
  std::vector<LogsRequest> logs;
  std::vector<MetricsRequest> metrics;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    logs.push_back(testing::MakeLogsRequest(5, seed));
    ASSERT_NO_FATAL_FAILURE(Post("/v1/logs", logs.back()));
    metrics.push_back(testing::MakeMetricsRequest(4, seed));
    ASSERT_NO_FATAL_FAILURE(Post("/v1/metrics", metrics.back()));
  }
  TraceRequest traces = testing::MakeTraceRequest(2, 3, 9);
  ASSERT_NO_FATAL_FAILURE(Post("/v1/traces", traces));

  // One line per logs or metrics request, one per span.
  std::vector<std::string> lines = WaitForLines(path, 3 + 3 + 6);
  ASSERT_EQ(lines.size(), 12u);
  size_t next_logs = 0;
  size_t next_metrics = 0;
  size_t spans = 0;
  for (const auto& line : lines) {
    std::string error;
    if (line.rfind(R"({"resourceLogs":)", 0) == 0) {
      LogsRequest parsed;
      ASSERT_TRUE(testing::ParseOtlpJson(line, &parsed, &error)) << error << "\n" << line;
      ASSERT_LT(next_logs, logs.size());
      EXPECT_TRUE(MessageDifferencer::Equals(parsed, logs[next_logs++])) << line;
    } else if (line.rfind(R"({"resourceMetrics":)", 0) == 0) {
      MetricsRequest parsed;
      ASSERT_TRUE(testing::ParseOtlpJson(line, &parsed, &error)) << error << "\n" << line;
      ASSERT_LT(next_metrics, metrics.size());
      EXPECT_TRUE(MessageDifferencer::Equals(parsed, metrics[next_metrics++])) << line;
    } else {
      // Spans keep their one-line-per-span form, resource and scope embedded.
      EXPECT_EQ(line.rfind(R"({"resource":{"attributes":)", 0), 0u) << line;
      EXPECT_NE(line.find(R"("scope":{"name":"test-scope")"), std::string::npos) << line;
      ++spans;
    }
  }
  EXPECT_EQ(next_logs, 3u);
  EXPECT_EQ(next_metrics, 3u);
  EXPECT_EQ(spans, 6u);
  EXPECT_EQ(Counter("sluice_exporter_unsupported_items_total", R"(exporter="file")"), 0u);
  service_->Shutdown();
}

// Log records with bodies of random text, so that zstd cannot shrink them
// much and a few MiB of output cross a 1 MiB rotation.
LogsRequest NoisyLogs(int records, std::mt19937& rng) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  LogsRequest req = testing::MakeLogsRequest(records, rng());
  for (auto& rec : *req.mutable_resource_logs(0)->mutable_scope_logs(0)->mutable_log_records()) {
    std::string body(2048, ' ');
    for (auto& c : body) c = kAlphabet[rng() % 64];
    rec.mutable_body()->set_string_value(body);
  }
  return req;
}

TEST_F(FileExporterTest, ZstdFilesDecompressToTheUncompressedLinesAcrossRotations) {
  std::string plain = dir_.Sub("out/plain.jsonl");
  std::string packed = dir_.Sub("zst/logs.jsonl.zst");
  ASSERT_NO_FATAL_FAILURE(StartSluice(
      "  file/plain:\n    path: " + plain +
          "\n"
          "  file/zstd:\n    path: " +
          packed + "\n    compression: zstd\n    rotation: {max_megabytes: 1, max_backups: 0}\n",
      {"logs"}, "file/plain, file/zstd"));
  std::mt19937 rng(5);
  constexpr int kRequests = 60;
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_NO_FATAL_FAILURE(Post("/v1/logs", NoisyLogs(20, rng)));
  }
  ASSERT_EQ(WaitForLines(plain, kRequests).size(), static_cast<size_t>(kRequests));
  service_->Shutdown();  // drains both exporters and closes their files

  // Oldest first: the backups by name, then the live file.
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir_.Sub("zst"))) {
    if (e.path().string() != packed) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  files.push_back(packed);
  ASSERT_GE(files.size(), 2u) << "expected at least one rotation";

  std::string all;
  for (const auto& f : files) {
    EXPECT_EQ(f.substr(f.size() - 4), ".zst") << f;
    std::string compressed = Slurp(f);
    EXPECT_LE(compressed.size(), 1u << 20) << f;
    // Each file decodes on its own: no frame is split by a rotation.
    std::string text;
    Status st = wire::Decompress(wire::Compression::kZstd, compressed, 1ull << 30, &text);
    ASSERT_TRUE(st.ok()) << f << ": " << st.ToString();
    EXPECT_FALSE(text.empty()) << f;
    EXPECT_EQ(text.back(), '\n') << f;
    all += text;
  }
  std::string expected = Slurp(plain);
  EXPECT_GT(expected.size(), 2u << 20);
  EXPECT_TRUE(all == expected) << all.size() << " bytes decompressed vs " << expected.size();
}

TEST_F(FileExporterTest, RemoteWriteBatchesInAMetricsPipelineAreCountedAsUnsupported) {
  std::string path = dir_.Sub("metrics.jsonl");
  ASSERT_NO_FATAL_FAILURE(StartSluice("  file:\n    path: " + path + "\n", {"metrics"}, "file"));
  ASSERT_NO_FATAL_FAILURE(PostRemoteWrite(testing::MakeWriteRequest(3, 4, 1)));
  MetricsRequest otlp = testing::MakeMetricsRequest(2, 1);
  ASSERT_NO_FATAL_FAILURE(Post("/v1/metrics", otlp));
  // The OTLP request was stored after the remote write one: once its line is
  // there, the remote write batch has been dealt with.
  std::vector<std::string> lines = WaitForLines(path, 1);
  ASSERT_EQ(lines.size(), 1u);
  MetricsRequest parsed;
  std::string error;
  ASSERT_TRUE(testing::ParseOtlpJson(lines[0], &parsed, &error)) << error;
  EXPECT_TRUE(MessageDifferencer::Equals(parsed, otlp));
  EXPECT_EQ(Counter("sluice_exporter_unsupported_items_total", R"(exporter="file")"), 12u);
  service_->Shutdown();
  EXPECT_EQ(Lines(Slurp(path)).size(), 1u);
}

}  // namespace
}  // namespace sluice::exporters::file
