// OTLP over gRPC, driven by client stubs generated from the specification's
// service definitions.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <thread>

#include "components/builtin.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "receivers/common/ingest.h"
#include "receivers/otlp/otlp_receiver.h"
#include "support/otlp_builders.h"
#include "support/temp_dir.h"

namespace sluice::receivers::otlp {
namespace {

namespace trace_pb = opentelemetry::proto::collector::trace::v1;
namespace logs_pb = opentelemetry::proto::collector::logs::v1;

// A receiver with only gRPC enabled, on a log the test controls.
class OtlpGrpcTest : public ::testing::Test {
 protected:
  void Start(const std::string& token = "", uint64_t max_bytes = 1ull << 30) {
    log::LogOptions lo;
    lo.directory = dir_.path();
    lo.segment_bytes = 1 << 20;
    lo.retention.max_bytes = max_bytes;
    auto log = log::Log::Open(lo, io::FileSystem::Posix(), Clock::Real(), registry_, &health_);
    ASSERT_TRUE(log.ok());
    log_ = std::move(log).value();
    rt_ = std::make_unique<pipeline::Runtime>(
        pipeline::Runtime{io_, log_.get(), registry_, health_, Clock::Real(), limiter_});
    OtlpOptions options;
    options.protocols.grpc.emplace();
    options.protocols.grpc->endpoint = "127.0.0.1:0";
    options.protocols.grpc->max_recv_msg_size = 1 << 20;
    options.protocols.grpc->bearer_token = token;
    pipeline::ComponentSettings settings{
        "otlp", {{"traces", log::Signal::kTraces, log::PipelineId("traces")}}};
    auto r = OtlpReceiverType().create_receiver(settings, &options, *rt_);
    ASSERT_TRUE(r.ok());
    receiver_ = std::move(r).value();
    ASSERT_TRUE(receiver_->Start().ok());
    std::string address = receiver_->Addresses()[0].substr(5);  // "grpc "
    channel_ = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  }

  void TearDown() override {
    if (receiver_) {
      receiver_->Drain(std::chrono::steady_clock::now() + std::chrono::seconds(5));
      receiver_->Shutdown();
    }
  }

  grpc::Status ExportTraces(const trace_pb::ExportTraceServiceRequest& req,
                            trace_pb::ExportTraceServiceResponse* resp,
                            const std::string& token = "") {
    auto stub = trace_pb::TraceService::NewStub(channel_);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
    ctx.AddMetadata("x-scope-orgid", "tenant-g");
    return stub->Export(&ctx, req, resp);
  }

  int Stored() {
    log::LogReader reader(*log_, log_->Begin());
    int n = 0;
    while (reader.Next().ok()) ++n;
    return n;
  }

