#include "cache/lease_client.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "redis/transport.h"

namespace cdc {
namespace {

using Clock = std::chrono::steady_clock;

// KEYS[1] key; ARGV[1] marker, ARGV[2] lease ms. The value, or the marker someone else left, or 1
// when the lease is ours.
const char kAcquire[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if v then return v end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "return 1\n";

// KEYS[1] key; ARGV[1] marker, ARGV[2] value, ARGV[3] ttl ms ("0": none). 1 written, 0 refused.
const char kFill[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end\n"
    "if ARGV[3] == '0' then redis.call('SET', KEYS[1], ARGV[2])\n"
    "else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end\n"
    "return 1\n";

// KEYS[1] key; ARGV[1] marker. 1 removed, 0 it was not ours any more.
const char kRelease[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end\n"
    "return 0\n";

const char* script_of(ReadOp op) {
  switch (op) {
    case ReadOp::acquire: return kAcquire;
    case ReadOp::fill: return kFill;
    case ReadOp::release: return kRelease;
    case ReadOp::get:
    case ReadOp::record: break;
  }
  return nullptr;
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return !prefix.empty() && text.size() >= prefix.size() && text.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

struct LeaseClient::Shared {
  LeaseClientOptions options;
  Deliver deliver;
  std::function<void()> closed;
  RedisConnection node;
  std::unique_ptr<RedisTransport> cluster;  // instead of `node`, with cluster_nodes
  bool cluster_started = false;
  std::string cluster_error;  // the last outage the cluster transport logged

  std::mutex mutex;
  std::condition_variable wake;
  std::deque<ReadRequest> queue;
  bool closing = false;

  std::mutex done_mutex;
  std::condition_variable done_cv;
  bool done = false;
  std::mutex thread_mutex;
  std::thread thread;

  // Client thread only.
  std::string shas[4];  // by ReadOp; empty: not loaded (EVAL is used)
  bool scripts_loaded = false;
  bool ever_connected = false;
  Clock::time_point next_connect{};
  std::string last_connect_error;
  std::mt19937_64 random{std::random_device{}()};

  mutable std::mutex stats_mutex;
  LeaseClientStats stats;

  Shared(LeaseClientOptions o, Deliver d, std::function<void()> c)
      : options(std::move(o)), deliver(std::move(d)), closed(std::move(c)), node(options.endpoint, options.redis) {
    if (options.cluster_nodes.empty()) return;
    auto log = [this](LogLevel level, const std::string& message) {
      if (level >= LogLevel::warn) cluster_error = message;
    };
    cluster = std::make_unique<RedisTransport>(options.endpoint, options.redis, OutagePolicy{}, log, nullptr,
                                               options.cluster_nodes);
  }

  std::string marker(const std::string& token) const {
    return options.marker_prefix + token + options.marker_suffix;
  }
  std::string new_token() {
    static const char digits[] = "0123456789abcdef";
    uint64_t a = random(), b = random();
    std::string token(32, '0');
    for (int i = 0; i < 16; ++i) {
      token[i] = digits[(a >> (i * 4)) & 15];
      token[16 + i] = digits[(b >> (i * 4)) & 15];
    }
    return token;
  }

  Status ensure_connected();
  void load_scripts();
  Command command_for(const ReadRequest& request, const std::string& token, bool eval) const;
  ReadResult interpret(const ReadRequest& request, const std::string& token, const Reply& reply) const;
  void process(std::vector<ReadRequest>& batch, std::vector<ReadResult>& results);
  void process_in_cluster(std::vector<ReadRequest>& batch, std::vector<ReadResult>& results);
  void count(size_t commands, size_t round_trips, const std::vector<ReadResult>& results, size_t noscript);
};

Status LeaseClient::Shared::ensure_connected() {
  if (node.connected()) return Status::Ok();
  if (Clock::now() < next_connect) return Status::Error(last_connect_error);
  Status status = node.connect();
  if (!status.ok()) {
    last_connect_error = status.message();
    next_connect = Clock::now() + std::chrono::milliseconds(options.reconnect_backoff_ms);
    return status;
  }
  {
    std::lock_guard<std::mutex> lock(stats_mutex);
    if (ever_connected) ++stats.reconnects;
    stats.connected = true;
  }
  ever_connected = true;
  scripts_loaded = false;
  return Status::Ok();
}

// SCRIPT LOAD once per connection; a server that refuses it (ACL) gets EVAL every time.
void LeaseClient::Shared::load_scripts() {
  scripts_loaded = true;
  for (ReadOp op : {ReadOp::acquire, ReadOp::fill, ReadOp::release}) {
    Reply reply;
    Status status = node.command(Command{{"SCRIPT", "LOAD", script_of(op)}}, reply);
    shas[static_cast<int>(op)] = status.ok() && reply.kind == ReplyKind::Bulk ? reply.text : std::string();
    if (!status.ok()) return;
  }
}

Command LeaseClient::Shared::command_for(const ReadRequest& request, const std::string& token, bool eval) const {
  if (request.op == ReadOp::get) return Command{{"GET", request.key}};
  if (request.op == ReadOp::record)
    return Command{{"SET", request.key, request.value, "NX", "PX", std::to_string(std::max<int64_t>(1, request.ttl_ms))}};
  const std::string& sha = shas[static_cast<int>(request.op)];
  Command command;
  std::vector<std::string>& argv = command.argv;
  if (eval || sha.empty()) {
    argv = {"EVAL", script_of(request.op)};
  } else {
    argv = {"EVALSHA", sha};
  }
  argv.push_back("1");
  argv.push_back(request.key);
  argv.push_back(marker(token));
  if (request.op == ReadOp::acquire) argv.push_back(std::to_string(options.lease_ms));
  if (request.op == ReadOp::fill) {
    argv.push_back(request.value);
    argv.push_back(std::to_string(request.ttl_ms > 0 ? request.ttl_ms : 0));
  }
  return command;
}

ReadResult LeaseClient::Shared::interpret(const ReadRequest& request, const std::string& token,
                                          const Reply& reply) const {
  ReadResult result;
  result.id = request.id;
  if (reply.error) {
    result.outcome = ReadOutcome::error;
    result.value = "redis: " + reply.text;
    return result;
  }
  switch (request.op) {
    case ReadOp::get:
    case ReadOp::acquire:
      if (reply.kind == ReplyKind::Bulk) {
        result.outcome = starts_with(reply.text, options.marker_prefix) ? ReadOutcome::leased : ReadOutcome::hit;
        if (result.outcome == ReadOutcome::hit) result.value = reply.text;
      } else if (request.op == ReadOp::acquire && reply.kind == ReplyKind::Integer) {
        result.outcome = ReadOutcome::granted;
        result.value = token;
      } else if (request.op == ReadOp::get && reply.kind == ReplyKind::Nil) {
        result.outcome = ReadOutcome::miss;
      } else {
        result.value = "redis: unexpected reply";
      }
      break;
    case ReadOp::fill:
      result.outcome = reply.integer == 1 ? ReadOutcome::filled : ReadOutcome::refused;
      break;
    case ReadOp::release:
      result.outcome = reply.integer == 1 ? ReadOutcome::released : ReadOutcome::refused;
      break;
    case ReadOp::record:
      result.outcome = reply.kind == ReplyKind::Status ? ReadOutcome::filled : ReadOutcome::refused;
      break;
  }
  return result;
}

void LeaseClient::Shared::count(size_t commands, size_t round_trips, const std::vector<ReadResult>& results,
                                size_t noscript) {
  size_t errors = 0;
  for (const ReadResult& result : results) errors += result.outcome == ReadOutcome::error;
  std::lock_guard<std::mutex> lock(stats_mutex);
  stats.commands += commands;
  stats.round_trips += round_trips;
  stats.errors += errors;
  stats.noscript += noscript;
  stats.connected = cluster ? cluster->up() : node.connected();
}

// Through the cluster transport, which routes by slot and follows MOVED/ASK; an outage fails the
// batch at once (the caller decides, as with one node) and is retried after the backoff.
void LeaseClient::Shared::process_in_cluster(std::vector<ReadRequest>& batch, std::vector<ReadResult>& results) {
  results.clear();
  if (!cluster_started) {
    cluster_started = true;
    cluster->connect_at_start();
  }
  cluster->reconnect_if_due();
  std::vector<std::string> tokens(batch.size());
  std::vector<Command> commands;
  commands.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    tokens[i] = batch[i].op == ReadOp::acquire ? new_token() : batch[i].token;
    commands.push_back(command_for(batch[i], tokens[i], true));
  }
  const std::vector<Reply>* replies = nullptr;
  if (cluster->up()) {
    cluster->enqueue(std::move(commands));
    cluster->send(1);
    if (cluster->on_wire() > 0) replies = cluster->receive_front();
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    if (replies) {
      results.push_back(interpret(batch[i], tokens[i], (*replies)[i]));
    } else {
      results.push_back(ReadResult{batch[i].id, ReadOutcome::error,
                                   cluster_error.empty() ? "redis cluster unavailable" : cluster_error});
    }
  }
  if (replies) {
    cluster->pop_front();
  } else {
    cluster->clear();  // nothing waits for a retry: the caller got its answer
  }
  count(batch.size(), replies ? 1 : 0, results, 0);
}

// One pipeline for the batch; what NOSCRIPT refused goes again as EVAL in a second one.
void LeaseClient::Shared::process(std::vector<ReadRequest>& batch, std::vector<ReadResult>& results) {
  if (cluster) return process_in_cluster(batch, results);
  results.clear();
  auto fail_all = [&](const std::string& reason) {
    results.clear();
    for (const ReadRequest& request : batch) results.push_back(ReadResult{request.id, ReadOutcome::error, reason});
  };
  Status status = ensure_connected();
  if (status.ok() && !scripts_loaded) load_scripts();
  if (status.ok() && !node.connected()) status = ensure_connected();
  if (!status.ok()) {
    fail_all(status.message());
    count(0, 0, results, 0);
    return;
  }
  std::vector<std::string> tokens(batch.size());
  std::vector<Command> commands;
  commands.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    tokens[i] = batch[i].op == ReadOp::acquire ? new_token() : batch[i].token;
    commands.push_back(command_for(batch[i], tokens[i], false));
  }
  std::vector<Reply> replies;
  status = node.send(commands);
  if (status.ok()) status = node.receive(commands.size(), replies);
  if (!status.ok()) {
    fail_all(status.message());
    count(commands.size(), 1, results, 0);
    return;
  }
  std::vector<size_t> again;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (replies[i].error && replies[i].text.rfind("NOSCRIPT", 0) == 0) {
      again.push_back(i);
      commands[again.size() - 1] = command_for(batch[i], tokens[i], true);
    }
    results.push_back(interpret(batch[i], tokens[i], replies[i]));
  }
  size_t round_trips = 1;
  if (!again.empty()) {
    scripts_loaded = false;  // the server lost them (SCRIPT FLUSH, restart, failover): load again
    commands.resize(again.size());
    status = node.send(commands);
    if (status.ok()) status = node.receive(commands.size(), replies);
    ++round_trips;
    for (size_t j = 0; j < again.size(); ++j) {
      size_t i = again[j];
      if (status.ok()) {
        results[i] = interpret(batch[i], tokens[i], replies[j]);
      } else {
        results[i] = ReadResult{batch[i].id, ReadOutcome::error, status.message()};
      }
    }
  }
  count(commands.size() + batch.size(), round_trips, results, again.size());
}

LeaseClient::LeaseClient(LeaseClientOptions options, Deliver deliver, std::function<void()> closed)
    : shared_(std::make_shared<Shared>(std::move(options), std::move(deliver), std::move(closed))) {}

LeaseClient::~LeaseClient() {
  close();
  join(-1);
}

void LeaseClient::start() {
  std::lock_guard<std::mutex> lock(shared_->thread_mutex);
  if (shared_->thread.joinable()) return;
  shared_->thread = std::thread([shared = shared_] { run_loop(*shared); });
}


void LeaseClient::run_loop(Shared& shared) {
  std::vector<ReadRequest> batch;
  std::vector<ReadResult> results;
  for (;;) {
    batch.clear();
    bool closing = false;
    {
      std::unique_lock<std::mutex> lock(shared.mutex);
      shared.wake.wait(lock, [&] { return shared.closing || !shared.queue.empty(); });
      closing = shared.closing;
      size_t take = closing ? shared.queue.size() : std::min(shared.queue.size(), shared.options.max_batch);
      for (size_t i = 0; i < take; ++i) {
        batch.push_back(std::move(shared.queue.front()));
        shared.queue.pop_front();
      }
    }
    if (closing) {
      results.clear();
      for (const ReadRequest& request : batch) results.push_back({request.id, ReadOutcome::error, "reader closed"});
      if (!results.empty()) shared.deliver(std::move(results));
      break;
    }
    shared.process(batch, results);
    shared.deliver(std::move(results));
    results = std::vector<ReadResult>();
  }
  shared.node.disconnect();
  if (shared.cluster) shared.cluster->disconnect();
  if (shared.closed) shared.closed();
  std::lock_guard<std::mutex> lock(shared.done_mutex);
  shared.done = true;
  shared.done_cv.notify_all();
}

bool LeaseClient::submit(std::vector<ReadRequest>&& requests) {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  if (shared_->closing || shared_->queue.size() + requests.size() > shared_->options.max_queued) return false;
  for (ReadRequest& request : requests) shared_->queue.push_back(std::move(request));
  shared_->wake.notify_one();
  return true;
}

void LeaseClient::close() {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  shared_->closing = true;
  shared_->wake.notify_one();
}

bool LeaseClient::join(int timeout_ms) {
  {
    std::lock_guard<std::mutex> lock(shared_->thread_mutex);
    if (!shared_->thread.joinable()) return true;
  }
  {
    std::unique_lock<std::mutex> lock(shared_->done_mutex);
    auto finished = [&] { return shared_->done; };
    if (timeout_ms < 0) {
      shared_->done_cv.wait(lock, finished);
    } else if (!shared_->done_cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), finished)) {
      return false;
    }
  }
  std::lock_guard<std::mutex> lock(shared_->thread_mutex);
  if (shared_->thread.joinable() && shared_->thread.get_id() != std::this_thread::get_id()) shared_->thread.join();
  return true;
}

LeaseClientStats LeaseClient::stats() const {
  std::lock_guard<std::mutex> lock(shared_->stats_mutex);
  return shared_->stats;
}

const char* LeaseClient::acquire_script() { return kAcquire; }
const char* LeaseClient::fill_script() { return kFill; }
const char* LeaseClient::release_script() { return kRelease; }

}  // namespace cdc
