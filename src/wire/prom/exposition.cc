#include "wire/prom/exposition.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <limits>

#include "base/check.h"
#include "wire/prom/labels.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sluice::wire::prom {

namespace {

// Byte classes, by table: one load per byte where the loops below ask
// several questions of it.
enum : uint8_t {
  kMetricStart = 1,  // [a-zA-Z_:]
  kMetricChar = 2,   // [a-zA-Z0-9_:]
  kLabelStart = 4,   // [a-zA-Z_]
  kLabelChar = 8,    // [a-zA-Z0-9_]
  kBlank = 16,       // space, tab: 0.0.4's token separators
};

constexpr std::array<uint8_t, 256> kClass = [] {
  std::array<uint8_t, 256> t{};
  auto letter = uint8_t{kMetricStart | kMetricChar | kLabelStart | kLabelChar};
  for (int c = 'a'; c <= 'z'; ++c) t[c] = letter;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = letter;
  for (int c = '0'; c <= '9'; ++c) t[c] = kMetricChar | kLabelChar;
  t['_'] = letter;
  t[':'] = kMetricStart | kMetricChar;
  t[' '] = kBlank;
  t['\t'] = kBlank;
  return t;
}();

inline bool Is(char c, uint8_t cls) {
  return (kClass[static_cast<uint8_t>(c)] & cls) != 0;
}

inline bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

inline const char* Skip(const char* p, const char* end, uint8_t cls) {
  while (p < end && Is(*p, cls)) ++p;
  return p;
}

// Compares, not the table: most calls find no blank, and the first compare
// says so.
inline const char* SkipBlanks(const char* p, const char* end) {
  while (p < end && (*p == ' ' || *p == '\t')) ++p;
  return p;
}

// The scans below read 16 bytes at a time while 16 are readable (up to
// `readable`, at or past the line's `end`), and clamp what they find to
// `end`: bytes past the line are read, never interpreted.
#if defined(__SSE2__)
inline __m128i InRange(__m128i x, char lo, char hi) {
  // Signed compares: bytes from 0x80 up are negative and fall in no range.
  return _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8(static_cast<char>(lo - 1))),
                       _mm_cmplt_epi8(x, _mm_set1_epi8(static_cast<char>(hi + 1))));
}
#endif

// The first byte at or after p that is not a label name byte
// ([a-zA-Z0-9_]), or with kColon a metric name byte (also ':'); end if none.
template <bool kColon>
inline const char* ScanName(const char* p, const char* end, const char* readable) {
#if defined(__SSE2__)
  while (p < end && readable - p >= 16) {
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // Or-ing 0x20 folds A-Z onto a-z, and moves nothing else into a-z.
    __m128i ok =
        _mm_or_si128(InRange(_mm_or_si128(c, _mm_set1_epi8(0x20)), 'a', 'z'), InRange(c, '0', '9'));
    ok = _mm_or_si128(ok, _mm_cmpeq_epi8(c, _mm_set1_epi8('_')));
    if constexpr (kColon) ok = _mm_or_si128(ok, _mm_cmpeq_epi8(c, _mm_set1_epi8(':')));
    auto bad = static_cast<unsigned>(~_mm_movemask_epi8(ok)) & 0xFFFFu;
    if (bad != 0) return std::min(p + std::countr_zero(bad), end);
    p += 16;
  }
  if (p >= end) return end;
#else
  (void)readable;
#endif
  return Skip(p, end, kColon ? kMetricChar : kLabelChar);
}

