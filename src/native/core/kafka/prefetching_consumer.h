// A KafkaConsumer with its own prefetch buffer. Messages are moved out of librdkafka's queue as
// soon as they arrive, so that queue stays nearly empty and its thresholds never stall fetching
// (librdkafka 2.0.2 stops for about a second each time they are reached); this buffer's size
// decides when fetching pauses (full) and resumes (half empty). Owned by one thread, which also
// serves librdkafka's callbacks through pull(). Knows nothing of what the messages are for.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "common/status.h"
#include "kafka/fetcher_wakeup.h"
#include "kafka/in_flight.h"
#include "kafka/message.h"
#include "kafka/message_reaper.h"
#include "kafka/start_offsets.h"

namespace cdc {
namespace kafka {

using TopicPartitions = std::vector<RdKafka::TopicPartition*>;

struct PrefetchStats {
  uint64_t bytes = 0, peak_bytes = 0;  // fetched messages held: waiting to be taken, or taken and in flight
  uint64_t pauses = 0;                 // fetch pauses because the buffer was full
  uint64_t stall_wakes = 0;            // fetchers woken because they stopped (FetcherWakeup)
  ReaperStats destroyed;               // messages given back through release()
};

class PrefetchingConsumer {
 public:
  using Clock = std::chrono::steady_clock;

  // limit_bytes: the buffer size that pauses fetching. pull() returns early once `stop` is set.
  PrefetchingConsumer(int64_t limit_bytes, const std::atomic<bool>& stop, LogFn log);

  Status create(RdKafka::Conf& conf);
  Status subscribe(const std::vector<std::string>& topics);
  RdKafka::KafkaConsumer& handle() { return *consumer_; }
  bool created() const { return consumer_ != nullptr; }
  // Destroys the consumer (after every released message), or leaks it when destroying would abort
  // the process (librdkafka #4312).
  void destroy(bool leak);

  // Moves messages from librdkafka into the buffer: waits up to timeout_ms for the first, then
  // takes all that is already there. Serves librdkafka's callbacks (rebalance, commits, events) as
  // a side effect. True when at least one message arrived.
  bool pull(int timeout_ms);
  // With enable.partition.eof: partition-EOF events are buffered too, in order with the messages
  // (err() == ERR__PARTITION_EOF, offset() = the end reached, past transaction markers). Tables
  // need them; the engine does not.
  void keep_partition_eof(bool keep) { keep_eof_ = keep; }
  bool empty() const { return buffer_.empty(); }
  const Message& front() const { return buffer_.front(); }  // the next take(); not empty()
  Message take() {
    Message message = std::move(buffer_.front());
    buffer_.pop_front();
    buffer_bytes_ -= static_cast<int64_t>(message.len());
    return message;
  }

  // A message that is done with: destroyed on the reaper's thread (message_reaper.h).
  void release(Message message) { reaper_.release(std::move(message)); }
  // Before the owner waits for something else than Kafka (MessageReaper::before_wait). pull() does
  // it whenever it waits or finds nothing.
  void before_wait() { reaper_.before_wait(); }

  // A taken message whose work goes on counts against the limit until the ticket is released.
  InFlightTicket hold(const Message& message) {
    return InFlightTicket(&in_flight_bytes_, static_cast<int64_t>(message.len()));
  }

  // Hysteresis: fetching pauses once the messages held (buffered and in flight) reach the limit,
  // and resumes when they are down to half of it.
  void update_pause();
  bool paused() const { return paused_; }

  // From the rebalance callback. Partitions without an offset (OFFSET_INVALID) first get the one
  // consumption starts at (start_offsets.h), set in `partitions`; partitions start paused when the
  // buffer is full.
  void assign(TopicPartitions& partitions, bool cooperative);
  // Forgets buffered messages of these partitions (never begun, so the next owner reads them
  // again) and gives the partitions up.
  void unassign(const TopicPartitions& partitions, bool cooperative);
  // After a rebalance error: forgets everything and gives every partition up.
  void unassign_all();
  // Forgets every buffered message and waits until the released ones are destroyed (stopping:
  // before the handle is closed).
  void drop_buffer() {
    drop_buffered(nullptr);
    reaper_.flush();
  }

  void wake_if_stalled(Clock::time_point now);
  // The partition's high watermark as librdkafka last saw it; -1 when unknown.
  int64_t high_watermark(const std::string& topic, int32_t partition);

  PrefetchStats stats() const;

 private:
  int64_t held_bytes() const { return buffer_bytes_ + in_flight_bytes_; }
  void drop_buffered(const TopicPartitions* only);
  void set_paused(const TopicPartitions& partitions, bool paused);
  FetchedPartition* fetched_of(const Message& message);

  const int64_t limit_bytes_;
  const std::atomic<bool>& stop_;
  LogFn log_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;

  std::deque<Message> buffer_;  // in consumption order
  int64_t buffer_bytes_ = 0;
  int64_t in_flight_bytes_ = 0;  // taken and held by tickets
  uint64_t peak_bytes_ = 0, pauses_ = 0;
  bool paused_ = false;
  bool keep_eof_ = false;
  OffsetReset offset_reset_ = OffsetReset::latest;  // librdkafka's default

  FetchedPartitions partitions_;
  FetchedPartition* last_pulled_ = nullptr;  // most messages come from the same partition as the one before
  Clock::time_point last_pull_{};            // when the last message was taken from librdkafka
  FetcherWakeup wakeup_;
  MessageReaper reaper_;
  int64_t queue_limit_bytes_ = 65536 * 1024;  // librdkafka's queued.max.messages.kbytes, in bytes
  int64_t queue_limit_messages_ = 100000;     // and its queued.min.messages
};

}  // namespace kafka
}  // namespace cdc
