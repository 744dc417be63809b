// ClusterTransport against a real three-master Redis Cluster (test/native/redis_cluster.h).
#include "redis/cluster_transport.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "redis/crc16.h"
#include "redis_cluster.h"

namespace cdc {
namespace {

using cdc_test::RedisCluster;

class ClusterTransportTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(cluster.ok()) << cluster.error(); }

  std::unique_ptr<ClusterTransport> make_transport(OutagePolicy policy = {}) {
    ClusterAddress seed;
    EXPECT_TRUE(parse_cluster_address(cluster.address(1), seed).ok());
    auto transport = std::make_unique<ClusterTransport>(
        std::vector<ClusterAddress>{seed}, RedisEndpoint{}, RedisOptions{}, std::move(policy),
        [this](LogLevel, const std::string& message) { log.push_back(message); }, nullptr);
    transport->connect_at_start();
    EXPECT_TRUE(transport->up());
    return transport;
  }

  // Sends one pipeline and waits for its replies (the transport retries redirections inside).
  std::vector<Reply> round_trip(ClusterTransport& transport, std::vector<Command> pipeline) {
    transport.enqueue(std::move(pipeline));
    transport.send(4);
    const std::vector<Reply>* replies = transport.receive_front();
    EXPECT_NE(replies, nullptr) << (log.empty() ? "" : log.back());
    std::vector<Reply> copy = replies ? *replies : std::vector<Reply>{};
    if (replies) transport.pop_front();
    return copy;
  }

  // Drives the transport as the engine does (reconnect after the backoff, send, receive) until the
  // oldest pipeline is answered; nullptr after 20 s.
  const std::vector<Reply>* wait_for_replies(ClusterTransport& transport) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      transport.reconnect_if_due();
      transport.send(4);
      if (transport.up() && transport.on_wire() > 0)
        if (const std::vector<Reply>* replies = transport.receive_front()) return replies;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return nullptr;
  }

  // A key of this test in `slot`'s neighbourhood: "<prefix><n>" for the first n that lands there.
  static std::string key_in_slot(int slot, const std::string& prefix) {
    for (int n = 0;; ++n) {
      std::string key = prefix + std::to_string(n);
      if (key_hash_slot(key) == slot) return key;
    }
  }

  RedisCluster cluster;
  std::vector<std::string> log;
};

TEST_F(ClusterTransportTest, SlotsAgreeWithTheServer) {
  for (const char* key : {"foo", "customer:42", "{user1000}.following", "a{}b", "x{{y}}z", "\xff\xfe binary"})
    EXPECT_EQ(std::to_string(key_hash_slot(key)), cluster.node(0).command({"CLUSTER", "KEYSLOT", key})) << key;
}

TEST_F(ClusterTransportTest, RoutesEveryCommandToItsMasterAndSplitsDeletesBySlot) {
  auto transport = make_transport();
  std::vector<Command> sets;
  Command unlink_all{{"UNLINK"}};
  for (int i = 0; i < 300; ++i) {
    std::string key = "route:" + std::to_string(i);
    sets.push_back(Command{{"SET", key, "v"}});
    unlink_all.argv.push_back(key);
  }
  std::vector<Reply> replies = round_trip(*transport, sets);
  ASSERT_EQ(replies.size(), 300u);
  for (const Reply& reply : replies) EXPECT_EQ(reply.text, "OK");
  // Every key landed on the master of its slot, and all three masters got some.
  int on_master[3] = {0, 0, 0};
  for (int i = 0; i < 300; ++i) {
    std::string key = "route:" + std::to_string(i);
    int owner = cluster.owner_of(key_hash_slot(key));
    EXPECT_EQ(cluster.node(owner).command({"EXISTS", key}), "1") << key;
    ++on_master[owner];
  }
  for (int count : on_master) EXPECT_GT(count, 50);

  // One UNLINK of keys in many slots is refused by any node as such...
  EXPECT_EQ(cluster.node(0).command({"UNLINK", "route:1", "route:2", "route:3"}).rfind("CROSSSLOT", 0), 0u);
  // ...and split by the transport, its replies summed into one.
  replies = round_trip(*transport, {unlink_all, Command{{"GET", "route:7"}}});
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_FALSE(replies[0].error) << replies[0].text;
  EXPECT_EQ(replies[0].integer, 300);
  EXPECT_EQ(replies[1].kind, ReplyKind::Nil);
  EXPECT_EQ(transport->stats().moved, 0u);
}

