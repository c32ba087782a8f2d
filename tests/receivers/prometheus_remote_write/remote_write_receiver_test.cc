#include "receivers/prometheus_remote_write/remote_write_receiver.h"

#include <gtest/gtest.h>

#include "components/builtin.h"
#include "pipeline/service.h"
#include "support/http_client.h"
#include "support/otlp_builders.h"
#include "support/service_harness.h"
#include "support/temp_dir.h"
#include "wire/compression.h"

namespace sluice::receivers::prometheus_remote_write {
namespace {

using sluice::testing::HttpRequest;
using sluice::testing::MakeWriteRequest;

class RemoteWriteReceiverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string yaml = R"(
receivers:
  prometheus_remote_write:
    endpoint: 127.0.0.1:0
    max_request_body_size: 1MiB
storage:
  directory: )" + dir_.path() +
                       R"(
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    metrics:
      receivers: [prometheus_remote_write]
)";
    service_ = sluice::testing::StartService(yaml, registry_);
    ASSERT_NE(service_, nullptr);
    endpoint_ = sluice::testing::AddressOf(*service_, "receiver prometheus_remote_write http ");
    ASSERT_FALSE(endpoint_.empty());
  }

  testing::HttpResult Write(const std::string& proto_bytes,
                            const std::string& type = "application/x-protobuf",
                            const std::string& encoding = "snappy") {
    return HttpRequest("POST", endpoint_, "/api/v1/write",
                       wire::Compress(wire::Compression::kSnappyBlock, proto_bytes),
                       {{"Content-Type", type},
                        {"Content-Encoding", encoding},
                        {"X-Prometheus-Remote-Write-Version", "0.1.0"}});
  }

  // Stops the service and returns the stored batches' (encoding, items, payload).
  std::vector<std::tuple<log::Encoding, uint32_t, std::string>> Stored() {
    service_->Shutdown();
    telemetry::Registry r;
    log::LogOptions o;
    o.directory = dir_.path();
    auto log = log::Log::Open(o, io::FileSystem::Posix(), Clock::Real(), r);
    EXPECT_TRUE(log.ok());
    log::LogReader reader(**log, (*log)->Begin());
    std::vector<std::tuple<log::Encoding, uint32_t, std::string>> out;
    while (true) {
      auto b = reader.Next();
      if (!b.ok()) break;
      out.emplace_back(b->header.encoding, b->header.item_count, std::string(b->payload));
    }
    return out;
  }

  testing::TempDir dir_;
  telemetry::Registry registry_;
  std::unique_ptr<pipeline::Service> service_;
  std::string endpoint_;
};

TEST_F(RemoteWriteReceiverTest, WriteRequestIsStoredAsSentAndAnswered204) {
  auto req = MakeWriteRequest(10, 5, 1);
  auto r = Write(req.SerializeAsString());
  ASSERT_EQ(r.status, 204) << r.body;
  auto stored = Stored();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(std::get<0>(stored[0]), log::Encoding::kPromRemoteWriteProto);
  EXPECT_EQ(std::get<1>(stored[0]), 50u);
  EXPECT_EQ(std::get<2>(stored[0]), req.SerializeAsString());  // passes through unchanged
}

TEST_F(RemoteWriteReceiverTest, InvalidSeriesGet400WhileTheValidOnesAreStored) {
  auto req = MakeWriteRequest(3, 2, 1);
  req.mutable_timeseries(1)->mutable_labels()->SwapElements(1, 2);
  auto r = Write(req.SerializeAsString());
  ASSERT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("rejected 1 of 3 series"), std::string::npos) << r.body;
  auto stored = Stored();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(std::get<1>(stored[0]), 4u);
}

TEST_F(RemoteWriteReceiverTest, RemoteWrite2AndUnknownEncodingsGet415) {
  std::string body = MakeWriteRequest(1, 1, 1).SerializeAsString();
  auto v2 = Write(body, "application/x-protobuf;proto=io.prometheus.write.v2.Request");
  EXPECT_EQ(v2.status, 415);
  EXPECT_NE(v2.body.find("remote write 1.0"), std::string::npos);
  EXPECT_EQ(Write(body, "application/x-protobuf;proto=prometheus.WriteRequest").status, 204);
  EXPECT_EQ(Write(body, "application/json").status, 415);
  EXPECT_EQ(Write(body, "application/x-protobuf", "gzip").status, 415);
}

TEST_F(RemoteWriteReceiverTest, SnappyBombGets413AndGarbageGets400) {
  std::string big(2 << 20, 'a');
  EXPECT_EQ(Write(big).status, 413);
  auto garbage =
      HttpRequest("POST", endpoint_, "/api/v1/write", "not snappy",
                  {{"Content-Type", "application/x-protobuf"}, {"Content-Encoding", "snappy"}});
  EXPECT_EQ(garbage.status, 400);
  EXPECT_TRUE(Stored().empty());
}

}  // namespace
}  // namespace sluice::receivers::prometheus_remote_write
