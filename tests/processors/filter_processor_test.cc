#include "processors/filter/filter_processor.h"

#include <gtest/gtest.h>

#include "support/otlp_builders.h"

namespace sluice::processors::filter {
namespace {

namespace pb = testing::otlp_pb;

pb::trace::v1::Span* AddSpan(pb::trace::v1::ScopeSpans* scope, const std::string& name, int id) {
  auto* s = scope->add_spans();
  s->set_trace_id(std::string(16, '\x07'));
  s->set_span_id(std::string(7, '\x01') + static_cast<char>(id));
  s->set_name(name);
  return s;
}

// Two services; "GET /health" spans in both, one resource has nothing else.
pb::collector::trace::v1::ExportTraceServiceRequest Request() {
  pb::collector::trace::v1::ExportTraceServiceRequest req;
  for (const char* service : {"checkout", "health-only"}) {
    auto* rs = req.add_resource_spans();
    auto* kv = rs->mutable_resource()->add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value(service);
    auto* scope = rs->add_scope_spans();
    scope->mutable_scope()->set_name("lib");
    AddSpan(scope, "GET /health", 1);
    if (std::string(service) == "checkout") {
      AddSpan(scope, "POST /pay", 2);
      AddSpan(scope, "GET /cart", 3);
    }
  }
  return req;
}

class FilterProcessorTest : public ::testing::Test {
 protected:
  FilterOptions Parse(const std::string& yaml) {
    config::Context ctx("filter.yaml");
    auto node = config::LoadString(yaml, ctx);
    FilterOptions o;
    if (node) FilterOptionsSchema().Parse(*node, &o, ctx);
    errors_.clear();
    for (const auto& e : ctx.errors()) errors_ += e.ToString() + "\n";
    return o;
  }
  pipeline::Processor::Output Run(const FilterProcessor& p, const std::string& payload,
                                  uint64_t items, log::Signal signal = log::Signal::kTraces,
                                  Status* status = nullptr) {
    pipeline::Processor::Output out;
    Status st = p.Process({signal, log::Encoding::kOtlpProto, payload, items}, &out);
    if (status != nullptr)
      *status = st;
    else
      EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }

