#include "query/loki.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <queue>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "base/units.h"
#include "net/http_fields.h"
#include "query/logs.h"
#include "query/params.h"
#include "query/segment_reader.h"
#include "wire/otlp/common.h"
#include "wire/otlp/logs.h"
#include "wire/proto_reader.h"

namespace sluice::query {
namespace {

namespace of = wire::otlp::field;
using Params = std::vector<std::pair<std::string, std::string>>;

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kHour = 3600 * kSecond;
constexpr int64_t kDefaultLimit = 100;
constexpr int64_t kMaxLimit = 5000;  // Loki's max_entries_limit_per_query default

constexpr std::string_view kPrefix = "/loki/api/v1/";
constexpr std::string_view kServiceLabel = "service_name";
constexpr std::string_view kLevelLabel = "detected_level";

constexpr std::string_view kMetricUnsupported =
    "metric queries (count_over_time, rate, sum by, ...) are not supported: sluice answers log "
    "queries, a stream selector with line filters such as {service_name=\"checkout\"} |= "
    "\"error\"";

// Loki answers a bad request with its message as plain text.
net::HttpResponse Fail(std::string_view message) {
  return net::HttpResponse::Text(400, std::string(message));
}

// ---- LogQL: a stream selector and line filters -----------------------------
//
//   query    := selector filter*
//   selector := '{' [ matcher { ',' matcher } [ ',' ] ] '}'
//   matcher  := name ( '=' | '!=' | '=~' | '!~' ) string
//   filter   := ( '|=' | '!=' | '|~' | '!~' ) string
//   string   := '"' Go escapes '"' | '`' raw '`'
//
// Regular expressions are RE2: a label matcher's matches the whole value,
// a line filter's any part of the line.

struct Matcher {
  enum class Op { kEq, kNe, kRe, kNotRe };
  std::string name;
  Op op = Op::kEq;
  std::string value;
  std::shared_ptr<const RE2> re;

  bool Matches(std::string_view v) const {
    switch (op) {
      case Op::kEq:
        return v == value;
      case Op::kNe:
        return v != value;
      case Op::kRe:
        return RE2::FullMatch(v, *re);
      case Op::kNotRe:
        return !RE2::FullMatch(v, *re);
    }
    return false;
  }
};

struct LineFilter {
  enum class Op { kContains, kNotContains, kRe, kNotRe };
  Op op = Op::kContains;
  std::string text;
  std::shared_ptr<const RE2> re;

  bool Passes(std::string_view line) const {
    switch (op) {
      case Op::kContains:
        return line.find(text) != std::string_view::npos;
      case Op::kNotContains:
        return line.find(text) == std::string_view::npos;
      case Op::kRe:
        return RE2::PartialMatch(line, *re);
      case Op::kNotRe:
        return !RE2::PartialMatch(line, *re);
    }
    return false;
  }
};

struct LogSelector {
  std::vector<Matcher> matchers;
  std::vector<LineFilter> filters;
};

class LogqlParser {
 public:
  explicit LogqlParser(std::string_view query) : q_(query) {}

