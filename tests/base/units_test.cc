#include "base/units.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

using std::chrono::nanoseconds;

TEST(UnitsTest, ParsesDurationsWithUnitsAndCompounds) {
  EXPECT_EQ(*ParseDuration("100ms"), std::chrono::milliseconds(100));
  EXPECT_EQ(*ParseDuration("1m30s"), std::chrono::seconds(90));
  EXPECT_EQ(*ParseDuration("24h"), std::chrono::hours(24));
  EXPECT_EQ(*ParseDuration("1.5s"), std::chrono::milliseconds(1500));
  EXPECT_EQ(*ParseDuration("0"), nanoseconds(0));
}

TEST(UnitsTest, RejectsDurationWithoutOrWithUnknownUnit) {
  EXPECT_FALSE(ParseDuration("10").ok());
  EXPECT_FALSE(ParseDuration("10 parsecs").ok());
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("ms").ok());
}

TEST(UnitsTest, ParsesBinaryAndDecimalSizes) {
  EXPECT_EQ(*ParseByteSize("64MiB"), 64ull << 20);
  EXPECT_EQ(*ParseByteSize("10 GiB"), 10ull << 30);
  EXPECT_EQ(*ParseByteSize("512KB"), 512'000u);
  EXPECT_EQ(*ParseByteSize("4096"), 4096u);
  EXPECT_FALSE(ParseByteSize("12 furlongs").ok());
}

TEST(UnitsTest, FormatsRoundTripThroughParse) {
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(100)), "100ms");
  EXPECT_EQ(FormatDuration(std::chrono::hours(24)), "1d");
  EXPECT_EQ(FormatByteSize(64ull << 20), "64MiB");
  EXPECT_EQ(*ParseByteSize(FormatByteSize(10ull << 30)), 10ull << 30);
}

}  // namespace
}  // namespace sluice
