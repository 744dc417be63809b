// Bookkeeping of consumed messages until their offsets may be committed: every assigned
// partition's in-flight offsets (PartitionOffsets) and the messages whose effects are not all
// acknowledged yet. Owned by the engine thread: no locks.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/partition_offsets.h"
#include "kafka/in_flight.h"
#include "kafka/message.h"

namespace cdc {

struct PartitionState {
  std::string topic;
  int32_t partition = 0;
  PartitionOffsets offsets;
  int64_t position = -1;  // next offset to consume
  bool active = true;     // false once revoked: late completions are ignored
  std::string source_name;      // the source its change events name (for tombstone-only deletes)
  std::string last_delete_key;  // key of the last message when it was a delete (its tombstone follows)
};
using PartitionPtr = std::shared_ptr<PartitionState>;

// A consumed message with effects not yet acknowledged. Each Redis command and each JS handler
// batch it is part of counts as one effect; the first failure decides the dead-letter reason.
struct PendingMessage {
  kafka::Message message;
  kafka::InFlightTicket in_flight;  // its bytes count against kafka.prefetchBytes until finished
  PartitionPtr partition;  // shared: a message finished after its partition was revoked finds it inactive
  int64_t offset = 0;
  int remaining = 0;
  int64_t kafka_ts_ms = 0;   // Kafka message timestamp, 0 when unknown
  int64_t source_ts_ms = 0;  // source commit time, 0 when unknown
  std::string failure;
  bool dead_letter_as_reference = false;  // too large for the dead-letter topic: headers only
  struct {
    int64_t begun_us = 0, planned_us = 0, sent_us = 0;
  } trace;  // engine/trace.h, only while tracing
};
using PendingPtr = std::shared_ptr<PendingMessage>;

// The assigned partitions, by topic and number.
class PartitionTable {
 public:
  // New state for each (a reassigned partition starts afresh; its old state turns inactive).
  void assign(const std::vector<RdKafka::TopicPartition*>& partitions);
  void revoke(const std::vector<RdKafka::TopicPartition*>& partitions);
  // Every partition turns inactive; with forget, the table is emptied too.
  void deactivate_all(bool forget);

  PartitionPtr find(const std::string& topic, int32_t partition) const;
  // The message's partition, through a one-entry cache (most messages come from the same
  // partition as the one before); nullptr when it is not (or no longer) assigned here.
  const PartitionPtr& of(const kafka::Message& message);

  // Commit list for `only` (all partitions when null): those with something new to commit.
  std::vector<RdKafka::TopicPartition*> committable(const std::vector<RdKafka::TopicPartition*>* only) const;
  // Records the offsets a commit reported as stored.
  void mark_committed(const std::vector<RdKafka::TopicPartition*>& offsets);

  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (const auto& [key, partition] : partitions_) fn(*partition);
  }

 private:
  std::map<std::string, PartitionPtr> partitions_;
  PartitionPtr last_;
};

}  // namespace cdc
