#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "base/clock.h"
#include "base/mutex.h"

namespace sluice::scheduler {

// When a task runs again.
enum class Cadence : uint8_t {
  // At the instants offset + k * interval of the wall clock, as Prometheus
  // scrapes: the same task on every instance runs at the same phase. A run
  // still going at its next instant skips that instant (counted).
  kFixedRate,
  // `interval` after the previous run finished (a SQL source's metric: its
  // next fetch counts from the end of the last).
  kAfterDone,
};

// Calls `done` exactly once, from any thread, when the run is over. The
// run must be over by `deadline` (a monotonic time of the scheduler's
// clock); the scheduler does not stop it, the task's I/O does.
using Done = std::function<void()>;
using Run = std::function<void(int64_t deadline_mono_nanos, Done done)>;

struct Task {
  std::chrono::nanoseconds interval{std::chrono::seconds(15)};
  // kFixedRate: the phase within the interval (see OffsetOf); kAfterDone:
  // the wait before the first run.
  std::chrono::nanoseconds offset{0};
  // The deadline each run is given, from its start; at most the interval.
  std::chrono::nanoseconds timeout{std::chrono::seconds(10)};
  Cadence cadence = Cadence::kFixedRate;
  Run run;
};

// A task's phase in its interval from a hash of what identifies it (a
// target's labels): tasks spread evenly over the interval, and the same
// task keeps its phase across restarts.
std::chrono::nanoseconds OffsetOf(uint64_t hash, std::chrono::nanoseconds interval);

// The one timer structure of every pulled source: a heap of due times and
// one asio timer on the I/O threads' io_context, armed for the earliest. A
// due task's run is posted to the io_context, so runs spread over the I/O
// threads and no task has a thread of its own: the thread count does not
// depend on the number of tasks. A slow run delays only its own task.
//
// Thread-safety: every method from any thread. Runs are called without the
// scheduler's lock held.
class Scheduler {
 public:
  using TaskId = uint64_t;

  Scheduler(boost::asio::io_context& io, Clock& clock);
  // Stops: no run starts after it returns (runs in progress still call
  // their done, which is then ignored).
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  TaskId Add(Task task);
  // No run of the task starts after Remove returns (one already posted to
  // the io_context finds it gone); one in progress finishes. Unknown ids
  // are ignored.
  void Remove(TaskId id);
  void Stop();

  // Runs what is due at the clock's now and re-arms the timer. The timer
  // calls it; tests with a ManualClock call it after moving the clock.
  void RunDue();

  size_t tasks() const;
  // Instants skipped because the task's previous run was still going.
  uint64_t skipped() const;
  // Monotonic time of the earliest due run; INT64_MAX if none.
  int64_t next_due() const;

 private:
  // Shared with the timer's handler and every run's done, which may outlive
  // the scheduler: they find it stopped and do nothing.
  struct Core;
  std::shared_ptr<Core> core_;
};

// Counts runs still going, so a receiver's Drain and Shutdown can wait for
// them. Thread-safety: any thread.
class InFlight : public std::enable_shared_from_this<InFlight> {
 public:
  // Counts one run in and returns `done` wrapped to count it out after
  // calling it.
  Done Track(Done done);
  // Waits until none is going or `timeout` passed; true if none is.
  bool WaitIdle(std::chrono::nanoseconds timeout);

 private:
  Mutex mu_;
  CondVar cv_;
  int n_ SLUICE_GUARDED_BY(mu_) = 0;
};

}  // namespace sluice::scheduler
