#include "query/rollups.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "query/services.h"

namespace sluice::query {
namespace {

using Kind = Rollups::Kind;
constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kT0 = 1'800'000'000 * kSecond;

TEST(SketchTest, QuantilesAreWithinTheDocumentedErrorOfTheExactValues) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> seconds(-4, 1.5);
  std::vector<double> values;
  Sketch sketch;
  for (int i = 0; i < 20000; ++i) {
    values.push_back(seconds(rng));
    sketch.Add(Sketch::IndexOf(values.back()), 1);
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.5, 0.9, 0.95, 0.99, 0.999}) {
    double exact = values[static_cast<size_t>(std::ceil(q * values.size())) - 1];
    EXPECT_NEAR(sketch.Quantile(q), exact, exact * 0.045) << q;
  }
  EXPECT_EQ(sketch.count(), 20000u);
  EXPECT_TRUE(std::isnan(Sketch().Quantile(0.5)));
}

TEST(SketchTest, EncodingRoundTripsAndRefusesGarbage) {
  Sketch s;
  s.Add(Sketch::kZero, 3);
  s.Add(-40, 5);
  s.Add(12, 1'000'000'000'000ull);
  std::string bytes;
  s.EncodeTo(&bytes);
  Sketch back;
  ASSERT_TRUE(Sketch::Decode(bytes, &back));
  EXPECT_EQ(back.buckets(), s.buckets());
  EXPECT_FALSE(Sketch::Decode(bytes.substr(0, bytes.size() - 1), &back));
  EXPECT_FALSE(Sketch::Decode("\x02\x01\x01\x01", &back)) << "indexes must increase";
}

Rollups::Point Cumulative(int64_t start, int64_t time, uint64_t count, double seconds_each) {
  Rollups::Point p;
  p.start_unix_nano = start;
  p.time_unix_nano = time;
  p.count = count;
  p.sum_seconds = seconds_each * static_cast<double>(count);
  p.latency.Add(Sketch::IndexOf(seconds_each), count);
  return p;
}

Totals Sum(const Rollups& r, int64_t from, int64_t to, Kind kind, const TenantScope& scope = {}) {
  Totals t;
  r.ForEach(from, to, scope, [&](const Rollups::Series& s, int64_t, const Totals& c) {
    if (s.kind == kind) t.Merge(c);
  });
  return t;
}

TEST(RollupsTest, CumulativePointsCountOnceAndARestartedCounterStartsOver) {
  Rollups r({});
  const std::vector<Rollups::Series> series = {{Kind::kService, "api", "", ""}};
  r.AddCumulative(1, Cumulative(kT0, kT0 + 10 * kSecond, 10, 0.1), Rollups::Counts::kCalls, series);
  r.AddCumulative(1, Cumulative(kT0, kT0 + 20 * kSecond, 25, 0.1), Rollups::Counts::kCalls, series);
  // The same cumulative value again (a connector's restart re-exporting it).
  r.AddCumulative(1, Cumulative(kT0, kT0 + 30 * kSecond, 25, 0.1), Rollups::Counts::kCalls, series);
  Totals t = Sum(r, kT0, kT0 + 60 * kSecond, Kind::kService);
  EXPECT_EQ(t.calls, 25u);
  EXPECT_EQ(t.latency.count(), 25u) << "the durations of each call once";
  // A new start time: the counter restarted, its value is all new.
  r.AddCumulative(1, Cumulative(kT0 + 35 * kSecond, kT0 + 40 * kSecond, 5, 0.1),
                  Rollups::Counts::kCalls, series);
  EXPECT_EQ(Sum(r, kT0, kT0 + 60 * kSecond, Kind::kService).calls, 30u);
  // Calls land in the 10 s slot of their point.
  EXPECT_EQ(Sum(r, kT0 + 20 * kSecond, kT0 + 30 * kSecond, Kind::kService).calls, 15u);
}

TEST(RollupsTest, LatencyDeltasKeepOnlyTheNewDurations) {
  Rollups r({});
  const std::vector<Rollups::Series> series = {{Kind::kService, "api", "", ""}};
  Rollups::Point p = Cumulative(kT0, kT0 + 5 * kSecond, 100, 0.010);
  r.AddCumulative(1, p, Rollups::Counts::kCalls, {});
  // 100 more calls of one second each.
  p.time_unix_nano = kT0 + 15 * kSecond;
  p.count = 200;
  p.latency.Add(Sketch::IndexOf(1.0), 100);
  r.AddCumulative(1, p, Rollups::Counts::kCallsAndErrors, series);
  Totals t = Sum(r, kT0 + 10 * kSecond, kT0 + 20 * kSecond, Kind::kService);
  EXPECT_EQ(t.calls, 100u);
  EXPECT_EQ(t.errors, 100u);
  EXPECT_NEAR(t.latency.Quantile(0.5), 1.0, 0.045);
}

