// Any bytes as a remote read answer: as a streamed body, fed to the frame
// decoder whole, in random chunks (empty ones among them) and one byte at a
// time, where every cut must give the same series and the same status; as
// a sampled ReadResponse; and as one XOR chunk. Nothing may crash, and an
// error must stick.
//
// Input: one byte seeding the chunk sizes, one byte of flags (bits 0-1:
// the frame limit: 64 MiB, 64, 512 or 4096 bytes), then the body.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "wire/prom/remote_read.h"

namespace {

using sluice::wire::prom::ChunkedReadDecoder;
using sluice::wire::prom::LabelView;
using sluice::wire::prom::Sample;

void Check(bool ok) {
  if (!ok) std::abort();
}

void Record(std::span<const LabelView> labels, std::span<const Sample> samples, std::string* out) {
  for (const auto& l : labels) {
    *out += std::to_string(l.name.size()) + ":" + std::string(l.name) +
            std::to_string(l.value.size()) + ":" + std::string(l.value);
  }
  *out += '|';
  for (const auto& s : samples) {
    uint64_t bits;
    std::memcpy(&bits, &s.value, sizeof bits);
    *out += std::to_string(s.timestamp_ms) + "=" + std::to_string(bits) + ",";
  }
  *out += '\n';
}

struct Outcome {
  std::string series;
  std::string status;
};

template <class NextSize>
Outcome Run(ChunkedReadDecoder& decoder, std::string_view body, NextSize next_size) {
  decoder.Reset();
  Outcome out;
  auto on_series = [&out](std::span<const LabelView> l, std::span<const Sample> s) {
    Record(l, s, &out.series);
  };
  sluice::Status st;
  size_t off = 0;
  while (st.ok() && off < body.size()) {
    const size_t n = std::min(next_size(), body.size() - off);
    st = decoder.Feed(body.substr(off, n), on_series);
    off += n;
  }
  if (st.ok()) st = decoder.Finish();
  out.status = st.ToString();
  if (!st.ok()) {
    const size_t before = out.series.size();
    Check(st.code() == sluice::StatusCode::kInvalidArgument ||
          st.code() == sluice::StatusCode::kFailedPrecondition);
    Check(decoder.Finish().ToString() == out.status);
    Check(out.series.size() == before);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  uint32_t state = (data[0] * 2654435761u) | 1;  // never 0, where xorshift stays
  static constexpr size_t kLimits[] = {ChunkedReadDecoder::kDefaultMaxFrameBytes, 64, 512, 4096};
  const size_t limit = kLimits[data[1] & 3];
  std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);

  ChunkedReadDecoder fresh(limit);
  Outcome whole = Run(fresh, body, [&] { return body.size(); });
  // One decoder kept across inputs (reset each time), so that state Reset
  // forgets to clear shows up too.
  static ChunkedReadDecoder* reused[4] = {};
  if (reused[data[1] & 3] == nullptr) reused[data[1] & 3] = new ChunkedReadDecoder(limit);
  Outcome random = Run(*reused[data[1] & 3], body, [&] {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return (state & 0x300) == 0 ? static_cast<size_t>(state >> 20) : (state >> 10) % 24;
  });
  Check(random.series == whole.series);
  Check(random.status == whole.status);
  if (body.size() <= 8192) {
    Outcome bytes = Run(*reused[data[1] & 3], body, [] { return size_t{1}; });
    Check(bytes.series == whole.series);
    Check(bytes.status == whole.status);
  }

  std::string sampled;
  sluice::wire::prom::ForEachSampledSeries(body, [&](std::span<const LabelView> l,
                                                     std::span<const Sample> s) {
    Record(l, s, &sampled);
  }).IgnoreError();
  std::vector<Sample> samples;
  sluice::wire::prom::DecodeXorChunk(body, &samples).IgnoreError();
  return 0;
}
