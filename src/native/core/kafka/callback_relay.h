// What librdkafka calls back into. A handle that must be leaked at shutdown (librdkafka#4312, a
// producer with lost delivery reports) keeps calling its callbacks, from its own threads too (log
// lines): they must never reach the engine that owned it. The relay forwards to the engine until
// detach(); after that every callback is a no-op, and the relay is leaked along with the handle.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <thread>

namespace cdc::kafka {

class CallbackRelay : public RdKafka::RebalanceCb,
                      public RdKafka::OffsetCommitCb,
                      public RdKafka::EventCb,
                      public RdKafka::DeliveryReportCb {
 public:
  struct Targets {
    RdKafka::RebalanceCb* rebalance = nullptr;
    RdKafka::OffsetCommitCb* offset_commit = nullptr;
    RdKafka::EventCb* event = nullptr;
    RdKafka::DeliveryReportCb* delivery = nullptr;
  };
  explicit CallbackRelay(Targets targets) : targets_(targets) {}

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    forward([&] { targets_.rebalance->rebalance_cb(consumer, err, partitions); });
  }
  void offset_commit_cb(RdKafka::ErrorCode err, std::vector<RdKafka::TopicPartition*>& offsets) override {
    forward([&] { targets_.offset_commit->offset_commit_cb(err, offsets); });
  }
  void event_cb(RdKafka::Event& event) override {
    forward([&] { targets_.event->event_cb(event); });
  }
  void dr_cb(RdKafka::Message& message) override {
    forward([&] { targets_.delivery->dr_cb(message); });
  }

  // From now on callbacks do nothing; returns once none is still running. Not from a callback.
  void detach() {
    detached_.store(true);
    while (active_.load() != 0) std::this_thread::yield();
  }

  // Runs `call` unless detached (exposed for tests).
  template <typename Call>
  void forward(Call&& call) {
    active_.fetch_add(1);
    if (!detached_.load()) call();
    active_.fetch_sub(1);
  }

 private:
  Targets targets_;
  std::atomic<bool> detached_{false};
  std::atomic<int> active_{0};
};

}  // namespace cdc::kafka
