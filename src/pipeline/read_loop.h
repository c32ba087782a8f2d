#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "log/log.h"
#include "pipeline/component.h"

namespace sluice::pipeline {

struct ExporterMetrics {
  ExporterMetrics(telemetry::Registry& r, const std::string& exporter);
  telemetry::Counter& sent_batches;
  telemetry::Counter& sent_items;
  telemetry::Counter& send_failed;
  telemetry::Counter& read_errors;
  telemetry::Gauge& lag_records;
  telemetry::Gauge& lag_bytes;
  telemetry::Gauge& lag_seconds;

  // Sets the lag gauges for a consumer of `pipelines` whose undelivered data
  // starts at `from`: lag_records counts only those pipelines' records
  // (Log::RecordsAfter; left as it was while the log cannot count them yet),
  // lag_bytes every pipeline's bytes from `from` to the end.
  // `oldest_unread_append` is the append time of the first batch not yet
  // delivered (0 when caught up). Called by the read loop at most once per
  // commit interval, and at stop.
  void SetLag(const log::Log& log, const log::Position& from, const log::PipelineSet& pipelines,
              int64_t oldest_unread_append, Clock& clock);
};

// What a consumer of the log does with the batches its ReadLoop reads. Every
// method is called on the loop's thread, one call at a time.
class LogSink {
 public:
  virtual ~LogSink() = default;
  // Takes one batch of the consumer's pipelines, which starts at `start`.
  // Ok: taken, the loop moves past it. An error: not taken; the loop counts
  // it, waits its backoff and offers the same batch again (it never skips
  // one), until a stop's drain deadline has passed.
  virtual Status Take(const log::LogReader::Batch& batch, const log::Position& start) = 0;
  // The loop has read all there is for now: finish what is open (send a
  // partly filled request rather than wait for more).
  virtual void CaughtUp() {}
  // How far the consumer's cursor may move. `read` is the position past
  // every batch taken. Return `read` once all taken batches are done (made
  // durable at the destination first, if the sink buffers), or the start of
  // the oldest batch not done yet. An error means what was taken since the
  // last commit may not have arrived: the loop reads from the last commit
  // again.
  virtual Result<log::Position> Committable(const log::Position& read) = 0;
  // A position past `at` up to which the sink has taken every batch of its
  // pipelines by other means (the query index, shown batches as the log
  // writes them), or `at`: the loop moves there without reading what lies
  // between. Asked before every read.
  virtual log::Position CoveredTo(const log::Position& at) { return at; }
  // Append time of the oldest batch taken but not done (0 if none).
  virtual int64_t OldestPendingAppend() { return 0; }
  // At stop, once the loop has read what it will: waits for taken work until
  // it is done or the loop is past its drain deadline.
  virtual void Drain() {}
};

// The one read loop every consumer of the log uses (exporters, and every
// reader to come: connectors, indexers, hooks, replays). It runs on a thread
// of its own:
//
//   Start() ── opens the cursor (a new one at options.start_at) and starts
//     │        the thread.
//     ▼
//   read ──► sink.Take(batch) ──► (every commit_interval) commit
//     │        └─ error: backoff, offer the same batch again
//     ▼ caught up
//   sink.CaughtUp(), commit when due, wait for the consumer's pipelines to
//   receive a batch (other pipelines' appends do not wake it), linger
//     │
//   Stop(deadline) ── reads on until caught up or the deadline passes, then
//                     sink.Drain(), then commits once more and returns.
//
// Commits: the cursor moves to sink.Committable(read), durably (state file
// fdatasync), at most every commit_interval and at stop; it never moves
// backwards and never past a batch the sink has not finished. Delivery is
// therefore at least once: a crash repeats only batches taken since the last
// commit.
//
// Reading: only the consumer's pipelines' batches are read (LogReader with
// SetPipelines): its cost is O(its own data), whatever other pipelines carry.
//
// Timing (backoff, linger, commit interval) runs on the injected clock:
// ManualClock makes a test of retries run without sleeping.
//
// Thread-safety: Start and Stop from one controlling thread; PastDrain and
// Stopping from any thread (sinks call them to give up waits at stop).
class ReadLoop {
 public:
  struct Options {
    std::string name;  // the consumer's id; also its cursor's name
    std::vector<uint32_t> pipeline_ids;
    // Where a consumer without a committed cursor starts: the oldest batch
    // the log holds, or what is appended from now on.
    log::StartAt start_at = log::StartAt::kOldest;
    std::chrono::milliseconds commit_interval{200};
    // After catching up, how long to let appends gather once one lands: a
    // wake-up then carries many batches instead of one per append.
    std::chrono::milliseconds linger{2};
    // Backoff after a failed Take, read or commit: doubles up to the max.
    std::chrono::milliseconds initial_backoff{100};
    std::chrono::milliseconds max_backoff{30'000};
    // The clock its timing runs on; null for the runtime's.
    Clock* clock = nullptr;
    // Lag is what is not read yet rather than what is not committed: for a
    // consumer that holds its cursor back on purpose though it has done what
    // it read (the query index commits at segment ends).
    bool lag_from_read = false;
  };

