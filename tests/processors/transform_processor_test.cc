#include "processors/transform/transform_processor.h"

#include <gtest/gtest.h>

#include "support/otlp_builders.h"

namespace sluice::processors::transform {
namespace {

namespace pb = testing::otlp_pb;
using TraceRequest = pb::collector::trace::v1::ExportTraceServiceRequest;
using Attrs = google::protobuf::RepeatedPtrField<pb::common::v1::KeyValue>;

void Str(Attrs* attrs, const std::string& key, const std::string& value) {
  auto* kv = attrs->Add();
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}

void Int(Attrs* attrs, const std::string& key, int64_t value) {
  auto* kv = attrs->Add();
  kv->set_key(key);
  kv->mutable_value()->set_int_value(value);
}

// One resource (checkout, on host h1) with spans "GET /pay/123" (server,
// with an event) and "SELECT" (client).
TraceRequest Request() {
  TraceRequest req;
  auto* rs = req.add_resource_spans();
  Str(rs->mutable_resource()->mutable_attributes(), "service.name", "checkout");
  Str(rs->mutable_resource()->mutable_attributes(), "host.name", "h1");
  Str(rs->mutable_resource()->mutable_attributes(), "process.pid", "77");
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("io.opentelemetry.http");
  auto* pay = ss->add_spans();
  pay->set_trace_id(std::string(16, '\x01'));
  pay->set_span_id(std::string(8, '\x02'));
  pay->set_name("GET /pay/123");
  pay->set_kind(pb::trace::v1::Span::SPAN_KIND_SERVER);
  Str(pay->mutable_attributes(), "http.url", "https://shop.example.com/pay/123?card=4111");
  Str(pay->mutable_attributes(), "user.token", "secret-1");
  Str(pay->mutable_attributes(), "user.session", "secret-2");
  Int(pay->mutable_attributes(), "http.status_code", 500);
  Str(pay->mutable_attributes(), "note", "h\xc3\xa9llo world");
  auto* ev = pay->add_events();
  ev->set_name("exception");
  Str(ev->mutable_attributes(), "exception.message", "card 4111 declined");
  auto* db = ss->add_spans();
  db->set_trace_id(std::string(16, '\x01'));
  db->set_span_id(std::string(8, '\x03'));
  db->set_name("SELECT");
  db->set_kind(pb::trace::v1::Span::SPAN_KIND_CLIENT);
  Str(db->mutable_attributes(), "db.statement", "SELECT * FROM cards WHERE n = 4111");
  return req;
}

const pb::common::v1::AnyValue* Find(const Attrs& attrs, const std::string& key) {
  for (const auto& kv : attrs) {
    if (kv.key() == key) return &kv.value();
  }
  return nullptr;
}

class TransformProcessorTest : public ::testing::Test {
 protected:
  TransformOptions Parse(const std::string& yaml) {
    config::Context ctx("transform.yaml");
    auto node = config::LoadString(yaml, ctx);
    TransformOptions o;
    if (node) TransformOptionsSchema().Parse(*node, &o, ctx);
    errors_.clear();
    for (const auto& e : ctx.errors()) errors_ += e.ToString() + "\n";
    return o;
  }
  // Runs over `payload`; returns the output (the input when unchanged).
  std::string Run(const std::string& yaml, const std::string& payload, log::Signal signal,
                  bool* changed = nullptr, Status* status = nullptr) {
    TransformOptions o = Parse(yaml);
    EXPECT_TRUE(errors_.empty()) << errors_;
    TransformProcessor p("transform", o, registry_);
    pipeline::Processor::Output out;
    Status st = p.Process({signal, log::Encoding::kOtlpProto, payload, 1}, &out);
    if (status != nullptr) {
      *status = st;
    } else {
      EXPECT_TRUE(st.ok()) << st.ToString();
    }
    if (changed != nullptr) *changed = out.changed;
    return out.changed ? out.payload : payload;
  }
  TraceRequest RunTraces(const std::string& yaml, bool* changed = nullptr) {
    TraceRequest got;
    EXPECT_TRUE(got.ParseFromString(
        Run(yaml, Request().SerializeAsString(), log::Signal::kTraces, changed)));
    return got;
  }
  static const pb::trace::v1::Span& Pay(const TraceRequest& r) {
    return r.resource_spans(0).scope_spans(0).spans(0);
  }
  static const pb::trace::v1::Span& Db(const TraceRequest& r) {
    return r.resource_spans(0).scope_spans(0).spans(1);
  }
  uint64_t Errors() {
    return registry_.AddCounter("sluice_processor_transform_errors_total", "", {"processor"})
        .With({"transform"})
        .Value();
  }