  // InvalidArgument "parse error at line L, col C: ..." for what is not the
  // grammar above (or, without `filters`, a selector alone).
  Result<LogSelector> Parse(bool filters) {
    LogSelector out;
    Space();
    if (i_ == q_.size()) return Error(i_, "syntax error: empty query, expected a stream selector");
    if (q_[i_] != '{') {
      const unsigned char c = static_cast<unsigned char>(q_[i_]);
      if (std::isalpha(c) || c == '(' || std::isdigit(c)) {
        return Status::InvalidArgument(std::string(kMetricUnsupported));
      }
      return Error(i_, "syntax error: unexpected " + Quote(q_[i_]) + ", expected {");
    }
    ++i_;
    Space();
    if (!Eat('}')) {
      while (true) {
        Matcher m;
        SLUICE_RETURN_IF_ERROR(Name(&m.name));
        Space();
        const size_t op_at = i_;
        if (Eat("=~")) {
          m.op = Matcher::Op::kRe;
        } else if (Eat("!~")) {
          m.op = Matcher::Op::kNotRe;
        } else if (Eat("!=")) {
          m.op = Matcher::Op::kNe;
        } else if (Eat("=")) {
          m.op = Matcher::Op::kEq;
        } else {
          return Error(op_at, "syntax error: expected =, !=, =~ or !~ after label " + m.name);
        }
        Space();
        const size_t value_at = i_;
        SLUICE_RETURN_IF_ERROR(String(&m.value));
        if (m.op == Matcher::Op::kRe || m.op == Matcher::Op::kNotRe) {
          SLUICE_RETURN_IF_ERROR(Compile(m.value, value_at, &m.re));
        }
        out.matchers.push_back(std::move(m));
        Space();
        if (Eat(',')) {
          Space();
          if (Eat('}')) break;
          continue;
        }
        if (Eat('}')) break;
        if (i_ == q_.size()) return Error(i_, "syntax error: unexpected end of query, expected }");
        return Error(i_, "syntax error: unexpected " + Quote(q_[i_]) + ", expected , or }");
      }
    }
    // Loki's rule: some matcher must not match an empty (absent) label.
    if (std::none_of(out.matchers.begin(), out.matchers.end(),
                     [](const Matcher& m) { return !m.Matches(""); })) {
      return Status::InvalidArgument(
          "parse error : queries require at least one regexp or equality matcher that does not "
          "have an empty-compatible value. For instance, app=~\".*\" does not meet this "
          "requirement, but app=~\".+\" will");
    }
    while (true) {
      Space();
      if (i_ == q_.size()) break;
      const size_t at = i_;
      LineFilter f;
      if (Eat("|=")) {
        f.op = LineFilter::Op::kContains;
      } else if (Eat("!=")) {
        f.op = LineFilter::Op::kNotContains;
      } else if (Eat("|~")) {
        f.op = LineFilter::Op::kRe;
      } else if (Eat("!~")) {
        f.op = LineFilter::Op::kNotRe;
      } else if (q_[i_] == '|') {
        return Error(at,
                     "only line filters (|=, !=, |~, !~) may follow the stream selector: "
                     "parsers, label filters and formatting (| json, | logfmt, | line_format, "
                     "...) are not supported");
      } else if (q_[i_] == '[') {
        return Status::InvalidArgument(std::string(kMetricUnsupported));
      } else {
        return Error(at, "syntax error: unexpected " + Quote(q_[i_]) +
                             ", expected a line filter (|=, !=, |~ or !~)");
      }
      if (!filters) return Error(at, "only a stream selector is accepted here");
      Space();
      const size_t value_at = i_;
      SLUICE_RETURN_IF_ERROR(String(&f.text));
      if (f.op == LineFilter::Op::kRe || f.op == LineFilter::Op::kNotRe) {
        SLUICE_RETURN_IF_ERROR(Compile(f.text, value_at, &f.re));
      }
      Space();
      if (q_.substr(i_).starts_with("or") &&
          (i_ + 2 == q_.size() || !std::isalnum(static_cast<unsigned char>(q_[i_ + 2])))) {
        return Error(i_, "\"or\" between line filters is not supported");
      }
      out.filters.push_back(std::move(f));
    }
    return out;
  }

 private:
  static std::string Quote(char c) { return std::string("\"") + c + "\""; }

