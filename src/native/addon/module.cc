// Node glue for the C++ engine: object wrap, promises, conversions and thread-safe delivery.
// No logic lives here. Threads: the engine thread (and librdkafka's, for log lines) only ever
// hand messages to one typed thread-safe function per engine; everything JS happens in CallJs.
#include <napi.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "app_messages.h"
#include "log_budget.h"
#include "producer.h"
#include "reader.h"
#include "table.h"
#include "explain/explain.h"

namespace {

using cdc_addon::LogBudget;

constexpr int kTeardownWaitMs = 10000;     // environment teardown: how long to wait for an engine

// One message from the engine side to JS.
struct Message {
  enum class Kind { log, events, started, stopped, invalidated } kind = Kind::log;
  cdc::LogLevel level = cdc::LogLevel::info;
  std::string text;  // log line, start error, invalidate error
  bool ok = true;
  uint64_t token = 0;  // events batch token, or invalidate request id
  int64_t handler_id = 0;
  int64_t count = 0;
  std::vector<cdc::HandlerEvent> events;
};

// JS-thread state of one engine. Owned by the thread-safe function: deleted by its finalizer,
// which runs after the last message was delivered, so CallJs can always use it.
struct Bridge {
  Napi::FunctionReference on_events;
  Napi::FunctionReference on_log;
  Napi::ObjectReference self;  // keeps the JS Engine alive while it runs
  std::unique_ptr<Napi::Promise::Deferred> start_deferred;
  std::vector<Napi::Promise::Deferred> stop_deferreds;
  std::unordered_map<uint64_t, Napi::Promise::Deferred> invalidates;
  uint64_t next_invalidate_id = 0;
  bool stopped = false;
  void* teardown_hook = nullptr;  // TeardownHook*, removed once the engine stopped normally
  LogBudget log_budget;
};

void CallJs(Napi::Env env, Napi::Function, Bridge* bridge, Message* message);
using Channel = Napi::TypedThreadSafeFunction<Bridge, Message, CallJs>;


// Guards the engine side's use of the thread-safe function. Node deletes a thread-safe function
// when its environment is torn down, whether or not other threads released it; once the gate is
// closed the engine side never touches it again, even if its thread outlives the environment.
struct Gate {
  std::mutex mutex;
  bool open = true;
};

// Hands a message to JS unless the environment is gone.
void post(const std::shared_ptr<Gate>& gate, Channel& channel, Message* message, bool release = false) {
  std::lock_guard<std::mutex> lock(gate->mutex);
  if (!gate->open) {
    delete message;
    return;
  }
  if (message != nullptr && channel.NonBlockingCall(message) != napi_ok) delete message;
  if (release) {
    channel.Release();
    gate->open = false;  // released: a late call (a leaked handle's log line) is a no-op
  }
}

// Environment teardown (main thread exit, worker termination) for one engine. Registered after the
// engine's thread-safe function, so it runs before Node closes that function (hooks run in reverse
// order): stop, wait a bounded time for the commit and group leave, close the gate.
// The wait joins the engine thread: after a worker's teardown Node may unload this shared object
// (dlclose), and a thread still running its code (even only its last destructors) would crash
// the process. Blocking here is acceptable: the hook runs while the environment is being torn down,
// when its JS no longer runs; it is bounded, and the addon is linked with -z nodelete as the
// safety net for an engine that does not finish in time.
struct TeardownHook {
  std::shared_ptr<cdc::Engine> engine;
  std::shared_ptr<Gate> gate;

