#include "base/units.h"

#include <cctype>
#include <charconv>

namespace sluice {
namespace {

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace

Result<std::chrono::nanoseconds> ParseDuration(std::string_view text) {
  std::string_view s = TrimSpaces(text);
  if (s.empty()) return Status::InvalidArgument("empty duration");
  if (s == "0") return std::chrono::nanoseconds(0);
  long double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == 0) {
      return Status::InvalidArgument("invalid duration \"" + std::string(text) +
                                     "\" (expected e.g. 500ms, 10s, 1m30s, 24h)");
    }
    std::string number(s.substr(0, i));
    s = TrimSpaces(s.substr(i));
    size_t j = 0;
    while (j < s.size() && std::isalpha(static_cast<unsigned char>(s[j]))) ++j;
    std::string_view unit = s.substr(0, j);
    s = TrimSpaces(s.substr(j));
    long double scale;
    if (unit == "ns")
      scale = 1;
    else if (unit == "us" || unit == "µs")
      scale = 1e3;
    else if (unit == "ms")
      scale = 1e6;
    else if (unit == "s" || unit == "sec")
      scale = 1e9;
    else if (unit == "m" || unit == "min")
      scale = 60e9;
    else if (unit == "h")
      scale = 3600e9;
    else if (unit == "d")
      scale = 86400e9;
    else {
      return Status::InvalidArgument("invalid duration \"" + std::string(text) +
                                     "\": unknown unit \"" + std::string(unit) +
                                     "\" (units: ns, us, ms, s, m, h, d)");
    }
    try {
      total += std::stold(number) * scale;
    } catch (...) {
      return Status::InvalidArgument("invalid duration \"" + std::string(text) + "\"");
    }
  }
  if (total > 9.2e18L) return Status::InvalidArgument("duration too large: " + std::string(text));
  return std::chrono::nanoseconds(static_cast<int64_t>(total));
}

Result<uint64_t> ParseByteSize(std::string_view text) {
  std::string_view s = TrimSpaces(text);
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == 0) {
    return Status::InvalidArgument("invalid size \"" + std::string(text) +
                                   "\" (expected e.g. 4096, 512KiB, 64MiB, 10GiB)");
  }
  long double number;
  try {
    number = std::stold(std::string(s.substr(0, i)));
  } catch (...) {
    return Status::InvalidArgument("invalid size \"" + std::string(text) + "\"");
  }
  std::string unit(TrimSpaces(s.substr(i)));
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  long double scale;
  if (unit.empty() || unit == "b")
    scale = 1;
  else if (unit == "kib" || unit == "ki")
    scale = 1024.0L;
  else if (unit == "mib" || unit == "mi")
    scale = 1024.0L * 1024;
  else if (unit == "gib" || unit == "gi")
    scale = 1024.0L * 1024 * 1024;
  else if (unit == "tib" || unit == "ti")
    scale = 1024.0L * 1024 * 1024 * 1024;
  else if (unit == "kb" || unit == "k")
    scale = 1e3;
  else if (unit == "mb" || unit == "m")
    scale = 1e6;
  else if (unit == "gb" || unit == "g")
    scale = 1e9;
  else if (unit == "tb" || unit == "t")
    scale = 1e12;
  else {
    return Status::InvalidArgument("invalid size \"" + std::string(text) + "\": unknown unit \"" +
                                   unit + "\" (units: B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)");
  }
  long double total = number * scale;
  if (total > 1.8e19L) return Status::InvalidArgument("size too large: " + std::string(text));
  return static_cast<uint64_t>(total);
}

std::string FormatDuration(std::chrono::nanoseconds d) {
  int64_t ns = d.count();
  struct Unit {
    int64_t ns;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{86400'000'000'000, "d"}, {3600'000'000'000, "h"},
                                    {60'000'000'000, "m"},    {1'000'000'000, "s"},
                                    {1'000'000, "ms"},        {1'000, "us"}};
  if (ns == 0) return "0s";
  for (const Unit& u : kUnits) {
    if (ns % u.ns == 0) return std::to_string(ns / u.ns) + u.name;
  }
  return std::to_string(ns) + "ns";
}

std::string FormatByteSize(uint64_t bytes) {
  static constexpr const char* kNames[] = {"TiB", "GiB", "MiB", "KiB"};
  static constexpr uint64_t kScales[] = {1ULL << 40, 1ULL << 30, 1ULL << 20, 1ULL << 10};
  if (bytes == 0) return "0";
  for (int i = 0; i < 4; ++i) {
    if (bytes % kScales[i] == 0) return std::to_string(bytes / kScales[i]) + kNames[i];
  }
  return std::to_string(bytes);
}

bool ParseRfc3339(std::string_view s, int64_t* out) {
  if (s.size() < 20) return false;
  auto digits = [&](size_t at, size_t n, int* v) {
    *v = 0;
    for (size_t k = at; k < at + n; ++k) {
      if (!std::isdigit(static_cast<unsigned char>(s[k]))) return false;
      *v = *v * 10 + (s[k] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, sec;
  if (!digits(0, 4, &y) || s[4] != '-' || !digits(5, 2, &mo) || s[7] != '-' || !digits(8, 2, &d) ||
      (s[10] != 'T' && s[10] != 't') || !digits(11, 2, &h) || s[13] != ':' || !digits(14, 2, &mi) ||
      s[16] != ':' || !digits(17, 2, &sec)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return false;
  size_t i = 19;
  int64_t frac = 0;
  if (s[i] == '.') {
    ++i;
    int n = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      if (n < 9) {
        frac = frac * 10 + (s[i] - '0');
        ++n;
      }
      ++i;
    }
    if (n == 0) return false;
    while (n++ < 9) frac *= 10;
  }
  int64_t offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int oh, om;
    if (!digits(i + 1, 2, &oh) || !digits(i + 4, 2, &om)) return false;
    offset = (s[i] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    i += 6;
  } else {
    return false;
  }
  if (i != s.size()) return false;
  const int64_t seconds =
      DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 +
      mi * 60 + sec - offset;
  *out = seconds * 1'000'000'000 + frac;
  return true;
}

}  // namespace sluice
