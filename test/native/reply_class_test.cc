// Error replies classified into outage (wait and resend), out of memory (refresh becomes a delete)
// and permanent (dead letter): the texts as real servers send them.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "redis/reply_class.h"
#include "redis_server.h"

namespace cdc {
namespace {

using cdc_test::RedisServer;
using namespace std::chrono_literals;

// Server over its maxmemory with noeviction: every write is refused (-OOM), deletes pass.
void fill_up(RedisServer& redis) {
  for (int i = 0; i < 16; ++i) redis.command({"SET", "filler:" + std::to_string(i), std::string(64 << 10, 'x')});
  ASSERT_EQ(redis.command({"CONFIG", "SET", "maxmemory-policy", "noeviction"}), "OK");
  ASSERT_EQ(redis.command({"CONFIG", "SET", "maxmemory", "1mb"}), "OK");
}

TEST(ReplyClass, OutagesAreTheServersStateNotTheEvents) {
  for (const char* text : {
           "LOADING Redis is loading the dataset in memory",
           "READONLY You can't write against a read only replica.",
           "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
           "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
           "TRYAGAIN Multiple keys request during rehashing of slot",
           "CLUSTERDOWN The cluster is down",
           "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.",
           "NOREPLICAS Not enough good replicas to write.",
           "MOVED 3999 127.0.0.1:6381",
           "ERR max number of clients reached",
       })
    EXPECT_EQ(classify_error_reply(text), ReplyClass::outage) << text;
}

TEST(ReplyClass, MemoryAndPermanentErrors) {
  EXPECT_EQ(classify_error_reply("OOM command not allowed when used memory > 'maxmemory'."),
            ReplyClass::out_of_memory);
  for (const char* text : {
           "WRONGTYPE Operation against a key holding the wrong kind of value",
           "NOPERM User engine has no permissions to run the 'set' command",
           "ERR syntax error",
           "ERR unknown command 'FOO', with args beginning with: ",
           "SOMETHINGNEW nobody knows",
       })
    EXPECT_EQ(classify_error_reply(text), ReplyClass::permanent) << text;
}

// The texts the installed redis-server really sends.
TEST(ReplyClass, RealServerReplies) {
  RedisServer primary;
  ASSERT_TRUE(primary.running()) << primary.error();
  RedisServer replica({"--replicaof", "127.0.0.1", std::to_string(primary.port())});
  ASSERT_TRUE(replica.running()) << replica.error();
  EXPECT_EQ(classify_error_reply(replica.command({"DEL", "k"})), ReplyClass::outage) << replica.command({"DEL", "k"});

  RedisServer full;
  ASSERT_TRUE(full.running()) << full.error();
  fill_up(full);
  std::string oom = full.command({"SET", "k", "v"});
  EXPECT_EQ(classify_error_reply(oom), ReplyClass::out_of_memory) << oom;
  EXPECT_EQ(full.command({"UNLINK", "k"}), "0");  // deletes still pass

  std::string wrongtype = (primary.command({"LPUSH", "list", "a"}), primary.command({"GET", "list"}));
  EXPECT_EQ(classify_error_reply(wrongtype), ReplyClass::permanent) << wrongtype;

  RedisServer busy({"--busy-reply-threshold", "50"});
  ASSERT_TRUE(busy.running()) << busy.error();
  std::thread script([&] { busy.command({"EVAL", "while true do end", "0"}); });
  std::string reply;
  for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
    reply = busy.command({"PING"});
    if (reply != "PONG") break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(classify_error_reply(reply), ReplyClass::outage) << reply;
  busy.command({"SCRIPT", "KILL"});
  script.join();
}

}  // namespace
}  // namespace cdc
