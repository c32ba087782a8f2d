#include "processors/cardinality/cardinality_limit_processor.h"

#include <gtest/gtest.h>

#include "processors/cardinality/fold.h"
#include "processors/cardinality/series_limiter.h"
#include "support/otlp_builders.h"
#include "wire/compression.h"
#include "wire/proto_reader.h"

namespace sluice::processors::cardinality {
namespace {

namespace pb = testing::otlp_pb;
using MetricsRequest = pb::collector::metrics::v1::ExportMetricsServiceRequest;
using std::chrono::minutes;
using std::chrono::seconds;

// A remote-write request: one series per (metric, id) with one sample each
// at `timestamp`, valued `value`.
prometheus::WriteRequest Series(const std::vector<std::pair<std::string, int>>& series,
                                int64_t timestamp = 1000, double value = 1) {
  prometheus::WriteRequest req;
  for (const auto& [metric, id] : series) {
    auto* ts = req.add_timeseries();
    auto label = [&](const std::string& n, const std::string& v) {
      auto* l = ts->add_labels();
      l->set_name(n);
      l->set_value(v);
    };
    label("__name__", metric);
    label("id", std::to_string(id));
    label("instance", "host:9100");
    label("job", "node");
    auto* s = ts->add_samples();
    s->set_value(value);
    s->set_timestamp(timestamp);
  }
  return req;
}

std::map<std::string, std::string> LabelsOf(const prometheus::TimeSeries& ts) {
  std::map<std::string, std::string> out;
  for (const auto& l : ts.labels()) out[l.name()] = l.value();
  return out;
}

class CardinalityLimitTest : public ::testing::Test {
 protected:
  CardinalityLimitOptions Parse(const std::string& yaml) {
    config::Context ctx("limit.yaml");
    auto node = config::LoadString(yaml, ctx);
    CardinalityLimitOptions o;
    if (node) CardinalityLimitOptionsSchema().Parse(*node, &o, ctx);
    for (const auto& e : ctx.errors()) ADD_FAILURE() << e.ToString();
    return o;
  }
  std::vector<std::string> Errors(const std::string& yaml) {
    config::Context ctx("limit.yaml");
    auto node = config::LoadString(yaml, ctx);
    CardinalityLimitOptions o;
    if (node) CardinalityLimitOptionsSchema().Parse(*node, &o, ctx);
    std::vector<std::string> out;
    for (const auto& e : ctx.errors()) out.push_back(e.ToString());
    return out;
  }
  uint64_t Folded(const std::string& tenant, const std::string& metric) {
    return registry_
        .AddCounter("sluice_processor_cardinality_folded_total", "",
                    {"processor", "tenant", "metric"})
        .With({"cardinality_limit", tenant, metric})
        .Value();
  }
  uint64_t Dropped(const std::string& tenant, const std::string& metric) {
    return registry_
        .AddCounter("sluice_processor_cardinality_dropped_total", "",
                    {"processor", "tenant", "metric"})
        .With({"cardinality_limit", tenant, metric})
        .Value();
  }
  std::unique_ptr<CardinalityLimitProcessor> Make(const std::string& yaml) {
    return std::make_unique<CardinalityLimitProcessor>("cardinality_limit", Parse(yaml), registry_,
                                                       clock_);
  }
  // Runs the processor over a remote-write request; *kept is what is stored.
  pipeline::Processor::Output Run(const CardinalityLimitProcessor& p,
                                  const prometheus::WriteRequest& req,
                                  const std::string& tenant = "") {
    std::string payload = req.SerializeAsString();
    uint64_t items = 0;
    for (const auto& ts : req.timeseries()) items += ts.samples_size() + ts.histograms_size();
    pipeline::Processor::Output out;
    Status st = p.Process(
        {log::Signal::kMetrics, log::Encoding::kPromRemoteWriteProto, payload, items, tenant},
        &out);
    EXPECT_TRUE(st.ok()) << st.message();
    return out;
  }

