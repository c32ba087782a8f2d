#pragma once

#include <string>
#include <string_view>

namespace sluice {

// What JSON escaping does with a NUL byte: writes it as \u0000 (valid
// JSON), or leaves it out, for readers that refuse \u0000 (PostgreSQL's
// jsonb).
enum class JsonNul { kEscape, kOmit };

// Appends s with JSON string escaping (no surrounding quotes).
void AppendJsonEscaped(std::string& out, std::string_view s, JsonNul nul = JsonNul::kEscape);
// Appends s as a quoted JSON string literal.
inline void AppendJsonString(std::string& out, std::string_view s, JsonNul nul = JsonNul::kEscape) {
  out += '"';
  AppendJsonEscaped(out, s, nul);
  out += '"';
}

// Appends the lower-case hex encoding of bytes.
void AppendHex(std::string& out, std::string_view bytes);
// The bytes `hex` encodes (either case); false, *out unspecified, when it is
// not an even number of hex digits.
bool HexDecode(std::string_view hex, std::string* out);

}  // namespace sluice
