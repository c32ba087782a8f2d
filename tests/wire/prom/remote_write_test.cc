#include "wire/prom/remote_write.h"

#include <gtest/gtest.h>

#include "support/otlp_builders.h"

namespace sluice::wire::prom {
namespace {

using sluice::testing::MakeWriteRequest;

TEST(RemoteWriteTest, CountsSeriesSamplesAndTimestamps) {
  WriteInspection ins;
  ASSERT_TRUE(InspectWriteRequest(MakeWriteRequest(5, 3, 1).SerializeAsString(), &ins).ok());
  EXPECT_EQ(ins.series, 5u);
  EXPECT_EQ(ins.items, 15u);
  EXPECT_EQ(ins.rejected_series, 0u);
  EXPECT_EQ(ins.min_timestamp_ms, 1'700'000'001'000);
  EXPECT_EQ(ins.max_timestamp_ms, 1'700'000'001'002);
}

TEST(RemoteWriteTest, UnsortedDuplicateAndBadlyNamedLabelsRejectTheirSeriesOnly) {
  auto req = MakeWriteRequest(4, 2, 1);
  req.mutable_timeseries(0)->mutable_labels()->SwapElements(1, 2);     // unsorted
  req.mutable_timeseries(1)->mutable_labels(2)->set_name("instance");  // repeated
  req.mutable_timeseries(2)->mutable_labels(3)->set_name("9path");     // invalid name
  std::string bytes = req.SerializeAsString();
  WriteInspection ins;
  ASSERT_TRUE(InspectWriteRequest(bytes, &ins).ok());
  EXPECT_EQ(ins.rejected_series, 3u);
  EXPECT_EQ(ins.rejected_items, 6u);
  EXPECT_NE(ins.first_error.find("series 0: labels must be sorted"), std::string::npos);
  prometheus::WriteRequest kept;
  ASSERT_TRUE(kept.ParseFromString(FilterWriteRequest(bytes, ins.series_ok)));
  ASSERT_EQ(kept.timeseries_size(), 1);
  EXPECT_EQ(kept.timeseries(0).labels(3).value(), "/p/3");
}

TEST(RemoteWriteTest, SeriesWithoutAMetricNameIsRejected) {
  auto req = MakeWriteRequest(1, 1, 1);
  req.mutable_timeseries(0)->mutable_labels()->DeleteSubrange(0, 1);
  WriteInspection ins;
  ASSERT_TRUE(InspectWriteRequest(req.SerializeAsString(), &ins).ok());
  EXPECT_EQ(ins.rejected_series, 1u);
  EXPECT_NE(ins.first_error.find("no __name__ label"), std::string::npos);
}

TEST(RemoteWriteTest, NonUtf8LabelValueIsRejected) {
  auto req = MakeWriteRequest(1, 1, 1);
  req.mutable_timeseries(0)->mutable_labels(2)->set_value(std::string("\xff\xfe", 2));
  WriteInspection ins;
  ASSERT_TRUE(InspectWriteRequest(req.SerializeAsString(), &ins).ok());
  EXPECT_EQ(ins.rejected_series, 1u);
}

TEST(RemoteWriteTest, MalformedRequestIsAnError) {
  WriteInspection ins;
  EXPECT_FALSE(InspectWriteRequest("\x0a\x30\x0a", &ins).ok());
}

}  // namespace
}  // namespace sluice::wire::prom
