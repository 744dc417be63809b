#include "engine/engine_loop.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

#include "engine/tombstones.h"
#include "kafka/client_config.h"
#include "rules/versioned_refresh.h"

namespace cdc {
namespace {

using std::chrono::milliseconds;

constexpr auto kStatsInterval = milliseconds(100);
constexpr auto kIdlePollTimeout = milliseconds(50);
constexpr auto kDrainTimeout = milliseconds(10000);        // stop and revoke: wait for in-flight effects
constexpr auto kAbandonDrainTimeout = milliseconds(2000);  // the JS environment is going away
constexpr int kProducerFlushMs = 5000;
constexpr auto kKafkaProbeInterval = milliseconds(5000);
constexpr auto kFirstAssignmentWait = milliseconds(10000);  // stop during the first group join
constexpr const char* kRedisUnavailable = "redis unavailable";
constexpr const char* kRedisBehind = "redis behind";
constexpr size_t kMaxDeadLettersWaiting = 1000;  // not yet acknowledged by Kafka: each holds its message

}  // namespace

EngineLoop::EngineLoop(std::shared_ptr<Engine::Shared> shared)
    : shared_(std::move(shared)),
      config_(shared_->config),
      log_fn_([shared = shared_, trace = &trace_](LogLevel level, std::string message) {
        if (trace->on()) trace->line(message);
        shared->log(level, std::move(message));
      }),
      kafka_events_(log_fn_),
      consumer_(config_.kafka.prefetch_bytes, shared_->stop_requested, log_fn_),
      committer_(partitions_, kafka_events_, config_.commit_interval_ms, log_fn_),
      rebalance_({consumer_, partitions_, committer_, kafka_events_,
                  [this] { drain(Clock::now() + kDrainTimeout, !shared_->abandon_handlers.load()); }, log_fn_}),
      dead_letters_(config_.dead_letter_topic, counters_.dead_lettered, [this](const PendingPtr& p) { finish(p); },
                    log_fn_),
      handlers_(config_.js_handlers, config_.handlers, counters_.handlers,
                [this](const PendingPtr& p) { effect_done(p); }, log_fn_),
      redis_(config_.redis.endpoint, config_.redis.options,
             {config_.redis.wait_replicas, config_.redis.wait_timeout_ms,
              [](const Command& command) { return !refreshed_key(command).empty(); }},  // falls back to a delete
             log_fn_, [this] { update_pause(); }, config_.redis.cluster_nodes),
      topic_sources_(config_.topic_sources),
      app_messages_(config_.message_handlers),
      relay_(new kafka::CallbackRelay({&rebalance_, &committer_, &kafka_events_, &dead_letters_})) {
  for (const MessageHandlerSpec& spec : config_.message_handlers) handlers_.add_application_handler(spec.id);
  // Refreshes run as EVALSHA of one script (versioned writes).
  redis_.load_script_on_connect(std::string(kRefreshScript), std::string(kRefreshScriptSha));
}

Status EngineLoop::create_clients() {
  std::unique_ptr<RdKafka::Conf> consumer_conf;
  Status st = kafka::make_consumer_conf(config_.kafka, {relay_.get(), relay_.get(), relay_.get()}, consumer_conf);
  if (!st.ok() || !(st = consumer_.create(*consumer_conf)).ok()) return st;
  committer_.attach(&consumer_.handle());
  if (config_.dead_letter_topic.empty()) return Status::Ok();
  std::unique_ptr<RdKafka::Conf> producer_conf;
  st = kafka::make_producer_conf(config_.kafka, relay_.get(), relay_.get(), producer_conf);
  if (!st.ok()) return st;
  return dead_letters_.create_producer(*producer_conf);
}

Status EngineLoop::setup() {
  Status st = create_clients();
  if (!st.ok()) return st;
  st = RuleSet::compile(config_.rules, config_.rule_options, rules_);
  if (!st.ok()) return st;
  // Without JS change handlers nothing reads more of an event than the rules.
  if (config_.js_handlers.empty()) decoder_.set_needs(rules_.decode_needs());

  if (!(st = consumer_.subscribe(subscription())).ok()) return st;
  {
    std::lock_guard<std::mutex> lock(shared_->control_mutex);
    shared_->wake_queue = rd_kafka_queue_get_consumer(consumer_.handle().c_ptr());
    shared_->accepting = true;
  }
  // Redis being down is not a start failure: the loop retries with backoff, paused and unhealthy.
  redis_.connect_at_start();
  log(LogLevel::info, "engine started: group " + config_.kafka.group_id + ", " +
                          (config_.kafka.topic_pattern.empty() ? std::to_string(subscription().size()) + " topic(s)"
                                                               : "pattern " + config_.kafka.topic_pattern));
  return Status::Ok();
}

void EngineLoop::run() {
  pthread_setname_np(pthread_self(), "cdc-engine");  // for top -H, perf and /proc/.../comm
  Status st = setup();
  if (shared_->callbacks.started) shared_->callbacks.started(st);
  if (st.ok()) {
    committer_.start(Clock::now());
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
    consumer_.destroy(false);
    dead_letters_.release();
    detach_callbacks_if_leaked();
  }
  fail_leftovers();
  redis_.disconnect();
}

// Fails whatever JS still waits for.
void EngineLoop::fail_leftovers() {
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
  std::lock_guard<std::mutex> lock(shared_->stats_mutex);
  shared_->stats.running = false;
  shared_->stats.healthy = false;
  shared_->stats.redis_connected = false;
}

void EngineLoop::iterate() {
  TraceStep round(trace_, "round");
  process_control();
  dead_letters_.poll(0);
  dead_letters_.retry();
  redis_.reconnect_if_due();
  send_pipelines();
  handlers_.deliver(shared_->callbacks);  // acks just processed may have opened the window

  consume_batch();
  seal_pipeline();
  handlers_.seal();
  handlers_.deliver(shared_->callbacks);
  send_pipelines();

  // Keep up to maxInFlight pipelines on the wire while messages keep coming; otherwise collect
  // replies right away so effects (and commits) do not wait for the next batch. Messages that
  // arrived meanwhile go out beside the pipelines in flight, not one Redis round trip later; but
  // replies that already arrived are taken first, or under steady load each would wait until the
  // window filled up (maxInFlight - 1 batches of decoding later).
  while (redis_.up() && redis_.on_wire() > 0) {
    bool saturated = redis_.on_wire() >= static_cast<size_t>(config_.batch.max_in_flight);
    if (!saturated && !redis_.reply_arrived() && (batch_full_ || more_to_begin())) break;
    TraceStep step(trace_, "reply");
    step.detail(static_cast<int64_t>(redis_.on_wire()));
    if (!receive_replies()) break;
    send_pipelines();
  }

  update_pause();
  Clock::time_point now = Clock::now();
  {
    TraceStep step(trace_, "commit");
    committer_.commit_if_due(now);
  }
  probe_kafka(now);
  redis_.ping_if_idle(now);
  {
    TraceStep step(trace_, "wake");
    consumer_.wake_if_stalled(now);
  }
  {
    TraceStep step(trace_, "stats");
    publish_stats(false);
  }
}

// librdkafka reports "all brokers down" but nothing when they come back; on an idle topic no
// message or commit would clear it. While down, a short metadata request every few seconds tells.
void EngineLoop::probe_kafka(Clock::time_point now) {
  if (!kafka_events_.brokers_down() || now < next_kafka_probe_) return;
  next_kafka_probe_ = now + kKafkaProbeInterval;
  RdKafka::Metadata* metadata = nullptr;
  // Up to 1 s: on the leader connection a metadata request waits behind a long-polling fetch.
  RdKafka::ErrorCode err = consumer_.handle().metadata(false, nullptr, &metadata, 1000);
  if (err == RdKafka::ERR_NO_ERROR) {
    kafka_events_.brokers_seen();
    log(LogLevel::info, "kafka brokers reachable again");
  } else {
    log(LogLevel::debug, "kafka probe: " + RdKafka::err2str(err));
  }
  delete metadata;
}

// Messages that could be begun now (the buffer, or librdkafka's queue without waiting).
bool EngineLoop::more_to_begin() {
  if (backpressure() != nullptr) return false;
  return !consumer_.empty() || consumer_.pull(0);
}

int EngineLoop::first_wait_ms() const {
  milliseconds wait = kIdlePollTimeout;
  if (!redis_.up()) {
    auto until_retry = std::chrono::duration_cast<milliseconds>(redis_.next_attempt() - Clock::now());
    wait = std::max(milliseconds(0), std::min(wait, until_retry));
  }
  // Delivery reports and retries are served between consume() calls: do not sleep on them.
  if (dead_letters_.busy()) wait = std::min(wait, milliseconds(5));
  if (redis_.on_wire() > 0) wait = milliseconds(0);
  return static_cast<int>(wait.count());
}

void EngineLoop::consume_batch() {
  batch_full_ = false;
  int timeout_ms = first_wait_ms();
  // While Redis or the JS handlers are behind, nothing new is begun, but the consumer is still
  // served (rebalances, max.poll.interval.ms) and whatever arrives waits in the buffer.
  if (backpressure() != nullptr) {
    TraceStep step(trace_, "pull-backpressure");
    consumer_.pull(timeout_ms);
    return;
  }
  if (!consumer_.empty()) timeout_ms = 0;
  Clock::time_point deadline{};
  int count = 0;
  while (count < config_.batch.max_events && !shared_->stop_requested.load(std::memory_order_relaxed)) {
    if (backpressure() != nullptr) break;  // handler batches filled up during this round
    if (consumer_.empty() && !pull_traced(timeout_ms)) break;
    kafka::Message message = consumer_.take();
    handle_message(message);
    consumer_.release(std::move(message));  // finished at once (moved out when its effects go on)
    ++count;
    timeout_ms = 0;
    if (config_.batch.max_wait_ms == 0) continue;  // the default: no clock reads per message
    if (count == 1) deadline = Clock::now() + milliseconds(config_.batch.max_wait_ms);
    timeout_ms = static_cast<int>(
        std::max<int64_t>(0, std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count()));
  }
  batch_full_ = count >= config_.batch.max_events;
  consumer_.pull(0);  // top the buffer up so librdkafka's queue stays short
}

// Why new work must wait, or nullptr: Redis unavailable or behind, or the JS handlers busy (as
// many batches wait for them as may be in flight).
const char* EngineLoop::backpressure() const {
  if (!redis_.up()) return kRedisUnavailable;
  if (dead_letters_.unfinished() >= kMaxDeadLettersWaiting) return "dead letters waiting for Kafka";
  if (handlers_.backed_up()) return "JS handlers busy";
  if (redis_.queued() > static_cast<size_t>(config_.batch.max_in_flight) * 2 + 2) return kRedisBehind;
  return nullptr;
}

// Fetching pauses only because the prefetch buffer is full: whatever else holds processing up
// (Redis, JS handlers) leaves messages in the buffer, which fills and then pauses the fetch.
void EngineLoop::update_pause() {
  if (!consumer_.created()) return;
  const char* waiting = backpressure();
  if (waiting != waiting_reason_) {
    // Only an outage is worth an info line: busy handlers and a busy Redis come and go under load.
    const LogLevel level = (waiting ? waiting : waiting_reason_) == kRedisUnavailable ? LogLevel::info : LogLevel::debug;
    log(level, waiting ? std::string("processing waits: ") + waiting : std::string("processing resumed"));
    waiting_reason_ = waiting;
  }
  consumer_.update_pause();
}

// pull(), as a trace step: how long the engine waited for Kafka (detail: the timeout it gave).
bool EngineLoop::pull_traced(int timeout_ms) {
  TraceStep step(trace_, "pull");
  step.detail(timeout_ms);
  return consumer_.pull(timeout_ms);
}

void EngineLoop::handle_message(kafka::Message& message) {
  ++counters_.consumed;
  if (trace_.on()) trace_begun_us_ = EngineTrace::now_us();
  if (kafka_events_.brokers_down()) kafka_events_.brokers_seen();
  const PartitionPtr partition = partitions_.of(message);
  if (!partition) return;  // not (or no longer) ours: the owner will read it
  const int64_t offset = message.offset();
  if (!partition->offsets.begin(offset).ok()) return;  // re-delivered below the position: already tracked
  partition->position = offset + 1;

  RdKafka::MessageTimestamp timestamp = message.timestamp();
  message_ts_ms_ = timestamp.type != RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE && timestamp.timestamp > 0
                       ? timestamp.timestamp
                       : 0;
  source_ts_ms_ = 0;
  if (app_messages_.handles(message.topic())) return handle_app_message(message, partition);

  const char* payload = static_cast<const char*>(message.payload());
  std::string_view value(payload ? payload : "", payload ? message.len() : 0);
  std::string_view key = message.key_pointer()
                             ? std::string_view(static_cast<const char*>(message.key_pointer()), message.key_len())
                             : std::string_view();
  Status st = decoder_.decode(value, payload == nullptr, key, event_);
  if (!st.ok()) return dead_letters_.send(make_pending(std::move(message), partition), "decode: " + st.message());
  if (event_.key_looks_encoded) encoded_keys_.note(message.topic_name(), log_fn_);
  switch (event_.kind) {
    case EventKind::tombstone:
      if (!tombstone_as_delete(event_, key, message.topic(), *partition, rules_, topic_sources_))
        return finish_at_once(*partition, offset, counters_.skipped.tombstone);
      ++counters_.tombstone_deletes;
      break;
    case EventKind::heartbeat: return finish_at_once(*partition, offset, counters_.skipped.heartbeat);
    case EventKind::transaction: return finish_at_once(*partition, offset, counters_.skipped.transaction);
    case EventKind::schema_change: return finish_at_once(*partition, offset, counters_.skipped.schema_change);
    case EventKind::change: break;
  }
  source_ts_ms_ = event_.source.ts_ms > 0 ? event_.source.ts_ms : 0;
  if (event_.op == Op::message) return finish_at_once(*partition, offset, counters_.skipped.message);
  if (event_.source.name.empty()) source_from_topic(message.topic(), topic_sources_, event_.source);
  remember_for_tombstones(event_, key, *partition);
  plan_effects(message, partition);
}

// The rules' commands and the matching JS handlers are the message's effects; without any, it
// is finished at once.
void EngineLoop::plan_effects(kafka::Message& message, const PartitionPtr& partition) {
  commands_.clear();
  bool matched = false;
  PlanCounters plan_counters;
  Status st = rules_.plan(event_, commands_, matched, plan_counters);
  counters_.missing_fields += plan_counters.missing_field;
  counters_.refreshes_without_before += plan_counters.refresh_without_before;
  if (!st.ok()) return dead_letters_.send(make_pending(std::move(message), partition), "rules: " + st.message());

  const size_t handler_matches = handlers_.matching(event_.source.name);
  const int64_t offset = message.offset();
  if (commands_.empty() && handler_matches == 0) {
    if (!matched) return finish_at_once(*partition, offset, counters_.skipped.no_rule);
    if (plan_counters.truncate_ignored > 0) return finish_at_once(*partition, offset, counters_.skipped.truncate);
    return finish_at_once(*partition, offset, counters_.applied);  // matched, nothing to do (fields missing)
  }

  PendingPtr pending = make_pending(std::move(message), partition);
  pending->remaining = static_cast<int>(commands_.size() + handler_matches);
  for (Command& command : commands_) add_command(std::move(command), CommandOrigin{pending, 0});
  if (handler_matches > 0) handlers_.add(event_, pending->message, pending);
  if (trace_.on()) pending->trace.planned_us = EngineTrace::now_us();
}

PendingPtr EngineLoop::make_pending(kafka::Message message, const PartitionPtr& partition) {
  auto pending = std::make_shared<PendingMessage>();
  pending->offset = message.offset();
  pending->in_flight = consumer_.hold(message);
  pending->message = std::move(message);
  pending->partition = partition;
  pending->kafka_ts_ms = message_ts_ms_;
  pending->source_ts_ms = source_ts_ms_;
  pending->trace.begun_us = trace_begun_us_;
  return pending;
}

// A message with nothing to do is finished at once (counted under `counter`).
void EngineLoop::finish_at_once(PartitionState& partition, int64_t offset, uint64_t& counter) {
  ++counter;
  partition.offsets.complete(offset);
  lag_.record(message_ts_ms_, source_ts_ms_);
}

void EngineLoop::process_control() {
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
      handlers_.ack(item.token, item.ok, item.reason);
    }
  }
}

