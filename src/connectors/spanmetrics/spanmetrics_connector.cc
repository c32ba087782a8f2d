#include "connectors/spanmetrics/spanmetrics_connector.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "connectors/common/checkpointed.h"
#include "connectors/common/encode.h"
#include "wire/otlp/common.h"
#include "wire/otlp/edit.h"
#include "wire/otlp/inspect.h"
#include "wire/otlp/metrics.h"
#include "wire/otlp/traces.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

// Inlined: a hash is taken per span.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace sluice::connectors::spanmetrics {
namespace {

namespace of = wire::otlp::field;

constexpr char kOverflowAttribute[] = "otel.metric.overflow";

const char* KindName(int64_t kind) {
  static const char* kNames[] = {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL",
                                 "SPAN_KIND_SERVER",      "SPAN_KIND_CLIENT",
                                 "SPAN_KIND_PRODUCER",    "SPAN_KIND_CONSUMER"};
  return kind >= 0 && kind <= 5 ? kNames[kind] : "SPAN_KIND_UNSPECIFIED";
}

const char* StatusName(uint64_t code) {
  static const char* kNames[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"};
  return code <= 2 ? kNames[code] : "STATUS_CODE_UNSET";
}

// A series' identity as a hash: the service's hash, then name, kind and
// status, then each dimension's value (or a mark for a missing one). Add
// and Deserialize build it the same way.
uint64_t Mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}
uint64_t HashText(std::string_view text, uint64_t h) {
  return XXH3_64bits_withSeed(text.data(), text.size(), h);
}
uint64_t HashSpan(uint64_t service_hash, std::string_view name, int64_t kind, uint64_t status) {
  return HashText(name, service_hash ^ Mix(static_cast<uint64_t>(kind) << 8 | status));
}
uint64_t HashMissing(uint64_t h) {
  return Mix(h + 0x9e3779b97f4a7c15ull);
}
uint64_t HashOverflow(uint64_t service_hash) {
  return Mix(service_hash ^ 0x6a09e667f3bcc909ull);
}

// An attribute's value as text, without a copy for strings.
std::string_view TextOf(std::string_view any_value, std::string* scratch) {
  wire::otlp::AnyView v = wire::otlp::ViewAny(any_value);
  if (v.type == wire::otlp::AnyView::Type::kString) return v.s;
  *scratch = wire::otlp::AnyValueText(any_value);
  return *scratch;
}

int64_t KindOf(std::string_view name) {
  for (int64_t k = 0; k <= 5; ++k) {
    if (name == KindName(k)) return k;
  }
  return 0;
}
uint64_t StatusOf(std::string_view name) {
  for (uint64_t c = 0; c <= 2; ++c) {
    if (name == StatusName(c)) return c;
  }
  return 0;
}

}  // namespace

