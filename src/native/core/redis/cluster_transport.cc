#include "redis/cluster_transport.h"

#include <algorithm>
#include <limits>
#include <unordered_map>
#include <utility>

#include "redis/crc16.h"
#include "redis/node_transport.h"
#include "redis/reply_class.h"

namespace cdc {
namespace {

using std::chrono::milliseconds;

constexpr auto kIdleCheckInterval = milliseconds(2000);
constexpr auto kRefreshInterval = milliseconds(200);  // after MOVED: at most this often
constexpr int kMaxRedirects = 5;                       // per command, then an outage

bool is_delete(const std::string& name) { return name == "UNLINK" || name == "DEL"; }

// The key a single-slot command is routed by: EVAL/EVALSHA's first KEYS entry, else argv[1].
// Keyless commands go wherever slot 0 lives.
std::string_view routing_key(const Command& command) {
  const auto& argv = command.argv;
  if ((argv[0] == "EVALSHA" || argv[0] == "EVAL") && argv.size() > 3 && argv[2] != "0") return argv[3];
  if (argv[0] == "EVALSHA" || argv[0] == "EVAL") return {};
  return argv.size() > 1 ? std::string_view(argv[1]) : std::string_view();
}

}  // namespace

// One command (or one slot's share of a multi-key one) routed to one node.
struct ClusterTransport::Part {
  uint64_t pipeline = 0;  // its pipeline's sequence number
  uint32_t index = 0;     // its command's index in that pipeline
  int redirects = 0;
  bool asking = false;    // send ASKING before it (once)
  Command command;
};

// One pipeline on one node's wire.
struct ClusterTransport::Batch {
  std::vector<Part> parts;
  std::vector<Command> commands;  // as sent: the parts' commands, ASKING before an asked one
  std::vector<int> part_of;       // per command: its index in parts; -1 for ASKING
};

struct ClusterTransport::Node {
  Node(ClusterAddress a, RedisEndpoint endpoint, RedisOptions options)
      : address(std::move(a)), connection(std::move(endpoint), options) {}
  ClusterAddress address;
  RedisConnection connection;
  std::deque<Batch> wire;    // sent, replies not read yet, oldest first
  std::vector<Part> outbox;  // routed, not sent yet
};

ClusterTransport::ClusterTransport(std::vector<ClusterAddress> seeds, RedisEndpoint credentials,
                                   RedisOptions options, OutagePolicy policy, LogFn log,
                                   std::function<void()> on_down)
    : seeds_(std::move(seeds)),
      credentials_(std::move(credentials)),
      options_(options),
      policy_(std::move(policy)),
      log_(std::move(log)),
      on_down_(std::move(on_down)),
      backoff_(milliseconds(100), milliseconds(5000)),
      slot_owner_(kClusterSlots, -1) {}

ClusterTransport::~ClusterTransport() = default;

void ClusterTransport::load_script_on_connect(std::string script, std::string sha) {
  script_ = std::move(script);
  script_sha_ = std::move(sha);
}

std::string ClusterTransport::master_of(int slot) const {
  int32_t owner = slot >= 0 && slot < kClusterSlots ? slot_owner_[slot] : -1;
  return owner < 0 ? std::string() : nodes_[owner]->address.name();
}

size_t ClusterTransport::node_for(const ClusterAddress& address) {
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i]->address == address) return i;
  RedisEndpoint endpoint = credentials_;
  endpoint.host = address.host;
  endpoint.port = address.port;
  endpoint.db = 0;  // a cluster has database 0 only
  nodes_.push_back(std::make_unique<Node>(address, std::move(endpoint), options_));
  return nodes_.size() - 1;
}

Status ClusterTransport::read_topology(const ClusterAddress& address, ClusterTopology& topology) {
  if (!control_ || !(control_->endpoint().host == address.host && control_->endpoint().port == address.port)) {
    RedisEndpoint endpoint = credentials_;
    endpoint.host = address.host;
    endpoint.port = address.port;
    endpoint.db = 0;
    control_ = std::make_unique<RedisConnection>(std::move(endpoint), options_);
  }
  Reply reply;
  Status status = control_->connect();
  if (status.ok()) status = control_->command(Command{{"CLUSTER", "NODES"}}, reply);
  if (status.ok() && reply.error) status = Status::Error("redis " + address.name() + " CLUSTER NODES: " + reply.text);
  if (status.ok()) status = parse_cluster_nodes(reply.text, topology);
  if (status.ok() && topology.ranges.empty())
    status = Status::Error("redis " + address.name() + ": no hash slot has a master");
  if (!status.ok()) control_->disconnect();
  return status;
}

