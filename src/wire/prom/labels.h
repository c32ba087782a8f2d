#pragma once

#include <string>
#include <string_view>

namespace sluice::wire::prom {

// Label checks shared by the remote write 1.0 and 2.0 decoders, so both
// versions accept exactly the same series.

// [a-zA-Z_][a-zA-Z0-9_]*
bool ValidLabelName(std::string_view name);

// Well-formed UTF-8, with a fast path for all-ASCII values.
bool ValidUtf8(std::string_view value);

// `s` in double quotes, cut at 100 bytes, for error messages.
std::string Quote(std::string_view s);

}  // namespace sluice::wire::prom
