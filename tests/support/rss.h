#pragma once

#include <cstdint>
#include <fstream>
#include <string>

namespace sluice::testing {

// Anonymous memory resident in this process (RssAnon), in KiB.
inline uint64_t RssAnonKib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("RssAnon:", 0) == 0) return std::stoull(line.substr(8));
  }
  return 0;
}

}  // namespace sluice::testing
