// ExtractNewRecordState output: the flattened row plus `__` metadata fields.
#include "debezium/decoder_impl.h"

#include <utility>

#include "debezium/json_text.h"

namespace cdc {

using namespace decoding;

// ExtractNewRecordState output: the flattened row plus `__` metadata fields.
Status Decoder::Impl::decode_unwrapped(od::object& obj, ChangeEvent& out) {
  where.assign("payload");
  path.clear();
  reset_image(out.before);
  ImageBuilder b(out.after);
  std::string& json = out.after.json;
  json.push_back('{');
  bool deleted = false;
  char op = 0;
  for (auto member : obj) {
    od::field field;
    CDC_JSON_TRY(std::move(member).get(field), "payload");
    std::string_view key;
    CDC_JSON_TRY(field.unescaped_key().get(key), "payload");
    if (key.size() > 2 && key[0] == '_' && key[1] == '_') {
      CDC_TRY(read_unwrapped_metadata(key, field.value(), deleted, op, out));
      continue;  // metadata never becomes part of the row
    }
    CDC_TRY(flatten_column(key, field.value(), b, json));
  }
  path.clear();
  json.push_back('}');
  b.finish();
  if (op == 0) op = deleted ? 'd' : 'u';
  out.op = static_cast<Op>(op);
  if (deleted || op == 'd') std::swap(out.before, out.after);
  make_source_name(out.source);
  return Status::Ok();
}

// A `__` field added by the SMT (add.fields / add.headers): __deleted, __op, __table, __db,
// __source_ts_ms, ...
Status Decoder::Impl::read_unwrapped_metadata(std::string_view key, od::value v, bool& deleted, char& op,
                                              ChangeEvent& out) {
  const std::string at = "payload." + std::string(key);
  const bool from_source = key.substr(0, 9) == "__source_";
  const std::string_view name = key.substr(from_source ? 9 : 2);
  std::string text;
  if (name == "deleted") {
    CDC_TRY(read_scalar_text(v, text, at.c_str()));
    deleted = text == "true";
  } else if (name == "op") {
    CDC_TRY(read_scalar_text(v, text, at.c_str()));
    if (text.size() != 1 || !is_op_letter(text[0])) return Status::Error(at + ": unknown op " + quote_for_message(text));
    op = text[0];
  } else if (name == "table" || name == "collection") {
    return read_string(v, out.source.table, at.c_str());
  } else if (name == "db") {
    return read_string(v, out.source.db, at.c_str());
  } else if (name == "schema") {
    return read_string(v, out.source.schema, at.c_str());
  } else if (name == "connector") {
    return read_string(v, out.source.connector, at.c_str());
  } else if (name == "lsn" && needs.positions) {
    CDC_TRY(read_scalar_text(v, text, at.c_str()));
    if (!text.empty()) out.source.position = "lsn=" + text;
  } else if (name == "ts_ms") {
    bool found = false;
    return read_int(v, from_source ? out.source.ts_ms : out.ts_ms, found, at.c_str());
  }
  return Status::Ok();
}

}  // namespace cdc
