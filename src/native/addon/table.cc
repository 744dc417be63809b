// Node glue for cdc::table::Table: JS settings -> plain struct, the table's threads -> one typed
// thread-safe function, batches -> flat JS arrays. No logic: the JS side (lib/table.ts) holds the
// map, readiness and promises.
#include "table.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "table/table.h"
#include "log_budget.h"
#include "thread_safe_callback.h"

namespace {

using cdc_addon::LogBudget;

constexpr int kTeardownWaitMs = 10000;

struct TableMessage {
  enum class Kind { opened, batch, put, ends, partitions, log, closed } kind = Kind::log;
  bool ok = true;
  std::string text;
  uint64_t token = 0;
  int32_t partition = 0;
  int64_t offset = 0;
  cdc::table::LogLevel level = cdc::table::LogLevel::info;
  std::vector<cdc::table::PartitionEnd> ends;
  cdc::table::Batch batch;
};

struct TableBridge {
  Napi::FunctionReference on_event;  // onEvent(kind, ...): one entry point keeps the glue small
  Napi::ObjectReference self;        // keeps the wrapper alive while the table runs
  bool key_as_buffer = false, value_as_buffer = false;
  LogBudget log_budget;
};

void CallTableJs(Napi::Env env, Napi::Function, TableBridge* bridge, TableMessage* raw);
using TableChannel = cdc_addon::ThreadSafeCallback<TableBridge, TableMessage, CallTableJs>;

// Environment teardown: stop the table and wait (bounded) for its thread, as the engine's hook does.
struct TableTeardown {
  std::shared_ptr<cdc::table::Table> table;
  TableChannel channel;
  static void Run(void* arg) {
    std::unique_ptr<TableTeardown> hook(static_cast<TableTeardown*>(arg));
    hook->table->stop();
    hook->table->join(kTeardownWaitMs);
    hook->channel.close();
  }
};

Napi::Array ends_to_js(Napi::Env env, const std::vector<cdc::table::PartitionEnd>& ends) {
  Napi::Array array = Napi::Array::New(env, ends.size());
  for (size_t i = 0; i < ends.size(); ++i) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("partition", Napi::Number::New(env, ends[i].partition));
    entry.Set("start", Napi::Number::New(env, static_cast<double>(ends[i].start)));
    entry.Set("end", Napi::Number::New(env, static_cast<double>(ends[i].end)));
    array.Set(static_cast<uint32_t>(i), entry);
  }
  return array;
}

// Bytes as a JS string: ASCII (checked on the table thread) is taken as Latin-1, a plain copy; a
// Buffer key is Latin-1 too (one char per byte: the map key); anything else is decoded as UTF-8.
napi_value text_to_js(napi_env env, const char* data, size_t size, bool latin1) {
  napi_value out = nullptr;
  napi_status status = latin1 ? napi_create_string_latin1(env, data, size, &out) : napi_create_string_utf8(env, data, size, &out);
  if (status != napi_ok) throw Napi::Error::New(env, "table: cannot create a string");
  return out;
}

// Keys and values as two arrays of strings (values: null unless an upsert; a Buffer with
// valueAsBuffer), built with the C API in one loop: the only per-record work left on the JS thread.
void strings_to_js(Napi::Env env, const TableBridge& bridge, const cdc::table::Batch& batch, Napi::Array keys,
                   Napi::Array values) {
  uint32_t key_start = 0, value_start = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    auto index = static_cast<uint32_t>(i);
    const char* key = batch.keys.data() + key_start;
    size_t key_size = batch.key_ends[i] - key_start;
    bool key_ascii = (batch.ascii[i] & cdc::table::kKeyAscii) != 0;
    napi_set_element(env, keys, index, text_to_js(env, key, key_size, key_ascii || bridge.key_as_buffer));
    const char* value = batch.values.data() + value_start;
    size_t value_size = batch.value_ends[i] - value_start;
    napi_value js_value = nullptr;
    if (batch.kinds[i] != cdc::table::RecordKind::upsert) {
      js_value = env.Null();
    } else if (bridge.value_as_buffer) {
      js_value = Napi::Buffer<char>::Copy(env, value, value_size);
    } else {
      js_value = text_to_js(env, value, value_size, (batch.ascii[i] & cdc::table::kValueAscii) != 0);
    }
    napi_set_element(env, values, index, js_value);
    key_start = batch.key_ends[i];
    value_start = batch.value_ends[i];
  }
}