void EngineLoop::effect_done(const PendingPtr& pending) {
  if (--pending->remaining > 0) return;
  if (!pending->failure.empty()) return dead_letters_.send(pending, pending->failure);
  ++counters_.applied;
  finish(pending);
}

void EngineLoop::finish(const PendingPtr& pending) {
  PartitionState& partition = *pending->partition;
  if (partition.active) partition.offsets.complete(pending->offset);
  lag_.record(pending->kafka_ts_ms, pending->source_ts_ms);
  if (trace_.on()) trace_.event(*pending, EngineTrace::now_us());
  consumer_.release(std::move(pending->message));
  pending->in_flight.release();
}

// Runs the Redis pipelines, dead letters and (unless abandoned) JS batches to completion.
// Waits for everything in flight, not only the revoked partitions' work: simpler, and bounded.
void EngineLoop::drain(Clock::time_point deadline, bool wait_js) {
  seal_pipeline();
  handlers_.seal();
  auto busy = [&]() { return redis_.queued() > 0 || dead_letters_.busy() || (wait_js && handlers_.busy()); };
  while (busy() && Clock::now() < deadline) {
    process_control();
    seal_pipeline();
    if (wait_js) handlers_.deliver(shared_->callbacks);
    dead_letters_.poll(0);
    dead_letters_.retry();
    redis_.reconnect_if_due();
    send_pipelines();
    if (redis_.up() && redis_.on_wire() > 0) {
      receive_replies();
      continue;
    }
    if (dead_letters_.in_flight()) {
      dead_letters_.poll(10);
      continue;
    }
    std::unique_lock<std::mutex> lock(shared_->control_mutex);
    shared_->control_cv.wait_for(lock, milliseconds(10), [&] { return !shared_->control.empty(); });
    if (shared_->abandon_handlers.load()) wait_js = false;
  }
  if (busy()) log(LogLevel::warn, "drain timed out: unacknowledged effects stay uncommitted");
}

