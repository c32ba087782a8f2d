#include "exporters/prometheusremotewrite/translate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <utility>

#include "support/otlp_builders.h"
#include "wire/prom/remote_write.h"
#include "wire/proto_writer.h"

namespace sluice::exporters::prw {

// Prometheus naming (wire/prom/naming.h), shared with the relabel processor.
using wire::prom::PromLabelName;
using wire::prom::PromMetricName;
using wire::prom::PromType;
using wire::prom::PromUnit;
namespace {

namespace pb = opentelemetry::proto;
using MetricsRequest = pb::collector::metrics::v1::ExportMetricsServiceRequest;
using pb::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE;
using pb::metrics::v1::AGGREGATION_TEMPORALITY_DELTA;
using Labels = std::vector<std::pair<std::string, std::string>>;

constexpr uint64_t kT = 1'700'000'000'123'456'789ULL;  // ns
constexpr int64_t kTms = 1'700'000'000'123;

struct Collected {
  uint64_t hash;
  std::string bytes;
  prometheus::TimeSeries ts;
};

class CollectingSink : public SeriesSink {
 public:
  void Series(uint64_t hash, std::string_view timeseries, uint64_t samples) override {
    Collected c{hash, std::string(timeseries), {}};
    EXPECT_TRUE(c.ts.ParseFromString(c.bytes));
    // The count handed with a series is what it holds.
    EXPECT_EQ(samples, static_cast<uint64_t>(c.ts.samples_size() + c.ts.histograms_size()));
    views.push_back(timeseries);
    series.push_back(std::move(c));
  }
  std::vector<Collected> series;
  std::vector<std::string_view> views;
};

Labels LabelsOf(const prometheus::TimeSeries& ts) {
  Labels out;
  for (const auto& l : ts.labels()) out.emplace_back(l.name(), l.value());
  return out;
}

std::string LabelValue(const prometheus::TimeSeries& ts, const std::string& name) {
  for (const auto& l : ts.labels()) {
    if (l.name() == name) return l.value();
  }
  return "<absent>";
}

std::vector<Label> ToLabels(const prometheus::TimeSeries& ts) {
  std::vector<Label> out;
  for (const auto& l : ts.labels()) out.push_back(Label{l.name(), l.value()});
  return out;
}

uint64_t Bits(double d) {
  uint64_t b;
  std::memcpy(&b, &d, 8);
  return b;
}

void Attr(google::protobuf::RepeatedPtrField<pb::common::v1::KeyValue>* attrs,
          const std::string& key, const std::string& value) {
  auto* kv = attrs->Add();
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}

// A request with one resource (the given attributes) and one empty scope.
MetricsRequest Request(const Labels& resource = {{"service.name", "checkout"}}) {
  MetricsRequest req;
  auto* rm = req.add_resource_metrics();
  for (const auto& [k, v] : resource) Attr(rm->mutable_resource()->mutable_attributes(), k, v);
  rm->add_scope_metrics();
  return req;
}

pb::metrics::v1::Metric* AddMetric(MetricsRequest& req, const std::string& name,
                                   const std::string& unit = "") {
  auto* rm = req.mutable_resource_metrics(req.resource_metrics_size() - 1);
  auto* m = rm->mutable_scope_metrics(0)->add_metrics();
  m->set_name(name);
  m->set_unit(unit);
  return m;
}

pb::metrics::v1::NumberDataPoint* AddGauge(MetricsRequest& req, const std::string& name,
                                           double value, const Labels& attrs = {},
                                           const std::string& unit = "") {
  auto* p = AddMetric(req, name, unit)->mutable_gauge()->add_data_points();
  p->set_time_unix_nano(kT);
  p->set_as_double(value);
  for (const auto& [k, v] : attrs) Attr(p->mutable_attributes(), k, v);
  return p;
}

pb::metrics::v1::Sum* AddSum(
    MetricsRequest& req, const std::string& name, bool monotonic, const std::string& unit = "",
    pb::metrics::v1::AggregationTemporality temporality = AGGREGATION_TEMPORALITY_CUMULATIVE) {
  auto* s = AddMetric(req, name, unit)->mutable_sum();
  s->set_is_monotonic(monotonic);
  s->set_aggregation_temporality(temporality);
  auto* p = s->add_data_points();
  p->set_time_unix_nano(kT);
  p->set_as_double(7);
  return s;
}

pb::metrics::v1::HistogramDataPoint* AddHistogram(MetricsRequest& req, const std::string& name,
                                                  const std::string& unit = "") {
  auto* h = AddMetric(req, name, unit)->mutable_histogram();
  h->set_aggregation_temporality(AGGREGATION_TEMPORALITY_CUMULATIVE);
  auto* p = h->add_data_points();
  p->set_time_unix_nano(kT);
  p->set_count(10);
  p->set_sum(3.5);
  for (double b : {0.1, 0.5, 1.0}) p->add_explicit_bounds(b);
  for (uint64_t c : {4, 3, 2, 1}) p->add_bucket_counts(c);
  return p;
}

struct Output {
  Status status;
  std::vector<Collected> series;
  TranslateStats stats;

