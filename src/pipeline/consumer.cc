#include "pipeline/consumer.h"

#include <algorithm>

#include "base/logging.h"
#include "base/thread.h"

namespace sluice::pipeline {

ExporterMetrics::ExporterMetrics(telemetry::Registry& r, const std::string& exporter)
    : sent_batches(r.AddCounter("sluice_exporter_sent_batches_total",
                                "Batches delivered by an exporter.", {"exporter"})
                       .With({exporter})),
      sent_items(r.AddCounter("sluice_exporter_sent_items_total",
                              "Spans, points or log records delivered by an exporter.",
                              {"exporter"})
                     .With({exporter})),
      send_failed(r.AddCounter("sluice_exporter_send_failed_total",
                               "Delivery attempts that failed and will be retried.", {"exporter"})
                      .With({exporter})),
      read_errors(r.AddCounter("sluice_exporter_read_errors_total",
                               "Errors reading the log for an exporter.", {"exporter"})
                      .With({exporter})),
      lag_records(r.AddGauge("sluice_exporter_lag_records",
                             "Records in the log not yet delivered by an exporter.", {"exporter"})
                      .With({exporter})),
      lag_bytes(r.AddGauge("sluice_exporter_lag_bytes",
                           "Log bytes not yet delivered by an exporter.", {"exporter"})
                    .With({exporter})),
      lag_seconds(r.AddGauge("sluice_exporter_lag_seconds",
                             "Age of the oldest batch an exporter has not delivered.", {"exporter"})
                      .With({exporter})) {}

LogConsumer::LogConsumer(Runtime& rt, Options options, DeliverFn deliver, FlushFn flush)
    : rt_(rt),
      options_(std::move(options)),
      deliver_(std::move(deliver)),
      flush_(std::move(flush)),
      metrics_(rt.metrics, options_.name) {}

LogConsumer::~LogConsumer() {
  Stop(std::chrono::steady_clock::now());
}

Status LogConsumer::Start() {
  SLUICE_ASSIGN_OR_RETURN(position_, rt_.log.OpenCursor(options_.name));
  committed_ = position_;
  thread_ = std::thread([this] {
    SetThreadName("exp-" + options_.name);
    SetThreadBackground();
    Run();
  });
  return Status::Ok();
}

void LogConsumer::Stop(Deadline deadline) {
  if (!thread_.joinable()) return;
  drain_until_.store(deadline.time_since_epoch().count());
  stop_.store(true);
  thread_.join();
}

bool LogConsumer::Wanted(const log::BatchHeader& h) const {
  return InPipelines(options_.pipeline_ids, h);
}

Status LogConsumer::Commit(const log::Position& pos) {
  if (pos == committed_) return Status::Ok();
  // Invariant: what the cursor covers is durable at the destination first.
  SLUICE_RETURN_IF_ERROR(flush_());
  SLUICE_RETURN_IF_ERROR(rt_.log.CommitCursor(options_.name, pos));
  committed_ = pos;
  return Status::Ok();
}

bool LogConsumer::CommitOrRewind(log::LogReader& reader) {
  Status st = Commit(position_);
  if (st.ok()) return true;
  // What was handed to deliver since the last commit may not have reached
  // the destination (a failed flush): read it again from the commit.
  metrics_.send_failed.Inc();
  logging::Error("exporter", "cannot flush or commit; delivering again from the last commit",
                 {{"exporter", options_.name}, {"error", st.ToString()}});
  position_ = committed_;
  reader.Seek(committed_);
  return false;
}

void ExporterMetrics::SetLag(const log::Log& log, const log::Position& from,
                             int64_t oldest_unread_append, Clock& clock) {
  log::Position end = log.End();
  lag_records.Set(end.record_offset > from.record_offset
                      ? static_cast<double>(end.record_offset - from.record_offset)
                      : 0);
  lag_bytes.Set(static_cast<double>(log.BytesBetween(from, end)));
  double seconds = 0;
  if (oldest_unread_append > 0) {
    seconds = static_cast<double>(clock.NowUnixNanos() - oldest_unread_append) / 1e9;
  }
  lag_seconds.Set(std::max(0.0, seconds));
}

bool InPipelines(const std::vector<uint32_t>& pipeline_ids, const log::BatchHeader& h) {
  return std::find(pipeline_ids.begin(), pipeline_ids.end(), h.pipeline_id) != pipeline_ids.end();
}

void AwaitAppends(const log::Log& log, std::chrono::milliseconds linger) {
  log::Position end = log.End();
  log.WaitForAppend(end, std::chrono::milliseconds(50));
  // The end is checked again rather than the wake-up trusted.
  if (!(log.End() == end)) std::this_thread::sleep_for(linger);
}

void LogConsumer::UpdateLag(int64_t oldest_unread_append) {
  metrics_.SetLag(rt_.log, position_, oldest_unread_append, rt_.clock);
}

void LogConsumer::Run() {
  log::LogReader reader(rt_.log, position_);
  // Other pipelines' batches are stepped over without reading their payload.
  reader.SetFilter([this](const log::BatchHeader& h) { return Wanted(h); });
  auto backoff = std::chrono::milliseconds(100);
  auto last_commit = std::chrono::steady_clock::now();
  auto past_drain = [&] {
    return stop_.load() &&
           std::chrono::steady_clock::now().time_since_epoch().count() >= drain_until_.load();
  };
  // Sleeps in short steps so a stop is not held up by a long backoff.
  auto pause = [&](std::chrono::milliseconds d) {
    auto until = std::chrono::steady_clock::now() + d;
    while (!past_drain() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };
  while (!past_drain()) {
    Result<log::LogReader::Batch> batch = reader.Next();
    if (!batch.ok()) {
      if (batch.status().code() == StatusCode::kEndOfStream) {
        position_ = reader.position();  // past batches of other pipelines
        UpdateLag(0);
        if (stop_.load()) break;  // drained
        if (std::chrono::steady_clock::now() - last_commit >= options_.commit_interval) {
          if (!CommitOrRewind(reader)) {
            pause(backoff);
            backoff = std::min(backoff * 2, std::chrono::milliseconds(30'000));
          }
          last_commit = std::chrono::steady_clock::now();
        }
        AwaitAppends(rt_.log, options_.linger);
        continue;
      }
      metrics_.read_errors.Inc();
      logging::Error("exporter", "cannot read the log",
                     {{"exporter", options_.name}, {"error", batch.status().ToString()}});
      pause(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(30'000));
      reader.Seek(position_);
      continue;
    }
    UpdateLag(batch->header.append_unix_nanos);
    if (Wanted(batch->header)) {
      bool delivered = false;
      while (!delivered) {
        Status st = deliver_(*batch);
        if (st.ok()) {
          delivered = true;
          metrics_.sent_batches.Inc();
          metrics_.sent_items.Inc(batch->header.item_count);
          backoff = std::chrono::milliseconds(100);
          continue;
        }
        metrics_.send_failed.Inc();
        logging::Warn("exporter", "delivery failed; retrying",
                      {{"exporter", options_.name},
                       {"error", st.ToString()},
                       {"retry_in_ms", static_cast<int64_t>(backoff.count())}});
        pause(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(30'000));
        if (past_drain()) break;
      }
      // The batch in hand was not delivered: leave the cursor before it.
      if (!delivered) break;
    }
    position_ = batch->next;
    if (std::chrono::steady_clock::now() - last_commit >= options_.commit_interval) {
      if (!CommitOrRewind(reader)) {
        pause(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(30'000));
      }
      last_commit = std::chrono::steady_clock::now();
    }
  }
  Status st = Commit(position_);
  if (!st.ok()) {
    logging::Error("exporter", "cannot commit cursor at stop",
                   {{"exporter", options_.name}, {"error", st.ToString()}});
  }
}

}  // namespace sluice::pipeline
