#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "telemetry/metrics.h"

namespace sluice::query {

// The pipeline's health for GET /api/v1/pipeline: sluice's own counters and
// gauges of receivers, the log, exporters and their dead letters,
// connectors, processors and the query layer, now and as history (a sample
// every `interval`, the last `keep` of them, for at most `max_series`
// series; a series past that is shown now but not kept).
//
// Memory: 8 bytes × keep × series held (360 × 4096 at most: 11.5 MiB).
// Thread-safety: Sample and Render from any thread.
class HealthHistory {
 public:
  explicit HealthHistory(telemetry::Registry& registry,
                         std::chrono::seconds interval = std::chrono::seconds(10),
                         size_t keep = 360, size_t max_series = 4096);

  // Takes a sample when one is due at `now` (or none was taken yet).
  void MaybeSample(int64_t now_unix_nano);
  std::chrono::seconds interval() const { return interval_; }

  // {"now": ..., "receivers": [...], "log": [...], "exporters": [...],
  //  "connectors": [...], "processors": [...], "query": [...],
  //  "history": {"intervalSeconds": n, "times": [...], "series": [...]}}
  std::string Render(int64_t now_unix_nano) const;

 private:
  // The families shown, by the section they appear in.
  static const std::vector<std::pair<std::string, std::string>>& Sections();

  telemetry::Registry& registry_;
  const std::chrono::seconds interval_;
  const size_t keep_;
  const size_t max_series_;

  mutable Mutex mu_;
  int64_t last_sample_ SLUICE_GUARDED_BY(mu_) = 0;
  uint64_t samples_ SLUICE_GUARDED_BY(mu_) = 0;
  std::vector<int64_t> times_ SLUICE_GUARDED_BY(mu_);  // ring of keep_
  struct Series {
    telemetry::Sample sample;    // name and labels
    std::vector<double> values;  // ring of keep_, NaN where not sampled
  };
  std::map<std::string, Series> series_ SLUICE_GUARDED_BY(mu_);  // by name{labels}
};

}  // namespace sluice::query
