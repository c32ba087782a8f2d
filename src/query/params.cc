#include "query/params.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace sluice::query {

Status BadParam(std::string_view param, std::string_view why) {
  return Status::InvalidArgument(std::string(param) + ": " + std::string(why));
}

const std::string* FindParam(const std::vector<std::pair<std::string, std::string>>& params,
                             std::string_view name) {
  for (const auto& [k, v] : params) {
    if (k == name) return &v;
  }
  return nullptr;
}

bool ParseUnixSeconds(std::string_view text, int64_t* out) {
  double seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec != std::errc() || end != text.data() + text.size() || seconds < 0 || seconds > 1e10) {
    return false;
  }
  *out = static_cast<int64_t>(seconds * 1e9);
  return true;
}

bool ParseInt(std::string_view text, int64_t min, int64_t max, int64_t* out) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < min || n > max) return false;
  *out = n;
  return true;
}

void AppendJsonNumber(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "%.6g", value);
  out.append(buf, static_cast<size_t>(n));
}

}  // namespace sluice::query