void EngineLoop::publish_stats(bool force) {
  Clock::time_point now = Clock::now();
  if (!force && now < next_stats_) return;
  next_stats_ = now + kStatsInterval;

  EngineStats snapshot = counters_;
  snapshot.running = true;
  snapshot.redis_connected = redis_.up();
  snapshot.healthy = redis_.up() && !kafka_events_.brokers_down() && !dead_letters_.failing();
  snapshot.handlers.in_flight = handlers_.in_flight();
  const kafka::PrefetchStats prefetch = consumer_.stats();
  snapshot.prefetch.bytes = prefetch.bytes;
  snapshot.prefetch.peak_bytes = prefetch.peak_bytes;
  snapshot.prefetch.pauses = prefetch.pauses;
  const RedisTransportStats& redis = redis_.stats();
  snapshot.redis.round_trips = redis.round_trips;
  snapshot.redis.commands = redis.commands;
  snapshot.redis.reconnects = redis.reconnects;
  snapshot.redis.moved = redis.moved;
  snapshot.redis.asked = redis.asked;
  snapshot.redis.slot_map_refreshes = redis.slot_map_refreshes;
  snapshot.redis.errors += redis.errors;
  snapshot.redis.batch_size_avg = redis.round_trips ? static_cast<double>(redis.commands) / redis.round_trips : 0.0;
  partitions_.for_each([&](const PartitionState& partition) {
    PartitionStats stats;
    stats.topic = partition.topic;
    stats.partition = partition.partition;
    stats.committed = partition.offsets.committed();
    stats.position = partition.position;
    const int64_t high = consumer_.high_watermark(partition.topic, partition.partition);
    const int64_t base = stats.committed >= 0 ? stats.committed : stats.position;
    stats.lag = (high >= 0 && base >= 0) ? std::max<int64_t>(0, high - base) : 0;
    snapshot.partitions.push_back(std::move(stats));
  });
  lag_.summarize(snapshot);
  std::lock_guard<std::mutex> lock(shared_->stats_mutex);
  shared_->stats = std::move(snapshot);
}

