// Reading the JsonConverter wrapper {"schema":S,"payload":P}: S is skipped (and noted, so a later
// message starting with the same bytes can skip parsing it), P is the envelope.
#include "debezium/decoder_impl.h"

namespace cdc {

using namespace decoding;

// Starts `doc` on text, or on {"payload":... when its first `skip` bytes are a known schema
// prefix. Schemas are noted (for remember_schema) only when the text is read in full.
simdjson::error_code Decoder::Impl::begin_document(PaddedBuffer& buffer, std::string_view text, size_t skip) {
  noted_schema.raw = {};
  noted_schema.base = nullptr;
  noted_schema.valid = false;
  if (!skip) logical = nullptr;  // else the caller set the known schema's columns
  if (auto e = parser.iterate(skip ? buffer.load("{", text.substr(skip)) : buffer.load(text)).get(doc)) return e;
  if (!skip) noted_schema.base = buffer.data();
  return simdjson::SUCCESS;
}

// After text was decoded in full: remembers its schema prefix (and logical columns) when one was
// noted. A schema is only remembered when its text is valid JSON by itself: the on-demand iterator
// skips what it does not read without validating it, and a message's later bytes can balance
// broken ones in its schema; a schema valid on its own means the same to every message it starts.
void Decoder::Impl::remember_schema(SchemaPrefixes& prefixes, std::string_view text) {
  if (!noted_schema.raw.empty() && noted_schema.valid)
    prefixes.learn(text, noted_schema.raw, static_cast<size_t>(noted_schema.raw.data() - noted_schema.base),
                   noted_columns);
}

// Parses a noted schema in full (once per schema: later messages skip it by its prefix) for its
// validity and its logical columns, which then decode this message's row images.
void Decoder::Impl::read_noted_schema() {
  simdjson::dom::element schema;
  noted_schema.valid = !schema_validator.parse(noted_schema.raw.data(), noted_schema.raw.size(), true).get(schema);
  noted_columns.clear();
  if (noted_schema.valid) read_logical_columns(schema, noted_columns);
  logical = &noted_columns;
}

// Reads past a schema value, keeping its raw text when it is an object (a known prefix may be
// made of it, see SchemaPrefixes). Malformed JSON in it fails the message, as skipping it would:
// the iterator cannot go on after an error.
simdjson::error_code Decoder::Impl::note_schema(od::field& field) {
  od::value value = field.value();
  od::json_type type;
  if (auto e = value.type().get(type)) return e;
  if (type != od::json_type::object) return simdjson::SUCCESS;  // skipped by the iterator
  od::object schema;
  std::string_view raw;
  if (auto e = value.get_object().get(schema)) return e;
  if (auto e = schema.raw_json().get(raw)) return e;
  noted_schema.raw = trim_right(raw);
  read_noted_schema();
  return simdjson::SUCCESS;
}

// {"schema": ..., "payload": ...} or the bare payload. wrapped: it was the former, and nothing else.
Status Decoder::Impl::decode_root(od::object& root, ChangeEvent& out, bool& wrapped) {
  bool saw_payload = false, saw_other = false, payload_null = false;
  Status payload_status = Status::Ok();
  for (auto member : root) {
    od::field field;
    CDC_JSON_TRY(std::move(member).get(field), "value");
    std::string_view key;
    CDC_JSON_TRY(field.unescaped_key().get(key), "value");
    if (key == "schema") {  // skipped by the iterator, never materialised
      if (noted_schema.base) CDC_JSON_TRY(note_schema(field), "schema");
      continue;
    }
    if (key != "payload" || saw_payload) {
      saw_other = true;
      break;
    }
    saw_payload = true;
    CDC_TRY(decode_wrapped_payload(field.value(), out, payload_null, payload_status));
  }
  if (saw_payload && !saw_other) {
    wrapped = true;
    if (payload_null) {
      reset_event(out);
      reset_image(out.before);
      reset_image(out.after);
      out.kind = EventKind::tombstone;  // legacy {"schema":null,"payload":null}
      return Status::Ok();
    }
    return payload_status;
  }
  // Not a JsonConverter wrapper: the root itself is the payload.
  od::object bare;
  CDC_TRY(rewind_to_payload(false, bare));
  reset_event(out);
  return decode_payload(bare, out, false);
}

// The wrapper's payload: null (a tombstone) or the envelope, whose outcome goes to `status`
// (it counts only if the root turns out to be a clean wrapper). Returns what stops the read.
Status Decoder::Impl::decode_wrapped_payload(od::value v, ChangeEvent& out, bool& payload_null, Status& status) {
  od::json_type t;
  CDC_JSON_TRY(v.type().get(t), "payload");
  if (t == od::json_type::null) {
    bool is_null = false;
    CDC_JSON_TRY(v.is_null().get(is_null), "payload");
    if (!is_null) return Status::Error("payload: malformed JSON (invalid literal)");
    payload_null = true;
  } else if (t == od::json_type::object) {
    od::object payload;
    CDC_JSON_TRY(v.get_object().get(payload), "payload");
    status = decode_payload(payload, out, true);
    if (json_error && !status.ok()) return status;  // broken JSON: no second try
  } else {
    status = Status::Error(std::string("payload: expected an object or null, got ") + type_name(t));
  }
  return Status::Ok();
}

// Walks the value document again from its start and returns the payload object (the root, or
// the root's "payload" member when wrapped). Only valid while no JSON error happened.
Status Decoder::Impl::rewind_to_payload(bool wrapped, od::object& out) {
  if (json_error || !doc.is_alive()) return Status::Error("value: malformed JSON");
  doc.rewind();
  od::object root;
  CDC_JSON_TRY(doc.get_object().get(root), "value");
  if (!wrapped) {
    out = root;
    return Status::Ok();
  }
  od::value payload;
  CDC_JSON_TRY(root.find_field_unordered("payload").get(payload), "value");
  CDC_JSON_TRY(payload.get_object().get(out), "payload");
  return Status::Ok();
}

}  // namespace cdc
