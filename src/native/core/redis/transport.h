// Pipelines over one RedisConnection: queued in order, up to a window of them on the wire, replies
// read oldest first. An outage is waited out: the connection is retried with capped backoff (and
// trusted only once a PING is answered PONG), and every pipeline not fully answered is sent again
// (callers send idempotent commands). An outage is an I/O failure, or an error reply that
// retrying cures (LOADING, READONLY, BUSY, ...: redis/reply_class.h), or a WAIT answered by fewer
// replicas than asked. Owned by one thread. The place where routing across nodes
// (Redis Cluster) goes next; callers see pipelines and replies only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "common/backoff.h"
#include "common/log.h"
#include "common/status.h"
#include "redis/connection.h"

namespace cdc {

struct RedisTransportStats {
  uint64_t round_trips = 0, commands = 0, reconnects = 0;
  uint64_t errors = 0;  // error replies (and short WAITs) that made a pipeline wait as an outage
};

// What makes a pipeline's replies an outage besides the error codes themselves.
struct OutagePolicy {
  int wait_replicas = 0;  // a WAIT answered with fewer is an outage (redis.waitReplicas)
  int wait_timeout_ms = 0;
  // Commands whose -OOM reply the caller handles itself (a refresh falls back to a delete);
  // -OOM on any other command is an outage. Empty: every -OOM is one.
  std::function<bool(const Command&)> handles_oom;
};

class RedisTransport {
 public:
  using Clock = std::chrono::steady_clock;

  // on_down: called after a failure took the connection down (e.g. to pause fetching).
  RedisTransport(RedisEndpoint endpoint, RedisOptions options, OutagePolicy policy, LogFn log,
                 std::function<void()> on_down);

  // A script SCRIPT LOADed after every connect (a restarted server has forgotten it); callers
  // EVALSHA it by `sha`. A server that refuses it (ACL) is logged; its EVALSHAs then wait as an
  // outage (NOSCRIPT).
  void load_script_on_connect(std::string script, std::string sha);

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
  // The i-th queued pipeline (i < queued()); callers may edit it while it is not on the wire.
  std::vector<Command>& at(size_t i) { return pipelines_[i]; }

  // Reads every reply of the oldest pipeline on the wire (on_wire() > 0); nullptr when the
  // connection failed or a reply was an outage (the pipeline is sent again after reconnecting).
  // Then front() is that pipeline, and pop_front() is due once handled.
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
  Status load_script();
  Status outage_in(const std::vector<Command>& pipeline) const;

  RedisConnection connection_;
  OutagePolicy policy_;
  std::string script_, script_sha_;
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
