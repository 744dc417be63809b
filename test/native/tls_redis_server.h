// Test helper: certificates made by scripts/infra-lib/redis-tls.sh into a temp dir (once per test
// binary), and a real redis-server that also listens with TLS on a port of its own (the plain
// port stays, for readiness checks and setup commands). restart() keeps both ports.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "redis_server.h"

namespace cdc_test {

// The test certificates; made on first use, removed at exit. Empty dir(): making them failed.
class TestCertificates {
 public:
  static const TestCertificates& get() {
    static TestCertificates certificates;
    return certificates;
  }
  const std::string& dir() const { return dir_; }
  std::string file(const std::string& name) const { return dir_ + "/" + name; }
  std::string text(const std::string& name) const {
    std::ifstream in(file(name));
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }

 private:
  TestCertificates() {
    char pattern[] = "/tmp/cdc-tls-XXXXXX";
    if (mkdtemp(pattern) == nullptr) return;
    std::string dir = std::string(pattern) + "/certs";
    std::string script = std::string(CDC_FIXTURES_DIR) + "/../../../scripts/infra-lib/redis-tls.sh";
    std::string command = "bash '" + script + "' certs '" + dir + "'";
    if (std::system(command.c_str()) == 0) dir_ = dir;
    root_ = pattern;
  }
  ~TestCertificates() {
    std::error_code ignored;
    if (!root_.empty()) std::filesystem::remove_all(root_, ignored);
  }
  std::string root_, dir_;
};

// auth_clients: "optional" or "yes" (mutual TLS); server_cert: the certificate's base name.
inline std::vector<std::string> tls_server_args(int tls_port, const std::string& auth_clients,
                                                const std::string& server_cert = "redis-server") {
  const TestCertificates& certs = TestCertificates::get();
  return {"--tls-port",      std::to_string(tls_port),           "--tls-cert-file",
          certs.file(server_cert + ".crt"), "--tls-key-file",     certs.file(server_cert + ".key"),
          "--tls-ca-cert-file", certs.file("ca.crt"),            "--tls-auth-clients",
          auth_clients};
}

class TlsRedisServer {
 public:
  explicit TlsRedisServer(const std::string& auth_clients = "optional", const std::string& server_cert = "redis-server",
                          std::vector<std::string> extra = {})
      : tls_port_(RedisServer::free_port()), server_(with(tls_server_args(tls_port_, auth_clients, server_cert), extra)) {}

  RedisServer& plain() { return server_; }
  bool running() const { return server_.running(); }
  const std::string& error() const { return server_.error(); }
  int tls_port() const { return tls_port_; }
  std::string url() const { return "rediss://127.0.0.1:" + std::to_string(tls_port_); }

 private:
  static std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& extra) {
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  int tls_port_;
  RedisServer server_;
};

}  // namespace cdc_test
