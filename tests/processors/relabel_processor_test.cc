#include "processors/relabel/relabel_processor.h"

#include <gtest/gtest.h>

#include "support/otlp_builders.h"
#include "wire/compression.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sluice::processors::relabel {
namespace {

namespace pb = testing::otlp_pb;
using Labels = std::vector<std::pair<std::string, std::string>>;

// A WriteRequest written field by field: series with sorted labels and
// `samples` samples each.
std::string WriteRequest(const std::vector<std::pair<Labels, int>>& series) {
  std::string out;
  wire::ProtoWriter w(&out);
  for (const auto& [labels, samples] : series) {
    size_t ts = w.BeginMessage(1);
    for (const auto& [n, v] : labels) {
      size_t l = w.BeginMessage(1);
      w.Bytes(1, n);
      w.Bytes(2, v);
      w.EndMessage(l);
    }
    for (int i = 0; i < samples; ++i) {
      size_t s = w.BeginMessage(2);
      w.Double(1, i);
      w.Varint(2, 1000 + i);
      w.EndMessage(s);
    }
    w.EndMessage(ts);
  }
  return out;
}

struct Series {
  Labels labels;
  int samples = 0;
};

std::vector<Series> ReadRequest(std::string_view request) {
  std::vector<Series> out;
  wire::ProtoReader r(request);
  while (r.Next()) {
    if (r.field() != 1) continue;
    Series s;
    wire::ProtoReader ts(r.bytes());
    while (ts.Next()) {
      if (ts.field() == 2) ++s.samples;
      if (ts.field() != 1) continue;
      std::string n, v;
      wire::ProtoReader l(ts.bytes());
      while (l.Next()) {
        if (l.field() == 1) n = l.bytes();
        if (l.field() == 2) v = l.bytes();
      }
      s.labels.emplace_back(n, v);
    }
    out.push_back(s);
  }
  return out;
}

class RelabelProcessorTest : public ::testing::Test {
 protected:
  RelabelOptions Parse(const std::string& yaml) {
    config::Context ctx("relabel.yaml");
    auto node = config::LoadString(yaml, ctx);
    RelabelOptions o;
    if (node) RelabelOptionsSchema().Parse(*node, &o, ctx);
    for (const auto& e : ctx.errors()) ADD_FAILURE() << e.ToString();
    return o;
  }
  uint64_t Counter(const char* name) {
    return registry_.AddCounter(name, "", {"processor"}).With({"relabel"}).Value();
  }
  telemetry::Registry registry_;
};

const char* kRules = R"y(
metric_relabel_configs:
  - source_labels: [__name__]
    regex: 'go_.*'
    action: drop
  - regex: pod
    action: labeldrop
  - source_labels: [instance]
    regex: '([^:]+):\d+'
    target_label: host
  - if: '{__name__="up"}'
    target_label: kind
    replacement: health
)y";

TEST_F(RelabelProcessorTest, RemoteWriteSeriesAreDroppedAndRelabelledWithSamplesKept) {
  RelabelProcessor p("relabel", Parse(kRules), registry_);
  std::string request = WriteRequest({
      {{{"__name__", "go_gc_seconds"}, {"instance", "a:9100"}}, 2},
      {{{"__name__", "up"}, {"instance", "a:9100"}, {"pod", "p-1"}}, 3},
      {{{"__name__", "x"}, {"job", "j"}}, 1},
  });
  pipeline::Processor::Output out;
  ASSERT_TRUE(
      p.Process({log::Signal::kMetrics, log::Encoding::kPromRemoteWriteProto, request, 6}, &out)
          .ok());
  ASSERT_TRUE(out.changed);
  EXPECT_EQ(out.items, 4u);
  auto series = ReadRequest(out.payload);
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[0].labels,
            (Labels{{"__name__", "up"}, {"host", "a"}, {"instance", "a:9100"}, {"kind", "health"}}))
      << "labels sorted, pod dropped";
  EXPECT_EQ(series[0].samples, 3);
  EXPECT_EQ(series[1].labels, (Labels{{"__name__", "x"}, {"job", "j"}}));
  EXPECT_EQ(Counter("sluice_processor_relabel_dropped_series_total"), 1u);
  EXPECT_EQ(Counter("sluice_processor_relabel_changed_series_total"), 1u);
}

