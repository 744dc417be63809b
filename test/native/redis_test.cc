#include "redis/connection.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "redis_server.h"

namespace cdc {
namespace {

using cdc_test::RedisServer;

Command cmd(std::vector<std::string> argv) { return Command{std::move(argv)}; }

RedisEndpoint endpoint_of(const RedisServer& server) {
  RedisEndpoint endpoint;
  endpoint.host = server.host();
  endpoint.port = server.port();
  return endpoint;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---------------------------------------------------------------------------------------------
// URL parsing

TEST(RedisUrl, Defaults) {
  RedisEndpoint endpoint;
  ASSERT_TRUE(parse_redis_url("redis://", endpoint).ok());
  EXPECT_EQ(endpoint.host, "127.0.0.1");
  EXPECT_EQ(endpoint.port, 6379);
  EXPECT_EQ(endpoint.db, 0);
  EXPECT_TRUE(endpoint.username.empty());
  EXPECT_TRUE(endpoint.password.empty());
  EXPECT_FALSE(endpoint.tls);
  ASSERT_TRUE(parse_redis_url("redis://cache.internal", endpoint).ok());
  EXPECT_EQ(endpoint.host, "cache.internal");
  EXPECT_EQ(endpoint.port, 6379);
  ASSERT_TRUE(parse_redis_url("redis://:6380/", endpoint).ok());
  EXPECT_EQ(endpoint.host, "127.0.0.1");
  EXPECT_EQ(endpoint.port, 6380);
  EXPECT_EQ(endpoint.db, 0);
}

TEST(RedisUrl, FullForm) {
  RedisEndpoint endpoint;
  ASSERT_TRUE(parse_redis_url("redis://app:secret@10.0.0.5:16379/4", endpoint).ok());
  EXPECT_EQ(endpoint.username, "app");
  EXPECT_EQ(endpoint.password, "secret");
  EXPECT_EQ(endpoint.host, "10.0.0.5");
  EXPECT_EQ(endpoint.port, 16379);
  EXPECT_EQ(endpoint.db, 4);
}

TEST(RedisUrl, PasswordOnlyAndUserOnly) {
  RedisEndpoint endpoint;
  ASSERT_TRUE(parse_redis_url("redis://:secret@host", endpoint).ok());
  EXPECT_EQ(endpoint.username, "");
  EXPECT_EQ(endpoint.password, "secret");
  ASSERT_TRUE(parse_redis_url("redis://reader@host", endpoint).ok());
  EXPECT_EQ(endpoint.username, "reader");
  EXPECT_EQ(endpoint.password, "");
}

TEST(RedisUrl, PercentDecodingAndRawSpecials) {
  RedisEndpoint endpoint;
  ASSERT_TRUE(parse_redis_url("redis://us%40er:p%40ss%3Aw%2Frd%25@host:1/2", endpoint).ok());
  EXPECT_EQ(endpoint.username, "us@er");
  EXPECT_EQ(endpoint.password, "p@ss:w/rd%");
  // Unencoded '@', ':' and '/' in the password still parse: the last '@' ends the credentials.
  ASSERT_TRUE(parse_redis_url("redis://u:pa@ss:wo/rd@host:7000/1", endpoint).ok());
  EXPECT_EQ(endpoint.username, "u");
  EXPECT_EQ(endpoint.password, "pa@ss:wo/rd");
  EXPECT_EQ(endpoint.host, "host");
  EXPECT_EQ(endpoint.port, 7000);
  EXPECT_EQ(endpoint.db, 1);
}

TEST(RedisUrl, Ipv6AndTls) {
  RedisEndpoint endpoint;
  ASSERT_TRUE(parse_redis_url("rediss://[::1]:6390/0", endpoint).ok());
  EXPECT_TRUE(endpoint.tls);
  EXPECT_EQ(endpoint.host, "::1");
  EXPECT_EQ(endpoint.port, 6390);
  ASSERT_TRUE(parse_redis_url("REDIS://[fe80::1]", endpoint).ok());
  EXPECT_EQ(endpoint.host, "fe80::1");
  EXPECT_EQ(endpoint.port, 6379);
}

TEST(RedisUrl, ErrorsNameTheOptionAndHideThePassword) {
  const char* bad[] = {
      "http://u:hunter2@host",          "hunter2",
      "redis://u:hunter2@host:port",    "redis://u:hunter2@host:0",
      "redis://u:hunter2@host:70000",   "redis://u:hunter2@host/x",
      "redis://u:hunter2@host/-1",      "redis://u:hunter2@host?db=1",
      "redis://u:hunt%zzer2@host",      "redis://u:hunter2@[::1",
      "redis://u:hunter2@host:",        "redis://u:hunter2@[::1]x",
      "",                               "redis://u:hunter2",
  };
  for (const char* url : bad) {
    RedisEndpoint endpoint;
    endpoint.host = "unchanged";
    Status status = parse_redis_url(url, endpoint);
    ASSERT_FALSE(status.ok()) << url;
    EXPECT_EQ(status.message().rfind("redis.url: ", 0), 0u) << status.message();
    EXPECT_FALSE(contains(status.message(), "hunter2")) << status.message();
    EXPECT_FALSE(contains(status.message(), "hunt")) << status.message();
    EXPECT_EQ(endpoint.host, "unchanged") << "output untouched on error: " << url;
  }
  RedisEndpoint endpoint;
  EXPECT_EQ(parse_redis_url("redis://h:abc", endpoint).message(),
            "redis.url: invalid port (a number from 1 to 65535)");
  // A forgotten "@host": the password lands where the port goes and must not be echoed.
  Status status = parse_redis_url("redis://admin:hunter2", endpoint);
  ASSERT_FALSE(status.ok());
  EXPECT_FALSE(contains(status.message(), "hunter2")) << status.message();
}

// ---------------------------------------------------------------------------------------------
// Against a real redis-server

class RedisConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.running()) << server_.error(); }
  RedisServer server_;
};

