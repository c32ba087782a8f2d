#include "wire/prom/remote_read.h"

#include <algorithm>
#include <bit>

#include "base/check.h"
#include "base/crc32c.h"
#include "wire/prom/encode.h"
#include "wire/prom/labels.h"
#include "wire/proto_writer.h"

namespace sluice::wire::prom {

namespace {

Status Invalid(std::string why) {
  return Status::InvalidArgument(std::move(why));
}

bool EqualsIgnoreAsciiCase(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

// A Label message, canonical or not, as views into it.
Status ReadLabel(std::string_view label, LabelView* out) {
  if (SplitCanonicalLabel(label, &out->name, &out->value)) return Status::Ok();
  *out = {};
  ProtoReader r(label);
  while (r.Next()) {
    if (r.field() != field::kLabelName && r.field() != field::kLabelValue) continue;
    if (!r.Is(WireType::kLengthDelimited)) return Invalid("label name or value is not a string");
    (r.field() == field::kLabelName ? out->name : out->value) = r.bytes();
  }
  if (!r.ok()) return Invalid(std::string("label: ") + r.error());
  return Status::Ok();
}

Status ReadSample(std::string_view sample, Sample* out) {
  *out = {};
  ProtoReader r(sample);
  while (r.Next()) {
    if (r.field() == field::kSampleValue) {
      if (!r.Is(WireType::kFixed64)) return Invalid("sample value is not a double");
      out->value = r.as_double();
    } else if (r.field() == field::kSampleTimestamp) {
      if (!r.Is(WireType::kVarint)) return Invalid("sample timestamp is not a varint");
      out->timestamp_ms = r.as_int64();
    }
  }
  if (!r.ok()) return Invalid(std::string("sample: ") + r.error());
  return Status::Ok();
}

// --- Frames ------------------------------------------------------------------

enum class LengthResult : uint8_t { kOk, kNeedMore, kOverflow };

// The frame's length as Go's binary.Uvarint reads it: at most 10 bytes, the
// tenth at most 1.
LengthResult ReadFrameLength(std::string_view in, uint64_t* value, size_t* bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < 10; ++i) {
    if (i == in.size()) return LengthResult::kNeedMore;
    const auto b = static_cast<uint8_t>(in[i]);
    if (i == 9 && b > 1) return LengthResult::kOverflow;
    v |= static_cast<uint64_t>(b & 0x7F) << (7 * i);
    if (b < 0x80) {
      *value = v;
      *bytes = i + 1;
      return LengthResult::kOk;
    }
  }
  return LengthResult::kOverflow;
}

// --- XOR chunks --------------------------------------------------------------

// Reads a bit stream most significant bit first. buf_ holds the next avail_
// bits at its top. Invariant: the bits of buf_ below them are zero.
class BitReader {
 public:
  explicit BitReader(std::string_view data)
      : p_(reinterpret_cast<const uint8_t*>(data.data())), end_(p_ + data.size()) {}

  // The next n bits (1 <= n <= 56) as the low bits of *out; false when the
  // stream has fewer.
  bool Read(int n, uint64_t* out) {
    if (avail_ < n) {
      Refill();
      if (avail_ < n) return false;
    }
    *out = buf_ >> (64 - n);
    buf_ <<= n;
    avail_ -= n;
    return true;
  }
  // As Read, for 1 <= n <= 64.
  bool ReadWide(int n, uint64_t* out) {
    if (n <= 56) return Read(n, out);
    uint64_t high, low;
    if (!Read(n - 32, &high) || !Read(32, &low)) return false;
    *out = (high << 32) | low;
    return true;
  }

 private:
  // Leaves at least 57 bits in buf_ while the stream has them.
  void Refill() {
    while (avail_ <= 56 && p_ < end_) {
      buf_ |= static_cast<uint64_t>(*p_++) << (56 - avail_);
      avail_ += 8;
    }
  }

