#include "receivers/otlp/otlp_receiver.h"

#include <gtest/gtest.h>

#include "components/builtin.h"
#include "google/rpc/status.pb.h"
#include "pipeline/service.h"
#include "support/http_client.h"
#include "support/otlp_builders.h"
#include "support/service_harness.h"
#include "support/temp_dir.h"
#include "wire/compression.h"

namespace sluice::receivers::otlp {
namespace {

using testing::HttpRequest;

class OtlpReceiverTest : public ::testing::Test {
 protected:
  virtual std::string HttpExtra() { return ""; }
  virtual std::string Pipelines() {
    return R"(
    traces:
      receivers: [otlp]
    traces/copy:
      receivers: [otlp]
)";
  }

  void SetUp() override {
    std::string yaml = R"(
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
        max_request_body_size: 1MiB
)" + HttpExtra() + R"(
storage:
  directory: )" + dir_.path() +
                       R"(
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:)" + Pipelines();
    service_ = sluice::testing::StartService(yaml, registry_);
    ASSERT_NE(service_, nullptr);
    endpoint_ = sluice::testing::AddressOf(*service_, "receiver otlp http ");
    ASSERT_FALSE(endpoint_.empty());
  }

  testing::HttpResult Post(const std::string& body,
                           const std::string& type = "application/x-protobuf",
                           std::vector<std::pair<std::string, std::string>> extra = {}) {
    extra.emplace_back("Content-Type", type);
    return HttpRequest("POST", endpoint_, "/v1/traces", body, extra);
  }

  // Stops the service and returns (pipelines, tenant, item count) of every stored batch.
  std::vector<std::tuple<log::PipelineSet, std::string, uint32_t>> StoredBatches() {
    service_->Shutdown();
    telemetry::Registry r;
    log::LogOptions o;
    o.directory = dir_.path();
    auto log = log::Log::Open(o, io::FileSystem::Posix(), Clock::Real(), r);
    EXPECT_TRUE(log.ok());
    log::LogReader reader(**log, (*log)->Begin());
    std::vector<std::tuple<log::PipelineSet, std::string, uint32_t>> out;
    while (true) {
      auto b = reader.Next();
      if (!b.ok()) break;
      out.emplace_back(b->header.pipelines, std::string(b->tenant), b->header.item_count);
    }
    return out;
  }

  uint64_t Counter(const std::string& name, std::vector<std::string> labels,
                   std::vector<std::string> names) {
    return registry_.AddCounter(name, "", std::move(names)).With(labels).Value();
  }

  testing::TempDir dir_;
  telemetry::Registry registry_;
  std::unique_ptr<pipeline::Service> service_;
  std::string endpoint_;
};

TEST_F(OtlpReceiverTest, AcceptedRequestIsStoredOnceForAllItsPipelinesWithItsTenant) {
  auto req = sluice::testing::MakeTraceRequest(2, 5, 1);
  auto r = Post(req.SerializeAsString(), "application/x-protobuf", {{"X-Scope-OrgID", "team-a"}});
  ASSERT_EQ(r.status, 200) << r.body << r.error;
  EXPECT_EQ(r.Header("Content-Type"), "application/x-protobuf");
  // Counted once per request, whatever the number of pipelines it feeds.
  EXPECT_EQ(Counter("sluice_receiver_accepted_spans_total", {"otlp"}, {"receiver"}), 10u);
  // Written once, naming both pipelines that take it.
  auto batches = StoredBatches();
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(std::get<0>(batches[0]),
            (log::PipelineSet{log::PipelineId("traces"), log::PipelineId("traces/copy")}));
  EXPECT_EQ(std::get<1>(batches[0]), "team-a");
  EXPECT_EQ(std::get<2>(batches[0]), 10u);
}