  telemetry::Registry registry_;
  std::string errors_;
};

TEST_F(TransformProcessorTest, SetWritesFieldsAndAttributesOnlyWhereTheConditionHolds) {
  TraceRequest got = RunTraces(R"yaml(
trace_statements:
  - context: span
    statements:
      - set(attributes["env"], "prod")
      - set(attributes["code"], attributes["http.status_code"] + 1) where attributes["http.status_code"] != nil
      - set(status.code, STATUS_CODE_ERROR) where attributes["http.status_code"] >= 500
      - set(status.message, "server error") where attributes["http.status_code"] >= 500
      - set(name, "GET /pay/{id}") where IsMatch(name, "^GET /pay/")
      - set(attributes["missing"], attributes["not.there"])
      - set(attributes["nested"]["deep"], true)
)yaml");
  const auto& pay = Pay(got);
  EXPECT_EQ(pay.name(), "GET /pay/{id}");
  EXPECT_EQ(pay.status().code(), pb::trace::v1::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(pay.status().message(), "server error");
  EXPECT_EQ(Find(pay.attributes(), "env")->string_value(), "prod");
  EXPECT_EQ(Find(pay.attributes(), "code")->int_value(), 501);
  EXPECT_EQ(Find(pay.attributes(), "missing"), nullptr) << "set to nil does nothing";
  const auto* nested = Find(pay.attributes(), "nested");
  ASSERT_NE(nested, nullptr);
  ASSERT_EQ(nested->kvlist_value().values_size(), 1);
  EXPECT_EQ(nested->kvlist_value().values(0).key(), "deep");
  EXPECT_TRUE(nested->kvlist_value().values(0).value().bool_value());
  EXPECT_EQ(pay.trace_id(), std::string(16, '\x01'));
  EXPECT_EQ(pay.events_size(), 1);
  const auto& db = Db(got);
  EXPECT_EQ(db.name(), "SELECT");
  EXPECT_EQ(db.status().code(), pb::trace::v1::Status::STATUS_CODE_UNSET);
  EXPECT_EQ(Find(db.attributes(), "env")->string_value(), "prod");
  EXPECT_EQ(Find(db.attributes(), "code"), nullptr);
}

TEST_F(TransformProcessorTest, MapEditorsDeleteKeepLimitTruncateAndMerge) {
  TraceRequest got = RunTraces(R"yaml(
trace_statements:
  - context: span
    conditions: ['kind == SPAN_KIND_SERVER']
    statements:
      - delete_key(attributes, "http.status_code")
      - delete_matching_keys(attributes, "^user\\.")
      - truncate_all(attributes, 2)
      - merge_maps(attributes, resource.attributes, "insert")
      - limit(attributes, 2, ["host.name"])
  - context: resource
    statements:
      - keep_keys(attributes, ["service.name", "host.name"])
)yaml");
  const auto& pay = Pay(got);
  // After deletes: http.url, note; truncated to 2 bytes ("h\xc3\xa9..." cut
  // before the two-byte character); merged: service.name, host.name,
  // process.pid; limited to 2 with host.name first.
  ASSERT_EQ(pay.attributes_size(), 2);
  EXPECT_EQ(pay.attributes(0).key(), "http.url");
  EXPECT_EQ(pay.attributes(0).value().string_value(), "ht");
  EXPECT_EQ(pay.attributes(1).key(), "host.name");
  // The client span did not match the group's condition.
  EXPECT_EQ(Db(got).attributes_size(), 1);
  const auto& res = got.resource_spans(0).resource().attributes();
  ASSERT_EQ(res.size(), 2);
  EXPECT_EQ(res[0].key(), "service.name");
  EXPECT_EQ(res[1].key(), "host.name");
}

TEST_F(TransformProcessorTest, TruncateAllNeverSplitsACharacter) {
  TraceRequest got = RunTraces(R"yaml(
trace_statements:
  - context: span
    statements: ['truncate_all(attributes, 2)']
)yaml");
  EXPECT_EQ(Find(Pay(got).attributes(), "note")->string_value(), "h");
}

TEST_F(TransformProcessorTest, ReplacePatternsUseGoTemplates) {
  TraceRequest got = RunTraces(R"yaml(
trace_statements:
  - context: span
    statements:
      - replace_pattern(attributes["http.url"], "card=(\\d+)", "card=****")
      - replace_pattern(name, "^GET /pay/(?P<id>\\d+)$", "GET /pay/{$${id}}")  # $$: a literal $, as in the Collector
      - replace_all_patterns(attributes, "value", "\\b4111\\b", "****")
      - replace_all_patterns(attributes, "key", "^user\\.(.*)$", "u.$$1")
)yaml");
  const auto& pay = Pay(got);
  EXPECT_EQ(Find(pay.attributes(), "http.url")->string_value(),
            "https://shop.example.com/pay/123?card=****");
  EXPECT_EQ(pay.name(), "GET /pay/{123}");
  EXPECT_NE(Find(pay.attributes(), "u.token"), nullptr);
  EXPECT_NE(Find(pay.attributes(), "u.session"), nullptr);
  EXPECT_EQ(Find(pay.attributes(), "user.token"), nullptr);
  EXPECT_EQ(Find(Db(got).attributes(), "db.statement")->string_value(),
            "SELECT * FROM cards WHERE n = ****");
  EXPECT_EQ(Find(pay.attributes(), "http.status_code")->int_value(), 500)
      << "non-string values are left alone";
}

TEST_F(TransformProcessorTest, SpanEventsScopesAndFlatStatementsNamingTheirContext) {
  TraceRequest got = RunTraces(R"yaml(
trace_statements:
  - 'replace_pattern(spanevent.attributes["exception.message"], "\\d{4}", "****")'
  - 'set(scope.name, "http") where scope.name == "io.opentelemetry.http"'
  - 'set(resource.attributes["deployment.environment"], "prod")'
  - 'set(span.attributes["service"], resource.attributes["service.name"])'
)yaml");
  const auto& pay = Pay(got);
  EXPECT_EQ(Find(pay.events(0).attributes(), "exception.message")->string_value(),
            "card **** declined");
  EXPECT_EQ(got.resource_spans(0).scope_spans(0).scope().name(), "http");
  EXPECT_EQ(
      Find(got.resource_spans(0).resource().attributes(), "deployment.environment")->string_value(),
      "prod");
  EXPECT_EQ(Find(pay.attributes(), "service")->string_value(), "checkout");
}

TEST_F(TransformProcessorTest, LogsAndMetricsContexts) {
  pb::collector::logs::v1::ExportLogsServiceRequest logs;
  auto* rec = logs.add_resource_logs()->add_scope_logs()->add_log_records();
  rec->mutable_body()->set_string_value("user=ann action=login");
  rec->set_severity_text("info");
  std::string out = Run(R"yaml(
log_statements:
  - context: log
    statements:
      - set(severity_number, SEVERITY_NUMBER_INFO) where severity_text == "info"
      - set(severity_text, "INFO")
      - replace_pattern(body, "user=\\w+", "user=***")
)yaml",
                        logs.SerializeAsString(), log::Signal::kLogs);
  pb::collector::logs::v1::ExportLogsServiceRequest got_logs;
  ASSERT_TRUE(got_logs.ParseFromString(out));
  const auto& r = got_logs.resource_logs(0).scope_logs(0).log_records(0);
  EXPECT_EQ(r.severity_number(), pb::logs::v1::SEVERITY_NUMBER_INFO);
  EXPECT_EQ(r.severity_text(), "INFO");
  EXPECT_EQ(r.body().string_value(), "user=*** action=login");

  std::string metrics = testing::MakeMetricsRequest(4, 1).SerializeAsString();
  out = Run(R"yaml(
metric_statements:
  - context: metric
    statements: ['set(unit, "By")', 'set(description, "renamed")']
  - context: datapoint
    statements: ['set(attributes["metric"], metric.name)']
)yaml",
            metrics, log::Signal::kMetrics);
  pb::collector::metrics::v1::ExportMetricsServiceRequest got_metrics;
  ASSERT_TRUE(got_metrics.ParseFromString(out));
  int points = 0;
  for (const auto& rm : got_metrics.resource_metrics()) {
    for (const auto& sm : rm.scope_metrics()) {
      for (const auto& m : sm.metrics()) {
        EXPECT_EQ(m.unit(), "By");
        EXPECT_EQ(m.description(), "renamed");
        auto check = [&](const Attrs& attrs) {
          ++points;
          ASSERT_NE(Find(attrs, "metric"), nullptr);
          EXPECT_EQ(Find(attrs, "metric")->string_value(), m.name());
        };
        for (const auto& dp : m.gauge().data_points()) check(dp.attributes());
        for (const auto& dp : m.sum().data_points()) check(dp.attributes());
      }
    }
  }
  EXPECT_GT(points, 0);
}

TEST_F(TransformProcessorTest, NothingChangedLeavesTheBatchAsReceived) {
  bool changed = true;
  RunTraces(R"yaml(
trace_statements:
  - context: span
    statements: ['set(name, "x") where name == "never"', 'delete_key(attributes, "absent")']
)yaml",
            &changed);
  EXPECT_FALSE(changed);
}

