#include "wire/otlp/json.h"

#include <google/protobuf/util/field_comparator.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <limits>
#include <random>

#include "support/otlp_builders.h"
#include "wire/otlp/common.h"
#include "wire/proto_writer.h"

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

// --- protobuf → OTLP/JSON --------------------------------------------------

using TraceRequest = pb::collector::trace::v1::ExportTraceServiceRequest;
using LogsRequest = pb::collector::logs::v1::ExportLogsServiceRequest;
using MetricsRequest = pb::collector::metrics::v1::ExportMetricsServiceRequest;
using google::protobuf::util::MessageDifferencer;

// One signal's pair of transcoders.
struct Codec {
  Status (*to_json)(std::string_view, std::string*);
  Status (*to_proto)(std::string_view, std::string*);
};
constexpr Codec kTracesCodec{AppendTracesRequestJson, TracesJsonToProto};
constexpr Codec kLogsCodec{AppendLogsRequestJson, LogsJsonToProto};
constexpr Codec kMetricsCodec{AppendMetricsRequestJson, MetricsJsonToProto};

void SetAll(pb::common::v1::KeyValue* kv, const std::string& key) {
  kv->set_key(key);
  auto* list = kv->mutable_value()->mutable_kvlist_value();
  auto add = [&](const std::string& k) {
    auto* e = list->add_values();
    e->set_key(k);
    return e->mutable_value();
  };
  add("s")->set_string_value("quote \" backslash \\ newline \n tab \t nul " + std::string(1, '\0') +
                             " é ☃ 😀");
  add("empty")->set_string_value("");  // set, so shown although empty
  add("zero")->set_int_value(0);
  add("min")->set_int_value(std::numeric_limits<int64_t>::min());
  add("max")->set_int_value(std::numeric_limits<int64_t>::max());
  add("false")->set_bool_value(false);
  add("true")->set_bool_value(true);
  add("d0")->set_double_value(0.0);
  add("dneg0")->set_double_value(-0.0);
  add("dtenth")->set_double_value(0.1);
  add("dtiny")->set_double_value(5e-324);
  add("dhuge")->set_double_value(1.7976931348623157e308);
  add("nan")->set_double_value(std::nan(""));
  add("inf")->set_double_value(INFINITY);
  add("-inf")->set_double_value(-INFINITY);
  add("bytes")->set_bytes_value(std::string("\x00\xff\x10hi", 5));
  add("nobytes")->set_bytes_value("");
  auto* array = add("array")->mutable_array_value();
  array->add_values()->set_string_value("a");
  array->add_values()->mutable_array_value()->add_values()->set_int_value(-7);
  array->add_values();  // an AnyValue with nothing set
  add("emptylist")->mutable_kvlist_value();
  add("unset");
}

