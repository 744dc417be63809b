// The decoder's insides, shared by the files that each read one part of a Debezium message:
//   decoder.cc         the message value and key (entry points)
//   json_converter.cc  the {"schema","payload"} wrapper and the schema-prefix cache
//   envelope.cc        the Debezium envelope: op, before/after, source, ts, transaction metadata
//   unwrapped.cc       ExtractNewRecordState rows (flattened, with __ metadata fields)
//   row_image.cc       row images: JSON values flattened into fields; scalar readers
//   extended_json.cc   MongoDB Extended JSON (string images, $-wrappers, keys)
// Internal to debezium/.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "debezium/change_event.h"
#include "debezium/decoder.h"
#include "debezium/image_builder.h"
#include "debezium/json_converter.h"
#include "debezium/json_scalars.h"
#include "debezium/logical_types.h"

// Like SIMDJSON_TRY: a simdjson call that must succeed, else the enclosing function returns
// "<at>: malformed JSON (...)" and the decoder remembers that the iterator is unusable.
#define CDC_JSON_TRY(expr, at)                                                      \
  do {                                                                              \
    if (simdjson::error_code cdc_json_error_ = (expr)) return json_err(cdc_json_error_, at); \
  } while (0)
// The same for the second-level parse of a MongoDB Extended JSON string.
#define CDC_EJSON_TRY(expr, at)                                                          \
  do {                                                                                   \
    if (simdjson::error_code cdc_json_error_ = (expr)) return invalid_ejson(cdc_json_error_, at); \
  } while (0)
// A Status that must be ok, else the enclosing function returns it.
#define CDC_TRY(expr)                                \
  do {                                               \
    ::cdc::Status cdc_status_ = (expr);              \
    if (!cdc_status_.ok()) return cdc_status_;       \
  } while (0)

namespace cdc {

namespace decoding {

constexpr int kMaxDepth = 64;  // nesting cap for row images: no unbounded recursion on hostile input
constexpr std::string_view kUnavailable = "__debezium_unavailable_value";

// Clears an event for reuse, keeping string capacity where that is free to do.
void reset_event(ChangeEvent& e);
// "schema.table" where the database has schemas (PostgreSQL, SQL Server, Oracle), else "db.table".
void make_source_name(SourceInfo& s);
Status invalid_ejson(simdjson::error_code e, const char* at);

// What one pass over an envelope's fields saw (decode_payload).
struct PayloadScan {
  bool op = false, source = false, before = false, after = false, ts_ms = false;
  bool database_name = false, ddl = false, table_changes = false, id = false, data_collections = false;
  size_t keys = 0;
  int64_t ts_us = 0, ts_ns = 0;
  bool have_ts_ms = false, have_ts_us = false, have_ts_ns = false;
  std::string filter_json;  // MongoDB oplog-era `filter`
  std::string status, id_text;  // transaction metadata
  Status deferred = Status::Ok();  // image/source errors matter only once this is a data change
};

// Source position fields, kept across messages so their capacity is reused (binlog file names
// are too long for the small-string buffer).
struct SourceTexts {
  std::string lsn, tx_id, file, pos, ord;
  void clear() {
    lsn.clear();
    tx_id.clear();
    file.clear();
    pos.clear();
    ord.clear();
  }
};

}  // namespace decoding

namespace od = simdjson::ondemand;

struct Decoder::Impl {
  using PaddedBuffer = decoding::PaddedBuffer;
  using SchemaPrefixes = decoding::SchemaPrefixes;
  using ImageBuilder = decoding::ImageBuilder;

  od::parser parser;        // the message value, then the key
  od::parser ejson_parser;  // MongoDB Extended JSON strings inside the value (second-level parse)
  PaddedBuffer value_buf, key_buf, ejson_buf;
  // The value document. A second pass over it goes through doc.rewind(), never object::reset():
  // rewind also resets simdjson's string buffer, which is sized for ONE pass of unescaping, so
  // re-unescaping the same strings after object::reset() could overflow it (found by fuzzing).
  od::document doc;
  // A JSON error left the iterator unusable: no second pass over this document. Kept on the
  // decoder like hiredis keeps its error on the context; decode() clears it.
  bool json_error = false;
  // Where flattening is, for error messages: the image ("payload.after") and the dotted field path.
  std::string where, path;
  decoding::SourceTexts source_texts;
  SchemaPrefixes value_schemas, key_schemas;
  simdjson::dom::parser schema_validator;  // full validation, for a schema about to be remembered
  // This document's schema object, noted while it is read in full (base: the document's text).
  struct {
    const char* base = nullptr;
    std::string_view raw;
    bool valid = false;  // valid JSON on its own (see remember_schema)
  } noted_schema;
  // The logical columns of the document being read (its noted or its known schema), null when
  // it has no schema; they decode the row images (logical_row.cc).
  decoding::LogicalColumns noted_columns;
  const decoding::LogicalColumns* logical = nullptr;
  DecodeNeeds needs;
  std::string unneeded_json;  // the image JSON flatten_logical writes while only columns are needed

