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

const std::vector<std::pair<std::string, log::StartAt>>& StartAtChoices() {
  static const std::vector<std::pair<std::string, log::StartAt>> choices = {
      {"oldest", log::StartAt::kOldest}, {"newest", log::StartAt::kNewest}};
  return choices;
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
      metrics_(rt.metrics, options_.read.name),
      delivery_metrics_(rt.metrics, options_.read.name),
      emit_([this](OutboundRequest&& r) { Dispatch(std::move(r)); }),
      base_(Counted()) {
  if (!options_.fed) {
    pipeline::LogSink& sink = *this;  // a private base: converted here, in the class
    read_loop_ = std::make_unique<pipeline::ReadLoop>(rt, options_.read, sink, metrics_);
  }
}

DeliveryLoop::~DeliveryLoop() {
  Stop(Clock::now());
}

Status DeliveryLoop::Start() {
  for (int64_t i = 0; i < options_.queue.num_consumers; ++i) {
    auto w = std::make_unique<Worker>();
    w->sender = make_sender_();
    workers_.push_back(std::move(w));
  }
  uint64_t seed = std::random_device{}();
  for (size_t i = 0; i < workers_.size(); ++i) {
    Worker* w = workers_[i].get();
    w->thread = std::thread([this, w, s = seed + i, i] {
      SetThreadName("send-" + std::to_string(i) + "-" + options_.read.name);
      SetThreadBackground();
      WorkerLoop(*w, s);
    });
  }
  return read_loop_ ? read_loop_->Start() : Status::Ok();
}

void DeliveryLoop::Stop(pipeline::Deadline deadline) {
  if (workers_.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    space_cv_.notify_all();
  }
  if (read_loop_) read_loop_->Stop(deadline);
  fed_past_drain_.store(true);
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
  workers_.clear();
  // Requests the workers finished after the read loop's last commit.
  if (read_loop_) read_loop_->CommitAfterStop();
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
                 {{"exporter", options_.read.name},
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
                   {{"exporter", options_.read.name}, {"error", st.ToString()}});
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
      sent_bytes_.fetch_add(request.body.size(), std::memory_order_relaxed);
      if (result.rejected_items > 0) {
        delivery_metrics_.rejected_items.Inc(result.rejected_items);
        logging::Warn("exporter", "destination rejected part of a request",
                      {{"exporter", options_.read.name},
                       {"rejected", static_cast<int64_t>(result.rejected_items)},
                       {"reason", result.reason}});
      }
      return true;
    }
    metrics_.send_failed.Inc();
    if (result.kind == SendResult::Kind::kPermanent && options_.stop_on &&
        options_.stop_on(result)) {
      // The request stays outstanding: a checkpoint never passes it.
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_reason_.empty()) stop_reason_ = result.reason;
      fed_past_drain_.store(true);
      abort_.store(true);
      work_cv_.notify_all();
      for (auto& other : workers_) other->cv.notify_all();
      space_cv_.notify_all();
      return false;
    }
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
                    {{"exporter", options_.read.name},
                     {"error", result.reason},
                     {"attempt", static_cast<int64_t>(attempt + 1)},
                     {"retry_in_ms", static_cast<int64_t>(wait.count() / 1'000'000)}});
    }
    if (!SleepUnlessAborted(wait)) return false;
  }
}

Status DeliveryLoop::Take(const log::LogReader::Batch& batch, const log::Position& start) {
  {
    std::lock_guard<std::mutex> lock(positions_mu_);
    starts_.try_emplace(start.record_offset, BatchStart{start, batch.header.append_unix_nanos});
  }
  encoder_->Add(batch, start.record_offset, emit_);
  return Status::Ok();
}

void DeliveryLoop::CaughtUp() {
  // Send what is open rather than wait for more.
  encoder_->Flush(emit_);
}

Result<log::Position> DeliveryLoop::Committable(const log::Position& read) {
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
    return read;
  }
  starts_.erase(starts_.begin(), starts_.lower_bound(*oldest));
  auto it = starts_.find(*oldest);
  // Invariant: every outstanding record was registered before it was encoded.
  if (it != starts_.end()) return it->second.position;
  return read_loop_ ? read_loop_->committed() : fed_checkpoint_;
}

Status DeliveryLoop::Feed(const log::LogReader::Batch& batch, const log::Position& start) {
  if (abort_.load()) {
    std::lock_guard<std::mutex> lock(mu_);
    return Status::FailedPrecondition(stop_reason_.empty() ? "stopped" : stop_reason_);
  }
  Status st = Take(batch, start);
  if (abort_.load()) {
    std::lock_guard<std::mutex> lock(mu_);
    return Status::FailedPrecondition(stop_reason_.empty() ? "stopped" : stop_reason_);
  }
  return st;
}

log::Position DeliveryLoop::Checkpoint(const log::Position& read) {
  Result<log::Position> p = Committable(read);
  if (p.ok()) fed_checkpoint_ = *p;
  return fed_checkpoint_;
}

bool DeliveryLoop::DrainFed(pipeline::Deadline deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!outstanding_.empty() && !abort_.load() && Clock::now() < deadline) {
    space_cv_.wait_for(lock, std::chrono::milliseconds(50));
  }
  return outstanding_.empty();
}

