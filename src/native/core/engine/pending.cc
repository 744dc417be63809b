#include "engine/pending.h"

#include "kafka/prefetching_consumer.h"

namespace cdc {

using kafka::partition_key;

void PartitionTable::assign(const std::vector<RdKafka::TopicPartition*>& partitions) {
  for (RdKafka::TopicPartition* tp : partitions) {
    auto state = std::make_shared<PartitionState>();
    state->topic = tp->topic();
    state->partition = tp->partition();
    if (tp->offset() >= 0) state->position = tp->offset();  // resolved at assignment (start_offsets.h)
    PartitionPtr& slot = partitions_[partition_key(state->topic, state->partition)];
    if (slot) slot->active = false;
    slot = std::move(state);
  }
}

void PartitionTable::revoke(const std::vector<RdKafka::TopicPartition*>& partitions) {
  for (RdKafka::TopicPartition* tp : partitions) {
    auto it = partitions_.find(partition_key(tp->topic(), tp->partition()));
    if (it == partitions_.end()) continue;
    it->second->active = false;
    partitions_.erase(it);
  }
  last_.reset();
}

void PartitionTable::deactivate_all(bool forget) {
  for (auto& [key, partition] : partitions_) partition->active = false;
  if (!forget) return;
  partitions_.clear();
  last_.reset();
}

PartitionPtr PartitionTable::find(const std::string& topic, int32_t partition) const {
  auto it = partitions_.find(partition_key(topic, partition));
  return it == partitions_.end() ? nullptr : it->second;
}

const PartitionPtr& PartitionTable::of(const kafka::Message& message) {
  if (!last_ || !last_->active || last_->partition != message.partition() || last_->topic != message.topic())
    last_ = find(message.topic_name(), message.partition());
  return last_;
}

std::vector<RdKafka::TopicPartition*> PartitionTable::committable(
    const std::vector<RdKafka::TopicPartition*>* only) const {
  std::vector<RdKafka::TopicPartition*> list;
  auto add = [&](const PartitionState& partition) {
    std::optional<int64_t> offset = partition.offsets.committable();
    if (offset) list.push_back(RdKafka::TopicPartition::create(partition.topic, partition.partition, *offset));
  };
  if (only) {
    for (RdKafka::TopicPartition* tp : *only)
      if (PartitionPtr partition = find(tp->topic(), tp->partition())) add(*partition);
  } else {
    for (const auto& [key, partition] : partitions_) add(*partition);
  }
  return list;
}

void PartitionTable::mark_committed(const std::vector<RdKafka::TopicPartition*>& offsets) {
  for (RdKafka::TopicPartition* tp : offsets) {
    if (tp->err() != RdKafka::ERR_NO_ERROR || tp->offset() < 0) continue;
    if (PartitionPtr partition = find(tp->topic(), tp->partition())) partition->offsets.mark_committed(tp->offset());
  }
}

}  // namespace cdc
