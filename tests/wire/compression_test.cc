#include "wire/compression.h"

#include <gtest/gtest.h>
#include <zstd.h>
#include <zstd_errors.h>

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

// A zstd frame of one raw block holding `content`, declaring a window of
// 2^window_log and no content size: what a hostile client sends to make the
// decoder allocate the window.
std::string ZstdFrameWithWindow(int window_log, std::string_view content) {
  std::string f = {'\x28', '\xb5', '\x2f', '\xfd'};
  f.push_back('\0');  // no content size, not single-segment, no checksum
  f.push_back(static_cast<char>((window_log - 10) << 3));
  uint32_t block = static_cast<uint32_t>(content.size()) << 3 | 1;  // raw, last
  for (int i = 0; i < 3; ++i) f.push_back(static_cast<char>(block >> (8 * i)));
  f += content;
  return f;
}

// Compresses as a streaming encoder does: the window chosen up front, the
// size never pledged, so the frame states no content size.
std::string StreamZstd(std::string_view in, int window_log) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  EXPECT_FALSE(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, window_log)));
  std::string out(ZSTD_compressBound(in.size()) + 1024, '\0');
  ZSTD_outBuffer o{out.data(), out.size(), 0};
  ZSTD_inBuffer i{in.data(), in.size() / 2, 0};
  // A first call that does not end the frame keeps the size unknown.
  EXPECT_FALSE(ZSTD_isError(ZSTD_compressStream2(cctx, &o, &i, ZSTD_e_continue)));
  i.size = in.size();
  size_t left = 0;
  do {
    left = ZSTD_compressStream2(cctx, &o, &i, ZSTD_e_end);
    EXPECT_FALSE(ZSTD_isError(left));
  } while (left != 0 && !ZSTD_isError(left));
  ZSTD_freeCCtx(cctx);
  out.resize(o.pos);
  return out;
}

std::string Letters(size_t n) {
  std::mt19937 rng(7);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>('a' + rng() % 4);
  return s;
}

TEST(CompressionTest, ZstdWindowLimitCoversTheCapWithinEightTo128MiB) {
  EXPECT_EQ(ZstdWindowLogLimit(0), 23);
  EXPECT_EQ(ZstdWindowLogLimit(1 << 20), 23);
  EXPECT_EQ(ZstdWindowLogLimit(8 << 20), 23);
  EXPECT_EQ(ZstdWindowLogLimit((8 << 20) + 1), 24);
  EXPECT_EQ(ZstdWindowLogLimit(16 << 20), 24);
  EXPECT_EQ(ZstdWindowLogLimit(100 << 20), 27);
  EXPECT_EQ(ZstdWindowLogLimit(256ull << 20), 27);
  EXPECT_EQ(ZstdWindowLogLimit(UINT64_MAX), 27);
}

TEST(CompressionTest, TinyZstdFrameDeclaringA128MiBWindowIsRefusedWithoutAllocatingIt) {
  const std::string frame = ZstdFrameWithWindow(27, "tiny");
  ASSERT_LT(frame.size(), 16u);
  {
    // The threat: a decoder with zstd's default limit takes the frame and
    // allocates its whole window for four bytes of output.
    ZSTD_DCtx* dctx = ZSTD_createDCtx();
    std::string plain(64, '\0');
    ZSTD_inBuffer in{frame.data(), frame.size(), 0};
    ZSTD_outBuffer out{plain.data(), plain.size(), 0};
    EXPECT_EQ(ZSTD_decompressStream(dctx, &out, &in), 0u);
    EXPECT_EQ(std::string_view(plain.data(), out.pos), "tiny");
    EXPECT_GT(ZSTD_sizeof_DCtx(dctx), 100u << 20);
    ZSTD_freeDCtx(dctx);
  }
  {
    // With the limit Decompress sets, zstd refuses at the frame header,
    // before the window buffer exists.
    ZSTD_DCtx* dctx = ZSTD_createDCtx();
    ASSERT_FALSE(ZSTD_isError(
        ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, ZstdWindowLogLimit(16 << 20))));
    std::string plain(64, '\0');
    ZSTD_inBuffer in{frame.data(), frame.size(), 0};
    ZSTD_outBuffer out{plain.data(), plain.size(), 0};
    size_t rc = ZSTD_decompressStream(dctx, &out, &in);
    EXPECT_EQ(ZSTD_getErrorCode(rc), ZSTD_error_frameParameter_windowTooLarge);
    EXPECT_LT(ZSTD_sizeof_DCtx(dctx), 1u << 20);
    ZSTD_freeDCtx(dctx);
  }
  std::string out;
  Status st = Decompress(Compression::kZstd, frame, 16 << 20, &out);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(),
            "invalid zstd body: the frame's window is larger than the limit of 16 MiB");
  EXPECT_TRUE(out.empty());
  st = Decompress(Compression::kZstd, frame, 1 << 20, &out);
  EXPECT_EQ(st.message(),
            "invalid zstd body: the frame's window is larger than the limit of 8 MiB");
}

TEST(CompressionTest, StreamedZstdWithAnEightMiBWindowAndNoContentSizeIsAccepted) {
  const std::string in = Sample();
  const std::string frame = StreamZstd(in, 23);
  ASSERT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()), ZSTD_CONTENTSIZE_UNKNOWN);
  ASSERT_GT(frame.size(), 6u);
  ASSERT_EQ(frame[4] & 0x20, 0) << "single-segment frames have no window descriptor";
  ASSERT_EQ(static_cast<uint8_t>(frame[5]), (23 - 10) << 3) << "the frame's window is not 8 MiB";
  // Even under a cap far below the window, as a receiver with a small limit has.
  std::string out;
  Status st = Decompress(Compression::kZstd, frame, 1 << 20, &out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(out == in);
  // And a hand-made frame declaring the same window.
  ASSERT_TRUE(Decompress(Compression::kZstd, ZstdFrameWithWindow(23, "small"), 1 << 20, &out).ok());
  EXPECT_EQ(out, "small");
}

TEST(CompressionTest, ZstdBodyJustUnderTheCapDecodes) {
  constexpr uint64_t kCap = 12 << 20;  // window limit 16 MiB
  const std::string in = Letters(kCap - 1);
  for (const std::string& frame : {Compress(Compression::kZstd, in), StreamZstd(in, 24)}) {
    std::string out;
    Status st = Decompress(Compression::kZstd, frame, kCap, &out);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_TRUE(out == in);
  }
}

// The limit comes from the cap in force: a 16 MiB window is more than a cap
// of 8 MiB could ever need.
TEST(CompressionTest, ZstdWindowBeyondWhatTheCapNeedsIsRefused) {
  const std::string frame = StreamZstd(Sample(), 24);
  std::string out;
  EXPECT_TRUE(Decompress(Compression::kZstd, frame, 16 << 20, &out).ok());
  Status st = Decompress(Compression::kZstd, frame, 8 << 20, &out);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(),
            "invalid zstd body: the frame's window is larger than the limit of 8 MiB");
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
