// RedisConnection over TLS against real redis-servers started with --tls-port and certificates
// from the test CA (scripts/infra-lib/redis-tls.sh).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "engine/config.h"
#include "redis/connection.h"
#include "tls_redis_server.h"

namespace cdc {
namespace {

using cdc_test::TestCertificates;
using cdc_test::TlsRedisServer;

Command cmd(std::vector<std::string> argv) { return Command{std::move(argv)}; }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const TestCertificates& certs() { return TestCertificates::get(); }

// An endpoint for port with redis.tls settings applied (a failure to build them fails the test).
RedisEndpoint tls_endpoint(int port, RedisTlsSettings settings, const std::string& password = "") {
  RedisEndpoint endpoint;
  endpoint.port = port;
  endpoint.password = password;
  Status st = configure_redis_tls(&settings, endpoint);
  EXPECT_TRUE(st.ok()) << st.message();
  return endpoint;
}

RedisTlsSettings trusting(const std::string& ca_file) {
  RedisTlsSettings settings;
  settings.ca = certs().file(ca_file);
  return settings;
}

Status connect_and_ping(RedisConnection& node) {
  Status st = node.connect();
  Reply reply;
  if (st.ok()) st = node.command(cmd({"PING"}), reply);
  if (st.ok() && reply.text != "PONG") return Status::Error("unexpected reply " + reply.text);
  return st;
}

class RedisTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(certs().dir().empty()) << "scripts/infra-lib/redis-tls.sh certs failed";
    ASSERT_TRUE(server_.running()) << server_.error();
  }
  TlsRedisServer server_;
};

TEST_F(RedisTlsTest, GoodCertificateCarriesPipelines) {
  RedisConnection node(tls_endpoint(server_.tls_port(), trusting("ca.crt")), RedisOptions{});
  ASSERT_TRUE(node.connect().ok());
  std::vector<Command> pipeline;
  for (int i = 0; i < 20000; ++i) pipeline.push_back(cmd({"SET", "k" + std::to_string(i), std::string(100, 'v')}));
  pipeline.push_back(cmd({"GET", "k7"}));
  pipeline.push_back(cmd({"UNLINK", "k1", "k2", "nope"}));
  ASSERT_TRUE(node.send(pipeline).ok());
  std::vector<Reply> replies;
  Status st = node.receive(pipeline.size(), replies);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(replies[0].text, "OK");
  EXPECT_EQ(replies[20000].text, std::string(100, 'v'));
  EXPECT_EQ(replies[20001].integer, 2);
  // What went through TLS is really in the server (read back over the plain port).
  EXPECT_EQ(server_.plain().command({"DBSIZE"}), "19998");
}

