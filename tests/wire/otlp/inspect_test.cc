#include "wire/otlp/inspect.h"

#include <gtest/gtest.h>

#include "support/otlp_builders.h"
#include "wire/proto_writer.h"

namespace sluice::wire::otlp {
namespace {

namespace pb = opentelemetry::proto;
using sluice::testing::MakeLogsRequest;
using sluice::testing::MakeMetricsRequest;
using sluice::testing::MakeTraceRequest;

TEST(InspectTest, CountsItemsAndTimesOfEverySignal) {
  Inspection t;
  ASSERT_TRUE(InspectTraces(MakeTraceRequest(2, 5, 1).SerializeAsString(), &t).ok());
  EXPECT_EQ(t.items, 10u);
  EXPECT_EQ(t.leaves, 10u);
  EXPECT_GT(t.min_time_unix_nano, 0);
  Inspection l;
  ASSERT_TRUE(InspectLogs(MakeLogsRequest(7, 1).SerializeAsString(), &l).ok());
  EXPECT_EQ(l.items, 7u);
  EXPECT_EQ(l.rejected_items, 0u);
  Inspection m;
  ASSERT_TRUE(InspectMetrics(MakeMetricsRequest(5, 1).SerializeAsString(), &m).ok());
  EXPECT_EQ(m.leaves, 3u);         // gauge, sum, histogram
  EXPECT_EQ(m.items, 5u + 1 + 1);  // data points
  EXPECT_EQ(m.rejected_leaves, 0u);
}

TEST(InspectTest, InvalidLeafIsRejectedAndTheRestKeptByTheFilter) {
  auto req = MakeTraceRequest(2, 3, 1);
  req.mutable_resource_spans(1)->mutable_scope_spans(0)->mutable_spans(1)->set_trace_id("bad");
  std::string bytes = req.SerializeAsString();
  Inspection ins;
  ASSERT_TRUE(InspectTraces(bytes, &ins).ok());
  EXPECT_EQ(ins.rejected_items, 1u);
  EXPECT_NE(ins.first_error.find("span 4: trace_id must be 16 bytes"), std::string::npos);
  pb::collector::trace::v1::ExportTraceServiceRequest kept;
  ASSERT_TRUE(kept.ParseFromString(FilterRequest(bytes, ins.leaf_ok)));
  ASSERT_EQ(kept.resource_spans_size(), 2);
  EXPECT_EQ(kept.resource_spans(0).scope_spans(0).spans_size(), 3);
  ASSERT_EQ(kept.resource_spans(1).scope_spans(0).spans_size(), 2);
  EXPECT_EQ(kept.resource_spans(1).scope_spans(0).spans(1).name(),
            req.resource_spans(1).scope_spans(0).spans(2).name());
  EXPECT_EQ(kept.resource_spans(1).resource().SerializeAsString(),
            req.resource_spans(1).resource().SerializeAsString());
}

TEST(InspectTest, FilterDropsContainersLeftEmpty) {
  auto req = MakeTraceRequest(2, 1, 1);
  req.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0)->set_span_id("");
  std::string bytes = req.SerializeAsString();
  Inspection ins;
  ASSERT_TRUE(InspectTraces(bytes, &ins).ok());
  pb::collector::trace::v1::ExportTraceServiceRequest kept;
  ASSERT_TRUE(kept.ParseFromString(FilterRequest(bytes, ins.leaf_ok)));
  ASSERT_EQ(kept.resource_spans_size(), 1);
  EXPECT_EQ(kept.resource_spans(0).resource().attributes(0).value().string_value(), "service-1-1");
}

TEST(InspectTest, LogRecordWithBadSpanIdIsRejected) {
  auto req = MakeLogsRequest(3, 1);
  req.mutable_resource_logs(0)->mutable_scope_logs(0)->mutable_log_records(2)->set_span_id("abc");
  Inspection ins;
  ASSERT_TRUE(InspectLogs(req.SerializeAsString(), &ins).ok());
  EXPECT_EQ(ins.rejected_items, 1u);
  EXPECT_NE(ins.first_error.find("log record 2: span_id must be empty or 8 bytes"),
            std::string::npos);
}

TEST(InspectTest, MetricWithoutNameOrWithMismatchedBucketsIsRejectedWithItsPoints) {
  auto req = MakeMetricsRequest(4, 1);
  auto* sm = req.mutable_resource_metrics(0)->mutable_scope_metrics(0);
  sm->mutable_metrics(0)->clear_name();  // the gauge: 4 points
  sm->mutable_metrics(2)->mutable_histogram()->mutable_data_points(0)->add_bucket_counts(9);
  Inspection ins;
  ASSERT_TRUE(InspectMetrics(req.SerializeAsString(), &ins).ok());
  EXPECT_EQ(ins.rejected_leaves, 2u);
  EXPECT_EQ(ins.rejected_items, 5u);
  EXPECT_NE(ins.first_error.find("name must not be empty"), std::string::npos);
}

TEST(InspectTest, MalformedStructureIsAnErrorNotAPartialSuccess) {
  Inspection ins;
  EXPECT_FALSE(InspectMetrics("\x0a\x05\x12\x10", &ins).ok());
  EXPECT_FALSE(InspectLogs("\x0a\xff\xff\xff\xff\x0f", &ins).ok());
}

TEST(InspectTest, PartialSuccessResponseParsesWithTheProtobufLibrary) {
  pb::collector::logs::v1::ExportLogsServiceResponse resp;
  ASSERT_TRUE(resp.ParseFromString(EncodePartialSuccess(3, "rejected 3 log_records")));
  EXPECT_EQ(resp.partial_success().rejected_log_records(), 3);
  EXPECT_EQ(resp.partial_success().error_message(), "rejected 3 log_records");
  EXPECT_TRUE(EncodePartialSuccess(0, "").empty());
}

}  // namespace
}  // namespace sluice::wire::otlp

namespace sluice::wire::otlp {
namespace {

// Found by otlp_logs_fuzz: a leaf-position field that is not length-delimited
// is a rejected leaf to the walker; the filter kept it and lost count.
TEST(InspectTest, FilterDropsALeafWithTheWrongWireTypeAndStaysAligned) {
  auto req = sluice::testing::MakeLogsRequest(2, 1);
  std::string scope_logs = req.resource_logs(0).scope_logs(0).SerializeAsString();
  scope_logs.insert(0, std::string("\x10\x07", 2));  // field 2 as a varint: a bad "record"
  std::string resource_logs;
  ProtoWriter(&resource_logs).Bytes(2, scope_logs);
  std::string bytes;
  ProtoWriter(&bytes).Bytes(1, resource_logs);
  Inspection ins;
  ASSERT_TRUE(InspectLogs(bytes, &ins).ok());
  ASSERT_EQ(ins.leaves, 3u);
  EXPECT_EQ(ins.rejected_leaves, 1u);
  std::string kept = FilterRequest(bytes, ins.leaf_ok);
  Inspection again;
  ASSERT_TRUE(InspectLogs(kept, &again).ok());
  EXPECT_EQ(again.leaves, 2u);
  EXPECT_EQ(again.rejected_leaves, 0u);
}

}  // namespace
}  // namespace sluice::wire::otlp
