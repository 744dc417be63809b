// The engine's configuration: parsed once from the JSON that lib/ passes to the addon.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "redis/redis_client.h"
#include "rules/rules.h"

namespace cdc {

struct KafkaSettings {
  std::string brokers;
  std::string group_id;
  std::vector<std::string> topics;  // either topics ...
  std::string topic_pattern;        // ... or a regex (always starts with '^', as librdkafka wants)
  // User librdkafka properties in declaration order, values already turned into strings.
  std::vector<std::pair<std::string, std::string>> properties;
  // Fetched messages the engine holds ahead of processing. Above this, fetching pauses; it resumes
  // at half. (The engine does its own prefetch flow control: librdkafka 2.0.2's queue thresholds
  // stall fetching for about a second each time they are reached.)
  int64_t prefetch_bytes = int64_t{32} << 20;
};

struct RedisSettings {
  RedisEndpoint endpoint;
  RedisOptions options;
  // WAIT n after every pipeline: a batch counts as acknowledged only once n replicas have it
  // (a failover then cannot lose acknowledged deletes). 0: off.
  int wait_replicas = 0;
  int wait_timeout_ms = 1000;  // below commandTimeoutMs
};

struct BatchSettings {
  int max_events = 1000;  // messages per Redis pipeline
  // How long a batch waits to fill up. 0: it takes what has arrived and goes; under load batches
  // still fill, because new messages gather while earlier pipelines are in flight.
  int max_wait_ms = 0;
  int max_in_flight = 4;  // Redis pipelines sent and not yet answered
};

struct HandlerSettings {
  int max_batch_size = 500;  // events per JS handler batch
  int max_in_flight = 2;     // JS batches delivered and not yet acknowledged
};

struct JsHandlerSpec {
  int64_t id = 0;
  std::string source;  // glob over event.source.name, as for rules
};

struct EngineConfig {
  KafkaSettings kafka;
  RedisSettings redis;
  std::vector<RuleSpec> rules;
  RuleOptions rule_options;
  std::string dead_letter_topic;  // empty: dead letters are logged and counted only
  BatchSettings batch;
  int commit_interval_ms = 1000;
  HandlerSettings handlers;
  std::vector<JsHandlerSpec> js_handlers;
};

// Parses and validates the engine config JSON. Errors name the path
// ("kafka.groupId: expected a non-empty string") and never contain a secret.
Status parse_engine_config(std::string_view json, EngineConfig& out);

// '*' matches any run of characters (also empty); everything else matches itself.
bool glob_matches(std::string_view pattern, std::string_view text);

}  // namespace cdc
