#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace sluice::pgmetrics {

// Metrics by SQL in the shape pgwatch's metrics.yaml gives them:
//
//   metrics:
//     <name>:
//       description: ...
//       sqls: {<min major version>: <SQL>, ...}
//       gauges: [<column>, ...] | ['*']
//       is_instance_level: bool
//       node_status: primary | standby     (absent: both)
//       statement_timeout_seconds: <int>
//       init_sql: <SQL run once per connection before the first fetch>
//       metric_storage_name: <table name of the postgresql exporter>
//   presets:
//     <name>: {description: ..., metrics: {<metric>: <interval seconds>}}
//
// The built-in definitions (presets basic, standard and exhaustive for
// PostgreSQL 12 to 17) are in presets.yaml, compiled in.

enum class NodeStatus : uint8_t { kAny, kPrimary, kStandby };

struct Metric {
  std::string name;
  std::string description;
  // SQL by the lowest server major version it runs on (12, 13, ...).
  std::map<int, std::string> sqls;
  // Numeric columns reported as gauges; the others are counters.
  std::vector<std::string> gauges;
  bool all_gauges = false;  // gauges: ['*']
  bool is_instance_level = false;
  NodeStatus node_status = NodeStatus::kAny;
  int64_t statement_timeout_seconds = 0;  // 0: the source's default
  std::string init_sql;
  std::string storage_name;  // empty: the metric's name

  // The SQL for a server of `major` version: the entry with the highest key
  // not above it; null when every entry needs a newer server.
  const std::string* SqlFor(int major) const;
  bool IsGauge(std::string_view column) const;
  const std::string& table() const { return storage_name.empty() ? name : storage_name; }
};

struct Preset {
  std::string name;
  std::string description;
  std::map<std::string, int64_t> metrics;  // metric → interval in seconds
};

struct Definitions {
  std::map<std::string, Metric> metrics;
  std::map<std::string, Preset> presets;

  // Adds `other`'s metrics and presets, replacing those of the same name.
  void Merge(Definitions other);
};

// Reads metrics.yaml text; `source` (a file name) begins every error, which
// says file:line:column and what is wrong. Unknown keys are errors. Every
// preset must name metrics defined in this text or in `known` (may be null).
Result<Definitions> ParseDefinitions(std::string_view yaml_text, const std::string& source,
                                     const Definitions* known = nullptr);

// The built-in definitions: presets basic, standard and exhaustive.
const Definitions& Builtin();

// The series name of a metric's numeric column, as pgwatch's Prometheus
// output names it: "<namespace>_<metric>_<column>" ("<metric>_<column>"
// when namespace is empty), with characters outside [a-zA-Z0-9_:] made '_'.
std::string SeriesName(std::string_view name_space, std::string_view metric,
                       std::string_view column);

// The inverse of SeriesName for the metrics of `defs`: the metric (the
// longest defined name that fits) and the column; nullopt when the name does
// not start with "<namespace>_" or no defined metric fits.
struct SplitName {
  const Metric* metric;
  std::string column;
};
std::optional<SplitName> Split(const Definitions& defs, std::string_view name_space,
                               std::string_view series_name);

}  // namespace sluice::pgmetrics
