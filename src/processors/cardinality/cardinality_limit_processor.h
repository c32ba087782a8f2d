#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "config/schema.h"
#include "pipeline/component.h"
#include "processors/cardinality/series_limiter.h"

namespace sluice::processors::cardinality {

// At most `max_series` active series per metric name and tenant; what
// passes the limit is folded into the metric's overflow series or dropped.
struct CardinalityLimitOptions {
  enum class Action { kOverflow, kDrop };
  int64_t max_series = 100000;
  std::chrono::nanoseconds window = std::chrono::hours(1);
  Action action = Action::kOverflow;
};

const config::Schema<CardinalityLimitOptions>& CardinalityLimitOptionsSchema();
pipeline::ComponentType CardinalityLimitProcessorType();

// Series are remote-write series (told apart by all their labels) and OTLP
// data point streams (metric name, resource attributes and point
// attributes). Metrics named sluice_* (sluice's own, when a pipeline
// collects them) are never limited.
//
// Folding, per request: for remote write, the samples of refused series of
// one metric (and job and instance) become one series labelled
// otel_metric_overflow="true", their values added per timestamp; native
// histogram samples and exemplars of refused series are dropped. For OTLP,
// see FoldPoints. Exposed for tests and benchmarks.
class CardinalityLimitProcessor final : public pipeline::Processor {
 public:
  CardinalityLimitProcessor(const std::string& id, const CardinalityLimitOptions& options,
                            telemetry::Registry& registry, Clock& clock);
  Status Process(const Input& in, Output* out) const override;

  uint64_t active_series() const { return limiter_.active_series(); }

 private:
  struct Tally;
  Status ProcessRemoteWrite(const Input& in, std::string_view request, Output* out) const;
  Status ProcessOtlp(const Input& in, Output* out) const;
  void Count(std::string_view tenant, const Tally& tally) const;

  const CardinalityLimitOptions options_;
  mutable SeriesLimiter limiter_;
  telemetry::CounterFamily& folded_;
  telemetry::CounterFamily& dropped_;
  telemetry::Gauge& active_;
  const std::string id_;
};

}  // namespace sluice::processors::cardinality
