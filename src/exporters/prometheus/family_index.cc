#include "exporters/prometheus/family_index.h"

#include "exporters/prometheusremotewrite/attributes.h"
#include "wire/otlp/common.h"
#include "wire/otlp/metrics.h"
#include "wire/otlp/walk.h"
#include "wire/prom/naming.h"
#include "wire/prom/remote_write.h"
#include "wire/proto_reader.h"

namespace sluice::exporters::prometheus {
namespace {

using wire::ProtoReader;
using wire::WireType;
using wire::prom::MetricType;
using wire::prom::PromType;
namespace otlp = wire::otlp::field;

// prometheus.MetricMetadata.MetricType (remote write 1.0).
MetricType FromMetadataType(uint64_t t) {
  switch (t) {
    case 1:
      return MetricType::kCounter;
    case 2:
    case 6:  // INFO: a gauge of value 1 in the 0.0.4 format
      return MetricType::kGauge;
    case 3:
      return MetricType::kHistogram;
    case 5:
      return MetricType::kSummary;
    default:  // UNKNOWN, GAUGEHISTOGRAM, STATESET: no 0.0.4 word
      return MetricType::kUnknown;
  }
}

bool HasSuffix(std::string_view s, std::string_view suffix) {
  return s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

void FamilyIndex::Add(std::string_view name, MetricType type) {
  if (name.empty()) return;
  types_.insert_or_assign(std::string(name), type);
}

void FamilyIndex::IndexOtlp(std::string_view request, bool add_metric_suffixes) {
  types_.clear();
  wire::otlp::WalkLeaves(
      request, [](std::string_view) { return true; },
      [&](std::string_view, std::string_view metric) {
        std::string_view name;
        std::string_view unit;
        std::string_view data;
        uint32_t kind = 0;
        bool info = false;
        ProtoReader r(metric);
        while (r.Next()) {
          if (!r.Is(WireType::kLengthDelimited)) continue;
          switch (r.field()) {
            case otlp::kMetricName:
              name = r.bytes();
              break;
            case otlp::kMetricUnit:
              unit = r.bytes();
              break;
            case otlp::kMetricGauge:
            case otlp::kMetricSum:
            case otlp::kMetricHistogram:
            case otlp::kMetricExponentialHistogram:
            case otlp::kMetricSummary:
              kind = r.field();
              data = r.bytes();
              break;
            case otlp::kMetricMetadata: {
              std::string_view key;
              std::string_view raw;
              if (!prw::DecodeKeyValue(r.bytes(), &key, &raw).ok() || key != "prometheus.type") {
                break;
              }
              prw::AnyValue v;
              info = prw::DecodeAnyValue(raw, &v).ok() && v.kind == otlp::kAnyString &&
                     v.bytes == "info";
              break;
            }
            default:
              break;
          }
        }
        // The same choice of type as the translation makes, which decides
        // the suffixes of the name.
        PromType prom;
        MetricType type;
        switch (kind) {
          case otlp::kMetricGauge:
            prom = PromType::kGauge;
            type = MetricType::kGauge;
            break;
          case otlp::kMetricSum: {
            bool monotonic = false;
            ProtoReader d(data);
            while (d.Next()) {
              if (d.field() == otlp::kSumIsMonotonic && d.Is(WireType::kVarint)) {
                monotonic = d.varint() != 0;
              }
            }
            prom = monotonic ? PromType::kCounter : (info ? PromType::kInfo : PromType::kGauge);
            type = monotonic ? MetricType::kCounter : MetricType::kGauge;
            break;
          }
          case otlp::kMetricHistogram:
            prom = PromType::kHistogram;
            type = MetricType::kHistogram;
            break;
          case otlp::kMetricSummary:
            prom = PromType::kSummary;
            type = MetricType::kSummary;
            break;
          default:  // no data, or an exponential histogram: no series
            return;
        }
        if (wire::prom::BuildMetricName(name_, name, unit, prom, add_metric_suffixes, scratch_,
                                        unit_word_)) {
          Add(name_, type);
        }
      });
}

void FamilyIndex::IndexWriteRequest(std::string_view request) {
  types_.clear();
  namespace field = wire::prom::field;
  ProtoReader r(request);
  while (r.Next()) {
    if (r.field() != field::kWriteMetadata || !r.Is(WireType::kLengthDelimited)) continue;
    uint64_t type = 0;
    std::string_view family;
    ProtoReader m(r.bytes());
    while (m.Next()) {
      if (m.field() == field::kMetadataType && m.Is(WireType::kVarint)) type = m.varint();
      if (m.field() == field::kMetadataFamilyName && m.Is(WireType::kLengthDelimited)) {
        family = m.bytes();
      }
    }
    Add(family, FromMetadataType(type));
  }
}

FamilyIndex::Resolved FamilyIndex::Resolve(std::string_view name) const {
  if (types_.empty()) {
    if (name == "target_info") return {name, MetricType::kGauge};
    return {name, MetricType::kUnknown};
  }
  auto find = [this](std::string_view n) -> const std::pair<const std::string, MetricType>* {
    auto it = types_.find(n);
    return it == types_.end() ? nullptr : &*it;
  };
  if (const auto* e = find(name)) return {name, e->second};
  if (name == "target_info") return {name, MetricType::kGauge};
  for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (!HasSuffix(name, suffix)) continue;
    const auto* e = find(name.substr(0, name.size() - suffix.size()));
    if (e == nullptr) continue;
    if (e->second == MetricType::kHistogram ||
        (e->second == MetricType::kSummary && suffix != "_bucket")) {
      return {e->first, e->second};
    }
  }
  // A counter whose metadata names the family without _total (OpenMetrics'
  // way): the series keeps its own name as its family.
  if (HasSuffix(name, "_total")) {
    const auto* e = find(name.substr(0, name.size() - 6));
    if (e != nullptr && e->second == MetricType::kCounter) return {name, MetricType::kCounter};
  }
  return {name, MetricType::kUnknown};
}

}  // namespace sluice::exporters::prometheus