void EngineLoop::shutdown() {
  log(LogLevel::info, "engine stopping: draining in-flight work");
  const bool abandon = shared_->abandon_handlers.load();
  drain(Clock::now() + (abandon ? kAbandonDrainTimeout : kDrainTimeout), !abandon);
  // Dead letters still on their way get the flush time: a delivered one completes its offset.
  if (!dead_letters_.flush(kProducerFlushMs))
    log(LogLevel::warn, "dead-letter producer: undelivered messages at stop (their offsets stay uncommitted)");
  committer_.commit(true, nullptr);
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
  const bool destroy_would_abort =
      !rebalance_.assigned_once() && consumer_.handle().rebalance_protocol() == "COOPERATIVE";
  // close() revokes the assignment through the rebalance callback (nothing left to drain; commit)
  // and leaves the group.
  RdKafka::ErrorCode err = consumer_.handle().close();
  if (err != RdKafka::ERR_NO_ERROR) log(LogLevel::warn, "kafka: close: " + RdKafka::err2str(err));
  publish_stats(true);
  if (destroy_would_abort)
    log(LogLevel::error, "kafka: the consumer stopped during its first group join; its handle is leaked "
                         "(destroying it would abort the process: librdkafka bug #4312)");
  consumer_.destroy(destroy_would_abort);
  consumer_leaked_ = destroy_would_abort;
  detach_callbacks_if_leaked();
  log(LogLevel::info, "engine stopped");
}

