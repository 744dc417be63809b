// Test helper: a Redis Cluster of three masters (no replicas) made of RedisServer processes on
// free loopback ports, slots split evenly, cluster_state:ok before the constructor returns. The
// masters keep serving their slots while another is down (cluster-require-full-coverage no).
//
//   RedisCluster cluster;
//   ASSERT_TRUE(cluster.ok()) << cluster.error();
//   cluster.node(0).command({"CLUSTER", "KEYSLOT", "foo"});
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "redis_server.h"

namespace cdc_test {

class RedisCluster {
 public:
  RedisCluster() {
    for (int i = 0; i < 3; ++i) {
      nodes_.push_back(std::make_unique<RedisServer>(std::vector<std::string>{
          "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000",
          "--cluster-require-full-coverage", "no"}));
      if (!nodes_.back()->running()) {
        error_ = nodes_.back()->error();
        return;
      }
    }
    const int ranges[3][2] = {{0, 5460}, {5461, 10922}, {10923, 16383}};
    for (int i = 0; i < 3; ++i)
      node(i).command({"CLUSTER", "ADDSLOTSRANGE", std::to_string(ranges[i][0]), std::to_string(ranges[i][1])});
    for (int i = 1; i < 3; ++i) node(0).command({"CLUSTER", "MEET", "127.0.0.1", std::to_string(node(i).port())});
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!all_ok()) {
      if (std::chrono::steady_clock::now() > deadline) {
        error_ = "cluster_state not ok after 30 s";
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  RedisServer& node(int i) { return *nodes_[i]; }
  std::string address(int i) { return "127.0.0.1:" + std::to_string(node(i).port()); }
  std::string id(int i) { return node(i).command({"CLUSTER", "MYID"}); }
  // The node that serves `slot` (by the initial split).
  int owner_of(int slot) const { return slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2; }

 private:
  bool all_ok() {
    for (int i = 0; i < 3; ++i) {  // every node knows every slot's owner (not just its state ok)
      std::string info = node(i).command({"CLUSTER", "INFO"});
      for (const char* wanted : {"cluster_state:ok", "cluster_slots_assigned:16384", "cluster_known_nodes:3"})
        if (info.find(wanted) == std::string::npos) return false;
    }
    return true;
  }

  std::vector<std::unique_ptr<RedisServer>> nodes_;
  std::string error_;
};

}  // namespace cdc_test
