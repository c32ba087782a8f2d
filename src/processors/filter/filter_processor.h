#pragma once

#include <string>
#include <vector>

#include "config/schema.h"
#include "ottl/ottl.h"
#include "pipeline/component.h"

namespace sluice::processors::filter {

enum class ErrorMode { kPropagate, kIgnore, kSilent };

// The OpenTelemetry Collector's `filter` processor: an item is dropped when
// any of its conditions holds: traces.span, traces.spanevent,
// logs.log_record, metrics.metric (a metric with all its points) and
// metrics.datapoint (a metric left without points goes with its last).
struct FilterOptions {
  ErrorMode error_mode = ErrorMode::kPropagate;
  std::vector<ottl::Condition> span;
  std::vector<ottl::Condition> spanevent;
  std::vector<ottl::Condition> log_record;
  std::vector<ottl::Condition> metric;
  std::vector<ottl::Condition> datapoint;
};

const config::Schema<FilterOptions>& FilterOptionsSchema();
pipeline::ComponentType FilterProcessorType();

// Exposed for tests and benchmarks.
class FilterProcessor final : public pipeline::Processor {
 public:
  FilterProcessor(const std::string& id, const FilterOptions& options,
                  telemetry::Registry& registry);
  Status Process(const Input& in, Output* out) const override;

 private:
  // Whether an item with these condition results goes; an evaluation error
  // is returned under `propagate`, counted and taken as false otherwise.
  Result<bool> Drops(const std::vector<ottl::Condition>& conditions, const ottl::Item& item) const;

  std::string id_;
  FilterOptions options_;
  telemetry::Counter& dropped_spans_;
  telemetry::Counter& dropped_span_events_;
  telemetry::Counter& dropped_log_records_;
  telemetry::Counter& dropped_metrics_;
  telemetry::Counter& dropped_data_points_;
  telemetry::Counter& errors_;
};

}  // namespace sluice::processors::filter
