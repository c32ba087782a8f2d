#include "exporters/prometheusremotewrite/otlp_translation.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "wire/otlp/common.h"
#include "wire/otlp/metrics.h"
#include "wire/prom/labels.h"
#include "wire/prom/naming.h"
#include "wire/proto_reader.h"

namespace sluice::exporters::prw {

// Prometheus naming (wire/prom/naming.h), shared with the relabel processor.
using wire::prom::BuildMetricName;
using wire::prom::PromType;
namespace {

using wire::ProtoReader;
using wire::WireType;
namespace common = wire::otlp::field;

namespace field = wire::otlp::field;

// AggregationTemporality values.
inline constexpr uint64_t kTemporalityUnspecified = 0;
inline constexpr uint64_t kTemporalityDelta = 1;
inline constexpr uint64_t kTemporalityCumulative = 2;
// DataPointFlags.FLAG_NO_RECORDED_VALUE.
inline constexpr uint64_t kFlagNoRecordedValue = 1;

// Shortest text that reads back as the same double, without an exponent
// (0.005, 1000000), or +Inf/-Inf/NaN: the form of `le` and `quantile`.
std::string_view FormatBound(double v, char (&buf)[400]) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string_view(buf, static_cast<size_t>(r.ptr - buf));
}

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

int64_t ToMillis(uint64_t unix_nano) {
  return static_cast<int64_t>(unix_nano / 1'000'000);
}

// Where a kind of data point keeps the fields every kind has, each at its
// own number.
struct CommonPointFields {
  uint32_t time;
  uint32_t attributes;
  uint32_t flags;
  uint32_t exemplars;  // 0: summaries have none
};
constexpr CommonPointFields kNumberPointFields{field::kNumberTime, field::kNumberAttributes,
                                               field::kNumberFlags, field::kNumberExemplars};
constexpr CommonPointFields kHistogramPointFields{
    field::kHistogramTime, field::kHistogramAttributes, field::kHistogramFlags,
    field::kHistogramExemplars};
constexpr CommonPointFields kSummaryPointFields{field::kSummaryTime, field::kSummaryAttributes,
                                                field::kSummaryFlags, 0};

struct CommonPoint {
  uint64_t time = 0;  // unix nanoseconds
  uint64_t flags = 0;
  uint64_t exemplars = 0;
  bool stale() const { return (flags & kFlagNoRecordedValue) != 0; }
};

// Reads the reader's current field into *point (its attributes into
// *attributes) if it is one of `f`; false, reading nothing, if it is not.
bool ReadCommonPointField(ProtoReader& r, const CommonPointFields& f, CommonPoint* point,
                          std::vector<std::string_view>* attributes) {
  const uint32_t n = r.field();
  if (n == f.time) {
    if (Expect(r, WireType::kFixed64)) point->time = r.fixed64();
  } else if (n == f.attributes) {
    if (Expect(r, WireType::kLengthDelimited)) attributes->push_back(r.bytes());
  } else if (n == f.flags) {
    if (Expect(r, WireType::kVarint)) point->flags = r.varint();
  } else if (f.exemplars != 0 && n == f.exemplars) {
    if (Expect(r, WireType::kLengthDelimited)) ++point->exemplars;
  } else {
    return false;
  }
  return true;
}

}  // namespace

void OtlpTranslator::BuildPointLabels() {
  placeholders_ = BuildLabels(candidates_, point_arena_, join_, labels_);
}

void OtlpTranslator::Drop(uint64_t TranslateStats::*reason, uint64_t n, std::string_view why,
                          bool points) {
  if (n == 0) return;
  stats_->*reason += n;
  if (points) stats_->dropped_points += n;
  if (stats_->first_error.empty()) {
    stats_->first_error = "metric \"" + std::string(metric_name_.substr(0, 200)) + "\": ";
    stats_->first_error.append(why);
    if (points) stats_->first_error += " (" + std::to_string(n) + " data points dropped)";
  }
}

