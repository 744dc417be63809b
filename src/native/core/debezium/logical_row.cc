// Row images whose schema names logical types (logical_types.h): each such column is decoded to
// its PostgreSQL text, in the flattened fields (keys) and in the image's JSON (refreshed values,
// handlers). Images without logical columns never come here: their JSON is copied as it arrived.
#include "debezium/decoder_impl.h"

#include "debezium/json_text.h"

namespace cdc {

using namespace decoding;

// The image rebuilt column by column (its JSON cannot be copied: some values change).
Status Decoder::Impl::decode_logical_row(od::object& obj, RowImage& image) {
  ImageBuilder b(image);
  std::string& json = image.json;
  json.push_back('{');
  Status st = Status::Ok();
  for (auto member : obj) {
    od::field field;
    CDC_JSON_TRY(std::move(member).get(field), where_text());
    std::string_view key;
    CDC_JSON_TRY(field.unescaped_key().get(key), where_text());
    st = flatten_column(key, field.value(), b, json);
    if (!st.ok()) break;
  }
  path.clear();
  json.push_back('}');
  b.finish();
  return st;
}

// One top-level column: flattened into b, and appended to json as `"key":value`.
Status Decoder::Impl::flatten_column(std::string_view key, od::value v, ImageBuilder& b, std::string& json) {
  if (json.size() > 1) json.push_back(',');
  append_json_string(json, key);
  json.push_back(':');
  path.assign(key.data(), key.size());
  if (const LogicalColumn* column = logical ? logical->find(key) : nullptr)
    return flatten_logical(v, *column, b, json);
  std::string_view raw;
  CDC_TRY(flatten_value(v, b, 1, &raw));
  json.append(raw.data(), raw.size());
  return Status::Ok();
}

// A logical-typed column. A value not in its type's encoding (null; a Decimal written as a JSON
// number by decimal.format=NUMERIC) is taken as it is.
Status Decoder::Impl::flatten_logical(od::value v, const LogicalColumn& column, ImageBuilder& b, std::string& json) {
  od::json_type t;
  CDC_JSON_TRY(v.type().get(t), where_text());
  const bool encoded = column.kind == LogicalKind::variable_decimal ? t == od::json_type::object
                       : column.kind == LogicalKind::decimal || column.kind == LogicalKind::json
                           ? t == od::json_type::string
                           : t == od::json_type::number;
  if (!encoded) {
    std::string_view raw;
    CDC_TRY(flatten_value(v, b, 1, &raw));
    json.append(raw.data(), raw.size());
    return Status::Ok();
  }
  Field& f = b.add(path);
  if (column.kind == LogicalKind::variable_decimal) {
    CDC_TRY(variable_decimal(v, f));
  } else if (column.kind == LogicalKind::decimal || column.kind == LogicalKind::json) {
    std::string_view text;
    CDC_JSON_TRY(v.get_string().get(text), where_text());
    if (column.kind == LogicalKind::decimal && !decimal_text(text, column.scale, f.value))
      return Status::Error(where_text() + ": not a Decimal's base64 bytes");
    if (column.kind == LogicalKind::json) {
      f.value.assign(text.data(), text.size());
      simdjson::dom::element unused;  // cached as the JSON it holds, when it holds JSON
      if (!schema_validator.parse(text.data(), text.size(), true).get(unused)) f.type = FieldType::json_text;
    }
  } else {
    CDC_TRY(logical_number(v, column, f));
  }
  if (f.type == FieldType::json_text) json.append(f.value);
  else append_json_string(json, f.value);
  return Status::Ok();
}

// Dates, times and timestamps: an integer count of days or of (milli|micro|nano)seconds.
Status Decoder::Impl::logical_number(od::value v, const LogicalColumn& column, Field& f) {
  std::string_view token = trim_right(v.raw_json_token());
  int64_t value = 0;
  if (!parse_int64(token, value)) return Status::Error(where_text() + ": expected an integer, got " + quote_for_message(token));
  if (column.kind == LogicalKind::date) {
    date_text(value, f.value);
  } else if (column.kind == LogicalKind::time_millis || column.kind == LogicalKind::time_micros ||
             column.kind == LogicalKind::time_nanos) {
    if (!time_text(value, units_per_second(column.kind), f.value))
      return Status::Error(where_text() + ": time of day out of range: " + quote_for_message(token));
  } else {
    timestamp_text(value, units_per_second(column.kind), f.value);
  }
  return Status::Ok();
}

// io.debezium.data.VariableScaleDecimal: {"scale": s, "value": base64 bytes}.
Status Decoder::Impl::variable_decimal(od::value v, Field& f) {
  od::object obj;
  CDC_JSON_TRY(v.get_object().get(obj), where_text());
  int64_t scale = 0;
  std::string_view bytes;
  bool have_scale = false, have_bytes = false;
  for (auto member : obj) {
    od::field field;
    CDC_JSON_TRY(std::move(member).get(field), where_text());
    std::string_view key;
    CDC_JSON_TRY(field.unescaped_key().get(key), where_text());
    if (key == "scale") {
      have_scale = parse_int64(trim_right(field.value().raw_json_token()), scale);
    } else if (key == "value") {
      have_bytes = !field.value().get_string().get(bytes);
    }
  }
  if (!have_scale || !have_bytes || scale > kMaxDecimalScale || scale < -kMaxDecimalScale ||
      !decimal_text(bytes, int32_t(scale), f.value))
    return Status::Error(where_text() + ": not a VariableScaleDecimal {scale, value}");
  return Status::Ok();
}

// A key without a schema whose fields look like logical types left encoded: a VariableScaleDecimal
// struct (flattened to x.scale and x.value) or a Decimal's padded base64 ("JxA="). Keys rendered
// from them would never match the application's; the engine warns once per topic.
void Decoder::Impl::note_encoded_key(ChangeEvent& out) {
  for (const Field& f : out.key.fields) {
    std::string_view path = f.path;
    if (path.size() > 6 && path.substr(path.size() - 6) == ".value" &&
        out.key.find(std::string(path.substr(0, path.size() - 6)) + ".scale")) {
      out.key_looks_encoded = true;
      return;
    }
    if (f.type != FieldType::string || f.value.size() < 4 || f.value.size() > 24 || f.value.size() % 4 != 0 ||
        f.value.back() != '=')
      continue;
    std::string unused;
    if (decimal_text(f.value, 0, unused)) {
      out.key_looks_encoded = true;
      return;
    }
  }
}

}  // namespace cdc