// Per span, the series is found by a hash of what tells it apart, without
// building a key; a series' attributes are written out only when it is
// first seen, and the service name is read once per resource.
Result<uint64_t> Aggregator::Add(std::string_view request, int64_t now_unix_nano) {
  uint64_t overflowed = 0;
  const double scale = options_.unit_seconds ? 1e-9 : 1e-6;  // ns to the histogram unit
  const char* resource_seen = nullptr;
  std::string service;
  uint64_t service_hash = 0;
  std::string scratch;
  SLUICE_RETURN_IF_ERROR(wire::otlp::ForEachLeaf(
      request, [&](std::string_view resource, std::string_view, std::string_view leaf) -> Status {
        wire::otlp::SpanView span;
        SLUICE_RETURN_IF_ERROR(wire::otlp::ViewSpan(leaf, &span));
        std::string_view v;
        if (resource.data() != resource_seen || resource_seen == nullptr) {
          resource_seen = resource.data();
          service = wire::otlp::ServiceName(resource);
          service_hash = HashText(service, 0);
        }
        const uint64_t status = wire::LastVarintField(span.status, of::kStatusCode);
        uint64_t h = HashSpan(service_hash, span.name, span.kind, status);
        for (const Dimension& d : options_.dimensions) {
          if (wire::otlp::FindAttribute(leaf, of::kSpanAttributes, d.name, &v) ||
              wire::otlp::FindAttribute(resource, of::kResourceAttributes, d.name, &v)) {
            h = HashText(TextOf(v, &scratch), h);
          } else if (d.default_value) {
            h = HashText(*d.default_value, h);
          } else {
            h = HashMissing(h);
          }
        }
        auto it = series_.find(h);
        bool overflow = false;
        if (it == series_.end() && options_.aggregation_cardinality_limit > 0 &&
            static_cast<int64_t>(series_.size()) >= options_.aggregation_cardinality_limit) {
          // Past the limit: the span counts in its service's overflow series.
          h = HashOverflow(service_hash);
          it = series_.find(h);
          overflow = true;
          ++overflowed;
        }
        if (it == series_.end()) {
          Series s;
          s.service = service;
          if (overflow) {
            s.attributes.emplace_back(kOverflowAttribute, "true");
          } else {
            s.attributes.emplace_back("span.name", std::string(span.name));
            s.attributes.emplace_back("span.kind", KindName(span.kind));
            s.attributes.emplace_back("status.code", StatusName(status));
            for (const Dimension& d : options_.dimensions) {
              if (wire::otlp::FindAttribute(leaf, of::kSpanAttributes, d.name, &v) ||
                  wire::otlp::FindAttribute(resource, of::kResourceAttributes, d.name, &v)) {
                s.attributes.emplace_back(d.name, std::string(TextOf(v, &scratch)));
              } else if (d.default_value) {
                s.attributes.emplace_back(d.name, *d.default_value);
              }
            }
          }
          if (options_.exponential_max_size > 0) {
            s.exponential = ExponentialHistogram(static_cast<int>(options_.exponential_max_size));
          } else {
            s.bucket_counts.assign(options_.buckets_seconds.size() + 1, 0);
          }
          it = series_.emplace(h, std::move(s)).first;
        }
        Series& s = it->second;
        uint64_t duration_ns = span.end_time_unix_nano > span.start_time_unix_nano
                                   ? span.end_time_unix_nano - span.start_time_unix_nano
                                   : 0;
        double value = static_cast<double>(duration_ns) * scale;
        ++s.calls;
        if (options_.exponential_max_size > 0) {
          s.exponential.Record(value);
        } else {
          double seconds = static_cast<double>(duration_ns) * 1e-9;
          size_t bucket =
              static_cast<size_t>(std::lower_bound(options_.buckets_seconds.begin(),
                                                   options_.buckets_seconds.end(), seconds) -
                                  options_.buckets_seconds.begin());
          ++s.bucket_counts[bucket];
        }
        s.sum += value;
        s.last_update_unix_nano = now_unix_nano;
        if (options_.exemplars) {
          if (!s.exemplar) s.exemplar.emplace();
          // assign() reuses the strings' memory from the last exemplar.
          s.exemplar->trace_id.assign(span.trace_id);
          s.exemplar->span_id.assign(span.span_id);
          s.exemplar->value = value;
          s.exemplar->time_unix_nano = static_cast<int64_t>(span.end_time_unix_nano);
        }
        return Status::Ok();
      }));
  return overflowed;
}

uint64_t Aggregator::HashOf(const Series& s) const {
  const uint64_t service_hash = HashText(s.service, 0);
  auto find = [&](std::string_view name) -> const std::string* {
    for (const auto& [k, v] : s.attributes) {
      if (k == name) return &v;
    }
    return nullptr;
  };
  if (find(kOverflowAttribute) != nullptr) return HashOverflow(service_hash);
  const std::string* name = find("span.name");
  const std::string* kind = find("span.kind");
  const std::string* status = find("status.code");
  uint64_t h = HashSpan(service_hash, name ? *name : "", kind ? KindOf(*kind) : 0,
                        status ? StatusOf(*status) : 0);
  for (const Dimension& d : options_.dimensions) {
    const std::string* value = find(d.name);
    h = value != nullptr ? HashText(*value, h) : HashMissing(h);
  }
  return h;
}

