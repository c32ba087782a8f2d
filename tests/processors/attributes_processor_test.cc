#include "processors/attributes/attributes_processor.h"

#include <gtest/gtest.h>

#include "processors/resource/resource_processor.h"
#include "support/otlp_builders.h"

namespace sluice::processors::attributes {
namespace {

namespace pb = testing::otlp_pb;
using TraceRequest = pb::collector::trace::v1::ExportTraceServiceRequest;

void SetAttr(google::protobuf::RepeatedPtrField<pb::common::v1::KeyValue>* attrs,
             const std::string& key, const std::string& value) {
  auto* kv = attrs->Add();
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}

// checkout: "POST /pay" (server) and "GET /health"; cart: "GET /cart".
TraceRequest Request() {
  TraceRequest req;
  for (const char* service : {"checkout", "cart"}) {
    auto* rs = req.add_resource_spans();
    SetAttr(rs->mutable_resource()->mutable_attributes(), "service.name", service);
    auto* scope = rs->add_scope_spans();
    scope->mutable_scope()->set_name("io.opentelemetry.http");
    scope->mutable_scope()->set_version("1.2.0");
    auto add = [&](const std::string& name, pb::trace::v1::Span::SpanKind kind) {
      auto* s = scope->add_spans();
      s->set_trace_id(std::string(16, '\x07'));
      s->set_span_id(std::string(8, static_cast<char>(scope->spans_size())));
      s->set_name(name);
      s->set_kind(kind);
      SetAttr(s->mutable_attributes(), "http.url",
              "https://shop.example.com/api/v1/" + name.substr(name.find('/') + 1) + "?id=7");
      SetAttr(s->mutable_attributes(), "user.email", "ann@example.com");
      SetAttr(s->mutable_attributes(), "http.status_code", "200");
      return s;
    };
    if (std::string(service) == "checkout") {
      add("POST /pay", pb::trace::v1::Span::SPAN_KIND_SERVER);
      add("GET /health", pb::trace::v1::Span::SPAN_KIND_SERVER);
    } else {
      add("GET /cart", pb::trace::v1::Span::SPAN_KIND_CLIENT);
    }
  }
  return req;
}

const pb::common::v1::AnyValue* Find(const pb::trace::v1::Span& span, const std::string& key) {
  for (const auto& kv : span.attributes()) {
    if (kv.key() == key) return &kv.value();
  }
  return nullptr;
}

class AttributesProcessorTest : public ::testing::Test {
 protected:
  template <class Options>
  Options ParseWith(const config::Schema<Options>& schema, const std::string& yaml) {
    config::Context ctx("processor.yaml");
    auto node = config::LoadString(yaml, ctx);
    Options o;
    if (node) schema.Parse(*node, &o, ctx);
    errors_.clear();
    for (const auto& e : ctx.errors()) errors_ += e.ToString() + "\n";
    return o;
  }
  AttributesOptions Parse(const std::string& yaml) {
    return ParseWith(AttributesOptionsSchema(), yaml);
  }
  // Runs the processor over Request(); returns the spans by name.
  TraceRequest Run(const std::string& yaml, bool* changed = nullptr) {
    AttributesOptions o = Parse(yaml);
    EXPECT_TRUE(errors_.empty()) << errors_;
    AttributesProcessor p("attributes", o, registry_);
    std::string payload = Request().SerializeAsString();
    pipeline::Processor::Output out;
    Status st = p.Process({log::Signal::kTraces, log::Encoding::kOtlpProto, payload, 3}, &out);
    EXPECT_TRUE(st.ok()) << st.ToString();
    if (changed != nullptr) *changed = out.changed;
    TraceRequest got;
    EXPECT_TRUE(got.ParseFromString(out.changed ? out.payload : payload));
    if (out.changed) {
      EXPECT_EQ(out.items, 3u);
    }
    return got;
  }
  static const pb::trace::v1::Span& Span(const TraceRequest& r, const std::string& name) {
    for (const auto& rs : r.resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& s : ss.spans()) {
          if (s.name() == name) return s;
        }
      }
    }
    static pb::trace::v1::Span none;
    ADD_FAILURE() << "no span " << name;
    return none;
  }

  telemetry::Registry registry_;
  std::string errors_;
};

