#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sluice::wire::prom {

// Label checks shared by the remote write 1.0 and 2.0 decoders, so both
// versions accept exactly the same series.

// [a-zA-Z_][a-zA-Z0-9_]*
bool ValidLabelName(std::string_view name);

// The name and value of a label (a prometheus.Label message) written as
// senders write it: name (field 1) then value (field 2), each shorter than
// 128 bytes, nothing else. False for any other encoding, which the caller
// then reads with ProtoReader. Read by hand, inline: the reader's general
// loop was most of the cost of a four-label series.
inline bool SplitCanonicalLabel(std::string_view label, std::string_view* name,
                                std::string_view* value) {
  const auto* p = reinterpret_cast<const uint8_t*>(label.data());
  size_t n = label.size();
  if (n < 4 || p[0] != 0x0a || p[1] >= 0x80) return false;
  size_t name_end = 2 + size_t{p[1]};
  if (name_end + 2 > n || p[name_end] != 0x12 || p[name_end + 1] >= 0x80) return false;
  if (name_end + 2 + size_t{p[name_end + 1]} != n) return false;
  *name = std::string_view(label.data() + 2, p[1]);
  *value = std::string_view(label.data() + name_end + 2, n - name_end - 2);
  return true;
}

// a < b, bytewise, as label names are ordered. Names are short: an inline
// loop that usually stops at the first byte beats a call to memcmp.
inline bool NameLess(std::string_view a, std::string_view b) {
  size_t n = a.size() < b.size() ? a.size() : b.size();
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return static_cast<uint8_t>(a[i]) < static_cast<uint8_t>(b[i]);
  }
  return a.size() < b.size();
}

// Well-formed UTF-8, with a fast path for all-ASCII values.
bool ValidUtf8(std::string_view value);

// The same checks as ValidLabelName and ValidUtf8 for a name or value inside
// a buffer readable up to `readable_end`: one that is at most 16 bytes with
// 16 readable bytes from its start is checked in one 16-byte step, without a
// branch per byte. Label names and values are short and checked by the
// million, per series of every remote write request; the loop's exit, at a
// different byte for each label, was most of the cost of the check.
#if defined(__SSE2__)
inline bool ValidLabelNameIn(std::string_view n, const char* readable_end) {
  if (n.empty() || n.size() > 16 || readable_end - n.data() < 16) return ValidLabelName(n);
  __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(n.data()));
  // Signed compares: bytes from 0x80 up are negative and fall in no range.
  auto in = [](__m128i x, char lo, char hi) {
    return _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8(static_cast<char>(lo - 1))),
                         _mm_cmplt_epi8(x, _mm_set1_epi8(static_cast<char>(hi + 1))));
  };
  __m128i digit = in(c, '0', '9');
  // Or-ing 0x20 folds A-Z onto a-z, and moves nothing else into a-z.
  __m128i letter = in(_mm_or_si128(c, _mm_set1_epi8(0x20)), 'a', 'z');
  __m128i underscore = _mm_cmpeq_epi8(c, _mm_set1_epi8('_'));
  unsigned valid = static_cast<unsigned>(
      _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(digit, letter), underscore)));
  unsigned want = (1u << n.size()) - 1;
  return (valid & want) == want && (_mm_movemask_epi8(digit) & 1) == 0;
}

inline bool ValidUtf8In(std::string_view v, const char* readable_end) {
  // An empty value may point nowhere (a label with no value field).
  if (v.empty()) return true;
  if (v.size() > 16 || readable_end - v.data() < 16) return ValidUtf8(v);
  __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(v.data()));
  unsigned high = static_cast<unsigned>(_mm_movemask_epi8(c)) & ((1u << v.size()) - 1);
  return high == 0 || ValidUtf8(v);
}
#else
inline bool ValidLabelNameIn(std::string_view n, const char*) {
  return ValidLabelName(n);
}
inline bool ValidUtf8In(std::string_view v, const char*) {
  return ValidUtf8(v);
}
#endif

// `s` in double quotes, cut at 100 bytes, for error messages.
std::string Quote(std::string_view s);

}  // namespace sluice::wire::prom
