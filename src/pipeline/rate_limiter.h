#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "base/clock.h"

namespace sluice::pipeline {

// A token bucket per client IP: each client may make `rate` requests per
// second on average and `burst` at once. The table of clients is bounded
// (`max_clients`): when full, clients whose bucket has refilled (idle) are
// forgotten first, then the least recently seen. Thread-safe.
class PerClientRateLimiter {
 public:
  PerClientRateLimiter(double rate, double burst, size_t max_clients, Clock& clock)
      : rate_(rate), burst_(burst), max_clients_(max_clients), clock_(clock) {}

  // True when the request may proceed; otherwise *retry_after_seconds is
  // when the next token will be there.
  bool Allow(const std::string& client, int* retry_after_seconds);
  size_t clients() const;

 private:
  struct Bucket {
    double tokens;
    int64_t last_nanos;
  };
  void Evict(int64_t now);

  const double rate_;
  const double burst_;
  const size_t max_clients_;
  Clock& clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace sluice::pipeline
