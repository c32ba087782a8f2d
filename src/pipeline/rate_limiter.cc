#include "pipeline/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace sluice::pipeline {

bool PerClientRateLimiter::Allow(const std::string& client, int* retry_after_seconds) {
  int64_t now = clock_.MonotonicNanos();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_clients_) Evict(now);
    it = buckets_.emplace(client, Bucket{burst_, now}).first;
  }
  Bucket& b = it->second;
  b.tokens = std::min(burst_, b.tokens + rate_ * static_cast<double>(now - b.last_nanos) / 1e9);
  b.last_nanos = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  *retry_after_seconds = std::max(1, static_cast<int>(std::ceil((1.0 - b.tokens) / rate_)));
  return false;
}

void PerClientRateLimiter::Evict(int64_t now) {
  // Idle clients first: their buckets would be full again anyway.
  double refill_nanos = burst_ / rate_ * 1e9;
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    it = static_cast<double>(now - it->second.last_nanos) >= refill_nanos ? buckets_.erase(it)
                                                                          : std::next(it);
  }
  while (buckets_.size() >= max_clients_) {
    auto oldest = std::min_element(
        buckets_.begin(), buckets_.end(),
        [](const auto& a, const auto& b) { return a.second.last_nanos < b.second.last_nanos; });
    buckets_.erase(oldest);
  }
}

size_t PerClientRateLimiter::clients() const {
  std::lock_guard<std::mutex> lock(mu_);
  return buckets_.size();
}

}  // namespace sluice::pipeline
