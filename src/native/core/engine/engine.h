// The engine: one dedicated thread owning the Kafka consumer, the decoder, the rules, the Redis
// connection and the dead-letter producer. Other threads talk to it only through a small control
// queue (invalidate, ack) and read a stats snapshot; nothing on the per-message path takes a lock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/log.h"
#include "common/status.h"
#include "debezium/change_event.h"
#include "engine/config.h"

namespace cdc {

// A change event as handed to a JS handler: the decoded event plus where it came from.
struct HandlerEvent {
  EventKind kind = EventKind::change;
  Op op = Op::none;
  SourceInfo source;
  bool has_before = false, has_after = false, has_key = false;
  std::string before_json, after_json, key_json;  // JSON object texts when present
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = -1;  // Kafka message timestamp, -1 when unknown

  // An application message (onMessage topics), not a Debezium event: the fields above other than
  // topic/partition/offset/timestamp are unused, and key_json holds the key's bytes.
  bool application = false;
  uint8_t decode = 0;          // MessageDecode
  bool has_value = false;      // false: a null value (tombstone)
  std::string value;           // the bytes; for json, the text with unsafe integers quoted
  std::vector<std::pair<std::string, std::string>> headers;
  std::string id;              // the message-id header, else topic/partition/offset
};

// From a message's Kafka append (or its source commit) to when it was finished: its Redis effects
// acknowledged (and its handlers), or it was skipped or dead-lettered.
struct LagSummary {
  uint64_t count = 0;
  double p50 = 0, p99 = 0, p999 = 0, max = 0;  // milliseconds
};

struct PartitionStats {
  std::string topic;
  int32_t partition = 0;
  int64_t committed = -1;  // next offset the group will read; -1 when nothing committed yet
  int64_t position = -1;   // next offset this engine will consume; -1 when unknown
  int64_t lag = 0;         // high watermark - committed (or position when nothing committed)
};

struct EngineStats {
  bool running = false, healthy = false, redis_connected = false;
  uint64_t consumed = 0, applied = 0;
  struct Skipped {
    uint64_t tombstone = 0, heartbeat = 0, transaction = 0, schema_change = 0, no_rule = 0, truncate = 0,
             message = 0;
  } skipped;
  uint64_t missing_fields = 0, dead_lettered = 0, keys_deleted = 0, keys_refreshed = 0;
  uint64_t tombstone_deletes = 0;         // tombstones applied as deletes (no delete record before them)
  uint64_t refreshes_older_skipped = 0;   // the key already held a newer version (replay, reorder)
  uint64_t refreshes_without_before = 0;  // updates refreshed without a before image
  struct Redis {
    uint64_t round_trips = 0, commands = 0, errors = 0, reconnects = 0;
    uint64_t fallback_deletes = 0;  // refresh SETs refused for memory (-OOM), deleted instead
    uint64_t revoked_dropped = 0;   // commands of partitions no longer owned, never sent
    uint64_t moved = 0, asked = 0, slot_map_refreshes = 0;  // Redis Cluster redirections and map reads
    double batch_size_avg = 0;
  } redis;
  struct Handlers {
    uint64_t delivered = 0, in_flight = 0, failed = 0;
  } handlers;
  struct Prefetch {
    uint64_t bytes = 0, peak_bytes = 0;  // fetched messages waiting to be processed
    uint64_t pauses = 0;                 // fetch pauses because the buffer was full
  } prefetch;
  std::vector<PartitionStats> partitions;
  LagSummary source_lag, kafka_lag;
};

// Callbacks run on the engine thread (log also on librdkafka's threads): they must only hand the
// data over (e.g. to a thread-safe function), never block.
struct EngineCallbacks {
  std::function<void(LogLevel, std::string)> log;
  // A batch for one JS handler; ack(token, ...) completes it.
  std::function<void(uint64_t token, int64_t handler_id, std::vector<HandlerEvent>&& events)> events;
  // Once: subscribed (ok) or could not start.
  std::function<void(const Status&)> started;
  // The last callback the engine ever makes: everything drained, committed and closed.
  std::function<void()> stopped;
};

// Completion of invalidate(): the number of keys Redis reported deleted, or an error.
using InvalidateDone = std::function<void(const Status&, int64_t deleted)>;

class Engine {
 public:
  // Validates the config (errors name the field) and the librdkafka properties.
  static Status create(std::string_view config_json, EngineCallbacks callbacks, std::unique_ptr<Engine>& out);
  ~Engine();  // requests a stop; joins the thread when it has finished, else lets it finish on its own
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Starts the engine thread; `started` reports the outcome. Only once.
  Status start();
  // Requests a stop; `stopped` is called when done (right away, on the caller's thread, when the
  // engine was never started). Idempotent. abandon_handlers: do not wait for JS acks (the JS
  // environment is going away).
  void stop(bool abandon_handlers = false);
  // Waits up to timeout_ms for the engine thread to finish; true when it has.
  bool wait_stopped(int timeout_ms);
  // Like wait_stopped, and once finished also joins the engine thread, so that none of its code
  // runs any more when this returns true (the addon calls it before its shared object may be
  // unloaded). Not from the engine thread itself (callbacks). Idempotent.
  bool join(int timeout_ms);

  // Deletes keys (keyPrefix applied) through the engine's Redis pipeline. Returns false (and never
  // calls `done`) when the engine does not take requests (not started, stopping, queue full);
  // otherwise `done` is called exactly once on the engine thread, before `stopped`.
  bool invalidate(std::vector<std::string> keys, InvalidateDone done);
  // Completes a JS handler batch; !ok dead-letters its events with `reason`.
  void ack(uint64_t token, bool ok, std::string reason);

  EngineStats stats() const;

  struct Shared;

 private:
  explicit Engine(std::shared_ptr<Shared> shared);
  std::shared_ptr<Shared> shared_;
};

}  // namespace cdc
