#include "wire/prom/remote_read.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "prometheus/remote.pb.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sluice::wire::prom {
namespace {

// Samples compared bit for bit, so NaN payloads and -0.0 count.
struct Bits {
  int64_t t;
  uint64_t v;
  bool operator==(const Bits&) const = default;
};
std::vector<Bits> AsBits(std::span<const Sample> samples) {
  std::vector<Bits> out;
  for (const Sample& s : samples) out.push_back({s.timestamp_ms, std::bit_cast<uint64_t>(s.value)});
  return out;
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    if (!out.empty()) out.push_back(' ');
    out.push_back(kDigits[static_cast<uint8_t>(c) >> 4]);
    out.push_back(kDigits[static_cast<uint8_t>(c) & 0xF]);
  }
  return out;
}

std::string Bytes(std::initializer_list<uint8_t> bytes) {
  std::string out;
  for (uint8_t b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

std::string XorChunk(std::span<const Sample> samples) {
  std::string out;
  EncodeXorChunk(samples, &out);
  return out;
}

void ExpectRoundTrip(const std::vector<Sample>& samples) {
  const std::string chunk = XorChunk(samples);
  std::vector<Sample> decoded;
  Status st = DecodeXorChunk(chunk, &decoded);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(AsBits(decoded), AsBits(samples));
}

// --- XOR chunks --------------------------------------------------------------

// The bytes below are worked out by hand from the format, not taken from
// the encoder, so that a mistake shared by the encoder and the decoder
// cannot pass.
//
//   count 4                                   00 04
//   s0 t=1000: zigzag 2000 = 0x50 + 15<<7     d0 0f            (varint)
//      v=1.0                                  3f f0 00 00 00 00 00 00
//   s1 t=1015: delta 15                       0f
//      v=2.0: xor 1.0 = 0x7ff0000000000000, 1 leading zero, 52 trailing:
//      '1' '1' (new window) 00001 (leading) 001011 (11 meaningful bits)
//      11111111111
//   s2 t=1031: delta 16, dod +1: '10' 00000000000001
//      v=2.0: '0' (unchanged)
//   s3 t=1040: delta 9, dod -7: '10' 11111111111001 (2^14 - 7)
//      v=1.0: xor as before, 1 and 52 zeros fit the window: '1' '0'
//      11111111111
//
//   bit stream after 0f:
//     11000010 01011111 11111111 10000000 00000001 01011111 11111100
//     11011111 111111|00 (padding)
//   = c2 5f ff 80 01 5f fc df fc
TEST(RemoteReadXorTest, KnownChunkMatchesTheBitLayoutWorkedOutByHand) {
  const std::vector<Sample> samples = {{1000, 1.0}, {1015, 2.0}, {1031, 2.0}, {1040, 1.0}};
  const std::string want =
      Bytes({0x00, 0x04, 0xd0, 0x0f, 0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00,
             0x00, 0x0f, 0xc2, 0x5f, 0xff, 0x80, 0x01, 0x5f, 0xfc, 0xdf, 0xfc});
  EXPECT_EQ(Hex(XorChunk(samples)), Hex(want));
  std::vector<Sample> decoded;
  ASSERT_TRUE(DecodeXorChunk(want, &decoded).ok());
  EXPECT_EQ(AsBits(decoded), AsBits(samples));
}

// Prometheus' k-bit dod ranges are [-(2^(k-1) - 1), 2^(k-1)]: +8192 goes in
// 14 bits as 10000000000000, which a plain sign extension would read as
// -8192; -8192 needs the 17-bit bucket. By hand, samples (0, 0.0), (1, 0.0),
// then t2 with value 0.0:
//   00 03 | 00 (zigzag 0) | 8 zero bytes (0.0) | 01 (delta 1) | bits:
//   t2 = 8194 (dod +8192): '0' '10' 10000000000000 '0'   -> 50 00 00
//   t2 = -8190 (dod -8192): '0' '110' 11110000000000000 '0' -> 6f 00 00
TEST(RemoteReadXorTest, DodAtTheBucketEdgeFollowsPrometheusLopsidedRanges) {
  const std::string head = Bytes({0x00, 0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x01});
  const std::vector<Sample> up = {{0, 0.0}, {1, 0.0}, {8194, 0.0}};
  const std::vector<Sample> down = {{0, 0.0}, {1, 0.0}, {-8190, 0.0}};
  EXPECT_EQ(Hex(XorChunk(up)), Hex(head + Bytes({0x50, 0x00, 0x00})));
  EXPECT_EQ(Hex(XorChunk(down)), Hex(head + Bytes({0x6f, 0x00, 0x00})));
  std::vector<Sample> decoded;
  ASSERT_TRUE(DecodeXorChunk(head + Bytes({0x50, 0x00, 0x00}), &decoded).ok());
  ASSERT_EQ(decoded.size(), 3u);
  EXPECT_EQ(decoded[2].timestamp_ms, 8194);
}

TEST(RemoteReadXorTest, TrickyValuesSurviveBitForBit) {
  const double inf = std::numeric_limits<double>::infinity();
  const double quiet_nan = std::numeric_limits<double>::quiet_NaN();
  // Prometheus' staleness marker: a NaN with a payload.
  const double stale_nan = std::bit_cast<double>(uint64_t{0x7ff0000000000002});
  const std::vector<double> values = {0.0,
                                      -0.0,
                                      0.0,
                                      1.0,
                                      1.0,
                                      1.0,
                                      quiet_nan,
                                      stale_nan,
                                      quiet_nan,
                                      inf,
                                      -inf,
                                      std::numeric_limits<double>::max(),
                                      std::numeric_limits<double>::lowest(),
                                      std::numeric_limits<double>::min(),
                                      std::numeric_limits<double>::denorm_min(),
                                      -std::numeric_limits<double>::denorm_min(),
                                      1e-300,
                                      1e300,
                                      0.1,
                                      0.2,
                                      0.30000000000000004,
                                      -12345.678,
                                      std::bit_cast<double>(uint64_t{1}),  // 63 leading zeros
                                      std::bit_cast<double>(uint64_t{0x8000000000000001}),
                                      42.0};
  std::vector<Sample> samples;
  int64_t t = 1'700'000'000'000;
  for (double v : values) samples.push_back({t += 15'000, v});
  ExpectRoundTrip(samples);
}

// One dod at each edge of each bucket, both signs, and the 64-bit bucket.
TEST(RemoteReadXorTest, TimestampsHittingEveryDodBucketSurvive) {
  const std::vector<std::vector<int64_t>> buckets = {
      {0},
      {1, -1, 8191, 8192, -8191},
      {-8192, 8193, 65535, 65536, -65535},
      {-65536, 65537, 524287, 524288, -524287},
      {-524288, 524289, 1 << 24, -(1 << 24), 1'000'000'000'000, -2'000'000'000'000},
  };
  std::vector<int64_t> dods;
  for (const auto& bucket : buckets) dods.insert(dods.end(), bucket.begin(), bucket.end());
  dods.insert(dods.end(), {0, 0, 7});
  std::vector<Sample> samples = {{1'000'000'000'000, 1.0}, {1'000'000'015'000, 2.0}};
  int64_t delta = 15'000;
  for (int64_t dod : dods) {
    delta += dod;
    samples.push_back({samples.back().timestamp_ms + delta, static_cast<double>(samples.size())});
  }
  ExpectRoundTrip(samples);
}

// The prefix the encoder writes for the third sample's dod: '0', '10',
// '110', '1110' or '1111', read from the bits right after the second
// sample's unchanged value ('0') of (0, 0.0), (1, 0.0), (2 + dod, 0.0).
TEST(RemoteReadXorTest, EncoderPicksTheSmallestBucketThatHoldsTheDod) {
  const std::vector<std::pair<int64_t, int>> cases = {
      {0, 0},       {1, 1},      {-1, 1},      {8192, 1},     {-8191, 1},  {8193, 2},
      {-8192, 2},   {65536, 2},  {-65535, 2},  {65537, 3},    {-65536, 3}, {524288, 3},
      {-524287, 3}, {524289, 4}, {-524288, 4}, {1LL << 40, 4}};
  for (auto [dod, ones] : cases) {
    const std::string chunk = XorChunk(std::vector<Sample>{{0, 0.0}, {1, 0.0}, {2 + dod, 0.0}});
    // count (2) + zigzag 0 (1) + 0.0 (8) + delta 1 (1), then the bit stream.
    ASSERT_GT(chunk.size(), 12u);
    const auto bits = static_cast<uint8_t>(chunk[12]);
    EXPECT_EQ(bits >> 7, 0) << "the second value is unchanged";
    int got = 0;
    while (got < 4 && (bits >> (6 - got)) & 1) ++got;
    EXPECT_EQ(got, ones) << "dod " << dod;
  }
}

TEST(RemoteReadXorTest, NegativeAndWrappingDeltasSurvive) {
  const int64_t min = std::numeric_limits<int64_t>::min();
  const int64_t max = std::numeric_limits<int64_t>::max();
  ExpectRoundTrip({{5000, 1}, {1000, 2}, {-3000, 3}, {-3000, 3}, {max, 4}, {min, 5}, {0, 6}});
  ExpectRoundTrip({{min, 1}, {max, 2}});
  ExpectRoundTrip({{-1, -1}});
}

TEST(RemoteReadXorTest, ChunksOfZeroOneTwoAndOneHundredTwentySamplesSurvive) {
  ExpectRoundTrip({});
  ExpectRoundTrip({{1'700'000'000'000, 3.5}});
  ExpectRoundTrip({{1'700'000'000'000, 3.5}, {1'700'000'000'015, 3.5}});
  std::vector<Sample> scrape;
  for (int i = 0; i < 120; ++i) {
    // A counter scraped every 15 s with a little jitter.
    scrape.push_back({1'700'000'000'000 + 15'000 * i + (i % 7) - 3, 1000.0 + i * 0.25});
  }
  ExpectRoundTrip(scrape);
  EXPECT_EQ(XorChunk({}), Bytes({0x00, 0x00}));
}

TEST(RemoteReadXorTest, RandomSamplesSurvive) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<Sample> samples;
    const size_t n = rng() % 300;
    int64_t t = static_cast<int64_t>(rng() >> 20);
    double v = 0;
    for (size_t i = 0; i < n; ++i) {
      switch (rng() % 6) {
        case 0:
          t += 15'000;
          break;
        case 1:
          t += static_cast<int64_t>(rng() % 100'000) - 50'000;
          break;
        case 2:
          t += static_cast<int64_t>(rng() >> 30);
          break;
        default:
          t += static_cast<int64_t>(rng() % 20) + 14'990;
          break;
      }
      switch (rng() % 5) {
        case 0:
          break;  // unchanged
        case 1:
          v = std::bit_cast<double>(rng());
          break;
        case 2:
          v += 1;
          break;
        default:
          v = static_cast<double>(rng() % 1000) / 8;
          break;
      }
      samples.push_back({t, v});
    }
    ExpectRoundTrip(samples);
  }
}

TEST(RemoteReadXorTest, DecodingAppendsToWhatIsThere) {
  std::vector<Sample> out = {{1, 1.0}};
  ASSERT_TRUE(DecodeXorChunk(XorChunk(std::vector<Sample>{{2, 2.0}, {3, 3.0}}), &out).ok());
  EXPECT_EQ(AsBits(out), AsBits(std::vector<Sample>{{1, 1.0}, {2, 2.0}, {3, 3.0}}));
}

TEST(RemoteReadXorTest, EveryTruncationOfAChunkIsAnError) {
  std::vector<Sample> samples;
  for (int i = 0; i < 30; ++i) samples.push_back({1000 + 15 * i + i * i, i * 1.5});
  const std::string chunk = XorChunk(samples);
  for (size_t len = 0; len < chunk.size(); ++len) {
    std::vector<Sample> out;
    Status st = DecodeXorChunk(std::string_view(chunk).substr(0, len), &out);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << "length " << len;
  }
}

TEST(RemoteReadXorTest, ACountLargerThanTheSamplesIsAnErrorNamingTheSample) {
  std::string chunk = XorChunk(std::vector<Sample>{{1, 1.0}, {2, 2.0}});
  chunk[1] = 50;
  std::vector<Sample> out;
  Status st = DecodeXorChunk(chunk, &out);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("sample 2 of 50"), std::string::npos) << st.message();
}

TEST(RemoteReadXorTest, AValueWindowWiderThan64BitsIsAnError) {
  // s0 (0, 0.0), s1 delta 0, then '1' '1' leading 31 (11111), meaningful
  // 40 (101000): 71 bits.
  const std::string chunk =
      Bytes({0x00, 0x02, 0x00, 0,    0,    0,    0,    0,    0,    0,    0,
             0x00, 0xff, 0x40, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  std::vector<Sample> out;
  Status st = DecodeXorChunk(chunk, &out);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("wider than 64 bits"), std::string::npos) << st.message();
}

TEST(RemoteReadXorTest, AnOverlongTimestampVarintIsAnError) {
  std::string chunk = Bytes({0x00, 0x01});
  chunk.append(10, '\xff');
  chunk.append(9, '\0');
  std::vector<Sample> out;
  Status st = DecodeXorChunk(chunk, &out);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("overflows"), std::string::npos) << st.message();
}

// --- Frames ------------------------------------------------------------------

// A bitwise CRC-32C, the definition the table-driven one must agree with.
uint32_t Crc32cBitwise(std::string_view s) {
  uint32_t crc = ~0u;
  for (char c : s) {
    crc ^= static_cast<uint8_t>(c);
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78 : crc >> 1;
  }
  return ~crc;
}

TEST(RemoteReadFrameTest, ChecksumIsCrc32cOfTheMessage) {
  EXPECT_EQ(FrameChecksum("123456789"), 0xE3069283u);  // the standard check value
  EXPECT_EQ(FrameChecksum(""), 0u);
  std::string s;
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(FrameChecksum(s), Crc32cBitwise(s)) << "length " << i;
    s.push_back(static_cast<char>(i * 37 + 11));
  }
}

TEST(RemoteReadFrameTest, FrameIsLengthThenBigEndianChecksumThenMessage) {
  std::string frame;
  AppendChunkedReadFrame("123456789", &frame);
  EXPECT_EQ(Hex(frame), "09 e3 06 92 83 31 32 33 34 35 36 37 38 39");
  const std::string long_message(300, 'x');
  frame.clear();
  AppendChunkedReadFrame(long_message, &frame);
  EXPECT_EQ(Hex(frame.substr(0, 2)), "ac 02");  // 300 as a uvarint
  EXPECT_EQ(frame.size(), 2 + 4 + 300u);
}

// What a decoder delivered: one entry per on_series call.
struct Delivered {
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<Bits> samples;
  int64_t query_index;
  bool operator==(const Delivered&) const = default;
};

struct Decoded {
  std::vector<Delivered> series;
  Status status;
  uint64_t frames = 0;
  uint64_t skipped = 0;
};

// Feeds `body` cut at the given offsets (ascending), then finishes.
Decoded DecodeStream(std::string_view body, const std::vector<size_t>& cuts,
                     size_t max_frame_bytes = ChunkedReadDecoder::kDefaultMaxFrameBytes) {
  Decoded d;
  ChunkedReadDecoder decoder(max_frame_bytes);
  auto on_series = [&](std::span<const LabelView> labels, std::span<const Sample> samples) {
    Delivered s;
    for (const LabelView& l : labels) s.labels.emplace_back(l.name, l.value);
    s.samples = AsBits(samples);
    s.query_index = decoder.query_index();
    d.series.push_back(std::move(s));
  };
  size_t at = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(body.size());
  for (size_t end : ends) {
    // Each piece in its own buffer, so a view kept past its Feed would show.
    std::string piece(body.substr(at, end - at));
    d.status = decoder.Feed(piece, on_series);
    piece.assign(piece.size(), '#');
    at = end;
    if (!d.status.ok()) break;
  }
  if (d.status.ok()) d.status = decoder.Finish();
  d.frames = decoder.frames();
  d.skipped = decoder.skipped_chunks();
  return d;
}

struct TestSeries {
  std::vector<LabelView> labels;
  std::vector<std::vector<Sample>> chunks;
  int histogram_chunks = 0;
};

std::string Frame(const TestSeries& s, int64_t query_index) {
  std::vector<std::string> data;
  for (const auto& c : s.chunks) data.push_back(XorChunk(c));
  std::vector<ChunkView> chunks;
  for (size_t i = 0; i < data.size(); ++i) {
    chunks.push_back({s.chunks[i].front().timestamp_ms, s.chunks[i].back().timestamp_ms,
                      ChunkEncoding::kXor, data[i]});
  }
  for (int i = 0; i < s.histogram_chunks; ++i) {
    chunks.insert(chunks.begin(), {0, 1000, ChunkEncoding::kHistogram, "not an XOR chunk"});
  }
  std::string message, frame;
  EncodeChunkedReadResponse(s.labels, chunks, query_index, &message);
  AppendChunkedReadFrame(message, &frame);
  return frame;
}

class RemoteReadStreamTest : public ::testing::Test {
 protected:
  RemoteReadStreamTest() {
    std::vector<Sample> a, b, c;
    for (int i = 0; i < 120; ++i) a.push_back({1'700'000'000'000 + 15'000 * i, i * 0.5});
    for (int i = 0; i < 40; ++i) b.push_back({1'700'001'800'000 + 15'000 * i, 60 + i * 0.5});
    c = {{1'700'000'000'000, std::nan("")}};
    series_ = {
        {{{"__name__", "up"}, {"job", "prometheus"}}, {a, b}, 0},
        {{{"__name__", "go_goroutines"}, {"instance", "localhost:9090"}}, {c}, 0},
        {{{"__name__", "latency"}}, {}, 2},  // native histograms only
        {{{"__name__", "x"}}, {{{5, 1.0}}}, 1},
    };
    for (size_t i = 0; i < series_.size(); ++i) {
      body_ += Frame(series_[i], static_cast<int64_t>(i % 2));
      frame_ends_.push_back(body_.size());
    }
  }

  std::vector<Delivered> Expected() const {
    std::vector<Delivered> out;
    for (size_t i = 0; i < series_.size(); ++i) {
      Delivered d;
      for (const LabelView& l : series_[i].labels) d.labels.emplace_back(l.name, l.value);
      for (const auto& c : series_[i].chunks) {
        for (const Bits& b : AsBits(c)) d.samples.push_back(b);
      }
      d.query_index = static_cast<int64_t>(i % 2);
      out.push_back(std::move(d));
    }
    return out;
  }

  std::vector<TestSeries> series_;
  std::string body_;
  std::vector<size_t> frame_ends_;
};

TEST_F(RemoteReadStreamTest, WholeBodyDeliversEachSeriesWithItsChunksConcatenated) {
  Decoded d = DecodeStream(body_, {});
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  EXPECT_EQ(d.series, Expected());
  EXPECT_EQ(d.series[0].samples.size(), 160u);
  EXPECT_EQ(d.frames, 4u);
  EXPECT_EQ(d.skipped, 3u);
  EXPECT_TRUE(d.series[2].samples.empty());
}

TEST_F(RemoteReadStreamTest, BodyCutAtEveryByteGivesTheSameSeries) {
  const std::vector<Delivered> want = Expected();
  for (size_t cut = 0; cut <= body_.size(); ++cut) {
    Decoded d = DecodeStream(body_, {cut});
    ASSERT_TRUE(d.status.ok()) << "cut at " << cut << ": " << d.status.ToString();
    ASSERT_EQ(d.series, want) << "cut at " << cut;
  }
}

TEST_F(RemoteReadStreamTest, BodyFedOneByteAtATimeGivesTheSameSeries) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < body_.size(); ++i) cuts.push_back(i);
  Decoded d = DecodeStream(body_, cuts);
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  EXPECT_EQ(d.series, Expected());
  EXPECT_EQ(d.frames, 4u);
}

// Cuts near the frame boundaries, two at a time: a header split in two
// places, a frame ending inside the bytes taken for the next header.
TEST_F(RemoteReadStreamTest, PairsOfCutsAroundFrameBoundariesGiveTheSameSeries) {
  const std::vector<Delivered> want = Expected();
  std::vector<size_t> points;
  for (size_t end : frame_ends_) {
    for (size_t k = end > 20 ? end - 20 : 0; k <= end + 20 && k <= body_.size(); ++k) {
      points.push_back(k);
    }
  }
  for (size_t i : points) {
    for (size_t j : points) {
      if (j <= i) continue;
      Decoded d = DecodeStream(body_, {i, j});
      ASSERT_TRUE(d.status.ok()) << i << "," << j << ": " << d.status.ToString();
      ASSERT_EQ(d.series, want) << i << "," << j;
    }
  }
}

TEST_F(RemoteReadStreamTest, TinyFramesBackToBackInOneFeedAreAllDecoded) {
  // An empty ChunkedReadResponse frame is 5 bytes: several fit in the 14
  // bytes taken for one header.
  std::string empties;
  for (int i = 0; i < 5; ++i) AppendChunkedReadFrame("", &empties);
  const std::string body = body_.substr(0, frame_ends_[0]) + empties + body_.substr(frame_ends_[0]);
  const size_t split = frame_ends_[0] + 2;  // inside the first empty frame
  Decoded d = DecodeStream(body, {split});
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  EXPECT_EQ(d.series, Expected());
  EXPECT_EQ(d.frames, 9u);
}

TEST_F(RemoteReadStreamTest, ChecksumMismatchNamesTheFrameAfterDeliveringTheOnesBefore) {
  std::string body = body_;
  body[frame_ends_[1] - 1] ^= 0x01;  // the last byte of frame 2's message
  for (const std::vector<size_t>& cuts : {std::vector<size_t>{}, std::vector<size_t>{100}}) {
    Decoded d = DecodeStream(body, cuts);
    EXPECT_EQ(d.status.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(d.status.message(), "frame 2: checksum mismatch");
    ASSERT_EQ(d.series.size(), 1u);
    EXPECT_EQ(d.series[0], Expected()[0]);
  }
}

TEST_F(RemoteReadStreamTest, TruncatedTrailingFrameIsAnErrorAtFinish) {
  for (size_t drop : {size_t{1}, size_t{10}, body_.size() - frame_ends_[2] - 1}) {
    Decoded d = DecodeStream(std::string_view(body_).substr(0, body_.size() - drop), {});
    EXPECT_EQ(d.status.code(), StatusCode::kInvalidArgument) << drop;
    EXPECT_NE(d.status.message().find("frame 4: truncated"), std::string::npos)
        << d.status.message();
    EXPECT_EQ(d.series.size(), 3u);
  }
}

TEST_F(RemoteReadStreamTest, BodyEndingInsideALengthVarintIsTruncated) {
  std::string body = body_.substr(0, frame_ends_[0]);
  std::string big;
  AppendChunkedReadFrame(std::string(200, 'x'), &big);  // a two-byte length
  body += big.substr(0, 1);
  Decoded d = DecodeStream(body, {});
  EXPECT_EQ(d.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(d.status.message().find("frame 2: truncated"), std::string::npos) << d.status.message();
}

TEST_F(RemoteReadStreamTest, EmptyBodyIsNoSeriesAndNoError) {
  Decoded d = DecodeStream("", {});
  EXPECT_TRUE(d.status.ok());
  EXPECT_TRUE(d.series.empty());
}

TEST(RemoteReadStreamLimitTest, FrameOverTheLimitIsRejectedBeforeItIsBuffered) {
  std::string frame;
  AppendChunkedReadFrame(std::string(1000, 'x'), &frame);
  ChunkedReadDecoder decoder(999);
  int calls = 0;
  auto on_series = [&](auto, auto) { ++calls; };
  // Only the header: the limit is known to be exceeded from its length.
  Status st = decoder.Feed(std::string_view(frame).substr(0, 1), on_series);
  ASSERT_TRUE(st.ok());
  st = decoder.Feed(std::string_view(frame).substr(1, 5), on_series);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("frame 1: message of 1000 bytes exceeds the limit of 999"),
            std::string::npos)
      << st.message();
  // Sticky, and no series came out.
  EXPECT_EQ(decoder.Feed("more", on_series).message(), st.message());
  EXPECT_EQ(decoder.Finish().message(), st.message());
  EXPECT_EQ(calls, 0);

  ChunkedReadDecoder exact(1000);
  EXPECT_TRUE(exact.Feed(frame, on_series).ok());
  EXPECT_TRUE(exact.Finish().ok());
}

TEST(RemoteReadStreamLimitTest, LengthVarintLongerThanTenBytesIsAnError) {
  ChunkedReadDecoder decoder;
  Status st = decoder.Feed(std::string(11, '\x80'), [](auto, auto) {});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("frame 1: frame length"), std::string::npos) << st.message();
}

TEST(RemoteReadStreamLimitTest, FeedAfterFinishIsFailedPrecondition) {
  ChunkedReadDecoder decoder;
  ASSERT_TRUE(decoder.Finish().ok());
  EXPECT_EQ(decoder.Feed("x", [](auto, auto) {}).code(), StatusCode::kFailedPrecondition);
  decoder.Reset();
  EXPECT_TRUE(decoder.Feed("", [](auto, auto) {}).ok());
}

TEST(RemoteReadStreamLimitTest, MalformedChunkNamesFrameSeriesAndChunk) {
  const std::string good = XorChunk(std::vector<Sample>{{1, 1.0}, {2, 2.0}, {3, 4.0}});
  const std::string bad = good.substr(0, good.size() - 1);
  const std::vector<LabelView> labels = {{"__name__", "up"}};
  const std::vector<ChunkView> chunks = {{1, 3, ChunkEncoding::kXor, good},
                                         {1, 3, ChunkEncoding::kXor, bad}};
  std::string message, body;
  EncodeChunkedReadResponse(labels, chunks, 0, &message);
  AppendChunkedReadFrame(message, &body);
  Decoded d = DecodeStream(body, {});
  EXPECT_EQ(d.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(d.status.message().find("frame 1: series 0: chunk 1: XOR chunk: sample 2 of 3"),
            std::string::npos)
      << d.status.message();
  EXPECT_TRUE(d.series.empty());
}

TEST(RemoteReadStreamLimitTest, ChunkedMessageDecodesWithTheFieldNumbersOfTheSpecification) {
  const std::string data = XorChunk(std::vector<Sample>{{10, 1.0}});
  const std::vector<LabelView> labels = {{"a", "1"}};
  const std::vector<ChunkView> chunks = {{10, 20, ChunkEncoding::kXor, data}};
  std::string message;
  EncodeChunkedReadResponse(labels, chunks, 3, &message);
  ProtoReader response(message);
  ASSERT_TRUE(response.Next());
  ASSERT_EQ(response.field(), 1u);  // chunked_series
  ProtoReader series(response.bytes());
  ASSERT_TRUE(series.Next());
  EXPECT_EQ(series.field(), 1u);  // labels
  EXPECT_EQ(LastBytesField(series.bytes(), 1), "a");
  EXPECT_EQ(LastBytesField(series.bytes(), 2), "1");
  ASSERT_TRUE(series.Next());
  EXPECT_EQ(series.field(), 2u);  // chunks
  EXPECT_EQ(LastVarintField(series.bytes(), 1), 10u);
  EXPECT_EQ(LastVarintField(series.bytes(), 2), 20u);
  EXPECT_EQ(LastVarintField(series.bytes(), 3), 1u);  // XOR
  EXPECT_EQ(LastBytesField(series.bytes(), 4), data);
  EXPECT_FALSE(series.Next());
  ASSERT_TRUE(response.Next());
  EXPECT_EQ(response.field(), 2u);  // query_index
  EXPECT_EQ(response.varint(), 3u);
  EXPECT_FALSE(response.Next());
  EXPECT_TRUE(response.ok());
}

// --- Sampled response ----------------------------------------------------------

// A ReadResponse of `results`, each a list of TimeSeries encoded by the
// protobuf library from the specification's messages.
std::string ReadResponse(const std::vector<std::vector<prometheus::TimeSeries>>& results) {
  std::string out;
  ProtoWriter w(&out);
  for (const auto& result : results) {
    std::string r;
    ProtoWriter rw(&r);
    for (const auto& ts : result) rw.Bytes(1, ts.SerializeAsString());
    w.Bytes(1, r);
  }
  return out;
}

prometheus::TimeSeries Series(std::vector<std::pair<std::string, std::string>> labels,
                              std::vector<Sample> samples) {
  prometheus::TimeSeries ts;
  for (auto& [n, v] : labels) {
    auto* l = ts.add_labels();
    l->set_name(n);
    l->set_value(v);
  }
  for (const Sample& s : samples) {
    auto* p = ts.add_samples();
    p->set_timestamp(s.timestamp_ms);
    p->set_value(s.value);
  }
  return ts;
}

struct SampledSeries {
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<Bits> samples;
  bool operator==(const SampledSeries&) const = default;
};

Status CollectSampled(std::string_view response, std::vector<SampledSeries>* out) {
  return ForEachSampledSeries(
      response, [&](std::span<const LabelView> labels, std::span<const Sample> samples) {
        SampledSeries s;
        for (const LabelView& l : labels) s.labels.emplace_back(l.name, l.value);
        s.samples = AsBits(samples);
        out->push_back(std::move(s));
      });
}

TEST(RemoteReadSampledTest, EverySeriesOfEveryResultIsDeliveredInOrder) {
  auto a = Series({{"__name__", "up"}, {"job", "p"}}, {{1000, 1.0}, {2000, 0.0}, {-5, -0.0}});
  auto b = Series({{"__name__", "empty_value"}, {"x", ""}}, {});
  auto c = Series({{"__name__", "nan"}}, {{0, std::nan("")}});
  c.add_histograms()->set_timestamp(7);  // native histograms are skipped
  std::vector<SampledSeries> got;
  Status st = CollectSampled(ReadResponse({{a, b}, {}, {c}}), &got);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const std::vector<SampledSeries> want = {
      {{{"__name__", "up"}, {"job", "p"}},
       AsBits(std::vector<Sample>{{1000, 1.0}, {2000, 0.0}, {-5, -0.0}})},
      {{{"__name__", "empty_value"}, {"x", ""}}, {}},
      {{{"__name__", "nan"}}, AsBits(std::vector<Sample>{{0, std::nan("")}})},
  };
  EXPECT_EQ(got, want);
}

TEST(RemoteReadSampledTest, EmptyResponseHasNoSeries) {
  std::vector<SampledSeries> got;
  EXPECT_TRUE(CollectSampled("", &got).ok());
  EXPECT_TRUE(got.empty());
}

TEST(RemoteReadSampledTest, MalformedSeriesIsInvalidArgumentNamingResultAndSeries) {
  auto good = Series({{"__name__", "up"}}, {{1, 1.0}});
  std::string bad_series;
  ProtoWriter(&bad_series).Varint(2, 5);  // samples as a varint, not a message
  std::string result, response;
  ProtoWriter rw(&result);
  rw.Bytes(1, good.SerializeAsString());
  rw.Bytes(1, bad_series);
  ProtoWriter(&response).Bytes(1, "");  // an empty first result
  ProtoWriter(&response).Bytes(1, result);
  std::vector<SampledSeries> got;
  Status st = CollectSampled(response, &got);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("result 1 series 1: sample is not a message"), std::string::npos)
      << st.message();
  EXPECT_EQ(got.size(), 1u);
}

TEST(RemoteReadSampledTest, TruncatedResponseIsInvalidArgument) {
  const std::string response = ReadResponse({{Series({{"__name__", "up"}}, {{1, 1.0}, {2, 2.0}})}});
  for (size_t len = 1; len < response.size(); ++len) {
    std::vector<SampledSeries> got;
    Status st = CollectSampled(std::string_view(response).substr(0, len), &got);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << "length " << len;
  }
}

// --- Request -------------------------------------------------------------------

TEST(RemoteReadRequestTest, RequestDecodesAsOneQueryWithItsMatchersAndAcceptedTypes) {
  const std::vector<LabelMatcher> matchers = {
      {LabelMatcher::Type::kEq, "__name__", "up"},
      {LabelMatcher::Type::kNeq, "job", ""},
      {LabelMatcher::Type::kRe, "instance", "local.*"},
      {LabelMatcher::Type::kNre, "env", "dev|test"},
  };
  std::string request = "prefix";
  EncodeReadRequest(1'700'000'000'000, 1'700'000'060'000, matchers,
                    AcceptedResponses::kStreamedXorChunksOrSamples, &request);
  ASSERT_EQ(request.substr(0, 6), "prefix");  // appended
  ProtoReader r(std::string_view(request).substr(6));
  std::vector<std::string_view> queries;
  std::string accepted;
  while (r.Next()) {
    if (r.field() == 1) queries.push_back(r.bytes());
    if (r.field() == 2) {
      ASSERT_TRUE(r.Is(WireType::kLengthDelimited));  // packed
      accepted += r.bytes();
    }
  }
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(queries.size(), 1u);
  EXPECT_EQ(accepted, std::string("\x01\x00", 2));  // STREAMED_XOR_CHUNKS, SAMPLES

  ProtoReader q(queries[0]);
  int64_t start = 0, end = 0;
  struct Got {
    uint64_t type;
    std::string name, value;
    bool operator==(const Got&) const = default;
  };
  std::vector<Got> got;
  while (q.Next()) {
    if (q.field() == 1) start = q.as_int64();
    if (q.field() == 2) end = q.as_int64();
    if (q.field() == 3) {
      got.push_back({LastVarintField(q.bytes(), 1), std::string(LastBytesField(q.bytes(), 2)),
                     std::string(LastBytesField(q.bytes(), 3))});
    }
    EXPECT_NE(q.field(), 4u);  // no hints
  }
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(start, 1'700'000'000'000);
  EXPECT_EQ(end, 1'700'000'060'000);
  const std::vector<Got> want = {
      {0, "__name__", "up"}, {1, "job", ""}, {2, "instance", "local.*"}, {3, "env", "dev|test"}};
  EXPECT_EQ(got, want);
}

TEST(RemoteReadRequestTest, SamplesOnlyRequestAcceptsSamplesAlone) {
  std::string request;
  EncodeReadRequest(-1000, 0, {}, AcceptedResponses::kSamples, &request);
  ProtoReader r(request);
  ASSERT_TRUE(r.Next());
  ASSERT_EQ(r.field(), 1u);
  // A negative start is an int64 varint (ten bytes); a zero end is left out.
  EXPECT_EQ(static_cast<int64_t>(LastVarintField(r.bytes(), 1)), -1000);
  ProtoReader q(r.bytes());
  int fields = 0;
  while (q.Next()) ++fields;
  EXPECT_EQ(fields, 1);
  ASSERT_TRUE(r.Next());
  EXPECT_EQ(r.field(), 2u);
  EXPECT_EQ(r.bytes(), std::string("\x00", 1));
  EXPECT_FALSE(r.Next());
  EXPECT_TRUE(r.ok());
}

TEST(RemoteReadRequestTest, ResponseKindFollowsTheMediaTypeOnly) {
  EXPECT_EQ(ReadResponseKindOf(kStreamedReadContentType), ReadResponseKind::kStreamed);
  EXPECT_EQ(ReadResponseKindOf("Application/X-Streamed-Protobuf"), ReadResponseKind::kStreamed);
  EXPECT_EQ(ReadResponseKindOf("application/x-protobuf"), ReadResponseKind::kSampled);
  EXPECT_EQ(ReadResponseKindOf(" application/x-protobuf ; proto=prometheus.ReadResponse"),
            ReadResponseKind::kSampled);
  EXPECT_EQ(ReadResponseKindOf("text/plain"), ReadResponseKind::kUnknown);
  EXPECT_EQ(ReadResponseKindOf(""), ReadResponseKind::kUnknown);
}

}  // namespace
}  // namespace sluice::wire::prom