TEST_F(TransformProcessorTest, ErrorModePropagateRefusesIgnoreCountsAndGoesOn) {
  const char* statements = R"yaml(
  - context: span
    statements:
      - set(attributes["before"], 1)
      - set(name, attributes["http.status_code"])
      - set(attributes["after"], 1)
)yaml";
  Status st;
  Run(std::string("error_mode: propagate\ntrace_statements:") + statements,
      Request().SerializeAsString(), log::Signal::kTraces, nullptr, &st);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("name takes a string, got int"), std::string::npos) << st.message();

  bool changed = false;
  TraceRequest got;
  ASSERT_TRUE(
      got.ParseFromString(Run(std::string("error_mode: ignore\ntrace_statements:") + statements,
                              Request().SerializeAsString(), log::Signal::kTraces, &changed)));
  EXPECT_TRUE(changed);
  EXPECT_NE(Find(Pay(got).attributes(), "before"), nullptr);
  EXPECT_EQ(Find(Pay(got).attributes(), "after"), nullptr) << "the item's statements stop";
  EXPECT_EQ(Pay(got).name(), "GET /pay/123");
  // The client span has no status code: set(name, nil) does nothing, no error.
  EXPECT_NE(Find(Db(got).attributes(), "after"), nullptr);
  EXPECT_EQ(Errors(), 1u);
}

