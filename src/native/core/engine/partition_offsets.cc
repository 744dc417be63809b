#include "engine/partition_offsets.h"

#include <algorithm>

namespace cdc {

Status PartitionOffsets::begin(int64_t offset) {
  if (offset < 0) return Status::Error("begin(" + std::to_string(offset) + "): negative offset");
  if (offset <= last_begun_) {
    return Status::Error("begin(" + std::to_string(offset) + ") after offset " +
                         std::to_string(last_begun_) + ": offsets must increase");
  }
  in_flight_.push_back(Entry{offset, false});
  last_begun_ = offset;
  ++pending_;
  return Status::Ok();
}

Status PartitionOffsets::complete(int64_t offset) {
  // Completion is usually in order, so the front is the common case; otherwise a binary search
  // over the (ascending) in-flight window.
  auto it = in_flight_.begin();
  if (it == in_flight_.end() || it->offset != offset) {
    it = std::lower_bound(in_flight_.begin(), in_flight_.end(), offset,
                          [](const Entry& entry, int64_t value) { return entry.offset < value; });
  }
  if (it == in_flight_.end() || it->offset != offset) {
    return Status::Error("complete(" + std::to_string(offset) + "): offset not in flight");
  }
  if (it->done) return Status::Ok();
  it->done = true;
  --pending_;
  // Everything done at the front is now below the watermark.
  while (!in_flight_.empty() && in_flight_.front().done) {
    watermark_ = in_flight_.front().offset + 1;
    in_flight_.pop_front();
  }
  return Status::Ok();
}

std::optional<int64_t> PartitionOffsets::committable() const {
  if (watermark_ > committed_) return watermark_;
  return std::nullopt;
}

void PartitionOffsets::mark_committed(int64_t offset) { committed_ = std::max(committed_, offset); }

void PartitionOffsets::reset() { *this = PartitionOffsets(); }

}  // namespace cdc
