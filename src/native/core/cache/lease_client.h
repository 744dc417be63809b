// The read side's Redis client: GET, lease, fill and release, on its own connection and thread.
// Requests from any thread are queued (bounded), sent as one pipeline per round trip and answered
// in batches through the deliver callback, on the client's thread.
//
// Leases live IN the key (Facebook memcache's leases, NSDI 2013, 3.2.1, without a server change):
// a miss writes a marker value (prefix + token + suffix, with a short PX) where the value will go.
// Whatever removes or replaces the key - an invalidation's UNLINK/DEL, a refresh rule's SET, the
// lease's own expiry - removes the lease with it, so a fill (a Lua script that writes only while
// the key still holds its own marker) cannot land after a change it did not see.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "redis/cluster_slots.h"
#include "redis/connection.h"

namespace cdc {

// record: SET key value NX PX ttl (an idempotency id, onMessage): filled when set, refused when
// the key already existed.
enum class ReadOp : uint8_t { get = 0, acquire = 1, fill = 2, release = 3, record = 4 };

enum class ReadOutcome : uint8_t {
  hit = 0,      // get/acquire: `value` holds the cached bytes
  miss = 1,     // get: no value and no lease
  leased = 2,   // get/acquire: another caller holds the lease
  granted = 3,  // acquire: the lease is ours; `value` holds its token
  filled = 4,   // fill: written
  refused = 5,  // fill/release: the lease was gone (invalidated, refreshed or expired)
  released = 6, // release: our lease removed
  error = 7,    // `value` holds the reason (Redis down, error reply, queue full, closed)
};

struct ReadRequest {
  uint64_t id = 0;
  ReadOp op = ReadOp::get;
  std::string key;    // full key, prefix applied by the caller
  std::string token;  // fill/release: the token acquire granted
  std::string value;  // fill: the encoded value
  int64_t ttl_ms = 0; // fill: expiry; 0: none
};

struct ReadResult {
  uint64_t id = 0;
  ReadOutcome outcome = ReadOutcome::error;
  std::string value;
};

struct LeaseClientOptions {
  RedisEndpoint endpoint;  // with a cluster: the credentials of every node
  // Redis Cluster seeds (redis.cluster.nodes); empty: one node at `endpoint`. With a cluster every
  // request is routed by its key's slot (MOVED/ASK followed) and scripts go as EVAL.
  std::vector<ClusterAddress> cluster_nodes;
  RedisOptions redis;
  // A lease's marker value is marker_prefix + token + marker_suffix. The prefix must be something
  // no encoded value starts with.
  std::string marker_prefix = std::string("\0cdc-cache-lease:", 17);
  std::string marker_suffix;
  int64_t lease_ms = 10000;       // a lease outlives a loader that never returns by this much
  size_t max_queued = 65536;      // requests waiting beyond this are refused with an error
  size_t max_batch = 1024;        // requests in one pipeline
  int reconnect_backoff_ms = 250; // after a failed connect, requests fail fast for this long
};

struct LeaseClientStats {
  uint64_t round_trips = 0;
  uint64_t commands = 0;
  uint64_t errors = 0;      // requests answered with ReadOutcome::error
  uint64_t reconnects = 0;  // successful connects after the first
  uint64_t noscript = 0;    // EVALSHA answered NOSCRIPT, resent as EVAL
  bool connected = false;
};

class LeaseClient {
 public:
  using Deliver = std::function<void(std::vector<ReadResult>&&)>;
  // `closed` is the client thread's last call.
  LeaseClient(LeaseClientOptions options, Deliver deliver, std::function<void()> closed);
  ~LeaseClient();  // close() and join
  LeaseClient(const LeaseClient&) = delete;
  LeaseClient& operator=(const LeaseClient&) = delete;

  void start();
  // Queues requests; false (nothing queued) when closed or when the queue is full.
  bool submit(std::vector<ReadRequest>&& requests);
  // Answers what is still queued with an error, then the thread ends. Never blocks.
  void close();
  // Joins the thread once it has finished; false when it did not finish within timeout_ms.
  bool join(int timeout_ms);
  LeaseClientStats stats() const;

  // The Lua scripts, exposed for tests.
  static const char* acquire_script();
  static const char* fill_script();
  static const char* release_script();

 private:
  struct Shared;
  static void run_loop(Shared& shared);
  std::shared_ptr<Shared> shared_;
};

}  // namespace cdc
