#include "engine/engine.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

#include "common/backoff.h"
#include "debezium/decoder.h"
#include "engine/histogram.h"
#include "engine/offset_tracker.h"
#include "kafka/callback_relay.h"
#include "kafka/clients.h"
#include "redis/redis_client.h"
#include "common/safe_integers.h"
#include "redis/reply_class.h"
#include "rules/versioned_refresh.h"
#include "rules/rules.h"

namespace cdc {

const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "info";
}

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kControlQueueLimit = 10000;      // pending invalidate/ack requests from JS
constexpr size_t kKeysPerInvalidateCommand = 512;  // one UNLINK per this many keys
constexpr auto kStatsInterval = milliseconds(100);
constexpr size_t kMaxDeadLettersWaiting = 1000;
constexpr size_t kMaxInvalidatesWaiting = 10000;  // invalidate() requests not yet acknowledged by Redis  // dead letters not yet acknowledged by Kafka
constexpr auto kIdlePollTimeout = milliseconds(50);
constexpr auto kDrainTimeout = milliseconds(10000);  // stop and revoke: wait for in-flight effects
constexpr auto kAbandonDrainTimeout = milliseconds(2000);  // the JS environment is going away
constexpr int kProducerFlushMs = 5000;
constexpr auto kRebalanceCommitPause = milliseconds(60000);  // at most; a rebalance callback ends it
constexpr auto kKafkaProbeInterval = milliseconds(5000);
constexpr auto kRevokeRejoinWindow = milliseconds(100);     // callbacks this soon after a revoke
constexpr auto kFirstAssignmentWait = milliseconds(10000);  // stop during the first group join
constexpr auto kRedisIdlePingInterval = milliseconds(2000); // no traffic: still notice Redis dying
constexpr const char* kRedisUnavailable = "redis unavailable";
constexpr const char* kRedisBehind = "redis behind";
constexpr auto kFetchStall = milliseconds(25);  // nothing fetched this long, with data to fetch

// The message's topic without the std::string copy Message::topic_name() makes on every call.
std::string_view topic_of(const RdKafka::Message& message) {
  const rd_kafka_message_t* raw = const_cast<RdKafka::Message&>(message).c_ptr();  // c_ptr() only reads
  return raw && raw->rkt ? std::string_view(rd_kafka_topic_name(raw->rkt)) : std::string_view();
}

double wall_clock_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct ControlItem {
  enum class Kind { invalidate, ack } kind;
  std::vector<std::string> keys;  // invalidate
  InvalidateDone done;            // invalidate
  uint64_t token = 0;             // ack
  bool ok = true;                 // ack
  std::string reason;             // ack
};

}  // namespace

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
  bool started = false;  // guarded by control_mutex
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

