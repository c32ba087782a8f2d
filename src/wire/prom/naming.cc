#include "wire/prom/naming.h"

#include <cstddef>

namespace sluice::wire::prom {
namespace {

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c);
}
bool IsLabelChar(char c) {
  return IsAlnum(c) || c == '_';
}
bool IsMetricChar(char c) {
  return IsLabelChar(c) || c == ':';
}

// Appends s with characters outside the allowed set replaced by '_', and
// runs of '_' (also across what `out` already ends with) reduced to one.
template <bool (*Allowed)(char)>
void AppendSanitized(std::string& out, std::string_view s, size_t start) {
  for (char c : s) {
    char ch = Allowed(c) ? c : '_';
    if (ch == '_' && out.size() > start && out.back() == '_') continue;
    out.push_back(ch);
  }
}

struct UnitWord {
  std::string_view otlp;
  std::string_view prom;
};

// UCUM abbreviations to the words Prometheus names use.
constexpr UnitWord kUnits[] = {
    {"d", "days"},          {"h", "hours"},         {"min", "minutes"},    {"s", "seconds"},
    {"ms", "milliseconds"}, {"us", "microseconds"}, {"ns", "nanoseconds"}, {"By", "bytes"},
    {"KiBy", "kibibytes"},  {"MiBy", "mebibytes"},  {"GiBy", "gibibytes"}, {"TiBy", "tebibytes"},
    {"KBy", "kilobytes"},   {"MBy", "megabytes"},   {"GBy", "gigabytes"},  {"TBy", "terabytes"},
    {"B", "bytes"},         {"KB", "kilobytes"},    {"MB", "megabytes"},   {"GB", "gigabytes"},
    {"TB", "terabytes"},    {"m", "meters"},        {"V", "volts"},        {"A", "amperes"},
    {"J", "joules"},        {"W", "watts"},         {"g", "grams"},        {"Cel", "celsius"},
    {"Hz", "hertz"},        {"%", "percent"},       {"$", "dollars"},
};
// The denominator of a rate reads in the singular: `By/s` -> bytes_per_second.
constexpr UnitWord kPerUnits[] = {
    {"s", "second"}, {"m", "minute"}, {"h", "hour"}, {"d", "day"},
    {"w", "week"},   {"mo", "month"}, {"y", "year"},
};

template <size_t N>
const UnitWord* FindUnit(const UnitWord (&table)[N], std::string_view u) {
  for (const UnitWord& w : table) {
    if (w.otlp == u) return &w;
  }
  return nullptr;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// Appends one unit term as a word: from the tables, else its alphanumeric
// characters with '_' between runs.
void AppendUnitTerm(std::string& out, std::string_view term, bool per) {
  term = Trim(term);
  const UnitWord* w = per ? FindUnit(kPerUnits, term) : nullptr;
  if (w == nullptr) w = FindUnit(kUnits, term);
  if (w != nullptr) {
    out.append(w->prom);
    return;
  }
  size_t start = out.size();
  AppendSanitized<IsAlnum>(out, term, start);
  if (out.size() > start && out[start] == '_') out.erase(start, 1);
  if (out.size() > start && out.back() == '_') out.pop_back();
}

// Appends the Prometheus unit word for an OTLP unit; `scratch` is reused.
void AppendPromUnit(std::string& out, std::string_view unit, PromType type, std::string& scratch) {
  // Annotations in braces ({packet}, {request}) name what is counted, not a unit.
  if (unit.find('{') != std::string_view::npos) {
    scratch.clear();
    bool in_braces = false;
    for (char c : unit) {
      if (c == '{') in_braces = true;
      if (!in_braces) scratch.push_back(c);
      if (c == '}') in_braces = false;
    }
    unit = scratch;
  }
  unit = Trim(unit);
  if (unit.empty()) return;
  if (unit == "1") {
    if (type == PromType::kGauge) out.append("ratio");
    return;
  }
  size_t slash = unit.find('/');
  if (slash == std::string_view::npos) {
    AppendUnitTerm(out, unit, /*per=*/false);
    return;
  }
  std::string_view numerator = Trim(unit.substr(0, slash));
  std::string_view denominator = Trim(unit.substr(slash + 1));
  size_t start = out.size();
  if (!numerator.empty() && numerator != "1") AppendUnitTerm(out, numerator, /*per=*/false);
  size_t before_per = out.size();
  if (out.size() > start) out.append("_");
  out.append("per_");
  size_t before_denominator = out.size();
  AppendUnitTerm(out, denominator, /*per=*/true);
  if (out.size() == before_denominator) out.resize(before_per);  // nothing to divide by
}

// True if name is "<something>_<word>".
bool EndsWithWord(std::string_view name, std::string_view word) {
  return name.size() > word.size() + 1 && name.ends_with(word) &&
         name[name.size() - word.size() - 1] == '_';
}

void AppendSuffix(std::string& out, std::string_view word) {
  if (out.back() != '_') out.push_back('_');
  out.append(word);
}

}  // namespace

bool IsCleanLabelName(std::string_view key) {
  if (key.empty() || IsDigit(key[0])) return false;
  char previous = 0;
  for (char c : key) {
    if (!IsLabelChar(c) || (c == '_' && previous == '_')) return false;
    previous = c;
  }
  return true;
}

void AppendLabelName(std::string& out, std::string_view key) {
  size_t start = out.size();
  AppendSanitized<IsLabelChar>(out, key, start);
  if (out.size() > start && IsDigit(out[start])) out.insert(start, "key_");
}

bool BuildMetricName(std::string& out, std::string_view name, std::string_view unit, PromType type,
                     bool add_suffixes, std::string& scratch, std::string& unit_word) {
  out.clear();
  AppendSanitized<IsMetricChar>(out, name, 0);
  if (out.empty()) return false;
  if (IsDigit(out[0])) out.insert(0, "_");
  // Type suffixes come after the unit, so one already present is taken off
  // and put back at the end.
  std::string_view type_suffix;
  if (type == PromType::kCounter && add_suffixes) type_suffix = "total";
  if (type == PromType::kInfo) type_suffix = "info";
  if (!type_suffix.empty() && EndsWithWord(out, type_suffix)) {
    out.resize(out.size() - type_suffix.size() - 1);
  }
  if (add_suffixes) {
    unit_word.clear();
    AppendPromUnit(unit_word, unit, type, scratch);
    if (!unit_word.empty() && out != unit_word && !EndsWithWord(out, unit_word)) {
      AppendSuffix(out, unit_word);
    }
  }
  if (!type_suffix.empty()) AppendSuffix(out, type_suffix);
  return true;
}

std::string PromMetricName(std::string_view otlp_name, std::string_view otlp_unit, PromType type,
                           bool add_metric_suffixes) {
  std::string out;
  std::string scratch;
  std::string unit_word;
  if (!BuildMetricName(out, otlp_name, otlp_unit, type, add_metric_suffixes, scratch, unit_word)) {
    return {};
  }
  return out;
}

std::string PromUnit(std::string_view otlp_unit, PromType type) {
  std::string out;
  std::string scratch;
  AppendPromUnit(out, otlp_unit, type, scratch);
  return out;
}

std::string PromLabelName(std::string_view attribute_key) {
  std::string out;
  AppendLabelName(out, attribute_key);
  return out;
}

}  // namespace sluice::wire::prom
