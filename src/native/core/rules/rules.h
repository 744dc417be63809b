// Rules map a change to Redis commands. Compiled once at start; plan() is on the hot path.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "debezium/change_event.h"
#include "debezium/decoder.h"
#include "redis/command.h"

namespace cdc {

struct RefreshSpec {
  std::string key;                  // key template, e.g. "customer:{id}"
  std::vector<std::string> fields;  // empty: the whole after image
  int64_t ttl_seconds = 0;          // 0: no TTL
};

struct RuleSpec {
  std::string source;                    // "public.customers", "inventory.*", "*"
  std::vector<std::string> invalidate;   // key templates, evaluated over before AND after
  std::optional<RefreshSpec> refresh;
  std::vector<std::string> on_truncate;  // keys to delete when the source is truncated
};

struct RuleOptions {
  std::string key_prefix;
  bool use_unlink = true;  // UNLINK (default) or DEL
};

struct PlanCounters {
  uint64_t missing_field = 0;     // a template field missing/null/unavailable in one image
  uint64_t truncate_ignored = 0;  // truncate with no on_truncate keys
  uint64_t refresh_without_before = 0;  // an update refreshed without its before image: an old
                                        // key (the key field changed) cannot be found
};

class RuleSet {
 public:
  RuleSet();
  ~RuleSet();
  RuleSet(RuleSet&&) noexcept;
  RuleSet& operator=(RuleSet&&) noexcept;

  // Fails naming the rule and the template, e.g. "rules[2].invalidate[0]: unknown placeholder
  // syntax \"{id\"".
  static Status compile(const std::vector<RuleSpec>& specs, const RuleOptions& options, RuleSet& out);

  bool matches(std::string_view source_name) const;

  // Appends the commands for one change (deduplicated keys). Returns false in matched when no rule
  // matches the source. An error Status means the event cannot be applied (dead-letter it).
  // Details: at most one UNLINK/DEL (all keys as argv) comes first, then refresh SETs. Non-change
  // kinds (tombstone, heartbeat, ...) give matched=false and nothing; ops t/m give matched=true when
  // a rule matches (t: the onTruncate keys, or counters.truncate_ignored++; m: nothing). Row
  // placeholders are rendered over before and after; when the event carries neither image (MongoDB
  // delete without pre-image) they are rendered from the message key. On error nothing is appended.
  // counters are added to, never reset. plan() has no mutable state: safe from several threads.
  Status plan(const ChangeEvent& event, std::vector<Command>& out, bool& matched,
              PlanCounters& counters) const;

  // What plan() reads of an event: the columns its templates name and no source positions, or
  // (with a refresh rule, which writes the after image versioned by its position) everything.
  DecodeNeeds decode_needs() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses a JSON array of rules in the engine's `rules` option shape:
// [{"source": "...", "invalidate": [...], "refresh": {"key", "fields", "ttlSeconds"}, "onTruncate": [...]}]
// Errors name the path relative to `path_prefix` (e.g. "rules[1].refresh.key").
Status parse_rules_json(std::string_view json, std::vector<RuleSpec>& out,
                        std::string_view path_prefix = "rules");

}  // namespace cdc
