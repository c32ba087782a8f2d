#pragma once

#include <cstdint>
#include <string>
#include <string_view>

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

// `s` in double quotes, cut at 100 bytes, for error messages.
std::string Quote(std::string_view s);

}  // namespace sluice::wire::prom
