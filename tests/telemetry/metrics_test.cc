#include "telemetry/metrics.h"

#include <gtest/gtest.h>

#include <thread>

namespace sluice::telemetry {
namespace {

TEST(MetricsTest, RendersCountersWithEscapedLabels) {
  Registry r;
  r.AddCounter("sluice_x_total", "Things.", {"who"}).With({"a\"b\\c\nd"}).Inc(3);
  EXPECT_EQ(r.Render(),
            "# HELP sluice_x_total Things.\n"
            "# TYPE sluice_x_total counter\n"
            "sluice_x_total{who=\"a\\\"b\\\\c\\nd\"} 3\n");
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry r;
  Histogram& h = r.AddHistogram("sluice_d_seconds", "D.", {}, {0.1, 1}).Get();
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(5);
  EXPECT_EQ(r.Render(),
            "# HELP sluice_d_seconds D.\n"
            "# TYPE sluice_d_seconds histogram\n"
            "sluice_d_seconds_bucket{le=\"0.10000000000000001\"} 1\n"
            "sluice_d_seconds_bucket{le=\"1\"} 2\n"
            "sluice_d_seconds_bucket{le=\"+Inf\"} 3\n"
            "sluice_d_seconds_sum 5.5499999999999998\n"
            "sluice_d_seconds_count 3\n");
}

TEST(MetricsTest, RegisteringTheSameFamilyTwiceSharesChildren) {
  Registry r;
  r.AddCounter("sluice_c_total", "C.", {"k"}).With({"v"}).Inc();
  r.AddCounter("sluice_c_total", "C.", {"k"}).With({"v"}).Inc();
  EXPECT_EQ(r.AddCounter("sluice_c_total", "C.", {"k"}).With({"v"}).Value(), 2u);
}

TEST(MetricsTest, ConcurrentIncrementsAreNotLost) {
  Registry r;
  Counter& c = r.AddCounter("sluice_n_total", "N.").Get();
  Gauge& g = r.AddGauge("sluice_g", "G.").Get();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100000; ++i) {
        c.Inc();
        g.Add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.Value(), 400000u);
  EXPECT_EQ(g.Value(), 400000.0);
}

TEST(MetricsDeathTest, SameNameWithAnotherTypeIsABug) {
  Registry r;
  r.AddCounter("sluice_dup", "D.");
  EXPECT_DEATH(r.AddGauge("sluice_dup", "D."), "check failed");
}

}  // namespace
}  // namespace sluice::telemetry