  // decoder.cc
  Status decode(std::string_view value, bool value_is_null, std::string_view key, ChangeEvent& out);
  Status decode_value(std::string_view value, ChangeEvent& out);
  Status decode_value_text(std::string_view value, size_t skip, ChangeEvent& out, bool& wrapped);
  Status decode_key(std::string_view key, ChangeEvent& out);
  Status decode_key_json(std::string_view key, ChangeEvent& out);
  // What the first pass over a key object found.
  struct KeyShape {
    bool wrapped = false, saw_other = false;
    od::json_type payload_type = od::json_type::null;
  };
  Status scan_key_shape(od::object& root, KeyShape& shape);
  Status decode_key_payload(od::object& root, od::json_type payload_type, ChangeEvent& out);
  Status decode_key_object(od::object& root, ChangeEvent& out);
  void set_opaque_key(std::string_view text, RowImage& key);

  // json_converter.cc
  simdjson::error_code begin_document(PaddedBuffer& buffer, std::string_view text, size_t skip);
  void remember_schema(SchemaPrefixes& prefixes, std::string_view text);
  void read_noted_schema();
  simdjson::error_code note_schema(od::field& field);
  Status decode_root(od::object& root, ChangeEvent& out, bool& wrapped);
  Status decode_wrapped_payload(od::value v, ChangeEvent& out, bool& payload_null, Status& status);
  Status rewind_to_payload(bool wrapped, od::object& out);

  // envelope.cc
  Status decode_payload(od::object& obj, ChangeEvent& out, bool wrapped);
  Status read_payload_field(std::string_view key, od::value v, decoding::PayloadScan& scan, ChangeEvent& out);
  Status read_payload_source(od::value v, decoding::PayloadScan& scan, ChangeEvent& out);
  Status read_payload_object(std::string_view key, od::value v, ChangeEvent& out);
  Status classify_payload(decoding::PayloadScan& scan, ChangeEvent& out, bool wrapped);
  Status decode_source(od::object& obj, SourceInfo& s);
  Status read_position(od::value v, std::string& out, const char* at);

  // unwrapped.cc
  Status decode_unwrapped(od::object& obj, ChangeEvent& out);
  Status read_unwrapped_metadata(std::string_view key, od::value v, bool& deleted, char& op, ChangeEvent& out);

  // row_image.cc
  std::string where_text() const;
  Status json_err(simdjson::error_code e, const std::string& at);
  Status read_string(od::value v, std::string& out, const char* at);
  Status read_scalar_text(od::value v, std::string& out, const char* at);
  Status read_int(od::value v, int64_t& out, bool& found, const char* at);
  // row: a before/after image, decoded as `needs` says (else the key's payload, always whole).
  Status decode_image(od::value v, RowImage& image, const char* at, bool row = false);
  Status decode_needed_columns(od::object& obj, RowImage& image);
  bool column_needed(std::string_view column) const;
  Status flatten_value(od::value v, ImageBuilder& b, int depth, std::string_view* raw_out);
  Status flatten_nested(od::value v, od::json_type t, ImageBuilder& b, int depth, std::string_view* raw_out);
  Status flatten_scalar(od::value v, od::json_type t, ImageBuilder& b, std::string_view* raw_out);
  Status flatten_object(od::object& obj, ImageBuilder& b, int depth, std::string_view raw);

  // logical_row.cc
  bool has_logical_columns() const { return logical && !logical->empty(); }
  Status decode_logical_row(od::object& obj, RowImage& image);
  Status flatten_column(std::string_view key, od::value v, ImageBuilder& b, std::string& json);
  Status flatten_logical(od::value v, const decoding::LogicalColumn& column, ImageBuilder& b, std::string& json);
  Status logical_number(od::value v, const decoding::LogicalColumn& column, Field& f);
  Status variable_decimal(od::value v, Field& f);
  void note_encoded_key(ChangeEvent& out);

  // extended_json.cc
  Status ejson_scalar(std::string_view key, od::value v, ImageBuilder& b, std::string_view raw);
  Status decode_ejson(std::string_view text, RowImage& image, const char* at);
  void normalize_mongo_key(ChangeEvent& out);
};

}  // namespace cdc