  telemetry::Registry registry_;
  ManualClock clock_;
};

TEST_F(CardinalityLimitTest, LimiterAdmitsAtMostMaxSeriesPerMetricAndTenant) {
  SeriesLimiter limiter(3, minutes(10), clock_);
  SeriesLimiter::Lookup lookup(limiter);
  for (uint64_t h = 1; h <= 3; ++h) EXPECT_TRUE(lookup.Admit("", "m", h));
  EXPECT_FALSE(lookup.Admit("", "m", 4)) << "a fourth series of m";
  EXPECT_TRUE(lookup.Admit("", "m", 2)) << "an admitted series stays admitted";
  EXPECT_TRUE(lookup.Admit("", "other", 4)) << "each metric has its own limit";
  EXPECT_TRUE(lookup.Admit("tenant-b", "m", 4)) << "each tenant has its own limit";
}

TEST_F(CardinalityLimitTest, IdleSeriesFreeTheirPlaceAfterTheWindowButActiveOnesKeepIt) {
  SeriesLimiter limiter(2, minutes(10), clock_);
  {
    SeriesLimiter::Lookup lookup(limiter);
    EXPECT_TRUE(lookup.Admit("", "m", 1));
    EXPECT_TRUE(lookup.Admit("", "m", 2));
  }
  clock_.Advance(minutes(6));
  {
    SeriesLimiter::Lookup lookup(limiter);
    EXPECT_TRUE(lookup.Admit("", "m", 1)) << "series 1 stays active";
    EXPECT_FALSE(lookup.Admit("", "m", 3)) << "full within the window";
  }
  clock_.Advance(minutes(5));  // series 2 idle for 11 minutes, series 1 for 5
  {
    SeriesLimiter::Lookup lookup(limiter);
    EXPECT_TRUE(lookup.Admit("", "m", 3)) << "series 2's place is free";
    EXPECT_FALSE(lookup.Admit("", "m", 2)) << "series 2 came back too late";
  }
  EXPECT_EQ(limiter.active_series(), 2u);
  clock_.Advance(minutes(30));
  { SeriesLimiter::Lookup lookup(limiter); }  // the sweep drops every idle series
  EXPECT_EQ(limiter.active_series(), 0u);
}

TEST_F(CardinalityLimitTest, RequestWithinTheLimitIsStoredAsReceived) {
  auto p = Make("max_series: 10\n");
  auto out = Run(*p, Series({{"up", 1}, {"up", 2}, {"load", 1}}));
  EXPECT_FALSE(out.changed);
  EXPECT_EQ(p->active_series(), 3u);
}

TEST_F(CardinalityLimitTest, SeriesPastTheLimitFoldIntoOneOverflowSeriesSummedPerTimestamp) {
  auto p = Make("max_series: 2\n");
  ASSERT_FALSE(Run(*p, Series({{"req", 1}, {"req", 2}})).changed);
  auto out =
      Run(*p, Series({{"req", 1}, {"req", 3}, {"req", 4}, {"req", 5}, {"cpu", 1}}, 2000, 2.5));
  ASSERT_TRUE(out.changed);
  EXPECT_EQ(out.items, 3u) << "req 1, cpu 1 and one overflow sample";
  prometheus::WriteRequest got;
  ASSERT_TRUE(got.ParseFromString(out.payload));
  ASSERT_EQ(got.timeseries_size(), 3);
  EXPECT_EQ(LabelsOf(got.timeseries(0))["id"], "1");
  EXPECT_EQ(LabelsOf(got.timeseries(1))["__name__"], "cpu");
  const auto& overflow = got.timeseries(2);
  EXPECT_EQ(LabelsOf(overflow),
            (std::map<std::string, std::string>{{"__name__", "req"},
                                                {"instance", "host:9100"},
                                                {"job", "node"},
                                                {"otel_metric_overflow", "true"}}));
  std::vector<std::string> names;
  for (const auto& l : overflow.labels()) names.push_back(l.name());
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()))
      << "labels sorted as remote write requires";
  ASSERT_EQ(overflow.samples_size(), 1) << "one sample per timestamp, never duplicates";
  EXPECT_EQ(overflow.samples(0).value(), 7.5);
  EXPECT_EQ(overflow.samples(0).timestamp(), 2000);
  EXPECT_EQ(Folded("", "req"), 3u);
  EXPECT_EQ(Dropped("", "req"), 0u);
}

