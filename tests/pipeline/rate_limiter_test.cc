#include "pipeline/rate_limiter.h"

#include <gtest/gtest.h>

namespace sluice::pipeline {
namespace {

TEST(RateLimiterTest, EachClientGetsItsBurstThenItsRate) {
  ManualClock clock;
  PerClientRateLimiter limiter(/*rate=*/2, /*burst=*/5, /*max_clients=*/100, clock);
  int retry = 0;
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.Allow("10.0.0.1", &retry));
  EXPECT_FALSE(limiter.Allow("10.0.0.1", &retry));
  EXPECT_EQ(retry, 1);
  EXPECT_TRUE(limiter.Allow("10.0.0.2", &retry)) << "another client is not affected";
  clock.Advance(std::chrono::milliseconds(500));  // one token at 2/s
  EXPECT_TRUE(limiter.Allow("10.0.0.1", &retry));
  EXPECT_FALSE(limiter.Allow("10.0.0.1", &retry));
}

TEST(RateLimiterTest, ClientTableStaysBounded) {
  ManualClock clock;
  PerClientRateLimiter limiter(1, 1, /*max_clients=*/50, clock);
  int retry = 0;
  for (int i = 0; i < 10000; ++i) {
    limiter.Allow("client-" + std::to_string(i), &retry);
    clock.Advance(std::chrono::milliseconds(1));
  }
  EXPECT_LE(limiter.clients(), 50u);
}

}  // namespace
}  // namespace sluice::pipeline
