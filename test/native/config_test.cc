// Engine config parsing: every error names the offending path, secrets never appear.
#include <gtest/gtest.h>

#include <string>

#include "engine/config.h"
#include "engine/engine.h"

namespace cdc {
namespace {

const char* kValid = R"({
  "kafka": {"brokers": "127.0.0.1:19092", "groupId": "g", "topics": ["dbserver1.public.customers"],
            "config": {"fetch.max.bytes": 1048576, "enable.partition.eof": false, "client.rack": "r1"},
            "prefetchBytes": 1048576},
  "redis": {"url": "redis://user:s3cret@127.0.0.1:16379/2", "connectTimeoutMs": 1500, "commandTimeoutMs": 4000},
  "rules": [{"source": "public.customers", "invalidate": ["customer:{id}"]}],
  "keyPrefix": "app:", "deleteCommand": "DEL", "deadLetterTopic": "cdc-cache.dead-letter",
  "batch": {"maxEvents": 200, "maxWaitMs": 7, "maxInFlight": 3}, "commitIntervalMs": 250,
  "handlers": {"maxBatchSize": 50, "maxInFlight": 4},
  "jsHandlers": [{"id": 1, "source": "public.*"}]
})";

std::string error_of(const std::string& json) {
  EngineConfig config;
  Status st = parse_engine_config(json, config);
  return st.ok() ? std::string("<ok>") : st.message();
}

// Replaces the first occurrence of `from` in the valid config.
std::string variant(const std::string& from, const std::string& to) {
  std::string json = kValid;
  size_t at = json.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) json.replace(at, from.size(), to);
  return json;
}

TEST(ConfigTest, ParsesEveryField) {
  EngineConfig config;
  Status st = parse_engine_config(kValid, config);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(config.kafka.brokers, "127.0.0.1:19092");
  EXPECT_EQ(config.kafka.group_id, "g");
  ASSERT_EQ(config.kafka.topics.size(), 1u);
  ASSERT_EQ(config.kafka.properties.size(), 3u);
  EXPECT_EQ(config.kafka.properties[0].first, "fetch.max.bytes");
  EXPECT_EQ(config.kafka.properties[0].second, "1048576");
  EXPECT_EQ(config.kafka.properties[1].second, "false");
  EXPECT_EQ(config.kafka.properties[2].second, "r1");
  EXPECT_EQ(config.redis.endpoint.host, "127.0.0.1");
  EXPECT_EQ(config.redis.endpoint.port, 16379);
  EXPECT_EQ(config.redis.endpoint.db, 2);
  EXPECT_EQ(config.redis.endpoint.password, "s3cret");
  EXPECT_EQ(config.redis.options.connect_timeout_ms, 1500);
  EXPECT_EQ(config.redis.options.command_timeout_ms, 4000);
  ASSERT_EQ(config.rules.size(), 1u);
  EXPECT_EQ(config.rules[0].source, "public.customers");
  EXPECT_EQ(config.rule_options.key_prefix, "app:");
  EXPECT_FALSE(config.rule_options.use_unlink);
  EXPECT_EQ(config.dead_letter_topic, "cdc-cache.dead-letter");
  EXPECT_EQ(config.batch.max_events, 200);
  EXPECT_EQ(config.batch.max_wait_ms, 7);
  EXPECT_EQ(config.batch.max_in_flight, 3);
  EXPECT_EQ(config.commit_interval_ms, 250);
  EXPECT_EQ(config.kafka.prefetch_bytes, 1048576);
  EXPECT_EQ(config.handlers.max_batch_size, 50);
  EXPECT_EQ(config.handlers.max_in_flight, 4);
  ASSERT_EQ(config.js_handlers.size(), 1u);
  EXPECT_EQ(config.js_handlers[0].id, 1);
  EXPECT_EQ(config.js_handlers[0].source, "public.*");
}

