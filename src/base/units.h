#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace sluice {

// Parses "100ms", "1m30s", "24h", "10 min" style durations (units: ns, us, ms, s, m, h, d).
Result<std::chrono::nanoseconds> ParseDuration(std::string_view text);
// Parses "64MiB", "10 GiB", "512KB", "4096" (plain number = bytes).
Result<uint64_t> ParseByteSize(std::string_view text);

// Parses an RFC 3339 time (2024-01-31T12:00:00Z,
// 2024-01-31T12:00:00.123456789+01:00) into nanoseconds since the Unix
// epoch; false when it is not one (a zone is required).
bool ParseRfc3339(std::string_view s, int64_t* unix_nanos);
std::string FormatDuration(std::chrono::nanoseconds d);
std::string FormatByteSize(uint64_t bytes);

}  // namespace sluice
