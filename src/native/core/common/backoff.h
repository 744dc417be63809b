// Capped exponential backoff with jitter, for reconnecting to Redis or Kafka: the first retry
// comes quickly, a long outage costs one attempt every `max`, and jitter keeps many clients
// from retrying in lockstep.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace cdc {

class Backoff {
 public:
  // Delay n (from 0) is drawn uniformly from [base/2, base] with base = min(max, initial * 2^n):
  // "equal jitter", so a delay is never shorter than half its nominal value.
  explicit Backoff(std::chrono::milliseconds initial = std::chrono::milliseconds(100),
                   std::chrono::milliseconds max = std::chrono::milliseconds(5000),
                   uint64_t seed = std::random_device{}())
      : initial_(std::max<int64_t>(1, initial.count())),
        max_(std::max<int64_t>(initial_, max.count())),
        random_(seed) {}

  std::chrono::milliseconds next_delay() {
    int64_t base = max_;
    if (attempts_ < 62) {  // beyond that initial * 2^n overflows; max_ is long reached anyway
      int64_t grown = initial_;
      for (int i = 0; i < attempts_ && grown < max_; ++i) grown *= 2;
      base = std::min(grown, max_);
    }
    ++attempts_;
    std::uniform_int_distribution<int64_t> jitter(base / 2, base);
    return std::chrono::milliseconds(jitter(random_));
  }

  // After a success: the next failure starts again from `initial`.
  void reset() { attempts_ = 0; }

  // Delays handed out since the last reset (consecutive failures).
  int attempts() const { return attempts_; }

 private:
  int64_t initial_;
  int64_t max_;
  int attempts_ = 0;
  std::mt19937_64 random_;
};

}  // namespace cdc
