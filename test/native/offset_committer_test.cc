#include "engine/offset_committer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace cdc {
namespace {

using namespace std::chrono_literals;

struct CommitterParts {
  LogFn log = [](LogLevel, std::string) {};
  PartitionTable partitions;
  kafka::EventCallback events{log};
  OffsetCommitter committer{partitions, events, 1000, log};
};

void refuse_commit(OffsetCommitter& committer, RdKafka::ErrorCode err) {
  std::vector<RdKafka::TopicPartition*> offsets;
  committer.offset_commit_cb(err, offsets);
}

// A commit refused because the group is rebalancing may come back after the member's last
// callback of that rebalance: no callback then ends the pause, so it must end by itself soon
// (it used to last 60 s, and the offsets applied meanwhile stayed uncommitted that long).
TEST(OffsetCommitter, ACommitRefusedForARebalanceIsRetriedSoonWithoutAnotherCallback) {
  CommitterParts parts;
  refuse_commit(parts.committer, RdKafka::ERR_REBALANCE_IN_PROGRESS);
  auto now = OffsetCommitter::Clock::now();
  EXPECT_TRUE(parts.committer.suspended(now + 1s));
  EXPECT_FALSE(parts.committer.suspended(now + 10s));
}

TEST(OffsetCommitter, ARebalanceCallbackEndsThePauseAtOnce) {
  CommitterParts parts;
  refuse_commit(parts.committer, RdKafka::ERR_ILLEGAL_GENERATION);
  auto now = OffsetCommitter::Clock::now();
  parts.committer.rebalance_seen(now);
  EXPECT_FALSE(parts.committer.suspended(now));
}

// After a cooperative revoke librdkafka rejoins at once; that round ends with a callback, and a
// refused commit meanwhile must not shorten the wait for it.
TEST(OffsetCommitter, ARefusedCommitDoesNotShortenTheWaitAfterACooperativeRevoke) {
  CommitterParts parts;
  auto now = OffsetCommitter::Clock::now();
  parts.committer.cooperative_revoke_done(now);
  refuse_commit(parts.committer, RdKafka::ERR_REBALANCE_IN_PROGRESS);
  EXPECT_TRUE(parts.committer.suspended(now + 10s));
}

TEST(OffsetCommitter, OtherFailuresOnlyDelayTheNextPeriodicCommit) {
  CommitterParts parts;
  refuse_commit(parts.committer, RdKafka::ERR__TRANSPORT);
  EXPECT_FALSE(parts.committer.suspended(OffsetCommitter::Clock::now()));
}

}  // namespace
}  // namespace cdc
