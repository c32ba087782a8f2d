#pragma once

#include <string>
#include <vector>

#include "config/schema.h"
#include "pipeline/component.h"
#include "processors/attributes/actions.h"

namespace sluice::processors::resource {

// The OpenTelemetry Collector's `resource` processor: the attribute actions
// (processors/attributes/actions.h) on every resource's attributes.
struct ResourceOptions {
  std::vector<attributes::Action> attributes;
};

const config::Schema<ResourceOptions>& ResourceOptionsSchema();
pipeline::ComponentType ResourceProcessorType();

// Exposed for tests and benchmarks.
class ResourceProcessor final : public pipeline::Processor {
 public:
  ResourceProcessor(const std::string& id, const ResourceOptions& options,
                    telemetry::Registry& registry);
  Status Process(const Input& in, Output* out) const override;

 private:
  ResourceOptions options_;
  telemetry::Counter& changed_;
};

}  // namespace sluice::processors::resource