// A leaked handle (consumer or producer) keeps calling its callbacks, from its own threads too:
// its relay is detached and leaked with it, so they never reach this loop once it is freed.
void EngineLoop::detach_callbacks_if_leaked() {
  if (!relay_ || (!dead_letters_.leaked() && !consumer_leaked_)) return;
  relay_->detach();
  (void)relay_.release();  // owned by the leaked handle(s) from now on
}

// Drops every reference to consumed messages that are not finished: Redis pipelines kept for
// resending, JS batches not acknowledged, dead letters not produced. None of them completes any
// more (partitions inactive), so none is committed.
void EngineLoop::release_unfinished() {
  partitions_.deactivate_all(false);
  const size_t pipelines = redis_.queued() + (current_commands_.empty() ? 0 : 1);
  if (pipelines > 0 || handlers_.unfinished() > 0 || dead_letters_.unfinished() > 0)
    log(LogLevel::warn, "stopping with unacknowledged work (" + std::to_string(pipelines) + " Redis pipeline(s), " +
                            std::to_string(handlers_.unfinished()) + " handler batch(es), " +
                            std::to_string(dead_letters_.unfinished()) +
                            " dead letter(s)): not committed, the group will deliver it again");
  redis_.clear();
  origins_.clear();
  current_commands_ = {};
  current_origins_ = {};
  handlers_.clear();
  dead_letters_.release();
  consumer_.drop_buffer();  // last: dead letters delivered during their release finished messages too
}

