// A typed thread-safe function behind an open/closed gate, shared by every native thread that
// posts to JS (node-datachannel's ThreadSafeCallback, in this project's terms). Native threads
// post() heap messages; CallJs on the JS thread takes ownership of each. Once the gate is shut
// (environment teardown) or the last message was posted (post_last releases the function), later
// posts are dropped and their messages deleted, never delivered into a dying environment.
// Copies share one function and one gate, so callbacks handed to the core can capture it by value.
#pragma once

#include <napi.h>

#include <memory>
#include <mutex>

namespace cdc_addon {

template <typename Context, typename Message, void (*CallJs)(Napi::Env, Napi::Function, Context*, Message*)>
class ThreadSafeCallback {
 public:
  using Function = Napi::TypedThreadSafeFunction<Context, Message, CallJs>;

  ThreadSafeCallback() = default;
  // Takes ownership of context (deleted on the JS thread once the function is released).
  ThreadSafeCallback(Napi::Env env, const char* name, Context* context) : shared_(std::make_shared<Shared>()) {
    shared_->function = Function::New(env, name, 0, 1, context, [](Napi::Env, void*, Context* owned) { delete owned; });
  }

  // False (and the message deleted) once closed or when the queue refuses it.
  bool post(Message* message) const { return send(message, false); }
  // The last message: releases the function after it.
  bool post_last(Message* message) const { return send(message, true); }
  // Shuts the gate without a message (environment teardown).
  void close() const {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->open = false;
  }
  // For a constructor that failed before any native thread started.
  void release_unused() const {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    if (shared_->open) shared_->function.Release();
    shared_->open = false;
  }

 private:
  struct Shared {
    std::mutex mutex;
    bool open = true;
    Function function;
  };

  bool send(Message* message, bool last) const {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    bool delivered = shared_->open && shared_->function.NonBlockingCall(message) == napi_ok;
    if (!delivered) delete message;
    if (last && shared_->open) {
      shared_->function.Release();
      shared_->open = false;
    }
    return delivered;
  }

  std::shared_ptr<Shared> shared_;
};

}  // namespace cdc_addon