  const uint8_t* p_;
  const uint8_t* end_;
  uint64_t buf_ = 0;
  int avail_ = 0;
};

constexpr const char* kTruncated = "the chunk ends before it";

// A uvarint written 8 bits at a time into the bit stream (Go's
// binary.ReadUvarint over the stream's bytes).
const char* ReadStreamVarint(BitReader& br, uint64_t* out) {
  uint64_t v = 0;
  for (int i = 0; i < 10; ++i) {
    uint64_t b;
    if (!br.Read(8, &b)) return kTruncated;
    if (i == 9 && b > 1) return "timestamp varint overflows 64 bits";
    v |= (b & 0x7F) << (7 * i);
    if (b < 0x80) {
      *out = v;
      return nullptr;
    }
  }
  return "timestamp varint overflows 64 bits";
}

// The value window of the XOR encoding: the XOR's bits that are neither
// leading nor trailing zeros.
struct Window {
  int leading = 0;
  int trailing = 0;
};

const char* ReadXorValue(BitReader& br, uint64_t* value_bits, Window* w) {
  uint64_t bit;
  if (!br.Read(1, &bit)) return kTruncated;
  if (bit == 0) return nullptr;  // the previous value again
  if (!br.Read(1, &bit)) return kTruncated;
  if (bit == 1) {
    uint64_t leading, meaningful;
    if (!br.Read(5, &leading) || !br.Read(6, &meaningful)) return kTruncated;
    if (meaningful == 0) meaningful = 64;  // 64 does not fit in 6 bits
    if (leading + meaningful > 64) return "value window is wider than 64 bits";
    w->leading = static_cast<int>(leading);
    w->trailing = static_cast<int>(64 - leading - meaningful);
  }
  // Invariant: 1 <= meaningful bits <= 64, so trailing <= 63.
  const int meaningful = 64 - w->leading - w->trailing;
  uint64_t bits;
  if (!br.ReadWide(meaningful, &bits)) return kTruncated;
  *value_bits ^= bits << w->trailing;
  return nullptr;
}

// The delta of the timestamp delta, in two's complement.
const char* ReadDeltaOfDelta(BitReader& br, uint64_t* dod) {
  static constexpr int kWidths[4] = {14, 17, 20, 64};  // after '10', '110', '1110', '1111'
  int ones = 0;
  for (; ones < 4; ++ones) {
    uint64_t bit;
    if (!br.Read(1, &bit)) return kTruncated;
    if (bit == 0) break;
  }
  if (ones == 0) {
    *dod = 0;
    return nullptr;
  }
  const int width = kWidths[ones - 1];
  uint64_t bits;
  if (!br.ReadWide(width, &bits)) return kTruncated;
  // The k-bit ranges are [-(2^(k-1) - 1), 2^(k-1)]: only patterns above
  // 2^(k-1) are negative.
  if (width < 64 && bits > (uint64_t{1} << (width - 1))) bits -= uint64_t{1} << width;
  *dod = bits;
  return nullptr;
}

// Writes a bit stream most significant bit first into a string.
class BitWriter {
 public:
  explicit BitWriter(std::string* out) : out_(out) {}

  // The low n bits of v (0 <= n <= 64), highest first.
  void Write(uint64_t v, int n) {
    while (n > 0) {
      const int room = 8 - used_;
      const int take = n < room ? n : room;
      const auto part = static_cast<uint32_t>((v >> (n - take)) & ((1u << take) - 1));
      cur_ = static_cast<uint8_t>(cur_ | (part << (room - take)));
      used_ += take;
      n -= take;
      if (used_ == 8) {
        out_->push_back(static_cast<char>(cur_));
        cur_ = 0;
        used_ = 0;
      }
    }
  }
  void WriteVarint(uint64_t v) {
    while (v >= 0x80) {
      Write((v & 0x7F) | 0x80, 8);
      v >>= 7;
    }
    Write(v, 8);
  }
  // Pads the last byte with zero bits.
  void Flush() {
    if (used_ > 0) out_->push_back(static_cast<char>(cur_));
    cur_ = 0;
    used_ = 0;
  }