uint64_t Aggregator::Expire(int64_t now_unix_nano) {
  if (options_.metrics_expiration.count() <= 0) return 0;
  int64_t cutoff = now_unix_nano - options_.metrics_expiration.count();
  return static_cast<uint64_t>(absl::erase_if(
      series_, [&](const auto& kv) { return kv.second.last_update_unix_nano < cutoff; }));
}

std::string Aggregator::Encode(int64_t start_time_unix_nano, int64_t now_unix_nano) const {
  if (series_.empty()) return "";
  // Series by service, each service one resource.
  std::map<std::string_view, std::vector<const Series*>> by_service;
  for (const auto& [key, s] : series_) by_service[s.service].push_back(&s);
  const std::string calls_name = options_.metric_namespace + ".calls";
  const std::string duration_name = options_.metric_namespace + ".duration";
  std::string out;
  wire::ProtoWriter w(&out);
  auto point_attributes = [&](wire::ProtoWriter& pw, uint32_t field, const Series& s) {
    AppendStringAttribute(pw, field, "service.name", s.service);
    for (const auto& [k, v] : s.attributes) AppendStringAttribute(pw, field, k, v);
  };
  for (const auto& [service, list] : by_service) {
    size_t rm = w.BeginMessage(of::kRequestResourceMetrics);
    size_t res = w.BeginMessage(of::kResourceMetricsResource);
    AppendStringAttribute(w, of::kResourceAttributes, "service.name", service);
    w.EndMessage(res);
    size_t sm = w.BeginMessage(of::kResourceMetricsScopeMetrics);
    size_t scope = w.BeginMessage(of::kScopeMetricsScope);
    w.Bytes(of::kScopeName, "sluice/connector/spanmetrics");
    w.EndMessage(scope);
    // calls: a monotonic cumulative int sum.
    size_t m = w.BeginMessage(of::kScopeMetricsMetrics);
    w.Bytes(of::kMetricName, calls_name);
    size_t sum = w.BeginMessage(of::kMetricSum);
    for (const Series* s : list) {
      size_t p = w.BeginMessage(of::kDataPoints);
      w.Fixed64(of::kPointStartTime, static_cast<uint64_t>(start_time_unix_nano));
      w.Fixed64(of::kPointTime, static_cast<uint64_t>(now_unix_nano));
      w.Fixed64(of::kNumberAsInt, s->calls);
      point_attributes(w, of::kNumberAttributes, *s);
      w.EndMessage(p);
    }
    w.Varint(of::kTemporality, 2);  // AGGREGATION_TEMPORALITY_CUMULATIVE
    w.Varint(of::kSumIsMonotonic, 1);
    w.EndMessage(sum);
    w.EndMessage(m);
    // duration: a cumulative histogram, of explicit buckets or exponential.
    const bool exponential = options_.exponential_max_size > 0;
    m = w.BeginMessage(of::kScopeMetricsMetrics);
    w.Bytes(of::kMetricName, duration_name);
    w.Bytes(of::kMetricUnit, options_.unit_seconds ? "s" : "ms");
    size_t hist =
        w.BeginMessage(exponential ? of::kMetricExponentialHistogram : of::kMetricHistogram);
    for (const Series* s : list) {
      size_t p = w.BeginMessage(of::kDataPoints);
      w.Fixed64(of::kPointStartTime, static_cast<uint64_t>(start_time_unix_nano));
      w.Fixed64(of::kPointTime, static_cast<uint64_t>(now_unix_nano));
      w.Fixed64(of::kHistogramCount, s->calls);  // count and sum: 4 and 5 in both point types
      w.Double(of::kHistogramSum, s->sum);
      uint32_t exemplars_field = of::kHistogramExemplars;
      uint32_t attributes_field = of::kHistogramAttributes;
      if (exponential) {
        // ExponentialHistogramDataPoint: scale = 6 (sint32), zero_count = 7,
        // positive = 8 {offset = 1 (sint32), bucket_counts = 2 (packed)},
        // exemplars = 11, min = 12, max = 13.
        const ExponentialHistogram& e = s->exponential;
        w.Varint(6, wire::ZigZagEncode(e.scale()));
        w.Fixed64(7, e.zero_count());
        size_t positive = w.BeginMessage(8);
        w.Varint(1, wire::ZigZagEncode(e.offset()));
        std::string packed;
        wire::ProtoWriter pw(&packed);
        for (uint64_t c : e.counts()) pw.RawVarint(c);
        w.Bytes(2, packed);
        w.EndMessage(positive);
        if (e.count() > 0) {
          w.Double(12, e.min());
          w.Double(13, e.max());
        }
        exemplars_field = 11;
        attributes_field = of::kExpHistogramAttributes;
      } else {
        std::string counts, bounds;
        for (uint64_t c : s->bucket_counts) {
          char b[8];
          std::memcpy(b, &c, 8);
          counts.append(b, 8);
        }
        for (double bound : options_.buckets_seconds) {
          double v = options_.unit_seconds ? bound : bound * 1e3;
          char b[8];
          std::memcpy(b, &v, 8);
          bounds.append(b, 8);
        }
        w.Bytes(of::kHistogramBucketCounts, counts);    // packed fixed64
        w.Bytes(of::kHistogramExplicitBounds, bounds);  // packed double
      }
      if (s->exemplar) {
        // Exemplar: time_unix_nano = 2, as_double = 3, span_id = 4, trace_id = 5.
        size_t e = w.BeginMessage(exemplars_field);
        w.Fixed64(2, static_cast<uint64_t>(s->exemplar->time_unix_nano));
        w.Double(3, s->exemplar->value);
        w.Bytes(4, s->exemplar->span_id);
        w.Bytes(5, s->exemplar->trace_id);
        w.EndMessage(e);
      }
      point_attributes(w, attributes_field, *s);
      w.EndMessage(p);
    }
    w.Varint(of::kTemporality, 2);
    w.EndMessage(hist);
    w.EndMessage(m);
    w.EndMessage(sm);
    w.EndMessage(rm);
  }
  return out;
}

