#include "redis/transport.h"

#include <string>
#include <utility>

namespace cdc {
namespace {

using std::chrono::milliseconds;

constexpr auto kIdlePingInterval = milliseconds(2000);

}  // namespace

RedisTransport::RedisTransport(RedisEndpoint endpoint, RedisOptions options, LogFn log, std::function<void()> on_down)
    : connection_(std::move(endpoint), options),
      log_(std::move(log)),
      on_down_(std::move(on_down)),
      backoff_(milliseconds(100), milliseconds(5000)) {}

void RedisTransport::connect_at_start() {
  Status status = connection_.connect();
  if (status.ok()) {
    up_ = true;
    ever_connected_ = true;
    last_reply_ = Clock::now();
  } else {
    log_(LogLevel::warn, "redis unavailable, retrying: " + status.message());
    next_attempt_ = Clock::now() + backoff_.next_delay();
  }
}

Status RedisTransport::ping() {
  static const std::vector<Command> kPing{Command{{"PING"}}};
  Status status = connection_.send(kPing);
  if (status.ok()) status = connection_.receive(1, replies_);
  return status;
}

void RedisTransport::ping_if_idle(Clock::time_point now) {
  if (!up_ || !pipelines_.empty() || now - last_reply_ < kIdlePingInterval) return;
  Status status = ping();
  if (!status.ok()) return failed(status);
  last_reply_ = Clock::now();
}

void RedisTransport::reconnect_if_due() {
  if (up_ || Clock::now() < next_attempt_) return;
  Status status = connection_.connect();
  if (status.ok()) {
    // A stopped or overloaded server still accepts connections (the kernel does): only a reply
    // shows it is back. Without this the engine would resume and time out over and over.
    status = ping();
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
  backoff_.reset();
  if (ever_connected_) ++stats_.reconnects;
  log_(LogLevel::info, std::string("redis ") + (ever_connected_ ? "reconnected" : "connected") + ", resending " +
                           std::to_string(pipelines_.size()) + " pipeline(s)");
  ever_connected_ = true;
}

void RedisTransport::send(size_t max_in_flight) {
  while (up_ && sent_ < pipelines_.size() && sent_ < max_in_flight) {
    Status status = connection_.send(pipelines_[sent_]);
    if (!status.ok()) return failed(status);
    ++sent_;
  }
}

const std::vector<Reply>* RedisTransport::receive_front() {
  const std::vector<Command>& pipeline = pipelines_.front();
  Status status = connection_.receive(pipeline.size(), replies_);
  if (!status.ok()) {
    failed(status);
    return nullptr;
  }
  last_reply_ = Clock::now();
  ++stats_.round_trips;
  stats_.commands += pipeline.size();
  return &replies_;
}

void RedisTransport::pop_front() {
  pipelines_.pop_front();
  --sent_;
}

void RedisTransport::failed(const Status& status) {
  connection_.disconnect();
  if (up_)
    log_(LogLevel::warn, "redis unavailable, fetching paused, " + std::to_string(pipelines_.size()) +
                             " pipeline(s) kept for resending: " + status.message());
  up_ = false;
  sent_ = 0;  // whatever was on the wire is sent again after reconnecting (idempotent)
  next_attempt_ = Clock::now() + backoff_.next_delay();
  if (on_down_) on_down_();
}

void RedisTransport::clear() {
  pipelines_.clear();
  sent_ = 0;
}

}  // namespace cdc
