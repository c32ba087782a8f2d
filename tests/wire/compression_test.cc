#include "wire/compression.h"

#include <gtest/gtest.h>

#include <random>

namespace sluice::wire {
namespace {

std::string Sample() {
  std::mt19937 rng(3);
  std::string s;
  for (int i = 0; i < 100000; ++i) s += static_cast<char>('a' + rng() % 4);
  return s;
}

TEST(CompressionTest, EveryFormatRoundTrips) {
  std::string in = Sample();
  for (Compression c :
       {Compression::kNone, Compression::kGzip, Compression::kZstd, Compression::kSnappyBlock}) {
    std::string out;
    ASSERT_TRUE(Decompress(c, Compress(c, in), 1 << 20, &out).ok());
    EXPECT_EQ(out, in);
  }
}

// The scratch buffer is reused: a shorter input after a longer one must not
// carry bytes of the first into the second's output.
TEST(CompressionTest, ReusedSnappyScratchGivesEachInputItsOwnBytes) {
  std::string scratch;
  std::string big = Sample();
  std::string small = "a short request body";
  for (const std::string& in : {big, small, big.substr(500, 7000)}) {
    std::string_view packed = SnappyCompressInto(in, &scratch);
    EXPECT_EQ(packed, Compress(Compression::kSnappyBlock, in));
    std::string back;
    ASSERT_TRUE(Decompress(Compression::kSnappyBlock, packed, 1 << 20, &back).ok());
    EXPECT_TRUE(back == in);
  }
}

TEST(CompressionTest, ReusedSnappyDecompressScratchGivesEachInputItsOwnBytes) {
  std::string scratch;
  std::string big = Sample();
  for (const std::string& in : {big, std::string("a short request body"), big.substr(9, 700)}) {
    std::string_view out;
    ASSERT_TRUE(
        SnappyDecompressInto(Compress(Compression::kSnappyBlock, in), 1 << 20, &scratch, &out)
            .ok());
    EXPECT_TRUE(out == in);
  }
  std::string_view out = "stale";
  std::string packed = Compress(Compression::kSnappyBlock, big);
  EXPECT_EQ(SnappyDecompressInto(packed, big.size() - 1, &scratch, &out).code(),
            StatusCode::kResourceExhausted);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(
      SnappyDecompressInto(packed.substr(0, packed.size() / 2), 1 << 20, &scratch, &out).code(),
      StatusCode::kInvalidArgument);
  EXPECT_TRUE(out.empty());
}

TEST(CompressionTest, CompressionBombStopsAtTheLimit) {
  std::string zeros(64 << 20, '\0');  // 64 MiB of zeros compresses to almost nothing
  for (Compression c : {Compression::kGzip, Compression::kZstd, Compression::kSnappyBlock}) {
    std::string bomb = Compress(c, zeros);
    ASSERT_LT(bomb.size(), 4u << 20);
    std::string out;
    Status st = Decompress(c, bomb, 1 << 20, &out);
    EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
    EXPECT_LE(out.capacity(), 2u << 20) << "held more than the limit while refusing";
  }
}

TEST(CompressionTest, GarbageAndTruncationAreInvalidArgument) {
  std::string in = Sample();
  for (Compression c : {Compression::kGzip, Compression::kZstd, Compression::kSnappyBlock}) {
    std::string out;
    EXPECT_EQ(Decompress(c, "definitely not compressed", 1 << 20, &out).code(),
              StatusCode::kInvalidArgument);
    std::string packed = Compress(c, in);
    EXPECT_EQ(Decompress(c, packed.substr(0, packed.size() / 2), 1 << 20, &out).code(),
              StatusCode::kInvalidArgument);
  }
}

TEST(CompressionTest, ParsesContentEncodingNames) {
  Compression c;
  EXPECT_TRUE(ParseContentEncoding("", &c));
  EXPECT_EQ(c, Compression::kNone);
  EXPECT_TRUE(ParseContentEncoding("GZIP", &c));
  EXPECT_EQ(c, Compression::kGzip);
  EXPECT_TRUE(ParseContentEncoding("zstd", &c));
  EXPECT_FALSE(ParseContentEncoding("br", &c));
}

}  // namespace
}  // namespace sluice::wire
