#include "redis/connection.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>

namespace cdc {
namespace {

// hiredis 0.14 writes with write(2): writing to a socket the server has closed raises SIGPIPE,
// which kills any process that has not ignored it (Node ignores it; test binaries and other hosts
// may not). Block SIGPIPE on this thread around our writes and swallow one that a write raised,
// so a dead server is an error Status, never a dead process.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_set_);
    sigaddset(&pipe_set_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set_, &old_mask_);
  }
  ~SigpipeGuard() {
    int saved_errno = errno;  // callers read errno after the guarded write
    if (!was_pending_) {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set_, nullptr, &zero) == -1 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
    errno = saved_errno;
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_set_;
  sigset_t old_mask_;
  bool was_pending_ = false;
};

struct timeval to_timeval(int ms) {
  struct timeval tv;
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  return tv;
}

// Belt and braces: a server message could echo what we sent.
std::string redact(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
    text.replace(at, secret.size(), "***");
  }
  return text;
}

Reply to_reply(const redisReply* raw) {
  Reply reply;
  switch (raw->type) {
    case REDIS_REPLY_STATUS:
      reply.kind = ReplyKind::Status;
      reply.text.assign(raw->str, raw->len);
      break;
    case REDIS_REPLY_ERROR:
      reply.kind = ReplyKind::Error;
      reply.error = true;
      reply.text.assign(raw->str, raw->len);
      break;
    case REDIS_REPLY_INTEGER:
      reply.kind = ReplyKind::Integer;
      reply.integer = raw->integer;
      break;
    case REDIS_REPLY_STRING:
      reply.kind = ReplyKind::Bulk;
      reply.text.assign(raw->str, raw->len);
      break;
    case REDIS_REPLY_ARRAY:
      reply.kind = ReplyKind::Array;
      reply.integer = static_cast<int64_t>(raw->elements);
      break;
    default:
      reply.kind = ReplyKind::Nil;
      break;
  }
  return reply;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    int high = i + 1 < in.size() ? hex_value(in[i + 1]) : -1;
    int low = i + 2 < in.size() ? hex_value(in[i + 2]) : -1;
    if (high < 0 || low < 0) return false;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return true;
}

bool parse_decimal(std::string_view text, int64_t max, int64_t& out) {
  if (text.empty() || text.size() > 10) return false;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  if (value > max) return false;
  out = value;
  return true;
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

// user[:password] before the last '@', percent-decoded.
Status parse_userinfo(std::string_view userinfo, RedisEndpoint& endpoint) {
  size_t colon = userinfo.find(':');
  std::string_view user = userinfo.substr(0, colon);
  if (!percent_decode(user, endpoint.username)) {
    return Status::Error("redis.url: invalid percent-encoding in the user name");
  }
  if (colon != std::string_view::npos && !percent_decode(userinfo.substr(colon + 1), endpoint.password)) {
    return Status::Error("redis.url: invalid percent-encoding in the password");
  }
  return Status::Ok();
}

// host[:port] or [ipv6][:port]; the port as written (empty when absent).
Status split_authority(std::string_view authority, std::string_view& host, std::string_view& port) {
  host = authority;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return Status::Error("redis.url: unclosed '[' in the IPv6 host");
    }
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Status::Error("redis.url: unexpected text after the IPv6 host");
      port = after.substr(1);
      if (port.empty()) return Status::Error("redis.url: empty port");
    }
    return Status::Ok();
  }
  size_t colon = authority.find(':');
  if (colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return Status::Error("redis.url: empty port");
  }
  return Status::Ok();
}