// The first quote or backslash at or after p, or with kStopAtHigh also the
// first byte >= 0x80 (which makes the value need a UTF-8 check); end if none.
template <bool kStopAtHigh>
inline const char* ScanValue(const char* p, const char* end, const char* readable) {
#if defined(__SSE2__)
  while (p < end && readable - p >= 16) {
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    __m128i stop =
        _mm_or_si128(_mm_cmpeq_epi8(c, _mm_set1_epi8('"')), _mm_cmpeq_epi8(c, _mm_set1_epi8('\\')));
    auto found = static_cast<unsigned>(_mm_movemask_epi8(stop));
    if constexpr (kStopAtHigh) found |= static_cast<unsigned>(_mm_movemask_epi8(c));
    if (found != 0) return std::min(p + std::countr_zero(found), end);
    p += 16;
  }
  if (p >= end) return end;
#else
  (void)readable;
#endif
  for (; p < end; ++p) {
    if (*p == '"' || *p == '\\' || (kStopAtHigh && (*p & 0x80))) return p;
  }
  return end;
}

// The end of the token at p: the next blank (0.0.4) or space (OpenMetrics).
template <bool kOpenMetrics>
inline const char* TokenEnd(const char* p, const char* end) {
  if constexpr (kOpenMetrics) {
    const auto* sp = static_cast<const char*>(std::memchr(p, ' ', static_cast<size_t>(end - p)));
    return sp ? sp : end;
  } else {
    while (p < end && !Is(*p, kBlank)) ++p;
    return p;
  }
}

// s == lower, ASCII letters of s compared in lower case.
bool EqualsIgnoreCase(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i] >= 'A' && s[i] <= 'Z' ? static_cast<char>(s[i] | 0x20) : s[i];
    if (c != lower[i]) return false;
  }
  return true;
}

// The NaN Go's math.NaN() returns, which Prometheus stores for "NaN": a
// sample forwarded by remote write then has the bits Prometheus would send,
// and is never taken for the stale marker (0x7ff0000000000002).
constexpr double kGoNaN = std::bit_cast<double>(uint64_t{0x7FF8000000000001});

// For a decimal number that from_chars found out of range: whether it is
// too small (Go's ParseFloat returns 0 for it) rather than too large (an
// error). The decimal exponent of its first significant digit decides, and
// out of range means beyond ±300 of it, so the estimate is plenty.
bool Underflows(const char* p, const char* end) {
  int64_t int_digits = 0;  // significant digits before the point
  int64_t frac_zeros = 0;  // zeros after the point before the first significant digit
  bool significant = false;
  bool after_point = false;
  for (; p < end && (IsDigit(*p) || *p == '.'); ++p) {
    if (*p == '.') {
      after_point = true;
    } else if (significant || *p != '0') {
      significant = true;
      int_digits += after_point ? 0 : 1;
    } else if (after_point) {
      ++frac_zeros;
    }
  }
  int64_t exp = 0;
  if (p < end && (*p | 0x20) == 'e') {
    ++p;
    bool neg = p < end && *p == '-';
    if (p < end && (*p == '-' || *p == '+')) ++p;
    for (; p < end && IsDigit(*p); ++p) exp = std::min<int64_t>(exp * 10 + (*p - '0'), 1'000'000);
    if (neg) exp = -exp;
  }
  return (int_digits > 0 ? int_digits : -frac_zeros) + exp <= 0;
}

constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                             1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// Most values are short decimals (12345.67, 4.2e+06): when the digits fit in
// 53 bits and the power of ten is at most 22, both are exact doubles and one
// multiplication or division rounds correctly (Clinger's fast path). False
// for anything else, which from_chars then reads (and judges).
inline bool FastDecimal(const char* p, const char* end, double* out) {
  uint64_t m = 0;
  int digits = 0;
  int exp10 = 0;
  for (; p < end && IsDigit(*p); ++p, ++digits) m = m * 10 + static_cast<uint64_t>(*p - '0');
  if (p < end && *p == '.') {
    for (++p; p < end && IsDigit(*p); ++p, ++digits, --exp10) {
      m = m * 10 + static_cast<uint64_t>(*p - '0');
    }
  }
  // 19 digits cannot wrap m.
  if (digits == 0 || digits > 19) return false;
  if (p < end) {
    if ((*p | 0x20) != 'e') return false;
    ++p;
    bool neg = p < end && *p == '-';
    if (p < end && (*p == '-' || *p == '+')) ++p;
    int e = 0;
    int e_digits = 0;
    for (; p < end && IsDigit(*p) && e_digits < 4; ++p, ++e_digits) e = e * 10 + (*p - '0');
    if (p != end || e_digits == 0) return false;
    exp10 += neg ? -e : e;
  }
  if (m > (uint64_t{1} << 53) || exp10 < -22 || exp10 > 22) return false;
  auto d = static_cast<double>(m);
  *out = exp10 < 0 ? d / kPow10[-exp10] : d * kPow10[exp10];
  return true;
}

