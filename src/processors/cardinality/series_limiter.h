#pragma once

#include <absl/container/flat_hash_map.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/mutex.h"

namespace sluice::processors::cardinality {

// The exact set of active series per (tenant, metric name): a series is
// active while it was last seen less than `window` ago, and at most
// `max_series` of them are active per metric at once. A series seen for the
// first time is admitted while there is room and refused otherwise; an
// admitted series stays admitted while it keeps arriving.
//
// Series are told apart by a 64-bit hash of their labels (the caller's), so
// two series collide with a probability of about n^2 / 2^65 (3e-10 at 100k
// active series).
//
// Memory: about 24 bytes per active series plus one entry per (tenant,
// metric) with active series. Idle series leave at the next sweep, which
// runs every window / 8 (at least every second), and at most once a second
// for a metric that is full, so a slot frees within window / 8 after its
// series went idle for `window`.
//
// Thread-safety: all methods are safe from any thread; a Lookup holds the
// limiter's lock for its lifetime, so a request's series are decided
// together and other requests wait.
class SeriesLimiter {
 private:
  struct Metric;

 public:
  SeriesLimiter(uint64_t max_series, std::chrono::nanoseconds window, Clock& clock);

  // Decides one request's series under the limiter's lock.
  class Lookup {
   public:
    explicit Lookup(SeriesLimiter& limiter);
    ~Lookup();
    Lookup(const Lookup&) = delete;
    Lookup& operator=(const Lookup&) = delete;

    // Whether the series `series_hash` of `metric` (for `tenant`) is
    // admitted; refreshes its last-seen time when it is.
    bool Admit(std::string_view tenant, std::string_view metric, uint64_t series_hash);

   private:
    SeriesLimiter& limiter_;
    Metric* last_ = nullptr;  // the metric of the previous call
    std::string last_key_;
    uint32_t now_;  // seconds since the limiter started
  };

  // Active series over all tenants and metrics (as of the last sweep for
  // series that went idle).
  uint64_t active_series() const;

 private:
  struct Metric {
    absl::flat_hash_map<uint64_t, uint32_t> last_seen;  // series hash -> second
    uint32_t last_sweep = 0;
  };
  uint32_t Now() const;
  // Removes the metric's series idle for the window.
  void SweepMetric(Metric& m, uint32_t now) SLUICE_REQUIRES(mu_);
  void SweepAll(uint32_t now) SLUICE_REQUIRES(mu_);

  const uint64_t max_series_;
  const uint32_t window_s_;       // whole seconds, at least 1
  const uint32_t sweep_every_s_;  // window / 8, at least 1
  Clock& clock_;
  const int64_t start_nanos_;

  mutable Mutex mu_;
  // Key: tenant, '\0', metric name. Values are boxed so a Lookup can hold
  // one across calls while others are inserted.
  absl::flat_hash_map<std::string, std::unique_ptr<Metric>> metrics_ SLUICE_GUARDED_BY(mu_);
  uint64_t active_ SLUICE_GUARDED_BY(mu_) = 0;
  uint32_t last_sweep_ SLUICE_GUARDED_BY(mu_) = 0;
};

}  // namespace sluice::processors::cardinality