// Checkpoint layout (our own; protobuf wire format): repeated Series = 1 {
// service = 1, repeated attribute = 2 {key = 1, value = 2}, calls = 3,
// repeated bucket = 4, sum = 5 (double), last_update = 6, exemplar = 7
// {trace_id = 1, span_id = 2, value = 3, time = 4}, exponential = 8 {scale =
// 1, offset = 2 (both zigzag), repeated count = 3, zero_count = 4, min = 5,
// max = 6 (doubles)}}.
std::string Aggregator::Serialize() const {
  std::string out;
  wire::ProtoWriter w(&out);
  for (const auto& [key, s] : series_) {
    size_t m = w.BeginMessage(1);
    w.Bytes(1, s.service);
    for (const auto& [k, v] : s.attributes) {
      size_t a = w.BeginMessage(2);
      w.Bytes(1, k);
      w.Bytes(2, v);
      w.EndMessage(a);
    }
    w.Varint(3, s.calls);
    for (uint64_t c : s.bucket_counts) w.Varint(4, c);
    w.Double(5, s.sum);
    w.Varint(6, static_cast<uint64_t>(s.last_update_unix_nano));
    if (options_.exponential_max_size > 0) {
      const ExponentialHistogram& e = s.exponential;
      size_t x = w.BeginMessage(8);
      w.Varint(1, wire::ZigZagEncode(e.scale()));
      w.Varint(2, wire::ZigZagEncode(e.offset()));
      for (uint64_t c : e.counts()) w.Varint(3, c);
      w.Varint(4, e.zero_count());
      w.Double(5, e.min());
      w.Double(6, e.max());
      w.EndMessage(x);
    }
    if (s.exemplar) {
      size_t e = w.BeginMessage(7);
      w.Bytes(1, s.exemplar->trace_id);
      w.Bytes(2, s.exemplar->span_id);
      w.Double(3, s.exemplar->value);
      w.Varint(4, static_cast<uint64_t>(s.exemplar->time_unix_nano));
      w.EndMessage(e);
    }
    w.EndMessage(m);
  }
  return out;
}

