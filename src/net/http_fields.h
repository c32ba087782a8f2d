#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::net {

// Appends the header line "name: value\r\n" to an HTTP/1.1 head. CR and LF
// are dropped from both, so that neither can end the line early and start
// another header. Shared by the server's answers and the exporters' requests.
inline void AppendHeaderField(std::string_view name, std::string_view value, std::string* out) {
  auto append_clean = [out](std::string_view s) {
    for (char c : s) {
      if (c != '\r' && c != '\n') out->push_back(c);
    }
  };
  append_clean(name);
  out->append(": ");
  append_clean(value);
  out->append("\r\n");
}

// `in` with its %XX escapes decoded (and '+' as a space in a query string);
// a malformed escape is kept as written.
std::string PercentDecode(std::string_view in, bool plus_is_space);

// `in` with every byte but A-Z a-z 0-9 - . _ ~ written as %XX, for a
// query string's names and values.
std::string PercentEncode(std::string_view in);

// The name=value pairs of a URL query string, in order, percent-decoded
// ('+' is a space). A pair without '=' has an empty value; a malformed
// escape is kept as written.
std::vector<std::pair<std::string, std::string>> ParseQueryString(std::string_view query);

}  // namespace sluice::net