// A batch as flat arrays: keys, values, kinds, partitions, offsets, bytes held after each record,
// and positions as [partition, position, highWatermark] triples.
Napi::Object batch_to_js(Napi::Env env, const TableBridge& bridge, const cdc::table::Batch& batch) {
  size_t n = batch.size();
  Napi::Array keys = Napi::Array::New(env, n);
  Napi::Array values = Napi::Array::New(env, n);
  strings_to_js(env, bridge, batch, keys, values);
  Napi::Uint8Array kinds = Napi::Uint8Array::New(env, n);
  Napi::Int32Array partitions = Napi::Int32Array::New(env, n);
  Napi::Float64Array offsets = Napi::Float64Array::New(env, n);
  Napi::Float64Array totals = Napi::Float64Array::New(env, n);
  for (size_t i = 0; i < n; ++i) {
    kinds[i] = static_cast<uint8_t>(batch.kinds[i]);
    partitions[i] = batch.partitions[i];
    offsets[i] = static_cast<double>(batch.offsets[i]);
    totals[i] = static_cast<double>(batch.totals[i]);
  }
  Napi::Float64Array positions = Napi::Float64Array::New(env, batch.positions.size() * 3);
  for (size_t i = 0; i < batch.positions.size(); ++i) {
    positions[i * 3] = batch.positions[i].partition;
    positions[i * 3 + 1] = static_cast<double>(batch.positions[i].position);
    positions[i * 3 + 2] = static_cast<double>(batch.positions[i].high_watermark);
  }
  Napi::Object object = Napi::Object::New(env);
  object.Set("keys", keys);
  object.Set("values", values);
  object.Set("kinds", kinds);
  object.Set("partitions", partitions);
  object.Set("offsets", offsets);
  object.Set("totals", totals);
  object.Set("positions", positions);
  object.Set("decodeErrors", Napi::Number::New(env, static_cast<double>(batch.decode_errors)));
  return object;
}

Napi::Value error_or_null(Napi::Env env, const TableMessage& message) {
  return message.ok ? env.Null() : Napi::String::New(env, message.text);
}

void CallTableJs(Napi::Env env, Napi::Function, TableBridge* bridge, TableMessage* raw) {
  std::unique_ptr<TableMessage> message(raw);
  if (message->kind == TableMessage::Kind::log) bridge->log_budget.give_back();
  if (env == nullptr || bridge->on_event.IsEmpty()) return;
  Napi::HandleScope scope(env);
  using Kind = TableMessage::Kind;
  try {
    switch (message->kind) {
      case Kind::opened:
        bridge->on_event.Call({Napi::String::New(env, "opened"), error_or_null(env, *message), ends_to_js(env, message->ends)});
        break;
      case Kind::batch:
        bridge->on_event.Call({Napi::String::New(env, "batch"), batch_to_js(env, *bridge, message->batch)});
        break;
      case Kind::put:
        bridge->on_event.Call({Napi::String::New(env, "put"), Napi::Number::New(env, static_cast<double>(message->token)),
                               error_or_null(env, *message), Napi::Number::New(env, message->partition),
                               Napi::Number::New(env, static_cast<double>(message->offset))});
        break;
      case Kind::ends:
        bridge->on_event.Call({Napi::String::New(env, "ends"), Napi::Number::New(env, static_cast<double>(message->token)),
                               error_or_null(env, *message), ends_to_js(env, message->ends)});
        break;
      case Kind::partitions:
        bridge->on_event.Call({Napi::String::New(env, "partitions"), ends_to_js(env, message->ends)});
        break;
      case Kind::log:
        bridge->on_event.Call({Napi::String::New(env, "log"), Napi::String::New(env, cdc::log_level_name(message->level)),
                               Napi::String::New(env, message->text)});
        break;
      case Kind::closed:
        if (!bridge->self.IsEmpty()) bridge->self.Reset();
        bridge->on_event.Call({Napi::String::New(env, "closed")});
        break;
    }
  } catch (const Napi::Error& error) {
    napi_fatal_exception(env, error.Value());
  }
}