namespace {

struct PartitionState {
  std::string topic;
  int32_t partition = 0;
  PartitionOffsets offsets;
  int64_t position = -1;        // next offset to consume
  int64_t fetched = -1;         // one past the last offset taken from librdkafka (-1: none yet)
  int64_t high_watermark = -1;  // cached locally by librdkafka from fetch responses
  size_t unfinished = 0;        // messages begun and not finished
  bool active = true;           // false once revoked: late completions are ignored
  std::string source_name;      // the source its change events name (for tombstone-only deletes)
  std::string last_delete_key;  // key of the last message when it was a delete (its tombstone follows)
};
using PartitionPtr = std::shared_ptr<PartitionState>;

// A consumed message with effects not yet acknowledged. Each Redis command and each JS handler
// batch it is part of counts as one effect; the first failure decides the dead-letter reason.
struct PendingMessage {
  std::unique_ptr<RdKafka::Message> message;
  PartitionPtr partition;
  int64_t offset = 0;
  int remaining = 0;
  bool has_redis_effect = false;
  int64_t kafka_ts_ms = 0;   // Kafka message timestamp, 0 when unknown
  int64_t source_ts_ms = 0;  // source commit time, 0 when unknown
  std::string failure;
  bool dead_letter_as_reference = false;  // too large for the dead-letter topic: headers only
};
using PendingPtr = std::shared_ptr<PendingMessage>;

struct InvalidateRequest {
  size_t remaining = 0;
  int64_t deleted = 0;
  std::string error;
  InvalidateDone done;
};

struct CommandOrigin {
  PendingPtr message;            // a change event's command, or
  uint64_t invalidate_id = 0;    // a JS invalidate() request's command
};

struct Pipeline {
  std::vector<Command> commands;
  std::vector<CommandOrigin> origins;  // one per command
};

// Events of ONE partition for one handler: a partition's batches run one at a time, in order.
struct HandlerBatch {
  std::vector<HandlerEvent> events;
  std::vector<PendingPtr> messages;
  const PartitionState* partition = nullptr;
};

struct JsHandler {
  int64_t id = 0;
  std::string source;
  std::vector<HandlerBatch> current;  // being filled, one per partition
};

struct ReadyBatch {
  int64_t handler_id = 0;
  HandlerBatch batch;
};

struct OutstandingBatch {
  std::vector<PendingPtr> messages;
  std::pair<int64_t, const PartitionState*> lane;  // handler and partition
};

// Everything the engine thread owns. Only run() and the librdkafka callbacks it serves (on this
// same thread, from consume()/poll()) touch it.
class Runner : public RdKafka::RebalanceCb,
               public RdKafka::OffsetCommitCb,
               public RdKafka::EventCb,
               public RdKafka::DeliveryReportCb {
 public:
  explicit Runner(std::shared_ptr<Engine::Shared> shared)
      : shared_(std::move(shared)),
        config_(shared_->config),
        redis_(config_.redis.endpoint, config_.redis.options),
        backoff_(milliseconds(100), milliseconds(5000)) {
    for (const JsHandlerSpec& spec : config_.js_handlers) {
      JsHandler handler;
      handler.id = spec.id;
      handler.source = spec.source;
      handlers_.push_back(std::move(handler));
    }
  }

  void run();

  // librdkafka callbacks (served on this thread).
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override;
  void offset_commit_cb(RdKafka::ErrorCode err, std::vector<RdKafka::TopicPartition*>& offsets) override;
  void event_cb(RdKafka::Event& event) override;
  void dr_cb(RdKafka::Message& message) override;

 private:
  Status setup();
  void iterate();
  void shutdown();

  void consume_batch();
  bool pull_messages(int timeout_ms);
  void drop_prefetched(const std::vector<RdKafka::TopicPartition*>* only);
  const char* backpressure() const;
  void handle_message(std::unique_ptr<RdKafka::Message> message);
  void skip(PartitionState& partition, int64_t offset, uint64_t& counter);
  void record_lag(int64_t kafka_ts_ms, int64_t source_ts_ms);
  void remember_for_tombstones(PartitionState& partition, std::string_view key);
  bool tombstone_as_delete(PartitionState& partition, std::string_view key, std::string_view topic);
  bool source_from_topic(std::string_view topic);
  bool as_delete();
  void add_handler_event(JsHandler& handler, const RdKafka::Message& message, const PendingPtr& pending);
  void seal_handler_batches();
  void deliver_handler_batches();

  void process_control();
  void process_ack(ControlItem& item);
  void queue_invalidate(ControlItem& item);

  void seal_pipeline();
  void send_pipelines();
  void drop_revoked(Pipeline& pipeline);
  bool receive_front();
  void on_redis_failure(const Status& status);
  Status outage_in(const Pipeline& pipeline);
  static bool is_refresh(const Command& command);
  void delete_instead(const Command& refused, const CommandOrigin& origin);
  Status ping_redis();
  Status load_refresh_script();
  void maintain_redis();

  void effect_done(const PendingPtr& pending);
  void dead_letter(const PendingPtr& pending, const std::string& reason);
  void finish(const PendingPtr& pending);
  void retry_dead_letters();
  void produce_dead_letter(const PendingPtr& pending, const std::string& reason);
  void dead_letter_failed(const PendingPtr& pending, const std::string& reason, RdKafka::ErrorCode err,
                          const char* stage);
  static std::string origin_of(const PendingMessage& pending);

  void update_pause();
  void set_paused(std::vector<RdKafka::TopicPartition*>& partitions, bool paused);
  void wake_fetchers();
  void wake_stalled_fetchers(Clock::time_point now);
  std::vector<RdKafka::TopicPartition*> assigned_list();
  void commit(bool synchronous, const std::vector<RdKafka::TopicPartition*>* only);
  void commit_failed(RdKafka::ErrorCode err);
  void drain(Clock::time_point deadline, bool wait_js);

  void publish_stats(bool force);
  void probe_kafka(Clock::time_point now);
  void ping_idle_redis(Clock::time_point now);
  void release_unfinished();
  void wait_for_first_assignment();
  bool cooperative_configured() const;
  PartitionPtr find_partition(const std::string& topic, int32_t partition);
  PartitionState* partition_of(const RdKafka::Message& message, PartitionPtr& cache);
  int64_t refresh_high_watermark(PartitionState& partition);
  static std::string partition_key(const std::string& topic, int32_t partition) {
    return topic + '\0' + std::to_string(partition);
  }
  void log(LogLevel level, std::string message) { shared_->log(level, std::move(message)); }

  // librdkafka calls the engine through this relay. A leaked handle takes the relay with it,
  // detached: its late callbacks are no-ops by construction.
  void leak_relay() {
    relay_->detach();
    relay_ = nullptr;  // owned by the leaked handle(s) from now on
    (void)owned_relay_.release();
  }

  std::unique_ptr<kafka::CallbackRelay> owned_relay_{
      new kafka::CallbackRelay({this, this, this, this})};
  kafka::CallbackRelay* relay_ = owned_relay_.get();
  bool handle_leaked_ = false;
  std::shared_ptr<Engine::Shared> shared_;
  const EngineConfig& config_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::unique_ptr<RdKafka::Producer> producer_;
  Decoder decoder_;
  RuleSet rules_;
  RedisNode redis_;
  Backoff backoff_;
  bool cooperative_ = false;
  bool assigned_once_ = false;  // a first assignment arrived (librdkafka#4312, see shutdown())

  std::map<std::string, PartitionPtr> partitions_;
  PartitionPtr last_partition_;  // most messages come from the same partition as the previous one

  // Messages taken from librdkafka and not processed yet, in consumption order. librdkafka's own
  // queue is kept nearly empty, so its thresholds never stall fetching; this buffer's size decides
  // when fetching pauses (full) and resumes (half empty).
  std::deque<std::unique_ptr<RdKafka::Message>> prefetched_;
  int64_t prefetched_bytes_ = 0;
  PartitionPtr last_pulled_;  // the partition of the last message taken from librdkafka
  Clock::time_point last_pull_{};   // when the last message was taken from librdkafka
  Clock::time_point next_stall_check_{};

  // Redis: pipelines_ in order; the first sent_count_ are on the wire awaiting replies.
  std::deque<Pipeline> pipelines_;
  size_t sent_count_ = 0;
  Pipeline current_;
  bool redis_up_ = false;
  bool redis_ever_connected_ = false;
  Clock::time_point next_redis_attempt_{};
  std::vector<Reply> replies_;
  Clock::time_point last_redis_reply_{};

  std::unordered_map<uint64_t, InvalidateRequest> invalidates_;
  uint64_t next_invalidate_id_ = 0;

  std::vector<JsHandler> handlers_;
  std::deque<ReadyBatch> ready_batches_;
  std::unordered_map<uint64_t, OutstandingBatch> outstanding_batches_;
  std::set<std::pair<int64_t, const PartitionState*>> busy_lanes_;  // a batch of it is in JS
  uint64_t next_token_ = 0;

  std::deque<std::pair<PendingPtr, std::string>> dead_letter_retry_;
  size_t dead_letters_in_flight_ = 0;
  bool dead_letters_failing_ = false;  // Kafka refused the last dead letter: unhealthy until one passes
  Backoff dead_letter_backoff_{milliseconds(100), milliseconds(5000)};
  Clock::time_point next_dead_letter_retry_{};

  bool async_commit_pending_ = false;
  // A rebalance is under way (a commit said so): a periodic commit sent with the old generation
  // would come back "illegal generation", which makes librdkafka drop the whole assignment as
  // lost. Periodic commits wait for the next rebalance callback (which commits on revoke).
  Clock::time_point commits_suspended_until_{};
  Clock::time_point last_revoke_{};
  Clock::time_point last_commit_warning_{};
  uint64_t suppressed_commit_warnings_ = 0;
  bool paused_ = false;                     // fetching paused: the prefetch buffer is full
  const char* waiting_reason_ = nullptr;    // why processing waits (nullptr: it does not)
  bool batch_full_ = false;  // the last consume round hit maxEvents: more is waiting
  std::atomic<bool> kafka_down_{false};
  Clock::time_point next_kafka_probe_{};  // set from librdkafka error events
  Clock::time_point next_commit_{};
  Clock::time_point next_stats_{};

  ChangeEvent event_;
  std::vector<Command> planned_;
  EngineStats counters_;
  Histogram source_lag_, kafka_lag_;
  int64_t message_ts_ms_ = 0, source_ts_ms_ = 0;  // of the message being handled
};

Status Runner::setup() {
  Status st = Status::Ok();
  std::unique_ptr<RdKafka::Conf> consumer_conf;
  st = kafka::make_consumer_conf(config_.kafka, {relay_, relay_, relay_}, consumer_conf);
  if (!st.ok()) return st;
  std::string errstr;
  consumer_.reset(RdKafka::KafkaConsumer::create(consumer_conf.get(), errstr));
  if (!consumer_) return Status::Error("kafka: cannot create the consumer: " + errstr);

  if (!config_.dead_letter_topic.empty()) {
    std::unique_ptr<RdKafka::Conf> producer_conf;
    st = kafka::make_producer_conf(config_.kafka, relay_, relay_, producer_conf);
    if (!st.ok()) return st;
    producer_.reset(RdKafka::Producer::create(producer_conf.get(), errstr));
    if (!producer_) return Status::Error("kafka: cannot create the dead-letter producer: " + errstr);
  }

  st = RuleSet::compile(config_.rules, config_.rule_options, rules_);
  if (!st.ok()) return st;

  std::vector<std::string> subscription = config_.kafka.topics;
  if (subscription.empty()) subscription.push_back(config_.kafka.topic_pattern);
  RdKafka::ErrorCode err = consumer_->subscribe(subscription);
  if (err != RdKafka::ERR_NO_ERROR) return Status::Error("kafka: subscribe failed: " + RdKafka::err2str(err));

  {
    std::lock_guard<std::mutex> lock(shared_->control_mutex);
    shared_->wake_queue = rd_kafka_queue_get_consumer(consumer_->c_ptr());
    shared_->accepting = true;
  }

  // Redis being down is not a start failure: the loop retries with backoff, paused and unhealthy.
  Status redis_status = redis_.connect();
  if (redis_status.ok()) redis_status = ping_redis();
  if (!redis_status.ok()) redis_.disconnect();
  if (redis_status.ok()) {
    redis_up_ = true;
    redis_ever_connected_ = true;
    last_redis_reply_ = Clock::now();
  } else {
    log(LogLevel::warn, "redis unavailable, retrying: " + redis_status.message());
    next_redis_attempt_ = Clock::now() + backoff_.next_delay();
  }
  log(LogLevel::info, "engine started: group " + config_.kafka.group_id + ", " +
                          (config_.kafka.topics.empty() ? "pattern " + config_.kafka.topic_pattern
                                                        : std::to_string(config_.kafka.topics.size()) + " topic(s)"));
  return Status::Ok();
}

void Runner::run() {
  Status st = setup();
  if (shared_->callbacks.started) shared_->callbacks.started(st);
  if (st.ok()) {
    next_commit_ = Clock::now() + milliseconds(config_.commit_interval_ms);
    update_pause();
    publish_stats(true);
    while (!shared_->stop_requested.load(std::memory_order_acquire)) iterate();
    shutdown();
  } else {
    log(LogLevel::error, "engine could not start: " + st.message());
    {
      std::lock_guard<std::mutex> lock(shared_->control_mutex);
      shared_->accepting = false;
    }
    consumer_.reset();
    producer_.reset();
  }
  // Fail whatever JS still waits for.
  std::deque<ControlItem> leftovers;
  {
    std::lock_guard<std::mutex> lock(shared_->control_mutex);
    shared_->accepting = false;
    leftovers.swap(shared_->control);
  }
  for (ControlItem& item : leftovers)
    if (item.kind == ControlItem::Kind::invalidate && item.done) item.done(Status::Error("engine stopped"), 0);
  for (auto& [id, request] : invalidates_)
    if (request.done) request.done(Status::Error("engine stopped before Redis acknowledged"), 0);
  invalidates_.clear();
  {
    std::lock_guard<std::mutex> lock(shared_->stats_mutex);
    shared_->stats.running = false;
    shared_->stats.healthy = false;
    shared_->stats.redis_connected = false;
  }
  redis_.disconnect();
}

void Runner::iterate() {
  process_control();
  if (producer_) producer_->poll(0);
  retry_dead_letters();
  maintain_redis();
  send_pipelines();
  deliver_handler_batches();  // acks just processed may have opened the window

  consume_batch();
  seal_pipeline();
  seal_handler_batches();
  deliver_handler_batches();
  send_pipelines();

  // Keep up to maxInFlight pipelines on the wire while messages keep coming; otherwise collect
  // replies right away so effects (and commits) do not wait for the next batch.
  while (redis_up_ && sent_count_ > 0) {
    bool saturated = sent_count_ >= static_cast<size_t>(config_.batch.max_in_flight);
    if (!saturated && batch_full_) break;
    if (!receive_front()) break;
    send_pipelines();
  }

  update_pause();
  Clock::time_point now = Clock::now();
  // One periodic commit at a time: librdkafka postpones a group rejoin while a commit is
  // outstanding, so back-to-back commits could hold a rebalance off indefinitely.
  if (now >= next_commit_ && !async_commit_pending_ && now >= commits_suspended_until_) {
    commit(false, nullptr);
    next_commit_ = now + milliseconds(config_.commit_interval_ms);
  }
  probe_kafka(now);
  ping_idle_redis(now);
  wake_stalled_fetchers(now);
  publish_stats(false);
}

// librdkafka 2.0.2 also stops fetching for up to a second when its own queue reached
// queued.max.messages.kbytes (the engine thread was held up, e.g. by a slow Redis reply). Nothing
// arrived for a while although a partition is known to have more: wake the fetchers.
void Runner::wake_stalled_fetchers(Clock::time_point now) {
  if (paused_ || !prefetched_.empty() || now < next_stall_check_ || now - last_pull_ < kFetchStall) return;
  next_stall_check_ = now + kFetchStall;
  for (const auto& [key, partition] : partitions_) {
    if (partition->fetched < 0) continue;
    const int64_t high = refresh_high_watermark(*partition);
    if (high <= partition->fetched) continue;
    log(LogLevel::debug, "kafka: fetching stalled with " + std::to_string(high - partition->fetched) + " message(s) to go in " +
                             partition->topic + "[" + std::to_string(partition->partition) + "]; waking the fetchers");
    wake_fetchers();
    return;
  }
}

// Failures are otherwise seen only when a pipeline is sent: on an idle topic a dead Redis would
// stay "healthy" until the next change. A PING every few seconds without traffic tells.
void Runner::ping_idle_redis(Clock::time_point now) {
  if (!redis_up_ || !pipelines_.empty() || now - last_redis_reply_ < kRedisIdlePingInterval) return;
  Status st = ping_redis();
  if (!st.ok()) return on_redis_failure(st);
  last_redis_reply_ = Clock::now();
  backoff_.reset();  // nothing waits to be written: the node is as well as PING can tell
}

// Only +PONG proves the node serves commands: a loading, busy or paused-by-script server accepts
// the connection and answers every command with an error.
Status Runner::ping_redis() {
  static const std::vector<Command> kPing{Command{{"PING"}}};
  Status st = redis_.send(kPing);
  if (st.ok()) st = redis_.receive(1, replies_);
  if (!st.ok()) return st;
  const Reply& reply = replies_.front();
  // A user without the PING permission (NOPERM) is still answered by a serving node.
  const bool serving = (reply.kind == ReplyKind::Status && reply.text == "PONG") ||
                       (reply.error && classify_error_reply(reply.text) == ReplyClass::permanent);
  if (!serving) return Status::Error("redis PING: " + (reply.error ? reply.text : std::string("unexpected reply")));
  return load_refresh_script();
}

// Refreshes run as EVALSHA of one script (versioned writes); a restarted server has forgotten it.
// A server that refuses scripts (ACL) is logged: its refreshes then wait as an outage (NOSCRIPT).
Status Runner::load_refresh_script() {
  Reply reply;
  Status st = redis_.command(Command{{"SCRIPT", "LOAD", std::string(kRefreshScript)}}, reply);
  if (!st.ok()) return st;
  if (reply.error && classify_error_reply(reply.text) == ReplyClass::outage)
    return Status::Error("redis SCRIPT LOAD: " + reply.text);
  if (reply.error || reply.text != kRefreshScriptSha)
    log(LogLevel::error, "redis SCRIPT LOAD of the refresh script failed: " +
                             (reply.error ? reply.text : "unexpected SHA " + reply.text));
  return Status::Ok();
}

// librdkafka reports "all brokers down" but nothing when they come back; on an idle topic no
// message or commit would clear it. While down, a short metadata request every few seconds tells.
void Runner::probe_kafka(Clock::time_point now) {
  if (!kafka_down_ || now < next_kafka_probe_) return;
  next_kafka_probe_ = now + kKafkaProbeInterval;
  RdKafka::Metadata* metadata = nullptr;
  // Up to 1 s: on the leader connection a metadata request waits behind a long-polling fetch.
  RdKafka::ErrorCode err = consumer_->metadata(false, nullptr, &metadata, 1000);
  if (err == RdKafka::ERR_NO_ERROR) {
    kafka_down_ = false;
    log(LogLevel::info, "kafka brokers reachable again");
  } else {
    log(LogLevel::debug, "kafka probe: " + RdKafka::err2str(err));
  }
  delete metadata;
}

void Runner::consume_batch() {
  batch_full_ = false;
  milliseconds first_wait = kIdlePollTimeout;
  if (!redis_up_) {
    auto until_retry = std::chrono::duration_cast<milliseconds>(next_redis_attempt_ - Clock::now());
    first_wait = std::max(milliseconds(0), std::min(first_wait, until_retry));
  }
  // Delivery reports and retries are served between consume() calls: do not sleep on them.
  if (dead_letters_in_flight_ > 0 || !dead_letter_retry_.empty()) first_wait = std::min(first_wait, milliseconds(5));
  if (sent_count_ > 0) first_wait = milliseconds(0);

  // While Redis or the JS handlers are behind, nothing new is begun, but the consumer is still
  // served (rebalances, max.poll.interval.ms) and whatever arrives waits in the buffer.
  if (backpressure() != nullptr) {
    pull_messages(static_cast<int>(first_wait.count()));
    return;
  }
  if (!prefetched_.empty()) first_wait = milliseconds(0);
  int timeout_ms = static_cast<int>(first_wait.count());
  Clock::time_point deadline{};
  int count = 0;
  while (count < config_.batch.max_events && !shared_->stop_requested.load(std::memory_order_relaxed)) {
    if (backpressure() != nullptr) break;  // handler batches filled up during this round
    if (prefetched_.empty() && !pull_messages(timeout_ms)) break;
    std::unique_ptr<RdKafka::Message> message = std::move(prefetched_.front());
    prefetched_.pop_front();
    prefetched_bytes_ -= static_cast<int64_t>(message->len());
    handle_message(std::move(message));
    if (++count == 1) deadline = Clock::now() + milliseconds(config_.batch.max_wait_ms);
    timeout_ms = static_cast<int>(std::max<int64_t>(
        0, std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count()));
  }
  batch_full_ = count >= config_.batch.max_events;
  pull_messages(0);  // top the buffer up so librdkafka's queue stays short
}

// Moves messages from librdkafka into the prefetch buffer: waits up to timeout_ms for the first,
// then takes all that is already there (update_pause() bounds the buffer by pausing the fetch;
// an emptied librdkafka queue loses nothing when that happens). Serves librdkafka's callbacks
// (rebalance, commits, events) as a side effect. True when at least one message arrived.
bool Runner::pull_messages(int timeout_ms) {
  bool got = false;
  while (!shared_->stop_requested.load(std::memory_order_relaxed)) {
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(timeout_ms));
    if (!message) break;
    RdKafka::ErrorCode err = message->err();
    if (err == RdKafka::ERR__TIMED_OUT) break;
    if (err != RdKafka::ERR_NO_ERROR) {
      if (err != RdKafka::ERR__PARTITION_EOF)
        log(LogLevel::warn, "kafka: " + message->errstr() +
                                (message->topic_name().empty() ? "" : " (" + message->topic_name() + ")"));
      break;
    }
    if (PartitionState* partition = partition_of(*message, last_pulled_)) partition->fetched = message->offset() + 1;
    prefetched_bytes_ += static_cast<int64_t>(message->len());
    counters_.prefetch.peak_bytes = std::max(counters_.prefetch.peak_bytes, static_cast<uint64_t>(prefetched_bytes_));
    prefetched_.push_back(std::move(message));
    got = true;
    timeout_ms = 0;
  }
  if (got) last_pull_ = Clock::now();
  return got;
}