void OtlpTranslator::AddTranslationLabels(std::string_view extra_label) {
  auto add = [this](std::string_view n, std::string_view v) {
    if (!v.empty()) candidates_.push_back(Candidate{n, v, {}, Source::kTranslation});
  };
  add(kNameLabel, kPlaceholder);
  if (!extra_label.empty()) add(extra_label, kPlaceholder);
  add("job", job_);
  add("instance", instance_);
  if (options_.add_scope_labels) {
    add("otel_scope_name", scope_name_);
    add("otel_scope_version", scope_version_);
  }
  for (const LabelRef& e : external_) {
    candidates_.push_back(Candidate{e.name, e.value, {}, Source::kExternal});
  }
}

uint64_t OtlpTranslator::Encode(std::string_view metric, std::string_view extra, double value,
                                int64_t ts_ms) {
  labels_[placeholders_.name].value = metric;
  if (placeholders_.extra < labels_.size()) labels_[placeholders_.extra].value = extra;
  series_.clear();
  for (const LabelRef& l : labels_) {
    if (!l.value.empty()) AppendLabel(series_, l.name, l.value);
  }
  size_t labels_size = series_.size();
  AppendSample(series_, value, ts_ms);
  return HashLabels(std::string_view(series_.data(), labels_size));
}

void OtlpTranslator::Emit(std::string_view metric, std::string_view extra, double value,
                          int64_t ts_ms) {
  uint64_t hash = Encode(metric, extra, value, ts_ms);
  sink_->Series(hash, series_, 1);
  ++stats_->series;
  ++stats_->samples;
  resource_has_points_ = true;
  max_timestamp_ms_ = std::max(max_timestamp_ms_, ts_ms);
}