 private:
  std::string* out_;
  uint8_t cur_ = 0;
  int used_ = 0;  // bits of cur_ written, 0..7 between calls
};

// Whether dod is in the k-bit range [-(2^(k-1) - 1), 2^(k-1)].
constexpr bool FitsDod(int64_t dod, int k) {
  const int64_t half = int64_t{1} << (k - 1);
  return dod >= -(half - 1) && dod <= half;
}
static_assert(FitsDod(8192, 14) && !FitsDod(-8192, 14) && FitsDod(-8191, 14));

void WriteXorValue(BitWriter& w, uint64_t previous, uint64_t value, bool* have_window,
                   Window* window) {
  const uint64_t x = value ^ previous;
  if (x == 0) {
    w.Write(0, 1);
    return;
  }
  w.Write(1, 1);
  // The count field has 5 bits: a longer run of leading zeros is written
  // partly as meaningful bits.
  const int leading = std::min(std::countl_zero(x), 31);
  const int trailing = std::countr_zero(x);
  if (*have_window && leading >= window->leading && trailing >= window->trailing) {
    w.Write(0, 1);
    w.Write(x >> window->trailing, 64 - window->leading - window->trailing);
    return;
  }
  *have_window = true;
  *window = {leading, trailing};
  const int meaningful = 64 - leading - trailing;
  w.Write(1, 1);
  w.Write(static_cast<uint64_t>(leading), 5);
  w.Write(static_cast<uint64_t>(meaningful), 6);  // 64 is written as 0
  w.Write(x >> trailing, meaningful);
}

uint64_t DoubleBits(double d) {
  return std::bit_cast<uint64_t>(d);
}

// Appends a Varint field unless v is 0, as proto3 leaves defaults out.
void VarintIfSet(ProtoWriter& w, uint32_t field, uint64_t v) {
  if (v != 0) w.Varint(field, v);
}
size_t VarintIfSetSize(uint32_t field, uint64_t v) {
  return v == 0 ? 0 : ProtoWriter::VarintFieldSize(field, v);
}
void BytesIfSet(ProtoWriter& w, uint32_t field, std::string_view b) {
  if (!b.empty()) w.Bytes(field, b);
}
size_t BytesIfSetSize(uint32_t field, std::string_view b) {
  return b.empty() ? 0 : ProtoWriter::LengthDelimitedSize(field, b.size());
}

}  // namespace

ReadResponseKind ReadResponseKindOf(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && (media.front() == ' ' || media.front() == '\t')) media.remove_prefix(1);
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  if (EqualsIgnoreAsciiCase(media, "application/x-protobuf")) return ReadResponseKind::kSampled;
  if (EqualsIgnoreAsciiCase(media, "application/x-streamed-protobuf")) {
    return ReadResponseKind::kStreamed;
  }
  return ReadResponseKind::kUnknown;
}

// --- Request -------------------------------------------------------------------

