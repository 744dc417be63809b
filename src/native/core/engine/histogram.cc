#include "engine/histogram.h"

#include <algorithm>
#include <cmath>

namespace cdc {

int Histogram::bucket_of(uint64_t micros) {
  if (micros < kLinearBuckets) return static_cast<int>(micros);
  int power = 63 - __builtin_clzll(micros);  // >= 6
  if (power > kMaxPower) return kBucketCount - 1;
  // The 5 bits below the leading one pick the sub-bucket.
  int sub = static_cast<int>((micros >> (power - 5)) & (kSubBuckets - 1));
  return kLinearBuckets + (power - 6) * kSubBuckets + sub;
}

double Histogram::bucket_middle_ms(int bucket) {
  if (bucket < kLinearBuckets) return bucket / 1000.0;
  int power = 6 + (bucket - kLinearBuckets) / kSubBuckets;
  int sub = (bucket - kLinearBuckets) % kSubBuckets;
  double width = std::ldexp(1.0, power - 5);
  double low = std::ldexp(1.0, power) + sub * width;
  return (low + width / 2) / 1000.0;
}

void Histogram::record(double value_ms) {
  if (std::isnan(value_ms)) return;
  if (value_ms < 0) value_ms = 0;
  double micros = value_ms * 1000.0;
  uint64_t bucket_value = micros >= 9.0e18 ? UINT64_MAX : static_cast<uint64_t>(micros + 0.5);
  ++buckets_[bucket_of(bucket_value)];
  if (count_ == 0) {
    min_ms_ = max_ms_ = value_ms;
  } else {
    min_ms_ = std::min(min_ms_, value_ms);
    max_ms_ = std::max(max_ms_, value_ms);
  }
  ++count_;
  sum_ms_ += value_ms;
}

double Histogram::percentile(double p) const {
  if (count_ == 0) return 0.0;
  if (!(p > 0)) return min_ms_;  // also NaN
  if (p >= 100) return max_ms_;
  // Rank of the value: the ceil(p% of count)-th smallest, at least the first.
  uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (int bucket = 0; bucket < kBucketCount; ++bucket) {
    seen += buckets_[bucket];
    if (seen >= rank) return std::clamp(bucket_middle_ms(bucket), min_ms_, max_ms_);
  }
  return max_ms_;
}

void Histogram::merge(const Histogram& other) {
  if (other.count_ == 0) return;
  for (int bucket = 0; bucket < kBucketCount; ++bucket) buckets_[bucket] += other.buckets_[bucket];
  if (count_ == 0) {
    min_ms_ = other.min_ms_;
    max_ms_ = other.max_ms_;
  } else {
    min_ms_ = std::min(min_ms_, other.min_ms_);
    max_ms_ = std::max(max_ms_, other.max_ms_);
  }
  count_ += other.count_;
  sum_ms_ += other.sum_ms_;
}

void Histogram::reset() { *this = Histogram(); }

}  // namespace cdc
