#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "exporters/prometheusremotewrite/translate.h"
#include "log/log.h"
#include "telemetry/metrics.h"

namespace sluice::exporters::prw {

// What the exporters that turn metrics batches into series count. Both
// point into the runtime's registry and outlive the reader.
struct BatchCounters {
  telemetry::Counter* unsupported_items;  // wrong signal or encoding, undecodable batches
  telemetry::Counter* dropped_points;     // OTLP points with no series form
};

// sluice_exporter_dropped_points_total{exporter="<id>"}: one name and help
// for every exporter that translates OTLP metrics into series.
telemetry::Counter& DroppedPointsCounter(telemetry::Registry& registry,
                                         const std::string& exporter_id);

// How a batch's series are read from its payload.
enum class MetricsFormat { kOtlp, kRemoteWrite };

// The one way a log batch of metrics becomes series, for every exporter
// that works on series (prometheusremotewrite, prometheus, postgresql): a
// remote write request (as received, snappy, or uncompressed) is split, an
// OTLP ExportMetricsServiceRequest translated, each series handed to the
// sink by the Translator.
//
// Counted, never sent: a batch of another signal or encoding, or one that
// does not decompress, whole in unsupported_items; a batch that fails to
// decode part-way, its items beyond the samples already handed over (those
// stay handed over); OTLP points with no series form in dropped_points.
// Each failure is logged once with the exporter's id.
//
// Not thread-safe: it belongs to the thread that reads the log (the
// Translator and the decompression buffer are reused between batches).
class MetricsBatchReader {
 public:
  // Called with a batch's uncompressed payload before any of its series
  // reach the sink; the payload is valid during the call.
  using PayloadFn = std::function<void(MetricsFormat, std::string_view payload)>;

  MetricsBatchReader(std::unique_ptr<Translator> translator, BatchCounters counters,
                     std::string exporter_id);

  // Hands every series of `batch` to `sink` (synchronously); `before`, when
  // set, sees the payload first. Returns the translation's statistics.
  TranslateStats Read(const log::LogReader::Batch& batch, SeriesSink& sink,
                      const PayloadFn& before = nullptr);

 private:
  std::unique_ptr<Translator> translator_;
  BatchCounters counters_;
  const std::string exporter_id_;
  // Snappy batches are decompressed here; kept between batches
  // (wire::ReleaseLargeScratch).
  std::string decompressed_;
};

}  // namespace sluice::exporters::prw
