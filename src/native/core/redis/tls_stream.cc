#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "redis/tls.h"

namespace cdc {
namespace {

using Clock = std::chrono::steady_clock;

// Milliseconds left before `deadline` for poll(); -1 (no limit) when there is none.
int remaining_ms(const Clock::time_point* deadline) {
  if (deadline == nullptr) return -1;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// 1 ready, 0 timed out, -1 failed (errno set).
int wait_fd(int fd, short events, int timeout_ms) {
  pollfd entry{fd, events, 0};
  int result;
  do {
    result = poll(&entry, 1, timeout_ms);
  } while (result < 0 && errno == EINTR);
  return result;
}

bool is_ip_literal(const std::string& name) {
  unsigned char address[16];
  return inet_pton(AF_INET, name.c_str(), address) == 1 || inet_pton(AF_INET6, name.c_str(), address) == 1;
}

// As hiredis does for plain connections: no Nagle delay, and keepalive probes so a peer that
// vanished without closing is noticed while idle.
void tune_socket(int fd) {
  int on = 1, idle = 15, interval = 5, count = 3;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
}

// One address: a non-blocking connect that waits for the socket to become writable.
int connect_one(const addrinfo* address, const Clock::time_point* deadline, int& saved_errno) {
  int fd = socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, address->ai_protocol);
  if (fd < 0) {
    saved_errno = errno;
    return -1;
  }
  if (connect(fd, address->ai_addr, address->ai_addrlen) == 0) return fd;
  if (errno == EINPROGRESS) {
    int ready = wait_fd(fd, POLLOUT, remaining_ms(deadline));
    int error = 0;
    socklen_t length = sizeof(error);
    if (ready > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0) return fd;
    saved_errno = ready == 0 ? ETIMEDOUT : (ready < 0 ? errno : error);
  } else {
    saved_errno = errno;
  }
  ::close(fd);
  return -1;
}

std::string verify_failure(long result, const std::string& name) {
  std::string what = X509_verify_cert_error_string(result);
  switch (result) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "certificate verify failed: hostname mismatch (the server's certificate is not valid for \"" + name +
             "\"; see redis.tls.servername)";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return "certificate verify failed: unknown CA (" + what + "; redis.tls.ca must name the CA that signed it)";
    default:
      return "certificate verify failed: " + what;
  }
}

// A failed SSL call: OpenSSL's reason, with the alerts a server sends about our certificate named.
std::string ssl_failure(int ssl_error, int saved_errno) {
  unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (ssl_error == SSL_ERROR_ZERO_RETURN) return "server closed the connection";
  if (code == 0) {
    if (ssl_error == SSL_ERROR_SYSCALL && saved_errno != 0) return std::strerror(saved_errno);
    return "server closed the connection";
  }
  const char* text = ERR_reason_error_string(code);
  std::string reason = text != nullptr ? text : "OpenSSL error " + std::to_string(code);
  switch (ERR_GET_REASON(code)) {
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      return "the server requires a client certificate (redis.tls.cert and redis.tls.key): " + reason;
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
      return "the server rejected the client certificate: " + reason;
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
      return "the server does not speak TLS on this port (" + reason + ")";
    default:
      return reason;
  }
}

}  // namespace

TlsStream::~TlsStream() { close(); }

bool TlsStream::readable() const {
  if (ssl_ != nullptr && SSL_pending(ssl_) > 0) return true;
  pollfd waiting{fd_, POLLIN, 0};
  return fd_ >= 0 && ::poll(&waiting, 1, 0) > 0;
}

void TlsStream::close() {
  if (ssl_ != nullptr) {
    if (!broken_) {
      ERR_clear_error();
      SSL_shutdown(ssl_);  // one non-blocking try; the server does not need it
    }
    ERR_clear_error();
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  broken_ = false;
}

Status TlsStream::connect_socket(const std::string& host, int port, int timeout_ms) {
  Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const Clock::time_point* limit = timeout_ms > 0 ? &deadline : nullptr;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  int resolved = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &addresses);
  if (resolved != 0) return Status::Error(std::string("connect failed: ") + gai_strerror(resolved));
  int saved_errno = 0;
  for (const addrinfo* address = addresses; address != nullptr && fd_ < 0; address = address->ai_next) {
    fd_ = connect_one(address, limit, saved_errno);
  }
  freeaddrinfo(addresses);
  if (fd_ < 0) {
    if (saved_errno == ETIMEDOUT) return Status::Error("connect failed: timed out after " + std::to_string(timeout_ms) + " ms");
    return Status::Error(std::string("connect failed: ") + std::strerror(saved_errno));
  }
  tune_socket(fd_);
  return Status::Ok();
}

