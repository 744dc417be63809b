#include "engine/config.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>

namespace cdc {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

Status path_error(const std::string& path, std::string_view what) {
  return Status::Error(path + ": " + std::string(what));
}

// Rejects any key that is not in `known`, so a typo never silently falls back to a default.
Status check_known_fields(object obj, const std::string& path,
                          std::initializer_list<std::string_view> known) {
  for (auto field : obj) {
    bool found = false;
    for (std::string_view name : known) found = found || field.key == name;
    if (!found) {
      std::string where = path.empty() ? std::string(field.key) : path + "." + std::string(field.key);
      return path_error(where, "unknown field");
    }
  }
  return Status::Ok();
}

bool lookup(object obj, std::string_view key, element& out) {
  auto result = obj[key];
  if (result.error()) return false;
  out = result.value_unsafe();
  return !out.is_null();  // null means "not given"
}

Status get_object(element value, const std::string& path, object& out) {
  if (value.type() != element_type::OBJECT) return path_error(path, "expected an object");
  out = value.get_object().value_unsafe();
  return Status::Ok();
}

Status get_non_empty_string(element value, const std::string& path, std::string& out) {
  if (value.type() != element_type::STRING) return path_error(path, "expected a non-empty string");
  std::string_view text = value.get_string().value_unsafe();
  if (text.empty()) return path_error(path, "expected a non-empty string");
  out = std::string(text);
  return Status::Ok();
}

Status get_string(element value, const std::string& path, std::string& out) {
  if (value.type() != element_type::STRING) return path_error(path, "expected a string");
  out = std::string(value.get_string().value_unsafe());
  return Status::Ok();
}

Status get_int(element value, const std::string& path, int64_t min, int64_t max, int64_t& out) {
  std::string expected = "expected an integer between " + std::to_string(min) + " and " + std::to_string(max);
  switch (value.type()) {
    case element_type::INT64: out = value.get_int64().value_unsafe(); break;
    case element_type::UINT64: {
      uint64_t v = value.get_uint64().value_unsafe();
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return path_error(path, expected);
      out = static_cast<int64_t>(v);
      break;
    }
    case element_type::DOUBLE: {
      double v = value.get_double().value_unsafe();
      if (std::floor(v) != v || std::fabs(v) > 9e15) return path_error(path, expected);
      out = static_cast<int64_t>(v);
      break;
    }
    default: return path_error(path, expected);
  }
  if (out < min || out > max) return path_error(path, expected);
  return Status::Ok();
}

// An option from the option table: its path names it in errors, its limits bound it.
template <typename Int>
Status get_int(element value, const OptionLimit& limit, Int& out) {
  int64_t wide = 0;
  Status st = get_int(value, std::string(limit.path), limit.min, limit.max, wide);
  if (st.ok()) out = static_cast<Int>(wide);
  return st;
}

// A librdkafka property value: string, number or boolean, turned into librdkafka's text form.
Status property_text(element value, const std::string& path, std::string& out) {
  switch (value.type()) {
    case element_type::STRING: out = std::string(value.get_string().value_unsafe()); return Status::Ok();
    case element_type::BOOL: out = value.get_bool().value_unsafe() ? "true" : "false"; return Status::Ok();
    case element_type::INT64: out = std::to_string(value.get_int64().value_unsafe()); return Status::Ok();
    case element_type::UINT64: out = std::to_string(value.get_uint64().value_unsafe()); return Status::Ok();
    case element_type::DOUBLE: {
      double v = value.get_double().value_unsafe();
      if (std::floor(v) == v && std::fabs(v) < 9e15) {
        out = std::to_string(static_cast<int64_t>(v));
      } else {
        out = std::to_string(v);
      }
      return Status::Ok();
    }
    default: return path_error(path, "expected a string, number or boolean");
  }
}

Status parse_kafka(element value, KafkaSettings& out) {
  object kafka;
  Status st = get_object(value, "kafka", kafka);
  if (!st.ok()) return st;
  st = check_known_fields(kafka, "kafka", {"brokers", "groupId", "topics", "topicPattern", "config", "prefetchBytes"});
  if (!st.ok()) return st;

  element field;
  if (!lookup(kafka, "brokers", field)) return path_error("kafka.brokers", "expected a non-empty string");
  if (!(st = get_non_empty_string(field, "kafka.brokers", out.brokers)).ok()) return st;
  if (!lookup(kafka, "groupId", field)) return path_error("kafka.groupId", "expected a non-empty string");
  if (!(st = get_non_empty_string(field, "kafka.groupId", out.group_id)).ok()) return st;

  element topics, pattern;
  bool has_topics = lookup(kafka, "topics", topics);
  bool has_pattern = lookup(kafka, "topicPattern", pattern);
  if (has_topics && has_pattern) return path_error("kafka", "exactly one of topics and topicPattern is required");
  if (has_topics) {
    if (topics.type() != element_type::ARRAY) return path_error("kafka.topics", "expected a non-empty array of strings");
    size_t index = 0;
    simdjson::dom::array topic_array = topics.get_array().value_unsafe();  // a copy: the result is a temporary
    for (element topic : topic_array) {
      std::string name;
      std::string path = "kafka.topics[" + std::to_string(index++) + "]";
      if (!(st = get_non_empty_string(topic, path, name)).ok()) return st;
      out.topics.push_back(std::move(name));
    }
    if (out.topics.empty()) return path_error("kafka.topics", "expected a non-empty array of strings");
  } else if (has_pattern) {  // neither: only message handlers' topics (checked once they are parsed)
    if (!(st = get_non_empty_string(pattern, "kafka.topicPattern", out.topic_pattern)).ok()) return st;
    // librdkafka treats a subscription as a regex only when it starts with '^'.
    if (out.topic_pattern[0] != '^') out.topic_pattern.insert(out.topic_pattern.begin(), '^');
  }

  if (lookup(kafka, "prefetchBytes", field) &&
      !(st = get_int(field, option_limits::kafka_prefetch_bytes, out.prefetch_bytes)).ok())
    return st;

  if (lookup(kafka, "config", field)) {
    object properties;
    if (!(st = get_object(field, "kafka.config", properties)).ok()) return st;
    for (auto property : properties) {
      std::string name(property.key);
      std::string text;
      if (!(st = property_text(property.value, "kafka.config." + name, text)).ok()) return st;
      out.properties.emplace_back(std::move(name), std::move(text));
    }
  }
  return Status::Ok();
}

// redis.tls: the certificates are read and checked here, so a bad one fails the start.
Status parse_redis_tls(element value, RedisEndpoint& endpoint) {
  object tls;
  Status st = get_object(value, "redis.tls", tls);
  if (!st.ok()) return st;
  st = check_known_fields(tls, "redis.tls", {"ca", "cert", "key", "servername", "rejectUnauthorized"});
  if (!st.ok()) return st;
  RedisTlsSettings settings;
  element field;
  const std::pair<const char*, std::string*> texts[] = {
      {"ca", &settings.ca}, {"cert", &settings.cert}, {"key", &settings.key}, {"servername", &settings.servername}};
  for (const auto& [name, target] : texts) {
    if (lookup(tls, name, field) && !(st = get_non_empty_string(field, std::string("redis.tls.") + name, *target)).ok())
      return st;
  }
  if (lookup(tls, "rejectUnauthorized", field)) {
    if (field.type() != element_type::BOOL) return path_error("redis.tls.rejectUnauthorized", "expected a boolean");
    settings.reject_unauthorized = field.get_bool().value_unsafe();
  }
  return configure_redis_tls(&settings, endpoint);
}

// redis.cluster: { nodes: ["host:port", ...] }, the seed nodes the slot map is first read from.
Status parse_redis_cluster(element value, std::vector<ClusterAddress>& out) {
  object cluster;
  Status st = get_object(value, "redis.cluster", cluster);
  if (st.ok()) st = check_known_fields(cluster, "redis.cluster", {"nodes"});
  if (!st.ok()) return st;
  element nodes;
  if (!lookup(cluster, "nodes", nodes) || nodes.type() != element_type::ARRAY)
    return path_error("redis.cluster.nodes", "expected a non-empty array of \"host:port\" strings");
  simdjson::dom::array list = nodes.get_array().value_unsafe();  // a copy: the result is a temporary
  for (element node : list) {
    const std::string path = "redis.cluster.nodes[" + std::to_string(out.size()) + "]";
    std::string text;
    if (!(st = get_non_empty_string(node, path, text)).ok()) return st;
    ClusterAddress address;
    if (!(st = parse_cluster_address(text, address)).ok()) return path_error(path, st.message());
    out.push_back(std::move(address));
  }
  if (out.empty()) return path_error("redis.cluster.nodes", "expected a non-empty array of \"host:port\" strings");
  return Status::Ok();
}

Status parse_redis(element value, RedisSettings& out) {
  object redis;
  Status st = get_object(value, "redis", redis);
  if (!st.ok()) return st;
  st = check_known_fields(redis, "redis",
                          {"url", "tls", "connectTimeoutMs", "commandTimeoutMs", "waitReplicas", "waitTimeoutMs", "cluster"});
  if (!st.ok()) return st;
  element field;
  if (lookup(redis, "cluster", field) && !(st = parse_redis_cluster(field, out.cluster_nodes)).ok()) return st;
  // With a cluster, the URL is optional: it only supplies the credentials of every node.
  const bool has_url = lookup(redis, "url", field);
  if (!has_url && out.cluster_nodes.empty()) return path_error("redis.url", "expected a non-empty string");
  std::string url;
  if (has_url && !(st = get_non_empty_string(field, "redis.url", url)).ok()) return st;
  st = parse_redis_url(has_url ? url : "redis://", out.endpoint);
  if (!st.ok()) return path_error("redis.url", st.message());  // parse_redis_url never echoes the password
  if (!out.cluster_nodes.empty() && out.endpoint.db != 0)
    return path_error("redis.url", "a Redis Cluster has database 0 only");
  st = lookup(redis, "tls", field) ? parse_redis_tls(field, out.endpoint) : configure_redis_tls(nullptr, out.endpoint);
  if (!st.ok()) return st;
  if (lookup(redis, "connectTimeoutMs", field) &&
      !(st = get_int(field, option_limits::redis_connect_timeout_ms, out.options.connect_timeout_ms)).ok())
    return st;
  if (lookup(redis, "commandTimeoutMs", field) &&
      !(st = get_int(field, option_limits::redis_command_timeout_ms, out.options.command_timeout_ms)).ok())
    return st;
  if (lookup(redis, "waitReplicas", field) &&
      !(st = get_int(field, option_limits::redis_wait_replicas, out.wait_replicas)).ok())
    return st;
  if (lookup(redis, "waitTimeoutMs", field) &&
      !(st = get_int(field, option_limits::redis_wait_timeout_ms, out.wait_timeout_ms)).ok())
    return st;
  if (out.wait_replicas > 0 && out.wait_timeout_ms >= out.options.command_timeout_ms)
    return path_error("redis.waitTimeoutMs", "must be below redis.commandTimeoutMs (" +
                                                 std::to_string(out.options.command_timeout_ms) + ")");
  return Status::Ok();
}

Status parse_js_handlers(element value, std::vector<JsHandlerSpec>& out) {
  if (value.type() != element_type::ARRAY) return path_error("jsHandlers", "expected an array");
  size_t index = 0;
  simdjson::dom::array handlers = value.get_array().value_unsafe();  // a copy: the result is a temporary
  for (element item : handlers) {
    std::string path = "jsHandlers[" + std::to_string(index++) + "]";
    object handler;
    Status st = get_object(item, path, handler);
    if (!st.ok()) return st;
    if (!(st = check_known_fields(handler, path, {"id", "source"})).ok()) return st;
    JsHandlerSpec spec;
    element field;
    if (!lookup(handler, "id", field)) return path_error(path + ".id", "expected an integer");
    if (!(st = get_int(field, path + ".id", int64_t{0}, int64_t{1} << 53, spec.id)).ok()) return st;
    if (!lookup(handler, "source", field)) return path_error(path + ".source", "expected a non-empty string");
    if (!(st = get_non_empty_string(field, path + ".source", spec.source)).ok()) return st;
    out.push_back(std::move(spec));
  }
  return Status::Ok();
}

Status parse_message_handlers(element value, std::vector<MessageHandlerSpec>& out) {
  if (value.type() != element_type::ARRAY) return path_error("messageHandlers", "expected an array");
  size_t index = 0;
  simdjson::dom::array handlers = value.get_array().value_unsafe();
  for (element item : handlers) {
    std::string path = "messageHandlers[" + std::to_string(index++) + "]";
    object handler;
    Status st = get_object(item, path, handler);
    if (!st.ok()) return st;
    if (!(st = check_known_fields(handler, path, {"id", "topic", "decode"})).ok()) return st;
    MessageHandlerSpec spec;
    element field;
    if (!lookup(handler, "id", field)) return path_error(path + ".id", "expected an integer");
    if (!(st = get_int(field, path + ".id", int64_t{0}, int64_t{1} << 53, spec.id)).ok()) return st;
    if (!lookup(handler, "topic", field)) return path_error(path + ".topic", "expected a non-empty string");
    if (!(st = get_non_empty_string(field, path + ".topic", spec.topic)).ok()) return st;
    std::string decode = "json";
    if (lookup(handler, "decode", field) && !(st = get_string(field, path + ".decode", decode)).ok()) return st;
    if (decode == "json") {
      spec.decode = MessageDecode::json;
    } else if (decode == "utf8") {
      spec.decode = MessageDecode::utf8;
    } else if (decode == "buffer") {
      spec.decode = MessageDecode::buffer;
    } else {
      return path_error(path + ".decode", "expected \"json\", \"utf8\" or \"buffer\"");
    }
    out.push_back(std::move(spec));
  }
  return Status::Ok();
}

// Rules and how their keys become commands: rules, keyPrefix, deleteCommand.
Status parse_rule_settings(object top, EngineConfig& out) {
  element field;
  Status st = Status::Ok();
  if (lookup(top, "rules", field)) {
    if (field.type() != element_type::ARRAY) return path_error("rules", "expected an array");
    // The rules module owns the rule shape; hand it the raw JSON of the array.
    std::string rules_json = simdjson::minify(field);
    if (!(st = parse_rules_json(rules_json, out.rules, "rules")).ok()) return st;
  }
  if (lookup(top, "keyPrefix", field) && !(st = get_string(field, "keyPrefix", out.rule_options.key_prefix)).ok())
    return st;
  if (lookup(top, "deleteCommand", field)) {
    std::string command;
    if (!(st = get_string(field, "deleteCommand", command)).ok()) return st;
    if (command == "UNLINK") {
      out.rule_options.use_unlink = true;
    } else if (command == "DEL") {
      out.rule_options.use_unlink = false;
    } else {
      return path_error("deleteCommand", "expected \"UNLINK\" or \"DEL\"");
    }
  }
  return Status::Ok();
}

// An optional integer member `key` of obj, bounded by the option table.
template <typename Int>
Status optional_int(object obj, const char* key, const OptionLimit& limit, Int& out) {
  element field;
  return lookup(obj, key, field) ? get_int(field, limit, out) : Status::Ok();
}

// Batching and flow control: batch, commitIntervalMs, handlers.
Status parse_flow_settings(object top, EngineConfig& out) {
  element field;
  Status st = Status::Ok();
  if (lookup(top, "batch", field)) {
    object batch;
    if (!(st = get_object(field, "batch", batch)).ok()) return st;
    if (!(st = check_known_fields(batch, "batch", {"maxEvents", "maxWaitMs", "maxInFlight"})).ok()) return st;
    if (!(st = optional_int(batch, "maxEvents", option_limits::batch_max_events, out.batch.max_events)).ok()) return st;
    if (!(st = optional_int(batch, "maxWaitMs", option_limits::batch_max_wait_ms, out.batch.max_wait_ms)).ok()) return st;
    if (!(st = optional_int(batch, "maxInFlight", option_limits::batch_max_in_flight, out.batch.max_in_flight)).ok())
      return st;
  }
  if (!(st = optional_int(top, "commitIntervalMs", option_limits::commit_interval_ms, out.commit_interval_ms)).ok())
    return st;
  if (lookup(top, "handlers", field)) {
    object handlers;
    if (!(st = get_object(field, "handlers", handlers)).ok()) return st;
    if (!(st = check_known_fields(handlers, "handlers", {"maxBatchSize", "maxInFlight"})).ok()) return st;
    if (!(st = optional_int(handlers, "maxBatchSize", option_limits::handlers_max_batch_size,
                            out.handlers.max_batch_size)).ok())
      return st;
    if (!(st = optional_int(handlers, "maxInFlight", option_limits::handlers_max_in_flight,
                            out.handlers.max_in_flight)).ok())
      return st;
  }
  return Status::Ok();
}

// topicSources: {"<topic>": "<schema>.<table>"}; with kafka.topics, each topic must be one of them.
Status parse_topic_sources(element value, EngineConfig& out) {
  object sources;
  Status st = get_object(value, "topicSources", sources);
  if (!st.ok()) return st;
  for (auto entry : sources) {
    std::string topic(entry.key), source;
    const std::string path = "topicSources[\"" + topic + "\"]";
    if (!(st = get_non_empty_string(entry.value, path, source)).ok()) return st;
    const auto& topics = out.kafka.topics;
    if (!topics.empty() && std::find(topics.begin(), topics.end(), topic) == topics.end())
      return path_error(path, "not one of kafka.topics");
    out.topic_sources.emplace_back(std::move(topic), std::move(source));
  }
  return Status::Ok();
}

}  // namespace

