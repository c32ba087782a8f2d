#pragma once

#include <string>
#include <vector>

#include "config/schema.h"
#include "ottl/otlp_items.h"
#include "ottl/ottl.h"
#include "pipeline/component.h"
#include "processors/filter/filter_processor.h"

namespace sluice::processors::transform {

// One group of statements run in one context, as the Collector's
// `{context, conditions, statements}`: for each item of the context where
// any of `conditions` holds (or always, without conditions), the
// statements run in order, each seeing the changes of the one before.
struct StatementGroup {
  ottl::ContextKind context = ottl::ContextKind::kSpan;
  std::vector<ottl::Condition> conditions;
  std::vector<ottl::Statement> statements;
};

// The OpenTelemetry Collector's `transform` processor. Groups run in the
// order configured, each over the whole batch.
struct TransformOptions {
  filter::ErrorMode error_mode = filter::ErrorMode::kPropagate;
  std::vector<StatementGroup> trace_statements;
  std::vector<StatementGroup> metric_statements;
  std::vector<StatementGroup> log_statements;
};

const config::Schema<TransformOptions>& TransformOptionsSchema();
pipeline::ComponentType TransformProcessorType();

// Exposed for tests and benchmarks.
class TransformProcessor final : public pipeline::Processor {
 public:
  TransformProcessor(const std::string& id, const TransformOptions& options,
                     telemetry::Registry& registry);
  Status Process(const Input& in, Output* out) const override;

 private:
  // Runs `group` on `item`; an error is returned under `propagate`,
  // counted (and logged under `ignore`) otherwise, and the item keeps the
  // changes made before the failing statement.
  Status Run(const StatementGroup& group, ottl::EditableItem& item) const;
  Status RunGroup(const StatementGroup& group, std::string_view payload, std::string* out,
                  bool* changed) const;

  std::string id_;
  TransformOptions options_;
  telemetry::Counter& errors_;
};

}  // namespace sluice::processors::transform
