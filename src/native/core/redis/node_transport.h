// The transport (redis/transport.h) to one node: its pipelines go over one RedisConnection, and
// any outage (an I/O failure, an outage reply, a short WAIT) disconnects it and sends every
// pipeline not fully answered again after the backoff.
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
#include "redis/transport.h"

namespace cdc {

// A node serves commands once it answers PING with PONG (or NOPERM: a user without the PING
// permission), and then gets `script` SCRIPT LOADed (when not empty). Shared with the cluster.
Status check_serving(RedisConnection& connection, const std::string& script, const std::string& sha,
                     const LogFn& log, std::vector<Reply>& scratch);

class NodeTransport : public PipelineTransport {
 public:
  NodeTransport(RedisEndpoint endpoint, RedisOptions options, OutagePolicy policy, LogFn log,
                std::function<void()> on_down);

  void load_script_on_connect(std::string script, std::string sha) override;
  void connect_at_start() override;
  bool up() const override { return up_; }
  Clock::time_point next_attempt() const override { return next_attempt_; }
  void reconnect_if_due() override;
  void ping_if_idle(Clock::time_point now) override;
  void enqueue(std::vector<Command>&& pipeline) override { pipelines_.push_back(std::move(pipeline)); }
  void send(size_t max_in_flight) override;
  size_t queued() const override { return pipelines_.size(); }
  size_t on_wire() const override { return sent_; }
  std::vector<Command>& at(size_t i) override { return pipelines_[i]; }
  const std::vector<Reply>* receive_front() override;
  bool reply_arrived() override { return sent_ > 0 && connection_.reply_arrived(); }
  const std::vector<Command>& front() const override { return pipelines_.front(); }
  void pop_front() override;
  void clear() override;
  void disconnect() override { connection_.disconnect(); }
  const RedisTransportStats& stats() const override { return stats_; }

 private:
  void failed(const Status& status);
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
