// One Redis connection owned by one thread. Commands go out as argv pipelines; every reply is
// read and checked. Callers that keep pipelines in flight and wait out outages use RedisTransport
// (redis/transport.h), where routing across nodes (Redis Cluster) goes next.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/option_limits.h"
#include "common/status.h"
#include "redis/command.h"
#include "redis/tls.h"

namespace cdc {

struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string username;  // empty: AUTH with password only
  std::string password;  // never logged
  int db = 0;
  bool tls = false;      // rediss://, or redis.tls given
  // With tls: the certificates to use (configure_redis_tls); null: verify against the system's
  // trust store, made at the first connect.
  std::shared_ptr<const TlsClientContext> tls_context;
};

// redis://[user[:password]@]host[:port][/db] (user and password percent-decoded; IPv6 hosts in
// brackets). Defaults: 127.0.0.1, 6379, db 0. Errors start with "redis.url: " and never contain
// the password.
Status parse_redis_url(std::string_view url, RedisEndpoint& out);

// redis.tls given (settings non-null) turns TLS on even for a redis:// URL; with TLS on, builds
// the context (certificates read and checked now). Errors name the field ("redis.tls.ca: ...").
Status configure_redis_tls(const RedisTlsSettings* settings, RedisEndpoint& endpoint);

struct RedisOptions {
  // <= 0: no timeout
  int connect_timeout_ms = static_cast<int>(option_limits::redis_connect_timeout_ms.default_value);
  // Per blocking read/write on the socket; <= 0: no timeout.
  int command_timeout_ms = static_cast<int>(option_limits::redis_command_timeout_ms.default_value);
};

enum class ReplyKind { Status, Error, Integer, Bulk, Nil, Array };

// Outcome of one reply. An error reply (e.g. NOPERM, WRONGTYPE) is not an I/O failure.
struct Reply {
  ReplyKind kind = ReplyKind::Nil;
  bool error = false;    // kind == Error
  int64_t integer = 0;   // Integer: the value (UNLINK/DEL count); Array: the element count
  std::string text;      // Error: message; Status and Bulk: the bytes
};

class RedisConnection {
 public:
  RedisConnection(RedisEndpoint endpoint, RedisOptions options);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Connects, AUTHs and SELECTs. Safe to call again after a failure; a no-op when connected.
  // Errors read "redis host:port: ..." and never contain the password.
  Status connect();
  bool connected() const;
  // Drops the connection and forgets every pending reply.
  void disconnect();

  // Appends a pipeline to the output buffer and writes it all out. Several pipelines may be sent
  // before their replies are read (bounded by the caller). An empty pipeline is a no-op.
  Status send(const std::vector<Command>& commands);
  // Clears `replies` and reads the next `count` replies in order (count <= pending_replies()).
  // An I/O error or timeout disconnects the node: every pipeline sent and not fully read must be
  // sent again after connect() (deletes are idempotent). Replies read before the failure are left
  // in `replies` for diagnostics only.
  Status receive(size_t count, std::vector<Reply>& replies);
  // One command, one reply: send() + receive(1). Requires no other pending replies.
  Status command(const Command& command, Reply& reply);

  // Replies sent and not read yet (0 after a disconnect).
  size_t pending_replies() const;
  // A reply pending has (at least partly) arrived: receive() will not wait for the server to
  // begin answering (the rest of a long reply may still be on its way).
  bool reply_arrived() const;

  const RedisEndpoint& endpoint() const { return endpoint_; }

 private:
  Status io_failure(const char* what, int saved_errno);
  Status tls_failure(const Status& status);
  Status connect_socket();
  Status send_tls(size_t commands);
  Status receive_tls(size_t count, std::vector<Reply>& replies);
  std::string prefix() const;

  RedisEndpoint endpoint_;
  RedisOptions options_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cdc
