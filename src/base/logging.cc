#include "base/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <ctime>

#include "base/strings.h"

namespace sluice::logging {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<Format> g_format{Format::kLogfmt};

spdlog::logger& Sink() {
  // spdlog owns the locking and the write; the line is already formatted.
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = std::make_shared<spdlog::logger>("sluice",
                                              std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return *logger;
}

std::string_view LevelName(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

bool NeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      return true;
    }
  }
  return false;
}

void AppendLogfmt(std::string& out, std::string_view key, std::string_view value) {
  if (!out.empty()) out += ' ';
  out += key;
  out += '=';
  if (NeedsQuotes(value)) {
    out += '"';
    AppendJsonEscaped(out, value);
    out += '"';
  } else {
    out += value;
  }
}

void AppendJson(std::string& out, std::string_view key, std::string_view value, bool quoted) {
  out += out.size() > 1 ? ",\"" : "\"";
  AppendJsonEscaped(out, key);
  out += "\":";
  if (quoted) {
    out += '"';
    AppendJsonEscaped(out, value);
    out += '"';
  } else {
    out += value;
  }
}

std::string FormatTime(int64_t unix_nanos) {
  std::time_t secs = static_cast<std::time_t>(unix_nanos / 1'000'000'000);
  int millis = static_cast<int>((unix_nanos / 1'000'000) % 1000);
  std::tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

}  // namespace

void Configure(Level level, Format format) {
  g_level.store(level);
  g_format.store(format);
}

bool ParseLevel(std::string_view text, Level* out) {
  if (text == "debug")
    *out = Level::kDebug;
  else if (text == "info")
    *out = Level::kInfo;
  else if (text == "warn")
    *out = Level::kWarn;
  else if (text == "error")
    *out = Level::kError;
  else
    return false;
  return true;
}

bool Enabled(Level level) {
  return level >= g_level.load(std::memory_order_relaxed);
}

std::string FormatLine(Format format, int64_t unix_nanos, Level level, std::string_view component,
                       std::string_view msg, std::initializer_list<Field> fields) {
  std::string out;
  out.reserve(128);
  if (format == Format::kJson) {
    out += '{';
    AppendJson(out, "ts", FormatTime(unix_nanos), true);
    AppendJson(out, "level", LevelName(level), true);
    if (!component.empty()) AppendJson(out, "component", component, true);
    AppendJson(out, "msg", msg, true);
    for (const Field& f : fields) AppendJson(out, f.key, f.value, f.quoted);
    out += '}';
  } else {
    AppendLogfmt(out, "ts", FormatTime(unix_nanos));
    AppendLogfmt(out, "level", LevelName(level));
    if (!component.empty()) AppendLogfmt(out, "component", component);
    AppendLogfmt(out, "msg", msg);
    for (const Field& f : fields) AppendLogfmt(out, f.key, f.value);
  }
  return out;
}

void Log(Level level, std::string_view component, std::string_view msg,
         std::initializer_list<Field> fields) {
  if (!Enabled(level)) return;
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  Sink().info(
      FormatLine(g_format.load(std::memory_order_relaxed), now, level, component, msg, fields));
}

}  // namespace sluice::logging
