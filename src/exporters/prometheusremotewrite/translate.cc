#include "exporters/prometheusremotewrite/translate.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "base/strings.h"
#include "wire/otlp/common.h"
#include "wire/prom/labels.h"
#include "wire/prom/remote_write.h"
#include "wire/proto_reader.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace sluice::exporters::prw {
namespace {

using wire::ProtoReader;
using wire::WireType;
namespace prom = wire::prom::field;
namespace common = wire::otlp::field;

// Field numbers from opentelemetry/proto/metrics/v1/metrics.proto and
// opentelemetry/proto/collector/metrics/v1/metrics_service.proto.
namespace field {
inline constexpr uint32_t kRequestResourceMetrics = 1;
inline constexpr uint32_t kResourceMetricsResource = 1;
inline constexpr uint32_t kResourceMetricsScopeMetrics = 2;
inline constexpr uint32_t kScopeMetricsScope = 1;
inline constexpr uint32_t kScopeMetricsMetrics = 2;
inline constexpr uint32_t kMetricName = 1;
inline constexpr uint32_t kMetricDescription = 2;
inline constexpr uint32_t kMetricUnit = 3;
inline constexpr uint32_t kMetricGauge = 5;
inline constexpr uint32_t kMetricSum = 7;
inline constexpr uint32_t kMetricHistogram = 9;
inline constexpr uint32_t kMetricExponentialHistogram = 10;
inline constexpr uint32_t kMetricSummary = 11;
inline constexpr uint32_t kMetricMetadata = 12;
// Gauge, Sum, Histogram, ExponentialHistogram and Summary all keep their
// data points at 1, and Sum/Histogram/ExponentialHistogram their temporality at 2.
inline constexpr uint32_t kDataPoints = 1;
inline constexpr uint32_t kTemporality = 2;
inline constexpr uint32_t kSumIsMonotonic = 3;
inline constexpr uint32_t kNumberTime = 3;
inline constexpr uint32_t kNumberAsDouble = 4;
inline constexpr uint32_t kNumberExemplars = 5;
inline constexpr uint32_t kNumberAsInt = 6;
inline constexpr uint32_t kNumberAttributes = 7;
inline constexpr uint32_t kNumberFlags = 8;
inline constexpr uint32_t kHistogramTime = 3;
inline constexpr uint32_t kHistogramCount = 4;
inline constexpr uint32_t kHistogramSum = 5;
inline constexpr uint32_t kHistogramBucketCounts = 6;
inline constexpr uint32_t kHistogramExplicitBounds = 7;
inline constexpr uint32_t kHistogramExemplars = 8;
inline constexpr uint32_t kHistogramAttributes = 9;
inline constexpr uint32_t kHistogramFlags = 10;
inline constexpr uint32_t kSummaryTime = 3;
inline constexpr uint32_t kSummaryCount = 4;
inline constexpr uint32_t kSummarySum = 5;
inline constexpr uint32_t kSummaryQuantileValues = 6;
inline constexpr uint32_t kSummaryAttributes = 7;
inline constexpr uint32_t kSummaryFlags = 8;
inline constexpr uint32_t kQuantileQuantile = 1;
inline constexpr uint32_t kQuantileValue = 2;
}  // namespace field

// AggregationTemporality values.
inline constexpr uint64_t kTemporalityUnspecified = 0;
inline constexpr uint64_t kTemporalityDelta = 1;
inline constexpr uint64_t kTemporalityCumulative = 2;
// DataPointFlags.FLAG_NO_RECORDED_VALUE.
inline constexpr uint64_t kFlagNoRecordedValue = 1;

// One-byte field keys of the messages written here: (field << 3) | wire type.
constexpr char Key(uint32_t field_number, WireType type) {
  return static_cast<char>((field_number << 3) | static_cast<uint32_t>(type));
}
static_assert(prom::kWriteTimeseries < 16 && prom::kSeriesLabels < 16 &&
                  prom::kSeriesSamples < 16 && prom::kLabelName < 16 && prom::kLabelValue < 16 &&
                  prom::kSampleValue < 16 && prom::kSampleTimestamp < 16,
              "keys below are written as single bytes");
inline constexpr char kTimeseriesKey = Key(prom::kWriteTimeseries, WireType::kLengthDelimited);
inline constexpr char kLabelKey = Key(prom::kSeriesLabels, WireType::kLengthDelimited);
inline constexpr char kSampleKey = Key(prom::kSeriesSamples, WireType::kLengthDelimited);
inline constexpr char kLabelNameKey = Key(prom::kLabelName, WireType::kLengthDelimited);
inline constexpr char kLabelValueKey = Key(prom::kLabelValue, WireType::kLengthDelimited);
inline constexpr char kSampleValueKey = Key(prom::kSampleValue, WireType::kFixed64);
inline constexpr char kSampleTimestampKey = Key(prom::kSampleTimestamp, WireType::kVarint);

Status Invalid(std::string why) {
  return Status::InvalidArgument(std::move(why));
}

// ---------------------------------------------------------------------------
// Protobuf encoding with minimal varints (the canonical form the hash covers).

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

void AppendVarint(std::string& out, uint64_t v) {
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out.append(buf, n);
}

// Appends one TimeSeries.labels field: Label{name, value}. An empty value is
// left out, as proto3 does for defaults.
void AppendLabel(std::string& out, std::string_view name, std::string_view value) {
  size_t inner = 1 + VarintSize(name.size()) + name.size();
  if (!value.empty()) inner += 1 + VarintSize(value.size()) + value.size();
  out.push_back(kLabelKey);
  AppendVarint(out, inner);
  out.push_back(kLabelNameKey);
  AppendVarint(out, name.size());
  out.append(name);
  if (!value.empty()) {
    out.push_back(kLabelValueKey);
    AppendVarint(out, value.size());
    out.append(value);
  }
}

void AppendSample(std::string& out, double value, int64_t timestamp_ms) {
  uint64_t ts = static_cast<uint64_t>(timestamp_ms);
  out.push_back(kSampleKey);
  AppendVarint(out, 1 + 8 + 1 + VarintSize(ts));
  out.push_back(kSampleValueKey);
  char b[8];
  std::memcpy(b, &value, 8);  // little-endian hosts only, as ProtoReader
  out.append(b, 8);
  out.push_back(kSampleTimestampKey);
  AppendVarint(out, ts);
}

double StaleNaN() {
  double d;
  std::memcpy(&d, &kStaleNaNBits, sizeof d);
  return d;
}

uint64_t Hash(std::string_view canonical_labels) {
  return XXH3_64bits(canonical_labels.data(), canonical_labels.size());
}

// ---------------------------------------------------------------------------
// Names.

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

// True if the key is a label name already, so it can be used unchanged.
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

// Writes the Prometheus name into `out` (cleared first); false if it is empty.
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

// ---------------------------------------------------------------------------
// Values.

// Shortest text that reads back as the same double, without an exponent
// (0.005, 1000000), or +Inf/-Inf/NaN: the form of `le` and `quantile`.
std::string_view FormatBound(double v, char (&buf)[400]) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string_view(buf, static_cast<size_t>(r.ptr - buf));
}

