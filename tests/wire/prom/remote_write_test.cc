#include "wire/prom/remote_write.h"

#include <gtest/gtest.h>

#include "support/otlp_builders.h"
#include "wire/prom/labels.h"
#include "wire/proto_writer.h"

namespace sluice::wire::prom {
namespace {

using sluice::testing::MakeWriteRequest;
using sluice::testing::MakeWriteRequestAt;

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

// Every byte value at every place of names from 1 to 20 bytes gets the
// answer of the plain rule [a-zA-Z_][a-zA-Z0-9_]*.
TEST(RemoteWriteTest, LabelNameCheckAgreesWithThePlainRuleForEveryByte) {
  auto plain = [](std::string_view n) {
    if (n.empty()) return false;
    for (size_t i = 0; i < n.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(n[i]);
      bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
      bool digit = c >= '0' && c <= '9';
      if (!(letter || (i > 0 && digit))) return false;
    }
    return true;
  };
  EXPECT_FALSE(ValidLabelName(""));
  EXPECT_FALSE(ValidLabelNameIn(std::string_view("x", 0), "x" + 1));
  for (size_t len = 1; len <= 20; ++len) {
    for (size_t at = 0; at < len; ++at) {
      for (int b = 0; b < 256; ++b) {
        // The name at the start of a buffer with bytes to spare (the
        // 16-byte step, up to 16 bytes), then ending the buffer (one byte
        // at a time); the spare bytes are valid name bytes, which must not
        // count.
        std::string buffer(len + 32, 'a');
        buffer[at] = static_cast<char>(b);
        std::string_view name(buffer.data(), len);
        ASSERT_EQ(ValidLabelName(name), plain(name))
            << "length " << len << ", byte " << b << " at " << at;
        ASSERT_EQ(ValidLabelNameIn(name, buffer.data() + buffer.size()), plain(name))
            << "length " << len << ", byte " << b << " at " << at;
        ASSERT_EQ(ValidLabelNameIn(name, name.data() + name.size()), plain(name))
            << "length " << len << ", byte " << b << " at " << at;
      }
    }
  }
}

// A label written without its value field (an empty value, as protobuf
// encoders leave it out) or without its name: read, not dereferenced.
TEST(RemoteWriteTest, LabelWithoutValueOrNameFieldIsReadSafely) {
  auto series_with = [](std::string_view label_bytes) {
    std::string series;
    ProtoWriter s(&series);
    size_t l = s.BeginMessage(field::kSeriesLabels);
    s.Bytes(field::kLabelName, "__name__");
    s.Bytes(field::kLabelValue, "up");
    s.EndMessage(l);
    s.Bytes(field::kSeriesLabels, label_bytes);
    std::string request;
    ProtoWriter(&request).Bytes(field::kWriteTimeseries, series);
    return request;
  };
  std::string name_only;
  ProtoWriter(&name_only).Bytes(field::kLabelName, "zone");
  WriteInspection ins;
  ASSERT_TRUE(InspectWriteRequest(series_with(name_only), &ins).ok());
  EXPECT_EQ(ins.rejected_series, 0u);
  std::string value_only;
  ProtoWriter(&value_only).Bytes(field::kLabelValue, "v");
  ASSERT_TRUE(InspectWriteRequest(series_with(value_only), &ins).ok());
  EXPECT_EQ(ins.rejected_series, 1u);
  EXPECT_NE(ins.first_error.find("invalid label name"), std::string::npos) << ins.first_error;
}

// The same for values: any byte at any place of values from 0 to 20 bytes,
// followed by bytes that are not UTF-8, gets ValidUtf8's answer.
TEST(RemoteWriteTest, ValueUtf8CheckInABufferLooksAtTheValueAlone) {
  for (size_t len = 0; len <= 20; ++len) {
    for (size_t at = 0; at <= len; ++at) {
      for (int b = 0; b < 256; ++b) {
        std::string buffer(len, 'v');
        buffer += std::string(32, '\xff');
        if (at < len) buffer[at] = static_cast<char>(b);
        std::string_view value(buffer.data(), len);
        ASSERT_EQ(ValidUtf8In(value, buffer.data() + buffer.size()), ValidUtf8(value))
            << "length " << len << ", byte " << b << " at " << at;
      }
    }
  }
  std::string two = "caf\xc3\xa9 and more";
  EXPECT_TRUE(ValidUtf8In(two, two.data() + two.size()));
  EXPECT_FALSE(ValidUtf8In(std::string_view(two.data(), 4), two.data() + two.size()));
}

// Labels are read by hand when written as most senders write them (name,
// then value, each under 128 bytes); any other valid encoding must be read
// the same way through the general reader.
TEST(RemoteWriteTest, LabelsInAnyValidEncodingAreReadAlike) {
  auto request = [](std::string_view second_name) {
    std::string series;
    ProtoWriter s(&series);
    size_t l = s.BeginMessage(field::kSeriesLabels);  // value written before name
    s.Bytes(field::kLabelValue, "up");
    s.Bytes(field::kLabelName, "__name__");
    s.EndMessage(l);
    l = s.BeginMessage(field::kSeriesLabels);  // a name of 130 bytes: two-byte length
    s.Bytes(field::kLabelName, second_name);
    s.Bytes(field::kLabelValue, "v");
    s.EndMessage(l);
    size_t sample = s.BeginMessage(field::kSeriesSamples);
    s.Double(field::kSampleValue, 1);
    s.Varint(field::kSampleTimestamp, 1'700'000'000'000);
    s.EndMessage(sample);
    std::string out;
    ProtoWriter(&out).Bytes(field::kWriteTimeseries, series);
    return out;
  };
  WriteInspection ok;
  ASSERT_TRUE(InspectWriteRequest(request(std::string(130, 'a')), &ok).ok());
  EXPECT_EQ(ok.series, 1u);
  EXPECT_EQ(ok.items, 1u);
  EXPECT_EQ(ok.rejected_series, 0u);
  // Read through the general reader, the names are still checked and
  // compared: "_" sorts before "__name__", and "9" may not start a name.
  for (std::string bad : {std::string(130, '_'), "9" + std::string(129, 'a')}) {
    WriteInspection ins;
    ASSERT_TRUE(InspectWriteRequest(request(bad), &ins).ok());
    EXPECT_EQ(ins.rejected_series, 1u) << bad;
  }
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

// 0 is a timestamp like any other (the epoch); before 1970 is negative.
TEST(RemoteWriteTest, ZeroAndNegativeTimestampsSetTheTimeRange) {
  WriteInspection ins;
  ASSERT_TRUE(InspectWriteRequest(MakeWriteRequestAt({5, 0, 7}).SerializeAsString(), &ins).ok());
  EXPECT_TRUE(ins.any_timestamp);
  EXPECT_EQ(ins.min_timestamp_ms, 0);
  EXPECT_EQ(ins.max_timestamp_ms, 7);
  ASSERT_TRUE(InspectWriteRequest(MakeWriteRequestAt({-20, -10}).SerializeAsString(), &ins).ok());
  EXPECT_EQ(ins.min_timestamp_ms, -20);
  EXPECT_EQ(ins.max_timestamp_ms, -10);
  ASSERT_TRUE(InspectWriteRequest(MakeWriteRequest(0, 0, 1).SerializeAsString(), &ins).ok());
  EXPECT_FALSE(ins.any_timestamp);
}

// A timestamp whose nanoseconds do not fit in int64 rejects its series
// (the receiver answers 400 with the reason) instead of overflowing.
TEST(RemoteWriteTest, TimestampPastTheYear2262RejectsItsSeriesSayingWhy) {
  auto req = MakeWriteRequestAt({kMaxTimestampMs, kMaxTimestampMs + 1, kMinTimestampMs, INT64_MIN});
  auto* h = req.mutable_timeseries(2)->add_histograms();
  h->set_timestamp(kMinTimestampMs - 1);
  req.mutable_timeseries(2)->clear_samples();
  WriteInspection ins;
  ASSERT_TRUE(InspectWriteRequest(req.SerializeAsString(), &ins).ok());
  EXPECT_EQ(ins.series_ok, (std::vector<bool>{true, false, false, false}));
  EXPECT_NE(ins.first_error.find("series 1: sample timestamp 9223372036855 ms is outside"),
            std::string::npos)
      << ins.first_error;
  EXPECT_EQ(ins.min_timestamp_ms, kMaxTimestampMs);
  EXPECT_EQ(ins.max_timestamp_ms, kMaxTimestampMs);

  auto histogram = MakeWriteRequestAt({0});
  histogram.mutable_timeseries(0)->clear_samples();
  histogram.mutable_timeseries(0)->add_histograms()->set_timestamp(kMinTimestampMs - 1);
  ASSERT_TRUE(InspectWriteRequest(histogram.SerializeAsString(), &ins).ok());
  EXPECT_EQ(ins.rejected_series, 1u);
  EXPECT_NE(ins.first_error.find("histogram timestamp -9223372036855 ms is outside"),
            std::string::npos)
      << ins.first_error;
}

TEST(RemoteWriteTest, MalformedRequestIsAnError) {
  WriteInspection ins;
  EXPECT_FALSE(InspectWriteRequest("\x0a\x30\x0a", &ins).ok());
}

}  // namespace
}  // namespace sluice::wire::prom
