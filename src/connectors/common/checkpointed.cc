#include "connectors/common/checkpointed.h"

#include <cstring>

#include "base/logging.h"
#include "io/crc32c.h"
#include "io/file_system.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sluice::connectors {
CheckpointedConnector::CheckpointedConnector(const pipeline::ComponentSettings& settings,
                                             pipeline::Runtime& rt, Options options,
                                             std::unique_ptr<Aggregation> aggregation)
    : settings_(settings),
      rt_(rt),
      options_(std::move(options)),
      aggregation_(std::move(aggregation)),
      path_(io::JoinPath(io::JoinPath(rt.log.directory(), "connectors"), settings.id + ".state")),
      metrics_(rt.metrics, settings.id),
      ingest_(rt.metrics, settings.id, "metric_points"),
      spans_(rt.metrics
                 .AddCounter("sluice_connector_spans_total",
                             "Spans a connector aggregated (each once, across restarts).",
                             {"connector"})
                 .With({settings.id})),
      resets_(rt.metrics
                  .AddCounter("sluice_connector_state_resets_total",
                              "Checkpoints a connector could not read and started over from "
                              "(its counters restart with a new start time).",
                              {"connector"})
                  .With({settings.id})),
      series_(
          rt.metrics.AddGauge("sluice_connector_series", "Series a connector holds.", {"connector"})
              .With({settings.id})) {}

CheckpointedConnector::~CheckpointedConnector() = default;

Status CheckpointedConnector::Start() {
  LoadCheckpoint();
  pipeline::ReadLoop::Options o;
  o.name = settings_.id;
  for (const auto& p : settings_.pipelines) o.pipeline_ids.push_back(p.id);
  o.start_at = options_.start_at;
  pipeline::LogSink& sink = *this;
  loop_ = std::make_unique<pipeline::ReadLoop>(rt_, o, sink, metrics_);
  last_flush_ = rt_.clock.NowUnixNanos();
  return loop_->Start();
}

void CheckpointedConnector::Stop(pipeline::Deadline deadline) {
  if (loop_) loop_->Stop(deadline);
}

void CheckpointedConnector::LoadCheckpoint() {
  start_time_ = rt_.clock.NowUnixNanos();
  if (!rt_.log.fs().Exists(path_)) return;
  Result<std::string> file = io::ReadSmallFile(rt_.log.fs(), path_);
  log::Position pos;
  int64_t start = 0;
  std::string_view state;
  Status st = file.ok() ? pipeline::DecodeCheckpoint(options_.magic, *file, &pos, &start, &state)
                        : file.status();
  if (st.ok()) st = aggregation_->Deserialize(state);
  if (!st.ok()) {
    // The counters restart, with a new start time so backends see a reset.
    resets_.Inc();
    aggregation_->Deserialize("").IgnoreError();
    logging::Error("connector", "checkpoint unreadable; counters start over",
                   {{"connector", settings_.id}, {"error", st.ToString()}});
    return;
  }
  start_time_ = start;
  resume_ = pos;
  series_.Set(static_cast<int64_t>(aggregation_->Series()));
}

Status CheckpointedConnector::Take(const log::LogReader::Batch& batch, const log::Position& start) {
  // Batches before the checkpoint's position are in its counts already.
  if (resume_ && log::Before(start, *resume_)) return Status::Ok();
  if (batch.header.encoding != log::Encoding::kOtlpProto ||
      batch.header.signal != log::Signal::kTraces) {
    return Status::Ok();
  }
  Status st = aggregation_->Add(batch.payload, rt_.clock.NowUnixNanos());
  if (!st.ok()) {
    logging::Error("connector", "stored batch does not decode; skipped",
                   {{"connector", settings_.id}, {"error", st.ToString()}});
    return Status::Ok();
  }
  spans_.Inc(batch.header.item_count);
  series_.Set(static_cast<int64_t>(aggregation_->Series()));
  return Status::Ok();
}

Result<log::Position> CheckpointedConnector::Committable(const log::Position& read) {
  int64_t now = rt_.clock.NowUnixNanos();
  if (!loop_->Stopping() && now - last_flush_ < options_.flush_interval.count()) {
    return loop_->committed();  // the cursor moves only at a checkpoint
  }
  last_flush_ = now;
  aggregation_->Tick(now);
  series_.Set(static_cast<int64_t>(aggregation_->Series()));
  SLUICE_RETURN_IF_ERROR(rt_.log.fs().CreateDirs(io::DirName(path_)));
  SLUICE_RETURN_IF_ERROR(io::WriteFileAtomically(
      rt_.log.fs(), path_,
      pipeline::EncodeCheckpoint(options_.magic, read, start_time_, aggregation_->Serialize())));
  resume_ = read;
  Emit(now);
  return read;
}

void CheckpointedConnector::Emit(int64_t now) {
  if (settings_.outputs.empty()) return;
  receivers::Batch batch;
  batch.signal = log::Signal::kMetrics;
  batch.encoding = log::Encoding::kOtlpProto;
  uint64_t points = 0;
  batch.payload = aggregation_->Encode(start_time_, now, &points);
  if (batch.payload.empty()) return;
  batch.items = points;
  batch.min_time_unix_nano = batch.max_time_unix_nano = now;
  if (!receivers::Store(rt_, settings_.outputs, ingest_, std::move(batch), [](Status) {})) {
    // Refused by the memory limiter: the next checkpoint exports the same
    // cumulative values and more.
    ingest_.Refused("memory_limit", points);
  }
}

}  // namespace sluice::connectors
