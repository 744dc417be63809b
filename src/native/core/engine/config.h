// The engine's configuration: parsed once from the JSON that lib/ passes to the addon.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/glob.h"
#include "common/option_limits.h"
#include "common/status.h"
#include "kafka/settings.h"
#include "redis/cluster_slots.h"
#include "redis/connection.h"
#include "rules/rules.h"

namespace cdc {

// An int option's default from the option table (common/option_limits.h).
constexpr int default_of(const OptionLimit& limit) { return static_cast<int>(limit.default_value); }

struct RedisSettings {
  RedisEndpoint endpoint;  // with a cluster: the credentials of every node
  std::vector<ClusterAddress> cluster_nodes;  // redis.cluster.nodes (seeds); empty: one node
  RedisOptions options;
  // WAIT n after every pipeline: a batch counts as acknowledged only once n replicas have it
  // (a failover then cannot lose acknowledged deletes). 0: off.
  int wait_replicas = default_of(option_limits::redis_wait_replicas);
  int wait_timeout_ms = default_of(option_limits::redis_wait_timeout_ms);  // below commandTimeoutMs
};

struct BatchSettings {
  int max_events = default_of(option_limits::batch_max_events);  // messages per Redis pipeline
  // How long a batch waits to fill up. 0: it takes what has arrived and goes; under load batches
  // still fill, because new messages gather while earlier pipelines are in flight.
  int max_wait_ms = default_of(option_limits::batch_max_wait_ms);
  int max_in_flight = default_of(option_limits::batch_max_in_flight);  // Redis pipelines sent and not yet answered
};

struct HandlerSettings {
  int max_batch_size = default_of(option_limits::handlers_max_batch_size);  // events per JS handler batch
  int max_in_flight = default_of(option_limits::handlers_max_in_flight);  // JS batches delivered, not yet acknowledged
};

struct JsHandlerSpec {
  int64_t id = 0;
  std::string source;  // glob over event.source.name, as for rules
};

// An onMessage handler: every message of `topic` goes to it as an application message (never
// decoded as Debezium), its value decoded as `decode` says.
enum class MessageDecode : uint8_t { json, utf8, buffer };
struct MessageHandlerSpec {
  int64_t id = 0;
  std::string topic;
  MessageDecode decode = MessageDecode::json;
};

struct EngineConfig {
  KafkaSettings kafka;
  RedisSettings redis;
  std::vector<RuleSpec> rules;
  RuleOptions rule_options;
  std::string dead_letter_topic;  // empty: dead letters are logged and counted only
  BatchSettings batch;
  int commit_interval_ms = default_of(option_limits::commit_interval_ms);
  HandlerSettings handlers;
  std::vector<JsHandlerSpec> js_handlers;
  std::vector<MessageHandlerSpec> message_handlers;
  // topicSources: topic -> source name ("public.orders") for records that carry no source
  // (tombstones, flattened rows), ahead of the topic-naming rule.
  std::vector<std::pair<std::string, std::string>> topic_sources;
};

// Parses and validates the engine config JSON. Errors name the path
// ("kafka.groupId: expected a non-empty string") and never contain a secret.
Status parse_engine_config(std::string_view json, EngineConfig& out);

}  // namespace cdc