// From the node asked last, else any master seen, else the seeds: the first that answers.
Status ClusterTransport::refresh_slots() {
  std::vector<ClusterAddress> candidates;
  if (control_ && control_->connected()) candidates.push_back({control_->endpoint().host, control_->endpoint().port});
  for (const auto& node : nodes_) candidates.push_back(node->address);
  candidates.insert(candidates.end(), seeds_.begin(), seeds_.end());
  Status last = Status::Error("redis cluster: no node to ask");
  ClusterTopology topology;
  for (const ClusterAddress& address : candidates) {
    last = read_topology(address, topology);
    if (last.ok()) break;
  }
  if (!last.ok()) return last;
  std::fill(slot_owner_.begin(), slot_owner_.end(), -1);
  for (const SlotRange& range : topology.ranges) {
    auto owner = static_cast<int32_t>(node_for(topology.masters[range.master]));
    std::fill(slot_owner_.begin() + range.first, slot_owner_.begin() + range.last + 1, owner);
  }
  map_stale_ = false;
  ++stats_.slot_map_refreshes;
  return Status::Ok();
}

void ClusterTransport::connect_at_start() {
  Status status = connect_masters();
  if (status.ok()) {
    up_ = ever_connected_ = true;
    last_reply_ = Clock::now();
    log_(LogLevel::info, "redis cluster: slot map read, " + std::to_string(nodes_.size()) + " master(s)");
    return;
  }
  log_(LogLevel::warn, "redis cluster unavailable, retrying: " + status.message());
  next_attempt_ = Clock::now() + backoff_.next_delay();
}

// Up once the map is read and every master that serves slots takes commands: a killed master
// stays in the map until its replica takes over, and is waited out meanwhile.
Status ClusterTransport::connect_masters() {
  Status status = refresh_slots();
  std::vector<bool> serving(nodes_.size(), false);
  for (int32_t owner : slot_owner_)
    if (owner >= 0) serving[owner] = true;
  for (size_t i = 0; status.ok() && i < nodes_.size(); ++i)
    if (serving[i]) status = open_node(*nodes_[i]);
  return status;
}

Status ClusterTransport::open_node(Node& node) {
  if (node.connection.connected()) return Status::Ok();
  Status status = node.connection.connect();
  if (status.ok()) status = check_serving(node.connection, script_, script_sha_, log_, replies_);
  if (!status.ok()) node.connection.disconnect();
  return status;
}

void ClusterTransport::reconnect_if_due() {
  if (up_ || Clock::now() < next_attempt_) return;
  Status status = connect_masters();
  if (!status.ok()) {
    int attempts = backoff_.attempts();
    if (attempts <= 3 || attempts % 10 == 0)
      log_(LogLevel::warn, "redis cluster reconnect attempt " + std::to_string(attempts) + " failed: " + status.message());
    next_attempt_ = Clock::now() + backoff_.next_delay();
    return;
  }
  up_ = true;
  last_reply_ = Clock::now();
  if (ever_connected_) ++stats_.reconnects;
  log_(LogLevel::info, std::string("redis cluster ") + (ever_connected_ ? "reconnected" : "connected") +
                           ", slot map read, resending " + std::to_string(pipelines_.size()) + " pipeline(s)");
  ever_connected_ = true;
}

// Idle, the slot map is read every few seconds: it notices a cluster gone and a failover early.
void ClusterTransport::ping_if_idle(Clock::time_point now) {
  if (!up_ || !pipelines_.empty() || now - last_reply_ < kIdleCheckInterval) return;
  Status status = refresh_slots();
  if (!status.ok()) return failed(status);
  last_reply_ = Clock::now();
  backoff_.reset();
}

void ClusterTransport::enqueue(std::vector<Command>&& commands) {
  Pipeline pipeline;
  pipeline.commands = std::move(commands);
  pipelines_.push_back(std::move(pipeline));
}

void ClusterTransport::send(size_t max_in_flight) {
  if (!up_) return;
  if (map_stale_ && Clock::now() >= next_refresh_) {
    next_refresh_ = Clock::now() + kRefreshInterval;
    Status status = refresh_slots();  // a failure is no outage: MOVED keeps the map right slot by slot
    if (!status.ok()) log_(LogLevel::debug, "redis cluster: slot map refresh failed: " + status.message());
  }
  while (sent_ < pipelines_.size() && sent_ < max_in_flight) {
    if (Status status = route(sent_); !status.ok()) return failed(status);
    ++sent_;
  }
  if (Status status = flush(); !status.ok()) failed(status);
}

