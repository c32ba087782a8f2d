#include "exporters/prometheusremotewrite/batch_series.h"

#include <utility>

#include "base/logging.h"
#include "wire/compression.h"

namespace sluice::exporters::prw {

telemetry::Counter& DroppedPointsCounter(telemetry::Registry& registry,
                                         const std::string& exporter_id) {
  return registry
      .AddCounter("sluice_exporter_dropped_points_total",
                  "OTLP data points with no form in the destination's protocol (delta "
                  "temporality, exponential histograms).",
                  {"exporter"})
      .With({exporter_id});
}

MetricsBatchReader::MetricsBatchReader(std::unique_ptr<Translator> translator,
                                       BatchCounters counters, std::string exporter_id)
    : translator_(std::move(translator)),
      counters_(counters),
      exporter_id_(std::move(exporter_id)) {}

TranslateStats MetricsBatchReader::Read(const log::LogReader::Batch& batch, SeriesSink& sink,
                                        const PayloadFn& before) {
  TranslateStats stats;
  const uint64_t items = batch.header.item_count;
  const log::Encoding encoding = batch.header.encoding;
  const bool remote_write = encoding == log::Encoding::kPromRemoteWriteProto ||
                            encoding == log::Encoding::kPromRemoteWriteSnappy;
  if (batch.header.signal != log::Signal::kMetrics ||
      !(remote_write || encoding == log::Encoding::kOtlpProto)) {
    counters_.unsupported_items->Inc(items);
    return stats;
  }
  std::string_view payload = batch.payload;
  if (encoding == log::Encoding::kPromRemoteWriteSnappy) {
    Status d =
        wire::SnappyDecompressInto(batch.payload, log::kMaxPayloadSize, &decompressed_, &payload);
    if (!d.ok()) {
      counters_.unsupported_items->Inc(items);
      logging::Warn("exporter", "cannot decompress a metrics batch",
                    {{"exporter", exporter_id_}, {"error", d.ToString()}});
      return stats;
    }
  }
  const MetricsFormat format = remote_write ? MetricsFormat::kRemoteWrite : MetricsFormat::kOtlp;
  if (before) before(format, payload);
  Status st = format == MetricsFormat::kRemoteWrite
                  ? translator_->SplitWriteRequest(payload, sink, &stats)
                  : translator_->TranslateOtlpMetrics(payload, sink, &stats);
  wire::ReleaseLargeScratch(&decompressed_);  // the sink copied what it kept
  if (stats.dropped_points > 0) {
    counters_.dropped_points->Inc(stats.dropped_points);
    logging::Debug("exporter", "points without a series form dropped",
                   {{"exporter", exporter_id_},
                    {"points", static_cast<int64_t>(stats.dropped_points)},
                    {"first", stats.first_error}});
  }
  if (!st.ok()) {
    // The receiver validated the batch; this is a log written by another
    // version, or damage the checksum missed. Skip rather than wedge; what
    // reached the sink stays.
    counters_.unsupported_items->Inc(items > stats.samples ? items - stats.samples : 0);
    logging::Warn("exporter", "cannot decode a metrics batch",
                  {{"exporter", exporter_id_}, {"error", st.ToString()}});
  }
  return stats;
}

}  // namespace sluice::exporters::prw
