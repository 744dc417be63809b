#include "app_messages.h"

#include <string>

namespace cdc_addon {
namespace {

Napi::Value bytes_to_js(Napi::Env env, const std::string& bytes, bool as_buffer) {
  if (as_buffer) return Napi::Buffer<char>::Copy(env, bytes.data(), bytes.size());
  return Napi::String::New(env, bytes);
}

}  // namespace

Napi::Array app_messages_to_js(Napi::Env env, const std::vector<cdc::HandlerEvent>& events) {
  Napi::Function parse = env.Global().Get("JSON").As<Napi::Object>().Get("parse").As<Napi::Function>();
  Napi::Array array = Napi::Array::New(env, events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    const cdc::HandlerEvent& event = events[i];
    const auto decode = static_cast<cdc::MessageDecode>(event.decode);
    const bool as_buffer = decode == cdc::MessageDecode::buffer;
    Napi::Object object = Napi::Object::New(env);
    object.Set("topic", event.topic);
    object.Set("partition", Napi::Number::New(env, event.partition));
    object.Set("offset", std::to_string(event.offset));
    object.Set("timestampMs", Napi::Number::New(env, static_cast<double>(event.timestamp_ms)));
    object.Set("key", event.has_key ? bytes_to_js(env, event.key_json, as_buffer) : env.Null());
    Napi::Value value = env.Null();
    if (event.has_value) {
      value = decode == cdc::MessageDecode::json ? parse.Call({Napi::String::New(env, event.value)})
                                                 : bytes_to_js(env, event.value, as_buffer);
    }
    object.Set("value", value);
    Napi::Object headers = Napi::Object::New(env);
    for (const auto& [name, text] : event.headers) headers.Set(name, bytes_to_js(env, text, as_buffer));
    object.Set("headers", headers);
    object.Set("id", event.id);
    array.Set(static_cast<uint32_t>(i), object);
  }
  return array;
}

}  // namespace cdc_addon
