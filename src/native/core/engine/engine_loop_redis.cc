// EngineLoop, its Redis side: the commands of planned messages and of invalidate() requests go
// out as pipelines through RedisTransport (which waits outages out), and each reply completes the
// effect it belongs to.
#include <algorithm>
#include <utility>

#include "engine/engine_loop.h"
#include "redis/reply_class.h"
#include "rules/versioned_refresh.h"

namespace cdc {
namespace {

constexpr size_t kKeysPerInvalidateCommand = 512;  // one UNLINK per this many keys
constexpr size_t kMaxInvalidatesWaiting = 10000;   // invalidate() requests not yet acknowledged by Redis

}  // namespace

void EngineLoop::add_command(Command&& command, CommandOrigin origin) {
  current_commands_.push_back(std::move(command));
  current_origins_.push_back(std::move(origin));
}

void EngineLoop::seal_pipeline() {
  if (current_commands_.empty()) return;
  if (config_.redis.wait_replicas > 0)  // the transport counts fewer replicas as an outage
    add_command(Command{{"WAIT", std::to_string(config_.redis.wait_replicas),
                         std::to_string(config_.redis.wait_timeout_ms)}},
                CommandOrigin{});
  redis_.enqueue(std::move(current_commands_));
  origins_.push_back(std::move(current_origins_));
  current_commands_ = {};
  current_origins_ = {};
}

void EngineLoop::send_pipelines() {
  const size_t window = static_cast<size_t>(config_.batch.max_in_flight);
  if (!redis_.up()) return;
  const size_t before = redis_.on_wire();
  for (size_t i = before; i < redis_.queued() && i < window; ++i) drop_revoked(redis_.at(i), origins_[i]);
  redis_.send(window);
  if (trace_.on()) mark_sent(before);
}

// Trace: the pipelines from `first` on that send() just put on the wire.
void EngineLoop::mark_sent(size_t first) {
  const int64_t now = EngineTrace::now_us();
  for (size_t i = first; i < redis_.on_wire(); ++i)
    for (CommandOrigin& origin : origins_[i])
      if (origin.message && origin.message->trace.sent_us == 0) origin.message->trace.sent_us = now;
}

// Commands of partitions this instance no longer owns are not sent (nor re-sent after an outage):
// the new owner applies those events itself, and a late write from here could undo newer ones.
void EngineLoop::drop_revoked(std::vector<Command>& commands, std::vector<CommandOrigin>& origins) {
  size_t kept = 0;
  for (size_t i = 0; i < commands.size(); ++i) {
    const PendingPtr& message = origins[i].message;
    if (message && !message->partition->active) {
      ++counters_.redis.revoked_dropped;
      if (--message->remaining == 0) finish(message);
      continue;
    }
    if (kept != i) {
      commands[kept] = std::move(commands[i]);
      origins[kept] = std::move(origins[i]);
    }
    ++kept;
  }
  commands.resize(kept);
  origins.resize(kept);
}

// Reads the oldest pipeline's replies and completes their effects. False when Redis failed.
bool EngineLoop::receive_replies() {
  const std::vector<Reply>* replies = redis_.receive_front();
  if (!replies) return false;
  const std::vector<Command>& commands = redis_.front();
  std::vector<CommandOrigin>& origins = origins_.front();
  EndToEndLag::SameMoment acknowledged(lag_);
  for (size_t i = 0; i < commands.size(); ++i) apply_reply(commands[i], (*replies)[i], origins[i]);
  redis_.pop_front();
  origins_.pop_front();
  return true;
}

void EngineLoop::apply_reply(const Command& command, const Reply& reply, CommandOrigin& origin) {
  if (reply.error) ++counters_.redis.errors;
  const std::string& name = command.argv[0];
  if (!origin.message) return invalidate_reply(name, reply, origin.invalidate_id);
  if (reply.error && classify_error_reply(reply.text) == ReplyClass::out_of_memory)
    return delete_instead(command, std::move(origin));  // the effect is done once the delete is acknowledged
  if (reply.error) {
    if (origin.message->failure.empty()) origin.message->failure = "redis " + name + ": " + reply.text;
  } else if (name == "UNLINK" || name == "DEL") {
    counters_.keys_deleted += static_cast<uint64_t>(std::max<int64_t>(0, reply.integer));
  } else if (name == "EVALSHA" && reply.integer == 0) {
    ++counters_.refreshes_older_skipped;  // the key holds a newer version
  } else if (name != "EXPIRE" && name != "PEXPIRE") {
    ++counters_.keys_refreshed;
  }
  effect_done(origin.message);
}

// A refresh refused for memory: the key held an older value, which must not stay. Deleting it
// (always allowed under noeviction) turns a stale hit into a miss.
void EngineLoop::delete_instead(const Command& refused, CommandOrigin origin) {
  ++counters_.redis.fallback_deletes;
  Command del;
  del.argv = {config_.rule_options.use_unlink ? "UNLINK" : "DEL", std::string(refreshed_key(refused))};
  add_command(std::move(del), std::move(origin));
}

void EngineLoop::invalidate_reply(const std::string& name, const Reply& reply, uint64_t id) {
  auto it = invalidates_.find(id);
  if (it == invalidates_.end()) return;
  InvalidateRequest& request = it->second;
  if (reply.error) {
    if (request.error.empty()) request.error = "redis " + name + ": " + reply.text;
  } else {
    request.deleted += reply.integer;
    counters_.keys_deleted += static_cast<uint64_t>(std::max<int64_t>(0, reply.integer));
  }
  if (--request.remaining > 0) return;
  if (request.done) request.done(request.error.empty() ? Status::Ok() : Status::Error(request.error), request.deleted);
  invalidates_.erase(it);
}

void EngineLoop::queue_invalidate(ControlItem& item) {
  if (item.keys.empty()) {
    if (item.done) item.done(Status::Ok(), 0);
    return;
  }
  if (invalidates_.size() >= kMaxInvalidatesWaiting) {  // an outage must not grow memory without end
    if (item.done)
      item.done(Status::Error(std::to_string(kMaxInvalidatesWaiting) +
                              " invalidate() requests already wait for Redis; try again later"),
                0);
    return;
  }
  uint64_t id = ++next_invalidate_id_;
  InvalidateRequest& request = invalidates_[id];
  request.done = std::move(item.done);
  const std::string command_name = config_.rule_options.use_unlink ? "UNLINK" : "DEL";
  for (size_t begin = 0; begin < item.keys.size(); begin += kKeysPerInvalidateCommand) {
    size_t end = std::min(item.keys.size(), begin + kKeysPerInvalidateCommand);
    Command command;
    command.argv.reserve(end - begin + 1);
    command.argv.push_back(command_name);
    for (size_t i = begin; i < end; ++i) command.argv.push_back(config_.rule_options.key_prefix + item.keys[i]);
    add_command(std::move(command), CommandOrigin{nullptr, id});
    ++request.remaining;
  }
}

}  // namespace cdc