TEST_F(RedisConnectionTest, ConnectAndRoundTrip) {
  RedisConnection node(endpoint_of(server_), RedisOptions{});
  EXPECT_FALSE(node.connected());
  ASSERT_TRUE(node.connect().ok());
  EXPECT_TRUE(node.connected());
  EXPECT_TRUE(node.connect().ok());  // no-op when connected
  Reply reply;
  ASSERT_TRUE(node.command(cmd({"SET", "a", "1"}), reply).ok());
  EXPECT_EQ(reply.kind, ReplyKind::Status);
  EXPECT_EQ(reply.text, "OK");
  ASSERT_TRUE(node.command(cmd({"GET", "a"}), reply).ok());
  EXPECT_EQ(reply.kind, ReplyKind::Bulk);
  EXPECT_EQ(reply.text, "1");
  ASSERT_TRUE(node.command(cmd({"GET", "missing"}), reply).ok());
  EXPECT_EQ(reply.kind, ReplyKind::Nil);
  ASSERT_TRUE(node.command(cmd({"UNLINK", "a", "missing"}), reply).ok());
  EXPECT_EQ(reply.kind, ReplyKind::Integer);
  EXPECT_EQ(reply.integer, 1);
  ASSERT_TRUE(node.command(cmd({"MGET", "a", "b", "c"}), reply).ok());
  EXPECT_EQ(reply.kind, ReplyKind::Array);
  EXPECT_EQ(reply.integer, 3);
  node.disconnect();
  EXPECT_FALSE(node.connected());
}

TEST_F(RedisConnectionTest, ErrorReplyIsNotAnIoFailure) {
  RedisConnection node(endpoint_of(server_), RedisOptions{});
  ASSERT_TRUE(node.connect().ok());
  ASSERT_TRUE(node.send({cmd({"SET", "s", "x"}), cmd({"LPUSH", "s", "y"}), cmd({"NOSUCHCOMMAND"}),
                         cmd({"GET", "s"})})
                  .ok());
  EXPECT_EQ(node.pending_replies(), 4u);
  std::vector<Reply> replies;
  ASSERT_TRUE(node.receive(4, replies).ok());
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_FALSE(replies[0].error);
  EXPECT_TRUE(replies[1].error);
  EXPECT_EQ(replies[1].kind, ReplyKind::Error);
  EXPECT_EQ(replies[1].text.rfind("WRONGTYPE", 0), 0u) << replies[1].text;
  EXPECT_TRUE(replies[2].error);
  EXPECT_EQ(replies[3].text, "x");
  EXPECT_TRUE(node.connected());
  EXPECT_EQ(node.pending_replies(), 0u);
}

