#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
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
  // Whether it holds nothing at all (no series, nothing waiting), so a
  // tenant's aggregation can be let go.
  virtual bool Idle() const = 0;
};

// A connector whose aggregation is checkpointed with its position in the
// log (docs/connectors.md): it reads its traces pipelines through a
// ReadLoop, and every `flush_interval` (and at stop) writes
// `<storage>/connectors/<id>.state` with the position just past what it
// counted, appends the metrics of exactly that state to its output
// pipelines, and only then lets its cursor move there. Batches before the
// checkpoint's position are skipped after a restart, so each span counts
// once.
//
// Tenants are kept apart: each tenant's spans go to an aggregation of its
// own, whose metrics are appended with that tenant (the query layer's
// rollups and every exporter see them as the tenant's). At most
// `max_tenants` tenants besides the default one are held; spans of further
// tenants are counted in sluice_connector_refused_tenant_spans_total and not
// aggregated. A tenant's aggregation that holds nothing at a checkpoint is
// let go.
class CheckpointedConnector final : public pipeline::Exporter, private pipeline::LogSink {
 public:
  struct Options {
    std::chrono::nanoseconds flush_interval = std::chrono::seconds(60);
    log::StartAt start_at = log::StartAt::kOldest;
    // Four bytes naming the aggregation in its checkpoint ("SLSM").
    std::string magic;
    size_t max_tenants = 100;
  };
  using MakeAggregation = std::function<std::unique_ptr<Aggregation>()>;

  CheckpointedConnector(const pipeline::ComponentSettings& settings, pipeline::Runtime& rt,
                        Options options, MakeAggregation make);
  ~CheckpointedConnector() override;

  Status Start() override;
  void Stop(pipeline::Deadline deadline) override;

 private:
  void LoadCheckpoint();
  Status Take(const log::LogReader::Batch& batch, const log::Position& start) override;
  Result<log::Position> Committable(const log::Position& read) override;
  void Emit(int64_t now);
  // The aggregation of a batch's tenant ("" is the default), made on first
  // use; null past max_tenants.
  Aggregation* For(std::string_view tenant);
  void PublishSeries();

  const pipeline::ComponentSettings settings_;
  pipeline::Runtime& rt_;
  const Options options_;
  const MakeAggregation make_;
  std::map<std::string, std::unique_ptr<Aggregation>, std::less<>> tenants_;  // by tenant
  const std::string path_;
  pipeline::ExporterMetrics metrics_;
  receivers::IngestCounters ingest_;
  telemetry::Counter& spans_;
  telemetry::Counter& resets_;
  telemetry::Counter& refused_tenant_spans_;
  telemetry::Gauge& series_;
  std::unique_ptr<pipeline::ReadLoop> loop_;
  int64_t start_time_ = 0;
  int64_t last_flush_ = 0;
  std::optional<log::Position> resume_;
};

}  // namespace sluice::connectors
