// sluice backfill and replay against what they send to: a fault-injecting
// remote write backend, the real Prometheus and VictoriaMetrics (Debian
// packages) on free ports, and the real binary killed mid-run.
#include <gtest/gtest.h>
#include <signal.h>
#include <zstd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <set>

#include "backfill/remote_read_source.h"
#include "io/file_system.h"
#include "pipeline/checkpoint.h"
#include "prometheus/remote.pb.h"
#include "support/fault_backend.h"
#include "support/http_client.h"
#include "support/otlp_builders.h"
#include "support/process.h"
#include "support/prometheus_server.h"
#include "support/stored_samples.h"
#include "support/temp_dir.h"
#include "support/wait.h"
#include "wire/compression.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kVictoriaMetrics = "/usr/bin/victoria-metrics";

int64_t NowMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void WriteFile(const std::string& path, std::string_view data) {
  std::ofstream(path, std::ios::binary) << data;
}

// An OpenMetrics file of `series` series × `points` samples a minute apart
// from t0_ms; the value of sample i of series s is s * 100000 + i.
std::string OpenMetricsHistory(const std::string& name, int series, int points, int64_t t0_ms) {
  std::string out = "# TYPE " + name + " gauge\n";
  for (int s = 0; s < series; ++s) {
    for (int i = 0; i < points; ++i) {
      out += name + "{host=\"h" + std::to_string(s) + "\"} " + std::to_string(s * 100000 + i) +
             " " + std::to_string((t0_ms + int64_t{i} * 60'000) / 1000) + "\n";
    }
  }
  return out + "# EOF\n";
}

// The configuration of one prometheusremotewrite exporter to `url`, retries
// quick (a test waits for them).
std::string Config(const std::string& storage, const std::string& url, int queue = 8) {
  return "storage:\n  directory: " + storage +
         "\n"
         "receivers:\n  prometheus_remote_write:\n    endpoint: 127.0.0.1:0\n"
         "exporters:\n  prometheusremotewrite:\n    endpoint: " +
         url +
         "\n    retry_on_failure:\n      initial_interval: 20ms\n      max_interval: 200ms\n"
         "    sending_queue:\n      num_consumers: 2\n      queue_size: " +
         std::to_string(queue) +
         "\n"
         "service:\n  pipelines:\n    metrics:\n      receivers: [prometheus_remote_write]\n"
         "      exporters: [prometheusremotewrite]\n";
}

struct Cli {
  int code;
  std::string output;
};

Cli RunSluice(const std::vector<std::string>& args, const std::string& scratch,
              milliseconds timeout = seconds(120)) {
  RunResult r = RunToCompletion(SLUICE_BINARY, args, scratch, timeout);
  return {r.exit_code, r.output};
}

// The value of key=... in the summary line.
std::string SummaryValue(const std::string& output, const std::string& key) {
  const size_t line = output.rfind(" result=");
  if (line == std::string::npos) return "";
  const size_t at = output.find(" " + key + "=", line);
  if (at == std::string::npos) return "";
  const size_t start = at + key.size() + 2;
  return output.substr(start, output.find_first_of(" \n", start) - start);
}

// Samples a backend accepted, by series and timestamp, with how often.
class Received {
 public:
  void Add(const BackendRequest& r) {
    ::prometheus::WriteRequest req;
    ASSERT_TRUE(req.ParseFromString(r.body));
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& ts : req.timeseries()) {
      EXPECT_LE(req.timeseries_size(), 500) << "at most max_series_per_request series a request";
      const std::string key = SeriesKey(ts);
      for (const auto& s : ts.samples()) {
        auto& n = samples_[{key, s.timestamp()}];
        ++n;
        ++total_;
        // Per series, in timestamp order even with several senders.
        auto& last = last_[key];
        if (n == 1) {
          EXPECT_GE(s.timestamp(), last) << key << " out of order";
          last = s.timestamp();
        }
      }
    }
  }
  size_t distinct() {
    std::lock_guard<std::mutex> lock(mu_);
    return samples_.size();
  }
  uint64_t total() {
    std::lock_guard<std::mutex> lock(mu_);
    return total_;
  }
  bool Has(const std::string& series, int64_t ts) {
    std::lock_guard<std::mutex> lock(mu_);
    return samples_.count({series, ts}) > 0;
  }
  void ResetOrder() {
    std::lock_guard<std::mutex> lock(mu_);
    last_.clear();
  }

 private:
  std::mutex mu_;
  std::map<std::pair<std::string, int64_t>, int> samples_;
  std::map<std::string, int64_t> last_;
  uint64_t total_ = 0;
};

// A remote read server that answers in the sampled form only: `series`
// series `name`{label="<prefix><s>"}, a sample a minute for three hours
// from t0 (ms; the value of sample i is i), each request's queries answered
// with the samples inside their range. `on_query` sees each query first.
FaultBackend::Decide SampledReadServer(
    std::string name, std::string label, std::string prefix, int series, int64_t t0,
    std::function<void(const BackendRequest&, const ::prometheus::Query&)> on_query = {}) {
  return [=](const BackendRequest& r) {
    ::prometheus::ReadRequest req;
    EXPECT_TRUE(req.ParseFromString(r.body));
    ::prometheus::ReadResponse resp;
    auto* result = resp.add_results();
    for (const auto& q : req.queries()) {
      if (on_query) on_query(r, q);
      for (int s = 0; s < series; ++s) {
        auto* ts = result->add_timeseries();
        auto* n = ts->add_labels();
        n->set_name("__name__");
        n->set_value(name);
        auto* l = ts->add_labels();
        l->set_name(label);
        l->set_value(prefix + std::to_string(s));
        for (int i = 0; i < 180; ++i) {
          const int64_t t = t0 + int64_t{i} * 60'000;
          if (t < q.start_timestamp_ms() || t > q.end_timestamp_ms()) continue;
          auto* sample = ts->add_samples();
          sample->set_timestamp(t);
          sample->set_value(i);
        }
      }
    }
    Fault f;
    f.reply = wire::Compress(wire::Compression::kSnappyBlock, resp.SerializeAsString());
    f.content_type = "application/x-protobuf";
    return f;
  };
}

class BackfillBackendsTest : public ::testing::Test {
 protected:
  // A Prometheus that takes remote write with an out-of-order window of 30
  // days, and a VictoriaMetrics at `vm` keeping ten years.
  void StartBackends(PrometheusServer& prom, const std::string& vm,
                     std::unique_ptr<Process>* victoria) {
    std::filesystem::create_directories(dir_.Sub("prom"));
    PrometheusServer::Options po;
    po.config =
        "global:\n  scrape_interval: 1h\nstorage:\n  tsdb:\n    out_of_order_time_window: 30d\n";
    po.remote_write_receiver = true;
    ASSERT_TRUE(prom.Start(po)) << prom.Output();
    *victoria = std::make_unique<Process>(
        kVictoriaMetrics,
        std::vector<std::string>{"-httpListenAddr=" + vm, "-storageDataPath=" + dir_.Sub("vm"),
                                 "-retentionPeriod=10y", "-search.latencyOffset=0s"},
        dir_.Sub("vm.log"));
    ASSERT_TRUE(WaitUntil([&] { return HttpGet(vm, "/health").status == 200; }, seconds(30)));
  }

  TempDir dir_;
};

TEST_F(BackfillBackendsTest, ATargetThatAnswers500ForAWhileGetsEverySampleAfterRetries) {
  Received received;
  std::atomic<int> failures{6};
  FaultBackend backend(
      [&](const BackendRequest&) {
        Fault f;
        if (failures.fetch_sub(1) > 0) {
          f.kind = Fault::Kind::kStatus;
          f.status = 500;
        }
        return f;
      },
      [&](const BackendRequest& r) { received.Add(r); });
  ASSERT_TRUE(backend.Start());
  WriteFile(dir_.Sub("in.om"), OpenMetricsHistory("load_average", 40, 300, NowMs() - 86'400'000));
  WriteFile(dir_.Sub("cfg.yaml"), Config(dir_.Sub("data"), backend.url() + "/api/v1/write"));
  Cli r =
      RunSluice({"backfill", "--config", dir_.Sub("cfg.yaml"), "--exporter",
                 "prometheusremotewrite", "--from", "openmetrics:" + dir_.Sub("in.om"), "--quiet"},
                dir_.path());
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(SummaryValue(r.output, "result"), "success") << r.output;
  EXPECT_EQ(SummaryValue(r.output, "items"), "12000");
  EXPECT_NE(SummaryValue(r.output, "retried_items"), "0") << r.output;
  // Bytes of the accepted requests, uncompressed: at least a sample's 9
  // bytes each, counted once however often a request was retried.
  const uint64_t sent = std::stoull("0" + SummaryValue(r.output, "bytes_sent"));
  EXPECT_GT(sent, 12000u * 9);
  EXPECT_LT(sent, 12000u * 60);
  EXPECT_EQ(received.distinct(), 12000u);
  EXPECT_EQ(received.total(), 12000u) << "nothing accepted was sent twice";
}

TEST_F(BackfillBackendsTest, RequestsRefusedForGoodAreDeadLetteredAndTheRunEndsPartial) {
  Received received;
  std::atomic<int> n{0};
  FaultBackend backend(
      [&](const BackendRequest&) {
        Fault f;
        if (n.fetch_add(1) % 3 == 1) {  // every third request: a bad request
          f.kind = Fault::Kind::kStatus;
          f.status = 400;
          f.reply = "invalid label";
        }
        return f;
      },
      [&](const BackendRequest& r) { received.Add(r); });
  ASSERT_TRUE(backend.Start());
  WriteFile(dir_.Sub("in.om"), OpenMetricsHistory("mem_free", 60, 500, NowMs() - 86'400'000));
  std::string config = Config(dir_.Sub("data"), backend.url() + "/api/v1/write");
  config.insert(config.find("    retry_on_failure"), "    max_series_per_request: 5\n");
  WriteFile(dir_.Sub("cfg.yaml"), config);
  Cli r = RunSluice({"backfill", "--config", dir_.Sub("cfg.yaml"), "--exporter",
                     "prometheusremotewrite", "--from", "openmetrics:" + dir_.Sub("in.om"), "-q"},
                    dir_.path());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_EQ(SummaryValue(r.output, "result"), "partial");
  const uint64_t dead = std::stoull("0" + SummaryValue(r.output, "dead_lettered_items"));
  EXPECT_GT(dead, 0u);
  EXPECT_EQ(received.distinct() + dead, 30'000u) << "each sample accepted or dead-lettered";
  EXPECT_NE(r.output.find("dead letters are in"), std::string::npos) << r.output;
  // The dead letters are where the summary says, apart from the exporter's.
  bool found = false;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_.Sub("data/backfill"))) {
    found = found || e.path().string().find("dead_letter") != std::string::npos;
  }
  EXPECT_TRUE(found);
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("data/dead_letter")));
}

