#include "redis/node_transport.h"

#include <string>
#include <utility>

#include "redis/reply_class.h"

namespace cdc {
namespace {

using std::chrono::milliseconds;

constexpr auto kIdlePingInterval = milliseconds(2000);

}  // namespace

NodeTransport::NodeTransport(RedisEndpoint endpoint, RedisOptions options, OutagePolicy policy, LogFn log,
                             std::function<void()> on_down)
    : connection_(std::move(endpoint), options),
      policy_(std::move(policy)),
      log_(std::move(log)),
      on_down_(std::move(on_down)),
      backoff_(milliseconds(100), milliseconds(5000)) {}

void NodeTransport::load_script_on_connect(std::string script, std::string sha) {
  script_ = std::move(script);
  script_sha_ = std::move(sha);
}

void NodeTransport::connect_at_start() {
  Status status = connection_.connect();
  if (status.ok()) status = check_serving(connection_, script_, script_sha_, log_, replies_);
  if (status.ok()) {
    up_ = true;
    ever_connected_ = true;
    last_reply_ = Clock::now();
  } else {
    connection_.disconnect();
    log_(LogLevel::warn, "redis unavailable, retrying: " + status.message());
    next_attempt_ = Clock::now() + backoff_.next_delay();
  }
}

// Only +PONG proves the node serves commands: a loading, busy or paused-by-script server accepts
// the connection and answers every command with an error.
Status check_serving(RedisConnection& connection, const std::string& script, const std::string& sha,
                     const LogFn& log, std::vector<Reply>& scratch) {
  static const std::vector<Command> kPing{Command{{"PING"}}};
  Status status = connection.send(kPing);
  if (status.ok()) status = connection.receive(1, scratch);
  if (!status.ok()) return status;
  const Reply& reply = scratch.front();
  // A user without the PING permission (NOPERM) is still answered by a serving node.
  const bool serving = (reply.kind == ReplyKind::Status && reply.text == "PONG") ||
                       (reply.error && classify_error_reply(reply.text) == ReplyClass::permanent);
  if (!serving) return Status::Error("redis PING: " + (reply.error ? reply.text : std::string("unexpected reply")));
  if (script.empty()) return Status::Ok();
  Reply loaded;
  status = connection.command(Command{{"SCRIPT", "LOAD", script}}, loaded);
  if (!status.ok()) return status;
  if (loaded.error && classify_error_reply(loaded.text) == ReplyClass::outage)
    return Status::Error("redis SCRIPT LOAD: " + loaded.text);
  if (loaded.error || loaded.text != sha)
    log(LogLevel::error, "redis SCRIPT LOAD failed: " + (loaded.error ? loaded.text : "unexpected SHA " + loaded.text));
  return Status::Ok();
}

void NodeTransport::ping_if_idle(Clock::time_point now) {
  if (!up_ || !pipelines_.empty() || now - last_reply_ < kIdlePingInterval) return;
  Status status = check_serving(connection_, script_, script_sha_, log_, replies_);
  if (!status.ok()) return failed(status);
  last_reply_ = Clock::now();
  backoff_.reset();  // nothing waits to be written: the node is as well as PING can tell
}

void NodeTransport::reconnect_if_due() {
  if (up_ || Clock::now() < next_attempt_) return;
  Status status = connection_.connect();
  if (status.ok()) {
    // A stopped or overloaded server still accepts connections (the kernel does): only a reply
    // shows it is back. Without this the engine would resume and time out over and over.
    status = check_serving(connection_, script_, script_sha_, log_, replies_);
    if (!status.ok()) connection_.disconnect();
  }
  if (!status.ok()) {
    int attempts = backoff_.attempts();
    if (attempts <= 3 || attempts % 10 == 0)
      log_(LogLevel::warn, "redis reconnect attempt " + std::to_string(attempts) + " failed: " + status.message());
    next_attempt_ = Clock::now() + backoff_.next_delay();
    return;
  }
  up_ = true;
  last_reply_ = Clock::now();
  // The backoff is reset by the first pipeline the node accepts: a replica or a loading node
  // answers PING but refuses the writes, and must not be retried at full speed.
  if (ever_connected_) ++stats_.reconnects;
  log_(LogLevel::info, std::string("redis ") + (ever_connected_ ? "reconnected" : "connected") + ", resending " +
                           std::to_string(pipelines_.size()) + " pipeline(s)");
  ever_connected_ = true;
}

void NodeTransport::send(size_t max_in_flight) {
  while (up_ && sent_ < pipelines_.size() && sent_ < max_in_flight) {
    Status status = connection_.send(pipelines_[sent_]);
    if (!status.ok()) return failed(status);
    ++sent_;
  }
}

const std::vector<Reply>* NodeTransport::receive_front() {
  const std::vector<Command>& pipeline = pipelines_.front();
  Status status = connection_.receive(pipeline.size(), replies_);
  if (!status.ok()) {
    failed(status);
    return nullptr;
  }
  last_reply_ = Clock::now();
  ++stats_.round_trips;
  stats_.commands += pipeline.size();
  if (Status outage = outage_in(pipeline); !outage.ok()) {
    ++stats_.errors;
    failed(outage);  // the whole pipeline is sent again (its effects are idempotent)
    return nullptr;
  }
  backoff_.reset();
  return &replies_;
}

// An error reply that retrying will cure (the node loads, is a replica, is busy, ...) makes the
// whole pipeline wait like an I/O failure; so does -OOM, except for commands the caller handles.
Status NodeTransport::outage_in(const std::vector<Command>& pipeline) const {
  for (size_t i = 0; i < pipeline.size(); ++i) {
    const Reply& reply = replies_[i];
    if (pipeline[i].argv[0] == "WAIT" && !reply.error && reply.integer < policy_.wait_replicas)
      return Status::Error("redis WAIT: " + std::to_string(reply.integer) + " of " +
                           std::to_string(policy_.wait_replicas) + " replica(s) acknowledged within " +
                           std::to_string(policy_.wait_timeout_ms) + " ms");
    if (!reply.error) continue;
    const ReplyClass cls = classify_error_reply(reply.text);
    const bool handled = cls == ReplyClass::out_of_memory && policy_.handles_oom && policy_.handles_oom(pipeline[i]);
    if (cls == ReplyClass::outage || (cls == ReplyClass::out_of_memory && !handled))
      return Status::Error("redis " + pipeline[i].argv[0] + ": " + reply.text);
  }
  return Status::Ok();
}

void NodeTransport::pop_front() {
  pipelines_.pop_front();
  --sent_;
}

void NodeTransport::failed(const Status& status) {
  connection_.disconnect();
  if (up_)
    log_(LogLevel::warn, "redis unavailable, fetching paused, " + std::to_string(pipelines_.size()) +
                             " pipeline(s) kept for resending: " + status.message());
  up_ = false;
  sent_ = 0;  // whatever was on the wire is sent again after reconnecting (idempotent)
  next_attempt_ = Clock::now() + backoff_.next_delay();
  if (on_down_) on_down_();
}

void NodeTransport::clear() {
  pipelines_.clear();
  sent_ = 0;
}

}  // namespace cdc
