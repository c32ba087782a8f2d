#include "receivers/prometheus_remote_write/remote_write_receiver.h"

#include <gtest/gtest.h>

#include "components/builtin.h"
#include "pipeline/service.h"
#include "support/http_client.h"
#include "support/otlp_builders.h"
#include "support/service_harness.h"
#include "support/stored_batches.h"
#include "support/temp_dir.h"
#include "wire/compression.h"

namespace sluice::receivers::prometheus_remote_write {
namespace {

using sluice::testing::HttpRequest;
using sluice::testing::MakeWriteRequest;
using sluice::testing::ToRemoteWriteV2;

constexpr char kV2ContentType[] = "application/x-protobuf;proto=io.prometheus.write.v2.Request";

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
                            const std::string& encoding = "snappy",
                            const std::string& tenant = "") {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", type},
        {"Content-Encoding", encoding},
        {"X-Prometheus-Remote-Write-Version", "0.1.0"}};
    if (!tenant.empty()) headers.emplace_back("X-Scope-OrgID", tenant);
    return HttpRequest("POST", endpoint_, "/api/v1/write",
                       wire::Compress(wire::Compression::kSnappyBlock, proto_bytes), headers);
  }

  testing::HttpResult WriteV2(const std::string& proto_bytes,
                              const std::string& type = kV2ContentType) {
    return HttpRequest("POST", endpoint_, "/api/v1/write",
                       wire::Compress(wire::Compression::kSnappyBlock, proto_bytes),
                       {{"Content-Type", type},
                        {"Content-Encoding", "snappy"},
                        {"X-Prometheus-Remote-Write-Version", "2.0.0"}});
  }

  static void ExpectWritten(const testing::HttpResult& r, const std::string& samples,
                            const std::string& histograms, const std::string& exemplars) {
    EXPECT_EQ(r.Header("X-Prometheus-Remote-Write-Samples-Written"), samples);
    EXPECT_EQ(r.Header("X-Prometheus-Remote-Write-Histograms-Written"), histograms);
    EXPECT_EQ(r.Header("X-Prometheus-Remote-Write-Exemplars-Written"), exemplars);
  }

  uint64_t Counter(const std::string& name, std::vector<std::string> labels,
                   std::vector<std::string> names) {
    return registry_.AddCounter(name, "", std::move(names)).With(labels).Value();
  }

  // Stops the service and returns the stored batches' (encoding, items,
  // payload, header).
  std::vector<std::tuple<log::Encoding, uint32_t, std::string, log::BatchHeader>> Stored() {
    service_->Shutdown();
    std::vector<std::tuple<log::Encoding, uint32_t, std::string, log::BatchHeader>> out;
    for (auto& b : testing::ReadStoredBatches(dir_.path())) {
      out.emplace_back(b.header.encoding, b.header.item_count, std::move(b.payload), b.header);
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
  // Passes through unchanged: the body as sent, still compressed.
  EXPECT_EQ(std::get<0>(stored[0]), log::Encoding::kPromRemoteWriteSnappy);
  EXPECT_EQ(std::get<1>(stored[0]), 50u);
  EXPECT_EQ(std::get<2>(stored[0]),
            wire::Compress(wire::Compression::kSnappyBlock, req.SerializeAsString()));
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
  // Stored without the bad series, uncompressed.
  EXPECT_EQ(std::get<0>(stored[0]), log::Encoding::kPromRemoteWriteProto);
  req.mutable_timeseries()->DeleteSubrange(1, 1);
  EXPECT_EQ(std::get<2>(stored[0]), req.SerializeAsString());
}

TEST_F(RemoteWriteReceiverTest, UnknownContentTypesAndEncodingsGet415) {
  std::string body = MakeWriteRequest(1, 1, 1).SerializeAsString();
  EXPECT_EQ(Write(body, "application/x-protobuf;proto=prometheus.WriteRequest").status, 204);
  EXPECT_EQ(Write(body, "application/json").status, 415);
  EXPECT_EQ(Write(body, "application/x-protobuf", "gzip").status, 415);
  auto unknown = Write(body, "application/x-protobuf;proto=io.prometheus.write.v3.Request");
  EXPECT_EQ(unknown.status, 415);
  EXPECT_NE(unknown.body.find("unsupported proto \"io.prometheus.write.v3.Request\""),
            std::string::npos)
      << unknown.body;
}

TEST_F(RemoteWriteReceiverTest, RemoteWrite2IsStoredInThe1_0FormWithWrittenCounts) {
  auto v1 = MakeWriteRequest(10, 5, 1);
  auto* ex = v1.mutable_timeseries(4)->add_exemplars();
  auto* l = ex->add_labels();
  l->set_name("trace_id");
  l->set_value("4bf92f3577b34da6a3ce929d0e0e4736");
  ex->set_value(4002);
  ex->set_timestamp(1'700'000'001'002);
  auto* hs = v1.add_timeseries();
  auto* name = hs->add_labels();
  name->set_name("__name__");
  name->set_value("request_seconds");
  auto* h = hs->add_histograms();
  h->set_count_int(2);
  h->set_sum(0.5);
  h->set_schema(0);
  auto* span = h->add_positive_spans();
  span->set_length(1);
  h->add_positive_deltas(2);
  h->set_timestamp(1'700'000'001'010);
  auto r = WriteV2(ToRemoteWriteV2(v1).SerializeAsString());
  ASSERT_EQ(r.status, 204) << r.body;
  ExpectWritten(r, "50", "1", "1");
  EXPECT_EQ(Counter("sluice_receiver_accepted_metric_points_total", {"prometheus_remote_write"},
                    {"receiver"}),
            51u);
  auto stored = Stored();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(std::get<0>(stored[0]), log::Encoding::kPromRemoteWriteProto);
  EXPECT_EQ(std::get<1>(stored[0]), 51u);
  EXPECT_EQ(std::get<2>(stored[0]), v1.SerializeAsString());
}

TEST_F(RemoteWriteReceiverTest, RemoteWrite2BadSeriesGet400NamingTheSeriesAfterTheRestIsStored) {
  auto v1 = MakeWriteRequest(4, 3, 1);
  auto req = ToRemoteWriteV2(v1);
  req.mutable_timeseries(1)->set_labels_refs(5, 1000);  // out of range
  auto r = WriteV2(req.SerializeAsString());
  ASSERT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("rejected 1 of 4 series"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("series 1: symbol reference 1000 is out of range"), std::string::npos)
      << r.body;
  ExpectWritten(r, "9", "0", "0");
  EXPECT_EQ(Counter("sluice_receiver_refused_metric_points_total",
                    {"prometheus_remote_write", "invalid"}, {"receiver", "reason"}),
            3u);

  v1.mutable_timeseries(0)->mutable_labels()->SwapElements(1, 2);
  r = WriteV2(ToRemoteWriteV2(v1).SerializeAsString());
  ASSERT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("series 0: labels must be sorted"), std::string::npos) << r.body;
  ExpectWritten(r, "9", "0", "0");

  auto nameless = MakeWriteRequest(1, 2, 1);
  nameless.mutable_timeseries(0)->mutable_labels()->DeleteSubrange(0, 1);
  r = WriteV2(ToRemoteWriteV2(nameless).SerializeAsString());
  ASSERT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("series 0: no __name__ label"), std::string::npos) << r.body;
  ExpectWritten(r, "0", "0", "0");

  auto stored = Stored();
  ASSERT_EQ(stored.size(), 2u);
  prometheus::WriteRequest kept;
  ASSERT_TRUE(kept.ParseFromString(std::get<2>(stored[0])));
  ASSERT_EQ(kept.timeseries_size(), 3);
  EXPECT_EQ(kept.timeseries(1).labels(3).value(), "/p/2");
  EXPECT_EQ(std::get<1>(stored[1]), 9u);
}