  static void Run(void* arg) {
    std::unique_ptr<TeardownHook> hook(static_cast<TeardownHook*>(arg));
    hook->engine->stop(true);  // JS handler batches cannot be acked any more: abandon them
    hook->engine->join(kTeardownWaitMs);
    std::lock_guard<std::mutex> lock(hook->gate->mutex);
    hook->gate->open = false;
  }
};

Napi::Value parse_json_or_null(Napi::Env env, Napi::Function parse, bool present, const std::string& json) {
  if (!present) return env.Null();
  return parse.Call({Napi::String::New(env, json)});
}

Napi::Array events_to_js(Napi::Env env, const std::vector<cdc::HandlerEvent>& events) {
  Napi::Function parse = env.Global().Get("JSON").As<Napi::Object>().Get("parse").As<Napi::Function>();
  Napi::Array array = Napi::Array::New(env, events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    const cdc::HandlerEvent& event = events[i];
    Napi::Object object = Napi::Object::New(env);
    object.Set("kind", cdc::event_kind_name(event.kind));
    if (event.op == cdc::Op::none) {
      object.Set("op", env.Null());
    } else {
      object.Set("op", std::string(1, static_cast<char>(event.op)));
    }
    Napi::Object source = Napi::Object::New(env);
    source.Set("connector", event.source.connector);
    source.Set("db", event.source.db);
    source.Set("schema", event.source.schema);
    source.Set("table", event.source.table);
    source.Set("name", event.source.name);
    source.Set("position", event.source.position);
    source.Set("tsMs", Napi::Number::New(env, static_cast<double>(event.source.ts_ms)));
    object.Set("source", source);
    object.Set("before", parse_json_or_null(env, parse, event.has_before, event.before_json));
    object.Set("after", parse_json_or_null(env, parse, event.has_after, event.after_json));
    object.Set("key", parse_json_or_null(env, parse, event.has_key, event.key_json));
    object.Set("topic", event.topic);
    object.Set("partition", Napi::Number::New(env, event.partition));
    object.Set("offset", std::to_string(event.offset));
    object.Set("timestampMs", Napi::Number::New(env, static_cast<double>(event.timestamp_ms)));
    array.Set(static_cast<uint32_t>(i), object);
  }
  return array;
}

void settle_stopped(Napi::Env env, Bridge* bridge) {
  bridge->stopped = true;
  if (bridge->start_deferred) {  // stop() raced start(): start did not complete
    bridge->start_deferred->Reject(Napi::Error::New(env, "engine stopped before it started").Value());
    bridge->start_deferred.reset();
  }
  for (auto& [id, deferred] : bridge->invalidates)
    deferred.Reject(Napi::Error::New(env, "engine stopped").Value());
  bridge->invalidates.clear();
  for (auto& deferred : bridge->stop_deferreds) deferred.Resolve(env.Undefined());
  bridge->stop_deferreds.clear();
  if (!bridge->self.IsEmpty()) bridge->self.Reset();
  if (bridge->teardown_hook != nullptr) {
    // The engine is done. Its thread posted `stopped` as its last call and is normally gone by
    // now: reap it without blocking. In the rare case it is still finishing, the hook stays and
    // joins it at environment teardown (before this shared object may be unloaded).
    auto* hook = static_cast<TeardownHook*>(bridge->teardown_hook);
    if (hook->engine->join(0)) {
      napi_remove_env_cleanup_hook(env, TeardownHook::Run, hook);
      delete hook;
      bridge->teardown_hook = nullptr;
    }
  }
}

void CallJs(Napi::Env env, Napi::Function, Bridge* bridge, Message* raw) {
  std::unique_ptr<Message> message(raw);
  if (message->kind == Message::Kind::log) bridge->log_budget.give_back();
  if (env == nullptr) return;  // the environment is going away: drop
  Napi::HandleScope scope(env);
  try {
    switch (message->kind) {
      case Message::Kind::log:
        if (!bridge->on_log.IsEmpty())
          bridge->on_log.Call({Napi::String::New(env, cdc::log_level_name(message->level)),
                               Napi::String::New(env, message->text)});
        break;
      case Message::Kind::events:
        // The engine only delivers events when onEvents was given.
        if (!bridge->on_events.IsEmpty())
          bridge->on_events.Call({Napi::Number::New(env, static_cast<double>(message->token)),
                                  Napi::Number::New(env, static_cast<double>(message->handler_id)),
                                  !message->events.empty() && message->events[0].application
                                      ? cdc_addon::app_messages_to_js(env, message->events)
                                      : events_to_js(env, message->events)});
        break;
      case Message::Kind::started:
        if (bridge->start_deferred) {
          if (message->ok) {
            bridge->start_deferred->Resolve(env.Undefined());
          } else {
            bridge->start_deferred->Reject(Napi::Error::New(env, message->text).Value());
          }
          bridge->start_deferred.reset();
        }
        break;
      case Message::Kind::invalidated: {
        auto it = bridge->invalidates.find(message->token);
        if (it == bridge->invalidates.end()) break;
        if (message->ok) {
          it->second.Resolve(Napi::Number::New(env, static_cast<double>(message->count)));
        } else {
          it->second.Reject(Napi::Error::New(env, message->text).Value());
        }
        bridge->invalidates.erase(it);
        break;
      }
      case Message::Kind::stopped: settle_stopped(env, bridge); break;
    }
  } catch (const Napi::Error& error) {
    // A throwing callback must not unwind into Node's uv loop: report it as uncaught.
    napi_fatal_exception(env, error.Value());
  }
}

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {InstanceMethod<&EngineWrap::Start>("start"), InstanceMethod<&EngineWrap::Stop>("stop"),
                        InstanceMethod<&EngineWrap::Invalidate>("invalidate"),
                        InstanceMethod<&EngineWrap::Ack>("ack"), InstanceMethod<&EngineWrap::Stats>("stats")});
  }

  EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString())
      throw Napi::TypeError::New(env, "Engine(configJson, callbacks): configJson must be a string");
    std::string config_json = info[0].As<Napi::String>().Utf8Value();

    auto bridge = std::make_unique<Bridge>();
    bool has_events = false;
    if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull()) {
      if (!info[1].IsObject()) throw Napi::TypeError::New(env, "Engine(configJson, callbacks): callbacks must be an object");
      Napi::Object callbacks = info[1].As<Napi::Object>();
      Napi::Value on_events = callbacks.Get("onEvents");
      Napi::Value on_log = callbacks.Get("onLog");
      if (on_events.IsFunction()) {
        bridge->on_events = Napi::Persistent(on_events.As<Napi::Function>());
        has_events = true;
      } else if (!on_events.IsUndefined()) {
        throw Napi::TypeError::New(env, "callbacks.onEvents must be a function");
      }
      if (on_log.IsFunction()) {
        bridge->on_log = Napi::Persistent(on_log.As<Napi::Function>());
      } else if (!on_log.IsUndefined()) {
        throw Napi::TypeError::New(env, "callbacks.onLog must be a function");
      }
    }
    bool has_log = !bridge->on_log.IsEmpty();

    bridge_ = bridge.get();
    // One initial "thread": the engine side, released by the `stopped` callback (its last call).
    channel_ = Channel::New(env, "cdc-cache engine", 0, 1, bridge.release(),
                            [](Napi::Env, void*, Bridge* context) { delete context; });
    channel_.Unref(env);  // idle until start(): an unstarted engine never holds the process open

    Channel channel = channel_;
    std::shared_ptr<Gate> gate = gate_;
    LogBudget log_budget = bridge_->log_budget;
    cdc::EngineCallbacks callbacks;
    if (has_log) {
      callbacks.log = [channel, gate, log_budget](cdc::LogLevel level, std::string text) mutable {
        if (!log_budget.take()) return;
        auto* message = new Message{};
        message->kind = Message::Kind::log;
        message->level = level;
        message->text = std::move(text);
        {
          std::lock_guard<std::mutex> lock(gate->mutex);
          if (gate->open && channel.NonBlockingCall(message) == napi_ok) return;
        }
        log_budget.give_back();
        delete message;
      };
    }
    if (has_events) {
      callbacks.events = [channel, gate](uint64_t token, int64_t handler_id,
                                         std::vector<cdc::HandlerEvent>&& events) mutable {
        auto* message = new Message{};
        message->kind = Message::Kind::events;
        message->token = token;
        message->handler_id = handler_id;
        message->events = std::move(events);
        post(gate, channel, message);
      };
    }
    callbacks.started = [channel, gate](const cdc::Status& status) mutable {
      auto* message = new Message{};
      message->kind = Message::Kind::started;
      message->ok = status.ok();
      message->text = status.message();
      post(gate, channel, message);
    };
    callbacks.stopped = [channel, gate]() mutable {
      auto* message = new Message{};
      message->kind = Message::Kind::stopped;
      post(gate, channel, message, /*release=*/true);  // the engine never calls back after this
    };

    std::unique_ptr<cdc::Engine> engine;
    cdc::Status status = cdc::Engine::create(config_json, std::move(callbacks), engine);
    if (!status.ok()) {
      channel_.Release();
      bridge_ = nullptr;
      throw Napi::Error::New(env, status.message());
    }
    engine_ = std::shared_ptr<cdc::Engine>(engine.release());
    auto* hook = new TeardownHook{engine_, gate_};
    if (napi_add_env_cleanup_hook(env, TeardownHook::Run, hook) == napi_ok) {
      bridge_->teardown_hook = hook;
    } else {
      delete hook;
    }
  }

  ~EngineWrap() override {
    // Unreachable from JS: it is not running (a running engine is kept alive by bridge->self).
    // stop() on a never-started engine reports `stopped` right away, releasing the channel.
    if (engine_) engine_->stop();
  }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
    if (bridge_ == nullptr || bridge_->stopped || started_) {
      deferred.Reject(Napi::Error::New(env, started_ ? "engine already started" : "engine stopped").Value());
      return deferred.Promise();
    }
    cdc::Status status = engine_->start();
    if (!status.ok()) {
      deferred.Reject(Napi::Error::New(env, status.message()).Value());
      return deferred.Promise();
    }
    started_ = true;
    channel_.Ref(env);  // a running engine keeps the process alive, as a server socket does
    bridge_->self = Napi::Persistent(Value());
    bridge_->start_deferred = std::make_unique<Napi::Promise::Deferred>(deferred);
    return deferred.Promise();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
    if (bridge_ == nullptr || bridge_->stopped) {
      deferred.Resolve(env.Undefined());
      return deferred.Promise();
    }
    bridge_->stop_deferreds.push_back(deferred);
    engine_->stop();  // never blocks: the engine thread drains and reports `stopped`
    return deferred.Promise();
  }

  Napi::Value Invalidate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray())
      throw Napi::TypeError::New(env, "invalidate(keys): keys must be an array of strings");
    Napi::Array array = info[0].As<Napi::Array>();
    std::vector<std::string> keys;
    keys.reserve(array.Length());
    for (uint32_t i = 0; i < array.Length(); ++i) {
      Napi::Value key = array.Get(i);
      if (!key.IsString()) throw Napi::TypeError::New(env, "invalidate(keys): keys[" + std::to_string(i) + "] is not a string");
      keys.push_back(key.As<Napi::String>().Utf8Value());
    }
    Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
    if (bridge_ == nullptr || bridge_->stopped) {
      deferred.Reject(Napi::Error::New(env, "engine is not running").Value());
      return deferred.Promise();
    }
    uint64_t id = ++bridge_->next_invalidate_id;
    Channel channel = channel_;
    std::shared_ptr<Gate> gate = gate_;
    bool queued = engine_->invalidate(std::move(keys), [channel, gate, id](const cdc::Status& status, int64_t deleted) mutable {
      auto* message = new Message{};
      message->kind = Message::Kind::invalidated;
      message->token = id;
      message->ok = status.ok();
      message->text = status.message();
      message->count = deleted;
      post(gate, channel, message);
    });
    if (!queued) {
      deferred.Reject(Napi::Error::New(env, started_ ? "engine is not running or its queue is full"
                                                     : "engine is not started").Value());
      return deferred.Promise();
    }
    bridge_->invalidates.emplace(id, deferred);
    return deferred.Promise();
  }

  Napi::Value Ack(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsBoolean())
      throw Napi::TypeError::New(env, "ack(token: number, ok: boolean, reason?: string)");
    std::string reason;
    if (info.Length() > 2 && info[2].IsString()) reason = info[2].As<Napi::String>().Utf8Value();
    engine_->ack(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()), info[1].As<Napi::Boolean>().Value(),
                 std::move(reason));
    return env.Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    cdc::EngineStats stats = engine_->stats();
    auto number = [&](double value) { return Napi::Number::New(env, value); };
    auto count = [&](uint64_t value) { return Napi::Number::New(env, static_cast<double>(value)); };
    Napi::Object object = Napi::Object::New(env);
    object.Set("running", stats.running);
    object.Set("healthy", stats.healthy);
    object.Set("redisConnected", stats.redis_connected);
    object.Set("consumed", count(stats.consumed));
    object.Set("applied", count(stats.applied));
    Napi::Object skipped = Napi::Object::New(env);
    skipped.Set("tombstone", count(stats.skipped.tombstone));
    skipped.Set("heartbeat", count(stats.skipped.heartbeat));
    skipped.Set("transaction", count(stats.skipped.transaction));
    skipped.Set("schemaChange", count(stats.skipped.schema_change));
    skipped.Set("noRule", count(stats.skipped.no_rule));
    skipped.Set("truncate", count(stats.skipped.truncate));
    skipped.Set("message", count(stats.skipped.message));
    object.Set("skipped", skipped);
    object.Set("missingFields", count(stats.missing_fields));
    object.Set("deadLettered", count(stats.dead_lettered));
    object.Set("keysDeleted", count(stats.keys_deleted));
    object.Set("keysRefreshed", count(stats.keys_refreshed));
    object.Set("refreshesOlderSkipped", count(stats.refreshes_older_skipped));
    object.Set("tombstoneDeletes", count(stats.tombstone_deletes));
    object.Set("refreshesWithoutBefore", count(stats.refreshes_without_before));
    Napi::Object redis = Napi::Object::New(env);
    redis.Set("roundTrips", count(stats.redis.round_trips));
    redis.Set("commands", count(stats.redis.commands));
    redis.Set("errors", count(stats.redis.errors));
    redis.Set("reconnects", count(stats.redis.reconnects));
    redis.Set("fallbackDeletes", count(stats.redis.fallback_deletes));
    redis.Set("revokedDropped", count(stats.redis.revoked_dropped));
    redis.Set("moved", count(stats.redis.moved));
    redis.Set("asked", count(stats.redis.asked));
    redis.Set("slotMapRefreshes", count(stats.redis.slot_map_refreshes));
    redis.Set("batchSizeAvg", number(stats.redis.batch_size_avg));
    object.Set("redis", redis);
    Napi::Object handlers = Napi::Object::New(env);
    handlers.Set("delivered", count(stats.handlers.delivered));
    handlers.Set("inFlight", count(stats.handlers.in_flight));
    handlers.Set("failed", count(stats.handlers.failed));
    object.Set("handlers", handlers);
    Napi::Object prefetch = Napi::Object::New(env);
    prefetch.Set("bytes", count(stats.prefetch.bytes));
    prefetch.Set("peakBytes", count(stats.prefetch.peak_bytes));
    prefetch.Set("pauses", count(stats.prefetch.pauses));
    object.Set("prefetch", prefetch);
    Napi::Array partitions = Napi::Array::New(env, stats.partitions.size());
    for (size_t i = 0; i < stats.partitions.size(); ++i) {
      const cdc::PartitionStats& partition = stats.partitions[i];
      Napi::Object entry = Napi::Object::New(env);
      entry.Set("topic", partition.topic);
      entry.Set("partition", number(partition.partition));
      entry.Set("committed", std::to_string(partition.committed));
      entry.Set("position", std::to_string(partition.position));
      entry.Set("lag", number(static_cast<double>(partition.lag)));
      partitions.Set(static_cast<uint32_t>(i), entry);
    }
    object.Set("partitions", partitions);
    auto lag = [&](const cdc::LagSummary& summary) {
      Napi::Object entry = Napi::Object::New(env);
      entry.Set("count", count(summary.count));
      entry.Set("p50", number(summary.p50));
      entry.Set("p99", number(summary.p99));
      entry.Set("p999", number(summary.p999));
      entry.Set("max", number(summary.max));
      return entry;
    };
    Napi::Object lag_ms = Napi::Object::New(env);
    lag_ms.Set("source", lag(stats.source_lag));
    lag_ms.Set("kafka", lag(stats.kafka_lag));
    object.Set("lagMs", lag_ms);
    return object;
  }

  std::shared_ptr<cdc::Engine> engine_;
  std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();
  Channel channel_;
  Bridge* bridge_ = nullptr;  // owned by channel_; valid until its finalizer
  bool started_ = false;
};

