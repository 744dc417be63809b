// The transport (redis/transport.h) to a Redis Cluster. Each queued pipeline is split by hash
// slot into one pipeline per master (a DEL/UNLINK of keys in several slots into one command per
// slot, its replies summed; a WAIT sent to every master the pipeline touched, the fewest replicas
// counted), and its replies are put back in the order of its commands. A node's batches go out
// back to back, so several pipelines are in flight on every master.
//   MOVED: the slot's owner is updated, the command goes there, the whole slot map is refreshed
//          (CLUSTER NODES) before the next pipeline is routed.
//   ASK:   the command goes to the named node once, after ASKING; the map is not changed.
//   An outage (I/O failure, TRYAGAIN, CLUSTERDOWN, LOADING, a slot without a master, too many
//          redirections, ...): every node is disconnected and, after the backoff, the slot map is
//          read again from any reachable node (the seeds, or any master seen) and every pipeline
//          not fully answered is routed and sent again. A killed master is followed that way once
//          its replica has taken over.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/backoff.h"
#include "common/log.h"
#include "common/status.h"
#include "redis/cluster_slots.h"
#include "redis/connection.h"
#include "redis/transport.h"

namespace cdc {

class ClusterTransport : public PipelineTransport {
 public:
  // credentials: user, password (and TLS) for every node; its host and port are not used.
  ClusterTransport(std::vector<ClusterAddress> seeds, RedisEndpoint credentials, RedisOptions options,
                   OutagePolicy policy, LogFn log, std::function<void()> on_down);
  ~ClusterTransport() override;

  void load_script_on_connect(std::string script, std::string sha) override;
  void connect_at_start() override;
  bool up() const override { return up_; }
  Clock::time_point next_attempt() const override { return next_attempt_; }
  void reconnect_if_due() override;
  void ping_if_idle(Clock::time_point now) override;
  void enqueue(std::vector<Command>&& pipeline) override;
  void send(size_t max_in_flight) override;
  size_t queued() const override { return pipelines_.size(); }
  size_t on_wire() const override { return sent_; }
  std::vector<Command>& at(size_t i) override { return pipelines_[i].commands; }
  const std::vector<Reply>* receive_front() override;
  bool reply_arrived() override;
  const std::vector<Command>& front() const override { return pipelines_.front().commands; }
  void pop_front() override;
  void clear() override;
  void disconnect() override;
  const RedisTransportStats& stats() const override { return stats_; }

  // The master serving `slot` in the current map ("host:port"; empty: none). For tests and logs.
  std::string master_of(int slot) const;

 private:
  struct Part;
  struct Batch;
  struct Node;
  enum class Merge : uint8_t { assign, sum, fewest };  // how a command's parts make its reply
  struct Pipeline {
    std::vector<Command> commands;
    std::vector<Reply> replies;  // by command, merged from its parts
    std::vector<Merge> merge;
    size_t open = 0;             // parts not answered yet
    bool waits = false;          // a WAIT follows its parts on every node
    uint32_t wait_index = 0;
  };

  Status refresh_slots();
  Status connect_masters();
  Status open_node(Node& node);
  Status read_topology(const ClusterAddress& address, ClusterTopology& topology);
  size_t node_for(const ClusterAddress& address);
  Status route(size_t index);
  Status add_part(uint64_t pipeline, uint32_t index, Command command);
  Status flush();
  Status flush_node(Node& node);
  Node* node_waited_for(uint64_t pipeline);
  Status receive_batch(Node& node);
  Status handle_reply(Part& part, Command& sent, const Reply& reply, const Node& from);
  void merge(Pipeline& pipeline, uint32_t index, const Reply& reply);
  Pipeline& pipeline(uint64_t sequence) { return pipelines_[sequence - first_sequence_]; }
  void failed(const Status& status);
  void disconnect_nodes();

  std::vector<ClusterAddress> seeds_;
  RedisEndpoint credentials_;
  RedisOptions options_;
  OutagePolicy policy_;
  LogFn log_;
  std::function<void()> on_down_;
  std::string script_, script_sha_;
  Backoff backoff_;
  bool up_ = false, ever_connected_ = false, map_stale_ = true;
  Clock::time_point next_attempt_{}, next_refresh_{}, last_reply_{};

  std::vector<std::unique_ptr<Node>> nodes_;  // every node seen; never shrinks (bounded by the cluster)
  std::vector<int32_t> slot_owner_;           // node index per hash slot; -1: no master
  std::unique_ptr<RedisConnection> control_;  // CLUSTER NODES, apart from the pipelined connections
  std::deque<Pipeline> pipelines_;            // in order; the first sent_ are routed and on the wire
  uint64_t first_sequence_ = 0;               // of pipelines_.front()
  size_t sent_ = 0;
  std::vector<Reply> replies_;
  RedisTransportStats stats_;
};

}  // namespace cdc