Status ClusterTransport::add_part(uint64_t sequence, uint32_t index, Command command) {
  int slot = key_hash_slot(routing_key(command));
  int32_t owner = slot_owner_[slot];
  if (owner < 0) return Status::Error("redis cluster: hash slot " + std::to_string(slot) + " has no master");
  Part part;
  part.pipeline = sequence;
  part.index = index;
  part.command = std::move(command);
  nodes_[owner]->outbox.push_back(std::move(part));
  ++pipeline(sequence).open;
  return Status::Ok();
}

// Splits the index-th queued pipeline into parts in the nodes' outboxes.
Status ClusterTransport::route(size_t index) {
  const uint64_t sequence = first_sequence_ + index;
  Pipeline& p = pipelines_[index];
  p.replies.assign(p.commands.size(), Reply{});
  p.merge.assign(p.commands.size(), Merge::assign);
  p.open = 0;
  p.waits = false;
  for (uint32_t i = 0; i < p.commands.size(); ++i) {
    const Command& command = p.commands[i];
    if (command.argv[0] == "WAIT") {
      p.waits = true;
      p.wait_index = i;
      p.merge[i] = Merge::fewest;
      p.replies[i].kind = ReplyKind::Integer;
      p.replies[i].integer = policy_.wait_replicas;  // as answered when no master gets a command
      continue;
    }
    if (!is_delete(command.argv[0]) || command.argv.size() <= 2) {
      if (Status status = add_part(sequence, i, command); !status.ok()) return status;
      continue;
    }
    // One command per slot: Redis refuses a multi-key command across slots (CROSSSLOT).
    std::unordered_map<int, size_t> by_slot;
    std::vector<Command> shares;
    for (size_t k = 1; k < command.argv.size(); ++k) {
      auto [it, added] = by_slot.emplace(key_hash_slot(command.argv[k]), shares.size());
      if (added) shares.push_back(Command{{command.argv[0]}});
      shares[it->second].argv.push_back(command.argv[k]);
    }
    if (shares.size() > 1) {
      p.merge[i] = Merge::sum;
      p.replies[i].kind = ReplyKind::Integer;
    }
    for (Command& share : shares)
      if (Status status = add_part(sequence, i, std::move(share)); !status.ok()) return status;
  }
  if (p.waits && p.open > 0) p.replies[p.wait_index].integer = std::numeric_limits<int64_t>::max();  // the fewest wins
  return Status::Ok();
}

Status ClusterTransport::flush() {
  for (const auto& node : nodes_)
    if (!node->outbox.empty())
      if (Status status = flush_node(*node); !status.ok()) return status;
  return Status::Ok();
}

// Sends a node's outbox as one pipeline, a WAIT after each waiting pipeline's parts.
Status ClusterTransport::flush_node(Node& node) {
  if (Status status = open_node(node); !status.ok()) return status;
  Batch batch;
  batch.parts = std::move(node.outbox);
  node.outbox.clear();
  std::vector<uint64_t> waiting;
  for (const Part& part : batch.parts)
    if (pipeline(part.pipeline).waits && std::find(waiting.begin(), waiting.end(), part.pipeline) == waiting.end())
      waiting.push_back(part.pipeline);
  for (uint64_t sequence : waiting) {
    Pipeline& p = pipeline(sequence);
    batch.parts.push_back(Part{sequence, p.wait_index, 0, false, p.commands[p.wait_index]});
    ++p.open;
  }
  for (size_t j = 0; j < batch.parts.size(); ++j) {
    Part& part = batch.parts[j];
    if (part.asking) {
      batch.commands.push_back(Command{{"ASKING"}});
      batch.part_of.push_back(-1);
      part.asking = false;
    }
    batch.commands.push_back(std::move(part.command));  // back into the part if redirected
    batch.part_of.push_back(static_cast<int>(j));
  }
  if (Status status = node.connection.send(batch.commands); !status.ok()) return status;
  node.wire.push_back(std::move(batch));
  return Status::Ok();
}

// The oldest pipeline is answered already (a batch read for an earlier one carried its parts), or
// the node receive_front() reads from first has a reply.
bool ClusterTransport::reply_arrived() {
  if (sent_ == 0) return false;
  if (pipelines_.front().open == 0) return true;
  Node* node = node_waited_for(first_sequence_);
  return node != nullptr && node->connection.reply_arrived();
}

ClusterTransport::Node* ClusterTransport::node_waited_for(uint64_t sequence) {
  for (const auto& node : nodes_)
    for (const Batch& batch : node->wire)
      for (const Part& part : batch.parts)
        if (part.pipeline == sequence) return node.get();
  return nullptr;
}

