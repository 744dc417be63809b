// Workarounds for librdkafka 2.0.2 fetchers that fall asleep (Debian bookworm's version, which the
// addon links). Both are harmless on fixed versions: a seek to the offset a fetcher resumes from
// anyway drops nothing.
//  1. A resumed partition's fetcher is not woken: it notices up to a second later.
//  2. Fetching stops for up to a second when librdkafka's own queue reached
//     queued.max.messages.kbytes or queued.min.messages (the consumer's thread was held up, e.g. by
//     a slow Redis reply).
// A seek also makes librdkafka drop the response of a fetch in flight (its version is outdated):
// waking a fetcher that is not asleep costs a whole round trip. So workaround 2 acts only after a
// pull found librdkafka's queue near its limit (arm()), and once per such pull: seeking on every
// quiet 25 ms threw away each in-flight fetch whenever a fetch took longer than that (a busy
// broker or machine), and nothing arrived until one came back within 25 ms (issue #14: ~200 ms
// stalls at 20,000 events/s).
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "common/log.h"

namespace cdc {
namespace kafka {

// How far fetching got in one assigned partition.
struct FetchedPartition {
  std::string topic;
  int32_t partition = 0;
  int64_t fetched = -1;         // one past the last offset taken from librdkafka (-1: none yet)
  int64_t high_watermark = -1;  // as librdkafka's last fetch response reported it
};
// Keyed by partition_key(topic, partition).
using FetchedPartitions = std::map<std::string, FetchedPartition>;

inline std::string partition_key(const std::string& topic, int32_t partition) {
  return topic + '\0' + std::to_string(partition);
}

// Reads the high watermark librdkafka cached from its fetch responses (no request) into `partition`.
int64_t refresh_high_watermark(RdKafka::KafkaConsumer& consumer, FetchedPartition& partition);

class FetcherWakeup {
 public:
  using Clock = std::chrono::steady_clock;

  // Workaround 1: seeks every partition that fetched something to where it fetches next.
  static void wake(RdKafka::KafkaConsumer& consumer, const FetchedPartitions& partitions, const LogFn& log);

  // A pull took so much from librdkafka's queue that its fetchers may have stopped.
  void arm() { armed_ = true; }
  void disarm() { armed_ = false; }
  bool armed() const { return armed_; }
  // Workaround 2: armed, and nothing arrived for a while although a partition is known to have
  // more (and fetching is not paused on purpose): wake the fetchers, once.
  void wake_if_stalled(RdKafka::KafkaConsumer& consumer, FetchedPartitions& partitions, Clock::time_point now,
                       Clock::time_point last_pull, const LogFn& log);
  uint64_t wakes() const { return wakes_; }

 private:
  bool armed_ = false;
  uint64_t wakes_ = 0;
};

}  // namespace kafka
}  // namespace cdc
