// The versioned refresh script against a real redis-server: an older source position never
// overwrites a newer value, and a delete's version keeps an older refresh from resurrecting it.
#include <gtest/gtest.h>

#include "redis/reply_class.h"
#include "redis_server.h"
#include "rules/versioned_refresh.h"

namespace cdc {
namespace {

using cdc_test::RedisServer;

std::string run(RedisServer& redis, const Command& command) { return redis.command(command.argv); }

TEST(VersionedRefresh, ScriptShaMatchesWhatTheServerComputes) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  EXPECT_EQ(redis.command({"SCRIPT", "LOAD", std::string(kRefreshScript)}), kRefreshScriptSha);
}

TEST(VersionedRefresh, OlderPositionsNeverWinAndDeletesLeaveTheirVersion) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  ASSERT_EQ(redis.command({"SCRIPT", "LOAD", std::string(kRefreshScript)}), kRefreshScriptSha);
  const std::string v1 = "p00000000000000000100", v2 = "p00000000000000000200", v3 = "p00000000000000000300",
                    v4 = "p00000000000000000400";
  EXPECT_EQ(run(redis, versioned_set("c:1", "new", "", v2)), "1");
  EXPECT_EQ(run(redis, versioned_set("c:1", "old", "", v1)), "0");  // a replay of an older event
  EXPECT_EQ(redis.command({"GET", "c:1"}), "new");
  EXPECT_EQ(run(redis, versioned_set("c:1", "new", "", v2)), "1");  // the same event again: harmless
  EXPECT_EQ(run(redis, versioned_delete("c:1", v3)), "1");
  EXPECT_EQ(redis.command({"EXISTS", "c:1"}), "0");
  EXPECT_EQ(run(redis, versioned_set("c:1", "new", "", v2)), "0");  // cannot resurrect the row
  EXPECT_EQ(redis.command({"EXISTS", "c:1"}), "0");
  std::string ttl = redis.command({"PTTL", version_key("c:1")});
  EXPECT_GT(std::stoll(ttl), 0);
  EXPECT_LE(std::stoll(ttl), kDeletedVersionTtlMs);
  EXPECT_EQ(run(redis, versioned_set("c:1", "newest", "60", v4)), "1");
  EXPECT_EQ(redis.command({"GET", "c:1"}), "newest");
  EXPECT_GT(std::stoll(redis.command({"TTL", "c:1"})), 0);
  EXPECT_GT(std::stoll(redis.command({"TTL", version_key("c:1")})), 0);
  // A version of another kind (the connector changed) is not compared: the write applies.
  EXPECT_EQ(run(redis, versioned_set("c:1", "other", "", "t00000000000000000001")), "1");
}

TEST(VersionedRefresh, OutOfMemoryInsideTheScriptIsClassifiedAsSuch) {
  RedisServer redis;
  ASSERT_TRUE(redis.running()) << redis.error();
  ASSERT_EQ(redis.command({"SCRIPT", "LOAD", std::string(kRefreshScript)}), kRefreshScriptSha);
  for (int i = 0; i < 16; ++i) redis.command({"SET", "filler:" + std::to_string(i), std::string(64 << 10, 'x')});
  ASSERT_EQ(redis.command({"CONFIG", "SET", "maxmemory-policy", "noeviction"}), "OK");
  ASSERT_EQ(redis.command({"CONFIG", "SET", "maxmemory", "1mb"}), "OK");
  std::string reply = run(redis, versioned_set("c:1", "v", "", "p00000000000000000001"));
  EXPECT_EQ(classify_error_reply(reply), ReplyClass::out_of_memory) << reply;
}

}  // namespace
}  // namespace cdc
