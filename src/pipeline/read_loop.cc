#include "pipeline/read_loop.h"

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
                             "Records of its pipelines not yet delivered by an exporter.",
                             {"exporter"})
                      .With({exporter})),
      lag_bytes(r.AddGauge("sluice_exporter_lag_bytes",
                           "Log bytes not yet delivered by an exporter.", {"exporter"})
                    .With({exporter})),
      lag_seconds(r.AddGauge("sluice_exporter_lag_seconds",
                             "Age of the oldest batch an exporter has not delivered.", {"exporter"})
                      .With({exporter})) {}

void ExporterMetrics::SetLag(const log::Log& log, const log::Position& from,
                             const log::PipelineSet& pipelines, int64_t oldest_unread_append,
                             Clock& clock) {
  // Not end - from in records: that counts every pipeline's records, and an
  // exporter of a quiet pipeline beside a busy one would show the busy
  // one's traffic as its lag.
  if (Result<uint64_t> records = log.RecordsAfter(from, pipelines); records.ok()) {
    lag_records.Set(static_cast<double>(*records));
  }
  lag_bytes.Set(static_cast<double>(log.BytesBetween(from, log.End())));
  double seconds = 0;
  if (oldest_unread_append > 0) {
    seconds = static_cast<double>(clock.NowUnixNanos() - oldest_unread_append) / 1e9;
  }
  lag_seconds.Set(std::max(0.0, seconds));
}

ReadLoop::ReadLoop(Runtime& rt, Options options, LogSink& sink, ExporterMetrics& metrics)
    : rt_(rt),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : rt.clock),
      sink_(sink),
      metrics_(metrics) {}

ReadLoop::~ReadLoop() {
  Stop(std::chrono::steady_clock::now());
}

Status ReadLoop::Start() {
  for (uint32_t id : options_.pipeline_ids) {
    if (!pipelines_.Add(id)) {
      return Status::InvalidArgument(options_.name + " reads more than " +
                                     std::to_string(log::kMaxPipelinesPerFrame) + " pipelines");
    }
  }
  SLUICE_ASSIGN_OR_RETURN(read_, rt_.log->OpenCursor(options_.name, options_.start_at));
  committed_ = read_;
  thread_ = std::thread([this] {
    SetThreadName("read-" + options_.name);
    SetThreadBackground();
    Run();
  });
  return Status::Ok();
}

void ReadLoop::Stop(Deadline deadline) {
  if (!thread_.joinable()) return;
  drain_until_.store(deadline.time_since_epoch().count());
  stop_.store(true);
  thread_.join();
}

bool ReadLoop::PastDrain() const {
  return stop_.load() &&
         std::chrono::steady_clock::now().time_since_epoch().count() >= drain_until_.load();
}

void ReadLoop::Pause(std::chrono::milliseconds d) {
  const int64_t until = clock_.MonotonicNanos() + std::chrono::nanoseconds(d).count();
  // Short steps, so that a stop is not held up by a long backoff.
  constexpr int64_t kStep = std::chrono::nanoseconds(std::chrono::milliseconds(20)).count();
  for (int64_t now = clock_.MonotonicNanos(); !PastDrain() && now < until;
       now = clock_.MonotonicNanos()) {
    clock_.SleepFor(std::chrono::nanoseconds(std::min(kStep, until - now)));
  }
}

bool ReadLoop::Commit(log::LogReader* reader) {
  if (read_ == committed_) return true;  // nothing taken since
  Result<log::Position> pos = sink_.Committable(read_);
  if (!pos.ok()) {
    // What was taken since the last commit may not have reached the
    // destination (a failed flush): read it again from the commit.
    metrics_.send_failed.Inc();
    logging::Error("exporter", "cannot flush; delivering again from the last commit",
                   {{"exporter", options_.name}, {"error", pos.status().ToString()}});
    if (reader != nullptr) {
      read_ = committed_;
      reader->Seek(committed_);
    }
    return false;
  }
  if (*pos == committed_) return true;
  Status st = rt_.log->CommitCursor(options_.name, *pos);
  if (!st.ok()) {
    // Nothing is lost: the next commit tries again from the same state.
    metrics_.send_failed.Inc();
    logging::Error("exporter", "cannot commit cursor",
                   {{"exporter", options_.name}, {"error", st.ToString()}});
    return false;
  }
  committed_ = *pos;
  return true;
}

void ReadLoop::CommitAfterStop() {
  if (thread_.joinable()) return;  // still running: the loop commits itself
  Commit(nullptr);
  UpdateLag();
}

