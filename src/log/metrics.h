#pragma once

#include "telemetry/metrics.h"

namespace sluice::log {

// The log's self-metrics, shared by its parts.
struct LogMetrics {
  explicit LogMetrics(telemetry::Registry& r);
  telemetry::Counter& appended_batches;
  telemetry::Counter& appended_bytes;
  telemetry::Counter& appended_records;
  telemetry::Counter& append_errors;
  telemetry::Counter& refused_full;
  telemetry::Counter& fsyncs;
  telemetry::Counter& fsync_errors;
  telemetry::Counter& truncated_bytes;
  telemetry::Counter& corrupt_bytes;
  telemetry::Counter& deleted_segments;
  telemetry::Gauge& segments;
  telemetry::Gauge& size_bytes;
  telemetry::Gauge& pending_bytes;
  telemetry::Gauge& retention_backlog_bytes;
  telemetry::Histogram& fsync_seconds;
  telemetry::CounterFamily& evicted_records;
};

}  // namespace sluice::log
