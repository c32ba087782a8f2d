#include "config/schema.h"

#include <gtest/gtest.h>

#include <map>

namespace sluice::config {
namespace {

enum class Mode { kFast, kSafe };

struct Inner {
  std::string endpoint = "127.0.0.1:1";
};

struct Options {
  std::string name = "x";
  bool enabled = true;
  int64_t workers = 4;
  std::chrono::nanoseconds timeout = std::chrono::seconds(5);
  uint64_t limit = 16ull << 20;
  Mode mode = Mode::kSafe;
  std::vector<std::string> tags;
  std::vector<std::pair<std::string, std::string>> headers;
  Inner inner;
  std::optional<Inner> extra;
};

const Schema<Options>& TestSchema() {
  static const Schema<Options> s = [] {
    Schema<Inner> inner("thing.inner");
    inner.String("endpoint", &Inner::endpoint, "where");
    Schema<Options> o("thing");
    o.String("name", &Options::name, "name")
        .Bool("enabled", &Options::enabled, "on")
        .Int("workers", &Options::workers, "n", {1, 64})
        .Duration("timeout", &Options::timeout, "t", {1e6L, 60e9L})
        .Bytes("limit", &Options::limit, "l", {1024.0L * 1024, 256.0L * 1024 * 1024})
        .Enum<Mode>("mode", &Options::mode, {{"fast", Mode::kFast}, {"safe", Mode::kSafe}}, "m")
        .StringList("tags", &Options::tags, "tags")
        .StringMap("headers", &Options::headers, "headers")
        .Object("inner", &Options::inner, inner, "")
        .OptionalObject("extra", &Options::extra, inner, "");
    return o;
  }();
  return s;
}

std::vector<std::string> ParseErrors(const std::string& yaml, Options* out,
                                     EnvLookup env = ProcessEnv()) {
  Context ctx("test.yaml", std::move(env));
  std::optional<YAML::Node> node = LoadString(yaml, ctx);
  if (node) TestSchema().Parse(*node, out, ctx);
  std::vector<std::string> errors;
  for (const auto& e : ctx.errors()) {
    Error copy = e;
    copy.where.file = "test.yaml";
    errors.push_back(copy.ToString());
  }
  return errors;
}

TEST(SchemaTest, AbsentKeysKeepTheDeclaredDefaults) {
  Options o;
  EXPECT_TRUE(ParseErrors("{}", &o).empty());
  EXPECT_EQ(o.workers, 4);
  EXPECT_EQ(o.timeout, std::chrono::seconds(5));
  EXPECT_FALSE(o.extra.has_value());
}

TEST(SchemaTest, StringMapKeepsTheFileOrderAndRejectsNonStrings) {
  Options o;
  EXPECT_TRUE(ParseErrors("headers: {X-B: 2, X-A: one}", &o).empty());
  ASSERT_EQ(o.headers.size(), 2u);
  EXPECT_EQ(o.headers[0], (std::pair<std::string, std::string>{"X-B", "2"}));
  EXPECT_EQ(o.headers[1], (std::pair<std::string, std::string>{"X-A", "one"}));
  auto errors = ParseErrors("headers: [a, b]", &o);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("expected a map of strings"), std::string::npos) << errors[0];
  errors = ParseErrors("headers: {X-A: {nested: 1}}", &o);
  ASSERT_EQ(errors.size(), 1u) << errors[0];
}

TEST(SchemaTest, ParsesEveryFieldType) {
  Options o;
  auto errors = ParseErrors(R"(
name: sluice
enabled: false
workers: 8
timeout: 250ms
limit: 32MiB
mode: fast
tags: [a, b]
inner:
  endpoint: 0.0.0.0:9
extra:
)",
                            &o);
  EXPECT_TRUE(errors.empty()) << errors[0];
  EXPECT_EQ(o.name, "sluice");
  EXPECT_FALSE(o.enabled);
  EXPECT_EQ(o.workers, 8);
  EXPECT_EQ(o.timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(o.limit, 32ull << 20);
  EXPECT_EQ(o.mode, Mode::kFast);
  EXPECT_EQ(o.tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(o.inner.endpoint, "0.0.0.0:9");
  ASSERT_TRUE(o.extra.has_value());
  EXPECT_EQ(o.extra->endpoint, "127.0.0.1:1");
}

TEST(SchemaTest, UnknownKeyIsReportedAtItsLineAndColumnWithTheValidKeys) {
  Options o;
  auto errors = ParseErrors("name: a\ninner:\n  endpont: x\n", &o);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "test.yaml:3:3: thing.inner: unknown key \"endpont\"; valid keys: endpoint");
}

TEST(SchemaTest, EveryErrorIsReportedNotJustTheFirst) {
  Options o;
  auto errors =
      ParseErrors("workers: many\ntimeout: 10\nlimit: 1KiB\nmode: turbo\nenabled: 2\n", &o);
  ASSERT_EQ(errors.size(), 5u);
  EXPECT_EQ(errors[0], "test.yaml:1:10: expected an integer, got \"many\"");
  EXPECT_NE(errors[1].find("test.yaml:2:10: expected a duration"), std::string::npos);
  EXPECT_EQ(errors[2], "test.yaml:3:8: value 1KiB is out of range (1MiB to 256MiB)");
  EXPECT_EQ(errors[3], "test.yaml:4:7: invalid value \"turbo\"; valid choices: fast, safe");
  EXPECT_EQ(errors[4], "test.yaml:5:10: expected true or false, got \"2\"");
}

TEST(SchemaTest, OutOfRangeIntegerNamesTheBounds) {
  Options o;
  auto errors = ParseErrors("workers: 0", &o);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "test.yaml:1:10: value 0 is out of range (1 to 64)");
  EXPECT_EQ(o.workers, 4);  // untouched
}

