#include "engine/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "common/backoff.h"

namespace cdc {
namespace {

// Exact percentile by the same definition: the ceil(p% * n)-th smallest value.
double exact_percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * values.size()));
  rank = std::max<size_t>(rank, 1);
  return values[rank - 1];
}

void expect_close(double actual, double expected, const char* what) {
  // 1.6% bucket error, plus the microsecond quantization near zero.
  double tolerance = std::max(std::abs(expected) * 0.02, 0.002);
  EXPECT_NEAR(actual, expected, tolerance) << what;
}

void check_distribution(const std::vector<double>& values, const char* name) {
  Histogram histogram;
  for (double value : values) histogram.record(value);
  ASSERT_EQ(histogram.count(), values.size());
  for (double p : {1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9}) {
    SCOPED_TRACE(testing::Message() << name << " p" << p);
    expect_close(histogram.percentile(p), exact_percentile(values, p), name);
  }
  EXPECT_DOUBLE_EQ(histogram.max(), *std::max_element(values.begin(), values.end()));
  EXPECT_DOUBLE_EQ(histogram.min(), *std::min_element(values.begin(), values.end()));
  EXPECT_DOUBLE_EQ(histogram.percentile(100), histogram.max());
}

TEST(Histogram, EmptyReportsZeros) {
  Histogram histogram;
  EXPECT_EQ(histogram.count(), 0u);
  EXPECT_EQ(histogram.percentile(50), 0.0);
  EXPECT_EQ(histogram.max(), 0.0);
  EXPECT_EQ(histogram.mean(), 0.0);
}

TEST(Histogram, SingleValue) {
  Histogram histogram;
  histogram.record(42.0);
  EXPECT_EQ(histogram.count(), 1u);
  for (double p : {0.0, 50.0, 99.0, 100.0}) EXPECT_DOUBLE_EQ(histogram.percentile(p), 42.0);
}

TEST(Histogram, UniformIntegers) {
  std::vector<double> values;
  for (int i = 1; i <= 10000; ++i) values.push_back(i);
  check_distribution(values, "uniform 1..10000 ms");
  Histogram histogram;
  for (double value : values) histogram.record(value);
  expect_close(histogram.percentile(50), 5000, "p50");
  expect_close(histogram.percentile(99), 9900, "p99");
  EXPECT_DOUBLE_EQ(histogram.mean(), 5000.5);
}

TEST(Histogram, SubMillisecondValues) {
  std::vector<double> values;
  std::mt19937_64 random(1);
  std::uniform_real_distribution<double> uniform(0.01, 0.9);
  for (int i = 0; i < 20000; ++i) values.push_back(uniform(random));
  check_distribution(values, "uniform 0.01..0.9 ms");
}

TEST(Histogram, LogNormalLatencies) {
  std::vector<double> values;
  std::mt19937_64 random(7);
  std::lognormal_distribution<double> lognormal(1.0, 1.5);  // long tail: ms to seconds
  for (int i = 0; i < 100000; ++i) values.push_back(lognormal(random));
  check_distribution(values, "lognormal");
}

TEST(Histogram, ExponentialLatencies) {
  std::vector<double> values;
  std::mt19937_64 random(9);
  std::exponential_distribution<double> exponential(1.0 / 20.0);
  for (int i = 0; i < 50000; ++i) values.push_back(exponential(random));
  check_distribution(values, "exponential mean 20 ms");
}

TEST(Histogram, BimodalKeepsTheTail) {
  Histogram histogram;
  for (int i = 0; i < 990; ++i) histogram.record(2.0);
  for (int i = 0; i < 10; ++i) histogram.record(3000.0);
  expect_close(histogram.percentile(50), 2.0, "p50");
  expect_close(histogram.percentile(99), 2.0, "p99");  // the 990th value
  expect_close(histogram.percentile(99.5), 3000.0, "p99.5");
  EXPECT_DOUBLE_EQ(histogram.max(), 3000.0);
}

