#pragma once

#include <string>
#include <string_view>

namespace sluice::wire::prom {

// Prometheus names for OTLP metric names, units and attribute keys (the
// rules are in docs/exporters/prometheusremotewrite_translation.md).

// What a metric becomes in Prometheus, which decides its name suffixes.
enum class PromType { kGauge, kCounter, kInfo, kHistogram, kSummary };

// The Prometheus name for an OTLP metric name and unit (without the
// `_bucket`/`_sum`/`_count` suffixes of histograms and summaries). Returns ""
// if nothing valid is left.
std::string PromMetricName(std::string_view otlp_name, std::string_view otlp_unit, PromType type,
                           bool add_metric_suffixes);
// The unit word appended to metric names ("" for none): `s` -> `seconds`,
// `By/s` -> `bytes_per_second`, `{packet}` -> "", `1` -> `ratio` for gauges.
std::string PromUnit(std::string_view otlp_unit, PromType type);
// The label name for an attribute key ("" if the key has no usable characters).
std::string PromLabelName(std::string_view attribute_key);

// The forms the translator uses, writing into buffers it keeps so that the
// hot path does not allocate.

// True if the key is a label name already, so it can be used unchanged.
bool IsCleanLabelName(std::string_view key);
// Appends PromLabelName(key).
void AppendLabelName(std::string& out, std::string_view key);
// Writes PromMetricName into `out` (cleared first); false if it is empty.
// `scratch` and `unit_word` are working buffers.
bool BuildMetricName(std::string& out, std::string_view name, std::string_view unit, PromType type,
                     bool add_suffixes, std::string& scratch, std::string& unit_word);

}  // namespace sluice::wire::prom
