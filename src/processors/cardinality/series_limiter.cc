#include "processors/cardinality/series_limiter.h"

#include <algorithm>
#include <vector>

namespace sluice::processors::cardinality {

SeriesLimiter::SeriesLimiter(uint64_t max_series, std::chrono::nanoseconds window, Clock& clock)
    : max_series_(max_series),
      window_s_(static_cast<uint32_t>(std::clamp<int64_t>(
          std::chrono::duration_cast<std::chrono::seconds>(window).count(), 1, UINT32_MAX / 2))),
      sweep_every_s_(std::max<uint32_t>(1, window_s_ / 8)),
      clock_(clock),
      start_nanos_(clock.MonotonicNanos()) {}

uint32_t SeriesLimiter::Now() const {
  return static_cast<uint32_t>((clock_.MonotonicNanos() - start_nanos_) / 1'000'000'000);
}

uint64_t SeriesLimiter::active_series() const {
  MutexLock lock(mu_);
  return active_;
}

void SeriesLimiter::SweepMetric(Metric& m, uint32_t now) {
  m.last_sweep = now;
  if (now < window_s_) return;
  const uint32_t oldest = now - window_s_;  // seen at or before it: idle for the window
  size_t before = m.last_seen.size();
  absl::erase_if(m.last_seen, [oldest](const auto& e) { return e.second <= oldest; });
  active_ -= before - m.last_seen.size();
}

void SeriesLimiter::SweepAll(uint32_t now) {
  last_sweep_ = now;
  for (auto it = metrics_.begin(); it != metrics_.end();) {
    SweepMetric(*it->second, now);
    if (it->second->last_seen.empty()) {
      metrics_.erase(it++);
    } else {
      ++it;
    }
  }
}

SeriesLimiter::Lookup::Lookup(SeriesLimiter& limiter) : limiter_(limiter) {
  limiter_.mu_.lock();
  now_ = limiter_.Now();
  if (now_ - limiter_.last_sweep_ >= limiter_.sweep_every_s_) limiter_.SweepAll(now_);
}

SeriesLimiter::Lookup::~Lookup() {
  limiter_.mu_.unlock();
}

// The limiter's lock is held for the Lookup's lifetime, which the analysis
// cannot follow across member functions.
bool SeriesLimiter::Lookup::Admit(std::string_view tenant, std::string_view metric,
                                  uint64_t series_hash) SLUICE_NO_THREAD_SAFETY_ANALYSIS {
  const size_t key_size = tenant.size() + 1 + metric.size();
  if (last_ == nullptr || last_key_.size() != key_size ||
      std::string_view(last_key_).substr(0, tenant.size()) != tenant ||
      std::string_view(last_key_).substr(tenant.size() + 1) != metric) {
    last_key_.assign(tenant);
    last_key_.push_back('\0');
    last_key_.append(metric);
    auto& slot = limiter_.metrics_[last_key_];
    if (!slot) {
      slot = std::make_unique<Metric>();
      slot->last_sweep = now_;
    }
    last_ = slot.get();
  }
  Metric& m = *last_;
  auto it = m.last_seen.find(series_hash);
  if (it != m.last_seen.end()) {
    it->second = now_;
    return true;
  }
  if (m.last_seen.size() >= limiter_.max_series_ && now_ != m.last_sweep) {
    limiter_.SweepMetric(m, now_);
  }
  if (m.last_seen.size() >= limiter_.max_series_) return false;
  m.last_seen.emplace(series_hash, now_);
  ++limiter_.active_;
  return true;
}

}  // namespace sluice::processors::cardinality