TEST_F(OtlpReceiverTest, MalformedBodyGets400WithARpcStatusAndIsNotStored) {
  auto r = Post("\x0a\xff\xff\xff\x0f garbage");
  ASSERT_EQ(r.status, 400);
  google::rpc::Status st;
  ASSERT_TRUE(st.ParseFromString(r.body));
  EXPECT_EQ(st.code(), 3);  // INVALID_ARGUMENT
  EXPECT_NE(st.message().find("invalid ExportTraceServiceRequest"), std::string::npos);
  // A good request right after is unaffected.
  EXPECT_EQ(Post(sluice::testing::MakeTraceRequest(1, 1, 2).SerializeAsString()).status, 200);
  EXPECT_EQ(StoredBatches().size(), 1u);
}

TEST_F(OtlpReceiverTest, PartlyInvalidRequestKeepsTheGoodSpansAndReportsPartialSuccess) {
  auto req = sluice::testing::MakeTraceRequest(1, 3, 1);
  req.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(2)->set_span_id("x");
  auto r = Post(req.SerializeAsString());
  ASSERT_EQ(r.status, 200) << r.body;
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse resp;
  ASSERT_TRUE(resp.ParseFromString(r.body));
  EXPECT_EQ(resp.partial_success().rejected_spans(), 1);
  EXPECT_NE(resp.partial_success().error_message().find("span 2: span_id must be 8 bytes"),
            std::string::npos);
  EXPECT_EQ(Counter("sluice_receiver_accepted_spans_total", {"otlp"}, {"receiver"}), 2u);
  EXPECT_EQ(
      Counter("sluice_receiver_refused_spans_total", {"otlp", "invalid"}, {"receiver", "reason"}),
      1u);
  auto batches = StoredBatches();
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(std::get<2>(batches[0]), 2u);
}

TEST_F(OtlpReceiverTest, WhollyInvalidRequestGets400NamingTheFirstProblem) {
  auto req = sluice::testing::MakeTraceRequest(1, 2, 1);
  for (auto& span : *req.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans()) {
    span.set_trace_id("");
  }
  auto r = Post(req.SerializeAsString());
  ASSERT_EQ(r.status, 400);
  google::rpc::Status st;
  ASSERT_TRUE(st.ParseFromString(r.body));
  EXPECT_NE(st.message().find("span 0: trace_id must be 16 bytes"), std::string::npos);
  EXPECT_TRUE(StoredBatches().empty());
}

TEST_F(OtlpReceiverTest, JsonRequestsAreStoredAndAnsweredInJson) {
  std::string json = R"({"resourceSpans":[{"scopeSpans":[{"spans":[
      {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"a"},
      {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b175","name":"b"}]}]}]})";
  auto ok = Post(json, "application/json");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.Header("Content-Type"), "application/json");
  EXPECT_EQ(ok.body, "{}");
  std::string partial = R"({"resourceSpans":[{"scopeSpans":[{"spans":[
      {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b176","name":"c"},
      {"traceId":"","spanId":"eee19b7ec3c1b177","name":"d"}]}]}]})";
  auto p = Post(partial, "application/json");
  ASSERT_EQ(p.status, 200);
  EXPECT_NE(p.body.find(R"({"partialSuccess":{"rejectedSpans":"1","errorMessage":"rejected 1)"),
            std::string::npos)
      << p.body;
  auto bad = Post("{oops", "application/json");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.Header("Content-Type"), "application/json");
  EXPECT_NE(bad.body.find(R"("code":3)"), std::string::npos) << bad.body;
  auto batches = StoredBatches();
  ASSERT_EQ(batches.size(), 2u);  // one per request, for both pipelines
  EXPECT_EQ(std::get<2>(batches[0]), 2u);
  EXPECT_EQ(std::get<2>(batches[1]), 1u);
}

TEST_F(OtlpReceiverTest, UnsupportedContentTypeGets415) {
  auto r = Post("{}", "text/plain");
  EXPECT_EQ(r.status, 415);
  EXPECT_NE(r.body.find("text/plain"), std::string::npos);
}

TEST_F(OtlpReceiverTest, WrongMethodAndUnknownPathAreAnsweredNotDropped) {
  EXPECT_EQ(HttpRequest("GET", endpoint_, "/v1/traces").status, 405);
  EXPECT_EQ(HttpRequest("POST", endpoint_, "/v1/nope", "x").status, 404);
}