  telemetry::Registry registry_;
  std::string errors_;
};

TEST_F(FilterProcessorTest, DroppedSpansLeaveTheRestByteForByteAndEmptyResourcesGo) {
  FilterOptions o = Parse(R"(
traces:
  span:
    - 'name == "GET /health"'
)");
  ASSERT_TRUE(errors_.empty()) << errors_;
  FilterProcessor p("filter", o, registry_);
  std::string payload = Request().SerializeAsString();
  auto out = Run(p, payload, 4);
  ASSERT_TRUE(out.changed);
  EXPECT_EQ(out.items, 2u);
  pb::collector::trace::v1::ExportTraceServiceRequest got;
  ASSERT_TRUE(got.ParseFromString(out.payload));
  ASSERT_EQ(got.resource_spans_size(), 1);  // "health-only" had nothing left
  const auto& spans = got.resource_spans(0).scope_spans(0).spans();
  ASSERT_EQ(spans.size(), 2);
  EXPECT_EQ(spans[0].name(), "POST /pay");
  EXPECT_EQ(spans[1].name(), "GET /cart");
  EXPECT_EQ(spans[0].SerializeAsString(),
            Request().resource_spans(0).scope_spans(0).spans(1).SerializeAsString());
  EXPECT_EQ(registry_.AddCounter("sluice_processor_filter_dropped_spans_total", "", {"processor"})
                .With({"filter"})
                .Value(),
            2u);
}

TEST_F(FilterProcessorTest, BatchNothingMatchesIsLeftAsReceived) {
  FilterOptions o = Parse("traces:\n  span:\n    - 'name == \"nothing\"'\n");
  FilterProcessor p("filter", o, registry_);
  auto out = Run(p, Request().SerializeAsString(), 4);
  EXPECT_FALSE(out.changed);
  EXPECT_TRUE(out.payload.empty());
}

TEST_F(FilterProcessorTest, ConditionsAreOredAndAllDroppedLeavesNothing) {
  FilterOptions o = Parse(R"(
traces:
  span:
    - 'IsMatch(name, "^GET ")'
    - 'resource.attributes["service.name"] == "checkout"'
)");
  FilterProcessor p("filter", o, registry_);
  auto out = Run(p, Request().SerializeAsString(), 4);
  ASSERT_TRUE(out.changed);
  EXPECT_EQ(out.items, 0u);
}

TEST_F(FilterProcessorTest, LogRecordsBelowWarnAreDropped) {
  FilterOptions o = Parse("logs:\n  log_record:\n    - 'severity_number < SEVERITY_NUMBER_WARN'\n");
  ASSERT_TRUE(errors_.empty()) << errors_;
  FilterProcessor p("filter", o, registry_);
  pb::collector::logs::v1::ExportLogsServiceRequest req;
  auto* scope = req.add_resource_logs()->add_scope_logs();
  for (auto sev : {pb::logs::v1::SEVERITY_NUMBER_DEBUG, pb::logs::v1::SEVERITY_NUMBER_ERROR,
                   pb::logs::v1::SEVERITY_NUMBER_INFO}) {
    auto* r = scope->add_log_records();
    r->set_severity_number(sev);
    r->mutable_body()->set_string_value("x");
  }
  auto out = Run(p, req.SerializeAsString(), 3, log::Signal::kLogs);
  ASSERT_TRUE(out.changed);
  EXPECT_EQ(out.items, 1u);
  pb::collector::logs::v1::ExportLogsServiceRequest got;
  ASSERT_TRUE(got.ParseFromString(out.payload));
  ASSERT_EQ(got.resource_logs(0).scope_logs(0).log_records_size(), 1);
  EXPECT_EQ(got.resource_logs(0).scope_logs(0).log_records(0).severity_number(),
            pb::logs::v1::SEVERITY_NUMBER_ERROR);
}

TEST_F(FilterProcessorTest, ErrorModePropagateRefusesIgnoreKeepsAndCounts) {
  const char* kCondition = "traces:\n  span:\n    - 'name * 2 == 4'\n";
  FilterOptions o = Parse(std::string("error_mode: propagate\n") + kCondition);
  FilterProcessor propagate("filter", o, registry_);
  Status st;
  Run(propagate, Request().SerializeAsString(), 4, log::Signal::kTraces, &st);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("name * 2 == 4"), std::string::npos) << st.ToString();

