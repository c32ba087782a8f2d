#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/schema.h"
#include "pipeline/component.h"
#include "processors/attributes/actions.h"
#include "processors/attributes/match.h"

namespace sluice::processors::attributes {

// The OpenTelemetry Collector's `attributes` processor: actions on the
// attributes of spans, log records and metric data points, for the items
// `include` selects and `exclude` does not.
struct AttributesOptions {
  std::vector<Action> actions;
  std::optional<MatchProperties> include;
  std::optional<MatchProperties> exclude;
};

const config::Schema<AttributesOptions>& AttributesOptionsSchema();
pipeline::ComponentType AttributesProcessorType();

// Exposed for tests and benchmarks.
class AttributesProcessor final : public pipeline::Processor {
 public:
  AttributesProcessor(const std::string& id, const AttributesOptions& options,
                      telemetry::Registry& registry);
  Status Process(const Input& in, Output* out) const override;

 private:
  bool Selected(const MatchItem& item) const;

  std::string id_;
  AttributesOptions options_;
  telemetry::Counter& changed_;
};

}  // namespace sluice::processors::attributes
