#include "ottl/ottl.h"

#include <gtest/gtest.h>

#include "ottl/otlp_items.h"
#include "support/otlp_builders.h"
#include "wire/otlp/traces.h"

namespace sluice::ottl {
namespace {

namespace pb = testing::otlp_pb;

// One span, with its resource and scope, evaluated through SpanItem.
class OttlSpanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto* kv = resource_.add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value("checkout");
    scope_.set_name("io.opentelemetry.http");
    span_.set_trace_id(std::string(16, '\x01'));
    span_.set_span_id(std::string(8, '\x02'));
    span_.set_name("GET /health");
    span_.set_kind(pb::trace::v1::Span::SPAN_KIND_SERVER);
    span_.set_start_time_unix_nano(1'000'000'000);
    span_.set_end_time_unix_nano(1'250'000'000);
    span_.mutable_status()->set_code(pb::trace::v1::Status::STATUS_CODE_ERROR);
    Attr("http.route", "/health");
    auto* code = span_.add_attributes();
    code->set_key("http.status_code");
    code->mutable_value()->set_int_value(503);
    auto* ratio = span_.add_attributes();
    ratio->set_key("ratio");
    ratio->mutable_value()->set_double_value(0.5);
    auto* nested = span_.add_attributes();
    nested->set_key("m");
    auto* inner = nested->mutable_value()->mutable_kvlist_value()->add_values();
    inner->set_key("k");
    inner->mutable_value()->set_string_value("v");
  }
  void Attr(const std::string& k, const std::string& v) {
    auto* kv = span_.add_attributes();
    kv->set_key(k);
    kv->mutable_value()->set_string_value(v);
  }
  // The condition's value for the span; fails the test on a compile error.
  Result<bool> Eval(const std::string& text) {
    auto c = Condition::Compile(text, ContextKind::kSpan);
    if (!c.ok()) return c.status();
    raw_ = span_.SerializeAsString();
    resource_raw_ = resource_.SerializeAsString();
    scope_raw_ = scope_.SerializeAsString();
    wire::otlp::SpanView view;
    Status st = wire::otlp::ValidateSpan(raw_, 0, &view);
    if (!st.ok()) return st;
    Parents parents{resource_raw_, scope_raw_};
    SpanItem item(parents, view);
    return c->Evaluate(item);
  }
  bool Holds(const std::string& text) {
    Result<bool> r = Eval(text);
    EXPECT_TRUE(r.ok()) << text << ": " << r.status().ToString();
    return r.ok() && *r;
  }

  pb::resource::v1::Resource resource_;
  pb::common::v1::InstrumentationScope scope_;
  pb::trace::v1::Span span_;
  std::string raw_, resource_raw_, scope_raw_;
};

TEST_F(OttlSpanTest, ComparisonsOnSpanFieldsAndAttributes) {
  EXPECT_TRUE(Holds(R"(attributes["http.route"] == "/health")"));
  EXPECT_FALSE(Holds(R"(attributes["http.route"] != "/health")"));
  EXPECT_TRUE(Holds(R"(name == "GET /health")"));
  EXPECT_TRUE(Holds("kind == SPAN_KIND_SERVER"));
  EXPECT_TRUE(Holds("status.code == STATUS_CODE_ERROR"));
  EXPECT_TRUE(Holds(R"(resource.attributes["service.name"] == "checkout")"));
  EXPECT_TRUE(Holds(R"(instrumentation_scope.name == "io.opentelemetry.http")"));
  EXPECT_TRUE(Holds(R"(attributes["http.status_code"] >= 500)"));
  EXPECT_TRUE(Holds(R"(attributes["ratio"] < 1)"));  // double against int
  EXPECT_TRUE(Holds(R"(attributes["m"]["k"] == "v")"));
  EXPECT_TRUE(Holds(R"(span.name == "GET /health")"));  // the context's own prefix
  EXPECT_TRUE(Holds(R"(trace_id.string == "01010101010101010101010101010101")"));
}

TEST_F(OttlSpanTest, DurationIsEndMinusStart) {
  EXPECT_TRUE(Holds("end_time_unix_nano - start_time_unix_nano > 200000000"));
  EXPECT_FALSE(Holds("end_time_unix_nano - start_time_unix_nano > 300000000"));
  EXPECT_TRUE(Holds("(end_time_unix_nano - start_time_unix_nano) / 1000000 == 250"));
}

TEST_F(OttlSpanTest, MissingAttributeIsNilAndUnequalToEverythingElse) {
  EXPECT_TRUE(Holds(R"(attributes["absent"] == nil)"));
  EXPECT_FALSE(Holds(R"(attributes["absent"] == "")"));
  EXPECT_TRUE(Holds(R"(attributes["absent"] != "x")"));
  // An ordering of values that cannot be ordered is false, both ways.
  EXPECT_FALSE(Holds(R"(attributes["absent"] < 5)"));
  EXPECT_FALSE(Holds(R"(attributes["absent"] >= 5)"));
}

TEST_F(OttlSpanTest, TypeMismatchIsUnequalNotAnError) {
  EXPECT_FALSE(Holds(R"(attributes["http.status_code"] == "503")"));
  EXPECT_TRUE(Holds(R"(attributes["http.status_code"] != "503")"));
  EXPECT_FALSE(Holds(R"(name > 5)"));
}

TEST_F(OttlSpanTest, LogicPrecedenceIsNotThenAndThenOr) {
  EXPECT_TRUE(Holds(R"(name == "x" or name == "GET /health" and kind == SPAN_KIND_SERVER)"));
  EXPECT_FALSE(Holds(R"((name == "x" or name == "GET /health") and kind == SPAN_KIND_CLIENT)"));
  EXPECT_TRUE(Holds(R"(not name == "x")"));
  EXPECT_FALSE(Holds(R"(not (name == "x" or kind == SPAN_KIND_SERVER))"));
}

TEST_F(OttlSpanTest, IsMatchIsUnanchoredUnlessTheRegexAnchors) {
  EXPECT_TRUE(Holds(R"(IsMatch(name, "health"))"));
  EXPECT_FALSE(Holds(R"(IsMatch(name, "^health"))"));
  EXPECT_TRUE(Holds(R"(IsMatch(name, "^GET /\\w+$"))"));
  EXPECT_TRUE(Holds(R"(IsMatch(attributes["http.status_code"], "^5\\d\\d$"))"));  // an int as text
  EXPECT_FALSE(Holds(R"(IsMatch(attributes["absent"], ".*"))"));  // nil never matches
}

TEST_F(OttlSpanTest, MembershipInAList) {
  EXPECT_TRUE(Holds(R"(ContainsValue(["/health", "/ready"], attributes["http.route"]))"));
  EXPECT_FALSE(Holds(R"(ContainsValue(["/ready"], attributes["http.route"]))"));
  EXPECT_TRUE(Holds(R"(ContainsValue([500, 503], attributes["http.status_code"]))"));
}

TEST_F(OttlSpanTest, EvaluationErrorsNameTheCondition) {
  Result<bool> r = Eval(R"(name + 1 > 2)");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("arithmetic needs numbers"), std::string::npos);
  EXPECT_FALSE(Eval("attributes[\"http.status_code\"] / 0 == 1").ok());
  EXPECT_FALSE(Eval("name").ok());  // not a bool
}

// Each bad condition is refused with the column of the problem.
TEST(OttlCompileTest, ErrorsNameTheColumnAndWhatIsValid) {
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {R"(atributes["x"] == 1)",
       "column 1: unknown path \"atributes\"; a span has: attributes[...]"},
      {R"(name == )", "column 9: expected a value"},
      {R"(name = "x")", "column 6: \"=\" must be followed by \"=\""},
      {R"(name == "x)", "column 9: unterminated string"},
      {R"(IsMatch(name, "("))", "column 15: invalid regular expression"},
      {R"(IsMatch(name))", "column 1: IsMatch takes 2 arguments, got 1"},
      {R"(Nope(name))", "column 1: unknown function \"Nope\""},
      {R"(kind == SPAN_KIND_SERVR)", "column 9: unknown enum \"SPAN_KIND_SERVR\""},
      {R"(name["k"] == "x")", "column 1: \"name\" takes no [\"key\"]"},
      {R"(1 < 2 < 3)", "column 7: comparisons do not chain"},
      {R"(name == "x" extra)", "column 13: unexpected \"extra\""},
      {R"(severity_number > 1)", "column 1: unknown path \"severity_number\""},
  };
  for (const Case& c : cases) {
    auto r = Condition::Compile(c.text, ContextKind::kSpan);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.status().message().find(c.message), std::string::npos)
        << c.text << " -> " << r.status().message();
  }
}

