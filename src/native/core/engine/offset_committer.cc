#include "engine/offset_committer.h"

#include <algorithm>
#include <string>
#include <utility>

namespace cdc {
namespace {

using std::chrono::milliseconds;

constexpr auto kRebalanceCommitPause = milliseconds(60000);  // at most; a rebalance callback ends it
// After a commit refused for a rebalance. Short: the refusal may come after the member's last
// callback of that rebalance, and then no callback ends the pause.
constexpr auto kRefusedCommitPause = milliseconds(5000);
constexpr auto kRevokeRejoinWindow = milliseconds(100);      // callbacks this soon after a revoke

}  // namespace

OffsetCommitter::OffsetCommitter(PartitionTable& partitions, kafka::EventCallback& events, int interval_ms, LogFn log)
    : partitions_(partitions), events_(events), interval_ms_(interval_ms), log_(std::move(log)) {}

void OffsetCommitter::commit_if_due(Clock::time_point now) {
  // One periodic commit at a time: librdkafka postpones a group rejoin while a commit is
  // outstanding, so back-to-back commits could hold a rebalance off indefinitely.
  if (now < next_commit_ || async_pending_ || suspended(now)) return;
  commit(false, nullptr);
  next_commit_ = now + milliseconds(interval_ms_);
}

void OffsetCommitter::commit(bool synchronous, const std::vector<RdKafka::TopicPartition*>* only) {
  std::vector<RdKafka::TopicPartition*> list = partitions_.committable(only);
  if (list.empty()) return;
  RdKafka::ErrorCode err = synchronous ? consumer_->commitSync(list) : consumer_->commitAsync(list);
  if (err != RdKafka::ERR_NO_ERROR) {
    failed(err);
  } else if (synchronous) {
    partitions_.mark_committed(list);
  } else {
    async_pending_ = true;
  }
  RdKafka::TopicPartition::destroy(list);
}

// One warning per few seconds, and the next periodic commit waits a little longer.
void OffsetCommitter::failed(RdKafka::ErrorCode err) {
  Clock::time_point now = Clock::now();
  next_commit_ = std::max(next_commit_, now + milliseconds(1000));
  if (err == RdKafka::ERR_REBALANCE_IN_PROGRESS || err == RdKafka::ERR_ILLEGAL_GENERATION ||
      err == RdKafka::ERR_UNKNOWN_MEMBER_ID)
    suspended_until_ = std::max(suspended_until_, now + kRefusedCommitPause);
  if (now - last_warning_ < milliseconds(5000)) {
    ++suppressed_warnings_;
    return;
  }
  std::string suppressed =
      suppressed_warnings_ ? " (" + std::to_string(suppressed_warnings_) + " similar suppressed)" : std::string();
  log_(LogLevel::warn, "kafka: commit failed, will retry: " + RdKafka::err2str(err) + suppressed);
  last_warning_ = now;
  suppressed_warnings_ = 0;
}

void OffsetCommitter::rebalance_seen(Clock::time_point now) {
  if (now - last_revoke_ > kRevokeRejoinWindow) suspended_until_ = Clock::time_point{};
}

void OffsetCommitter::cooperative_revoke_done(Clock::time_point now) {
  last_revoke_ = now;
  suspended_until_ = now + kRebalanceCommitPause;
}

void OffsetCommitter::offset_commit_cb(RdKafka::ErrorCode err, std::vector<RdKafka::TopicPartition*>& offsets) {
  async_pending_ = false;
  if (err == RdKafka::ERR__NO_OFFSET) return;
  if (err != RdKafka::ERR_NO_ERROR) return failed(err);
  events_.brokers_seen();
  partitions_.mark_committed(offsets);
}

}  // namespace cdc