// Forgets buffered messages of the given partitions (all when null). They were never begun, so
// nothing of them is committed: the partition's next owner reads them again.
void Runner::drop_prefetched(const std::vector<RdKafka::TopicPartition*>* only) {
  auto revoked = [&](const RdKafka::Message& message) {
    if (!only) return true;
    for (const RdKafka::TopicPartition* tp : *only)
      if (tp->partition() == message.partition() && tp->topic() == topic_of(message)) return true;
    return false;
  };
  std::deque<std::unique_ptr<RdKafka::Message>> kept;
  for (auto& message : prefetched_) {
    if (revoked(*message)) {
      prefetched_bytes_ -= static_cast<int64_t>(message->len());
    } else {
      kept.push_back(std::move(message));
    }
  }
  prefetched_.swap(kept);
}

// Why new work must wait, or nullptr: Redis unavailable or behind, or the JS handlers busy (as
// many batches wait for them as may be in flight).
const char* Runner::backpressure() const {
  if (!redis_up_) return kRedisUnavailable;
  // Every waiting dead letter holds its message (payload included): bounded like the prefetch.
  if (dead_letter_retry_.size() + dead_letters_in_flight_ >= kMaxDeadLettersWaiting) return "dead letters waiting for Kafka";
  if (ready_batches_.size() >= static_cast<size_t>(config_.handlers.max_in_flight)) return "JS handlers busy";
  if (pipelines_.size() > static_cast<size_t>(config_.batch.max_in_flight) * 2 + 2) return kRedisBehind;
  return nullptr;
}

// The message's partition, through a one-entry cache (most messages come from the same partition
// as the one before); nullptr when it is not (or no longer) assigned here.
PartitionState* Runner::partition_of(const RdKafka::Message& message, PartitionPtr& cache) {
  if (!cache || !cache->active || cache->partition != message.partition() || cache->topic != topic_of(message))
    cache = find_partition(std::string(topic_of(message)), message.partition());
  return cache.get();
}

PartitionPtr Runner::find_partition(const std::string& topic, int32_t partition) {
  auto it = partitions_.find(partition_key(topic, partition));
  return it == partitions_.end() ? nullptr : it->second;
}

void Runner::skip(PartitionState& partition, int64_t offset, uint64_t& counter) {
  ++counter;
  partition.offsets.complete(offset);
  record_lag(message_ts_ms_, source_ts_ms_);
}

// End-to-end lag of a finished message: from its Kafka append (and its source commit) to now,
// when its Redis effects are acknowledged (or it was skipped or dead-lettered).
void Runner::record_lag(int64_t kafka_ts_ms, int64_t source_ts_ms) {
  if (kafka_ts_ms <= 0 && source_ts_ms <= 0) return;
  const double now = wall_clock_ms();
  if (kafka_ts_ms > 0) kafka_lag_.record(now - static_cast<double>(kafka_ts_ms));
  if (source_ts_ms > 0) source_lag_.record(now - static_cast<double>(source_ts_ms));
}

