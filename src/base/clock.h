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

  // The process-wide real clock.
  static Clock& Real();
};

// A clock that moves only when told to. Starts at the given wall time.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t unix_nanos = 1'700'000'000'000'000'000) : now_(unix_nanos) {}
  int64_t NowUnixNanos() const override { return now_.load(std::memory_order_relaxed); }
  int64_t MonotonicNanos() const override { return now_.load(std::memory_order_relaxed); }
  void Advance(std::chrono::nanoseconds d) { now_.fetch_add(d.count(), std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace sluice