TEST_F(BackfillBackendsTest,
       KilledAtRandomPointsTheRunsTogetherDeliverEverythingAndTheCheckpointNeverLeads) {
  Received received;
  FaultBackend backend([](const BackendRequest&) { return Fault{}; },
                       [&](const BackendRequest& r) { received.Add(r); });
  ASSERT_TRUE(backend.Start());
  const int64_t t0 = NowMs() - 7 * 86'400'000LL;
  const int kSeries = 50, kPoints = 1200;
  const std::string file = OpenMetricsHistory("disk_used_bytes", kSeries, kPoints, t0);
  WriteFile(dir_.Sub("in.om"), file);
  WriteFile(dir_.Sub("cfg.yaml"), Config(dir_.Sub("data"), backend.url() + "/api/v1/write"));
  const std::string checkpoint = dir_.Sub("checkpoint");
  const std::vector<std::string> args = {"backfill",
                                         "--config",
                                         dir_.Sub("cfg.yaml"),
                                         "--exporter",
                                         "prometheusremotewrite",
                                         "--from",
                                         "openmetrics:" + dir_.Sub("in.om"),
                                         "--rate",
                                         "20000",  // three seconds a whole run: time to be killed
                                         "--checkpoint",
                                         checkpoint,
                                         "--checkpoint-interval",
                                         "200ms",
                                         "--quiet"};
  std::mt19937 rng(20261206);
  int kills = 0;
  int checkpoints_ahead = 0;  // kills after which the checkpoint had moved
  for (int attempt = 0; attempt < 40; ++attempt) {
    Process p(SLUICE_BINARY, args, dir_.Sub("run-" + std::to_string(attempt) + ".log"));
    if (kills < 4) {
      std::this_thread::sleep_for(milliseconds(std::uniform_int_distribution<int>(700, 2000)(rng)));
      p.Signal(SIGKILL);
      ASSERT_TRUE(p.Wait(seconds(10)).has_value());
      ++kills;
      received.ResetOrder();  // a new run sends the unacknowledged part again
      // Everything before the checkpoint was accepted.
      if (!std::filesystem::exists(checkpoint)) continue;
      std::string saved;
      {
        std::ifstream in(checkpoint, std::ios::binary);
        saved.assign(std::istreambuf_iterator<char>(in), {});
      }
      log::Position pos;
      int64_t finished = 0;
      std::string_view identity;
      ASSERT_TRUE(pipeline::DecodeCheckpoint("BKF1", saved, &pos, &finished, &identity).ok());
      // The lines before the checkpoint's offset: each sample among them is
      // at the backend.
      const std::string before = file.substr(0, pos.byte_offset);
      size_t line_start = 0, checked = 0;
      while (line_start < before.size()) {
        const size_t nl = before.find('\n', line_start);
        const std::string line = before.substr(line_start, nl - line_start);
        line_start = nl + 1;
        if (line.empty() || line[0] == '#') continue;
        const std::string series = line.substr(0, line.find('}') + 1);
        const int64_t ts = std::stoll(line.substr(line.rfind(' ') + 1)) * 1000;
        ASSERT_TRUE(received.Has(series, ts)) << series << " @" << ts << " is before checkpoint "
                                              << pos.byte_offset << " but was not accepted";
        ++checked;
      }
      if (pos.byte_offset > 0) ++checkpoints_ahead;
      std::cerr << "kill " << kills << ": checkpoint at byte " << pos.byte_offset << " covers "
                << checked << " samples, backend holds " << received.distinct() << "\n";
      continue;
    }
    std::optional<int> code = p.Wait(seconds(120));
    ASSERT_TRUE(code.has_value());
    ASSERT_EQ(*code, 0) << p.Output();
    EXPECT_EQ(SummaryValue(p.Output(), "resumed"), "true");
    break;
  }
  EXPECT_EQ(kills, 4);
  EXPECT_GE(checkpoints_ahead, 2) << "runs were killed after their checkpoint had moved";
  EXPECT_EQ(received.distinct(), static_cast<size_t>(kSeries * kPoints)) << "every sample arrived";
  // Duplicates only from requests unacknowledged at each kill: at most the
  // queue (8 requests) of at most one batch (10,000 samples) each, per kill.
  EXPECT_LE(received.total() - received.distinct(), 4u * 8u * 10'000u);
  // Once finished, a run again sends nothing.
  Cli again = RunSluice(args, dir_.path());
  EXPECT_EQ(again.code, 0) << again.output;
  EXPECT_EQ(SummaryValue(again.output, "items"), "0");
}

TEST_F(BackfillBackendsTest, OtlpJsonLinesReachPrometheusAndVictoriaMetricsEverySampleOnce) {
  if (!PrometheusServer::Installed() || !std::filesystem::exists(kVictoriaMetrics)) {
    GTEST_SKIP() << "prometheus or victoria-metrics not installed";
  }
  // Three days of history, a point a minute for 20 gauges, one export
  // request per line as the file exporter writes them (zstd, rotated).
  const int64_t t0_ns = (NowMs() - 3 * 86'400'000LL) * 1'000'000;
  const int kSeries = 20, kPoints = 3 * 24 * 60;
  std::string lines;
  std::string rotated;
  for (int s = 0; s < kSeries; ++s) {
    for (int chunk = 0; chunk < kPoints; chunk += 360) {
      std::string dp;
      for (int i = chunk; i < chunk + 360; ++i) {
        dp += std::string(i > chunk ? "," : "") +
              "{\"attributes\":[{\"key\":\"disk\",\"value\":{"
              "\"stringValue\":\"d" +
              std::to_string(s) + "\"}}],\"timeUnixNano\":\"" +
              std::to_string(t0_ns + int64_t{i} * 60'000'000'000LL) +
              "\",\"asDouble\":" + std::to_string(i) + "}";
      }
      std::string line =
          "{\"resourceMetrics\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
          "\"value\":{\"stringValue\":\"storage\"}}]},\"scopeMetrics\":[{\"metrics\":[{\"name\":"
          "\"disk_io_pending\",\"gauge\":{\"dataPoints\":[" +
          dp + "]}}]}]}]}\n";
      (s < kSeries / 2 ? rotated : lines) += line;
    }
  }
  WriteFile(dir_.Sub("export.json"), lines);
  {
    std::string z(ZSTD_compressBound(rotated.size()), '\0');
    z.resize(ZSTD_compress(z.data(), z.size(), rotated.data(), rotated.size(), 3));
    WriteFile(dir_.Sub("export-20260101T000000.000Z.json"), z);
  }
  const uint64_t expected = static_cast<uint64_t>(kSeries) * kPoints;

  PrometheusServer prom(dir_.Sub("prom"));
  std::unique_ptr<Process> victoria;
  const std::string vm = "127.0.0.1:" + std::to_string(FreeLocalPort());
  ASSERT_NO_FATAL_FAILURE(StartBackends(prom, vm, &victoria));

  for (const auto& [name, url] :
       {std::pair{std::string("prom"), "http://" + prom.address() + "/api/v1/write"},
        std::pair{std::string("vm"), "http://" + vm + "/api/v1/write"}}) {
    WriteFile(dir_.Sub(name + ".yaml"), Config(dir_.Sub("data-" + name), url));
    Cli r = RunSluice(
        {"backfill", "--config", dir_.Sub(name + ".yaml"), "--exporter", "prometheusremotewrite",
         "--from", "otlp-json:" + dir_.Sub("export.json"), "--progress-interval", "10ms"},
        dir_.path());
    ASSERT_EQ(r.code, 0) << name << "\n" << r.output;
    EXPECT_EQ(SummaryValue(r.output, "items"), std::to_string(expected)) << r.output;
    EXPECT_NE(r.output.find("backfill progress"), std::string::npos)
        << "not on a terminal: plain progress lines";
  }
  // Prometheus: every sample of every series, counted over the whole range.
  const std::string counted = prom.Query("sum(count_over_time(disk_io_pending[4d]))");
  EXPECT_EQ(counted, std::to_string(expected)) << prom.Output();
  EXPECT_EQ(prom.Query("count(count_over_time(disk_io_pending[4d]))"), std::to_string(kSeries));
  // VictoriaMetrics keeps what it is sent, duplicates too: once each.
  HttpGet(vm, "/internal/force_flush");
  HttpResult exported = HttpGet(vm, "/api/v1/export?match[]=disk_io_pending");
  size_t samples = 0, series = 0;
  for (size_t at = exported.body.find("\"timestamps\":["); at != std::string::npos;
       at = exported.body.find("\"timestamps\":[", at + 1)) {
    const size_t end = exported.body.find(']', at);
    std::set<std::string> distinct;
    std::string ts;
    for (size_t i = at + 14; i <= end; ++i) {
      if (exported.body[i] == ',' || exported.body[i] == ']') {
        distinct.insert(ts);
        ts.clear();
        ++samples;
      } else {
        ts += exported.body[i];
      }
    }
    EXPECT_EQ(distinct.size(), static_cast<size_t>(kPoints)) << "no timestamp twice";
    ++series;
  }
  EXPECT_EQ(series, static_cast<size_t>(kSeries));
  EXPECT_EQ(samples, expected);
}

TEST_F(BackfillBackendsTest, RemoteReadFromPrometheusIntoVictoriaMetricsMatchesPerSeries) {
  if (!PrometheusServer::Installed() || !std::filesystem::exists(kVictoriaMetrics)) {
    GTEST_SKIP() << "prometheus or victoria-metrics not installed";
  }
  PrometheusServer prom(dir_.Sub("prom"));
  std::unique_ptr<Process> victoria;
  const std::string vm = "127.0.0.1:" + std::to_string(FreeLocalPort());
  ASSERT_NO_FATAL_FAILURE(StartBackends(prom, vm, &victoria));

  // Known data in Prometheus: 30 series six hours long, a minute apart,
  // and one series of its first hour only.
  const int64_t t0 = (NowMs() - 8 * 3'600'000LL) / 60'000 * 60'000;
  WriteFile(dir_.Sub("known.om"), OpenMetricsHistory("queue_depth", 30, 360, t0));
  WriteFile(dir_.Sub("short.om"), OpenMetricsHistory("short_lived", 1, 60, t0));
  WriteFile(dir_.Sub("prom.yaml"),
            Config(dir_.Sub("data-prom"), "http://" + prom.address() + "/api/v1/write"));
  for (const char* file : {"known.om", "short.om"}) {
    Cli load = RunSluice(
        {"backfill", "--config", dir_.Sub("prom.yaml"), "--exporter", "prometheusremotewrite",
         "--from", std::string("openmetrics:") + dir_.Sub(file), "-q"},
        dir_.path());
    ASSERT_EQ(load.code, 0) << load.output;
  }

  WriteFile(dir_.Sub("vm.yaml"), Config(dir_.Sub("data-vm"), "http://" + vm + "/api/v1/write"));
  Cli r =
      RunSluice({"backfill", "--config", dir_.Sub("vm.yaml"), "--exporter", "prometheusremotewrite",
                 "--from", "remote-read:http://" + prom.address() + "/api/v1/read", "--start",
                 std::to_string(t0 / 1000), "--end", std::to_string(t0 / 1000 + 7 * 3600),
                 "--slice", "1h", "--match", "{__name__=~\"queue_depth|short_lived\"}", "-q"},
                dir_.path());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(SummaryValue(r.output, "items"), std::to_string(30 * 360 + 60)) << r.output;

  HttpGet(vm, "/internal/force_flush");
  for (const std::string host : {"h0", "h7", "h29"}) {
    EXPECT_EQ(PromQueryValue(vm, "count_over_time(queue_depth{host=\"" + host + "\"}[1y])"), "360")
        << host;
  }
  EXPECT_EQ(PromQueryValue(vm, "count(count_over_time(queue_depth[1y]))"), "30");
  EXPECT_EQ(PromQueryValue(vm, "min(count_over_time(queue_depth[1y]))"), "360") << "every series";
  EXPECT_EQ(PromQueryValue(vm, "max(count_over_time(queue_depth[1y]))"), "360");
  EXPECT_EQ(PromQueryValue(vm, "sum(count_over_time(queue_depth[1y]))"), "10800");
  EXPECT_EQ(PromQueryValue(vm, "sum(count_over_time(short_lived[1y]))"), "60");
}

TEST_F(BackfillBackendsTest, ASampledRemoteReadIsReadSliceBySliceWithTheSelectorsAsked) {
  // A remote read server that answers only in the sampled form: three
  // series, a sample a minute over three hours.
  const int64_t t0 = (NowMs() - 4 * 3'600'000LL) / 60'000 * 60'000;
  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> asked;
  std::vector<std::string> matchers;
  FaultBackend reader(
      SampledReadServer("door_open", "door", "d", 3, t0,
                        [&](const BackendRequest& r, const ::prometheus::Query& q) {
                          EXPECT_EQ(r.Header("x-prometheus-remote-read-version"), "0.1.0");
                          std::lock_guard<std::mutex> lock(mu);
                          asked.emplace_back(q.start_timestamp_ms(), q.end_timestamp_ms());
                          for (const auto& m : q.matchers()) {
                            matchers.push_back(m.name() + ":" + std::to_string(m.type()) + ":" +
                                               m.value());
                          }
                        }),
      [](const BackendRequest&) {});
  ASSERT_TRUE(reader.Start());
  Received received;
  FaultBackend backend([](const BackendRequest&) { return Fault{}; },
                       [&](const BackendRequest& r) { received.Add(r); });
  ASSERT_TRUE(backend.Start());
  WriteFile(dir_.Sub("cfg.yaml"), Config(dir_.Sub("data"), backend.url() + "/api/v1/write"));
  Cli r = RunSluice(
      {"backfill", "--config", dir_.Sub("cfg.yaml"), "--exporter", "prometheusremotewrite",
       "--from", "remote-read:" + reader.url() + "/api/v1/read", "--start",
       std::to_string(t0 / 1000), "--end", std::to_string(t0 / 1000 + 3 * 3600 - 1), "--slice",
       "1h", "--match", "{__name__=\"door_open\",door!=\"none\"}", "-q"},
      dir_.path());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(SummaryValue(r.output, "items"), "540") << r.output;
  EXPECT_EQ(received.distinct(), 540u);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(asked.size(), 3u) << "one request per hour";
  EXPECT_EQ(asked[0], std::make_pair(t0, t0 + 3'600'000 - 1));
  EXPECT_EQ(asked[2].second, t0 + 3 * 3'600'000 - 1000);
  EXPECT_EQ(matchers[0], "__name__:0:door_open");
  EXPECT_EQ(matchers[1], "door:1:none");
}

TEST_F(BackfillBackendsTest, ARemoteReadResumedAtAnyBatchReadsExactlyTheRestEvenWhenStartMoved) {
  // A sampled server of four series, a sample a minute over three hours.
  const int64_t t0 = (NowMs() - 4 * 3'600'000LL) / 3'600'000 * 3'600'000;
  FaultBackend reader(SampledReadServer("fan", "id", "", 4, t0), [](const BackendRequest&) {});
  ASSERT_TRUE(reader.Start());
  backfill::RemoteReadSource::Options o;
  o.url = reader.url() + "/api/v1/read";
  o.range = {t0, t0 + 3 * 3'600'000 - 1};
  o.slice_ms = 3'600'000;
  o.batch_samples = 100;  // a few series a batch: batches end inside answers
  auto read_all = [](backfill::Source& source) {
    std::vector<std::pair<log::Position, uint64_t>> batches;
    backfill::InputBatch batch;
    for (;;) {
      Result<bool> more = source.Next(&batch);
      EXPECT_TRUE(more.ok()) << more.status().ToString();
      if (!more.ok() || !*more) break;
      batches.emplace_back(batch.start, batch.items);
    }
    return batches;
  };
  auto whole = backfill::RemoteReadSource::Open(o);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  const auto all = read_all(**whole);
  uint64_t total = 0;
  for (const auto& b : all) total += b.second;
  ASSERT_EQ(total, 4u * 180u);
  ASSERT_EQ(all.size(), 6u) << "two batches an answer";
  for (size_t k = 1; k < all.size(); ++k) {
    // A later run: --start -4h has moved by then; the checkpoint rules.
    backfill::RemoteReadSource::Options later = o;
    later.range.start_ms = o.range.start_ms + 600'000;
    auto resumed = backfill::RemoteReadSource::Open(later);
    ASSERT_TRUE((*resumed)->Seek(all[k].first).ok());
    uint64_t rest = 0;
    for (const auto& b : read_all(**resumed)) rest += b.second;
    uint64_t expected = 0;
    for (size_t i = k; i < all.size(); ++i) expected += all[i].second;
    EXPECT_EQ(rest, expected) << "resumed at batch " << k;
  }
}

TEST_F(BackfillBackendsTest, PrometheusWithoutAnOutOfOrderWindowStopsTheRunWithTheRemedy) {
  if (!PrometheusServer::Installed()) GTEST_SKIP() << "prometheus not installed";
  PrometheusServer prom(dir_.Sub("prom"));
  std::filesystem::create_directories(dir_.Sub("prom"));
  PrometheusServer::Options po;
  po.remote_write_receiver = true;
  ASSERT_TRUE(prom.Start(po)) << prom.Output();
  WriteFile(dir_.Sub("cfg.yaml"),
            Config(dir_.Sub("data"), "http://" + prom.address() + "/api/v1/write"));
  // Prometheus holds recent data ...
  WriteFile(dir_.Sub("now.om"), OpenMetricsHistory("fan_speed", 2, 5, NowMs() - 300'000));
  Cli recent =
      RunSluice({"backfill", "--config", dir_.Sub("cfg.yaml"), "--exporter",
                 "prometheusremotewrite", "--from", "openmetrics:" + dir_.Sub("now.om"), "-q"},
                dir_.path());
  ASSERT_EQ(recent.code, 0) << recent.output;
  // ... and refuses a month-old history.
  WriteFile(dir_.Sub("old.om"),
            OpenMetricsHistory("fan_speed", 20, 500, NowMs() - 30 * 86'400'000LL));
  Cli old =
      RunSluice({"backfill", "--config", dir_.Sub("cfg.yaml"), "--exporter",
                 "prometheusremotewrite", "--from", "openmetrics:" + dir_.Sub("old.om"), "-q"},
                dir_.path());
  EXPECT_EQ(old.code, 2) << old.output;
  EXPECT_EQ(SummaryValue(old.output, "result"), "failure");
  EXPECT_NE(old.output.find("out_of_order_time_window"), std::string::npos) << old.output;
  EXPECT_NE(old.output.find("VictoriaMetrics"), std::string::npos);
  EXPECT_NE(old.output.find("out of bounds"), std::string::npos) << "Prometheus' own words";
  EXPECT_EQ(SummaryValue(old.output, "dead_lettered_items"), "0") << "a stop, not dead letters";
  EXPECT_EQ(SummaryValue(old.output, "checkpoint"), "0:0") << "nothing was accepted";
}

TEST_F(BackfillBackendsTest, ProcessorsNamedOnTheCommandLineDropSeriesAndLabelsBeforeSending) {
  Received received;
  FaultBackend backend([](const BackendRequest&) { return Fault{}; },
                       [&](const BackendRequest& r) { received.Add(r); });
  ASSERT_TRUE(backend.Start());
  const int64_t t0 = NowMs() - 3'600'000;
  WriteFile(dir_.Sub("in.om"),
            OpenMetricsHistory("keep_me", 5, 10, t0)
                    .substr(0, OpenMetricsHistory("keep_me", 5, 10, t0).size() - 6) +
                OpenMetricsHistory("drop_me", 5, 10, t0));
  std::string config = Config(dir_.Sub("data"), backend.url() + "/api/v1/write");
  config +=
      "processors:\n  relabel/allowlist:\n    metric_relabel_configs:\n"
      "      - source_labels: [__name__]\n        regex: keep_.*\n        action: keep\n"
      "      - regex: host\n        action: labeldrop\n";
  WriteFile(dir_.Sub("cfg.yaml"), config);
  Cli r = RunSluice(
      {"backfill", "--config", dir_.Sub("cfg.yaml"), "--exporter", "prometheusremotewrite",
       "--from", "openmetrics:" + dir_.Sub("in.om"), "--processors", "relabel/allowlist", "-q"},
      dir_.path());
  ASSERT_EQ(r.code, 0) << r.output;
  // keep_me's five hosts became one series without the label; its ten
  // timestamps each came five times (one per former host).
  EXPECT_EQ(received.distinct(), 10u);
  EXPECT_TRUE(received.Has("keep_me{}", (t0 / 1000) * 1000));
  EXPECT_FALSE(received.Has("drop_me{}", (t0 / 1000) * 1000));
  Cli unknown = RunSluice(
      {"backfill", "--config", dir_.Sub("cfg.yaml"), "--exporter", "prometheusremotewrite",
       "--from", "openmetrics:" + dir_.Sub("in.om"), "--processors", "relabel/none", "-q"},
      dir_.path());
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.output.find("no processor \"relabel/none\""), std::string::npos)
      << unknown.output;
}

TEST_F(BackfillBackendsTest, WithSeveralSendersEverySeriesArrivesInTimestampOrder) {
  Received received;  // checks each series' order as requests arrive
  std::atomic<uint64_t> n{0};
  FaultBackend backend(
      [&](const BackendRequest&) {
        // Answers of uneven delay, so that requests sent at once finish in
        // any order.
        Fault f;
        f.kind = Fault::Kind::kSlowAnswer;
        f.delay = milliseconds(n.fetch_add(1) * 7 % 23);
        return f;
      },
      [&](const BackendRequest& r) { received.Add(r); });
  ASSERT_TRUE(backend.Start());
  // Series longer than a batch, in requests of two series each: every
  // series goes out in many requests.
  WriteFile(dir_.Sub("in.om"),
            OpenMetricsHistory("cpu_seconds", 6, 30'000, NowMs() - 40 * 86'400'000LL));
  std::string config = Config(dir_.Sub("data"), backend.url() + "/api/v1/write");
  config.insert(config.find("    retry_on_failure"), "    max_series_per_request: 2\n");
  WriteFile(dir_.Sub("cfg.yaml"), config);
  Cli r = RunSluice(
      {"backfill", "--config", dir_.Sub("cfg.yaml"), "--exporter", "prometheusremotewrite",
       "--from", "openmetrics:" + dir_.Sub("in.om"), "--concurrency", "6", "-q"},
      dir_.path());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(received.distinct(), 180'000u);
  EXPECT_EQ(received.total(), 180'000u);
  EXPECT_GE(backend.requests(), 9u) << "every series in several requests, six sent at a time";
}

TEST_F(BackfillBackendsTest, OnATerminalProgressIsABarRedrawnInPlace) {
  if (!std::filesystem::exists("/usr/bin/script")) GTEST_SKIP() << "no script(1)";
  FaultBackend backend([](const BackendRequest&) { return Fault{}; }, [](const BackendRequest&) {});
  ASSERT_TRUE(backend.Start());
  WriteFile(dir_.Sub("in.om"), OpenMetricsHistory("fan_rpm", 20, 500, NowMs() - 86'400'000));
  WriteFile(dir_.Sub("cfg.yaml"), Config(dir_.Sub("data"), backend.url() + "/api/v1/write"));
  // script(1) gives the command a terminal.
  RunResult tty = RunToCompletion(
      "/usr/bin/script",
      {"-qfec",
       std::string(SLUICE_BINARY) + " backfill --config " + dir_.Sub("cfg.yaml") +
           " --exporter prometheusremotewrite --from openmetrics:" + dir_.Sub("in.om") +
           " --rate 20000",
       "/dev/null"},
      dir_.path(), seconds(60));
  EXPECT_EQ(tty.exit_code, 0) << tty.output;
  EXPECT_NE(tty.output.find("\r["), std::string::npos) << tty.output;
  EXPECT_NE(tty.output.find("%"), std::string::npos);
  EXPECT_NE(tty.output.find("ETA"), std::string::npos);
  EXPECT_NE(tty.output.find(" sent  "), std::string::npos) << "bytes sent and read";
  EXPECT_EQ(tty.output.find("backfill progress"), std::string::npos) << "no plain lines";
  EXPECT_NE(tty.output.find("backfill result=success items=10000"), std::string::npos);
}

TEST_F(BackfillBackendsTest, SpansOfAFileExportGoThroughOtlpHttp) {
  std::atomic<uint64_t> spans{0};
  FaultBackend backend([](const BackendRequest&) { return Fault{}; },
                       [&](const BackendRequest& r) {
                         otlp_pb::collector::trace::v1::ExportTraceServiceRequest req;
                         ASSERT_TRUE(req.ParseFromString(r.body));
                         EXPECT_EQ(r.path, "/v1/traces");
                         for (const auto& rs : req.resource_spans()) {
                           for (const auto& ss : rs.scope_spans()) spans += ss.spans_size();
                         }
                       });
  ASSERT_TRUE(backend.Start());
  std::string lines;
  for (int i = 0; i < 3000; ++i) {
    char id[17];
    std::snprintf(id, sizeof id, "%016x", i + 1);
    lines +=
        "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
        "\"value\":{\"stringValue\":\"shop\"}}]},\"scopeSpans\":[{\"spans\":[{\"traceId\":"
        "\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"" +
        std::string(id) + "\",\"name\":\"GET /cart\",\"startTimeUnixNano\":\"" +
        std::to_string((NowMs() - 60'000) * 1'000'000) + "\",\"endTimeUnixNano\":\"" +
        std::to_string((NowMs() - 59'000) * 1'000'000) + "\"}]}]}]}\n";
  }
  WriteFile(dir_.Sub("spans.json"), lines);
  WriteFile(
      dir_.Sub("cfg.yaml"),
      "storage:\n  directory: " + dir_.Sub("data") +
          "\nreceivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:0\n"
          "exporters:\n  otlphttp:\n    endpoint: " +
          backend.url() +
          "\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
          "      exporters: [otlphttp]\n");
  Cli r = RunSluice({"backfill", "--config", dir_.Sub("cfg.yaml"), "--exporter", "otlphttp",
                     "--from", dir_.Sub("spans.json"), "-q"},
                    dir_.path());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(SummaryValue(r.output, "items"), "3000");
  EXPECT_EQ(spans.load(), 3000u);
}

TEST_F(BackfillBackendsTest, AnInputErrorStopsTheRunAndTheNextRunStopsThereAgainSkippingNothing) {
  Received received;
  FaultBackend backend([](const BackendRequest&) { return Fault{}; },
                       [&](const BackendRequest& r) { received.Add(r); });
  ASSERT_TRUE(backend.Start());
  // An OpenMetrics file without its # EOF: everything but the end parses.
  std::string file = OpenMetricsHistory("net_rx_bytes", 30, 1000, NowMs() - 86'400'000);
  file.resize(file.size() - 6);
  WriteFile(dir_.Sub("in.om"), file);
  WriteFile(dir_.Sub("cfg.yaml"), Config(dir_.Sub("data"), backend.url() + "/api/v1/write"));
  const std::vector<std::string> args = {"backfill",
                                         "--config",
                                         dir_.Sub("cfg.yaml"),
                                         "--exporter",
                                         "prometheusremotewrite",
                                         "--from",
                                         "openmetrics:" + dir_.Sub("in.om"),
                                         "-q"};
  Cli first = RunSluice(args, dir_.path());
  EXPECT_EQ(first.code, 2) << first.output;
  EXPECT_NE(first.output.find("EOF"), std::string::npos) << first.output;
  const size_t sent = received.distinct();
  EXPECT_LT(sent, 30'000u) << "the batch the error cut short was not sent";
  // Again: it does not report success over the samples never sent.
  Cli second = RunSluice(args, dir_.path());
  EXPECT_EQ(second.code, 2) << second.output;
  EXPECT_EQ(SummaryValue(second.output, "result"), "failure");
  // Mended, it sends the rest.
  WriteFile(dir_.Sub("in.om"), file + "# EOF\n");
  Cli mended = RunSluice(args, dir_.path());
  EXPECT_EQ(mended.code, 0) << mended.output;
  EXPECT_EQ(received.distinct(), 30'000u);
}

TEST_F(BackfillBackendsTest, InterruptedBySigintTheRunSavesItsCheckpointAndTheNextGoesOn) {
  Received received;
  FaultBackend backend([](const BackendRequest&) { return Fault{}; },
                       [&](const BackendRequest& r) { received.Add(r); });
  ASSERT_TRUE(backend.Start());
  WriteFile(dir_.Sub("in.om"), OpenMetricsHistory("gpu_util", 40, 1000, NowMs() - 86'400'000));
  WriteFile(dir_.Sub("cfg.yaml"), Config(dir_.Sub("data"), backend.url() + "/api/v1/write"));
  const std::vector<std::string> args = {"backfill",
                                         "--config",
                                         dir_.Sub("cfg.yaml"),
                                         "--exporter",
                                         "prometheusremotewrite",
                                         "--from",
                                         "openmetrics:" + dir_.Sub("in.om"),
                                         "--rate",
                                         "20000",
                                         "-q"};
  Process p(SLUICE_BINARY, args, dir_.Sub("first.log"));
  ASSERT_TRUE(WaitUntil([&] { return received.distinct() >= 10'000; }, seconds(30)));
  p.Signal(SIGINT);
  std::optional<int> code = p.Wait(seconds(30));
  ASSERT_TRUE(code.has_value()) << "the first signal ends the run";
  EXPECT_EQ(*code, 2) << p.Output();
  EXPECT_EQ(SummaryValue(p.Output(), "result"), "failure");
  EXPECT_NE(p.Output().find("reason=\"interrupted\""), std::string::npos) << p.Output();
  EXPECT_NE(SummaryValue(p.Output(), "checkpoint"), "0:0") << p.Output();
  std::vector<std::string> fast = args;
  fast.erase(fast.begin() + 7, fast.begin() + 9);  // without --rate
  Cli rest = RunSluice(fast, dir_.path());
  EXPECT_EQ(rest.code, 0) << rest.output;
  EXPECT_EQ(SummaryValue(rest.output, "resumed"), "true");
  EXPECT_EQ(received.distinct(), 40'000u);
  EXPECT_LT(std::stoull("0" + SummaryValue(rest.output, "items")), 40'000u);
}

TEST_F(BackfillBackendsTest, AnExporterThatCannotBeFedIsRefusedByName) {
  WriteFile(dir_.Sub("in.om"), OpenMetricsHistory("x", 1, 1, NowMs()));
  WriteFile(dir_.Sub("cfg.yaml"), "storage:\n  directory: " + dir_.Sub("data") +
                                      "\nreceivers:\n  otlp:\n    protocols:\n      http:\n"
                                      "exporters:\n  file:\n    path: " +
                                      dir_.Sub("out.json") +
                                      "\nservice:\n  pipelines:\n    metrics:\n"
                                      "      receivers: [otlp]\n      exporters: [file]\n");
  Cli r = RunSluice({"backfill", "--config", dir_.Sub("cfg.yaml"), "--exporter", "file", "--from",
                     "openmetrics:" + dir_.Sub("in.om"), "-q"},
                    dir_.path());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("exporter \"file\" (file) cannot send history"), std::string::npos)
      << r.output;
  EXPECT_EQ(SummaryValue(r.output, "result"), "failure");
}

TEST_F(BackfillBackendsTest, ReplayResendsTheLogThroughTheRunningSluiceAndFromAStoppedOnesLog) {
  Received received;
  FaultBackend backend([](const BackendRequest&) { return Fault{}; },
                       [&](const BackendRequest& r) { received.Add(r); });
  ASSERT_TRUE(backend.Start());
  const std::string ingest = "127.0.0.1:" + std::to_string(FreeLocalPort());
  const std::string admin = "127.0.0.1:" + std::to_string(FreeLocalPort());
  std::string config = Config(dir_.Sub("data"), backend.url() + "/api/v1/write");
  config.replace(config.find("127.0.0.1:0"), 11, ingest);
  config += "  telemetry:\n    metrics:\n      address: " + admin + "\n";
  WriteFile(dir_.Sub("cfg.yaml"), config);
  Process sluice(SLUICE_BINARY, {"run", "--config", dir_.Sub("cfg.yaml")}, dir_.Sub("run.log"));
  ASSERT_TRUE(WaitUntil([&] { return HttpGet(admin, "/readyz").status == 200; }, seconds(30)))
      << sluice.Output();
  ASSERT_EQ(PostRemoteWrite(ingest, MakeWriteRequest(40, 25, 7)).status, 204);
  ASSERT_TRUE(WaitUntil([&] { return received.total() == 1000; }, seconds(30)));

  // Through the admin API: the same thousand samples again, the live
  // exporter untouched.
  const std::vector<std::string> replay = {
      "replay",  "--config", dir_.Sub("cfg.yaml"),  "--exporter", "prometheusremotewrite",
      "--start", "0",        "--progress-interval", "50ms"};
  Cli online = RunSluice(replay, dir_.path());
  EXPECT_EQ(online.code, 0) << online.output;
  EXPECT_NE(online.output.find("running in the sluice at " + admin), std::string::npos)
      << online.output;
  EXPECT_EQ(SummaryValue(online.output, "items"), "1000") << online.output;
  EXPECT_EQ(received.total(), 2000u);
  EXPECT_EQ(received.distinct(), 1000u);
  // A second run continues from its finished checkpoint: nothing more.
  Cli again = RunSluice(replay, dir_.path());
  EXPECT_EQ(again.code, 0) << again.output;
  EXPECT_EQ(SummaryValue(again.output, "items"), "0") << again.output;
  // New data still goes out once, through the live exporter.
  ASSERT_EQ(PostRemoteWrite(ingest, MakeWriteRequest(10, 10, 8)).status, 204);
  ASSERT_TRUE(WaitUntil([&] { return received.total() == 2100; }, seconds(30)));

  // Stopped, the log is read directly.
  sluice.Signal(SIGTERM);
  ASSERT_EQ(sluice.Wait(seconds(30)), 0) << sluice.Output();
  std::vector<std::string> restart = replay;
  restart.push_back("--restart");
  Cli offline = RunSluice(restart, dir_.path());
  EXPECT_EQ(offline.code, 0) << offline.output;
  EXPECT_NE(offline.output.find("reading the log directly"), std::string::npos) << offline.output;
  EXPECT_EQ(SummaryValue(offline.output, "items"), "1100") << offline.output;
  EXPECT_EQ(received.total(), 3200u);
  EXPECT_EQ(received.distinct(), 1100u);
}

}  // namespace
}  // namespace sluice::testing