TEST(OttlCompileTest, DeepNestingIsRefusedNotAStackOverflow) {
  std::string deep(10000, '(');
  EXPECT_FALSE(Condition::Compile(deep + "true", ContextKind::kSpan).ok());
  std::string nots;
  for (int i = 0; i < 10000; ++i) nots += "not ";
  EXPECT_FALSE(Condition::Compile(nots + "true", ContextKind::kSpan).ok());
}

TEST(OttlLogTest, SeverityBodyAndAttributesOfALogRecord) {
  pb::logs::v1::LogRecord record;
  record.set_severity_number(pb::logs::v1::SEVERITY_NUMBER_WARN);
  record.set_severity_text("WARN");
  record.mutable_body()->set_string_value("disk almost full");
  auto* kv = record.add_attributes();
  kv->set_key("host");
  kv->mutable_value()->set_string_value("db-1");
  std::string raw = record.SerializeAsString();
  Parents parents;
  LogItem item(parents, raw);
  auto holds = [&](const char* text) {
    auto c = Condition::Compile(text, ContextKind::kLog);
    EXPECT_TRUE(c.ok()) << text << ": " << c.status().ToString();
    if (!c.ok()) return false;
    auto r = c->Evaluate(item);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && *r;
  };
  EXPECT_TRUE(holds("severity_number >= SEVERITY_NUMBER_WARN"));
  EXPECT_FALSE(holds("severity_number < SEVERITY_NUMBER_WARN"));
  EXPECT_TRUE(holds(R"(IsMatch(body, "full$"))"));
  EXPECT_TRUE(holds(R"(attributes["host"] == "db-1")"));
  EXPECT_TRUE(holds(R"(severity_text == "WARN")"));
  EXPECT_TRUE(holds(R"(resource.attributes["service.name"] == nil)"));
}

}  // namespace
}  // namespace sluice::ottl
