#include "wire/otlp/edit.h"

#include <gtest/gtest.h>

#include "support/otlp_builders.h"
#include "wire/otlp/common.h"
#include "wire/otlp/traces.h"

namespace sluice::wire::otlp {
namespace {

namespace pb = testing::otlp_pb;
using TraceRequest = pb::collector::trace::v1::ExportTraceServiceRequest;

TraceRequest TwoResources() {
  TraceRequest req;
  for (const char* service : {"a", "b"}) {
    auto* rs = req.add_resource_spans();
    auto* kv = rs->mutable_resource()->add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value(service);
    rs->set_schema_url("https://opentelemetry.io/schemas/1.21.0");
    for (int s = 0; s < 2; ++s) {
      auto* ss = rs->add_scope_spans();
      ss->mutable_scope()->set_name("lib" + std::to_string(s));
      for (int i = 0; i < 2; ++i) {
        auto* span = ss->add_spans();
        span->set_name(std::string(service) + "/" + std::to_string(s) + "/" + std::to_string(i));
        span->set_trace_id(std::string(16, '\x01'));
        span->set_span_id(std::string(8, static_cast<char>(i + 1)));
        auto* a = span->add_attributes();
        a->set_key("k");
        a->mutable_value()->set_int_value(i);
      }
    }
  }
  return req;
}

TEST(EditRequestTest, NoEditCopiesNothingAndReportsUnchanged) {
  std::string payload = TwoResources().SerializeAsString();
  RequestEditor editor;
  editor.leaf = [](std::string_view, std::string_view, std::string_view, BlockEdit*) {
    return Status::Ok();
  };
  std::string out = "untouched";
  bool changed = true;
  ASSERT_TRUE(EditRequest(payload, editor, &out, &changed).ok());
  EXPECT_FALSE(changed);
  EXPECT_EQ(out, "untouched");
}

TEST(EditRequestTest, UneditedResourcesStayByteForByteBesideAnEditedOne) {
  TraceRequest req = TwoResources();
  std::string payload = req.SerializeAsString();
  RequestEditor editor;
  editor.leaf = [](std::string_view resource, std::string_view, std::string_view span,
                   BlockEdit* edit) {
    std::string_view service;
    FindAttribute(resource, field::kResourceAttributes, "service.name", &service);
    if (AnyValueText(service) != "b") return Status::Ok();
    AttributeMap attrs = AttributeMap::Decode(span, field::kSpanAttributes);
    attrs.Set("edited", AnyBool(true));
    edit->replace = true;
    edit->bytes = ReplaceAttributes(span, field::kSpanAttributes, attrs);
    return Status::Ok();
  };
  std::string out;
  bool changed = false;
  ASSERT_TRUE(EditRequest(payload, editor, &out, &changed).ok());
  ASSERT_TRUE(changed);
  TraceRequest got;
  ASSERT_TRUE(got.ParseFromString(out));
  ASSERT_EQ(got.resource_spans_size(), 2);
  EXPECT_EQ(got.resource_spans(0).SerializeAsString(), req.resource_spans(0).SerializeAsString());
  EXPECT_EQ(out.substr(0, req.resource_spans(0).ByteSizeLong() + 2),
            payload.substr(0, req.resource_spans(0).ByteSizeLong() + 2));
  const auto& b = got.resource_spans(1);
  EXPECT_EQ(b.schema_url(), "https://opentelemetry.io/schemas/1.21.0");
  ASSERT_EQ(b.scope_spans_size(), 2);
  EXPECT_EQ(b.scope_spans(1).scope().name(), "lib1");
  const auto& span = b.scope_spans(1).spans(1);
  EXPECT_EQ(span.name(), "b/1/1");
  ASSERT_EQ(span.attributes_size(), 2);
  EXPECT_EQ(span.attributes(0).key(), "k");
  EXPECT_EQ(span.attributes(0).value().int_value(), 1);
  EXPECT_EQ(span.attributes(1).key(), "edited");
  EXPECT_TRUE(span.attributes(1).value().bool_value());
  EXPECT_EQ(span.trace_id(), std::string(16, '\x01'));
}

TEST(EditRequestTest, DroppingEveryLeafOfAScopeOrResourceDropsTheContainer) {
  TraceRequest req = TwoResources();
  std::string payload = req.SerializeAsString();
  RequestEditor editor;
  // Drop all of "a", and scope lib0 of "b".
  editor.leaf = [](std::string_view resource, std::string_view scope, std::string_view,
                   BlockEdit* edit) {
    std::string_view service;
    FindAttribute(resource, field::kResourceAttributes, "service.name", &service);
    edit->drop = AnyValueText(service) == "a" || scope.find("lib0") != std::string_view::npos;
    return Status::Ok();
  };
  std::string out;
  bool changed = false;
  ASSERT_TRUE(EditRequest(payload, editor, &out, &changed).ok());
  ASSERT_TRUE(changed);
  TraceRequest got;
  ASSERT_TRUE(got.ParseFromString(out));
  ASSERT_EQ(got.resource_spans_size(), 1);
  ASSERT_EQ(got.resource_spans(0).scope_spans_size(), 1);
  EXPECT_EQ(got.resource_spans(0).scope_spans(0).SerializeAsString(),
            req.resource_spans(1).scope_spans(1).SerializeAsString());
}

TEST(EditRequestTest, ReplacedResourceIsWhatLaterCallbacksSeeAndAnAbsentOneIsAdded) {
  TraceRequest req = TwoResources();
  req.mutable_resource_spans(1)->clear_resource();
  std::string payload = req.SerializeAsString();
  RequestEditor editor;
  editor.resource = [](std::string_view resource, BlockEdit* edit) {
    AttributeMap attrs = AttributeMap::Decode(resource, field::kResourceAttributes);
    attrs.Set("env", AnyString("prod"));
    edit->replace = true;
    edit->bytes = ReplaceAttributes(resource, field::kResourceAttributes, attrs);
    return Status::Ok();
  };
  int saw_env = 0;
  editor.leaf = [&](std::string_view resource, std::string_view, std::string_view, BlockEdit*) {
    std::string_view env;
    saw_env += FindAttribute(resource, field::kResourceAttributes, "env", &env) ? 1 : 0;
    return Status::Ok();
  };
  std::string out;
  bool changed = false;
  ASSERT_TRUE(EditRequest(payload, editor, &out, &changed).ok());
  EXPECT_EQ(saw_env, 8);
  TraceRequest got;
  ASSERT_TRUE(got.ParseFromString(out));
  ASSERT_EQ(got.resource_spans_size(), 2);
  ASSERT_EQ(got.resource_spans(1).resource().attributes_size(), 1);
  EXPECT_EQ(got.resource_spans(1).resource().attributes(0).key(), "env");
  EXPECT_EQ(got.resource_spans(1).scope_spans_size(), 2);
}

TEST(EditRequestTest, ACallbackErrorStopsTheWalk) {
  std::string payload = TwoResources().SerializeAsString();
  RequestEditor editor;
  int calls = 0;
  editor.leaf = [&](std::string_view, std::string_view, std::string_view, BlockEdit*) {
    ++calls;
    return Status::InvalidArgument("no");
  };
  std::string out;
  bool changed = false;
  EXPECT_FALSE(EditRequest(payload, editor, &out, &changed).ok());
  EXPECT_EQ(calls, 1);
}

TEST(AttributeMapTest, RepeatedKeysAreKeptLookupsFindTheFirstAndUntouchedEntriesStayAsReceived) {
  pb::trace::v1::Span span;
  for (auto [k, v] : {std::pair{"a", 1}, {"b", 2}, {"a", 3}}) {
    auto* kv = span.add_attributes();
    kv->set_key(k);
    kv->mutable_value()->set_int_value(v);
  }
  std::string bytes = span.SerializeAsString();
  AttributeMap m = AttributeMap::Decode(bytes, field::kSpanAttributes);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(*m.Find("a"), AnyInt(1));
  m.Set("a", AnyString("x"));
  m.Set("c", AnyDouble(1.5));
  EXPECT_TRUE(m.Erase("b"));
  EXPECT_FALSE(m.Erase("b"));
  pb::trace::v1::Span got;
  ASSERT_TRUE(got.ParseFromString(ReplaceAttributes(bytes, field::kSpanAttributes, m)));
  ASSERT_EQ(got.attributes_size(), 3);
  EXPECT_EQ(got.attributes(0).key(), "a");
  EXPECT_EQ(got.attributes(0).value().string_value(), "x");
  EXPECT_EQ(got.attributes(1).SerializeAsString(), span.attributes(2).SerializeAsString());
  EXPECT_EQ(got.attributes(2).key(), "c");
  EXPECT_EQ(got.attributes(2).value().double_value(), 1.5);

  // Reset reuses the map for another message.
  m.Reset(bytes, field::kSpanAttributes);
  EXPECT_EQ(m.size(), 3u);
  EXPECT_EQ(*m.Find("b"), AnyInt(2));
}

TEST(EditDataPointsTest, EditsEveryPointKindAndLeavesOtherFieldsAsReceived) {
  pb::metrics::v1::Metric metric;
  metric.set_name("requests");
  metric.set_unit("1");
  auto* sum = metric.mutable_sum();
  sum->set_is_monotonic(true);
  sum->set_aggregation_temporality(pb::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
  for (int i = 0; i < 3; ++i) {
    auto* p = sum->add_data_points();
    p->set_as_int(i);
    auto* kv = p->add_attributes();
    kv->set_key("i");
    kv->mutable_value()->set_int_value(i);
  }
  std::string bytes = metric.SerializeAsString();
  std::string out;
  size_t left = 0;
  auto changed = EditDataPoints(
      bytes,
      [](PointKind kind, std::string_view point, BlockEdit* edit) {
        EXPECT_EQ(kind, PointKind::kNumber);
        AttributeMap attrs = AttributeMap::Decode(point, PointAttributesField(kind));
        if (*attrs.Find("i") == AnyInt(0)) {
          edit->drop = true;
          return Status::Ok();
        }
        attrs.Set("seen", AnyBool(true));
        edit->replace = true;
        edit->bytes = ReplaceAttributes(point, PointAttributesField(kind), attrs);
        return Status::Ok();
      },
      &out, &left);
  ASSERT_TRUE(changed.ok());
  ASSERT_TRUE(*changed);
  EXPECT_EQ(left, 2u);
  pb::metrics::v1::Metric got;
  ASSERT_TRUE(got.ParseFromString(out));
  EXPECT_EQ(got.name(), "requests");
  EXPECT_EQ(got.unit(), "1");
  EXPECT_TRUE(got.sum().is_monotonic());
  ASSERT_EQ(got.sum().data_points_size(), 2);
  EXPECT_EQ(got.sum().data_points(0).as_int(), 1);
  EXPECT_EQ(got.sum().data_points(1).attributes(1).key(), "seen");
}

}  // namespace
}  // namespace sluice::wire::otlp
