#include "pipeline/read_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "support/temp_dir.h"
#include "support/wait.h"

namespace sluice::pipeline {
namespace {

class ReadLoopTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    log::LogOptions o;
    o.directory = dir_.path();
    o.segment_bytes = segment_bytes_;
    auto l = log::Log::Open(o, io::FileSystem::Posix(), Clock::Real(), registry_);
    ASSERT_TRUE(l.ok());
    log_ = std::move(l).value();
    rt_ = std::make_unique<Runtime>(
        Runtime{io_, log_.get(), registry_, health_, Clock::Real(), limiter_});
  }

  void Append(const std::string& payload, uint32_t pipeline, uint32_t items = 1) {
    log::AppendRequest r;
    r.payload = payload;
    r.item_count = items;
    r.pipelines = {pipeline};
    ASSERT_TRUE(log_->Append(std::move(r)).ok());
  }

  // Delivers into `got` until it holds `n` payloads. `adjust` changes the
  // options; `after_start` runs once the consumer has started.
  std::vector<std::string> Consume(size_t n, int fail_first = 0,
                                   const std::function<void(LogConsumer::Options&)>& adjust = {},
                                   const std::function<void()>& after_start = {}) {
    std::mutex mu;
    std::vector<std::string> got;
    int failures = fail_first;
    LogConsumer::Options o;
    o.name = "exp";
    o.pipeline_ids = {log::PipelineId("traces")};
    o.commit_interval = std::chrono::milliseconds(10);
    if (adjust) adjust(o);
    LogConsumer c(
        *rt_, o,
        [&](const log::LogReader::Batch& b) {
          std::lock_guard<std::mutex> lock(mu);
          if (failures > 0) {
            --failures;
            return Status::IoError("backend down");
          }
          got.emplace_back(b.payload);
          return Status::Ok();
        },
        [] { return Status::Ok(); });
    EXPECT_TRUE(c.Start().ok());
    if (after_start) after_start();
    sluice::testing::WaitUntil([&] {
      std::lock_guard<std::mutex> lock(mu);
      return got.size() >= n;
    });
    c.Stop(std::chrono::steady_clock::now());
    return got;
  }

  uint64_t segment_bytes_ = log::LogOptions().segment_bytes;
  testing::TempDir dir_;
  telemetry::Registry registry_;
  telemetry::Health health_;
  InFlightLimiter limiter_{64 << 20, registry_};
  boost::asio::io_context io_;
  std::unique_ptr<log::Log> log_;
  std::unique_ptr<Runtime> rt_;
};

TEST_F(ReadLoopTest, DeliversOnlyItsOwnPipelinesInOrder) {
  uint32_t traces = log::PipelineId("traces");
  uint32_t other = log::PipelineId("traces/other");
  Append("a", traces);
  Append("x", other);
  Append("b", traces);
  EXPECT_EQ(Consume(2), (std::vector<std::string>{"a", "b"}));
}