void AppendJsonDouble(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "Infinity" : "-Infinity";
  } else {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  }
}

void AppendInt(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// A decoded AnyValue (the last member of the oneof on the wire wins).
struct AnyValue {
  uint32_t kind = 0;  // a common::kAny* field number, 0 when unset
  std::string_view bytes;
  uint64_t scalar = 0;
};

Status DecodeAnyValue(std::string_view raw, AnyValue* out) {
  *out = AnyValue{};
  ProtoReader r(raw);
  while (r.Next()) {
    WireType want;
    switch (r.field()) {
      case common::kAnyString:
      case common::kAnyBytes:
      case common::kAnyArray:
      case common::kAnyKvlist:
        want = WireType::kLengthDelimited;
        break;
      case common::kAnyBool:
      case common::kAnyInt:
        want = WireType::kVarint;
        break;
      case common::kAnyDouble:
        want = WireType::kFixed64;
        break;
      default:
        continue;
    }
    if (!r.Is(want)) return Invalid("attribute value has the wrong wire type");
    out->kind = r.field();
    out->bytes = r.bytes();
    out->scalar = r.varint();
  }
  if (!r.ok()) return Invalid(std::string("malformed attribute value: ") + r.error());
  return Status::Ok();
}

Status DecodeKeyValue(std::string_view raw, std::string_view* key, std::string_view* value) {
  *key = {};
  *value = {};
  ProtoReader r(raw);
  while (r.Next()) {
    if (r.field() != common::kKeyValueKey && r.field() != common::kKeyValueValue) continue;
    if (!r.Is(WireType::kLengthDelimited)) return Invalid("attribute has the wrong wire type");
    (r.field() == common::kKeyValueKey ? *key : *value) = r.bytes();
  }
  if (!r.ok()) return Invalid(std::string("malformed attribute: ") + r.error());
  return Status::Ok();
}

// Appends a non-string (or nested) value as JSON, as the attribute
// specification asks of protocols without typed values.
Status AppendJsonValue(std::string& out, const AnyValue& v, int depth) {
  if (depth > wire::otlp::kMaxValueDepth) {
    return Invalid("attribute value nested deeper than 32 levels");
  }
  switch (v.kind) {
    case common::kAnyString:
      AppendJsonString(out, v.bytes);
      break;
    case common::kAnyBool:
      out += v.scalar != 0 ? "true" : "false";
      break;
    case common::kAnyInt:
      AppendInt(out, static_cast<int64_t>(v.scalar));
      break;
    case common::kAnyDouble: {
      double d;
      std::memcpy(&d, &v.scalar, sizeof d);
      AppendJsonDouble(out, d);
      break;
    }
    case common::kAnyBytes:
      out += '"';
      wire::otlp::AppendBase64(out, v.bytes);
      out += '"';
      break;
    case common::kAnyArray: {
      out += '[';
      bool first = true;
      ProtoReader a(v.bytes);
      while (a.Next()) {
        if (a.field() != common::kArrayValues) continue;
        if (!a.Is(WireType::kLengthDelimited))
          return Invalid("array value has the wrong wire type");
        if (!first) out += ',';
        first = false;
        AnyValue element;
        SLUICE_RETURN_IF_ERROR(DecodeAnyValue(a.bytes(), &element));
        SLUICE_RETURN_IF_ERROR(AppendJsonValue(out, element, depth + 1));
      }
      if (!a.ok()) return Invalid(std::string("malformed array value: ") + a.error());
      out += ']';
      break;
    }
    case common::kAnyKvlist: {
      out += '{';
      bool first = true;
      ProtoReader l(v.bytes);
      while (l.Next()) {
        if (l.field() != common::kKvlistValues) continue;
        if (!l.Is(WireType::kLengthDelimited))
          return Invalid("kvlist value has the wrong wire type");
        std::string_view key;
        std::string_view raw_value;
        SLUICE_RETURN_IF_ERROR(DecodeKeyValue(l.bytes(), &key, &raw_value));
        if (!first) out += ',';
        first = false;
        AppendJsonString(out, key);
        out += ':';
        AnyValue element;
        SLUICE_RETURN_IF_ERROR(DecodeAnyValue(raw_value, &element));
        SLUICE_RETURN_IF_ERROR(AppendJsonValue(out, element, depth + 1));
      }
      if (!l.ok()) return Invalid(std::string("malformed kvlist value: ") + l.error());
      out += '}';
      break;
    }
    default:
      out += "null";
      break;
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------

// Bump allocator for label text: strings never move, so views into it stay
// valid until Reset(), which keeps the blocks for reuse.
class Arena {
 public:
  std::string_view Copy(std::string_view s) {
    if (s.empty()) return {};
    char* p = Alloc(s.size());
    std::memcpy(p, s.data(), s.size());
    return std::string_view(p, s.size());
  }
  void Reset() {
    next_ = 0;
    cur_ = nullptr;
    used_ = cap_ = 0;
  }

 private:
  static constexpr size_t kBlockSize = 16 * 1024;
  struct Block {
    std::unique_ptr<char[]> data;
    size_t size;
  };
  char* Alloc(size_t n) {
    if (n > cap_ - used_) NextBlock(n);
    char* p = cur_ + used_;
    used_ += n;
    return p;
  }
  void NextBlock(size_t n) {
    while (next_ < blocks_.size()) {
      Block& b = blocks_[next_++];
      if (b.size >= n) {
        Use(b);
        return;
      }
    }
    size_t size = std::max(kBlockSize, n);
    blocks_.push_back(Block{std::make_unique<char[]>(size), size});
    next_ = blocks_.size();
    Use(blocks_.back());
  }
  void Use(Block& b) {
    cur_ = b.data.get();
    cap_ = b.size;
    used_ = 0;
  }
  std::vector<Block> blocks_;
  size_t next_ = 0;
  char* cur_ = nullptr;
  size_t used_ = 0;
  size_t cap_ = 0;
};

struct LabelRef {
  std::string_view name;
  std::string_view value;
};

// Who set a label; the lowest wins when names meet.
enum class Source : uint8_t {
  kTranslation = 0,  // __name__, le, quantile, job, instance, otel_scope_*
  kAttribute = 1,    // point (or, for target_info, resource) attributes
  kExternal = 2,
};

struct Candidate {
  std::string_view name;
  std::string_view value;
  std::string_view key;  // the attribute key before sanitising: orders joined values
  Source source;
};

// Stands in for values filled in per series (__name__, le, quantile).
constexpr std::string_view kPlaceholder = "\x01";
constexpr std::string_view kNameLabel = "__name__";

}  // namespace

// ---------------------------------------------------------------------------

struct Translator::Impl {
  TranslateOptions options;
  std::vector<LabelRef> external;  // sorted by name, values non-empty

  Arena point_arena;                         // label text of the current data point
  Arena resource_arena;                      // label text of the current resource
  std::string render;                        // a non-string attribute value being rendered
  std::string join;                          // colliding values being joined
  std::vector<std::string_view> attributes;  // KeyValues of the current point
  std::vector<std::string_view> quantiles;   // ValueAtQuantile of the current point
  std::vector<Candidate> candidates;
  std::vector<Candidate> resource_candidates;
  std::vector<LabelRef> labels;  // the current point's final label set
  size_t name_index = 0;
  size_t extra_index = 0;  // le or quantile; labels.size() when absent
  std::string series;      // the TimeSeries being encoded
  std::string canonical;   // pass-through: labels in canonical form
  std::vector<uint64_t> bucket_counts;
  std::vector<double> bounds;
  std::string name;  // Prometheus names of the current metric
  std::string name_bucket;
  std::string name_sum;
  std::string name_count;
  std::string unit_scratch;
  std::string unit_word;
  std::vector<uint64_t> target_info_hashes;  // sent in this request

  // Per resource.
  std::string_view job;
  std::string_view instance;
  int64_t max_timestamp_ms = 0;
  bool resource_has_points = false;
  // Per scope.
  std::string_view scope_name;
  std::string_view scope_version;
  // Per metric, for messages.
  std::string_view metric_name;

  SeriesSink* sink = nullptr;
  TranslateStats* stats = nullptr;

  Status TranslateRequest(std::string_view request);
  Status TranslateResourceMetrics(std::string_view rm);
  Status ParseResource(std::string_view resource);
  Status ParseScope(std::string_view scope);
  Status TranslateMetric(std::string_view metric);
  Status TranslateNumberPoint(std::string_view point);
  Status TranslateHistogramPoint(std::string_view point);
  Status TranslateSummaryPoint(std::string_view point);
  void EmitTargetInfo();

  Status AddAttribute(std::string_view kv, Arena& arena, std::vector<Candidate>& out,
                      bool* bad_utf8);
  void AddTranslationLabels(std::string_view extra_label);
  // Labels for the point whose attributes are in `attributes`, plus the
  // translation's own (reserving `extra_label`), built into the label set.
  // False when the point was dropped (an attribute is not UTF-8).
  Result<bool> PointLabels(std::string_view extra_label);
  void BuildLabels();
  uint64_t Encode(std::string_view name, std::string_view extra, double value, int64_t ts_ms);
  void Emit(std::string_view name, std::string_view extra, double value, int64_t ts_ms);
  // Counts `n` under `reason` (and in dropped_points unless they are whole
  // metrics) and describes the first drop.
  void Drop(uint64_t TranslateStats::*reason, uint64_t n, std::string_view why, bool points = true);

  Status SplitSeries(std::string_view series_bytes, uint64_t index);
  bool SplitCanonicalSeries(std::string_view series_bytes);
};

void Translator::Impl::Drop(uint64_t TranslateStats::*reason, uint64_t n, std::string_view why,
                            bool points) {
  if (n == 0) return;
  stats->*reason += n;
  if (points) stats->dropped_points += n;
  if (stats->first_error.empty()) {
    stats->first_error = "metric \"" + std::string(metric_name.substr(0, 200)) + "\": ";
    stats->first_error.append(why);
    if (points) stats->first_error += " (" + std::to_string(n) + " data points dropped)";
  }
}

Status Translator::Impl::AddAttribute(std::string_view kv, Arena& arena,
                                      std::vector<Candidate>& out, bool* bad_utf8) {
  std::string_view key;
  std::string_view raw_value;
  SLUICE_RETURN_IF_ERROR(DecodeKeyValue(kv, &key, &raw_value));
  AnyValue v;
  SLUICE_RETURN_IF_ERROR(DecodeAnyValue(raw_value, &v));
  std::string_view value;
  if (v.kind == common::kAnyString) {
    value = v.bytes;
  } else if (v.kind == common::kAnyBytes) {
    render.clear();
    wire::otlp::AppendBase64(render, v.bytes);
    value = arena.Copy(render);
  } else if (v.kind != 0) {
    render.clear();
    SLUICE_RETURN_IF_ERROR(AppendJsonValue(render, v, 0));
    value = arena.Copy(render);
  }
  if (!wire::prom::ValidUtf8(value)) {
    *bad_utf8 = true;
    return Status::Ok();
  }
  std::string_view name;
  if (IsCleanLabelName(key)) {
    name = key;
  } else {
    render.clear();
    AppendLabelName(render, key);
    name = arena.Copy(render);
  }
  if (name.empty()) return Status::Ok();
  out.push_back(Candidate{name, value, key, Source::kAttribute});
  return Status::Ok();
}

void Translator::Impl::AddTranslationLabels(std::string_view extra_label) {
  auto add = [this](std::string_view n, std::string_view v) {
    if (!v.empty()) candidates.push_back(Candidate{n, v, {}, Source::kTranslation});
  };
  add(kNameLabel, kPlaceholder);
  if (!extra_label.empty()) add(extra_label, kPlaceholder);
  add("job", job);
  add("instance", instance);
  if (options.add_scope_labels) {
    add("otel_scope_name", scope_name);
    add("otel_scope_version", scope_version);
  }
  for (const LabelRef& e : external) {
    candidates.push_back(Candidate{e.name, e.value, {}, Source::kExternal});
  }
}

// Sorts the candidates into `labels`: one label per name, translation labels
// over attributes over external labels; attributes whose keys sanitise to
// the same name have their values joined with ';' in order of their keys.
void Translator::Impl::BuildLabels() {
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.name != b.name) return a.name < b.name;
    if (a.source != b.source) return a.source < b.source;
    return a.key < b.key;
  });
  labels.clear();
  name_index = extra_index = std::numeric_limits<size_t>::max();
  for (size_t i = 0; i < candidates.size();) {
    size_t end = i + 1;
    while (end < candidates.size() && candidates[end].name == candidates[i].name) ++end;
    std::string_view value;
    size_t j = i;
    if (candidates[j].source == Source::kTranslation) {
      value = candidates[j].value;
    } else if (candidates[j].source == Source::kAttribute) {
      size_t joined = 0;
      for (; j < end && candidates[j].source == Source::kAttribute; ++j) {
        std::string_view v = candidates[j].value;
        if (v.empty()) continue;
        if (joined++ == 0) {
          value = v;
          continue;
        }
        if (joined == 2) join.assign(value);
        join.push_back(';');
        join.append(v);
      }
      if (joined > 1) value = point_arena.Copy(join);
      if (value.empty() && j < end) value = candidates[j].value;  // an external label
    } else {
      value = candidates[j].value;
    }
    if (!value.empty()) {
      if (value.data() == kPlaceholder.data()) {
        (candidates[i].name == kNameLabel ? name_index : extra_index) = labels.size();
      }
      labels.push_back(LabelRef{candidates[i].name, value});
    }
    i = end;
  }
}

