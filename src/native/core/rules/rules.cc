// Rules: compiled once (templates split into literal/placeholder segments, globs classified), then
// plan() renders keys with plain string appends: no regex, no parsing on the hot path.
#include "rules/rules.h"

#include "rules/versioned_refresh.h"

#include <simdjson.h>

#include <algorithm>
#include <string>
#include <utility>

#include "common/glob.h"
#include "debezium/json_text.h"

namespace cdc {

namespace {

// ---- source globs ------------------------------------------------------------------------------

struct SourceMatcher {
  enum class Kind { any, exact, glob } kind = Kind::exact;
  std::string pattern;

  void compile(const std::string& source) {
    pattern = source;
    if (source.find_first_not_of('*') == std::string::npos) kind = Kind::any;
    else if (source.find('*') == std::string::npos) kind = Kind::exact;
    else kind = Kind::glob;
  }
  bool matches(std::string_view name) const {
    switch (kind) {
      case Kind::any: return true;
      case Kind::exact: return name == pattern;
      case Kind::glob: return glob_matches(pattern, name);
    }
    return false;
  }
};

// ---- templates ---------------------------------------------------------------------------------

struct Segment {
  enum class Kind { literal, row_field, key_field } kind = Kind::literal;
  std::string text;  // literal text, or the field path (without "key.")
};

struct Template {
  std::vector<Segment> segments;
  bool uses_row = false;
  bool uses_key = false;
  std::string where;  // "rules[0].invalidate[1]" for error messages
};

bool valid_path(std::string_view path) {
  if (path.empty() || path.front() == '.' || path.back() == '.') return false;
  if (path.find("..") != std::string_view::npos) return false;
  return true;
}

Status compile_template(const std::string& text, const std::string& where, Template& out) {
  out = Template{};
  out.where = where;
  auto bad = [&]() {
    return Status::Error(where + ": unknown placeholder syntax " + quote_for_message(text, 200));
  };
  std::string literal;
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    if (c == '{') {
      if (i + 1 < text.size() && text[i + 1] == '{') {
        literal.push_back('{');
        i += 2;
        continue;
      }
      size_t close = text.find_first_of("{}", i + 1);
      if (close == std::string::npos || text[close] != '}') return bad();
      std::string_view path(text.data() + i + 1, close - i - 1);
      if (!valid_path(path)) return bad();
      if (!literal.empty()) {
        out.segments.push_back({Segment::Kind::literal, literal});
        literal.clear();
      }
      Segment seg;
      if (path.size() > 4 && path.substr(0, 4) == "key.") {
        seg.kind = Segment::Kind::key_field;
        seg.text = std::string(path.substr(4));
        out.uses_key = true;
      } else {
        seg.kind = Segment::Kind::row_field;
        seg.text = std::string(path);
        out.uses_row = true;
      }
      out.segments.push_back(std::move(seg));
      i = close + 1;
    } else if (c == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        literal.push_back('}');
        i += 2;
        continue;
      }
      return bad();
    } else {
      literal.push_back(c);
      ++i;
    }
  }
  if (!literal.empty()) out.segments.push_back({Segment::Kind::literal, literal});
  return Status::Ok();
}

enum class Render { ok, missing, type_error };

// Looks a scalar up; classifies objects (flattened into "path.x") and arrays as type errors.
Render lookup(const RowImage& image, const std::string& path, const Field*& out, std::string& why) {
  out = image.find(path);
  if (!out) {
    for (const Field& f : image.fields) {
      if (f.path.size() > path.size() && f.path[path.size()] == '.' && f.path.compare(0, path.size(), path) == 0) {
        why = "is an object, not a scalar";
        return Render::type_error;
      }
    }
    return Render::missing;
  }
  if (out->is_null || out->is_unavailable) return Render::missing;
  if (out->type == FieldType::json) {
    why = "is an array or object, not a scalar";
    return Render::type_error;
  }
  return Render::ok;
}

