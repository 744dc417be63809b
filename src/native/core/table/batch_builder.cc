#include "table/batch_builder.h"

#include <simdjson.h>

#include <utility>

namespace cdc {
namespace table {
namespace {

constexpr uint64_t kLoggedSkips = 10;  // then only counted

bool ascii(std::string_view text) {
  unsigned char any = 0;
  for (char c : text) any |= static_cast<unsigned char>(c);
  return any < 0x80;
}

std::string_view key_of(const RdKafka::Message& message) {
  return message.key_pointer() ? std::string_view(static_cast<const char*>(message.key_pointer()), message.key_len())
                               : std::string_view();
}

std::string_view value_of(const RdKafka::Message& message) {
  return message.payload() ? std::string_view(static_cast<const char*>(message.payload()), message.len())
                           : std::string_view();
}

}  // namespace

struct BatchBuilder::Json {
  simdjson::dom::parser parser;
};

BatchBuilder::BatchBuilder(const Settings& settings, LogFn log)
    : settings_(settings), log_(std::move(log)), json_(std::make_unique<Json>()) {}

BatchBuilder::~BatchBuilder() = default;

void BatchBuilder::add(const RdKafka::Message& message) {
  if (settings_.debezium) {
    add_debezium(message);
  } else {
    add_raw(message);
  }
}

void BatchBuilder::add_raw(const RdKafka::Message& message) {
  if (message.payload() == nullptr) {
    append(RecordKind::remove, message.partition(), message.offset(), key_of(message), {});
    return;
  }
  std::string_view value = value_of(message);
  if (settings_.json_values && !valid_json(value)) {
    skip(message.partition(), message.offset(), "value is not JSON");
    return;
  }
  append(RecordKind::upsert, message.partition(), message.offset(), key_of(message), value);
}

void BatchBuilder::add_debezium(const RdKafka::Message& message) {
  Status st = decoder_.decode(value_of(message), message.payload() == nullptr, key_of(message), event_);
  if (st.ok() && event_.kind == EventKind::change && event_.op == Op::truncate) {
    append(RecordKind::clear, message.partition(), message.offset(), {}, {});
    return;
  }
  bool row = event_.kind == EventKind::tombstone || (event_.kind == EventKind::change && event_.op != Op::message);
  if (st.ok() && !row) return;  // heartbeats, transaction metadata, schema changes, logical messages
  if (st.ok() && !debezium_key_text(event_.key, key_text_)) st = Status::Error("key: no primary key field usable as text");
  if (!st.ok()) {
    skip(message.partition(), message.offset(), st.message());
    return;
  }
  if (event_.kind == EventKind::tombstone || event_.op == Op::remove || !event_.after.present) {
    append(RecordKind::remove, message.partition(), message.offset(), key_text_, {});
  } else {
    append(RecordKind::upsert, message.partition(), message.offset(), key_text_, event_.after.json);
  }
}

void BatchBuilder::append(RecordKind kind, int32_t partition, int64_t offset, std::string_view key,
                          std::string_view value) {
  batch_.keys.append(key);
  batch_.values.append(value);
  batch_.key_ends.push_back(static_cast<uint32_t>(batch_.keys.size()));
  batch_.value_ends.push_back(static_cast<uint32_t>(batch_.values.size()));
  batch_.kinds.push_back(kind);
  batch_.ascii.push_back(static_cast<uint8_t>((ascii(key) ? kKeyAscii : 0) | (ascii(value) ? kValueAscii : 0)));
  batch_.partitions.push_back(partition);
  batch_.offsets.push_back(offset);
  batch_.totals.push_back(account(kind, key, value.size()));
  bytes_ += key.size() + value.size() + 40;  // 40: the per-record entries of the other arrays
}

uint64_t BatchBuilder::account(RecordKind kind, std::string_view key, size_t value_size) {
  if (kind == RecordKind::clear) {
    sizes_.clear();
    total_bytes_ = 0;
    return 0;
  }
  uint64_t hash = std::hash<std::string_view>{}(key);
  if (kind == RecordKind::remove) {
    total_bytes_ -= sizes_.remove(hash);
  } else {
    auto size = static_cast<uint32_t>(key.size() + value_size);
    total_bytes_ = total_bytes_ - sizes_.set(hash, size) + size;
  }
  return total_bytes_;
}

// Full validation (simdjson's DOM parser), so JSON.parse on the JS side does not fail later. A
// number simdjson cannot hold (an integer beyond 64 bits, 1e400) is valid JSON to JSON.parse: such
// a value passes, and the JS side checks it when it parses it.
bool BatchBuilder::valid_json(std::string_view value) {
  simdjson::error_code error = json_->parser.parse(value.data(), value.size()).error();
  return error == simdjson::SUCCESS || error == simdjson::NUMBER_ERROR;
}

void BatchBuilder::skip(int32_t partition, int64_t offset, const std::string& why) {
  ++batch_.decode_errors;
  if (++skipped_total_ <= kLoggedSkips && log_)
    log_(LogLevel::warn, "table " + settings_.topic + ": skipped partition " + std::to_string(partition) + " offset " +
                             std::to_string(offset) + ": " + why);
}

Batch BatchBuilder::take() {
  Batch out = std::move(batch_);
  batch_ = Batch{};
  bytes_ = 0;
  return out;
}

}  // namespace table
}  // namespace cdc