uint64_t Translator::Impl::Encode(std::string_view metric, std::string_view extra, double value,
                                  int64_t ts_ms) {
  labels[name_index].value = metric;
  if (extra_index < labels.size()) labels[extra_index].value = extra;
  series.clear();
  for (const LabelRef& l : labels) {
    if (!l.value.empty()) AppendLabel(series, l.name, l.value);
  }
  size_t labels_size = series.size();
  AppendSample(series, value, ts_ms);
  return Hash(std::string_view(series.data(), labels_size));
}

void Translator::Impl::Emit(std::string_view metric, std::string_view extra, double value,
                            int64_t ts_ms) {
  uint64_t hash = Encode(metric, extra, value, ts_ms);
  sink->Series(hash, series, 1);
  ++stats->series;
  ++stats->samples;
  resource_has_points = true;
  max_timestamp_ms = std::max(max_timestamp_ms, ts_ms);
}

Status Translator::Impl::TranslateRequest(std::string_view request) {
  target_info_hashes.clear();
  ProtoReader r(request);
  uint64_t index = 0;
  while (r.Next()) {
    if (r.field() != field::kRequestResourceMetrics) continue;
    if (!r.Is(WireType::kLengthDelimited))
      return Invalid("resource_metrics has the wrong wire type");
    Status st = TranslateResourceMetrics(r.bytes());
    if (!st.ok()) return Invalid("resource_metrics " + std::to_string(index) + ": " + st.message());
    ++index;
  }
  if (!r.ok()) return Invalid(std::string("malformed request: ") + r.error());
  return Status::Ok();
}

