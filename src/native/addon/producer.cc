// Node glue for kafka/AppProducer (publish()): JS messages -> plain structs on the JS thread, the
// producer thread does the rest, and its answers come back through one typed thread-safe function.
#include "producer.h"
#include "log_budget.h"

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kafka/app_producer.h"

namespace cdc_addon {
namespace {

constexpr int kTeardownWaitMs = 10000;

struct ProducerReply {
  enum class Kind { delivered, closed, log } kind = Kind::delivered;
  uint64_t request = 0;
  std::vector<cdc::kafka::DeliveryResult> results;
  cdc::LogLevel level = cdc::LogLevel::info;
  std::string text;
};

struct ProducerBridge;
void CallProducerJs(Napi::Env env, Napi::Function, ProducerBridge* bridge, ProducerReply* raw);
using ProducerChannel = Napi::TypedThreadSafeFunction<ProducerBridge, ProducerReply, CallProducerJs>;

// JS-thread state, owned by the thread-safe function (deleted by its finalizer).
struct ProducerBridge {
  std::unordered_map<uint64_t, Napi::Promise::Deferred> requests;
  std::vector<Napi::Promise::Deferred> close_deferreds;
  Napi::FunctionReference on_log;
  LogBudget log_budget;
  ProducerChannel channel;  // to unref it when no publish is pending
  bool closed = false;
  void* teardown_hook = nullptr;  // ProducerTeardown*, removed once the producer closed
};

struct ProducerTeardown;
void settle_closed(Napi::Env env, ProducerBridge* bridge);

struct ProducerGate {
  std::mutex mutex;
  bool open = true;
};

// False when the reply could not be posted (it is deleted then).
bool send(const std::shared_ptr<ProducerGate>& gate, ProducerChannel& channel, ProducerReply* reply, bool release) {
  std::lock_guard<std::mutex> lock(gate->mutex);
  if (!gate->open) {
    delete reply;
    return false;
  }
  bool posted = channel.NonBlockingCall(reply) == napi_ok;
  if (!posted) delete reply;
  if (release) {
    channel.Release();
    gate->open = false;
  }
  return posted;
}

Napi::Value results_to_js(Napi::Env env, const std::vector<cdc::kafka::DeliveryResult>& results, std::string& error) {
  Napi::Array array = Napi::Array::New(env, results.size());
  for (size_t i = 0; i < results.size(); ++i) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("partition", Napi::Number::New(env, results[i].partition));
    entry.Set("offset", std::to_string(results[i].offset));
    if (!results[i].ok) {
      entry.Set("error", results[i].error);
      if (error.empty()) error = "message " + std::to_string(i) + ": " + results[i].error;
    }
    array.Set(static_cast<uint32_t>(i), entry);
  }
  return array;
}

void CallProducerJs(Napi::Env env, Napi::Function, ProducerBridge* bridge, ProducerReply* raw) {
  std::unique_ptr<ProducerReply> reply(raw);
  if (reply->kind == ProducerReply::Kind::log) bridge->log_budget.give_back();
  if (env == nullptr) return;
  Napi::HandleScope scope(env);
  if (reply->kind == ProducerReply::Kind::log) {
    if (!bridge->on_log.IsEmpty())
      bridge->on_log.Call({Napi::String::New(env, cdc::log_level_name(reply->level)), Napi::String::New(env, reply->text)});
    return;
  }
  if (reply->kind == ProducerReply::Kind::closed) return settle_closed(env, bridge);
  auto it = bridge->requests.find(reply->request);
  if (it == bridge->requests.end()) return;
  std::string error;
  Napi::Value results = results_to_js(env, reply->results, error);
  if (error.empty()) {
    it->second.Resolve(results);
  } else {
    Napi::Error failure = Napi::Error::New(env, error);
    failure.Set("results", results);  // which messages Kafka took, and which it refused
    it->second.Reject(failure.Value());
  }
  bridge->requests.erase(it);
  if (bridge->requests.empty() && bridge->close_deferreds.empty()) bridge->channel.Unref(env);
}

std::string bytes_of(Napi::Value value) {
  if (value.IsBuffer()) {
    Napi::Buffer<char> buffer = value.As<Napi::Buffer<char>>();
    return std::string(buffer.Data(), buffer.Length());
  }
  return value.ToString().Utf8Value();
}

// {topic, key: Buffer|string|null, value: Buffer|string|null, headers: [[name, Buffer|string], ...]}
cdc::kafka::OutgoingMessage message_from_js(Napi::Object object) {
  cdc::kafka::OutgoingMessage message;
  message.topic = object.Get("topic").ToString().Utf8Value();
  Napi::Value key = object.Get("key"), value = object.Get("value"), headers = object.Get("headers");
  if ((message.has_key = !key.IsNull() && !key.IsUndefined())) message.key = bytes_of(key);
  if ((message.has_value = !value.IsNull() && !value.IsUndefined())) message.value = bytes_of(value);
  if (headers.IsArray()) {
    Napi::Array array = headers.As<Napi::Array>();
    for (uint32_t i = 0; i < array.Length(); ++i) {
      Napi::Array pair = array.Get(i).As<Napi::Array>();
      message.headers.emplace_back(pair.Get(0u).ToString().Utf8Value(), bytes_of(pair.Get(1u)));
    }
  }
  return message;
}

struct ProducerTeardown {
  std::shared_ptr<cdc::kafka::AppProducer> producer;
  std::shared_ptr<ProducerGate> gate;
  static void Run(void* arg) {
    std::unique_ptr<ProducerTeardown> hook(static_cast<ProducerTeardown*>(arg));
    hook->producer->close();
    hook->producer->join(kTeardownWaitMs);  // bounded; the environment's JS no longer runs
    std::lock_guard<std::mutex> lock(hook->gate->mutex);
    hook->gate->open = false;
  }
};

void settle_closed(Napi::Env env, ProducerBridge* bridge) {
  bridge->closed = true;
  for (auto& [id, deferred] : bridge->requests) deferred.Reject(Napi::Error::New(env, "producer closed").Value());
  bridge->requests.clear();
  for (auto& deferred : bridge->close_deferreds) deferred.Resolve(env.Undefined());
  bridge->close_deferreds.clear();
  auto* hook = static_cast<ProducerTeardown*>(bridge->teardown_hook);
  if (hook != nullptr && hook->producer->join(0)) {  // its thread made its last call: reap it
    napi_remove_env_cleanup_hook(env, ProducerTeardown::Run, hook);
    delete hook;
    bridge->teardown_hook = nullptr;
  }
}

class ProducerWrap : public Napi::ObjectWrap<ProducerWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Producer",
                       {InstanceMethod<&ProducerWrap::Publish>("publish"), InstanceMethod<&ProducerWrap::Close>("close"),
                        InstanceMethod<&ProducerWrap::Queued>("queued")});
  }

  // new Producer({brokers, properties: [[name, value], ...], maxQueued}, onLog?)
  ProducerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProducerWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "Producer(settings, onLog?)");
    Napi::Object object = info[0].As<Napi::Object>();
    cdc::kafka::ProducerSettings settings;
    settings.brokers = object.Get("brokers").ToString().Utf8Value();
    if (object.Get("maxQueued").IsNumber()) settings.max_queued = object.Get("maxQueued").As<Napi::Number>().Uint32Value();
    Napi::Value properties = object.Get("properties");
    if (properties.IsArray()) {
      Napi::Array array = properties.As<Napi::Array>();
      for (uint32_t i = 0; i < array.Length(); ++i) {
        Napi::Array pair = array.Get(i).As<Napi::Array>();
        settings.properties.emplace_back(pair.Get(0u).ToString().Utf8Value(), pair.Get(1u).ToString().Utf8Value());
      }
    }
    auto bridge = std::make_unique<ProducerBridge>();
    if (info.Length() > 1 && info[1].IsFunction()) bridge->on_log = Napi::Persistent(info[1].As<Napi::Function>());
    bridge_ = bridge.get();
    channel_ = ProducerChannel::New(env, "cdc-cache producer", 0, 1, bridge.release(),
                                    [](Napi::Env, void*, ProducerBridge* context) { delete context; });
    channel_.Unref(env);  // only pending publishes hold the process open
    bridge_->channel = channel_;
    create(env, settings);
  }

  ~ProducerWrap() override {
    if (producer_) producer_->close();  // unreachable from JS: flush what was accepted, then go
  }

 private:
  void create(Napi::Env env, const cdc::kafka::ProducerSettings& settings) {
    ProducerChannel channel = channel_;
    std::shared_ptr<ProducerGate> gate = gate_;
    auto done = [channel, gate](uint64_t request, std::vector<cdc::kafka::DeliveryResult>&& results) mutable {
      auto* reply = new ProducerReply{};
      reply->request = request;
      reply->results = std::move(results);
      send(gate, channel, reply, false);
    };
    auto closed = [channel, gate]() mutable {
      auto* reply = new ProducerReply{};
      reply->kind = ProducerReply::Kind::closed;
      send(gate, channel, reply, true);  // the producer's last call
    };
    LogBudget log_budget = bridge_->log_budget;
    auto log = [channel, gate, log_budget](cdc::LogLevel level, std::string text) mutable {
      if (!log_budget.take()) return;  // JS is not keeping up: dropped
      auto* reply = new ProducerReply{};
      reply->kind = ProducerReply::Kind::log;
      reply->level = level;
      reply->text = std::move(text);
      if (!send(gate, channel, reply, false)) log_budget.give_back();
    };
    std::unique_ptr<cdc::kafka::AppProducer> producer;
    cdc::Status status = cdc::kafka::AppProducer::create(settings, done, closed, log, producer);
    if (!status.ok()) {
      channel_.Release();
      bridge_ = nullptr;
      throw Napi::Error::New(env, status.message());
    }
    producer_ = std::shared_ptr<cdc::kafka::AppProducer>(producer.release());
    auto* hook = new ProducerTeardown{producer_, gate_};
    if (napi_add_env_cleanup_hook(env, ProducerTeardown::Run, hook) == napi_ok) {
      bridge_->teardown_hook = hook;
    } else {
      delete hook;
    }
  }

  Napi::Value Publish(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "publish(messages: object[])");
    Napi::Array array = info[0].As<Napi::Array>();
    std::vector<cdc::kafka::OutgoingMessage> messages;
    messages.reserve(array.Length());
    for (uint32_t i = 0; i < array.Length(); ++i) messages.push_back(message_from_js(array.Get(i).As<Napi::Object>()));
    Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
    if (bridge_ == nullptr || bridge_->closed) {
      deferred.Reject(Napi::Error::New(env, "producer closed").Value());
      return deferred.Promise();
    }
    const uint64_t id = ++next_request_;
    cdc::Status status = producer_->publish(id, std::move(messages));
    if (!status.ok()) {
      deferred.Reject(Napi::Error::New(env, status.message()).Value());
      return deferred.Promise();
    }
    if (bridge_->requests.empty()) channel_.Ref(env);
    bridge_->requests.emplace(id, deferred);
    return deferred.Promise();
  }

  // Resolves once every accepted publish was answered and the producer is gone.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
    if (bridge_ == nullptr || bridge_->closed) {
      deferred.Resolve(env.Undefined());
      return deferred.Promise();
    }
    bridge_->close_deferreds.push_back(deferred);
    channel_.Ref(env);
    producer_->close();  // never blocks: the producer thread flushes and reports `closed`
    return deferred.Promise();
  }

  Napi::Value Queued(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), producer_ ? static_cast<double>(producer_->queued()) : 0);
  }

  std::shared_ptr<cdc::kafka::AppProducer> producer_;
  std::shared_ptr<ProducerGate> gate_ = std::make_shared<ProducerGate>();
  ProducerChannel channel_;
  ProducerBridge* bridge_ = nullptr;  // owned by channel_
  uint64_t next_request_ = 0;
};

}  // namespace

void register_producer(Napi::Env env, Napi::Object exports) { exports.Set("Producer", ProducerWrap::Define(env)); }

}  // namespace cdc_addon
