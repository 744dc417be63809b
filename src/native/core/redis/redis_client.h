// One Redis connection owned by one thread (the engine's). Commands go out as argv pipelines;
// every reply is read and checked. Structured by node so Redis Cluster routing can be added
// without changing callers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "rules/rules.h"

namespace cdc {

struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string username;  // empty: AUTH with password only
  std::string password;  // never logged
  int db = 0;
  bool tls = false;      // rediss:// is parsed but not supported yet: connect() fails clearly
};

// redis://[user[:password]@]host[:port][/db]. Errors never contain the password.
Status parse_redis_url(std::string_view url, RedisEndpoint& out);

struct RedisOptions {
  int connect_timeout_ms = 2000;
  int command_timeout_ms = 5000;
};

// Outcome of one reply. An error reply (e.g. NOPERM, WRONGTYPE) is not an I/O failure.
struct Reply {
  bool error = false;
  int64_t integer = 0;   // integer replies (UNLINK/DEL count)
  std::string text;      // error message or status/bulk text
};

class RedisNode {
 public:
  RedisNode(RedisEndpoint endpoint, RedisOptions options);
  ~RedisNode();
  RedisNode(const RedisNode&) = delete;
  RedisNode& operator=(const RedisNode&) = delete;

  // Connects, AUTHs and SELECTs. Safe to call again after a failure.
  Status connect();
  bool connected() const;
  void disconnect();

  // Appends a pipeline to the output buffer and writes it out. Several pipelines may be sent
  // before their replies are read (bounded by the caller).
  Status send(const std::vector<Command>& commands);
  // Reads the next `count` replies in order. An I/O error or timeout disconnects the node: every
  // pipeline sent and not fully read must be sent again after connect() (deletes are idempotent).
  Status receive(size_t count, std::vector<Reply>& replies);

  const RedisEndpoint& endpoint() const { return endpoint_; }

 private:
  RedisEndpoint endpoint_;
  RedisOptions options_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cdc