Status Translator::Impl::TranslateResourceMetrics(std::string_view rm) {
  // The resource may follow its scope_metrics on the wire; find it first.
  std::string_view resource;
  ProtoReader r(rm);
  while (r.Next()) {
    if (r.field() != field::kResourceMetricsResource) continue;
    if (!r.Is(WireType::kLengthDelimited)) return Invalid("resource has the wrong wire type");
    resource = r.bytes();
  }
  if (!r.ok()) return Invalid(std::string("malformed resource_metrics: ") + r.error());
  SLUICE_RETURN_IF_ERROR(ParseResource(resource));
  max_timestamp_ms = 0;
  resource_has_points = false;
  ProtoReader r2(rm);
  while (r2.Next()) {
    if (r2.field() != field::kResourceMetricsScopeMetrics) continue;
    if (!r2.Is(WireType::kLengthDelimited)) return Invalid("scope_metrics has the wrong wire type");
    std::string_view scope;
    ProtoReader s(r2.bytes());
    while (s.Next()) {
      if (s.field() != field::kScopeMetricsScope) continue;
      if (!s.Is(WireType::kLengthDelimited)) return Invalid("scope has the wrong wire type");
      scope = s.bytes();
    }
    if (!s.ok()) return Invalid(std::string("malformed scope_metrics: ") + s.error());
    SLUICE_RETURN_IF_ERROR(ParseScope(scope));
    ProtoReader s2(r2.bytes());
    while (s2.Next()) {
      if (s2.field() != field::kScopeMetricsMetrics) continue;
      if (!s2.Is(WireType::kLengthDelimited)) return Invalid("metrics has the wrong wire type");
      SLUICE_RETURN_IF_ERROR(TranslateMetric(s2.bytes()));
    }
  }
  if (options.send_target_info && resource_has_points && !resource_candidates.empty()) {
    EmitTargetInfo();
  }
  return Status::Ok();
}

Status Translator::Impl::ParseResource(std::string_view resource) {
  resource_arena.Reset();
  resource_candidates.clear();
  job = instance = {};
  std::string_view service_name;
  std::string_view service_namespace;
  ProtoReader r(resource);
  while (r.Next()) {
    if (r.field() != common::kResourceAttributes) continue;
    if (!r.Is(WireType::kLengthDelimited))
      return Invalid("resource attribute has the wrong wire type");
    bool bad_utf8 = false;
    size_t before = resource_candidates.size();
    SLUICE_RETURN_IF_ERROR(AddAttribute(r.bytes(), resource_arena, resource_candidates, &bad_utf8));
    // A value that is not UTF-8 cannot be a label value; the attribute is left out.
    if (resource_candidates.size() == before) continue;
    const Candidate& c = resource_candidates.back();
    std::string_view* identifying = nullptr;
    if (c.key == "service.name") identifying = &service_name;
    if (c.key == "service.namespace") identifying = &service_namespace;
    if (c.key == "service.instance.id") identifying = &instance;
    if (identifying != nullptr) {
      *identifying = c.value;
      resource_candidates.pop_back();
    }
  }
  if (!r.ok()) return Invalid(std::string("malformed resource: ") + r.error());
  if (!service_name.empty()) {
    if (service_namespace.empty()) {
      job = service_name;
    } else {
      join.assign(service_namespace);
      join.push_back('/');
      join.append(service_name);
      job = resource_arena.Copy(join);
    }
  }
  return Status::Ok();
}

