#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

namespace sluice::logging {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kLogfmt, kJson };

// One key=value pair of a structured log line.
struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  template <class T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
  Field(std::string_view k, T v) : key(k), value(std::to_string(v)), quoted(false) {}
  std::string_view key;
  std::string value;
  bool quoted = true;  // JSON: false for numbers
};

// Sets the process-wide level and format. Safe to call once at start-up,
// before other threads log. Lines go to stderr; writes are thread-safe.
void Configure(Level level, Format format);
bool ParseLevel(std::string_view text, Level* out);
bool Enabled(Level level);

void Log(Level level, std::string_view component, std::string_view msg,
         std::initializer_list<Field> fields = {});

// Renders one line without writing it (exposed for tests).
std::string FormatLine(Format format, int64_t unix_nanos, Level level, std::string_view component,
                       std::string_view msg, std::initializer_list<Field> fields);

inline void Debug(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  if (Enabled(Level::kDebug)) Log(Level::kDebug, c, m, f);
}
inline void Info(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  Log(Level::kInfo, c, m, f);
}
inline void Warn(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  Log(Level::kWarn, c, m, f);
}
inline void Error(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  Log(Level::kError, c, m, f);
}

}  // namespace sluice::logging
