#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config/schema.h"
#include "exporters/common/dead_letter.h"
#include "log/log.h"
#include "pipeline/component.h"
#include "pipeline/read_loop.h"
#include "pipeline/sender.h"

namespace sluice::exporters {

// `retry_on_failure`: exponential backoff with full jitter. Attempt n waits
// a uniformly random time in [0, min(max_interval, initial_interval * 2^n)],
// or what the destination asked for with Retry-After / RetryInfo, up to
// max_interval.
struct RetryOptions {
  bool enabled = true;
  std::chrono::nanoseconds initial_interval = std::chrono::seconds(5);
  std::chrono::nanoseconds max_interval = std::chrono::seconds(30);
  // Past this since the first attempt the request is dead-lettered; 0 retries
  // for ever.
  std::chrono::nanoseconds max_elapsed_time = std::chrono::minutes(5);
};
const config::Schema<RetryOptions>& RetryOptionsSchema();

// `sending_queue`: how many requests are sent at once and how many may wait.
struct QueueOptions {
  int64_t num_consumers = 4;
  int64_t queue_size = 8;  // requests queued or being sent, across consumers
};
const config::Schema<QueueOptions>& QueueOptionsSchema();

// `dead_letter`.
struct DeadLetterOptions {
  uint64_t max_bytes = 1ull << 30;
};
const config::Schema<DeadLetterOptions>& DeadLetterOptionsSchema();

// `start_at`: where an exporter added to a log that already holds data
// begins (only when it has no cursor yet).
const std::vector<std::pair<std::string, log::StartAt>>& StartAtChoices();
inline constexpr const char* kStartAtHelp =
    "Where a newly added exporter begins reading a log that already holds data: oldest re-sends "
    "everything retained, newest sends only what arrives from now on. An exporter that has run "
    "before resumes at its cursor either way.";

using EmitFn = std::function<void(pipeline::OutboundRequest&&)>;

// Turns log batches into requests. Called from the delivery loop's reader
// thread only.
class RequestEncoder {
 public:
  virtual ~RequestEncoder() = default;
  // Adds one batch (starting at log record `record`) and emits each request
  // that became full. Every emitted request's first_record is the record of
  // the oldest batch with data in it. Items the encoder cannot send (an
  // unsupported encoding, malformed data) are counted by it and skipped.
  virtual void Add(const log::LogReader::Batch& batch, uint64_t record, const EmitFn& emit) = 0;
  // Emits every request still open.
  virtual void Flush(const EmitFn& emit) = 0;
  // The record of the oldest batch with data in an open request, if any.
  virtual std::optional<uint64_t> OldestHeld() const = 0;
};

struct DeliveryMetrics {
  DeliveryMetrics(telemetry::Registry& r, const std::string& exporter);
  telemetry::Counter& requests;
  telemetry::Counter& retried_items;
  telemetry::Counter& dead_lettered_items;
  telemetry::Counter& rejected_items;
  telemetry::Counter& dead_letter_errors;
  telemetry::Gauge& in_flight;
  telemetry::Histogram& duration;
};

// An exporter's delivery loop. The exporter's ReadLoop (pipeline/read_loop.h)
// reads the log from its committed cursor on its own thread, and this sink
// encodes the batches into requests there; a pool of
// `num_consumers` workers, each with its own Sender, sends them. A request
// with a shard (>= 0) always goes to the same worker, so requests of one
// shard are sent one at a time in order; others go to the least busy worker.
//
// Delivery is at least once. The cursor is committed (every commit_interval
// and at stop) at the start of the oldest batch that still has data not yet
// accepted or dead-lettered, so a crash repeats only requests that were
// unacknowledged. Retryable failures are retried per RetryOptions; permanent
// failures and requests that ran out of retries go to the dead-letter queue
// and count as done. Memory is bounded by queue_size requests plus what the
// encoder holds open.
class DeliveryLoop final : private pipeline::LogSink {
 public:
  struct Options {
    // name (exporter id and cursor), pipelines, start_at, commit interval,
    // linger: the read loop's.
    pipeline::ReadLoop::Options read;
    RetryOptions retry;
    QueueOptions queue;
    // Fed by its caller (Feed, FlushOpen, Checkpoint, DrainFed) instead of
    // a read loop of its own; Runtime::log is not used.
    bool fed = false;
    // pipeline::FeedSettings::stop_on.
    std::function<bool(const pipeline::SendResult&)> stop_on;
  };
  using SenderFactory = std::function<std::unique_ptr<pipeline::Sender>()>;

  // `dlq` may be null: dead letters are then dropped and counted.
  DeliveryLoop(pipeline::Runtime& rt, Options options, std::unique_ptr<RequestEncoder> encoder,
               SenderFactory make_sender, std::unique_ptr<DeadLetterQueue> dlq);
  ~DeliveryLoop() override;
  DeliveryLoop(const DeliveryLoop&) = delete;
  DeliveryLoop& operator=(const DeliveryLoop&) = delete;

  Status Start();
  // Delivers what is already in the log until the deadline, then stops,
  // abandoning requests still being retried, and commits the cursor. Fed:
  // stops at once, abandoning what is queued.
  void Stop(pipeline::Deadline deadline);

  // Fed mode (Options::fed), from one feeding thread: pipeline::FedExporter's
  // Take, Flush, Checkpoint and Drain.
  Status Feed(const log::LogReader::Batch& batch, const log::Position& start);
  void FlushOpen() { CaughtUp(); }
  log::Position Checkpoint(const log::Position& read);
  bool DrainFed(pipeline::Deadline deadline);
  pipeline::FeedProgress Progress() const;
  std::string StopReason() const;
  void Interrupt();

