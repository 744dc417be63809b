// The Debezium envelope: op, before/after images, source, timestamps, transaction metadata; and
// the messages that are not data changes (schema changes, transaction markers, heartbeats).
#include "debezium/decoder_impl.h"

#include "debezium/json_text.h"

namespace cdc {

using namespace decoding;

void decoding::reset_event(ChangeEvent& e) {
  e.kind = EventKind::change;
  e.op = Op::none;
  e.source.connector.clear();
  e.source.db.clear();
  e.source.schema.clear();
  e.source.table.clear();
  e.source.name.clear();
  e.source.position.clear();
  e.source.ts_ms = 0;
  e.before.present = false;
  e.before.json.clear();
  e.after.present = false;
  e.after.json.clear();
  e.key.present = false;
  e.key.json.clear();
  e.key_looks_encoded = false;
  e.ts_ms = 0;
  e.tx_id.clear();
  e.tx_status.clear();
  e.update_description.clear();
}

void decoding::make_source_name(SourceInfo& s) {
  s.name.clear();
  if (s.table.empty()) return;
  // "schema.table" where the database has schemas (PostgreSQL, SQL Server, Oracle), else "db.table".
  const std::string& ns = !s.schema.empty() ? s.schema : s.db;
  if (!ns.empty()) {
    s.name.reserve(ns.size() + 1 + s.table.size());
    s.name.append(ns).push_back('.');
  }
  s.name.append(s.table);
}

Status Decoder::Impl::decode_payload(od::object& obj, ChangeEvent& out, bool wrapped) {
  PayloadScan scan;
  bool before_decoded = false, after_decoded = false;
  for (auto member : obj) {
    od::field field;
    CDC_JSON_TRY(std::move(member).get(field), "payload");
    std::string_view key;
    CDC_JSON_TRY(field.unescaped_key().get(key), "payload");
    ++scan.keys;
    if (key == "before" || key == "after") {
      const bool is_before = key == "before";
      (is_before ? scan.before : scan.after) = true;
      (is_before ? before_decoded : after_decoded) = true;
      Status st =
          decode_image(field.value(), is_before ? out.before : out.after, is_before ? "payload.before" : "payload.after", true);
      if (!st.ok() && json_error) return st;  // the iterator is unusable after a JSON error
      if (!st.ok() && scan.deferred.ok()) scan.deferred = st;
      continue;
    }
    CDC_TRY(read_payload_field(key, field.value(), scan, out));
  }
  if (!scan.have_ts_ms) {
    if (scan.have_ts_us) out.ts_ms = scan.ts_us / 1000;
    else if (scan.have_ts_ns) out.ts_ms = scan.ts_ns / 1000000;
  }
  if (!before_decoded) reset_image(out.before);
  if (!after_decoded) reset_image(out.after);
  return classify_payload(scan, out, wrapped);
}

// One envelope field other than the images; unknown fields are skipped unread.
Status Decoder::Impl::read_payload_field(std::string_view key, od::value v, PayloadScan& scan, ChangeEvent& out) {
  if (key == "op") {
    scan.op = true;
    od::json_type t;
    CDC_JSON_TRY(v.type().get(t), "payload.op");
    if (t != od::json_type::string)
      return Status::Error(std::string("payload.op: expected a string, got ") + type_name(t));
    std::string_view op;
    CDC_JSON_TRY(v.get_string().get(op), "payload.op");
    if (op.size() != 1 || !is_op_letter(op[0])) return Status::Error("payload.op: unknown op " + quote_for_message(op));
    out.op = static_cast<Op>(op[0]);
  } else if (key == "source") {
    return read_payload_source(v, scan, out);
  } else if (key == "ts_ms") {
    scan.ts_ms = true;
    return read_int(v, out.ts_ms, scan.have_ts_ms, "payload.ts_ms");
  } else if (key == "ts_us") {
    return read_int(v, scan.ts_us, scan.have_ts_us, "payload.ts_us");
  } else if (key == "ts_ns") {
    return read_int(v, scan.ts_ns, scan.have_ts_ns, "payload.ts_ns");
  } else if (key == "transaction" || key == "updateDescription") {
    return read_payload_object(key, v, out);
  } else if (key == "filter") {
    Status st = read_scalar_text(v, scan.filter_json, "payload.filter");
    if (!st.ok() && json_error) return st;  // the iterator is unusable after a JSON error
    if (!st.ok() && scan.deferred.ok()) scan.deferred = st;
  } else if (key == "databaseName") {
    scan.database_name = true;
  } else if (key == "ddl") {
    scan.ddl = true;
  } else if (key == "tableChanges") {
    scan.table_changes = true;
  } else if (key == "status") {
    od::json_type t;
    CDC_JSON_TRY(v.type().get(t), "payload.status");
    if (t == od::json_type::string) return read_string(v, scan.status, "payload.status");
  } else if (key == "id") {
    scan.id = true;
    od::json_type t;
    CDC_JSON_TRY(v.type().get(t), "payload.id");
    if (t == od::json_type::string || t == od::json_type::number) return read_scalar_text(v, scan.id_text, "payload.id");
  } else if (key == "data_collections" || key == "event_count") {
    scan.data_collections = true;
  }
  return Status::Ok();
}

Status Decoder::Impl::read_payload_source(od::value v, PayloadScan& scan, ChangeEvent& out) {
  od::json_type t;
  CDC_JSON_TRY(v.type().get(t), "payload.source");
  if (t == od::json_type::object) {
    scan.source = true;
    od::object src;
    CDC_JSON_TRY(v.get_object().get(src), "payload.source");
    Status st = decode_source(src, out.source);
    if (!st.ok() && json_error) return st;
    if (!st.ok() && scan.deferred.ok()) scan.deferred = st;
  } else if (t != od::json_type::null && scan.deferred.ok()) {
    scan.deferred = Status::Error(std::string("payload.source: expected an object, got ") + type_name(t));
  }
  return Status::Ok();
}

// `transaction` (its id) and `updateDescription` (MongoDB, kept as raw JSON), when objects.
Status Decoder::Impl::read_payload_object(std::string_view key, od::value v, ChangeEvent& out) {
  const bool transaction = key == "transaction";
  const char* at = transaction ? "payload.transaction" : "payload.updateDescription";
  od::json_type t;
  CDC_JSON_TRY(v.type().get(t), at);
  if (t != od::json_type::object) return Status::Ok();
  od::object obj;
  CDC_JSON_TRY(v.get_object().get(obj), at);
  if (transaction) {
    od::value id;
    if (!obj.find_field_unordered("id").get(id)) return read_scalar_text(id, out.tx_id, "payload.transaction.id");
    return Status::Ok();
  }
  std::string_view raw;
  CDC_JSON_TRY(obj.raw_json().get(raw), at);
  raw = trim_right(raw);
  out.update_description.assign(raw.data(), raw.size());
  return Status::Ok();
}

// What the envelope was: a data change, a schema change, a transaction marker, a heartbeat, or
// (no envelope keys at all) an ExtractNewRecordState row.
Status Decoder::Impl::classify_payload(PayloadScan& scan, ChangeEvent& out, bool wrapped) {
  if (scan.op) {
    out.kind = EventKind::change;
    if (!scan.deferred.ok()) return scan.deferred;
    if (!scan.source) return Status::Error("payload.source: missing (a data change must carry its source)");
    // MongoDB oplog era: updates/deletes identify the document only through `filter`.
    if (!out.before.present && !out.after.present && !scan.filter_json.empty())
      return decode_ejson(scan.filter_json, out.before, "payload.filter");
    return Status::Ok();
  }
  reset_image(out.before);
  reset_image(out.after);
  if (scan.database_name && (scan.ddl || scan.table_changes)) {
    out.kind = EventKind::schema_change;
    return Status::Ok();
  }
  if ((scan.status == "BEGIN" || scan.status == "END") && scan.id && scan.data_collections) {
    out.kind = EventKind::transaction;
    out.tx_status = scan.status;
    out.tx_id = scan.id_text;
    return Status::Ok();
  }
  if (scan.keys == 1 && scan.ts_ms) {
    out.kind = EventKind::heartbeat;
    return Status::Ok();
  }
  if (scan.source || (scan.before && scan.after)) return Status::Error("payload.op: missing");
  if (scan.keys == 0) return Status::Error("payload: empty object (not a Debezium message)");
  // No envelope keys: ExtractNewRecordState output. Walk the object again as a row.
  od::object row;
  CDC_TRY(rewind_to_payload(wrapped, row));
  reset_event(out);
  return decode_unwrapped(row, out);
}

namespace {

// The source position as one text: PostgreSQL lsn and txId, MySQL binlog file:pos, MongoDB ord.
void make_position(const SourceTexts& t, std::string& position) {
  if (!t.lsn.empty() || !t.tx_id.empty()) {
    if (!t.lsn.empty()) position.append("lsn=").append(t.lsn);
    if (!t.tx_id.empty()) {
      if (!position.empty()) position.push_back(',');
      position.append("txId=").append(t.tx_id);
    }
  } else if (!t.file.empty()) {
    position.append(t.file).push_back(':');
    position.append(t.pos);
  } else if (!t.ord.empty()) {
    position.append("ord=").append(t.ord);
  }
}

}  // namespace

// A part of the source position; when positions are not needed, only that it is there (the
// connector of an old message without `connector` is told by it).
Status Decoder::Impl::read_position(od::value v, std::string& out, const char* at) {
  if (needs.positions) return read_scalar_text(v, out, at);
  out.assign(1, '+');
  return Status::Ok();
}

Status Decoder::Impl::decode_source(od::object& obj, SourceInfo& s) {
  SourceTexts& t = source_texts;
  t.clear();
  bool mysql_hint = false, mongo_hint = false;
  int64_t ts_usec = 0;
  bool have_ts_ms = false, have_ts_usec = false;
  for (auto member : obj) {
    od::field field;
    CDC_JSON_TRY(std::move(member).get(field), "payload.source");
    std::string_view key;
    CDC_JSON_TRY(field.unescaped_key().get(key), "payload.source");
    Status st = Status::Ok();
    if (key == "connector") st = read_string(field.value(), s.connector, "payload.source.connector");
    else if (key == "db") st = read_string(field.value(), s.db, "payload.source.db");
    else if (key == "schema") st = read_string(field.value(), s.schema, "payload.source.schema");
    else if (key == "table") st = read_string(field.value(), s.table, "payload.source.table");
    else if (key == "collection") {
      st = read_string(field.value(), s.table, "payload.source.collection");
      mongo_hint = true;
    } else if (key == "ts_ms") st = read_int(field.value(), s.ts_ms, have_ts_ms, "payload.source.ts_ms");
    else if (key == "ts_usec") st = read_int(field.value(), ts_usec, have_ts_usec, "payload.source.ts_usec");
    else if (key == "lsn") st = read_position(field.value(), t.lsn, "payload.source.lsn");
    else if (key == "txId") st = read_position(field.value(), t.tx_id, "payload.source.txId");
    else if (key == "file") st = read_position(field.value(), t.file, "payload.source.file");
    else if (key == "pos") st = read_position(field.value(), t.pos, "payload.source.pos");
    else if (key == "ord") st = read_position(field.value(), t.ord, "payload.source.ord");
    else if (key == "server_id" || key == "gtid") mysql_hint = true;
    else if (key == "rs") mongo_hint = true;
    if (!st.ok()) return st;
  }
  if (!have_ts_ms && have_ts_usec) s.ts_ms = ts_usec / 1000;  // Debezium 0.x
  if (s.connector.empty()) {  // 0.x PostgreSQL has no `connector`
    if (mongo_hint) s.connector = "mongodb";
    else if (mysql_hint || !t.file.empty()) s.connector = "mysql";
    else if (!t.lsn.empty()) s.connector = "postgresql";
  }
  s.position.clear();
  if (needs.positions) make_position(t, s.position);
  make_source_name(s);
  return Status::Ok();
}

}  // namespace cdc
