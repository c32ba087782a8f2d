#pragma once

#include <string>
#include <string_view>

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

}  // namespace sluice::net
