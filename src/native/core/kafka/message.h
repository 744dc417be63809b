// A consumed message: librdkafka's C message, held directly and destroyed with it. (The C++ API
// wraps each message in a heap object of its own, one more allocation and free per message.) The
// accessors are named as RdKafka::Message's. Move-only; an empty Message holds nothing.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace cdc {
namespace kafka {

class Message {
 public:
  Message() = default;
  explicit Message(rd_kafka_message_t* raw) : raw_(raw) {}
  Message(Message&& other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
  Message& operator=(Message&& other) noexcept {
    if (this != &other) {
      reset();
      raw_ = std::exchange(other.raw_, nullptr);
    }
    return *this;
  }
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;
  ~Message() { reset(); }

  explicit operator bool() const { return raw_ != nullptr; }
  void reset() {
    if (raw_) rd_kafka_message_destroy(std::exchange(raw_, nullptr));
  }

  RdKafka::ErrorCode err() const { return static_cast<RdKafka::ErrorCode>(raw_->err); }
  std::string errstr() const {
    const char* text = rd_kafka_message_errstr(raw_);  // NULL for a message without an error
    return text ? text : "";
  }
  // The topic without a copy; empty when the message has none (some errors).
  std::string_view topic() const { return raw_->rkt ? std::string_view(rd_kafka_topic_name(raw_->rkt)) : std::string_view(); }
  std::string topic_name() const { return std::string(topic()); }
  int32_t partition() const { return raw_->partition; }
  int64_t offset() const { return raw_->offset; }
  const void* payload() const { return raw_->payload; }
  size_t len() const { return raw_->len; }
  const void* key_pointer() const { return raw_->key; }
  size_t key_len() const { return raw_->key_len; }
  RdKafka::MessageTimestamp timestamp() const {
    rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    RdKafka::MessageTimestamp out;
    out.timestamp = rd_kafka_message_timestamp(raw_, &type);
    out.type = static_cast<RdKafka::MessageTimestamp::MessageTimestampType>(type);  // the same values
    return out;
  }
  // use(name, value, size) for each header, in order; value is nullptr for a null header.
  template <typename Use>
  void each_header(Use&& use) const {
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(raw_, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i)
      use(std::string_view(name), value, size);
  }

 private:
  rd_kafka_message_t* raw_ = nullptr;
};

}  // namespace kafka
}  // namespace cdc
