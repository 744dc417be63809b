// Pipelines to Redis, to one node or to a Redis Cluster: queued in order, up to a window of them
// on the wire, replies read oldest first and handed back in the order of the pipeline's commands.
// An outage is waited out: the connection is retried with capped backoff (and trusted only once a
// PING is answered PONG), and every pipeline not fully answered is sent again (callers send
// idempotent commands). An outage is an I/O failure, or an error reply that retrying cures
// (LOADING, READONLY, BUSY, TRYAGAIN, CLUSTERDOWN, ...: redis/reply_class.h), or a WAIT answered by
// fewer replicas than asked. Owned by one thread.
//   one node:     redis/node_transport.h
//   Redis Cluster: redis/cluster_transport.h (routing by hash slot, MOVED/ASK, failover)
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/status.h"
#include "redis/cluster_slots.h"
#include "redis/connection.h"

namespace cdc {

struct RedisTransportStats {
  uint64_t round_trips = 0, commands = 0, reconnects = 0;
  uint64_t errors = 0;  // error replies (and short WAITs) that made a pipeline wait as an outage
  uint64_t moved = 0, asked = 0, slot_map_refreshes = 0;  // Redis Cluster only
};

// What makes a pipeline's replies an outage besides the error codes themselves.
struct OutagePolicy {
  int wait_replicas = 0;  // a WAIT answered with fewer is an outage (redis.waitReplicas)
  int wait_timeout_ms = 0;
  // Commands whose -OOM reply the caller handles itself (a refresh falls back to a delete);
  // -OOM on any other command is an outage. Empty: every -OOM is one.
  std::function<bool(const Command&)> handles_oom;
};

class PipelineTransport {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~PipelineTransport() = default;

  // A script SCRIPT LOADed after every connect (a restarted server has forgotten it); callers
  // EVALSHA it by `sha`. A server that refuses it (ACL) is logged; its EVALSHAs then wait as an
  // outage (NOSCRIPT).
  virtual void load_script_on_connect(std::string script, std::string sha) = 0;

  // The first connection; a failure is logged and retried later, not an error.
  virtual void connect_at_start() = 0;
  virtual bool up() const = 0;
  virtual Clock::time_point next_attempt() const = 0;
  // Reconnects when down and the backoff delay has passed.
  virtual void reconnect_if_due() = 0;
  // Without traffic, a PING every few seconds still notices Redis dying.
  virtual void ping_if_idle(Clock::time_point now) = 0;

  virtual void enqueue(std::vector<Command>&& pipeline) = 0;
  // Sends queued pipelines while fewer than max_in_flight are on the wire.
  virtual void send(size_t max_in_flight) = 0;
  virtual size_t queued() const = 0;  // not fully answered, sent or not
  virtual size_t on_wire() const = 0;
  // The i-th queued pipeline (i < queued()); callers may edit it while it is not on the wire.
  virtual std::vector<Command>& at(size_t i) = 0;

  // Reads every reply of the oldest pipeline on the wire (on_wire() > 0); nullptr when the
  // connection failed or a reply was an outage (the pipeline is sent again after reconnecting).
  // Then front() is that pipeline, and pop_front() is due once handled.
  virtual const std::vector<Reply>* receive_front() = 0;
  // Replies of the oldest pipeline on the wire have begun to arrive: receive_front() would not
  // wait for the server first. Lets a caller take them without blocking while it has other work.
  virtual bool reply_arrived() = 0;
  virtual const std::vector<Command>& front() const = 0;
  virtual void pop_front() = 0;

  // Stopping: forgets every pipeline.
  virtual void clear() = 0;
  virtual void disconnect() = 0;
  virtual const RedisTransportStats& stats() const = 0;
};

// What the engine and the read path hold: a cluster transport when `cluster_nodes` (seeds) is
// not empty, a single-node one to `endpoint` otherwise. With a cluster, `endpoint` supplies the
// user, password and TLS of every node; its host and port are not used.
class RedisTransport {
 public:
  using Clock = PipelineTransport::Clock;
  // on_down: called after a failure took the connection down (e.g. to pause fetching).
  RedisTransport(RedisEndpoint endpoint, RedisOptions options, OutagePolicy policy, LogFn log,
                 std::function<void()> on_down, std::vector<ClusterAddress> cluster_nodes = {});

  void load_script_on_connect(std::string script, std::string sha) {
    impl_->load_script_on_connect(std::move(script), std::move(sha));
  }
  void connect_at_start() { impl_->connect_at_start(); }
  bool up() const { return impl_->up(); }
  Clock::time_point next_attempt() const { return impl_->next_attempt(); }
  void reconnect_if_due() { impl_->reconnect_if_due(); }
  void ping_if_idle(Clock::time_point now) { impl_->ping_if_idle(now); }
  void enqueue(std::vector<Command>&& pipeline) { impl_->enqueue(std::move(pipeline)); }
  void send(size_t max_in_flight) { impl_->send(max_in_flight); }
  size_t queued() const { return impl_->queued(); }
  size_t on_wire() const { return impl_->on_wire(); }
  std::vector<Command>& at(size_t i) { return impl_->at(i); }
  const std::vector<Reply>* receive_front() { return impl_->receive_front(); }
  bool reply_arrived() { return impl_->reply_arrived(); }
  const std::vector<Command>& front() const { return impl_->front(); }
  void pop_front() { impl_->pop_front(); }
  void clear() { impl_->clear(); }
  void disconnect() { impl_->disconnect(); }
  const RedisTransportStats& stats() const { return impl_->stats(); }

 private:
  std::unique_ptr<PipelineTransport> impl_;
};

}  // namespace cdc
