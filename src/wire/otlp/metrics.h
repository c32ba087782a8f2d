#pragma once

#include <cstdint>

namespace sluice::wire::otlp::field {

// Field numbers from opentelemetry/proto/metrics/v1/metrics.proto and
// collector/metrics/v1/metrics_service.proto.
inline constexpr uint32_t kRequestResourceMetrics = 1;
inline constexpr uint32_t kResourceMetricsResource = 1;
inline constexpr uint32_t kResourceMetricsScopeMetrics = 2;
inline constexpr uint32_t kScopeMetricsScope = 1;
inline constexpr uint32_t kScopeMetricsMetrics = 2;
inline constexpr uint32_t kMetricName = 1;
inline constexpr uint32_t kMetricDescription = 2;
inline constexpr uint32_t kMetricUnit = 3;
inline constexpr uint32_t kMetricGauge = 5;
inline constexpr uint32_t kMetricSum = 7;
inline constexpr uint32_t kMetricHistogram = 9;
inline constexpr uint32_t kMetricExponentialHistogram = 10;
inline constexpr uint32_t kMetricSummary = 11;
inline constexpr uint32_t kMetricMetadata = 12;
// Gauge, Sum, Histogram, ExponentialHistogram and Summary all keep their
// data points at 1, and Sum/Histogram/ExponentialHistogram their temporality at 2.
inline constexpr uint32_t kDataPoints = 1;
inline constexpr uint32_t kTemporality = 2;
inline constexpr uint32_t kSumIsMonotonic = 3;
// Every data point type but ExponentialHistogramDataPoint keeps its start
// time at 2 and its time at 3.
inline constexpr uint32_t kPointStartTime = 2;
inline constexpr uint32_t kPointTime = 3;
inline constexpr uint32_t kNumberTime = 3;
inline constexpr uint32_t kNumberAsDouble = 4;
inline constexpr uint32_t kNumberExemplars = 5;
inline constexpr uint32_t kNumberAsInt = 6;
inline constexpr uint32_t kNumberAttributes = 7;
inline constexpr uint32_t kNumberFlags = 8;
inline constexpr uint32_t kHistogramTime = 3;
inline constexpr uint32_t kHistogramCount = 4;
inline constexpr uint32_t kHistogramSum = 5;
inline constexpr uint32_t kHistogramBucketCounts = 6;
inline constexpr uint32_t kHistogramExplicitBounds = 7;
inline constexpr uint32_t kHistogramExemplars = 8;
inline constexpr uint32_t kHistogramAttributes = 9;
inline constexpr uint32_t kHistogramFlags = 10;
inline constexpr uint32_t kExpHistogramAttributes = 1;
inline constexpr uint32_t kSummaryTime = 3;
inline constexpr uint32_t kSummaryCount = 4;
inline constexpr uint32_t kSummarySum = 5;
inline constexpr uint32_t kSummaryQuantileValues = 6;
inline constexpr uint32_t kSummaryAttributes = 7;
inline constexpr uint32_t kSummaryFlags = 8;
inline constexpr uint32_t kQuantileQuantile = 1;
inline constexpr uint32_t kQuantileValue = 2;

}  // namespace sluice::wire::otlp::field
