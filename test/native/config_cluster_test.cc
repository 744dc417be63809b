// redis.cluster in the engine config: seeds parsed, bad ones named by their path.
#include <gtest/gtest.h>

#include <string>

#include "engine/config.h"

namespace cdc {
namespace {

std::string config_with(const std::string& redis) {
  return R"({"kafka": {"brokers": "127.0.0.1:19092", "groupId": "g", "topics": ["t"]}, "redis": )" + redis +
         R"(, "rules": [{"source": "public.customers", "invalidate": ["customer:{id}"]}]})";
}

std::string error_of(const std::string& redis) {
  EngineConfig config;
  Status st = parse_engine_config(config_with(redis), config);
  return st.ok() ? std::string("<ok>") : st.message();
}

TEST(ConfigClusterTest, SeedsWithAndWithoutAUrl) {
  EngineConfig config;
  Status st = parse_engine_config(
      config_with(R"({"url": "redis://app:s3cret@ignored:1", "cluster": {"nodes": ["127.0.0.1:17100", "[::1]:7001"]}})"),
      config);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(config.redis.cluster_nodes.size(), 2u);
  EXPECT_EQ(config.redis.cluster_nodes[0].name(), "127.0.0.1:17100");
  EXPECT_EQ(config.redis.cluster_nodes[1].name(), "[::1]:7001");
  EXPECT_EQ(config.redis.endpoint.username, "app");  // the credentials of every node
  EXPECT_EQ(config.redis.endpoint.password, "s3cret");

  config = EngineConfig{};
  st = parse_engine_config(config_with(R"({"cluster": {"nodes": ["127.0.0.1:17100"]}})"), config);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(config.redis.cluster_nodes.size(), 1u);
  EXPECT_TRUE(config.redis.endpoint.password.empty());
}

TEST(ConfigClusterTest, BadSeedsAreNamed) {
  EXPECT_EQ(error_of(R"({"cluster": {"nodes": []}})"),
            R"(redis.cluster.nodes: expected a non-empty array of "host:port" strings)");
  EXPECT_EQ(error_of(R"({"cluster": {}})"), R"(redis.cluster.nodes: expected a non-empty array of "host:port" strings)");
  EXPECT_EQ(error_of(R"({"cluster": {"nodes": ["127.0.0.1:17100", "127.0.0.1"]}})"),
            R"(redis.cluster.nodes[1]: expected host:port, got "127.0.0.1")");
  EXPECT_EQ(error_of(R"({"cluster": {"nodes": ["h:99999"]}})"), R"(redis.cluster.nodes[0]: port must be 1-65535 in "h:99999")");
  EXPECT_EQ(error_of(R"({"cluster": {"nodes": [7000]}})"), "redis.cluster.nodes[0]: expected a non-empty string");
  EXPECT_EQ(error_of(R"({"cluster": {"nodes": ["h:1"], "replicas": 1}})"), "redis.cluster.replicas: unknown field");
  EXPECT_EQ(error_of(R"({"cluster": ["h:1"]})"), "redis.cluster: expected an object");
  EXPECT_EQ(error_of(R"({"url": "redis://h:1/3", "cluster": {"nodes": ["h:1"]}})"),
            "redis.url: a Redis Cluster has database 0 only");
  EXPECT_EQ(error_of(R"({"connectTimeoutMs": 100})"), "redis.url: expected a non-empty string");
}

}  // namespace
}  // namespace cdc
