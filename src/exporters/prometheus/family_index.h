#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/status.h"
#include "wire/prom/exposition.h"

namespace sluice::exporters::prometheus {

// The metric families of one stored batch, so that each series the
// translation (prw::Translator) hands over can be written under its family
// with its type. The translator names series but does not say their type;
// this index names each OTLP metric the way the translator does
// (wire::prom::BuildMetricName with the same type choice) and keeps
// name → type, or reads the MetricMetadata entries of a remote write
// request. Rebuilt per batch; keeps its memory across batches.
// Not thread-safe: it belongs to the exporter's read loop.
class FamilyIndex {
 public:
  // Indexes the metrics of an OTLP ExportMetricsServiceRequest. Metrics the
  // translator drops (no data, exponential histograms, an unusable name)
  // have no series, so what is indexed for them is never asked for.
  void IndexOtlp(std::string_view request, bool add_metric_suffixes);
  // Indexes the metadata entries of a prometheus.WriteRequest (none: every
  // series is untyped).
  void IndexWriteRequest(std::string_view request);

  struct Resolved {
    std::string_view family;  // into the series name or the index
    wire::prom::MetricType type = wire::prom::MetricType::kUnknown;
  };
  // The family of a series named `name` (valid while `name` and the index
  // are): the name itself when indexed as a counter, gauge or summary (its
  // quantile series), or when unknown; the stem of a histogram's
  // _bucket/_sum/_count or a summary's _sum/_count. `target_info` is a gauge.
  Resolved Resolve(std::string_view name) const;

 private:
  void Add(std::string_view name, wire::prom::MetricType type);

  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, wire::prom::MetricType, NameHash, std::equal_to<>> types_;
  std::string name_;  // working buffers of BuildMetricName
  std::string scratch_;
  std::string unit_word_;
};

}  // namespace sluice::exporters::prometheus
