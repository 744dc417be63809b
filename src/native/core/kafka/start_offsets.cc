#include "kafka/start_offsets.h"

namespace cdc {
namespace kafka {

OffsetReset parse_offset_reset(const std::string& value) {
  if (value == "smallest" || value == "earliest" || value == "beginning") return OffsetReset::earliest;
  if (value == "largest" || value == "latest" || value == "end") return OffsetReset::latest;
  return OffsetReset::other;
}

namespace {

// Only partitions without any offset: an explicit beginning or end stays the caller's choice.
bool needs_start(const RdKafka::TopicPartition& tp) { return tp.offset() == RdKafka::Topic::OFFSET_INVALID; }

using TopicPartitions = std::vector<RdKafka::TopicPartition*>;

TopicPartitions copies_of(const TopicPartitions& partitions) {
  TopicPartitions copies;
  for (RdKafka::TopicPartition* tp : partitions) copies.push_back(RdKafka::TopicPartition::create(tp->topic(), tp->partition()));
  return copies;
}

// The end or the beginning of each partition, in one request per broker: ListOffsets with the
// timestamps -1 (latest) and -2 (earliest) answers exactly that. A partition not answered keeps -1.
std::vector<int64_t> reset_offsets(RdKafka::KafkaConsumer& consumer, OffsetReset reset, const TopicPartitions& partitions,
                                   int timeout_ms) {
  TopicPartitions lookups = copies_of(partitions);
  for (RdKafka::TopicPartition* tp : lookups) tp->set_offset(reset == OffsetReset::latest ? -1 : -2);
  std::vector<int64_t> offsets(partitions.size(), -1);
  if (consumer.offsetsForTimes(lookups, timeout_ms) == RdKafka::ERR_NO_ERROR) {
    for (size_t i = 0; i < lookups.size(); ++i)
      if (lookups[i]->err() == RdKafka::ERR_NO_ERROR) offsets[i] = lookups[i]->offset();
  }
  RdKafka::TopicPartition::destroy(lookups);
  return offsets;
}

}  // namespace

void resolve_start_offsets(RdKafka::KafkaConsumer& consumer, OffsetReset reset,
                           std::vector<RdKafka::TopicPartition*>& partitions, int timeout_ms, const LogFn& log) {
  TopicPartitions unresolved;
  for (RdKafka::TopicPartition* tp : partitions)
    if (needs_start(*tp)) unresolved.push_back(tp);
  if (unresolved.empty()) return;
  // Looked up on copies: committed() sets per-partition errors, which assign() must not see.
  TopicPartitions committed = copies_of(unresolved);
  RdKafka::ErrorCode err = consumer.committed(committed, timeout_ms);
  if (err != RdKafka::ERR_NO_ERROR) {
    log(LogLevel::debug, "kafka: committed offsets not known yet (" + RdKafka::err2str(err) + "): left to librdkafka");
    RdKafka::TopicPartition::destroy(committed);
    return;
  }
  TopicPartitions without;  // no committed offset: auto.offset.reset's end ("error" stays librdkafka's to report)
  for (size_t i = 0; i < unresolved.size(); ++i) {
    if (committed[i]->err() == RdKafka::ERR_NO_ERROR && committed[i]->offset() >= 0) {
      unresolved[i]->set_offset(committed[i]->offset());
    } else if (reset != OffsetReset::other) {
      without.push_back(unresolved[i]);
    }
  }
  RdKafka::TopicPartition::destroy(committed);
  if (without.empty()) return;
  std::vector<int64_t> starts = reset_offsets(consumer, reset, without, timeout_ms);
  for (size_t i = 0; i < without.size(); ++i)
    if (starts[i] >= 0) without[i]->set_offset(starts[i]);
}

}  // namespace kafka
}  // namespace cdc