TEST_F(CardinalityLimitTest, DropActionDropsSeriesPastTheLimitAndCountsThem) {
  auto p = Make("max_series: 1\naction: drop\n");
  auto out = Run(*p, Series({{"req", 1}, {"req", 2}, {"req", 3}}), "team-a");
  ASSERT_TRUE(out.changed);
  EXPECT_EQ(out.items, 1u);
  prometheus::WriteRequest got;
  ASSERT_TRUE(got.ParseFromString(out.payload));
  ASSERT_EQ(got.timeseries_size(), 1);
  EXPECT_EQ(LabelsOf(got.timeseries(0))["id"], "1");
  EXPECT_EQ(Dropped("team-a", "req"), 2u);
  EXPECT_EQ(Folded("team-a", "req"), 0u);
}

TEST_F(CardinalityLimitTest, OneTenantFillingItsLimitLeavesAnotherTenantsSeriesAlone) {
  auto p = Make("max_series: 1\naction: drop\n");
  EXPECT_TRUE(Run(*p, Series({{"req", 1}, {"req", 2}}), "noisy").changed);
  EXPECT_FALSE(Run(*p, Series({{"req", 2}}), "quiet").changed);
  EXPECT_EQ(Dropped("noisy", "req"), 1u);
  EXPECT_EQ(Dropped("quiet", "req"), 0u);
}

TEST_F(CardinalityLimitTest, SluiceOwnMetricsAreNeverLimited) {
  auto p = Make("max_series: 1\naction: drop\n");
  EXPECT_FALSE(
      Run(*p, Series({{"sluice_log_bytes", 1}, {"sluice_log_bytes", 2}, {"sluice_log_bytes", 3}}))
          .changed);
  EXPECT_EQ(p->active_series(), 0u);
}

TEST_F(CardinalityLimitTest, SnappyRequestsStaySnappy) {
  auto p = Make("max_series: 1\n");
  std::string raw = Series({{"req", 1}, {"req", 2}}).SerializeAsString();
  std::string scratch;
  std::string compressed(wire::SnappyCompressInto(raw, &scratch));
  pipeline::Processor::Output out;
  ASSERT_TRUE(
      p->Process({log::Signal::kMetrics, log::Encoding::kPromRemoteWriteSnappy, compressed, 2},
                 &out)
          .ok());
  ASSERT_TRUE(out.changed);
  std::string plain;
  std::string_view view;
  ASSERT_TRUE(wire::SnappyDecompressInto(out.payload, 1 << 20, &plain, &view).ok());
  prometheus::WriteRequest got;
  ASSERT_TRUE(got.ParseFromArray(view.data(), static_cast<int>(view.size())));
  EXPECT_EQ(got.timeseries_size(), 2) << "the kept series and the overflow series";
}

TEST_F(CardinalityLimitTest, MalformedRemoteWriteIsRefusedWithTheReason) {
  auto p = Make("max_series: 1\n");
  pipeline::Processor::Output out;
  std::string junk = "\x0a\x05\x0a\x09";
  Status st =
      p->Process({log::Signal::kMetrics, log::Encoding::kPromRemoteWriteProto, junk, 1}, &out);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
}

// An OTLP request with one gauge metric of `points` int points at the same
// time, the resource holding service.name=svc, point i having attribute id=i.
MetricsRequest Gauge(int points, const std::string& name = "queue.depth") {
  MetricsRequest req;
  auto* rm = req.add_resource_metrics();
  auto* attr = rm->mutable_resource()->add_attributes();
  attr->set_key("service.name");
  attr->mutable_value()->set_string_value("svc");
  auto* m = rm->add_scope_metrics()->add_metrics();
  m->set_name(name);
  for (int i = 0; i < points; ++i) {
    auto* dp = m->mutable_gauge()->add_data_points();
    dp->set_time_unix_nano(5000);
    dp->set_as_int(10 + i);
    auto* a = dp->add_attributes();
    a->set_key("id");
    a->mutable_value()->set_int_value(i);
  }
  return req;
}

