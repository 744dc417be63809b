#include "engine/dead_letters.h"

#include <chrono>

namespace cdc {
namespace {

constexpr int kPurgeWaitMs = 5000;

}  // namespace

DeadLetters::DeadLetters(std::string topic, uint64_t& counter, FinishFn finish, LogFn log)
    : topic_(std::move(topic)), counter_(counter), finish_(std::move(finish)), log_(std::move(log)) {}

Status DeadLetters::create_producer(RdKafka::Conf& conf) {
  std::string errstr;
  producer_.reset(RdKafka::Producer::create(&conf, errstr));
  if (!producer_) return Status::Error("kafka: cannot create the dead-letter producer: " + errstr);
  return Status::Ok();
}

void DeadLetters::send(const PendingPtr& pending, const std::string& reason) {
  ++counter_;
  const RdKafka::Message& message = *pending->message;
  const std::string origin = message.topic_name() + "[" + std::to_string(message.partition()) + "]@" +
                             std::to_string(pending->offset);
  log_(LogLevel::warn, "dead letter " + origin + ": " + reason);
  if (!producer_) return finish_(pending);

  RdKafka::Headers* headers = RdKafka::Headers::create();
  headers->add("cdc-cache-error", reason);
  headers->add("cdc-cache-topic", message.topic_name());
  headers->add("cdc-cache-partition", std::to_string(message.partition()));
  headers->add("cdc-cache-offset", std::to_string(pending->offset));
  auto* opaque = new PendingPtr(pending);
  const std::string* key = message.key();
  RdKafka::ErrorCode err = producer_->produce(
      topic_, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, const_cast<void*>(message.payload()),
      message.payload() ? message.len() : 0, key ? key->data() : nullptr, key ? key->size() : 0, 0, headers, opaque);
  if (err == RdKafka::ERR_NO_ERROR) {
    ++in_flight_;  // the producer owns the headers now
    return;
  }
  delete headers;
  delete opaque;
  if (err == RdKafka::ERR__QUEUE_FULL) {
    --counter_;  // counted again on retry
    retry_.emplace_back(pending, reason);
    return;
  }
  log_(LogLevel::error, "dead-letter produce failed for " + origin + ", event dropped: " + RdKafka::err2str(err));
  finish_(pending);
}

void DeadLetters::retry() {
  size_t count = retry_.size();
  for (size_t i = 0; i < count; ++i) {
    auto item = std::move(retry_.front());
    retry_.pop_front();
    send(item.first, item.second);
  }
}

void DeadLetters::dr_cb(RdKafka::Message& message) {
  std::unique_ptr<PendingPtr> holder(static_cast<PendingPtr*>(message.msg_opaque()));
  if (!holder) return;
  --in_flight_;
  if (message.err() != RdKafka::ERR_NO_ERROR) {
    // Never block the partition: the event is logged with its origin and given up.
    const PendingPtr& pending = *holder;
    log_(LogLevel::error, "dead-letter delivery failed for " + pending->partition->topic + "[" +
                              std::to_string(pending->partition->partition) + "]@" + std::to_string(pending->offset) +
                              ", event dropped: " + message.errstr());
  }
  finish_(*holder);
}

bool DeadLetters::flush(int timeout_ms) {
  return !producer_ || producer_->flush(timeout_ms) == RdKafka::ERR_NO_ERROR;
}

void DeadLetters::release() {
  retry_.clear();
  if (!producer_) return;
  // Undelivered dead letters hold their message through the delivery report's opaque: purge
  // them and serve the reports, then the producer can go.
  producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kPurgeWaitMs);
  do producer_->poll(10);
  while (in_flight_ > 0 && std::chrono::steady_clock::now() < deadline);
  if (in_flight_ > 0) {
    // Never expected (a purged message is reported at once). Their reports will not come: the
    // producer cannot be destroyed safely, nor can the consumer. Keep both rather than hang.
    log_(LogLevel::error, "dead-letter producer: " + std::to_string(in_flight_) +
                              " delivery report(s) missing after purge; leaking the producer");
    (void)producer_.release();
  } else {
    producer_.reset();
  }
}

}  // namespace cdc
