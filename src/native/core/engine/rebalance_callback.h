// librdkafka's rebalance callback: an assignment resolves where each partition starts (so its
// position is known from then on) and creates the partitions' bookkeeping; a revoke
// first finishes and commits what was taken from them (so the next owner starts after it), then
// forgets them; a lost assignment commits nothing. Eager and cooperative protocols alike.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <functional>
#include <string>
#include <vector>

#include "common/log.h"
#include "engine/offset_committer.h"
#include "engine/pending.h"
#include "kafka/event_callback.h"
#include "kafka/prefetching_consumer.h"

namespace cdc {

class RebalanceCallback : public RdKafka::RebalanceCb {
 public:
  struct Parts {
    kafka::PrefetchingConsumer& consumer;
    PartitionTable& partitions;
    OffsetCommitter& committer;
    kafka::EventCallback& events;
    std::function<void()> finish_in_flight;  // runs every in-flight effect to completion (bounded)
    LogFn log;
  };
  explicit RebalanceCallback(Parts parts) : parts_(std::move(parts)) {}

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override;

  // A first assignment arrived (librdkafka#4312, see EngineLoop::shutdown()).
  bool assigned_once() const { return assigned_once_; }

 private:
  void assigned(std::vector<RdKafka::TopicPartition*>& partitions, const std::string& names);
  void revoked(RdKafka::KafkaConsumer* consumer, std::vector<RdKafka::TopicPartition*>& partitions,
               const std::string& names);

  Parts parts_;
  bool cooperative_ = false;
  bool assigned_once_ = false;
};

}  // namespace cdc
