#include "redis/cluster_slots.h"

#include <gtest/gtest.h>

#include "redis/crc16.h"

namespace cdc {
namespace {

TEST(ClusterHashSlot, Crc16KnownVector) {
  EXPECT_EQ(crc16("123456789"), 0x31C3);
  EXPECT_EQ(crc16(""), 0);
}

TEST(ClusterHashSlot, KnownSlots) {  // as CLUSTER KEYSLOT answers them
  EXPECT_EQ(key_hash_slot("foo"), 12182);
  EXPECT_EQ(key_hash_slot("hello"), 866);
  EXPECT_EQ(key_hash_slot(""), 0);
}

TEST(ClusterHashSlot, HashtagRules) {
  EXPECT_EQ(key_hash_slot("{user1000}.following"), key_hash_slot("{user1000}.followers"));
  EXPECT_EQ(key_hash_slot("{user1000}.following"), key_hash_slot("user1000"));
  EXPECT_EQ(hashed_part("foo{bar}{zap}"), "bar");        // the first tag only
  EXPECT_EQ(hashed_part("foo{}{bar}"), "foo{}{bar}");    // an empty tag: the whole key
  EXPECT_EQ(hashed_part("foo{{bar}}zap"), "{bar");       // up to the first '}' after the first '{'
  EXPECT_EQ(hashed_part("foo{bar"), "foo{bar");          // no closing brace
  EXPECT_EQ(hashed_part("customer:{42}:cdc-version"), "42");
}

TEST(ClusterAddressParse, AcceptsHostPortAndIpv6) {
  ClusterAddress address;
  ASSERT_TRUE(parse_cluster_address("127.0.0.1:17100", address).ok());
  EXPECT_EQ(address.host, "127.0.0.1");
  EXPECT_EQ(address.port, 17100);
  ASSERT_TRUE(parse_cluster_address("[::1]:7000", address).ok());
  EXPECT_EQ(address.host, "::1");
  EXPECT_EQ(address.name(), "[::1]:7000");
}

TEST(ClusterAddressParse, RejectsNonsense) {
  ClusterAddress address;
  for (const char* bad : {"", "localhost", "host:", ":7000", "host:0", "host:65536", "host:70x", "a b:1"})
    EXPECT_FALSE(parse_cluster_address(bad, address).ok()) << bad;
}

TEST(ClusterNodesParse, MastersAndTheirSlots) {
  const char* text =
      "07c3 127.0.0.1:30004@31004,host4 slave e7d1 0 1426238317239 4 connected\n"
      "67ed 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10922\n"
      "292f 127.0.0.1:30003@31003 myself,master - 0 1426238318243 3 connected 10923-16383 [10924->-67ed]\n"
      "6ec2 127.0.0.1:30005@31005 master,fail - 1426238316232 0 5 disconnected\n"
      "824f 127.0.0.1:30001@31001 master - 0 1426238317741 1 connected 0-5459 5460\n"
      "9999 :0@0 master,noaddr - 0 0 0 disconnected\n";
  ClusterTopology topology;
  ASSERT_TRUE(parse_cluster_nodes(text, topology).ok());
  ASSERT_EQ(topology.masters.size(), 3u);  // the failed and the address-less masters serve nothing
  EXPECT_EQ(topology.masters[0].name(), "127.0.0.1:30002");
  EXPECT_EQ(topology.masters[1].name(), "127.0.0.1:30003");
  EXPECT_EQ(topology.masters[2].name(), "127.0.0.1:30001");
  ASSERT_EQ(topology.ranges.size(), 4u);  // the migration entry is not a range
  EXPECT_EQ(topology.ranges[1].first, 10923);
  EXPECT_EQ(topology.ranges[1].last, 16383);
  EXPECT_EQ(topology.ranges[3].first, 5460);
  EXPECT_EQ(topology.ranges[3].master, 2u);
}

TEST(ClusterNodesParse, RejectsAnUnexpectedLine) {
  ClusterTopology topology;
  EXPECT_FALSE(parse_cluster_nodes("not a cluster nodes reply", topology).ok());
}

TEST(ClusterRedirect, MovedAndAsk) {
  Redirect redirect;
  ASSERT_TRUE(parse_redirect("MOVED 3999 127.0.0.1:6381", "10.0.0.1", redirect));
  EXPECT_FALSE(redirect.ask);
  EXPECT_EQ(redirect.slot, 3999);
  EXPECT_EQ(redirect.to.name(), "127.0.0.1:6381");
  ASSERT_TRUE(parse_redirect("ASK 12 :7001", "10.0.0.1", redirect));
  EXPECT_TRUE(redirect.ask);
  EXPECT_EQ(redirect.to.name(), "10.0.0.1:7001");  // no host: the one that answered
  EXPECT_FALSE(parse_redirect("MOVED 16384 127.0.0.1:1", "h", redirect));
  EXPECT_FALSE(parse_redirect("TRYAGAIN Multiple keys request during rehashing of slot", "h", redirect));
  EXPECT_FALSE(parse_redirect("ERR MOVED", "h", redirect));
}

}  // namespace
}  // namespace cdc