void Runner::handle_message(std::unique_ptr<RdKafka::Message> message) {
  ++counters_.consumed;
  kafka_down_ = false;
  if (!partition_of(*message, last_partition_)) return;  // not (or no longer) ours: the owner will read it
  const PartitionPtr partition = last_partition_;
  const int64_t offset = message->offset();
  if (!partition->offsets.begin(offset).ok()) return;  // re-delivered below the position: already tracked
  partition->position = offset + 1;

  RdKafka::MessageTimestamp timestamp = message->timestamp();
  message_ts_ms_ = timestamp.type != RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE && timestamp.timestamp > 0
                       ? timestamp.timestamp
                       : 0;
  source_ts_ms_ = 0;

  auto make_pending = [&]() {
    auto pending = std::make_shared<PendingMessage>();
    pending->message = std::move(message);
    pending->partition = partition;
    pending->offset = offset;
    pending->kafka_ts_ms = message_ts_ms_;
    pending->source_ts_ms = source_ts_ms_;
    ++partition->unfinished;
    return pending;
  };

  const char* payload = static_cast<const char*>(message->payload());
  std::string_view value(payload ? payload : "", payload ? message->len() : 0);
  std::string_view key = message->key_pointer()
                             ? std::string_view(static_cast<const char*>(message->key_pointer()), message->key_len())
                             : std::string_view();
  Status st = decoder_.decode(value, payload == nullptr, key, event_);
  if (!st.ok()) {
    dead_letter(make_pending(), "decode: " + st.message());
    return;
  }
  switch (event_.kind) {
    case EventKind::tombstone:
      if (!tombstone_as_delete(*partition, key, topic_of(*message))) return skip(*partition, offset, counters_.skipped.tombstone);
      ++counters_.tombstone_deletes;
      break;
    case EventKind::heartbeat: return skip(*partition, offset, counters_.skipped.heartbeat);
    case EventKind::transaction: return skip(*partition, offset, counters_.skipped.transaction);
    case EventKind::schema_change: return skip(*partition, offset, counters_.skipped.schema_change);
    case EventKind::change: break;
  }
  source_ts_ms_ = event_.source.ts_ms > 0 ? event_.source.ts_ms : 0;
  if (event_.op == Op::message) return skip(*partition, offset, counters_.skipped.message);
  if (event_.source.name.empty()) source_from_topic(topic_of(*message));
  remember_for_tombstones(*partition, key);

  planned_.clear();
  bool matched = false;
  PlanCounters plan_counters;
  st = rules_.plan(event_, planned_, matched, plan_counters);
  counters_.missing_fields += plan_counters.missing_field;
  counters_.refreshes_without_before += plan_counters.refresh_without_before;
  if (!st.ok()) {
    dead_letter(make_pending(), "rules: " + st.message());
    return;
  }

  size_t handler_matches = 0;
  for (const JsHandler& handler : handlers_)
    if (glob_matches(handler.source, event_.source.name)) ++handler_matches;

  if (planned_.empty() && handler_matches == 0) {
    if (!matched) return skip(*partition, offset, counters_.skipped.no_rule);
    if (plan_counters.truncate_ignored > 0) return skip(*partition, offset, counters_.skipped.truncate);
    return skip(*partition, offset, counters_.applied);  // matched, nothing to do (fields missing)
  }

  PendingPtr pending = make_pending();
  pending->remaining = static_cast<int>(planned_.size() + handler_matches);
  pending->has_redis_effect = !planned_.empty();
  for (Command& command : planned_) {
    current_.commands.push_back(std::move(command));
    current_.origins.push_back(CommandOrigin{pending, 0});
  }
  if (handler_matches > 0) {
    for (JsHandler& handler : handlers_)
      if (glob_matches(handler.source, event_.source.name)) add_handler_event(handler, *pending->message, pending);
  }
}

// What a later tombstone of this partition needs: the source its topic carries, and the key of a
// delete just seen (the tombstone that follows a full delete envelope adds nothing).
void Runner::remember_for_tombstones(PartitionState& partition, std::string_view key) {
  if (event_.kind == EventKind::tombstone) return;
  if (partition.source_name != event_.source.name) partition.source_name = event_.source.name;
  if (event_.op == Op::remove) {
    partition.last_delete_key.assign(key.data(), key.size());
  } else if (!partition.last_delete_key.empty()) {
    partition.last_delete_key.clear();
  }
}

// ExtractNewRecordState can drop the delete record and keep its tombstone: then the tombstone is
// the only trace of the delete. It becomes a delete rendered from its key when its topic maps to a
// source with rules: the source its earlier events named, else "<prefix>.<schema>.<table>".
bool Runner::tombstone_as_delete(PartitionState& partition, std::string_view key, std::string_view topic) {
  if (!event_.key.present) return false;
  if (!partition.last_delete_key.empty() && partition.last_delete_key == key) {
    partition.last_delete_key.clear();
    return false;  // the delete itself was applied
  }
  if (partition.source_name.empty()) return source_from_topic(topic) && rules_.matches(event_.source.name) && as_delete();
  if (!rules_.matches(partition.source_name)) return false;
  event_.source.name = partition.source_name;
  return as_delete();
}

bool Runner::as_delete() {
  event_.kind = EventKind::change;
  event_.op = Op::remove;
  return true;
}

// A record without source metadata (ExtractNewRecordState without add.fields, a tombstone): its
// source is named by its topic, "<prefix>.<schema>.<table>" -> "<schema>.<table>".
bool Runner::source_from_topic(std::string_view topic) {
  size_t last = topic.rfind('.');
  size_t before = last == std::string_view::npos || last == 0 ? std::string_view::npos : topic.rfind('.', last - 1);
  if (before == std::string_view::npos) return false;
  event_.source.name.assign(topic.substr(before + 1));
  event_.source.table.assign(topic.substr(last + 1));
  if (event_.source.schema.empty() && event_.source.db.empty())
    event_.source.schema.assign(topic.substr(before + 1, last - before - 1));
  return true;
}

void Runner::add_handler_event(JsHandler& handler, const RdKafka::Message& message, const PendingPtr& pending) {
  HandlerEvent event;
  event.kind = event_.kind;
  event.op = event_.op;
  event.source = event_.source;
  event.has_before = event_.before.present;
  event.has_after = event_.after.present;
  event.has_key = event_.key.present;
  // JavaScript would round integers beyond 2^53: they go as exact strings.
  if (event.has_before) event.before_json = quote_unsafe_integers(event_.before.json);
  if (event.has_after) event.after_json = quote_unsafe_integers(event_.after.json);
  if (event.has_key) event.key_json = quote_unsafe_integers(event_.key.json);
  event.topic = message.topic_name();
  event.partition = message.partition();
  event.offset = message.offset();
  RdKafka::MessageTimestamp timestamp = message.timestamp();
  event.timestamp_ms =
      timestamp.type == RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE ? -1 : timestamp.timestamp;
  HandlerBatch* batch = nullptr;
  for (HandlerBatch& candidate : handler.current)
    if (candidate.partition == pending->partition.get()) batch = &candidate;
  if (!batch) {
    handler.current.emplace_back();
    batch = &handler.current.back();
    batch->partition = pending->partition.get();
  }
  batch->events.push_back(std::move(event));
  batch->messages.push_back(pending);
  if (batch->events.size() >= static_cast<size_t>(config_.handlers.max_batch_size)) {
    ready_batches_.push_back(ReadyBatch{handler.id, std::move(*batch)});
    handler.current.erase(handler.current.begin() + (batch - handler.current.data()));
  }
}

void Runner::seal_handler_batches() {
  for (JsHandler& handler : handlers_) {
    for (HandlerBatch& batch : handler.current) ready_batches_.push_back(ReadyBatch{handler.id, std::move(batch)});
    handler.current.clear();
  }
}

// In order, except that a batch waits while an earlier batch of its partition (for that handler)
// is still in JS: a retried batch can never finish after the next one.
void Runner::deliver_handler_batches() {
  for (auto it = ready_batches_.begin();
       it != ready_batches_.end() && outstanding_batches_.size() < static_cast<size_t>(config_.handlers.max_in_flight);) {
    std::pair<int64_t, const PartitionState*> lane{it->handler_id, it->batch.partition};
    if (busy_lanes_.count(lane) > 0) {
      ++it;
      continue;
    }
    ReadyBatch ready = std::move(*it);
    it = ready_batches_.erase(it);
    uint64_t token = ++next_token_;
    counters_.handlers.delivered += ready.batch.events.size();
    if (!shared_->callbacks.events) {  // nobody listens: nothing to wait for
      for (const PendingPtr& pending : ready.batch.messages) effect_done(pending);
      continue;
    }
    busy_lanes_.insert(lane);
    outstanding_batches_.emplace(token, OutstandingBatch{std::move(ready.batch.messages), lane});
    shared_->callbacks.events(token, ready.handler_id, std::move(ready.batch.events));
  }
}

void Runner::process_control() {
  std::deque<ControlItem> items;
  {
    std::lock_guard<std::mutex> lock(shared_->control_mutex);
    if (shared_->control.empty()) return;
    items.swap(shared_->control);
  }
  for (ControlItem& item : items) {
    if (item.kind == ControlItem::Kind::invalidate) {
      queue_invalidate(item);
    } else {
      process_ack(item);
    }
  }
}

void Runner::process_ack(ControlItem& item) {
  auto it = outstanding_batches_.find(item.token);
  if (it == outstanding_batches_.end()) {
    log(LogLevel::debug, "ack for unknown or already completed batch " + std::to_string(item.token));
    return;
  }
  std::vector<PendingPtr> messages = std::move(it->second.messages);
  busy_lanes_.erase(it->second.lane);
  outstanding_batches_.erase(it);
  if (!item.ok) counters_.handlers.failed += messages.size();
  for (const PendingPtr& pending : messages) {
    if (!item.ok && pending->failure.empty())
      pending->failure = "handler: " + (item.reason.empty() ? std::string("failed") : item.reason);
    effect_done(pending);
  }
}