TEST_F(OtlpReceiverTest, BodyOverTheLimitGets413) {
  EXPECT_EQ(Post(std::string(2 << 20, 'x')).status, 413);
}

TEST_F(OtlpReceiverTest, SignalWithoutAPipelineGets404WithTheReason) {
  std::string yaml_logs = sluice::testing::MakeLogsRequest(7, 1).SerializeAsString();
  auto r = HttpRequest("POST", endpoint_, "/v1/logs", yaml_logs,
                       {{"Content-Type", "application/x-protobuf"}});
  EXPECT_EQ(r.status, 404) << "no logs pipeline uses this receiver";
  EXPECT_NE(r.body.find("no logs pipeline"), std::string::npos);
}

TEST_F(OtlpReceiverTest, GzipAndZstdBodiesAreAccepted) {
  std::string body = sluice::testing::MakeTraceRequest(1, 4, 1).SerializeAsString();
  EXPECT_EQ(Post(wire::Compress(wire::Compression::kGzip, body), "application/x-protobuf",
                 {{"Content-Encoding", "gzip"}})
                .status,
            200);
  EXPECT_EQ(Post(wire::Compress(wire::Compression::kZstd, body), "application/x-protobuf",
                 {{"Content-Encoding", "zstd"}})
                .status,
            200);
  EXPECT_EQ(Post(body, "application/x-protobuf", {{"Content-Encoding", "br"}}).status, 415);
  EXPECT_EQ(Counter("sluice_receiver_accepted_spans_total", {"otlp"}, {"receiver"}), 8u);
}