TEST(ConfigTest, DefaultsAndTopicPattern) {
  EngineConfig config;
  Status st = parse_engine_config(
      R"({"kafka":{"brokers":"b:9092","groupId":"g","topicPattern":"dbserver1\\.public\\..*"},
          "redis":{"url":"redis://127.0.0.1:6379"}})",
      config);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(config.kafka.topic_pattern, "^dbserver1\\.public\\..*");  // '^' added: librdkafka regex
  EXPECT_TRUE(config.kafka.topics.empty());
  EXPECT_TRUE(config.rule_options.use_unlink);
  EXPECT_EQ(config.batch.max_events, 1000);
  EXPECT_EQ(config.batch.max_wait_ms, 0);
  EXPECT_EQ(config.batch.max_in_flight, 4);
  EXPECT_EQ(config.commit_interval_ms, 1000);
  EXPECT_EQ(config.kafka.prefetch_bytes, 32 << 20);
  EXPECT_EQ(config.handlers.max_batch_size, 500);
  EXPECT_EQ(config.handlers.max_in_flight, 2);
  EXPECT_TRUE(config.dead_letter_topic.empty());
}

TEST(ConfigTest, ErrorsNameThePath) {
  EXPECT_EQ(error_of("not json"), error_of("not json"));
  EXPECT_NE(error_of("not json").find("config: invalid JSON"), std::string::npos);
  EXPECT_EQ(error_of("[]"), "config: expected an object");
  EXPECT_EQ(error_of(variant(R"("groupId": "g")", R"("groupId": "")")),
            "kafka.groupId: expected a non-empty string");
  EXPECT_EQ(error_of(variant(R"("groupId": "g")", R"("groupId": 5)")),
            "kafka.groupId: expected a non-empty string");
  EXPECT_EQ(error_of(variant(R"("brokers": "127.0.0.1:19092", )", "")), "kafka.brokers: expected a non-empty string");
  EXPECT_EQ(error_of(variant(R"(["dbserver1.public.customers"])", "[]")),
            "kafka.topics: expected a non-empty array of strings");
  EXPECT_EQ(error_of(variant(R"(["dbserver1.public.customers"])", R"(["a", 3])")),
            "kafka.topics[1]: expected a non-empty string");
  EXPECT_EQ(error_of(variant(R"("topics": ["dbserver1.public.customers"])", R"("topicPattern": "^x", "topics": ["y"])")),
            "kafka: exactly one of topics and topicPattern is required");
  EXPECT_EQ(error_of(variant(R"("client.rack": "r1")", R"("client.rack": {"x": 1})")),
            "kafka.config.client.rack: expected a string, number or boolean");
  EXPECT_EQ(error_of(variant(R"("maxEvents": 200)", R"("maxEvents": 0)")),
            "batch.maxEvents: expected an integer between 1 and 100000");
  EXPECT_EQ(error_of(variant(R"("maxWaitMs": 7)", R"("maxWaitMs": 1.5)")),
            "batch.maxWaitMs: expected an integer between 0 and 60000");
  EXPECT_EQ(error_of(variant(R"("maxInFlight": 3)", R"("maxInFlight": "3")")),
            "batch.maxInFlight: expected an integer between 1 and 1024");
  EXPECT_EQ(error_of(variant(R"("commitIntervalMs": 250)", R"("commitIntervalMs": -1)")),
            "commitIntervalMs: expected an integer between 1 and 3600000");
  EXPECT_EQ(error_of(variant(R"("prefetchBytes": 1048576)", R"("prefetchBytes": 100)")),
            "kafka.prefetchBytes: expected an integer between 65536 and 4294967296");
  EXPECT_EQ(error_of(variant(R"("deleteCommand": "DEL")", R"("deleteCommand": "FLUSHALL")")),
            "deleteCommand: expected \"UNLINK\" or \"DEL\"");
  EXPECT_EQ(error_of(variant(R"("deadLetterTopic": "cdc-cache.dead-letter")", R"("deadLetterTopic": "")")),
            "deadLetterTopic: expected a non-empty string");
  EXPECT_EQ(error_of(variant(R"({"id": 1, "source": "public.*"})", R"({"id": 1})")),
            "jsHandlers[0].source: expected a non-empty string");
  EXPECT_EQ(error_of(variant(R"({"id": 1, "source": "public.*"})", R"({"id": "x", "source": "a"})")),
            "jsHandlers[0].id: expected an integer between 0 and 9007199254740992");
  EXPECT_EQ(error_of(variant(R"("maxBatchSize": 50)", R"("maxBatchSize": 0)")),
            "handlers.maxBatchSize: expected an integer between 1 and 100000");
  EXPECT_EQ(error_of(variant(R"("connectTimeoutMs": 1500)", R"("connectTimeoutMs": 0)")),
            "redis.connectTimeoutMs: expected an integer between 1 and 600000");
}

