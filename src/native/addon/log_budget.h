// Log lines posted from native threads to JS and not yet shown. While JS is not keeping up, lines
// beyond the limit are dropped instead of queueing without bound. Copies share one count.
#pragma once

#include <atomic>
#include <memory>

namespace cdc_addon {

class LogBudget {
 public:
  static constexpr int kMaxQueuedLines = 1000;

  // Before posting a line: false means drop it.
  bool take() const {
    if (queued_->fetch_add(1) < kMaxQueuedLines) return true;
    --*queued_;
    return false;
  }
  // A line was shown, or could not be posted after take().
  void give_back() const { --*queued_; }

 private:
  std::shared_ptr<std::atomic<int>> queued_ = std::make_shared<std::atomic<int>>(0);
};

}  // namespace cdc_addon
