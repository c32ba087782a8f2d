#include "exporters/otlp/otlp_exporter.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "support/http_client.h"
#include "support/otlp_builders.h"
#include "support/sender_options.h"
#include "support/service_harness.h"
#include "support/temp_dir.h"
#include "support/tls_certificate.h"
#include "support/wait.h"

namespace sluice::exporters::otlp {
namespace {

namespace trace_pb = testing::otlp_pb::collector::trace::v1;
namespace logs_pb = testing::otlp_pb::collector::logs::v1;

std::string RetryInfoDetails(int seconds) {
  google::rpc::RetryInfo info;
  info.mutable_retry_delay()->set_seconds(seconds);
  info.mutable_retry_delay()->set_nanos(500'000'000);
  google::rpc::Status status;
  status.set_code(8);
  status.add_details()->PackFrom(info);
  return status.SerializeAsString();
}

TEST(ClassifyGrpcTest, RetryableCodesFollowTheOtlpSpecification) {
  using Kind = pipeline::SendResult::Kind;
  EXPECT_EQ(ClassifyGrpc(0, "", "").kind, Kind::kOk);
  for (int code : {1, 4, 10, 11, 14, 15}) {
    EXPECT_EQ(ClassifyGrpc(code, "x", "").kind, Kind::kRetryable) << code;
  }
  for (int code : {2, 3, 5, 6, 7, 9, 12, 13, 16}) {
    EXPECT_EQ(ClassifyGrpc(code, "x", "").kind, Kind::kPermanent) << code;
  }
  // RESOURCE_EXHAUSTED is retryable only with RetryInfo, whose delay is kept.
  EXPECT_EQ(ClassifyGrpc(8, "full", "").kind, Kind::kPermanent);
  auto r = ClassifyGrpc(8, "full", RetryInfoDetails(2));
  EXPECT_EQ(r.kind, Kind::kRetryable);
  EXPECT_EQ(r.retry_after, std::chrono::milliseconds(2500));
  EXPECT_EQ(ClassifyGrpc(14, "", RetryInfoDetails(1)).retry_after, std::chrono::milliseconds(1500));
}

// An OTLP/gRPC backend built from the protobuf library's generated services.
class Backend final : public trace_pb::TraceService::Service, public logs_pb::LogsService::Service {
 public:
  grpc::Status Export(grpc::ServerContext* ctx, const trace_pb::ExportTraceServiceRequest* req,
                      trace_pb::ExportTraceServiceResponse*) override {
    if (auto st = Fail(ctx); !st.ok()) return st;
    std::string tenant;
    auto it = ctx->client_metadata().find("x-scope-orgid");
    if (it != ctx->client_metadata().end()) tenant.assign(it->second.data(), it->second.size());
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& rs : req->resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& s : ss.spans()) {
          ++spans_[s.span_id()];
          tenants_[s.span_id()].insert(tenant);
        }
      }
    }
    return grpc::Status::OK;
  }
  grpc::Status Export(grpc::ServerContext* ctx, const logs_pb::ExportLogsServiceRequest* req,
                      logs_pb::ExportLogsServiceResponse* res) override {
    if (auto st = Fail(ctx); !st.ok()) return st;
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& rl : req->resource_logs()) {
      for (const auto& sl : rl.scope_logs()) logs_ += sl.log_records_size();
    }
    if (reject_one_log_.exchange(false)) {
      res->mutable_partial_success()->set_rejected_log_records(1);
      res->mutable_partial_success()->set_error_message("one record too old");
    }
    return grpc::Status::OK;
  }

  std::atomic<int> fail_next{0};     // calls answered UNAVAILABLE with RetryInfo
  std::atomic<bool> invalid{false};  // answer INVALID_ARGUMENT
  std::atomic<bool> reject_one_log_{false};
  std::string metadata_seen;

  size_t spans() const {
    std::lock_guard<std::mutex> lock(mu_);
    return spans_.size();
  }
  size_t logs() const {
    std::lock_guard<std::mutex> lock(mu_);
    return logs_;
  }
  // Every tenant a span arrived under ("" for none).
  std::set<std::string> TenantsOf(const std::string& span_id) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tenants_.find(span_id);
    return it == tenants_.end() ? std::set<std::string>{} : it->second;
  }

 private:
  grpc::Status Fail(grpc::ServerContext* ctx) {
    auto it = ctx->client_metadata().find("x-tenant");
    if (it != ctx->client_metadata().end()) {
      std::lock_guard<std::mutex> lock(mu_);
      metadata_seen = std::string(it->second.data(), it->second.size());
    }
    if (invalid.load()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad data");
    if (fail_next.fetch_sub(1) > 0) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "busy", RetryInfoDetails(0));
    }
    return grpc::Status::OK;
  }

  mutable std::mutex mu_;
  std::map<std::string, int> spans_;
  std::map<std::string, std::set<std::string>> tenants_;
  size_t logs_ = 0;
};

class OtlpGrpcExporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
    std::string scheme;
    std::string tls;
    if (tls_) {
      testing::CertificateFiles cert;
      ASSERT_TRUE(testing::MakeSelfSignedCertificate(dir_, "server", "localhost", &cert));
      auto pem = [](const std::string& path) {
        std::ifstream in(path);
        return std::string(std::istreambuf_iterator<char>(in), {});
      };
      grpc::SslServerCredentialsOptions ssl;
      ssl.pem_key_cert_pairs.push_back({pem(cert.key_file), pem(cert.cert_file)});
      credentials = grpc::SslServerCredentials(ssl);
      scheme = "https://";
      tls = "    tls: {ca_file: " + cert.cert_file + "}\n";
    }
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", credentials, &port_);
    builder.RegisterService(static_cast<trace_pb::TraceService::Service*>(&backend_));
    builder.RegisterService(static_cast<logs_pb::LogsService::Service*>(&backend_));
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    std::string yaml = R"(
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  otlp:
    endpoint: )" + scheme +
                       "127.0.0.1:" + std::to_string(port_) + "\n" + tls + R"(
    headers: {X-Tenant: acme}
    timeout: 2s
    retry_on_failure:
      initial_interval: 10ms
      max_interval: 50ms
