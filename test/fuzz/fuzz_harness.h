// What one fuzz input does, shared by the libFuzzer targets (test/fuzz/fuzz_*.cc) and by the
// GoogleTest suite that replays every saved crash (test/native/fuzz_regressions_test.cc), so a
// regression file is replayed through exactly the code that found it.
//
// Input formats (chosen so that a Debezium fixture file is itself a useful seed):
//   decoder:   <value bytes> [ '\0' <key bytes> ]. No NUL: the whole input is the value and the key
//              is null. An empty value is a tombstone. Decoded three times: twice by the long-lived
//              decoder (the second time its schema is known, when it has one) and once by a fresh
//              one; the three results must be identical.
//   templates: the whole input is tried twice:
//              1. as rules JSON (parse_rules_json), compiled and planned when it parses;
//              2. as lines: line 1 is the source glob (empty: "*"), "!" + text is the refresh key,
//                 "#" + text an onTruncate key, "=" + text a refresh field, "^" + text the keyPrefix,
//                 any other line an invalidate template.
//              Each compiled rule set plans every fixture event loaded by TemplateFixtures.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "../native/event_text.h"
#include "debezium/decoder.h"
#include "rules/rules.h"

namespace cdc_fuzz {

inline void run_decoder_input(cdc::Decoder& decoder, const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view value = input, key;
  size_t nul = input.find('\0');
  if (nul != std::string_view::npos) {
    value = input.substr(0, nul);
    key = input.substr(nul + 1);
  }
  cdc::ChangeEvent event;
  cdc::Status status = decoder.decode(value, value.empty(), key, event);
  // The known-schema shortcut must never change a result.
  const std::string first = cdc_test::describe_event(status, event);
  cdc::ChangeEvent again_event, fresh_event;
  cdc::Decoder fresh;
  const std::string again = cdc_test::describe_event(decoder.decode(value, value.empty(), key, again_event), again_event);
  const std::string cold = cdc_test::describe_event(fresh.decode(value, value.empty(), key, fresh_event), fresh_event);
  if (first != cold || again != cold) {
    std::fprintf(stderr, "decoders disagree:\n--- fresh\n%s--- long-lived\n%s--- long-lived again\n%s", cold.c_str(),
                 first.c_str(), again.c_str());
    std::abort();
  }
  if (status.ok()) {
    // Touch what the rules and the addon read, so a bad pointer or length shows up here.
    size_t total = event.source.name.size() + event.before.json.size() + event.after.json.size();
    for (const cdc::Field& f : event.after.fields) total += f.path.size() + f.value.size();
    for (const cdc::Field& f : event.before.fields) total += f.path.size() + f.value.size();
    for (const cdc::Field& f : event.key.fields) total += f.path.size() + f.value.size();
    if (total == SIZE_MAX) std::abort();
  } else if (status.message().empty()) {
    std::fprintf(stderr, "decoder failed without a message\n");
    std::abort();
  }
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Real events that exercise every part of plan(): both images, the key, MongoDB, truncate.
struct TemplateFixtures {
  std::vector<cdc::ChangeEvent> events;

  explicit TemplateFixtures(const std::string& fixtures_dir) {
    static const char* const kFiles[][2] = {
        {"postgres/pg-v1.2-update-replica-identity-full.schemaless.json", ""},
        {"postgres/pg-v3.0-create-uuid.with-schema.json", "postgres/pg-v3.0-create-uuid.with-schema.key.json"},
        {"postgres/pg-v0.10-toast-unavailable-value.schemaless.json", ""},
        {"postgres/pg-docs-truncate.schemaless.json", "postgres/pg-docs-truncate.schemaless.key.json"},
        {"mongodb/mongo-v2.7-update-with-preimage.schemaless.json",
         "mongodb/mongo-v2.7-update-with-preimage.schemaless.key.json"},
        {"mysql/mysql-v1.9-update.with-schema.json", ""},
    };
    cdc::Decoder decoder;
    for (const auto& file : kFiles) {
      std::string value = read_file(fixtures_dir + "/" + file[0]);
      std::string key = file[1][0] ? read_file(fixtures_dir + "/" + file[1]) : std::string();
      cdc::ChangeEvent event;
      cdc::Status status = decoder.decode(value, value.empty(), key, event);
      if (value.empty() || !status.ok()) {
        std::fprintf(stderr, "fuzz fixture %s does not decode: %s\n", file[0], status.message().c_str());
        std::abort();
      }
      events.push_back(std::move(event));
    }
  }
};

inline void plan_all(const std::vector<cdc::RuleSpec>& specs, const cdc::RuleOptions& options,
                     const TemplateFixtures& fixtures) {
  cdc::RuleSet rules;
  if (!cdc::RuleSet::compile(specs, options, rules).ok()) return;
  for (const cdc::ChangeEvent& event : fixtures.events) {
    std::vector<cdc::Command> commands;
    bool matched = false;
    cdc::PlanCounters counters;
    cdc::Status status = rules.plan(event, commands, matched, counters);
    if (!status.ok()) continue;
    for (const cdc::Command& command : commands) {
      // Every command is a delete with at least one key, or a SET key value [EX ttl].
      if (command.argv.size() < 2) {
        std::fprintf(stderr, "plan produced a command without a key\n");
        std::abort();
      }
    }
  }
}

inline std::vector<cdc::RuleSpec> rule_from_lines(std::string_view text, cdc::RuleOptions& options) {
  cdc::RuleSpec spec;
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  spec.source = lines[0].empty() ? "*" : lines[0];
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    char tag = line.empty() ? '\0' : line[0];
    std::string rest = line.empty() ? std::string() : line.substr(1);
    switch (tag) {
      case '!':
        if (!spec.refresh) spec.refresh.emplace();
        spec.refresh->key = rest;
        spec.refresh->ttl_seconds = static_cast<int64_t>(rest.size());
        break;
      case '=':
        if (!spec.refresh) spec.refresh.emplace();
        spec.refresh->fields.push_back(rest);
        break;
      case '#': spec.on_truncate.push_back(rest); break;
      case '^': options.key_prefix = rest; break;
      default: spec.invalidate.push_back(line); break;
    }
  }
  return {spec};
}

inline void run_templates_input(const TemplateFixtures& fixtures, const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);

  std::vector<cdc::RuleSpec> from_json;
  cdc::Status parsed = cdc::parse_rules_json(input, from_json);
  if (parsed.ok()) {
    plan_all(from_json, cdc::RuleOptions{}, fixtures);
  } else if (parsed.message().empty()) {
    std::fprintf(stderr, "parse_rules_json failed without a message\n");
    std::abort();
  }

  cdc::RuleOptions options;
  options.use_unlink = size % 2 == 0;
  std::vector<cdc::RuleSpec> from_lines = rule_from_lines(input, options);
  plan_all(from_lines, options, fixtures);
}

}  // namespace cdc_fuzz
