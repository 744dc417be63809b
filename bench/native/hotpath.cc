// The engine's per-event CPU work without Kafka or Redis: decode the Debezium value and key, plan the
// rules' commands. Input: a file of records written by bench/native/dump-events.js, each
// <u32 key length><key><u32 value length><value> (little endian).
//   hotpath EVENTS.bin [ROUNDS] [--whole]
// Prints ns per event and events per second per core. Run under `valgrind --tool=callgrind` for a
// profile that does not depend on what else the machine is doing.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "debezium/decoder.h"
#include "rules/rules.h"

namespace {

struct Record {
  std::string key, value;
};

bool read_u32(const std::string& data, size_t& at, uint32_t& out) {
  if (at + 4 > data.size()) return false;
  std::memcpy(&out, data.data() + at, 4);
  at += 4;
  return true;
}

bool load(const char* path, std::vector<Record>& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string data = buffer.str();
  size_t at = 0;
  uint32_t n = 0;
  while (at < data.size()) {
    Record r;
    if (!read_u32(data, at, n) || at + n > data.size()) return false;
    r.key.assign(data, at, n);
    at += n;
    if (!read_u32(data, at, n) || at + n > data.size()) return false;
    r.value.assign(data, at, n);
    at += n;
    out.push_back(std::move(r));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: hotpath EVENTS.bin [ROUNDS]\n");
    return 2;
  }
  std::vector<Record> records;
  if (!load(argv[1], records) || records.empty()) {
    std::fprintf(stderr, "hotpath: cannot read records from %s\n", argv[1]);
    return 2;
  }
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;

  cdc::RuleSpec rule;
  rule.source = "public.customers";
  rule.invalidate = {"customer:{id}", "customer:email:{email}"};
  cdc::RuleSet rules;
  cdc::Status st = cdc::RuleSet::compile({rule}, cdc::RuleOptions{}, rules);
  if (!st.ok()) {
    std::fprintf(stderr, "hotpath: %s\n", st.message().c_str());
    return 2;
  }

  cdc::Decoder decoder;
  // As the engine does when no JS change handlers are registered; --whole decodes every column.
  const bool whole = argc > 3 && std::strcmp(argv[3], "--whole") == 0;
  if (!whole) decoder.set_needs(rules.decode_needs());
  cdc::ChangeEvent event;
  std::vector<cdc::Command> commands;
  cdc::PlanCounters counters;
  size_t bytes = 0, keys = 0;
  for (const Record& r : records) bytes += r.value.size();

  auto started = std::chrono::steady_clock::now();
  for (int round = 0; round < rounds; ++round) {
    for (const Record& r : records) {
      st = decoder.decode(r.value, false, r.key, event);
      if (!st.ok()) {
        std::fprintf(stderr, "hotpath: decode: %s\n", st.message().c_str());
        return 1;
      }
      commands.clear();
      bool matched = false;
      st = rules.plan(event, commands, matched, counters);
      if (!st.ok() || !matched) {
        std::fprintf(stderr, "hotpath: plan: %s\n", st.ok() ? "no rule matched" : st.message().c_str());
        return 1;
      }
      for (const cdc::Command& c : commands) keys += c.argv.size() - 1;
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  double events = double(records.size()) * rounds;
  std::printf("%zu events x %d rounds, %.0f bytes/event, %.2f keys/event: %.0f ns/event, %.0f events/s per core, %.0f MB/s\n",
              records.size(), rounds, double(bytes) / records.size(), keys / events, seconds * 1e9 / events,
              events / seconds, double(bytes) * rounds / seconds / 1e6);
  return 0;
}