pipeline::Processor::Output RunOtlp(const CardinalityLimitProcessor& p, const MetricsRequest& req,
                                    uint64_t items) {
  std::string payload = req.SerializeAsString();
  pipeline::Processor::Output out;
  Status st = p.Process({log::Signal::kMetrics, log::Encoding::kOtlpProto, payload, items}, &out);
  EXPECT_TRUE(st.ok()) << st.message();
  return out;
}

TEST_F(CardinalityLimitTest, OtlpPointsPastTheLimitFoldIntoOneOverflowPoint) {
  auto p = Make("max_series: 2\n");
  auto out = RunOtlp(*p, Gauge(5), 5);
  ASSERT_TRUE(out.changed);
  EXPECT_EQ(out.items, 3u);
  MetricsRequest got;
  ASSERT_TRUE(got.ParseFromString(out.payload));
  const auto& points = got.resource_metrics(0).scope_metrics(0).metrics(0).gauge().data_points();
  ASSERT_EQ(points.size(), 3);
  EXPECT_EQ(points[0].as_int(), 10);
  EXPECT_EQ(points[1].as_int(), 11);
  EXPECT_EQ(points[2].as_int(), 12 + 13 + 14) << "the folded values add";
  ASSERT_EQ(points[2].attributes_size(), 1);
  EXPECT_EQ(points[2].attributes(0).key(), "otel.metric.overflow");
  EXPECT_TRUE(points[2].attributes(0).value().bool_value());
  EXPECT_EQ(points[2].time_unix_nano(), 5000u);
  EXPECT_EQ(Folded("", "queue.depth"), 3u);
}

TEST_F(CardinalityLimitTest, OtlpSeriesAreToldApartByAttributesInAnyOrder) {
  auto p = Make("max_series: 1\naction: drop\n");
  MetricsRequest a = Gauge(1);
  auto* extra = a.mutable_resource_metrics(0)
                    ->mutable_scope_metrics(0)
                    ->mutable_metrics(0)
                    ->mutable_gauge()
                    ->mutable_data_points(0)
                    ->add_attributes();
  extra->set_key("zone");
  extra->mutable_value()->set_string_value("eu");
  EXPECT_FALSE(RunOtlp(*p, a, 1).changed);
  // The same attributes, in the other order: the same series.
  auto* dp = a.mutable_resource_metrics(0)
                 ->mutable_scope_metrics(0)
                 ->mutable_metrics(0)
                 ->mutable_gauge()
                 ->mutable_data_points(0);
  dp->mutable_attributes()->SwapElements(0, 1);
  EXPECT_FALSE(RunOtlp(*p, a, 1).changed);
  // Another resource: another series.
  a.mutable_resource_metrics(0)
      ->mutable_resource()
      ->mutable_attributes(0)
      ->mutable_value()
      ->set_string_value("other");
  EXPECT_TRUE(RunOtlp(*p, a, 1).changed);
  EXPECT_EQ(Dropped("", "queue.depth"), 1u);
}

TEST_F(CardinalityLimitTest, OtlpMetricLeftWithoutPointsIsRemoved) {
  auto p = Make("max_series: 1\naction: drop\n");
  ASSERT_FALSE(RunOtlp(*p, Gauge(1, "a"), 1).changed);
  MetricsRequest req = Gauge(1, "b");
  *req.mutable_resource_metrics(0)->mutable_scope_metrics(0)->add_metrics() =
      Gauge(2, "a").resource_metrics(0).scope_metrics(0).metrics(0);
  // b keeps its point; a's second point is over the limit, its first kept.
  auto out = RunOtlp(*p, req, 3);
  ASSERT_TRUE(out.changed);
  EXPECT_EQ(out.items, 2u);
  auto only_new = Make("max_series: 1\naction: drop\n");
  MetricsRequest full = Gauge(1, "c");
  ASSERT_FALSE(RunOtlp(*only_new, full, 1).changed);
  full.mutable_resource_metrics(0)
      ->mutable_scope_metrics(0)
      ->mutable_metrics(0)
      ->mutable_gauge()
      ->mutable_data_points(0)
      ->mutable_attributes(0)
      ->mutable_value()
      ->set_int_value(99);
  auto dropped = RunOtlp(*only_new, full, 1);
  ASSERT_TRUE(dropped.changed);
  EXPECT_EQ(dropped.items, 0u) << "nothing left to store";
}

