// Any bytes as a scrape body in the 0.0.4 text format or OpenMetrics, fed to
// the streaming parser whole, in random chunks (empty ones among them) and
// one byte at a time: nothing may crash, every cut must give the same
// samples and the same status, and every sample must keep the parser's
// promises (valid names, unique label names, UTF-8 values, its family a
// prefix of its name).
//
// Input: one byte of flags, one byte seeding the chunk sizes, then the body.
//   flags bit 0     OpenMetrics (else 0.0.4)
//   flags bits 1-2  max_line_bytes: 1 MiB, 16, 64 or 256
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "wire/prom/exposition.h"
#include "wire/prom/labels.h"

namespace {

using sluice::wire::prom::ExpositionFormat;
using sluice::wire::prom::ExpositionParser;
using sluice::wire::prom::ExpositionSample;
using sluice::wire::prom::MetricType;

void Check(bool ok) {
  if (!ok) std::abort();
}

bool ValidMetricName(std::string_view n) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// Checks the sample's promises and appends all of it to `out`.
void Record(const ExpositionSample& s, std::string* out) {
  Check(ValidMetricName(s.name));
  Check(s.name.starts_with(s.family));
  // Only a typed family has samples with suffixes.
  Check(s.family == s.name || s.type != MetricType::kUnknown);
  for (size_t i = 0; i < s.labels.size(); ++i) {
    Check(sluice::wire::prom::ValidLabelName(s.labels[i].name));
    Check(sluice::wire::prom::ValidUtf8(s.labels[i].value));
    for (size_t j = 0; j < i; ++j) Check(s.labels[i].name != s.labels[j].name);
  }
  auto field = [out](std::string_view f) {
    *out += std::to_string(f.size());
    *out += ':';
    *out += f;
  };
  field(s.name);
  for (const auto& l : s.labels) {
    field(l.name);
    field(l.value);
  }
  uint64_t bits;
  std::memcpy(&bits, &s.value, sizeof bits);
  *out += std::to_string(bits) + (s.has_timestamp ? "@" + std::to_string(s.timestamp_ms) : "-");
  *out += std::to_string(static_cast<int>(s.type));
  field(s.family);
  field(s.help);
  field(s.unit);
  *out += '\n';
}

struct Outcome {
  std::string samples;
  std::string status;
};

// Feeds `body` in chunks whose sizes `next_size` picks, stopping at the
// first error, then finishes; an error must stick.
template <class NextSize>
Outcome Run(ExpositionParser& parser, ExpositionFormat format, std::string_view body,
            NextSize next_size) {
  parser.Reset(format);
  Outcome out;
  auto on_sample = [&out](const ExpositionSample& s) { Record(s, &out.samples); };
  sluice::Status st;
  size_t off = 0;
  while (st.ok() && off < body.size()) {
    size_t n = std::min(next_size(), body.size() - off);
    st = parser.Feed(body.substr(off, n), on_sample);
    off += n;
  }
  if (st.ok()) st = parser.Finish(on_sample);
  out.status = st.ToString();
  if (!st.ok()) {
    size_t before = out.samples.size();
    Check(st.code() == sluice::StatusCode::kInvalidArgument);
    Check(parser.Feed("after 1\n", on_sample).ToString() == out.status);
    Check(parser.Finish(on_sample).ToString() == out.status);
    Check(out.samples.size() == before);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const auto format =
      (data[0] & 1) != 0 ? ExpositionFormat::kOpenMetrics : ExpositionFormat::kText004;
  static constexpr size_t kLimits[] = {1 << 20, 16, 64, 256};
  const size_t limit = kLimits[(data[0] >> 1) & 3];
  uint32_t state = (data[1] * 2654435761u) | 1;  // never 0, where xorshift stays
  std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);

  // A fresh parser for the whole body; one kept across inputs (reset each
  // time) for the cuts, so that state Reset forgets to clear shows up too.
  ExpositionParser fresh(format, limit);
  Outcome whole = Run(fresh, format, body, [&] { return body.size(); });

  static ExpositionParser* reused[4] = {};
  size_t slot = (data[0] >> 1) & 3;
  if (reused[slot] == nullptr) reused[slot] = new ExpositionParser(format, limit);
  Outcome random = Run(*reused[slot], format, body, [&] {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    // Mostly short chunks, some empty, now and then a long one.
    return (state & 0x300) == 0 ? static_cast<size_t>(state >> 20) : (state >> 10) % 24;
  });
  Check(random.samples == whole.samples);
  Check(random.status == whole.status);

  if (body.size() <= 8192) {
    Outcome bytes = Run(*reused[slot], format, body, [] { return size_t{1}; });
    Check(bytes.samples == whole.samples);
    Check(bytes.status == whole.status);
  }
  return 0;
}