// A sample value (with_specials) or an OpenMetrics timestamp: what Go's
// strconv.ParseFloat accepts in decimal, and with_specials also the
// case-insensitive [+-]Inf, [+-]Infinity and NaN. Overflow is an error,
// underflow is 0, as in Go.
bool ParseNumber(const char* p, const char* end, bool with_specials, double* out) {
  bool neg = false;
  bool sign = false;
  if (p < end && (*p == '+' || *p == '-')) {
    neg = *p == '-';
    sign = true;
    ++p;
  }
  if (p == end) return false;
  if (IsDigit(*p) || *p == '.') {
    double d = 0;
    if (FastDecimal(p, end, &d)) {
      *out = neg ? -d : d;
      return true;
    }
    auto r = std::from_chars(p, end, d, std::chars_format::general);
    if (r.ptr != end) return false;
    if (r.ec == std::errc::result_out_of_range) {
      if (!Underflows(p, end)) return false;
      d = 0;
    } else if (r.ec != std::errc()) {
      return false;
    }
    *out = neg ? -d : d;
    return true;
  }
  if (!with_specials) return false;
  std::string_view word(p, static_cast<size_t>(end - p));
  if (EqualsIgnoreCase(word, "inf") || EqualsIgnoreCase(word, "infinity")) {
    *out = neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    return true;
  }
  if (!sign && EqualsIgnoreCase(word, "nan")) {
    *out = kGoNaN;
    return true;
  }
  return false;
}

// A 0.0.4 timestamp: an int64 as Go's strconv.ParseInt reads it (an
// optional sign, decimal digits).
bool ParseMillis(const char* p, const char* end, int64_t* out) {
  bool neg = false;
  if (p < end && (*p == '+' || *p == '-')) {
    neg = *p == '-';
    ++p;
  }
  if (p == end || !IsDigit(*p)) return false;
  uint64_t magnitude = 0;
  auto r = std::from_chars(p, end, magnitude);
  if (r.ec != std::errc() || r.ptr != end) return false;
  constexpr uint64_t kMax = uint64_t{std::numeric_limits<int64_t>::max()};
  if (magnitude > kMax + (neg ? 1 : 0)) return false;
  *out = neg ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
  return true;
}

// An OpenMetrics timestamp: float seconds, rounded to the nearest
// millisecond (Prometheus truncates, which makes 1.001 s 1000 ms: the
// product is 1000.9999999999999).
bool ParseSecondsAsMillis(const char* p, const char* end, int64_t* out) {
  double s = 0;
  if (!ParseNumber(p, end, /*with_specials=*/false, &s)) return false;
  double ms = std::round(s * 1000);
  // 2^63 is exact as a double; every double below it converts.
  if (!(ms >= -0x1p63 && ms < 0x1p63)) return false;
  *out = static_cast<int64_t>(ms);
  return true;
}

bool ParseType(std::string_view word, ExpositionFormat format, MetricType* out) {
  static constexpr struct {
    std::string_view name;
    MetricType type;
    bool in_text_004;
    bool in_open_metrics;
  } kTypes[] = {
      {"counter", MetricType::kCounter, true, true},
      {"gauge", MetricType::kGauge, true, true},
      {"histogram", MetricType::kHistogram, true, true},
      {"summary", MetricType::kSummary, true, true},
      {"untyped", MetricType::kUnknown, true, false},
      {"unknown", MetricType::kUnknown, false, true},
      {"gaugehistogram", MetricType::kGaugeHistogram, false, true},
      {"info", MetricType::kInfo, false, true},
      {"stateset", MetricType::kStateSet, false, true},
  };
  for (const auto& t : kTypes) {
    if (word != t.name) continue;
    if (!(format == ExpositionFormat::kOpenMetrics ? t.in_open_metrics : t.in_text_004)) break;
    *out = t.type;
    return true;
  }
  return false;
}

