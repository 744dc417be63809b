// TLS for Redis connections (rediss://), on OpenSSL: Debian's hiredis 0.14 has none, so the
// connection owns the socket and the TLS session, and hands the decrypted bytes to hiredis's
// reply reader. TlsClientContext is built once per configuration (certificates loaded and checked
// at start) and shared by every connection made with it; TlsStream is one connection's socket.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "common/status.h"

struct ssl_ctx_st;
struct ssl_st;

namespace cdc {

// redis.tls. Each of ca, cert and key is PEM text or the path of a PEM file (PEM when it holds
// "-----BEGIN"); empty: not given.
struct RedisTlsSettings {
  std::string ca;          // the CAs to trust; empty: the system's trust store
  std::string cert, key;   // a client certificate (chain) and its unencrypted key: mutual TLS
  std::string servername;  // SNI and the name checked in the server's certificate; empty: the host
  bool reject_unauthorized = true;  // false: no certificate or host name check at all
};

class TlsClientContext {
 public:
  // Loads and checks the certificates. Errors name the field ("redis.tls.key: ..."), never hold
  // key material, and name a key's file only as "the file given".
  static Status create(const RedisTlsSettings& settings, std::shared_ptr<const TlsClientContext>& out);
  ~TlsClientContext();
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;

  ssl_ctx_st* native() const { return ctx_; }
  const std::string& servername() const { return servername_; }
  bool verifies() const { return verify_; }

 private:
  TlsClientContext() = default;
  ssl_ctx_st* ctx_ = nullptr;
  std::string servername_;
  bool verify_ = true;
};

// One TLS connection. Errors are plain reasons ("connection refused", "TLS handshake timed out
// after 2000 ms", "certificate verify failed: unknown CA (...)"); the caller prefixes host:port.
class TlsStream {
 public:
  TlsStream() = default;
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // TCP connect, then the handshake with certificate and host name checks, all within timeout_ms
  // (<= 0: no limit).
  Status open(const std::string& host, int port, const TlsClientContext& context, int timeout_ms);
  // Each wait for the socket lasts at most timeout_ms (<= 0: no limit).
  Status write_all(const char* data, size_t size, int timeout_ms);
  // Some bytes (at least one) into buffer; waits at most timeout_ms for them.
  Status read_some(char* buffer, size_t capacity, size_t& got, int timeout_ms);
  // Sends close_notify when the session is still sound, then closes the socket.
  void close();
  // Bytes wait to be read (decrypted in OpenSSL, or on the socket): read_some() will not wait long.
  bool readable() const;

 private:
  Status connect_socket(const std::string& host, int port, int timeout_ms);
  Status handshake(const std::string& name, const TlsClientContext& context, int timeout_ms);
  // After an SSL call returned `result`: waits for the socket when OpenSSL asks to (true), or
  // fills `error` and returns false.
  bool wait_for_io(int result, int timeout_ms, const char* what, Status& error);

  int fd_ = -1;
  ssl_st* ssl_ = nullptr;
  bool broken_ = false;  // a fatal error: no close_notify
};

}  // namespace cdc