std::string string_field(Napi::Object object, const char* name) {
  Napi::Value value = object.Get(name);
  if (!value.IsString()) throw Napi::TypeError::New(object.Env(), std::string("table settings: ") + name + " must be a string");
  return value.As<Napi::String>().Utf8Value();
}

bool bool_field(Napi::Object object, const char* name) {
  Napi::Value value = object.Get(name);
  return value.IsBoolean() && value.As<Napi::Boolean>().Value();
}

// {brokers, topic, properties: [[name, value], ...], debezium, jsonValues, writable, keyAsBuffer, valueAsBuffer}
cdc::table::Settings settings_from_js(Napi::Object object, TableBridge& bridge) {
  cdc::table::Settings settings;
  settings.brokers = string_field(object, "brokers");
  settings.topic = string_field(object, "topic");
  settings.debezium = bool_field(object, "debezium");
  settings.json_values = bool_field(object, "jsonValues");
  settings.writable = bool_field(object, "writable");
  bridge.key_as_buffer = bool_field(object, "keyAsBuffer");
  bridge.value_as_buffer = bool_field(object, "valueAsBuffer");
  Napi::Value properties = object.Get("properties");
  if (properties.IsArray()) {
    Napi::Array array = properties.As<Napi::Array>();
    for (uint32_t i = 0; i < array.Length(); ++i) {
      Napi::Array pair = array.Get(i).As<Napi::Array>();
      settings.properties.emplace_back(pair.Get(0u).ToString().Utf8Value(), pair.Get(1u).ToString().Utf8Value());
    }
  }
  Napi::Value batch_records = object.Get("batchRecords");
  if (batch_records.IsNumber()) settings.batch_records = batch_records.As<Napi::Number>().Uint32Value();
  return settings;
}

cdc::table::Callbacks make_callbacks(TableChannel channel, TableBridge* bridge) {
  using Kind = TableMessage::Kind;
  auto send = [channel](TableMessage* message) { return channel.post(message); };
  cdc::table::Callbacks callbacks;
  callbacks.opened = [send](const cdc::Status& status, std::vector<cdc::table::PartitionEnd> ends) mutable {
    send(new TableMessage{Kind::opened, status.ok(), status.message(), 0, 0, 0, {}, std::move(ends), {}});
  };
  callbacks.batch = [send](cdc::table::Batch&& batch) mutable {
    auto* message = new TableMessage{};
    message->kind = Kind::batch;
    message->batch = std::move(batch);
    send(message);
  };
  callbacks.put_done = [send](uint64_t token, const cdc::Status& status, int32_t partition, int64_t offset) mutable {
    send(new TableMessage{Kind::put, status.ok(), status.message(), token, partition, offset, {}, {}, {}});
  };
  callbacks.ends = [send](uint64_t token, const cdc::Status& status, std::vector<cdc::table::PartitionEnd> ends) mutable {
    send(new TableMessage{Kind::ends, status.ok(), status.message(), token, 0, 0, {}, std::move(ends), {}});
  };
  callbacks.partitions_added = [send](std::vector<cdc::table::PartitionEnd> ends) mutable {
    send(new TableMessage{Kind::partitions, true, "", 0, 0, 0, {}, std::move(ends), {}});
  };
  LogBudget log_budget = bridge->log_budget;  // shares the bridge's count; outlives the bridge if need be
  callbacks.log = [send, log_budget](cdc::table::LogLevel level, std::string text) mutable {
    if (!log_budget.take()) return;  // JS is not keeping up: dropped
    if (!send(new TableMessage{Kind::log, true, std::move(text), 0, 0, 0, level, {}, {}})) log_budget.give_back();
  };
  callbacks.closed = [channel]() {
    channel.post_last(new TableMessage{Kind::closed, true, "", 0, 0, 0, {}, {}, {}});
  };
  return callbacks;
}