// What follows the credentials: host, port and database.
Status parse_location(std::string_view rest, RedisEndpoint& endpoint) {
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return Status::Error("redis.url: query and fragment parameters are not supported");
  }
  size_t slash = rest.find('/');
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  std::string_view host, port;
  Status st = split_authority(rest.substr(0, slash), host, port);
  if (!st.ok()) return st;
  if (!host.empty()) endpoint.host = std::string(host);
  if (!port.empty()) {
    int64_t value = 0;
    if (!parse_decimal(port, 65535, value) || value == 0) {
      // The text is not echoed: in "redis://user:secret" (no '@') the password sits there.
      return Status::Error("redis.url: invalid port (a number from 1 to 65535)");
    }
    endpoint.port = static_cast<int>(value);
  }
  if (!path.empty()) {
    int64_t value = 0;
    if (!parse_decimal(path, 1 << 30, value)) {
      return Status::Error("redis.url: invalid database (a non-negative integer after '/')");
    }
    endpoint.db = static_cast<int>(value);
  }
  return Status::Ok();
}

}  // namespace

Status parse_redis_url(std::string_view url, RedisEndpoint& out) {
  RedisEndpoint endpoint;
  std::string_view rest;
  if (starts_with_ignoring_case(url, "redis://")) {
    rest = url.substr(8);
  } else if (starts_with_ignoring_case(url, "rediss://")) {
    rest = url.substr(9);
    endpoint.tls = true;
  } else {
    return Status::Error("redis.url: must start with redis:// or rediss://");
  }
  // The LAST '@' ends the credentials, so a password may hold an unencoded '@', '/' or ':'.
  // Nothing after it can be the password, so only that part ever appears in an error.
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    Status st = parse_userinfo(rest.substr(0, at), endpoint);
    if (!st.ok()) return st;
    rest = rest.substr(at + 1);
  }
  Status st = parse_location(rest, endpoint);
  if (!st.ok()) return st;
  out = std::move(endpoint);
  return Status::Ok();
}

Status configure_redis_tls(const RedisTlsSettings* settings, RedisEndpoint& endpoint) {
  if (settings != nullptr) endpoint.tls = true;
  if (!endpoint.tls) return Status::Ok();
  static const RedisTlsSettings kDefaults;
  return TlsClientContext::create(settings != nullptr ? *settings : kDefaults, endpoint.tls_context);
}

// Plain TCP: hiredis owns the socket, as it always did. TLS: a TlsStream owns it, and hiredis's
// reader parses the decrypted replies; the pipeline goes out from `wire` with no copy.
struct RedisConnection::Impl {
  redisContext* context = nullptr;
  std::unique_ptr<TlsStream> tls;
  redisReader* reader = nullptr;
  size_t pending = 0;
  // The pipeline in RESP, reused between sends: no allocation per command once warmed up.
  std::string wire;

  bool open() const { return context != nullptr || tls != nullptr; }
  void close() {
    if (context != nullptr) redisFree(context);
    context = nullptr;
    if (reader != nullptr) redisReaderFree(reader);
    reader = nullptr;
    if (tls) {
      SigpipeGuard guard;  // close_notify is a write
      tls.reset();
    }
    pending = 0;
  }
};

RedisConnection::RedisConnection(RedisEndpoint endpoint, RedisOptions options)
    : endpoint_(std::move(endpoint)), options_(options), impl_(std::make_unique<Impl>()) {}

RedisConnection::~RedisConnection() { impl_->close(); }

bool RedisConnection::connected() const { return impl_->open(); }

void RedisConnection::disconnect() { impl_->close(); }

size_t RedisConnection::pending_replies() const { return impl_->pending; }

bool RedisConnection::reply_arrived() const {
  if (impl_->pending == 0 || !impl_->open()) return false;
  const redisReader* reader = impl_->tls ? impl_->reader : impl_->context->reader;
  if (reader != nullptr && reader->pos < reader->len) return true;  // read, not parsed yet
  if (impl_->tls) return impl_->tls->readable();
  pollfd waiting{impl_->context->fd, POLLIN, 0};
  return ::poll(&waiting, 1, 0) > 0;
}

std::string RedisConnection::prefix() const {
  bool ipv6 = endpoint_.host.find(':') != std::string::npos;
  return "redis " + (ipv6 ? "[" + endpoint_.host + "]" : endpoint_.host) + ":" +
         std::to_string(endpoint_.port) + ": ";
}