  ReadLoop(Runtime& rt, Options options, LogSink& sink, ExporterMetrics& metrics);
  ~ReadLoop();
  ReadLoop(const ReadLoop&) = delete;
  ReadLoop& operator=(const ReadLoop&) = delete;

  // Opens the cursor and starts the thread. InvalidArgument when the
  // consumer names more pipelines than a reader can filter on.
  Status Start();
  // Stops as described above; returns once the thread has ended.
  void Stop(Deadline deadline);
  // Once stopped: commits sink.Committable() again (after the sink finished
  // work that was outstanding when the thread ended).
  void CommitAfterStop();

  // A stop was asked for.
  bool Stopping() const { return stop_.load(); }
  // A stop was asked for and its drain deadline has passed.
  bool PastDrain() const;
  const log::Position& committed() const { return committed_; }

 private:
  void Run();
  // Waits `d` on the clock, in short steps, unless past the drain deadline.
  void Pause(std::chrono::milliseconds d);
  // Commits sink.Committable(read_); on a sink error rewinds the reader to
  // the last commit. False on any failure.
  bool Commit(log::LogReader* reader);
  void UpdateLag();
  // For a reader that has caught up: waits (at most 50 ms) for one of its
  // pipelines to receive a batch, and once one has, lingers.
  void AwaitAppends(const log::LogReader& reader);

  Runtime& rt_;
  const Options options_;
  Clock& clock_;
  LogSink& sink_;
  ExporterMetrics& metrics_;
  log::PipelineSet pipelines_;
  // Loop-thread state (and the controlling thread's once stopped).
  log::Position read_;       // past every batch taken
  log::Position committed_;  // durable cursor
  int64_t last_read_append_ = 0;
  bool caught_up_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> drain_until_{0};  // steady_clock ns of the stop's deadline
  std::thread thread_;
};

// Runs `deliver` for every batch of the consumer's pipelines and `flush`
// before each commit: the sink of consumers that deliver synchronously (the
// file, Kafka and database exporters). A failed deliver is retried; a failed
// flush makes the loop deliver again from the last commit.
class LogConsumer final : private LogSink {
 public:
  using Options = ReadLoop::Options;
  using DeliverFn = std::function<Status(const log::LogReader::Batch&)>;
  using FlushFn = std::function<Status()>;

  LogConsumer(Runtime& rt, Options options, DeliverFn deliver, FlushFn flush);
  ~LogConsumer() override;

  Status Start() { return loop_.Start(); }
  void Stop(Deadline deadline) { loop_.Stop(deadline); }

 private:
  Status Take(const log::LogReader::Batch& batch, const log::Position& start) override;
  Result<log::Position> Committable(const log::Position& read) override;

  DeliverFn deliver_;
  FlushFn flush_;
  ExporterMetrics metrics_;
  ReadLoop loop_;
};

}  // namespace sluice::pipeline