TEST_F(RedisTlsTest, CaAsPemTextAndTheHostNameLocalhost) {
  RedisTlsSettings settings;
  settings.ca = certs().text("ca.crt");
  RedisEndpoint endpoint = tls_endpoint(server_.tls_port(), settings);
  endpoint.host = "localhost";  // checked against DNS:localhost, sent as SNI
  RedisConnection node(endpoint, RedisOptions{});
  Status st = connect_and_ping(node);
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST_F(RedisTlsTest, WrongCaIsRefusedAsUnknownCa) {
  RedisConnection node(tls_endpoint(server_.tls_port(), trusting("other-ca.crt"), "pa55word"), RedisOptions{});
  Status st = node.connect();
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(contains(st.message(), "TLS handshake failed: certificate verify failed: unknown CA")) << st.message();
  EXPECT_EQ(st.message().rfind("redis 127.0.0.1:" + std::to_string(server_.tls_port()) + ": ", 0), 0u);
  EXPECT_FALSE(contains(st.message(), "pa55word"));
  EXPECT_FALSE(node.connected());
}

TEST_F(RedisTlsTest, SystemTrustStoreDoesNotKnowTheTestCa) {
  RedisEndpoint endpoint;
  ASSERT_TRUE(parse_redis_url("rediss://127.0.0.1:" + std::to_string(server_.tls_port()), endpoint).ok());
  RedisConnection node(endpoint, RedisOptions{});  // rediss:// alone: the system's CAs
  Status st = node.connect();
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(contains(st.message(), "unknown CA")) << st.message();
}

TEST_F(RedisTlsTest, WrongHostnameIsRefused) {
  RedisTlsSettings settings = trusting("ca.crt");
  settings.servername = "cache.example.com";
  RedisConnection node(tls_endpoint(server_.tls_port(), settings), RedisOptions{});
  Status st = node.connect();
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(contains(st.message(), "certificate verify failed: hostname mismatch")) << st.message();
  EXPECT_TRUE(contains(st.message(), "cache.example.com")) << st.message();
}

TEST_F(RedisTlsTest, RejectUnauthorizedFalseSkipsTheChecks) {
  RedisTlsSettings settings = trusting("other-ca.crt");
  settings.servername = "cache.example.com";
  settings.reject_unauthorized = false;
  RedisConnection node(tls_endpoint(server_.tls_port(), settings), RedisOptions{});
  Status st = connect_and_ping(node);
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST_F(RedisTlsTest, PlainPortIsNotTls) {
  RedisConnection node(tls_endpoint(server_.plain().port(), trusting("ca.crt")), RedisOptions{1000, 1000});
  Status st = connect_and_ping(node);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(contains(st.message(), "TLS handshake")) << st.message();
}

TEST_F(RedisTlsTest, ServerKilledMidStreamThenRestarted) {
  RedisConnection node(tls_endpoint(server_.tls_port(), trusting("ca.crt")), RedisOptions{1000, 2000});
  ASSERT_TRUE(node.connect().ok());
  std::vector<Command> pipeline(50000, cmd({"SET", "k", std::string(100, 'v')}));
  Status sent = node.send(pipeline);
  ASSERT_TRUE(server_.plain().kill());
  std::vector<Reply> replies;
  Status received = sent.ok() ? node.receive(pipeline.size(), replies) : sent;
  ASSERT_FALSE(received.ok());
  EXPECT_LT(replies.size(), pipeline.size());
  EXPECT_FALSE(node.connected());
  EXPECT_EQ(node.pending_replies(), 0u);
  Status refused = node.connect();
  EXPECT_TRUE(contains(refused.message(), "connect failed: Connection refused")) << refused.message();

  ASSERT_TRUE(server_.plain().restart()) << server_.error();
  Status st = connect_and_ping(node);
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST_F(RedisTlsTest, WritesAfterServerDeathDoNotKillTheProcess) {
  RedisConnection node(tls_endpoint(server_.tls_port(), trusting("ca.crt")), RedisOptions{1000, 1000});
  ASSERT_TRUE(node.connect().ok());
  ASSERT_TRUE(server_.plain().kill());
  Status failure = Status::Ok();
  std::vector<Command> pipeline(1000, cmd({"SET", "k", std::string(1000, 'v')}));
  for (int attempt = 0; attempt < 5 && failure.ok(); ++attempt) {
    failure = node.send(pipeline);
    std::vector<Reply> replies;
    if (failure.ok()) failure = node.receive(pipeline.size(), replies);
  }
  EXPECT_FALSE(failure.ok());
  EXPECT_FALSE(node.connected());
}

TEST_F(RedisTlsTest, CommandTimeoutOverTls) {
  RedisConnection node(tls_endpoint(server_.tls_port(), trusting("ca.crt")), RedisOptions{2000, 300});
  ASSERT_TRUE(node.connect().ok());
  ASSERT_TRUE(server_.plain().pause());
  std::vector<Reply> replies;
  Status st = node.send({cmd({"PING"})});
  if (st.ok()) st = node.receive(1, replies);
  ASSERT_TRUE(server_.plain().resume());
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(contains(st.message(), "read failed: timed out after 300 ms")) << st.message();
  EXPECT_TRUE(connect_and_ping(node).ok());
}

class MutualTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(certs().dir().empty());
    ASSERT_TRUE(server_.running()) << server_.error();
  }
  TlsRedisServer server_{"yes"};
};

TEST_F(MutualTlsTest, ClientCertificateRequiredAndGiven) {
  RedisTlsSettings settings = trusting("ca.crt");
  settings.cert = certs().file("redis-client.crt");
  settings.key = certs().text("redis-client.key");  // the key as PEM text, the certificate as a file
  RedisConnection node(tls_endpoint(server_.tls_port(), settings), RedisOptions{});
  Status st = connect_and_ping(node);
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST_F(MutualTlsTest, ClientCertificateRequiredAndMissing) {
  RedisConnection node(tls_endpoint(server_.tls_port(), trusting("ca.crt")), RedisOptions{1000, 1000});
  Status st = connect_and_ping(node);  // TLS 1.3: the server says so after the handshake
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(contains(st.message(), "client certificate")) << st.message();
  EXPECT_FALSE(node.connected());
}

TEST_F(MutualTlsTest, ClientCertificateFromAnotherCaIsRejected) {
  RedisTlsSettings settings = trusting("ca.crt");
  settings.cert = certs().file("other-server.crt");
  settings.key = certs().file("other-server.key");
  RedisConnection node(tls_endpoint(server_.tls_port(), settings), RedisOptions{1000, 1000});
  Status st = connect_and_ping(node);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(contains(st.message(), "rejected the client certificate")) << st.message();
}

// A listener that never accepts: the TCP connect succeeds (the kernel's backlog), no ServerHello comes.
TEST(RedisTls, HandshakeTimesOutAgainstASilentListener) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  RedisTlsSettings settings;
  settings.reject_unauthorized = false;
  RedisConnection node(tls_endpoint(ntohs(address.sin_port), settings), RedisOptions{400, 5000});
  auto started = std::chrono::steady_clock::now();
  Status st = node.connect();
  auto waited = std::chrono::steady_clock::now() - started;
  close(fd);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(contains(st.message(), "TLS handshake timed out after")) << st.message();
  EXPECT_GE(waited, std::chrono::milliseconds(350));
  EXPECT_LT(waited, std::chrono::seconds(3));
}

TEST(RedisTls, ConnectionRefused) {
  int port = cdc_test::RedisServer::free_port();
  RedisTlsSettings settings;
  RedisConnection node(tls_endpoint(port, settings), RedisOptions{500, 500});
  Status st = node.connect();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "redis 127.0.0.1:" + std::to_string(port) + ": connect failed: Connection refused");
}

