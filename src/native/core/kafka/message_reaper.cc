#include "kafka/message_reaper.h"

#include <pthread.h>

#include <utility>

namespace cdc {
namespace kafka {
MessageReaper::MessageReaper(size_t max_pending, size_t max_pending_bytes, size_t batch_messages)
    : max_pending_(max_pending), max_pending_bytes_(max_pending_bytes), batch_messages_(batch_messages == 0 ? 1 : batch_messages) {}

MessageReaper::~MessageReaper() { stop(); }

void MessageReaper::release(Message message) {
  if (!message) return;
  if (stopped_) {
    by_caller_.fetch_add(1, std::memory_order_relaxed);
    return;  // destroyed here, as it goes out of scope
  }
  collected_bytes_ += message.len() + message.key_len();
  collected_.push_back(std::move(message));
  if (collected_.size() >= batch_messages_ || collected_bytes_ >= kBatchBytes) hand_over();
}

void MessageReaper::hand_over() {
  if (collected_.empty()) return;
  if (stopped_) return destroy_collected();
  if (!thread_.joinable()) {
    thread_ = std::thread([this] { run(); });
    pthread_setname_np(thread_.native_handle(), "cdc-reaper");
  }
  bool queued = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (pending_ + collected_.size() <= max_pending_ && pending_bytes_ + collected_bytes_ <= max_pending_bytes_) {
      pending_ += collected_.size();
      pending_bytes_ += collected_bytes_;
      waiting_.push_back(Batch{std::move(collected_), collected_bytes_});
      queued = true;
    }
  }
  if (!queued) return destroy_collected();
  work_.notify_one();
  collected_.clear();  // a moved-from vector is valid but unspecified
  collected_.reserve(batch_messages_);
  collected_bytes_ = 0;
}

void MessageReaper::before_wait() {
  if (collected_.size() < kDestroyedBeforeWait) return destroy_collected();
  hand_over();
}

void MessageReaper::flush() {
  hand_over();
  std::unique_lock<std::mutex> lock(mutex_);
  idle_.wait(lock, [&] { return pending_ == 0; });
}

void MessageReaper::stop() {
  if (stopped_) return;
  flush();
  stopped_ = true;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    quit_ = true;
  }
  work_.notify_one();
  if (thread_.joinable()) thread_.join();
}

ReaperStats MessageReaper::stats() const {
  return ReaperStats{reaped_.load(std::memory_order_relaxed), by_caller_.load(std::memory_order_relaxed)};
}

void MessageReaper::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    work_.wait(lock, [&] { return quit_ || !waiting_.empty(); });
    if (waiting_.empty()) return;  // quit_, and flush() saw everything destroyed
    Batch batch = std::move(waiting_.back());
    waiting_.pop_back();
    lock.unlock();
    const size_t count = batch.messages.size();
    batch.messages.clear();  // the frees that would have slept on the owner's thread
    reaped_.fetch_add(count, std::memory_order_relaxed);
    lock.lock();
    pending_ -= count;
    pending_bytes_ -= batch.bytes;
    if (pending_ == 0) idle_.notify_all();
  }
}

void MessageReaper::destroy_collected() {
  by_caller_.fetch_add(collected_.size(), std::memory_order_relaxed);
  collected_.clear();
  collected_bytes_ = 0;
}

}  // namespace kafka
}  // namespace cdc