// Renders a template over one row image (row may be null when the template has no row fields).
Render render(const Template& tpl, const RowImage* row, const RowImage& key, std::string& out,
              std::string& bad_field, std::string& why) {
  out.clear();
  for (const Segment& seg : tpl.segments) {
    if (seg.kind == Segment::Kind::literal) {
      out.append(seg.text);
      continue;
    }
    const RowImage* image = seg.kind == Segment::Kind::key_field ? &key : row;
    if (!image || !image->present) return Render::missing;
    const Field* field = nullptr;
    Render r = lookup(*image, seg.text, field, why);
    if (r != Render::ok) {
      bad_field = seg.kind == Segment::Kind::key_field ? "key." + seg.text : seg.text;
      return r;
    }
    out.append(field->value);
  }
  return Render::ok;
}

struct CompiledRefresh {
  Template key;
  std::vector<std::string> fields;
  std::string ttl;  // decimal seconds, empty: no TTL
};

struct CompiledRule {
  SourceMatcher source;
  std::vector<Template> invalidate;
  bool has_refresh = false;
  CompiledRefresh refresh;
  std::vector<std::string> truncate_keys;  // already prefixed
  std::string where;                       // "rules[3]"
};

void add_unique(std::vector<std::string>& argv, size_t first, std::string&& key) {
  for (size_t i = first; i < argv.size(); ++i)
    if (argv[i] == key) return;
  argv.push_back(std::move(key));
}

// The top-level column a field path is read from: its first segment ("a.b" is column a's field
// b, or a column named "a.b", which the decoder takes with a).
void add_column_of(std::string_view path, std::vector<std::string>& columns) {
  std::string column(path.substr(0, path.find('.')));
  if (std::find(columns.begin(), columns.end(), column) == columns.end()) columns.push_back(std::move(column));
}

}  // namespace

struct RuleSet::Impl {
  std::vector<CompiledRule> rules;
  RuleOptions options;
  std::string delete_command;
  size_t most_delete_args = 1;  // the command and the keys of the rule with most of them (both images)

  Status type_error(const Template& tpl, const std::string& field, const std::string& why) const {
    return Status::Error(tpl.where + ": field " + quote_for_message(field) + " " + why);
  }

  // Renders tpl over every image it applies to and adds the keys (prefixed) to argv.
  Status add_template_keys(const Template& tpl, const ChangeEvent& e, std::vector<std::string>& argv,
                           PlanCounters& counters, std::string& scratch) const {
    std::string bad_field, why;
    auto emit = [&](const RowImage* row) -> Status {
      Render r = render(tpl, row, e.key, scratch, bad_field, why);
      if (r == Render::type_error) return type_error(tpl, bad_field, why);
      if (r == Render::missing) {
        ++counters.missing_field;
        return Status::Ok();
      }
      std::string key;
      key.reserve(options.key_prefix.size() + scratch.size());
      key.append(options.key_prefix).append(scratch);
      add_unique(argv, 1, std::move(key));
      return Status::Ok();
    };
    if (!tpl.uses_row) return emit(nullptr);
    if (!e.before.present && !e.after.present) {
      // No document at all (MongoDB delete without pre-image, update without full document):
      // the message key is the primary key, so render the row fields from it.
      return emit(&e.key);
    }
    if (e.before.present) {
      Status st = emit(&e.before);
      if (!st.ok()) return st;
    }
    if (e.after.present) return emit(&e.after);
    return Status::Ok();
  }

  // The refresh key rendered from the first available of: image, key.
  Status render_refresh_key(const CompiledRule& rule, const RowImage* image, const ChangeEvent& e,
                            std::string& out, bool& ok, PlanCounters& counters) const {
    std::string bad_field, why, scratch;
    const RowImage* row = image && image->present ? image : &e.key;
    Render r = render(rule.refresh.key, rule.refresh.key.uses_row ? row : nullptr, e.key, scratch, bad_field, why);
    if (r == Render::type_error) return type_error(rule.refresh.key, bad_field, why);
    ok = r == Render::ok;
    if (!ok) {
      ++counters.missing_field;
      return Status::Ok();
    }
    out.clear();
    out.append(options.key_prefix).append(scratch);
    return Status::Ok();
  }