// Whether a sample named family + suffix belongs to a family of `type`.
bool SuffixBelongs(MetricType type, std::string_view suffix) {
  switch (type) {
    case MetricType::kCounter:
      return suffix == "_total" || suffix == "_created";
    case MetricType::kHistogram:
      return suffix == "_bucket" || suffix == "_sum" || suffix == "_count" || suffix == "_created";
    case MetricType::kGaugeHistogram:
      return suffix == "_bucket" || suffix == "_gsum" || suffix == "_gcount";
    case MetricType::kSummary:
      return suffix == "_sum" || suffix == "_count" || suffix == "_created";
    case MetricType::kInfo:
      return suffix == "_info";
    case MetricType::kUnknown:
    case MetricType::kGauge:
    case MetricType::kStateSet:
      break;
  }
  return false;
}

// Appends HELP text unescaped: \\ and \n, and in OpenMetrics also \". Any
// other backslash stays as written.
void AppendUnescapedHelp(std::string_view s, bool quote_escape, std::string* out) {
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size()) {
      char n = s[i + 1];
      if (n == '\\' || n == 'n' || (quote_escape && n == '"')) {
        out->push_back(n == 'n' ? '\n' : n);
        ++i;
        continue;
      }
    }
    out->push_back(c);
  }
}

}  // namespace

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kUnknown:
      return "unknown";
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kGaugeHistogram:
      return "gaugehistogram";
    case MetricType::kSummary:
      return "summary";
    case MetricType::kInfo:
      return "info";
    case MetricType::kStateSet:
      return "stateset";
  }
  return "unknown";
}

ExpositionFormat FormatOfContentType(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && (media.front() == ' ' || media.front() == '\t')) media.remove_prefix(1);
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  return EqualsIgnoreCase(media, "application/openmetrics-text") ? ExpositionFormat::kOpenMetrics
                                                                 : ExpositionFormat::kText004;
}

ExpositionParser::ExpositionParser(ExpositionFormat format, size_t max_line_bytes)
    : format_(format), max_line_bytes_(max_line_bytes) {}

void ExpositionParser::Reset(ExpositionFormat format) {
  format_ = format;
  lines_ = 0;
  samples_ = 0;
  eof_seen_ = false;
  finished_ = false;
  status_ = Status::Ok();
  carry_.clear();
  labels_.clear();
  exemplar_labels_.clear();
  unescape_.clear();
  unescape_reserved_ = false;
  line_ = {};
  family_.clear();
  family_type_ = MetricType::kUnknown;
  help_.clear();
  unit_.clear();
  sample_ = ExpositionSample{};
}

ExpositionParser::LineResult ExpositionParser::Fail(std::string why) {
  status_ = Status::InvalidArgument("line " + std::to_string(lines_) + ": " + std::move(why));
  return LineResult::kError;
}

Status ExpositionParser::FailAt(uint64_t line, std::string why) {
  status_ = Status::InvalidArgument("line " + std::to_string(line) + ": " + std::move(why));
  return status_;
}

Status ExpositionParser::LineTooLong() {
  return FailAt(lines_ + 1,
                "longer than the limit of " + std::to_string(max_line_bytes_) + " bytes per line");
}

Status ExpositionParser::ContentAfterEof() {
  return FailAt(lines_ + 1, "content after \"# EOF\"");
}

Status ExpositionParser::FeedAfterFinish() {
  return Status::FailedPrecondition("exposition parser: Feed after Finish");
}

