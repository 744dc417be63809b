// The Engine handle other threads hold: it starts the engine thread (EngineLoop) and talks to it
// only through the control queue and the stats snapshot in Engine::Shared.
#include "engine/engine.h"

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "engine/engine_loop.h"
#include "engine/shared_state.h"
#include "kafka/client_config.h"
#include "rules/rules.h"

namespace cdc {
namespace {

using std::chrono::milliseconds;

constexpr size_t kControlQueueLimit = 10000;  // pending invalidate/ack requests from JS

}  // namespace

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
      EngineLoop loop(shared);
      loop.run();
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
