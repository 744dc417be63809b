#include "engine/rebalance_callback.h"

#include <chrono>

namespace cdc {

void RebalanceCallback::rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                                     std::vector<RdKafka::TopicPartition*>& partitions) {
  cooperative_ = consumer->rebalance_protocol() == "COOPERATIVE";
  parts_.committer.rebalance_seen(std::chrono::steady_clock::now());
  std::string names;
  for (RdKafka::TopicPartition* tp : partitions)
    names += (names.empty() ? "" : ", ") + tp->topic() + "[" + std::to_string(tp->partition()) + "]";

  if (err == RdKafka::ERR__ASSIGN_PARTITIONS) return assigned(partitions, names);
  if (err == RdKafka::ERR__REVOKE_PARTITIONS) return revoked(consumer, partitions, names);

  parts_.log(LogLevel::error, "kafka: rebalance error: " + RdKafka::err2str(err));
  parts_.partitions.deactivate_all(true);
  parts_.consumer.unassign_all();
}

void RebalanceCallback::assigned(std::vector<RdKafka::TopicPartition*>& partitions, const std::string& names) {
  assigned_once_ = true;
  parts_.consumer.assign(partitions, cooperative_);  // sets each partition's start offset first
  parts_.partitions.assign(partitions);
  parts_.events.brokers_seen();
  parts_.log(LogLevel::info,
             std::string("partitions assigned (") + (cooperative_ ? "cooperative" : "eager") + "): " + names);
}

void RebalanceCallback::revoked(RdKafka::KafkaConsumer* consumer, std::vector<RdKafka::TopicPartition*>& partitions,
                                const std::string& names) {
  if (consumer->assignment_lost()) {
    parts_.log(LogLevel::warn, "partitions lost (not committing): " + names);
  } else {
    // Finish what was taken from these partitions so the next owner starts after it.
    parts_.finish_in_flight();
    parts_.committer.commit(true, &partitions);
  }
  if (cooperative_) parts_.committer.cooperative_revoke_done(std::chrono::steady_clock::now());
  parts_.partitions.revoke(partitions);
  parts_.consumer.unassign(partitions, cooperative_);
  parts_.log(LogLevel::info, "partitions revoked: " + names);
}

}  // namespace cdc