Status ExpositionParser::End() {
  if (format_ == ExpositionFormat::kOpenMetrics && !eof_seen_) {
    if (lines_ == 0) return FailAt(1, "OpenMetrics body is empty (no \"# EOF\")");
    return FailAt(lines_, "OpenMetrics body ends without \"# EOF\"");
  }
  return Status::Ok();
}

ExpositionParser::LineResult ExpositionParser::ParseLine(std::string_view line,
                                                         const char* readable_end) {
  ++lines_;
  line_ = line;
  readable_end_ = readable_end;
  unescape_reserved_ = false;
  const char* p = line.data();
  const char* end = p + line.size();
  if (format_ == ExpositionFormat::kOpenMetrics) {
    if (p == end) return Fail("empty line (OpenMetrics allows none)");
    if (*p == '#') return ParseOpenMetricsComment(line);
    return ParseSample<true>(p, end);
  }
  p = SkipBlanks(p, end);
  if (p == end) return LineResult::kNothing;
  if (*p == '#') return ParseTextComment(p + 1, end);
  return ParseSample<false>(p, end);
}

void ExpositionParser::StartFamily(std::string_view name) {
  if (name == family_) return;
  family_.assign(name);
  family_type_ = MetricType::kUnknown;
  help_.clear();
  unit_.clear();
}

void ExpositionParser::SetHelp(std::string_view escaped) {
  if (escaped.find('\\') == std::string_view::npos) {
    help_.assign(escaped);
    return;
  }
  help_.clear();
  AppendUnescapedHelp(escaped, format_ == ExpositionFormat::kOpenMetrics, &help_);
}

// 0.0.4: p is just after '#'. Only HELP and TYPE as the first token mean
// anything; every other comment is skipped.
ExpositionParser::LineResult ExpositionParser::ParseTextComment(const char* p, const char* end) {
  p = SkipBlanks(p, end);
  const char* word_end = TokenEnd<false>(p, end);
  std::string_view word(p, static_cast<size_t>(word_end - p));
  bool help = word == "HELP";
  if (!help && word != "TYPE") return LineResult::kNothing;
  p = SkipBlanks(word_end, end);
  if (p == end) return Fail(std::string(word) + " line without a metric name");
  const char* name_end = Is(*p, kMetricStart) ? ScanName<true>(p + 1, end, readable_end_) : p;
  if (name_end == p || (name_end < end && !Is(*name_end, kBlank))) {
    return Fail("invalid metric name " +
                Quote(std::string_view(p, static_cast<size_t>(TokenEnd<false>(p, end) - p))) +
                " in " + std::string(word) + " line");
  }
  std::string_view name(p, static_cast<size_t>(name_end - p));
  p = SkipBlanks(name_end, end);
  // Trailing blanks are not part of the line.
  while (end > p && Is(end[-1], kBlank)) --end;
  std::string_view rest(p, static_cast<size_t>(end - p));
  if (help) {
    if (!ValidUtf8(rest)) return Fail("HELP text of " + Quote(name) + " is not UTF-8");
    StartFamily(name);
    SetHelp(rest);
    return LineResult::kNothing;
  }
  MetricType type;
  if (!ParseType(rest, format_, &type)) {
    return Fail("invalid metric type " + Quote(rest) + " for " + Quote(name) +
                " (counter, gauge, histogram, summary or untyped)");
  }
  StartFamily(name);
  family_type_ = type;
  return LineResult::kNothing;
}

