// The C++ config parser reads its integer limits and defaults from the option table
// (common/option_limits.h), the same table lib/option-limits.ts is generated from.
#include <gtest/gtest.h>

#include <string>

#include "common/option_limits.h"
#include "engine/config.h"

namespace cdc {
namespace {

// A minimal valid config with `path` ("batch.maxEvents", "commitIntervalMs") set to value.
std::string config_with(std::string_view path, int64_t value) {
  std::string kafka = R"("brokers": "127.0.0.1:19092", "groupId": "g", "topics": ["t"])";
  std::string redis = R"("url": "redis://127.0.0.1:16379")";
  std::string extra;
  const size_t dot = path.find('.');
  const std::string head(path.substr(0, dot));
  const std::string member = dot == std::string_view::npos ? "" : std::string(path.substr(dot + 1));
  const std::string number = std::to_string(value);
  if (head == "kafka") kafka += ", \"" + member + "\": " + number;
  else if (head == "redis") redis += ", \"" + member + "\": " + number;
  else if (member.empty()) extra = ", \"" + head + "\": " + number;
  else extra = ", \"" + head + "\": {\"" + member + "\": " + number + "}";
  return "{\"kafka\": {" + kafka + "}, \"redis\": {" + redis + "}" + extra + "}";
}

int64_t parsed_value(const EngineConfig& c, std::string_view path) {
  if (path == "kafka.prefetchBytes") return c.kafka.prefetch_bytes;
  if (path == "redis.connectTimeoutMs") return c.redis.options.connect_timeout_ms;
  if (path == "redis.commandTimeoutMs") return c.redis.options.command_timeout_ms;
  if (path == "redis.waitReplicas") return c.redis.wait_replicas;
  if (path == "redis.waitTimeoutMs") return c.redis.wait_timeout_ms;
  if (path == "batch.maxEvents") return c.batch.max_events;
  if (path == "batch.maxWaitMs") return c.batch.max_wait_ms;
  if (path == "batch.maxInFlight") return c.batch.max_in_flight;
  if (path == "commitIntervalMs") return c.commit_interval_ms;
  if (path == "handlers.maxBatchSize") return c.handlers.max_batch_size;
  if (path == "handlers.maxInFlight") return c.handlers.max_in_flight;
  ADD_FAILURE() << "no engine field for " << path;
  return -1;
}

// handlers.attempts and handlers.retryDelayMs (the JS retry loop) and invalidateTimeoutMs (the
// invalidate() promise) are TypeScript-only.
bool native_option(std::string_view path) {
  return path != "handlers.attempts" && path != "handlers.retryDelayMs" && path != "invalidateTimeoutMs";
}

TEST(OptionLimits, ConfigParserEnforcesTheTableAndDefaultsToIt) {
  const OptionLimit all[] = {
#define CDC_LIST_LIMIT(path, name, min, max, default_value) option_limits::name,
      CDC_OPTION_LIMITS(CDC_LIST_LIMIT)
#undef CDC_LIST_LIMIT
  };
  int checked = 0;
  for (const OptionLimit& limit : all) {
    if (!native_option(limit.path)) continue;
    SCOPED_TRACE(std::string(limit.path));
    EngineConfig config;
    ASSERT_TRUE(parse_engine_config(config_with("commitIntervalMs", 1000), config).ok());
    if (limit.path != "commitIntervalMs") EXPECT_EQ(parsed_value(config, limit.path), limit.default_value);
    for (int64_t ok : {limit.min, limit.max}) {
      Status st = parse_engine_config(config_with(limit.path, ok), config);
      ASSERT_TRUE(st.ok()) << st.message();
      EXPECT_EQ(parsed_value(config, limit.path), ok);
    }
    for (int64_t bad : {limit.min - 1, limit.max + 1}) {
      Status st = parse_engine_config(config_with(limit.path, bad), config);
      ASSERT_FALSE(st.ok()) << bad;
      EXPECT_EQ(st.message().rfind(std::string(limit.path) + ": ", 0), 0u) << st.message();
    }
    ++checked;
  }
  EXPECT_EQ(checked, 11);
  EXPECT_EQ(EngineConfig{}.commit_interval_ms, option_limits::commit_interval_ms.default_value);
}

}  // namespace
}  // namespace cdc