Status TlsStream::open(const std::string& host, int port, const TlsClientContext& context, int timeout_ms) {
  close();
  auto started = Clock::now();
  Status st = connect_socket(host, port, timeout_ms);
  if (!st.ok()) return st;
  int left = timeout_ms;
  if (timeout_ms > 0) {
    auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    left = spent < timeout_ms ? timeout_ms - static_cast<int>(spent) : 1;
  }
  const std::string& name = context.servername().empty() ? host : context.servername();
  st = handshake(name, context, left);
  if (!st.ok()) {
    broken_ = true;
    close();
    return Status::Error(st.message());
  }
  return Status::Ok();
}

Status TlsStream::handshake(const std::string& name, const TlsClientContext& context, int timeout_ms) {
  ssl_ = SSL_new(context.native());
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) return Status::Error("TLS setup failed: " + ssl_failure(SSL_ERROR_SSL, 0));
  bool ip = is_ip_literal(name);
  if (!ip) SSL_set_tlsext_host_name(ssl_, name.c_str());  // SNI carries host names only (RFC 6066)
  if (context.verifies()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) : SSL_set1_host(ssl_, name.c_str());
    if (set != 1) return Status::Error("TLS setup failed: cannot check the name \"" + name + "\"");
  }
  Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const Clock::time_point* limit = timeout_ms > 0 ? &deadline : nullptr;
  for (;;) {
    ERR_clear_error();
    int result = SSL_connect(ssl_);
    if (result == 1) return Status::Ok();
    int error = SSL_get_error(ssl_, result);
    int saved_errno = errno;
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
      long verify = SSL_get_verify_result(ssl_);
      if (verify != X509_V_OK) {
        ERR_clear_error();
        return Status::Error("TLS handshake failed: " + verify_failure(verify, name));
      }
      return Status::Error("TLS handshake failed: " + ssl_failure(error, saved_errno));
    }
    int ready = wait_fd(fd_, error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, remaining_ms(limit));
    if (ready == 0) {
      return Status::Error("TLS handshake timed out after " + std::to_string(timeout_ms) +
                           " ms (does the server speak TLS on this port?)");
    }
    if (ready < 0) return Status::Error(std::string("TLS handshake failed: ") + std::strerror(errno));
  }
}

bool TlsStream::wait_for_io(int result, int timeout_ms, const char* what, Status& error) {
  int ssl_error = SSL_get_error(ssl_, result);
  int saved_errno = errno;
  if (ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE) {
    int ready = wait_fd(fd_, ssl_error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, timeout_ms > 0 ? timeout_ms : -1);
    if (ready > 0) return true;
    broken_ = true;
    error = Status::Error(std::string(what) + " failed: " +
                          (ready == 0 ? "timed out after " + std::to_string(timeout_ms) + " ms" : std::strerror(errno)));
    return false;
  }
  std::string reason = ssl_failure(ssl_error, saved_errno);
  // A write that met a closed connection: the server may have said why first (TLS 1.3 reports a
  // missing or refused client certificate only after the handshake), and that alert is still
  // waiting to be read.
  if (std::strcmp(what, "write") == 0) {
    char ignored[256];
    size_t got = 0;
    ERR_clear_error();
    int read = SSL_read_ex(ssl_, ignored, sizeof(ignored), &got);
    int read_error = SSL_get_error(ssl_, read);
    if (read != 1 && read_error == SSL_ERROR_SSL) reason = ssl_failure(read_error, errno);
    ERR_clear_error();
  }
  broken_ = true;
  error = Status::Error(std::string(what) + " failed: " + reason);
  return false;
}

Status TlsStream::write_all(const char* data, size_t size, int timeout_ms) {
  if (ssl_ == nullptr) return Status::Error("write failed: not connected");
  size_t done = 0;
  while (done < size) {
    ERR_clear_error();
    size_t written = 0;
    int result = SSL_write_ex(ssl_, data + done, size - done, &written);
    if (result == 1) {
      done += written;
      continue;
    }
    Status error = Status::Ok();
    if (!wait_for_io(result, timeout_ms, "write", error)) return error;
  }
  return Status::Ok();
}

Status TlsStream::read_some(char* buffer, size_t capacity, size_t& got, int timeout_ms) {
  got = 0;
  if (ssl_ == nullptr) return Status::Error("read failed: not connected");
  for (;;) {
    ERR_clear_error();
    int result = SSL_read_ex(ssl_, buffer, capacity, &got);
    if (result == 1) return Status::Ok();
    Status error = Status::Ok();
    if (!wait_for_io(result, timeout_ms, "read", error)) return error;
  }
}

}  // namespace cdc
