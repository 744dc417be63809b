#include "engine/partition_offsets.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <tuple>
#include <vector>

namespace cdc {
namespace {

TEST(PartitionOffsets, NothingToCommitBeforeAnyCompletion) {
  PartitionOffsets offsets;
  EXPECT_FALSE(offsets.committable());
  ASSERT_TRUE(offsets.begin(10).ok());
  EXPECT_FALSE(offsets.committable());
  EXPECT_EQ(offsets.watermark(), -1);
  EXPECT_EQ(offsets.pending(), 1u);
}

TEST(PartitionOffsets, InOrderCompletionCommitsNextOffset) {
  PartitionOffsets offsets;
  for (int64_t offset = 100; offset < 105; ++offset) ASSERT_TRUE(offsets.begin(offset).ok());
  ASSERT_TRUE(offsets.complete(100).ok());
  EXPECT_EQ(offsets.committable(), 101);
  ASSERT_TRUE(offsets.complete(101).ok());
  ASSERT_TRUE(offsets.complete(102).ok());
  EXPECT_EQ(offsets.committable(), 103);
  EXPECT_EQ(offsets.in_flight(), 2u);
}

TEST(PartitionOffsets, OutOfOrderCompletionWaitsForTheOldest) {
  PartitionOffsets offsets;
  for (int64_t offset = 0; offset < 6; ++offset) ASSERT_TRUE(offsets.begin(offset).ok());
  // A later batch is acknowledged before an earlier one.
  ASSERT_TRUE(offsets.complete(3).ok());
  ASSERT_TRUE(offsets.complete(4).ok());
  ASSERT_TRUE(offsets.complete(5).ok());
  EXPECT_FALSE(offsets.committable());
  ASSERT_TRUE(offsets.complete(1).ok());
  EXPECT_FALSE(offsets.committable());
  ASSERT_TRUE(offsets.complete(0).ok());
  EXPECT_EQ(offsets.committable(), 2);  // 2 still pending
  ASSERT_TRUE(offsets.complete(2).ok());
  EXPECT_EQ(offsets.committable(), 6);  // jumps over the already completed 3..5
  EXPECT_EQ(offsets.in_flight(), 0u);
  EXPECT_EQ(offsets.pending(), 0u);
}

TEST(PartitionOffsets, GapsInOffsetsOnlyBegunOnesCount) {
  // Compacted topic / transaction markers: 101, 102 and 104..109 never arrive.
  PartitionOffsets offsets;
  ASSERT_TRUE(offsets.begin(100).ok());
  ASSERT_TRUE(offsets.begin(103).ok());
  ASSERT_TRUE(offsets.begin(110).ok());
  ASSERT_TRUE(offsets.complete(103).ok());
  EXPECT_FALSE(offsets.committable());  // 100 is still in work
  ASSERT_TRUE(offsets.complete(100).ok());
  EXPECT_EQ(offsets.committable(), 104);
  ASSERT_TRUE(offsets.complete(110).ok());
  EXPECT_EQ(offsets.committable(), 111);
}

TEST(PartitionOffsets, GapAfterDrainedWindow) {
  PartitionOffsets offsets;
  ASSERT_TRUE(offsets.begin(5).ok());
  ASSERT_TRUE(offsets.complete(5).ok());
  EXPECT_EQ(offsets.committable(), 6);
  offsets.mark_committed(6);
  ASSERT_TRUE(offsets.begin(50).ok());
  EXPECT_FALSE(offsets.committable());  // still 6 until 50 is done
  ASSERT_TRUE(offsets.complete(50).ok());
  EXPECT_EQ(offsets.committable(), 51);
}

TEST(PartitionOffsets, MarkCommittedSuppressesRepeatsUntilProgress) {
  PartitionOffsets offsets;
  ASSERT_TRUE(offsets.begin(0).ok());
  ASSERT_TRUE(offsets.begin(1).ok());
  ASSERT_TRUE(offsets.complete(0).ok());
  EXPECT_EQ(offsets.committable(), 1);
  EXPECT_EQ(offsets.committable(), 1);  // a query alone changes nothing: a failed commit retries
  offsets.mark_committed(1);
  EXPECT_FALSE(offsets.committable());
  EXPECT_EQ(offsets.committed(), 1);
  offsets.mark_committed(0);  // a late, older commit result never moves it back
  EXPECT_EQ(offsets.committed(), 1);
  ASSERT_TRUE(offsets.complete(1).ok());
  EXPECT_EQ(offsets.committable(), 2);
}

TEST(PartitionOffsets, RejectsMisuse) {
  PartitionOffsets offsets;
  EXPECT_FALSE(offsets.begin(-1).ok());
  ASSERT_TRUE(offsets.begin(7).ok());
  Status again = offsets.begin(7);
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find("must increase"), std::string::npos) << again.message();
  EXPECT_FALSE(offsets.begin(3).ok());
  EXPECT_FALSE(offsets.complete(8).ok());  // never begun
  EXPECT_FALSE(offsets.complete(6).ok());
  ASSERT_TRUE(offsets.begin(9).ok());
  ASSERT_TRUE(offsets.complete(9).ok());
  EXPECT_TRUE(offsets.complete(9).ok());  // twice is harmless
  EXPECT_EQ(offsets.pending(), 1u);
  ASSERT_TRUE(offsets.complete(7).ok());
  EXPECT_FALSE(offsets.complete(7).ok());  // already below the watermark
  EXPECT_EQ(offsets.committable(), 10);
}

TEST(PartitionOffsets, ResetForgetsEverything) {
  PartitionOffsets offsets;
  ASSERT_TRUE(offsets.begin(10).ok());
  ASSERT_TRUE(offsets.complete(10).ok());
  offsets.mark_committed(11);
  offsets.reset();
  EXPECT_FALSE(offsets.committable());
  EXPECT_EQ(offsets.committed(), -1);
  EXPECT_EQ(offsets.last_begun(), -1);
  EXPECT_TRUE(offsets.begin(3).ok());  // a rewound position is fine after reset
}

// Random completion order over random gaps, checked against a direct computation.
TEST(PartitionOffsets, RandomizedAgainstReference) {
  std::mt19937_64 random(42);
  for (int round = 0; round < 50; ++round) {
    PartitionOffsets offsets;
    std::vector<int64_t> begun;
    int64_t next = static_cast<int64_t>(random() % 1000);
    for (int i = 0; i < 200; ++i) {
      begun.push_back(next);
      ASSERT_TRUE(offsets.begin(next).ok());
      next += 1 + static_cast<int64_t>(random() % 3);  // gaps of 0..2
    }
    std::vector<int64_t> order = begun;
    std::shuffle(order.begin(), order.end(), random);
    std::vector<bool> done(begun.size(), false);
    for (int64_t offset : order) {
      ASSERT_TRUE(offsets.complete(offset).ok());
      size_t index = std::lower_bound(begun.begin(), begun.end(), offset) - begun.begin();
      done[index] = true;
      size_t prefix = 0;
      while (prefix < done.size() && done[prefix]) ++prefix;
      std::optional<int64_t> expected;
      if (prefix > 0) expected = begun[prefix - 1] + 1;
      ASSERT_EQ(offsets.committable(), expected);
    }
    EXPECT_EQ(offsets.in_flight(), 0u);
  }
}

TEST(PartitionOffsets, LongRunStaysBounded) {
  PartitionOffsets offsets;
  for (int64_t offset = 0; offset < 1000000; ++offset) {
    ASSERT_TRUE(offsets.begin(offset).ok());
    if (offset >= 4) {
      ASSERT_TRUE(offsets.complete(offset - 4).ok());
    }
  }
  EXPECT_EQ(offsets.in_flight(), 4u);
  EXPECT_EQ(offsets.committable(), 1000000 - 4);
}

}  // namespace
}  // namespace cdc
