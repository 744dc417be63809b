// Debezium decoding with simdjson on-demand. The hot path is a with-schema envelope: the root is
// walked once, `schema` is skipped without being materialised, and only `payload` is read. Every
// string handed out is copied into the ChangeEvent (simdjson's views die with the next message),
// and the event's vectors/strings are reused across messages to avoid allocations.
#include "debezium/decoder.h"

#include <simdjson.h>

#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "debezium/json_text.h"

namespace cdc {

namespace od = simdjson::ondemand;

namespace {

constexpr int kMaxDepth = 64;  // nesting cap for row images: no unbounded recursion on hostile input
constexpr std::string_view kUnavailable = "__debezium_unavailable_value";

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool is_blank(std::string_view s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  return true;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?  (on-demand does not validate
// tokens it is not asked to parse, and we keep numbers as their raw text).
bool is_json_number(std::string_view s) {
  size_t i = 0, n = s.size();
  if (i < n && s[i] == '-') ++i;
  if (i >= n) return false;
  if (s[i] == '0') {
    ++i;
  } else if (is_digit(s[i])) {
    while (i < n && is_digit(s[i])) ++i;
  } else {
    return false;
  }
  if (i < n && s[i] == '.') {
    ++i;
    if (i >= n || !is_digit(s[i])) return false;
    while (i < n && is_digit(s[i])) ++i;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= n || !is_digit(s[i])) return false;
    while (i < n && is_digit(s[i])) ++i;
  }
  return i == n;
}

bool parse_int64(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  size_t i = 0;
  bool negative = s[0] == '-';
  if (negative) i = 1;
  if (i >= s.size()) return false;
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (!is_digit(s[i])) return false;
    uint64_t d = uint64_t(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (negative) {
    if (v > uint64_t(INT64_MAX) + 1) return false;
    out = v == uint64_t(INT64_MAX) + 1 ? INT64_MIN : -int64_t(v);
  } else {
    if (v > uint64_t(INT64_MAX)) return false;
    out = int64_t(v);
  }
  return true;
}

const char* type_name(od::json_type t) {
  switch (t) {
    case od::json_type::array: return "an array";
    case od::json_type::object: return "an object";
    case od::json_type::number: return "a number";
    case od::json_type::string: return "a string";
    case od::json_type::boolean: return "a boolean";
    case od::json_type::null: return "null";
  }
  return "an unknown value";
}

bool is_op_letter(char c) {
  return c == 'c' || c == 'u' || c == 'd' || c == 'r' || c == 't' || c == 'm';
}

// A reused heap buffer with simdjson's padding (Kafka buffers are not padded).
class PaddedBuffer {
 public:
  // Copies head then tail (the text is their concatenation).
  simdjson::padded_string_view load(std::string_view text, std::string_view tail = {}) {
    const size_t size = text.size() + tail.size();
    size_t need = size + simdjson::SIMDJSON_PADDING;
    if (need > capacity_) {
      capacity_ = need < 4096 ? 4096 : need * 2;
      data_.reset(new char[capacity_]);
    }
    if (!text.empty()) std::memcpy(data_.get(), text.data(), text.size());
    if (!tail.empty()) std::memcpy(data_.get() + text.size(), tail.data(), tail.size());
    std::memset(data_.get() + size, 0, simdjson::SIMDJSON_PADDING);
    size_ = size;
    return simdjson::padded_string_view(data_.get(), size, capacity_);
  }
  const char* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
  size_t size_ = 0;
};

// JsonConverter with schemas writes {"schema":S,"payload":P}, and S is the same for every message
// of a table until its columns change: most of the bytes of a message, and most of the parsing
// time. Once a message has been decoded in full, its `{"schema":S,` prefix is remembered; a later
// message that starts with the byte-identical prefix, followed by `"payload":`, is decoded as
// `{"payload":P}` (what the full parse would have done with S: skip it, unread).
class SchemaPrefixes {
 public:
  static constexpr std::string_view kHead = R"({"schema":)";
  static constexpr std::string_view kPayload = R"("payload":)";

  // Length of the remembered prefix `text` starts with, 0 when none.
  size_t match(std::string_view text) {
    for (size_t i = 0; i < known_.size(); ++i) {
      size_t slot = (last_hit_ + i) % known_.size();
      const std::string& prefix = known_[slot];
      if (text.size() > prefix.size() + kPayload.size() &&
          std::memcmp(text.data(), prefix.data(), prefix.size()) == 0 &&
          text.compare(prefix.size(), kPayload.size(), kPayload) == 0) {
        last_hit_ = slot;
        return prefix.size();
      }
    }
    return 0;
  }

  // text is a message just decoded in full; schema is the raw JSON of its schema object (a view
  // into the same bytes at the same offset). Remembers `{"schema":S,` when `"payload":` follows.
  void learn(std::string_view text, std::string_view schema_at, size_t schema_offset) {
    const size_t end = schema_offset + schema_at.size();
    if (schema_offset != kHead.size() || text.compare(0, kHead.size(), kHead) != 0 || end >= text.size() ||
        text[end] != ',' || text.compare(end + 1, kPayload.size(), kPayload) != 0 || end + 1 > kMaxPrefix)
      return;
    std::string_view prefix = text.substr(0, end + 1);
    for (const std::string& known : known_)
      if (known == prefix) return;
    if (known_.size() < kMaxPrefixes) {
      known_.emplace_back(prefix);
    } else {
      known_[next_slot_++ % kMaxPrefixes].assign(prefix.data(), prefix.size());
    }
  }

 private:
  static constexpr size_t kMaxPrefixes = 16;       // tables (topics) interleaved in one consumer
  static constexpr size_t kMaxPrefix = 256 * 1024;  // a very wide table's schema
  std::vector<std::string> known_;
  size_t last_hit_ = 0;
  size_t next_slot_ = 0;
};

// Appends Fields to a RowImage, reusing the Field objects (and their string capacity) left from
// the previous message.
class ImageBuilder {
 public:
  explicit ImageBuilder(RowImage& image) : image_(image) {
    image_.present = true;
    image_.json.clear();
  }
  Field& add(std::string_view path) {
    if (used_ < image_.fields.size()) {
      Field& f = image_.fields[used_++];
      f.path.assign(path.data(), path.size());
      f.value.clear();
      f.is_null = false;
      f.is_unavailable = false;
      f.type = FieldType::string;
      return f;
    }
    image_.fields.emplace_back();
    ++used_;
    Field& f = image_.fields.back();
    f.path.assign(path.data(), path.size());
    return f;
  }
  void finish() { image_.fields.resize(used_); }
  RowImage& image() { return image_; }

 private:
  RowImage& image_;
  size_t used_ = 0;
};

void reset_image(RowImage& image) {
  image.present = false;
  image.json.clear();
  image.fields.clear();
}

// Clears an event for reuse, keeping string capacity where that is free to do.
void reset_event(ChangeEvent& e) {
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
  e.ts_ms = 0;
  e.tx_id.clear();
  e.tx_status.clear();
  e.update_description.clear();
}

void make_source_name(SourceInfo& s) {
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

}  // namespace

struct Decoder::Impl {
  od::parser parser;        // the message value, then the key
  od::parser ejson_parser;  // MongoDB Extended JSON strings inside the value (second-level parse)
  PaddedBuffer value_buf;
  PaddedBuffer key_buf;
  PaddedBuffer ejson_buf;
  std::string path;         // scratch: dotted path of the field being flattened
  std::string where;        // scratch: message path of the image being flattened ("payload.after")
  std::string filter_json;  // MongoDB oplog-era `filter`
  std::string scratch_status;
  std::string scratch_id;
  std::string lsn, tx_id_text, file, pos, ord;
  // The value document. A second pass over it goes through doc.rewind(), never object::reset():
  // rewind also resets simdjson's string buffer, which is sized for ONE pass of unescaping, so
  // re-unescaping the same strings after object::reset() could overflow it (found by fuzzing).
  od::document doc;
  bool json_error = false;
  SchemaPrefixes value_schemas, key_schemas;
  simdjson::dom::parser schema_validator;  // full validation, for a schema about to be remembered
  bool wrapped_root = false;       // the value was read as {"schema","payload"} and nothing else
  std::string_view schema_raw;     // this document's schema object, when it may be learnt
  const char* schema_base = nullptr;  // the document's text, when read in full (schemas are noted)

  // --- errors -------------------------------------------------------------------------------

  std::string where_text() const {
    if (path.empty()) return where;
    return where + "." + path;
  }

  // Starts `doc` on text, or on {"payload":... when its first `skip` bytes are a known schema
  // prefix. Schemas are noted (for remember_schema) only when the text is read in full.
  simdjson::error_code begin_document(PaddedBuffer& buffer, std::string_view text, size_t skip) {
    schema_raw = {};
    schema_base = nullptr;
    if (auto e = parser.iterate(skip ? buffer.load("{", text.substr(skip)) : buffer.load(text)).get(doc)) return e;
    if (!skip) schema_base = buffer.data();
    return simdjson::SUCCESS;
  }

  // After text was decoded in full: remembers its schema prefix when one was noted.
  void remember_schema(SchemaPrefixes& prefixes, std::string_view text) {
    if (!schema_raw.empty() && valid_on_its_own(schema_raw))
      prefixes.learn(text, schema_raw, static_cast<size_t>(schema_raw.data() - schema_base));
  }

  // A schema is only remembered when its text is valid JSON by itself. The on-demand iterator skips
  // what it does not read without validating it, and a message's later bytes can balance broken
  // ones in its schema; a schema valid on its own means the same to every message it starts.
  bool valid_on_its_own(std::string_view text) {
    simdjson::dom::element unused;
    return !schema_validator.parse(text.data(), text.size(), true).get(unused);
  }

  // Reads past a schema value, keeping its raw text when it is an object (a known prefix may be
  // made of it, see SchemaPrefixes). Malformed JSON in it fails the message, as skipping it would:
  // the iterator cannot go on after an error.
  simdjson::error_code note_schema(od::field& field) {
    od::value value = field.value();
    od::json_type type;
    if (auto e = value.type().get(type)) return e;
    if (type != od::json_type::object) return simdjson::SUCCESS;  // skipped by the iterator
    od::object schema;
    std::string_view raw;
    if (auto e = value.get_object().get(schema)) return e;
    if (auto e = schema.raw_json().get(raw)) return e;
    schema_raw = trim_right(raw);
    return simdjson::SUCCESS;
  }

  Status json_err(simdjson::error_code e, const std::string& at) {
    json_error = true;
    return Status::Error(at + ": malformed JSON (" + simdjson::error_message(e) + ")");
  }

  // --- scalars ------------------------------------------------------------------------------

  // Reads a string-or-null value into out (null -> empty).
  Status read_string(od::value v, std::string& out, const char* at) {
    od::json_type t;
    if (auto e = v.type().get(t)) return json_err(e, at);
    if (t == od::json_type::null) {
      out.clear();
      return Status::Ok();
    }
    if (t != od::json_type::string)
      return Status::Error(std::string(at) + ": expected a string, got " + type_name(t));
    std::string_view s;
    if (auto e = v.get_string().get(s)) return json_err(e, at);
    out.assign(s.data(), s.size());
    return Status::Ok();
  }

  // Reads a scalar as canonical text (string unescaped, number raw, null -> empty).
  Status read_scalar_text(od::value v, std::string& out, const char* at) {
    od::json_type t;
    if (auto e = v.type().get(t)) return json_err(e, at);
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
        if (auto e = v.get_bool().get(b)) return json_err(e, at);
        out = b ? "true" : "false";
        return Status::Ok();
      }
      default:
        return Status::Error(std::string(at) + ": expected a scalar, got " + type_name(t));
    }
  }

  // Integer-valued timestamps; anything else (null, absent) leaves out untouched.
  Status read_int(od::value v, int64_t& out, bool& found, const char* at) {
    od::json_type t;
    if (auto e = v.type().get(t)) return json_err(e, at);
    if (t != od::json_type::number) return Status::Ok();
    std::string_view tok = trim_right(v.raw_json_token());
    if (!is_json_number(tok)) return Status::Error(std::string(at) + ": invalid number");
    int64_t x;
    if (parse_int64(tok, x)) {
      out = x;
      found = true;
    }
    return Status::Ok();
  }

  // --- row images -----------------------------------------------------------------------------

  // Flattens one value at `path` into the image. raw_out (optional) receives the value's raw JSON.
  Status flatten_value(od::value v, ImageBuilder& b, int depth, std::string_view* raw_out) {
    od::json_type t;
    if (auto e = v.type().get(t)) return json_err(e, where_text());
    switch (t) {
      case od::json_type::object: {
        if (depth >= kMaxDepth)
          return Status::Error(where + ": nesting deeper than " + std::to_string(kMaxDepth) + " levels");
        od::object obj;
        if (auto e = v.get_object().get(obj)) return json_err(e, where_text());
        std::string_view raw;
        if (auto e = obj.raw_json().get(raw)) return json_err(e, where_text());
        raw = trim_right(raw);
        if (raw_out) *raw_out = raw;
        bool unused;
        if (auto e = obj.reset().get(unused)) return json_err(e, where_text());
        return flatten_object(obj, b, depth + 1, raw);
      }
      case od::json_type::array: {
        od::array arr;
        if (auto e = v.get_array().get(arr)) return json_err(e, where_text());
        std::string_view raw;
        if (auto e = arr.raw_json().get(raw)) return json_err(e, where_text());
        raw = trim_right(raw);
        if (raw_out) *raw_out = raw;
        Field& f = b.add(path);
        f.value.assign(raw.data(), raw.size());
        f.type = FieldType::json;
        return Status::Ok();
      }
      case od::json_type::string: {
        if (raw_out) *raw_out = trim_right(v.raw_json_token());
        std::string_view s;
        if (auto e = v.get_string().get(s)) return json_err(e, where_text());
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
        if (auto e = v.get_bool().get(x)) return json_err(e, where_text());
        Field& f = b.add(path);
        f.value = x ? "true" : "false";
        f.type = FieldType::boolean;
        return Status::Ok();
      }
      case od::json_type::null: {
        if (raw_out) *raw_out = trim_right(v.raw_json_token());
        bool is_null = false;
        if (auto e = v.is_null().get(is_null)) return json_err(e, where_text());
        if (!is_null) return Status::Error(where_text() + ": invalid literal");
        Field& f = b.add(path);
        f.is_null = true;
        f.type = FieldType::null;
        return Status::Ok();
      }
    }
    return Status::Error(where_text() + ": unexpected JSON value");
  }

  // Flattens the members of obj under `path`. An object whose first key starts with '$' is a
  // MongoDB Extended JSON wrapper ({"$oid": ...}, {"$numberLong": ...}, {"$date": ...}) and
  // becomes one scalar; raw is the object's text, used for wrappers we do not interpret.
  Status flatten_object(od::object& obj, ImageBuilder& b, int depth, std::string_view raw) {
    size_t path_len = path.size();
    bool first = true;
    for (auto member : obj) {
      od::field field;
      if (auto e = std::move(member).get(field)) return json_err(e, where_text());
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return json_err(e, where_text());
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

  // One MongoDB Extended JSON wrapper object rendered as a scalar at `path`.
  Status ejson_scalar(std::string_view key, od::value v, ImageBuilder& b, std::string_view raw) {
    od::json_type t;
    if (auto e = v.type().get(t)) return json_err(e, where_text());
    auto as_text = [&](FieldType type) -> Status {
      std::string text;
      Status st = read_scalar_text(v, text, where_text().c_str());
      if (!st.ok()) return st;
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
        if (auto e = v.get_object().get(inner)) return json_err(e, where_text());
        od::value digits;
        if (!inner.find_field("$numberLong").get(digits)) {
          std::string text;
          Status st = read_scalar_text(digits, text, where_text().c_str());
          if (!st.ok()) return st;
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
        if (auto e = v.get_object().get(inner)) return json_err(e, where_text());
        od::value b64;
        if (!inner.find_field_unordered("base64").get(b64)) {
          std::string text;
          Status st = read_scalar_text(b64, text, where_text().c_str());
          if (!st.ok()) return st;
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

  // A row image given as a JSON value: object, EJSON string (MongoDB) or null.
  Status decode_image(od::value v, RowImage& image, const char* at) {
    od::json_type t;
    if (auto e = v.type().get(t)) return json_err(e, at);
    if (t == od::json_type::null) {
      reset_image(image);
      return Status::Ok();
    }
    where.assign(at);
    path.clear();
    if (t == od::json_type::object) {
      od::object obj;
      if (auto e = v.get_object().get(obj)) return json_err(e, at);
      std::string_view raw;
      if (auto e = obj.raw_json().get(raw)) return json_err(e, at);
      raw = trim_right(raw);
      bool unused;
      if (auto e = obj.reset().get(unused)) return json_err(e, at);
      ImageBuilder b(image);
      image.json.assign(raw.data(), raw.size());
      Status st = flatten_object(obj, b, 1, raw);
      b.finish();
      return st;
    }
    if (t == od::json_type::string) {
      std::string_view text;
      if (auto e = v.get_string().get(text)) return json_err(e, at);
      return decode_ejson(text, image, at);
    }
    return Status::Error(std::string(at) + ": expected an object, a string (MongoDB) or null, got " +
                         type_name(t));
  }

  // MongoDB: an image carried as an Extended JSON string; parsed a second time.
  Status decode_ejson(std::string_view text, RowImage& image, const char* at) {
    where.assign(at);
    path.clear();
    od::document doc;
    if (auto e = ejson_parser.iterate(ejson_buf.load(text)).get(doc))
      return Status::Error(std::string(at) + ": invalid Extended JSON string (" + simdjson::error_message(e) + ")");
    od::json_type t;
    if (auto e = doc.type().get(t))
      return Status::Error(std::string(at) + ": invalid Extended JSON string (" + simdjson::error_message(e) + ")");
    if (t != od::json_type::object)
      return Status::Error(std::string(at) + ": Extended JSON string holds " + type_name(t) + ", not an object");
    od::object obj;
    if (auto e = doc.get_object().get(obj))
      return Status::Error(std::string(at) + ": invalid Extended JSON string (" + simdjson::error_message(e) + ")");
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

  // --- envelope parts -------------------------------------------------------------------------

  Status decode_source(od::object& obj, SourceInfo& s) {
    lsn.clear();
    tx_id_text.clear();
    file.clear();
    pos.clear();
    ord.clear();
    bool mysql_hint = false, mongo_hint = false;
    int64_t ts_usec = 0;
    bool have_ts_ms = false, have_ts_usec = false;
    for (auto member : obj) {
      od::field field;
      if (auto e = std::move(member).get(field)) return json_err(e, "payload.source");
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return json_err(e, "payload.source");
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
      else if (key == "lsn") st = read_scalar_text(field.value(), lsn, "payload.source.lsn");
      else if (key == "txId") st = read_scalar_text(field.value(), tx_id_text, "payload.source.txId");
      else if (key == "file") st = read_scalar_text(field.value(), file, "payload.source.file");
      else if (key == "pos") st = read_scalar_text(field.value(), pos, "payload.source.pos");
      else if (key == "ord") st = read_scalar_text(field.value(), ord, "payload.source.ord");
      else if (key == "server_id" || key == "gtid") mysql_hint = true;
      else if (key == "rs") mongo_hint = true;
      if (!st.ok()) return st;
    }
    if (!have_ts_ms && have_ts_usec) s.ts_ms = ts_usec / 1000;  // Debezium 0.x
    if (s.connector.empty()) {  // 0.x PostgreSQL has no `connector`
      if (mongo_hint) s.connector = "mongodb";
      else if (mysql_hint || !file.empty()) s.connector = "mysql";
      else if (!lsn.empty()) s.connector = "postgresql";
    }
    s.position.clear();
    if (!lsn.empty() || !tx_id_text.empty()) {
      if (!lsn.empty()) s.position.append("lsn=").append(lsn);
      if (!tx_id_text.empty()) {
        if (!s.position.empty()) s.position.push_back(',');
        s.position.append("txId=").append(tx_id_text);
      }
    } else if (!file.empty()) {
      s.position.append(file).push_back(':');
      s.position.append(pos);
    } else if (!ord.empty()) {
      s.position.append("ord=").append(ord);
    }
    make_source_name(s);
    return Status::Ok();
  }

  // ExtractNewRecordState output: the flattened row plus `__` metadata fields.
  Status decode_unwrapped(od::object& obj, ChangeEvent& out) {
    where.assign("payload");
    path.clear();
    reset_image(out.before);
    ImageBuilder b(out.after);
    std::string& json = out.after.json;
    json.push_back('{');
    bool deleted = false;
    char op = 0;
    std::string text;
    for (auto member : obj) {
      od::field field;
      if (auto e = std::move(member).get(field)) return json_err(e, "payload");
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return json_err(e, "payload");
      if (key.size() > 2 && key[0] == '_' && key[1] == '_') {
        std::string at = "payload." + std::string(key);
        bool from_source = key.substr(0, 9) == "__source_";
        std::string_view name = key.substr(from_source ? 9 : 2);
        od::value v = field.value();
        Status st = Status::Ok();
        if (name == "deleted") {
          st = read_scalar_text(v, text, at.c_str());
          deleted = text == "true";
        } else if (name == "op") {
          st = read_scalar_text(v, text, at.c_str());
          if (st.ok() && (text.size() != 1 || !is_op_letter(text[0])))
            return Status::Error(at + ": unknown op " + quote_for_message(text));
          if (st.ok()) op = text[0];
        } else if (name == "table" || name == "collection") st = read_string(v, out.source.table, at.c_str());
        else if (name == "db") st = read_string(v, out.source.db, at.c_str());
        else if (name == "schema") st = read_string(v, out.source.schema, at.c_str());
        else if (name == "connector") st = read_string(v, out.source.connector, at.c_str());
        else if (name == "lsn") {
          st = read_scalar_text(v, text, at.c_str());
          if (st.ok() && !text.empty()) out.source.position = "lsn=" + text;
        } else if (name == "ts_ms") {
          bool found = false;
          st = read_int(v, from_source ? out.source.ts_ms : out.ts_ms, found, at.c_str());
        }
        if (!st.ok()) return st;
        continue;  // metadata never becomes part of the row
      }
      if (json.size() > 1) json.push_back(',');
      append_json_string(json, key);
      json.push_back(':');
      path.assign(key.data(), key.size());
      std::string_view raw;
      Status st = flatten_value(field.value(), b, 1, &raw);
      if (!st.ok()) return st;
      json.append(raw.data(), raw.size());
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

  // Walks the value document again from its start and returns the payload object (the root, or
  // the root's "payload" member when wrapped). Only valid while no JSON error happened.
  Status rewind_to_payload(bool wrapped, od::object& out) {
    if (json_error || !doc.is_alive()) return Status::Error("value: malformed JSON");
    doc.rewind();
    od::object root;
    if (auto e = doc.get_object().get(root)) return json_err(e, "value");
    if (!wrapped) {
      out = root;
      return Status::Ok();
    }
    od::value payload;
    if (auto e = root.find_field_unordered("payload").get(payload)) return json_err(e, "value");
    if (auto e = payload.get_object().get(out)) return json_err(e, "payload");
    return Status::Ok();
  }

  Status decode_payload(od::object& obj, ChangeEvent& out, bool wrapped) {
    bool seen_op = false, seen_source = false, seen_before = false, seen_after = false;
    bool seen_database_name = false, seen_ddl = false, seen_table_changes = false, seen_id = false;
    bool seen_data_collections = false, seen_ts_ms = false;
    int64_t ts_us = 0, ts_ns = 0;
    bool have_ts_ms = false, have_ts_us = false, have_ts_ns = false;
    size_t keys = 0;
    bool before_decoded = false, after_decoded = false;
    Status deferred = Status::Ok();  // image/source errors matter only once this is a data change
    filter_json.clear();
    scratch_status.clear();
    scratch_id.clear();
    for (auto member : obj) {
      od::field field;
      if (auto e = std::move(member).get(field)) return json_err(e, "payload");
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return json_err(e, "payload");
      ++keys;
      od::value v = field.value();
      Status st = Status::Ok();
      if (key == "op") {
        seen_op = true;
        od::json_type t;
        if (auto e = v.type().get(t)) return json_err(e, "payload.op");
        if (t != od::json_type::string)
          return Status::Error(std::string("payload.op: expected a string, got ") + type_name(t));
        std::string_view op;
        if (auto e = v.get_string().get(op)) return json_err(e, "payload.op");
        if (op.size() != 1 || !is_op_letter(op[0]))
          return Status::Error("payload.op: unknown op " + quote_for_message(op));
        out.op = static_cast<Op>(op[0]);
      } else if (key == "before" || key == "after") {
        bool is_before = key == "before";
        (is_before ? seen_before : seen_after) = true;
        (is_before ? before_decoded : after_decoded) = true;
        st = decode_image(v, is_before ? out.before : out.after, is_before ? "payload.before" : "payload.after");
        if (!st.ok() && json_error) return st;  // the iterator is unusable after a JSON error
        if (!st.ok() && deferred.ok()) deferred = st;
        st = Status::Ok();
      } else if (key == "source") {
        od::json_type t;
        if (auto e = v.type().get(t)) return json_err(e, "payload.source");
        if (t == od::json_type::object) {
          seen_source = true;
          od::object src;
          if (auto e = v.get_object().get(src)) return json_err(e, "payload.source");
          st = decode_source(src, out.source);
          if (!st.ok() && json_error) return st;
          if (!st.ok() && deferred.ok()) deferred = st;
          st = Status::Ok();
        } else if (t != od::json_type::null && deferred.ok()) {
          deferred = Status::Error(std::string("payload.source: expected an object, got ") + type_name(t));
        }
      } else if (key == "ts_ms") {
        seen_ts_ms = true;
        st = read_int(v, out.ts_ms, have_ts_ms, "payload.ts_ms");
      } else if (key == "ts_us") {
        st = read_int(v, ts_us, have_ts_us, "payload.ts_us");
      } else if (key == "ts_ns") {
        st = read_int(v, ts_ns, have_ts_ns, "payload.ts_ns");
      } else if (key == "transaction") {
        od::json_type t;
        if (auto e = v.type().get(t)) return json_err(e, "payload.transaction");
        if (t == od::json_type::object) {
          od::object tx;
          if (auto e = v.get_object().get(tx)) return json_err(e, "payload.transaction");
          od::value id;
          if (!tx.find_field_unordered("id").get(id)) st = read_scalar_text(id, out.tx_id, "payload.transaction.id");
        }
      } else if (key == "updateDescription") {
        od::json_type t;
        if (auto e = v.type().get(t)) return json_err(e, "payload.updateDescription");
        if (t == od::json_type::object) {
          od::object ud;
          if (auto e = v.get_object().get(ud)) return json_err(e, "payload.updateDescription");
          std::string_view raw;
          if (auto e = ud.raw_json().get(raw)) return json_err(e, "payload.updateDescription");
          raw = trim_right(raw);
          out.update_description.assign(raw.data(), raw.size());
        }
      } else if (key == "filter") {
        st = read_scalar_text(v, filter_json, "payload.filter");
        if (!st.ok() && json_error) return st;  // the iterator is unusable after a JSON error
        if (!st.ok() && deferred.ok()) deferred = st;
        st = Status::Ok();
      } else if (key == "databaseName") {
        seen_database_name = true;
      } else if (key == "ddl") {
        seen_ddl = true;
      } else if (key == "tableChanges") {
        seen_table_changes = true;
      } else if (key == "status") {
        od::json_type t;
        if (auto e = v.type().get(t)) return json_err(e, "payload.status");
        if (t == od::json_type::string) st = read_string(v, scratch_status, "payload.status");
      } else if (key == "id") {
        seen_id = true;
        od::json_type t;
        if (auto e = v.type().get(t)) return json_err(e, "payload.id");
        if (t == od::json_type::string || t == od::json_type::number)
          st = read_scalar_text(v, scratch_id, "payload.id");
      } else if (key == "data_collections" || key == "event_count") {
        seen_data_collections = true;
      }
      if (!st.ok()) return st;
    }

    if (!have_ts_ms) {
      if (have_ts_us) out.ts_ms = ts_us / 1000;
      else if (have_ts_ns) out.ts_ms = ts_ns / 1000000;
    }
    if (!before_decoded) reset_image(out.before);
    if (!after_decoded) reset_image(out.after);

    if (seen_op) {
      out.kind = EventKind::change;
      if (!deferred.ok()) return deferred;
      if (!seen_source) return Status::Error("payload.source: missing (a data change must carry its source)");
      // MongoDB oplog era: updates/deletes identify the document only through `filter`.
      if (!out.before.present && !out.after.present && !filter_json.empty()) {
        Status st = decode_ejson(filter_json, out.before, "payload.filter");
        if (!st.ok()) return st;
      }
      return Status::Ok();
    }
    reset_image(out.before);
    reset_image(out.after);
    if (seen_database_name && (seen_ddl || seen_table_changes)) {
      out.kind = EventKind::schema_change;
      return Status::Ok();
    }
    if ((scratch_status == "BEGIN" || scratch_status == "END") && seen_id && seen_data_collections) {
      out.kind = EventKind::transaction;
      out.tx_status = scratch_status;
      out.tx_id = scratch_id;
      return Status::Ok();
    }
    if (keys == 1 && seen_ts_ms) {
      out.kind = EventKind::heartbeat;
      return Status::Ok();
    }
    if (seen_source || (seen_before && seen_after)) return Status::Error("payload.op: missing");
    if (keys == 0) return Status::Error("payload: empty object (not a Debezium message)");
    // No envelope keys: ExtractNewRecordState output. Walk the object again as a row.
    od::object row;
    Status st = rewind_to_payload(wrapped, row);
    if (!st.ok()) return st;
    reset_event(out);
    return decode_unwrapped(row, out);
  }

  // {"schema": ..., "payload": ...} or the bare payload.
  Status decode_root(od::object& root, ChangeEvent& out) {
    bool saw_payload = false, saw_other = false, payload_null = false;
    Status payload_status = Status::Ok();
    for (auto member : root) {
      od::field field;
      if (auto e = std::move(member).get(field)) return json_err(e, "value");
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return json_err(e, "value");
      if (key == "schema") {  // skipped by the iterator, never materialised
        if (schema_base)
          if (auto e = note_schema(field)) return json_err(e, "schema");
        continue;
      }
      if (key != "payload" || saw_payload) {
        saw_other = true;
        break;
      }
      saw_payload = true;
      od::value v = field.value();
      od::json_type t;
      if (auto e = v.type().get(t)) return json_err(e, "payload");
      if (t == od::json_type::null) {
        bool is_null = false;
        if (auto e = v.is_null().get(is_null)) return json_err(e, "payload");
        if (!is_null) return Status::Error("payload: malformed JSON (invalid literal)");
        payload_null = true;
      } else if (t == od::json_type::object) {
        od::object payload;
        if (auto e = v.get_object().get(payload)) return json_err(e, "payload");
        payload_status = decode_payload(payload, out, true);
        if (json_error && !payload_status.ok()) return payload_status;  // broken JSON: no second try
      } else {
        payload_status = Status::Error(std::string("payload: expected an object or null, got ") + type_name(t));
      }
    }
    if (saw_payload && !saw_other) {
      wrapped_root = true;
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
    Status st = rewind_to_payload(false, bare);
    if (!st.ok()) return st;
    reset_event(out);
    return decode_payload(bare, out, false);
  }

  // The message key never fails a message: Debezium keys are JSON, but a topic may carry other
  // keys (key.converter=StringConverter gives "Struct{id=1}"). Anything that is not a JSON object
  // becomes an opaque key: one field "value" with its text, usable as {key.value}.
  Status decode_key(std::string_view key, ChangeEvent& out) {
    if (key.empty() || is_blank(key)) {
      reset_image(out.key);
      return Status::Ok();
    }
    bool saved_json_error = json_error;
    if (!decode_key_json(key, out).ok()) set_opaque_key(key, out.key);
    json_error = saved_json_error;
    return Status::Ok();
  }

  void set_opaque_key(std::string_view text, RowImage& key) {
    reset_image(key);
    key.present = true;
    Field& f = key.fields.emplace_back();
    f.path = "value";
    f.value.assign(text.data(), text.size());
    append_json_string(key.json, text);
  }

  Status decode_key_json(std::string_view key, ChangeEvent& out) {
    if (auto e = begin_document(key_buf, key, key_schemas.match(key)))
      return Status::Error(std::string("key: malformed JSON (") + simdjson::error_message(e) + ")");
    od::json_type t;
    if (auto e = doc.type().get(t)) return Status::Error(std::string("key: malformed JSON (") + simdjson::error_message(e) + ")");
    if (t == od::json_type::null) {
      reset_image(out.key);
      return Status::Ok();
    }
    if (t == od::json_type::string) {
      std::string_view text;
      if (auto e = doc.get_string().get(text)) return json_err(e, "key");
      set_opaque_key(text, out.key);
      return Status::Ok();
    }
    if (t != od::json_type::object) return Status::Error("key: not an object");  // number, bool, array
    od::object root;
    if (auto e = doc.get_object().get(root)) return json_err(e, "key");
    // Find the payload of a {"schema","payload"} wrapper, or use the object itself.
    bool wrapped = false, payload_null = false, saw_other = false;
    od::json_type pt = od::json_type::null;
    for (auto member : root) {
      od::field field;
      if (auto e = std::move(member).get(field)) return json_err(e, "key");
      std::string_view k;
      if (auto e = field.unescaped_key().get(k)) return json_err(e, "key");
      if (k == "schema") {
        if (schema_base)
          if (auto e = note_schema(field)) return json_err(e, "key.schema");
        continue;
      }
      if (k != "payload") {
        saw_other = true;
        break;
      }
      wrapped = true;
      if (auto e = field.value().type().get(pt)) return json_err(e, "key.payload");
      payload_null = pt == od::json_type::null;
      break;
    }
    // Second pass from the start (see `doc`: rewind, not reset, so unescaping stays in bounds).
    if (!doc.is_alive()) return Status::Error("key: malformed JSON");
    doc.rewind();
    if (auto e = doc.get_object().get(root)) return json_err(e, "key");
    Status st = Status::Ok();
    if (wrapped && !saw_other) {
      if (payload_null) {
        reset_image(out.key);
        return Status::Ok();
      }
      od::value payload;
      if (auto e = root.find_field_unordered("payload").get(payload)) return json_err(e, "key.payload");
      if (pt != od::json_type::object) {
        // A primitive key with a schema: {"schema":{"type":"string"},"payload":"abc"}.
        std::string text;
        st = read_scalar_text(payload, text, "key.payload");
        if (!st.ok()) return st;
        set_opaque_key(text, out.key);
        return Status::Ok();
      }
      st = decode_image(payload, out.key, "key.payload");
    } else {
      where.assign("key");
      path.clear();
      std::string_view raw;
      if (auto e = root.raw_json().get(raw)) return json_err(e, "key");
      raw = trim_right(raw);
      bool unused;
      if (auto e = root.reset().get(unused)) return json_err(e, "key");  // raw_json() unescapes nothing
      ImageBuilder b(out.key);
      out.key.json.assign(raw.data(), raw.size());
      st = flatten_object(root, b, 1, raw);
      b.finish();
    }
    if (!st.ok()) return st;
    normalize_mongo_key(out);
    remember_schema(key_schemas, key);
    return Status::Ok();
  }

  // MongoDB keys are {"id": "<_id as strict Extended JSON>"}: render the id canonically (1004,
  // a string id without quotes, an ObjectId as hex) and alias it as `_id` so "{_id}" templates can
  // fall back on the key when the event carries no document (delete without pre-image).
  void normalize_mongo_key(ChangeEvent& out) {
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

  Status decode(std::string_view value, bool value_is_null, std::string_view key, ChangeEvent& out) {
    reset_event(out);
    json_error = false;
    if (value_is_null || is_blank(value)) {
      reset_image(out.before);
      reset_image(out.after);
      out.kind = EventKind::tombstone;
      return decode_key(key, out);
    }
    Status st = decode_value(value, out);
    if (!st.ok()) return st;
    return decode_key(key, out);
  }

  // A known schema prefix makes the value {"payload":P}; whenever that does not read as a clean
  // {"schema","payload"} wrapper (a second "payload", other fields, an error), the value is read
  // again in full, so that the shortcut never changes a result.
  Status decode_value(std::string_view value, ChangeEvent& out) {
    if (size_t known = value_schemas.match(value)) {
      Status st = decode_value_text(value, known, out);
      if (wrapped_root && st.ok()) return st;
      reset_event(out);
      json_error = false;
    }
    Status st = decode_value_text(value, 0, out);
    if (st.ok() && wrapped_root) remember_schema(value_schemas, value);
    return st;
  }

  // Parses the value, leaving out its first `skip` bytes (a known {"schema":S, prefix) if any.
  Status decode_value_text(std::string_view value, size_t skip, ChangeEvent& out) {
    wrapped_root = false;
    if (auto e = begin_document(value_buf, value, skip))
      return Status::Error(std::string("value: malformed JSON (") + simdjson::error_message(e) + ")");
    od::json_type t;
    if (auto e = doc.type().get(t))
      return Status::Error(std::string("value: malformed JSON (") + simdjson::error_message(e) + ")");
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
    if (auto e = doc.get_object().get(root))
      return Status::Error(std::string("value: malformed JSON (") + simdjson::error_message(e) + ")");
    Status st = decode_root(root, out);
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
};

Decoder::Decoder() : impl_(std::make_unique<Impl>()) {}
Decoder::~Decoder() = default;

Status Decoder::decode(std::string_view value, bool value_is_null, std::string_view key, ChangeEvent& out) {
  return impl_->decode(value, value_is_null, key, out);
}

}  // namespace cdc
