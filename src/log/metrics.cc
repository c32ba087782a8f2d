#include "log/metrics.h"

namespace sluice::log {

LogMetrics::LogMetrics(telemetry::Registry& r)
    : appended_batches(
          r.AddCounter("sluice_log_appended_batches_total", "Batches committed to the log.").Get()),
      appended_bytes(
          r.AddCounter("sluice_log_appended_bytes_total", "Frame bytes committed to the log.")
              .Get()),
      appended_records(r.AddCounter("sluice_log_appended_records_total",
                                    "Spans, points and log records committed to the log.")
                           .Get()),
      append_errors(
          r.AddCounter("sluice_log_append_errors_total", "Appends that failed with an I/O error.")
              .Get()),
      refused_full(r.AddCounter("sluice_log_refused_appends_total",
                                "Appends refused: writer queue full, or log at retention.max_bytes "
                                "under when_full: reject.")
                       .Get()),
      fsyncs(r.AddCounter("sluice_log_fsyncs_total", "fdatasync calls on log segments.").Get()),
      fsync_errors(r.AddCounter("sluice_log_fsync_errors_total",
                                "fdatasync calls on log segments that failed.")
                       .Get()),
      truncated_bytes(r.AddCounter("sluice_log_truncated_bytes_total",
                                   "Bytes of torn tail removed during recovery.")
                          .Get()),
      corrupt_bytes(r.AddCounter("sluice_log_corrupt_bytes_total",
                                 "Bytes of damaged frames stepped over (each range counted once).")
                        .Get()),
      deleted_segments(
          r.AddCounter("sluice_log_deleted_segments_total", "Segments deleted by retention.")
              .Get()),
      segments(r.AddGauge("sluice_log_segments", "Segment files on disk.").Get()),
      size_bytes(r.AddGauge("sluice_log_size_bytes", "Bytes in all segment files.").Get()),
      pending_bytes(
          r.AddGauge("sluice_log_pending_bytes", "Bytes queued for the writer thread.").Get()),
      retention_backlog_bytes(r.AddGauge("sluice_log_retention_backlog_bytes",
                                         "Bytes over the retention target still on disk.")
                                  .Get()),
      fsync_seconds(r.AddHistogram("sluice_log_fsync_seconds", "Duration of fdatasync calls.", {},
                                   telemetry::LatencyBuckets())
                        .Get()),
      evicted_records(r.AddCounter("sluice_log_evicted_records_total",
                                   "Records deleted by retention before an exporter read them.",
                                   {"exporter"})) {}

}  // namespace sluice::log
