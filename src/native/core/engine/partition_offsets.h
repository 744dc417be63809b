// Which Kafka offsets may be committed: per partition, the contiguous watermark of messages whose
// every effect (Redis replies, JS handler acks) has been acknowledged. Completion may happen out of
// order; the watermark only moves past a message once it and every earlier begun message are done.
// Offsets need not be contiguous numbers (compacted topics, transaction markers): only begun
// offsets count. Pure logic, owned by the engine thread: no locks.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "common/status.h"

namespace cdc {

// The in-flight offsets of one partition.
class PartitionOffsets {
 public:
  // A message was taken into work. Offsets must increase (as Kafka delivers them per partition).
  Status begin(int64_t offset);
  // Every effect of a begun message is acknowledged. Completing an offset twice is harmless;
  // completing one that is not in flight (never begun, or already below the watermark) is an error.
  Status complete(int64_t offset);

  // The offset to commit (last contiguously completed + 1) when it is ahead of the last
  // mark_committed() offset; nothing otherwise.
  std::optional<int64_t> committable() const;
  // Records a successful commit; later committable() calls only return larger offsets.
  void mark_committed(int64_t offset);

  // Next offset to commit, or -1 before any begun message completed.
  int64_t watermark() const { return watermark_; }
  // Last offset marked committed, or -1.
  int64_t committed() const { return committed_; }
  // Highest begun offset, or -1.
  int64_t last_begun() const { return last_begun_; }
  // Begun and not yet below the watermark (includes completed ones waiting behind a pending one).
  size_t in_flight() const { return in_flight_.size(); }
  // Begun and not completed.
  size_t pending() const { return pending_; }

  // Forgets everything, as for a fresh assignment.
  void reset();

 private:
  struct Entry {
    int64_t offset;
    bool done;
  };
  std::deque<Entry> in_flight_;  // ascending offsets
  size_t pending_ = 0;
  int64_t watermark_ = -1;
  int64_t committed_ = -1;
  int64_t last_begun_ = -1;
};

}  // namespace cdc