void Runner::queue_invalidate(ControlItem& item) {
  if (item.keys.empty()) {
    if (item.done) item.done(Status::Ok(), 0);
    return;
  }
  if (invalidates_.size() >= kMaxInvalidatesWaiting) {  // an outage must not grow memory without end
    if (item.done)
      item.done(Status::Error(std::to_string(kMaxInvalidatesWaiting) +
                              " invalidate() requests already wait for Redis; try again later"), 0);
    return;
  }
  uint64_t id = ++next_invalidate_id_;
  InvalidateRequest& request = invalidates_[id];
  request.done = std::move(item.done);
  const std::string command_name = config_.rule_options.use_unlink ? "UNLINK" : "DEL";
  for (size_t begin = 0; begin < item.keys.size(); begin += kKeysPerInvalidateCommand) {
    size_t end = std::min(item.keys.size(), begin + kKeysPerInvalidateCommand);
    Command command;
    command.argv.reserve(end - begin + 1);
    command.argv.push_back(command_name);
    for (size_t i = begin; i < end; ++i) command.argv.push_back(config_.rule_options.key_prefix + item.keys[i]);
    current_.commands.push_back(std::move(command));
    current_.origins.push_back(CommandOrigin{nullptr, id});
    ++request.remaining;
  }
}

void Runner::seal_pipeline() {
  if (current_.commands.empty()) return;
  if (config_.redis.wait_replicas > 0) {  // checked by outage_in: fewer replicas is an outage
    current_.commands.push_back(Command{{"WAIT", std::to_string(config_.redis.wait_replicas),
                                         std::to_string(config_.redis.wait_timeout_ms)}});
    current_.origins.push_back(CommandOrigin{});
  }
  pipelines_.push_back(std::move(current_));
  current_ = Pipeline{};
}

void Runner::send_pipelines() {
  while (redis_up_ && sent_count_ < pipelines_.size() &&
         sent_count_ < static_cast<size_t>(config_.batch.max_in_flight)) {
    drop_revoked(pipelines_[sent_count_]);
    Status st = redis_.send(pipelines_[sent_count_].commands);
    if (!st.ok()) return on_redis_failure(st);
    ++sent_count_;
  }
}

// Commands of partitions this instance no longer owns are not sent (nor re-sent after an outage):
// the new owner applies those events itself, and a late write from here could undo newer ones.
void Runner::drop_revoked(Pipeline& pipeline) {
  size_t kept = 0;
  for (size_t i = 0; i < pipeline.commands.size(); ++i) {
    const PendingPtr& message = pipeline.origins[i].message;
    if (message && !message->partition->active) {
      ++counters_.redis.revoked_dropped;
      if (--message->remaining == 0) finish(message);
      continue;
    }
    if (kept != i) {
      pipeline.commands[kept] = std::move(pipeline.commands[i]);
      pipeline.origins[kept] = std::move(pipeline.origins[i]);
    }
    ++kept;
  }
  pipeline.commands.resize(kept);
  pipeline.origins.resize(kept);
}

bool Runner::receive_front() {
  Pipeline& pipeline = pipelines_.front();
  Status st = redis_.receive(pipeline.commands.size(), replies_);
  if (!st.ok()) {
    on_redis_failure(st);
    return false;
  }
  last_redis_reply_ = Clock::now();
  ++counters_.redis.round_trips;
  counters_.redis.commands += pipeline.commands.size();
  if (Status outage = outage_in(pipeline); !outage.ok()) {
    on_redis_failure(outage);  // the whole pipeline is sent again (its effects are idempotent)
    return false;
  }
  backoff_.reset();
  for (size_t i = 0; i < pipeline.commands.size(); ++i) {
    const Reply& reply = replies_[i];
    const Command& command = pipeline.commands[i];
    CommandOrigin& origin = pipeline.origins[i];
    if (reply.error) ++counters_.redis.errors;
    const std::string& name = command.argv[0];
    const bool is_delete = name == "UNLINK" || name == "DEL";
    if (origin.message && reply.error && classify_error_reply(reply.text) == ReplyClass::out_of_memory) {
      delete_instead(command, origin);  // the effect is done once the delete is acknowledged
      continue;
    }
    if (origin.message) {
      if (reply.error) {
        if (origin.message->failure.empty()) origin.message->failure = "redis " + name + ": " + reply.text;
      } else if (is_delete) {
        counters_.keys_deleted += static_cast<uint64_t>(std::max<int64_t>(0, reply.integer));
      } else if (name == "EVALSHA" && reply.integer == 0) {
        ++counters_.refreshes_older_skipped;  // the key holds a newer version
      } else if (name != "EXPIRE" && name != "PEXPIRE") {
        ++counters_.keys_refreshed;
      }
      effect_done(origin.message);
    } else {
      auto it = invalidates_.find(origin.invalidate_id);
      if (it == invalidates_.end()) continue;
      InvalidateRequest& request = it->second;
      if (reply.error) {
        if (request.error.empty()) request.error = "redis " + name + ": " + reply.text;
      } else {
        request.deleted += reply.integer;
        counters_.keys_deleted += static_cast<uint64_t>(std::max<int64_t>(0, reply.integer));
      }
      if (--request.remaining == 0) {
        if (request.done)
          request.done(request.error.empty() ? Status::Ok() : Status::Error(request.error), request.deleted);
        invalidates_.erase(it);
      }
    }
  }
  pipelines_.pop_front();
  --sent_count_;
  return true;
}

// An error reply that retrying will cure (the node loads, is a replica, is busy, ...) makes the
// whole pipeline wait like an I/O failure; -OOM is one only for commands that are not a refresh
// (a refresh falls back to a delete, see delete_instead).
Status Runner::outage_in(const Pipeline& pipeline) {
  for (size_t i = 0; i < pipeline.commands.size(); ++i) {
    const Reply& reply = replies_[i];
    if (pipeline.commands[i].argv[0] == "WAIT" && !reply.error &&
        reply.integer < config_.redis.wait_replicas) {  // redis.waitReplicas: not durable yet
      ++counters_.redis.errors;
      return Status::Error("redis WAIT: " + std::to_string(reply.integer) + " of " +
                           std::to_string(config_.redis.wait_replicas) + " replica(s) acknowledged within " +
                           std::to_string(config_.redis.wait_timeout_ms) + " ms");
    }
    if (!reply.error) continue;
    ReplyClass cls = classify_error_reply(reply.text);
    const bool refresh = pipeline.origins[i].message && is_refresh(pipeline.commands[i]);
    if (cls == ReplyClass::outage || (cls == ReplyClass::out_of_memory && !refresh)) {
      counters_.redis.errors += 1;
      return Status::Error("redis " + pipeline.commands[i].argv[0] + ": " + reply.text);
    }
  }
  return Status::Ok();
}

bool Runner::is_refresh(const Command& command) { return !refreshed_key(command).empty(); }

// A refresh refused for memory: the key held an older value, which must not stay. Deleting it
// (always allowed under noeviction) turns a stale hit into a miss.
void Runner::delete_instead(const Command& refused, const CommandOrigin& origin) {
  ++counters_.redis.fallback_deletes;
  Command del;
  del.argv = {config_.rule_options.use_unlink ? "UNLINK" : "DEL", std::string(refreshed_key(refused))};
  current_.commands.push_back(std::move(del));
  current_.origins.push_back(origin);
}

void Runner::on_redis_failure(const Status& status) {
  redis_.disconnect();
  if (redis_up_)
    log(LogLevel::warn, "redis unavailable, fetching paused, " + std::to_string(pipelines_.size()) +
                            " pipeline(s) kept for resending: " + status.message());
  redis_up_ = false;
  sent_count_ = 0;  // whatever was on the wire is sent again after reconnecting (idempotent)
  next_redis_attempt_ = Clock::now() + backoff_.next_delay();
  update_pause();
}

void Runner::maintain_redis() {
  if (redis_up_ || Clock::now() < next_redis_attempt_) return;
  Status st = redis_.connect();
  if (st.ok()) {
    // A stopped or overloaded server still accepts connections (the kernel does): only a reply
    // shows it is back. Without this the engine would resume and time out over and over.
    st = ping_redis();
    if (!st.ok()) redis_.disconnect();
  }
  if (!st.ok()) {
    int attempts = backoff_.attempts();
    if (attempts <= 3 || attempts % 10 == 0)
      log(LogLevel::warn, "redis reconnect attempt " + std::to_string(attempts) + " failed: " + st.message());
    next_redis_attempt_ = Clock::now() + backoff_.next_delay();
    return;
  }
  redis_up_ = true;
  last_redis_reply_ = Clock::now();
  // The backoff is reset by the first pipeline the node accepts: a replica or a loading node
  // answers PING but refuses the writes, and must not be retried at full speed.
  if (redis_ever_connected_) ++counters_.redis.reconnects;
  log(LogLevel::info, std::string("redis ") + (redis_ever_connected_ ? "reconnected" : "connected") +
                          ", resending " + std::to_string(pipelines_.size()) + " pipeline(s)");
  redis_ever_connected_ = true;
}

void Runner::effect_done(const PendingPtr& pending) {
  if (--pending->remaining > 0) return;
  if (!pending->failure.empty()) return dead_letter(pending, pending->failure);
  ++counters_.applied;
  finish(pending);
}

