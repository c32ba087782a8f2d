#include <gtest/gtest.h>

#include <cmath>

#include "config/schema.h"
#include "connectors/spanmetrics/exponential.h"
#include "connectors/spanmetrics/spanmetrics_connector.h"
#include "support/otlp_builders.h"

namespace sluice::connectors::spanmetrics {
namespace {

namespace pb = testing::otlp_pb;
using TraceRequest = pb::collector::trace::v1::ExportTraceServiceRequest;

constexpr uint64_t kT0 = 1'700'000'000'000'000'000ull;

// Spans of `service`: (name, duration in ms, error, http.route or "").
TraceRequest Spans(const std::string& service,
                   const std::vector<std::tuple<std::string, double, bool, std::string>>& spans) {
  TraceRequest req;
  auto* rs = req.add_resource_spans();
  auto* kv = rs->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value(service);
  auto* ss = rs->add_scope_spans();
  int i = 0;
  for (const auto& [name, ms, error, route] : spans) {
    auto* s = ss->add_spans();
    s->set_trace_id(std::string(16, '\x01'));
    s->set_span_id(std::string(7, '\x02') + static_cast<char>(++i));
    s->set_name(name);
    s->set_kind(pb::trace::v1::Span::SPAN_KIND_SERVER);
    s->set_start_time_unix_nano(kT0);
    s->set_end_time_unix_nano(kT0 + static_cast<uint64_t>(ms * 1e6));
    if (error) s->mutable_status()->set_code(pb::trace::v1::Status::STATUS_CODE_ERROR);
    if (!route.empty()) {
      auto* a = s->add_attributes();
      a->set_key("http.route");
      a->mutable_value()->set_string_value(route);
    }
  }
  return req;
}

const Aggregator::Series* Find(const Aggregator& a, const std::string& name,
                               const std::string& status = "STATUS_CODE_UNSET") {
  for (const auto& [k, s] : a.series()) {
    bool n = false, st = false;
    for (const auto& [key, v] : s.attributes) {
      n |= key == "span.name" && v == name;
      st |= key == "status.code" && v == status;
    }
    if (n && st) return &s;
  }
  return nullptr;
}

TEST(SpanMetricsTest, CallsAndDurationBucketsPerNameKindAndStatus) {
  SpanMetricsOptions o;
  Aggregator a(o);
  auto req = Spans("checkout", {{"pay", 3, false, ""},
                                {"pay", 4, false, ""},  // on a bound: in the 4ms bucket
                                {"pay", 20000, false, ""},
                                {"pay", 7, true, ""}});
  ASSERT_TRUE(a.Add(req.SerializeAsString(), 1).ok());
  const auto* ok = Find(a, "pay");
  ASSERT_NE(ok, nullptr);
  EXPECT_EQ(ok->service, "checkout");
  EXPECT_EQ(ok->calls, 3u);
  ASSERT_EQ(ok->bucket_counts.size(), 17u);
  EXPECT_EQ(ok->bucket_counts[1], 2u) << "(2ms, 4ms]";
  EXPECT_EQ(ok->bucket_counts[16], 1u) << "past 15s";
  EXPECT_DOUBLE_EQ(ok->sum, 3 + 4 + 20000);
  ASSERT_TRUE(ok->exemplar.has_value());
  EXPECT_EQ(ok->exemplar->trace_id, std::string(16, '\x01'));
  const auto* err = Find(a, "pay", "STATUS_CODE_ERROR");
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(err->calls, 1u);
}

TEST(SpanMetricsTest, DimensionsComeFromSpanThenResourceAndDefaults) {
  SpanMetricsOptions o;
  o.dimensions = {{"http.route", std::nullopt}, {"region", std::string("none")}};
  Aggregator a(o);
  ASSERT_TRUE(
      a.Add(Spans("api", {{"get", 1, false, "/a"}, {"get", 1, false, ""}}).SerializeAsString(), 1)
          .ok());
  ASSERT_EQ(a.series().size(), 2u);
  int with_route = 0;
  for (const auto& [k, s] : a.series()) {
    std::string region;
    for (const auto& [key, v] : s.attributes) {
      if (key == "http.route") {
        EXPECT_EQ(v, "/a");
        ++with_route;
      }
      if (key == "region") region = v;
    }
    EXPECT_EQ(region, "none") << "a missing dimension with a default takes it";
  }
  EXPECT_EQ(with_route, 1) << "a missing dimension without a default is left out";
}

TEST(SpanMetricsTest, CardinalityLimitFoldsNewSeriesIntoOverflowAndExpiryDropsIdleOnes) {
  SpanMetricsOptions o;
  o.aggregation_cardinality_limit = 2;
  o.metrics_expiration = std::chrono::seconds(10);
  Aggregator a(o);
  auto r = a.Add(
      Spans("api",
            {{"a", 1, false, ""}, {"b", 1, false, ""}, {"c", 1, false, ""}, {"d", 1, false, ""}})
          .SerializeAsString(),
      1'000'000'000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 2u);
  ASSERT_EQ(a.series().size(), 3u) << "two series and the overflow one";
  bool overflow = false;
  for (const auto& [k, s] : a.series()) {
    if (s.attributes.size() == 1 && s.attributes[0].first == "otel.metric.overflow") {
      overflow = true;
      EXPECT_EQ(s.calls, 2u);
    }
  }
  EXPECT_TRUE(overflow);
  EXPECT_EQ(a.Expire(5'000'000'000), 0u);
  EXPECT_EQ(a.Expire(12'000'000'000), 3u);
  EXPECT_TRUE(a.series().empty());
}

TEST(SpanMetricsTest, CheckpointRoundTripsAndRefusesOtherBuckets) {
  SpanMetricsOptions o;
  Aggregator a(o);
  ASSERT_TRUE(a.Add(Spans("api", {{"a", 5, true, ""}}).SerializeAsString(), 7).ok());
  std::string bytes = a.Serialize();
  Aggregator b(o);
  ASSERT_TRUE(b.Deserialize(bytes).ok());
  ASSERT_EQ(b.series().size(), 1u);
  const auto& s = b.series().begin()->second;
  EXPECT_EQ(s.calls, 1u);
  EXPECT_EQ(s.last_update_unix_nano, 7);
  EXPECT_EQ(b.Serialize(), bytes);
  SpanMetricsOptions other;
  other.buckets_seconds = {1};
  Aggregator c(other);
  EXPECT_EQ(c.Deserialize(bytes).code(), StatusCode::kCorruption);
}

TEST(SpanMetricsTest, EncodedMetricsAreCumulativeCallsAndAHistogramInMilliseconds) {
  SpanMetricsOptions o;
  Aggregator a(o);
  ASSERT_TRUE(a.Add(Spans("api", {{"a", 5, false, ""}}).SerializeAsString(), 7).ok());
  pb::collector::metrics::v1::ExportMetricsServiceRequest req;
  ASSERT_TRUE(req.ParseFromString(a.Encode(100, 200)));
  ASSERT_EQ(req.resource_metrics_size(), 1);
  const auto& metrics = req.resource_metrics(0).scope_metrics(0).metrics();
  ASSERT_EQ(metrics.size(), 2);
  EXPECT_EQ(metrics[0].name(), "traces.span.metrics.calls");
  EXPECT_TRUE(metrics[0].sum().is_monotonic());
  EXPECT_EQ(metrics[0].sum().aggregation_temporality(),
            pb::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
  EXPECT_EQ(metrics[0].sum().data_points(0).as_int(), 1);
  EXPECT_EQ(metrics[0].sum().data_points(0).start_time_unix_nano(), 100u);
  EXPECT_EQ(metrics[1].name(), "traces.span.metrics.duration");
  EXPECT_EQ(metrics[1].unit(), "ms");
  const auto& h = metrics[1].histogram().data_points(0);
  EXPECT_EQ(h.count(), 1u);
  EXPECT_DOUBLE_EQ(h.sum(), 5);
  ASSERT_EQ(h.explicit_bounds_size(), 16);
  EXPECT_DOUBLE_EQ(h.explicit_bounds(0), 2);
  EXPECT_EQ(h.bucket_counts(2), 1u) << "(4ms, 6ms]";
  ASSERT_EQ(h.exemplars_size(), 1);
  EXPECT_EQ(h.exemplars(0).span_id(), std::string(7, '\x02') + '\x01');
}

TEST(ExponentialHistogramTest, IndexPutsPowersOfTwoAtTheUpperEndOfTheirBucket) {
  using H = ExponentialHistogram;
  // Scale 0: bucket i holds (2^i, 2^(i+1)].
  EXPECT_EQ(H::Index(1, 0), -1);
  EXPECT_EQ(H::Index(2, 0), 0);
  EXPECT_EQ(H::Index(3, 0), 1);
  EXPECT_EQ(H::Index(4, 0), 1);
  EXPECT_EQ(H::Index(4.0001, 0), 2);
  // Scale 1: (2^(i/2), 2^((i+1)/2)].
  EXPECT_EQ(H::Index(2, 1), 1);
  EXPECT_EQ(H::Index(1.5, 1), 1);
  EXPECT_EQ(H::Index(1.4, 1), 0);
  // Scale -1: (4^i, 4^(i+1)].
  EXPECT_EQ(H::Index(4, -1), 0);
  EXPECT_EQ(H::Index(5, -1), 1);
  EXPECT_EQ(H::Index(0.5, -1), -1);
}

TEST(ExponentialHistogramTest, WideRangesCoarsenTheScaleToStayWithinMaxSize) {
  ExponentialHistogram h(20);
  h.Record(0);
  uint64_t recorded = 1;
  for (double v = 0.1; v < 60000; v *= 1.3, ++recorded) h.Record(v);
  EXPECT_LE(h.counts().size(), 20u);
  EXPECT_LT(h.scale(), ExponentialHistogram::kMaxScale);
  EXPECT_EQ(h.count(), recorded);
  EXPECT_EQ(h.zero_count(), 1u);
  uint64_t in_buckets = 0;
  for (uint64_t c : h.counts()) in_buckets += c;
  EXPECT_EQ(in_buckets + h.zero_count(), h.count());
  EXPECT_EQ(h.min(), 0);
  // Every value lies in a bucket the histogram covers, and the bucket of the
  // largest value is its last.
  for (double v = 0.1; v < 60000; v *= 1.3) {
    int64_t i = ExponentialHistogram::Index(v, h.scale());
    EXPECT_GE(i, h.offset());
    EXPECT_LT(i, h.offset() + static_cast<int64_t>(h.counts().size()));
  }
  EXPECT_EQ(ExponentialHistogram::Index(h.max(), h.scale()),
            h.offset() + static_cast<int64_t>(h.counts().size()) - 1);
}

TEST(ExponentialHistogramTest, OneValueStaysAtTheFinestScale) {
  ExponentialHistogram h(160);
  for (int i = 0; i < 5; ++i) h.Record(12.5);
  EXPECT_EQ(h.scale(), ExponentialHistogram::kMaxScale);
  ASSERT_EQ(h.counts().size(), 1u);
  EXPECT_EQ(h.counts()[0], 5u);
}

SpanMetricsOptions ParseOptions(const std::string& yaml, std::vector<std::string>* errors) {
  config::Context ctx("spanmetrics.yaml");
  auto node = config::LoadString(yaml, ctx);
  SpanMetricsOptions o;
  if (node) SpanMetricsOptionsSchema().Parse(*node, &o, ctx);
  for (const auto& e : ctx.errors()) errors->push_back(e.ToString());
  return o;
}

TEST(SpanMetricsTest, ExponentialHistogramConfigTakesTheCollectorsMaxSize) {
  std::vector<std::string> errors;
  EXPECT_EQ(
      ParseOptions("histogram:\n  exponential:\n    max_size: 40\n", &errors).exponential_max_size,
      40);
  EXPECT_EQ(ParseOptions("histogram:\n  exponential:\n", &errors).exponential_max_size, 160);
  EXPECT_EQ(ParseOptions("histogram: {unit: s}\n", &errors).exponential_max_size, 0);
  EXPECT_TRUE(errors.empty()) << errors[0];
  ParseOptions("histogram:\n  exponential:\n    max_size: 1\n", &errors);
  ParseOptions("histogram:\n  exponential:\n    size: 10\n", &errors);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[0].find("spanmetrics.yaml:3:15"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find("valid keys: max_size"), std::string::npos) << errors[1];
}

TEST(SpanMetricsTest, ExponentialDurationsAreEncodedAndCheckpointed) {
  SpanMetricsOptions o;
  o.exponential_max_size = 160;
  Aggregator a(o);
  ASSERT_TRUE(a.Add(Spans("api", {{"a", 5, false, ""}, {"a", 250, false, ""}, {"a", 0, false, ""}})
                        .SerializeAsString(),
                    7)
                  .ok());
  pb::collector::metrics::v1::ExportMetricsServiceRequest req;
  ASSERT_TRUE(req.ParseFromString(a.Encode(100, 200)));
  const auto& metrics = req.resource_metrics(0).scope_metrics(0).metrics();
  ASSERT_EQ(metrics.size(), 2);
  ASSERT_TRUE(metrics[1].has_exponential_histogram());
  EXPECT_EQ(metrics[1].exponential_histogram().aggregation_temporality(),
            pb::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
  const auto& p = metrics[1].exponential_histogram().data_points(0);
  EXPECT_EQ(p.count(), 3u);
  EXPECT_DOUBLE_EQ(p.sum(), 255);
  EXPECT_EQ(p.zero_count(), 1u);
  EXPECT_DOUBLE_EQ(p.min(), 0);
  EXPECT_DOUBLE_EQ(p.max(), 250);
  uint64_t positive = 0;
  for (uint64_t c : p.positive().bucket_counts()) positive += c;
  EXPECT_EQ(positive, 2u);
  EXPECT_LE(p.positive().bucket_counts_size(), 160);
  // 5 ms and 250 ms in the buckets the scale and offset name.
  const double base = std::pow(2.0, std::pow(2.0, -p.scale()));
  EXPECT_LT(std::pow(base, p.positive().offset()), 5);
  EXPECT_GE(std::pow(base, p.positive().offset() + p.positive().bucket_counts_size()), 250);
  ASSERT_EQ(p.exemplars_size(), 1);
  EXPECT_EQ(p.attributes(0).key(), "service.name");

  Aggregator b(o);
  ASSERT_TRUE(b.Deserialize(a.Serialize()).ok());
  EXPECT_EQ(b.Encode(100, 200), a.Encode(100, 200)) << "the checkpoint keeps the histogram";
  const SpanMetricsOptions explicit_options;
  Aggregator explicit_buckets(explicit_options);
  EXPECT_EQ(explicit_buckets.Deserialize(a.Serialize()).code(), StatusCode::kCorruption)
      << "a checkpoint of the other histogram kind is a documented reset";
}

}  // namespace
}  // namespace sluice::connectors::spanmetrics
