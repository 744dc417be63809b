// MongoDB Extended JSON: images carried as strings, {"$oid": ...}-style wrappers read as scalars,
// and document keys rendered canonically.
#include "debezium/decoder_impl.h"

#include <utility>

namespace cdc {

using namespace decoding;

Status decoding::invalid_ejson(simdjson::error_code e, const char* at) {
  return Status::Error(std::string(at) + ": invalid Extended JSON string (" + simdjson::error_message(e) + ")");
}

// One MongoDB Extended JSON wrapper object rendered as a scalar at `path`.
Status Decoder::Impl::ejson_scalar(std::string_view key, od::value v, ImageBuilder& b, std::string_view raw) {
  od::json_type t;
  CDC_JSON_TRY(v.type().get(t), where_text());
  auto as_text = [&](FieldType type) -> Status {
    std::string text;
    CDC_TRY(read_scalar_text(v, text, where_text().c_str()));
    Field& f = b.add(path);
    f.value = std::move(text);
    f.type = type;
    if (type == FieldType::number && !is_json_number(f.value)) f.type = FieldType::string;  // "NaN"
    return Status::Ok();
  };
  if (key == "$oid" || key == "$symbol" || key == "$uuid") {
    if (t == od::json_type::string) return as_text(FieldType::string);
  } else if (key == "$numberLong" || key == "$numberInt" || key == "$numberDouble" ||
             key == "$numberDecimal") {
    if (t == od::json_type::string || t == od::json_type::number) return as_text(FieldType::number);
  } else if (key == "$date") {
    if (t == od::json_type::number) return as_text(FieldType::number);
    if (t == od::json_type::string) return as_text(FieldType::string);
    if (t == od::json_type::object) {  // {"$date": {"$numberLong": "..."}}
      od::object inner;
      CDC_JSON_TRY(v.get_object().get(inner), where_text());
      od::value digits;
      if (!inner.find_field("$numberLong").get(digits)) {
        std::string text;
        CDC_TRY(read_scalar_text(digits, text, where_text().c_str()));
        Field& f = b.add(path);
        f.value = std::move(text);
        f.type = is_json_number(f.value) ? FieldType::number : FieldType::string;
        return Status::Ok();
      }
    }
  } else if (key == "$binary") {
    if (t == od::json_type::string) return as_text(FieldType::string);  // v1: {"$binary": b64, "$type": ..}
    if (t == od::json_type::object) {                                    // v2: {"$binary": {"base64", "subType"}}
      od::object inner;
      CDC_JSON_TRY(v.get_object().get(inner), where_text());
      od::value b64;
      if (!inner.find_field_unordered("base64").get(b64)) {
        std::string text;
        CDC_TRY(read_scalar_text(b64, text, where_text().c_str()));
        Field& f = b.add(path);
        f.value = std::move(text);
        return Status::Ok();
      }
    }
  }
  // Anything else ($timestamp, $regularExpression, unknown '$' keys): keep the raw JSON.
  Field& f = b.add(path);
  f.value.assign(raw.data(), raw.size());
  f.type = FieldType::json;
  return Status::Ok();
}

// MongoDB: an image carried as an Extended JSON string; parsed a second time.
Status Decoder::Impl::decode_ejson(std::string_view text, RowImage& image, const char* at) {
  where.assign(at);
  path.clear();
  od::document doc;
  CDC_EJSON_TRY(ejson_parser.iterate(ejson_buf.load(text)).get(doc), at);
  od::json_type t;
  CDC_EJSON_TRY(doc.type().get(t), at);
  if (t != od::json_type::object)
    return Status::Error(std::string(at) + ": Extended JSON string holds " + type_name(t) + ", not an object");
  od::object obj;
  CDC_EJSON_TRY(doc.get_object().get(obj), at);
  ImageBuilder b(image);
  image.json.assign(text.data(), text.size());
  Status st = flatten_object(obj, b, 1, text);
  b.finish();
  if (!st.ok()) {
    json_error = false;  // the offset would point into the inner string, not the message
    return Status::Error(st.message());
  }
  return Status::Ok();
}

// MongoDB keys are {"id": "<_id as strict Extended JSON>"}: render the id canonically (1004,
// a string id without quotes, an ObjectId as hex) and alias it as `_id` so "{_id}" templates can
// fall back on the key when the event carries no document (delete without pre-image).
void Decoder::Impl::normalize_mongo_key(ChangeEvent& out) {
  RowImage& key = out.key;
  bool mongo = out.source.connector == "mongodb";
  if (key.fields.size() != 1 || key.fields[0].path != "id" || key.fields[0].type != FieldType::string) return;
  Field& id = key.fields[0];
  // Without a source (tombstones) only the unmistakable EJSON forms are reinterpreted.
  bool ejson_form = !id.value.empty() && (id.value[0] == '{' || id.value[0] == '"');
  if (!mongo && !(out.source.connector.empty() && ejson_form)) return;
  if (!id.value.empty() && (id.value[0] == '{' || id.value[0] == '"' || id.value[0] == '-' || is_digit(id.value[0]))) {
    std::string text = id.value;
    od::document doc;
    if (!ejson_parser.iterate(ejson_buf.load(text)).get(doc)) {
      od::json_type t;
      if (!doc.type().get(t)) {
        if (t == od::json_type::string) {
          std::string_view s;
          if (!doc.get_string().get(s)) id.value.assign(s.data(), s.size());
        } else if (t == od::json_type::number) {
          std::string_view tok;
          if (!doc.raw_json_token().get(tok) && is_json_number(trim_right(tok))) {
            id.value.assign(trim_right(tok));
            id.type = FieldType::number;
          }
        } else if (t == od::json_type::object) {
          od::object obj;
          RowImage tmp;
          if (!doc.get_object().get(obj)) {
            ImageBuilder b(tmp);
            where.assign("key.id");
            path.assign("id");
            Status st = flatten_object(obj, b, 2, text);
            b.finish();
            path.clear();
            if (st.ok() && tmp.fields.size() == 1 && tmp.fields[0].path == "id") {
              id.value = tmp.fields[0].value;
              id.type = tmp.fields[0].type;
            }
          }
        }
      }
    }
  }
  if (mongo || out.kind == EventKind::tombstone) {
    Field alias = key.fields[0];
    alias.path = "_id";
    key.fields.push_back(std::move(alias));
  }
}

}  // namespace cdc
