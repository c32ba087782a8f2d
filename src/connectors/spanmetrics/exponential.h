#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace sluice::connectors::spanmetrics {

// A base-2 exponential histogram of values >= 0, as OTLP's
// ExponentialHistogramDataPoint holds it and the OpenTelemetry SDKs
// aggregate it: bucket `i` at scale `s` holds the values in
// (2^(i / 2^s), 2^((i + 1) / 2^s)]; zero goes to the zero bucket. It starts
// at the finest scale (20) and halves its resolution whenever a value would
// make it span more than `max_size` buckets, so its memory is bounded and its
// relative error is at most 2^(2^-scale) - 1.
class ExponentialHistogram {
 public:
  static constexpr int kMaxScale = 20;
  static constexpr int kMinScale = -10;

  explicit ExponentialHistogram(int max_size = 160) : max_size_(max_size) {}

  void Record(double value);

  // The bucket of `value` (> 0) at `scale`.
  static int64_t Index(double value, int scale);

  int scale() const { return scale_; }
  int64_t offset() const { return offset_; }
  const std::vector<uint64_t>& counts() const { return counts_; }  // from offset()
  uint64_t zero_count() const { return zero_count_; }
  uint64_t count() const { return count_; }
  double min() const { return min_; }
  double max() const { return max_; }

  // Back from a checkpoint; false when the state is not one Record makes.
  bool Restore(int scale, int64_t offset, std::vector<uint64_t> counts, uint64_t zero_count,
               double min, double max);

 private:
  // Halves the resolution `by` times.
  void Downscale(int by);

  int max_size_;
  int scale_ = kMaxScale;
  int64_t offset_ = 0;
  std::vector<uint64_t> counts_;
  uint64_t zero_count_ = 0;
  uint64_t count_ = 0;
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();
};

}  // namespace sluice::connectors::spanmetrics