  // The one series with this __name__ (and `le`/`quantile` value, if given).
  const prometheus::TimeSeries* Find(const std::string& name, const std::string& extra = "") const {
    const prometheus::TimeSeries* found = nullptr;
    for (const auto& c : series) {
      if (LabelValue(c.ts, "__name__") != name) continue;
      if (!extra.empty() && LabelValue(c.ts, "le") != extra &&
          LabelValue(c.ts, "quantile") != extra)
        continue;
      EXPECT_EQ(found, nullptr) << "two series named " << name << " " << extra;
      found = &c.ts;
    }
    return found;
  }
  std::vector<std::string> Names() const {
    std::vector<std::string> out;
    for (const auto& c : series) out.push_back(LabelValue(c.ts, "__name__"));
    return out;
  }
};

Output Translate(const MetricsRequest& req, const TranslateOptions& options = {}) {
  Output out;
  CollectingSink sink;
  out.status = TranslateOtlpMetrics(req.SerializeAsString(), options, sink, &out.stats);
  out.series = std::move(sink.series);
  return out;
}

double OnlySample(const prometheus::TimeSeries* ts) {
  EXPECT_NE(ts, nullptr);
  if (ts == nullptr) return -1;
  EXPECT_EQ(ts->samples_size(), 1);
  return ts->samples(0).value();
}

void ExpectSortedUniqueNonEmpty(const prometheus::TimeSeries& ts) {
  for (int i = 0; i < ts.labels_size(); ++i) {
    EXPECT_FALSE(ts.labels(i).value().empty()) << ts.labels(i).name();
    if (i > 0) {
      EXPECT_LT(ts.labels(i - 1).name(), ts.labels(i).name());
    }
  }
}

// ---------------------------------------------------------------------------
// Metric types.

TEST(TranslateTest, GaugePointBecomesOneSeriesWithSortedLabelsAndMillisecondTimestamp) {
  auto req = Request();
  AddGauge(req, "queue.depth", 12.5, {{"zone", "a"}, {"Alpha", "x"}, {"queue", "q1"}});
  Output out = Translate(req);
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  ASSERT_EQ(out.series.size(), 1u);
  const auto& ts = out.series[0].ts;
  // Upper-case letters sort before '_'.
  EXPECT_EQ(LabelsOf(ts), (Labels{{"Alpha", "x"},
                                  {"__name__", "queue_depth"},
                                  {"job", "checkout"},
                                  {"queue", "q1"},
                                  {"zone", "a"}}));
  ASSERT_EQ(ts.samples_size(), 1);
  EXPECT_EQ(ts.samples(0).value(), 12.5);
  EXPECT_EQ(ts.samples(0).timestamp(), kTms);
  EXPECT_EQ(out.stats.series, 1u);
  EXPECT_EQ(out.stats.samples, 1u);
}

TEST(TranslateTest, ResourceToTelemetryConversionPutsResourceAttributesOnEverySeries) {
  auto req = Request({{"service.name", "checkout"}, {"k8s.pod.name", "p-1"}, {"env", "prod"}});
  AddGauge(req, "queue.depth", 1, {{"env", "dev"}, {"queue", "q1"}});
  TranslateOptions options;
  options.send_target_info = false;
  Output plain = Translate(req, options);
  ASSERT_TRUE(plain.status.ok()) << plain.status.ToString();
  ASSERT_EQ(plain.series.size(), 1u);
  EXPECT_EQ(LabelValue(plain.series[0].ts, "k8s_pod_name"), "<absent>");
  EXPECT_EQ(LabelValue(plain.series[0].ts, "env"), "dev");
  options.resource_to_telemetry = true;
  Output out = Translate(req, options);
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  ASSERT_EQ(out.series.size(), 1u);
  EXPECT_EQ(LabelsOf(out.series[0].ts), (Labels{{"__name__", "queue_depth"},
                                                {"env", "prod"},
                                                {"job", "checkout"},
                                                {"k8s_pod_name", "p-1"},
                                                {"queue", "q1"}}))
      << "the resource's value replaces the point's for the same key";
}

TEST(TranslateTest, IntegerPointIsSentAsItsDoubleValue) {
  auto req = Request();
  AddGauge(req, "g", 0)->set_as_int(-42);
  Output out = Translate(req);
  EXPECT_EQ(OnlySample(out.Find("g")), -42.0);
}

TEST(TranslateTest, MonotonicCumulativeSumGetsUnitThenTotalSuffix) {
  auto req = Request();
  AddSum(req, "http.requests", true);
  AddSum(req, "process.cpu.time", true, "s");
  AddSum(req, "errors_total", true);
  AddSum(req, "io_total", true, "By");  // _total moves behind the unit
  Output out = Translate(req);
  ASSERT_TRUE(out.status.ok());
  EXPECT_EQ(out.Names(),
            (std::vector<std::string>{"http_requests_total", "process_cpu_time_seconds_total",
                                      "errors_total", "io_bytes_total"}));
  EXPECT_EQ(OnlySample(out.Find("http_requests_total")), 7.0);
}

TEST(TranslateTest, NonMonotonicSumIsAGaugeWithoutTotal) {
  auto req = Request();
  AddSum(req, "memory.usage", false, "By");
  AddSum(req, "active.ratio", false, "1");
  Output out = Translate(req);
  EXPECT_EQ(out.Names(), (std::vector<std::string>{"memory_usage_bytes", "active_ratio"}));
}

TEST(TranslateTest, InfoTypedSumGetsTheInfoSuffix) {
  auto req = Request();
  AddSum(req, "build", false);
  AddSum(req, "runtime_info", false);
  for (int i = 0; i < 2; ++i) {
    auto* m = req.mutable_resource_metrics(0)->mutable_scope_metrics(0)->mutable_metrics(i);
    Attr(m->mutable_metadata(), "prometheus.type", "info");
  }
  Output out = Translate(req);
  EXPECT_EQ(out.Names(), (std::vector<std::string>{"build_info", "runtime_info"}));
}

TEST(TranslateTest, HistogramBecomesCumulativeBucketsEndingInInfPlusSumAndCount) {
  auto req = Request();
  Attr(AddHistogram(req, "http.server.duration", "s")->mutable_attributes(), "route", "/a");
  Output out = Translate(req);
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  const std::string base = "http_server_duration_seconds";
  EXPECT_EQ(OnlySample(out.Find(base + "_bucket", "0.1")), 4);
  EXPECT_EQ(OnlySample(out.Find(base + "_bucket", "0.5")), 7);
  EXPECT_EQ(OnlySample(out.Find(base + "_bucket", "1")), 9);
  EXPECT_EQ(OnlySample(out.Find(base + "_bucket", "+Inf")), 10);
  EXPECT_EQ(OnlySample(out.Find(base + "_sum")), 3.5);
  EXPECT_EQ(OnlySample(out.Find(base + "_count")), 10);
  EXPECT_EQ(out.series.size(), 6u);
  for (const auto& c : out.series) {
    EXPECT_EQ(LabelValue(c.ts, "route"), "/a");
    EXPECT_EQ(c.ts.samples(0).timestamp(), kTms);
    ExpectSortedUniqueNonEmpty(c.ts);
  }
  EXPECT_EQ(LabelValue(*out.Find(base + "_sum"), "le"), "<absent>");
}

TEST(TranslateTest, HistogramWithoutSumSendsNoSumSeries) {
  auto req = Request();
  AddHistogram(req, "h")->clear_sum();
  Output out = Translate(req);
  EXPECT_EQ(out.Find("h_sum"), nullptr);
  EXPECT_EQ(OnlySample(out.Find("h_count")), 10);
}

TEST(TranslateTest, HistogramWithoutBucketsSendsOnlyTheInfBucket) {
  auto req = Request();
  auto* p = AddHistogram(req, "h");
  p->clear_bucket_counts();
  p->clear_explicit_bounds();
  Output out = Translate(req);
  EXPECT_EQ(out.series.size(), 3u);
  EXPECT_EQ(OnlySample(out.Find("h_bucket", "+Inf")), 10);
}

TEST(TranslateTest, HistogramWhoseBucketsDoNotMatchItsBoundsIsDroppedAndCounted) {
  auto req = Request();
  AddHistogram(req, "bad")->add_bucket_counts(5);
  auto* p = AddHistogram(req, "unsorted");
  p->set_explicit_bounds(0, 2.0);
  AddGauge(req, "fine", 1);
  Output out = Translate(req);
  ASSERT_TRUE(out.status.ok());
  EXPECT_EQ(out.Names(), (std::vector<std::string>{"fine"}));
  EXPECT_EQ(out.stats.dropped_invalid_point, 2u);
  EXPECT_EQ(out.stats.dropped_points, 2u);
  EXPECT_NE(out.stats.first_error.find("\"bad\""), std::string::npos) << out.stats.first_error;
}

TEST(TranslateTest, UnpackedRepeatedHistogramFieldsAreAccepted) {
  // Parsers must accept repeated scalars unpacked too; protobuf-generated
  // encoders always pack, so the request is written by hand.
  std::string point;
  wire::ProtoWriter p(&point);
  p.Fixed64(3, kT);
  p.Fixed64(4, 3);
  for (uint64_t c : {1, 2}) p.Fixed64(6, c);
  p.Double(7, 0.25);
  std::string histogram;
  wire::ProtoWriter(&histogram).Bytes(1, point);
  wire::ProtoWriter(&histogram).Varint(2, 2);
  std::string metric;
  wire::ProtoWriter(&metric).Bytes(1, "h");
  wire::ProtoWriter(&metric).Bytes(9, histogram);
  std::string scope_metrics;
  wire::ProtoWriter(&scope_metrics).Bytes(2, metric);
  std::string resource_metrics;
  wire::ProtoWriter(&resource_metrics).Bytes(2, scope_metrics);
  std::string request;
  wire::ProtoWriter(&request).Bytes(1, resource_metrics);

  CollectingSink sink;
  TranslateStats stats;
  ASSERT_TRUE(TranslateOtlpMetrics(request, {}, sink, &stats).ok());
  ASSERT_EQ(sink.series.size(), 3u);  // le=0.25, le=+Inf, _count
  EXPECT_EQ(LabelValue(sink.series[0].ts, "le"), "0.25");
  EXPECT_EQ(sink.series[0].ts.samples(0).value(), 1);
  EXPECT_EQ(sink.series[1].ts.samples(0).value(), 3);
}

TEST(TranslateTest, SummaryBecomesQuantileSeriesPlusSumAndCount) {
  auto req = Request();
  auto* p = AddMetric(req, "rpc.latency", "ms")->mutable_summary()->add_data_points();
  p->set_time_unix_nano(kT);
  p->set_count(100);
  p->set_sum(2500);
  for (auto [q, v] : {std::pair{0.5, 20.0}, std::pair{0.99, 90.0}, std::pair{1.0, 120.0}}) {
    auto* qv = p->add_quantile_values();
    qv->set_quantile(q);
    qv->set_value(v);
  }
  Output out = Translate(req);
  ASSERT_TRUE(out.status.ok());
  EXPECT_EQ(OnlySample(out.Find("rpc_latency_milliseconds", "0.5")), 20);
  EXPECT_EQ(OnlySample(out.Find("rpc_latency_milliseconds", "0.99")), 90);
  EXPECT_EQ(OnlySample(out.Find("rpc_latency_milliseconds", "1")), 120);
  EXPECT_EQ(OnlySample(out.Find("rpc_latency_milliseconds_sum")), 2500);
  EXPECT_EQ(OnlySample(out.Find("rpc_latency_milliseconds_count")), 100);
  EXPECT_EQ(out.series.size(), 5u);
}

// ---------------------------------------------------------------------------
// Names, units and labels.

TEST(NamingTest, UnitsBecomePrometheusWords) {
  const std::pair<const char*, const char*> cases[] = {
      {"s", "seconds"},
      {"ms", "milliseconds"},
      {"By", "bytes"},
      {"KiBy", "kibibytes"},
      {"{packet}", ""},
      {"{request}/s", "per_second"},
      {"By/s", "bytes_per_second"},
      {"m/s", "meters_per_second"},
      {"1/s", "per_second"},
      {"%", "percent"},
      {"widgets", "widgets"},
      {"kWh.x", "kWh_x"},
      {"By/{batch}", "bytes"},
      {"", ""},
  };
  for (const auto& [otlp, prom] : cases) {
    EXPECT_EQ(PromUnit(otlp, PromType::kCounter), prom) << otlp;
  }
}

TEST(NamingTest, RatioSuffixIsForGaugesOnly) {
  EXPECT_EQ(PromMetricName("cpu.utilization", "1", PromType::kGauge, true),
            "cpu_utilization_ratio");
  EXPECT_EQ(PromMetricName("requests", "1", PromType::kCounter, true), "requests_total");
  EXPECT_EQ(PromMetricName("latency", "1", PromType::kHistogram, true), "latency");
}

TEST(NamingTest, UnitAlreadyEndingTheNameIsNotRepeated) {
  EXPECT_EQ(PromMetricName("request.duration.seconds", "s", PromType::kHistogram, true),
            "request_duration_seconds");
  EXPECT_EQ(PromMetricName("seconds.to.birthday", "s", PromType::kGauge, true),
            "seconds_to_birthday_seconds");
  EXPECT_EQ(PromMetricName("used_ratio", "1", PromType::kGauge, true), "used_ratio");
}

TEST(NamingTest, InvalidCharactersBecomeASingleUnderscoreAndLeadingDigitIsPrefixed) {
  EXPECT_EQ(PromMetricName("(lambda).function..executions(#)", "", PromType::kGauge, true),
            "_lambda_function_executions_");
  EXPECT_EQ(PromMetricName("2xx.responses", "", PromType::kGauge, true), "_2xx_responses");
  EXPECT_EQ(PromMetricName("ns:http.requests", "", PromType::kGauge, true), "ns:http_requests");
  EXPECT_EQ(PromMetricName("café", "", PromType::kGauge, true), "caf_");
  EXPECT_EQ(PromMetricName("", "s", PromType::kGauge, true), "");
}

TEST(NamingTest, SuffixesCanBeTurnedOff) {
  EXPECT_EQ(PromMetricName("http.requests", "ms", PromType::kCounter, false), "http_requests");
  EXPECT_EQ(PromMetricName("usage", "1", PromType::kGauge, false), "usage");
  auto req = Request();
  AddHistogram(req, "lat", "s");
  TranslateOptions options;
  options.add_metric_suffixes = false;
  Output out = Translate(req, options);
  EXPECT_NE(out.Find("lat_bucket", "+Inf"), nullptr);
  EXPECT_NE(out.Find("lat_count"), nullptr);
}

TEST(NamingTest, AttributeKeysBecomeValidLabelNames) {
  EXPECT_EQ(PromLabelName("host.name"), "host_name");
  EXPECT_EQ(PromLabelName("2 cents"), "key_2_cents");
  EXPECT_EQ(PromLabelName("a..b"), "a_b");
  EXPECT_EQ(PromLabelName("_private"), "_private");
  EXPECT_EQ(PromLabelName("__name__"), "_name_");
  EXPECT_EQ(PromLabelName(""), "");
}

TEST(TranslateTest, MetricWithNoUsableNameIsDroppedAndCounted) {
  auto req = Request();
  AddGauge(req, "", 1);
  Output out = Translate(req);
  ASSERT_TRUE(out.status.ok());
  EXPECT_TRUE(out.series.empty());
  EXPECT_EQ(out.stats.dropped_invalid_name, 1u);
}

TEST(TranslateTest, CollidingAttributeKeysJoinTheirValuesInKeyOrder) {
  auto req = Request();
  AddGauge(req, "g", 1, {{"host.name", "b"}, {"host_name", "a"}, {"host-name", "c"}});
  Output out = Translate(req);
  ASSERT_EQ(out.series.size(), 1u);
  // '-' < '.' < '_'
  EXPECT_EQ(LabelValue(out.series[0].ts, "host_name"), "c;b;a");
  ExpectSortedUniqueNonEmpty(out.series[0].ts);
}

TEST(TranslateTest, AttributesCannotReplaceTheMetricNameOrTheResourceJob) {
  auto req = Request();
  AddGauge(req, "g", 1, {{"__name__", "evil"}, {"job", "mine"}});
  Output out = Translate(req);
  ASSERT_EQ(out.series.size(), 1u);
  EXPECT_EQ(LabelValue(out.series[0].ts, "__name__"), "g");
  EXPECT_EQ(LabelValue(out.series[0].ts, "_name_"), "evil");
  EXPECT_EQ(LabelValue(out.series[0].ts, "job"), "checkout");
}

TEST(TranslateTest, NonStringAttributeValuesAreJsonEncoded) {
  auto req = Request();
  auto* p = AddGauge(req, "g", 1);
  auto add = [p](const std::string& key) {
    auto* kv = p->add_attributes();
    kv->set_key(key);
    return kv->mutable_value();
  };
  add("b")->set_bool_value(true);
  add("i")->set_int_value(-5);
  add("d")->set_double_value(1.5);
  add("y")->set_bytes_value("hi");
  auto* arr = add("a")->mutable_array_value();
  arr->add_values()->set_int_value(1);
  arr->add_values()->set_string_value("x\"y");
  auto* kvl = add("k")->mutable_kvlist_value()->add_values();
  kvl->set_key("n");
  kvl->mutable_value()->set_bool_value(false);
  Output out = Translate(req);
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  const auto& ts = out.series[0].ts;
  EXPECT_EQ(LabelValue(ts, "b"), "true");
  EXPECT_EQ(LabelValue(ts, "i"), "-5");
  EXPECT_EQ(LabelValue(ts, "d"), "1.5");
  EXPECT_EQ(LabelValue(ts, "y"), "aGk=");
  EXPECT_EQ(LabelValue(ts, "a"), R"([1,"x\"y"])");
  EXPECT_EQ(LabelValue(ts, "k"), R"({"n":false})");
}

TEST(TranslateTest, EmptyAttributeValuesAreLeftOut) {
  auto req = Request();
  AddGauge(req, "g", 1, {{"empty", ""}, {"kept", "v"}});
  Output out = Translate(req);
  EXPECT_EQ(LabelValue(out.series[0].ts, "empty"), "<absent>");
  EXPECT_EQ(LabelValue(out.series[0].ts, "kept"), "v");
}

TEST(TranslateTest, NonUtf8AttributeValueDropsThePoint) {
  auto req = Request();
  AddGauge(req, "g", 1, {{"bad", std::string("\xff\xfe", 2)}});
  AddGauge(req, "ok", 1);
  Output out = Translate(req);
  EXPECT_EQ(out.Names(), (std::vector<std::string>{"ok"}));
  EXPECT_EQ(out.stats.dropped_invalid_point, 1u);
}

// ---------------------------------------------------------------------------
// Resource and scope.

TEST(TranslateTest, ServiceAttributesBecomeJobAndInstance) {
  auto req = Request({{"service.namespace", "shop"},
                      {"service.name", "checkout"},
                      {"service.instance.id", "pod-1"}});
  AddGauge(req, "g", 1);
  TranslateOptions options;
  options.send_target_info = false;
  Output out = Translate(req, options);
  ASSERT_EQ(out.series.size(), 1u);
  EXPECT_EQ(LabelsOf(out.series[0].ts),
            (Labels{{"__name__", "g"}, {"instance", "pod-1"}, {"job", "shop/checkout"}}));
}

TEST(TranslateTest, TargetInfoCarriesTheOtherResourceAttributesOncePerResource) {
  auto req = Request({{"service.name", "checkout"},
                      {"service.instance.id", "pod-1"},
                      {"host.name", "h1"},
                      {"deployment.environment", "prod"}});
  AddGauge(req, "g", 1);
  AddGauge(req, "later", 2)->set_time_unix_nano(kT + 5'000'000);
  // The same resource again in the same request: still one target_info.
  *req.add_resource_metrics() = req.resource_metrics(0);
  Output out = Translate(req);
  ASSERT_TRUE(out.status.ok());
  const auto* info = out.Find("target_info");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(LabelsOf(*info), (Labels{{"__name__", "target_info"},
                                     {"deployment_environment", "prod"},
                                     {"host_name", "h1"},
                                     {"instance", "pod-1"},
                                     {"job", "checkout"}}));
  EXPECT_EQ(info->samples(0).value(), 1.0);
  EXPECT_EQ(info->samples(0).timestamp(), kTms + 5);
  EXPECT_EQ(out.stats.target_info_series, 1u);
  // Resource attributes stay off the metric's own series.
  for (const auto& c : out.series) {
    if (LabelValue(c.ts, "__name__") != "target_info") {
      EXPECT_EQ(LabelValue(c.ts, "host_name"), "<absent>");
    }
  }
}

TEST(TranslateTest, EachDistinctResourceGetsItsOwnTargetInfo) {
  auto req = Request({{"service.name", "a"}, {"host.name", "h1"}});
  AddGauge(req, "g", 1);
  auto second = Request({{"service.name", "b"}, {"host.name", "h2"}});
  AddGauge(second, "g", 1);
  *req.add_resource_metrics() = second.resource_metrics(0);
  Output out = Translate(req);
  EXPECT_EQ(out.stats.target_info_series, 2u);
}

TEST(TranslateTest, TargetInfoIsNotSentWhenDisabledOrWithoutOtherAttributes) {
  auto only_identity = Request({{"service.name", "a"}, {"service.instance.id", "i"}});
  AddGauge(only_identity, "g", 1);
  EXPECT_EQ(Translate(only_identity).stats.target_info_series, 0u);

  auto rich = Request({{"service.name", "a"}, {"host.name", "h"}});
  AddGauge(rich, "g", 1);
  TranslateOptions options;
  options.send_target_info = false;
  Output out = Translate(rich, options);
  EXPECT_EQ(out.Find("target_info"), nullptr);

  auto no_points = Request({{"service.name", "a"}, {"host.name", "h"}});
  EXPECT_EQ(Translate(no_points).stats.target_info_series, 0u);
}

TEST(TranslateTest, ScopeNameAndVersionBecomeLabelsUnlessTurnedOff) {
  auto req = Request();
  auto* scope = req.mutable_resource_metrics(0)->mutable_scope_metrics(0)->mutable_scope();
  scope->set_name("io.sluice.http");
  scope->set_version("1.2.0");
  AddGauge(req, "g", 1);
  Output out = Translate(req);
  EXPECT_EQ(LabelValue(out.series[0].ts, "otel_scope_name"), "io.sluice.http");
  EXPECT_EQ(LabelValue(out.series[0].ts, "otel_scope_version"), "1.2.0");
  TranslateOptions options;
  options.add_scope_labels = false;
  out = Translate(req, options);
  EXPECT_EQ(LabelValue(out.series[0].ts, "otel_scope_name"), "<absent>");
}

// ---------------------------------------------------------------------------
// Staleness, temporality and unsupported types.

TEST(TranslateTest, NoRecordedValueFlagSendsTheStaleMarker) {
  auto req = Request();
  auto* g = AddGauge(req, "g", 0);
  g->clear_as_double();
  g->set_flags(1);
  auto* h = AddHistogram(req, "h");
  h->set_flags(1);
  auto* s = AddMetric(req, "s")->mutable_summary()->add_data_points();
  s->set_time_unix_nano(kT);
  s->set_flags(1);
  s->add_quantile_values()->set_quantile(0.5);
  Output out = Translate(req);
  ASSERT_TRUE(out.status.ok());
  ASSERT_EQ(out.series.size(), 1u + 6u + 3u);
  for (const auto& c : out.series) {
    EXPECT_EQ(Bits(c.ts.samples(0).value()), kStaleNaNBits) << LabelValue(c.ts, "__name__");
  }
}

TEST(TranslateTest, DeltaSumsAndHistogramsAreDroppedAndCounted) {
  auto req = Request();
  auto* sum = AddSum(req, "delta.requests", true, "", AGGREGATION_TEMPORALITY_DELTA);
  sum->add_data_points()->set_as_int(1);
  AddSum(req, "delta.updown", false, "", AGGREGATION_TEMPORALITY_DELTA);
  AddHistogram(req, "delta.latency");
  req.mutable_resource_metrics(0)
      ->mutable_scope_metrics(0)
      ->mutable_metrics(2)
      ->mutable_histogram()
      ->set_aggregation_temporality(AGGREGATION_TEMPORALITY_DELTA);
  AddGauge(req, "g", 1);
  Output out = Translate(req);
  ASSERT_TRUE(out.status.ok());
  EXPECT_EQ(out.Names(), (std::vector<std::string>{"g"}));
  EXPECT_EQ(out.stats.dropped_delta_temporality, 4u);
  EXPECT_EQ(out.stats.dropped_points, 4u);
  EXPECT_NE(out.stats.first_error.find("delta"), std::string::npos) << out.stats.first_error;
}

TEST(TranslateTest, UnspecifiedTemporalityIsDroppedAndCounted) {
  auto req = Request();
  AddSum(req, "s", true, "", pb::metrics::v1::AGGREGATION_TEMPORALITY_UNSPECIFIED);
  Output out = Translate(req);
  EXPECT_TRUE(out.series.empty());
  EXPECT_EQ(out.stats.dropped_unspecified_temporality, 1u);
}

TEST(TranslateTest, ExponentialHistogramsAreDroppedAndCounted) {
  auto req = Request();
  auto* eh = AddMetric(req, "eh")->mutable_exponential_histogram();
  eh->set_aggregation_temporality(AGGREGATION_TEMPORALITY_CUMULATIVE);
  eh->add_data_points()->set_count(3);
  eh->add_data_points()->set_count(4);
  Output out = Translate(req);
  ASSERT_TRUE(out.status.ok());
  EXPECT_TRUE(out.series.empty());
  EXPECT_EQ(out.stats.dropped_exponential_histogram, 2u);
  EXPECT_EQ(out.stats.dropped_points, 2u);
}

TEST(TranslateTest, PointWithoutValueAndMetricWithoutDataAreCounted) {
  auto req = Request();
  AddGauge(req, "g", 0)->clear_as_double();
  AddMetric(req, "nothing");
  Output out = Translate(req);
  ASSERT_TRUE(out.status.ok());
  EXPECT_TRUE(out.series.empty());
  EXPECT_EQ(out.stats.dropped_invalid_point, 1u);
  EXPECT_EQ(out.stats.dropped_no_data, 1u);
  EXPECT_EQ(out.stats.dropped_points, 1u);
}

TEST(TranslateTest, ExemplarsAreCountedAsDropped) {
  auto req = Request();
  AddGauge(req, "g", 1)->add_exemplars()->set_as_double(1);
  Output out = Translate(req);
  EXPECT_EQ(out.series.size(), 1u);
  EXPECT_EQ(out.stats.dropped_exemplars, 1u);
  EXPECT_EQ(out.stats.dropped_points, 0u);
}

// ---------------------------------------------------------------------------
// External labels.

TranslateOptions WithExternal(std::vector<Label> labels) {
  TranslateOptions o;
  o.external_labels = std::move(labels);
  return o;
}

TEST(ExternalLabelsTest, AreAddedToEverySeriesInSortedPosition) {
  auto req = Request({{"service.name", "checkout"}, {"host.name", "h"}});
  AddGauge(req, "g", 1, {{"zone", "z"}});
  Output out = Translate(req, WithExternal({{"replica", "r1"}, {"cluster", "eu1"}}));
  ASSERT_EQ(out.series.size(), 2u);
  EXPECT_EQ(LabelsOf(out.series[0].ts), (Labels{{"__name__", "g"},
                                                {"cluster", "eu1"},
                                                {"job", "checkout"},
                                                {"replica", "r1"},
                                                {"zone", "z"}}));
  EXPECT_EQ(LabelValue(*out.Find("target_info"), "cluster"), "eu1");
}

TEST(ExternalLabelsTest, DoNotOverrideALabelTheSeriesHas) {
  auto req = Request();
  AddGauge(req, "g", 1, {{"region", "us"}});
  Output out = Translate(req, WithExternal({{"job", "ext"}, {"region", "eu"}}));
  EXPECT_EQ(LabelValue(out.series[0].ts, "job"), "checkout");
  EXPECT_EQ(LabelValue(out.series[0].ts, "region"), "us");
  ExpectSortedUniqueNonEmpty(out.series[0].ts);

  auto anonymous = Request({});
  AddGauge(anonymous, "g", 1);
  out = Translate(anonymous, WithExternal({{"job", "ext"}}));
  EXPECT_EQ(LabelValue(out.series[0].ts, "job"), "ext");
}

TEST(ExternalLabelsTest, UnusableNamesAreRejected) {
  for (const char* bad : {"1abc", "__reserved", "a-b", ""}) {
    auto t = Translator::Create(WithExternal({{bad, "v"}}));
    EXPECT_FALSE(t.ok()) << bad;
    if (!t.ok()) {
      EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    }
  }
  EXPECT_FALSE(Translator::Create(WithExternal({{"a", "1"}, {"a", "2"}})).ok());
  EXPECT_TRUE(Translator::Create(WithExternal({{"a", ""}})).ok());
}

// ---------------------------------------------------------------------------
// Pass-through.

struct Split {
  Status status;
  CollectingSink sink;
  TranslateStats stats;
};

std::unique_ptr<Split> SplitBytes(std::string_view bytes, const TranslateOptions& options = {}) {
  auto out = std::make_unique<Split>();
  out->status = SplitWriteRequest(bytes, options, out->sink, &out->stats);
  return out;
}

TEST(SplitTest, WithoutExternalLabelsEachSeriesIsTheRequestsOwnBytes) {
  auto req = testing::MakeWriteRequest(5, 3, 1);
  std::string bytes = req.SerializeAsString();
  auto out = SplitBytes(bytes);
  ASSERT_TRUE(out->status.ok()) << out->status.ToString();
  ASSERT_EQ(out->sink.series.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(out->sink.series[i].bytes, req.timeseries(i).SerializeAsString());
    // Zero-copy: the view points into the request.
    EXPECT_GE(out->sink.views[i].data(), bytes.data());
    EXPECT_LE(out->sink.views[i].data() + out->sink.views[i].size(), bytes.data() + bytes.size());
  }
  EXPECT_EQ(out->stats.series, 5u);
  EXPECT_EQ(out->stats.samples, 15u);
}

TEST(SplitTest, ExternalLabelsAreMergedInSortedOrderAndSamplesKept) {
  auto req = testing::MakeWriteRequest(2, 3, 1);
  auto out = SplitBytes(req.SerializeAsString(),
                        WithExternal({{"zone", "z1"}, {"cluster", "c"}, {"job", "ignored"}}));
  ASSERT_TRUE(out->status.ok());
  ASSERT_EQ(out->sink.series.size(), 2u);
  const auto& ts = out->sink.series[1].ts;
  EXPECT_EQ(LabelsOf(ts), (Labels{{"__name__", "http_requests_total"},
                                  {"cluster", "c"},
                                  {"instance", "host-1"},
                                  {"job", "api"},
                                  {"path", "/p/1"},
                                  {"zone", "z1"}}));
  ASSERT_EQ(ts.samples_size(), 3);
  for (int s = 0; s < 3; ++s) {
    EXPECT_EQ(ts.samples(s).value(), req.timeseries(1).samples(s).value());
    EXPECT_EQ(ts.samples(s).timestamp(), req.timeseries(1).samples(s).timestamp());
  }
  EXPECT_EQ(out->sink.series[1].hash, LabelSetHash(ToLabels(ts)));
}

TEST(SplitTest, UnsortedLabelsAreRejected) {
  auto req = testing::MakeWriteRequest(1, 1, 1);
  req.mutable_timeseries(0)->mutable_labels()->SwapElements(1, 2);
  auto out = SplitBytes(req.SerializeAsString());
  EXPECT_EQ(out->status.code(), StatusCode::kInvalidArgument);
}

TEST(SplitTest, MetadataIsCountedAndDropped) {
  auto req = testing::MakeWriteRequest(1, 1, 1);
  req.add_metadata()->set_metric_family_name("http_requests_total");
  auto out = SplitBytes(req.SerializeAsString());
  ASSERT_TRUE(out->status.ok());
  EXPECT_EQ(out->sink.series.size(), 1u);
  EXPECT_EQ(out->stats.dropped_metadata, 1u);
}

// ---------------------------------------------------------------------------
// Label hashes.

TEST(HashTest, SameLabelSetHashesTheSameFromTranslationAndPassThrough) {
  auto req = Request();
  AddGauge(req, "g", 1, {{"a", "1"}});
  Output first = Translate(req);
  req.mutable_resource_metrics(0)
      ->mutable_scope_metrics(0)
      ->mutable_metrics(0)
      ->mutable_gauge()
      ->mutable_data_points(0)
      ->set_as_double(99);
  Output second = Translate(req);
  ASSERT_EQ(first.series.size(), 1u);
  ASSERT_EQ(second.series.size(), 1u);
  EXPECT_EQ(first.series[0].hash, second.series[0].hash);  // values do not count
  EXPECT_EQ(first.series[0].hash, LabelSetHash(ToLabels(first.series[0].ts)));

  prometheus::WriteRequest wr;
  *wr.add_timeseries() = first.series[0].ts;
  wr.mutable_timeseries(0)->mutable_samples(0)->set_value(5);
  auto split = SplitBytes(wr.SerializeAsString());
  ASSERT_EQ(split->sink.series.size(), 1u);
  EXPECT_EQ(split->sink.series[0].hash, first.series[0].hash);
}

TEST(HashTest, NonCanonicalLabelEncodingHashesLikeTheCanonicalOne) {
  // Value before name, a 5-byte length, and an empty-valued label: the same
  // label set as {__name__="m", a="b"}.
  std::string series;
  wire::ProtoWriter w(&series);
  std::string l1;
  wire::ProtoWriter(&l1).Bytes(2, "m");
  wire::ProtoWriter(&l1).Bytes(1, "__name__");
  w.Bytes(1, l1);
  size_t mark = w.BeginMessage(1);
  w.Bytes(1, "a");
  w.Bytes(2, "b");
  w.EndMessage(mark);
  std::string l3;
  wire::ProtoWriter(&l3).Bytes(1, "c");
  w.Bytes(1, l3);
  std::string request;
  wire::ProtoWriter(&request).Bytes(1, series);
  auto out = SplitBytes(request);
  ASSERT_TRUE(out->status.ok()) << out->status.ToString();
  ASSERT_EQ(out->sink.series.size(), 1u);
  EXPECT_EQ(out->sink.series[0].bytes, series);
  EXPECT_EQ(out->sink.series[0].hash, LabelSetHash({{"__name__", "m"}, {"a", "b"}}));
}

// Series as senders usually write them are read by a faster path; every
// departure from that form must still hash as its label set and count its
// samples.
TEST(HashTest, EveryLayoutOfOneLabelSetHashesAlike) {
  auto label = [](std::string_view n, std::string_view v) {
    std::string l;
    wire::ProtoWriter(&l).Bytes(1, n);
    wire::ProtoWriter(&l).Bytes(2, v);
    return l;
  };
  std::string sample;
  wire::ProtoWriter(&sample).Double(1, 1.5);
  wire::ProtoWriter(&sample).Varint(2, 1000);
  const std::string name = label("__name__", "m");
  const std::string a = label("a", "b");
  const std::string empty(
      "\x0a\x01"
      "e"
      "\x12\x00",
      5);  // name, then an empty value
  std::vector<std::vector<std::pair<uint32_t, std::string>>> layouts = {
      {{1, name}, {1, a}, {2, sample}},                  // the usual form
      {{1, name}, {2, sample}, {1, a}},                  // a label after the samples
      {{1, name}, {1, a}, {1, empty}, {2, sample}},      // an empty value
      {{1, name}, {1, a}, {2, sample}, {2, sample}},     // two samples
      {{1, name}, {1, a}, {9, "unknown"}, {2, sample}},  // an unknown field
  };
  for (size_t i = 0; i < layouts.size(); ++i) {
    std::string series;
    for (const auto& [field, bytes] : layouts[i]) wire::ProtoWriter(&series).Bytes(field, bytes);
    std::string request;
    wire::ProtoWriter(&request).Bytes(1, series);
    auto out = SplitBytes(request);
    ASSERT_TRUE(out->status.ok()) << i << ": " << out->status.ToString();
    ASSERT_EQ(out->sink.series.size(), 1u) << i;
    EXPECT_EQ(out->sink.series[0].bytes, series) << i;
    EXPECT_EQ(out->sink.series[0].hash, LabelSetHash({{"__name__", "m"}, {"a", "b"}})) << i;
    EXPECT_EQ(out->stats.samples, i == 3 ? 2u : 1u) << i;
  }
}

TEST(HashTest, DifferentLabelSetsHashDifferently) {
  auto req = testing::MakeWriteRequest(2000, 1, 1);
  auto out = SplitBytes(req.SerializeAsString());
  std::set<uint64_t> hashes;
  for (const auto& c : out->sink.series) hashes.insert(c.hash);
  EXPECT_EQ(hashes.size(), 2000u);
  // Moving a character across the name/value boundary is a different set.
  EXPECT_NE(LabelSetHash({{"a", "bc"}}), LabelSetHash({{"ab", "c"}}));
  EXPECT_NE(LabelSetHash({{"a", "b"}, {"c", "d"}}), LabelSetHash({{"a", "b"}}));
}

// ---------------------------------------------------------------------------
// Malformed input.

TEST(MalformedTest, TruncatedOtlpRequestIsInvalidArgumentNeverACrash) {
  auto req = testing::MakeMetricsRequest(3, 1);
  std::string bytes = req.SerializeAsString();
  for (size_t n = 0; n < bytes.size(); ++n) {
    CollectingSink sink;
    Status st = TranslateOtlpMetrics(std::string_view(bytes).substr(0, n), {}, sink, nullptr);
    EXPECT_TRUE(st.ok() || st.code() == StatusCode::kInvalidArgument) << n;
  }
  CollectingSink sink;
  Status st =
      TranslateOtlpMetrics(std::string_view(bytes).substr(0, bytes.size() - 1), {}, sink, nullptr);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
}

TEST(MalformedTest, WrongWireTypesAreInvalidArgument) {
  CollectingSink sink;
  // resource_metrics as a varint.
  EXPECT_EQ(TranslateOtlpMetrics(std::string("\x08\x01", 2), {}, sink, nullptr).code(),
            StatusCode::kInvalidArgument);
  // A gauge point whose time is a varint.
  auto req = Request();
  AddGauge(req, "g", 1);
  std::string point;
  wire::ProtoWriter(&point).Varint(3, 5);
  req.mutable_resource_metrics(0)
      ->mutable_scope_metrics(0)
      ->mutable_metrics(0)
      ->mutable_gauge()
      ->mutable_data_points(0)
      ->ParseFromString(point);  // unknown-to-protobuf wire type mismatch is kept
  std::string bytes = req.SerializeAsString();
  Status st = TranslateOtlpMetrics(bytes, {}, sink, nullptr);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("\"g\""), std::string::npos) << st.message();
  EXPECT_EQ(SplitBytes(std::string("\x08\x01", 2))->status.code(), StatusCode::kInvalidArgument);
}

