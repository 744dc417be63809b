// cdc_explain --rules RULES.json [--key KEY.json] EVENT.json
// Prints what the engine would do with one Kafka message (decoded event + Redis commands).
// An empty EVENT file is a tombstone (null value). Exit codes: 0 ok, 2 bad input / rules / usage.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "explain/explain.h"

namespace {

constexpr int kExitBadInput = 2;

const char kUsage[] = "usage: cdc_explain --rules RULES.json [--key KEY.json] EVENT.json";

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  out = buffer.str();
  return !in.bad();
}

}  // namespace

int main(int argc, char** argv) {
  std::string rules_path, key_path, event_path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "--rules" || arg == "--key") && i + 1 < argc) {
      (arg == "--rules" ? rules_path : key_path) = argv[++i];
    } else if (arg == "-h" || arg == "--help") {
      std::cout << kUsage << "\n";
      return 0;
    } else if (!arg.empty() && arg[0] == '-' && arg != "-") {
      std::cerr << "cdc_explain: unknown option " << arg << "\n" << kUsage << "\n";
      return kExitBadInput;
    } else if (event_path.empty()) {
      event_path = arg;
    } else {
      std::cerr << "cdc_explain: more than one EVENT file\n" << kUsage << "\n";
      return kExitBadInput;
    }
  }
  if (rules_path.empty() || event_path.empty()) {
    std::cerr << kUsage << "\n";
    return kExitBadInput;
  }
  std::string rules, value, key;
  if (!read_file(rules_path, rules)) {
    std::cerr << "cdc_explain: cannot read rules file " << rules_path << "\n";
    return kExitBadInput;
  }
  if (event_path == "-") {
    std::ostringstream buffer;
    buffer << std::cin.rdbuf();
    value = buffer.str();
  } else if (!read_file(event_path, value)) {
    std::cerr << "cdc_explain: cannot read event file " << event_path << "\n";
    return kExitBadInput;
  }
  if (!key_path.empty() && !read_file(key_path, key)) {
    std::cerr << "cdc_explain: cannot read key file " << key_path << "\n";
    return kExitBadInput;
  }
  std::string out;
  cdc::Status st = cdc::explain(rules, value, value.empty(), key, out);
  if (!st.ok()) {
    std::cerr << "cdc_explain: " << st.message() << "\n";
    return kExitBadInput;
  }
  std::cout << out << "\n";
  return 0;
}
