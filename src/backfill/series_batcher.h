#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "backfill/source.h"
#include "relabel/labels.h"

namespace sluice::backfill {

// Builds remote write payloads (prometheus.WriteRequest, uncompressed) from
// series and their samples, as the file and remote read sources produce
// them: consecutive samples of one series go into one TimeSeries, so a
// request of max_series_per_request series carries many samples each.
//
// Use: BeginSeries, AddSample..., EndSeries, repeated; when Full(), Take the
// batch. Memory: the batch being built (about max_bytes) plus one series'
// samples.
class SeriesBatcher {
 public:
  // A batch is full at max_samples samples or max_bytes of payload.
  SeriesBatcher(uint64_t max_samples, size_t max_bytes)
      : max_samples_(max_samples), max_bytes_(max_bytes) {}

  // `labels` sorted by name, __name__ among them.
  void BeginSeries(const relabel::LabelSet& labels);
  void AddSample(int64_t timestamp_ms, double value);
  // Writes the series begun (if it has samples) into the batch.
  void EndSeries();
  bool in_series() const { return in_series_; }

  bool Full() const { return samples_ >= max_samples_ || payload_.size() >= max_bytes_; }
  bool empty() const { return samples_ == 0; }
  // Moves the batch into out (signal, encoding, payload, items, event
  // times; not start) and starts an empty one. Ends an open series first.
  void Take(InputBatch* out);

 private:
  const uint64_t max_samples_;
  const size_t max_bytes_;
  std::string payload_;
  std::string labels_;         // the open series' encoded labels
  std::string samples_bytes_;  // its encoded samples
  bool in_series_ = false;
  uint64_t samples_ = 0;  // in payload_ and samples_bytes_
  int64_t min_ms_ = INT64_MAX;
  int64_t max_ms_ = INT64_MIN;
};

}  // namespace sluice::backfill