// OpenMetrics: "# EOF", or "# HELP|TYPE|UNIT <name> <rest>" with single
// spaces. Other comments are not allowed.
ExpositionParser::LineResult ExpositionParser::ParseOpenMetricsComment(std::string_view line) {
  if (line == "# EOF") {
    eof_seen_ = true;
    return LineResult::kNothing;
  }
  std::string_view keyword = line.substr(0, 7);
  bool help = keyword == "# HELP ";
  bool type = keyword == "# TYPE ";
  bool unit = keyword == "# UNIT ";
  if (!help && !type && !unit) {
    return Fail("invalid comment " + Quote(line) +
                " (OpenMetrics allows # HELP, # TYPE, # UNIT and # EOF only)");
  }
  const char* end = line.data() + line.size();
  const char* p = line.data() + 7;
  if (p == end || !Is(*p, kMetricStart)) {
    return Fail("invalid metric name in " + std::string(keyword.substr(2, 4)) + " line");
  }
  const char* name_end = ScanName<true>(p + 1, end, readable_end_);
  std::string_view name(p, static_cast<size_t>(name_end - p));
  std::string_view rest;
  if (name_end < end) {
    if (*name_end != ' ') {
      return Fail("invalid metric name in " + std::string(keyword.substr(2, 4)) + " line");
    }
    rest = std::string_view(name_end + 1, static_cast<size_t>(end - name_end - 1));
  }
  if (help) {
    if (!ValidUtf8(rest)) return Fail("HELP text of " + Quote(name) + " is not UTF-8");
    StartFamily(name);
    SetHelp(rest);
    return LineResult::kNothing;
  }
  if (type) {
    MetricType t;
    if (!ParseType(rest, format_, &t)) {
      return Fail("invalid metric type " + Quote(rest) + " for " + Quote(name) +
                  " (counter, gauge, histogram, gaugehistogram, summary, info, stateset or "
                  "unknown)");
    }
    StartFamily(name);
    family_type_ = t;
    return LineResult::kNothing;
  }
  // A unit, if any, is the end of the family's name after an underscore.
  if (Skip(rest.data(), rest.data() + rest.size(), kMetricChar) != rest.data() + rest.size()) {
    return Fail("invalid unit " + Quote(rest) + " for " + Quote(name));
  }
  if (!rest.empty() && !(name.size() > rest.size() && name.ends_with(rest) &&
                         name[name.size() - rest.size() - 1] == '_')) {
    return Fail("unit " + Quote(rest) + " is not the suffix of the metric name " + Quote(name));
  }
  StartFamily(name);
  unit_.assign(rest);
  return LineResult::kNothing;
}

// Unescapes a label value into unescape_; p is just after the opening
// quote. Returns the closing quote, or nullptr if the line ends first.
const char* ExpositionParser::ScanEscapedValue(const char* p, const char* end,
                                               std::string_view* value, bool* high) {
  if (!unescape_reserved_) {
    unescape_.clear();
    unescape_.reserve(line_.size());
    unescape_reserved_ = true;
  }
  // Invariant: the values of one line unescape to at most the line's size,
  // which is reserved, so appends do not move the values already handed out.
  const size_t capacity = unescape_.capacity();
  const size_t start = unescape_.size();
  const char* run = p;
  for (; p < end; ++p) {
    char c = *p;
    if (c == '"') {
      unescape_.append(run, p);
      SLUICE_DCHECK(unescape_.capacity() == capacity);
      *value = std::string_view(unescape_.data() + start, unescape_.size() - start);
      return p;
    }
    if (c == '\\') {
      unescape_.append(run, p);
      if (p + 1 == end) return nullptr;
      char n = p[1];
      if (n == '\\' || n == '"') {
        unescape_.push_back(n);
      } else if (n == 'n') {
        unescape_.push_back('\n');
      } else {
        unescape_.push_back('\\');
        unescape_.push_back(n);
        *high |= (n & 0x80) != 0;
      }
      ++p;
      run = p + 1;
      continue;
    }
    *high |= (c & 0x80) != 0;
  }
  (void)capacity;
  return nullptr;
}

// Labels are few: for up to 8 a pairwise compare beats sorting; a longer
// set (a line may hold thousands) is sorted, so no line costs quadratic time.
bool ExpositionParser::CheckDuplicates(std::span<const ExpositionLabel> labels) {
  constexpr size_t kPairwise = 8;
  if (labels.size() <= kPairwise) {
    for (size_t i = 1; i < labels.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (labels[i].name == labels[j].name) {
          Fail("duplicate label name " + Quote(labels[i].name));
          return false;
        }
      }
    }
    return true;
  }
  sorted_names_.clear();
  for (const auto& l : labels) sorted_names_.push_back(l.name);
  std::sort(sorted_names_.begin(), sorted_names_.end());
  auto dup = std::adjacent_find(sorted_names_.begin(), sorted_names_.end());
  if (dup == sorted_names_.end()) return true;
  Fail("duplicate label name " + Quote(*dup));
  return false;
}