Status parse_engine_config(std::string_view json, EngineConfig& out) {
  out = EngineConfig{};
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  element root;
  auto parsed = parser.parse(padded);
  if (parsed.error()) return Status::Error(std::string("config: invalid JSON (") +
                                           simdjson::error_message(parsed.error()) + ")");
  root = parsed.value_unsafe();
  if (root.type() != element_type::OBJECT) return Status::Error("config: expected an object");
  object top = root.get_object().value_unsafe();
  Status st = check_known_fields(top, "", {"kafka", "redis", "rules", "keyPrefix", "deleteCommand",
                                           "deadLetterTopic", "batch", "commitIntervalMs", "handlers",
                                           "jsHandlers", "messageHandlers", "topicSources"});
  if (!st.ok()) return st;

  element field;
  if (!lookup(top, "kafka", field)) return path_error("kafka", "expected an object");
  if (!(st = parse_kafka(field, out.kafka)).ok()) return st;
  if (!lookup(top, "redis", field)) return path_error("redis", "expected an object");
  if (!(st = parse_redis(field, out.redis)).ok()) return st;
  if (!(st = parse_rule_settings(top, out)).ok()) return st;
  if (lookup(top, "deadLetterTopic", field) &&
      !(st = get_non_empty_string(field, "deadLetterTopic", out.dead_letter_topic)).ok())
    return st;
  if (!(st = parse_flow_settings(top, out)).ok()) return st;
  if (lookup(top, "jsHandlers", field) && !(st = parse_js_handlers(field, out.js_handlers)).ok()) return st;
  if (lookup(top, "messageHandlers", field) && !(st = parse_message_handlers(field, out.message_handlers)).ok())
    return st;
  if (out.kafka.topics.empty() && out.kafka.topic_pattern.empty() && out.message_handlers.empty())
    return path_error("kafka", "exactly one of topics and topicPattern is required (or message handlers)");
  if (lookup(top, "topicSources", field) && !(st = parse_topic_sources(field, out)).ok()) return st;
  return Status::Ok();
}

}  // namespace cdc