TEST(Histogram, OddInputs) {
  Histogram histogram;
  histogram.record(-5);   // clock skew counts as 0
  histogram.record(std::nan(""));
  EXPECT_EQ(histogram.count(), 1u);
  EXPECT_EQ(histogram.percentile(50), 0.0);
  histogram.record(1e12);  // ~31 years: beyond the range, kept in the last bucket
  EXPECT_EQ(histogram.count(), 2u);
  EXPECT_DOUBLE_EQ(histogram.max(), 1e12);
  EXPECT_DOUBLE_EQ(histogram.percentile(100), 1e12);
  EXPECT_GT(histogram.percentile(99), 1e9);
}

TEST(Histogram, MergeEqualsRecordingEverything) {
  std::mt19937_64 random(3);
  std::lognormal_distribution<double> lognormal(2.0, 1.0);
  Histogram first, second, all;
  for (int i = 0; i < 5000; ++i) {
    double value = lognormal(random);
    (i % 3 == 0 ? first : second).record(value);
    all.record(value);
  }
  Histogram merged = first;
  merged.merge(second);
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_DOUBLE_EQ(merged.max(), all.max());
  EXPECT_DOUBLE_EQ(merged.min(), all.min());
  EXPECT_NEAR(merged.mean(), all.mean(), 1e-9);
  for (double p : {50.0, 90.0, 99.0}) EXPECT_DOUBLE_EQ(merged.percentile(p), all.percentile(p));

  Histogram empty;
  merged.merge(empty);
  EXPECT_EQ(merged.count(), all.count());
  empty.merge(all);
  EXPECT_DOUBLE_EQ(empty.percentile(50), all.percentile(50));
}

TEST(Histogram, ResetAndCopy) {
  Histogram histogram;
  histogram.record(10);
  Histogram snapshot = histogram;  // what the engine does under its stats mutex
  histogram.reset();
  EXPECT_EQ(histogram.count(), 0u);
  EXPECT_EQ(histogram.max(), 0.0);
  EXPECT_EQ(snapshot.count(), 1u);
  histogram.record(1);
  EXPECT_DOUBLE_EQ(histogram.max(), 1.0);
}

TEST(Backoff, GrowsDoublingWithJitterUpToTheCap) {
  Backoff backoff(std::chrono::milliseconds(100), std::chrono::milliseconds(5000), 123);
  const int64_t nominal[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000};
  for (int64_t base : nominal) {
    int64_t delay = backoff.next_delay().count();
    EXPECT_GE(delay, base / 2);
    EXPECT_LE(delay, base);
  }
  EXPECT_EQ(backoff.attempts(), 9);
  for (int i = 0; i < 1000; ++i) EXPECT_LE(backoff.next_delay().count(), 5000);  // no overflow
  backoff.reset();
  EXPECT_EQ(backoff.attempts(), 0);
  EXPECT_LE(backoff.next_delay().count(), 100);
}

TEST(Backoff, JitterSpreadsDelays) {
  Backoff backoff(std::chrono::milliseconds(1000), std::chrono::milliseconds(1000), 5);
  int64_t low = 1000, high = 0;
  for (int i = 0; i < 200; ++i) {
    int64_t delay = backoff.next_delay().count();
    low = std::min(low, delay);
    high = std::max(high, delay);
  }
  EXPECT_LT(low, 600);
  EXPECT_GT(high, 900);
}

TEST(Backoff, OddSettingsStaySane) {
  Backoff backoff(std::chrono::milliseconds(0), std::chrono::milliseconds(0), 1);
  EXPECT_LE(backoff.next_delay().count(), 1);
  Backoff inverted(std::chrono::milliseconds(500), std::chrono::milliseconds(100), 1);
  EXPECT_LE(inverted.next_delay().count(), 500);  // max below initial: initial wins
}

}  // namespace
}  // namespace cdc
