#pragma once

#include <string_view>

namespace sluice {

// Names the calling thread as `top -H`, perf and debuggers show it. Linux
// keeps at most 15 bytes; longer names are cut.
void SetThreadName(std::string_view name);

}  // namespace sluice