void EncodeReadRequest(int64_t start_ms, int64_t end_ms, std::span<const LabelMatcher> matchers,
                       AcceptedResponses accepted, std::string* out) {
  auto matcher_size = [](const LabelMatcher& m) {
    return VarintIfSetSize(field::kMatcherType, static_cast<uint64_t>(m.type)) +
           BytesIfSetSize(field::kMatcherName, m.name) +
           BytesIfSetSize(field::kMatcherValue, m.value);
  };
  const auto start = static_cast<uint64_t>(start_ms);
  const auto end = static_cast<uint64_t>(end_ms);
  size_t query =
      VarintIfSetSize(field::kQueryStartMs, start) + VarintIfSetSize(field::kQueryEndMs, end);
  for (const LabelMatcher& m : matchers) {
    query += ProtoWriter::LengthDelimitedSize(field::kQueryMatchers, matcher_size(m));
  }
  ProtoWriter w(out);
  w.MessageHeader(field::kReadQueries, query);
  VarintIfSet(w, field::kQueryStartMs, start);
  VarintIfSet(w, field::kQueryEndMs, end);
  for (const LabelMatcher& m : matchers) {
    w.MessageHeader(field::kQueryMatchers, matcher_size(m));
    VarintIfSet(w, field::kMatcherType, static_cast<uint64_t>(m.type));
    BytesIfSet(w, field::kMatcherName, m.name);
    BytesIfSet(w, field::kMatcherValue, m.value);
  }
  // Packed, as proto3 writes a repeated enum; each value is one byte.
  static constexpr char kStreamedThenSamples[] = {
      static_cast<char>(ReadResponseType::kStreamedXorChunks),
      static_cast<char>(ReadResponseType::kSamples)};
  static constexpr char kSamplesOnly[] = {static_cast<char>(ReadResponseType::kSamples)};
  w.Bytes(field::kReadAcceptedResponseTypes,
          accepted == AcceptedResponses::kStreamedXorChunksOrSamples
              ? std::string_view(kStreamedThenSamples, sizeof kStreamedThenSamples)
              : std::string_view(kSamplesOnly, sizeof kSamplesOnly));
}

// --- Sampled response ------------------------------------------------------------

namespace internal {

Status DecodeTimeSeries(std::string_view series, std::vector<LabelView>* labels,
                        std::vector<Sample>* samples) {
  labels->clear();
  samples->clear();
  ProtoReader r(series);
  while (r.Next()) {
    if (r.field() == field::kSeriesLabels) {
      if (!r.Is(WireType::kLengthDelimited)) return Invalid("label is not a message");
      SLUICE_RETURN_IF_ERROR(ReadLabel(r.bytes(), &labels->emplace_back()));
    } else if (r.field() == field::kSeriesSamples) {
      if (!r.Is(WireType::kLengthDelimited)) return Invalid("sample is not a message");
      SLUICE_RETURN_IF_ERROR(ReadSample(r.bytes(), &samples->emplace_back()));
    }
  }
  if (!r.ok()) return Invalid(r.error());
  return Status::Ok();
}

Status SampledError(uint64_t result, uint64_t series, const Status& cause) {
  return Invalid("result " + std::to_string(result) + " series " + std::to_string(series) + ": " +
                 cause.message());
}

Status SampledError(uint64_t result, const char* why) {
  return Invalid("result " + std::to_string(result) + ": " + why);
}

}  // namespace internal

// --- Streamed response ---------------------------------------------------------

void ChunkedReadDecoder::Reset() {
  frames_ = 0;
  series_ = 0;
  skipped_chunks_ = 0;
  query_index_ = 0;
  finished_ = false;
  status_ = Status::Ok();
  carry_.clear();
  carry_is_frame_ = false;
  labels_.clear();
  samples_.clear();
}

Status ChunkedReadDecoder::Fail(std::string why) {
  status_ = Invalid("frame " + std::to_string(frames_ + 1) + ": " + std::move(why));
  return status_;
}

Status ChunkedReadDecoder::FeedAfterFinish() {
  return Status::FailedPrecondition("chunked read decoder: Feed after Finish");
}

Status ChunkedReadDecoder::Finish() {
  if (!status_.ok() || finished_) return status_;
  finished_ = true;
  if (carry_is_frame_) {
    carry_.clear();
    carry_is_frame_ = false;
  }
  if (carry_.empty()) return Status::Ok();
  uint64_t length;
  size_t length_bytes;
  if (ReadFrameLength(carry_, &length, &length_bytes) != LengthResult::kOk) {
    return Fail("truncated: the body ends inside the frame's length");
  }
  return Fail("truncated: the body ends " + std::to_string(carry_.size()) + " bytes into a " +
              std::to_string(length_bytes + 4 + length) + "-byte frame");
}

