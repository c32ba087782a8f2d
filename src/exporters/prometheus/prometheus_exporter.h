#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "log/log.h"
#include "pipeline/component.h"

namespace sluice::exporters::prometheus {

struct PrometheusOptions {
  std::string endpoint;    // host:port the /metrics endpoint listens on
  std::string name_space;  // `namespace`: "<namespace>_" before every name
  std::vector<std::pair<std::string, std::string>> const_labels;
  bool send_timestamps = false;
  std::chrono::nanoseconds metric_expiration = std::chrono::minutes(5);
  struct ResourceToTelemetry {
    bool enabled = false;
  } resource_to_telemetry_conversion;
  bool add_metric_suffixes = true;
  int64_t max_series = 1'000'000;
  // A pull endpoint serves the latest values: by default a new exporter
  // starts with what arrives from now on rather than replaying history.
  log::StartAt start_at = log::StartAt::kNewest;
};

const config::Schema<PrometheusOptions>& PrometheusOptionsSchema();

// The `prometheus` exporter type's registration record: a pull endpoint
// (GET /metrics, text format 0.0.4) holding the latest sample of every
// series its metrics pipelines carry. See README.md in this folder.
pipeline::ComponentType PrometheusExporterType();

}  // namespace sluice::exporters::prometheus