  // A refresh writes the after image under the key rendered from it, and deletes the key rendered
  // from the before image when that differs (the key field changed, or became null). Both are
  // versioned. A delete (or an update without its new image) deletes the key of the old row.
  Status plan_refresh(const CompiledRule& rule, const ChangeEvent& event, const std::string& version,
                      std::vector<Command>& out, PlanCounters& counters) const {
    std::string new_key, old_key;
    bool has_new = false, has_old = false;
    const bool write = event.op != Op::remove && event.after.present;
    if (write) {
      Status st = render_refresh_key(rule, &event.after, event, new_key, has_new, counters);
      if (!st.ok()) return st;
      if (!event.before.present && event.op == Op::update) ++counters.refresh_without_before;
    }
    if (event.before.present || !write) {
      Status st = render_refresh_key(rule, event.before.present ? &event.before : nullptr, event, old_key, has_old,
                                     counters);
      if (!st.ok()) return st;
    }
    if (has_new) {
      std::string value;
      if (refresh_value(rule.refresh, event.after, value)) {
        out.push_back(versioned_set(new_key, std::move(value), rule.refresh.ttl, version));
      } else {
        out.push_back(versioned_delete(new_key, version));  // TOAST placeholder: drop instead
      }
    }
    if (has_old && (!has_new || old_key != new_key)) out.push_back(versioned_delete(old_key, version));
    return Status::Ok();
  }

  // The value a refresh writes: the whole after image, or an object with the chosen fields.
  // False when the image holds an unavailable (TOAST) placeholder: caching it would be wrong.
  static bool refresh_value(const CompiledRefresh& refresh, const RowImage& after, std::string& out) {
    out.clear();
    if (refresh.fields.empty()) {
      for (const Field& f : after.fields)
        if (f.is_unavailable) return false;
      out = after.json;
      return true;
    }
    out.push_back('{');
    for (const std::string& path : refresh.fields) {
      const Field* f = after.find(path);
      if (!f) continue;
      if (f->is_unavailable) return false;
      if (out.size() > 1) out.push_back(',');
      append_json_string(out, path);
      out.push_back(':');
      switch (f->type) {
        case FieldType::string: append_json_string(out, f->value); break;
        case FieldType::null: out.append("null"); break;
        default: out.append(f->value); break;
      }
    }
    out.push_back('}');
    return true;
  }
};

RuleSet::RuleSet() : impl_(std::make_unique<Impl>()) {}
RuleSet::~RuleSet() = default;
RuleSet::RuleSet(RuleSet&&) noexcept = default;
RuleSet& RuleSet::operator=(RuleSet&&) noexcept = default;

Status RuleSet::compile(const std::vector<RuleSpec>& specs, const RuleOptions& options, RuleSet& out) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->delete_command = options.use_unlink ? "UNLINK" : "DEL";
  for (size_t i = 0; i < specs.size(); ++i) {
    const RuleSpec& spec = specs[i];
    CompiledRule rule;
    rule.where = "rules[" + std::to_string(i) + "]";
    if (spec.source.empty()) return Status::Error(rule.where + ".source: expected a non-empty string");
    rule.source.compile(spec.source);
    for (size_t j = 0; j < spec.invalidate.size(); ++j) {
      Template tpl;
      std::string where = rule.where + ".invalidate[" + std::to_string(j) + "]";
      if (spec.invalidate[j].empty()) return Status::Error(where + ": expected a non-empty string");
      Status st = compile_template(spec.invalidate[j], where, tpl);
      if (!st.ok()) return st;
      rule.invalidate.push_back(std::move(tpl));
    }
    if (spec.refresh) {
      rule.has_refresh = true;
      std::string where = rule.where + ".refresh.key";
      if (spec.refresh->key.empty()) return Status::Error(where + ": expected a non-empty string");
      Status st = compile_template(spec.refresh->key, where, rule.refresh.key);
      if (!st.ok()) return st;
      for (size_t j = 0; j < spec.refresh->fields.size(); ++j) {
        if (!valid_path(spec.refresh->fields[j]))
          return Status::Error(rule.where + ".refresh.fields[" + std::to_string(j) + "]: expected a field path");
      }
      rule.refresh.fields = spec.refresh->fields;
      if (spec.refresh->ttl_seconds < 0)
        return Status::Error(rule.where + ".refresh.ttlSeconds: expected a non-negative integer");
      if (spec.refresh->ttl_seconds > 0) rule.refresh.ttl = std::to_string(spec.refresh->ttl_seconds);
    }
    for (size_t j = 0; j < spec.on_truncate.size(); ++j) {
      std::string where = rule.where + ".onTruncate[" + std::to_string(j) + "]";
      if (spec.on_truncate[j].empty()) return Status::Error(where + ": expected a non-empty string");
      Template tpl;
      Status st = compile_template(spec.on_truncate[j], where, tpl);
      if (!st.ok()) return st;
      if (tpl.uses_row || tpl.uses_key)
        return Status::Error(where + ": placeholders are not allowed here (a truncate carries no row)");
      std::string key = options.key_prefix;
      for (const Segment& seg : tpl.segments) key += seg.text;
      rule.truncate_keys.push_back(std::move(key));
    }
    const size_t delete_args = 1 + std::max(2 * rule.invalidate.size(), rule.truncate_keys.size());
    impl->most_delete_args = std::min<size_t>(64, std::max(impl->most_delete_args, delete_args));
    impl->rules.push_back(std::move(rule));
  }
  out.impl_ = std::move(impl);
  return Status::Ok();
}

