// Applies the records a table reads to its Store and collects what the owner must be told into
// one packed Batch (keys and values back to back in a few buffers: no allocation per record).
// Everything is done here, off the JS thread: Debezium decoding, JSON validation of raw values (JS
// parses a value on its first get()), the ASCII check that lets JS take a string as Latin-1, and
// the maxBytes limit. Owned by the table thread.
#pragma once

#include <librdkafka/rdkafkacpp.h>
#include <simdjson.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/log.h"
#include "debezium/change_event.h"
#include "debezium/decoder.h"
#include "kafka/message.h"
#include "table/store.h"
#include "table/table.h"

namespace cdc {
namespace table {

// 7-bit ASCII only (JS can then take the text as Latin-1: a plain copy, no UTF-8 decoding).
bool is_ascii(std::string_view text);

// text with each invalid UTF-8 sequence replaced by U+FFFD, as JS (WHATWG) decodes it: a JS
// string looks the key up by its UTF-8 bytes, so a key must be held as it would come back.
void replace_invalid_utf8(std::string_view text, std::string& out);

// Appends a parsed JSON text as JSON.stringify(JSON.parse(text)) writes it: no whitespace, strings
// escaped only where JSON must, integral numbers without a fraction. Not yet like JS (README,
// "Keys"): integers beyond 2^53, numbers JS prints in another form (1e-05 for 0.00001), objects
// with integer-like or repeated keys.
void canonical_json(simdjson::dom::element element, std::string& out);

class Applier {
 public:
  Applier(const Settings& settings, Store& store, const std::atomic<bool>& report_changes, LogFn log);
  ~Applier();

  // Applies one Kafka record (raw, or a Debezium change). What cannot be decoded is skipped and
  // counted; Debezium heartbeats, transaction metadata and schema changes are not rows.
  void add(const kafka::Message& message);

  // Starts loading where the record's key goes while the one before is applied (raw keys only).
  void prefetch(const kafka::Message& message) const;

  // No more records are applied once maxBytes was exceeded (the batch says why).
  bool failed() const { return failed_; }
  bool full() const {
    return batch_.size() >= settings_.batch_records || bytes_ >= settings_.batch_bytes || batch_.applied >= settings_.batch_applied;
  }
  bool empty() const { return batch_.size() == 0 && batch_.decode_errors == 0 && batch_.applied == 0 && batch_.failure.empty(); }
  // The batch so far; the applier starts a new one.
  Batch take();

 private:
  void add_raw(const kafka::Message& message);
  void add_debezium(const kafka::Message& message);
  void apply(RecordKind kind, int32_t partition, int64_t offset, std::string_view key, std::string_view value);
  void report(RecordKind kind, int32_t partition, int64_t offset, std::string_view key, std::string_view value,
              const std::string* previous, bool reporting);
  void check_max_bytes(int32_t partition, int64_t offset);
  bool valid_json(std::string_view value);
  std::string_view json_key(std::string_view key);
  std::string_view text_key(std::string_view key);
  void skip(int32_t partition, int64_t offset, const std::string& why);

  const Settings& settings_;
  Store& store_;
  const std::atomic<bool>& report_changes_;
  LogFn log_;
  Batch batch_;
  size_t bytes_ = 0;
  uint64_t skipped_total_ = 0;
  bool failed_ = false;
  Decoder decoder_;
  ChangeEvent event_;
  std::string key_text_, previous_;
  struct Json;
  std::unique_ptr<Json> json_;  // simdjson's DOM parser (full validation), kept out of this header
};

}  // namespace table
}  // namespace cdc
