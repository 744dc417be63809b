// A decoded Debezium message: what the rules and the JS handlers see.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cdc {

enum class EventKind { change, tombstone, heartbeat, transaction, schema_change };

// The one spelling of each kind outside C++ (JS events, explain output, lib/types.ts ChangeKind).
inline const char* event_kind_name(EventKind kind) {
  switch (kind) {
    case EventKind::change: return "change";
    case EventKind::tombstone: return "tombstone";
    case EventKind::heartbeat: return "heartbeat";
    case EventKind::transaction: return "transaction";
    case EventKind::schema_change: return "schemaChange";
  }
  return "change";
}

// Debezium's op letter; none for messages that carry no op (heartbeat, transaction, ...).
enum class Op : char {
  none = 0,
  create = 'c',
  update = 'u',
  remove = 'd',
  read = 'r',
  truncate = 't',
  message = 'm',
};

// JSON type of a Field's value, so a value can be written back as JSON (refresh, explain).
enum class FieldType : uint8_t {
  string,   // value is the unescaped text (also ObjectId hex, EJSON $date strings)
  number,   // value is the number token exactly as written
  boolean,  // "true" / "false"
  null,     // value empty, is_null set
  json,     // value is raw JSON text (arrays, unrecognised EJSON objects): not usable in keys
  json_text,  // a Json-typed column's text (io.debezium.data.Json): written as JSON, usable in keys as text
};

// One scalar of a row image. Nested objects are flattened: {"address":{"city":"X"}} gives the
// path "address.city". value holds the canonical text used in keys: a string without its
// quotes, an integer exactly as written, an ObjectId as its hex string, other numbers as written.
struct Field {
  std::string path;
  std::string value;
  bool is_null = false;
  bool is_unavailable = false;  // Debezium's "__debezium_unavailable_value" placeholder
  FieldType type = FieldType::string;
};

struct RowImage {
  bool present = false;       // false when the image is null or absent
  std::string json;           // the image as a JSON object text (MongoDB: the parsed EJSON)
  std::vector<Field> fields;  // every scalar, nested paths joined with '.'

  const Field* find(std::string_view path) const {
    for (const Field& f : fields)
      if (f.path == path) return &f;
    return nullptr;
  }
  void clear() {
    present = false;
    json.clear();
    fields.clear();
  }
};

struct SourceInfo {
  std::string connector;  // "postgresql", "mysql", "mongodb", or empty when unknown
  std::string db;
  std::string schema;     // PostgreSQL schema; empty for MySQL/MongoDB
  std::string table;      // table or MongoDB collection
  std::string name;       // the name rules match: "schema.table" (PG), "db.table" (MySQL/Mongo)
  std::string position;   // lsn / txId, binlog file:pos, Mongo ord; for logs and handlers
  int64_t ts_ms = 0;      // source (commit) timestamp in ms, 0 when unknown
};

struct ChangeEvent {
  EventKind kind = EventKind::change;
  Op op = Op::none;
  SourceInfo source;
  RowImage before;
  RowImage after;
  RowImage key;          // the decoded Kafka message key (fields usable as {key.x} in templates)
  bool key_looks_encoded = false;  // a key without a schema holds what looks like an encoded Decimal
  int64_t ts_ms = 0;     // when Debezium processed the event
  std::string tx_id;      // transaction.id of a data event, or the id of a transaction-metadata event
  std::string tx_status;  // "BEGIN" / "END" for EventKind::transaction
  std::string update_description;  // MongoDB updateDescription as raw JSON text, empty when absent

  void clear() {
    kind = EventKind::change;
    op = Op::none;
    source = SourceInfo{};
    before.clear();
    after.clear();
    key.clear();
    key_looks_encoded = false;
    ts_ms = 0;
    tx_id.clear();
    tx_status.clear();
    update_description.clear();
  }
};

}  // namespace cdc
