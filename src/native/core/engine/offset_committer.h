// Commits the offsets PartitionTable says are safe: periodically (async, one at a time) and on
// revoke and stop (sync). Serves librdkafka's offset commit callback. Commits fail routinely
// during a rebalance: they are retried later, and periodic commits wait for the rebalance to end.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <cstdint>
#include <vector>

#include "common/log.h"
#include "engine/pending.h"
#include "kafka/event_callback.h"

namespace cdc {

class OffsetCommitter : public RdKafka::OffsetCommitCb {
 public:
  using Clock = std::chrono::steady_clock;

  OffsetCommitter(PartitionTable& partitions, kafka::EventCallback& events, int interval_ms, LogFn log);
  void attach(RdKafka::KafkaConsumer* consumer) { consumer_ = consumer; }

  void start(Clock::time_point now) { next_commit_ = now + std::chrono::milliseconds(interval_ms_); }
  // The periodic commit, when due, no other is outstanding and no rebalance is under way.
  void commit_if_due(Clock::time_point now);
  // Commits `only` (every partition when null).
  void commit(bool synchronous, const std::vector<RdKafka::TopicPartition*>* only);

  // A rebalance callback means the group has a new generation: periodic commits may go again,
  // except right after a cooperative revoke (librdkafka rejoins at once to hand the revoked
  // partitions over, and the callbacks it delivers meanwhile do not end that second round).
  void rebalance_seen(Clock::time_point now);
  void cooperative_revoke_done(Clock::time_point now);
  // Periodic commits wait (for a rebalance to end) at this time.
  bool suspended(Clock::time_point now) const { return now < suspended_until_; }

  void offset_commit_cb(RdKafka::ErrorCode err, std::vector<RdKafka::TopicPartition*>& offsets) override;

 private:
  void failed(RdKafka::ErrorCode err);

  PartitionTable& partitions_;
  kafka::EventCallback& events_;
  const int interval_ms_;
  LogFn log_;
  RdKafka::KafkaConsumer* consumer_ = nullptr;

  bool async_pending_ = false;
  Clock::time_point next_commit_{};
  // A periodic commit sent with the old generation during a rebalance would come back "illegal
  // generation", which makes librdkafka drop the whole assignment as lost.
  Clock::time_point suspended_until_{};
  Clock::time_point last_revoke_{};
  Clock::time_point last_warning_{};
  uint64_t suppressed_warnings_ = 0;
};

}  // namespace cdc