Status Aggregator::Deserialize(std::string_view bytes) {
  series_.clear();
  wire::ProtoReader r(bytes);
  while (r.Next()) {
    if (r.field() != 1) continue;
    Series s;
    bool has_exponential = false;
    wire::ProtoReader f(r.bytes());
    while (f.Next()) {
      switch (f.field()) {
        case 8: {
          int64_t scale = 0, offset = 0;
          uint64_t zero = 0;
          double min = 0, max = 0;
          std::vector<uint64_t> counts;
          wire::ProtoReader x(f.bytes());
          while (x.Next()) {
            if (x.field() == 1) scale = wire::ZigZagDecode(x.varint());
            if (x.field() == 2) offset = wire::ZigZagDecode(x.varint());
            if (x.field() == 3) counts.push_back(x.varint());
            if (x.field() == 4) zero = x.varint();
            if (x.field() == 5) min = x.as_double();
            if (x.field() == 6) max = x.as_double();
          }
          s.exponential = ExponentialHistogram(static_cast<int>(options_.exponential_max_size));
          has_exponential = x.ok() && options_.exponential_max_size > 0 && scale >= INT32_MIN &&
                            scale <= INT32_MAX &&
                            s.exponential.Restore(static_cast<int>(scale), offset,
                                                  std::move(counts), zero, min, max);
          if (!has_exponential) {
            return Status::Corruption(
                "the checkpoint's exponential histogram does not fit "
                "the configured one");
          }
          break;
        }
        case 1:
          s.service = std::string(f.bytes());
          break;
        case 2:
          s.attributes.emplace_back(std::string(wire::LastBytesField(f.bytes(), 1)),
                                    std::string(wire::LastBytesField(f.bytes(), 2)));
          break;
        case 3:
          s.calls = f.varint();
          break;
        case 4:
          s.bucket_counts.push_back(f.varint());
          break;
        case 5:
          s.sum = f.as_double();
          break;
        case 6:
          s.last_update_unix_nano = f.as_int64();
          break;
        case 7: {
          Exemplar e;
          e.trace_id = std::string(wire::LastBytesField(f.bytes(), 1));
          e.span_id = std::string(wire::LastBytesField(f.bytes(), 2));
          wire::ProtoReader x(f.bytes());
          while (x.Next()) {
            if (x.field() == 3) e.value = x.as_double();
            if (x.field() == 4) e.time_unix_nano = x.as_int64();
          }
          s.exemplar = std::move(e);
          break;
        }
        default:
          break;
      }
    }
    if (!f.ok()) return Status::Corruption(std::string("series: ") + f.error());
    if (options_.exponential_max_size > 0
            ? !has_exponential || !s.bucket_counts.empty()
            : s.bucket_counts.size() != options_.buckets_seconds.size() + 1) {
      return Status::Corruption("the checkpoint's buckets differ from the configured ones");
    }
    const uint64_t h = HashOf(s);
    series_.emplace(h, std::move(s));
  }
  if (!r.ok()) return Status::Corruption(r.error());
  return Status::Ok();
}

namespace {

// The aggregator as a checkpointed connector's aggregation, counting the
// spans it folded into overflow series and the series it expired.
class SpanMetricsAggregation final : public Aggregation {
 public:
  SpanMetricsAggregation(const SpanMetricsOptions& options, telemetry::Registry& registry,
                         const std::string& id)
      : options_(options),
        aggregator_(options_),
        overflow_(registry
                      .AddCounter("sluice_connector_overflow_spans_total",
                                  "Spans a connector counted in an overflow series "
                                  "(otel.metric.overflow=true) past "
                                  "aggregation_cardinality_limit.",
                                  {"connector"})
                      .With({id})),
        expired_(registry
                     .AddCounter("sluice_connector_expired_series_total",
                                 "Series a connector stopped exporting after "
                                 "metrics_expiration without a span.",
                                 {"connector"})
                     .With({id})) {}