// p is just after '{'. Returns the byte after '}', or nullptr (status_ set).
template <bool kOpenMetrics>
const char* ExpositionParser::ParseLabels(const char* p, const char* end,
                                          std::vector<ExpositionLabel>* out) {
  auto blanks = [end](const char* q) { return kOpenMetrics ? q : SkipBlanks(q, end); };
  p = blanks(p);
  if (p < end && *p == '}') return p + 1;
  for (;;) {
    if (p == end || !Is(*p, kLabelStart)) {
      Fail(p == end ? std::string("unterminated label set")
                    : "invalid label name starting at " +
                          Quote(std::string_view(p, static_cast<size_t>(end - p))));
      return nullptr;
    }
    const char* name_begin = p;
    p = ScanName<false>(p + 1, end, readable_end_);
    std::string_view name(name_begin, static_cast<size_t>(p - name_begin));
    p = blanks(p);
    if (p == end || *p != '=') {
      Fail("expected = after label name " + Quote(name));
      return nullptr;
    }
    p = blanks(p + 1);
    if (p == end || *p != '"') {
      Fail("expected a quoted value for label " + Quote(name));
      return nullptr;
    }
    const char* value_begin = ++p;
    // Values are short and plain: a byte loop that stops only at a quote,
    // a backslash or a non-ASCII byte.
    bool high = false;
    std::string_view value;
    p = ScanValue<true>(p, end, readable_end_);
    if (p < end && (*p & 0x80)) {
      high = true;
      p = ScanValue<false>(p, end, readable_end_);
    }
    if (p < end && *p == '"') {
      value = std::string_view(value_begin, static_cast<size_t>(p - value_begin));
    } else if (p < end) {  // a backslash
      p = ScanEscapedValue(value_begin, end, &value, &high);
    } else {
      p = nullptr;
    }
    if (p == nullptr) {
      Fail("unterminated value of label " + Quote(name));
      return nullptr;
    }
    if (high && !ValidUtf8(value)) {
      Fail("value of label " + Quote(name) + " is not UTF-8");
      return nullptr;
    }
    out->push_back({name, value});
    p = blanks(p + 1);
    if (p < end && *p == ',') {
      p = blanks(p + 1);
      // 0.0.4 allows a comma after the last label; OpenMetrics does not.
      if (!kOpenMetrics && p < end && *p == '}') break;
      continue;
    }
    if (p < end && *p == '}') break;
    Fail("expected , or } after the value of label " + Quote(name));
    return nullptr;
  }
  if (!CheckDuplicates(*out)) return nullptr;
  return p + 1;
}

