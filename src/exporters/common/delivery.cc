#include "exporters/common/delivery.h"

#include <algorithm>

#include "base/logging.h"
#include "base/thread.h"
#include "exporters/common/tenant_encoder.h"

namespace sluice::exporters {

using pipeline::OutboundRequest;
using pipeline::SendResult;
using Clock = std::chrono::steady_clock;

const config::Schema<RetryOptions>& RetryOptionsSchema() {
  static const config::Schema<RetryOptions> schema = [] {
    config::Schema<RetryOptions> s("retry_on_failure");
    s.Bool("enabled", &RetryOptions::enabled,
           "Retry 429, 5xx, connection failures and timeouts; when off they go straight to the "
           "dead-letter queue.")
        .Duration("initial_interval", &RetryOptions::initial_interval,
                  "Cap of the first backoff; each later cap doubles.", {1e6L, 3600e9L})
        .Duration("max_interval", &RetryOptions::max_interval,
                  "Largest backoff cap; also the longest a server's Retry-After or RetryInfo is "
                  "obeyed for.",
                  {1e6L, 3600e9L})
        .Duration("max_elapsed_time", &RetryOptions::max_elapsed_time,
                  "Time since the first attempt after which a request is dead-lettered (0: never).",
                  {0, 7 * 24 * 3600e9L})
        .Check([](const RetryOptions& o) -> std::string {
          if (o.max_interval < o.initial_interval) {
            return "max_interval must not be below initial_interval";
          }
          return "";
        });
    return s;
  }();
  return schema;
}

const config::Schema<QueueOptions>& QueueOptionsSchema() {
  static const config::Schema<QueueOptions> schema = [] {
    config::Schema<QueueOptions> s("sending_queue");
    s.Int("num_consumers", &QueueOptions::num_consumers,
          "Requests sent at once, each on its own connection.", {1, 256})
        .Int("queue_size", &QueueOptions::queue_size,
             "Requests encoded ahead and waiting to be sent, across consumers.", {1, 100000})
        .Check([](const QueueOptions& o) -> std::string {
          if (o.queue_size < o.num_consumers) return "queue_size must be at least num_consumers";
          return "";
        });
    return s;
  }();
  return schema;
}

const config::Schema<DeadLetterOptions>& DeadLetterOptionsSchema() {
  static const config::Schema<DeadLetterOptions> schema = [] {
    config::Schema<DeadLetterOptions> s("dead_letter");
    s.Bytes("max_bytes", &DeadLetterOptions::max_bytes,
            "Disk kept for requests that could not be delivered; the oldest go first beyond it "
            "(0 keeps none).",
            {0, 1024.0L * 1024 * 1024 * 1024});
    return s;
  }();
  return schema;
}

DeliveryMetrics::DeliveryMetrics(telemetry::Registry& r, const std::string& exporter)
    : requests(r.AddCounter("sluice_exporter_requests_total",
                            "Requests an exporter's destination accepted.", {"exporter"})
                   .With({exporter})),
      retried_items(r.AddCounter("sluice_exporter_retried_items_total",
                                 "Items in requests sent again after a retryable failure.",
                                 {"exporter"})
                        .With({exporter})),
      dead_lettered_items(r.AddCounter("sluice_exporter_dead_lettered_items_total",
                                       "Items given up on and written to the dead-letter queue.",
                                       {"exporter"})
                              .With({exporter})),
      rejected_items(r.AddCounter("sluice_exporter_rejected_items_total",
                                  "Items the destination refused in a partial success.",
                                  {"exporter"})
                         .With({exporter})),
      dead_letter_errors(r.AddCounter("sluice_exporter_dead_letter_errors_total",
                                      "Failed writes to the dead-letter queue (retried).",
                                      {"exporter"})
                             .With({exporter})),
      in_flight(r.AddGauge("sluice_exporter_requests_in_flight",
                           "Requests being sent by an exporter.", {"exporter"})
                    .With({exporter})),
      duration(r.AddHistogram("sluice_exporter_request_duration_seconds",
                              "Time from sending a request to its answer.", {"exporter"},
                              telemetry::LatencyBuckets())
                   .With({exporter})) {}

DeliveryLoop::DeliveryLoop(pipeline::Runtime& rt, Options options,
                           std::unique_ptr<RequestEncoder> encoder, SenderFactory make_sender,
                           std::unique_ptr<DeadLetterQueue> dlq)
    : rt_(rt),
      options_(std::move(options)),
      encoder_(std::move(encoder)),
      make_sender_(std::move(make_sender)),
      dlq_(std::move(dlq)),
      metrics_(rt.metrics, options_.name),
      delivery_metrics_(rt.metrics, options_.name) {}

DeliveryLoop::~DeliveryLoop() {
  Stop(Clock::now());
}

Status DeliveryLoop::Start() {
  SLUICE_ASSIGN_OR_RETURN(position_, rt_.log.OpenCursor(options_.name));
  committed_ = position_;
  for (int64_t i = 0; i < options_.queue.num_consumers; ++i) {
    auto w = std::make_unique<Worker>();
    w->sender = make_sender_();
    workers_.push_back(std::move(w));
  }
  uint64_t seed = std::random_device{}();
  for (size_t i = 0; i < workers_.size(); ++i) {
    Worker* w = workers_[i].get();
    w->thread = std::thread([this, w, s = seed + i, i] {
      SetThreadName("send-" + std::to_string(i) + "-" + options_.name);
      SetThreadBackground();
      WorkerLoop(*w, s);
    });
  }
  reader_ = std::thread([this] {
    SetThreadName("read-" + options_.name);
    SetThreadBackground();
    ReadLoop();
  });
  return Status::Ok();
}

void DeliveryLoop::Stop(pipeline::Deadline deadline) {
  if (!reader_.joinable()) return;
  drain_until_.store(deadline.time_since_epoch().count());
  stop_.store(true);
  {
    std::lock_guard<std::mutex> lock(mu_);
    space_cv_.notify_all();
  }
  reader_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    abort_.store(true);
    work_cv_.notify_all();
    for (auto& w : workers_) w->cv.notify_all();
    space_cv_.notify_all();
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  Commit();
}

bool DeliveryLoop::PastDrain() const {
  return stop_.load() && Clock::now().time_since_epoch().count() >= drain_until_.load();
}

bool DeliveryLoop::Wanted(const log::BatchHeader& h) const {
  return pipeline::InPipelines(options_.pipeline_ids, h);
}

void DeliveryLoop::Dispatch(OutboundRequest&& request) {
  std::unique_lock<std::mutex> lock(mu_);
  // Bounded: the reader waits for room (a stop past its deadline gives up
  // waiting, leaving the request unsent and its batch uncommitted).
  while (outstanding_.size() >= static_cast<size_t>(options_.queue.queue_size) && !PastDrain()) {
    space_cv_.wait_for(lock, std::chrono::milliseconds(50));
  }
  if (outstanding_.size() >= static_cast<size_t>(options_.queue.queue_size)) {
    // Not queued: still hold the cursor before its batch.
    outstanding_.insert(request.first_record);
    return;
  }
  outstanding_.insert(request.first_record);
  Worker* target;
  if (request.shard >= 0) {
    target = workers_[static_cast<size_t>(request.shard) % workers_.size()].get();
  } else {
    // The least busy worker, starting after the last one picked.
    target = workers_[next_worker_ % workers_.size()].get();
    size_t best = target->queue.size() + (target->busy ? 1 : 0);
    for (size_t i = 1; i < workers_.size() && best > 0; ++i) {
      Worker* w = workers_[(next_worker_ + i) % workers_.size()].get();
      size_t load = w->queue.size() + (w->busy ? 1 : 0);
      if (load < best) {
        best = load;
        target = w;
      }
    }
    ++next_worker_;
  }
  target->queue.push_back(std::move(request));
  target->cv.notify_one();
}

void DeliveryLoop::Done(const OutboundRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = outstanding_.find(request.first_record);
  if (it != outstanding_.end()) outstanding_.erase(it);
  space_cv_.notify_all();
}

bool DeliveryLoop::SleepUnlessAborted(std::chrono::nanoseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !work_cv_.wait_for(lock, d, [&] { return abort_.load(); });
}

void DeliveryLoop::WorkerLoop(Worker& w, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (;;) {
    OutboundRequest request;
    {
      std::unique_lock<std::mutex> lock(mu_);
      w.cv.wait(lock, [&] { return abort_.load() || !w.queue.empty(); });
      if (abort_.load()) return;  // what is queued stays outstanding
      request = std::move(w.queue.front());
      w.queue.pop_front();
      w.busy = true;
    }
    bool finished = Deliver(w, request, rng);
    {
      std::lock_guard<std::mutex> lock(mu_);
      w.busy = false;
    }
    if (!finished) return;
    Done(request);
  }
}

bool DeliveryLoop::DeadLetter(const OutboundRequest& request, const std::string& reason) {
  delivery_metrics_.dead_lettered_items.Inc(request.items);
  logging::Error("exporter", "request dead-lettered",
                 {{"exporter", options_.name},
                  {"items", static_cast<int64_t>(request.items)},
                  {"reason", reason}});
  if (!dlq_) return true;
  // The request is only counted done once the queue holds it.
  std::chrono::milliseconds wait(100);
  for (;;) {
    Status st = dlq_->Put(request, reason, rt_.clock.NowUnixNanos());
    if (st.ok()) return true;
    delivery_metrics_.dead_letter_errors.Inc();
    logging::Error("exporter", "cannot write the dead-letter queue; retrying",
                   {{"exporter", options_.name}, {"error", st.ToString()}});
    if (!SleepUnlessAborted(wait)) return false;
    wait = std::min(wait * 2, std::chrono::milliseconds(10'000));
  }
}

bool DeliveryLoop::Deliver(Worker& w, OutboundRequest& request, std::mt19937_64& rng) {
  const auto first_attempt = Clock::now();
  const RetryOptions& retry = options_.retry;
  for (int attempt = 0;; ++attempt) {
    delivery_metrics_.in_flight.Add(1);
    auto t0 = Clock::now();
    SendResult result = w.sender->Send(request);
    delivery_metrics_.duration.Observe(std::chrono::duration<double>(Clock::now() - t0).count());
    delivery_metrics_.in_flight.Add(-1);

    if (result.ok()) {
      delivery_metrics_.requests.Inc();
      metrics_.sent_batches.Inc();
      metrics_.sent_items.Inc(request.items - std::min(request.items, result.rejected_items));
      if (result.rejected_items > 0) {
        delivery_metrics_.rejected_items.Inc(result.rejected_items);
        logging::Warn("exporter", "destination rejected part of a request",
                      {{"exporter", options_.name},
                       {"rejected", static_cast<int64_t>(result.rejected_items)},
                       {"reason", result.reason}});
      }
      return true;
    }
    metrics_.send_failed.Inc();
    if (result.kind == SendResult::Kind::kPermanent) return DeadLetter(request, result.reason);
    if (!retry.enabled) return DeadLetter(request, result.reason + " (retries disabled)");

    std::chrono::nanoseconds wait;
    if (result.retry_after.count() >= 0) {
      // Bounded like our own backoff: a server's hour-long (or mistaken)
      // Retry-After must not idle the request past max_interval, nor spend
      // max_elapsed_time in one wait and dead-letter it.
      wait = std::min<std::chrono::nanoseconds>(result.retry_after, retry.max_interval);
    } else {
      auto cap = retry.initial_interval;
      for (int i = 0; i < attempt && cap < retry.max_interval; ++i) cap *= 2;
      cap = std::min(cap, retry.max_interval);
      std::uniform_int_distribution<int64_t> jitter(0, cap.count());
      wait = std::chrono::nanoseconds(jitter(rng));
    }
    if (retry.max_elapsed_time.count() > 0 &&
        Clock::now() + wait - first_attempt > retry.max_elapsed_time) {
      return DeadLetter(request, result.reason + " (retries exhausted after " +
                                     std::to_string(attempt + 1) + " attempts)");
    }
    delivery_metrics_.retried_items.Inc(request.items);
    // At most one line a second per exporter, however many requests fail.
    int64_t now_ns = Clock::now().time_since_epoch().count();
    int64_t last = last_retry_log_ns_.load();
    if (now_ns - last >= 1'000'000'000 &&
        last_retry_log_ns_.compare_exchange_strong(last, now_ns)) {
      logging::Warn("exporter", "send failed; retrying",
                    {{"exporter", options_.name},
                     {"error", result.reason},
                     {"attempt", static_cast<int64_t>(attempt + 1)},
                     {"retry_in_ms", static_cast<int64_t>(wait.count() / 1'000'000)}});
    }
    if (!SleepUnlessAborted(wait)) return false;
  }
}

log::Position DeliveryLoop::Committable() {
  std::optional<uint64_t> oldest;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!outstanding_.empty()) oldest = *outstanding_.begin();
  }
  std::optional<uint64_t> held = encoder_->OldestHeld();
  if (held && (!oldest || *held < *oldest)) oldest = held;
  std::lock_guard<std::mutex> lock(positions_mu_);
  if (!oldest) {
    starts_.clear();
    return position_;
  }
  starts_.erase(starts_.begin(), starts_.lower_bound(*oldest));
  auto it = starts_.find(*oldest);
  // Invariant: every outstanding record was registered before it was encoded.
  return it != starts_.end() ? it->second.position : committed_;
}

void DeliveryLoop::Commit() {
  log::Position pos = Committable();
  if (pos == committed_) return;
  Status st = rt_.log.CommitCursor(options_.name, pos);
  if (!st.ok()) {
    logging::Error("exporter", "cannot commit cursor",
                   {{"exporter", options_.name}, {"error", st.ToString()}});
    return;
  }
  committed_ = pos;
}

void DeliveryLoop::UpdateLag() {
  int64_t oldest_append = 0;
  {
    std::lock_guard<std::mutex> lock(positions_mu_);
    if (!starts_.empty()) oldest_append = starts_.begin()->second.append_unix_nanos;
  }
  metrics_.SetLag(rt_.log, committed_, oldest_append, rt_.clock);
}

void DeliveryLoop::ReadLoop() {
  log::LogReader reader(rt_.log, position_);
  // Other pipelines' batches are stepped over without reading their payload.
  reader.SetFilter([this](const log::BatchHeader& h) { return Wanted(h); });
  auto backoff = std::chrono::milliseconds(100);
  auto last_commit = Clock::now();
  EmitFn emit = [this](OutboundRequest&& r) { Dispatch(std::move(r)); };
  auto maybe_commit = [&] {
    if (Clock::now() - last_commit >= options_.commit_interval) {
      Commit();
      UpdateLag();
      last_commit = Clock::now();
    }
  };
  while (!PastDrain()) {
    log::Position start = reader.position();
    Result<log::LogReader::Batch> batch = reader.Next();
    if (!batch.ok()) {
      if (batch.status().code() == StatusCode::kEndOfStream) {
        {
          // Past any batches of other pipelines the reader stepped over.
          std::lock_guard<std::mutex> lock(positions_mu_);
          position_ = reader.position();
        }
        // Caught up: send what is open rather than wait for more.
        encoder_->Flush(emit);
        maybe_commit();
        if (stop_.load()) break;
        pipeline::AwaitAppends(rt_.log, options_.linger);
        continue;
      }
      metrics_.read_errors.Inc();
      logging::Error("exporter", "cannot read the log",
                     {{"exporter", options_.name}, {"error", batch.status().ToString()}});
      auto until = Clock::now() + backoff;
      while (!PastDrain() && Clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      backoff = std::min(backoff * 2, std::chrono::milliseconds(30'000));
      reader.Seek(position_);
      continue;
    }
    backoff = std::chrono::milliseconds(100);
    if (Wanted(batch->header)) {
      {
        std::lock_guard<std::mutex> lock(positions_mu_);
        starts_.try_emplace(start.record_offset,
                            BatchStart{start, batch->header.append_unix_nanos});
      }
      encoder_->Add(*batch, start.record_offset, emit);
    }
    {
      std::lock_guard<std::mutex> lock(positions_mu_);
      position_ = batch->next;
    }
    maybe_commit();
  }
  // Stopping: wait (until the deadline) for the workers to finish.
  std::unique_lock<std::mutex> lock(mu_);
  while (!outstanding_.empty() && !PastDrain()) {
    space_cv_.wait_for(lock, std::chrono::milliseconds(50));
  }
}

RequestExporter::RequestExporter(const pipeline::ComponentSettings& settings, pipeline::Runtime& rt,
                                 RetryOptions retry, QueueOptions queue,
                                 DeadLetterOptions dead_letter, EncoderFactory make_encoder,
                                 DeliveryLoop::SenderFactory make_sender)
    : settings_(settings),
      rt_(rt),
      retry_(retry),
      queue_(queue),
      dead_letter_(dead_letter),
      make_encoder_(std::move(make_encoder)),
      make_sender_(std::move(make_sender)) {}

Status RequestExporter::Start() {
  std::unique_ptr<DeadLetterQueue> dlq;
  if (dead_letter_.max_bytes > 0) {
    SLUICE_ASSIGN_OR_RETURN(
        dlq, DeadLetterQueue::Open(rt_.log.fs(),
                                   DeadLetterQueue::DirectoryFor(rt_.log.directory(), settings_.id),
                                   settings_.id, dead_letter_.max_bytes, &rt_.metrics));
  }
  DeliveryLoop::Options o;
  o.name = settings_.id;
  for (const auto& p : settings_.pipelines) o.pipeline_ids.push_back(p.id);
  o.retry = retry_;
  o.queue = queue_;
  auto& unsupported = rt_.metrics
                          .AddCounter("sluice_exporter_unsupported_items_total",
                                      "Items skipped because the exporter cannot send their "
                                      "encoding or could not decode them.",
                                      {"exporter"})
                          .With({settings_.id});
  // Requests never mix tenants; a few tenants may fill requests at once.
  constexpr size_t kMaxOpenTenants = 8;
  auto encoder = std::make_unique<TenantSplitEncoder>(
      [this, &unsupported] { return make_encoder_(unsupported); }, kMaxOpenTenants);
  loop_ = std::make_unique<DeliveryLoop>(rt_, o, std::move(encoder), make_sender_, std::move(dlq));
  return loop_->Start();
}

void RequestExporter::Stop(pipeline::Deadline deadline) {
  if (loop_) loop_->Stop(deadline);
}

}  // namespace sluice::exporters
