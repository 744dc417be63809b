// Refresh writes versioned by the event's source position, so that a replayed or reordered event
// never overwrites a newer cached value, and a deleted row is not brought back by an older
// refresh. The value key holds exactly what the application reads; its version lives beside it in
// "<key>:cdc-version" (same hash slot), written by one Lua script in the same step as the value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "debezium/change_event.h"
#include "rules/rules.h"

namespace cdc {

// KEYS[1] value key, KEYS[2] version key; ARGV[1] version, ARGV[2] "set" or "del", ARGV[3] TTL
// (seconds for set, 0: none; milliseconds the version outlives a delete), ARGV[4] value.
// Returns 1 when applied, 0 when the key already holds a newer version (of the same kind).
inline constexpr std::string_view kRefreshScript = R"lua(local held = redis.call('GET', KEYS[2])
if held and string.sub(held, 1, 1) == string.sub(ARGV[1], 1, 1) and held > ARGV[1] then return 0 end
if ARGV[2] == 'del' then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
elseif ARGV[3] == '0' then
  redis.call('SET', KEYS[1], ARGV[4])
  redis.call('SET', KEYS[2], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[4], 'EX', ARGV[3])
  redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[3])
end
return 1)lua";
// SHA-1 of kRefreshScript, what EVALSHA names it by (checked against SCRIPT LOAD in the tests and
// at every connect).
inline constexpr std::string_view kRefreshScriptSha = "36e4fd97723c67684a95e3577a7843de474d9619";

// How long the version of a deleted key stays behind: a replay of older events processed within
// this time cannot resurrect the row.
inline constexpr int64_t kDeletedVersionTtlMs = 3600 * 1000;

// The event's position in its source log as a string that sorts in log order among versions of
// the same kind (first letter): "p" + PostgreSQL lsn, "b" + MySQL binlog file number and
// position, "o" + MongoDB oplog seconds and ord, else "t" + ts_ms. Fixed-width digits.
std::string source_version(const ChangeEvent& event);

// "<key>:cdc-version", or "{<key>}:cdc-version" when the key has no hash tag, so both share a slot.
std::string version_key(const std::string& key);

Command versioned_set(const std::string& key, std::string value, const std::string& ttl_seconds,
                      const std::string& version);
Command versioned_delete(const std::string& key, const std::string& version);

// The value key a refresh command writes (SET or the versioned script), empty for other commands.
std::string_view refreshed_key(const Command& command);

}  // namespace cdc