TEST(MalformedTest, CorruptedBytesNeverCrashOrEscapeInvalidArgument) {
  auto req = testing::MakeMetricsRequest(4, 1);
  auto* summary = AddMetric(req, "s")->mutable_summary()->add_data_points();
  summary->add_quantile_values()->set_quantile(0.5);
  Attr(summary->mutable_attributes(), "k", "v");
  const std::string otlp = req.SerializeAsString();
  const std::string prw = testing::MakeWriteRequest(4, 2, 1).SerializeAsString();
  std::mt19937 rng(7);
  auto t = Translator::Create(WithExternal({{"cluster", "c"}}));
  ASSERT_TRUE(t.ok());
  // Without external labels, series in the usual form take the hand-read path.
  auto plain = Translator::Create({});
  ASSERT_TRUE(plain.ok());
  // Corrupted pass-through input need not decode (the splitter trusts the
  // receiver's validation), so the series are only counted here.
  class CountingSink : public SeriesSink {
   public:
    void Series(uint64_t, std::string_view ts, uint64_t) override { bytes += ts.size(); }
    size_t bytes = 0;
  } sink;
  for (int i = 0; i < 3000; ++i) {
    std::string a = otlp;
    std::string b = prw;
    for (int flips = 0; flips < 3; ++flips) {
      a[rng() % a.size()] = static_cast<char>(rng());
      b[rng() % b.size()] = static_cast<char>(rng());
    }
    Status st = (*t)->TranslateOtlpMetrics(a, sink, nullptr);
    EXPECT_TRUE(st.ok() || st.code() == StatusCode::kInvalidArgument) << st.ToString();
    st = (*t)->SplitWriteRequest(b, sink, nullptr);
    EXPECT_TRUE(st.ok() || st.code() == StatusCode::kInvalidArgument) << st.ToString();
    st = (*plain)->SplitWriteRequest(b, sink, nullptr);
    EXPECT_TRUE(st.ok() || st.code() == StatusCode::kInvalidArgument) << st.ToString();
  }
}