class TableWrap : public Napi::ObjectWrap<TableWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Table",
                       {InstanceMethod<&TableWrap::AckBatch>("ackBatch"), InstanceMethod<&TableWrap::Put>("put"),
                        InstanceMethod<&TableWrap::RequestEnds>("requestEnds"), InstanceMethod<&TableWrap::Close>("close")});
  }

  // new Table(settings, onEvent): starts reading at once.
  TableWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TableWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction())
      throw Napi::TypeError::New(env, "Table(settings, onEvent): settings must be an object, onEvent a function");
    auto bridge = std::make_unique<TableBridge>();
    cdc::table::Settings settings = settings_from_js(info[0].As<Napi::Object>(), *bridge);
    bridge->on_event = Napi::Persistent(info[1].As<Napi::Function>());
    TableBridge* raw_bridge = bridge.get();
    channel_ = TableChannel(env, "cdc-cache table", bridge.release());
    std::unique_ptr<cdc::table::Table> table;
    cdc::Status status = cdc::table::Table::create(std::move(settings), make_callbacks(channel_, raw_bridge), table);
    if (status.ok()) status = table->start();
    if (!status.ok()) {
      channel_.release_unused();
      throw Napi::Error::New(env, status.message());
    }
    table_ = std::shared_ptr<cdc::table::Table>(table.release());
    raw_bridge->self = Napi::Persistent(Value());
    auto* hook = new TableTeardown{table_, channel_};
    if (napi_add_env_cleanup_hook(env, TableTeardown::Run, hook) == napi_ok) {
      hook_ = hook;
    } else {
      delete hook;
    }
  }

  ~TableWrap() override {
    // Unreachable from JS only once closed (a running table holds itself through bridge->self).
    if (table_) table_->stop();
  }

 private:
  void AckBatch(const Napi::CallbackInfo&) { table_->ack_batch(); }

  // put(token, key: Buffer, value: Buffer | null): throws when the producer refuses it at once.
  void Put(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsBuffer() || !(info[2].IsBuffer() || info[2].IsNull()))
      throw Napi::TypeError::New(env, "put(token, key: Buffer, value: Buffer | null)");
    auto key = info[1].As<Napi::Buffer<char>>();
    std::string value;
    bool is_null = info[2].IsNull();
    if (!is_null) {
      auto buffer = info[2].As<Napi::Buffer<char>>();
      value.assign(buffer.Data(), buffer.Length());
    }
    cdc::Status status = table_->put(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()),
                                     std::string(key.Data(), key.Length()), std::move(value), is_null);
    if (!status.ok()) throw Napi::Error::New(env, status.message());
  }

  void RequestEnds(const Napi::CallbackInfo& info) {
    table_->request_ends(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()));
  }

  // Never blocks: the table thread finishes and reports "closed".
  void Close(const Napi::CallbackInfo& info) {
    table_->stop();
    if (hook_ != nullptr && table_->join(0)) {  // already finished: the hook is not needed
      napi_remove_env_cleanup_hook(info.Env(), TableTeardown::Run, hook_);
      delete hook_;
      hook_ = nullptr;
    }
  }

  std::shared_ptr<cdc::table::Table> table_;
  TableChannel channel_;
  TableTeardown* hook_ = nullptr;
};

}  // namespace

namespace cdc_addon {

void register_table(Napi::Env env, Napi::Object exports) {
  Napi::Function constructor = TableWrap::Define(env);
  // Kept alive by the exports object for the environment's lifetime.
  exports.Set("Table", constructor);
  exports.Set("tablesAlive", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return Napi::Number::New(info.Env(), static_cast<double>(cdc::table::Table::alive()));
              }, "tablesAlive"));
}

}  // namespace cdc_addon