TEST_F(RedisConnectionTest, PipelineOfTenThousandUnlinks) {
  RedisConnection node(endpoint_of(server_), RedisOptions{});
  ASSERT_TRUE(node.connect().ok());
  const int kKeys = 10000;
  std::vector<Command> sets, unlinks;
  for (int i = 0; i < kKeys; ++i) {
    std::string key = "customer:" + std::to_string(i);
    sets.push_back(cmd({"SET", key, "cached"}));
    unlinks.push_back(cmd({"UNLINK", key}));
  }
  std::vector<Reply> replies;
  ASSERT_TRUE(node.send(sets).ok());
  ASSERT_TRUE(node.receive(kKeys, replies).ok());
  Reply size;
  ASSERT_TRUE(node.command(cmd({"DBSIZE"}), size).ok());
  EXPECT_EQ(size.integer, kKeys);

  ASSERT_TRUE(node.send(unlinks).ok());  // one send...
  ASSERT_TRUE(node.receive(kKeys, replies).ok());  // ...one receive
  ASSERT_EQ(replies.size(), static_cast<size_t>(kKeys));
  int64_t deleted = 0;
  for (const Reply& reply : replies) {
    ASSERT_EQ(reply.kind, ReplyKind::Integer) << reply.text;
    deleted += reply.integer;
  }
  EXPECT_EQ(deleted, kKeys);
  ASSERT_TRUE(node.command(cmd({"DBSIZE"}), size).ok());
  EXPECT_EQ(size.integer, 0);
}

TEST_F(RedisConnectionTest, SeveralPipelinesInFlightKeepTheirOrder) {
  RedisConnection node(endpoint_of(server_), RedisOptions{});
  ASSERT_TRUE(node.connect().ok());
  // INCR replies number every command: any reordering or loss shows.
  const size_t sizes[] = {100, 2500, 1, 700};
  for (size_t size : sizes) {
    std::vector<Command> pipeline(size, cmd({"INCR", "counter"}));
    ASSERT_TRUE(node.send(pipeline).ok());
  }
  EXPECT_EQ(node.pending_replies(), 3301u);
  int64_t expected = 1;
  for (size_t size : sizes) {
    std::vector<Reply> replies;
    ASSERT_TRUE(node.receive(size, replies).ok());
    ASSERT_EQ(replies.size(), size);
    for (const Reply& reply : replies) ASSERT_EQ(reply.integer, expected++);
  }
  EXPECT_EQ(node.pending_replies(), 0u);
}