TEST_F(ClusterTransportTest, HashtaggedScriptKeysStayInOneSlotAndCrossSlotScriptsAreRefused) {
  auto transport = make_transport();
  const std::string script = "redis.call('SET', KEYS[1], ARGV[1]) redis.call('SET', KEYS[2], ARGV[1]) return 1";
  std::vector<Reply> replies = round_trip(
      *transport, {Command{{"EVAL", script, "2", "{order:9}", "{order:9}:cdc-version", "x"}},
                   Command{{"EVAL", script, "2", "order:1", "order:2", "x"}}});
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].integer, 1) << replies[0].text;
  ASSERT_TRUE(replies[1].error);  // a permanent error for the event, not an outage
  EXPECT_EQ(replies[1].text.rfind("CROSSSLOT", 0), 0u) << replies[1].text;
  EXPECT_TRUE(transport->up());
}

TEST_F(ClusterTransportTest, MovedUpdatesTheMapAndRetries) {
  auto transport = make_transport();
  const int slot = 100;  // served by node 0, moved to node 2 behind the transport's back
  const std::string key = key_in_slot(slot, "moved:");
  const std::string to = cluster.id(2);
  for (int i = 0; i < 3; ++i) cluster.node(i).command({"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", to});
  EXPECT_EQ(transport->master_of(slot), cluster.address(0));

  std::vector<Reply> replies = round_trip(*transport, {Command{{"SET", key, "v"}}});
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].text, "OK");
  EXPECT_EQ(cluster.node(2).command({"GET", key}), "v");
  EXPECT_EQ(transport->stats().moved, 1u);
  EXPECT_EQ(transport->master_of(slot), cluster.address(2));
  transport->send(4);  // the next round reads the whole map again
  EXPECT_GE(transport->stats().slot_map_refreshes, 2u);
  EXPECT_EQ(transport->master_of(slot), cluster.address(2));
}

TEST_F(ClusterTransportTest, AskSendsAskingOnceAndLeavesTheMap) {
  auto transport = make_transport();
  const int slot = 200;  // migrating from node 0 to node 1; the key is not on node 0 any more
  const std::string key = key_in_slot(slot, "ask:");
  const std::string s = std::to_string(slot);
  ASSERT_EQ(cluster.node(1).command({"CLUSTER", "SETSLOT", s, "IMPORTING", cluster.id(0)}), "OK");
  ASSERT_EQ(cluster.node(0).command({"CLUSTER", "SETSLOT", s, "MIGRATING", cluster.id(1)}), "OK");

  std::vector<Reply> replies = round_trip(*transport, {Command{{"SET", key, "v"}}, Command{{"UNLINK", key}}});
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].text, "OK");
  EXPECT_EQ(replies[1].integer, 1);  // the UNLINK went after it, to the same (importing) node
  EXPECT_EQ(transport->stats().asked, 2u);
  EXPECT_EQ(transport->stats().moved, 0u);
  EXPECT_EQ(transport->master_of(slot), cluster.address(0));  // ASK changes nothing

  round_trip(*transport, {Command{{"SET", key, "w"}}});
  EXPECT_EQ(cluster.node(1).command({"CLUSTER", "COUNTKEYSINSLOT", s}), "1");
  EXPECT_EQ(cluster.node(0).command({"CLUSTER", "COUNTKEYSINSLOT", s}), "0");
  EXPECT_EQ(transport->stats().asked, 3u);  // every new command of that slot is asked again
}