TEST_F(AttributesProcessorTest, InsertOnlyAddsUpdateOnlyChangesUpsertDoesBoth) {
  TraceRequest got = Run(R"(
actions:
  - {key: user.email, action: insert, value: "ignored"}
  - {key: tier, action: insert, value: gold}
  - {key: missing, action: update, value: 1}
  - {key: http.status_code, action: update, value: 201}
  - {key: region, action: upsert, value: true}
  - {key: ratio, action: upsert, value: 0.25}
  - {key: code, action: upsert, value: "42"}
)");
  const auto& s = Span(got, "POST /pay");
  EXPECT_EQ(Find(s, "user.email")->string_value(), "ann@example.com");
  EXPECT_EQ(Find(s, "tier")->string_value(), "gold");
  EXPECT_EQ(Find(s, "missing"), nullptr);
  EXPECT_EQ(Find(s, "http.status_code")->int_value(), 201);
  EXPECT_TRUE(Find(s, "region")->bool_value());
  EXPECT_EQ(Find(s, "ratio")->double_value(), 0.25);
  ASSERT_TRUE(Find(s, "code")->has_string_value()) << "a quoted YAML value stays a string";
  EXPECT_EQ(Find(s, "code")->string_value(), "42");
}

TEST_F(AttributesProcessorTest, FromAttributeCopiesAndAMissingSourceDoesNothing) {
  TraceRequest got = Run(R"(
actions:
  - {key: contact, action: insert, from_attribute: user.email}
  - {key: other, action: upsert, from_attribute: not.there}
)");
  const auto& s = Span(got, "GET /cart");
  EXPECT_EQ(Find(s, "contact")->string_value(), "ann@example.com");
  EXPECT_EQ(Find(s, "other"), nullptr);
}

TEST_F(AttributesProcessorTest, DeleteByKeyAndByUnanchoredPattern) {
  TraceRequest got = Run(R"(
actions:
  - {key: user.email, action: delete}
  - {pattern: status, action: delete}
)");
  const auto& s = Span(got, "POST /pay");
  EXPECT_EQ(Find(s, "user.email"), nullptr);
  EXPECT_EQ(Find(s, "http.status_code"), nullptr) << "the pattern matches inside the key";
  EXPECT_NE(Find(s, "http.url"), nullptr);
  EXPECT_EQ(s.attributes_size(), 1);
}