void Runner::dead_letter(const PendingPtr& pending, const std::string& reason) {
  ++counters_.dead_lettered;
  log(LogLevel::warn, "dead letter " + origin_of(*pending) + ": " + reason);
  if (!producer_) return finish(pending);
  produce_dead_letter(pending, reason);
}

std::string Runner::origin_of(const PendingMessage& pending) {
  return pending.partition->topic + "[" + std::to_string(pending.partition->partition) + "]@" +
         std::to_string(pending.offset);
}

// The message is finished only when its dead letter is acknowledged (dr_cb): until then its
// offset holds the partition's commit.
void Runner::produce_dead_letter(const PendingPtr& pending, const std::string& reason) {
  const RdKafka::Message& message = *pending->message;
  RdKafka::Headers* headers = RdKafka::Headers::create();
  headers->add("cdc-cache-error", reason);
  headers->add("cdc-cache-topic", message.topic_name());
  headers->add("cdc-cache-partition", std::to_string(message.partition()));
  headers->add("cdc-cache-offset", std::to_string(pending->offset));
  const bool reference = pending->dead_letter_as_reference;  // too large: where to find it instead
  if (reference) headers->add("cdc-cache-payload-omitted", "message too large for the dead-letter topic");
  auto* opaque = new std::pair<PendingPtr, std::string>(pending, reason);
  const std::string* key = reference ? nullptr : message.key();
  RdKafka::ErrorCode err = producer_->produce(
      config_.dead_letter_topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
      reference ? nullptr : const_cast<void*>(message.payload()), !reference && message.payload() ? message.len() : 0,
      key ? key->data() : nullptr, key ? key->size() : 0, 0, headers, opaque);
  if (err == RdKafka::ERR_NO_ERROR) {
    ++dead_letters_in_flight_;  // the producer owns the headers now
    return;
  }
  delete headers;
  delete opaque;
  dead_letter_failed(pending, reason, err, "produce");
}

// Not taken by Kafka: retried with backoff (unhealthy meanwhile), never committed past.
void Runner::dead_letter_failed(const PendingPtr& pending, const std::string& reason, RdKafka::ErrorCode err,
                                const char* stage) {
  if (err == RdKafka::ERR_MSG_SIZE_TOO_LARGE)
    pending->dead_letter_as_reference = true;
  if (err != RdKafka::ERR__QUEUE_FULL) {
    if (!dead_letters_failing_ || dead_letter_backoff_.attempts() % 10 == 0)
      log(LogLevel::error, std::string("dead-letter ") + stage + " failed for " + origin_of(*pending) +
                               ", retrying (not committed): " + RdKafka::err2str(err));
    dead_letters_failing_ = true;
    next_dead_letter_retry_ = Clock::now() + dead_letter_backoff_.next_delay();
  }
  dead_letter_retry_.emplace_back(pending, reason);
}

void Runner::retry_dead_letters() {
  if (dead_letter_retry_.empty() || Clock::now() < next_dead_letter_retry_) return;
  size_t count = dead_letter_retry_.size();
  for (size_t i = 0; i < count; ++i) {
    auto item = std::move(dead_letter_retry_.front());
    dead_letter_retry_.pop_front();
    produce_dead_letter(item.first, item.second);
  }
}

void Runner::dr_cb(RdKafka::Message& message) {
  std::unique_ptr<std::pair<PendingPtr, std::string>> holder(
      static_cast<std::pair<PendingPtr, std::string>*>(message.msg_opaque()));
  if (!holder) return;
  --dead_letters_in_flight_;
  if (message.err() != RdKafka::ERR_NO_ERROR) return dead_letter_failed(holder->first, holder->second, message.err(), "delivery");
  if (dead_letter_retry_.empty()) dead_letters_failing_ = false;
  dead_letter_backoff_.reset();
  finish(holder->first);
}

void Runner::finish(const PendingPtr& pending) {
  PartitionState& partition = *pending->partition;
  --partition.unfinished;
  if (partition.active) partition.offsets.complete(pending->offset);
  record_lag(pending->kafka_ts_ms, pending->source_ts_ms);
  pending->message.reset();
}

std::vector<RdKafka::TopicPartition*> Runner::assigned_list() {
  std::vector<RdKafka::TopicPartition*> list;
  for (const auto& [key, partition] : partitions_)
    list.push_back(RdKafka::TopicPartition::create(partition->topic, partition->partition));
  return list;
}

void Runner::set_paused(std::vector<RdKafka::TopicPartition*>& partitions, bool paused) {
  if (partitions.empty()) return;
  RdKafka::ErrorCode err = paused ? consumer_->pause(partitions) : consumer_->resume(partitions);
  if (err != RdKafka::ERR_NO_ERROR)
    log(LogLevel::warn, std::string("kafka: ") + (paused ? "pause" : "resume") + " failed: " + RdKafka::err2str(err));
}