TraceRequest RichTraceRequest() {
  TraceRequest req = sluice::testing::MakeTraceRequest(2, 3, 7);
  auto* rs = req.mutable_resource_spans(0);
  rs->set_schema_url("https://opentelemetry.io/schemas/1.21.0");
  rs->mutable_resource()->set_dropped_attributes_count(std::numeric_limits<uint32_t>::max());
  auto* ss = rs->mutable_scope_spans(0);
  ss->mutable_scope()->set_dropped_attributes_count(3);
  SetAll(ss->mutable_scope()->add_attributes(), "scope.all");
  auto* span = ss->mutable_spans(0);
  span->set_parent_span_id(std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  span->set_trace_state("k=v");
  span->set_flags(0x301);
  span->set_kind(pb::trace::v1::Span::SPAN_KIND_CONSUMER);
  span->set_dropped_attributes_count(1);
  span->set_dropped_events_count(2);
  span->set_dropped_links_count(3);
  SetAll(span->add_attributes(), "all");
  auto* event = span->add_events();
  event->set_time_unix_nano(std::numeric_limits<uint64_t>::max());
  event->set_name("ev");
  event->set_dropped_attributes_count(4);
  span->add_events();  // every field default
  auto* link = span->add_links();
  link->set_trace_id(span->trace_id());
  link->set_span_id(span->span_id());
  link->set_flags(1);
  link->set_trace_state("a=b");
  link->add_attributes()->set_key("no value");
  span->mutable_status();  // set, empty
  return req;
}

LogsRequest RichLogsRequest() {
  LogsRequest req = sluice::testing::MakeLogsRequest(4, 3);
  auto* rl = req.mutable_resource_logs(0);
  rl->set_schema_url("s");
  rl->mutable_scope_logs(0)->set_schema_url("t");
  auto* rec = rl->mutable_scope_logs(0)->mutable_log_records(0);
  rec->set_observed_time_unix_nano(1);
  rec->set_flags(0xffffffff);
  rec->set_event_name("app.start");
  rec->set_severity_number(pb::logs::v1::SEVERITY_NUMBER_FATAL);
  rec->set_dropped_attributes_count(9);
  rec->mutable_body()->mutable_kvlist_value()->add_values()->set_key("k");
  SetAll(rec->add_attributes(), "all");
  rl->mutable_scope_logs(0)->add_log_records()->mutable_body();  // a body with nothing set
  req.add_resource_logs();                                       // empty
  return req;
}

MetricsRequest RichMetricsRequest() {
  MetricsRequest req = sluice::testing::MakeMetricsRequest(3, 11);
  auto* sm = req.mutable_resource_metrics(0)->mutable_scope_metrics(0);
  sm->mutable_scope()->set_name("meter");
  auto* gauge = sm->mutable_metrics(0);
  gauge->set_description("depth of the queue");
  gauge->set_unit("{item}");
  SetAll(gauge->add_metadata(), "meta");
  auto* zero = gauge->mutable_gauge()->add_data_points();
  zero->set_as_int(0);  // set, so shown although zero
  zero->set_flags(1);
  auto* dzero = gauge->mutable_gauge()->add_data_points();
  dzero->set_as_double(0.0);
  auto* ex = dzero->add_exemplars();
  ex->set_as_int(-5);
  ex->set_time_unix_nano(12);
  ex->set_span_id(std::string(8, '\x11'));
  ex->set_trace_id(std::string(16, '\x22'));
  SetAll(ex->add_filtered_attributes(), "fa");
  dzero->add_exemplars()->set_as_double(2.5);
  gauge->mutable_gauge()->add_data_points();  // no value at all

  auto* hist = sm->mutable_metrics(2)->mutable_histogram();
  hist->set_aggregation_temporality(pb::metrics::v1::AGGREGATION_TEMPORALITY_DELTA);
  auto* hp = hist->mutable_data_points(0);
  hp->set_sum(0.0);  // optional: set, so shown although zero
  hp->set_min(-1.5);
  hp->set_max(1e300);
  hp->set_start_time_unix_nano(3);
  hp->set_flags(1);
  hp->add_bucket_counts(std::numeric_limits<uint64_t>::max());
  hp->add_explicit_bounds(INFINITY);
  SetAll(hp->add_attributes(), "h");
  hist->add_data_points();  // count 0, no sum

  auto* exp = sm->add_metrics();
  exp->set_name("exp");
  auto* eh = exp->mutable_exponential_histogram();
  eh->set_aggregation_temporality(pb::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
  auto* ep = eh->add_data_points();
  ep->set_scale(-3);
  ep->set_zero_count(2);
  ep->set_zero_threshold(1e-9);
  ep->set_count(100);
  ep->set_sum(-12.25);
  ep->set_min(-4);
  ep->set_max(0);
  ep->mutable_positive()->set_offset(-2147483647 - 1);
  for (uint64_t c : {0ull, 1ull, 300ull, 1ull << 40, ~0ull})
    ep->mutable_positive()->add_bucket_counts(c);
  ep->mutable_negative();  // set, empty
  eh->add_data_points()->set_scale(20);

  auto* summary = sm->add_metrics();
  summary->set_name("summary");
  auto* sp = summary->mutable_summary()->add_data_points();
  sp->set_count(3);
  sp->set_sum(7.5);
  sp->set_flags(1);
  auto* q = sp->add_quantile_values();
  q->set_quantile(0.99);
  q->set_value(7);
  sp->add_quantile_values();  // both zero
  summary->mutable_summary()->add_data_points();

  auto* empty_sum = sm->add_metrics();
  empty_sum->set_name("no points");
  empty_sum->mutable_sum();  // set, empty: the oneof still says "sum"
  sm->add_metrics();         // nothing set at all
  return req;
}

// Compares two JSON documents as values: objects by keys (in any order),
// arrays element by element, numbers by value.
::testing::AssertionResult SameJson(simdjson::dom::element a, simdjson::dom::element b,
                                    const std::string& path) {
  using simdjson::dom::element_type;
  auto is_number = [](element_type t) {
    return t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
  };
  if (is_number(a.type()) && is_number(b.type())) {
    if (double(a) == double(b)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << path << ": " << double(a) << " vs " << double(b);
  }
  if (a.type() != b.type()) {
    return ::testing::AssertionFailure()
           << path << ": " << simdjson::to_string(a) << " vs " << simdjson::to_string(b);
  }
  switch (a.type()) {
    case element_type::OBJECT: {
      simdjson::dom::object oa = a;
      simdjson::dom::object ob = b;
      if (oa.size() != ob.size()) {
        return ::testing::AssertionFailure()
               << path << ": " << simdjson::to_string(a) << " vs " << simdjson::to_string(b);
      }
      for (auto [key, value] : oa) {
        simdjson::dom::element other;
        if (ob[key].get(other) != simdjson::SUCCESS) {
          return ::testing::AssertionFailure() << path << "." << key << " missing on the right";
        }
        auto r = SameJson(value, other, path + "." + std::string(key));
        if (!r) return r;
      }
      return ::testing::AssertionSuccess();
    }
    case element_type::ARRAY: {
      simdjson::dom::array aa = a;
      simdjson::dom::array ab = b;
      if (aa.size() != ab.size()) return ::testing::AssertionFailure() << path << ": array sizes";
      for (size_t i = 0; i < aa.size(); ++i) {
        auto r = SameJson(aa.at(i), ab.at(i), path + "[" + std::to_string(i) + "]");
        if (!r) return r;
      }
      return ::testing::AssertionSuccess();
    }
    default:
      if (simdjson::to_string(a) == simdjson::to_string(b)) return ::testing::AssertionSuccess();
      return ::testing::AssertionFailure()
             << path << ": " << simdjson::to_string(a) << " vs " << simdjson::to_string(b);
  }
}

// Renders `message` with sluice and checks the output against the protobuf
// library: its JSON parser reads it back to an equal message, and its JSON
// printer (the proto3 mapping: base64 ids, enums here as numbers) says the
// same thing.
template <class Request>
void ExpectRendersLikeProtobuf(const Request& message, const Codec& codec) {
  std::string json;
  ASSERT_TRUE(codec.to_json(message.SerializeAsString(), &json).ok());
  ASSERT_EQ(json.find('\n'), std::string::npos) << "one request, one line";

  Request parsed;
  std::string error;
  ASSERT_TRUE(sluice::testing::ParseOtlpJson(json, &parsed, &error)) << error << "\n" << json;
  std::string diff;
  MessageDifferencer differ;
  differ.ReportDifferencesToString(&diff);
  google::protobuf::util::DefaultFieldComparator exact_but_nan;
  exact_but_nan.set_treat_nan_as_equal(true);
  differ.set_field_comparator(&exact_but_nan);
  EXPECT_TRUE(differ.Compare(message, parsed)) << diff;
  EXPECT_EQ(parsed.SerializeAsString(), message.SerializeAsString());

  google::protobuf::util::JsonPrintOptions options;
  options.always_print_enums_as_ints = true;
  std::string theirs;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(message, &theirs, options).ok());
  simdjson::dom::parser ours_parser;
  simdjson::dom::parser theirs_parser;
  simdjson::dom::element ours_doc;
  simdjson::dom::element theirs_doc;
  ASSERT_EQ(ours_parser.parse(sluice::testing::OtlpJsonToProtobufJson(json)).get(ours_doc),
            simdjson::SUCCESS);
  ASSERT_EQ(theirs_parser.parse(theirs).get(theirs_doc), simdjson::SUCCESS);
  EXPECT_TRUE(SameJson(ours_doc, theirs_doc, "$")) << json << "\n" << theirs;
}

TEST(OtlpJsonRenderTest, RenderedRequestsReadBackAsTheRequestsTheProtobufLibraryWrote) {
  ExpectRendersLikeProtobuf(RichTraceRequest(), kTracesCodec);
  ExpectRendersLikeProtobuf(RichLogsRequest(), kLogsCodec);
  ExpectRendersLikeProtobuf(RichMetricsRequest(), kMetricsCodec);
  ExpectRendersLikeProtobuf(TraceRequest(), kTracesCodec);
  ExpectRendersLikeProtobuf(LogsRequest(), kLogsCodec);
  ExpectRendersLikeProtobuf(MetricsRequest(), kMetricsCodec);
}

// JSON → protobuf → JSON → protobuf: the second protobuf must be the first
// byte for byte, or the two directions disagree about some field.
void ExpectStableRoundTrip(const std::string& proto, const Codec& codec) {
  std::string json1;
  ASSERT_TRUE(codec.to_json(proto, &json1).ok());
  std::string proto1;
  ASSERT_TRUE(codec.to_proto(json1, &proto1).ok()) << json1;
  std::string json2;
  ASSERT_TRUE(codec.to_json(proto1, &json2).ok());
  EXPECT_EQ(json2, json1);
  std::string proto2;
  ASSERT_TRUE(codec.to_proto(json2, &proto2).ok());
  EXPECT_EQ(proto2, proto1);
}

TEST(OtlpJsonRenderTest, JsonProtobufRoundTripGivesIdenticalBytes) {
  ExpectStableRoundTrip(RichTraceRequest().SerializeAsString(), kTracesCodec);
  ExpectStableRoundTrip(RichLogsRequest().SerializeAsString(), kLogsCodec);
  ExpectStableRoundTrip(RichMetricsRequest().SerializeAsString(), kMetricsCodec);
  std::string from_json;
  ASSERT_TRUE(TracesJsonToProto(kTraces, &from_json).ok());
  ExpectStableRoundTrip(from_json, kTracesCodec);
}

TEST(OtlpJsonRenderTest, SixtyFourBitIntegersAreStringsIdsHexEnumsNumbers) {
  TraceRequest req = sluice::testing::MakeTraceRequest(1, 1, 1);
  auto* span = req.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0);
  span->set_trace_id(
      std::string("\x5b\x8e\xff\xf7\x98\x03\x81\x03\xd2\x69\xb6\x33\x81\x3f\xc6\x0c", 16));
  span->set_start_time_unix_nano(1544712660000000000u);
  span->clear_attributes();
  span->add_attributes()->set_key("n");
  span->mutable_attributes(0)->mutable_value()->set_int_value(-42);
  span->add_attributes()->set_key("d");
  span->mutable_attributes(1)->mutable_value()->set_double_value(0.1);
  std::string json;
  ASSERT_TRUE(AppendTracesRequestJson(req.SerializeAsString(), &json).ok());
  EXPECT_NE(json.find(R"("traceId":"5b8efff798038103d269b633813fc60c")"), std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("startTimeUnixNano":"1544712660000000000")"), std::string::npos);
  EXPECT_NE(json.find(R"("kind":2)"), std::string::npos);
  EXPECT_NE(json.find(R"({"key":"n","value":{"intValue":"-42"}})"), std::string::npos);
  EXPECT_NE(json.find(R"({"key":"d","value":{"doubleValue":0.1}})"), std::string::npos);
  EXPECT_EQ(json.find("parentSpanId"), std::string::npos) << "defaults are omitted";
  EXPECT_EQ(json.find("droppedAttributesCount"), std::string::npos);
}

TEST(OtlpJsonRenderTest, AppendsAfterWhatIsAlreadyThere) {
  std::string out = "{}\n";
  ASSERT_TRUE(
      AppendLogsRequestJson(sluice::testing::MakeLogsRequest(1, 1).SerializeAsString(), &out).ok());
  EXPECT_EQ(out.rfind("{}\n{\"resourceLogs\":[", 0), 0u) << out;
}

// Writers other than protobuf's may send repeated numbers unpacked, repeat a
// singular field (the last wins; messages merge) or set two members of a
// oneof (the last wins): the JSON must say what a protobuf parser would read.
TEST(OtlpJsonRenderTest, UnpackedRepeatsAndOneofConflictsRenderAsProtobufReadsThem) {
  std::string point;
  ProtoWriter p(&point);
  p.Fixed64(6, 1);  // bucket_counts, one by one ...
  p.Fixed64(6, 2);
  p.Double(7, 0.5);  // explicit_bounds ...
  std::string bounds(8, '\0');
  double one = 1.0;
  std::memcpy(bounds.data(), &one, 8);
  p.Bytes(7, bounds);  // ... and packed, interleaved
  p.Fixed64(6, 3);
  p.Fixed64(4, 9);  // count, then again: the last wins
  p.Fixed64(4, 6);
  p.Bytes(1000, "unknown");
  std::string hist;
  ProtoWriter h(&hist);
  h.Bytes(1, point);
  std::string metric;
  ProtoWriter m(&metric);
  m.Bytes(1, "name-1");
  m.Bytes(5, "");  // gauge, then histogram: the histogram wins
  m.Bytes(9, hist);
  m.Bytes(1, "name-2");
  std::string scope_metrics;
  ProtoWriter sm(&scope_metrics);
  sm.Bytes(2, metric);
  std::string rm;
  ProtoWriter rmw(&rm);
  rmw.Bytes(2, scope_metrics);
  std::string req;
  ProtoWriter r(&req);
  r.Bytes(1, rm);

  MetricsRequest expected;
  ASSERT_TRUE(expected.ParseFromString(req));
  expected.DiscardUnknownFields();  // which JSON has no place for
  ExpectRendersLikeProtobuf(expected, kMetricsCodec);
  std::string json;
  ASSERT_TRUE(AppendMetricsRequestJson(req, &json).ok());
  EXPECT_NE(json.find(R"("bucketCounts":["1","2","3"])"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("explicitBounds":[0.5,1])"), std::string::npos) << json;
  EXPECT_EQ(json.find("gauge"), std::string::npos) << json;
  EXPECT_EQ(json.find("name-1"), std::string::npos) << json;
  std::string via_protobuf;
  ASSERT_TRUE(AppendMetricsRequestJson(expected.SerializeAsString(), &via_protobuf).ok());
  EXPECT_EQ(json, via_protobuf);

  // A message field given twice is the merge of both.
  std::string span1;
  ProtoWriter s1(&span1);
  std::string status_a;
  ProtoWriter sa(&status_a);
  sa.Bytes(2, "first message");
  std::string status_b;
  ProtoWriter sb(&status_b);
  sb.Varint(3, 2);
  s1.Bytes(5, "span");
  s1.Bytes(15, status_a);
  s1.Bytes(15, status_b);
  std::string spans;
  ProtoWriter ssw(&spans);
  ssw.Bytes(2, span1);
  std::string rs;
  ProtoWriter rsw(&rs);
  rsw.Bytes(2, spans);
  std::string treq;
  ProtoWriter tw(&treq);
  tw.Bytes(1, rs);
  TraceRequest texpected;
  ASSERT_TRUE(texpected.ParseFromString(treq));
  ExpectRendersLikeProtobuf(texpected, kTracesCodec);
}

TEST(OtlpJsonRenderTest, StringsThatAreNotUtf8StillMakeValidJson) {
  LogsRequest req = sluice::testing::MakeLogsRequest(1, 1);
  auto* body =
      req.mutable_resource_logs(0)->mutable_scope_logs(0)->mutable_log_records(0)->mutable_body();
  // A lone continuation byte, a truncated sequence, an overlong encoding, a
  // surrogate, and a valid character after them. (Put into the encoded
  // request afterwards: protobuf will not encode them itself.)
  const std::string bad(
      "a\x80"
      "b\xe2\x82"
      "c\xc0\xaf"
      "d\xed\xa0\x80"
      "\xc3\xa9");
  body->set_string_value(std::string(bad.size(), '~'));
  std::string proto = req.SerializeAsString();
  proto.replace(proto.find(std::string(bad.size(), '~')), bad.size(), bad);
  std::string json;
  ASSERT_TRUE(AppendLogsRequestJson(proto, &json).ok());
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  std::string_view text;
  ASSERT_EQ(doc.at_pointer("/resourceLogs/0/scopeLogs/0/logRecords/0/body/stringValue")
                .get_string()
                .get(text),
            simdjson::SUCCESS);
  EXPECT_EQ(text, "a\ufffdb\ufffd\ufffdc\ufffd\ufffdd\ufffd\ufffd\ufffd\u00e9");
  LogsRequest parsed;
  std::string error;
  EXPECT_TRUE(sluice::testing::ParseOtlpJson(json, &parsed, &error)) << error;
}

TEST(OtlpJsonRenderTest, MalformedProtobufIsInvalidArgumentNeverACrash) {
  const std::string good = RichMetricsRequest().SerializeAsString();
  const std::string before = "kept";
  // Every truncation: either still a valid message (cut between fields of the
  // outermost message) or refused, and the output left as it was.
  for (size_t n = 0; n < good.size(); ++n) {
    std::string out = before;
    Status st = AppendMetricsRequestJson(std::string_view(good).substr(0, n), &out);
    if (!st.ok()) {
      EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << n;
      EXPECT_EQ(out, before) << n;
    }
  }
  // Random corruption.
  std::mt19937 rng(42);
  for (int i = 0; i < 3000; ++i) {
    std::string bad = good;
    for (int k = 0; k < 1 + i % 4; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
    std::string out;
    Status st = AppendMetricsRequestJson(bad, &out);
    if (!st.ok()) {
      EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    } else {
      simdjson::dom::parser parser;
      simdjson::dom::element doc;
      EXPECT_EQ(parser.parse(out).get(doc), simdjson::SUCCESS) << out;
    }
  }
  // A known field with the wrong wire type.
  std::string wrong;
  ProtoWriter w(&wrong);
  w.Varint(1, 5);  // resource_logs is a message
  std::string out;
  Status st = AppendLogsRequestJson(wrong, &out);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("ExportLogsServiceRequest.resourceLogs"), std::string::npos)
      << st.message();
  // A packed field whose length is not a multiple of 8.
  std::string point;
  ProtoWriter pw(&point);
  pw.Bytes(6, "1234567");
  std::string hist;
  ProtoWriter(&hist).Bytes(1, point);
  std::string metric;
  ProtoWriter(&metric).Bytes(9, hist);
  std::string sm;
  ProtoWriter(&sm).Bytes(2, metric);
  std::string rm;
  ProtoWriter(&rm).Bytes(2, sm);
  std::string req;
  ProtoWriter(&req).Bytes(1, rm);
  EXPECT_EQ(AppendMetricsRequestJson(req, &out).code(), StatusCode::kInvalidArgument);
}

TEST(OtlpJsonRenderTest, DeepNestingIsRefusedNotRecursedForever) {
  // Attribute values nested as deep as the receivers accept still render.
  pb::common::v1::AnyValue value;
  value.set_string_value("leaf");
  for (int i = 0; i < kMaxValueDepth; ++i) {
    pb::common::v1::AnyValue outer;
    auto* kv = outer.mutable_kvlist_value()->add_values();
    kv->set_key("k");
    *kv->mutable_value() = value;
    value = outer;
  }
  MetricsRequest req = sluice::testing::MakeMetricsRequest(1, 1);
  auto* ex = req.mutable_resource_metrics(0)
                 ->mutable_scope_metrics(0)
                 ->mutable_metrics(0)
                 ->mutable_gauge()
                 ->mutable_data_points(0)
                 ->add_exemplars();
  auto* attr = ex->add_filtered_attributes();
  attr->set_key("deep");
  *attr->mutable_value() = value;
  ExpectStableRoundTrip(req.SerializeAsString(), kMetricsCodec);

  // Far deeper is refused, however it is built (built by hand: protobuf's
  // own serializer would recurse as deep).
  std::string any = "";
  for (int i = 0; i < 1000; ++i) {
    std::string array;
    ProtoWriter(&array).Bytes(1, any);
    std::string next;
    ProtoWriter(&next).Bytes(5, array);
    any = next;
  }
  std::string kv;
  ProtoWriter kvw(&kv);
  kvw.Bytes(1, "k");
  kvw.Bytes(2, any);
  std::string resource;
  ProtoWriter(&resource).Bytes(1, kv);
  std::string rs;
  ProtoWriter(&rs).Bytes(1, resource);
  std::string treq;
  ProtoWriter(&treq).Bytes(1, rs);
  std::string out;
  Status st = AppendTracesRequestJson(treq, &out);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("nested too deeply"), std::string::npos) << st.message();
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace sluice::wire::otlp
