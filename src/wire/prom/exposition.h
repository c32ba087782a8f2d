#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sluice::wire::prom {

// The metric types of the two text formats. 0.0.4's `untyped` and
// OpenMetrics' `unknown` are both kUnknown; the last three exist in
// OpenMetrics only.
enum class MetricType : uint8_t {
  kUnknown,
  kCounter,
  kGauge,
  kHistogram,
  kGaugeHistogram,
  kSummary,
  kInfo,
  kStateSet,
};

// "counter", "gaugehistogram", ... as OpenMetrics spells them ("unknown").
std::string_view MetricTypeName(MetricType type);

enum class ExpositionFormat : uint8_t { kText004, kOpenMetrics };

// The format a scrape's Content-Type names: `application/openmetrics-text`
// (any parameters, any case) is OpenMetrics; anything else, an empty or
// missing header included, is the 0.0.4 text format, as Prometheus falls
// back to it.
ExpositionFormat FormatOfContentType(std::string_view content_type);

struct ExpositionLabel {
  std::string_view name, value;
};

// One sample line. Every view points into the parser's input or buffers and
// is valid only during the on_sample call that receives it.
struct ExpositionSample {
  std::string_view name;  // the series' metric name (e.g. foo_bucket, foo_total)
  // In the order written, values unescaped; never contains __name__ unless
  // the line wrote it as a label.
  std::span<const ExpositionLabel> labels;
  double value = 0;  // NaN, +Inf, -Inf parsed as Prometheus does (see below)
  bool has_timestamp = false;
  // 0.0.4: integer milliseconds as written. OpenMetrics: float seconds,
  // rounded to the nearest millisecond.
  int64_t timestamp_ms = 0;
  // The type of the family per its # TYPE line (kUnknown without one).
  MetricType type = MetricType::kUnknown;
  // The family named by the # TYPE / # HELP / # UNIT lines the sample
  // belongs to, else = name.
  std::string_view family;
  // The family's # HELP text (unescaped) and OpenMetrics # UNIT, empty
  // without them.
  std::string_view help;
  std::string_view unit;
};

// A streaming parser of a scrape body in the Prometheus text exposition
// format 0.0.4 or OpenMetrics 1.0 text. The body is a sequence of lines,
// each ended by \n, parsed one at a time as they complete:
//
//   0.0.4 (tokens separated by any run of blanks and tabs, which may also
//   lead and trail a line; blank lines are skipped):
//     # HELP <name> <docstring>                  docstring escapes: \\ \n
//     # TYPE <name> counter|gauge|histogram|summary|untyped
//     # <anything else>                          a comment, skipped
//     <name>[{<label>="<value>",...[,]}] <value> [<timestamp: int64 ms>]
//
//   OpenMetrics 1.0 (one space between tokens, exactly; nothing else):
//     # HELP <name> <text>                       text escapes: \\ \n \"
//     # TYPE <name> counter|gauge|histogram|gaugehistogram|summary|info|
//                   stateset|unknown
//     # UNIT <name> <unit>                       <name> must end in _<unit>
//     <name>[{<label>="<value>",...}] <value>[ <timestamp: float s>][ <exemplar>]
//       exemplar = # {<label>="<value>",...} <value>[ <timestamp>]  (skipped)
//     # EOF                                      last line; required
//
//   <name>  = [a-zA-Z_:][a-zA-Z0-9_:]*     <label> = [a-zA-Z_][a-zA-Z0-9_]*
//   <value> = a decimal float as Go's strconv.ParseFloat reads it (no hex,
//             no underscores: Prometheus refuses those), or case-insensitive
//             Inf/Infinity with an optional sign, or NaN without one
//   label values escape \\ \" \n; a backslash before any other byte stays
//   as written (so "\t" is two bytes), as Prometheus unescapes them; they
//   must be UTF-8.
//
// A sample's family: the last # TYPE, # HELP or # UNIT line names a family,
// and the samples after it belong to it when their name is the family's or
// the family's plus a suffix of its type (_total/_created for counters,
// _bucket/_sum/_count/_created for histograms, _bucket/_gsum/_gcount for
// gauge histograms, _sum/_count/_created for summaries, _info for info).
// Both formats write a family's descriptors right before its samples
// (OpenMetrics requires it; every 0.0.4 client library does it), so the
// parser keeps the one family rather than a map of all of them.
//
// Errors: the first malformed line (or line longer than max_line_bytes, or
// for OpenMetrics anything after # EOF or its absence) ends the parse with
// InvalidArgument "line N: <reason>"; the caller discards the whole scrape,
// as Prometheus does, and every later call returns the same status. Samples
// of the lines before it have been delivered already. The outcome — the
// samples delivered and the status — does not depend on how the body is cut
// into chunks.
//
// Memory: a line split across chunks is copied into a carry-over buffer
// (bounded by max_line_bytes); otherwise nothing is copied but label values
// that hold escapes (unescaped into a buffer) and the current family's name,
// HELP and UNIT (which its later lines refer to). Buffers are kept across
// lines and across Reset, so a parser reused for each scrape of a target
// stops allocating.
//
// Not supported: the quoted UTF-8 metric and label names of newer
// Prometheus versions ({"my.metric",...}), which are an error here.
//
// Thread-safety: none; one thread at a time.
class ExpositionParser {
 public:
  explicit ExpositionParser(ExpositionFormat format, size_t max_line_bytes = 1 << 20);
  ExpositionParser(const ExpositionParser&) = delete;
  ExpositionParser& operator=(const ExpositionParser&) = delete;

