#include "wire/otlp/traces.h"

#include <gtest/gtest.h>

#include <vector>

#include "support/otlp_builders.h"

namespace sluice::wire::otlp {
namespace {

namespace pb = opentelemetry::proto;
using sluice::testing::Hex;
using sluice::testing::MakeTraceRequest;

struct Collected {
  std::string resource;
  std::string scope;
  SpanView span;
};

class Collect final : public TracesVisitor {
 public:
  void OnResourceSpans(std::string_view r, std::string_view) override { resource_ = r; }
  void OnScopeSpans(std::string_view s, std::string_view) override { scope_ = s; }
  void OnSpan(const SpanView& s) override {
    spans.push_back({std::string(resource_), std::string(scope_), s});
  }
  std::vector<Collected> spans;

 private:
  std::string_view resource_;
  std::string_view scope_;
};

TEST(TracesTest, WalkerSeesWhatTheProtobufLibraryEncoded) {
  auto req = MakeTraceRequest(3, 4, 42);
  std::string bytes = req.SerializeAsString();
  Collect c;
  TracesSummary summary;
  ASSERT_TRUE(WalkTraces(bytes, &c, &summary).ok());
  ASSERT_EQ(summary.spans, 12u);
  ASSERT_EQ(c.spans.size(), 12u);
  size_t i = 0;
  for (const auto& rs : req.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) {
        const SpanView& v = c.spans[i].span;
        EXPECT_EQ(v.trace_id, s.trace_id());
        EXPECT_EQ(v.span_id, s.span_id());
        EXPECT_EQ(v.name, s.name());
        EXPECT_EQ(v.kind, static_cast<int32_t>(s.kind()));
        EXPECT_EQ(v.start_time_unix_nano, s.start_time_unix_nano());
        EXPECT_EQ(v.end_time_unix_nano, s.end_time_unix_nano());
        EXPECT_EQ(c.spans[i].resource, rs.resource().SerializeAsString());
        EXPECT_EQ(c.spans[i].scope, ss.scope().SerializeAsString());
        ++i;
      }
    }
  }
  EXPECT_EQ(summary.min_start_unix_nano,
            req.resource_spans(0).scope_spans(0).spans(0).start_time_unix_nano());
}

TEST(TracesTest, TraceIdOfWrongLengthIsRejectedWithAReason) {
  auto req = MakeTraceRequest(1, 2, 1);
  req.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(1)->set_trace_id("short");
  TracesSummary summary;
  Status st = WalkTraces(req.SerializeAsString(), nullptr, &summary);
  ASSERT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("span 1: trace_id must be 16 bytes"), std::string::npos)
      << st.message();
}

TEST(TracesTest, AllZeroSpanIdIsRejected) {
  auto req = MakeTraceRequest(1, 1, 1);
  req.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0)->set_span_id(
      std::string(8, '\0'));
  TracesSummary summary;
  EXPECT_FALSE(WalkTraces(req.SerializeAsString(), nullptr, &summary).ok());
}

TEST(TracesTest, ParentSpanIdMustBeEmptyOrEightBytes) {
  auto req = MakeTraceRequest(1, 1, 1);
  req.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0)->set_parent_span_id(
      "123");
  TracesSummary summary;
  EXPECT_FALSE(WalkTraces(req.SerializeAsString(), nullptr, &summary).ok());
}

TEST(TracesTest, TruncatedRequestIsRejectedAtEveryCut) {
  std::string bytes = MakeTraceRequest(2, 3, 9).SerializeAsString();
  int rejected = 0;
  for (size_t cut = 1; cut < bytes.size(); ++cut) {
    TracesSummary summary;
    if (!WalkTraces(std::string_view(bytes).substr(0, cut), nullptr, &summary).ok()) ++rejected;
  }
  // A cut can land exactly between whole top-level messages; every other cut is malformed.
  EXPECT_GE(rejected, static_cast<int>(bytes.size()) - 3);
}

TEST(TracesTest, DeeplyNestedAttributeValueIsRejected) {
  auto req = MakeTraceRequest(1, 1, 1);
  auto* value =
      req.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0)->add_attributes();
  value->set_key("deep");
  pb::common::v1::AnyValue* v = value->mutable_value();
  for (int i = 0; i < 40; ++i) v = v->mutable_array_value()->add_values();
  v->set_int_value(1);
  TracesSummary summary;
  Status st = WalkTraces(req.SerializeAsString(), nullptr, &summary);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("nested"), std::string::npos);
}

TEST(TracesTest, JsonUsesOtlpFieldNamesHexIdsAndStringInt64) {
  auto req = MakeTraceRequest(1, 1, 3);
  auto* span = req.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0);
  span->set_parent_span_id(std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  auto* ev = span->add_events();
  ev->set_name("retry");
  ev->set_time_unix_nano(5);
  auto* a = span->add_attributes();
  a->set_key("blob");
  a->mutable_value()->set_bytes_value("hi!");
  auto* d = span->add_attributes();
  d->set_key("ratio");
  d->mutable_value()->set_double_value(0.5);
  std::string bytes = req.SerializeAsString();  // the views point into it
  Collect c;
  TracesSummary summary;
  ASSERT_TRUE(WalkTraces(bytes, &c, &summary).ok());
  std::string json;
  AppendSpanJson(json, c.spans[0].resource, c.spans[0].scope, c.spans[0].span);
  EXPECT_NE(json.find("\"traceId\":\"" + Hex(span->trace_id()) + "\""), std::string::npos);
  EXPECT_NE(json.find("\"spanId\":\"" + Hex(span->span_id()) + "\""), std::string::npos);
  EXPECT_NE(json.find("\"parentSpanId\":\"0102030405060708\""), std::string::npos);
  EXPECT_NE(
      json.find("\"startTimeUnixNano\":\"" + std::to_string(span->start_time_unix_nano()) + "\""),
      std::string::npos);
  EXPECT_NE(json.find("{\"key\":\"retry.count\",\"value\":{\"intValue\":\"" +
                      std::to_string(span->attributes(1).value().int_value()) + "\"}}"),
            std::string::npos);
  EXPECT_NE(json.find("{\"key\":\"blob\",\"value\":{\"bytesValue\":\"aGkh\"}}"), std::string::npos);
  EXPECT_NE(json.find("{\"key\":\"ratio\",\"value\":{\"doubleValue\":0.5}}"), std::string::npos);
  EXPECT_NE(json.find("\"events\":[{\"timeUnixNano\":\"5\",\"name\":\"retry\"}]"),
            std::string::npos);
  EXPECT_NE(json.find("\"resource\":{\"attributes\":[{\"key\":\"service.name\""),
            std::string::npos);
  EXPECT_NE(json.find("\"scope\":{\"name\":\"test-scope\",\"version\":\"1.2.3\"}"),
            std::string::npos);
  EXPECT_NE(json.find("\"kind\":2"), std::string::npos);
}

TEST(TracesTest, EmptyRequestIsValidWithNoSpans) {
  TracesSummary summary;
  EXPECT_TRUE(WalkTraces("", nullptr, &summary).ok());
  EXPECT_EQ(summary.spans, 0u);
}

}  // namespace
}  // namespace sluice::wire::otlp
