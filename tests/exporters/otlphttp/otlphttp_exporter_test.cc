#include "exporters/otlphttp/otlphttp_exporter.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "exporters/common/dead_letter.h"
#include "support/fault_backend.h"
#include "support/http_client.h"
#include "support/otlp_builders.h"
#include "support/sender_options.h"
#include "support/service_harness.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace sluice::exporters::otlphttp {
namespace {

using testing::Fault;
using testing::FaultBackend;
using TraceRequest = testing::otlp_pb::collector::trace::v1::ExportTraceServiceRequest;

// Counts every span id the backend accepted.
class SpanTally {
 public:
  void Add(const testing::BackendRequest& r) {
    TraceRequest req;
    if (!req.ParseFromString(r.body)) {
      std::lock_guard<std::mutex> lock(mu_);
      ++malformed_;
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& rs : req.resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& s : ss.spans()) ++seen_[s.span_id()];
      }
    }
  }
  size_t distinct() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_.size();
  }
  // Deliveries beyond the first, over all spans.
  size_t duplicates() const {
    std::lock_guard<std::mutex> lock(mu_);
    size_t d = 0;
    for (const auto& [id, n] : seen_) d += n - 1;
    return d;
  }
  bool Has(const std::string& span_id) const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_.count(span_id) > 0;
  }
  int malformed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return malformed_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, int> seen_;
  int malformed_ = 0;
};

class OtlpHttpExporterTest : public ::testing::Test {
 protected:
  std::string Yaml(const std::string& exporter_extra, const std::string& endpoint) {
    return R"(
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  otlphttp:
    endpoint: )" +
           endpoint + R"(
    timeout: 300ms
    retry_on_failure:
      initial_interval: 10ms
      max_interval: 50ms
)" + exporter_extra +
           R"(
storage:
  directory: )" +
           dir_.path() +
           R"(
service:
  shutdown_grace: 2s
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlphttp]
)";
  }

  void StartSluice(const std::string& exporter_extra = "", std::string endpoint = "") {
    if (endpoint.empty()) endpoint = backend_.url();
    service_ = testing::StartService(Yaml(exporter_extra, endpoint), registry_);
    ASSERT_NE(service_, nullptr);
    receiver_ = testing::AddressOf(*service_, "receiver otlp http ");
    ASSERT_FALSE(receiver_.empty());
  }

  // Posts `n` requests of `spans` spans (seeds from `first_seed`); returns the
  // span ids sent. Every request must be accepted.
  std::vector<std::string> Send(int n, int spans, uint64_t first_seed) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      TraceRequest req = testing::MakeTraceRequest(1, spans, first_seed + i);
      for (const auto& s : req.resource_spans(0).scope_spans(0).spans()) ids.push_back(s.span_id());
      auto r = testing::HttpRequest("POST", receiver_, "/v1/traces", req.SerializeAsString(),
                                    {{"Content-Type", "application/x-protobuf"}});
      EXPECT_EQ(r.status, 200) << r.body << r.error;
    }
    return ids;
  }

  // Waits until the tally holds `n` distinct spans (or 60 s pass).
  bool WaitForSpans(size_t n) {
    return testing::WaitUntil([&] { return tally_.distinct() >= n; }, std::chrono::seconds(60));
  }

  uint64_t Counter(const std::string& name) {
    return testing::SeriesValue(registry_, name + "{exporter=\"otlphttp\"}");
  }

  testing::TempDir dir_;
  SpanTally tally_;
  std::function<Fault(const testing::BackendRequest&)> decide_ = [](const auto&) {
    return Fault{};
  };
  std::mutex decide_mu_;
  FaultBackend backend_{[this](const testing::BackendRequest& r) {
                          std::lock_guard<std::mutex> lock(decide_mu_);
                          return decide_(r);
                        },
                        [this](const testing::BackendRequest& r) { tally_.Add(r); }};
  telemetry::Registry registry_;
  std::unique_ptr<pipeline::Service> service_;
  std::string receiver_;
};