  Status Error(size_t at, std::string_view what) const {
    size_t line = 1, col = 1;
    for (size_t k = 0; k < at && k < q_.size(); ++k) {
      if (q_[k] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return Status::InvalidArgument("parse error at line " + std::to_string(line) + ", col " +
                                   std::to_string(col) + ": " + std::string(what));
  }
  void Space() {
    while (i_ < q_.size() && std::isspace(static_cast<unsigned char>(q_[i_]))) ++i_;
  }
  bool Eat(char c) {
    if (i_ < q_.size() && q_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool Eat(std::string_view token) {
    if (!q_.substr(i_).starts_with(token)) return false;
    i_ += token.size();
    return true;
  }
  Status Name(std::string* out) {
    const size_t at = i_;
    while (i_ < q_.size() && (std::isalnum(static_cast<unsigned char>(q_[i_])) || q_[i_] == '_'))
      ++i_;
    if (i_ == at || std::isdigit(static_cast<unsigned char>(q_[at]))) {
      return Error(at, "syntax error: expected a label name");
    }
    *out = std::string(q_.substr(at, i_ - at));
    return Status::Ok();
  }
  Status Hex(size_t digits, uint32_t* out) {
    if (q_.size() - i_ < digits) return Error(i_, "invalid escape sequence");
    auto [end, ec] = std::from_chars(q_.data() + i_, q_.data() + i_ + digits, *out, 16);
    if (ec != std::errc() || end != q_.data() + i_ + digits) {
      return Error(i_, "invalid escape sequence");
    }
    i_ += digits;
    return Status::Ok();
  }
  static void Utf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  // A Go string literal: "..." with escapes, or `...` raw.
  Status String(std::string* out) {
    const size_t at = i_;
    if (Eat('`')) {
      const size_t end = q_.find('`', i_);
      if (end == std::string_view::npos) return Error(at, "syntax error: unterminated string");
      *out = std::string(q_.substr(i_, end - i_));
      i_ = end + 1;
      return Status::Ok();
    }
    if (!Eat('"')) return Error(at, "syntax error: expected a string in \"quotes\" or `backticks`");
    while (i_ < q_.size()) {
      const char c = q_[i_++];
      if (c == '"') return Status::Ok();
      if (c == '\n') break;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (i_ == q_.size()) break;
      const size_t escape_at = i_ - 1;
      const char e = q_[i_++];
      uint32_t cp = 0;
      switch (e) {
        case 'a':
          out->push_back('\a');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'v':
          out->push_back('\v');
          break;
        case '\\':
        case '"':
        case '\'':
          out->push_back(e);
          break;
        case 'x':
          SLUICE_RETURN_IF_ERROR(Hex(2, &cp));
          out->push_back(static_cast<char>(cp));
          break;
        case 'u':
          SLUICE_RETURN_IF_ERROR(Hex(4, &cp));
          Utf8(out, cp);
          break;
        case 'U':
          SLUICE_RETURN_IF_ERROR(Hex(8, &cp));
          if (cp > 0x10FFFF) return Error(escape_at, "invalid escape sequence");
          Utf8(out, cp);
          break;
        default:
          return Error(escape_at, std::string("invalid escape sequence \\") + e +
                                      " (write \\\\ for a backslash, or use `backticks`)");
      }
    }
    return Error(at, "syntax error: unterminated string");
  }
  Status Compile(const std::string& pattern, size_t at, std::shared_ptr<const RE2>* out) const {
    RE2::Options o;
    o.set_log_errors(false);
    o.set_max_mem(8 << 20);
    auto re = std::make_shared<const RE2>(pattern, o);
    if (!re->ok()) return Error(at, "invalid regular expression: " + re->error());
    *out = std::move(re);
    return Status::Ok();
  }

  std::string_view q_;
  size_t i_ = 0;
};

// ---- Times -------------------------------------------------------------------

// A time as Loki takes it: Unix seconds with a fraction, a whole number
// (seconds when of up to 10 digits, else nanoseconds), or RFC 3339.
bool ParseLokiTime(std::string_view v, int64_t* out) {
  if (v.find('.') != std::string_view::npos && ParseUnixSeconds(v, out)) return true;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec == std::errc() && end == v.data() + v.size() && !v.empty()) {
    if (v.size() <= 10) {
      *out = n * kSecond;
    } else {
      *out = n;
    }
    return true;
  }
  return ParseRfc3339(v, out);
}

struct Range {
  int64_t start = 0, end = 0;  // [start, end), as Loki
};

// `start`, `end` and `since` (default: the hour before end).
Result<Range> ParseRange(const Params& params, int64_t now) {
  Range r;
  r.end = now;
  if (const std::string* v = FindParam(params, "end"); v != nullptr && !v->empty()) {
    if (!ParseLokiTime(*v, &r.end)) {
      return Status::InvalidArgument(
          "invalid end: expected RFC3339, Unix seconds or Unix nanoseconds");
    }
  }
  int64_t since = kHour;
  if (const std::string* v = FindParam(params, "since"); v != nullptr && !v->empty()) {
    Result<std::chrono::nanoseconds> d = ParseDuration(*v);
    if (!d.ok() || d->count() <= 0) {
      return Status::InvalidArgument("invalid since: expected a duration such as 1h");
    }
    since = d->count();
  }
  r.start = r.end - since;
  if (const std::string* v = FindParam(params, "start"); v != nullptr && !v->empty()) {
    if (!ParseLokiTime(*v, &r.start)) {
      return Status::InvalidArgument(
          "invalid start: expected RFC3339, Unix seconds or Unix nanoseconds");
    }
  }
  if (r.end < r.start) {
    return Status::InvalidArgument("end timestamp must not be before or equal to start time");
  }
  return r;
}

// ---- Records as Loki sees them -----------------------------------------------

// Labels, sorted by name.
using Labels = std::vector<std::pair<std::string, std::string>>;

// An attribute name as a label name, as Loki's OTLP ingestion makes it:
// every character but ASCII letters, digits and _ becomes _, and a leading
// digit gets "key_" before it.
std::string LabelName(std::string_view key) {
  std::string out(key);
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
  }
  if (!out.empty() && std::isdigit(static_cast<unsigned char>(out[0]))) out = "key_" + out;
  return out;
}

// A resource's labels: its attributes (the first of names that collide),
// and service_name, "unknown_service" when it has none.
Labels ResourceLabels(std::string_view resource) {
  std::map<std::string, std::string> labels;
  labels[std::string(kServiceLabel)] = wire::otlp::ServiceName(resource);
  wire::ProtoReader r(resource);
  while (r.Next()) {
    if (r.field() != of::kResourceAttributes || !r.Is(wire::WireType::kLengthDelimited)) continue;
    std::string_view key, value;
    wire::ProtoReader kv(r.bytes());
    while (kv.Next()) {
      if (kv.field() == of::kKeyValueKey) key = kv.bytes();
      if (kv.field() == of::kKeyValueValue) value = kv.bytes();
    }
    std::string name = LabelName(key);
    if (name.empty()) continue;
    labels.emplace(std::move(name), wire::otlp::AnyValueText(value));
  }
  return Labels(labels.begin(), labels.end());
}

// detected_level as Loki derives it from an OTLP record: from the severity
// number, else the severity text, else "unknown".
std::string_view Level(const LogRecordRef& r) {
  if (r.severity > 0) {
    static constexpr std::string_view kByNumber[] = {"trace", "debug", "info",
                                                     "warn",  "error", "fatal"};
    const int32_t i = (r.severity - 1) / 4;
    return i < 6 ? kByNumber[i] : "unknown";
  }
  std::string text(r.severity_text);
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view known : {"trace", "debug", "info", "warn", "error", "fatal", "critical"}) {
    if (text == known) return known;
  }
  if (text == "warning") return "warn";
  if (text == "err") return "error";
  return "unknown";
}

// A label's value ("" when absent): the resource's, or detected_level.
std::string_view LabelValue(const Labels& labels, std::string_view level, std::string_view name) {
  auto it = std::lower_bound(labels.begin(), labels.end(), name,
                             [](const auto& kv, std::string_view n) { return kv.first < n; });
  if (it != labels.end() && it->first == name) return it->second;
  return name == kLevelLabel ? level : std::string_view();
}

bool SelectorAdmits(const LogSelector& s, const Labels& labels, std::string_view level) {
  for (const Matcher& m : s.matchers) {
    if (!m.Matches(LabelValue(labels, level, m.name))) return false;
  }
  return true;
}

// The stream's labels as a JSON object, the key streams are grouped by.
std::string StreamJson(const Labels& labels, std::string_view level) {
  std::string out = "{";
  bool level_done = false;
  auto add = [&](std::string_view k, std::string_view v) {
    if (out.size() > 1) out += ',';
    AppendJsonString(out, k);
    out += ':';
    AppendJsonString(out, v);
  };
  for (const auto& [k, v] : labels) {
    if (!level_done && k >= kLevelLabel) {
      if (k != kLevelLabel) add(kLevelLabel, level);  // a resource's own wins
      level_done = true;
    }
    add(k, v);
  }
  if (!level_done) add(kLevelLabel, level);
  out += '}';
  return out;
}

// The service a selector pins (service_name="x"), for the index; "" for any.
std::string PinnedService(const LogSelector& s) {
  for (const Matcher& m : s.matchers) {
    if (m.name == kServiceLabel && m.op == Matcher::Op::kEq) return m.value;
  }
  return "";
}

struct ScanStats {
  uint64_t bytes = 0;
  uint64_t lines = 0;
  bool partial = false;  // stopped at max_scan_bytes
};

using RecordFn = std::function<void(const LogRecordRef&, const Labels&, const LogCursor&)>;

// Calls fn for each log record of the scope that LogMatches `q` (its range
// and service), with its resource's labels and its place in the log, reading
// at most max_scan_bytes of the segments the index allows, oldest or newest
// first. `skip(t)` says a segment or batch whose newest record is at t
// cannot add to the answer.
Status ForEachRecord(const QueryContext& ctx, const LogQuery& q, bool oldest_first,
                     const std::function<bool(int64_t)>& skip, const RecordFn& fn,
                     ScanStats* stats) {
  log::PipelineSet pipelines;
  for (uint32_t id : ctx.index.logs_pipelines()) pipelines.Add(id);
  if (ctx.index.logs_pipelines().empty()) return Status::Ok();
  std::vector<uint64_t> segments =
      ctx.index.SegmentsFor(q.start_unix_nano, q.end_unix_nano, q.service);
  if (!oldest_first) std::reverse(segments.begin(), segments.end());
  for (uint64_t seg : segments) {
    if (stats->partial) break;
    if (skip(ctx.index.MaxTimeOf(seg))) continue;
    auto take = [&](const log::LogReader::Batch& batch) {
      if (batch.header.signal != log::Signal::kLogs ||
          batch.header.encoding != log::Encoding::kOtlpProto || !q.scope.Admits(batch.tenant) ||
          batch.header.max_event_unix_nanos < q.start_unix_nano ||
          batch.header.min_event_unix_nanos > q.end_unix_nano ||
          skip(batch.header.max_event_unix_nanos)) {
        return true;
      }
      stats->bytes += batch.payload.size();
      if (stats->bytes > ctx.options.max_scan_bytes) {
        stats->partial = true;
        return false;
      }
      // A resource's labels, worked out once per resource of the batch.
      bool seen = false;
      const char* seen_at = nullptr;
      size_t seen_size = 0;
      Labels labels;
      uint64_t ordinal = batch.header.base_offset;  // as SearchLogs numbers records
      ForEachLogRecord(batch.payload, [&](const LogRecordRef& r) {
        const LogCursor at{r.time_unix_nano, seg, ordinal++};
        ++stats->lines;
        if (!LogMatches(q, r)) return;
        if (!seen || r.resource.data() != seen_at || r.resource.size() != seen_size) {
          seen = true;
          seen_at = r.resource.data();
          seen_size = r.resource.size();
          labels = ResourceLabels(r.resource);
        }
        fn(r, labels, at);
      });
      return true;
    };
    SLUICE_RETURN_IF_ERROR(ForEachBatchIn(ctx.log, seg, pipelines, take));
  }
  return Status::Ok();
}

std::tuple<int64_t, uint64_t, uint64_t> Key(const LogCursor& c) {
  return {c.time_unix_nano, c.segment, c.ordinal};
}

void AppendWarnings(std::string& out, const ScanStats& stats) {
  if (!stats.partial) return;
  out +=
      ",\"warnings\":[\"partial result: the query stopped at query.max_scan_bytes; narrow the "
      "time range or the selector\"]";
}

// ---- Routes --------------------------------------------------------------------

net::HttpResponse QueryRange(const Params& params, const QueryContext& ctx) {
  const std::string* query = FindParam(params, "query");
  if (query == nullptr || query->empty()) return Fail("query: required");
  Result<LogSelector> selector = LogqlParser(*query).Parse(true);
  if (!selector.ok()) return Fail(selector.status().message());
  Result<Range> range = ParseRange(params, ctx.now_unix_nano);
  if (!range.ok()) return Fail(range.status().message());
  int64_t limit = kDefaultLimit;
  if (const std::string* v = FindParam(params, "limit"); v != nullptr && !v->empty()) {
    if (!ParseInt(*v, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                  &limit)) {
      return Fail("invalid limit: expected a whole number");
    }
    if (limit <= 0) return Fail("limit must be a positive value");
    if (limit > kMaxLimit) {
      return Fail("max entries limit per query exceeded, limit > max_entries_limit (" +
                  std::to_string(limit) + " > " + std::to_string(kMaxLimit) + ")");
    }
  }
  bool backward = true;
  if (const std::string* v = FindParam(params, "direction"); v != nullptr && !v->empty()) {
    std::string d = *v;
    for (char& c : d) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (d != "backward" && d != "forward") {
      return Fail("invalid direction: expected forward or backward");
    }
    backward = d == "backward";
  }

  LogQuery q;
  q.start_unix_nano = range->start;
  q.end_unix_nano = range->end - 1;  // end is exclusive
  q.service = PinnedService(*selector);
  q.limit = static_cast<size_t>(limit);
  q.scope = ctx.scope;

  // The `limit` newest (backward) or oldest (forward) matching entries, the
  // worst of them on top.
  struct Entry {
    LogCursor at;
    std::string stream, line;
  };
  auto worse = [backward](const LogCursor& a, const LogCursor& b) {
    return backward ? Key(a) < Key(b) : Key(a) > Key(b);
  };
  auto better_first = [&](const Entry& x, const Entry& y) { return worse(y.at, x.at); };
  std::priority_queue<Entry, std::vector<Entry>, decltype(better_first)> kept(better_first);
  auto skip = [&](int64_t newest) {
    return backward && kept.size() == q.limit && newest < kept.top().at.time_unix_nano;
  };
  ScanStats stats;
  Status st = ForEachRecord(
      ctx, q, /*oldest_first=*/!backward, skip,
      [&](const LogRecordRef& r, const Labels& labels, const LogCursor& at) {
        if (kept.size() == q.limit && !worse(kept.top().at, at)) return;
        const std::string_view level = Level(r);
        if (!SelectorAdmits(*selector, labels, level)) return;
        std::string line = wire::otlp::AnyValueText(r.body);
        for (const LineFilter& filter : selector->filters) {
          if (!filter.Passes(line)) return;
        }
        kept.push(Entry{at, StreamJson(labels, level), std::move(line)});
        if (kept.size() > q.limit) kept.pop();
      },
      &stats);
  if (!st.ok()) return net::HttpResponse::Text(500, st.message());

  std::vector<Entry> entries;
  entries.reserve(kept.size());
  while (!kept.empty()) {
    entries.push_back(std::move(const_cast<Entry&>(kept.top())));
    kept.pop();
  }
  std::reverse(entries.begin(), entries.end());  // best (newest or oldest) first
  std::map<std::string, std::vector<const Entry*>> streams;
  for (const Entry& e : entries) streams[e.stream].push_back(&e);

  std::string out = R"({"status":"success","data":{"resultType":"streams","result":[)";
  bool first = true;
  for (const auto& [labels, values] : streams) {
    if (!first) out += ',';
    first = false;
    out += "{\"stream\":" + labels + ",\"values\":[";
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out += ',';
      out += "[\"" + std::to_string(values[i]->at.time_unix_nano) + "\",";
      AppendJsonString(out, values[i]->line);
      out += ']';
    }
    out += "]}";
  }
  out += "],\"stats\":{\"summary\":{\"totalBytesProcessed\":" + std::to_string(stats.bytes) +
         ",\"totalLinesProcessed\":" + std::to_string(stats.lines) +
         ",\"totalEntriesReturned\":" + std::to_string(entries.size()) + "}}}";
  AppendWarnings(out, stats);
  out += '}';
  return net::HttpResponse::Json(200, std::move(out));
}

// /labels (`name` empty) and /label/{name}/values, over the range and the
// records an optional `query` selector admits.
net::HttpResponse LabelsOrValues(const Params& params, const QueryContext& ctx,
                                 std::string_view name) {
  Result<Range> range = ParseRange(params, ctx.now_unix_nano);
  if (!range.ok()) return Fail(range.status().message());
  LogSelector selector;
  if (const std::string* v = FindParam(params, "query"); v != nullptr && !v->empty()) {
    Result<LogSelector> s = LogqlParser(*v).Parse(false);
    if (!s.ok()) return Fail(s.status().message());
    selector = std::move(*s);
  }
  LogQuery q;
  q.start_unix_nano = range->start;
  q.end_unix_nano = range->end - 1;
  q.service = PinnedService(selector);
  q.scope = ctx.scope;
  std::set<std::string> found;
  ScanStats stats;
  Status st = ForEachRecord(
      ctx, q, /*oldest_first=*/false, [](int64_t) { return false; },
      [&](const LogRecordRef& r, const Labels& labels, const LogCursor&) {
        const std::string_view level = Level(r);
        if (!SelectorAdmits(selector, labels, level)) return;
        if (name.empty()) {
          for (const auto& [k, v] : labels) found.insert(k);
          found.insert(std::string(kLevelLabel));
        } else if (std::string_view v = LabelValue(labels, level, name); !v.empty()) {
          found.emplace(v);
        }
      },
      &stats);
  if (!st.ok()) return net::HttpResponse::Text(500, st.message());
  std::string out = R"({"status":"success","data":[)";
  bool first = true;
  for (const std::string& s : found) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, s);
  }
  out += ']';
  AppendWarnings(out, stats);
  out += '}';
  return net::HttpResponse::Json(200, std::move(out));
}