Status Translator::Impl::ParseScope(std::string_view scope) {
  scope_name = scope_version = {};
  ProtoReader r(scope);
  while (r.Next()) {
    if (r.field() != common::kScopeName && r.field() != common::kScopeVersion) continue;
    if (!r.Is(WireType::kLengthDelimited)) return Invalid("scope name has the wrong wire type");
    std::string_view v = wire::prom::ValidUtf8(r.bytes()) ? r.bytes() : std::string_view();
    (r.field() == common::kScopeName ? scope_name : scope_version) = v;
  }
  if (!r.ok()) return Invalid(std::string("malformed scope: ") + r.error());
  return Status::Ok();
}

void Translator::Impl::EmitTargetInfo() {
  point_arena.Reset();
  candidates.assign(resource_candidates.begin(), resource_candidates.end());
  candidates.push_back(Candidate{kNameLabel, kPlaceholder, {}, Source::kTranslation});
  if (!job.empty()) candidates.push_back(Candidate{"job", job, {}, Source::kTranslation});
  if (!instance.empty()) {
    candidates.push_back(Candidate{"instance", instance, {}, Source::kTranslation});
  }
  for (const LabelRef& e : external) {
    candidates.push_back(Candidate{e.name, e.value, {}, Source::kExternal});
  }
  BuildLabels();
  uint64_t hash = Encode("target_info", {}, 1.0, max_timestamp_ms);
  if (std::find(target_info_hashes.begin(), target_info_hashes.end(), hash) !=
      target_info_hashes.end()) {
    return;  // an identical resource already had its target_info in this request
  }
  target_info_hashes.push_back(hash);
  sink->Series(hash, series, 1);
  ++stats->series;
  ++stats->samples;
  ++stats->target_info_series;
}

namespace {

uint64_t CountField(std::string_view message, uint32_t field_number) {
  uint64_t n = 0;
  ProtoReader r(message);
  while (r.Next()) n += r.field() == field_number;
  return n;
}

// Reads one occurrence of a repeated fixed64/double field, packed or not
// (parsers must accept both encodings).
template <class T>
bool ReadRepeated64(ProtoReader& r, std::vector<T>* out) {
  static_assert(sizeof(T) == 8);
  if (r.Is(WireType::kFixed64)) {
    T v;
    uint64_t raw = r.fixed64();
    std::memcpy(&v, &raw, 8);
    out->push_back(v);
    return true;
  }
  if (!r.Is(WireType::kLengthDelimited)) {
    r.Fail("repeated fixed64 field has the wrong wire type");
    return false;
  }
  std::string_view b = r.bytes();
  if (b.size() % 8 != 0) {
    r.Fail("packed fixed64 field is not a multiple of 8 bytes");
    return false;
  }
  size_t n = b.size() / 8;
  size_t old = out->size();
  out->resize(old + n);
  std::memcpy(out->data() + old, b.data(), b.size());
  return true;
}

bool Expect(ProtoReader& r, WireType t) {
  if (r.Is(t)) return true;
  r.Fail("a field has the wrong wire type");
  return false;
}

int64_t ToMillis(uint64_t unix_nano) {
  return static_cast<int64_t>(unix_nano / 1'000'000);
}

}  // namespace

Status Translator::Impl::TranslateMetric(std::string_view metric) {
  std::string_view unit;
  std::string_view data;
  uint32_t kind = 0;
  bool info = false;
  metric_name = {};
  ProtoReader r(metric);
  while (r.Next()) {
    switch (r.field()) {
      case field::kMetricName:
        if (Expect(r, WireType::kLengthDelimited)) metric_name = r.bytes();
        break;
      case field::kMetricDescription:
        Expect(r, WireType::kLengthDelimited);
        break;
      case field::kMetricUnit:
        if (Expect(r, WireType::kLengthDelimited)) unit = r.bytes();
        break;
      case field::kMetricGauge:
      case field::kMetricSum:
      case field::kMetricHistogram:
      case field::kMetricExponentialHistogram:
      case field::kMetricSummary:
        if (Expect(r, WireType::kLengthDelimited)) {
          kind = r.field();
          data = r.bytes();
        }
        break;
      case field::kMetricMetadata: {
        if (!Expect(r, WireType::kLengthDelimited)) break;
        std::string_view key;
        std::string_view raw_value;
        SLUICE_RETURN_IF_ERROR(DecodeKeyValue(r.bytes(), &key, &raw_value));
        if (key != "prometheus.type") break;
        AnyValue v;
        SLUICE_RETURN_IF_ERROR(DecodeAnyValue(raw_value, &v));
        info = v.kind == common::kAnyString && v.bytes == "info";
        break;
      }
      default:
        break;
    }
  }
  if (!r.ok()) {
    return Invalid("metric \"" + std::string(metric_name.substr(0, 200)) + "\": " + r.error());
  }
  if (kind == 0) {
    Drop(&TranslateStats::dropped_no_data, 1, "the metric has no data; dropped", /*points=*/false);
    return Status::Ok();
  }

  uint64_t temporality = kTemporalityCumulative;
  bool monotonic = false;
  if (kind == field::kMetricSum || kind == field::kMetricHistogram ||
      kind == field::kMetricExponentialHistogram) {
    temporality = kTemporalityUnspecified;
    ProtoReader d(data);
    while (d.Next()) {
      if (d.field() == field::kTemporality && Expect(d, WireType::kVarint)) {
        temporality = d.varint();
      }
      if (kind == field::kMetricSum && d.field() == field::kSumIsMonotonic &&
          Expect(d, WireType::kVarint)) {
        monotonic = d.varint() != 0;
      }
    }
    if (!d.ok()) {
      return Invalid("metric \"" + std::string(metric_name.substr(0, 200)) + "\": " + d.error());
    }
  }
  if (kind == field::kMetricExponentialHistogram) {
    Drop(&TranslateStats::dropped_exponential_histogram, CountField(data, field::kDataPoints),
         "exponential histograms need native histograms, which remote write 1.0 lacks");
    return Status::Ok();
  }
  if (temporality == kTemporalityDelta) {
    Drop(&TranslateStats::dropped_delta_temporality, CountField(data, field::kDataPoints),
         "delta temporality cannot be sent without accumulating it");
    return Status::Ok();
  }
  if (temporality != kTemporalityCumulative) {
    Drop(&TranslateStats::dropped_unspecified_temporality, CountField(data, field::kDataPoints),
         "the aggregation temporality is unspecified");
    return Status::Ok();
  }

  PromType type = PromType::kGauge;
  if (kind == field::kMetricSum) {
    type = monotonic ? PromType::kCounter : (info ? PromType::kInfo : PromType::kGauge);
  } else if (kind == field::kMetricHistogram) {
    type = PromType::kHistogram;
  } else if (kind == field::kMetricSummary) {
    type = PromType::kSummary;
  }
  if (!BuildMetricName(name, metric_name, unit, type, options.add_metric_suffixes, unit_scratch,
                       unit_word)) {
    Drop(&TranslateStats::dropped_invalid_name, CountField(data, field::kDataPoints),
         "the name has no usable characters");
    return Status::Ok();
  }
  if (type == PromType::kHistogram || type == PromType::kSummary) {
    name_sum.assign(name).append("_sum");
    name_count.assign(name).append("_count");
    name_bucket.assign(name).append("_bucket");
  }

  ProtoReader d(data);
  while (d.Next()) {
    if (d.field() != field::kDataPoints) continue;
    if (!Expect(d, WireType::kLengthDelimited)) break;
    Status st;
    switch (kind) {
      case field::kMetricGauge:
      case field::kMetricSum:
        st = TranslateNumberPoint(d.bytes());
        break;
      case field::kMetricHistogram:
        st = TranslateHistogramPoint(d.bytes());
        break;
      default:
        st = TranslateSummaryPoint(d.bytes());
        break;
    }
    if (!st.ok()) {
      return Invalid("metric \"" + std::string(metric_name.substr(0, 200)) +
                     "\": data point: " + st.message());
    }
  }
  if (!d.ok()) {
    return Invalid("metric \"" + std::string(metric_name.substr(0, 200)) + "\": " + d.error());
  }
  return Status::Ok();
}

