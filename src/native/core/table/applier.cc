#include "table/applier.h"

#include <simdjson.h>

#include <utility>

#include "debezium/json_text.h"

namespace cdc {
namespace table {
namespace {

constexpr uint64_t kLoggedSkips = 10;  // then only counted

std::string_view key_of(const kafka::Message& message) {
  return message.key_pointer() ? std::string_view(static_cast<const char*>(message.key_pointer()), message.key_len())
                               : std::string_view();
}

std::string_view value_of(const kafka::Message& message) {
  return message.payload() ? std::string_view(static_cast<const char*>(message.payload()), message.len())
                           : std::string_view();
}

}  // namespace

bool is_ascii(std::string_view text) {
  unsigned char any = 0;
  for (char c : text) any |= static_cast<unsigned char>(c);
  return any < 0x80;
}

struct Applier::Json {
  simdjson::dom::parser parser, key_parser;
  std::string key;
};

void replace_invalid_utf8(std::string_view text, std::string& out) {
  static constexpr char kReplacement[] = "\xEF\xBF\xBD";
  out.clear();
  size_t i = 0, n = text.size();
  while (i < n) {
    auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      out.push_back(text[i++]);
      continue;
    }
    int need = 0;  // continuation bytes; the first one's range is narrower for some leads
    unsigned char low = 0x80, high = 0xBF;
    if (byte >= 0xC2 && byte <= 0xDF) need = 1;
    else if (byte == 0xE0) need = 2, low = 0xA0;
    else if (byte == 0xED) need = 2, high = 0x9F;
    else if (byte >= 0xE1 && byte <= 0xEF) need = 2;
    else if (byte == 0xF0) need = 3, low = 0x90;
    else if (byte == 0xF4) need = 3, high = 0x8F;
    else if (byte >= 0xF1 && byte <= 0xF3) need = 3;
    size_t j = i + 1;
    int have = 0;
    while (have < need && j < n && static_cast<unsigned char>(text[j]) >= low && static_cast<unsigned char>(text[j]) <= high) {
      ++have, ++j;
      low = 0x80, high = 0xBF;
    }
    if (need > 0 && have == need) {
      out.append(text.substr(i, j - i));
    } else {
      out.append(kReplacement, 3);  // an invalid byte, or the longest valid beginning of a sequence
    }
    i = j;
  }
}

void canonical_json(simdjson::dom::element element, std::string& out) {
  using simdjson::dom::element_type;
  switch (element.type()) {
    case element_type::ARRAY: {
      out.push_back('[');
      bool first = true;
      simdjson::dom::array array = element.get_array().value_unsafe();
      for (simdjson::dom::element item : array) {
        if (!first) out.push_back(',');
        first = false;
        canonical_json(item, out);
      }
      out.push_back(']');
      return;
    }
    case element_type::OBJECT: {
      out.push_back('{');
      bool first = true;
      simdjson::dom::object object = element.get_object().value_unsafe();
      for (simdjson::dom::key_value_pair field : object) {
        if (!first) out.push_back(',');
        first = false;
        append_json_string(out, field.key);  // escaped as JSON.stringify escapes
        out.push_back(':');
        canonical_json(field.value, out);
      }
      out.push_back('}');
      return;
    }
    case element_type::STRING:
      append_json_string(out, element.get_string().value_unsafe());
      return;
    case element_type::DOUBLE: {
      double value = element.get_double().value_unsafe();
      // JS writes integral numbers without a fraction (1.0 -> 1, 1e2 -> 100).
      if (value > -1e18 && value < 1e18 && value == static_cast<double>(static_cast<int64_t>(value))) {
        out += std::to_string(static_cast<int64_t>(value));
        return;
      }
      out += simdjson::minify(element);
      return;
    }
    default:
      out += simdjson::minify(element);  // integers, true, false, null
      return;
  }
}

Applier::Applier(const Settings& settings, Store& store, const std::atomic<bool>& report_changes, LogFn log)
    : settings_(settings), store_(store), report_changes_(report_changes), log_(std::move(log)), json_(std::make_unique<Json>()) {}

Applier::~Applier() = default;

void Applier::add(const kafka::Message& message) {
  if (failed_) return;
  if (settings_.debezium) {
    add_debezium(message);
  } else {
    add_raw(message);
  }
}

void Applier::prefetch(const kafka::Message& message) const {
  if (!settings_.debezium && !settings_.json_keys && message.err() == RdKafka::ERR_NO_ERROR) store_.prefetch(key_of(message));
}

void Applier::add_raw(const kafka::Message& message) {
  std::string_view key = key_of(message);
  if (settings_.json_keys) key = json_key(key);
  else if (settings_.text_keys) key = text_key(key);
  if (message.payload() == nullptr) {
    apply(RecordKind::remove, message.partition(), message.offset(), key, {});
    return;
  }
  std::string_view value = value_of(message);
  if (settings_.json_values && !valid_json(value)) {
    skip(message.partition(), message.offset(), "value is not JSON");
    return;
  }
  apply(RecordKind::upsert, message.partition(), message.offset(), key, value);
}

void Applier::add_debezium(const kafka::Message& message) {
  Status st = decoder_.decode(value_of(message), message.payload() == nullptr, key_of(message), event_);
  if (st.ok() && event_.kind == EventKind::change && event_.op == Op::truncate) {
    apply(RecordKind::clear, message.partition(), message.offset(), {}, {});
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
    apply(RecordKind::remove, message.partition(), message.offset(), key_text_, {});
  } else {
    apply(RecordKind::upsert, message.partition(), message.offset(), key_text_, event_.after.json);
  }
}

// The owner hears of a record when it asked for every change, when it held a copy of the key's
// value (now outdated), or when the whole table was cleared.
void Applier::apply(RecordKind kind, int32_t partition, int64_t offset, std::string_view key, std::string_view value) {
  ++batch_.applied;
  bool reporting = report_changes_.load(std::memory_order_relaxed);
  std::string* previous = reporting ? &previous_ : nullptr;
  Store::Written written;
  if (kind == RecordKind::upsert) {
    written = store_.upsert(key, value, previous);
  } else if (kind == RecordKind::remove) {
    written = store_.remove(key, previous);
  } else {
    store_.clear();
  }
  if (kind == RecordKind::clear || written.read || (reporting && (written.existed || kind == RecordKind::upsert)))
    report(kind, partition, offset, key, reporting ? value : std::string_view(), reporting && written.existed ? previous : nullptr,
           reporting);
  if (kind == RecordKind::upsert) check_max_bytes(partition, offset);
}

void Applier::report(RecordKind kind, int32_t partition, int64_t offset, std::string_view key, std::string_view value,
                     const std::string* previous, bool reporting) {
  std::string_view before = previous ? std::string_view(*previous) : std::string_view();
  batch_.keys.append(key);
  batch_.values.append(value);
  batch_.previous.append(before);
  batch_.key_ends.push_back(static_cast<uint32_t>(batch_.keys.size()));
  batch_.value_ends.push_back(static_cast<uint32_t>(batch_.values.size()));
  batch_.previous_ends.push_back(static_cast<uint32_t>(batch_.previous.size()));
  batch_.kinds.push_back(kind);
  batch_.flags.push_back(static_cast<uint8_t>((is_ascii(key) ? kKeyAscii : 0) | (is_ascii(value) ? kValueAscii : 0) |
                                              (is_ascii(before) ? kPreviousAscii : 0) | (reporting ? kReported : 0) |
                                              (previous ? kHadPrevious : 0)));
  batch_.partitions.push_back(partition);
  batch_.offsets.push_back(offset);
  bytes_ += key.size() + value.size() + before.size() + 40;  // 40: the per-record entries of the other arrays
}

void Applier::check_max_bytes(int32_t partition, int64_t offset) {
  if (settings_.max_bytes == 0 || store_.bytes() <= settings_.max_bytes) return;
  failed_ = true;
  batch_.failure = "maxBytes exceeded: " + std::to_string(store_.bytes()) + " bytes in " + std::to_string(store_.entries()) +
                   " entries > maxBytes " + std::to_string(settings_.max_bytes) + " (at partition " + std::to_string(partition) +
                   " offset " + std::to_string(offset) + "); the table stopped loading: raise maxBytes or shrink the topic";
}

// Full validation (simdjson's DOM parser), so JSON.parse on the JS side does not fail later. A
// number simdjson cannot hold (an integer beyond 64 bits, 1e400) is valid JSON to JSON.parse: such
// a value passes, and the JS side checks it when it parses it.
bool Applier::valid_json(std::string_view value) {
  simdjson::error_code error = json_->parser.parse(value.data(), value.size()).error();
  return error == simdjson::SUCCESS || error == simdjson::NUMBER_ERROR;
}

// A JSON key as JSON.stringify writes it (get() looks keys up that way); a key that is not JSON
// is kept as it is.
std::string_view Applier::json_key(std::string_view key) {
  simdjson::dom::element element;
  if (json_->key_parser.parse(key.data(), key.size()).get(element) != simdjson::SUCCESS) return key;
  json_->key.clear();
  canonical_json(element, json_->key);
  return json_->key;
}

std::string_view Applier::text_key(std::string_view key) {
  if (is_ascii(key) || simdjson::validate_utf8(key.data(), key.size())) return key;
  replace_invalid_utf8(key, json_->key);
  return json_->key;
}

void Applier::skip(int32_t partition, int64_t offset, const std::string& why) {
  ++batch_.decode_errors;
  if (++skipped_total_ <= kLoggedSkips && log_)
    log_(LogLevel::warn, "table " + settings_.topic + ": skipped partition " + std::to_string(partition) + " offset " +
                             std::to_string(offset) + ": " + why);
}

Batch Applier::take() {
  Batch out = std::move(batch_);
  out.bytes = store_.bytes();
  out.entries = store_.entries();
  batch_ = Batch{};
  bytes_ = 0;
  return out;
}

}  // namespace table
}  // namespace cdc