bool RuleSet::matches(std::string_view source_name) const {
  for (const CompiledRule& rule : impl_->rules)
    if (rule.source.matches(source_name)) return true;
  return false;
}

namespace {

// A key that is refreshed need not be deleted first: the SET replaces it. The delete goes first
// (or not at all when it has no keys), then the SETs.
void finish_plan(std::vector<Command>& out, size_t first_command, std::vector<Command>& sets) {
  std::vector<std::string>& argv = out[first_command].argv;
  if (!sets.empty() && argv.size() > 1) {
    argv.erase(std::remove_if(argv.begin() + 1, argv.end(),
                              [&](const std::string& k) {
                                for (const Command& s : sets)
                                  if (refreshed_key(s) == k) return true;
                                return false;
                              }),
               argv.end());
  }
  if (argv.size() == 1) out.erase(out.begin() + static_cast<std::ptrdiff_t>(first_command));
  for (Command& set : sets) out.push_back(std::move(set));
}

}  // namespace

Status RuleSet::plan(const ChangeEvent& event, std::vector<Command>& out, bool& matched,
                     PlanCounters& counters) const {
  matched = false;
  if (event.kind != EventKind::change) return Status::Ok();
  const Impl& impl = *impl_;

  size_t first_command = out.size();
  out.emplace_back();
  out.back().argv.reserve(impl.most_delete_args);  // no regrowth while keys are added
  out.back().argv.push_back(impl.delete_command);
  std::vector<Command> sets;  // refresh SETs go after the delete
  std::string scratch;
  std::string version;  // the event's source position, once per event

  for (const CompiledRule& rule : impl.rules) {
    if (!rule.source.matches(event.source.name)) continue;
    matched = true;
    if (event.op == Op::truncate) {
      for (const std::string& key : rule.truncate_keys) add_unique(out[first_command].argv, 1, std::string(key));
      continue;
    }
    if (event.op == Op::message || event.op == Op::none) continue;
    Status st = Status::Ok();
    for (const Template& tpl : rule.invalidate) {
      st = impl.add_template_keys(tpl, event, out[first_command].argv, counters, scratch);
      if (!st.ok()) break;
    }
    if (st.ok() && rule.has_refresh) {
      if (version.empty()) version = source_version(event);
      st = impl.plan_refresh(rule, event, version, sets, counters);
    }
    if (!st.ok()) {
      out.resize(first_command);
      return st;
    }
  }
  if (matched && event.op == Op::truncate && out[first_command].argv.size() == 1) ++counters.truncate_ignored;
  finish_plan(out, first_command, sets);
  return Status::Ok();
}

DecodeNeeds RuleSet::decode_needs() const {
  DecodeNeeds needs;
  for (const CompiledRule& rule : impl_->rules) {
    if (rule.has_refresh) return DecodeNeeds{};
    for (const Template& tpl : rule.invalidate)
      for (const Segment& segment : tpl.segments)
        if (segment.kind == Segment::Kind::row_field) add_column_of(segment.text, needs.columns);
  }
  needs.whole_images = false;
  needs.positions = false;
  return needs;
}

// ---- rules JSON ----------------------------------------------------------------------------