TEST_F(RedisConnectionTest, HostileKeysAreExactlyOneKeyByteForByte) {
  RedisConnection node(endpoint_of(server_), RedisOptions{});
  ASSERT_TRUE(node.connect().ok());
  std::vector<std::string> keys = {
      "with space",
      "crlf\r\nSET injected yes\r\n",
      "*3\r\n$3\r\nSET\r\n$8\r\ninjected\r\n$3\r\nyes\r\n",
      "%s %d %b",  // would be format directives if ever formatted
      "{customer}:1",
      "}{",
      std::string("nul\0inside", 10),
      "\xD0\xBA\xD0\xBB\xD1\x8E\xD1\x87 \xF0\x9F\x94\x91 \xE9\x8D\xB5",  // Cyrillic, emoji, CJK
      "\xFF\xFE invalid utf-8",
      "",
      std::string(1 << 20, 'k') + "end",  // 1 MB
  };
  std::vector<Command> sets;
  for (const std::string& key : keys) sets.push_back(cmd({"SET", key, "v:" + key}));
  std::vector<Reply> replies;
  ASSERT_TRUE(node.send(sets).ok());
  ASSERT_TRUE(node.receive(sets.size(), replies).ok());
  for (const Reply& reply : replies) ASSERT_EQ(reply.text, "OK");

  Reply reply;
  ASSERT_TRUE(node.command(cmd({"DBSIZE"}), reply).ok());
  EXPECT_EQ(reply.integer, static_cast<int64_t>(keys.size()));  // one key each, nothing injected
  ASSERT_TRUE(node.command(cmd({"EXISTS", "injected"}), reply).ok());
  EXPECT_EQ(reply.integer, 0);
  for (size_t i = 0; i < keys.size(); ++i) {
    SCOPED_TRACE(testing::Message() << "key #" << i);
    ASSERT_TRUE(node.command(cmd({"EXISTS", keys[i]}), reply).ok());
    EXPECT_EQ(reply.integer, 1);
    ASSERT_TRUE(node.command(cmd({"GET", keys[i]}), reply).ok());
    EXPECT_EQ(reply.kind, ReplyKind::Bulk);
    EXPECT_TRUE(reply.text == "v:" + keys[i]) << "value bytes differ";
    ASSERT_TRUE(node.command(cmd({"STRLEN", keys[i]}), reply).ok());
    EXPECT_EQ(reply.integer, static_cast<int64_t>(keys[i].size() + 2));
  }
  std::vector<Command> unlinks;
  for (const std::string& key : keys) unlinks.push_back(cmd({"UNLINK", key}));
  ASSERT_TRUE(node.send(unlinks).ok());
  ASSERT_TRUE(node.receive(unlinks.size(), replies).ok());
  for (const Reply& unlinked : replies) EXPECT_EQ(unlinked.integer, 1);
}

TEST_F(RedisConnectionTest, SelectDatabase) {
  RedisEndpoint endpoint = endpoint_of(server_);
  endpoint.db = 3;
  RedisConnection in_db3(endpoint, RedisOptions{});
  RedisConnection in_db0(endpoint_of(server_), RedisOptions{});
  ASSERT_TRUE(in_db3.connect().ok());
  ASSERT_TRUE(in_db0.connect().ok());
  Reply reply;
  ASSERT_TRUE(in_db3.command(cmd({"SET", "only-in-3", "x"}), reply).ok());
  ASSERT_TRUE(in_db0.command(cmd({"EXISTS", "only-in-3"}), reply).ok());
  EXPECT_EQ(reply.integer, 0);
  ASSERT_TRUE(in_db3.command(cmd({"EXISTS", "only-in-3"}), reply).ok());
  EXPECT_EQ(reply.integer, 1);
  EXPECT_EQ(server_.command({"SELECT", "3"}), "OK");

  endpoint.db = 99;  // the server has 16
  RedisConnection bad(endpoint, RedisOptions{});
  Status status = bad.connect();
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(contains(status.message(), "SELECT failed")) << status.message();
  EXPECT_FALSE(bad.connected());
}

TEST_F(RedisConnectionTest, ReceiveMoreThanPendingFailsFast) {
  RedisConnection node(endpoint_of(server_), RedisOptions{});
  ASSERT_TRUE(node.connect().ok());
  ASSERT_TRUE(node.send({cmd({"PING"})}).ok());
  std::vector<Reply> replies;
  Status status = node.receive(2, replies);
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(contains(status.message(), "only 1 replies pending")) << status.message();
  EXPECT_TRUE(node.connected());  // a caller bug, not a broken connection
  ASSERT_TRUE(node.receive(1, replies).ok());
  EXPECT_EQ(replies[0].text, "PONG");
  EXPECT_TRUE(node.send({}).ok());
  EXPECT_TRUE(node.receive(0, replies).ok());
  EXPECT_FALSE(node.send({Command{}}).ok());  // empty argv
}