// librdkafka 2.0.2 does not wake a resumed partition's fetcher: it notices up to a second later.
// A seek to the offset it resumes from anyway (one past the last message taken from it) does wake
// it, and drops nothing: a paused partition's queue is already empty.
void Runner::wake_fetchers() {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(partitions_.size()));
  for (const auto& [key, partition] : partitions_)
    if (partition->fetched >= 0)
      rd_kafka_topic_partition_list_add(list, partition->topic.c_str(), partition->partition)->offset = partition->fetched;
  if (list->cnt > 0) {
    if (rd_kafka_error_t* error = rd_kafka_seek_partitions(consumer_->c_ptr(), list, 0)) {
      log(LogLevel::debug, std::string("kafka: seek to wake the fetcher failed: ") + rd_kafka_error_string(error));
      rd_kafka_error_destroy(error);
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
}

// Fetching pauses only because the prefetch buffer is full: whatever else holds processing up
// (Redis, JS handlers) leaves messages in the buffer, which fills and then pauses the fetch.
void Runner::update_pause() {
  if (!consumer_) return;
  const char* waiting = backpressure();
  if (waiting != waiting_reason_) {
    // Only an outage is worth an info line: busy handlers and a busy Redis come and go under load.
    const LogLevel level = (waiting ? waiting : waiting_reason_) == kRedisUnavailable ? LogLevel::info : LogLevel::debug;
    log(level, waiting ? std::string("processing waits: ") + waiting : std::string("processing resumed"));
    waiting_reason_ = waiting;
  }
  // Hysteresis: a full buffer pauses fetching until half of it is processed.
  const int64_t limit = config_.kafka.prefetch_bytes;
  const bool full = paused_ ? prefetched_bytes_ > limit / 2 : prefetched_bytes_ >= limit;
  if (full == paused_) return;
  paused_ = full;
  std::vector<RdKafka::TopicPartition*> list = assigned_list();
  set_paused(list, paused_);
  RdKafka::TopicPartition::destroy(list);
  if (paused_) {
    ++counters_.prefetch.pauses;
  } else {
    wake_fetchers();
  }
  log(LogLevel::debug, paused_ ? "fetching paused: prefetch buffer full" : "fetching resumed");
}

void Runner::commit(bool synchronous, const std::vector<RdKafka::TopicPartition*>* only) {
  std::vector<RdKafka::TopicPartition*> list;
  auto add = [&](PartitionState& partition) {
    std::optional<int64_t> offset = partition.offsets.committable();
    if (offset) list.push_back(RdKafka::TopicPartition::create(partition.topic, partition.partition, *offset));
  };
  if (only) {
    for (RdKafka::TopicPartition* tp : *only)
      if (PartitionPtr partition = find_partition(tp->topic(), tp->partition())) add(*partition);
  } else {
    for (auto& [key, partition] : partitions_) add(*partition);
  }
  if (list.empty()) return;
  if (!synchronous) {
    RdKafka::ErrorCode err = consumer_->commitAsync(list);
    if (err != RdKafka::ERR_NO_ERROR) {
      commit_failed(err);
    } else {
      async_commit_pending_ = true;
    }
  } else {
    RdKafka::ErrorCode err = consumer_->commitSync(list);
    if (err != RdKafka::ERR_NO_ERROR) {
      commit_failed(err);
    } else {
      for (RdKafka::TopicPartition* tp : list) {
        if (tp->err() != RdKafka::ERR_NO_ERROR) continue;
        if (PartitionPtr partition = find_partition(tp->topic(), tp->partition()))
          partition->offsets.mark_committed(tp->offset());
      }
    }
  }
  RdKafka::TopicPartition::destroy(list);
}

// Commits fail routinely during a rebalance (the next owner commits the same offsets or later):
// one warning per few seconds, and the next periodic commit waits a little longer.
void Runner::commit_failed(RdKafka::ErrorCode err) {
  Clock::time_point now = Clock::now();
  next_commit_ = std::max(next_commit_, now + milliseconds(1000));
  if (err == RdKafka::ERR_REBALANCE_IN_PROGRESS || err == RdKafka::ERR_ILLEGAL_GENERATION ||
      err == RdKafka::ERR_UNKNOWN_MEMBER_ID)
    commits_suspended_until_ = now + kRebalanceCommitPause;
  if (now - last_commit_warning_ < milliseconds(5000)) {
    ++suppressed_commit_warnings_;
    return;
  }
  std::string suppressed = suppressed_commit_warnings_
                               ? " (" + std::to_string(suppressed_commit_warnings_) + " similar suppressed)"
                               : std::string();
  log(LogLevel::warn, "kafka: commit failed, will retry: " + RdKafka::err2str(err) + suppressed);
  last_commit_warning_ = now;
  suppressed_commit_warnings_ = 0;
}

void Runner::offset_commit_cb(RdKafka::ErrorCode err, std::vector<RdKafka::TopicPartition*>& offsets) {
  async_commit_pending_ = false;
  if (err == RdKafka::ERR__NO_OFFSET) return;
  if (err != RdKafka::ERR_NO_ERROR) return commit_failed(err);
  kafka_down_ = false;
  for (RdKafka::TopicPartition* tp : offsets) {
    if (tp->err() != RdKafka::ERR_NO_ERROR || tp->offset() < 0) continue;
    if (PartitionPtr partition = find_partition(tp->topic(), tp->partition()))
      partition->offsets.mark_committed(tp->offset());
  }
}

// Runs the Redis pipelines, dead letters and (unless abandoned) JS batches to completion.
// Waits for everything in flight, not only the revoked partitions' work: simpler, and bounded.
void Runner::drain(Clock::time_point deadline, bool wait_js) {
  seal_pipeline();
  seal_handler_batches();
  auto busy = [&]() {
    return !pipelines_.empty() || dead_letters_in_flight_ > 0 || !dead_letter_retry_.empty() ||
           (wait_js && (!outstanding_batches_.empty() || !ready_batches_.empty()));
  };
  while (busy() && Clock::now() < deadline) {
    process_control();
    seal_pipeline();
    if (wait_js) deliver_handler_batches();
    if (producer_) producer_->poll(0);
    retry_dead_letters();
    maintain_redis();
    send_pipelines();
    if (redis_up_ && sent_count_ > 0) {
      receive_front();
      continue;
    }
    if (dead_letters_in_flight_ > 0 && producer_) {
      producer_->poll(10);
      continue;
    }
    std::unique_lock<std::mutex> lock(shared_->control_mutex);
    shared_->control_cv.wait_for(lock, milliseconds(10), [&] { return !shared_->control.empty(); });
    if (shared_->abandon_handlers.load()) wait_js = false;
  }
  if (busy()) log(LogLevel::warn, "drain timed out: unacknowledged effects stay uncommitted");
}

void Runner::rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                          std::vector<RdKafka::TopicPartition*>& partitions) {
  cooperative_ = consumer->rebalance_protocol() == "COOPERATIVE";
  // A rebalance callback means the group has a new generation: periodic commits may go again.
  // Except right after a cooperative revoke: librdkafka rejoins at once to hand the revoked
  // partitions over, and the callbacks it delivers meanwhile do not end that second round.
  Clock::time_point now = Clock::now();
  if (now - last_revoke_ > kRevokeRejoinWindow) commits_suspended_until_ = Clock::time_point{};
  std::string names;
  for (RdKafka::TopicPartition* tp : partitions)
    names += (names.empty() ? "" : ", ") + tp->topic() + "[" + std::to_string(tp->partition()) + "]";

  if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
    assigned_once_ = true;
    if (cooperative_) {
      std::unique_ptr<RdKafka::Error> error(consumer->incremental_assign(partitions));
      if (error) log(LogLevel::error, "kafka: incremental assign failed: " + error->str());
    } else {
      RdKafka::ErrorCode code = consumer->assign(partitions);
      if (code != RdKafka::ERR_NO_ERROR) log(LogLevel::error, "kafka: assign failed: " + RdKafka::err2str(code));
    }
    for (RdKafka::TopicPartition* tp : partitions) {
      auto state = std::make_shared<PartitionState>();
      state->topic = tp->topic();
      state->partition = tp->partition();
      PartitionPtr& slot = partitions_[partition_key(state->topic, state->partition)];
      if (slot) slot->active = false;
      slot = std::move(state);
    }
    if (paused_) set_paused(partitions, true);
    kafka_down_ = false;
    log(LogLevel::info, std::string("partitions assigned (") + (cooperative_ ? "cooperative" : "eager") + "): " + names);
    return;
  }

  if (err == RdKafka::ERR__REVOKE_PARTITIONS) {
    if (consumer->assignment_lost()) {
      log(LogLevel::warn, "partitions lost (not committing): " + names);
    } else {
      // Finish what was taken from these partitions so the next owner starts after it.
      drain(Clock::now() + kDrainTimeout, !shared_->abandon_handlers.load());
      commit(true, &partitions);
    }
    drop_prefetched(&partitions);
    if (cooperative_) {
      last_revoke_ = Clock::now();
      commits_suspended_until_ = last_revoke_ + kRebalanceCommitPause;
    }
    for (RdKafka::TopicPartition* tp : partitions) {
      auto it = partitions_.find(partition_key(tp->topic(), tp->partition()));
      if (it == partitions_.end()) continue;
      it->second->active = false;
      partitions_.erase(it);
    }
    last_partition_.reset();
    last_pulled_.reset();
    if (cooperative_) {
      std::unique_ptr<RdKafka::Error> error(consumer->incremental_unassign(partitions));
      if (error) log(LogLevel::error, "kafka: incremental unassign failed: " + error->str());
    } else {
      consumer->unassign();
    }
    log(LogLevel::info, "partitions revoked: " + names);
    return;
  }

  log(LogLevel::error, "kafka: rebalance error: " + RdKafka::err2str(err));
  drop_prefetched(nullptr);
  for (auto& [key, partition] : partitions_) partition->active = false;
  partitions_.clear();
  last_partition_.reset();
  last_pulled_.reset();
  consumer->unassign();
}

void Runner::event_cb(RdKafka::Event& event) {
  // Log events may arrive on librdkafka's own threads: only log() is safe there.
  switch (event.type()) {
    case RdKafka::Event::EVENT_ERROR:
      if (event.err() == RdKafka::ERR__ALL_BROKERS_DOWN) kafka_down_ = true;
      log(event.fatal() ? LogLevel::error : LogLevel::warn, "kafka: " + event.str());
      break;
    case RdKafka::Event::EVENT_LOG: {
      int severity = event.severity();
      LogLevel level = severity <= RdKafka::Event::EVENT_SEVERITY_ERROR     ? LogLevel::error
                       : severity == RdKafka::Event::EVENT_SEVERITY_WARNING ? LogLevel::warn
                       : severity <= RdKafka::Event::EVENT_SEVERITY_INFO    ? LogLevel::info
                                                                            : LogLevel::debug;
      const std::string facility = event.fac();
      // Connection failures also arrive as error events (logged above): do not say it twice.
      if (facility == "FAIL") level = LogLevel::debug;
      // The dead-letter producer shares the user's properties; consumer-only ones are expected.
      if (facility == "CONFWARN" && event.str().find("ignored by this producer") != std::string::npos)
        level = LogLevel::debug;
      log(level, "kafka " + facility + ": " + event.str());
      break;
    }
    default: break;
  }
}

// librdkafka's high watermark of a partition, as its last fetch response reported it (no request).
int64_t Runner::refresh_high_watermark(PartitionState& partition) {
  int64_t low = -1, high = -1;
  if (consumer_ && consumer_->get_watermark_offsets(partition.topic, partition.partition, &low, &high) == RdKafka::ERR_NO_ERROR)
    partition.high_watermark = high;
  return partition.high_watermark;
}

void Runner::publish_stats(bool force) {
  Clock::time_point now = Clock::now();
  if (!force && now < next_stats_) return;
  next_stats_ = now + kStatsInterval;

  EngineStats snapshot = counters_;
  snapshot.running = true;
  snapshot.redis_connected = redis_up_;
  snapshot.healthy = redis_up_ && !kafka_down_ && !dead_letters_failing_;
  snapshot.handlers.in_flight = outstanding_batches_.size();
  snapshot.prefetch.bytes = static_cast<uint64_t>(prefetched_bytes_);
  snapshot.redis.batch_size_avg = counters_.redis.round_trips
                                      ? static_cast<double>(counters_.redis.commands) / counters_.redis.round_trips
                                      : 0.0;
  for (auto& [key, partition] : partitions_) {
    refresh_high_watermark(*partition);
    PartitionStats stats;
    stats.topic = partition->topic;
    stats.partition = partition->partition;
    stats.committed = partition->offsets.committed();
    stats.position = partition->position;
    int64_t base = stats.committed >= 0 ? stats.committed : stats.position;
    stats.lag = (partition->high_watermark >= 0 && base >= 0) ? std::max<int64_t>(0, partition->high_watermark - base)
                                                               : 0;
    snapshot.partitions.push_back(std::move(stats));
  }
  auto summarize = [](const Histogram& histogram) {
    LagSummary summary;
    summary.count = histogram.count();
    summary.p50 = histogram.percentile(50);
    summary.p99 = histogram.percentile(99);
    summary.p999 = histogram.percentile(99.9);
    summary.max = histogram.max();
    return summary;
  };
  snapshot.source_lag = summarize(source_lag_);
  snapshot.kafka_lag = summarize(kafka_lag_);
  std::lock_guard<std::mutex> lock(shared_->stats_mutex);
  shared_->stats = std::move(snapshot);
}