namespace {

namespace dom = simdjson::dom;

Status parse_string_array(dom::element el, const std::string& at, std::vector<std::string>& out) {
  dom::array arr;
  if (el.get_array().get(arr)) return Status::Error(at + ": expected an array of strings");
  size_t j = 0;
  for (dom::element item : arr) {
    std::string_view s;
    if (item.get_string().get(s) || s.empty())
      return Status::Error(at + "[" + std::to_string(j) + "]: expected a non-empty string");
    out.emplace_back(s);
    ++j;
  }
  return Status::Ok();
}

Status parse_ttl_seconds(dom::element value, const std::string& at, int64_t& out) {
  int64_t ttl = 0;
  uint64_t uttl = 0;
  if (!value.get_int64().get(ttl)) {
    if (ttl < 0) return Status::Error(at + ": expected a non-negative integer");
  } else if (!value.get_uint64().get(uttl)) {
    return Status::Error(at + ": too large");
  } else {
    return Status::Error(at + ": expected a non-negative integer");
  }
  out = ttl;
  return Status::Ok();
}

Status parse_refresh(dom::element value, const std::string& at, RefreshSpec& out) {
  dom::object refresh;
  if (value.get_object().get(refresh)) return Status::Error(at + ": expected an object");
  bool has_key = false;
  for (dom::key_value_pair r : refresh) {
    std::string_view rkey = r.key;
    std::string r_at = at + "." + std::string(rkey);
    Status st = Status::Ok();
    if (rkey == "key") {
      std::string_view s;
      if (r.value.get_string().get(s) || s.empty()) return Status::Error(r_at + ": expected a non-empty string");
      out.key = std::string(s);
      has_key = true;
    } else if (rkey == "fields") {
      st = parse_string_array(r.value, r_at, out.fields);
    } else if (rkey == "ttlSeconds") {
      st = parse_ttl_seconds(r.value, r_at, out.ttl_seconds);
    } else {
      return Status::Error(r_at + ": unknown field (expected key, fields, ttlSeconds)");
    }
    if (!st.ok()) return st;
  }
  if (!has_key) return Status::Error(at + ".key: missing");
  return Status::Ok();
}

Status parse_rule(dom::element rule_el, const std::string& at, RuleSpec& spec) {
  dom::object rule;
  if (rule_el.get_object().get(rule)) return Status::Error(at + ": expected an object");
  bool has_source = false;
  for (dom::key_value_pair member : rule) {
    std::string_view key = member.key;
    std::string field_at = at + "." + std::string(key);
    Status st = Status::Ok();
    if (key == "source") {
      std::string_view s;
      if (member.value.get_string().get(s) || s.empty()) return Status::Error(field_at + ": expected a non-empty string");
      spec.source = std::string(s);
      has_source = true;
    } else if (key == "invalidate") {
      st = parse_string_array(member.value, field_at, spec.invalidate);
    } else if (key == "onTruncate") {
      st = parse_string_array(member.value, field_at, spec.on_truncate);
    } else if (key == "refresh") {
      RefreshSpec refresh;
      st = parse_refresh(member.value, field_at, refresh);
      if (st.ok()) spec.refresh = std::move(refresh);
    } else {
      return Status::Error(field_at + ": unknown field (expected source, invalidate, refresh, onTruncate)");
    }
    if (!st.ok()) return st;
  }
  if (!has_source) return Status::Error(at + ".source: expected a non-empty string");
  return Status::Ok();
}

}  // namespace

Status parse_rules_json(std::string_view json, std::vector<RuleSpec>& out, std::string_view path_prefix) {
  out.clear();
  std::string prefix(path_prefix);
  dom::parser parser;
  simdjson::padded_string padded(json);
  dom::element root;
  if (auto e = parser.parse(padded).get(root))
    return Status::Error(prefix + ": invalid JSON (" + simdjson::error_message(e) + ")");
  dom::array rules;
  if (root.get_array().get(rules)) return Status::Error(prefix + ": expected an array of rules");
  size_t i = 0;
  for (dom::element rule_el : rules) {
    RuleSpec spec;
    Status st = parse_rule(rule_el, prefix + "[" + std::to_string(i++) + "]", spec);
    if (!st.ok()) return st;
    out.push_back(std::move(spec));
  }
  return Status::Ok();
}

}  // namespace cdc