void ReadLoop::UpdateLag() {
  int64_t oldest = sink_.OldestPendingAppend();
  if (oldest == 0 && !caught_up_) oldest = last_read_append_;
  metrics_.SetLag(*rt_.log, options_.lag_from_read ? read_ : committed_, pipelines_, oldest,
                  clock_);
}

void ReadLoop::AwaitAppends(const log::LogReader& reader) {
  const log::Position at = reader.position();
  rt_.log->WaitForAppend(at, std::chrono::milliseconds(50), reader.pipelines());
  // The log is asked again rather than the wake-up trusted.
  if (!(rt_.log->End() == at)) clock_.SleepFor(options_.linger);
}

void ReadLoop::Run() {
  log::LogReader reader(*rt_.log, read_);
  reader.SetPipelines(pipelines_);
  std::chrono::milliseconds backoff = options_.initial_backoff;
  auto failed = [&] {
    Pause(backoff);
    backoff = std::min(backoff * 2, options_.max_backoff);
  };
  const int64_t commit_interval = std::chrono::nanoseconds(options_.commit_interval).count();
  int64_t last_commit = clock_.MonotonicNanos();
  auto maybe_commit = [&] {
    if (clock_.MonotonicNanos() - last_commit < commit_interval) return;
    bool ok = Commit(&reader);
    UpdateLag();
    last_commit = clock_.MonotonicNanos();
    if (!ok) failed();
  };
  int64_t last_warning = 0;
  while (!PastDrain()) {
    if (const log::Position covered = sink_.CoveredTo(reader.position());
        log::Before(reader.position(), covered)) {
      reader.Seek(covered);
      read_ = covered;
    }
    const log::Position start = reader.position();
    Result<log::LogReader::Batch> batch = reader.Next();
    if (!batch.ok()) {
      if (batch.status().code() == StatusCode::kEndOfStream) {
        read_ = reader.position();  // past other pipelines' batches too
        caught_up_ = true;
        sink_.CaughtUp();
        maybe_commit();
        if (stop_.load()) break;  // drained what the log holds
        AwaitAppends(reader);
        continue;
      }
      metrics_.read_errors.Inc();
      logging::Error("exporter", "cannot read the log",
                     {{"exporter", options_.name}, {"error", batch.status().ToString()}});
      failed();
      reader.Seek(read_);
      continue;
    }
    caught_up_ = false;
    last_read_append_ = batch->header.append_unix_nanos;
    bool taken = false;
    while (!taken && !PastDrain()) {
      Status st = sink_.Take(*batch, start);
      if (st.ok()) {
        taken = true;
        backoff = options_.initial_backoff;
        break;
      }
      metrics_.send_failed.Inc();
      // At most one line a second, however often it fails.
      int64_t now = clock_.MonotonicNanos();
      if (now - last_warning >= 1'000'000'000) {
        last_warning = now;
        logging::Warn("exporter", "delivery failed; retrying",
                      {{"exporter", options_.name},
                       {"error", st.ToString()},
                       {"retry_in_ms", static_cast<int64_t>(backoff.count())}});
      }
      failed();
    }
    // Not taken: the cursor stays before it.
    if (!taken) break;
    read_ = batch->next;
    maybe_commit();
  }
  sink_.Drain();
  if (const log::Position covered = sink_.CoveredTo(read_); log::Before(read_, covered)) {
    read_ = covered;
  }
  if (!Commit(nullptr)) {
    logging::Error("exporter", "cannot commit cursor at stop", {{"exporter", options_.name}});
  }
  UpdateLag();
}

LogConsumer::LogConsumer(Runtime& rt, Options options, DeliverFn deliver, FlushFn flush)
    : deliver_(std::move(deliver)),
      flush_(std::move(flush)),
      metrics_(rt.metrics, options.name),
      loop_(rt, std::move(options), *this, metrics_) {}

LogConsumer::~LogConsumer() {
  loop_.Stop(std::chrono::steady_clock::now());
}

Status LogConsumer::Take(const log::LogReader::Batch& batch, const log::Position&) {
  SLUICE_RETURN_IF_ERROR(deliver_(batch));
  metrics_.sent_batches.Inc();
  metrics_.sent_items.Inc(batch.header.item_count);
  return Status::Ok();
}

Result<log::Position> LogConsumer::Committable(const log::Position& read) {
  // Invariant: what the cursor covers is durable at the destination first.
  SLUICE_RETURN_IF_ERROR(flush_());
  return read;
}

}  // namespace sluice::pipeline