TEST(SchemaTest, WrongShapeIsAnErrorNotACrash) {
  Options o;
  auto errors = ParseErrors("inner: [1, 2]\nname: {a: b}\n", &o);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[0].find("test.yaml:1:8: thing.inner: expected a map"), std::string::npos);
  EXPECT_EQ(errors[1], "test.yaml:2:7: expected a value, got a map");
}

TEST(SchemaTest, YamlSyntaxErrorHasAPosition) {
  Options o;
  auto errors = ParseErrors("name: [unclosed\n", &o);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("test.yaml:"), std::string::npos);
  EXPECT_NE(errors[0].find("YAML syntax"), std::string::npos);
}

TEST(EnvTest, SubstitutesVariablesAndDefaults) {
  std::map<std::string, std::string> vars = {{"HOST", "10.0.0.1"}, {"PORT", "9"}};
  EnvLookup env = [&](const std::string& n) -> std::optional<std::string> {
    auto it = vars.find(n);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  Options o;
  auto errors = ParseErrors(
      "inner:\n  endpoint: ${env:HOST}:${env:PORT}\nname: ${env:NAME:-fallback}$$x\n", &o, env);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(o.inner.endpoint, "10.0.0.1:9");
  EXPECT_EQ(o.name, "fallback$x");
}

TEST(EnvTest, RegexTemplatesThatAreNotEnvReferencesPassThrough) {
  EnvLookup env = [](const std::string&) -> std::optional<std::string> { return "v"; };
  Options o;
  auto errors = ParseErrors("name: \"${1}_${name}-$${2}-${env:X}\"\n", &o, env);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(o.name, "${1}_${name}-${2}-v");
}

TEST(EnvTest, UnsetVariableIsAnErrorAtTheValue) {
  EnvLookup env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  Options o;
  auto errors = ParseErrors("name: ${env:SLUICE_NOPE}\n", &o, env);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("test.yaml:1:7: environment variable SLUICE_NOPE is not set"),
            std::string::npos);
}

TEST(SchemaTest, DocumentationListsTypeDefaultAndBounds) {
  std::string md = RenderMarkdown(TestSchema().Document());
  EXPECT_NE(md.find("| `workers` | int | `4` | 1 to 64 | n |"), std::string::npos) << md;
  EXPECT_NE(md.find("| `limit` | byte size | `16MiB` | 1MiB to 256MiB | l |"), std::string::npos);
  EXPECT_NE(md.find("| `inner.endpoint` | string | `\"127.0.0.1:1\"` |"), std::string::npos);
}

}  // namespace
}  // namespace sluice::config
