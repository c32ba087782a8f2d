#include "scheduler/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <map>
#include <thread>
#include <vector>

namespace sluice::scheduler {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int64_t kSecond = 1'000'000'000;

// A ManualClock starting on a whole minute of wall time.
struct Fixture {
  ManualClock clock{1'700'000'040LL * kSecond};
  boost::asio::io_context io;
  Scheduler scheduler{io, clock};

  // Moves the clock by `d`, then runs what is due and the posted runs.
  void Advance(std::chrono::nanoseconds d) {
    clock.Advance(d);
    scheduler.RunDue();
    io.restart();
    io.poll();
  }
};

TEST(SchedulerTest, FixedRateTasksRunAtTheirPhaseOfTheIntervalOnEveryInstance) {
  Fixture f;
  std::vector<int64_t> runs;
  Task t;
  t.interval = seconds(15);
  t.offset = seconds(4);
  t.run = [&](int64_t, Done done) {
    runs.push_back(f.clock.NowUnixNanos() / kSecond);
    done();
  };
  f.scheduler.Add(t);
  // The minute starts at ...040 s: the instants are ...044, ...059, ...074.
  for (int i = 0; i < 40; ++i) f.Advance(seconds(1));
  EXPECT_EQ(runs, (std::vector<int64_t>{1'700'000'044, 1'700'000'059, 1'700'000'074}));
}

TEST(SchedulerTest, ASlowRunSkipsItsOwnNextInstantAndDelaysNoOtherTask) {
  Fixture f;
  std::vector<Done> held;  // the slow task's runs, not finished
  int fast = 0;
  Task slow;
  slow.interval = seconds(10);
  slow.timeout = seconds(10);
  slow.run = [&](int64_t, Done done) { held.push_back(std::move(done)); };
  Task quick;
  quick.interval = seconds(10);
  quick.offset = seconds(5);
  quick.run = [&](int64_t, Done done) {
    ++fast;
    done();
  };
  f.scheduler.Add(slow);
  f.scheduler.Add(quick);
  for (int i = 0; i < 35; ++i) f.Advance(seconds(1));
  EXPECT_EQ(held.size(), 1u) << "the slow task's later instants are skipped while it runs";
  EXPECT_EQ(f.scheduler.skipped(), 3u) << "50, 60 and 70";
  EXPECT_EQ(fast, 4) << "the quick task ran at 45, 55, 65 and 75";
  held[0]();  // finishes: the next instant runs it again
  for (int i = 0; i < 10; ++i) f.Advance(seconds(1));
  EXPECT_EQ(held.size(), 2u);
}

TEST(SchedulerTest, AfterDoneCountsTheNextRunFromTheEndOfTheLastAndGivesEachRunItsDeadline) {
  Fixture f;
  std::vector<int64_t> starts, deadlines;
  Done pending;
  Task t;
  t.cadence = Cadence::kAfterDone;
  t.interval = seconds(10);
  t.offset = seconds(1);
  t.timeout = seconds(3);
  t.run = [&](int64_t deadline, Done done) {
    starts.push_back(f.clock.MonotonicNanos());
    deadlines.push_back(deadline);
    pending = std::move(done);
  };
  const int64_t t0 = f.clock.MonotonicNanos();
  f.scheduler.Add(t);
  f.Advance(seconds(1));
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0], t0 + 1 * kSecond);
  EXPECT_EQ(deadlines[0], t0 + 4 * kSecond);
  f.Advance(seconds(2));
  pending();  // took 2 s: the next run is 10 s after this
  f.Advance(seconds(9));
  EXPECT_EQ(starts.size(), 1u);
  f.Advance(seconds(1));
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[1], t0 + 13 * kSecond);
}

TEST(SchedulerTest, ARemovedTaskNeverRunsAgainAndALateDoneIsHarmless) {
  Fixture f;
  int runs = 0;
  Done late;
  Task t;
  t.interval = seconds(5);
  t.run = [&](int64_t, Done done) {
    ++runs;
    late = std::move(done);
  };
  auto id = f.scheduler.Add(t);
  f.Advance(seconds(5));
  ASSERT_EQ(runs, 1);
  f.scheduler.Remove(id);
  late();
  for (int i = 0; i < 5; ++i) f.Advance(seconds(5));
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(f.scheduler.tasks(), 0u);
  EXPECT_EQ(f.scheduler.next_due(), INT64_MAX);
}

TEST(SchedulerTest, OffsetsFromHashesSpreadTasksEvenlyOverTheInterval) {
  // 10,000 hashes of distinct keys: each tenth of the interval gets about
  // a tenth of them.
  std::map<int64_t, int> per_tenth;
  for (uint64_t k = 0; k < 10'000; ++k) {
    const uint64_t h = std::hash<std::string>{}("target-" + std::to_string(k));
    per_tenth[OffsetOf(h, seconds(15)).count() / (1'500'000'000)]++;
  }
  ASSERT_EQ(per_tenth.size(), 10u);
  for (auto [tenth, n] : per_tenth) EXPECT_NEAR(n, 1000, 150) << tenth;
}

TEST(SchedulerTest, OnTheRealClockRunsComeFromTheIoThreadsTimer) {
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  std::thread thread([&] { io.run(); });
  std::atomic<int> runs{0};
  {
    Scheduler s(io, Clock::Real());
    for (int i = 0; i < 100; ++i) {
      Task t;
      t.interval = milliseconds(20);
      t.offset = milliseconds(i % 20);
      t.run = [&](int64_t, Done done) {
        runs.fetch_add(1);
        done();
      };
      s.Add(t);
    }
    const auto until = std::chrono::steady_clock::now() + seconds(10);
    while (runs.load() < 500 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(milliseconds(5));
    }
  }
  guard.reset();
  io.stop();
  thread.join();
  EXPECT_GE(runs.load(), 500);
}

}  // namespace
}  // namespace sluice::scheduler

namespace sluice::scheduler {
namespace {

TEST(SchedulerTest, ARunDueButNotYetStartedDoesNotStartAfterRemoveOrStop) {
  ManualClock clock(1'700'000'040LL * kSecond);
  boost::asio::io_context io;
  Scheduler scheduler(io, clock);
  int runs = 0;
  Task t;
  t.interval = seconds(5);
  t.run = [&](int64_t, Done done) {
    ++runs;
    done();
  };
  const auto a = scheduler.Add(t);
  scheduler.Add(t);
  clock.Advance(seconds(1));
  scheduler.RunDue();  // both posted, neither started
  scheduler.Remove(a);
  io.poll();
  EXPECT_EQ(runs, 1) << "the removed task's posted run does not start";
  clock.Advance(seconds(5));
  scheduler.RunDue();
  scheduler.Stop();
  io.restart();
  io.poll();
  EXPECT_EQ(runs, 1) << "nothing starts after Stop";
}

// A wall clock that moves slower than the monotonic one (NTP slewing it).
class SlewingClock final : public Clock {
 public:
  int64_t NowUnixNanos() const override { return unix_; }
  int64_t MonotonicNanos() const override { return mono_; }
  void SleepFor(std::chrono::nanoseconds) override {}
  void Advance(int64_t mono, int64_t unix) {
    mono_ += mono;
    unix_ += unix;
  }

 private:
  int64_t unix_ = 1'700'000'040LL * kSecond, mono_ = 0;
};

TEST(SchedulerTest, AWallClockThatFallsBehindNeverRunsAnInstantTwice) {
  SlewingClock clock;
  boost::asio::io_context io;
  Scheduler scheduler(io, clock);
  int runs = 0;
  Task t;
  t.interval = seconds(15);
  t.run = [&](int64_t, Done done) {
    ++runs;
    done();
  };
  scheduler.Add(t);
  // 60 s of monotonic time in 1 ms steps, the wall clock 3 ms behind per
  // 15 s.
  for (int i = 0; i < 60'000; ++i) {
    clock.Advance(1'000'000, 1'000'000 - (i % 5000 == 0 ? 1'000'000 : 0));
    scheduler.RunDue();
    io.restart();
    io.poll();
  }
  EXPECT_EQ(runs, 4) << "at 40, 55, 70 and 85 s";
  EXPECT_EQ(scheduler.skipped(), 0u);
}

}  // namespace
}  // namespace sluice::scheduler
