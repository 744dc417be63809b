// Node glue for the read side's LeaseClient: JS ops -> ReadRequests, results back in batches
// through one typed thread-safe function. No logic lives here.
//
//   const reader = new Reader({ url, connectTimeoutMs, commandTimeoutMs, markerPrefix, markerSuffix,
//                               leaseMs }, onResults);
//   reader.submit([op, id, key, token, value, ttlMs, op, id, ...]);   // stride 6
//   onResults(ids: number[], outcomes: number[], values: (string | undefined)[])
//   reader.close(): Promise<void>;  reader.stats()
#include "reader.h"

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "cache/lease_client.h"

namespace {

constexpr int kTeardownWaitMs = 5000;
constexpr uint32_t kStride = 6;

struct ReaderMessage {
  bool closed = false;
  std::vector<cdc::ReadResult> results;
};

struct ReaderBridge {
  Napi::FunctionReference on_results;
  std::vector<Napi::Promise::Deferred> close_deferreds;
  bool closed = false;
  void* teardown_hook = nullptr;
};

void ReaderCallJs(Napi::Env env, Napi::Function, ReaderBridge* bridge, ReaderMessage* raw);
using ReaderChannel = Napi::TypedThreadSafeFunction<ReaderBridge, ReaderMessage, ReaderCallJs>;

// As the engine's: once the environment is gone the client thread never touches the channel.
struct ReaderGate {
  std::mutex mutex;
  bool open = true;
};

struct ReaderTeardown {
  std::shared_ptr<cdc::LeaseClient> client;
  std::shared_ptr<ReaderGate> gate;
  static void Run(void* arg) {
    std::unique_ptr<ReaderTeardown> hook(static_cast<ReaderTeardown*>(arg));
    hook->client->close();
    hook->client->join(kTeardownWaitMs);
    std::lock_guard<std::mutex> lock(hook->gate->mutex);
    hook->gate->open = false;
  }
};

void reader_post(const std::shared_ptr<ReaderGate>& gate, ReaderChannel& channel, ReaderMessage* message,
                 bool release) {
  std::lock_guard<std::mutex> lock(gate->mutex);
  if (!gate->open) {
    delete message;
    return;
  }
  if (channel.NonBlockingCall(message) != napi_ok) delete message;
  if (release) channel.Release();
}

Napi::Value results_call(Napi::Env env, ReaderBridge* bridge, const std::vector<cdc::ReadResult>& results) {
  Napi::Array ids = Napi::Array::New(env, results.size());
  Napi::Array outcomes = Napi::Array::New(env, results.size());
  Napi::Array values = Napi::Array::New(env, results.size());
  for (uint32_t i = 0; i < results.size(); ++i) {
    const cdc::ReadResult& result = results[i];
    ids.Set(i, Napi::Number::New(env, static_cast<double>(result.id)));
    outcomes.Set(i, Napi::Number::New(env, static_cast<int>(result.outcome)));
    if (!result.value.empty() || result.outcome == cdc::ReadOutcome::hit)
      values.Set(i, Napi::String::New(env, result.value));
  }
  return bridge->on_results.Call({ids, outcomes, values});
}

void ReaderCallJs(Napi::Env env, Napi::Function, ReaderBridge* bridge, ReaderMessage* raw) {
  std::unique_ptr<ReaderMessage> message(raw);
  if (env == nullptr) return;
  Napi::HandleScope scope(env);
  try {
    if (!message->results.empty() && !bridge->on_results.IsEmpty()) results_call(env, bridge, message->results);
    if (message->closed) {
      bridge->closed = true;
      for (auto& deferred : bridge->close_deferreds) deferred.Resolve(env.Undefined());
      bridge->close_deferreds.clear();
      auto* hook = static_cast<ReaderTeardown*>(bridge->teardown_hook);
      if (hook != nullptr && hook->client->join(0)) {  // normally done: reap without blocking
        napi_remove_env_cleanup_hook(env, ReaderTeardown::Run, hook);
        delete hook;
        bridge->teardown_hook = nullptr;
      }
    }
  } catch (const Napi::Error& error) {
    napi_fatal_exception(env, error.Value());
  }
}

int int_option(Napi::Object options, const char* name, int fallback) {
  Napi::Value value = options.Get(name);
  return value.IsNumber() ? value.As<Napi::Number>().Int32Value() : fallback;
}

std::string string_option(Napi::Object options, const char* name, std::string fallback) {
  Napi::Value value = options.Get(name);
  return value.IsString() ? value.As<Napi::String>().Utf8Value() : fallback;
}

// options.tls (validated by lib/options.ts): the same redis.tls the engine gets; absent: none.
cdc::Status configure_tls(Napi::Object options, cdc::RedisEndpoint& endpoint) {
  Napi::Value value = options.Get("tls");
  if (!value.IsObject()) return cdc::configure_redis_tls(nullptr, endpoint);
  Napi::Object tls = value.As<Napi::Object>();
  cdc::RedisTlsSettings settings;
  settings.ca = string_option(tls, "ca", "");
  settings.cert = string_option(tls, "cert", "");
  settings.key = string_option(tls, "key", "");
  settings.servername = string_option(tls, "servername", "");
  Napi::Value reject = tls.Get("rejectUnauthorized");
  settings.reject_unauthorized = !reject.IsBoolean() || reject.As<Napi::Boolean>().Value();
  return cdc::configure_redis_tls(&settings, endpoint);
}

class ReaderWrap : public Napi::ObjectWrap<ReaderWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Reader",
                       {InstanceMethod<&ReaderWrap::Submit>("submit"), InstanceMethod<&ReaderWrap::Close>("close"),
                        InstanceMethod<&ReaderWrap::Idle>("idle"), InstanceMethod<&ReaderWrap::Stats>("stats")});
  }

  ReaderWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ReaderWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction())
      throw Napi::TypeError::New(env, "Reader(options, onResults): an options object and a function");
    Napi::Object options = info[0].As<Napi::Object>();
    cdc::LeaseClientOptions client_options;
    cdc::Status status = cdc::parse_redis_url(string_option(options, "url", ""), client_options.endpoint);
    if (!status.ok()) throw Napi::Error::New(env, status.message());
    status = configure_tls(options, client_options.endpoint);
    if (!status.ok()) throw Napi::Error::New(env, status.message());
    if (options.Get("clusterNodes").IsArray()) {  // validated by lib/options.ts: host:port strings
      Napi::Array nodes = options.Get("clusterNodes").As<Napi::Array>();
      for (uint32_t i = 0; i < nodes.Length(); ++i) {
        cdc::ClusterAddress address;
        status = cdc::parse_cluster_address(nodes.Get(i).ToString().Utf8Value(), address);
        if (!status.ok()) throw Napi::Error::New(env, "redis.cluster.nodes[" + std::to_string(i) + "]: " + status.message());
        client_options.cluster_nodes.push_back(std::move(address));
      }
    }
    client_options.redis.connect_timeout_ms = int_option(options, "connectTimeoutMs", 2000);
    client_options.redis.command_timeout_ms = int_option(options, "commandTimeoutMs", 5000);
    client_options.lease_ms = int_option(options, "leaseMs", 10000);
    client_options.marker_prefix = string_option(options, "markerPrefix", client_options.marker_prefix);
    client_options.marker_suffix = string_option(options, "markerSuffix", "");

    auto bridge = std::make_unique<ReaderBridge>();
    bridge->on_results = Napi::Persistent(info[1].As<Napi::Function>());
    bridge_ = bridge.get();
    channel_ = ReaderChannel::New(env, "cdc-cache reader", 0, 1, bridge.release(),
                                  [](Napi::Env, void*, ReaderBridge* context) { delete context; });
    channel_.Unref(env);  // an idle reader never holds the process open

    ReaderChannel channel = channel_;
    std::shared_ptr<ReaderGate> gate = gate_;
    auto deliver = [channel, gate](std::vector<cdc::ReadResult>&& results) mutable {
      reader_post(gate, channel, new ReaderMessage{false, std::move(results)}, false);
    };
    auto closed = [channel, gate]() mutable { reader_post(gate, channel, new ReaderMessage{true, {}}, true); };
    client_ = std::make_shared<cdc::LeaseClient>(std::move(client_options), deliver, closed);
    client_->start();
    auto* hook = new ReaderTeardown{client_, gate_};
    if (napi_add_env_cleanup_hook(env, ReaderTeardown::Run, hook) == napi_ok) {
      bridge_->teardown_hook = hook;
    } else {
      delete hook;
    }
  }

  ~ReaderWrap() override {
    if (client_) client_->close();  // the thread ends by itself; the teardown hook reaps it
  }

 private:
  Napi::Value Submit(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "submit(ops): an array");
    Napi::Array ops = info[0].As<Napi::Array>();
    uint32_t length = ops.Length();
    if (length % kStride != 0) throw Napi::TypeError::New(env, "submit(ops): length must be a multiple of 6");
    std::vector<cdc::ReadRequest> requests(length / kStride);
    for (uint32_t i = 0; i < requests.size(); ++i) {
      cdc::ReadRequest& request = requests[i];
      uint32_t at = i * kStride;
      const int32_t op = ops.Get(at).As<Napi::Number>().Int32Value();
      if (op < 0 || op > static_cast<int32_t>(cdc::ReadOp::record)) throw Napi::TypeError::New(env, "submit(ops): unknown op");
      request.op = static_cast<cdc::ReadOp>(op);
      request.id = static_cast<uint64_t>(ops.Get(at + 1).As<Napi::Number>().Int64Value());
      request.key = ops.Get(at + 2).As<Napi::String>().Utf8Value();
      Napi::Value token = ops.Get(at + 3), value = ops.Get(at + 4), ttl = ops.Get(at + 5);
      if (token.IsString()) request.token = token.As<Napi::String>().Utf8Value();
      if (value.IsString()) request.value = value.As<Napi::String>().Utf8Value();
      if (ttl.IsNumber()) request.ttl_ms = ttl.As<Napi::Number>().Int64Value();
    }
    bool queued = !bridge_->closed && client_->submit(std::move(requests));
    if (queued && !referenced_) {
      channel_.Ref(env);  // answers are pending: keep the process alive for them
      referenced_ = true;
    }
    return Napi::Boolean::New(env, queued);
  }

  // The JS layer calls this when no answer is pending: an idle reader does not hold the process.
  Napi::Value Idle(const Napi::CallbackInfo& info) {
    if (referenced_) {
      channel_.Unref(info.Env());
      referenced_ = false;
    }
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
    if (bridge_->closed) {
      deferred.Resolve(env.Undefined());
      return deferred.Promise();
    }
    bridge_->close_deferreds.push_back(deferred);
    client_->close();
    return deferred.Promise();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    cdc::LeaseClientStats stats = client_->stats();
    Napi::Object object = Napi::Object::New(env);
    auto count = [&](uint64_t value) { return Napi::Number::New(env, static_cast<double>(value)); };
    object.Set("roundTrips", count(stats.round_trips));
    object.Set("commands", count(stats.commands));
    object.Set("errors", count(stats.errors));
    object.Set("reconnects", count(stats.reconnects));
    object.Set("noscript", count(stats.noscript));
    object.Set("connected", stats.connected);
    return object;
  }

  std::shared_ptr<cdc::LeaseClient> client_;
  std::shared_ptr<ReaderGate> gate_ = std::make_shared<ReaderGate>();
  ReaderChannel channel_;
  ReaderBridge* bridge_ = nullptr;  // owned by channel_
  bool referenced_ = false;
};

}  // namespace

namespace cdc_addon {

void RegisterReader(Napi::Env env, Napi::Object exports) { exports.Set("Reader", ReaderWrap::Define(env)); }

}  // namespace cdc_addon
