// Pipelines over one RedisConnection: queued in order, up to a window of them on the wire, replies
// read oldest first. An outage is waited out: the connection is retried with capped backoff (and
// trusted only once a PING is answered), and every pipeline not fully answered is sent again
// (callers send idempotent commands). Owned by one thread. The place where routing across nodes
// (Redis Cluster) goes next; callers see pipelines and replies only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include "common/backoff.h"
#include "common/log.h"
#include "common/status.h"
#include "redis/connection.h"

namespace cdc {

struct RedisTransportStats {
  uint64_t round_trips = 0, commands = 0, reconnects = 0;
};

class RedisTransport {
 public:
  using Clock = std::chrono::steady_clock;

  // on_down: called after a failure took the connection down (e.g. to pause fetching).
  RedisTransport(RedisEndpoint endpoint, RedisOptions options, LogFn log, std::function<void()> on_down);

  // The first connection; a failure is logged and retried later, not an error.
  void connect_at_start();
  bool up() const { return up_; }
  Clock::time_point next_attempt() const { return next_attempt_; }
  // Reconnects when down and the backoff delay has passed.
  void reconnect_if_due();
  // Without traffic, a PING every few seconds still notices Redis dying.
  void ping_if_idle(Clock::time_point now);

  void enqueue(std::vector<Command>&& pipeline) { pipelines_.push_back(std::move(pipeline)); }
  // Sends queued pipelines while fewer than max_in_flight are on the wire.
  void send(size_t max_in_flight);
  size_t queued() const { return pipelines_.size(); }  // not fully answered, sent or not
  size_t on_wire() const { return sent_; }

  // Reads every reply of the oldest pipeline on the wire (on_wire() > 0); nullptr when the
  // connection failed. Then front() is that pipeline, and pop_front() is due once handled.
  const std::vector<Reply>* receive_front();
  const std::vector<Command>& front() const { return pipelines_.front(); }
  void pop_front();

  // Stopping: forgets every pipeline.
  void clear();
  void disconnect() { connection_.disconnect(); }
  const RedisTransportStats& stats() const { return stats_; }

 private:
  void failed(const Status& status);
  Status ping();

  RedisConnection connection_;
  LogFn log_;
  std::function<void()> on_down_;
  Backoff backoff_;
  bool up_ = false, ever_connected_ = false;
  Clock::time_point next_attempt_{}, last_reply_{};
  std::deque<std::vector<Command>> pipelines_;  // in order; the first sent_ are on the wire
  size_t sent_ = 0;
  std::vector<Reply> replies_;
  RedisTransportStats stats_;
};

}  // namespace cdc
