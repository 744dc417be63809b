// Destroys consumed messages on a thread of its own. librdkafka allocates each message on its
// fetcher thread, so glibc frees it into that thread's malloc arena, under the arena's lock; the
// fetcher holds that lock while it allocates the next messages, and a contended glibc lock puts
// the waiter to sleep at once. A consumer thread that destroys a million messages a second itself
// sleeps thousands of times a second (perf sched of a table load: 7,900 sleeps in 1.2 s, a third
// of its time); handed over here in batches, the sleeping is this thread's instead.
//
// Owned by the consumer's thread: release(), hand_over(), flush() and stop() are its calls only.
// Bounded: past max_pending messages waiting, a batch is destroyed by the caller as before.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "kafka/message.h"

namespace cdc {
namespace kafka {

struct ReaperStats {
  uint64_t reaped = 0;     // destroyed by the reaper's thread
  uint64_t by_caller = 0;  // destroyed by the owner: the reaper was full or stopped
};

class MessageReaper {
 public:
  explicit MessageReaper(size_t max_pending = 65536, size_t batch_size = 1024);
  ~MessageReaper();  // stop(); the owner calls stop() itself where it may join (never the JS thread)
  MessageReaper(const MessageReaper&) = delete;
  MessageReaper& operator=(const MessageReaper&) = delete;

  // Collects the message; a full batch goes to the reaper's thread (started on the first).
  void release(Message message);
  // Passes on what was collected (call when idle: a collected message keeps its fetch buffer alive).
  void hand_over();
  // Hands over, then waits until every message released so far is destroyed (before the
  // consumer's handle is closed or destroyed: its messages must go first).
  void flush();
  // Flushes and ends the thread; later releases are destroyed at once.
  void stop();

  ReaperStats stats() const;

 private:
  void run();
  void destroy_here(std::vector<Message>& batch);

  const size_t max_pending_, batch_size_;
  std::vector<Message> collected_;  // the owner's, not yet handed over
  bool stopped_ = false;               // the owner's
  std::thread thread_;

  mutable std::mutex mutex_;  // guards the four below
  std::condition_variable work_, idle_;
  std::vector<std::vector<Message>> queue_;
  size_t pending_ = 0;  // messages queued or being destroyed
  bool quit_ = false;

  std::atomic<uint64_t> reaped_{0}, by_caller_{0};
};

}  // namespace kafka
}  // namespace cdc
