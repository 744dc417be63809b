#include "explain/explain.h"

#include <simdjson.h>

#include <vector>

#include "debezium/decoder.h"
#include "debezium/json_text.h"
#include "rules/rules.h"

namespace cdc {

namespace {

// Rules given as the bare array or inside an object with keyPrefix/deleteCommand.
Status load_rules(std::string_view rules_json, std::vector<RuleSpec>& specs, RuleOptions& options) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(rules_json);
  simdjson::dom::element root;
  if (auto e = parser.parse(padded).get(root))
    return Status::Error(std::string("rules: invalid JSON (") + simdjson::error_message(e) + ")");
  if (root.is_array()) return parse_rules_json(rules_json, specs, "rules");
  simdjson::dom::object config;
  if (root.get_object().get(config)) return Status::Error("rules: expected an array of rules or an object with `rules`");
  simdjson::dom::element rules;
  if (config["rules"].get(rules)) return Status::Error("rules: missing");
  Status st = parse_rules_json(simdjson::minify(rules), specs, "rules");
  if (!st.ok()) return st;
  simdjson::dom::element el;
  if (!config["keyPrefix"].get(el)) {
    std::string_view prefix;
    if (el.get_string().get(prefix)) return Status::Error("keyPrefix: expected a string");
    options.key_prefix = std::string(prefix);
  }
  if (!config["deleteCommand"].get(el)) {
    std::string_view command;
    if (el.get_string().get(command) || (command != "UNLINK" && command != "DEL"))
      return Status::Error("deleteCommand: expected \"UNLINK\" or \"DEL\"");
    options.use_unlink = command == "UNLINK";
  }
  return Status::Ok();
}

void append_image(std::string& out, const RowImage& image) {
  if (!image.present || image.json.empty()) {
    out += "null";
    return;
  }
  // The image text is JSON (raw from the message, or MongoDB's Extended JSON); compact it.
  std::string compact(image.json.size(), '\0');
  size_t len = 0;
  if (simdjson::minify(image.json.data(), image.json.size(), compact.data(), len) == simdjson::SUCCESS) {
    out.append(compact.data(), len);
  } else {
    out += image.json;
  }
}

}  // namespace

Status explain(std::string_view rules_json, std::string_view value, bool value_is_null, std::string_view key,
               std::string& out_json) {
  std::vector<RuleSpec> specs;
  RuleOptions options;
  Status st = load_rules(rules_json, specs, options);
  if (!st.ok()) return st;
  RuleSet rules;
  st = RuleSet::compile(specs, options, rules);
  if (!st.ok()) return st;

  Decoder decoder;
  ChangeEvent event;
  st = decoder.decode(value, value_is_null, key, event);
  if (!st.ok()) return st;

  std::vector<Command> commands;
  bool matched = false;
  PlanCounters counters;
  st = rules.plan(event, commands, matched, counters);
  if (!st.ok()) return st;

  std::string& out = out_json;
  out.clear();
  out += "{\"event\":{\"kind\":";
  append_json_string(out, event_kind_name(event.kind));
  out += ",\"op\":";
  if (event.op == Op::none) {
    out += "null";
  } else {
    append_json_string(out, std::string_view(reinterpret_cast<const char*>(&event.op), 1));
  }
  out += ",\"source\":{\"connector\":";
  append_json_string(out, event.source.connector);
  out += ",\"db\":";
  append_json_string(out, event.source.db);
  out += ",\"schema\":";
  append_json_string(out, event.source.schema);
  out += ",\"table\":";
  append_json_string(out, event.source.table);
  out += "},\"before\":";
  append_image(out, event.before);
  out += ",\"after\":";
  append_image(out, event.after);
  out += "},\"commands\":[";
  for (size_t i = 0; i < commands.size(); ++i) {
    if (i) out.push_back(',');
    out.push_back('[');
    for (size_t j = 0; j < commands[i].argv.size(); ++j) {
      if (j) out.push_back(',');
      append_json_string(out, commands[i].argv[j]);
    }
    out.push_back(']');
  }
  out += "]}";
  return Status::Ok();
}

}  // namespace cdc