// FoldPoints on encoded points of each kind.
std::vector<std::string> Encoded(const auto& points) {
  std::vector<std::string> out;
  for (const auto& p : points) out.push_back(p.SerializeAsString());
  return out;
}
template <class Point>
std::vector<Point> Folded(wire::otlp::PointKind kind, const std::vector<std::string>& points) {
  std::vector<std::string_view> views(points.begin(), points.end());
  std::string out;
  size_t n = FoldPoints(kind, views, &out);
  std::vector<Point> got;
  wire::ProtoReader r(out);
  while (r.Next()) {
    Point p;
    EXPECT_TRUE(p.ParseFromString(std::string(r.bytes())));
    got.push_back(p);
  }
  EXPECT_EQ(got.size(), n);
  return got;
}

TEST(FoldPointsTest, HistogramsWithTheSameBoundsAddAndOthersStayApart) {
  pb::metrics::v1::HistogramDataPoint a, b, c;
  for (auto* p : {&a, &b, &c}) {
    p->set_time_unix_nano(7);
    p->add_explicit_bounds(1);
    p->add_explicit_bounds(5);
  }
  a.set_start_time_unix_nano(3);
  b.set_start_time_unix_nano(2);
  a.set_count(3), a.set_sum(6), a.set_min(1), a.set_max(4);
  for (uint64_t n : {1, 1, 1}) a.add_bucket_counts(n);
  b.set_count(2), b.set_sum(20), b.set_min(0.5), b.set_max(12);
  for (uint64_t n : {1, 0, 1}) b.add_bucket_counts(n);
  c.clear_explicit_bounds();
  c.add_explicit_bounds(10);
  c.set_count(1);
  c.add_bucket_counts(1), c.add_bucket_counts(0);
  auto got = Folded<pb::metrics::v1::HistogramDataPoint>(wire::otlp::PointKind::kHistogram,
                                                         Encoded(std::vector{a, b, c}));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].count(), 5u);
  EXPECT_EQ(got[0].sum(), 26);
  EXPECT_EQ(got[0].min(), 0.5);
  EXPECT_EQ(got[0].max(), 12);
  EXPECT_EQ(got[0].start_time_unix_nano(), 2u) << "the earliest start";
  ASSERT_EQ(got[0].bucket_counts_size(), 3);
  EXPECT_EQ(got[0].bucket_counts(0), 2u);
  EXPECT_EQ(got[0].bucket_counts(1), 1u);
  EXPECT_EQ(got[0].bucket_counts(2), 2u);
  EXPECT_EQ(got[0].attributes(0).key(), "otel.metric.overflow");
  EXPECT_EQ(got[1].count(), 1u) << "other bounds stay apart";
  EXPECT_EQ(got[1].explicit_bounds(0), 10);
}

TEST(FoldPointsTest, ExponentialHistogramsAddAtTheCoarserScale) {
  pb::metrics::v1::ExponentialHistogramDataPoint fine, coarse;
  fine.set_time_unix_nano(7);
  coarse.set_time_unix_nano(7);
  fine.set_scale(2);
  fine.set_count(4);
  fine.mutable_positive()->set_offset(3);  // indexes 3, 4, 5, 6 at scale 2
  for (uint64_t n : {1, 1, 1, 1}) fine.mutable_positive()->add_bucket_counts(n);
  fine.set_zero_count(1);
  coarse.set_scale(1);
  coarse.set_count(2);
  coarse.mutable_positive()->set_offset(1);  // indexes 1, 2 at scale 1
  for (uint64_t n : {1, 1}) coarse.mutable_positive()->add_bucket_counts(n);
  auto got = Folded<pb::metrics::v1::ExponentialHistogramDataPoint>(
      wire::otlp::PointKind::kExponentialHistogram, Encoded(std::vector{fine, coarse}));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].scale(), 1);
  EXPECT_EQ(got[0].count(), 6u);
  EXPECT_EQ(got[0].zero_count(), 1u);
  // At scale 1, fine's 3 -> 1, 4 and 5 -> 2, 6 -> 3.
  EXPECT_EQ(got[0].positive().offset(), 1);
  ASSERT_EQ(got[0].positive().bucket_counts_size(), 3);
  EXPECT_EQ(got[0].positive().bucket_counts(0), 2u);
  EXPECT_EQ(got[0].positive().bucket_counts(1), 3u);
  EXPECT_EQ(got[0].positive().bucket_counts(2), 1u);
}

