// Kafka Connect's JsonConverter: with schemas enabled every message is {"schema":S,"payload":P}.
// The pieces the decoder needs to read such messages fast: simdjson-padded buffers, and the cache
// of schema prefixes that lets a message skip parsing the schema its table always sends.
#pragma once

#include <simdjson.h>

#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "debezium/logical_types.h"

namespace cdc {
namespace decoding {

// A reused heap buffer with simdjson's padding (Kafka buffers are not padded).
class PaddedBuffer {
 public:
  // Copies head then tail (the text is their concatenation).
  simdjson::padded_string_view load(std::string_view text, std::string_view tail = {}) {
    const size_t size = text.size() + tail.size();
    size_t need = size + simdjson::SIMDJSON_PADDING;
    if (need > capacity_) {
      capacity_ = need < 4096 ? 4096 : need * 2;
      data_.reset(new char[capacity_]);
    }
    if (!text.empty()) std::memcpy(data_.get(), text.data(), text.size());
    if (!tail.empty()) std::memcpy(data_.get() + text.size(), tail.data(), tail.size());
    std::memset(data_.get() + size, 0, simdjson::SIMDJSON_PADDING);
    size_ = size;
    return simdjson::padded_string_view(data_.get(), size, capacity_);
  }
  const char* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
  size_t size_ = 0;
};

// JsonConverter with schemas writes {"schema":S,"payload":P}, and S is the same for every message
// of a table until its columns change: most of the bytes of a message, and most of the parsing
// time. Once a message has been decoded in full, its `{"schema":S,` prefix is remembered; a later
// message that starts with the byte-identical prefix, followed by `"payload":`, is decoded as
// `{"payload":P}` (what the full parse would have done with S: skip it, unread). The logical
// columns read from S are remembered with it, so they are read once per schema.
class SchemaPrefixes {
 public:
  static constexpr std::string_view kHead = R"({"schema":)";
  static constexpr std::string_view kPayload = R"("payload":)";

  // Length of the remembered prefix `text` starts with, 0 when none; columns: its schema's
  // logical columns (untouched when none matched).
  size_t match(std::string_view text, const LogicalColumns*& columns) {
    for (size_t i = 0; i < known_.size(); ++i) {
      size_t slot = (last_hit_ + i) % known_.size();
      const std::string& prefix = known_[slot].prefix;
      if (text.size() > prefix.size() + kPayload.size() &&
          std::memcmp(text.data(), prefix.data(), prefix.size()) == 0 &&
          text.compare(prefix.size(), kPayload.size(), kPayload) == 0) {
        last_hit_ = slot;
        columns = &known_[slot].columns;
        return prefix.size();
      }
    }
    return 0;
  }

  // text is a message just decoded in full; schema is the raw JSON of its schema object (a view
  // into the same bytes at the same offset). Remembers `{"schema":S,` when `"payload":` follows.
  void learn(std::string_view text, std::string_view schema_at, size_t schema_offset, const LogicalColumns& columns) {
    const size_t end = schema_offset + schema_at.size();
    if (schema_offset != kHead.size() || text.compare(0, kHead.size(), kHead) != 0 || end >= text.size() ||
        text[end] != ',' || text.compare(end + 1, kPayload.size(), kPayload) != 0 || end + 1 > kMaxPrefix)
      return;
    std::string_view prefix = text.substr(0, end + 1);
    for (const Known& known : known_)
      if (known.prefix == prefix) return;
    if (known_.size() < kMaxPrefixes) {
      known_.push_back(Known{std::string(prefix), columns});
    } else {
      Known& slot = known_[next_slot_++ % kMaxPrefixes];
      slot.prefix.assign(prefix.data(), prefix.size());
      slot.columns = columns;
    }
  }

 private:
  static constexpr size_t kMaxPrefixes = 16;       // tables (topics) interleaved in one consumer
  static constexpr size_t kMaxPrefix = 256 * 1024;  // a very wide table's schema
  struct Known {
    std::string prefix;
    LogicalColumns columns;
  };
  std::vector<Known> known_;
  size_t last_hit_ = 0;
  size_t next_slot_ = 0;
};

}  // namespace decoding
}  // namespace cdc
