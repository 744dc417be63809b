// EngineLoop, its application-message side: messages of onMessage topics skip the Debezium
// decoder and the rules; each goes to its topic's handlers, whose acks (or dead letters) finish it.
#include <algorithm>
#include <utility>

#include "engine/engine_loop.h"

namespace cdc {

// The rules' topics (or pattern) and every onMessage topic.
std::vector<std::string> EngineLoop::subscription() const {
  std::vector<std::string> topics = config_.kafka.topics;
  if (topics.empty() && !config_.kafka.topic_pattern.empty()) topics.push_back(config_.kafka.topic_pattern);
  for (std::string& topic : app_messages_.topics())
    if (std::find(topics.begin(), topics.end(), topic) == topics.end()) topics.push_back(std::move(topic));
  return topics;
}

void EngineLoop::handle_app_message(kafka::Message& message, const PartitionPtr& partition) {
  const std::vector<MessageHandlerSpec>& specs = app_messages_.handlers_of(message.topic_name());
  std::vector<HandlerEvent> events(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    Status st = app_messages_.to_event(message, specs[i], events[i]);
    if (!st.ok()) return dead_letters_.send(make_pending(std::move(message), partition), "decode: " + st.message());
  }
  PendingPtr pending = make_pending(std::move(message), partition);
  pending->remaining = static_cast<int>(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) handlers_.add_event(specs[i].id, std::move(events[i]), pending);
}

}  // namespace cdc
