// Row images: a JSON object flattened into dotted-path fields (values kept as their text), and the
// scalar readers the envelope uses.
#include "debezium/decoder_impl.h"

namespace cdc {

using namespace decoding;

std::string Decoder::Impl::where_text() const {
  if (path.empty()) return where;
  return where + "." + path;
}

Status Decoder::Impl::json_err(simdjson::error_code e, const std::string& at) {
  json_error = true;
  return Status::Error(at + ": malformed JSON (" + simdjson::error_message(e) + ")");
}

// Reads a string-or-null value into out (null -> empty).
Status Decoder::Impl::read_string(od::value v, std::string& out, const char* at) {
  od::json_type t;
  CDC_JSON_TRY(v.type().get(t), at);
  if (t == od::json_type::null) {
    out.clear();
    return Status::Ok();
  }
  if (t != od::json_type::string)
    return Status::Error(std::string(at) + ": expected a string, got " + type_name(t));
  std::string_view s;
  CDC_JSON_TRY(v.get_string().get(s), at);
  out.assign(s.data(), s.size());
  return Status::Ok();
}

// Reads a scalar as canonical text (string unescaped, number raw, null -> empty).
Status Decoder::Impl::read_scalar_text(od::value v, std::string& out, const char* at) {
  od::json_type t;
  CDC_JSON_TRY(v.type().get(t), at);
  out.clear();
  switch (t) {
    case od::json_type::null: return Status::Ok();
    case od::json_type::string: return read_string(v, out, at);
    case od::json_type::number: {
      std::string_view tok = trim_right(v.raw_json_token());
      if (!is_json_number(tok)) return Status::Error(std::string(at) + ": invalid number");
      out.assign(tok.data(), tok.size());
      return Status::Ok();
    }
    case od::json_type::boolean: {
      bool b;
      CDC_JSON_TRY(v.get_bool().get(b), at);
      out = b ? "true" : "false";
      return Status::Ok();
    }
    default:
      return Status::Error(std::string(at) + ": expected a scalar, got " + type_name(t));
  }
}

// Integer-valued timestamps; anything else (null, absent) leaves out untouched.
Status Decoder::Impl::read_int(od::value v, int64_t& out, bool& found, const char* at) {
  od::json_type t;
  CDC_JSON_TRY(v.type().get(t), at);
  if (t != od::json_type::number) return Status::Ok();
  int64_t x;
  // simdjson's integer parser validates as it goes; a value it refuses (a float, out of range,
  // malformed) is not consumed, and the checks below decide as before.
  if (!v.get_int64().get(x)) {
    out = x;
    found = true;
    return Status::Ok();
  }
  std::string_view tok = trim_right(v.raw_json_token());
  if (!is_json_number(tok)) return Status::Error(std::string(at) + ": invalid number");
  if (parse_int64(tok, x)) {
    out = x;
    found = true;
  }
  return Status::Ok();
}

// A row image given as a JSON value: object, EJSON string (MongoDB) or null.
Status Decoder::Impl::decode_image(od::value v, RowImage& image, const char* at, bool row) {
  od::json_type t;
  CDC_JSON_TRY(v.type().get(t), at);
  if (t == od::json_type::null) {
    reset_image(image);
    return Status::Ok();
  }
  where.assign(at);
  path.clear();
  if (t == od::json_type::object) {
    od::object obj;
    CDC_JSON_TRY(v.get_object().get(obj), at);
    if (row && !needs.whole_images) return decode_needed_columns(obj, image);
    std::string_view raw;
    CDC_JSON_TRY(obj.raw_json().get(raw), at);
    raw = trim_right(raw);
    bool unused;
    CDC_JSON_TRY(obj.reset().get(unused), at);
    if (has_logical_columns()) return decode_logical_row(obj, image);
    ImageBuilder b(image);
    image.json.assign(raw.data(), raw.size());
    Status st = flatten_object(obj, b, 1, raw);
    b.finish();
    return st;
  }
  if (t == od::json_type::string) {
    std::string_view text;
    CDC_JSON_TRY(v.get_string().get(text), at);
    return decode_ejson(text, image, at);
  }
  return Status::Error(std::string(at) + ": expected an object, a string (MongoDB) or null, got " +
                       type_name(t));
}

// The columns `needs` lists, each flattened as in a whole image (logical types too); no JSON text.
Status Decoder::Impl::decode_needed_columns(od::object& obj, RowImage& image) {
  ImageBuilder b(image);
  Status st = Status::Ok();
  for (auto member : obj) {
    od::field field;
    CDC_JSON_TRY(std::move(member).get(field), where_text());
    std::string_view key;
    CDC_JSON_TRY(field.unescaped_key().get(key), where_text());
    if (!column_needed(key)) continue;  // the iterator skips its value unread
    path.assign(key.data(), key.size());
    const LogicalColumn* column = logical ? logical->find(key) : nullptr;
    st = column ? flatten_logical(field.value(), *column, b, unneeded_json) : flatten_value(field.value(), b, 1, nullptr);
    unneeded_json.clear();
    if (!st.ok()) break;
    path.clear();  // an error further on is not this column's
  }
  path.clear();
  b.finish();
  return st;
}

// A column named "a.b" flattens to the same path as column a's field b, so it is needed with a.
bool Decoder::Impl::column_needed(std::string_view column) const {
  for (const std::string& needed : needs.columns)
    if (column.size() >= needed.size() && column.compare(0, needed.size(), needed) == 0 &&
        (column.size() == needed.size() || column[needed.size()] == '.'))
      return true;
  return false;
}

// Flattens one value at `path` into the image. raw_out (optional) receives the value's raw JSON.
Status Decoder::Impl::flatten_value(od::value v, ImageBuilder& b, int depth, std::string_view* raw_out) {
  od::json_type t;
  CDC_JSON_TRY(v.type().get(t), where_text());
  if (t == od::json_type::object || t == od::json_type::array) return flatten_nested(v, t, b, depth, raw_out);
  return flatten_scalar(v, t, b, raw_out);
}

// An object is flattened member by member; an array stays one field with its JSON text.
Status Decoder::Impl::flatten_nested(od::value v, od::json_type t, ImageBuilder& b, int depth,
                                     std::string_view* raw_out) {
  std::string_view raw;
  if (t == od::json_type::object) {
    if (depth >= kMaxDepth)
      return Status::Error(where + ": nesting deeper than " + std::to_string(kMaxDepth) + " levels");
    od::object obj;
    CDC_JSON_TRY(v.get_object().get(obj), where_text());
    CDC_JSON_TRY(obj.raw_json().get(raw), where_text());
    raw = trim_right(raw);
    if (raw_out) *raw_out = raw;
    bool unused;
    CDC_JSON_TRY(obj.reset().get(unused), where_text());
    return flatten_object(obj, b, depth + 1, raw);
  }
  od::array arr;
  CDC_JSON_TRY(v.get_array().get(arr), where_text());
  CDC_JSON_TRY(arr.raw_json().get(raw), where_text());
  raw = trim_right(raw);
  if (raw_out) *raw_out = raw;
  Field& f = b.add(path);
  f.value.assign(raw.data(), raw.size());
  f.type = FieldType::json;
  return Status::Ok();
}

Status Decoder::Impl::flatten_scalar(od::value v, od::json_type t, ImageBuilder& b, std::string_view* raw_out) {
  switch (t) {
    case od::json_type::string: {
      if (raw_out) *raw_out = trim_right(v.raw_json_token());
      std::string_view s;
      CDC_JSON_TRY(v.get_string().get(s), where_text());
      Field& f = b.add(path);
      f.value.assign(s.data(), s.size());
      f.is_unavailable = s == kUnavailable;
      return Status::Ok();
    }
    case od::json_type::number: {
      std::string_view tok = trim_right(v.raw_json_token());
      if (!is_json_number(tok)) return Status::Error(where_text() + ": invalid number");
      if (raw_out) *raw_out = tok;
      Field& f = b.add(path);
      f.value.assign(tok.data(), tok.size());
      f.type = FieldType::number;
      return Status::Ok();
    }
    case od::json_type::boolean: {
      if (raw_out) *raw_out = trim_right(v.raw_json_token());
      bool x;
      CDC_JSON_TRY(v.get_bool().get(x), where_text());
      Field& f = b.add(path);
      f.value = x ? "true" : "false";
      f.type = FieldType::boolean;
      return Status::Ok();
    }
    case od::json_type::null: {
      if (raw_out) *raw_out = trim_right(v.raw_json_token());
      bool is_null = false;
      CDC_JSON_TRY(v.is_null().get(is_null), where_text());
      if (!is_null) return Status::Error(where_text() + ": invalid literal");
      Field& f = b.add(path);
      f.is_null = true;
      f.type = FieldType::null;
      return Status::Ok();
    }
    default: break;
  }
  return Status::Error(where_text() + ": unexpected JSON value");
}

// Flattens the members of obj under `path`. An object whose first key starts with '$' is a
// MongoDB Extended JSON wrapper ({"$oid": ...}, {"$numberLong": ...}, {"$date": ...}) and
// becomes one scalar; raw is the object's text, used for wrappers we do not interpret.
Status Decoder::Impl::flatten_object(od::object& obj, ImageBuilder& b, int depth, std::string_view raw) {
  size_t path_len = path.size();
  bool first = true;
  for (auto member : obj) {
    od::field field;
    CDC_JSON_TRY(std::move(member).get(field), where_text());
    std::string_view key;
    CDC_JSON_TRY(field.unescaped_key().get(key), where_text());
    if (first && depth > 1 && !key.empty() && key[0] == '$') return ejson_scalar(key, field.value(), b, raw);
    first = false;
    if (path_len != 0) path.push_back('.');
    path.append(key.data(), key.size());
    Status st = flatten_value(field.value(), b, depth, nullptr);
    path.resize(path_len);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

}  // namespace cdc