// Builds the error for a failed read or write, then drops the connection: after an I/O error the
// stream position is unknown, so no later reply could be matched to its command.
Status RedisConnection::io_failure(const char* what, int saved_errno) {
  std::string reason;
  redisContext* context = impl_->context;
  if (context != nullptr && context->err == REDIS_ERR_IO &&
      (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK)) {
    reason = "timed out after " + std::to_string(options_.command_timeout_ms) + " ms";
  } else if (context != nullptr && context->err != 0) {
    reason = context->errstr;
  } else {
    reason = std::strerror(saved_errno);
  }
  impl_->close();
  return Status::Error(redact(prefix() + what + " failed: " + reason, endpoint_.password));
}

Status RedisConnection::tls_failure(const Status& status) {
  impl_->close();
  return Status::Error(redact(prefix() + status.message(), endpoint_.password));
}

// The socket (and for TLS the session), before AUTH and SELECT.
Status RedisConnection::connect_socket() {
  if (endpoint_.tls) {
    if (endpoint_.tls_context == nullptr) {
      Status made = configure_redis_tls(nullptr, endpoint_);
      if (!made.ok()) return Status::Error(prefix() + made.message());
    }
    auto stream = std::make_unique<TlsStream>();
    SigpipeGuard guard;  // the handshake writes
    Status st = stream->open(endpoint_.host, endpoint_.port, *endpoint_.tls_context, options_.connect_timeout_ms);
    if (!st.ok()) return Status::Error(redact(prefix() + st.message(), endpoint_.password));
    impl_->reader = redisReaderCreate();
    if (impl_->reader == nullptr) return Status::Error(prefix() + "connect failed: out of memory");
    impl_->tls = std::move(stream);
    impl_->pending = 0;
    return Status::Ok();
  }
  redisContext* context =
      options_.connect_timeout_ms > 0
          ? redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port,
                                    to_timeval(options_.connect_timeout_ms))
          : redisConnect(endpoint_.host.c_str(), endpoint_.port);
  if (context == nullptr) return Status::Error(prefix() + "connect failed: out of memory");
  if (context->err != 0) {
    std::string reason = context->errstr;
    redisFree(context);
    return Status::Error(redact(prefix() + "connect failed: " + reason, endpoint_.password));
  }
  impl_->context = context;
  impl_->pending = 0;
  if (options_.command_timeout_ms > 0 &&
      redisSetTimeout(context, to_timeval(options_.command_timeout_ms)) != REDIS_OK) {
    return io_failure("setting the command timeout", errno);
  }
  // Detects a server that vanished without closing (half-open connection) while we are idle.
  redisEnableKeepAlive(context);
  return Status::Ok();
}