TEST_F(AttributesProcessorTest, HashIsSha256HexOfTheValue) {
  TraceRequest got = Run(R"(
actions:
  - {key: user.email, action: hash}
)");
  // sha256("ann@example.com")
  EXPECT_EQ(Find(Span(got, "GET /cart"), "user.email")->string_value(),
            HashValue(wire::otlp::AnyString("ann@example.com")));
  EXPECT_EQ(HashValue(wire::otlp::AnyString("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // An int hashes its 8 big-endian bytes: sha256(00 00 00 00 00 00 00 01).
  EXPECT_EQ(HashValue(wire::otlp::AnyInt(1)),
            "cd2662154e6d76b2b2b92e70c0cac3ccf534f9b74eb5b89819ec509083d00a50");
}

TEST_F(AttributesProcessorTest, ExtractSetsNamedGroupsAndANonMatchChangesNothing) {
  TraceRequest got = Run(R"(
actions:
  - key: http.url
    pattern: ^(?P<http_protocol>.*):\/\/(?P<http_domain>[^/]*)\/(?P<http_path>[^?]*)
    action: extract
  - key: user.email
    pattern: ^(?P<never>\d+)$
    action: extract
)");
  const auto& s = Span(got, "POST /pay");
  EXPECT_EQ(Find(s, "http_protocol")->string_value(), "https");
  EXPECT_EQ(Find(s, "http_domain")->string_value(), "shop.example.com");
  EXPECT_EQ(Find(s, "http_path")->string_value(), "api/v1/pay");
  EXPECT_EQ(Find(s, "never"), nullptr);
  EXPECT_EQ(Find(s, "http.url")->string_value(), "https://shop.example.com/api/v1/pay?id=7");
}

TEST_F(AttributesProcessorTest, ConvertChangesTypesAndLeavesUnconvertibleValues) {
  TraceRequest got = Run(R"(
actions:
  - {key: http.status_code, action: convert, converted_type: int}
  - {key: user.email, action: convert, converted_type: int}
  - {key: ratio, action: insert, value: 1.9}
  - {key: ratio, action: convert, converted_type: int}
  - {key: flag, action: insert, value: true}
  - {key: flag, action: convert, converted_type: string}
)");
  const auto& s = Span(got, "POST /pay");
  EXPECT_EQ(Find(s, "http.status_code")->int_value(), 200);
  EXPECT_EQ(Find(s, "user.email")->string_value(), "ann@example.com");
  EXPECT_EQ(Find(s, "ratio")->int_value(), 1);
  EXPECT_EQ(Find(s, "flag")->string_value(), "true");
}

TEST_F(AttributesProcessorTest, IncludeStrictAndExcludeRegexpSelectItems) {
  TraceRequest got = Run(R"(
actions:
  - {key: selected, action: insert, value: true}
include:
  match_type: strict
  services: [checkout]
  span_kinds: [SPAN_KIND_SERVER]
exclude:
  match_type: regexp
  span_names: ["/health$"]
)");
  EXPECT_NE(Find(Span(got, "POST /pay"), "selected"), nullptr);
  EXPECT_EQ(Find(Span(got, "GET /health"), "selected"), nullptr);
  EXPECT_EQ(Find(Span(got, "GET /cart"), "selected"), nullptr);
}

TEST_F(AttributesProcessorTest, IncludeAttributesNeedEveryOneAndLibrariesAnyOne) {
  TraceRequest got = Run(R"(
actions:
  - {key: selected, action: insert, value: true}
include:
  match_type: strict
  attributes:
    - {key: http.status_code, value: "200"}
    - {key: user.email}
  libraries:
    - {name: other}
    - {name: io.opentelemetry.http, version: 1.2.0}
)");
  EXPECT_NE(Find(Span(got, "GET /cart"), "selected"), nullptr);
  // An int in the config does not equal the string "200".
  got = Run(R"(
actions:
  - {key: selected, action: insert, value: true}
include:
  match_type: strict
  attributes:
    - {key: http.status_code, value: 200}
)");
  EXPECT_EQ(Find(Span(got, "GET /cart"), "selected"), nullptr);
}

TEST_F(AttributesProcessorTest, NothingChangedLeavesTheBatchAsReceived) {
  bool changed = true;
  Run(R"(
actions:
  - {key: user.email, action: insert, value: x}
  - {key: absent, action: delete}
  - {key: http.status_code, action: convert, converted_type: string}
)",
      &changed);
  EXPECT_FALSE(changed);
}

TEST_F(AttributesProcessorTest, LogRecordsAndMetricDataPointsAreChanged) {
  AttributesOptions o = Parse(R"(
actions:
  - {key: env, action: upsert, value: prod}
)");
  ASSERT_TRUE(errors_.empty()) << errors_;
  AttributesProcessor p("attributes", o, registry_);
  std::string logs = testing::MakeLogsRequest(3, 1).SerializeAsString();
  pipeline::Processor::Output out;
  ASSERT_TRUE(p.Process({log::Signal::kLogs, log::Encoding::kOtlpProto, logs, 3}, &out).ok());
  ASSERT_TRUE(out.changed);
  pb::collector::logs::v1::ExportLogsServiceRequest got_logs;
  ASSERT_TRUE(got_logs.ParseFromString(out.payload));
  int records = 0;
  for (const auto& rl : got_logs.resource_logs()) {
    for (const auto& sl : rl.scope_logs()) {
      for (const auto& r : sl.log_records()) {
        ++records;
        EXPECT_EQ(r.attributes(r.attributes_size() - 1).key(), "env");
      }
    }
  }
  EXPECT_EQ(records, 3);

  std::string metrics = testing::MakeMetricsRequest(4, 1).SerializeAsString();
  pipeline::Processor::Output mout;
  ASSERT_TRUE(
      p.Process({log::Signal::kMetrics, log::Encoding::kOtlpProto, metrics, 4}, &mout).ok());
  ASSERT_TRUE(mout.changed);
  pb::collector::metrics::v1::ExportMetricsServiceRequest got_metrics;
  ASSERT_TRUE(got_metrics.ParseFromString(mout.payload));
  int points = 0;
  for (const auto& rm : got_metrics.resource_metrics()) {
    for (const auto& sm : rm.scope_metrics()) {
      for (const auto& m : sm.metrics()) {
        for (const auto& dp : m.gauge().data_points()) {
          ++points;
          EXPECT_EQ(dp.attributes(dp.attributes_size() - 1).key(), "env");
        }
        for (const auto& dp : m.sum().data_points()) {
          ++points;
          EXPECT_EQ(dp.attributes(dp.attributes_size() - 1).key(), "env");
        }
      }
    }
  }
  EXPECT_GT(points, 0);
}

TEST_F(AttributesProcessorTest, ConfigErrorsNameTheActionAndWhatItNeeds) {
  Parse(R"(
actions:
  - {key: a, action: rename}
  - {key: b, action: insert}
  - {key: c, action: upsert, value: 1, from_attribute: d}
  - {key: e, action: extract, pattern: "^(.*)$"}
  - {key: f, action: insert, from_context: metadata.x}
  - {action: delete}
  - {key: g, action: convert, converted_type: long}
  - {key: h, action: delete, pattern: "("}
)");
  EXPECT_NE(errors_.find("processor.yaml:3:22: unknown action \"rename\"; choose one of insert"),
            std::string::npos)
      << errors_;
  EXPECT_NE(errors_.find("processor.yaml:4:5: action on \"b\": insert, update and upsert need "
                         "exactly one of `value` and `from_attribute`"),
            std::string::npos)
      << errors_;
  EXPECT_NE(errors_.find("action on \"c\": insert, update and upsert need exactly one"),
            std::string::npos);
  EXPECT_NE(errors_.find("extract's pattern needs named groups"), std::string::npos);
  EXPECT_NE(errors_.find("from_context is not supported"), std::string::npos);
  EXPECT_NE(errors_.find("delete and hash need `key`, `pattern` or both"), std::string::npos);
  EXPECT_NE(errors_.find("unknown converted_type \"long\""), std::string::npos);
  EXPECT_NE(errors_.find("pattern: missing )"), std::string::npos) << errors_;

  Parse(R"(
actions: [{key: a, action: delete}]
include:
  services: [x]
exclude:
  match_type: glob
  span_names: [y]
)");
  EXPECT_NE(errors_.find("processor.yaml:4:3: match properties need `match_type`"),
            std::string::npos)
      << errors_;
  EXPECT_NE(errors_.find("unknown match_type \"glob\"; choose one of strict, regexp"),
            std::string::npos);
}

// The processor's factory refuses a pipeline whose signal a property cannot
// match (span_names in a logs pipeline) by what NotFor reports.
TEST_F(AttributesProcessorTest, MatchPropertiesNameTheSignalsTheyCannotMatch) {
  AttributesOptions o = Parse(R"(
actions: [{key: a, action: delete}]
include:
  match_type: strict
  span_names: [x]
)");
  ASSERT_TRUE(errors_.empty()) << errors_;
  EXPECT_EQ(o.include->NotFor(log::Signal::kLogs), std::vector<std::string>{"span_names"});
  EXPECT_TRUE(o.include->NotFor(log::Signal::kTraces).empty());
  EXPECT_EQ(o.include->NotFor(log::Signal::kMetrics), std::vector<std::string>{"span_names"});
}

TEST_F(AttributesProcessorTest, ResourceProcessorEditsResourcesOnly) {
  auto o = ParseWith(resource::ResourceOptionsSchema(), R"(
attributes:
  - {key: deployment.environment, action: insert, value: prod}
  - {key: service.name, action: update, value: shop}
  - {key: host.name, action: delete}
)");
  ASSERT_TRUE(errors_.empty()) << errors_;
  resource::ResourceProcessor p("resource", o, registry_);
  TraceRequest req = Request();
  std::string payload = req.SerializeAsString();
  pipeline::Processor::Output out;
  ASSERT_TRUE(p.Process({log::Signal::kTraces, log::Encoding::kOtlpProto, payload, 3}, &out).ok());
  ASSERT_TRUE(out.changed);
  TraceRequest got;
  ASSERT_TRUE(got.ParseFromString(out.payload));
  ASSERT_EQ(got.resource_spans_size(), 2);
  for (int i = 0; i < 2; ++i) {
    const auto& attrs = got.resource_spans(i).resource().attributes();
    ASSERT_EQ(attrs.size(), 2);
    EXPECT_EQ(attrs[0].key(), "service.name");
    EXPECT_EQ(attrs[0].value().string_value(), "shop");
    EXPECT_EQ(attrs[1].key(), "deployment.environment");
    EXPECT_EQ(got.resource_spans(i).scope_spans(0).SerializeAsString(),
              req.resource_spans(i).scope_spans(0).SerializeAsString());
  }
  auto missing = ParseWith(resource::ResourceOptionsSchema(), "{}\n");
  EXPECT_NE(errors_.find("attributes"), std::string::npos) << errors_;
}

}  // namespace
}  // namespace sluice::processors::attributes
