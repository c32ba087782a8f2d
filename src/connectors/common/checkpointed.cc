#include "connectors/common/checkpointed.h"

#include <cstring>

#include "base/crc32c.h"
#include "base/logging.h"
#include "io/file_system.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sluice::connectors {
CheckpointedConnector::CheckpointedConnector(const pipeline::ComponentSettings& settings,
                                             pipeline::Runtime& rt, Options options,
                                             MakeAggregation make)
    : settings_(settings),
      rt_(rt),
      options_(std::move(options)),
      make_(std::move(make)),
      path_(io::JoinPath(io::JoinPath(rt.log->directory(), "connectors"), settings.id + ".state")),
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
      refused_tenant_spans_(
          rt.metrics
              .AddCounter("sluice_connector_refused_tenant_spans_total",
                          "Spans a connector did not aggregate because it already held "
                          "max_tenants tenants besides the default one.",
                          {"connector"})
              .With({settings.id})),
      series_(
          rt.metrics.AddGauge("sluice_connector_series", "Series a connector holds.", {"connector"})
              .With({settings.id})) {
  tenants_.emplace("", make_());
}

CheckpointedConnector::~CheckpointedConnector() = default;

Aggregation* CheckpointedConnector::For(std::string_view tenant) {
  auto it = tenants_.find(tenant);
  if (it != tenants_.end()) return it->second.get();
  if (tenants_.size() > options_.max_tenants) return nullptr;  // the default is not counted
  return tenants_.emplace(std::string(tenant), make_()).first->second.get();
}

void CheckpointedConnector::PublishSeries() {
  size_t n = 0;
  for (const auto& [tenant, aggregation] : tenants_) n += aggregation->Series();
  series_.Set(static_cast<int64_t>(n));
}

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
  if (!rt_.log->fs().Exists(path_)) return;
  Result<std::string> file = io::ReadSmallFile(rt_.log->fs(), path_);
  log::Position pos;
  int64_t start = 0;
  std::string_view state;
  std::vector<pipeline::TenantState> others;
  Status st = file.ok()
                  ? pipeline::DecodeCheckpoint(options_.magic, *file, &pos, &start, &state, &others)
                  : file.status();
  if (st.ok()) st = tenants_.at("")->Deserialize(state);
  for (const pipeline::TenantState& t : others) {
    if (!st.ok()) break;
    auto [it, inserted] = tenants_.emplace(std::string(t.tenant), make_());
    st = !inserted
             ? Status::Corruption("checkpoint names tenant \"" + std::string(t.tenant) + "\" twice")
             : it->second->Deserialize(t.state);
  }
  if (!st.ok()) {
    // The counters restart, with a new start time so backends see a reset.
    resets_.Inc();
    tenants_.clear();
    tenants_.emplace("", make_());
    logging::Error("connector", "checkpoint unreadable; counters start over",
                   {{"connector", settings_.id}, {"error", st.ToString()}});
    return;
  }
  start_time_ = start;
  resume_ = pos;
  PublishSeries();
}

Status CheckpointedConnector::Take(const log::LogReader::Batch& batch, const log::Position& start) {
  // Batches before the checkpoint's position are in its counts already.
  if (resume_ && log::Before(start, *resume_)) return Status::Ok();
  if (batch.header.encoding != log::Encoding::kOtlpProto ||
      batch.header.signal != log::Signal::kTraces) {
    return Status::Ok();
  }
  Aggregation* aggregation = For(batch.tenant);
  if (aggregation == nullptr) {
    refused_tenant_spans_.Inc(batch.header.item_count);
    return Status::Ok();
  }
  Status st = aggregation->Add(batch.payload, rt_.clock.NowUnixNanos());
  if (!st.ok()) {
    logging::Error("connector", "stored batch does not decode; skipped",
                   {{"connector", settings_.id}, {"error", st.ToString()}});
    return Status::Ok();
  }
  spans_.Inc(batch.header.item_count);
  PublishSeries();
  return Status::Ok();
}

Result<log::Position> CheckpointedConnector::Committable(const log::Position& read) {
  int64_t now = rt_.clock.NowUnixNanos();
  if (!loop_->Stopping() && now - last_flush_ < options_.flush_interval.count()) {
    return loop_->committed();  // the cursor moves only at a checkpoint
  }
  last_flush_ = now;
  for (auto it = tenants_.begin(); it != tenants_.end();) {
    it->second->Tick(now);
    if (!it->first.empty() && it->second->Idle()) {
      it = tenants_.erase(it);
    } else {
      ++it;
    }
  }
  PublishSeries();
  std::string state = tenants_.at("")->Serialize();
  std::vector<std::string> states;  // the views below point into these
  states.reserve(tenants_.size());
  std::vector<pipeline::TenantState> others;
  for (const auto& [tenant, aggregation] : tenants_) {
    if (tenant.empty()) continue;
    states.push_back(aggregation->Serialize());
    others.push_back({tenant, states.back()});
  }
  SLUICE_RETURN_IF_ERROR(rt_.log->fs().CreateDirs(io::DirName(path_)));
  SLUICE_RETURN_IF_ERROR(io::WriteFileAtomically(
      rt_.log->fs(), path_,
      pipeline::EncodeCheckpoint(options_.magic, read, start_time_, state, others)));
  resume_ = read;
  Emit(now);
  return read;
}

void CheckpointedConnector::Emit(int64_t now) {
  if (settings_.outputs.empty()) return;
  for (const auto& [tenant, aggregation] : tenants_) {
    receivers::Batch batch;
    batch.signal = log::Signal::kMetrics;
    batch.encoding = log::Encoding::kOtlpProto;
    batch.tenant = tenant;
    uint64_t points = 0;
    batch.payload = aggregation->Encode(start_time_, now, &points);
    if (batch.payload.empty()) continue;
    batch.items = points;
    batch.min_time_unix_nano = batch.max_time_unix_nano = now;
    if (!receivers::Store(rt_, settings_.outputs, ingest_, std::move(batch), [](Status) {})) {
      // Refused by the memory limiter: the next checkpoint exports the same
      // cumulative values and more.
      ingest_.Refused("memory_limit", points);
    }
  }
}

}  // namespace sluice::connectors
