#include "ottl/pattern.h"

#include <gtest/gtest.h>

namespace sluice::ottl {
namespace {

// Plain-text patterns skip RE2; they must answer exactly as RE2 would.
TEST(PatternTest, LiteralShortcutsAgreeWithTheRegexEngine) {
  const char* patterns[] = {
      "health", "^internal\\.", "/health$",   "^GET /ping$", "a.b",        "^\\d+$", "\\$", "^$",
      "",       "x|y",          "(?i)HEALTH", "^a\\+b",      "caf\xc3\xa9"};
  const char* values[] = {"",          "health",     "/healthz",  "GET /health", "internal.x",
                          "internalx", "xinternal.", "GET /ping", "GET /ping2",  "a+b",
                          "axb",       "123",        "$",         "x",           "caf\xc3\xa9!"};
  for (const char* p : patterns) {
    Result<Pattern> compiled = Pattern::Compile(p);
    ASSERT_TRUE(compiled.ok()) << p;
    re2::RE2 re(p);
    for (const char* v : values) {
      EXPECT_EQ(compiled->Matches(v), re2::RE2::PartialMatch(v, re))
          << "pattern " << p << " value " << v;
    }
  }
}

TEST(PatternTest, BadPatternIsAnErrorWithTheEnginesReason) {
  Result<Pattern> p = Pattern::Compile("(unclosed");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("missing )"), std::string::npos) << p.status().message();
}

}  // namespace
}  // namespace sluice::ottl
