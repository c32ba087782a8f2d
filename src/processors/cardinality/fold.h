#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "wire/otlp/edit.h"

namespace sluice::processors::cardinality {

// The attribute the overflow series carries, as the OpenTelemetry SDKs
// name it (the Prometheus translation makes it otel_metric_overflow="true").
inline constexpr std::string_view kOverflowAttribute = "otel.metric.overflow";

// Folds data points of one OTLP metric (encoded points of `kind`, in
// request order) into the metric's overflow series: each point loses its
// attributes for otel.metric.overflow = true, and points at the same time
// merge into one:
//  - number points add their values (an int while every value is one);
//  - histograms with the same bounds add counts, sums and buckets, and keep
//    the least min and greatest max;
//  - exponential histograms with the same zero threshold add their buckets
//    at the coarsest scale among them;
//  - summaries add count and sum; quantiles do not add, so a merged summary
//    has none.
// Points that cannot merge (histograms with different bounds) stay apart. A
// point marked as having no recorded value contributes nothing. Appends each
// resulting point as a data_points field to *out; returns how many.
size_t FoldPoints(wire::otlp::PointKind kind, const std::vector<std::string_view>& points,
                  std::string* out);

}  // namespace sluice::processors::cardinality
