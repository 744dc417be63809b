// Application messages (the topics of onMessage handlers): never decoded as Debezium. Each
// becomes one HandlerEvent per handler of its topic, its value checked on the engine thread
// (decode json: valid JSON, integers beyond 2^53 quoted so JavaScript gets their exact digits).
#pragma once

#include <librdkafka/rdkafkacpp.h>
#include <simdjson.h>

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "engine/config.h"
#include "engine/engine.h"
#include "kafka/message.h"

namespace cdc {

// The header a producer sets to give a message its id (lib/producer.ts MESSAGE_ID_HEADER).
constexpr const char* kMessageIdHeader = "cdc-cache-message-id";

class AppMessages {
 public:
  explicit AppMessages(const std::vector<MessageHandlerSpec>& specs);

  // Checked for every message: without message handlers (the usual case) no key is built.
  bool handles(std::string_view topic) const { return !by_topic_.empty() && by_topic_.count(std::string(topic)) > 0; }
  // The handlers of a topic handles() accepted.
  const std::vector<MessageHandlerSpec>& handlers_of(const std::string& topic) const { return by_topic_.at(topic); }
  std::vector<std::string> topics() const;
  // The event `spec`'s handler gets for `message`; an error when its value is not what the
  // handler decodes (invalid JSON).
  Status to_event(const kafka::Message& message, const MessageHandlerSpec& spec, HandlerEvent& out);

 private:
  std::unordered_map<std::string, std::vector<MessageHandlerSpec>> by_topic_;
  simdjson::dom::parser parser_;
};

}  // namespace cdc