TEST_F(RedisConnectionTest, ServerKilledMidStreamThenRestarted) {
  RedisConnection node(endpoint_of(server_), RedisOptions{});
  ASSERT_TRUE(node.connect().ok());
  std::vector<Command> pipeline;
  for (int i = 0; i < 50000; ++i) {
    pipeline.push_back(cmd({"SET", "k" + std::to_string(i), std::string(100, 'v')}));
  }
  Status sent = node.send(pipeline);
  ASSERT_TRUE(server_.kill());
  std::vector<Reply> replies;
  Status received = sent.ok() ? node.receive(pipeline.size(), replies) : sent;
  ASSERT_FALSE(received.ok());
  EXPECT_EQ(received.message().rfind("redis 127.0.0.1:" + std::to_string(server_.port()) + ": ", 0),
            0u)
      << received.message();
  EXPECT_FALSE(node.connected());
  EXPECT_EQ(node.pending_replies(), 0u);
  EXPECT_FALSE(node.send({cmd({"PING"})}).ok());
  EXPECT_TRUE(contains(node.send({cmd({"PING"})}).message(), "not connected"));
  Status refused = node.connect();
  EXPECT_FALSE(refused.ok());
  EXPECT_TRUE(contains(refused.message(), "connect failed")) << refused.message();

  ASSERT_TRUE(server_.restart()) << server_.error();
  ASSERT_TRUE(node.connect().ok());
  Reply reply;
  ASSERT_TRUE(node.command(cmd({"PING"}), reply).ok());
  EXPECT_EQ(reply.text, "PONG");
}

// Writing to a socket whose server is gone raises SIGPIPE: it must come back as a Status.
TEST_F(RedisConnectionTest, WritesAfterServerDeathDoNotKillTheProcess) {
  RedisConnection node(endpoint_of(server_), RedisOptions{});
  ASSERT_TRUE(node.connect().ok());
  ASSERT_TRUE(server_.kill());
  Status failure = Status::Ok();
  std::vector<Command> pipeline(1000, cmd({"SET", "k", std::string(1000, 'v')}));
  for (int attempt = 0; attempt < 5 && failure.ok(); ++attempt) {
    failure = node.send(pipeline);
    if (failure.ok()) {
      std::vector<Reply> replies;
      failure = node.receive(pipeline.size(), replies);
    }
  }
  EXPECT_FALSE(failure.ok());
  EXPECT_FALSE(node.connected());
}

TEST_F(RedisConnectionTest, CommandTimeoutDisconnects) {
  RedisConnection node(endpoint_of(server_), RedisOptions{2000, 300});
  ASSERT_TRUE(node.connect().ok());
  ASSERT_TRUE(server_.pause());
  auto started = std::chrono::steady_clock::now();
  Status status = node.send({cmd({"PING"})});
  std::vector<Reply> replies;
  if (status.ok()) status = node.receive(1, replies);
  auto waited = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(server_.resume());
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(contains(status.message(), "read failed: timed out after 300 ms")) << status.message();
  EXPECT_GE(waited, std::chrono::milliseconds(250));
  EXPECT_LT(waited, std::chrono::seconds(3));
  EXPECT_FALSE(node.connected());
  ASSERT_TRUE(node.connect().ok());
  Reply reply;
  ASSERT_TRUE(node.command(cmd({"PING"}), reply).ok());
  EXPECT_EQ(reply.text, "PONG");
}

TEST(RedisConnection, ConnectionRefusedAndTls) {
  RedisServer server;
  ASSERT_TRUE(server.running()) << server.error();
  int port = server.port();
  ASSERT_TRUE(server.stop());
  RedisEndpoint endpoint;
  endpoint.port = port;
  endpoint.password = "hunter2";
  RedisConnection node(endpoint, RedisOptions{500, 500});
  Status status = node.connect();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message().rfind("redis 127.0.0.1:" + std::to_string(port) + ": connect failed: ", 0), 0u)
      << status.message();
  EXPECT_FALSE(contains(status.message(), "hunter2"));

  ASSERT_TRUE(parse_redis_url("rediss://:hunter2@127.0.0.1:" + std::to_string(port), endpoint).ok());
  RedisConnection tls(endpoint, RedisOptions{});
  status = tls.connect();
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(contains(status.message(), "connect failed: Connection refused")) << status.message();
  EXPECT_FALSE(contains(status.message(), "hunter2"));
}

