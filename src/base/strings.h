#pragma once

#include <string>
#include <string_view>

namespace sluice {

// Appends s with JSON string escaping (no surrounding quotes).
void AppendJsonEscaped(std::string& out, std::string_view s);
// Appends s as a quoted JSON string literal.
inline void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  AppendJsonEscaped(out, s);
  out += '"';
}

// Appends the lower-case hex encoding of bytes.
void AppendHex(std::string& out, std::string_view bytes);
// The bytes `hex` encodes (either case); false, *out unspecified, when it is
// not an even number of hex digits.
bool HexDecode(std::string_view hex, std::string* out);

}  // namespace sluice
