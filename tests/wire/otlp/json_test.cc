#include "wire/otlp/json.h"

#include <gtest/gtest.h>

#include <cmath>

#include "support/otlp_builders.h"

namespace sluice::wire::otlp {
namespace {

namespace pb = opentelemetry::proto;

// An OTLP/JSON trace export in the form the specification shows.
constexpr const char* kTraces = R"({
  "resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
    "scopeSpans": [{
      "scope": {"name": "my.library", "version": "1.0.0"},
      "spans": [{
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "parentSpanId": "EEE19B7EC3C1B173",
        "name": "I'm a server span",
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": 1544712661000000000,
        "kind": 2,
        "attributes": [
          {"key": "my.span.attr", "value": {"stringValue": "some value"}},
          {"key": "count", "value": {"intValue": "-42"}},
          {"key": "ratio", "value": {"doubleValue": "NaN"}},
          {"key": "blob", "value": {"bytesValue": "aGkh"}},
          {"key": "list", "value": {"arrayValue": {"values": [{"boolValue": true}]}}}
        ],
        "status": {"code": 2, "message": "boom"},
        "someFutureField": {"ignored": true}
      }]
    }]
  }]
})";

TEST(OtlpJsonTest, TraceExportTranscodesToWhatTheProtobufLibraryReads) {
  std::string bytes;
  ASSERT_TRUE(TracesJsonToProto(kTraces, &bytes).ok());
  pb::collector::trace::v1::ExportTraceServiceRequest req;
  ASSERT_TRUE(req.ParseFromString(bytes));
  const auto& span = req.resource_spans(0).scope_spans(0).spans(0);
  EXPECT_EQ(sluice::testing::Hex(span.trace_id()), "5b8efff798038103d269b633813fc60c");
  EXPECT_EQ(sluice::testing::Hex(span.span_id()), "eee19b7ec3c1b174");
  EXPECT_EQ(span.name(), "I'm a server span");
  EXPECT_EQ(span.start_time_unix_nano(), 1544712660000000000u);
  EXPECT_EQ(span.end_time_unix_nano(), 1544712661000000000u);
  EXPECT_EQ(span.kind(), pb::trace::v1::Span::SPAN_KIND_SERVER);
  EXPECT_EQ(span.attributes(1).value().int_value(), -42);
  EXPECT_TRUE(std::isnan(span.attributes(2).value().double_value()));
  EXPECT_EQ(span.attributes(3).value().bytes_value(), "hi!");
  EXPECT_TRUE(span.attributes(4).value().array_value().values(0).bool_value());
  EXPECT_EQ(span.status().code(), pb::trace::v1::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(req.resource_spans(0).resource().attributes(0).value().string_value(), "my.service");
  EXPECT_EQ(req.resource_spans(0).scope_spans(0).scope().version(), "1.0.0");
}

TEST(OtlpJsonTest, MetricsAndLogsTranscode) {
  std::string bytes;
  ASSERT_TRUE(MetricsJsonToProto(R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[
      {"name":"latency","histogram":{"aggregationTemporality":2,"dataPoints":[
        {"timeUnixNano":"7","count":"3","bucketCounts":["1","2"],"explicitBounds":[0.5],
         "sum":1.5,"attributes":[{"key":"k","value":{"stringValue":"v"}}]}]}},
      {"name":"up","gauge":{"dataPoints":[{"asInt":"1","timeUnixNano":"7"}]}}]}]}]})",
                                 &bytes)
                  .ok());
  pb::collector::metrics::v1::ExportMetricsServiceRequest m;
  ASSERT_TRUE(m.ParseFromString(bytes));
  const auto& h = m.resource_metrics(0).scope_metrics(0).metrics(0).histogram();
  EXPECT_EQ(h.aggregation_temporality(), pb::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
  EXPECT_EQ(h.data_points(0).bucket_counts_size(), 2);
  EXPECT_EQ(h.data_points(0).bucket_counts(1), 2u);
  EXPECT_EQ(h.data_points(0).explicit_bounds(0), 0.5);
  EXPECT_EQ(m.resource_metrics(0).scope_metrics(0).metrics(1).gauge().data_points(0).as_int(), 1);

  ASSERT_TRUE(LogsJsonToProto(R"({"resource_logs":[{"scope_logs":[{"log_records":[
      {"time_unix_nano":"5","severity_number":9,"body":{"stringValue":"hello"},
       "trace_id":"5b8efff798038103d269b633813fc60c"}]}]}]})",
                              &bytes)
                  .ok());
  pb::collector::logs::v1::ExportLogsServiceRequest l;
  ASSERT_TRUE(l.ParseFromString(bytes));
  const auto& rec = l.resource_logs(0).scope_logs(0).log_records(0);
  EXPECT_EQ(rec.body().string_value(), "hello");
  EXPECT_EQ(rec.severity_number(), pb::logs::v1::SEVERITY_NUMBER_INFO);
  EXPECT_EQ(rec.trace_id().size(), 16u);
}

TEST(OtlpJsonTest, BadValuesNameTheirPath) {
  std::string bytes;
  Status st = TracesJsonToProto(
      R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"not-hex"}]}]}]})", &bytes);
  ASSERT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("resourceSpans[0].scopeSpans[0].spans[0].spanId: expected a hex"),
            std::string::npos)
      << st.message();
  EXPECT_FALSE(TracesJsonToProto("{not json", &bytes).ok());
  EXPECT_FALSE(TracesJsonToProto(R"({"resourceSpans": {}})", &bytes).ok());
  EXPECT_FALSE(
      TracesJsonToProto(
          R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"-1"}]}]}]})", &bytes)
          .ok());
}

TEST(OtlpJsonTest, DeepNestingIsRefusedNotRecursedForever) {
  std::string value = R"({"stringValue":"x"})";
  for (int i = 0; i < 200; ++i) value = R"({"arrayValue":{"values":[)" + value + "]}}";
  std::string json =
      R"({"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":)" + value + "}]}}]}";
  std::string bytes;
  Status st = TracesJsonToProto(json, &bytes);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("nested too deeply"), std::string::npos);
}

}  // namespace
}  // namespace sluice::wire::otlp
