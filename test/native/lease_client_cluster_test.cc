// LeaseClient with redis.cluster: leases across slots of three masters, a fill refused after an
// invalidation on whichever master holds the key, a moved slot followed, a lost master failing
// requests at once.
#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>

#include "cache/lease_client.h"
#include "redis/crc16.h"
#include "redis_cluster.h"

namespace cdc {
namespace {

using cdc_test::RedisCluster;

class ClusterReader {
 public:
  explicit ClusterReader(RedisCluster& cluster) {
    LeaseClientOptions options;
    ClusterAddress seed;
    EXPECT_TRUE(parse_cluster_address(cluster.address(0), seed).ok());
    options.cluster_nodes = {seed};
    options.redis.connect_timeout_ms = 1000;
    options.redis.command_timeout_ms = 1000;
    client_ = std::make_unique<LeaseClient>(
        options,
        [this](std::vector<ReadResult>&& results) {
          std::lock_guard<std::mutex> lock(mutex_);
          for (ReadResult& result : results) results_[result.id] = std::move(result);
          cv_.notify_all();
        },
        nullptr);
    client_->start();
  }

  ReadResult call(ReadOp op, const std::string& key, const std::string& token = "", const std::string& value = "") {
    uint64_t id = ++next_id_;
    std::vector<ReadRequest> requests(1);
    requests[0] = ReadRequest{id, op, key, token, value, 0};
    EXPECT_TRUE(client_->submit(std::move(requests)));
    std::unique_lock<std::mutex> lock(mutex_);
    EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(10), [&] { return results_.count(id) > 0; }));
    ReadResult result = results_[id];
    results_.erase(id);
    return result;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<uint64_t, ReadResult> results_;
  uint64_t next_id_ = 0;
  std::unique_ptr<LeaseClient> client_;
};

class LeaseClientClusterTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(cluster.ok()) << cluster.error(); }
  RedisCluster cluster;
};

TEST_F(LeaseClientClusterTest, LeasesFillsAndRefusalsOnEveryMaster) {
  ClusterReader reader(cluster);
  bool seen[3] = {false, false, false};
  for (int i = 0; i < 30; ++i) {
    const std::string key = "lease:" + std::to_string(i);
    const int owner = cluster.owner_of(key_hash_slot(key));
    seen[owner] = true;
    EXPECT_EQ(reader.call(ReadOp::get, key).outcome, ReadOutcome::miss) << key;
    ReadResult lease = reader.call(ReadOp::acquire, key);
    ASSERT_EQ(lease.outcome, ReadOutcome::granted) << lease.value;
    if (i % 2 == 0) {  // an invalidation between acquire and fill, on the key's master
      EXPECT_EQ(cluster.node(owner).command({"UNLINK", key}), "1");
      EXPECT_EQ(reader.call(ReadOp::fill, key, lease.value, "v").outcome, ReadOutcome::refused);
      EXPECT_EQ(cluster.node(owner).command({"EXISTS", key}), "0");
    } else {
      EXPECT_EQ(reader.call(ReadOp::fill, key, lease.value, "v").outcome, ReadOutcome::filled);
      EXPECT_EQ(cluster.node(owner).command({"GET", key}), "v");
      ReadResult hit = reader.call(ReadOp::get, key);
      EXPECT_EQ(hit.outcome, ReadOutcome::hit);
      EXPECT_EQ(hit.value, "v");
    }
  }
  for (bool s : seen) EXPECT_TRUE(s);
}

TEST_F(LeaseClientClusterTest, FollowsAMovedSlot) {
  ClusterReader reader(cluster);
  const std::string key = "moved-lease";
  const int slot = key_hash_slot(key);
  const int from = cluster.owner_of(slot), to = (from + 1) % 3;
  EXPECT_EQ(reader.call(ReadOp::get, key).outcome, ReadOutcome::miss);  // the map is read
  for (int i = 0; i < 3; ++i) cluster.node(i).command({"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", cluster.id(to)});
  ReadResult lease = reader.call(ReadOp::acquire, key);
  ASSERT_EQ(lease.outcome, ReadOutcome::granted) << lease.value;
  EXPECT_EQ(reader.call(ReadOp::fill, key, lease.value, "v").outcome, ReadOutcome::filled);
  EXPECT_EQ(cluster.node(to).command({"GET", key}), "v");
}

TEST_F(LeaseClientClusterTest, ALostMasterFailsRequestsAtOnce) {
  ClusterReader reader(cluster);
  EXPECT_EQ(reader.call(ReadOp::get, "warm").outcome, ReadOutcome::miss);
  ASSERT_TRUE(cluster.node(cluster.owner_of(key_hash_slot("lost"))).kill());
  ReadResult result = reader.call(ReadOp::get, "lost");
  EXPECT_EQ(result.outcome, ReadOutcome::error);
  EXPECT_NE(result.value.find("redis"), std::string::npos) << result.value;
}

}  // namespace
}  // namespace cdc