namespace {
constexpr std::string_view kNonUtf8 = "an attribute value is not UTF-8";
}  // namespace

Result<bool> Translator::Impl::PointLabels(std::string_view extra_label) {
  point_arena.Reset();
  candidates.clear();
  bool bad_utf8 = false;
  for (std::string_view kv : attributes) {
    SLUICE_RETURN_IF_ERROR(AddAttribute(kv, point_arena, candidates, &bad_utf8));
  }
  if (bad_utf8) {
    Drop(&TranslateStats::dropped_invalid_point, 1, kNonUtf8);
    return false;
  }
  AddTranslationLabels(extra_label);
  BuildLabels();
  return true;
}

Status Translator::Impl::TranslateNumberPoint(std::string_view point) {
  attributes.clear();
  uint64_t time = 0;
  uint64_t flags = 0;
  uint64_t exemplars = 0;
  double value = 0;
  bool has_value = false;
  ProtoReader r(point);
  while (r.Next()) {
    switch (r.field()) {
      case field::kNumberTime:
        if (Expect(r, WireType::kFixed64)) time = r.fixed64();
        break;
      case field::kNumberAsDouble:
        if (Expect(r, WireType::kFixed64)) {
          value = r.as_double();
          has_value = true;
        }
        break;
      case field::kNumberAsInt:
        if (Expect(r, WireType::kFixed64)) {
          value = static_cast<double>(r.as_int64());
          has_value = true;
        }
        break;
      case field::kNumberAttributes:
        if (Expect(r, WireType::kLengthDelimited)) attributes.push_back(r.bytes());
        break;
      case field::kNumberFlags:
        if (Expect(r, WireType::kVarint)) flags = r.varint();
        break;
      case field::kNumberExemplars:
        if (Expect(r, WireType::kLengthDelimited)) ++exemplars;
        break;
      default:
        break;
    }
  }
  if (!r.ok()) return Invalid(r.error());
  stats->dropped_exemplars += exemplars;
  bool stale = (flags & kFlagNoRecordedValue) != 0;
  if (!has_value && !stale) {
    Drop(&TranslateStats::dropped_invalid_point, 1, "a data point has no value");
    return Status::Ok();
  }
  SLUICE_ASSIGN_OR_RETURN(bool labelled, PointLabels({}));
  if (!labelled) return Status::Ok();
  Emit(name, {}, stale ? StaleNaN() : value, ToMillis(time));
  return Status::Ok();
}

Status Translator::Impl::TranslateHistogramPoint(std::string_view point) {
  attributes.clear();
  bucket_counts.clear();
  bounds.clear();
  uint64_t time = 0;
  uint64_t flags = 0;
  uint64_t exemplars = 0;
  uint64_t count = 0;
  double sum = 0;
  bool has_sum = false;
  ProtoReader r(point);
  while (r.Next()) {
    switch (r.field()) {
      case field::kHistogramTime:
        if (Expect(r, WireType::kFixed64)) time = r.fixed64();
        break;
      case field::kHistogramCount:
        if (Expect(r, WireType::kFixed64)) count = r.fixed64();
        break;
      case field::kHistogramSum:
        if (Expect(r, WireType::kFixed64)) {
          sum = r.as_double();
          has_sum = true;
        }
        break;
      case field::kHistogramBucketCounts:
        ReadRepeated64(r, &bucket_counts);
        break;
      case field::kHistogramExplicitBounds:
        ReadRepeated64(r, &bounds);
        break;
      case field::kHistogramAttributes:
        if (Expect(r, WireType::kLengthDelimited)) attributes.push_back(r.bytes());
        break;
      case field::kHistogramFlags:
        if (Expect(r, WireType::kVarint)) flags = r.varint();
        break;
      case field::kHistogramExemplars:
        if (Expect(r, WireType::kLengthDelimited)) ++exemplars;
        break;
      default:
        break;
    }
  }
  if (!r.ok()) return Invalid(r.error());
  stats->dropped_exemplars += exemplars;
  bool stale = (flags & kFlagNoRecordedValue) != 0;
  if (!stale) {
    // OTLP: one more bucket than bounds, or neither; bounds strictly increasing.
    bool valid = bucket_counts.empty() ? bounds.empty() : bucket_counts.size() == bounds.size() + 1;
    for (size_t i = 0; valid && i < bounds.size(); ++i) {
      valid = !std::isnan(bounds[i]) && (i == 0 || bounds[i - 1] < bounds[i]);
    }
    if (!valid) {
      Drop(&TranslateStats::dropped_invalid_point, 1,
           "histogram bucket counts do not match its bounds");
      return Status::Ok();
    }
  }
  SLUICE_ASSIGN_OR_RETURN(bool labelled, PointLabels("le"));
  if (!labelled) return Status::Ok();
  int64_t ts = ToMillis(time);
  double nan = StaleNaN();
  char buf[400];
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (std::isinf(bounds[i]) && bounds[i] > 0) break;  // the +Inf bucket follows
    if (i < bucket_counts.size()) cumulative += bucket_counts[i];
    Emit(name_bucket, FormatBound(bounds[i], buf), stale ? nan : static_cast<double>(cumulative),
         ts);
  }
  Emit(name_bucket, "+Inf", stale ? nan : static_cast<double>(count), ts);
  if (has_sum || stale) Emit(name_sum, {}, stale ? nan : sum, ts);
  Emit(name_count, {}, stale ? nan : static_cast<double>(count), ts);
  return Status::Ok();
}

