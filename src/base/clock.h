#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace sluice {

// Time seam. Production code takes a Clock& so tests can drive time.
// Thread-safety: implementations are safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in nanoseconds since the Unix epoch (event and append times).
  virtual int64_t NowUnixNanos() const = 0;
  // Monotonic time in nanoseconds, for intervals and deadlines.
  virtual int64_t MonotonicNanos() const = 0;
  // Waits `d` of this clock's time: the real clock sleeps; a test clock may
  // move itself instead, so code that backs off or lingers runs at once.
  virtual void SleepFor(std::chrono::nanoseconds d) = 0;

  // The process-wide real clock.
  static Clock& Real();
};

// A clock that moves only when told to, or by what its sleepers sleep:
// SleepFor(d) advances it by d and returns at once, so a test reads from the
// clock how long the code under test waited, without waiting. Starts at the
// given wall time.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t unix_nanos = 1'700'000'000'000'000'000) : now_(unix_nanos) {}
  int64_t NowUnixNanos() const override { return now_.load(std::memory_order_relaxed); }
  int64_t MonotonicNanos() const override { return now_.load(std::memory_order_relaxed); }
  void SleepFor(std::chrono::nanoseconds d) override {
    if (d.count() > 0) Advance(d);
  }
  void Advance(std::chrono::nanoseconds d) { now_.fetch_add(d.count(), std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace sluice