// Bad settings fail when the context is built, naming the field, never showing a key.
TEST(RedisTlsSettings, ErrorsNameTheFieldAndHideKeys) {
  ASSERT_FALSE(certs().dir().empty());
  auto error_of = [](RedisTlsSettings settings) {
    std::shared_ptr<const TlsClientContext> context;
    Status st = TlsClientContext::create(settings, context);
    return st.ok() ? std::string("ok") : st.message();
  };
  RedisTlsSettings settings;
  settings.ca = "/nonexistent/ca.pem";
  EXPECT_EQ(error_of(settings), "redis.tls.ca: cannot read the file /nonexistent/ca.pem: No such file or directory");
  settings.ca = certs().file("redis-server.key");
  EXPECT_EQ(error_of(settings), "redis.tls.ca: no PEM certificate in it");

  settings = trusting("ca.crt");
  settings.cert = certs().file("redis-client.crt");
  EXPECT_EQ(error_of(settings), "redis.tls.cert: given without redis.tls.key");
  settings.key = "/secret/place/client.key";
  EXPECT_EQ(error_of(settings), "redis.tls.key: cannot read the file given: No such file or directory");
  std::string key = certs().text("redis-client.key");
  settings.key = key.substr(0, key.size() / 2);  // a truncated PEM
  std::string truncated = error_of(settings);
  EXPECT_TRUE(contains(truncated, "redis.tls.key: not an unencrypted PEM private key")) << truncated;
  EXPECT_FALSE(contains(truncated, key.substr(40, 20)));
  settings.key = certs().text("redis-server.key");
  EXPECT_EQ(error_of(settings), "redis.tls.key: does not match the certificate in redis.tls.cert");
  settings.key = certs().file("redis-client.key");
  EXPECT_EQ(error_of(settings), "ok");
}

TEST(RedisTlsSettings, EngineConfigParsesTlsAndTlsImpliesTls) {
  ASSERT_FALSE(certs().dir().empty());
  auto config_with = [](const std::string& redis) {
    return R"({"kafka":{"brokers":"127.0.0.1:9092","groupId":"g","topics":["t"]},"redis":)" + redis + "}";
  };
  EngineConfig config;
  std::string ca = certs().file("ca.crt");
  Status st = parse_engine_config(
      config_with(R"({"url":"redis://127.0.0.1:6380","tls":{"ca":")" + ca + R"(","servername":"localhost"}})"), config);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(config.redis.endpoint.tls);
  ASSERT_NE(config.redis.endpoint.tls_context, nullptr);
  EXPECT_EQ(config.redis.endpoint.tls_context->servername(), "localhost");

  EngineConfig plain;
  ASSERT_TRUE(parse_engine_config(config_with(R"({"url":"redis://127.0.0.1:6380"})"), plain).ok());
  EXPECT_FALSE(plain.redis.endpoint.tls);
  EXPECT_EQ(plain.redis.endpoint.tls_context, nullptr);

  EngineConfig bad;
  EXPECT_EQ(parse_engine_config(config_with(R"({"url":"rediss://h","tls":{"ca":"/nope.pem"}})"), bad).message(),
            "redis.tls.ca: cannot read the file /nope.pem: No such file or directory");
  EXPECT_EQ(parse_engine_config(config_with(R"({"url":"rediss://h","tls":{"cafile":"x"}})"), bad).message(),
            "redis.tls.cafile: unknown field");
  EXPECT_EQ(parse_engine_config(config_with(R"({"url":"rediss://h","tls":{"rejectUnauthorized":"no"}})"), bad).message(),
            "redis.tls.rejectUnauthorized: expected a boolean");
}

}  // namespace
}  // namespace cdc