// vector(a) + vector(b) + ...: the constant expression Grafana's Loki data
// source sends to test the connection (vector(1)+vector(1)).
bool ConstantSum(std::string_view q, double* sum) {
  size_t i = 0;
  auto space = [&] {
    while (i < q.size() && std::isspace(static_cast<unsigned char>(q[i]))) ++i;
  };
  *sum = 0;
  while (true) {
    space();
    if (!q.substr(i).starts_with("vector")) return false;
    i += 6;
    space();
    if (i == q.size() || q[i++] != '(') return false;
    space();
    double v = 0;
    auto [end, ec] = std::from_chars(q.data() + i, q.data() + q.size(), v);
    if (ec != std::errc()) return false;
    i = static_cast<size_t>(end - q.data());
    space();
    if (i == q.size() || q[i++] != ')') return false;
    *sum += v;
    space();
    if (i == q.size()) return true;
    if (q[i++] != '+') return false;
  }
}

net::HttpResponse InstantQuery(const Params& params, const QueryContext& ctx) {
  const std::string* query = FindParam(params, "query");
  if (query == nullptr || query->empty()) return Fail("query: required");
  double sum = 0;
  if (!ConstantSum(*query, &sum)) {
    std::string_view q = *query;
    while (!q.empty() && std::isspace(static_cast<unsigned char>(q.front()))) q.remove_prefix(1);
    if (q.starts_with("{")) {
      return Fail(
          "log queries are not supported as an instant query type, please change your query to "
          "a range query type");
    }
    return Fail(kMetricUnsupported);
  }
  int64_t at = ctx.now_unix_nano;
  if (const std::string* v = FindParam(params, "time"); v != nullptr && !v->empty()) {
    if (!ParseLokiTime(*v, &at)) {
      return Fail("invalid time: expected RFC3339, Unix seconds or Unix nanoseconds");
    }
  }
  // As Prometheus: the time as Unix seconds, the value as text.
  char time[32], value[32];
  auto [time_end, time_ec] =
      std::to_chars(time, time + sizeof time, static_cast<double>(at) / kSecond);
  auto [value_end, value_ec] = std::to_chars(value, value + sizeof value, sum);
  std::string out =
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[)";
  out.append(time, static_cast<size_t>(time_end - time));
  out +=
      ",\"" + std::string(value, static_cast<size_t>(value_end - value)) + "\"]}],\"stats\":{}}}";
  return net::HttpResponse::Json(200, std::move(out));
}

}  // namespace

std::optional<net::HttpResponse> AnswerLoki(const net::HttpRequest& request,
                                            const QueryContext& ctx) {
  if (!request.path.starts_with(kPrefix)) return std::nullopt;
  const std::string_view route = std::string_view(request.path).substr(kPrefix.size());
  if (route == "query_range") return QueryRange(net::ParseQueryString(request.query), ctx);
  if (route == "query") return InstantQuery(net::ParseQueryString(request.query), ctx);
  if (route == "labels" || route == "label") {
    return LabelsOrValues(net::ParseQueryString(request.query), ctx, "");
  }
  constexpr std::string_view kLabel = "label/", kValues = "/values";
  if (route.starts_with(kLabel) && route.ends_with(kValues) &&
      route.size() > kLabel.size() + kValues.size()) {
    const std::string name = net::PercentDecode(
        route.substr(kLabel.size(), route.size() - kLabel.size() - kValues.size()), false);
    return LabelsOrValues(net::ParseQueryString(request.query), ctx, name);
  }
  return std::nullopt;
}

}  // namespace sluice::query