TEST_F(OtlpReceiverTest, CompressionBombGets413AfterDecompression) {
  std::string bomb = wire::Compress(wire::Compression::kGzip, std::string(64 << 20, '\0'));
  ASSERT_LT(bomb.size(), 1u << 20);  // passes the 1 MiB body limit compressed
  auto r = Post(bomb, "application/x-protobuf", {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(r.status, 413);
  auto garbage = Post("not gzip at all", "application/x-protobuf", {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(garbage.status, 400);
}

class OtlpAllSignalsTest : public OtlpReceiverTest {
 protected:
  std::string HttpExtra() override {
    return "        auth:\n          bearer_token: s3cret-token\n";
  }
  std::string Pipelines() override {
    return R"(
    traces:
      receivers: [otlp]
    metrics:
      receivers: [otlp]
    logs:
      receivers: [otlp]
)";
  }
  testing::HttpResult PostTo(const std::string& path, const std::string& body,
                             const std::string& token = "s3cret-token") {
    std::vector<std::pair<std::string, std::string>> h = {
        {"Content-Type", "application/x-protobuf"}};
    if (!token.empty()) h.emplace_back("Authorization", "Bearer " + token);
    return HttpRequest("POST", endpoint_, path, body, h);
  }
};

TEST_F(OtlpAllSignalsTest, LogsAndMetricsAreStoredWithTheirItemCounts) {
  ASSERT_EQ(PostTo("/v1/logs", sluice::testing::MakeLogsRequest(7, 1).SerializeAsString()).status,
            200);
  ASSERT_EQ(
      PostTo("/v1/metrics", sluice::testing::MakeMetricsRequest(5, 1).SerializeAsString()).status,
      200);
  EXPECT_EQ(Counter("sluice_receiver_accepted_log_records_total", {"otlp"}, {"receiver"}), 7u);
  EXPECT_EQ(Counter("sluice_receiver_accepted_metric_points_total", {"otlp"}, {"receiver"}), 7u);
  auto batches = StoredBatches();
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(std::get<0>(batches[0]), log::PipelineSet{log::PipelineId("logs")});
  EXPECT_EQ(std::get<2>(batches[0]), 7u);
  EXPECT_EQ(std::get<0>(batches[1]), log::PipelineSet{log::PipelineId("metrics")});
}

TEST_F(OtlpAllSignalsTest, MissingOrWrongBearerTokenGets401AndNothingIsStored) {
  std::string body = sluice::testing::MakeLogsRequest(1, 1).SerializeAsString();
  auto none = PostTo("/v1/logs", body, "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.Header("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(PostTo("/v1/logs", body, "s3cret-tokeN").status, 401);
  EXPECT_EQ(PostTo("/v1/logs", body, "s3cret-token-longer").status, 401);
  EXPECT_EQ(PostTo("/v1/logs", body).status, 200);
  EXPECT_EQ(StoredBatches().size(), 1u);
}

TEST_F(OtlpAllSignalsTest, InvalidMetricIsRejectedWhileTheOthersAreKept) {
  auto req = sluice::testing::MakeMetricsRequest(3, 1);
  req.mutable_resource_metrics(0)->mutable_scope_metrics(0)->mutable_metrics(1)->clear_name();
  auto r = PostTo("/v1/metrics", req.SerializeAsString());
  ASSERT_EQ(r.status, 200);
  opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceResponse resp;
  ASSERT_TRUE(resp.ParseFromString(r.body));
  EXPECT_EQ(resp.partial_success().rejected_data_points(), 1);
  EXPECT_EQ(Counter("sluice_receiver_accepted_metric_points_total", {"otlp"}, {"receiver"}), 4u);
}

TEST_F(OtlpReceiverTest, EmptyRequestIsAcknowledgedWithoutStoringAnything) {
  EXPECT_EQ(Post("").status, 200);
  EXPECT_TRUE(StoredBatches().empty());
}

}  // namespace
}  // namespace sluice::receivers::otlp

#include <boost/asio/executor_work_guard.hpp>
#include <thread>

namespace sluice::receivers::otlp {
namespace {

TEST(OtlpReceiverBackpressureTest, FullLogUnderRejectAnswers503WithRetryAfterAndLosesNothing) {
  testing::TempDir dir;
  telemetry::Registry registry;
  telemetry::Health health;
  log::LogOptions lo;
  lo.directory = dir.path();
  lo.segment_bytes = 1 << 20;
  lo.retention.max_bytes = 16 << 20;
  lo.when_full = log::WhenFull::kReject;
  auto log = log::Log::Open(lo, io::FileSystem::Posix(), Clock::Real(), registry, &health);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->OpenCursor("stuck-exporter").ok());  // never reads: holds every segment
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread io_thread([&] { io.run(); });
  pipeline::InFlightLimiter limiter(256 << 20, registry);
  pipeline::Runtime rt{io, log->get(), registry, health, Clock::Real(), limiter};
  OtlpOptions options;
  options.protocols.http.emplace();
  options.protocols.http->endpoint = "127.0.0.1:0";
  pipeline::ComponentSettings settings{
      "otlp", {{"traces", log::Signal::kTraces, log::PipelineId("traces")}}};
  auto receiver = OtlpReceiverType().create_receiver(settings, &options, rt);
  ASSERT_TRUE(receiver.ok());
  ASSERT_TRUE((*receiver)->Start().ok());
  std::string endpoint = (*receiver)->Addresses()[0].substr(5);

  std::string body = sluice::testing::MakeTraceRequest(40, 25, 1).SerializeAsString();
  int accepted = 0;
  testing::HttpResult refused;
  for (int i = 0; i < 1000 && refused.status == 0; ++i) {
    auto r = HttpRequest("POST", endpoint, "/v1/traces", body,
                         {{"Content-Type", "application/x-protobuf"}});
    if (r.status == 200) {
      ++accepted;
    } else {
      refused = r;
    }
  }
  ASSERT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.Header("Retry-After"), "1");
  EXPECT_GT(accepted, 10);
  EXPECT_EQ(registry.AddCounter("sluice_receiver_failed_spans_total", "", {"receiver", "reason"})
                .With({"otlp", "overload"})
                .Value(),
            1000u);
  // Every acknowledged request is in the log.
  log::LogReader reader(**log, (*log)->Begin());
  int stored = 0;
  while (reader.Next().ok()) ++stored;
  EXPECT_EQ(stored, accepted);

  (*receiver)->StopAccepting();
  (*receiver)->Shutdown();
  work.reset();
  io.stop();
  io_thread.join();
}

}  // namespace
}  // namespace sluice::receivers::otlp
