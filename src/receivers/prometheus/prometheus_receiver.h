#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "pipeline/component.h"
#include "receivers/prometheus/scrape_config.h"

namespace sluice::receivers::prometheus {

// The `prometheus` receiver type's registration record: scrapes the targets
// of Prometheus scrape_configs on the shared scheduler (docs/collection.md).
pipeline::ComponentType PrometheusReceiverType();

// Target groups in file_sd's form (a list of {targets: [...], labels: {...}},
// JSON or YAML), as read from a file or an http_sd answer; InvalidArgument
// saying what is wrong otherwise.
Result<std::vector<TargetGroup>> ParseTargetGroups(const std::string& text,
                                                   const std::string& source);

}  // namespace sluice::receivers::prometheus