TEST(FoldPointsTest, ExponentialHistogramsFarApartMergeAtAScaleWhereTheirBucketsFit) {
  pb::metrics::v1::ExponentialHistogramDataPoint low, high;
  for (auto* p : {&low, &high}) {
    p->set_time_unix_nano(7);
    p->set_scale(20);
    p->set_count(1);
    p->mutable_positive()->add_bucket_counts(1);
  }
  low.mutable_positive()->set_offset(-2'000'000'000);
  high.mutable_positive()->set_offset(2'000'000'000);
  auto got = Folded<pb::metrics::v1::ExponentialHistogramDataPoint>(
      wire::otlp::PointKind::kExponentialHistogram, Encoded(std::vector{low, high}));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_LT(got[0].scale(), 20);
  EXPECT_LE(got[0].positive().bucket_counts_size(), 4096) << "bounded, not four billion buckets";
  uint64_t total = 0;
  for (uint64_t c : got[0].positive().bucket_counts()) total += c;
  EXPECT_EQ(total, 2u);
}

TEST(FoldPointsTest, SummariesAddCountAndSumAndLoseQuantiles) {
  pb::metrics::v1::SummaryDataPoint a, b;
  a.set_time_unix_nano(1), b.set_time_unix_nano(1);
  a.set_count(2), a.set_sum(3);
  b.set_count(5), b.set_sum(4);
  a.add_quantile_values()->set_quantile(0.5);
  auto got = Folded<pb::metrics::v1::SummaryDataPoint>(wire::otlp::PointKind::kSummary,
                                                       Encoded(std::vector{a, b}));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].count(), 7u);
  EXPECT_EQ(got[0].sum(), 7);
  EXPECT_EQ(got[0].quantile_values_size(), 0);
}

TEST(FoldPointsTest, PointsAtDifferentTimesAndMixedNumbersFoldSeparately) {
  pb::metrics::v1::NumberDataPoint a, b, c, stale;
  a.set_time_unix_nano(1), a.set_as_int(2);
  b.set_time_unix_nano(1), b.set_as_double(0.5);
  c.set_time_unix_nano(2), c.set_as_int(9);
  stale.set_time_unix_nano(2), stale.set_flags(1);
  auto got = Folded<pb::metrics::v1::NumberDataPoint>(wire::otlp::PointKind::kNumber,
                                                      Encoded(std::vector{a, b, c, stale}));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].as_double(), 2.5) << "an int and a double add as a double";
  EXPECT_EQ(got[1].as_int(), 9) << "a point without a recorded value adds nothing";
}

TEST_F(CardinalityLimitTest, ConfigErrorsNameThePlaceAndTheChoices) {
  auto errors = Errors("max_series: 0\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("limit.yaml:1:13"), std::string::npos) << errors[0];
  errors = Errors("action: fold\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("overflow"), std::string::npos) << errors[0];
  errors = Errors("max_series: 10\nlimit: 5\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("limit.yaml:2:1"), std::string::npos) << errors[0];
  CardinalityLimitOptions o = Parse("max_series: 100000\nwindow: 1h\naction: drop\n");
  EXPECT_EQ(o.max_series, 100000);
  EXPECT_EQ(o.window, std::chrono::hours(1));
  EXPECT_EQ(o.action, CardinalityLimitOptions::Action::kDrop);
}

}  // namespace
}  // namespace sluice::processors::cardinality