ChunkedReadDecoder::Step ChunkedReadDecoder::NextFrame(std::string_view* input,
                                                       std::string_view* message) {
  if (carry_is_frame_) {
    carry_.clear();
    carry_is_frame_ = false;
  }
  if (input->empty()) return Step::kNeedMore;
  if (!carry_.empty()) return TakeFromCarry(input, message);
  uint64_t length;
  size_t length_bytes;
  switch (ReadFrameLength(*input, &length, &length_bytes)) {
    case LengthResult::kOverflow:
      return Malformed("frame length is not a valid uvarint");
    case LengthResult::kNeedMore:  // fewer than 10 bytes left
      carry_.assign(*input);
      *input = {};
      return Step::kNeedMore;
    case LengthResult::kOk:
      break;
  }
  if (length > max_frame_bytes_) return TooLong(length);
  const size_t total = length_bytes + 4 + length;
  if (input->size() < total) {
    carry_.assign(*input);
    *input = {};
    return Step::kNeedMore;
  }
  std::string_view frame = input->substr(0, total);
  input->remove_prefix(total);
  return CheckFrame(frame, length_bytes + 4, message);
}

ChunkedReadDecoder::Step ChunkedReadDecoder::Malformed(std::string why) {
  Fail(std::move(why)).IgnoreError();
  return Step::kError;
}

ChunkedReadDecoder::Step ChunkedReadDecoder::TooLong(uint64_t length) {
  return Malformed("message of " + std::to_string(length) + " bytes exceeds the limit of " +
                   std::to_string(max_frame_bytes_));
}

ChunkedReadDecoder::Step ChunkedReadDecoder::TakeFromCarry(std::string_view* input,
                                                           std::string_view* message) {
  // First enough bytes for any header; a short frame may end within them,
  // and then only its part is taken from the input.
  const size_t before = carry_.size();
  const size_t take =
      before < kMaxFrameHeaderBytes ? std::min(input->size(), kMaxFrameHeaderBytes - before) : 0;
  carry_.append(input->data(), take);
  uint64_t length;
  size_t length_bytes;
  switch (ReadFrameLength(carry_, &length, &length_bytes)) {
    case LengthResult::kOverflow:
      return Malformed("frame length is not a valid uvarint");
    case LengthResult::kNeedMore:  // carry_ is shorter than 10 bytes: take was all of input
      input->remove_prefix(take);
      return Step::kNeedMore;
    case LengthResult::kOk:
      break;
  }
  if (length > max_frame_bytes_) return TooLong(length);
  const size_t total = length_bytes + 4 + length;
  // Invariant: before < total (a pending frame is never whole).
  if (carry_.size() >= total) {
    carry_.resize(total);
    input->remove_prefix(total - before);
  } else {
    input->remove_prefix(take);
    const size_t more = std::min(total - carry_.size(), input->size());
    carry_.append(input->data(), more);
    input->remove_prefix(more);
    if (carry_.size() < total) return Step::kNeedMore;
  }
  carry_is_frame_ = true;
  return CheckFrame(carry_, length_bytes + 4, message);
}

ChunkedReadDecoder::Step ChunkedReadDecoder::CheckFrame(std::string_view frame, size_t header_bytes,
                                                        std::string_view* message) {
  const auto* crc = reinterpret_cast<const uint8_t*>(frame.data() + header_bytes - 4);
  const uint32_t want = (uint32_t{crc[0]} << 24) | (uint32_t{crc[1]} << 16) |
                        (uint32_t{crc[2]} << 8) | uint32_t{crc[3]};
  *message = frame.substr(header_bytes);
  if (FrameChecksum(*message) != want) {
    Fail("checksum mismatch").IgnoreError();
    return Step::kError;
  }
  return Step::kFrame;
}