TEST_F(ClusterTransportTest, TryAgainDuringAMigrationIsWaitedOut) {
  auto transport = make_transport();
  const std::string a = "{tryagain}a", b = "{tryagain}b";  // one slot; a exists, b does not
  const int slot = key_hash_slot(a);
  const int from = cluster.owner_of(slot), to = (from + 1) % 3;
  const std::string s = std::to_string(slot);
  ASSERT_EQ(cluster.node(from).command({"SET", a, "v"}), "OK");
  ASSERT_EQ(cluster.node(to).command({"CLUSTER", "SETSLOT", s, "IMPORTING", cluster.id(from)}), "OK");
  ASSERT_EQ(cluster.node(from).command({"CLUSTER", "SETSLOT", s, "MIGRATING", cluster.id(to)}), "OK");

  transport->enqueue({Command{{"UNLINK", a, b}}});
  transport->send(4);
  EXPECT_EQ(transport->receive_front(), nullptr);  // TRYAGAIN: keys of the slot on both sides
  EXPECT_FALSE(transport->up());
  ASSERT_FALSE(log.empty());
  EXPECT_NE(log.back().find("TRYAGAIN"), std::string::npos) << log.back();

  // The migration ends: the key moves, the slot is the target's. The UNLINK then goes through.
  ASSERT_EQ(cluster.node(from).command({"MIGRATE", "127.0.0.1", std::to_string(cluster.node(to).port()), "", "0",
                                        "5000", "KEYS", a}),
            "OK");
  for (int i = 0; i < 3; ++i) cluster.node(i).command({"CLUSTER", "SETSLOT", s, "NODE", cluster.id(to)});
  const std::vector<Reply>* replies = wait_for_replies(*transport);
  ASSERT_NE(replies, nullptr) << (log.empty() ? "" : log.back());
  EXPECT_EQ((*replies)[0].integer, 1);
  EXPECT_EQ(cluster.node(to).command({"EXISTS", a}), "0");
}

TEST_F(ClusterTransportTest, WaitGoesToEveryMasterTouched) {
  auto transport = make_transport(OutagePolicy{0, 100, nullptr});
  std::vector<Command> pipeline;
  for (int i = 0; i < 30; ++i) pipeline.push_back(Command{{"SET", "wait:" + std::to_string(i), "v"}});
  pipeline.push_back(Command{{"WAIT", "0", "100"}});
  std::vector<Reply> replies = round_trip(*transport, pipeline);
  ASSERT_EQ(replies.size(), 31u);
  EXPECT_EQ(replies[30].kind, ReplyKind::Integer);
  EXPECT_EQ(replies[30].integer, 0);  // no replicas anywhere: the fewest is 0
  EXPECT_EQ(transport->stats().commands, 33u);  // 30 SETs and one WAIT per master
}

TEST_F(ClusterTransportTest, ShortWaitIsAnOutage) {
  auto transport = make_transport(OutagePolicy{1, 50, nullptr});
  transport->enqueue({Command{{"SET", "shortwait", "v"}}, Command{{"WAIT", "1", "50"}}});
  transport->send(4);
  EXPECT_EQ(transport->receive_front(), nullptr);
  EXPECT_FALSE(transport->up());
  EXPECT_EQ(transport->queued(), 1u);  // kept for resending
  EXPECT_EQ(transport->on_wire(), 0u);
}

TEST_F(ClusterTransportTest, ANodeLostIsWaitedOutAndTheMapReadFromAnotherNode) {
  auto transport = make_transport();
  const std::string key = key_in_slot(50, "lost:");  // node 0
  ASSERT_TRUE(cluster.node(0).kill());
  transport->enqueue({Command{{"SET", key, "v"}}, Command{{"SET", key_in_slot(6000, "lost:"), "v"}}});
  transport->send(4);
  const std::vector<Reply>* replies = transport->up() && transport->on_wire() ? transport->receive_front() : nullptr;
  EXPECT_EQ(replies, nullptr);
  EXPECT_FALSE(transport->up());
  // Its slots go to node 2 (as a failover would hand them to a replica); the transport follows
  // once it reads the map again from a node still up.
  const std::string to = cluster.id(2);
  for (int i = 1; i < 3; ++i) cluster.node(i).command({"CLUSTER", "SETSLOT", "50", "NODE", to});
  replies = wait_for_replies(*transport);
  ASSERT_NE(replies, nullptr) << (log.empty() ? "" : log.back());
  EXPECT_EQ((*replies)[0].text, "OK");
  EXPECT_EQ(cluster.node(2).command({"GET", key}), "v");
  EXPECT_EQ(transport->stats().reconnects, 1u);
}

}  // namespace
}  // namespace cdc