TEST(ConfigTest, MessageHandlersMakeTopicsOptional) {
  const std::string without_topics = variant(R"("topics": ["dbserver1.public.customers"],)", "");
  EXPECT_EQ(error_of(without_topics), "kafka: exactly one of topics and topicPattern is required (or message handlers)");
  std::string json = without_topics;
  json.insert(json.rfind('}'), R"(, "messageHandlers": [{"id": 1000000, "topic": "users.created", "decode": "utf8"},
                                                       {"id": 1000001, "topic": "orders"}])");
  EngineConfig config;
  ASSERT_TRUE(parse_engine_config(json, config).ok()) << error_of(json);
  EXPECT_TRUE(config.kafka.topics.empty());
  ASSERT_EQ(config.message_handlers.size(), 2u);
  EXPECT_EQ(config.message_handlers[0].id, 1000000);
  EXPECT_EQ(config.message_handlers[0].topic, "users.created");
  EXPECT_EQ(config.message_handlers[0].decode, MessageDecode::utf8);
  EXPECT_EQ(config.message_handlers[1].decode, MessageDecode::json);  // the default
  std::string bad = json;
  bad.replace(bad.find(R"("utf8")"), 6, R"("xml")");
  EXPECT_EQ(error_of(bad), "messageHandlers[0].decode: expected \"json\", \"utf8\" or \"buffer\"");
}

TEST(ConfigTest, UnknownFieldsAreRejected) {
  EXPECT_EQ(error_of(variant(R"("keyPrefix")", R"("keyPrefx": 1, "keyPrefix")")), "keyPrefx: unknown field");
  EXPECT_EQ(error_of(variant(R"("groupId": "g")", R"("groupId": "g", "group": "x")")), "kafka.group: unknown field");
  EXPECT_EQ(error_of(variant(R"("maxEvents": 200)", R"("maxEvents": 200, "size": 1)")), "batch.size: unknown field");
  EXPECT_EQ(error_of(variant(R"("connectTimeoutMs")", R"("timeout": 1, "connectTimeoutMs")")),
            "redis.timeout: unknown field");
}

TEST(ConfigTest, RuleErrorsComeFromTheRulesModuleWithTheirPath) {
  std::string message = error_of(variant(R"("invalidate": ["customer:{id}"])", R"("invalidate": 5)"));
  EXPECT_EQ(message.rfind("rules[0]", 0), 0u) << message;
}

TEST(ConfigTest, SecretsNeverAppearInErrors) {
  std::string message = error_of(variant(R"("url": "redis://user:s3cret@127.0.0.1:16379/2")",
                                         R"("url": "redis://user:s3cret@127.0.0.1:notaport/2")"));
  EXPECT_EQ(message.rfind("redis.url", 0), 0u) << message;
  EXPECT_EQ(message.find("s3cret"), std::string::npos) << message;

  // A bad librdkafka value is reported by property name, its value masked.
  std::unique_ptr<Engine> engine;
  Status st = Engine::create(variant(R"("client.rack": "r1")", R"("security.protocol": "hunter2-SECRET")"), {}, engine);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message().rfind("kafka.config.security.protocol", 0), 0u) << st.message();
  EXPECT_EQ(st.message().find("hunter2-SECRET"), std::string::npos) << st.message();

  st = Engine::create(variant(R"("client.rack": "r1")", R"("no.such.property": "x")"), {}, engine);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message().rfind("kafka.config.no.such.property", 0), 0u) << st.message();
}

TEST(ConfigTest, RuleTemplateErrorsFailEngineCreation) {
  std::unique_ptr<Engine> engine;
  Status st = Engine::create(variant(R"(["customer:{id}"])", R"(["customer:{id"])"), {}, engine);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("rules[0]"), std::string::npos) << st.message();
}

TEST(ConfigTest, GlobMatching) {
  EXPECT_TRUE(glob_matches("*", ""));
  EXPECT_TRUE(glob_matches("*", "public.customers"));
  EXPECT_TRUE(glob_matches("public.*", "public.customers"));
  EXPECT_TRUE(glob_matches("*.customers", "public.customers"));
  EXPECT_TRUE(glob_matches("p*c.c*s", "public.customers"));
  EXPECT_FALSE(glob_matches("public.*", "inventory.customers"));
  EXPECT_FALSE(glob_matches("public.customers", "public.customers2"));
  EXPECT_TRUE(glob_matches("public.customers", "public.customers"));
}

}  // namespace
}  // namespace cdc