  testing::TempDir dir_;
  telemetry::Registry registry_;
  telemetry::Health health_;
  boost::asio::io_context io_;
  pipeline::InFlightLimiter limiter_{256 << 20, registry_};
  std::unique_ptr<log::Log> log_;
  std::unique_ptr<pipeline::Runtime> rt_;
  std::unique_ptr<pipeline::Receiver> receiver_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(OtlpGrpcTest, ExportIsStoredAndAcknowledged) {
  Start();
  trace_pb::ExportTraceServiceResponse resp;
  grpc::Status st = ExportTraces(sluice::testing::MakeTraceRequest(2, 5, 1), &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_FALSE(resp.has_partial_success());
  EXPECT_EQ(Stored(), 1);
  EXPECT_EQ(registry_.AddCounter("sluice_receiver_accepted_spans_total", "", {"receiver"})
                .With({"otlp"})
                .Value(),
            10u);
}

TEST_F(OtlpGrpcTest, PartlyInvalidExportReportsPartialSuccess) {
  Start();
  auto req = sluice::testing::MakeTraceRequest(1, 4, 1);
  req.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0)->set_trace_id("x");
  trace_pb::ExportTraceServiceResponse resp;
  ASSERT_TRUE(ExportTraces(req, &resp).ok());
  EXPECT_EQ(resp.partial_success().rejected_spans(), 1);
  EXPECT_NE(resp.partial_success().error_message().find("span 0"), std::string::npos);
}

TEST_F(OtlpGrpcTest, WhollyInvalidExportIsInvalidArgument) {
  Start();
  auto req = sluice::testing::MakeTraceRequest(1, 1, 1);
  req.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0)->set_span_id("");
  trace_pb::ExportTraceServiceResponse resp;
  grpc::Status st = ExportTraces(req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("span_id must be 8 bytes"), std::string::npos);
  EXPECT_EQ(Stored(), 0);
}

TEST_F(OtlpGrpcTest, MissingOrWrongTokenIsUnauthenticated) {
  Start("grpc-token");
  trace_pb::ExportTraceServiceResponse resp;
  auto req = sluice::testing::MakeTraceRequest(1, 1, 1);
  EXPECT_EQ(ExportTraces(req, &resp).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ExportTraces(req, &resp, "wrong").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(ExportTraces(req, &resp, "grpc-token").ok());
  EXPECT_EQ(Stored(), 1);
}

TEST_F(OtlpGrpcTest, MessageOverTheLimitIsResourceExhausted) {
  Start();
  auto req = sluice::testing::MakeTraceRequest(1, 1, 1);
  req.mutable_resource_spans(0)
      ->mutable_resource()
      ->add_attributes()
      ->mutable_value()
      ->set_string_value(std::string(2 << 20, 'x'));
  trace_pb::ExportTraceServiceResponse resp;
  EXPECT_EQ(ExportTraces(req, &resp).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Stored(), 0);
}

TEST_F(OtlpGrpcTest, SignalWithoutAPipelineIsUnimplemented) {
  Start();
  auto stub = logs_pb::LogsService::NewStub(channel_);
  grpc::ClientContext ctx;
  logs_pb::ExportLogsServiceResponse resp;
  grpc::Status st = stub->Export(&ctx, sluice::testing::MakeLogsRequest(1, 1), &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(OtlpGrpcTest, FullLogAnswersUnavailableWithRetryInfo) {
  Start("", 16 << 20);
  ASSERT_TRUE(log_->OpenCursor("stuck").ok());
  auto req = sluice::testing::MakeTraceRequest(40, 25, 1);
  grpc::Status st;
  int accepted = 0;
  for (int i = 0; i < 1000; ++i) {
    trace_pb::ExportTraceServiceResponse resp;
    st = ExportTraces(req, &resp);
    if (!st.ok()) break;
    ++accepted;
  }
  ASSERT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(st.error_details()));
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::RetryInfo retry;
  ASSERT_TRUE(details.details(0).UnpackTo(&retry));
  EXPECT_EQ(retry.retry_delay().seconds(), 1);
  EXPECT_EQ(Stored(), accepted);
}

// Storing for no pipeline would never call `done` (no append would complete
// it), leaving a client waiting: the caller's precondition is checked.
TEST_F(OtlpGrpcTest, StoringForNoPipelineIsACheckedPreconditionNotAHang) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Start();
  IngestCounters counters(registry_, "otlp", "spans");
  Batch batch;
  batch.items = 1;
  batch.payload = "x";
  EXPECT_DEATH(Store(*rt_, {}, counters, batch, [](Status) {}), "pipelines.empty");
}

}  // namespace
}  // namespace sluice::receivers::otlp

namespace sluice::receivers::otlp {
namespace {

TEST_F(OtlpGrpcTest, PortInUseFailsToStart) {
  Start();
  std::string address = receiver_->Addresses()[0].substr(5);
  OtlpOptions options;
  options.protocols.grpc.emplace();
  options.protocols.grpc->endpoint = address;
  pipeline::ComponentSettings settings{
      "otlp/2", {{"traces", log::Signal::kTraces, log::PipelineId("traces")}}};
  auto second = OtlpReceiverType().create_receiver(settings, &options, *rt_);
  ASSERT_TRUE(second.ok());
  Status st = (*second)->Start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cannot listen on " + address), std::string::npos);
}

}  // namespace
}  // namespace sluice::receivers::otlp

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace sluice::receivers::otlp {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A gRPC-only receiver on its own log, configured by each test.
class OtlpGrpcTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::LogOptions lo;
    lo.directory = dir.Sub("data");
    auto opened = log::Log::Open(lo, io::FileSystem::Posix(), Clock::Real(), registry, &health);
    ASSERT_TRUE(opened.ok());
    log = std::move(opened).value();
    rt = std::make_unique<pipeline::Runtime>(
        pipeline::Runtime{io, log.get(), registry, health, Clock::Real(), limiter});
    options.protocols.grpc.emplace();
    options.protocols.grpc->endpoint = "127.0.0.1:0";
  }

