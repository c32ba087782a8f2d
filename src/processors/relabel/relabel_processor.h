#pragma once

#include <string>
#include <vector>

#include "config/schema.h"
#include "pipeline/component.h"
#include "relabel/relabel.h"

namespace sluice::processors::relabel {

// Prometheus' metric_relabel_configs on metrics, as the relabel processor:
// on remote-write series their labels; on OTLP data points the series the
// Prometheus translation makes of them (`__name__` as the
// prometheusremotewrite exporter names the metric, `job` and `instance`
// from the resource, the point's attributes as labels).
struct RelabelOptions {
  std::vector<sluice::relabel::Rule> metric_relabel_configs;
};

const config::Schema<RelabelOptions>& RelabelOptionsSchema();
pipeline::ComponentType RelabelProcessorType();

// Exposed for tests and benchmarks.
class RelabelProcessor final : public pipeline::Processor {
 public:
  RelabelProcessor(const std::string& id, const RelabelOptions& options,
                   telemetry::Registry& registry);
  Status Process(const Input& in, Output* out) const override;

 private:
  Status ProcessRemoteWrite(const Input& in, std::string_view request, Output* out) const;
  Status ProcessOtlp(const Input& in, Output* out) const;

  RelabelOptions options_;
  telemetry::Counter& dropped_series_;
  telemetry::Counter& changed_series_;
};

}  // namespace sluice::processors::relabel