Status Translator::Impl::TranslateSummaryPoint(std::string_view point) {
  attributes.clear();
  quantiles.clear();
  uint64_t time = 0;
  uint64_t flags = 0;
  uint64_t count = 0;
  double sum = 0;
  ProtoReader r(point);
  while (r.Next()) {
    switch (r.field()) {
      case field::kSummaryTime:
        if (Expect(r, WireType::kFixed64)) time = r.fixed64();
        break;
      case field::kSummaryCount:
        if (Expect(r, WireType::kFixed64)) count = r.fixed64();
        break;
      case field::kSummarySum:
        if (Expect(r, WireType::kFixed64)) sum = r.as_double();
        break;
      case field::kSummaryQuantileValues:
        if (Expect(r, WireType::kLengthDelimited)) quantiles.push_back(r.bytes());
        break;
      case field::kSummaryAttributes:
        if (Expect(r, WireType::kLengthDelimited)) attributes.push_back(r.bytes());
        break;
      case field::kSummaryFlags:
        if (Expect(r, WireType::kVarint)) flags = r.varint();
        break;
      default:
        break;
    }
  }
  if (!r.ok()) return Invalid(r.error());
  SLUICE_ASSIGN_OR_RETURN(bool labelled, PointLabels("quantile"));
  if (!labelled) return Status::Ok();
  int64_t ts = ToMillis(time);
  bool stale = (flags & kFlagNoRecordedValue) != 0;
  double nan = StaleNaN();
  char buf[400];
  for (std::string_view qv : quantiles) {
    double quantile = 0;
    double value = 0;
    ProtoReader q(qv);
    while (q.Next()) {
      if (q.field() == field::kQuantileQuantile && Expect(q, WireType::kFixed64)) {
        quantile = q.as_double();
      }
      if (q.field() == field::kQuantileValue && Expect(q, WireType::kFixed64)) {
        value = q.as_double();
      }
    }
    if (!q.ok()) return Invalid(std::string("malformed quantile value: ") + q.error());
    Emit(name, FormatBound(quantile, buf), stale ? nan : value, ts);
  }
  Emit(name_sum, {}, stale ? nan : sum, ts);
  Emit(name_count, {}, stale ? nan : static_cast<double>(count), ts);
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Pass-through.

// The series as most senders write it, read by hand: labels first, each a
// non-empty name then a non-empty value of under 128 bytes, in name order,
// then samples or histograms. Then the labels are already in canonical form
// and hashed where they lie. False, having reported nothing, for any other
// series, which SplitSeries then reads in full.
bool Translator::Impl::SplitCanonicalSeries(std::string_view bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const auto* end = p + bytes.size();
  std::string_view previous;
  while (end - p >= 2 && p[0] == 0x0a && p[1] < 0x80) {  // labels (1), one-byte length
    size_t length = p[1];
    if (length > static_cast<size_t>(end - p - 2)) return false;
    std::string_view name;
    std::string_view value;
    if (!wire::prom::SplitCanonicalLabel(
            std::string_view(reinterpret_cast<const char*>(p) + 2, length), &name, &value) ||
        value.empty() ||
        (p != reinterpret_cast<const uint8_t*>(bytes.data()) &&
         !wire::prom::NameLess(previous, name))) {
      return false;
    }
    previous = name;
    p += 2 + length;
  }
  const size_t labels_end = static_cast<size_t>(p - reinterpret_cast<const uint8_t*>(bytes.data()));
  uint64_t items = 0;
  ProtoReader rest(bytes.substr(labels_end));
  while (rest.Next()) {
    if (rest.field() == prom::kSeriesLabels) return false;
    if (rest.field() == prom::kSeriesSamples || rest.field() == prom::kSeriesHistograms) ++items;
  }
  if (!rest.ok()) return false;
  ++stats->series;
  stats->samples += items;
  sink->Series(Hash(bytes.substr(0, labels_end)), bytes, items);
  return true;
}

Status Translator::Impl::SplitSeries(std::string_view bytes, uint64_t index) {
  if (external.empty() && SplitCanonicalSeries(bytes)) return Status::Ok();
  // The hash covers the canonical form of the labels. Series written by
  // Prometheus-compatible senders usually start with their labels in that
  // form already, so the hash is taken over the input and nothing is copied.
  const bool merge = !external.empty();
  size_t direct_end = 0;  // end of the canonical label prefix of `bytes`
  bool direct = !merge;
  bool labels_done = false;  // a non-label field was seen
  std::string_view previous;
  bool have_previous = false;
  size_t next_external = 0;
  uint64_t items = 0;
  canonical.clear();
  ProtoReader s(bytes);
  while (s.Next()) {
    if (s.field() == prom::kSeriesSamples || s.field() == prom::kSeriesHistograms) ++items;
    if (s.field() != prom::kSeriesLabels) {
      labels_done = true;
      continue;
    }
    if (!Expect(s, WireType::kLengthDelimited)) break;
    std::string_view name;
    std::string_view value;
    uint32_t inner_fields = 2;
    bool in_order = true;
    if (!wire::prom::SplitCanonicalLabel(s.bytes(), &name, &value)) {
      inner_fields = 0;
      ProtoReader l(s.bytes());
      while (l.Next()) {
        if (l.field() != prom::kLabelName && l.field() != prom::kLabelValue) {
          ++inner_fields;
          in_order = false;
          continue;
        }
        if (!Expect(l, WireType::kLengthDelimited)) break;
        if (l.field() == prom::kLabelName) {
          in_order = in_order && inner_fields == 0;
          name = l.bytes();
        } else {
          value = l.bytes();
        }
        ++inner_fields;
      }
      if (!l.ok()) {
        return Invalid("series " + std::to_string(index) + ": malformed label: " + l.error());
      }
    }
    if (have_previous && !wire::prom::NameLess(previous, name)) {
      return Invalid("series " + std::to_string(index) +
                     ": labels must be sorted by name without repeats");
    }
    previous = name;
    have_previous = true;
    if (direct) {
      // Canonical: a non-empty name then a non-empty value, minimal lengths,
      // contiguous from the start of the series.
      size_t canonical_inner =
          1 + VarintSize(name.size()) + name.size() + 1 + VarintSize(value.size()) + value.size();
      std::string_view raw = s.raw_field();
      size_t offset = static_cast<size_t>(raw.data() - bytes.data());
      direct = !labels_done && offset == direct_end && in_order && inner_fields == 2 &&
               !value.empty() && raw.size() == 1 + VarintSize(canonical_inner) + canonical_inner;
      direct_end = offset + raw.size();
      // Canonical so far: keep `canonical` unbuilt; it is rebuilt below if
      // a later label breaks the form.
      if (direct) continue;
      canonical.clear();
      ProtoReader again(bytes);
      while (again.Next() && again.raw_field().data() < raw.data()) {
        if (again.field() != prom::kSeriesLabels) continue;
        std::string_view n;
        std::string_view v;
        ProtoReader al(again.bytes());
        while (al.Next()) (al.field() == prom::kLabelName ? n : v) = al.bytes();
        if (!v.empty()) AppendLabel(canonical, n, v);
      }
    }
    if (value.empty()) continue;  // an empty value is no label (an external one may fill in)
    while (next_external < external.size() && external[next_external].name < name) {
      AppendLabel(canonical, external[next_external].name, external[next_external].value);
      ++next_external;
    }
    if (next_external < external.size() && external[next_external].name == name) {
      ++next_external;  // the series' own label wins
    }
    AppendLabel(canonical, name, value);
  }
  if (!s.ok()) return Invalid("series " + std::to_string(index) + ": " + s.error());
  ++stats->series;
  stats->samples += items;
  if (!merge) {
    uint64_t hash = direct ? Hash(bytes.substr(0, direct_end)) : Hash(canonical);
    sink->Series(hash, bytes, items);
    return Status::Ok();
  }
  for (; next_external < external.size(); ++next_external) {
    AppendLabel(canonical, external[next_external].name, external[next_external].value);
  }
  uint64_t hash = Hash(canonical);
  // Samples, histograms, exemplars and unknown fields keep their bytes and order.
  ProtoReader rest(bytes);
  while (rest.Next()) {
    if (rest.field() != prom::kSeriesLabels) canonical.append(rest.raw_field());
  }
  sink->Series(hash, canonical, items);
  return Status::Ok();
}

// ---------------------------------------------------------------------------

Translator::Translator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Translator::~Translator() = default;

Result<std::unique_ptr<Translator>> Translator::Create(TranslateOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  for (const Label& l : impl->options.external_labels) {
    const std::string& n = l.name;
    bool valid = wire::prom::ValidLabelName(n) && !n.starts_with("__");
    if (!valid) {
      return Invalid("external label name \"" + n +
                     "\" must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __");
    }
    if (!wire::prom::ValidUtf8(l.value))
      return Invalid("external label " + n + " has a value that is not UTF-8");
    if (!l.value.empty()) impl->external.push_back(LabelRef{l.name, l.value});
  }
  std::sort(impl->external.begin(), impl->external.end(),
            [](const LabelRef& a, const LabelRef& b) { return a.name < b.name; });
  for (size_t i = 1; i < impl->external.size(); ++i) {
    if (impl->external[i].name == impl->external[i - 1].name) {
      return Invalid("external label " + std::string(impl->external[i].name) + " is repeated");
    }
  }
  return std::unique_ptr<Translator>(new Translator(std::move(impl)));
}

Status Translator::TranslateOtlpMetrics(std::string_view request, SeriesSink& sink,
                                        TranslateStats* stats) {
  TranslateStats ignored;
  impl_->sink = &sink;
  impl_->stats = stats != nullptr ? stats : &ignored;
  Status st = impl_->TranslateRequest(request);
  impl_->stats = nullptr;
  return st;
}

Status Translator::SplitWriteRequest(std::string_view request, SeriesSink& sink,
                                     TranslateStats* stats) {
  TranslateStats ignored;
  impl_->sink = &sink;
  impl_->stats = stats != nullptr ? stats : &ignored;
  ProtoReader r(request);
  uint64_t index = 0;
  Status st;
  while (st.ok() && r.Next()) {
    if (r.field() == prom::kWriteMetadata) {
      ++impl_->stats->dropped_metadata;
      continue;
    }
    if (r.field() != prom::kWriteTimeseries) continue;
    if (!r.Is(WireType::kLengthDelimited)) {
      st = Invalid("timeseries has the wrong wire type");
      break;
    }
    st = impl_->SplitSeries(r.bytes(), index++);
  }
  if (st.ok() && !r.ok()) st = Invalid(std::string("malformed request: ") + r.error());
  impl_->stats = nullptr;
  return st;
}

Status TranslateOtlpMetrics(std::string_view request, const TranslateOptions& options,
                            SeriesSink& sink, TranslateStats* stats) {
  auto t = Translator::Create(options);
  if (!t.ok()) return t.status();
  return (*t)->TranslateOtlpMetrics(request, sink, stats);
}

Status SplitWriteRequest(std::string_view request, const TranslateOptions& options,
                         SeriesSink& sink, TranslateStats* stats) {
  auto t = Translator::Create(options);
  if (!t.ok()) return t.status();
  return (*t)->SplitWriteRequest(request, sink, stats);
}

uint64_t LabelSetHash(const std::vector<Label>& sorted_labels) {
  std::string canonical;
  for (const Label& l : sorted_labels) {
    if (!l.value.empty()) AppendLabel(canonical, l.name, l.value);
  }
  return Hash(canonical);
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

void WriteRequestBuilder::Add(std::string_view timeseries) {
  body_.push_back(kTimeseriesKey);
  AppendVarint(body_, timeseries.size());
  body_.append(timeseries);
  ++series_;
}

size_t WriteRequestBuilder::EncodedSize(std::string_view timeseries) {
  return 1 + VarintSize(timeseries.size()) + timeseries.size();
}

}  // namespace sluice::exporters::prw