// explain(rulesJson, value: Buffer|null, key: Buffer|null): string
Napi::Value Explain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString())
    throw Napi::TypeError::New(env, "explain(rulesJson, value, key): rulesJson must be a string");
  std::string rules_json = info[0].As<Napi::String>().Utf8Value();
  auto bytes = [&](size_t index, const char* name, std::string& out) -> bool {
    if (info.Length() <= index || info[index].IsNull() || info[index].IsUndefined()) return false;
    if (info[index].IsBuffer()) {
      Napi::Buffer<char> buffer = info[index].As<Napi::Buffer<char>>();
      out.assign(buffer.Data(), buffer.Length());
      return true;
    }
    if (info[index].IsString()) {
      out = info[index].As<Napi::String>().Utf8Value();
      return true;
    }
    throw Napi::TypeError::New(env, std::string("explain(rulesJson, value, key): ") + name +
                                        " must be a Buffer, a string or null");
  };
  std::string value, key;
  bool has_value = bytes(1, "value", value);
  bytes(2, "key", key);
  std::string out;
  cdc::Status status = cdc::explain(rules_json, value, !has_value, key, out);
  if (!status.ok()) throw Napi::Error::New(env, status.message());
  return Napi::String::New(env, out);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Napi::Function engine = EngineWrap::Define(env);
  exports.Set("Engine", engine);
  exports.Set("explain", Napi::Function::New<Explain>(env, "explain"));
  cdc_addon::RegisterReader(env, exports);
  cdc_addon::register_table(env, exports);
  cdc_addon::register_producer(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(cdc_cache, Init)