// Milliseconds past INT64_MAX / 10^6 have no nanosecond form: the series
// is refused with the reason rather than its time range overflowing.
TEST_F(RemoteWriteReceiverTest, SampleTimestampPastTheYear2262Gets400WithTheReason) {
  auto far = testing::MakeWriteRequestAt({INT64_MAX / 1000});
  auto r = Write(far.SerializeAsString());
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("sample timestamp 9223372036854775 ms is outside"), std::string::npos)
      << r.body;
  r = WriteV2(ToRemoteWriteV2(far).SerializeAsString());
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("sample timestamp 9223372036854775 ms is outside"), std::string::npos)
      << r.body;
  ExpectWritten(r, "0", "0", "0");
  EXPECT_TRUE(Stored().empty());
}

// The epoch and times before it are real timestamps, not "none".
TEST_F(RemoteWriteReceiverTest, BatchTimeRangeCountsTimestampZeroAndNegativeOnes) {
  ASSERT_EQ(Write(testing::MakeWriteRequestAt({5, 0, 7}).SerializeAsString()).status, 204);
  auto before_1970 = testing::MakeWriteRequestAt({-20, -10});
  ASSERT_EQ(WriteV2(ToRemoteWriteV2(before_1970).SerializeAsString()).status, 204);
  auto stored = Stored();
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(std::get<3>(stored[0]).min_event_unix_nanos, 0);
  EXPECT_EQ(std::get<3>(stored[0]).max_event_unix_nanos, 7'000'000);
  EXPECT_EQ(std::get<3>(stored[1]).min_event_unix_nanos, -20'000'000);
  EXPECT_EQ(std::get<3>(stored[1]).max_event_unix_nanos, -10'000'000);
}