  FilterProcessor ignore("ignoring", Parse(std::string("error_mode: ignore\n") + kCondition),
                         registry_);
  auto out = Run(ignore, Request().SerializeAsString(), 4);
  EXPECT_FALSE(out.changed);
  EXPECT_EQ(
      registry_.AddCounter("sluice_processor_filter_condition_errors_total", "", {"processor"})
          .With({"ignoring"})
          .Value(),
      4u);
}

TEST_F(FilterProcessorTest, BadConditionsAndUnknownSectionsAreConfigErrorsWithPlaces) {
  Parse(R"(
traces:
  span:
    - 'name == "a"'
    - 'nme == "b"'
  spanevent:
    - 'attributes["x"] == "c"'
metrics:
  datapoints:
    - 'name == "d"'
logs:
  log_records: []
)");
  EXPECT_NE(errors_.find("filter.yaml:5:7: condition 'nme == \"b\"': column 1: unknown path "
                         "\"nme\""),
            std::string::npos)
      << errors_;
  EXPECT_NE(errors_.find("filter.yaml:9:3: unknown key metrics.datapoints; supported: metric, "
                         "datapoint"),
            std::string::npos)
      << errors_;
  EXPECT_NE(errors_.find("filter.yaml:12:3: unknown key logs.log_records; supported: log_record"),
            std::string::npos)
      << errors_;
  EXPECT_EQ(errors_.find("spanevent"), std::string::npos) << errors_;
}

TEST_F(FilterProcessorTest, SpanEventsAreDroppedFromSpansThatStay) {
  FilterOptions o = Parse(R"(
traces:
  spanevent:
    - 'name == "debug" or attributes["noisy"] == true'
)");
  ASSERT_TRUE(errors_.empty()) << errors_;
  FilterProcessor p("filter", o, registry_);
  auto req = Request();
  auto* span = req.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(1);
  span->add_events()->set_name("debug");
  span->add_events()->set_name("exception");
  auto* noisy = span->add_events();
  noisy->set_name("retry");
  auto* kv = noisy->add_attributes();
  kv->set_key("noisy");
  kv->mutable_value()->set_bool_value(true);
  auto out = Run(p, req.SerializeAsString(), 4);
  ASSERT_TRUE(out.changed);
  EXPECT_EQ(out.items, 4u) << "spans all stay";
  pb::collector::trace::v1::ExportTraceServiceRequest got;
  ASSERT_TRUE(got.ParseFromString(out.payload));
  const auto& events = got.resource_spans(0).scope_spans(0).spans(1).events();
  ASSERT_EQ(events.size(), 1);
  EXPECT_EQ(events[0].name(), "exception");
  EXPECT_EQ(
      registry_.AddCounter("sluice_processor_filter_dropped_span_events_total", "", {"processor"})
          .With({"filter"})
          .Value(),
      2u);
}

TEST_F(FilterProcessorTest, MetricsAndDataPointsAreDroppedAndAMetricWithoutPointsGoes) {
  pb::collector::metrics::v1::ExportMetricsServiceRequest req;
  auto* sm = req.add_resource_metrics()->add_scope_metrics();
  auto add = [&](const std::string& name, std::vector<std::string> hosts) {
    auto* m = sm->add_metrics();
    m->set_name(name);
    for (const auto& h : hosts) {
      auto* p = m->mutable_gauge()->add_data_points();
      p->set_as_double(1);
      auto* kv = p->add_attributes();
      kv->set_key("host");
      kv->mutable_value()->set_string_value(h);
    }
  };
  add("go_gc_duration_seconds", {"a", "b"});
  add("http_requests", {"a", "test-1", "b"});
  add("queue_depth", {"test-2"});
  FilterOptions o = Parse(R"(
metrics:
  metric:
    - 'IsMatch(name, "^go_")'
  datapoint:
    - 'IsMatch(attributes["host"], "^test-")'
)");
  ASSERT_TRUE(errors_.empty()) << errors_;
  FilterProcessor p("filter", o, registry_);
  auto out = Run(p, req.SerializeAsString(), 6, log::Signal::kMetrics);
  ASSERT_TRUE(out.changed);
  EXPECT_EQ(out.items, 2u);
  pb::collector::metrics::v1::ExportMetricsServiceRequest got;
  ASSERT_TRUE(got.ParseFromString(out.payload));
  const auto& metrics = got.resource_metrics(0).scope_metrics(0).metrics();
  ASSERT_EQ(metrics.size(), 1);
  EXPECT_EQ(metrics[0].name(), "http_requests");
  ASSERT_EQ(metrics[0].gauge().data_points_size(), 2);
  EXPECT_EQ(metrics[0].gauge().data_points(1).attributes(0).value().string_value(), "b");
  auto counter = [&](const char* name) {
    return registry_.AddCounter(name, "", {"processor"}).With({"filter"}).Value();
  };
  EXPECT_EQ(counter("sluice_processor_filter_dropped_metrics_total"), 2u);
  EXPECT_EQ(counter("sluice_processor_filter_dropped_data_points_total"), 4u);
}

}  // namespace
}  // namespace sluice::processors::filter