TEST_F(ReadLoopTest, ResumesAfterRestartWithoutRedeliveringCommittedBatches) {
  uint32_t traces = log::PipelineId("traces");
  Append("a", traces);
  Append("b", traces);
  EXPECT_EQ(Consume(2), (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(log_->Close().ok());
  log_.reset();
  Open();
  Append("c", traces);
  EXPECT_EQ(Consume(1), (std::vector<std::string>{"c"}));
}

TEST_F(ReadLoopTest, FailedDeliveryIsRetriedAndCountedAndNothingIsSkipped) {
  uint32_t traces = log::PipelineId("traces");
  Append("a", traces);
  Append("b", traces);
  EXPECT_EQ(Consume(2, /*fail_first=*/2), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(registry_.AddCounter("sluice_exporter_send_failed_total", "", {"exporter"})
                .With({"exp"})
                .Value(),
            2u);
}

TEST_F(ReadLoopTest, FailedFlushDeliversAgainFromTheLastCommitInsteadOfSkipping) {
  uint32_t traces = log::PipelineId("traces");
  for (int i = 0; i < 5; ++i) Append("b" + std::to_string(i), traces);
  // The destination buffers what deliver hands it and loses it when a flush
  // fails; only flushed batches count as arrived.
  std::mutex mu;
  std::vector<std::string> buffered;
  std::vector<std::string> arrived;
  int flushes_to_fail = 2;
  LogConsumer::Options o;
  o.name = "exp";
  o.pipeline_ids = {traces};
  o.commit_interval = std::chrono::milliseconds(1);
  LogConsumer c(
      *rt_, o,
      [&](const log::LogReader::Batch& b) {
        std::lock_guard<std::mutex> lock(mu);
        buffered.emplace_back(b.payload);
        return Status::Ok();
      },
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        if (flushes_to_fail > 0) {
          --flushes_to_fail;
          buffered.clear();
          return Status::IoError("write failed");
        }
        arrived.insert(arrived.end(), buffered.begin(), buffered.end());
        buffered.clear();
        return Status::Ok();
      });
  ASSERT_TRUE(c.Start().ok());
  sluice::testing::WaitUntil([&] {
    std::lock_guard<std::mutex> lock(mu);
    return arrived.size() >= 5;
  });
  c.Stop(std::chrono::steady_clock::now());
  std::set<std::string> distinct(arrived.begin(), arrived.end());
  EXPECT_EQ(distinct.size(), 5u);
  EXPECT_EQ(log_->CursorOf("exp"), log_->End());
}

// A sink that refuses the first `failures` batches and notes, on the loop's
// clock, when each batch was offered.
class RecordingSink final : public LogSink {
 public:
  RecordingSink(Clock& clock, int failures) : clock_(clock), failures_(failures) {}
  Status Take(const log::LogReader::Batch& b, const log::Position&) override {
    std::lock_guard<std::mutex> lock(mu_);
    offered_at_.push_back(clock_.MonotonicNanos());
    if (failures_ > 0) {
      --failures_;
      return Status::Unavailable("backend down");
    }
    taken_.emplace_back(b.payload);
    return Status::Ok();
  }
  Result<log::Position> Committable(const log::Position& read) override { return read; }
  size_t taken() {
    std::lock_guard<std::mutex> lock(mu_);
    return taken_.size();
  }
  std::vector<int64_t> offered_at() {
    std::lock_guard<std::mutex> lock(mu_);
    return offered_at_;
  }

 private:
  Clock& clock_;
  std::mutex mu_;
  int failures_;
  std::vector<int64_t> offered_at_;
  std::vector<std::string> taken_;
};

// Backoff runs on the injected clock: five failures wait 100, 200, 400, 800
// and 1600 ms of that clock, and the test waits none of it.
TEST_F(ReadLoopTest, RetryBackoffDoublesOnTheInjectedClockWithoutSleeping) {
  Append("a", log::PipelineId("traces"));
  ManualClock clock;
  RecordingSink sink(clock, 5);
  ExporterMetrics metrics(registry_, "exp");
  ReadLoop::Options o;
  o.name = "exp";
  o.pipeline_ids = {log::PipelineId("traces")};
  o.clock = &clock;
  ReadLoop loop(*rt_, o, sink, metrics);
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(loop.Start().ok());
  sluice::testing::WaitUntil([&] { return sink.taken() >= 1; });
  loop.Stop(std::chrono::steady_clock::now());
  std::vector<int64_t> at = sink.offered_at();
  ASSERT_EQ(at.size(), 6u);
  int64_t wait = 100'000'000;
  for (size_t i = 1; i < at.size(); ++i, wait *= 2) EXPECT_EQ(at[i] - at[i - 1], wait) << i;
  EXPECT_EQ(metrics.send_failed.Value(), 5u);
  // 3.1 s of backoff on the clock; far less on the wall.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(3100));
}

// An exporter of a quiet pipeline beside a busy one is behind by its own
// unread records, not by the busy pipeline's traffic around them: at the
// start, and with its cursor in the middle of the log, across segment rolls.
TEST_F(ReadLoopTest, LagInRecordsCountsOnlyItsOwnPipelinesUnreadRecords) {
  ASSERT_TRUE(log_->Close().ok());
  log_.reset();
  segment_bytes_ = 256 << 10;  // the busy pipeline's traffic rolls several
  Open();
  const uint32_t mine = log::PipelineId("traces");
  const uint32_t busy = log::PipelineId("traces/other");
  auto busy_traffic = [&] {
    for (int i = 0; i < 40; ++i) Append(std::string(16 << 10, 'x'), busy, 500);
  };
  Append("a1", mine, 2);
  busy_traffic();
  Append("a2", mine, 3);
  busy_traffic();
  // The destination takes batches but cannot flush them: the cursor stays
  // where it was, and the loop reads the same batches again.
  std::atomic<bool> flush_fails{true};
  LogConsumer::Options o;
  o.name = "exp";
  o.pipeline_ids = {mine};
  o.commit_interval = std::chrono::milliseconds(10);
  o.initial_backoff = std::chrono::milliseconds(1);
  o.max_backoff = std::chrono::milliseconds(5);
  LogConsumer c(
      *rt_, o, [](const log::LogReader::Batch&) { return Status::Ok(); },
      [&] { return flush_fails ? Status::IoError("destination down") : Status::Ok(); });
  ASSERT_TRUE(c.Start().ok());
  auto lag = [&] {
    return registry_.AddGauge("sluice_exporter_lag_records", "", {"exporter"})
        .With({"exp"})
        .Value();
  };
  EXPECT_TRUE(sluice::testing::WaitUntil([&] { return lag() == 5; })) << lag();
  flush_fails = false;
  EXPECT_TRUE(sluice::testing::WaitUntil([&] { return lag() == 0; })) << lag();
  flush_fails = true;
  busy_traffic();
  Append("a3", mine, 4);
  busy_traffic();
  EXPECT_TRUE(sluice::testing::WaitUntil([&] { return lag() == 4; })) << lag();
  ASSERT_GT(log_->Segments().size(), 4u);
  c.Stop(std::chrono::steady_clock::now());
}

TEST_F(ReadLoopTest, NewConsumerStartingAtNewestSkipsWhatTheLogAlreadyHolds) {
  uint32_t traces = log::PipelineId("traces");
  Append("old", traces);
  auto newest = [](LogConsumer::Options& o) { o.start_at = log::StartAt::kNewest; };
  EXPECT_EQ(Consume(1, 0, newest, [&] { Append("new", traces); }), std::vector<std::string>{"new"});
}

TEST_F(ReadLoopTest, StartAtNewestDoesNotMoveACursorAlreadyCommitted) {
  uint32_t traces = log::PipelineId("traces");
  Append("a", traces);
  ASSERT_TRUE(log_->OpenCursor("exp").ok());  // committed at the oldest batch
  Append("b", traces);
  auto newest = [](LogConsumer::Options& o) { o.start_at = log::StartAt::kNewest; };
  EXPECT_EQ(Consume(2, 0, newest), (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace sluice::pipeline
