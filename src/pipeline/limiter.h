#pragma once

#include <atomic>
#include <cstdint>

#include "telemetry/metrics.h"

namespace sluice::pipeline {

// The memory limiter: a cap on request bytes held in flight across every
// receiver, from when a body is read until the log has taken it. A receiver
// that cannot acquire answers 503 with Retry-After instead of holding more.
// Thread-safe.
class InFlightLimiter {
 public:
  InFlightLimiter(uint64_t cap_bytes, telemetry::Registry& r)
      : cap_(cap_bytes),
        in_flight_(r.AddGauge("sluice_receiver_in_flight_bytes",
                              "Request bytes held by receivers until the log takes them.")
                       .Get()),
        refused_(r.AddCounter("sluice_receiver_in_flight_refused_total",
                              "Requests refused because in-flight bytes reached "
                              "service.max_in_flight_bytes.")
                     .Get()) {}

  // True when `bytes` more fit under the cap (a single request larger than
  // the cap is let through when nothing else is in flight).
  bool TryAcquire(uint64_t bytes) {
    uint64_t cur = used_.load(std::memory_order_relaxed);
    do {
      if (cur != 0 && cur + bytes > cap_) {
        refused_.Inc();
        return false;
      }
    } while (!used_.compare_exchange_weak(cur, cur + bytes, std::memory_order_relaxed));
    in_flight_.Add(static_cast<double>(bytes));
    return true;
  }
  void Release(uint64_t bytes) {
    used_.fetch_sub(bytes, std::memory_order_relaxed);
    in_flight_.Add(-static_cast<double>(bytes));
  }
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }

 private:
  const uint64_t cap_;
  std::atomic<uint64_t> used_{0};
  telemetry::Gauge& in_flight_;
  telemetry::Counter& refused_;
};

}  // namespace sluice::pipeline
