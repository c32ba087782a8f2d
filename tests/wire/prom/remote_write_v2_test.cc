#include "wire/prom/remote_write_v2.h"

#include <gtest/gtest.h>

#include "support/otlp_builders.h"
#include "wire/prom/remote_write.h"
#include "wire/proto_writer.h"

namespace sluice::wire::prom {
namespace {

using sluice::testing::MakeWriteRequest;
using sluice::testing::MakeWriteRequestAt;
using sluice::testing::ToRemoteWriteV2;
namespace v2 = ::io::prometheus::write::v2;

V2Conversion Convert(const v2::Request& req) {
  V2Conversion c;
  Status st = ConvertRequestV2(req.SerializeAsString(), &c);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return c;
}

// A series with one exemplar and one histogram-only companion series.
prometheus::WriteRequest RequestWithExemplarsAndHistograms() {
  auto v1 = MakeWriteRequest(3, 2, 7);
  auto* ex = v1.mutable_timeseries(0)->add_exemplars();
  auto* l = ex->add_labels();
  l->set_name("trace_id");
  l->set_value("0af7651916cd43dd8448eb211c80319c");
  ex->set_value(0.25);
  ex->set_timestamp(1'700'000'007'001);
  auto* hs = v1.add_timeseries();
  auto* name = hs->add_labels();
  name->set_name("__name__");
  name->set_value("request_seconds");
  auto* h = hs->add_histograms();
  h->set_count_int(5);
  h->set_sum(2.5);
  h->set_schema(3);
  h->set_zero_threshold(1e-128);
  h->set_zero_count_int(1);
  auto* span = h->add_positive_spans();
  span->set_offset(-2);
  span->set_length(2);
  h->add_positive_deltas(3);
  h->add_positive_deltas(-2);
  h->set_reset_hint(prometheus::Histogram::NO);
  h->set_timestamp(1'700'000'007'500);
  return v1;
}

TEST(RemoteWriteV2Test, ConvertsToThe1_0FormByteForByte) {
  auto v1 = RequestWithExemplarsAndHistograms();
  V2Conversion c = Convert(ToRemoteWriteV2(v1));
  EXPECT_EQ(c.series, 4u);
  EXPECT_EQ(c.rejected_series(), 0u);
  EXPECT_EQ(c.samples, 6u);
  EXPECT_EQ(c.histograms, 1u);
  EXPECT_EQ(c.exemplars, 1u);
  EXPECT_EQ(c.min_timestamp_ms, 1'700'000'007'000);
  EXPECT_EQ(c.max_timestamp_ms, 1'700'000'007'500);
  EXPECT_EQ(c.write_request, v1.SerializeAsString());
}

// 0 is a timestamp like any other (the epoch); before 1970 is negative.
TEST(RemoteWriteV2Test, ZeroAndNegativeTimestampsSetTheTimeRange) {
  V2Conversion c = Convert(ToRemoteWriteV2(MakeWriteRequestAt({5, 0, 7})));
  EXPECT_TRUE(c.any_timestamp);
  EXPECT_EQ(c.min_timestamp_ms, 0);
  EXPECT_EQ(c.max_timestamp_ms, 7);
  c = Convert(ToRemoteWriteV2(MakeWriteRequestAt({-20, -10})));
  EXPECT_EQ(c.min_timestamp_ms, -20);
  EXPECT_EQ(c.max_timestamp_ms, -10);
  EXPECT_FALSE(Convert(ToRemoteWriteV2(MakeWriteRequest(0, 0, 1))).any_timestamp);
}

// A timestamp whose nanoseconds do not fit in int64 rejects its series
// (the receiver answers 400 with the reason) instead of overflowing.
TEST(RemoteWriteV2Test, TimestampPastTheYear2262RejectsItsSeriesSayingWhy) {
  V2Conversion c =
      Convert(ToRemoteWriteV2(MakeWriteRequestAt({kMaxTimestampMs, kMaxTimestampMs + 1})));
  EXPECT_EQ(c.invalid_series, 1u);
  EXPECT_EQ(c.samples, 1u);
  EXPECT_NE(c.first_error.find("series 1: sample timestamp 9223372036855 ms is outside"),
            std::string::npos)
      << c.first_error;
  EXPECT_EQ(c.max_timestamp_ms, kMaxTimestampMs);

  auto histogram = RequestWithExemplarsAndHistograms();
  histogram.mutable_timeseries(3)->mutable_histograms(0)->set_timestamp(kMinTimestampMs - 1);
  c = Convert(ToRemoteWriteV2(histogram));
  EXPECT_EQ(c.invalid_series, 1u);
  EXPECT_EQ(c.histograms, 0u);
  EXPECT_NE(c.first_error.find("series 3: histogram timestamp -9223372036855 ms is outside"),
            std::string::npos)
      << c.first_error;
}

TEST(RemoteWriteV2Test, EmptyLabelValuesAreLeftOutAsProto3Does) {
  auto v1 = MakeWriteRequest(1, 1, 1);
  v1.mutable_timeseries(0)->mutable_labels(2)->set_value("");
  V2Conversion c = Convert(ToRemoteWriteV2(v1));
  EXPECT_EQ(c.write_request, v1.SerializeAsString());
}

TEST(RemoteWriteV2Test, UnpackedLabelRefsAreAccepted) {
  // symbols: "", "__name__", "up"; labels_refs 1, 2 as two separate varints.
  std::string series;
  ProtoWriter s(&series);
  s.Varint(field_v2::kSeriesLabelsRefs, 1);
  s.Varint(field_v2::kSeriesLabelsRefs, 2);
  std::string sample;
  ProtoWriter(&sample).Double(field_v2::kSampleValue, 1.0);
  s.Bytes(field_v2::kSeriesSamples, sample);
  std::string req;
  ProtoWriter r(&req);
  for (const char* sym : {"", "__name__", "up"}) r.Bytes(field_v2::kRequestSymbols, sym);
  r.Bytes(field_v2::kRequestTimeseries, series);
  V2Conversion c;
  ASSERT_TRUE(ConvertRequestV2(req, &c).ok());
  EXPECT_EQ(c.rejected_series(), 0u);
  prometheus::WriteRequest out;
  ASSERT_TRUE(out.ParseFromString(c.write_request));
  ASSERT_EQ(out.timeseries_size(), 1);
  EXPECT_EQ(out.timeseries(0).labels(0).value(), "up");
  EXPECT_EQ(out.timeseries(0).samples(0).value(), 1.0);
}

TEST(RemoteWriteV2Test, BadRefsRejectTheirSeriesByIndex) {
  auto req = ToRemoteWriteV2(MakeWriteRequest(4, 2, 1));
  req.mutable_timeseries(1)->set_labels_refs(3, 999);  // out of range
  req.mutable_timeseries(2)->add_labels_refs(1);       // odd count
  V2Conversion c = Convert(req);
  EXPECT_EQ(c.invalid_series, 2u);
  EXPECT_EQ(c.invalid_items, 4u);
  EXPECT_EQ(c.samples, 4u);
  EXPECT_NE(c.first_error.find("series 1: symbol reference 999 is out of range"), std::string::npos)
      << c.first_error;
  prometheus::WriteRequest kept;
  ASSERT_TRUE(kept.ParseFromString(c.write_request));
  ASSERT_EQ(kept.timeseries_size(), 2);
  EXPECT_EQ(kept.timeseries(1).labels(3).value(), "/p/3");

  req = ToRemoteWriteV2(MakeWriteRequest(3, 1, 1));
  req.mutable_timeseries(2)->add_labels_refs(1);
  c = Convert(req);
  EXPECT_NE(c.first_error.find("series 2: labels_refs has an odd number"), std::string::npos)
      << c.first_error;
}

TEST(RemoteWriteV2Test, UnsortedRepeatedBadlyNamedAndNamelessSeriesAreRejected) {
  auto v1 = MakeWriteRequest(5, 1, 1);
  v1.mutable_timeseries(0)->mutable_labels()->SwapElements(1, 2);     // unsorted
  v1.mutable_timeseries(1)->mutable_labels(2)->set_name("instance");  // repeated
  v1.mutable_timeseries(2)->mutable_labels(3)->set_name("9path");     // invalid name
  v1.mutable_timeseries(3)->mutable_labels()->DeleteSubrange(0, 1);   // no __name__
  V2Conversion c = Convert(ToRemoteWriteV2(v1));
  EXPECT_EQ(c.invalid_series, 4u);
  EXPECT_EQ(c.samples, 1u);
  EXPECT_NE(c.first_error.find("series 0: labels must be sorted"), std::string::npos);

  v1 = MakeWriteRequest(2, 1, 1);
  v1.mutable_timeseries(1)->mutable_labels()->DeleteSubrange(0, 1);
  c = Convert(ToRemoteWriteV2(v1));
  EXPECT_EQ(c.first_error, "series 1: no __name__ label");
}

TEST(RemoteWriteV2Test, NonUtf8ValueRejectsItsSeries) {
  auto v1 = MakeWriteRequest(1, 1, 1);
  v1.mutable_timeseries(0)->mutable_labels(2)->set_value(std::string("\xff\xfe", 2));
  auto req = ToRemoteWriteV2(v1);
  std::string bytes = req.SerializePartialAsString();
  V2Conversion c;
  ASSERT_TRUE(ConvertRequestV2(bytes, &c).ok());
  EXPECT_EQ(c.invalid_series, 1u);
  EXPECT_NE(c.first_error.find("not UTF-8"), std::string::npos);
}

TEST(RemoteWriteV2Test, SamplesMixedWithHistogramsAreInvalid) {
  auto v1 = RequestWithExemplarsAndHistograms();
  auto req = ToRemoteWriteV2(v1);
  *req.mutable_timeseries(0)->add_histograms() = req.timeseries(3).histograms(0);
  V2Conversion c = Convert(req);
  EXPECT_EQ(c.invalid_series, 1u);
  EXPECT_EQ(c.invalid_items, 3u);
  EXPECT_NE(c.first_error.find("series 0: has both samples and histograms"), std::string::npos);
}

TEST(RemoteWriteV2Test, CustomBucketHistogramsAreUnsupported) {
  auto req = ToRemoteWriteV2(RequestWithExemplarsAndHistograms());
  auto* h = req.mutable_timeseries(3)->mutable_histograms(0);
  h->set_schema(-53);
  h->add_custom_values(0.1);
  h->add_custom_values(1);
  V2Conversion c = Convert(req);
  EXPECT_EQ(c.invalid_series, 0u);
  EXPECT_EQ(c.unsupported_series, 1u);
  EXPECT_EQ(c.unsupported_items, 1u);
  EXPECT_EQ(c.histograms, 0u);
  EXPECT_NE(c.first_error.find("series 3: native histogram with schema -53"), std::string::npos)
      << c.first_error;
}

TEST(RemoteWriteV2Test, MetadataBecomes1_0MetadataOncePerName) {
  auto req = ToRemoteWriteV2(MakeWriteRequest(2, 1, 1));
  req.add_symbols("Requests served.");
  for (auto& ts : *req.mutable_timeseries()) {
    ts.mutable_metadata()->set_type(v2::Metadata::METRIC_TYPE_COUNTER);
    ts.mutable_metadata()->set_help_ref(req.symbols_size() - 1);
    ts.set_created_timestamp(1'600'000'000'000);
  }
  V2Conversion c = Convert(req);
  prometheus::WriteRequest out;
  ASSERT_TRUE(out.ParseFromString(c.write_request));
  EXPECT_EQ(out.timeseries_size(), 2);
  ASSERT_EQ(out.metadata_size(), 1);
  EXPECT_EQ(out.metadata(0).type(), prometheus::MetricMetadata::COUNTER);
  EXPECT_EQ(out.metadata(0).metric_family_name(), "http_requests_total");
  EXPECT_EQ(out.metadata(0).help(), "Requests served.");

  req.mutable_timeseries(1)->mutable_metadata()->set_unit_ref(1000);
  c = Convert(req);
  EXPECT_NE(c.first_error.find("series 1: metadata symbol reference 1000"), std::string::npos);
}

TEST(RemoteWriteV2Test, MalformedRequestsAreErrors) {
  V2Conversion c;
  auto req = ToRemoteWriteV2(MakeWriteRequest(1, 1, 1));
  req.set_symbols(0, "x");
  Status st = ConvertRequestV2(req.SerializeAsString(), &c);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("symbols[0] must be the empty string"), std::string::npos);

  st = ConvertRequestV2(MakeWriteRequest(1, 1, 1).SerializeAsString(), &c);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("remote write 1.0 fields"), std::string::npos);

  EXPECT_FALSE(ConvertRequestV2("\x2a\x30\x0a", &c).ok());  // truncated
}

TEST(RemoteWriteV2Test, EmptyRequestConvertsToNothing) {
  V2Conversion c;
  ASSERT_TRUE(ConvertRequestV2("", &c).ok());
  EXPECT_EQ(c.series, 0u);
  EXPECT_TRUE(c.write_request.empty());
}

}  // namespace
}  // namespace sluice::wire::prom
