// Latency histogram in milliseconds with fixed memory and bounded relative error.
// Values are kept in microseconds in log-linear buckets (HdrHistogram's layout): exact below
// 64 us, then 32 buckets per power of two, so a bucket is at most 1/32 of its value wide and a
// reported percentile (bucket midpoint) is within ~1.6% of the true one. Range: 0 to ~50 days;
// larger values count in the last bucket. One writer, no locks: copy it to snapshot.
#pragma once

#include <array>
#include <cstdint>

namespace cdc {

class Histogram {
 public:
  // Negative values (clock skew) count as 0; NaN is ignored.
  void record(double value_ms);

  uint64_t count() const { return count_; }
  // 0 when empty.
  double min() const { return count_ ? min_ms_ : 0.0; }
  double max() const { return count_ ? max_ms_ : 0.0; }
  double mean() const { return count_ ? sum_ms_ / static_cast<double>(count_) : 0.0; }
  // p in [0, 100]: the smallest recorded value such that p% of the values are <= it, within the
  // bucket error, clamped to [min, max]. 0 when empty.
  double percentile(double p) const;

  void merge(const Histogram& other);
  void reset();

 private:
  static constexpr int kLinearBuckets = 64;    // exact buckets 0..63 us
  static constexpr int kSubBuckets = 32;       // per power of two above that
  static constexpr int kMaxPower = 42;         // 2^42 us ~ 51 days
  static constexpr int kBucketCount = kLinearBuckets + (kMaxPower - 6 + 1) * kSubBuckets;

  static int bucket_of(uint64_t micros);
  static double bucket_middle_ms(int bucket);

  std::array<uint64_t, kBucketCount> buckets_{};
  uint64_t count_ = 0;
  double sum_ms_ = 0;
  double min_ms_ = 0;
  double max_ms_ = 0;
};

}  // namespace cdc
