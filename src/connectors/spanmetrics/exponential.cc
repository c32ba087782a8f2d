#include "connectors/spanmetrics/exponential.h"

#include <algorithm>
#include <cmath>

namespace sluice::connectors::spanmetrics {

int64_t ExponentialHistogram::Index(double value, int scale) {
  int exp = 0;
  const double frac = std::frexp(value, &exp);  // value = frac * 2^exp, frac in [0.5, 1)
  if (scale <= 0) {
    // Exact from the exponent: a power of two is the upper end of its bucket.
    const int64_t base2 = frac == 0.5 ? exp - 2 : exp - 1;
    return base2 >> -scale;
  }
  if (frac == 0.5) return (static_cast<int64_t>(exp - 1) << scale) - 1;
  return static_cast<int64_t>(std::ceil(std::log2(value) * std::ldexp(1.0, scale))) - 1;
}

void ExponentialHistogram::Downscale(int by) {
  if (by <= 0) return;
  std::vector<uint64_t> merged;
  const int64_t new_offset = offset_ >> by;
  for (size_t i = 0; i < counts_.size(); ++i) {
    const auto at = static_cast<size_t>(((offset_ + static_cast<int64_t>(i)) >> by) - new_offset);
    if (at >= merged.size()) merged.resize(at + 1, 0);
    merged[at] += counts_[i];
  }
  counts_ = std::move(merged);
  offset_ = new_offset;
  scale_ -= by;
}

void ExponentialHistogram::Record(double value) {
  if (!(value >= 0)) return;  // negative or NaN: durations are neither
  ++count_;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  if (value == 0) {
    ++zero_count_;
    return;
  }
  int64_t index = Index(value, scale_);
  if (counts_.empty()) {
    offset_ = index;
    counts_.assign(1, 1);
    return;
  }
  // The coarsening that makes [low, high] fit in max_size buckets.
  int64_t low = std::min(offset_, index);
  int64_t high = std::max(offset_ + static_cast<int64_t>(counts_.size()) - 1, index);
  int by = 0;
  while (scale_ - by > kMinScale && (high >> by) - (low >> by) + 1 > max_size_) ++by;
  if (by > 0) {
    Downscale(by);
    index = Index(value, scale_);
  }
  if (index < offset_) {
    counts_.insert(counts_.begin(), static_cast<size_t>(offset_ - index), 0);
    offset_ = index;
  }
  const auto at = static_cast<size_t>(index - offset_);
  if (at >= counts_.size()) counts_.resize(at + 1, 0);
  ++counts_[at];
}

bool ExponentialHistogram::Restore(int scale, int64_t offset, std::vector<uint64_t> counts,
                                   uint64_t zero_count, double min, double max) {
  if (scale > kMaxScale || scale < kMinScale || counts.size() > static_cast<size_t>(max_size_)) {
    return false;
  }
  scale_ = scale;
  offset_ = offset;
  counts_ = std::move(counts);
  zero_count_ = zero_count;
  count_ = zero_count;
  for (uint64_t c : counts_) count_ += c;
  min_ = min;
  max_ = max;
  return true;
}

}  // namespace sluice::connectors::spanmetrics
