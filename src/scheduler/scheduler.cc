#include "scheduler/scheduler.h"

#include <absl/container/flat_hash_map.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <queue>
#include <utility>
#include <vector>

#include "base/check.h"
#include "base/mutex.h"

namespace sluice::scheduler {

std::chrono::nanoseconds OffsetOf(uint64_t hash, std::chrono::nanoseconds interval) {
  if (interval.count() <= 0) return std::chrono::nanoseconds(0);
  return std::chrono::nanoseconds(
      static_cast<int64_t>(hash % static_cast<uint64_t>(interval.count())));
}

struct Scheduler::Core : std::enable_shared_from_this<Core> {
  struct State {
    Task task;
    bool running = false;
    uint64_t generation = 0;  // of the heap entry that is current
  };
  struct Entry {
    int64_t due;
    TaskId id;
    uint64_t generation;
    bool operator>(const Entry& o) const { return due > o.due; }
  };

  Core(boost::asio::io_context& io, Clock& clock) : io(io), clock(clock), timer(io) {}

  // The first instant of a fixed-rate task after the monotonic time
  // `after`, in monotonic time: instants are offset + k * interval of the
  // wall clock.
  int64_t NextInstant(const Task& t, int64_t after) const {
    const int64_t now_mono = clock.MonotonicNanos();
    const int64_t now_unix = clock.NowUnixNanos();
    const int64_t interval = t.interval.count();
    const int64_t after_unix = now_unix + (after - now_mono);
    int64_t phase = (after_unix - t.offset.count()) % interval;
    if (phase < 0) phase += interval;
    const int64_t next_unix = after_unix - phase + interval;  // > after_unix
    return next_unix - now_unix + now_mono;
  }

  void Schedule(TaskId id, State& s, int64_t due) SLUICE_REQUIRES(mu) {
    ++s.generation;
    heap.push(Entry{due, id, s.generation});
  }

  // Arms the timer for the earliest entry, if earlier than it is armed for.
  void Arm() SLUICE_REQUIRES(mu) {
    if (stopped || heap.empty()) return;
    const int64_t due = heap.top().due;
    if (due >= armed) return;
    armed = due;
    const int64_t wait = std::max<int64_t>(0, due - clock.MonotonicNanos());
    timer.expires_after(std::chrono::nanoseconds(wait));
    timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;  // re-armed or stopped
      if (auto core = weak.lock()) core->RunDue();
    });
  }

  void RunDue() {
    struct Start {
      Run run;
      int64_t deadline;
      TaskId id;
    };
    std::vector<Start> starts;
    {
      MutexLock lock(mu);
      if (stopped) return;
      armed = INT64_MAX;
      const int64_t now = clock.MonotonicNanos();
      while (!heap.empty() && heap.top().due <= now) {
        const Entry e = heap.top();
        heap.pop();
        auto it = tasks.find(e.id);
        if (it == tasks.end() || it->second.generation != e.generation) continue;  // stale
        State& s = it->second;
        if (s.task.cadence == Cadence::kFixedRate) {
          // From this instant, not from now alone: a wall clock that lost
          // time since would otherwise name the instant that is running.
          Schedule(e.id, s,
                   NextInstant(s.task, std::max(now, e.due + s.task.interval.count() / 2)));
          if (s.running) {
            ++skipped;
            continue;
          }
        }
        s.running = true;
        starts.push_back(Start{s.task.run, now + s.task.timeout.count(), e.id});
      }
      Arm();
    }
    for (Start& st : starts) {
      boost::asio::post(io, [st = std::move(st), weak = weak_from_this()]() mutable {
        auto core = weak.lock();
        // Removed or stopped since it was due: it does not start.
        if (!core || !core->StillWanted(st.id)) return;
        st.run(st.deadline, [weak, id = st.id] {
          if (auto core = weak.lock()) core->Finished(id);
        });
      });
    }
  }

  bool StillWanted(TaskId id) {
    MutexLock lock(mu);
    return !stopped && tasks.contains(id);
  }

  void Finished(TaskId id) {
    MutexLock lock(mu);
    auto it = tasks.find(id);
    if (it == tasks.end()) return;
    State& s = it->second;
    s.running = false;
    if (s.task.cadence == Cadence::kAfterDone && !stopped) {
      Schedule(id, s, clock.MonotonicNanos() + s.task.interval.count());
      Arm();
    }
  }

  boost::asio::io_context& io;
  Clock& clock;
  Mutex mu;
  boost::asio::steady_timer timer SLUICE_GUARDED_BY(mu);
  int64_t armed SLUICE_GUARDED_BY(mu) = INT64_MAX;
  bool stopped SLUICE_GUARDED_BY(mu) = false;
  TaskId next_id SLUICE_GUARDED_BY(mu) = 1;
  uint64_t skipped SLUICE_GUARDED_BY(mu) = 0;
  absl::flat_hash_map<TaskId, State> tasks SLUICE_GUARDED_BY(mu);
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap SLUICE_GUARDED_BY(mu);
};

Scheduler::Scheduler(boost::asio::io_context& io, Clock& clock)
    : core_(std::make_shared<Core>(io, clock)) {}

Scheduler::~Scheduler() {
  Stop();
}

Scheduler::TaskId Scheduler::Add(Task task) {
  SLUICE_CHECK(task.interval.count() > 0);
  SLUICE_CHECK(task.run != nullptr);
  MutexLock lock(core_->mu);
  const TaskId id = core_->next_id++;
  Core::State& s = core_->tasks[id];
  const int64_t now = core_->clock.MonotonicNanos();
  const int64_t due = task.cadence == Cadence::kFixedRate ? core_->NextInstant(task, now - 1)
                                                          : now + task.offset.count();
  s.task = std::move(task);
  core_->Schedule(id, s, due);
  core_->Arm();
  return id;
}

void Scheduler::Remove(TaskId id) {
  MutexLock lock(core_->mu);
  core_->tasks.erase(id);  // its heap entries are stale now
}

void Scheduler::Stop() {
  MutexLock lock(core_->mu);
  core_->stopped = true;
  core_->tasks.clear();
  core_->heap = {};
  core_->timer.cancel();
}

void Scheduler::RunDue() {
  core_->RunDue();
}

size_t Scheduler::tasks() const {
  MutexLock lock(core_->mu);
  return core_->tasks.size();
}

uint64_t Scheduler::skipped() const {
  MutexLock lock(core_->mu);
  return core_->skipped;
}

int64_t Scheduler::next_due() const {
  MutexLock lock(core_->mu);
  auto heap = core_->heap;  // a copy: stale entries are skipped
  while (!heap.empty()) {
    auto it = core_->tasks.find(heap.top().id);
    if (it != core_->tasks.end() && it->second.generation == heap.top().generation) {
      return heap.top().due;
    }
    heap.pop();
  }
  return INT64_MAX;
}

Done InFlight::Track(Done done) {
  {
    MutexLock lock(mu_);
    ++n_;
  }
  return [self = shared_from_this(), done = std::move(done)] {
    done();
    MutexLock lock(self->mu_);
    --self->n_;
    self->cv_.NotifyAll();
  };
}

bool InFlight::WaitIdle(std::chrono::nanoseconds timeout) {
  MutexLock lock(mu_);
  return cv_.WaitFor(lock, timeout, [&]() SLUICE_REQUIRES(mu_) { return n_ == 0; });
}

}  // namespace sluice::scheduler
