// Debezium decoding with simdjson on-demand. The hot path is a with-schema envelope: the root is
// walked once, `schema` is skipped without being materialised, and only `payload` is read. Every
// string handed out is copied into the ChangeEvent (simdjson's views die with the next message),
// and the event's vectors/strings are reused across messages to avoid allocations.
#include "debezium/decoder_impl.h"

#include <string>

#include "debezium/json_text.h"

namespace cdc {

using namespace decoding;

Status Decoder::Impl::decode(std::string_view value, bool value_is_null, std::string_view key, ChangeEvent& out) {
  reset_event(out);
  json_error = false;
  logical = nullptr;
  if (value_is_null || is_blank(value)) {
    reset_image(out.before);
    reset_image(out.after);
    out.kind = EventKind::tombstone;
    return decode_key(key, out);
  }
  CDC_TRY(decode_value(value, out));
  return decode_key(key, out);
}

// A known schema prefix makes the value {"payload":P}; whenever that does not read as a clean
// {"schema","payload"} wrapper (a second "payload", other fields, an error), the value is read
// again in full, so that the shortcut never changes a result.
Status Decoder::Impl::decode_value(std::string_view value, ChangeEvent& out) {
  bool wrapped = false;
  if (size_t known = value_schemas.match(value, logical)) {
    Status st = decode_value_text(value, known, out, wrapped);
    if (wrapped && st.ok()) return st;
    reset_event(out);
    json_error = false;
  }
  Status st = decode_value_text(value, 0, out, wrapped);
  if (st.ok() && wrapped) remember_schema(value_schemas, value);
  return st;
}

// Parses the value, leaving out its first `skip` bytes (a known {"schema":S, prefix) if any.
// wrapped: the value read as a clean {"schema","payload"} wrapper.
Status Decoder::Impl::decode_value_text(std::string_view value, size_t skip, ChangeEvent& out, bool& wrapped) {
  wrapped = false;
  CDC_JSON_TRY(begin_document(value_buf, value, skip), "value");
  od::json_type t;
  CDC_JSON_TRY(doc.type().get(t), "value");
  if (t == od::json_type::null) {
    bool is_null = false;
    if (auto e = doc.is_null().get(is_null); e || !is_null) return Status::Error("value: malformed JSON (invalid literal)");
    reset_image(out.before);
    reset_image(out.after);
    out.kind = EventKind::tombstone;
    return Status::Ok();
  }
  if (t != od::json_type::object)
    return Status::Error(std::string("value: expected a JSON object, got ") + type_name(t));
  od::object root;
  CDC_JSON_TRY(doc.get_object().get(root), "value");
  Status st = decode_root(root, out, wrapped);
  if (!st.ok()) {
    const char* at = nullptr;
    if (json_error && !doc.current_location().get(at) && at >= value_buf.data() &&
        at <= value_buf.data() + value_buf.size()) {
      // Point at where the iterator stopped, so a broken message can be found in a dump.
      return Status::Error(st.message() + " near byte " + std::to_string(at - value_buf.data()));
    }
    return st;
  }
  // Trailing bytes after the object ("{...} x") are malformed input too.
  const char* loc = nullptr;
  if (!doc.current_location().get(loc)) return Status::Error("value: malformed JSON (content after the top-level object)");
  return Status::Ok();
}

// The message key never fails a message: Debezium keys are JSON, but a topic may carry other
// keys (key.converter=StringConverter gives "Struct{id=1}"). Anything that is not a JSON object
// becomes an opaque key: one field "value" with its text, usable as {key.value}.
Status Decoder::Impl::decode_key(std::string_view key, ChangeEvent& out) {
  if (key.empty() || is_blank(key)) {
    reset_image(out.key);
    return Status::Ok();
  }
  if (!decode_key_json(key, out).ok()) set_opaque_key(key, out.key);
  return Status::Ok();
}

void Decoder::Impl::set_opaque_key(std::string_view text, RowImage& key) {
  reset_image(key);
  key.present = true;
  Field& f = key.fields.emplace_back();
  f.path = "value";
  f.value.assign(text.data(), text.size());
  append_json_string(key.json, text);
}

Status Decoder::Impl::decode_key_json(std::string_view key, ChangeEvent& out) {
  CDC_JSON_TRY(begin_document(key_buf, key, key_schemas.match(key, logical)), "key");
  od::json_type t;
  CDC_JSON_TRY(doc.type().get(t), "key");
  if (t == od::json_type::null) {
    reset_image(out.key);
    return Status::Ok();
  }
  if (t == od::json_type::string) {
    std::string_view text;
    CDC_JSON_TRY(doc.get_string().get(text), "key");
    set_opaque_key(text, out.key);
    return Status::Ok();
  }
  if (t != od::json_type::object) return Status::Error("key: not an object");  // number, bool, array
  od::object root;
  CDC_JSON_TRY(doc.get_object().get(root), "key");
  KeyShape shape;
  CDC_TRY(scan_key_shape(root, shape));
  // Second pass from the start (see `doc`: rewind, not reset, so unescaping stays in bounds).
  if (!doc.is_alive()) return Status::Error("key: malformed JSON");
  doc.rewind();
  CDC_JSON_TRY(doc.get_object().get(root), "key");
  if (shape.wrapped && !shape.saw_other) {
    if (shape.payload_type == od::json_type::null) {
      reset_image(out.key);
      return Status::Ok();
    }
    CDC_TRY(decode_key_payload(root, shape.payload_type, out));
  } else {
    CDC_TRY(decode_key_object(root, out));
    note_encoded_key(out);
  }
  normalize_mongo_key(out);
  remember_schema(key_schemas, key);
  return Status::Ok();
}

// First pass: the payload of a {"schema","payload"} wrapper, or the object itself.
Status Decoder::Impl::scan_key_shape(od::object& root, KeyShape& shape) {
  for (auto member : root) {
    od::field field;
    CDC_JSON_TRY(std::move(member).get(field), "key");
    std::string_view k;
    CDC_JSON_TRY(field.unescaped_key().get(k), "key");
    if (k == "schema") {
      if (noted_schema.base) CDC_JSON_TRY(note_schema(field), "key.schema");
      continue;
    }
    if (k != "payload") {
      shape.saw_other = true;
      break;
    }
    shape.wrapped = true;
    CDC_JSON_TRY(field.value().type().get(shape.payload_type), "key.payload");
    break;
  }
  return Status::Ok();
}

Status Decoder::Impl::decode_key_payload(od::object& root, od::json_type payload_type, ChangeEvent& out) {
  od::value payload;
  CDC_JSON_TRY(root.find_field_unordered("payload").get(payload), "key.payload");
  if (payload_type == od::json_type::object) return decode_image(payload, out.key, "key.payload");
  // A primitive key with a schema: {"schema":{"type":"string"},"payload":"abc"}.
  std::string text;
  CDC_TRY(read_scalar_text(payload, text, "key.payload"));
  set_opaque_key(text, out.key);
  return Status::Ok();
}

Status Decoder::Impl::decode_key_object(od::object& root, ChangeEvent& out) {
  where.assign("key");
  path.clear();
  std::string_view raw;
  CDC_JSON_TRY(root.raw_json().get(raw), "key");
  raw = trim_right(raw);
  bool unused;
  CDC_JSON_TRY(root.reset().get(unused), "key");  // raw_json() unescapes nothing
  ImageBuilder b(out.key);
  out.key.json.assign(raw.data(), raw.size());
  Status st = flatten_object(root, b, 1, raw);
  b.finish();
  return st;
}

Decoder::Decoder() : impl_(std::make_unique<Impl>()) {}
Decoder::~Decoder() = default;

Status Decoder::decode(std::string_view value, bool value_is_null, std::string_view key, ChangeEvent& out) {
  return impl_->decode(value, value_is_null, key, out);
}

void Decoder::set_needs(DecodeNeeds needs) { impl_->needs = std::move(needs); }

}  // namespace cdc