pipeline::FeedProgress DeliveryLoop::Counted() const {
  pipeline::FeedProgress p;
  p.requests = delivery_metrics_.requests.Value();
  p.sent_items = metrics_.sent_items.Value();
  p.sent_bytes = sent_bytes_.load(std::memory_order_relaxed);
  p.retried_items = delivery_metrics_.retried_items.Value();
  p.dead_lettered_items = delivery_metrics_.dead_lettered_items.Value();
  p.rejected_items = delivery_metrics_.rejected_items.Value();
  return p;
}

pipeline::FeedProgress DeliveryLoop::Progress() const {
  // The counters are the registry's, shared with earlier loops of the same
  // name: this loop's part is what they gained since it began.
  pipeline::FeedProgress p = Counted();
  p.requests -= base_.requests;
  p.sent_items -= base_.sent_items;
  p.sent_bytes -= base_.sent_bytes;
  p.retried_items -= base_.retried_items;
  p.dead_lettered_items -= base_.dead_lettered_items;
  p.rejected_items -= base_.rejected_items;
  return p;
}

void DeliveryLoop::Interrupt() {
  fed_past_drain_.store(true);
  std::lock_guard<std::mutex> lock(mu_);
  space_cv_.notify_all();
}

std::string DeliveryLoop::StopReason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_reason_;
}

int64_t DeliveryLoop::OldestPendingAppend() {
  std::lock_guard<std::mutex> lock(positions_mu_);
  return starts_.empty() ? 0 : starts_.begin()->second.append_unix_nanos;
}

void DeliveryLoop::Drain() {
  // Stopping: wait (until the deadline) for the workers to finish.
  std::unique_lock<std::mutex> lock(mu_);
  while (!outstanding_.empty() && !PastDrain()) {
    space_cv_.wait_for(lock, std::chrono::milliseconds(50));
  }
}

RequestExporter::RequestExporter(const pipeline::ComponentSettings& settings, pipeline::Runtime& rt,
                                 log::StartAt start_at, RetryOptions retry, QueueOptions queue,
                                 DeadLetterOptions dead_letter, EncoderFactory make_encoder,
                                 DeliveryLoop::SenderFactory make_sender)
    : settings_(settings),
      rt_(rt),
      start_at_(start_at),
      retry_(retry),
      queue_(queue),
      dead_letter_(dead_letter),
      make_encoder_(std::move(make_encoder)),
      make_sender_(std::move(make_sender)) {}

Status RequestExporter::Start() {
  std::unique_ptr<DeadLetterQueue> dlq;
  const pipeline::FeedSettings* feed = settings_.feed;
  if (feed != nullptr) {
    if (dead_letter_.max_bytes > 0 && !feed->dead_letter_directory.empty()) {
      SLUICE_ASSIGN_OR_RETURN(
          dlq, DeadLetterQueue::Open(*feed->fs, feed->dead_letter_directory, settings_.id,
                                     dead_letter_.max_bytes, &rt_.metrics));
    }
  } else if (dead_letter_.max_bytes > 0) {
    SLUICE_ASSIGN_OR_RETURN(
        dlq, DeadLetterQueue::Open(
                 rt_.log->fs(), DeadLetterQueue::DirectoryFor(rt_.log->directory(), settings_.id),
                 settings_.id, dead_letter_.max_bytes, &rt_.metrics));
  }
  DeliveryLoop::Options o;
  if (feed != nullptr) {
    o.fed = true;
    o.stop_on = feed->stop_on;
  }
  o.read.name = settings_.id;
  o.read.start_at = start_at_;
  for (const auto& p : settings_.pipelines) o.read.pipeline_ids.push_back(p.id);
  o.retry = retry_;
  o.queue = queue_;
  auto& unsupported = rt_.metrics
                          .AddCounter("sluice_exporter_unsupported_items_total",
                                      "Items skipped because the exporter cannot send their "
                                      "encoding or could not decode them.",
                                      {"exporter"})
                          .With({settings_.id});
  unsupported_ = &unsupported;
  unsupported_base_ = unsupported.Value();
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

Status RequestExporter::Take(const log::LogReader::Batch& batch, const log::Position& start) {
  return loop_->Feed(batch, start);
}

void RequestExporter::Flush() {
  loop_->FlushOpen();
}

log::Position RequestExporter::Checkpoint(const log::Position& read) {
  return loop_->Checkpoint(read);
}

bool RequestExporter::Drain(pipeline::Deadline deadline) {
  return loop_->DrainFed(deadline);
}

pipeline::FeedProgress RequestExporter::Progress() const {
  pipeline::FeedProgress p = loop_ ? loop_->Progress() : pipeline::FeedProgress{};
  if (unsupported_ != nullptr) p.unsupported_items = unsupported_->Value() - unsupported_base_;
  return p;
}

void RequestExporter::Interrupt() {
  if (loop_) loop_->Interrupt();
}

std::string RequestExporter::StopReason() const {
  return loop_ ? loop_->StopReason() : "";
}

}  // namespace sluice::exporters
