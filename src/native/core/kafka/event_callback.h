// librdkafka's event callback for the consumer and the dead-letter producer: log lines and errors
// become our log, and "all brokers down" is remembered until someone sees the brokers again.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <utility>

#include "common/log.h"

namespace cdc {
namespace kafka {

class EventCallback : public RdKafka::EventCb {
 public:
  explicit EventCallback(LogFn log) : log_(std::move(log)) {}

  // Log events may arrive on librdkafka's own threads: only log_ and brokers_down_ are used here.
  void event_cb(RdKafka::Event& event) override;

  // librdkafka reports "all brokers down" but nothing when they come back: whoever sees a broker
  // answer (a message, a commit, a metadata probe) clears it.
  bool brokers_down() const { return brokers_down_.load(std::memory_order_relaxed); }
  void brokers_seen() { brokers_down_.store(false, std::memory_order_relaxed); }

 private:
  LogFn log_;
  std::atomic<bool> brokers_down_{false};
};

}  // namespace kafka
}  // namespace cdc