storage:
  directory: )" + dir_.path() +
                       R"(
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp]
    logs:
      receivers: [otlp]
      exporters: [otlp]
)";
    service_ = testing::StartService(yaml, registry_);
    ASSERT_NE(service_, nullptr);
    receiver_ = testing::AddressOf(*service_, "receiver otlp http ");
  }
  void TearDown() override {
    if (service_) service_->Shutdown();
    if (server_) server_->Shutdown();
  }

  void Post(const std::string& path, const std::string& body, const std::string& tenant = "") {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "application/x-protobuf"}};
    if (!tenant.empty()) headers.emplace_back("X-Scope-OrgID", tenant);
    auto r = testing::HttpRequest("POST", receiver_, path, body, headers);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  template <class F>
  bool WaitFor(F done) {
    return testing::WaitUntil(done);
  }
  uint64_t Counter(const std::string& name) {
    return testing::SeriesValue(registry_, name + "{exporter=\"otlp\"}");
  }

  bool tls_ = false;  // serve over TLS, and export to https://
  testing::TempDir dir_;
  Backend backend_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  telemetry::Registry registry_;
  std::unique_ptr<pipeline::Service> service_;
  std::string receiver_;
};

TEST_F(OtlpGrpcExporterTest, SpansAndLogsArriveThroughUnavailableWithRetryInfo) {
  backend_.fail_next.store(5);
  for (int i = 0; i < 20; ++i) {
    Post("/v1/traces", testing::MakeTraceRequest(2, 5, 100 + i).SerializeAsString());
    Post("/v1/logs", testing::MakeLogsRequest(10, 200 + i).SerializeAsString());
  }
  EXPECT_TRUE(WaitFor([&] { return backend_.spans() == 200 && backend_.logs() == 200; }))
      << backend_.spans() << " spans, " << backend_.logs() << " logs";
  EXPECT_GE(Counter("sluice_exporter_send_failed_total"), 5u);
  EXPECT_EQ(Counter("sluice_exporter_dead_lettered_items_total"), 0u);
  EXPECT_EQ(backend_.metadata_seen, "acme");
}

TEST_F(OtlpGrpcExporterTest, InvalidArgumentIsDeadLetteredNotRetried) {
  backend_.invalid.store(true);
  Post("/v1/traces", testing::MakeTraceRequest(1, 4, 1).SerializeAsString());
  EXPECT_TRUE(WaitFor([&] { return Counter("sluice_exporter_dead_lettered_items_total") == 4; }));
  EXPECT_EQ(Counter("sluice_exporter_retried_items_total"), 0u);
}

TEST_F(OtlpGrpcExporterTest, PartialSuccessCountsTheRejectedItems) {
  backend_.reject_one_log_.store(true);
  Post("/v1/logs", testing::MakeLogsRequest(10, 1).SerializeAsString());
  EXPECT_TRUE(WaitFor([&] { return Counter("sluice_exporter_rejected_items_total") == 1; }));
  EXPECT_TRUE(WaitFor([&] { return Counter("sluice_exporter_sent_items_total") == 9; }));
}

TEST_F(OtlpGrpcExporterTest, SenderStillSendsWhereItWasToldAfterItsOptionsAreGone) {
  auto orphan = testing::SenderOutlivingItsOptions(
      OtlpGrpcExporterType(), "endpoint: 127.0.0.1:" + std::to_string(port_) + "\ntimeout: 5s",
      "endpoint: 127.0.0.1:1\ntimeout: 5s");
  pipeline::SendResult result = orphan.sender->Send(testing::RequestOf(
      log::Signal::kTraces, testing::MakeTraceRequest(1, 5, 900).SerializeAsString(), 5));
  EXPECT_TRUE(result.ok()) << result.reason;
  EXPECT_EQ(backend_.spans(), 5u);
}

class OtlpGrpcTlsExporterTest : public OtlpGrpcExporterTest {
 protected:
  OtlpGrpcTlsExporterTest() { tls_ = true; }
};

// Requests never mix tenants, and each carries its tenant as the
// destination's tenant header, so a multi-tenant backend files every span
// under the tenant it was received for.
TEST_F(OtlpGrpcTlsExporterTest, SpansArriveOverTlsUnderTheTenantTheyWereReceivedWith) {
  const std::string tenants[] = {"acme", "umbrella", ""};
  std::map<std::string, std::string> tenant_of;
  for (int i = 0; i < 30; ++i) {
    auto req = testing::MakeTraceRequest(1, 5, 500 + i);
    const std::string& tenant = tenants[i % 3];
    for (const auto& s : req.resource_spans(0).scope_spans(0).spans()) {
      tenant_of[s.span_id()] = tenant;
    }
    Post("/v1/traces", req.SerializeAsString(), tenant);
  }
  ASSERT_TRUE(WaitFor([&] { return backend_.spans() == tenant_of.size(); }))
      << backend_.spans() << " of " << tenant_of.size();
  for (const auto& [span, tenant] : tenant_of) {
    EXPECT_EQ(backend_.TenantsOf(span), std::set<std::string>{tenant}) << tenant;
  }
  EXPECT_EQ(Counter("sluice_exporter_dead_lettered_items_total"), 0u);
}

}  // namespace
}  // namespace sluice::exporters::otlp