Status ChunkedReadDecoder::DecodeSeries(std::string_view series) {
  labels_.clear();
  samples_.clear();
  ProtoReader r(series);
  uint64_t chunk_index = 0;
  while (r.Next()) {
    if (r.field() == field::kChunkedSeriesLabels) {
      if (!r.Is(WireType::kLengthDelimited)) return Invalid("label is not a message");
      SLUICE_RETURN_IF_ERROR(ReadLabel(r.bytes(), &labels_.emplace_back()));
      continue;
    }
    if (r.field() != field::kChunkedSeriesChunks) continue;
    auto chunk_error = [&](std::string_view why) {
      return Invalid("chunk " + std::to_string(chunk_index) + ": " + std::string(why));
    };
    if (!r.Is(WireType::kLengthDelimited)) return chunk_error("not a message");
    uint64_t encoding = 0;
    std::string_view data;
    ProtoReader chunk(r.bytes());
    while (chunk.Next()) {
      if (chunk.field() == field::kChunkType && chunk.Is(WireType::kVarint)) {
        encoding = chunk.varint();
      } else if (chunk.field() == field::kChunkData) {
        if (!chunk.Is(WireType::kLengthDelimited)) return chunk_error("data is not bytes");
        data = chunk.bytes();
      }
    }
    if (!chunk.ok()) return chunk_error(chunk.error());
    if (encoding == static_cast<uint64_t>(ChunkEncoding::kXor)) {
      Status st = DecodeXorChunk(data, &samples_);
      if (!st.ok()) return chunk_error(st.message());
    } else {
      ++skipped_chunks_;
    }
    ++chunk_index;
  }
  if (!r.ok()) return Invalid(r.error());
  return Status::Ok();
}

// --- XOR chunks ----------------------------------------------------------------

Status DecodeXorChunk(std::string_view data, std::vector<Sample>* out) {
  if (data.size() < 2) {
    return Invalid("XOR chunk of " + std::to_string(data.size()) +
                   " bytes is shorter than its sample count");
  }
  const size_t count = (size_t{static_cast<uint8_t>(data[0])} << 8) | static_cast<uint8_t>(data[1]);
  if (count == 0) return Status::Ok();
  // Samples after the second take at least 2 bits: a corrupt count cannot
  // make this reserve much more than the chunk holds.
  out->reserve(out->size() + std::min(count, 2 + 4 * data.size()));
  BitReader br(data.substr(2));
  uint64_t t = 0;  // unsigned: the arithmetic wraps, as Go's does
  uint64_t delta = 0;
  uint64_t value = 0;
  Window window;
  const char* why = nullptr;
  size_t i = 0;
  for (; i < count; ++i) {
    if (i == 0) {
      uint64_t zigzag = 0;
      why = ReadStreamVarint(br, &zigzag);
      if (why == nullptr && !br.ReadWide(64, &value)) why = kTruncated;
      t = static_cast<uint64_t>(ZigZagDecode(zigzag));
    } else {
      if (i == 1) {
        why = ReadStreamVarint(br, &delta);
      } else {
        uint64_t dod = 0;
        why = ReadDeltaOfDelta(br, &dod);
        delta += dod;
      }
      t += delta;
      if (why == nullptr) why = ReadXorValue(br, &value, &window);
    }
    if (why != nullptr) break;
    out->push_back({static_cast<int64_t>(t), std::bit_cast<double>(value)});
  }
  if (why == nullptr) return Status::Ok();
  return Invalid("XOR chunk: sample " + std::to_string(i) + " of " + std::to_string(count) + ": " +
                 why);
}

