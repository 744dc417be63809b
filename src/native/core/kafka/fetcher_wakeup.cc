#include "kafka/fetcher_wakeup.h"

#include <librdkafka/rdkafka.h>

namespace cdc {
namespace kafka {
namespace {

constexpr auto kFetchStall = std::chrono::milliseconds(25);  // nothing fetched this long, with data to fetch

}  // namespace

int64_t refresh_high_watermark(RdKafka::KafkaConsumer& consumer, FetchedPartition& partition) {
  int64_t low = -1, high = -1;
  if (consumer.get_watermark_offsets(partition.topic, partition.partition, &low, &high) == RdKafka::ERR_NO_ERROR)
    partition.high_watermark = high;
  return partition.high_watermark;
}

void FetcherWakeup::wake(RdKafka::KafkaConsumer& consumer, const FetchedPartitions& partitions, const LogFn& log) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (const auto& [key, partition] : partitions)
    if (partition.fetched >= 0)
      rd_kafka_topic_partition_list_add(list, partition.topic.c_str(), partition.partition)->offset = partition.fetched;
  if (list->cnt > 0) {
    if (rd_kafka_error_t* error = rd_kafka_seek_partitions(consumer.c_ptr(), list, 0)) {
      log(LogLevel::debug, std::string("kafka: seek to wake the fetcher failed: ") + rd_kafka_error_string(error));
      rd_kafka_error_destroy(error);
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
}

void FetcherWakeup::wake_if_stalled(RdKafka::KafkaConsumer& consumer, FetchedPartitions& partitions,
                                    Clock::time_point now, Clock::time_point last_pull, const LogFn& log) {
  if (!armed_ || now - last_pull < kFetchStall) return;
  for (auto& [key, partition] : partitions) {
    if (partition.fetched < 0) continue;
    const int64_t high = refresh_high_watermark(consumer, partition);
    if (high <= partition.fetched) continue;
    log(LogLevel::debug, "kafka: fetching stalled with " + std::to_string(high - partition.fetched) +
                             " message(s) to go in " + partition.topic + "[" + std::to_string(partition.partition) +
                             "]; waking the fetchers");
    wake(consumer, partitions, log);
    ++wakes_;
    armed_ = false;
    return;
  }
}

}  // namespace kafka
}  // namespace cdc
