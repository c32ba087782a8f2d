#include "log/format.h"

#include <gtest/gtest.h>

namespace sluice::log {
namespace {

TEST(FormatTest, FrameRoundTripsEveryHeaderField) {
  BatchHeader h;
  h.base_offset = 123456789;
  h.item_count = 77;
  h.signal = Signal::kLogs;
  h.encoding = Encoding::kOtlpProto;
  h.min_event_unix_nanos = -5;
  h.max_event_unix_nanos = 99;
  h.append_unix_nanos = 1234;
  h.pipelines = {PipelineId("logs/b"), PipelineId("logs")};
  std::string frame;
  EncodeFrame(h, "tenant-a", "payload bytes", &frame);
  ASSERT_EQ(frame.size(), kFrameHeaderSize + 2 * 4 + 8 + 13);
  ASSERT_EQ(kFrameHeaderSize, 61u);
  ASSERT_EQ(FrameSizeFromPrefix(frame), frame.size());
  DecodedFrame d;
  ASSERT_EQ(DecodeFrame(frame, &d), DecodeResult::kOk);
  EXPECT_EQ(d.header.base_offset, h.base_offset);
  EXPECT_EQ(d.header.item_count, h.item_count);
  EXPECT_EQ(d.header.signal, h.signal);
  EXPECT_EQ(d.header.min_event_unix_nanos, -5);
  EXPECT_EQ(d.header.max_event_unix_nanos, 99);
  EXPECT_EQ(d.header.append_unix_nanos, 1234);
  EXPECT_EQ(d.header.pipelines, (PipelineSet{PipelineId("logs/b"), PipelineId("logs")}));
  EXPECT_EQ(d.tenant, "tenant-a");
  EXPECT_EQ(d.payload, "payload bytes");
}

TEST(FormatTest, AnyFlippedBitIsCorruption) {
  std::string frame;
  EncodeFrame(BatchHeader{}, "", "abcdefgh", &frame);
  for (size_t i = 0; i < frame.size(); ++i) {
    std::string bad = frame;
    bad[i] ^= 0x10;
    DecodedFrame d;
    EXPECT_NE(DecodeFrame(bad, &d), DecodeResult::kOk) << "byte " << i;
  }
}

TEST(FormatTest, ShortFrameNeedsMore) {
  std::string frame;
  EncodeFrame(BatchHeader{}, "", "abcdefgh", &frame);
  DecodedFrame d;
  EXPECT_EQ(DecodeFrame(std::string_view(frame).substr(0, frame.size() - 1), &d),
            DecodeResult::kNeedMore);
}

TEST(FormatTest, SegmentNamesSortByOffset) {
  EXPECT_EQ(SegmentFileName(42), "00000000000000000042.seg");
  uint64_t base;
  ASSERT_TRUE(ParseSegmentFileName("00000000000000000042.seg", &base));
  EXPECT_EQ(base, 42u);
  EXPECT_FALSE(ParseSegmentFileName("42.seg", &base));
  EXPECT_FALSE(ParseSegmentFileName("0000000000000000004x.seg", &base));
  EXPECT_LT(SegmentFileName(9), SegmentFileName(10));
}

TEST(FormatTest, SegmentHeaderChecksMagicAndVersion) {
  std::string h = EncodeSegmentHeader(7, 0);
  ASSERT_EQ(h.size(), kSegmentHeaderSize);
  uint64_t base;
  ASSERT_TRUE(DecodeSegmentHeader(h, &base));
  EXPECT_EQ(base, 7u);
  std::string wrong_version = h;
  wrong_version[8] = 9;
  EXPECT_FALSE(DecodeSegmentHeader(wrong_version, &base));
  std::string wrong_magic = h;
  wrong_magic[0] = 'X';
  EXPECT_FALSE(DecodeSegmentHeader(wrong_magic, &base));
}

}  // namespace
}  // namespace sluice::log