void Runner::shutdown() {
  log(LogLevel::info, "engine stopping: draining in-flight work");
  const bool abandon = shared_->abandon_handlers.load();
  drain(Clock::now() + (abandon ? kAbandonDrainTimeout : kDrainTimeout), !abandon);
  // Dead letters still on their way get the flush time: a delivered one completes its offset.
  if (producer_ && producer_->flush(kProducerFlushMs) != RdKafka::ERR_NO_ERROR)
    log(LogLevel::warn, "dead-letter producer: undelivered messages at stop (their offsets stay uncommitted)");
  commit(true, nullptr);
  // Whatever is still unfinished was not applied: its offset must stay uncommitted (the group's
  // next consumer gets it again), and its consumer message must be freed before the consumer is
  // destroyed, or rd_kafka_destroy() waits for it forever.
  release_unfinished();
  {
    std::lock_guard<std::mutex> lock(shared_->control_mutex);
    if (shared_->wake_queue) rd_kafka_queue_destroy(shared_->wake_queue);
    shared_->wake_queue = nullptr;
  }
  wait_for_first_assignment();
  // librdkafka 2.0.2 (#4312, fixed in 2.3.0) asserts when destroying a cooperative-sticky consumer
  // that chose its assignor (JoinGroup answered) but got no assignment yet. Still in that state
  // after the wait above: leak the handle rather than abort the process.
  const bool destroy_would_abort = !assigned_once_ && consumer_->rebalance_protocol() == "COOPERATIVE";
  // close() revokes the assignment through rebalance_cb (nothing left to drain; commit) and leaves
  // the group.
  RdKafka::ErrorCode err = consumer_->close();
  if (err != RdKafka::ERR_NO_ERROR) log(LogLevel::warn, "kafka: close: " + RdKafka::err2str(err));
  publish_stats(true);
  if (destroy_would_abort) {
    log(LogLevel::error, "kafka: the consumer stopped during its first group join; its handle is leaked "
                         "(destroying it would abort the process: librdkafka bug #4312)");
    (void)consumer_.release();
    handle_leaked_ = true;
  } else {
    consumer_.reset();
  }
  if (handle_leaked_) leak_relay();  // after close(): it still needed the rebalance callback
  log(LogLevel::info, "engine stopped");
}

// Drops every reference to consumed messages that are not finished: Redis pipelines kept for
// resending, JS batches not acknowledged, dead letters not produced. None of them completes any
// more (partitions inactive), so none is committed.
void Runner::release_unfinished() {
  for (auto& [key, partition] : partitions_) partition->active = false;
  size_t dropped_pipelines = pipelines_.size() + (current_.commands.empty() ? 0 : 1);
  if (dropped_pipelines > 0 || !outstanding_batches_.empty() || !ready_batches_.empty() ||
      !dead_letter_retry_.empty() || dead_letters_in_flight_ > 0)
    log(LogLevel::warn, "stopping with unacknowledged work (" + std::to_string(dropped_pipelines) +
                            " Redis pipeline(s), " + std::to_string(outstanding_batches_.size() + ready_batches_.size()) +
                            " handler batch(es), " + std::to_string(dead_letter_retry_.size() + dead_letters_in_flight_) +
                            " dead letter(s)): not committed, the group will deliver it again");
  drop_prefetched(nullptr);
  pipelines_.clear();
  current_ = Pipeline{};
  sent_count_ = 0;
  for (JsHandler& handler : handlers_) handler.current.clear();
  ready_batches_.clear();
  outstanding_batches_.clear();
  busy_lanes_.clear();
  dead_letter_retry_.clear();
  if (producer_) {
    // Undelivered dead letters hold their message through the delivery report's opaque: purge
    // them and serve the reports, then the producer can go.
    producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
    Clock::time_point deadline = Clock::now() + milliseconds(kProducerFlushMs);
    do producer_->poll(10);
    while (dead_letters_in_flight_ > 0 && Clock::now() < deadline);
    if (dead_letters_in_flight_ > 0) {
      // Never expected (a purged message is reported at once). Their reports will not come: the
      // producer cannot be destroyed safely, nor can the consumer. Keep both rather than hang.
      log(LogLevel::error, "dead-letter producer: " + std::to_string(dead_letters_in_flight_) +
                               " delivery report(s) missing after purge; leaking the producer");
      (void)producer_.release();
      handle_leaked_ = true;
    } else {
      producer_.reset();
    }
  }
}

bool Runner::cooperative_configured() const {
  for (const auto& property : config_.kafka.properties)
    if (property.first == "partition.assignment.strategy")
      return property.second.find("cooperative-sticky") != std::string::npos;
  return true;  // our default (kafka/clients.cc)
}

// librdkafka 2.0.2 (#4312): a cooperative-sticky consumer destroyed between its JoinGroup response
// and its first assignment aborts the process. A stop in that window keeps serving the consumer
// until the assignment arrives (usually milliseconds: the SyncGroup round trip), bounded. Messages
// consumed meanwhile are not processed: never begun, never committed, redelivered.
void Runner::wait_for_first_assignment() {
  if (assigned_once_ || !cooperative_configured()) return;
  const Clock::time_point deadline = Clock::now() + kFirstAssignmentWait;
  bool logged = false;
  while (!assigned_once_ && Clock::now() < deadline) {
    // No broker reachable and no assignor chosen: no join can be under way.
    if (kafka_down_ && consumer_->rebalance_protocol() != "COOPERATIVE") return;
    if (!logged) {
      log(LogLevel::debug, "stopping during the first group join: waiting for the assignment");
      logged = true;
    }
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(50));
  }
}

}  // namespace

// ---- Engine: the handle other threads hold ----

Engine::Engine(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

Engine::~Engine() {
  stop();
  const bool finished = wait_stopped(0);
  std::lock_guard<std::mutex> lock(shared_->thread_mutex);
  if (!shared_->thread.joinable()) return;
  if (shared_->thread.get_id() == std::this_thread::get_id() || !finished) {
    shared_->thread.detach();  // still draining: it owns a reference to the shared state
  } else {
    shared_->thread.join();  // finished: only its last instructions are left
  }
}

Status Engine::create(std::string_view config_json, EngineCallbacks callbacks, std::unique_ptr<Engine>& out) {
  auto shared = std::make_shared<Shared>();
  Status st = parse_engine_config(config_json, shared->config);
  if (!st.ok()) return st;
  // Surface bad librdkafka properties and rule templates now, as construction errors.
  std::unique_ptr<RdKafka::Conf> probe;
  if (!(st = kafka::make_consumer_conf(shared->config.kafka, {}, probe)).ok()) return st;
  if (!shared->config.dead_letter_topic.empty() &&
      !(st = kafka::make_producer_conf(shared->config.kafka, nullptr, nullptr, probe)).ok())
    return st;
  RuleSet rules;
  if (!(st = RuleSet::compile(shared->config.rules, shared->config.rule_options, rules)).ok()) return st;
  shared->callbacks = std::move(callbacks);
  out.reset(new Engine(std::move(shared)));
  return Status::Ok();
}

Status Engine::start() {
  std::lock_guard<std::mutex> lock(shared_->control_mutex);
  if (shared_->started) return Status::Error("engine already started");
  if (shared_->stop_requested.load()) return Status::Error("engine stopped");
  shared_->started = true;
  shared_->accepting = true;
  {
    std::lock_guard<std::mutex> stats_lock(shared_->stats_mutex);
    shared_->stats.running = true;
  }
  std::shared_ptr<Shared> shared = shared_;
  // The thread owns a reference to the shared state and reports its end through `stopped` and
  // wait_stopped(); join() (or ~Engine, once finished) joins it.
  std::lock_guard<std::mutex> thread_lock(shared_->thread_mutex);
  shared_->thread = std::thread([shared]() {
    {
      Runner runner(shared);
      runner.run();
    }
    if (shared->callbacks.stopped) shared->callbacks.stopped();
    std::lock_guard<std::mutex> lock(shared->control_mutex);
    shared->finished = true;
    shared->finished_cv.notify_all();
  });
  return Status::Ok();
}

void Engine::stop(bool abandon_handlers) {
  bool report_now = false;
  {
    std::lock_guard<std::mutex> lock(shared_->control_mutex);
    if (abandon_handlers) shared_->abandon_handlers.store(true);
    bool first = !shared_->stop_requested.exchange(true);
    if (!shared_->started && first) {
      report_now = true;
      shared_->finished = true;
    }
    if (shared_->wake_queue) rd_kafka_queue_yield(shared_->wake_queue);
    shared_->control_cv.notify_all();
  }
  if (report_now && shared_->callbacks.stopped) shared_->callbacks.stopped();
}

bool Engine::wait_stopped(int timeout_ms) {
  std::unique_lock<std::mutex> lock(shared_->control_mutex);
  return shared_->finished_cv.wait_for(lock, milliseconds(timeout_ms), [&] { return shared_->finished; });
}

bool Engine::invalidate(std::vector<std::string> keys, InvalidateDone done) {
  std::lock_guard<std::mutex> lock(shared_->control_mutex);
  if (!shared_->accepting || shared_->stop_requested.load() || shared_->control.size() >= kControlQueueLimit)
    return false;
  ControlItem item{ControlItem::Kind::invalidate, std::move(keys), std::move(done), 0, true, {}};
  shared_->control.push_back(std::move(item));
  if (shared_->wake_queue) rd_kafka_queue_yield(shared_->wake_queue);
  shared_->control_cv.notify_all();
  return true;
}

void Engine::ack(uint64_t token, bool ok, std::string reason) {
  std::lock_guard<std::mutex> lock(shared_->control_mutex);
  if (!shared_->accepting) return;
  ControlItem item{ControlItem::Kind::ack, {}, {}, token, ok, std::move(reason)};
  shared_->control.push_back(std::move(item));
  if (shared_->wake_queue) rd_kafka_queue_yield(shared_->wake_queue);
  shared_->control_cv.notify_all();
}

bool Engine::join(int timeout_ms) {
  if (!wait_stopped(timeout_ms)) return false;
  std::lock_guard<std::mutex> lock(shared_->thread_mutex);
  if (shared_->thread.joinable() && shared_->thread.get_id() != std::this_thread::get_id()) shared_->thread.join();
  return true;
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(shared_->stats_mutex);
  return shared_->stats;
}

}  // namespace cdc