template <bool kOpenMetrics>
ExpositionParser::LineResult ExpositionParser::ParseSample(const char* p, const char* end) {
  if (!Is(*p, kMetricStart)) {
    return Fail("expected a metric name, found " +
                Quote(std::string_view(p, static_cast<size_t>(end - p))));
  }
  const char* name_begin = p;
  p = ScanName<true>(p + 1, end, readable_end_);
  sample_.name = std::string_view(name_begin, static_cast<size_t>(p - name_begin));
  labels_.clear();
  bool braces = false;
  if constexpr (!kOpenMetrics) p = SkipBlanks(p, end);
  if (p < end && *p == '{') {
    p = ParseLabels<kOpenMetrics>(p + 1, end, &labels_);
    if (p == nullptr) return LineResult::kError;
    braces = true;
  }
  sample_.labels = labels_;

  // The value, after one space (OpenMetrics) or any blanks (0.0.4, where
  // the closing brace alone may separate it).
  if (!braces && p < end && p == name_begin + sample_.name.size() && (!kOpenMetrics || *p != ' ')) {
    return Fail("invalid character in metric name " +
                Quote(std::string_view(name_begin, static_cast<size_t>(end - name_begin))));
  }
  if constexpr (kOpenMetrics) {
    if (p == end || *p != ' ') {
      return Fail(p == end ? "missing value" : "expected a space before the value");
    }
    ++p;
  } else {
    p = SkipBlanks(p, end);
  }
  const char* value_end = TokenEnd<kOpenMetrics>(p, end);
  if (p == value_end) return Fail("missing value");
  if (!ParseNumber(p, value_end, /*with_specials=*/true, &sample_.value)) {
    return Fail("invalid value " + Quote(std::string_view(p, static_cast<size_t>(value_end - p))));
  }
  p = value_end;
  sample_.has_timestamp = false;
  sample_.timestamp_ms = 0;

  if constexpr (kOpenMetrics) {
    // After the value: nothing, or " <timestamp>", then nothing or
    // " # <exemplar>". p is at the end or at the space after the value.
    if (p < end) {
      ++p;
      if (p == end || *p != '#') {
        const char* ts_end = TokenEnd<true>(p, end);
        if (!ParseSecondsAsMillis(p, ts_end, &sample_.timestamp_ms)) {
          return Fail("invalid timestamp " +
                      Quote(std::string_view(p, static_cast<size_t>(ts_end - p))));
        }
        sample_.has_timestamp = true;
        p = ts_end;
        if (p < end) {
          ++p;
          if (p == end || *p != '#') {
            return Fail("expected an exemplar (# {...}) after the timestamp, found " +
                        Quote(std::string_view(p, static_cast<size_t>(end - p))));
          }
        }
      }
    }
    if (p < end) {
      // An exemplar: "# {labels} value[ timestamp]", checked and skipped.
      if (end - p < 3 || p[1] != ' ' || p[2] != '{') {
        return Fail("expected an exemplar (# {...}) after the value");
      }
      exemplar_labels_.clear();
      p = ParseLabels<true>(p + 3, end, &exemplar_labels_);
      if (p == nullptr) return LineResult::kError;
      if (p == end || *p != ' ') return Fail("missing exemplar value");
      ++p;
      const char* ev_end = TokenEnd<true>(p, end);
      double exemplar_value;
      if (!ParseNumber(p, ev_end, /*with_specials=*/true, &exemplar_value)) {
        return Fail("invalid exemplar value " +
                    Quote(std::string_view(p, static_cast<size_t>(ev_end - p))));
      }
      p = ev_end;
      if (p < end) {
        ++p;
        int64_t exemplar_ms;
        if (!ParseSecondsAsMillis(p, end, &exemplar_ms)) {
          return Fail("invalid exemplar timestamp " +
                      Quote(std::string_view(p, static_cast<size_t>(end - p))));
        }
      }
    }
  } else {
    p = SkipBlanks(p, end);
    if (p < end) {
      const char* ts_end = TokenEnd<false>(p, end);
      if (!ParseMillis(p, ts_end, &sample_.timestamp_ms)) {
        return Fail("invalid timestamp " +
                    Quote(std::string_view(p, static_cast<size_t>(ts_end - p))));
      }
      sample_.has_timestamp = true;
      if (SkipBlanks(ts_end, end) != end) return Fail("unexpected text after the timestamp");
    }
  }

  // The family: the last one declared, if the name is its own or its name
  // plus a suffix of its type.
  std::string_view name = sample_.name;
  if (!family_.empty() && name.starts_with(family_) &&
      (name.size() == family_.size() || SuffixBelongs(family_type_, name.substr(family_.size())))) {
    sample_.type = family_type_;
    sample_.family = family_;
    sample_.help = help_;
    sample_.unit = unit_;
  } else {
    sample_.type = MetricType::kUnknown;
    sample_.family = name;
    sample_.help = {};
    sample_.unit = {};
  }
  return LineResult::kSample;
}

}  // namespace sluice::wire::prom