 private:
  struct Worker {
    std::unique_ptr<pipeline::Sender> sender;
    std::deque<pipeline::OutboundRequest> queue;
    // Signalled when the queue gains a request (or at abort): only the
    // worker that has work wakes.
    std::condition_variable cv;
    bool busy = false;
    std::thread thread;
  };

  // LogSink, on the read loop's thread.
  Status Take(const log::LogReader::Batch& batch, const log::Position& start) override;
  void CaughtUp() override;
  Result<log::Position> Committable(const log::Position& read) override;
  int64_t OldestPendingAppend() override;
  void Drain() override;

  void WorkerLoop(Worker& w, uint64_t seed);
  void Dispatch(pipeline::OutboundRequest&& request);
  // Sends with retries; false if abandoned at stop (the request stays
  // outstanding so the cursor keeps it).
  bool Deliver(Worker& w, pipeline::OutboundRequest& request, std::mt19937_64& rng);
  bool DeadLetter(const pipeline::OutboundRequest& request, const std::string& reason);
  void Done(const pipeline::OutboundRequest& request);
  // Waits up to d; false if the loop is aborting.
  bool SleepUnlessAborted(std::chrono::nanoseconds d);
  bool PastDrain() const { return read_loop_ ? read_loop_->PastDrain() : fed_past_drain_.load(); }

  pipeline::Runtime& rt_;
  const Options options_;
  std::unique_ptr<RequestEncoder> encoder_;
  SenderFactory make_sender_;
  std::unique_ptr<DeadLetterQueue> dlq_;
  pipeline::ExporterMetrics metrics_;
  DeliveryMetrics delivery_metrics_;
  EmitFn emit_;

  struct BatchStart {
    log::Position position;
    int64_t append_unix_nanos;
  };
  std::mutex positions_mu_;
  std::map<uint64_t, BatchStart> starts_;  // record → start, for outstanding batches

  mutable std::mutex mu_;
  std::condition_variable space_cv_;     // reader waits for queue room / drain
  std::condition_variable work_cv_;      // retry sleeps wait for abort
  std::multiset<uint64_t> outstanding_;  // first_record of queued and sending requests
  size_t next_worker_ = 0;
  std::vector<std::unique_ptr<Worker>> workers_;

  std::atomic<bool> abort_{false};
  std::atomic<int64_t> last_retry_log_ns_{0};
  std::atomic<uint64_t> sent_bytes_{0};    // of accepted requests, by this loop
  pipeline::FeedProgress Counted() const;  // the counters as they stand
  const pipeline::FeedProgress base_;      // ... when the loop began
  // Fed mode: a drain's deadline has passed, or the feed stopped.
  std::atomic<bool> fed_past_drain_{false};
  log::Position fed_checkpoint_;  // the last Checkpoint answer
  std::string stop_reason_;       // guarded by mu_
  // Null when fed.
  std::unique_ptr<pipeline::ReadLoop> read_loop_;
};

// The exporter component every request-sending exporter is: it opens the
// dead-letter queue (when dead_letter.max_bytes > 0) and runs a DeliveryLoop
// over the exporter's pipelines, or, with settings.feed, a fed DeliveryLoop
// whose batches its caller supplies (dead letters then go where the feed
// settings say). The encoder factory receives the counter of
// items skipped as unsupported (sluice_exporter_unsupported_items_total).
class RequestExporter final : public pipeline::Exporter, public pipeline::FedExporter {
 public:
  using EncoderFactory =
      std::function<std::unique_ptr<RequestEncoder>(telemetry::Counter& unsupported_items)>;

  RequestExporter(const pipeline::ComponentSettings& settings, pipeline::Runtime& rt,
                  log::StartAt start_at, RetryOptions retry, QueueOptions queue,
                  DeadLetterOptions dead_letter, EncoderFactory make_encoder,
                  DeliveryLoop::SenderFactory make_sender);
  Status Start() override;
  void Stop(pipeline::Deadline deadline) override;

  // pipeline::FedExporter, when settings.feed is set.
  Status Take(const log::LogReader::Batch& batch, const log::Position& start) override;
  void Flush() override;
  log::Position Checkpoint(const log::Position& read) override;
  bool Drain(pipeline::Deadline deadline) override;
  pipeline::FeedProgress Progress() const override;
  std::string StopReason() const override;
  void Interrupt() override;

 private:
  const pipeline::ComponentSettings settings_;
  pipeline::Runtime& rt_;
  const log::StartAt start_at_;
  const RetryOptions retry_;
  const QueueOptions queue_;
  const DeadLetterOptions dead_letter_;
  EncoderFactory make_encoder_;
  DeliveryLoop::SenderFactory make_sender_;
  std::unique_ptr<DeliveryLoop> loop_;
  // sluice_exporter_unsupported_items_total of this exporter, and its value
  // at Start (a fed run reports what it added).
  telemetry::Counter* unsupported_ = nullptr;
  uint64_t unsupported_base_ = 0;
};

// Marks a type whose exporters are RequestExporters, which `sluice backfill`
// and `sluice replay` may feed (pipeline::ComponentType::fed).
inline pipeline::ComponentType Feedable(pipeline::ComponentType t) {
  t.fed = true;
  return t;
}

}  // namespace sluice::exporters