void EncodeXorChunk(std::span<const Sample> samples, std::string* out) {
  SLUICE_CHECK(samples.size() <= 0xFFFF);
  out->push_back(static_cast<char>(samples.size() >> 8));
  out->push_back(static_cast<char>(samples.size() & 0xFF));
  BitWriter w(out);
  uint64_t previous_t = 0;
  uint64_t previous_value = 0;
  uint64_t delta = 0;
  bool have_window = false;
  Window window;
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto t = static_cast<uint64_t>(samples[i].timestamp_ms);
    const uint64_t value = DoubleBits(samples[i].value);
    if (i == 0) {
      w.WriteVarint(ZigZagEncode(samples[i].timestamp_ms));
      w.Write(value, 64);
    } else if (i == 1) {
      delta = t - previous_t;
      w.WriteVarint(delta);
      WriteXorValue(w, previous_value, value, &have_window, &window);
    } else {
      const uint64_t next_delta = t - previous_t;
      const auto dod = static_cast<int64_t>(next_delta - delta);
      const auto bits = static_cast<uint64_t>(dod);
      if (dod == 0) {
        w.Write(0b0, 1);
      } else if (FitsDod(dod, 14)) {
        w.Write(0b10, 2);
        w.Write(bits, 14);
      } else if (FitsDod(dod, 17)) {
        w.Write(0b110, 3);
        w.Write(bits, 17);
      } else if (FitsDod(dod, 20)) {
        w.Write(0b1110, 4);
        w.Write(bits, 20);
      } else {
        w.Write(0b1111, 4);
        w.Write(bits, 64);
      }
      delta = next_delta;
      WriteXorValue(w, previous_value, value, &have_window, &window);
    }
    previous_t = t;
    previous_value = value;
  }
  w.Flush();
}

// --- Building streamed responses -------------------------------------------------

uint32_t FrameChecksum(std::string_view message) {
  return Crc32c(message);
}

void AppendChunkedReadFrame(std::string_view message, std::string* out) {
  ProtoWriter(out).RawVarint(message.size());
  const uint32_t crc = FrameChecksum(message);
  const char be[4] = {static_cast<char>(crc >> 24), static_cast<char>(crc >> 16),
                      static_cast<char>(crc >> 8), static_cast<char>(crc)};
  out->append(be, 4);
  out->append(message);
}

void EncodeChunkedReadResponse(std::span<const LabelView> labels, std::span<const ChunkView> chunks,
                               int64_t query_index, std::string* out) {
  auto chunk_size = [](const ChunkView& c) {
    return VarintIfSetSize(field::kChunkMinTimeMs, static_cast<uint64_t>(c.min_time_ms)) +
           VarintIfSetSize(field::kChunkMaxTimeMs, static_cast<uint64_t>(c.max_time_ms)) +
           VarintIfSetSize(field::kChunkType, static_cast<uint64_t>(c.encoding)) +
           BytesIfSetSize(field::kChunkData, c.data);
  };
  size_t series = 0;
  for (const LabelView& l : labels) {
    series +=
        ProtoWriter::LengthDelimitedSize(field::kChunkedSeriesLabels, LabelSize(l.name, l.value));
  }
  for (const ChunkView& c : chunks) {
    series += ProtoWriter::LengthDelimitedSize(field::kChunkedSeriesChunks, chunk_size(c));
  }
  ProtoWriter w(out);
  w.MessageHeader(field::kChunkedSeries, series);
  for (const LabelView& l : labels) AppendLabel(w, l.name, l.value);
  for (const ChunkView& c : chunks) {
    w.MessageHeader(field::kChunkedSeriesChunks, chunk_size(c));
    VarintIfSet(w, field::kChunkMinTimeMs, static_cast<uint64_t>(c.min_time_ms));
    VarintIfSet(w, field::kChunkMaxTimeMs, static_cast<uint64_t>(c.max_time_ms));
    VarintIfSet(w, field::kChunkType, static_cast<uint64_t>(c.encoding));
    BytesIfSet(w, field::kChunkData, c.data);
  }
  VarintIfSet(w, field::kChunkedQueryIndex, static_cast<uint64_t>(query_index));
}

}  // namespace sluice::wire::prom
