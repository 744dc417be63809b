#include "kafka/start_offsets.h"

namespace cdc {
namespace kafka {

OffsetReset parse_offset_reset(const std::string& value) {
  if (value == "smallest" || value == "earliest" || value == "beginning") return OffsetReset::earliest;
  if (value == "largest" || value == "latest" || value == "end") return OffsetReset::latest;
  return OffsetReset::other;
}

namespace {

bool needs_start(const RdKafka::TopicPartition& tp) { return tp.offset() < 0; }

// The watermark auto.offset.reset points at, or a logical offset when it cannot be had.
int64_t reset_offset(RdKafka::KafkaConsumer& consumer, OffsetReset reset, const RdKafka::TopicPartition& tp,
                     int timeout_ms) {
  int64_t low = 0, high = 0;
  if (consumer.query_watermark_offsets(tp.topic(), tp.partition(), &low, &high, timeout_ms) != RdKafka::ERR_NO_ERROR)
    return RdKafka::Topic::OFFSET_INVALID;
  return reset == OffsetReset::latest ? high : low;
}

}  // namespace

void resolve_start_offsets(RdKafka::KafkaConsumer& consumer, OffsetReset reset,
                           std::vector<RdKafka::TopicPartition*>& partitions, int timeout_ms, const LogFn& log) {
  // Looked up on copies: committed() sets per-partition errors, which assign() must not see.
  std::vector<RdKafka::TopicPartition*> unresolved, lookups;
  for (RdKafka::TopicPartition* tp : partitions) {
    if (!needs_start(*tp)) continue;
    unresolved.push_back(tp);
    lookups.push_back(RdKafka::TopicPartition::create(tp->topic(), tp->partition()));
  }
  if (unresolved.empty()) return;
  RdKafka::ErrorCode err = consumer.committed(lookups, timeout_ms);
  if (err != RdKafka::ERR_NO_ERROR) {
    log(LogLevel::debug, "kafka: committed offsets not known yet (" + RdKafka::err2str(err) + "): left to librdkafka");
  } else {
    for (size_t i = 0; i < unresolved.size(); ++i) {
      int64_t start = lookups[i]->err() == RdKafka::ERR_NO_ERROR ? lookups[i]->offset() : RdKafka::Topic::OFFSET_INVALID;
      // No committed offset: auto.offset.reset's watermark; "error" stays librdkafka's to report.
      if (start < 0 && reset != OffsetReset::other) start = reset_offset(consumer, reset, *unresolved[i], timeout_ms);
      if (start >= 0) unresolved[i]->set_offset(start);
    }
  }
  RdKafka::TopicPartition::destroy(lookups);
}

}  // namespace kafka
}  // namespace cdc
