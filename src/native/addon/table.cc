// Node glue for cdc::table::Table: JS settings -> plain struct, the table's threads -> one typed
// thread-safe function, batches -> flat JS arrays, lookups in the table's store. No logic: the JS
// side (lib/table.ts) holds the parsed values it read, readiness and promises.
#include "table.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "table/applier.h"
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

// One packed text of a batch as a JS value: a string, or a Buffer for valueAsBuffer values.
napi_value packed_to_js(Napi::Env env, const std::string& buffer, uint32_t start, uint32_t end, bool ascii, bool as_buffer) {
  if (as_buffer) return Napi::Buffer<char>::Copy(env, buffer.data() + start, end - start);
  return text_to_js(env, buffer.data() + start, end - start, ascii);
}

// A batch as flat arrays: keys, values and previous values (null unless reported and there),
// kinds, reported flags, partitions, offsets, and positions as [partition, position, highWatermark]
// triples. Only the records the owner must know of are in it: usually few.
Napi::Object batch_to_js(Napi::Env env, const TableBridge& bridge, const cdc::table::Batch& batch) {
  namespace t = cdc::table;
  size_t n = batch.size();
  Napi::Array keys = Napi::Array::New(env, n), values = Napi::Array::New(env, n), previous = Napi::Array::New(env, n);
  Napi::Uint8Array kinds = Napi::Uint8Array::New(env, n), reported = Napi::Uint8Array::New(env, n);
  Napi::Int32Array partitions = Napi::Int32Array::New(env, n);
  Napi::Float64Array offsets = Napi::Float64Array::New(env, n);
  for (size_t i = 0; i < n; ++i) {
    auto index = static_cast<uint32_t>(i);
    uint8_t flags = batch.flags[i];
    uint32_t key_start = i == 0 ? 0 : batch.key_ends[i - 1], value_start = i == 0 ? 0 : batch.value_ends[i - 1];
    uint32_t previous_start = i == 0 ? 0 : batch.previous_ends[i - 1];
    bool key_latin1 = (flags & t::kKeyAscii) != 0 || bridge.key_as_buffer;
    napi_set_element(env, keys, index, packed_to_js(env, batch.keys, key_start, batch.key_ends[i], key_latin1, false));
    bool has_value = (flags & t::kReported) != 0 && batch.kinds[i] == t::RecordKind::upsert;
    napi_set_element(env, values, index, has_value ? packed_to_js(env, batch.values, value_start, batch.value_ends[i], (flags & t::kValueAscii) != 0, bridge.value_as_buffer)
                                                   : static_cast<napi_value>(env.Null()));
    napi_set_element(env, previous, index, (flags & t::kHadPrevious) != 0 ? packed_to_js(env, batch.previous, previous_start, batch.previous_ends[i], (flags & t::kPreviousAscii) != 0, bridge.value_as_buffer)
                                                                          : static_cast<napi_value>(env.Null()));
    kinds[i] = static_cast<uint8_t>(batch.kinds[i]);
    reported[i] = (flags & t::kReported) != 0 ? 1 : 0;
    partitions[i] = batch.partitions[i];
    offsets[i] = static_cast<double>(batch.offsets[i]);
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
  object.Set("previous", previous);
  object.Set("kinds", kinds);
  object.Set("reported", reported);
  object.Set("partitions", partitions);
  object.Set("offsets", offsets);
  object.Set("positions", positions);
  object.Set("decodeErrors", Napi::Number::New(env, static_cast<double>(batch.decode_errors)));
  object.Set("bytes", Napi::Number::New(env, static_cast<double>(batch.bytes)));
  if (!batch.failure.empty()) object.Set("failure", Napi::String::New(env, batch.failure));
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
  settings.json_keys = bool_field(object, "jsonKeys");
  settings.text_keys = bool_field(object, "textKeys");
  settings.report_changes = bool_field(object, "reportChanges");
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
  Napi::Value max_bytes = object.Get("maxBytes");
  if (max_bytes.IsNumber()) settings.max_bytes = static_cast<uint64_t>(max_bytes.As<Napi::Number>().DoubleValue());
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
                        InstanceMethod<&TableWrap::RequestEnds>("requestEnds"), InstanceMethod<&TableWrap::Close>("close"),
                        InstanceMethod<&TableWrap::Read>("read"), InstanceMethod<&TableWrap::Has>("has"),
                        InstanceMethod<&TableWrap::Entries>("entries"), InstanceMethod<&TableWrap::Snapshot>("snapshot"),
                        InstanceMethod<&TableWrap::ReportChanges>("reportChanges")});
  }

  // new Table(settings, onEvent): starts reading at once.
  TableWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TableWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction())
      throw Napi::TypeError::New(env, "Table(settings, onEvent): settings must be an object, onEvent a function");
    auto bridge = std::make_unique<TableBridge>();
    key_as_buffer_ = bool_field(info[0].As<Napi::Object>(), "keyAsBuffer");
    value_as_buffer_ = bool_field(info[0].As<Napi::Object>(), "valueAsBuffer");
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

  // read(mapKey): the value (a string, or a Buffer), or undefined. The store remembers that the
  // owner now holds a copy, so a later write of the key is reported to it.
  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    napi_value out = env.Undefined();
    table_->store().read(key_from_js(info), [&](std::string_view value) {
      out = value_as_buffer_ ? Napi::Buffer<char>::Copy(env, value.data(), value.size())
                             : text_to_js(env, value.data(), value.size(), cdc::table::is_ascii(value));
    });
    return Napi::Value(env, out);
  }

  Napi::Value Has(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), table_->store().contains(key_from_js(info)));
  }

  Napi::Value Entries(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(table_->store().entries()));
  }

  // snapshot(withValues): [keys, values] of every entry (values empty unless asked for).
  Napi::Value Snapshot(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bool with_values = info.Length() > 0 && info[0].ToBoolean().Value();
    std::vector<std::string> keys, values;  // copied under the store's lock, turned into JS values after it
    table_->store().for_each([&](std::string_view key, std::string_view value) {
      keys.emplace_back(key);
      if (with_values) values.emplace_back(value);
    });
    Napi::Array out = Napi::Array::New(env, 2), key_array = Napi::Array::New(env, keys.size()), value_array = Napi::Array::New(env, values.size());
    for (size_t i = 0; i < keys.size(); ++i)
      napi_set_element(env, key_array, static_cast<uint32_t>(i), text_to_js(env, keys[i].data(), keys[i].size(), key_as_buffer_ || cdc::table::is_ascii(keys[i])));
    for (size_t i = 0; i < values.size(); ++i) {
      const std::string& value = values[i];
      napi_value js_value = value_as_buffer_ ? Napi::Buffer<char>::Copy(env, value.data(), value.size())
                                             : text_to_js(env, value.data(), value.size(), cdc::table::is_ascii(value));
      napi_set_element(env, value_array, static_cast<uint32_t>(i), js_value);
    }
    out.Set(0u, key_array);
    out.Set(1u, value_array);
    return out;
  }

  void ReportChanges(const Napi::CallbackInfo& info) { table_->report_changes(info[0].ToBoolean().Value()); }

  // A map key as the store holds it: Latin-1 bytes for Buffer keys, UTF-8 otherwise.
  std::string_view key_from_js(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "expected a key string");
    size_t size = 0;
    auto get = key_as_buffer_ ? napi_get_value_string_latin1 : napi_get_value_string_utf8;
    get(env, info[0], nullptr, 0, &size);
    key_buffer_.resize(size + 1);
    get(env, info[0], key_buffer_.data(), key_buffer_.size(), &size);
    return std::string_view(key_buffer_.data(), size);
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
  bool key_as_buffer_ = false, value_as_buffer_ = false;
  std::string key_buffer_;  // the key of the last lookup
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
