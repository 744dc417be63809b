// Turns the records a table reads into one packed Batch: keys and values back to back in two
// buffers (no allocation per record), so the JS side turns a batch into strings in one tight loop.
// Everything that can be done off the JS thread is done here: Debezium decoding, JSON validation
// of raw values (JS then parses a value lazily, on its first get()), the ASCII check that lets JS
// take a string as Latin-1 without UTF-8 decoding, and the byte accounting behind maxBytes.
// Owned by the table thread.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/log.h"
#include "debezium/change_event.h"
#include "debezium/decoder.h"
#include "table/size_index.h"
#include "table/table.h"

namespace cdc {
namespace table {

class BatchBuilder {
 public:
  BatchBuilder(const Settings& settings, LogFn log);
  ~BatchBuilder();

  // Adds one Kafka record (raw, or a Debezium change). What cannot be decoded is skipped and
  // counted; Debezium heartbeats, transaction metadata and schema changes are not rows.
  void add(const RdKafka::Message& message);

  bool full() const { return batch_.size() >= settings_.batch_records || bytes_ >= settings_.batch_bytes; }
  bool empty() const { return batch_.size() == 0 && batch_.decode_errors == 0; }
  // The batch so far; the builder starts a new one.
  Batch take();

 private:
  void add_raw(const RdKafka::Message& message);
  void add_debezium(const RdKafka::Message& message);
  void append(RecordKind kind, int32_t partition, int64_t offset, std::string_view key, std::string_view value);
  uint64_t account(RecordKind kind, std::string_view key, size_t value_size);
  bool valid_json(std::string_view value);
  void skip(int32_t partition, int64_t offset, const std::string& why);

  const Settings& settings_;
  LogFn log_;
  Batch batch_;
  size_t bytes_ = 0;
  uint64_t skipped_total_ = 0;
  Decoder decoder_;
  ChangeEvent event_;
  std::string key_text_;
  struct Json;
  std::unique_ptr<Json> json_;  // simdjson's DOM parser (full validation), kept out of this header
  SizeIndex sizes_;  // so the owner's apply is one Map write per record
  uint64_t total_bytes_ = 0;
};

}  // namespace table
}  // namespace cdc
