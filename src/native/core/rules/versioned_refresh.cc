#include "rules/versioned_refresh.h"

#include <cstdio>

namespace cdc {
namespace {

// Digits of `text` (a decimal integer as Debezium writes it) left-padded to `width`; "" when not a
// plain non-negative integer or too long.
std::string padded(std::string_view text, size_t width) {
  if (text.empty() || text.size() > width) return "";
  for (char c : text)
    if (c < '0' || c > '9') return "";
  return std::string(width - text.size(), '0').append(text);
}

std::string padded(int64_t value, size_t width) { return padded(std::to_string(value < 0 ? 0 : value), width); }

// The value of "name=" in a position such as "lsn=123,txId=9".
std::string_view field_of(std::string_view position, std::string_view name) {
  size_t at = position.find(name);
  if (at == std::string_view::npos || (at > 0 && position[at - 1] != ',')) return {};
  std::string_view rest = position.substr(at + name.size());
  return rest.substr(0, rest.find(','));
}

}  // namespace

std::string source_version(const ChangeEvent& event) {
  const SourceInfo& source = event.source;
  std::string_view position = source.position;
  if (std::string lsn = padded(field_of(position, "lsn="), 20); !lsn.empty()) return "p" + lsn;
  if (std::string ord = padded(field_of(position, "ord="), 10); !ord.empty() && source.ts_ms > 0)
    return "o" + padded(source.ts_ms / 1000, 20) + ord;  // the oplog timestamp: seconds and ordinal
  size_t colon = position.rfind(':');
  if (colon != std::string_view::npos && position.find('=') == std::string_view::npos) {
    std::string_view file = position.substr(0, colon);
    size_t dot = file.rfind('.');
    std::string number = padded(dot == std::string_view::npos ? std::string_view() : file.substr(dot + 1), 20);
    std::string pos = padded(position.substr(colon + 1), 20);
    if (!number.empty() && !pos.empty()) return "b" + number + pos;
  }
  return "t" + padded(source.ts_ms > 0 ? source.ts_ms : event.ts_ms, 20);
}

std::string version_key(const std::string& key) {
  size_t open = key.find('{');
  size_t close = open == std::string::npos ? std::string::npos : key.find('}', open + 1);
  bool tagged = close != std::string::npos && close > open + 1;
  return (tagged ? key : "{" + key + "}") + ":cdc-version";
}

Command versioned_set(const std::string& key, std::string value, const std::string& ttl_seconds,
                      const std::string& version) {
  Command command;
  command.argv.reserve(8);
  command.argv = {"EVALSHA", std::string(kRefreshScriptSha), "2", key, version_key(key), version, "set",
                  ttl_seconds.empty() ? "0" : ttl_seconds};
  command.argv.push_back(std::move(value));
  return command;
}

Command versioned_delete(const std::string& key, const std::string& version) {
  Command command;
  command.argv = {"EVALSHA", std::string(kRefreshScriptSha), "2", key, version_key(key), version, "del",
                  std::to_string(kDeletedVersionTtlMs), ""};
  return command;
}

std::string_view refreshed_key(const Command& command) {
  const auto& argv = command.argv;
  if (argv.size() >= 3 && argv[0] == "SET") return argv[1];
  if (argv.size() >= 5 && argv[0] == "EVALSHA" && argv[1] == kRefreshScriptSha) return argv[3];
  return {};
}

}  // namespace cdc
