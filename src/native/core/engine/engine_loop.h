// The engine thread's loop: it wires the stages of the data flow and owns all of them.
//   kafka/PrefetchingConsumer -> debezium/Decoder -> rules/RuleSet -> redis/RedisTransport
//   (and HandlerBatches for JS) -> PartitionTable / OffsetCommitter; DeadLetters on any failure.
// Only run() and the librdkafka callbacks it serves (on this same thread, from consume()/poll())
// touch it. Its Redis side is in engine_loop_redis.cc.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "debezium/decoder.h"
#include "engine/app_messages.h"
#include "engine/dead_letters.h"
#include "engine/encoded_key_warning.h"
#include "engine/handler_batches.h"
#include "engine/offset_committer.h"
#include "engine/pending.h"
#include "engine/rebalance_callback.h"
#include "engine/shared_state.h"
#include "engine/stats.h"
#include "engine/tombstones.h"
#include "engine/trace.h"
#include "kafka/callback_relay.h"
#include "kafka/event_callback.h"
#include "kafka/prefetching_consumer.h"
#include "redis/transport.h"
#include "rules/rules.h"

namespace cdc {

class EngineLoop {
 public:
  explicit EngineLoop(std::shared_ptr<Engine::Shared> shared);
  void run();

 private:
  using Clock = std::chrono::steady_clock;

  // Where a Redis command came from: a change event, or a JS invalidate() request.
  struct CommandOrigin {
    PendingPtr message;
    uint64_t invalidate_id = 0;
  };
  struct InvalidateRequest {
    size_t remaining = 0;
    int64_t deleted = 0;
    std::string error;
    InvalidateDone done;
  };

  Status setup();
  Status create_clients();
  void iterate();
  void fail_leftovers();
  void shutdown();
  void detach_callbacks_if_leaked();

  // Kafka -> decode -> rules -> effects
  void consume_batch();
  int first_wait_ms() const;
  bool more_to_begin();
  const char* backpressure() const;
  void update_pause();
  bool pull_traced(int timeout_ms);
  // Moves the message out when its effects go on; what is left is the caller's to release.
  void handle_message(kafka::Message& message);
  PendingPtr make_pending(kafka::Message message, const PartitionPtr& partition);
  void finish_at_once(PartitionState& partition, int64_t offset, uint64_t& counter);
  void plan_effects(kafka::Message& message, const PartitionPtr& partition);
  void handle_app_message(kafka::Message& message, const PartitionPtr& partition);
  std::vector<std::string> subscription() const;

  // Redis effects
  void add_command(Command&& command, CommandOrigin origin);
  void seal_pipeline();
  void send_pipelines();
  void mark_sent(size_t first);
  bool receive_replies();
  void drop_revoked(std::vector<Command>& commands, std::vector<CommandOrigin>& origins);
  void apply_reply(const Command& command, const Reply& reply, CommandOrigin& origin);
  void delete_instead(const Command& refused, CommandOrigin origin);
  void invalidate_reply(const std::string& name, const Reply& reply, uint64_t id);

  // Control requests from other threads
  void process_control();
  void queue_invalidate(ControlItem& item);

  // Completion
  void effect_done(const PendingPtr& pending);
  void finish(const PendingPtr& pending);
  void drain(Clock::time_point deadline, bool wait_js);
  void release_unfinished();

  void publish_stats(bool force);
  void probe_kafka(Clock::time_point now);
  void wait_for_first_assignment();
  bool cooperative_configured() const;
  void log(LogLevel level, std::string message) { shared_->log(level, std::move(message)); }

  std::shared_ptr<Engine::Shared> shared_;
  const EngineConfig& config_;
  EngineTrace trace_;  // before log_fn_, which writes log lines into it
  LogFn log_fn_;
  EngineStats counters_;
  EndToEndLag lag_;

  kafka::EventCallback kafka_events_;
  kafka::PrefetchingConsumer consumer_;
  PartitionTable partitions_;
  OffsetCommitter committer_;
  RebalanceCallback rebalance_;
  DeadLetters dead_letters_;
  HandlerBatches handlers_;
  RedisTransport redis_;
  Decoder decoder_;
  EncodedKeyWarning encoded_keys_;
  TopicSources topic_sources_;
  RuleSet rules_;
  AppMessages app_messages_;
  // librdkafka calls the stages above through this relay. A leaked handle takes the relay with
  // it, detached: its late callbacks are no-ops by construction.
  std::unique_ptr<kafka::CallbackRelay> relay_;
  bool consumer_leaked_ = false;  // librdkafka #4312: destroying it would abort the process

  // The pipeline being filled, and each queued pipeline's command origins (same order as redis_).
  std::vector<Command> current_commands_;
  std::vector<CommandOrigin> current_origins_;
  std::deque<std::vector<CommandOrigin>> origins_;
  std::unordered_map<uint64_t, InvalidateRequest> invalidates_;
  uint64_t next_invalidate_id_ = 0;

  const char* waiting_reason_ = nullptr;  // why processing waits (nullptr: it does not)
  bool batch_full_ = false;                // the last consume round hit maxEvents: more is waiting
  Clock::time_point next_kafka_probe_{};
  Clock::time_point next_stats_{};

  // Reused for every message: the decoded event and the commands its rules produce.
  ChangeEvent event_;
  std::vector<Command> commands_;
  int64_t message_ts_ms_ = 0, source_ts_ms_ = 0;  // of the message being handled
  int64_t trace_begun_us_ = 0;
};

}  // namespace cdc