TEST(MalformedTest, TruncatedWriteRequestIsInvalidArgument) {
  std::string bytes = testing::MakeWriteRequest(3, 2, 1).SerializeAsString();
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto out = SplitBytes(std::string_view(bytes).substr(0, n));
    EXPECT_TRUE(out->status.ok() || out->status.code() == StatusCode::kInvalidArgument) << n;
  }
  EXPECT_EQ(SplitBytes(std::string_view(bytes).substr(0, bytes.size() - 1))->status.code(),
            StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Builder and end to end.

TEST(WriteRequestBuilderTest, BodyParsesAsAWriteRequestAndClearEmptiesIt) {
  auto req = testing::MakeWriteRequest(3, 2, 1);
  WriteRequestBuilder b;
  size_t expected = 0;
  for (const auto& ts : req.timeseries()) {
    std::string bytes = ts.SerializeAsString();
    expected += WriteRequestBuilder::EncodedSize(bytes);
    b.Add(bytes);
  }
  EXPECT_EQ(b.series(), 3u);
  EXPECT_EQ(b.bytes(), expected);
  EXPECT_EQ(b.body(), req.SerializeAsString());
  b.Clear();
  EXPECT_EQ(b.series(), 0u);
  EXPECT_EQ(b.bytes(), 0u);
}

class BuilderSink : public SeriesSink {
 public:
  void Series(uint64_t, std::string_view ts, uint64_t) override { builder.Add(ts); }
  WriteRequestBuilder builder;
};

TEST(TranslateTest, EveryTranslatedSeriesPassesTheRemoteWriteReceiversChecks) {
  auto req = testing::MakeMetricsRequest(20, 1);
  req.mutable_resource_metrics(0)
      ->mutable_scope_metrics(0)
      ->mutable_metrics(2)
      ->mutable_histogram()
      ->set_aggregation_temporality(AGGREGATION_TEMPORALITY_CUMULATIVE);
  Attr(req.mutable_resource_metrics(0)->mutable_resource()->mutable_attributes(), "os.type",
       "linux");
  AddGauge(req, "9.weird name!", 1, {{"0x", "1"}, {"ü", "2"}, {"Z", "3"}});
  auto t = Translator::Create(WithExternal({{"cluster", "c1"}}));
  ASSERT_TRUE(t.ok());
  BuilderSink sink;
  TranslateStats stats;
  ASSERT_TRUE((*t)->TranslateOtlpMetrics(req.SerializeAsString(), sink, &stats).ok());
  EXPECT_EQ(stats.dropped_points, 0u) << stats.first_error;
  // 20 gauge points, 1 counter, 3 buckets + the +Inf bucket + _count (no
  // sum), target_info and the oddly named gauge.
  EXPECT_EQ(stats.series, 20u + 1u + 5u + 1u + 1u);
  wire::prom::WriteInspection ins;
  ASSERT_TRUE(wire::prom::InspectWriteRequest(sink.builder.body(), &ins).ok());
  EXPECT_EQ(ins.series, stats.series);
  EXPECT_EQ(ins.rejected_series, 0u) << ins.first_error;

  // The same Translator again: buffers are reused and target_info is sent
  // once per request, so the output is the same.
  BuilderSink again;
  ASSERT_TRUE((*t)->TranslateOtlpMetrics(req.SerializeAsString(), again, nullptr).ok());
  EXPECT_EQ(again.builder.body(), sink.builder.body());
}

}  // namespace
}  // namespace sluice::exporters::prw
