// Destroys consumed messages on a thread of its own. librdkafka allocates each message on its
// fetcher thread, so glibc frees it into that thread's malloc arena, under the arena's lock; the
// fetcher holds that lock while it allocates the next messages, and a contended glibc lock puts
// the waiter to sleep at once. A consumer thread that destroys a million messages a second itself
// sleeps thousands of times a second (perf sched of a table load: 7,900 sleeps in 1.2 s, a third
// of its time); handed over here in batches, the sleeping is this thread's instead.
//
// Owned by the consumer's thread: release(), hand_over(), flush() and stop() are its calls only
// (or a thread it hands the consumer to and waits for, as a table does to destroy its clients).
// Bounded: past max_pending messages or max_pending_bytes waiting, a batch is destroyed by the
// caller as before. Its messages keep their fetch buffers alive until destroyed.
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
  static constexpr size_t kBatchMessages = 1024;
  static constexpr size_t kBatchBytes = size_t{1} << 20;
  static constexpr size_t kDestroyedBeforeWait = 64;  // at most, by before_wait()

  explicit MessageReaper(size_t max_pending = 65536, size_t max_pending_bytes = size_t{32} << 20,
                         size_t batch_messages = kBatchMessages);
  ~MessageReaper();  // stop(); the owner calls stop() itself where it may join (never the JS thread)
  MessageReaper(const MessageReaper&) = delete;
  MessageReaper& operator=(const MessageReaper&) = delete;

  // Collects the message; a full batch goes to the reaper's thread (started on the first). After
  // stop() the message is destroyed at once.
  void release(Message message);
  // Passes on what was collected.
  void hand_over();
  // The owner is about to wait (a collected message keeps its fetch buffer alive): a few messages
  // are destroyed here, since the fetcher is idle too then and waking the reaper for them would cost
  // more than their frees (at steady load most waits follow a few messages); more are handed over.
  void before_wait();
  // Hands over, then waits until every message released so far is destroyed (before the
  // consumer's handle is closed or destroyed: its messages must go first).
  void flush();
  // Flushes and ends the thread.
  void stop();

  ReaperStats stats() const;

 private:
  void run();
  void destroy_collected();

  const size_t max_pending_, max_pending_bytes_, batch_messages_;
  std::vector<Message> collected_;  // the owner's, not yet handed over
  size_t collected_bytes_ = 0;      // the owner's
  bool stopped_ = false;            // the owner's
  std::thread thread_;

  mutable std::mutex mutex_;  // guards the five below
  std::condition_variable work_, idle_;
  struct Batch {
    std::vector<Message> messages;
    size_t bytes = 0;
  };
  std::vector<Batch> waiting_;  // handed over, in no particular order
  size_t pending_ = 0, pending_bytes_ = 0;     // waiting or being destroyed
  bool quit_ = false;

  std::atomic<uint64_t> reaped_{0}, by_caller_{0};
};

}  // namespace kafka
}  // namespace cdc