bool EngineLoop::cooperative_configured() const {
  for (const auto& property : config_.kafka.properties)
    if (property.first == "partition.assignment.strategy")
      return property.second.find("cooperative-sticky") != std::string::npos;
  return true;  // our default (kafka/client_config.cc)
}

// librdkafka 2.0.2 (#4312): a cooperative-sticky consumer destroyed between its JoinGroup response
// and its first assignment aborts the process. A stop in that window keeps serving the consumer
// until the assignment arrives (usually milliseconds: the SyncGroup round trip), bounded. Messages
// consumed meanwhile are not processed: never begun, never committed, redelivered.
void EngineLoop::wait_for_first_assignment() {
  if (rebalance_.assigned_once() || !cooperative_configured()) return;
  const Clock::time_point deadline = Clock::now() + kFirstAssignmentWait;
  bool logged = false;
  while (!rebalance_.assigned_once() && Clock::now() < deadline) {
    // No broker reachable and no assignor chosen: no join can be under way.
    if (kafka_events_.brokers_down() && consumer_.handle().rebalance_protocol() != "COOPERATIVE") return;
    if (!logged) {
      log(LogLevel::debug, "stopping during the first group join: waiting for the assignment");
      logged = true;
    }
    std::unique_ptr<RdKafka::Message> message(consumer_.handle().consume(50));
  }
}

}  // namespace cdc