Status RedisConnection::connect() {
  if (impl_->open()) return Status::Ok();
  Status connected = connect_socket();
  if (!connected.ok()) return connected;

  // AUTH and SELECT as argv: the password is never formatted into a string.
  auto run = [&](std::vector<std::string> argv, const char* name) -> Status {
    Reply reply;
    Status status = command(Command{std::move(argv)}, reply);
    if (!status.ok()) return status;  // already disconnected, message already redacted
    if (reply.error) {
      impl_->close();
      return Status::Error(redact(prefix() + name + " failed: " + reply.text, endpoint_.password));
    }
    return Status::Ok();
  };
  if (!endpoint_.username.empty()) {
    Status status = run({"AUTH", endpoint_.username, endpoint_.password}, "AUTH");
    if (!status.ok()) return status;
  } else if (!endpoint_.password.empty()) {
    Status status = run({"AUTH", endpoint_.password}, "AUTH");
    if (!status.ok()) return status;
  }
  if (endpoint_.db != 0) {
    Status status = run({"SELECT", std::to_string(endpoint_.db)}, "SELECT");
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

Status RedisConnection::send(const std::vector<Command>& commands) {
  redisContext* context = impl_->context;
  if (!impl_->open()) return Status::Error(prefix() + "not connected");
  if (commands.empty()) return Status::Ok();
  for (const Command& command : commands) {
    if (command.argv.empty()) return Status::Error(prefix() + "empty command in pipeline");
  }
  // RESP arrays of bulk strings: binary safe, whatever bytes an argument holds.
  std::string& wire = impl_->wire;
  wire.clear();
  auto append_header = [&wire](char kind, size_t n) {
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof(digits), n).ptr;
    wire.push_back(kind);
    wire.append(digits, end);
    wire.append("\r\n", 2);
  };
  for (const Command& command : commands) {
    append_header('*', command.argv.size());
    for (const std::string& arg : command.argv) {
      append_header('$', arg.size());
      wire.append(arg).append("\r\n", 2);
    }
  }
  if (impl_->tls) return send_tls(commands.size());
  if (redisAppendFormattedCommand(context, wire.data(), wire.size()) != REDIS_OK) return io_failure("append", errno);
  impl_->pending += commands.size();

  SigpipeGuard guard;
  int done = 0;
  while (!done) {
    errno = 0;
    if (redisBufferWrite(context, &done) != REDIS_OK) return io_failure("write", errno);
  }
  return Status::Ok();
}

Status RedisConnection::receive(size_t count, std::vector<Reply>& replies) {
  replies.clear();
  redisContext* context = impl_->context;
  if (!impl_->open()) return Status::Error(prefix() + "not connected");
  if (count > impl_->pending) {
    // Waiting for a reply that was never asked for would only end at the timeout.
    return Status::Error(prefix() + "receive(" + std::to_string(count) + ") with only " +
                         std::to_string(impl_->pending) + " replies pending");
  }
  replies.reserve(count);
  if (impl_->tls) return receive_tls(count, replies);
  SigpipeGuard guard;  // redisGetReply flushes the output buffer first (empty after send())
  for (size_t i = 0; i < count; ++i) {
    void* raw = nullptr;
    errno = 0;
    if (redisGetReply(context, &raw) != REDIS_OK || raw == nullptr) {
      return io_failure("read", errno);
    }
    --impl_->pending;
    replies.push_back(to_reply(static_cast<redisReply*>(raw)));
    freeReplyObject(raw);
  }
  return Status::Ok();
}

Status RedisConnection::send_tls(size_t commands) {
  SigpipeGuard guard;  // OpenSSL writes with write(2) too
  Status st = impl_->tls->write_all(impl_->wire.data(), impl_->wire.size(), options_.command_timeout_ms);
  if (!st.ok()) return tls_failure(st);
  impl_->pending += commands;
  return Status::Ok();
}

Status RedisConnection::receive_tls(size_t count, std::vector<Reply>& replies) {
  SigpipeGuard guard;  // a read may send (an alert, a key update)
  char buffer[16 * 1024];
  for (size_t i = 0; i < count; ++i) {
    void* raw = nullptr;
    for (;;) {
      if (redisReaderGetReply(impl_->reader, &raw) != REDIS_OK) {
        return tls_failure(Status::Error(std::string("read failed: ") + impl_->reader->errstr));
      }
      if (raw != nullptr) break;
      size_t got = 0;
      Status st = impl_->tls->read_some(buffer, sizeof(buffer), got, options_.command_timeout_ms);
      if (!st.ok()) return tls_failure(st);
      if (redisReaderFeed(impl_->reader, buffer, got) != REDIS_OK) {
        return tls_failure(Status::Error(std::string("read failed: ") + impl_->reader->errstr));
      }
    }
    --impl_->pending;
    replies.push_back(to_reply(static_cast<redisReply*>(raw)));
    freeReplyObject(raw);
  }
  return Status::Ok();
}

Status RedisConnection::command(const Command& command, Reply& reply) {
  if (impl_->pending != 0) {
    return Status::Error(prefix() + "command() with " + std::to_string(impl_->pending) +
                         " replies still pending");
  }
  std::vector<Command> one{command};
  Status status = send(one);
  if (!status.ok()) return status;
  std::vector<Reply> replies;
  status = receive(1, replies);
  if (!status.ok()) return status;
  reply = std::move(replies.front());
  return Status::Ok();
}

}  // namespace cdc