TEST_F(OtlpHttpExporterTest, EverySpanArrivesThrough500s429sDropsTimeoutsAndSlowAnswers) {
  ASSERT_TRUE(backend_.Start());
  std::mt19937 rng(7);
  int delivered_then_failed = 0;
  decide_ = [&](const testing::BackendRequest&) {
    Fault f;
    int roll = static_cast<int>(rng() % 100);
    if (roll < 20) {
      f.kind = Fault::Kind::kStatus;
      f.status = 500 + static_cast<int>(rng() % 4);
    } else if (roll < 30) {
      f.kind = Fault::Kind::kStatus;
      f.status = 429;
      f.retry_after = "0";
    } else if (roll < 38) {
      f.kind = Fault::Kind::kDrop;
    } else if (roll < 44) {
      // Stored, then too slow to answer: the exporter times out and resends.
      f.kind = Fault::Kind::kHang;
      f.delay = std::chrono::milliseconds(500);
      f.deliver = true;
      ++delivered_then_failed;
    } else if (roll < 50) {
      f.kind = Fault::Kind::kSlowAnswer;
      f.delay = std::chrono::milliseconds(100);
    }
    return f;
  };
  StartSluice("    compression: gzip\n    max_request_bytes: 4KiB\n");
  std::vector<std::string> ids = Send(100, 10, 1000);
  ASSERT_TRUE(WaitForSpans(ids.size())) << tally_.distinct() << " of " << ids.size();
  for (const auto& id : ids) EXPECT_TRUE(tally_.Has(id));
  EXPECT_EQ(tally_.malformed(), 0);
  // Duplicates come only from requests the backend kept but never answered.
  {
    std::lock_guard<std::mutex> lock(decide_mu_);
    EXPECT_LE(tally_.duplicates(), static_cast<size_t>(delivered_then_failed) * 40)
        << delivered_then_failed;
  }
  EXPECT_GT(Counter("sluice_exporter_retried_items_total"), 0u);
  EXPECT_EQ(Counter("sluice_exporter_dead_lettered_items_total"), 0u);
  service_->Shutdown();
}

TEST_F(OtlpHttpExporterTest, PermanentErrorIsDeadLetteredAndLaterDataStillFlows) {
  ASSERT_TRUE(backend_.Start());
  std::atomic<bool> refuse{true};
  decide_ = [&](const testing::BackendRequest&) {
    Fault f;
    if (refuse.load()) {
      f.kind = Fault::Kind::kStatus;
      f.status = 400;
      f.reply = "bad span";
    }
    return f;
  };
  StartSluice();
  Send(1, 5, 1);
  testing::WaitUntil([&] { return Counter("sluice_exporter_dead_lettered_items_total") >= 5; });
  EXPECT_EQ(Counter("sluice_exporter_dead_lettered_items_total"), 5u);
  refuse.store(false);
  std::vector<std::string> later = Send(1, 5, 2);
  ASSERT_TRUE(WaitForSpans(5));
  for (const auto& id : later) EXPECT_TRUE(tally_.Has(id));
  service_->Shutdown();

  auto dlq = DeadLetterQueue::Open(io::FileSystem::Posix(),
                                   DeadLetterQueue::DirectoryFor(dir_.path(), "otlphttp"),
                                   "otlphttp", 1 << 30, nullptr);
  ASSERT_TRUE(dlq.ok());
  auto entries = (*dlq)->List();
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].items, 5u);
  EXPECT_EQ((*entries)[0].route, "/v1/traces");
  EXPECT_NE((*entries)[0].reason.find("400"), std::string::npos) << (*entries)[0].reason;
  auto request = (*dlq)->Read((*entries)[0].id);
  ASSERT_TRUE(request.ok());
  TraceRequest kept;
  ASSERT_TRUE(kept.ParseFromString(request->body));
  EXPECT_EQ(kept.resource_spans(0).scope_spans(0).spans_size(), 5);
}

TEST_F(OtlpHttpExporterTest, RetriesPastMaxElapsedTimeAreDeadLettered) {
  ASSERT_TRUE(backend_.Start());
  decide_ = [](const testing::BackendRequest&) {
    Fault f;
    f.kind = Fault::Kind::kStatus;
    f.status = 503;
    return f;
  };
  StartSluice("      max_elapsed_time: 200ms\n");
  Send(2, 3, 1);
  testing::WaitUntil([&] { return Counter("sluice_exporter_dead_lettered_items_total") >= 6; });
  EXPECT_EQ(Counter("sluice_exporter_dead_lettered_items_total"), 6u);
  EXPECT_GT(Counter("sluice_exporter_send_failed_total"), 2u);
  service_->Shutdown();
}

// A server's Retry-After is obeyed up to retry_on_failure.max_interval
// (50ms here): an hour-long one neither stalls the request for an hour nor
// outlasts max_elapsed_time (5m) at once and sends it to the dead letters.
TEST_F(OtlpHttpExporterTest, RetryAfterBeyondMaxIntervalIsCutToMaxInterval) {
  ASSERT_TRUE(backend_.Start());
  std::atomic<int> answered{0};
  decide_ = [&](const testing::BackendRequest&) {
    Fault f;
    if (answered.fetch_add(1) == 0) {
      f.kind = Fault::Kind::kStatus;
      f.status = 503;
      f.retry_after = "3600";
    }
    return f;
  };
  StartSluice();
  std::vector<std::string> ids = Send(1, 5, 1);
  ASSERT_TRUE(testing::WaitUntil([&] { return tally_.distinct() >= 5; }, std::chrono::seconds(10)))
      << "the request waits out the whole Retry-After, or was dead-lettered";
  for (const auto& id : ids) EXPECT_TRUE(tally_.Has(id));
  EXPECT_EQ(answered.load(), 2);
  EXPECT_EQ(Counter("sluice_exporter_dead_lettered_items_total"), 0u);
  service_->Shutdown();
}