  Result<std::unique_ptr<pipeline::Receiver>> Create() {
    pipeline::ComponentSettings settings{
        "otlp", {{"traces", log::Signal::kTraces, log::PipelineId("traces")}}};
    return OtlpReceiverType().create_receiver(settings, &options, *rt);
  }

  testing::TempDir dir;
  telemetry::Registry registry;
  telemetry::Health health;
  boost::asio::io_context io;
  pipeline::InFlightLimiter limiter{256 << 20, registry};
  std::unique_ptr<log::Log> log;
  std::unique_ptr<pipeline::Runtime> rt;
  OtlpOptions options;
};

TEST_F(OtlpGrpcTlsTest, ExportOverTlsIsStoredAndPlaintextClientsAreRefused) {
  std::string cert = dir.Sub("cert.pem");
  std::string key = dir.Sub("key.pem");
  std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost -keyout " +
      key + " -out " + cert + " > " + dir.Sub("openssl.log") + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << ReadAll(dir.Sub("openssl.log"));

  options.protocols.grpc->tls = TlsOptions{cert, key};
  auto receiver = Create();
  ASSERT_TRUE(receiver.ok());
  ASSERT_TRUE((*receiver)->Start().ok());
  std::string port = (*receiver)->Addresses()[0].substr((*receiver)->Addresses()[0].rfind(':'));

  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadAll(cert);
  // An address literal (no resolver) with the certificate's name for verification.
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  auto secure = grpc::CreateCustomChannel("127.0.0.1" + port, grpc::SslCredentials(ssl), args);
  trace_pb::ExportTraceServiceResponse resp;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status st = trace_pb::TraceService::NewStub(secure)->Export(
        &ctx, sluice::testing::MakeTraceRequest(1, 3, 1), &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  {
    auto plain = grpc::CreateChannel("127.0.0.1" + port, grpc::InsecureChannelCredentials());
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::Status st = trace_pb::TraceService::NewStub(plain)->Export(
        &ctx, sluice::testing::MakeTraceRequest(1, 1, 2), &resp);
    EXPECT_FALSE(st.ok());
  }
  log::LogReader reader(*log, log->Begin());
  int stored = 0;
  while (reader.Next().ok()) ++stored;
  EXPECT_EQ(stored, 1);
  (*receiver)->Drain(std::chrono::steady_clock::now() + std::chrono::seconds(5));
  (*receiver)->Shutdown();
}

TEST_F(OtlpGrpcTlsTest, MissingCertificateFailsStartWithTheFileName) {
  options.protocols.grpc->tls = TlsOptions{dir.Sub("absent.pem"), dir.Sub("absent.key")};
  auto receiver = Create();
  ASSERT_TRUE(receiver.ok());
  Status st = (*receiver)->Start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("absent.pem"), std::string::npos);
}

}  // namespace
}  // namespace sluice::receivers::otlp
