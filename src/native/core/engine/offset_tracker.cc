#include "engine/offset_tracker.h"

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

PartitionOffsets& OffsetTracker::assign(const std::string& topic, int32_t partition) {
  PartitionOffsets& offsets = topics_[topic][partition];
  offsets.reset();
  return offsets;
}

void OffsetTracker::revoke(const std::string& topic, int32_t partition) {
  auto topic_it = topics_.find(topic);
  if (topic_it == topics_.end()) return;
  topic_it->second.erase(partition);
  if (topic_it->second.empty()) topics_.erase(topic_it);
}

void OffsetTracker::clear() { topics_.clear(); }

size_t OffsetTracker::partition_count() const {
  size_t count = 0;
  for (const auto& entry : topics_) count += entry.second.size();
  return count;
}

PartitionOffsets* OffsetTracker::find(const std::string& topic, int32_t partition) {
  auto topic_it = topics_.find(topic);
  if (topic_it == topics_.end()) return nullptr;
  auto it = topic_it->second.find(partition);
  return it == topic_it->second.end() ? nullptr : &it->second;
}

const PartitionOffsets* OffsetTracker::find(const std::string& topic, int32_t partition) const {
  return const_cast<OffsetTracker*>(this)->find(topic, partition);
}

namespace {
Status not_assigned(const std::string& topic, int32_t partition) {
  return Status::Error(topic + "[" + std::to_string(partition) + "] is not assigned");
}
std::string where(const std::string& topic, int32_t partition) {
  return topic + "[" + std::to_string(partition) + "] ";
}
}  // namespace

Status OffsetTracker::begin(const std::string& topic, int32_t partition, int64_t offset) {
  PartitionOffsets* offsets = find(topic, partition);
  if (offsets == nullptr) return not_assigned(topic, partition);
  Status status = offsets->begin(offset);
  if (!status.ok()) return Status::Error(where(topic, partition) + status.message());
  return status;
}

Status OffsetTracker::complete(const std::string& topic, int32_t partition, int64_t offset) {
  PartitionOffsets* offsets = find(topic, partition);
  if (offsets == nullptr) return not_assigned(topic, partition);
  Status status = offsets->complete(offset);
  if (!status.ok()) return Status::Error(where(topic, partition) + status.message());
  return status;
}

std::optional<int64_t> OffsetTracker::committable(const std::string& topic,
                                                  int32_t partition) const {
  const PartitionOffsets* offsets = find(topic, partition);
  if (offsets == nullptr) return std::nullopt;
  return offsets->committable();
}

void OffsetTracker::mark_committed(const std::string& topic, int32_t partition, int64_t offset) {
  if (PartitionOffsets* offsets = find(topic, partition)) offsets->mark_committed(offset);
}

void OffsetTracker::collect_committable(std::vector<TopicPartitionOffset>& out) const {
  for (const auto& [topic, partitions] : topics_) {
    for (const auto& [partition, offsets] : partitions) {
      if (auto offset = offsets.committable()) out.push_back({topic, partition, *offset});
    }
  }
}

}  // namespace cdc