TEST(RollupsTest, MemoryBudgetEvictsTheOldestSlotsAndKeepsTheNewest) {
  Rollups::Options o;
  o.max_bytes = 256 << 10;
  Rollups r(o);
  for (int minute = 0; minute < 600; ++minute) {
    for (int s = 0; s < 10; ++s) {
      Totals t;
      t.calls = 1;
      t.latency.Add(Sketch::IndexOf(0.001 * (s + 1)), 1);
      r.Add({Kind::kOperation, "svc", "op-" + std::to_string(s), ""}, kT0 + minute * 60 * kSecond,
            t);
    }
  }
  EXPECT_LE(r.bytes(), o.max_bytes);
  EXPECT_GT(r.evictions(), 0u);
  const int64_t last = kT0 + 599 * 60 * kSecond;
  EXPECT_EQ(Sum(r, last, last + 60 * kSecond, Kind::kOperation).calls, 10u);
  EXPECT_EQ(Sum(r, kT0, kT0 + 60 * kSecond, Kind::kOperation).calls, 0u) << "evicted";
}

TEST(RollupsTest, StateRoundTripsAndDamageIsRefused) {
  Rollups r({});
  const std::vector<Rollups::Series> series = {{Kind::kService, "api", "", ""},
                                               {Kind::kEdge, "web", "api", "database"}};
  r.AddCumulative(9, Cumulative(kT0, kT0 + 10 * kSecond, 10, 0.2), Rollups::Counts::kCalls, series);
  std::string state = r.Serialize();
  Rollups back({});
  ASSERT_TRUE(back.Deserialize(state).ok());
  EXPECT_EQ(Sum(back, kT0, kT0 + 60 * kSecond, Kind::kEdge).calls, 10u);
  // The last cumulative point came back too: the same value again adds nothing.
  back.AddCumulative(9, Cumulative(kT0, kT0 + 20 * kSecond, 10, 0.2), Rollups::Counts::kCalls,
                     series);
  EXPECT_EQ(Sum(back, kT0, kT0 + 60 * kSecond, Kind::kService).calls, 10u);
  EXPECT_EQ(back.Serialize().size(), state.size() + 0) << "no new cells";
  EXPECT_FALSE(back.Deserialize(state.substr(0, state.size() / 2)).ok());
}

TEST(RollupsTest, ATenantsSeriesAreItsOwnAndKeepTheirTenantAcrossARestart) {
  Rollups r({});
  // The same series and point key under the default tenant (stored without
  // one) and under acme: neither's counts leak into the other's.
  r.AddCumulative(1, Cumulative(kT0, kT0 + 10 * kSecond, 10, 0.1), Rollups::Counts::kCalls,
                  {{Kind::kService, "api", "", ""}});
  r.AddCumulative(2, Cumulative(kT0, kT0 + 10 * kSecond, 3, 0.1), Rollups::Counts::kCalls,
                  {{Kind::kService, "api", "", "", "acme"}});
  r.AddCumulative(3, Cumulative(kT0, kT0 + 10 * kSecond, 1, 0.1), Rollups::Counts::kCalls,
                  {{Kind::kServiceAll, "api", "", "", "acme"}});
  const TenantScope fallback{"main", "main"}, acme{"acme", "main"}, other{"other", "main"};
  Rollups back({});
  ASSERT_TRUE(back.Deserialize(r.Serialize()).ok());
  for (const Rollups* x : {&r, &back}) {
    const int64_t to = kT0 + 60 * kSecond;
    EXPECT_EQ(Sum(*x, kT0, to, Kind::kService, fallback).calls, 10u);
    EXPECT_EQ(Sum(*x, kT0, to, Kind::kService, acme).calls, 3u);
    EXPECT_EQ(Sum(*x, kT0, to, Kind::kService, other).calls, 0u);
    EXPECT_TRUE(x->HasService(acme, "api"));
    EXPECT_FALSE(x->HasService(fallback, "api")) << "the default tenant's api reported as a peer";
    EXPECT_FALSE(x->HasService(other, "api"));
  }
}

TEST(ServicesRenderTest, ServicesSortByP99AndBadParametersAreRefused) {
  Rollups r({});
  for (auto [name, seconds] : {std::pair{"fast", 0.01}, std::pair{"slow", 2.0}}) {
    Totals t;
    t.calls = 10;
    t.errors = name == std::string("fast") ? 5 : 0;
    t.latency.Add(Sketch::IndexOf(seconds), 10);
    r.Add({Kind::kService, name, "", ""}, kT0, t);
    r.Add({Kind::kServiceAll, name, "", ""}, kT0, t);
  }
  Result<WindowQuery> q = ParseWindowQuery({{"window", "5m"}, {"sort", "p99"}}, kT0 + 60 * kSecond);
  ASSERT_TRUE(q.ok());
  std::string json = RenderServices(r, *q);
  EXPECT_LT(json.find("\"name\":\"slow\""), json.find("\"name\":\"fast\"")) << json;
  EXPECT_NE(json.find("\"name\":\"fast\",\"calls\":10,\"errors\":5,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"errorRatio\":0.5"), std::string::npos);
  for (auto bad : std::vector<std::pair<std::string, std::string>>{
           {"window", "soon"}, {"window", "1s"}, {"sort", "size"}, {"bogus", "1"}, {"end", "x"}}) {
    EXPECT_EQ(ParseWindowQuery({bad}, kT0).status().code(), StatusCode::kInvalidArgument)
        << bad.first;
  }
  EXPECT_EQ(RenderService(r, "nobody", *q).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace sluice::query
