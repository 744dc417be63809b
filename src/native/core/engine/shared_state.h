// What the Engine handle (any thread) and the engine thread share: the control queue, the stop
// flags and the stats snapshot, each under its own mutex. Internal to engine/.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/config.h"
#include "engine/engine.h"

namespace cdc {

// A request from another thread: invalidate keys, or acknowledge a JS handler batch.
struct ControlItem {
  enum class Kind { invalidate, ack } kind;
  std::vector<std::string> keys;  // invalidate
  InvalidateDone done;            // invalidate
  uint64_t token = 0;             // ack
  bool ok = true;                 // ack
  std::string reason;             // ack
};

struct Engine::Shared {
  EngineConfig config;
  EngineCallbacks callbacks;

  std::mutex control_mutex;
  std::condition_variable control_cv;
  std::deque<ControlItem> control;
  rd_kafka_queue_t* wake_queue = nullptr;  // the consumer queue, to cut a consume() wait short
  bool accepting = false;                  // the engine thread takes control items

  std::atomic<bool> stop_requested{false};
  std::atomic<bool> abandon_handlers{false};
  bool started = false;   // guarded by control_mutex
  bool finished = false;  // guarded by control_mutex
  std::condition_variable finished_cv;

  std::mutex thread_mutex;
  std::thread thread;  // joined by Engine::join(), or detached by ~Engine when still running

  mutable std::mutex stats_mutex;
  EngineStats stats;

  void log(LogLevel level, std::string message) const {
    if (callbacks.log) callbacks.log(level, std::move(message));
  }
};

}  // namespace cdc
