#include "engine/handler_batches.h"

#include <utility>

#include "common/glob.h"
#include "common/safe_integers.h"

namespace cdc {
namespace {

HandlerEvent handler_event(const ChangeEvent& decoded, const kafka::Message& message) {
  HandlerEvent event;
  event.kind = decoded.kind;
  event.op = decoded.op;
  event.source = decoded.source;
  event.has_before = decoded.before.present;
  event.has_after = decoded.after.present;
  event.has_key = decoded.key.present;
  // JavaScript would round integers beyond 2^53: they go as exact strings.
  if (event.has_before) event.before_json = quote_unsafe_integers(decoded.before.json);
  if (event.has_after) event.after_json = quote_unsafe_integers(decoded.after.json);
  if (event.has_key) event.key_json = quote_unsafe_integers(decoded.key.json);
  event.topic = message.topic_name();
  event.partition = message.partition();
  event.offset = message.offset();
  RdKafka::MessageTimestamp timestamp = message.timestamp();
  event.timestamp_ms =
      timestamp.type == RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE ? -1 : timestamp.timestamp;
  return event;
}

}  // namespace

HandlerBatches::HandlerBatches(const std::vector<JsHandlerSpec>& specs, const HandlerSettings& settings,
                               EngineStats::Handlers& counters, EffectDone effect_done, LogFn log)
    : max_batch_size_(static_cast<size_t>(settings.max_batch_size)),
      max_in_flight_(static_cast<size_t>(settings.max_in_flight)),
      counters_(counters),
      effect_done_(std::move(effect_done)),
      log_(std::move(log)) {
  for (const JsHandlerSpec& spec : specs) {
    Handler handler;
    handler.id = spec.id;
    handler.source = spec.source;
    handlers_.push_back(std::move(handler));
  }
}

void HandlerBatches::add_application_handler(int64_t id) {
  Handler handler;
  handler.id = id;
  handler.application = true;
  handlers_.push_back(std::move(handler));
}

size_t HandlerBatches::matching(std::string_view source_name) const {
  size_t count = 0;
  for (const Handler& handler : handlers_)
    if (!handler.application && glob_matches(handler.source, source_name)) ++count;
  return count;
}

void HandlerBatches::add(const ChangeEvent& event, const kafka::Message& message, const PendingPtr& pending) {
  for (Handler& handler : handlers_) {
    if (handler.application || !glob_matches(handler.source, event.source.name)) continue;
    append(handler, handler_event(event, message), pending);
  }
}

void HandlerBatches::add_event(int64_t id, HandlerEvent&& event, const PendingPtr& pending) {
  for (Handler& handler : handlers_)
    if (handler.id == id) return append(handler, std::move(event), pending);
}

void HandlerBatches::append(Handler& handler, HandlerEvent&& event, const PendingPtr& pending) {
  Batch& batch = batch_of(handler, pending->partition.get());
  batch.events.push_back(std::move(event));
  batch.messages.push_back(pending);
  if (batch.events.size() >= max_batch_size_) seal(handler, static_cast<size_t>(&batch - handler.current.data()));
}

HandlerBatches::Batch& HandlerBatches::batch_of(Handler& handler, const PartitionState* partition) {
  for (Batch& candidate : handler.current)
    if (candidate.partition == partition) return candidate;
  handler.current.emplace_back();
  handler.current.back().partition = partition;
  return handler.current.back();
}

void HandlerBatches::seal(Handler& handler, size_t index) {
  ready_.push_back(Ready{handler.id, std::move(handler.current[index])});
  handler.current.erase(handler.current.begin() + static_cast<std::ptrdiff_t>(index));
}

void HandlerBatches::seal() {
  for (Handler& handler : handlers_) {
    for (Batch& batch : handler.current) ready_.push_back(Ready{handler.id, std::move(batch)});
    handler.current.clear();
  }
}

// In order, except that a batch waits while an earlier batch of its lane is still in JS.
void HandlerBatches::deliver(const EngineCallbacks& callbacks) {
  for (auto it = ready_.begin(); it != ready_.end() && outstanding_.size() < max_in_flight_;) {
    const Lane lane{it->handler_id, it->batch.partition};
    if (busy_lanes_.count(lane) > 0) {
      ++it;
      continue;
    }
    Ready ready = std::move(*it);
    it = ready_.erase(it);
    uint64_t token = ++next_token_;
    counters_.delivered += ready.batch.events.size();
    if (!callbacks.events) {  // nobody listens: nothing to wait for
      for (const PendingPtr& pending : ready.batch.messages) effect_done_(pending);
      continue;
    }
    busy_lanes_.insert(lane);
    outstanding_.emplace(token, Outstanding{std::move(ready.batch.messages), lane});
    callbacks.events(token, ready.handler_id, std::move(ready.batch.events));
  }
}

void HandlerBatches::ack(uint64_t token, bool ok, const std::string& reason) {
  auto it = outstanding_.find(token);
  if (it == outstanding_.end()) {
    log_(LogLevel::debug, "ack for unknown or already completed batch " + std::to_string(token));
    return;
  }
  std::vector<PendingPtr> messages = std::move(it->second.messages);
  busy_lanes_.erase(it->second.lane);
  outstanding_.erase(it);
  if (!ok) counters_.failed += messages.size();
  for (const PendingPtr& pending : messages) {
    if (!ok && pending->failure.empty()) pending->failure = "handler: " + (reason.empty() ? std::string("failed") : reason);
    effect_done_(pending);
  }
}

void HandlerBatches::clear() {
  for (Handler& handler : handlers_) handler.current.clear();
  ready_.clear();
  outstanding_.clear();
  busy_lanes_.clear();
}

}  // namespace cdc