  Status Add(std::string_view request, int64_t now) override {
    SLUICE_ASSIGN_OR_RETURN(uint64_t overflowed, aggregator_.Add(request, now));
    overflow_.Inc(overflowed);
    return Status::Ok();
  }
  void Tick(int64_t now) override { expired_.Inc(aggregator_.Expire(now)); }
  std::string Serialize() const override { return aggregator_.Serialize(); }
  Status Deserialize(std::string_view bytes) override { return aggregator_.Deserialize(bytes); }
  std::string Encode(int64_t start, int64_t now, uint64_t* points) const override {
    *points = aggregator_.series().size() * 2;
    return aggregator_.Encode(start, now);
  }
  size_t Series() const override { return aggregator_.series().size(); }
  bool Idle() const override { return aggregator_.series().empty(); }

 private:
  const SpanMetricsOptions options_;
  Aggregator aggregator_;
  telemetry::Counter& overflow_;
  telemetry::Counter& expired_;
};

}  // namespace

const config::Schema<SpanMetricsOptions>& SpanMetricsOptionsSchema() {
  static const config::Schema<SpanMetricsOptions> schema = [] {
    config::Schema<SpanMetricsOptions> s("spanmetrics connector");
    s.Custom("histogram", "map", "explicit, ms",
             "`explicit: {buckets: [2ms, 4ms, ...]}` (the Collector's default buckets when "
             "unset), or `exponential: {max_size: 160}` (a base-2 exponential histogram of at "
             "most max_size buckets), and `unit: ms|s`.",
             [](const YAML::Node& n, SpanMetricsOptions* o, config::Context& ctx) {
               if (!n.IsMap()) {
                 ctx.AddError(n, "expected a map with explicit and unit");
                 return;
               }
               for (auto it = n.begin(); it != n.end(); ++it) {
                 std::string key = it->first.Scalar();
                 const YAML::Node v = it->second;
                 if (key == "unit") {
                   std::string unit;
                   if (!ctx.Scalar(v, &unit)) continue;
                   if (unit != "ms" && unit != "s") {
                     ctx.AddError(v, "unknown unit \"" + unit + "\"; choose one of ms, s");
                   }
                   o->unit_seconds = unit == "s";
                 } else if (key == "explicit") {
                   if (!v.IsMap()) continue;
                   const YAML::Node buckets = v["buckets"];
                   if (buckets.IsDefined()) ParseBucketDurations(buckets, ctx, &o->buckets_seconds);
                 } else if (key == "exponential") {
                   o->exponential_max_size = 160;
                   if (v.IsNull()) continue;
                   if (!v.IsMap()) {
                     ctx.AddError(v, "expected a map with max_size");
                     continue;
                   }
                   for (auto e = v.begin(); e != v.end(); ++e) {
                     if (e->first.Scalar() != "max_size") {
                       ctx.AddError(e->first, "unknown key \"" + e->first.Scalar() +
                                                  "\" in exponential; valid keys: max_size");
                       continue;
                     }
                     const YAML::Node size = e->second;
                     config::internal::ParseInt(size, ctx, {2, 16384}, &o->exponential_max_size);
                   }
                 } else {
                   ctx.AddError(it->first,
                                "unknown key \"" + key +
                                    "\" in histogram; valid keys: explicit, exponential, unit");
                 }
               }
             });
    s.Custom("dimensions", "list", "[]",
             "`{name, default}`: a span attribute (or else a resource attribute) added to the "
             "series' attributes; without `default`, spans lacking it leave it out.",
             [](const YAML::Node& n, SpanMetricsOptions* o, config::Context& ctx) {
               if (!n.IsSequence()) {
                 ctx.AddError(n, "expected a list of {name, default}");
                 return;
               }
               for (const auto& d : n) {
                 Dimension dim;
                 if (!d.IsMap() || !d["name"] || !ctx.Scalar(d["name"], &dim.name)) {
                   ctx.AddError(d, "expected {name: ..., default: ...}");
                   continue;
                 }
                 if (d["default"]) {
                   std::string v;
                   if (ctx.Scalar(d["default"], &v)) dim.default_value = v;
                 }
                 o->dimensions.push_back(std::move(dim));
               }
             });
    s.Duration("metrics_flush_interval", &SpanMetricsOptions::metrics_flush_interval,
               "How often the aggregation is checkpointed and its metrics appended to the "
               "metrics pipelines.",
               {1e8L, 3600e9L})
        .Duration("metrics_expiration", &SpanMetricsOptions::metrics_expiration,
                  "Series without a span for this long stop being exported (0: never).",
                  {0, 365 * 86400e9L})
        .Int("aggregation_cardinality_limit", &SpanMetricsOptions::aggregation_cardinality_limit,
             "Series held at most; spans of new series past it count in one overflow series "
             "per service (otel.metric.overflow=\"true\"). 0: no limit.",
             {0, 100'000'000})
        .Custom("exemplars", "map", "enabled: true",
                "`enabled`: the last span's trace and span id as an exemplar on each "
                "histogram point.",
                [](const YAML::Node& n, SpanMetricsOptions* o, config::Context& ctx) {
                  if (n.IsMap() && n["enabled"]) {
                    config::internal::ParseBool(n["enabled"], ctx, &o->exemplars);
                  }
                })
        .String("namespace", &SpanMetricsOptions::metric_namespace,
                "Prefix of the metric names: <namespace>.calls and <namespace>.duration.")
        .Custom("aggregation_temporality", "string", "AGGREGATION_TEMPORALITY_CUMULATIVE",
                "Only cumulative is supported.",
                [](const YAML::Node& n, SpanMetricsOptions*, config::Context& ctx) {
                  std::string t;
                  if (ctx.Scalar(n, &t) && t != "AGGREGATION_TEMPORALITY_CUMULATIVE") {
                    ctx.AddError(n, "only AGGREGATION_TEMPORALITY_CUMULATIVE is supported");
                  }
                })
        .Enum("start_at", &SpanMetricsOptions::start_at,
              {{"oldest", log::StartAt::kOldest}, {"newest", log::StartAt::kNewest}},
              "Where a connector without a checkpoint starts reading: the oldest spans the log "
              "holds (rebuilding from the log), or new ones only.")
        .Int("max_tenants", &SpanMetricsOptions::max_tenants,
             "Tenants besides the default one whose series are kept apart at most; spans of "
             "further tenants are counted, not aggregated.",
             {0, 100'000});
    return s;
  }();
  return schema;
}

pipeline::ComponentType SpanMetricsConnectorType() {
  return pipeline::MakeConnectorType(
      "spanmetrics",
      "Calls and duration metrics per service, span name, kind and status from a traces "
      "pipeline, checkpointed with its position in the log (docs/connectors.md).",
      {log::Signal::kTraces}, {log::Signal::kMetrics}, SpanMetricsOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const SpanMetricsOptions& o,
         pipeline::Runtime& rt) -> Result<std::unique_ptr<pipeline::Exporter>> {
        CheckpointedConnector::Options co;
        co.flush_interval = o.metrics_flush_interval;
        co.start_at = o.start_at;
        co.magic = "SLSM";
        co.max_tenants = static_cast<size_t>(o.max_tenants);
        return std::unique_ptr<pipeline::Exporter>(
            new CheckpointedConnector(s, rt, co, [o, &rt, id = s.id] {
              return std::make_unique<SpanMetricsAggregation>(o, rt.metrics, id);
            }));
      });
}

}  // namespace sluice::connectors::spanmetrics
