#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "log/cursors.h"
#include "pipeline/checkpoint.h"
#include "pipeline/component.h"
#include "pipeline/read_loop.h"
#include "receivers/common/ingest.h"

namespace sluice::connectors {

// What a checkpointed connector aggregates from spans. Called from the
// connector's read-loop thread only.
class Aggregation {
 public:
  virtual ~Aggregation() = default;
  // Adds the spans of one stored OTLP traces request; `now` is wall time.
  // An error (a batch that does not decode) skips the batch.
  virtual Status Add(std::string_view request, int64_t now_unix_nano) = 0;
  // Before each checkpoint: expires what is due at `now`.
  virtual void Tick(int64_t now_unix_nano) = 0;
  // The state, in a form Deserialize reads back (Corruption when it cannot).
  virtual std::string Serialize() const = 0;
  virtual Status Deserialize(std::string_view bytes) = 0;
  // An OTLP ExportMetricsServiceRequest of the cumulative metrics (started
  // at `start`), and its data point count; "" when there is nothing yet.
  virtual std::string Encode(int64_t start_unix_nano, int64_t now_unix_nano,
                             uint64_t* points) const = 0;
  // Series held, for the sluice_connector_series gauge.
  virtual size_t Series() const = 0;
};

// A connector whose aggregation is checkpointed with its position in the
// log (docs/connectors.md): it reads its traces pipelines through a
// ReadLoop, and every `flush_interval` (and at stop) writes
// `<storage>/connectors/<id>.state` with the position just past what it
// counted, appends the metrics of exactly that state to its output
// pipelines, and only then lets its cursor move there. Batches before the
// checkpoint's position are skipped after a restart, so each span counts
// once.
class CheckpointedConnector final : public pipeline::Exporter, private pipeline::LogSink {
 public:
  struct Options {
    std::chrono::nanoseconds flush_interval = std::chrono::seconds(60);
    log::StartAt start_at = log::StartAt::kOldest;
    // Four bytes naming the aggregation in its checkpoint ("SLSM").
    std::string magic;
  };

  CheckpointedConnector(const pipeline::ComponentSettings& settings, pipeline::Runtime& rt,
                        Options options, std::unique_ptr<Aggregation> aggregation);
  ~CheckpointedConnector() override;

  Status Start() override;
  void Stop(pipeline::Deadline deadline) override;

 private:
  void LoadCheckpoint();
  Status Take(const log::LogReader::Batch& batch, const log::Position& start) override;
  Result<log::Position> Committable(const log::Position& read) override;
  void Emit(int64_t now);

  const pipeline::ComponentSettings settings_;
  pipeline::Runtime& rt_;
  const Options options_;
  std::unique_ptr<Aggregation> aggregation_;
  const std::string path_;
  pipeline::ExporterMetrics metrics_;
  receivers::IngestCounters ingest_;
  telemetry::Counter& spans_;
  telemetry::Counter& resets_;
  telemetry::Gauge& series_;
  std::unique_ptr<pipeline::ReadLoop> loop_;
  int64_t start_time_ = 0;
  int64_t last_flush_ = 0;
  std::optional<log::Position> resume_;
};

}  // namespace sluice::connectors
