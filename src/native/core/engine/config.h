// The engine's configuration: parsed once from the JSON that lib/ passes to the addon.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/glob.h"
#include "common/status.h"
#include "kafka/settings.h"
#include "redis/connection.h"
#include "rules/rules.h"

namespace cdc {

struct RedisSettings {
  RedisEndpoint endpoint;
  RedisOptions options;
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

}  // namespace cdc
