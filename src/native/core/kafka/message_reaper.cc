#include "kafka/message_reaper.h"

#include <pthread.h>

#include <utility>

namespace cdc {
namespace kafka {

MessageReaper::MessageReaper(size_t max_pending, size_t batch_size)
    : max_pending_(max_pending), batch_size_(batch_size == 0 ? 1 : batch_size) {}

MessageReaper::~MessageReaper() { stop(); }

void MessageReaper::release(Message message) {
  if (!message) return;
  collected_.push_back(std::move(message));
  if (collected_.size() >= batch_size_) hand_over();
}

void MessageReaper::hand_over() {
  if (collected_.empty()) return;
  if (!stopped_ && !thread_.joinable()) {
    thread_ = std::thread([this] { run(); });
    pthread_setname_np(thread_.native_handle(), "cdc-reaper");
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!stopped_ && pending_ + collected_.size() <= max_pending_) {
      pending_ += collected_.size();
      queue_.push_back(std::move(collected_));
      collected_.clear();  // a moved-from vector is valid but unspecified
      collected_.reserve(batch_size_);
    }
  }
  if (collected_.empty()) {
    work_.notify_one();
  } else {
    destroy_here(collected_);
  }
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
    work_.wait(lock, [&] { return quit_ || !queue_.empty(); });
    if (queue_.empty()) return;  // quit_, and flush() saw everything destroyed
    std::vector<Message> batch = std::move(queue_.back());
    queue_.pop_back();
    lock.unlock();
    size_t count = batch.size();
    batch.clear();  // the frees that would have slept on the owner's thread
    reaped_.fetch_add(count, std::memory_order_relaxed);
    lock.lock();
    pending_ -= count;
    if (pending_ == 0) idle_.notify_all();
  }
}

void MessageReaper::destroy_here(std::vector<Message>& batch) {
  by_caller_.fetch_add(batch.size(), std::memory_order_relaxed);
  batch.clear();
}

}  // namespace kafka
}  // namespace cdc