TEST_F(TransformProcessorTest, ConfigErrorsNameThePlaceAndWhatIsSupported) {
  Parse(R"yaml(
trace_statements:
  - context: span
    statements:
      - rename(attributes, "a")
      - set(resource.attributes["x"], 1)
      - set("name", "x")
      - set(name)
      - replace_all_patterns(attributes, "both", "a", "b")
      - limit(attributes, -1)
  - context: datapoint
    statements: []
  - 'set(attributes["x"], 1)'
)yaml");
  EXPECT_NE(errors_.find("transform.yaml:5:9: statement 'rename(attributes, \"a\")': column 1: "
                         "unknown editor \"rename\""),
            std::string::npos)
      << errors_;
  EXPECT_NE(errors_.find("column 5: resource.attributes[\"x\"] is set in the resource context"),
            std::string::npos)
      << errors_;
  EXPECT_NE(errors_.find("column 5: set's target must be a path"), std::string::npos);
  EXPECT_NE(errors_.find("set takes 2 arguments, got 1"), std::string::npos);
  EXPECT_NE(errors_.find("the mode must be \"key\" or \"value\""), std::string::npos);
  EXPECT_NE(errors_.find("the limit must be a non-negative int"), std::string::npos);
  EXPECT_NE(errors_.find("unknown context \"datapoint\" in trace_statements; choose one of "
                         "resource, scope, span, spanevent"),
            std::string::npos)
      << errors_;
  EXPECT_NE(errors_.find("name its context by prefixing its paths"), std::string::npos);
}

}  // namespace
}  // namespace sluice::processors::transform
