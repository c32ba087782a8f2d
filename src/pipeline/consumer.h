#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

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

  // Sets the lag gauges for an exporter whose undelivered data starts at
  // `from`; `oldest_unread_append` is the append time of the first batch not
  // yet delivered (0 when caught up).
  void SetLag(const log::Log& log, const log::Position& from, int64_t oldest_unread_append,
              Clock& clock);
};

// Whether a batch belongs to one of `pipeline_ids`.
bool InPipelines(const std::vector<uint32_t>& pipeline_ids, const log::BatchHeader& h);

// For a reader that has caught up: waits (at most 50 ms) for the log to grow,
// and once it has, `linger` more, so that one wake-up reads many batches
// instead of one per append.
void AwaitAppends(const log::Log& log, std::chrono::milliseconds linger);

// One exporter's read loop, on its own thread: it resumes from the exporter's
// committed cursor, hands every batch of the exporter's pipelines to
// `deliver`, and after delivered batches calls `flush` and commits the cursor
// (at most every commit_interval, and always on stop). Delivery is therefore
// at least once: a crash repeats at most what was delivered since the last
// commit.
//
// A failed delivery is retried with exponential backoff (100 ms to 30 s) and
// counted; the cursor does not move past an undelivered batch. A failed
// flush (or commit) rewinds to the last commit and delivers from there again.
class LogConsumer {
 public:
  struct Options {
    std::string name;  // the exporter id; also the cursor's name
    std::vector<uint32_t> pipeline_ids;
    std::chrono::milliseconds commit_interval{200};
    // After catching up, how long to let appends gather once one lands:
    // a wake-up then carries many batches instead of one per append.
    std::chrono::milliseconds linger{2};
  };
  using DeliverFn = std::function<Status(const log::LogReader::Batch&)>;
  using FlushFn = std::function<Status()>;

  LogConsumer(Runtime& rt, Options options, DeliverFn deliver, FlushFn flush);
  ~LogConsumer();
  LogConsumer(const LogConsumer&) = delete;
  LogConsumer& operator=(const LogConsumer&) = delete;

  // Loads the cursor (a missing one starts at the beginning of the log) and
  // starts the thread.
  Status Start();
  // Stops after the batch in hand, committing what was delivered. Before the
  // deadline it first drains what is already in the log.
  void Stop(Deadline deadline);

 private:
  void Run();
  Status Commit(const log::Position& pos);
  // Commits position_; on failure rewinds the reader to the last commit so
  // the uncommitted batches are delivered again. False on failure.
  bool CommitOrRewind(log::LogReader& reader);
  bool Wanted(const log::BatchHeader& h) const;
  // Updates the lag gauges; `oldest_unread_append` is the append time of the
  // first batch not yet delivered (0 when caught up).
  void UpdateLag(int64_t oldest_unread_append);

  Runtime& rt_;
  const Options options_;
  DeliverFn deliver_;
  FlushFn flush_;
  ExporterMetrics metrics_;
  log::Position position_;
  log::Position committed_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> drain_until_{0};  // steady_clock ns; 0 = not draining
  std::thread thread_;
};

}  // namespace sluice::pipeline