// Reads batches (of any pipeline) from the nodes the oldest pipeline waits for, until all its
// parts are answered; redirected parts are sent on at once.
const std::vector<Reply>* ClusterTransport::receive_front() {
  Pipeline& front = pipelines_.front();
  while (front.open > 0) {
    Node* node = node_waited_for(first_sequence_);
    Status status = node ? receive_batch(*node) : Status::Error("redis cluster: a pipeline lost its parts");
    if (status.ok()) status = flush();
    if (!status.ok()) {
      failed(status);
      return nullptr;
    }
  }
  last_reply_ = Clock::now();
  backoff_.reset();
  return &front.replies;
}

Status ClusterTransport::receive_batch(Node& node) {
  Batch batch = std::move(node.wire.front());
  node.wire.pop_front();
  Status status = node.connection.receive(batch.commands.size(), replies_);
  if (!status.ok()) return status;
  ++stats_.round_trips;
  stats_.commands += batch.commands.size();
  for (size_t k = 0; k < batch.commands.size(); ++k) {
    if (batch.part_of[k] < 0) continue;  // ASKING's +OK
    Part& part = batch.parts[batch.part_of[k]];
    if (status = handle_reply(part, batch.commands[k], replies_[k], node); !status.ok()) {
      ++stats_.errors;
      return status;
    }
  }
  return Status::Ok();
}

// `sent`: the part's command, as sent; a redirected part takes it back.
Status ClusterTransport::handle_reply(Part& part, Command& sent, const Reply& reply, const Node& from) {
  Pipeline& p = pipeline(part.pipeline);
  const Command& original = p.commands[part.index];
  Redirect redirect;
  if (reply.error && parse_redirect(reply.text, from.address.host, redirect)) {
    if (++part.redirects > kMaxRedirects)
      return Status::Error("redis cluster " + original.argv[0] + ": still redirected after " +
                           std::to_string(kMaxRedirects) + " tries: " + reply.text);
    size_t to = node_for(redirect.to);
    if (redirect.ask) {
      ++stats_.asked;
      part.asking = true;
    } else {
      ++stats_.moved;
      slot_owner_[redirect.slot] = static_cast<int32_t>(to);
      map_stale_ = true;
    }
    part.command = std::move(sent);
    nodes_[to]->outbox.push_back(std::move(part));
    return Status::Ok();
  }
  if (reply.error) {
    const ReplyClass cls = classify_error_reply(reply.text);
    const bool handled = cls == ReplyClass::out_of_memory && policy_.handles_oom && policy_.handles_oom(original);
    if (cls == ReplyClass::outage || (cls == ReplyClass::out_of_memory && !handled))
      return Status::Error("redis " + from.address.name() + " " + original.argv[0] + ": " + reply.text);
  } else if (p.waits && part.index == p.wait_index && reply.integer < policy_.wait_replicas) {
    return Status::Error("redis " + from.address.name() + " WAIT: " + std::to_string(reply.integer) + " of " +
                         std::to_string(policy_.wait_replicas) + " replica(s) acknowledged within " +
                         std::to_string(policy_.wait_timeout_ms) + " ms");
  }
  merge(p, part.index, reply);
  --p.open;
  return Status::Ok();
}

void ClusterTransport::merge(Pipeline& p, uint32_t index, const Reply& reply) {
  Reply& into = p.replies[index];
  if (into.error) return;  // the first error reply stands for the whole command
  if (reply.error || p.merge[index] == Merge::assign) {
    into = reply;
  } else if (p.merge[index] == Merge::sum) {
    into.integer += reply.integer;
  } else {
    into.integer = std::min(into.integer, reply.integer);
  }
}

void ClusterTransport::pop_front() {
  pipelines_.pop_front();
  ++first_sequence_;
  --sent_;
}

void ClusterTransport::disconnect_nodes() {
  for (const auto& node : nodes_) {
    node->connection.disconnect();
    node->wire.clear();
    node->outbox.clear();
  }
}

// Whatever was routed is routed and sent again after the backoff, on a fresh slot map.
void ClusterTransport::failed(const Status& status) {
  disconnect_nodes();
  if (up_)
    log_(LogLevel::warn, "redis cluster unavailable, fetching paused, " + std::to_string(pipelines_.size()) +
                             " pipeline(s) kept for resending: " + status.message());
  up_ = false;
  sent_ = 0;
  map_stale_ = true;
  next_attempt_ = Clock::now() + backoff_.next_delay();
  if (on_down_) on_down_();
}

void ClusterTransport::clear() {
  disconnect_nodes();
  pipelines_.clear();
  first_sequence_ = 0;
  sent_ = 0;
}

void ClusterTransport::disconnect() {
  disconnect_nodes();
  if (control_) control_->disconnect();
}

}  // namespace cdc