TEST_F(OtlpHttpExporterTest, SenderStillSendsWhereItWasToldAfterItsOptionsAreGone) {
  ASSERT_TRUE(backend_.Start());
  auto orphan = testing::SenderOutlivingItsOptions(
      OtlpHttpExporterType(), "endpoint: " + backend_.url(), "endpoint: http://127.0.0.1:1");
  pipeline::SendResult result = orphan.sender->Send(testing::RequestOf(
      log::Signal::kTraces, testing::MakeTraceRequest(1, 5, 1).SerializeAsString(), 5));
  EXPECT_TRUE(result.ok()) << result.reason;
  EXPECT_EQ(tally_.distinct(), 5u);
}

TEST_F(OtlpHttpExporterTest, BackendOutageUnderLoadLosesNothing) {
  ASSERT_TRUE(backend_.Start());
  int port = backend_.port();
  StartSluice();
  std::vector<std::string> ids = Send(20, 10, 100);
  ASSERT_TRUE(WaitForSpans(200));
  // The backend counts a request before it answers: stop it only once
  // sluice has the answers too, or a request cut off mid-answer is sent
  // again and counted twice (at-least-once delivery allows that).
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        return registry_.AddCounter("sluice_exporter_sent_items_total", "", {"exporter"})
                   .With({"otlphttp"})
                   .Value() >= 200;
      },
      std::chrono::seconds(60)));
  backend_.Stop();
  std::vector<std::string> during = Send(50, 10, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(backend_.Start(port));
  std::vector<std::string> after = Send(20, 10, 300);
  ASSERT_TRUE(WaitForSpans(900)) << tally_.distinct();
  for (const auto* v : {&ids, &during, &after}) {
    for (const auto& id : *v) EXPECT_TRUE(tally_.Has(id));
  }
  EXPECT_EQ(tally_.duplicates(), 0u);
  service_->Shutdown();
}

TEST_F(OtlpHttpExporterTest, RestartResumesAfterTheLastAcceptedRequest) {
  ASSERT_TRUE(backend_.Start());
  StartSluice();
  Send(10, 10, 1);
  ASSERT_TRUE(WaitForSpans(100));
  service_->Shutdown();
  service_.reset();
  StartSluice();
  Send(10, 10, 50);
  ASSERT_TRUE(WaitForSpans(200));
  service_->Shutdown();
  EXPECT_EQ(tally_.duplicates(), 0u);
}

TEST_F(OtlpHttpExporterTest, DeadDestinationOfOneExporterDoesNotHoldBackAnother) {
  ASSERT_TRUE(backend_.Start());
  std::string yaml = R"(
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  otlphttp:
    endpoint: )" + backend_.url() +
                     R"(
  otlphttp/dead:
    endpoint: http://127.0.0.1:1
    timeout: 100ms
    retry_on_failure:
      initial_interval: 10ms
      max_interval: 20ms
      max_elapsed_time: 0s
storage:
  directory: )" + dir_.path() +
                     R"(
service:
  shutdown_grace: 1s
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlphttp, otlphttp/dead]
)";
  service_ = testing::StartService(yaml, registry_);
  ASSERT_NE(service_, nullptr);
  receiver_ = testing::AddressOf(*service_, "receiver otlp http ");
  Send(30, 10, 1);
  EXPECT_TRUE(WaitForSpans(300));
  service_->Shutdown();
}

TEST(OtlpHttpOptionsTest, SignalUrlsFollowTheEndpointOrTheirOverride) {
  OtlpHttpOptions o;
  o.endpoint = "http://collector:4318/";
  o.logs_endpoint = "http://logs:9000/push";
  EXPECT_EQ(SignalUrl(o, log::Signal::kTraces), "http://collector:4318/v1/traces");
  EXPECT_EQ(SignalUrl(o, log::Signal::kMetrics), "http://collector:4318/v1/metrics");
  EXPECT_EQ(SignalUrl(o, log::Signal::kLogs), "http://logs:9000/push");
}

TEST(OtlpHttpOptionsTest, MissingOrBadEndpointIsAConfigError) {
  for (const char* yaml : {"timeout: 1s", "endpoint: collector:4318",
                           "{endpoint: 'https://x:1', tls: {ca_file: /absent/ca.pem}}",
                           "{endpoint: 'https://x:1', tls: {cert_file: /c.pem}}"}) {
    config::Context ctx("test.yaml");
    auto node = config::LoadString(yaml, ctx);
    ASSERT_TRUE(node);
    OtlpHttpOptions o;
    OtlpHttpOptionsSchema().Parse(*node, &o, ctx);
    EXPECT_EQ(ctx.errors().size(), 1u) << yaml;
  }
}

}  // namespace
}  // namespace sluice::exporters::otlphttp