TEST_F(RemoteWriteReceiverTest, BodiesLabelledWithTheOtherVersionGet400) {
  auto v1 = MakeWriteRequest(2, 1, 1);
  auto as_v2 = WriteV2(v1.SerializeAsString());
  EXPECT_EQ(as_v2.status, 400);
  EXPECT_NE(as_v2.body.find("remote write 1.0 fields"), std::string::npos) << as_v2.body;
  ExpectWritten(as_v2, "0", "0", "0");
  auto as_v1 = Write(ToRemoteWriteV2(v1).SerializeAsString());
  EXPECT_EQ(as_v1.status, 400);
  EXPECT_NE(as_v1.body.find("remote write 2.0 fields"), std::string::npos) << as_v1.body;
  EXPECT_TRUE(Stored().empty());
}

TEST_F(RemoteWriteReceiverTest, RemoteWrite2WithAnotherMediaTypeGets415) {
  std::string body = ToRemoteWriteV2(MakeWriteRequest(1, 1, 1)).SerializeAsString();
  auto r = WriteV2(body, "application/json;proto=io.prometheus.write.v2.Request");
  EXPECT_EQ(r.status, 415);
  EXPECT_NE(r.body.find("proto=io.prometheus.write.v2.Request (remote write 2.0)"),
            std::string::npos)
      << r.body;
  EXPECT_EQ(WriteV2(body).status, 204);
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

TEST_F(RemoteWriteReceiverTest, CardinalityLimitFoldsEachTenantsSeriesBeforeTheAppend) {
  service_->Shutdown();
  std::string yaml = R"(
receivers:
  prometheus_remote_write:
    endpoint: 127.0.0.1:0
processors:
  cardinality_limit:
    max_series: 2
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
      processors: [cardinality_limit]
)";
  service_ = sluice::testing::StartService(yaml, registry_);
  ASSERT_NE(service_, nullptr);
  endpoint_ = sluice::testing::AddressOf(*service_, "receiver prometheus_remote_write http ");
  prometheus::WriteRequest req;
  for (int i = 0; i < 3; ++i) {
    auto* ts = req.add_timeseries();
    auto* name = ts->add_labels();
    name->set_name("__name__");
    name->set_value("requests_total");
    auto* id = ts->add_labels();
    id->set_name("path");
    id->set_value("/p" + std::to_string(i));
    auto* sample = ts->add_samples();
    sample->set_value(i + 1);
    sample->set_timestamp(1000);
  }
  for (const char* tenant : {"team-a", "team-b"}) {
    auto r = Write(req.SerializeAsString(), "application/x-protobuf", "snappy", tenant);
    ASSERT_EQ(r.status, 204) << r.body;
  }
  EXPECT_EQ(
      Counter("sluice_processor_cardinality_folded_total",
              {"cardinality_limit", "team-a", "requests_total"}, {"processor", "tenant", "metric"}),
      1u);
  EXPECT_EQ(
      Counter("sluice_processor_cardinality_folded_total",
              {"cardinality_limit", "team-b", "requests_total"}, {"processor", "tenant", "metric"}),
      1u)
      << "each tenant has its own limit";
  auto stored = Stored();
  ASSERT_EQ(stored.size(), 2u);
  for (const auto& [encoding, items, payload, header] : stored) {
    EXPECT_EQ(encoding, log::Encoding::kPromRemoteWriteSnappy);
    EXPECT_EQ(items, 3u) << "two series kept, one overflow sample";
    std::string plain;
    ASSERT_TRUE(wire::Decompress(wire::Compression::kSnappyBlock, payload, 1 << 20, &plain).ok());
    prometheus::WriteRequest got;
    ASSERT_TRUE(got.ParseFromString(plain));
    ASSERT_EQ(got.timeseries_size(), 3);
    EXPECT_EQ(got.timeseries(2).labels(1).name(), "otel_metric_overflow");
    EXPECT_EQ(got.timeseries(2).samples(0).value(), 3);
  }
}

}  // namespace
}  // namespace sluice::receivers::prometheus_remote_write
