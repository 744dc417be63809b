#include "kafka/prefetching_consumer.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <utility>

namespace cdc {
namespace kafka {
namespace {
constexpr int kStartLookupTimeoutMs = 5000;  // then librdkafka looks the start up itself, as before
}  // namespace

PrefetchingConsumer::PrefetchingConsumer(int64_t limit_bytes, const std::atomic<bool>& stop, LogFn log)
    : limit_bytes_(limit_bytes), stop_(stop), log_(std::move(log)) {}

Status PrefetchingConsumer::create(RdKafka::Conf& conf) {
  std::string errstr;
  consumer_.reset(RdKafka::KafkaConsumer::create(&conf, errstr));
  if (!consumer_) return Status::Error("kafka: cannot create the consumer: " + errstr);
  // librdkafka's queue limits (ours or the user's): a pull that finds its queue near one of them
  // may follow a fetcher that stopped.
  std::string value;
  if (conf.get("queued.max.messages.kbytes", value) == RdKafka::Conf::CONF_OK)
    queue_limit_bytes_ = std::atoll(value.c_str()) * 1024;
  if (conf.get("queued.min.messages", value) == RdKafka::Conf::CONF_OK) queue_limit_messages_ = std::atoll(value.c_str());
  if (conf.get("auto.offset.reset", value) == RdKafka::Conf::CONF_OK) offset_reset_ = parse_offset_reset(value);
  return Status::Ok();
}

Status PrefetchingConsumer::subscribe(const std::vector<std::string>& topics) {
  RdKafka::ErrorCode err = consumer_->subscribe(topics);
  if (err != RdKafka::ERR_NO_ERROR) return Status::Error("kafka: subscribe failed: " + RdKafka::err2str(err));
  return Status::Ok();
}

void PrefetchingConsumer::destroy(bool leak) {
  reaper_.stop();
  if (leak) {
    (void)consumer_.release();
  } else {
    consumer_.reset();
  }
}

// The limit holds by construction: before each consume() past it, fetching is paused, and a paused
// partition's messages already in librdkafka's queue are not handed out (librdkafka fetches them
// again from the position after the last one taken, on resume). consume() is still called then,
// for the callbacks it serves.
bool PrefetchingConsumer::pull(int timeout_ms) {
  bool got = false;
  int64_t bytes = 0, messages = 0;
  if (timeout_ms > 0) reaper_.before_wait();
  while (!stop_.load(std::memory_order_relaxed)) {
    if (!paused_ && held_bytes() >= limit_bytes_) update_pause();
    // librdkafka's C call: the C++ consume() wraps each message in an allocation of its own.
    Message message(rd_kafka_consumer_poll(consumer_->c_ptr(), timeout_ms));
    if (!message) break;  // timed out
    RdKafka::ErrorCode err = message.err();
    if (err == RdKafka::ERR__TIMED_OUT) break;
    if (err == RdKafka::ERR__PARTITION_EOF && keep_eof_) {
      // The end reached, past transaction markers: the stall check must not chase a marker.
      if (FetchedPartition* partition = fetched_of(message))
        partition->fetched = std::max(partition->fetched, message.offset());
      buffer_.push_back(std::move(message));  // len() is 0: no bytes to account
      got = true;
      timeout_ms = 0;
      continue;
    }
    if (err != RdKafka::ERR_NO_ERROR) {
      if (err != RdKafka::ERR__PARTITION_EOF)
        log_(LogLevel::warn, "kafka: " + message.errstr() + (message.topic().empty() ? "" : " (" + message.topic_name() + ")"));
      break;
    }
    if (FetchedPartition* partition = fetched_of(message)) partition->fetched = message.offset() + 1;
    buffer_bytes_ += static_cast<int64_t>(message.len());
    bytes += static_cast<int64_t>(message.len());
    ++messages;
    peak_bytes_ = std::max(peak_bytes_, static_cast<uint64_t>(held_bytes()));
    buffer_.push_back(std::move(message));
    got = true;
    timeout_ms = 0;
  }
  if (!got) reaper_.before_wait();  // nothing to do: the owner waits for something else next
  if (got) {
    last_pull_ = Clock::now();
    // Half a limit: librdkafka counts a little differently (keys, headers), and a queue that
    // full means the thread was held up long enough for it anyway.
    if (bytes >= queue_limit_bytes_ / 2 || messages >= queue_limit_messages_ / 2) {
      wakeup_.arm();
    } else {
      wakeup_.disarm();  // messages trickle in: the fetchers are awake
    }
  }
  return got;
}

FetchedPartition* PrefetchingConsumer::fetched_of(const Message& message) {
  if (!last_pulled_ || last_pulled_->partition != message.partition() || last_pulled_->topic != message.topic()) {
    auto it = partitions_.find(partition_key(message.topic_name(), message.partition()));
    last_pulled_ = it == partitions_.end() ? nullptr : &it->second;
  }
  return last_pulled_;
}

void PrefetchingConsumer::drop_buffered(const TopicPartitions* only) {
  auto revoked = [&](const Message& message) {
    if (!only) return true;
    for (const RdKafka::TopicPartition* tp : *only)
      if (tp->partition() == message.partition() && tp->topic() == message.topic()) return true;
    return false;
  };
  std::deque<Message> kept;
  for (Message& message : buffer_) {
    if (revoked(message)) {
      buffer_bytes_ -= static_cast<int64_t>(message.len());
    } else {
      kept.push_back(std::move(message));
    }
  }
  buffer_.swap(kept);
}

void PrefetchingConsumer::update_pause() {
  if (!consumer_) return;
  const bool full = paused_ ? held_bytes() > limit_bytes_ / 2 : held_bytes() >= limit_bytes_;
  if (full == paused_) return;
  paused_ = full;
  TopicPartitions list;
  for (const auto& [key, partition] : partitions_)
    list.push_back(RdKafka::TopicPartition::create(partition.topic, partition.partition));
  set_paused(list, paused_);
  RdKafka::TopicPartition::destroy(list);
  if (paused_) {
    ++pauses_;
  } else {
    FetcherWakeup::wake(*consumer_, partitions_, log_);
  }
  log_(LogLevel::debug, paused_ ? "fetching paused: prefetch buffer full" : "fetching resumed");
}

void PrefetchingConsumer::set_paused(const TopicPartitions& partitions, bool paused) {
  if (partitions.empty()) return;
  // pause()/resume() take a non-const vector but only read it.
  auto& list = const_cast<TopicPartitions&>(partitions);
  RdKafka::ErrorCode err = paused ? consumer_->pause(list) : consumer_->resume(list);
  if (err != RdKafka::ERR_NO_ERROR)
    log_(LogLevel::warn, std::string("kafka: ") + (paused ? "pause" : "resume") + " failed: " + RdKafka::err2str(err));
}

void PrefetchingConsumer::assign(TopicPartitions& partitions, bool cooperative) {
  const auto lookup_began = std::chrono::steady_clock::now();
  resolve_start_offsets(*consumer_, offset_reset_, partitions, kStartLookupTimeoutMs, log_);
  const auto lookup_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - lookup_began).count();
  if (lookup_ms > 200)
    log_(LogLevel::warn, "kafka: start offsets of " + std::to_string(partitions.size()) + " partition(s) took " +
                             std::to_string(lookup_ms) + " ms");
  if (cooperative) {
    std::unique_ptr<RdKafka::Error> error(consumer_->incremental_assign(partitions));
    if (error) log_(LogLevel::error, "kafka: incremental assign failed: " + error->str());
  } else {
    RdKafka::ErrorCode code = consumer_->assign(partitions);
    if (code != RdKafka::ERR_NO_ERROR) log_(LogLevel::error, "kafka: assign failed: " + RdKafka::err2str(code));
  }
  for (RdKafka::TopicPartition* tp : partitions) {
    FetchedPartition fresh;
    fresh.topic = tp->topic();
    fresh.partition = tp->partition();
    partitions_[partition_key(fresh.topic, fresh.partition)] = std::move(fresh);
  }
  if (paused_) set_paused(partitions, true);
}

void PrefetchingConsumer::unassign(const TopicPartitions& partitions, bool cooperative) {
  drop_buffered(&partitions);
  for (RdKafka::TopicPartition* tp : partitions) partitions_.erase(partition_key(tp->topic(), tp->partition()));
  last_pulled_ = nullptr;
  if (cooperative) {
    std::unique_ptr<RdKafka::Error> error(consumer_->incremental_unassign(const_cast<TopicPartitions&>(partitions)));
    if (error) log_(LogLevel::error, "kafka: incremental unassign failed: " + error->str());
  } else {
    consumer_->unassign();
  }
}

void PrefetchingConsumer::unassign_all() {
  drop_buffered(nullptr);
  partitions_.clear();
  last_pulled_ = nullptr;
  consumer_->unassign();
}

void PrefetchingConsumer::wake_if_stalled(Clock::time_point now) {
  if (paused_ || !buffer_.empty()) return;
  wakeup_.wake_if_stalled(*consumer_, partitions_, now, last_pull_, log_);
}

int64_t PrefetchingConsumer::high_watermark(const std::string& topic, int32_t partition) {
  auto it = partitions_.find(partition_key(topic, partition));
  if (it == partitions_.end()) return -1;
  return consumer_ ? refresh_high_watermark(*consumer_, it->second) : it->second.high_watermark;
}

PrefetchStats PrefetchingConsumer::stats() const {
  return PrefetchStats{static_cast<uint64_t>(held_bytes()), peak_bytes_, pauses_, wakeup_.wakes(), reaper_.stats()};
}

}  // namespace kafka
}  // namespace cdc
