#include "engine/dead_letters.h"

namespace cdc {
namespace {

using std::chrono::milliseconds;

constexpr int kPurgeWaitMs = 5000;

std::string origin_of(const PendingMessage& pending) {
  return pending.partition->topic + "[" + std::to_string(pending.partition->partition) + "]@" +
         std::to_string(pending.offset);
}

}  // namespace

DeadLetters::DeadLetters(std::string topic, uint64_t& counter, FinishFn finish, LogFn log)
    : topic_(std::move(topic)),
      counter_(counter),
      finish_(std::move(finish)),
      log_(std::move(log)),
      backoff_(milliseconds(100), milliseconds(5000)) {}

Status DeadLetters::create_producer(RdKafka::Conf& conf) {
  std::string errstr;
  producer_.reset(RdKafka::Producer::create(&conf, errstr));
  if (!producer_) return Status::Error("kafka: cannot create the dead-letter producer: " + errstr);
  return Status::Ok();
}

void DeadLetters::send(const PendingPtr& pending, const std::string& reason) {
  ++counter_;
  log_(LogLevel::warn, "dead letter " + origin_of(*pending) + ": " + reason);
  if (!producer_) return finish_(pending);
  produce(pending, reason);
}

// The message is finished only when its dead letter is acknowledged (dr_cb): until then its
// offset holds the partition's commit.
void DeadLetters::produce(const PendingPtr& pending, const std::string& reason) {
  const kafka::Message& message = pending->message;
  RdKafka::Headers* headers = RdKafka::Headers::create();
  headers->add("cdc-cache-error", reason);
  headers->add("cdc-cache-topic", message.topic_name());
  headers->add("cdc-cache-partition", std::to_string(message.partition()));
  headers->add("cdc-cache-offset", std::to_string(pending->offset));
  const bool reference = pending->dead_letter_as_reference;  // too large: where to find it instead
  if (reference) headers->add("cdc-cache-payload-omitted", "message too large for the dead-letter topic");
  auto* opaque = new Letter(pending, reason);
  const void* key = reference ? nullptr : message.key_pointer();
  void* payload = reference ? nullptr : const_cast<void*>(message.payload());
  RdKafka::ErrorCode err = producer_->produce(topic_, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                              payload, payload ? message.len() : 0, key, key ? message.key_len() : 0, 0,
                                              headers, opaque);
  if (err == RdKafka::ERR_NO_ERROR) {
    ++in_flight_;  // the producer owns the headers now
    return;
  }
  delete headers;
  delete opaque;
  failed(pending, reason, err, "produce");
}

// Not taken by Kafka: retried with backoff (unhealthy meanwhile), never committed past. A full
// local queue is no failure: it is retried as soon as the delivery reports make room.
void DeadLetters::failed(const PendingPtr& pending, const std::string& reason, RdKafka::ErrorCode err,
                         const char* stage) {
  if (err == RdKafka::ERR_MSG_SIZE_TOO_LARGE) pending->dead_letter_as_reference = true;
  if (err != RdKafka::ERR__QUEUE_FULL) {
    if (!failing_ || backoff_.attempts() % 10 == 0)
      log_(LogLevel::error, std::string("dead-letter ") + stage + " failed for " + origin_of(*pending) +
                                ", retrying (not committed): " + RdKafka::err2str(err));
    failing_ = true;
    next_retry_ = std::chrono::steady_clock::now() + backoff_.next_delay();
  }
  retry_.emplace_back(pending, reason);
}

void DeadLetters::retry() {
  if (retry_.empty() || std::chrono::steady_clock::now() < next_retry_) return;
  size_t count = retry_.size();
  for (size_t i = 0; i < count; ++i) {
    Letter letter = std::move(retry_.front());
    retry_.pop_front();
    produce(letter.first, letter.second);
  }
}

void DeadLetters::dr_cb(RdKafka::Message& message) {
  std::unique_ptr<Letter> letter(static_cast<Letter*>(message.msg_opaque()));
  if (!letter) return;
  --in_flight_;
  if (message.err() != RdKafka::ERR_NO_ERROR && releasing_) return;  // purged at stop: stays uncommitted
  if (message.err() != RdKafka::ERR_NO_ERROR) return failed(letter->first, letter->second, message.err(), "delivery");
  if (retry_.empty()) failing_ = false;
  backoff_.reset();
  finish_(letter->first);
}

bool DeadLetters::flush(int timeout_ms) {
  return !producer_ || producer_->flush(timeout_ms) == RdKafka::ERR_NO_ERROR;
}

void DeadLetters::release() {
  releasing_ = true;
  retry_.clear();
  if (!producer_) return;
  // Undelivered dead letters hold their message through the delivery report's opaque: purge
  // them and serve the reports, then the producer can go.
  producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  auto deadline = std::chrono::steady_clock::now() + milliseconds(kPurgeWaitMs);
  do producer_->poll(10);
  while (in_flight_ > 0 && std::chrono::steady_clock::now() < deadline);
  if (in_flight_ > 0) {
    // Never expected (a purged message is reported at once). Their reports will not come: the
    // producer cannot be destroyed safely, nor can the consumer. Keep both rather than hang.
    log_(LogLevel::error, "dead-letter producer: " + std::to_string(in_flight_) +
                              " delivery report(s) missing after purge; leaking the producer");
    (void)producer_.release();
    leaked_ = true;
  } else {
    producer_.reset();
  }
}

}  // namespace cdc
