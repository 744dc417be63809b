#include "engine/app_messages.h"

#include <utility>

#include "common/safe_integers.h"

namespace cdc {

AppMessages::AppMessages(const std::vector<MessageHandlerSpec>& specs) {
  for (const MessageHandlerSpec& spec : specs) by_topic_[spec.topic].push_back(spec);
}

std::vector<std::string> AppMessages::topics() const {
  std::vector<std::string> out;
  for (const auto& entry : by_topic_) out.push_back(entry.first);
  return out;
}

Status AppMessages::to_event(const kafka::Message& message, const MessageHandlerSpec& spec, HandlerEvent& out) {
  out = HandlerEvent{};
  out.application = true;
  out.decode = static_cast<uint8_t>(spec.decode);
  out.topic = message.topic_name();
  out.partition = message.partition();
  out.offset = message.offset();
  RdKafka::MessageTimestamp timestamp = message.timestamp();
  out.timestamp_ms = timestamp.type == RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE ? -1 : timestamp.timestamp;
  if ((out.has_key = message.key_pointer() != nullptr))
    out.key_json.assign(static_cast<const char*>(message.key_pointer()), message.key_len());
  const char* payload = static_cast<const char*>(message.payload());
  out.has_value = payload != nullptr;
  std::string_view value(payload ? payload : "", payload ? message.len() : 0);
  if (out.has_value && spec.decode == MessageDecode::json) {
    // A number simdjson cannot hold (an integer beyond 64 bits, 1e400) is still JSON to JSON.parse.
    auto parsed = parser_.parse(value.data(), value.size(), true);
    if (parsed.error() && parsed.error() != simdjson::NUMBER_ERROR) return Status::Error(std::string("invalid JSON (") + simdjson::error_message(parsed.error()) + ")");
    out.value = quote_unsafe_integers(value);
  } else if (out.has_value) {
    out.value.assign(value);
  }
  message.each_header([&](std::string_view name, const void* value, size_t size) {
    std::string text = value ? std::string(static_cast<const char*>(value), size) : "";
    if (name == kMessageIdHeader && out.id.empty()) out.id = text;
    out.headers.emplace_back(std::string(name), std::move(text));
  });
  if (out.id.empty()) out.id = out.topic + "/" + std::to_string(out.partition) + "/" + std::to_string(out.offset);
  return Status::Ok();
}

}  // namespace cdc