  // Feeds the next chunk of the body (chunks split anywhere, even inside a
  // line or a UTF-8 sequence) and calls on_sample(const ExpositionSample&)
  // for each sample line completed so far. Returns InvalidArgument naming
  // the line number and the reason on the first malformed line; after an
  // error further calls return the same error. Feed after Finish is
  // FailedPrecondition.
  template <class F>
  Status Feed(std::string_view chunk, F&& on_sample);

  // End of body: parses a last line that has no newline; for OpenMetrics,
  // InvalidArgument if "# EOF" was missing. Further calls return the same.
  template <class F>
  Status Finish(F&& on_sample);

  // Starts a new body in `format`, keeping the buffers' memory.
  void Reset(ExpositionFormat format);

  ExpositionFormat format() const { return format_; }
  // Lines completed so far (the unterminated last one too, after Finish).
  uint64_t lines() const { return lines_; }
  // Samples delivered to on_sample so far.
  uint64_t samples() const { return samples_; }

 private:
  enum class LineResult : uint8_t { kNothing, kSample, kError };

  // Parses one complete line (without its \n) into sample_ or the family
  // state. kError has set status_. The bytes up to readable_end (the end of
  // the chunk or of carry_, at or past the line's end) may be read, never
  // interpreted, so that scans go 16 bytes at a time up to the line's end.
  LineResult ParseLine(std::string_view line, const char* readable_end);
  template <class F>
  bool Dispatch(std::string_view line, const char* readable_end, F& on_sample);

  // The line kinds, in exposition.cc.
  template <bool kOpenMetrics>
  LineResult ParseSample(const char* p, const char* end);
  template <bool kOpenMetrics>
  const char* ParseLabels(const char* p, const char* end, std::vector<ExpositionLabel>* out);
  const char* ScanEscapedValue(const char* p, const char* end, std::string_view* value, bool* high);
  LineResult ParseTextComment(const char* p, const char* end);
  LineResult ParseOpenMetricsComment(std::string_view line);
  bool CheckDuplicates(std::span<const ExpositionLabel> labels);
  void StartFamily(std::string_view name);
  void SetHelp(std::string_view escaped);

  // Error outcomes; each stores the status in status_ and returns it (or
  // kError).
  LineResult Fail(std::string why);
  Status FailAt(uint64_t line, std::string why);
  Status LineTooLong();
  Status ContentAfterEof();
  Status FeedAfterFinish();
  Status End();

  ExpositionFormat format_;
  size_t max_line_bytes_;
  uint64_t lines_ = 0;
  uint64_t samples_ = 0;
  bool eof_seen_ = false;  // OpenMetrics: the "# EOF" line has been parsed
  bool finished_ = false;
  Status status_;

  // The start of a line whose \n has not arrived yet. Invariant: at most
  // max_line_bytes_, and empty whenever no line is pending.
  std::string carry_;
  std::vector<ExpositionLabel> labels_;
  std::vector<ExpositionLabel> exemplar_labels_;
  std::vector<std::string_view> sorted_names_;  // duplicate check of long label sets
  // Label values with escapes, unescaped. Reserved to the line's size at
  // the first escape of a line, so appends never move the values already in
  // it. Invariant: unescape_reserved_ is false at the start of each line.
  std::string unescape_;
  bool unescape_reserved_ = false;
  std::string_view line_;               // the line being parsed
  const char* readable_end_ = nullptr;  // see ParseLine

  // The family of the last # TYPE / # HELP / # UNIT line ("" before one).
  std::string family_;
  MetricType family_type_ = MetricType::kUnknown;
  std::string help_;
  std::string unit_;

  ExpositionSample sample_;
};

template <class F>
bool ExpositionParser::Dispatch(std::string_view line, const char* readable_end, F& on_sample) {
  switch (ParseLine(line, readable_end)) {
    case LineResult::kSample:
      ++samples_;
      on_sample(static_cast<const ExpositionSample&>(sample_));
      return true;
    case LineResult::kNothing:
      return true;
    case LineResult::kError:
      break;
  }
  return false;
}

template <class F>
Status ExpositionParser::Feed(std::string_view chunk, F&& on_sample) {
  if (!status_.ok()) return status_;
  if (finished_) return FeedAfterFinish();
  if (chunk.empty()) return Status::Ok();  // its data() may be null, which memchr must not get
  const char* p = chunk.data();
  const char* const end = p + chunk.size();
  if (!carry_.empty()) {
    const auto* nl = static_cast<const char*>(std::memchr(p, '\n', chunk.size()));
    size_t take = static_cast<size_t>((nl ? nl : end) - p);
    if (take > max_line_bytes_ - carry_.size()) return LineTooLong();
    carry_.append(p, take);
    if (nl == nullptr) return Status::Ok();
    p = nl + 1;
    if (!Dispatch(carry_, carry_.data() + carry_.size(), on_sample)) return status_;
    carry_.clear();
  }
  while (p < end) {
    if (eof_seen_) return ContentAfterEof();
    const auto* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (nl == nullptr) {
      if (static_cast<size_t>(end - p) > max_line_bytes_) return LineTooLong();
      carry_.assign(p, end);
      break;
    }
    std::string_view line(p, static_cast<size_t>(nl - p));
    if (line.size() > max_line_bytes_) return LineTooLong();
    if (!Dispatch(line, end, on_sample)) return status_;
    p = nl + 1;
  }
  return Status::Ok();
}

template <class F>
Status ExpositionParser::Finish(F&& on_sample) {
  if (!status_.ok() || finished_) return status_;
  finished_ = true;
  if (!carry_.empty()) {
    if (!Dispatch(carry_, carry_.data() + carry_.size(), on_sample)) return status_;
    carry_.clear();
  }
  return End();
}

}  // namespace sluice::wire::prom