Status OtlpTranslator::Translate(std::string_view request, SeriesSink& sink,
                                 TranslateStats* stats) {
  sink_ = &sink;
  stats_ = stats;
  target_info_hashes_.clear();
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

Status OtlpTranslator::TranslateResourceMetrics(std::string_view rm) {
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
  max_timestamp_ms_ = 0;
  resource_has_points_ = false;
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
  if (options_.send_target_info && resource_has_points_ && !resource_candidates_.empty()) {
    EmitTargetInfo();
  }
  return Status::Ok();
}

Status OtlpTranslator::ParseResource(std::string_view resource) {
  resource_arena_.Reset();
  resource_candidates_.clear();
  job_ = instance_ = {};
  std::string_view service_name;
  std::string_view service_namespace;
  ProtoReader r(resource);
  while (r.Next()) {
    if (r.field() != common::kResourceAttributes) continue;
    if (!r.Is(WireType::kLengthDelimited))
      return Invalid("resource attribute has the wrong wire type");
    bool bad_utf8 = false;
    size_t before = resource_candidates_.size();
    SLUICE_RETURN_IF_ERROR(
        AddAttribute(r.bytes(), resource_arena_, render_, resource_candidates_, &bad_utf8));
    // A value that is not UTF-8 cannot be a label value; the attribute is left out.
    if (resource_candidates_.size() == before) continue;
    const Candidate& c = resource_candidates_.back();
    std::string_view* identifying = nullptr;
    if (c.key == "service.name") identifying = &service_name;
    if (c.key == "service.namespace") identifying = &service_namespace;
    if (c.key == "service.instance.id") identifying = &instance_;
    if (identifying != nullptr) {
      *identifying = c.value;
      resource_candidates_.pop_back();
    }
  }
  if (!r.ok()) return Invalid(std::string("malformed resource: ") + r.error());
  if (!service_name.empty()) {
    if (service_namespace.empty()) {
      job_ = service_name;
    } else {
      join_.assign(service_namespace);
      join_.push_back('/');
      join_.append(service_name);
      job_ = resource_arena_.Copy(join_);
    }
  }
  return Status::Ok();
}

Status OtlpTranslator::ParseScope(std::string_view scope) {
  scope_name_ = scope_version_ = {};
  ProtoReader r(scope);
  while (r.Next()) {
    if (r.field() != common::kScopeName && r.field() != common::kScopeVersion) continue;
    if (!r.Is(WireType::kLengthDelimited)) return Invalid("scope name has the wrong wire type");
    std::string_view v = wire::prom::ValidUtf8(r.bytes()) ? r.bytes() : std::string_view();
    (r.field() == common::kScopeName ? scope_name_ : scope_version_) = v;
  }
  if (!r.ok()) return Invalid(std::string("malformed scope: ") + r.error());
  return Status::Ok();
}

void OtlpTranslator::EmitTargetInfo() {
  point_arena_.Reset();
  candidates_.assign(resource_candidates_.begin(), resource_candidates_.end());
  candidates_.push_back(Candidate{kNameLabel, kPlaceholder, {}, Source::kTranslation});
  if (!job_.empty()) candidates_.push_back(Candidate{"job", job_, {}, Source::kTranslation});
  if (!instance_.empty()) {
    candidates_.push_back(Candidate{"instance", instance_, {}, Source::kTranslation});
  }
  for (const LabelRef& e : external_) {
    candidates_.push_back(Candidate{e.name, e.value, {}, Source::kExternal});
  }
  BuildPointLabels();
  uint64_t hash = Encode("target_info", {}, 1.0, max_timestamp_ms_);
  if (std::find(target_info_hashes_.begin(), target_info_hashes_.end(), hash) !=
      target_info_hashes_.end()) {
    return;  // an identical resource already had its target_info in this request
  }
  target_info_hashes_.push_back(hash);
  sink_->Series(hash, series_, 1);
  ++stats_->series;
  ++stats_->samples;
  ++stats_->target_info_series;
}

Status OtlpTranslator::TranslateMetric(std::string_view metric) {
  std::string_view unit;
  std::string_view data;
  uint32_t kind = 0;
  bool info = false;
  metric_name_ = {};
  ProtoReader r(metric);
  while (r.Next()) {
    switch (r.field()) {
      case field::kMetricName:
        if (Expect(r, WireType::kLengthDelimited)) metric_name_ = r.bytes();
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
    return Invalid("metric \"" + std::string(metric_name_.substr(0, 200)) + "\": " + r.error());
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
      return Invalid("metric \"" + std::string(metric_name_.substr(0, 200)) + "\": " + d.error());
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
  if (!BuildMetricName(name_, metric_name_, unit, type, options_.add_metric_suffixes, unit_scratch_,
                       unit_word_)) {
    Drop(&TranslateStats::dropped_invalid_name, CountField(data, field::kDataPoints),
         "the name has no usable characters");
    return Status::Ok();
  }
  if (type == PromType::kHistogram || type == PromType::kSummary) {
    name_sum_.assign(name_).append("_sum");
    name_count_.assign(name_).append("_count");
    name_bucket_.assign(name_).append("_bucket");
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
      return Invalid("metric \"" + std::string(metric_name_.substr(0, 200)) +
                     "\": data point: " + st.message());
    }
  }
  if (!d.ok()) {
    return Invalid("metric \"" + std::string(metric_name_.substr(0, 200)) + "\": " + d.error());
  }
  return Status::Ok();
}

namespace {
constexpr std::string_view kNonUtf8 = "an attribute value is not UTF-8";
}  // namespace

Result<bool> OtlpTranslator::PointLabels(std::string_view extra_label) {
  point_arena_.Reset();
  candidates_.clear();
  bool bad_utf8 = false;
  for (std::string_view kv : attributes_) {
    SLUICE_RETURN_IF_ERROR(AddAttribute(kv, point_arena_, render_, candidates_, &bad_utf8));
  }
  if (bad_utf8) {
    Drop(&TranslateStats::dropped_invalid_point, 1, kNonUtf8);
    return false;
  }
  if (options_.resource_to_telemetry) {
    for (const Candidate& r : resource_candidates_) {
      std::erase_if(candidates_, [&](const Candidate& c) {
        return c.source == Source::kAttribute && c.key == r.key;
      });
      candidates_.push_back(r);
    }
  }
  AddTranslationLabels(extra_label);
  BuildPointLabels();
  return true;
}

Status OtlpTranslator::TranslateNumberPoint(std::string_view point) {
  attributes_.clear();
  CommonPoint common;
  double value = 0;
  bool has_value = false;
  ProtoReader r(point);
  while (r.Next()) {
    if (ReadCommonPointField(r, kNumberPointFields, &common, &attributes_)) continue;
    switch (r.field()) {
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
      default:
        break;
    }
  }
  if (!r.ok()) return Invalid(r.error());
  stats_->dropped_exemplars += common.exemplars;
  const bool stale = common.stale();
  if (!has_value && !stale) {
    Drop(&TranslateStats::dropped_invalid_point, 1, "a data point has no value");
    return Status::Ok();
  }
  SLUICE_ASSIGN_OR_RETURN(bool labelled, PointLabels({}));
  if (!labelled) return Status::Ok();
  Emit(name_, {}, stale ? StaleNaN() : value, ToMillis(common.time));
  return Status::Ok();
}

Status OtlpTranslator::TranslateHistogramPoint(std::string_view point) {
  attributes_.clear();
  bucket_counts_.clear();
  bounds_.clear();
  CommonPoint common;
  uint64_t count = 0;
  double sum = 0;
  bool has_sum = false;
  ProtoReader r(point);
  while (r.Next()) {
    if (ReadCommonPointField(r, kHistogramPointFields, &common, &attributes_)) continue;
    switch (r.field()) {
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
        ReadRepeated64(r, &bucket_counts_);
        break;
      case field::kHistogramExplicitBounds:
        ReadRepeated64(r, &bounds_);
        break;
      default:
        break;
    }
  }
  if (!r.ok()) return Invalid(r.error());
  stats_->dropped_exemplars += common.exemplars;
  const bool stale = common.stale();
  if (!stale) {
    // OTLP: one more bucket than bounds, or neither; bounds strictly increasing.
    bool valid =
        bucket_counts_.empty() ? bounds_.empty() : bucket_counts_.size() == bounds_.size() + 1;
    for (size_t i = 0; valid && i < bounds_.size(); ++i) {
      valid = !std::isnan(bounds_[i]) && (i == 0 || bounds_[i - 1] < bounds_[i]);
    }
    if (!valid) {
      Drop(&TranslateStats::dropped_invalid_point, 1,
           "histogram bucket counts do not match its bounds");
      return Status::Ok();
    }
  }
  SLUICE_ASSIGN_OR_RETURN(bool labelled, PointLabels("le"));
  if (!labelled) return Status::Ok();
  int64_t ts = ToMillis(common.time);
  double nan = StaleNaN();
  char buf[400];
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (std::isinf(bounds_[i]) && bounds_[i] > 0) break;  // the +Inf bucket follows
    if (i < bucket_counts_.size()) cumulative += bucket_counts_[i];
    Emit(name_bucket_, FormatBound(bounds_[i], buf), stale ? nan : static_cast<double>(cumulative),
         ts);
  }
  Emit(name_bucket_, "+Inf", stale ? nan : static_cast<double>(count), ts);
  if (has_sum || stale) Emit(name_sum_, {}, stale ? nan : sum, ts);
  Emit(name_count_, {}, stale ? nan : static_cast<double>(count), ts);
  return Status::Ok();
}

Status OtlpTranslator::TranslateSummaryPoint(std::string_view point) {
  attributes_.clear();
  quantiles_.clear();
  CommonPoint common;
  uint64_t count = 0;
  double sum = 0;
  ProtoReader r(point);
  while (r.Next()) {
    if (ReadCommonPointField(r, kSummaryPointFields, &common, &attributes_)) continue;
    switch (r.field()) {
      case field::kSummaryCount:
        if (Expect(r, WireType::kFixed64)) count = r.fixed64();
        break;
      case field::kSummarySum:
        if (Expect(r, WireType::kFixed64)) sum = r.as_double();
        break;
      case field::kSummaryQuantileValues:
        if (Expect(r, WireType::kLengthDelimited)) quantiles_.push_back(r.bytes());
        break;
      default:
        break;
    }
  }
  if (!r.ok()) return Invalid(r.error());
  SLUICE_ASSIGN_OR_RETURN(bool labelled, PointLabels("quantile"));
  if (!labelled) return Status::Ok();
  int64_t ts = ToMillis(common.time);
  const bool stale = common.stale();
  double nan = StaleNaN();
  char buf[400];
  for (std::string_view qv : quantiles_) {
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
    Emit(name_, FormatBound(quantile, buf), stale ? nan : value, ts);
  }
  Emit(name_sum_, {}, stale ? nan : sum, ts);
  Emit(name_count_, {}, stale ? nan : static_cast<double>(count), ts);
  return Status::Ok();
}

}  // namespace sluice::exporters::prw
