// The engine over TLS Redis (librdkafka's mock cluster, a real redis-server with --tls-port): an
// outage of the TLS server is waited out, nothing is committed past it, and every delete lands
// once the server is back.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <iostream>
#include <string>
#include <thread>

#include "engine/engine.h"
#include "mock_kafka.h"
#include "tls_redis_server.h"

namespace cdc {
namespace {

using namespace std::chrono_literals;
using cdc_test::TestCertificates;
using cdc_test::TlsRedisServer;

const char* kTopic = "dbserver1.public.customers";

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  for (auto deadline = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < deadline;) {
    if (condition()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

// One mock broker and a producer of customer updates into partition 0 of kTopic.
class MockBroker : public MockKafka {
 public:
  MockBroker() {
    if (create_topic(kTopic, 1)) rd_kafka_brokers_add(handle(), bootstraps().c_str());
  }
  bool ok() const { return cluster() != nullptr; }

  // Updates of customers [from, to), flushed.
  bool produce_updates(int from, int to) {
    for (int id = from; id < to; ++id) {
      std::string n = std::to_string(id), key = R"({"id":)" + n + "}";
      std::string value = R"({"before":null,"after":{"id":)" + n +
                          R"(},"source":{"connector":"postgresql","name":"dbserver1","db":"inventory",)"
                          R"("schema":"public","table":"customers","lsn":)" + n + R"(},"op":"u","ts_ms":1})";
      rd_kafka_resp_err_t err = rd_kafka_producev(
          handle(), RD_KAFKA_V_TOPIC(kTopic), RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_END);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
    }
    return rd_kafka_flush(handle(), 20000) == RD_KAFKA_RESP_ERR_NO_ERROR;
  }
};

int64_t committed(const Engine& engine) {
  for (const PartitionStats& stats : engine.stats().partitions)
    if (stats.topic == kTopic && stats.partition == 0) return stats.committed;
  return -2;
}

bool keys_gone(cdc_test::RedisServer& redis, int from, int to) {
  for (int id = from; id < to; ++id)
    if (redis.command({"EXISTS", "customer:" + std::to_string(id)}) != "0") return false;
  return true;
}

void set_keys(cdc_test::RedisServer& redis, int from, int to) {
  for (int id = from; id < to; ++id) redis.command({"SET", "customer:" + std::to_string(id), "cached"});
}

TEST(EngineTls, TlsRedisRestartedIsWaitedOutAndNothingIsCommittedPastIt) {
  ASSERT_FALSE(TestCertificates::get().dir().empty());
  MockBroker kafka;
  ASSERT_TRUE(kafka.ok());
  // Append-only: the keys set before the crash come back with the server, and must be deleted then.
  TlsRedisServer redis("optional", "redis-server", {"--appendonly", "yes", "--appendfsync", "always"});
  ASSERT_TRUE(redis.running()) << redis.error();
  set_keys(redis.plain(), 0, 60);
  ASSERT_TRUE(kafka.produce_updates(0, 30));

  std::string config = R"({"kafka":{"brokers":")" + kafka.bootstraps() +
                       R"(","groupId":"g-tls","topics":[")" + kTopic + R"("],"config":{"log_level":3}},)"
                       R"("redis":{"url":")" + redis.url() + R"(","tls":{"ca":")" +
                       TestCertificates::get().file("ca.crt") +
                       R"("},"connectTimeoutMs":500,"commandTimeoutMs":1000},)"
                       R"("rules":[{"source":"public.customers","invalidate":["customer:{id}"]}],)"
                       R"("batch":{"maxEvents":10,"maxInFlight":2},"commitIntervalMs":100})";
  std::atomic<bool> started{false}, stopped{false};
  EngineCallbacks callbacks;
  callbacks.log = [](LogLevel level, std::string message) {
    if (level != LogLevel::debug) std::cerr << "[engine " << log_level_name(level) << "] " << message << "\n";
  };
  callbacks.started = [&](const Status& status) { started = status.ok(); };
  callbacks.stopped = [&] { stopped = true; };
  std::unique_ptr<Engine> engine;
  Status st = Engine::create(config, callbacks, engine);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_TRUE(engine->start().ok());
  ASSERT_TRUE(eventually([&] { return started.load(); }, 20s));
  ASSERT_TRUE(eventually([&] { return keys_gone(redis.plain(), 0, 30); }, 30s));
  ASSERT_TRUE(eventually([&] { return committed(*engine) == 30; }, 10s));

  ASSERT_TRUE(redis.plain().kill());
  ASSERT_TRUE(kafka.produce_updates(30, 60));
  EXPECT_TRUE(eventually([&] { return !engine->stats().healthy; }, 10s));
  std::this_thread::sleep_for(1500ms);  // time to commit wrongly, if it would
  EXPECT_FALSE(engine->stats().redis_connected);
  EXPECT_EQ(committed(*engine), 30) << "committed past deletes the TLS server never acknowledged";

  ASSERT_TRUE(redis.plain().restart()) << redis.error();
  EXPECT_TRUE(eventually([&] { return keys_gone(redis.plain(), 30, 60); }, 30s));
  EXPECT_TRUE(eventually([&] { return committed(*engine) == 60; }, 15s)) << committed(*engine);
  EXPECT_TRUE(eventually([&] { return engine->stats().healthy; }, 5s));
  EXPECT_GE(engine->stats().redis.reconnects, 1u);
  engine->stop();
  EXPECT_TRUE(eventually([&] { return stopped.load(); }, 30s));
  EXPECT_TRUE(engine->wait_stopped(1000));
}

}  // namespace
}  // namespace cdc