TEST_F(RelabelProcessorTest, UnchangedRequestIsLeftAsReceivedAndSnappyStaysSnappy) {
  RelabelProcessor p("relabel", Parse(kRules), registry_);
  std::string request = WriteRequest({{{{"__name__", "x"}, {"job", "j"}}, 1}});
  pipeline::Processor::Output out;
  ASSERT_TRUE(
      p.Process({log::Signal::kMetrics, log::Encoding::kPromRemoteWriteProto, request, 1}, &out)
          .ok());
  EXPECT_FALSE(out.changed);

  std::string two = WriteRequest({{{{"__name__", "go_x"}}, 1}, {{{"__name__", "up"}}, 1}});
  std::string compressed = wire::Compress(wire::Compression::kSnappyBlock, two);
  pipeline::Processor::Output sout;
  ASSERT_TRUE(
      p.Process({log::Signal::kMetrics, log::Encoding::kPromRemoteWriteSnappy, compressed, 2},
                &sout)
          .ok());
  ASSERT_TRUE(sout.changed);
  std::string plain;
  ASSERT_TRUE(
      wire::Decompress(wire::Compression::kSnappyBlock, sout.payload, 1 << 20, &plain).ok());
  auto series = ReadRequest(plain);
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(series[0].labels, (Labels{{"__name__", "up"}, {"kind", "health"}}));
}

TEST_F(RelabelProcessorTest, OtlpPointsAreSeenAsThePrometheusTranslationNamesThem) {
  pb::collector::metrics::v1::ExportMetricsServiceRequest req;
  auto* rm = req.add_resource_metrics();
  auto* kv = rm->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("api");
  auto* m = rm->add_scope_metrics()->add_metrics();
  m->set_name("http.requests");
  auto* sum = m->mutable_sum();
  sum->set_is_monotonic(true);
  sum->set_aggregation_temporality(pb::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
  for (const char* method : {"GET", "POST", "DELETE"}) {
    auto* dp = sum->add_data_points();
    dp->set_as_int(1);
    auto* a = dp->add_attributes();
    a->set_key("http.method");
    a->mutable_value()->set_string_value(method);
    auto* c = dp->add_attributes();
    c->set_key("code");
    c->mutable_value()->set_int_value(200);
  }
  RelabelProcessor p("relabel", Parse(R"y(
metric_relabel_configs:
  - if: '{__name__="http_requests_total", job="api", http_method="DELETE"}'
    action: drop
  - source_labels: [http_method]
    regex: GET
    target_label: __name__
    replacement: http_gets_total
  - source_labels: [http_method]
    regex: POST
    target_label: write
    replacement: "yes"
)y"),
                     registry_);
  std::string payload = req.SerializeAsString();
  pipeline::Processor::Output out;
  ASSERT_TRUE(p.Process({log::Signal::kMetrics, log::Encoding::kOtlpProto, payload, 3}, &out).ok());
  ASSERT_TRUE(out.changed);
  EXPECT_EQ(out.items, 2u);
  pb::collector::metrics::v1::ExportMetricsServiceRequest got;
  ASSERT_TRUE(got.ParseFromString(out.payload));
  const auto& metrics = got.resource_metrics(0).scope_metrics(0).metrics();
  ASSERT_EQ(metrics.size(), 2) << "the renamed point became a metric of its own";
  EXPECT_EQ(metrics[0].name(), "http_gets_total");
  ASSERT_EQ(metrics[0].sum().data_points_size(), 1);
  EXPECT_TRUE(metrics[0].sum().is_monotonic());
  EXPECT_EQ(metrics[1].name(), "http.requests");
  ASSERT_EQ(metrics[1].sum().data_points_size(), 1);
  const auto& post = metrics[1].sum().data_points(0);
  ASSERT_EQ(post.attributes_size(), 3);
  EXPECT_EQ(post.attributes(0).key(), "http.method") << "unchanged attributes keep their keys";
  EXPECT_EQ(post.attributes(1).key(), "code");
  EXPECT_EQ(post.attributes(1).value().int_value(), 200) << "and their types";
  EXPECT_EQ(post.attributes(2).key(), "write");
  EXPECT_EQ(post.attributes(2).value().string_value(), "yes");
}

}  // namespace
}  // namespace sluice::processors::relabel