TEST(RedisConnectionAuth, RequirePass) {
  RedisServer server({"--requirepass", "s3cret-pass"});
  ASSERT_TRUE(server.running()) << server.error();
  RedisEndpoint endpoint;
  ASSERT_TRUE(parse_redis_url(server.url(), endpoint).ok());

  RedisConnection anonymous(endpoint, RedisOptions{});
  ASSERT_TRUE(anonymous.connect().ok());  // nothing to send: the server refuses commands instead
  Reply reply;
  ASSERT_TRUE(anonymous.command(cmd({"GET", "x"}), reply).ok());
  EXPECT_TRUE(reply.error);
  EXPECT_EQ(reply.text.rfind("NOAUTH", 0), 0u) << reply.text;

  endpoint.password = "s3cret-pass";
  RedisConnection good(endpoint, RedisOptions{});
  ASSERT_TRUE(good.connect().ok());
  ASSERT_TRUE(good.command(cmd({"SET", "x", "1"}), reply).ok());
  EXPECT_EQ(reply.text, "OK");

  endpoint.password = "wrong-pass-xyz";
  RedisConnection wrong(endpoint, RedisOptions{});
  Status status = wrong.connect();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message().rfind("redis 127.0.0.1:" + std::to_string(server.port()) +
                                       ": AUTH failed: WRONGPASS",
                                   0),
            0u)
      << status.message();
  EXPECT_FALSE(contains(status.message(), "wrong-pass-xyz"));
  EXPECT_FALSE(wrong.connected());
}

TEST(RedisConnectionAuth, AclUser) {
  RedisServer server;
  ASSERT_TRUE(server.running()) << server.error();
  // Password "p@ss:w/rd%" travels percent-encoded in the URL.
  ASSERT_EQ(server.command({"ACL", "SETUSER", "app", "on", ">p@ss:w/rd%", "~cache:*", "+@all"}), "OK");
  ASSERT_EQ(server.command({"ACL", "SETUSER", "default", "off"}), "OK");

  RedisEndpoint endpoint;
  ASSERT_TRUE(parse_redis_url("redis://app:p%40ss%3Aw%2Frd%25@127.0.0.1:" +
                                  std::to_string(server.port()) + "/2",
                              endpoint)
                  .ok());
  RedisConnection node(endpoint, RedisOptions{});
  ASSERT_TRUE(node.connect().ok());
  Reply reply;
  ASSERT_TRUE(node.command(cmd({"ACL", "WHOAMI"}), reply).ok());
  EXPECT_EQ(reply.text, "app");
  ASSERT_TRUE(node.command(cmd({"SET", "cache:1", "v"}), reply).ok());
  EXPECT_EQ(reply.text, "OK");
  ASSERT_TRUE(node.command(cmd({"SET", "other", "v"}), reply).ok());
  EXPECT_TRUE(reply.error);  // NOPERM is a reply, the connection stays
  EXPECT_EQ(reply.text.rfind("NOPERM", 0), 0u) << reply.text;
  EXPECT_TRUE(node.connected());

  endpoint.password = "p@ss:w/rd%-wrong";
  RedisConnection wrong(endpoint, RedisOptions{});
  Status status = wrong.connect();
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(contains(status.message(), "AUTH failed: WRONGPASS")) << status.message();
  EXPECT_FALSE(contains(status.message(), "p@ss"));

  endpoint.username = "nobody";
  endpoint.password = "x";
  RedisConnection unknown(endpoint, RedisOptions{});
  EXPECT_FALSE(unknown.connect().ok());
}

TEST(RedisServerHelper, RestartKeepsThePortAndDropsTheData) {
  RedisServer server;
  ASSERT_TRUE(server.running()) << server.error();
  int port = server.port();
  EXPECT_EQ(server.command({"SET", "x", "1"}), "OK");
  ASSERT_TRUE(server.restart()) << server.error();
  EXPECT_EQ(server.port(), port);
  EXPECT_EQ(server.command({"GET", "x"}), "(nil)");
  ASSERT_TRUE(server.stop());
  EXPECT_FALSE(server.running());
  EXPECT_TRUE(server.command({"PING"}).rfind("connect failed", 0) == 0);
  ASSERT_TRUE(server.restart()) << server.error();
  EXPECT_EQ(server.command({"PING"}), "PONG");
}

}  // namespace
}  // namespace cdc
