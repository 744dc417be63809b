// Dead letters: a message that cannot be applied goes to the dead-letter topic with headers naming
// the reason and its origin, or, without a topic, is logged and counted only. With a topic it is
// finished only once Kafka acknowledged its dead letter: a produce or delivery that fails is
// retried with backoff (unhealthy meanwhile) and its offset holds the partition's commit. One too
// large for the topic goes as a reference (headers only). Serves the producer's delivery reports.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "common/backoff.h"
#include "common/log.h"
#include "common/status.h"
#include "engine/pending.h"

namespace cdc {

class DeadLetters : public RdKafka::DeliveryReportCb {
 public:
  using FinishFn = std::function<void(const PendingPtr&)>;

  // counter: incremented per dead letter; finish: called once per message, when it is done with.
  DeadLetters(std::string topic, uint64_t& counter, FinishFn finish, LogFn log);

  // Only when a dead-letter topic is configured.
  Status create_producer(RdKafka::Conf& conf);

  void send(const PendingPtr& pending, const std::string& reason);
  // Sends again what Kafka refused or failed to deliver, once the backoff delay has passed.
  void retry();
  void poll(int timeout_ms) {
    if (producer_) producer_->poll(timeout_ms);
  }
  // Produced and not reported, or waiting for a retry.
  bool busy() const { return in_flight_ > 0 || !retry_.empty(); }
  bool in_flight() const { return in_flight_ > 0; }
  size_t unfinished() const { return in_flight_ + retry_.size(); }
  // Kafka refused the last dead letter: unhealthy until one passes.
  bool failing() const { return failing_; }
  // The producer had to be leaked (delivery reports missing after the purge).
  bool leaked() const { return leaked_; }
  // Stopping: waits up to timeout_ms for deliveries; false when some are left.
  bool flush(int timeout_ms);
  // Stopping: forgets what waits for a retry, purges what was produced (their reports release
  // their messages), then destroys the producer (or leaks it when reports are missing).
  void release();

  void dr_cb(RdKafka::Message& message) override;

 private:
  using Letter = std::pair<PendingPtr, std::string>;  // the message and the reason
  void produce(const PendingPtr& pending, const std::string& reason);
  void failed(const PendingPtr& pending, const std::string& reason, RdKafka::ErrorCode err, const char* stage);

  const std::string topic_;
  uint64_t& counter_;
  FinishFn finish_;
  LogFn log_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::deque<Letter> retry_;
  size_t in_flight_ = 0;
  bool failing_ = false, leaked_ = false, releasing_ = false;
  Backoff backoff_;
  std::chrono::steady_clock::time_point next_retry_{};
};

}  // namespace cdc
