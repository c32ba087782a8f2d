#include "base/logging.h"

#include <gtest/gtest.h>

namespace sluice::logging {
namespace {

constexpr int64_t kTime = 1'700'000'000'123'000'000;

TEST(LoggingTest, LogfmtQuotesValuesWithSpacesAndEscapesQuotes) {
  std::string line = FormatLine(Format::kLogfmt, kTime, Level::kWarn, "log", "torn tail",
                                {{"segment", "a b"}, {"bytes", 12}, {"q", "say \"hi\""}});
  EXPECT_EQ(line,
            "ts=2023-11-14T22:13:20.123Z level=warn component=log msg=\"torn tail\" "
            "segment=\"a b\" bytes=12 q=\"say \\\"hi\\\"\"");
}

TEST(LoggingTest, JsonKeepsNumbersUnquoted) {
  std::string line = FormatLine(Format::kJson, kTime, Level::kInfo, "svc", "listening",
                                {{"port", 4318}, {"addr", "127.0.0.1"}});
  EXPECT_EQ(line,
            "{\"ts\":\"2023-11-14T22:13:20.123Z\",\"level\":\"info\",\"component\":\"svc\","
            "\"msg\":\"listening\",\"port\":4318,\"addr\":\"127.0.0.1\"}");
}

TEST(LoggingTest, ParsesOnlyKnownLevels) {
  Level l;
  EXPECT_TRUE(ParseLevel("debug", &l));
  EXPECT_EQ(l, Level::kDebug);
  EXPECT_FALSE(ParseLevel("verbose", &l));
}

}  // namespace
}  // namespace sluice::logging
