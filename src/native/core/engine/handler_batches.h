// JS handler delivery: matched change events gathered into batches per handler and partition,
// handed to JS through EngineCallbacks::events (at most max_in_flight unacknowledged), and
// acknowledged by ack(). An acknowledged batch completes one effect of each of its messages.
// A handler has at most one batch of a partition in JS at a time (its lane): a retried batch can
// never finish after the next one; partitions run in parallel.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/log.h"
#include "debezium/change_event.h"
#include "engine/config.h"
#include "engine/engine.h"
#include "engine/pending.h"

namespace cdc {

class HandlerBatches {
 public:
  using EffectDone = std::function<void(const PendingPtr&)>;

  HandlerBatches(const std::vector<JsHandlerSpec>& specs, const HandlerSettings& settings,
                 EngineStats::Handlers& counters, EffectDone effect_done, LogFn log);

  // An onMessage handler: it gets only the events add_event() gives it, never change events.
  void add_application_handler(int64_t id);
  // Adds an application message's event to the current batch of handler `id`.
  void add_event(int64_t id, HandlerEvent&& event, const PendingPtr& pending);
  // Handlers whose source glob matches the event's source name.
  size_t matching(std::string_view source_name) const;
  // Adds the event to the current batch of each matching handler (a full batch is sealed).
  void add(const ChangeEvent& event, const kafka::Message& message, const PendingPtr& pending);
  // Seals every handler's current batch: it waits to be delivered.
  void seal();
  // Delivers sealed batches while fewer than max_in_flight wait for an ack.
  void deliver(const EngineCallbacks& callbacks);
  void ack(uint64_t token, bool ok, const std::string& reason);

  // As many batches wait to be delivered as may be in flight: new work must wait.
  bool backed_up() const { return ready_.size() >= max_in_flight_; }
  bool busy() const { return !outstanding_.empty() || !ready_.empty(); }
  size_t in_flight() const { return outstanding_.size(); }
  size_t unfinished() const { return outstanding_.size() + ready_.size(); }
  // Stopping: forgets every batch (their messages stay uncommitted).
  void clear();

 private:
  // Events of ONE partition for one handler.
  struct Batch {
    std::vector<HandlerEvent> events;
    std::vector<PendingPtr> messages;
    const PartitionState* partition = nullptr;
  };
  struct Handler {
    int64_t id = 0;
    bool application = false;  // onMessage: matches no change event
    std::string source;
    std::vector<Batch> current;  // being filled, one per partition
  };
  struct Ready {
    int64_t handler_id = 0;
    Batch batch;
  };
  using Lane = std::pair<int64_t, const PartitionState*>;  // handler and partition
  struct Outstanding {
    std::vector<PendingPtr> messages;
    Lane lane;
  };
  Batch& batch_of(Handler& handler, const PartitionState* partition);
  void seal(Handler& handler, size_t index);
  void append(Handler& handler, HandlerEvent&& event, const PendingPtr& pending);

  const size_t max_batch_size_, max_in_flight_;
  EngineStats::Handlers& counters_;
  EffectDone effect_done_;
  LogFn log_;
  std::vector<Handler> handlers_;
  std::deque<Ready> ready_;
  std::unordered_map<uint64_t, Outstanding> outstanding_;
  std::set<Lane> busy_lanes_;  // a batch of it is in JS
  uint64_t next_token_ = 0;
};

}  // namespace cdc
