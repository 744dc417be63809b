// The engine end to end against librdkafka's mock cluster and a real redis-server.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "redis_server.h"

namespace cdc {
namespace {

using namespace std::chrono_literals;
using cdc_test::RedisServer;

const char* kTopic = "dbserver1.public.customers";

// Debian's librdkafka 2.0.2 mock cluster may not support cooperative-sticky; CDC_TEST_ASSIGNMENT
// overrides the strategy (the engine handles both protocols).
std::string assignment_strategy() {
  const char* configured = std::getenv("CDC_TEST_ASSIGNMENT");
  return configured ? configured : "cooperative-sticky";
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

class MockKafka {
 public:
  explicit MockKafka(int brokers = 1) {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "2", errstr, sizeof(errstr));
    handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (handle_ == nullptr) return;
    cluster_ = rd_kafka_mock_cluster_new(handle_, brokers);
    if (cluster_ != nullptr) bootstraps_ = rd_kafka_mock_cluster_bootstraps(cluster_);
  }
  ~MockKafka() {
    producer_.reset();
    if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
    if (handle_) rd_kafka_destroy(handle_);
  }

  bool ok() const { return cluster_ != nullptr; }
  const std::string& bootstraps() const { return bootstraps_; }
  rd_kafka_mock_cluster_t* cluster() { return cluster_; }

  void create_topic(const std::string& name, int partitions) {
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  void produce(const std::string& topic, int32_t partition, const std::string& key, const std::string* value) {
    if (!producer_) {
      std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
      std::string errstr;
      conf->set("bootstrap.servers", bootstraps_, errstr);
      conf->set("log_level", "2", errstr);
      // The mock broker answers a fetch with whole message sets whatever the fetch size: small
      // sets keep fetch responses small.
      conf->set("batch.num.messages", "50", errstr);
      producer_.reset(RdKafka::Producer::create(conf.get(), errstr));
      ASSERT_TRUE(producer_) << errstr;
    }
    RdKafka::ErrorCode err = producer_->produce(
        topic, partition, RdKafka::Producer::RK_MSG_COPY, value ? const_cast<char*>(value->data()) : nullptr,
        value ? value->size() : 0, key.data(), key.size(), 0, nullptr);
    ASSERT_EQ(err, RdKafka::ERR_NO_ERROR) << RdKafka::err2str(err);
  }

  void flush() { ASSERT_EQ(producer_->flush(20000), RdKafka::ERR_NO_ERROR); }

  // The group's committed offsets, read through a separate client as another member would.
  std::vector<int64_t> committed(const std::string& group, const std::string& topic, int partitions) {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::string errstr;
    conf->set("bootstrap.servers", bootstraps_, errstr);
    conf->set("group.id", group, errstr);
    conf->set("log_level", "2", errstr);
    std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), errstr));
    std::vector<RdKafka::TopicPartition*> list;
    for (int p = 0; p < partitions; ++p) list.push_back(RdKafka::TopicPartition::create(topic, p));
    std::vector<int64_t> offsets(partitions, -1001);
    if (consumer->committed(list, 10000) == RdKafka::ERR_NO_ERROR) {
      for (int p = 0; p < partitions; ++p) offsets[p] = list[p]->offset();
    }
    RdKafka::TopicPartition::destroy(list);
    consumer->close();
    return offsets;
  }

  // Every message of partition 0 of `topic`, with its headers.
  struct Record {
    std::string key, value;
    std::map<std::string, std::string> headers;
  };
  std::vector<Record> read_all(const std::string& topic, size_t expected, std::chrono::milliseconds timeout) {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::string errstr;
    conf->set("bootstrap.servers", bootstraps_, errstr);
    conf->set("group.id", "reader", errstr);
    conf->set("log_level", "2", errstr);
    std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), errstr));
    std::vector<RdKafka::TopicPartition*> list{
        RdKafka::TopicPartition::create(topic, 0, RdKafka::Topic::OFFSET_BEGINNING)};
    consumer->assign(list);
    RdKafka::TopicPartition::destroy(list);
    std::vector<Record> records;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (records.size() < expected && std::chrono::steady_clock::now() < deadline) {
      std::unique_ptr<RdKafka::Message> message(consumer->consume(100));
      if (!message || message->err() != RdKafka::ERR_NO_ERROR) continue;
      Record record;
      if (message->key()) record.key = *message->key();
      if (message->payload()) record.value.assign(static_cast<const char*>(message->payload()), message->len());
      if (RdKafka::Headers* headers = message->headers()) {
        for (const RdKafka::Headers::Header& header : headers->get_all())
          record.headers[header.key()] = std::string(static_cast<const char*>(header.value()), header.value_size());
      }
      records.push_back(std::move(record));
    }
    consumer->close();
    return records;
  }

 private:
  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstraps_;
  std::unique_ptr<RdKafka::Producer> producer_;
};

std::string customer_key(int id) { return R"({"id":)" + std::to_string(id) + "}"; }

// Shaped like test/fixtures/debezium/postgres/pg-v2.7-*.schemaless.json.
std::string customer_update(int id) {
  std::string n = std::to_string(id);
  return R"({"before":{"id":)" + n + R"(,"email":"old)" + n + R"(@example.com"},"after":{"id":)" + n +
         R"(,"email":"new)" + n +
         R"(@example.com"},"source":{"version":"2.7.3.Final","connector":"postgresql","name":"dbserver1",)"
         R"("ts_ms":1790710562903,"snapshot":"false","db":"inventory","sequence":"[null,\"314477488\"]",)"
         R"("schema":"public","table":"customers","txId":65249,"lsn":314477488,"xmin":null},)"
         R"("transaction":null,"op":"u","ts_ms":1790710563391})";
}

// Collects the engine's callbacks for the test thread.
class Harness {
 public:
  EngineCallbacks callbacks(bool with_events = false) {
    EngineCallbacks callbacks;
    callbacks.log = [this](LogLevel level, std::string message) {
      if (level == LogLevel::warn) {
        std::lock_guard<std::mutex> lock(mutex_);
        warnings_.push_back(message);
      }
      if (level != LogLevel::debug || std::getenv("CDC_TEST_KAFKA_DEBUG")) std::cerr << "[" << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count() % 100000 << " engine " << log_level_name(level) << "] " << message << "\n";
    };
    callbacks.started = [this](const Status& status) {
      std::lock_guard<std::mutex> lock(mutex_);
      started_ = true;
      start_ok_ = status.ok();
      start_error_ = status.message();
      cv_.notify_all();
    };
    callbacks.stopped = [this]() {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stopped_;
      cv_.notify_all();
    };
    if (with_events) {
      callbacks.events = [this](uint64_t token, int64_t handler_id, std::vector<HandlerEvent>&& events) {
        std::lock_guard<std::mutex> lock(mutex_);
        batches_.push_back(Batch{token, handler_id, std::move(events)});
        cv_.notify_all();
      };
    }
    return callbacks;
  }

  bool wait_started(std::string& error) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_for(lock, 20s, [&] { return started_; });
    error = start_error_;
    return started_ && start_ok_;
  }
  bool wait_stopped() {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, 30s, [&] { return stopped_ > 0; });
  }
  int stopped_count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stopped_;
  }
  size_t warnings_containing(const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t count = 0;
    for (const std::string& warning : warnings_) count += warning.find(text) != std::string::npos;
    return count;
  }

  struct Batch {
    uint64_t token = 0;
    int64_t handler_id = 0;
    std::vector<HandlerEvent> events;
  };
  bool next_batch(Batch& out, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!cv_.wait_for(lock, timeout, [&] { return !batches_.empty(); })) return false;
    out = std::move(batches_.front());
    batches_.pop_front();
    return true;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool started_ = false, start_ok_ = false;
  std::string start_error_;
  int stopped_ = 0;
  std::deque<Batch> batches_;
  std::vector<std::string> warnings_;
};

// extra: top-level fields; kafka_extra: librdkafka properties; kafka_fields: fields of "kafka".
std::string engine_config(const std::string& brokers, const std::string& group, const std::string& redis_url,
                          const std::string& extra = "", const std::string& kafka_extra = "",
                          const std::string& kafka_fields = "") {
  return R"({"kafka":{"brokers":")" + brokers + R"(","groupId":")" + group + R"(","topics":[")" + kTopic +
         R"("],"config":{"partition.assignment.strategy":")" + assignment_strategy() +
         R"(","log_level":)" + (std::getenv("CDC_TEST_KAFKA_DEBUG") ? std::string("7,\"debug\":\"") + std::getenv("CDC_TEST_KAFKA_DEBUG") + "\"" : std::string("3")) +
         kafka_extra + "}" + kafka_fields + R"(},"redis":{"url":")" + redis_url +
         R"(","connectTimeoutMs":500,"commandTimeoutMs":1000},)"
         R"("rules":[{"source":"public.customers","invalidate":["customer:{id}"]}],)"
         R"("batch":{"maxEvents":50,"maxWaitMs":5,"maxInFlight":2},"commitIntervalMs":100)" +
         extra + "}";
}

int64_t committed_in_stats(const Engine& engine, int32_t partition) {
  for (const PartitionStats& stats : engine.stats().partitions)
    if (stats.topic == kTopic && stats.partition == partition) return stats.committed;
  return -2;
}

bool key_exists(RedisServer& redis, int id) {
  return redis.command({"EXISTS", "customer:" + std::to_string(id)}) == "1";
}

void set_keys(RedisServer& redis, int from, int to) {
  for (int id = from; id < to; ++id) redis.command({"SET", "customer:" + std::to_string(id), "cached"});
}

bool keys_gone(RedisServer& redis, int from, int to) {
  for (int id = from; id < to; ++id)
    if (key_exists(redis, id)) return false;
  return true;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kafka_.ok());
    ASSERT_TRUE(redis_.running()) << redis_.error();
  }

  std::unique_ptr<Engine> start_engine(const std::string& config) {
    std::unique_ptr<Engine> engine;
    Status st = Engine::create(config, harness_.callbacks(with_events_), engine);
    EXPECT_TRUE(st.ok()) << st.message();
    if (!st.ok()) return nullptr;
    EXPECT_TRUE(engine->start().ok());
    std::string error;
    EXPECT_TRUE(harness_.wait_started(error)) << error;
    return engine;
  }

  void stop_engine(std::unique_ptr<Engine>& engine) {
    engine->stop();
    EXPECT_TRUE(harness_.wait_stopped());
    EXPECT_TRUE(engine->wait_stopped(1000));
  }

  MockKafka kafka_;
  RedisServer redis_{{"--appendonly", "yes", "--appendfsync", "always"}};
  Harness harness_;
  bool with_events_ = false;
};

TEST_F(EngineTest, AppliesInvalidationsAndCommitsOffsets) {
  kafka_.create_topic(kTopic, 2);
  set_keys(redis_, 0, 40);
  redis_.command({"SET", "customer:unrelated", "stays"});
  for (int id = 0; id < 40; ++id) {
    std::string value = customer_update(id);
    kafka_.produce(kTopic, id % 2, customer_key(id), &value);
  }
  std::string tombstone_key = customer_key(1);
  // A tombstone without its delete record before it (ExtractNewRecordState dropped it): a delete
  // from its key (the key is gone already), committed like the rest.
  kafka_.produce(kTopic, 1, tombstone_key, nullptr);
  kafka_.flush();

  auto engine = start_engine(engine_config(kafka_.bootstraps(), "g-apply", redis_.url()));
  ASSERT_TRUE(engine);
  EXPECT_TRUE(wait_until([&] { return keys_gone(redis_, 0, 40); }, 30s));
  EXPECT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == 20 && committed_in_stats(*engine, 1) == 21; },
                         15s))
      << committed_in_stats(*engine, 0) << " " << committed_in_stats(*engine, 1);
  EXPECT_EQ(redis_.command({"GET", "customer:unrelated"}), "stays");

  EngineStats stats = engine->stats();
  EXPECT_TRUE(stats.running);
  EXPECT_TRUE(stats.healthy);
  EXPECT_TRUE(stats.redis_connected);
  EXPECT_EQ(stats.consumed, 41u);
  EXPECT_EQ(stats.applied, 41u);
  EXPECT_EQ(stats.tombstone_deletes, 1u);
  EXPECT_EQ(stats.skipped.tombstone, 0u);
  EXPECT_EQ(stats.keys_deleted, 40u);
  EXPECT_GE(stats.redis.round_trips, 1u);
  EXPECT_EQ(stats.kafka_lag.count, 41u);
  EXPECT_EQ(stats.source_lag.count, 40u);
  for (const PartitionStats& partition : stats.partitions) EXPECT_EQ(partition.lag, 0) << partition.partition;

  stop_engine(engine);
  EXPECT_FALSE(engine->stats().running);
  std::vector<int64_t> committed = kafka_.committed("g-apply", kTopic, 2);
  EXPECT_EQ(committed[0], 20);
  EXPECT_EQ(committed[1], 21);
}

TEST_F(EngineTest, RedisKilledAndRestartedLosesNothing) {
  kafka_.create_topic(kTopic, 1);
  set_keys(redis_, 0, 60);
  for (int id = 0; id < 30; ++id) {
    std::string value = customer_update(id);
    kafka_.produce(kTopic, 0, customer_key(id), &value);
  }
  kafka_.flush();
  auto engine = start_engine(engine_config(kafka_.bootstraps(), "g-redis", redis_.url()));
  ASSERT_TRUE(engine);
  ASSERT_TRUE(wait_until([&] { return keys_gone(redis_, 0, 30); }, 30s));
  ASSERT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == 30; }, 10s));

  ASSERT_TRUE(redis_.kill());
  for (int id = 30; id < 60; ++id) {
    std::string value = customer_update(id);
    kafka_.produce(kTopic, 0, customer_key(id), &value);
  }
  kafka_.flush();
  EXPECT_TRUE(wait_until([&] { return !engine->stats().healthy; }, 10s));
  std::this_thread::sleep_for(1500ms);  // the engine has seen the new messages and cannot apply them
  EngineStats down = engine->stats();
  EXPECT_FALSE(down.healthy);
  EXPECT_FALSE(down.redis_connected);
  EXPECT_EQ(committed_in_stats(*engine, 0), 30) << "committed past an unacknowledged invalidation";
  EXPECT_EQ(kafka_.committed("g-redis", kTopic, 1)[0], 30);

  ASSERT_TRUE(redis_.restart()) << redis_.error();
  // The keys written before the crash are back (append-only file): the engine must delete them.
  EXPECT_TRUE(wait_until([&] { return keys_gone(redis_, 30, 60); }, 30s));
  EXPECT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == 60; }, 15s)) << committed_in_stats(*engine, 0);
  EXPECT_TRUE(wait_until([&] { return engine->stats().healthy; }, 5s));
  EXPECT_GE(engine->stats().redis.reconnects, 1u);
  stop_engine(engine);
  EXPECT_EQ(kafka_.committed("g-redis", kTopic, 1)[0], 60);
}

TEST_F(EngineTest, BadMessageIsDeadLetteredAndTheNextApplied) {
  kafka_.create_topic(kTopic, 1);
  kafka_.create_topic("cdc-cache.dead-letter", 1);
  set_keys(redis_, 0, 3);
  std::string bad = "{not json";
  kafka_.produce(kTopic, 0, customer_key(1), &bad);
  std::string good = customer_update(2);
  kafka_.produce(kTopic, 0, customer_key(2), &good);
  kafka_.flush();

  auto engine = start_engine(engine_config(kafka_.bootstraps(), "g-dlq", redis_.url(),
                                           R"(,"deadLetterTopic":"cdc-cache.dead-letter")"));
  ASSERT_TRUE(engine);
  EXPECT_TRUE(wait_until([&] { return !key_exists(redis_, 2); }, 30s));
  EXPECT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == 2; }, 15s)) << committed_in_stats(*engine, 0);
  EXPECT_TRUE(key_exists(redis_, 1));
  EXPECT_EQ(engine->stats().dead_lettered, 1u);
  stop_engine(engine);

  auto records = kafka_.read_all("cdc-cache.dead-letter", 1, 15s);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].value, bad);
  EXPECT_EQ(records[0].key, customer_key(1));
  EXPECT_NE(records[0].headers["cdc-cache-error"].find("malformed JSON"), std::string::npos)
      << records[0].headers["cdc-cache-error"];
  EXPECT_EQ(records[0].headers["cdc-cache-topic"], kTopic);
  EXPECT_EQ(records[0].headers["cdc-cache-partition"], "0");
  EXPECT_EQ(records[0].headers["cdc-cache-offset"], "0");
}

TEST_F(EngineTest, BrokerDownAndUpRecovers) {
  kafka_.create_topic(kTopic, 1);
  set_keys(redis_, 0, 20);
  for (int id = 0; id < 10; ++id) {
    std::string value = customer_update(id);
    kafka_.produce(kTopic, 0, customer_key(id), &value);
  }
  kafka_.flush();
  auto engine = start_engine(engine_config(kafka_.bootstraps(), "g-broker", redis_.url()));
  ASSERT_TRUE(engine);
  ASSERT_TRUE(wait_until([&] { return keys_gone(redis_, 0, 10); }, 30s));
  ASSERT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == 10; }, 10s));

  rd_kafka_mock_broker_set_down(kafka_.cluster(), 1);
  EXPECT_TRUE(wait_until([&] { return !engine->stats().healthy; }, 15s));
  rd_kafka_mock_broker_set_up(kafka_.cluster(), 1);
  EXPECT_TRUE(wait_until([&] { return engine->stats().healthy; }, 15s));  // before any new message
  for (int id = 10; id < 20; ++id) {
    std::string value = customer_update(id);
    kafka_.produce(kTopic, 0, customer_key(id), &value);
  }
  kafka_.flush();
  EXPECT_TRUE(wait_until([&] { return keys_gone(redis_, 10, 20); }, 60s));
  EXPECT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == 20; }, 30s)) << committed_in_stats(*engine, 0);
  stop_engine(engine);
  EXPECT_EQ(kafka_.committed("g-broker", kTopic, 1)[0], 20);
}

TEST_F(EngineTest, InvalidateGoesThroughThePipeline) {
  kafka_.create_topic(kTopic, 1);
  redis_.command({"SET", "app:a", "1"});
  redis_.command({"SET", "app:b", "1"});
  auto engine = start_engine(engine_config(kafka_.bootstraps(), "g-inv", redis_.url(), R"(,"keyPrefix":"app:")"));
  ASSERT_TRUE(engine);
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  int64_t deleted = -1;
  ASSERT_TRUE(engine->invalidate({"a", "b", "c"}, [&](const Status& status, int64_t count) {
    std::lock_guard<std::mutex> lock(mutex);
    EXPECT_TRUE(status.ok()) << status.message();
    deleted = count;
    done = true;
    cv.notify_all();
  }));
  {
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return done; }));
  }
  EXPECT_EQ(deleted, 2);
  EXPECT_EQ(redis_.command({"EXISTS", "app:a"}), "0");
  stop_engine(engine);
  EXPECT_FALSE(engine->invalidate({"a"}, [](const Status&, int64_t) { ADD_FAILURE() << "called after stop"; }));
}

TEST_F(EngineTest, JsHandlerAcksGateOffsetsAndFailuresAreDeadLettered) {
  with_events_ = true;
  kafka_.create_topic(kTopic, 1);
  for (int id = 0; id < 10; ++id) {
    std::string value = customer_update(id);
    kafka_.produce(kTopic, 0, customer_key(id), &value);
  }
  kafka_.flush();
  auto engine = start_engine(engine_config(kafka_.bootstraps(), "g-js", redis_.url(),
                                           R"(,"handlers":{"maxBatchSize":5,"maxInFlight":1},)"
                                           R"("jsHandlers":[{"id":7,"source":"public.*"}])"));
  ASSERT_TRUE(engine);
  Harness::Batch first;
  ASSERT_TRUE(harness_.next_batch(first, 30s));
  EXPECT_EQ(first.handler_id, 7);
  ASSERT_EQ(first.events.size(), 5u);
  EXPECT_EQ(first.events[0].topic, kTopic);
  EXPECT_EQ(first.events[0].offset, 0);
  EXPECT_EQ(first.events[0].op, Op::update);
  EXPECT_EQ(first.events[0].source.name, "public.customers");
  EXPECT_TRUE(first.events[0].has_after);
  EXPECT_NE(first.events[0].after_json.find("new0@example.com"), std::string::npos);
  // Not acknowledged yet: nothing may be committed, and no second batch while one is in flight.
  std::this_thread::sleep_for(500ms);
  EXPECT_LT(committed_in_stats(*engine, 0), 1);
  EXPECT_EQ(engine->stats().handlers.in_flight, 1u);
  Harness::Batch second;
  EXPECT_FALSE(harness_.next_batch(second, 300ms));

  engine->ack(first.token, true, "");
  EXPECT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == 5; }, 10s)) << committed_in_stats(*engine, 0);
  ASSERT_TRUE(harness_.next_batch(second, 10s));
  ASSERT_EQ(second.events.size(), 5u);
  EXPECT_EQ(second.events[0].offset, 5);
  engine->ack(second.token, false, "boom");
  EXPECT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == 10; }, 10s)) << committed_in_stats(*engine, 0);
  EngineStats stats = engine->stats();
  EXPECT_EQ(stats.dead_lettered, 5u);
  EXPECT_EQ(stats.handlers.failed, 5u);
  EXPECT_EQ(stats.handlers.delivered, 10u);
  stop_engine(engine);
}

TEST_F(EngineTest, StopIsIdempotentAndWorksBeforeStart) {
  kafka_.create_topic(kTopic, 1);
  std::unique_ptr<Engine> engine;
  ASSERT_TRUE(Engine::create(engine_config(kafka_.bootstraps(), "g-stop", redis_.url()), harness_.callbacks(), engine)
                  .ok());
  engine->stop();
  engine->stop();
  EXPECT_EQ(harness_.stopped_count(), 1);
  EXPECT_FALSE(engine->start().ok());

  Harness second;
  std::unique_ptr<Engine> running;
  ASSERT_TRUE(Engine::create(engine_config(kafka_.bootstraps(), "g-stop", redis_.url()), second.callbacks(), running)
                  .ok());
  ASSERT_TRUE(running->start().ok());
  running->stop();
  running->stop();
  EXPECT_TRUE(second.wait_stopped());
  EXPECT_TRUE(running->wait_stopped(1000));
  EXPECT_EQ(second.stopped_count(), 1);
}

TEST_F(EngineTest, RedisDownAtStartIsNotAStartFailure) {
  kafka_.create_topic(kTopic, 1);
  set_keys(redis_, 0, 5);
  ASSERT_TRUE(redis_.kill());
  for (int id = 0; id < 5; ++id) {
    std::string value = customer_update(id);
    kafka_.produce(kTopic, 0, customer_key(id), &value);
  }
  kafka_.flush();
  auto engine = start_engine(engine_config(kafka_.bootstraps(), "g-late", redis_.url()));
  ASSERT_TRUE(engine);
  std::this_thread::sleep_for(1s);
  EXPECT_FALSE(engine->stats().healthy);
  ASSERT_TRUE(redis_.restart());
  EXPECT_TRUE(wait_until([&] { return keys_gone(redis_, 0, 5); }, 30s));
  EXPECT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == 5; }, 15s));
  stop_engine(engine);
}


TEST_F(EngineTest, RedisErrorReplyIsDeadLetteredNotRetried) {
  kafka_.create_topic(kTopic, 1);
  kafka_.create_topic("cdc-cache.dead-letter", 1);
  // This user may delete but not SET: the refresh gets a NOPERM error reply.
  ASSERT_EQ(redis_.command({"ACL", "SETUSER", "engine", "on", ">pw", "~*", "+@all", "-set"}), "OK");
  set_keys(redis_, 0, 2);
  for (int id = 0; id < 2; ++id) {
    std::string value = customer_update(id);
    kafka_.produce(kTopic, 0, customer_key(id), &value);
  }
  kafka_.flush();
  std::string config = R"({"kafka":{"brokers":")" + kafka_.bootstraps() + R"(","groupId":"g-noperm","topics":[")" +
                       kTopic + R"("],"config":{"partition.assignment.strategy":")" + assignment_strategy() +
                       R"("}},"redis":{"url":"redis://engine:pw@127.0.0.1:)" + std::to_string(redis_.port()) +
                       R"("},"rules":[{"source":"public.customers","invalidate":["customer:{id}"],)"
                       R"("refresh":{"key":"customer:json:{id}"}}],"deadLetterTopic":"cdc-cache.dead-letter",)"
                       R"("commitIntervalMs":100})";
  auto engine = start_engine(config);
  ASSERT_TRUE(engine);
  EXPECT_TRUE(wait_until([&] { return keys_gone(redis_, 0, 2); }, 30s));
  EXPECT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == 2; }, 15s)) << committed_in_stats(*engine, 0);
  EngineStats stats = engine->stats();
  EXPECT_EQ(stats.dead_lettered, 2u);
  EXPECT_EQ(stats.redis.errors, 2u);
  EXPECT_TRUE(stats.healthy);  // an error reply is the event's problem, not Redis being down
  stop_engine(engine);
  auto records = kafka_.read_all("cdc-cache.dead-letter", 2, 15s);
  ASSERT_EQ(records.size(), 2u);
  // The refresh runs as the versioned script: the ACL refusal comes from inside it.
  const std::string& error = records[0].headers["cdc-cache-error"];
  EXPECT_TRUE(error.find("NOPERM") != std::string::npos || error.find("can't run this command") != std::string::npos)
      << error;
}

TEST_F(EngineTest, RedisHangingTimesOutAndResumes) {
  kafka_.create_topic(kTopic, 1);
  set_keys(redis_, 0, 20);
  auto engine = start_engine(engine_config(kafka_.bootstraps(), "g-hang", redis_.url()));
  ASSERT_TRUE(engine);
  ASSERT_TRUE(wait_until([&] { return engine->stats().partitions.size() == 1; }, 30s));
  ASSERT_TRUE(redis_.pause());  // SIGSTOP: the connection stays open, replies never come
  for (int id = 0; id < 20; ++id) {
    std::string value = customer_update(id);
    kafka_.produce(kTopic, 0, customer_key(id), &value);
  }
  kafka_.flush();
  EXPECT_TRUE(wait_until([&] { return !engine->stats().healthy; }, 10s));  // commandTimeoutMs is 1000
  EXPECT_LT(committed_in_stats(*engine, 0), 1);
  // Still hanging: reconnecting must not count as healthy (the kernel accepts the connection).
  std::this_thread::sleep_for(2500ms);
  EXPECT_FALSE(engine->stats().healthy);
  EXPECT_LT(committed_in_stats(*engine, 0), 1);
  ASSERT_TRUE(redis_.resume());
  EXPECT_TRUE(wait_until([&] { return keys_gone(redis_, 0, 20); }, 30s));
  EXPECT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == 20; }, 15s)) << committed_in_stats(*engine, 0);
  EXPECT_TRUE(wait_until([&] { return engine->stats().healthy; }, 5s));
  stop_engine(engine);
}

TEST_F(EngineTest, RebalanceBetweenTwoEnginesLosesNothing) {
  kafka_.create_topic(kTopic, 4);
  auto produce_range = [&](int from, int to) {
    for (int id = from; id < to; ++id) {
      std::string value = customer_update(id);
      kafka_.produce(kTopic, id % 4, customer_key(id), &value);
    }
    kafka_.flush();
  };
  set_keys(redis_, 0, 120);
  produce_range(0, 40);
  // The mock coordinator completes a rebalance only after a member's session times out: keep it short.
  const std::string fast_group = R"(,"session.timeout.ms":6000,"heartbeat.interval.ms":500)";
  auto first = start_engine(engine_config(kafka_.bootstraps(), "g-rebalance", redis_.url(), "", fast_group));
  ASSERT_TRUE(first);
  ASSERT_TRUE(wait_until([&] { return keys_gone(redis_, 0, 40); }, 30s));

  Harness second_harness;
  std::unique_ptr<Engine> second;
  ASSERT_TRUE(Engine::create(engine_config(kafka_.bootstraps(), "g-rebalance", redis_.url(), "", fast_group),
                             second_harness.callbacks(), second)
                  .ok());
  ASSERT_TRUE(second->start().ok());
  // Both members end up owning part of the topic.
  EXPECT_TRUE(wait_until([&] {
    size_t a = first->stats().partitions.size(), b = second->stats().partitions.size();
    return a > 0 && b > 0 && a + b == 4;
  }, 120s)) << first->stats().partitions.size() << " + " << second->stats().partitions.size();
  produce_range(40, 80);
  EXPECT_TRUE(wait_until([&] { return keys_gone(redis_, 40, 80); }, 30s));

  // The first leaves: the second takes everything over from the committed offsets.
  stop_engine(first);
  EXPECT_TRUE(wait_until([&] { return second->stats().partitions.size() == 4; }, 60s));
  produce_range(80, 120);
  EXPECT_TRUE(wait_until([&] { return keys_gone(redis_, 80, 120); }, 30s));
  second->stop();
  EXPECT_TRUE(second_harness.wait_stopped());
  std::vector<int64_t> committed = kafka_.committed("g-rebalance", kTopic, 4);
  for (int p = 0; p < 4; ++p) EXPECT_EQ(committed[p], 30) << "partition " << p;
}


// A prefetch buffer far smaller than the backlog: fetching pauses and resumes again and again,
// memory stays bounded, and everything is applied and committed. (The mock broker answers
// fetches in big lumps; the stall that waking the fetchers avoids shows with the real broker:
// test/e2e/prefetch.e2e.spec.ts.)
TEST_F(EngineTest, SmallPrefetchBufferBoundsMemoryAndKeepsFetching) {
  kafka_.create_topic(kTopic, 2);
  const int count = 6000;  // ~3.3 MB of values: ~25 pause/resume cycles of a 128 KiB hysteresis
  const uint64_t limit = 256 * 1024;
  set_keys(redis_, 0, count);
  for (int id = 0; id < count; ++id) {
    std::string value = customer_update(id);
    kafka_.produce(kTopic, id % 2, customer_key(id), &value);
  }
  kafka_.flush();
  // Writes held for a moment: the engine cannot drain while fetching fills its buffer, so at least
  // one pause happens by construction (how many more depends on the machine's speed).
  redis_.command({"CLIENT", "PAUSE", "1500", "WRITE"});
  const std::string small_fetches = R"(,"max.partition.fetch.bytes":16384,"fetch.max.bytes":32768,"message.max.bytes":32768)";
  auto engine = start_engine(engine_config(kafka_.bootstraps(), "g-prefetch", redis_.url(), "", small_fetches,
                                           R"(,"prefetchBytes":)" + std::to_string(limit)));
  ASSERT_TRUE(engine);
  EXPECT_TRUE(wait_until([&] { return engine->stats().applied == static_cast<uint64_t>(count); }, 60s))
      << engine->stats().applied << " of " << count << " applied";
  EXPECT_TRUE(keys_gone(redis_, 0, count));
  EngineStats stats = engine->stats();
  EXPECT_GE(stats.prefetch.pauses, 1u);  // and resumed: the backlog is ~13 times the buffer
  // Buffered and in-flight messages together: at most the limit plus the one message that crossed it.
  EXPECT_LE(stats.prefetch.peak_bytes, limit + 32768) << stats.prefetch.peak_bytes;
  EXPECT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == count / 2 && committed_in_stats(*engine, 1) == count / 2; },
                         15s));
  stop_engine(engine);
}

// A member joins and leaves while the first one holds a buffer of fetched, unprocessed messages:
// whatever the buffer held of a revoked partition is the next owner's to apply, and nothing is
// applied twice out of order or committed past what was applied.
TEST_F(EngineTest, PrefetchedMessagesOfRevokedPartitionsGoToTheNextOwner) {
  kafka_.create_topic(kTopic, 4);
  const int total = 4000;
  set_keys(redis_, 0, total);
  int produced = 0;
  auto produce_some = [&](int n) {
    for (int end = std::min(total, produced + n); produced < end; ++produced) {
      std::string value = customer_update(produced);
      kafka_.produce(kTopic, produced % 4, customer_key(produced), &value);
    }
    kafka_.flush();
  };
  produce_some(1000);
  const std::string fast_group = R"(,"session.timeout.ms":6000,"heartbeat.interval.ms":500,"max.partition.fetch.bytes":16384)";
  const std::string small_buffer = R"(,"prefetchBytes":65536)";
  auto first = start_engine(engine_config(kafka_.bootstraps(), "g-prefetch-rebalance", redis_.url(), "", fast_group,
                                          small_buffer));
  ASSERT_TRUE(first);
  Harness second_harness;
  std::unique_ptr<Engine> second;
  ASSERT_TRUE(Engine::create(engine_config(kafka_.bootstraps(), "g-prefetch-rebalance", redis_.url(), "", fast_group,
                                           small_buffer),
                             second_harness.callbacks(), second)
                  .ok());
  ASSERT_TRUE(second->start().ok());
  // Keep messages coming while the group rebalances.
  EXPECT_TRUE(wait_until([&] {
    produce_some(100);
    size_t a = first->stats().partitions.size(), b = second->stats().partitions.size();
    return a > 0 && b > 0 && a + b == 4;
  }, 60s));
  produce_some(500);
  stop_engine(first);
  EXPECT_TRUE(wait_until([&] {
    produce_some(100);
    return second->stats().partitions.size() == 4;
  }, 60s));
  produce_some(total);
  EXPECT_TRUE(wait_until([&] { return keys_gone(redis_, 0, total); }, 60s));
  // The group's offsets, not the second engine's stats: a partition the first engine had finished
  // and committed before it left has nothing for the second to commit (its stats then say -1).
  second->stop();
  EXPECT_TRUE(second_harness.wait_stopped());
  std::vector<int64_t> committed = kafka_.committed("g-prefetch-rebalance", kTopic, 4);
  for (int p = 0; p < 4; ++p) EXPECT_EQ(committed[p], total / 4) << "partition " << p;
}

// librdkafka 2.0.2 (confluentinc/librdkafka#4312): destroying a cooperative-sticky consumer between
// its JoinGroup response and its first assignment asserts (SIGABRT: the whole process goes). The
// mock coordinator answers the first JoinGroup after 3 s; its SyncGroup answer is held back 2 s
// more, and the stop lands in between.
TEST_F(EngineTest, StopBetweenJoinGroupAndTheFirstAssignmentDoesNotAbort) {
  if (assignment_strategy().find("cooperative") == std::string::npos) GTEST_SKIP() << "cooperative-sticky only";
  kafka_.create_topic(kTopic, 2);
  const int16_t kSyncGroupApi = 14;
  ASSERT_EQ(rd_kafka_mock_broker_push_request_error_rtts(kafka_.cluster(), 1, kSyncGroupApi, 1,
                                                         RD_KAFKA_RESP_ERR_NO_ERROR, 2000),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  auto engine = start_engine(engine_config(kafka_.bootstraps(), "g-first-join", redis_.url()));
  ASSERT_TRUE(engine);
  std::this_thread::sleep_for(4s);
  EXPECT_TRUE(engine->stats().partitions.empty()) << "the assignment came early: the stop is not in the window";
  stop_engine(engine);
  EXPECT_TRUE(engine->join(1000));
}

// Stops before the mock coordinator's JoinGroup answer (after 3 s), in the join and after it: each
// completes. A fresh group each time (the mock lets a new member in only after the previous one's
// session timed out).
TEST_F(EngineTest, StartStopCyclesAroundTheGroupJoin) {
  kafka_.create_topic(kTopic, 2);
  for (int delay_ms : {0, 1500, 2990, 3050, 4000}) {
    Harness harness;
    std::unique_ptr<Engine> engine;
    ASSERT_TRUE(Engine::create(engine_config(kafka_.bootstraps(), "g-cycles-" + std::to_string(delay_ms), redis_.url()),
                               harness.callbacks(), engine)
                    .ok());
    ASSERT_TRUE(engine->start().ok());
    std::string error;
    ASSERT_TRUE(harness.wait_started(error)) << error;
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    engine->stop();
    ASSERT_TRUE(harness.wait_stopped()) << "stop after " << delay_ms << " ms";
    ASSERT_TRUE(engine->join(5000)) << "stop after " << delay_ms << " ms";
  }
}

// A change that cannot be applied (Redis down) at stop: stop completes in bounded time (the consumer
// is destroyed only once no message of it is held any more) and its offset is not committed, so the
// group's next consumer applies it.
TEST_F(EngineTest, StopDuringARedisOutageIsBoundedAndCommitsNothingUnapplied) {
  kafka_.create_topic(kTopic, 1);
  kafka_.create_topic("cdc-cache.dead-letter", 1);
  set_keys(redis_, 0, 3);
  // The mock coordinator lets the next member in only once the previous session timed out.
  const std::string config = engine_config(kafka_.bootstraps(), "g-outage", redis_.url(),
                                           R"(,"deadLetterTopic":"cdc-cache.dead-letter")",
                                           R"(,"session.timeout.ms":6000,"heartbeat.interval.ms":500)");
  auto engine = start_engine(config);
  ASSERT_TRUE(engine);
  ASSERT_TRUE(wait_until([&] { return engine->stats().partitions.size() == 1 && engine->stats().healthy; }, 30s));
  ASSERT_TRUE(redis_.kill());
  std::string bad = "{not json";  // dead-lettered: its own offset is fine to commit
  kafka_.produce(kTopic, 0, customer_key(0), &bad);
  for (int id = 1; id < 3; ++id) {
    std::string value = customer_update(id);
    kafka_.produce(kTopic, 0, customer_key(id), &value);
  }
  kafka_.flush();
  // Begun if they came before the engine noticed the outage (its idle PING runs every 2 s), else
  // held in the prefetch buffer: either way stop() must neither hang nor commit them.
  ASSERT_TRUE(wait_until([&] {
    const EngineStats stats = engine->stats();
    return stats.consumed >= 3 || stats.prefetch.bytes > 0;
  }, 30s));
  auto stop_began = std::chrono::steady_clock::now();
  engine->stop();
  EXPECT_TRUE(harness_.wait_stopped()) << "stop() hung";
  EXPECT_TRUE(engine->join(5000));
  EXPECT_LT(std::chrono::steady_clock::now() - stop_began, 25s);
  EXPECT_LE(kafka_.committed("g-outage", kTopic, 1)[0], 1) << "committed past an unapplied change";

  ASSERT_TRUE(redis_.restart()) << redis_.error();
  set_keys(redis_, 1, 3);
  Harness second_harness;
  std::unique_ptr<Engine> second;
  ASSERT_TRUE(Engine::create(config, second_harness.callbacks(), second).ok());
  ASSERT_TRUE(second->start().ok());
  EXPECT_TRUE(wait_until([&] { return keys_gone(redis_, 1, 3); }, 30s)) << "the unapplied changes were not redelivered";
  second->stop();
  EXPECT_TRUE(second_harness.wait_stopped());
  EXPECT_EQ(kafka_.committed("g-outage", kTopic, 1)[0], 3);
}

// Without traffic nothing talks to Redis: a periodic PING must still notice that it died.
TEST_F(EngineTest, IdleEngineNoticesRedisGoingAway) {
  kafka_.create_topic(kTopic, 1);
  auto engine = start_engine(engine_config(kafka_.bootstraps(), "g-idle", redis_.url()));
  ASSERT_TRUE(engine);
  ASSERT_TRUE(wait_until([&] { return engine->stats().healthy; }, 30s));
  ASSERT_TRUE(redis_.kill());
  EXPECT_TRUE(wait_until([&] { return !engine->stats().healthy; }, 10s));
  EXPECT_FALSE(engine->stats().redis_connected);
  ASSERT_TRUE(redis_.restart()) << redis_.error();
  EXPECT_TRUE(wait_until([&] { return engine->stats().healthy; }, 15s));
  stop_engine(engine);
}

// The engine thread is joinable once it reported `stopped`: the addon joins it before its shared
// object may be unloaded (worker termination).
TEST_F(EngineTest, JoinWaitsForTheEngineThread) {
  kafka_.create_topic(kTopic, 1);
  auto engine = start_engine(engine_config(kafka_.bootstraps(), "g-join", redis_.url()));
  ASSERT_TRUE(engine);
  EXPECT_FALSE(engine->join(0));  // still running
  engine->stop(true);
  EXPECT_TRUE(engine->join(30000));
  EXPECT_TRUE(engine->join(0));  // idempotent
  EXPECT_EQ(harness_.stopped_count(), 1);
}

// ---- Redis error replies that mean "not now" (issue 10, item 1) ----

std::string customers_config(const std::string& brokers, const std::string& group, const std::string& redis_url,
                             const std::string& rules) {
  return R"({"kafka":{"brokers":")" + brokers + R"(","groupId":")" + group + R"(","topics":[")" + kTopic +
         R"("],"config":{"partition.assignment.strategy":")" + assignment_strategy() + R"("}},"redis":{"url":")" +
         redis_url + R"(","connectTimeoutMs":500,"commandTimeoutMs":1000},"rules":)" + rules +
         R"(,"deadLetterTopic":"cdc-cache.dead-letter","commitIntervalMs":100})";
}

void produce_updates(MockKafka& kafka, int from, int to) {
  for (int id = from; id < to; ++id) {
    std::string value = customer_update(id);
    kafka.produce(kTopic, 0, customer_key(id), &value);
  }
  kafka.flush();
}

// redis.url names a node that became a replica (failover): -READONLY is an outage. Nothing is
// dead-lettered or committed until it is promoted, then everything is applied.
TEST_F(EngineTest, ReadOnlyReplicaIsAnOutageUntilPromoted) {
  kafka_.create_topic(kTopic, 1);
  kafka_.create_topic("cdc-cache.dead-letter", 1);
  RedisServer replica({"--replicaof", "127.0.0.1", std::to_string(redis_.port())});
  ASSERT_TRUE(replica.running()) << replica.error();
  set_keys(redis_, 0, 5);
  ASSERT_TRUE(wait_until([&] { return key_exists(replica, 4); }, 20s));  // replicated
  produce_updates(kafka_, 0, 5);
  auto engine = start_engine(customers_config(kafka_.bootstraps(), "g-readonly", replica.url(),
                                              R"([{"source":"public.customers","invalidate":["customer:{id}"]}])"));
  ASSERT_TRUE(engine);
  ASSERT_TRUE(wait_until([&] { return engine->stats().redis.errors > 0; }, 20s));
  EXPECT_FALSE(wait_until([&] { return engine->stats().healthy || engine->stats().dead_lettered > 0; }, 2s));
  EXPECT_LT(committed_in_stats(*engine, 0), 1);
  EXPECT_TRUE(key_exists(replica, 0));
  ASSERT_EQ(replica.command({"REPLICAOF", "NO", "ONE"}), "OK");
  EXPECT_TRUE(wait_until([&] { return keys_gone(replica, 0, 5); }, 30s));
  EXPECT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == 5; }, 15s)) << committed_in_stats(*engine, 0);
  EXPECT_TRUE(wait_until([&] { return engine->stats().healthy; }, 10s));
  EXPECT_EQ(engine->stats().dead_lettered, 0u);
  stop_engine(engine);
}

// Server over its maxmemory with noeviction: every write is refused (-OOM), deletes pass.
void fill_up(RedisServer& redis) {
  for (int i = 0; i < 16; ++i) redis.command({"SET", "filler:" + std::to_string(i), std::string(64 << 10, 'x')});
  ASSERT_EQ(redis.command({"CONFIG", "SET", "maxmemory-policy", "noeviction"}), "OK");
  ASSERT_EQ(redis.command({"CONFIG", "SET", "maxmemory", "1mb"}), "OK");
}

// maxmemory with noeviction refuses the refresh SET (-OOM): the old cached value must not stay,
// so the key is deleted instead (deletes pass under noeviction) and the event counts as applied.
TEST_F(EngineTest, RefreshRefusedForMemoryDeletesTheKeyInstead) {
  kafka_.create_topic(kTopic, 1);
  kafka_.create_topic("cdc-cache.dead-letter", 1);
  RedisServer full;
  ASSERT_TRUE(full.running()) << full.error();
  for (int id = 0; id < 3; ++id) full.command({"SET", "customer:json:" + std::to_string(id), "stale"});
  fill_up(full);
  ASSERT_EQ(full.command({"SET", "probe", "1"}).rfind("OOM", 0), 0u);  // the server is full
  produce_updates(kafka_, 0, 3);
  auto engine = start_engine(customers_config(
      kafka_.bootstraps(), "g-oom", full.url(),
      R"([{"source":"public.customers","refresh":{"key":"customer:json:{id}"}}])"));
  ASSERT_TRUE(engine);
  EXPECT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == 3; }, 30s)) << committed_in_stats(*engine, 0);
  for (int id = 0; id < 3; ++id)
    EXPECT_EQ(full.command({"EXISTS", "customer:json:" + std::to_string(id)}), "0") << id;
  EngineStats stats = engine->stats();
  EXPECT_EQ(stats.dead_lettered, 0u);
  EXPECT_EQ(stats.applied, 3u);
  stop_engine(engine);
}

// A long script makes the server answer -BUSY to everything, PING included: the engine must not
// take that for "connected", and nothing is dead-lettered; once the script is killed, all applies.
TEST_F(EngineTest, BusyServerIsAnOutageAndPingMustAnswerPong) {
  kafka_.create_topic(kTopic, 1);
  kafka_.create_topic("cdc-cache.dead-letter", 1);
  RedisServer busy({"--busy-reply-threshold", "50"});
  ASSERT_TRUE(busy.running()) << busy.error();
  set_keys(busy, 0, 5);
  std::thread script([&] { busy.command({"EVAL", "while true do end", "0"}); });  // returns when killed
  ASSERT_TRUE(wait_until([&] { return busy.command({"PING"}).rfind("BUSY", 0) == 0; }, 10s));
  produce_updates(kafka_, 0, 5);
  auto engine = start_engine(customers_config(kafka_.bootstraps(), "g-busy", busy.url(),
                                              R"([{"source":"public.customers","invalidate":["customer:{id}"]}])"));
  ASSERT_TRUE(engine);
  EXPECT_FALSE(wait_until([&] { return engine->stats().healthy || engine->stats().dead_lettered > 0; }, 3s));
  EXPECT_LT(committed_in_stats(*engine, 0), 1);
  EXPECT_EQ(busy.command({"SCRIPT", "KILL"}), "OK");
  script.join();
  EXPECT_TRUE(wait_until([&] { return keys_gone(busy, 0, 5); }, 30s));
  EXPECT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == 5; }, 15s)) << committed_in_stats(*engine, 0);
  EXPECT_EQ(engine->stats().dead_lettered, 0u);
  EXPECT_TRUE(wait_until([&] { return engine->stats().healthy; }, 10s));
  stop_engine(engine);
}

// ---- Replays never regress a refreshed value (issue 10, item 4) ----

std::string customer_update_at(int id, int64_t lsn, const std::string& email) {
  std::string n = std::to_string(id);
  return R"({"before":{"id":)" + n + R"(,"email":"x"},"after":{"id":)" + n + R"(,"email":")" + email +
         R"("},"source":{"version":"2.7.3.Final","connector":"postgresql","name":"dbserver1","ts_ms":1790710562903,)"
         R"("db":"inventory","schema":"public","table":"customers","txId":65249,"lsn":)" + std::to_string(lsn) +
         R"(},"op":"u","ts_ms":1790710563391})";
}

// Debezium re-emits events after a connector restart at new offsets: the older row image that
// arrives last must not overwrite the newer one, and a deleted row is not brought back.
TEST_F(EngineTest, ReplayedOlderEventsDoNotRegressRefreshedValues) {
  kafka_.create_topic(kTopic, 1);
  kafka_.create_topic("cdc-cache.dead-letter", 1);
  std::vector<std::string> values = {customer_update_at(1, 300, "newest"), customer_update_at(1, 200, "older"),
                                     customer_update_at(2, 500, "kept"), customer_update_at(2, 100, "oldest")};
  for (const std::string& value : values) kafka_.produce(kTopic, 0, customer_key(1), &value);
  kafka_.flush();
  auto engine = start_engine(customers_config(kafka_.bootstraps(), "g-replay", redis_.url(),
                                              R"([{"source":"public.customers","refresh":{"key":"customer:json:{id}"}}])"));
  ASSERT_TRUE(engine);
  EXPECT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == 4; }, 30s)) << committed_in_stats(*engine, 0);
  EXPECT_EQ(redis_.command({"GET", "customer:json:1"}), R"({"id":1,"email":"newest"})");
  EXPECT_EQ(redis_.command({"GET", "customer:json:2"}), R"({"id":2,"email":"kept"})");
  EXPECT_EQ(engine->stats().refreshes_older_skipped, 2u);
  // After a Redis restart the script is gone from its cache: loaded again on reconnect.
  ASSERT_TRUE(redis_.restart()) << redis_.error();
  std::string later = customer_update_at(1, 400, "after-restart");
  kafka_.produce(kTopic, 0, customer_key(1), &later);
  kafka_.flush();
  EXPECT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == 5; }, 30s)) << committed_in_stats(*engine, 0);
  EXPECT_EQ(redis_.command({"GET", "customer:json:1"}), R"({"id":1,"email":"after-restart"})");
  EXPECT_EQ(engine->stats().dead_lettered, 0u);
  stop_engine(engine);
}

// ---- A dead letter counts only once Kafka took it (issue 10, item 2) ----

// The dead-letter produce is refused (ACL) a few times: the bad message is not committed until
// its dead letter is acknowledged, and the engine reports unhealthy meanwhile.
TEST_F(EngineTest, DeadLetterIsCommittedOnlyOnceKafkaAcknowledgedIt) {
  kafka_.create_topic(kTopic, 1);
  kafka_.create_topic("cdc-cache.dead-letter", 1);
  set_keys(redis_, 0, 3);
  std::string bad = "{not json";
  kafka_.produce(kTopic, 0, customer_key(1), &bad);
  std::string good = customer_update(2);
  kafka_.produce(kTopic, 0, customer_key(2), &good);
  kafka_.flush();
  const int refusals = 6;  // Produce requests answered "topic authorization failed" (not retriable)
  for (int i = 0; i < refusals; ++i)
    rd_kafka_mock_push_request_errors(kafka_.cluster(), 0 /* Produce */, 1, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  auto engine = start_engine(customers_config(kafka_.bootstraps(), "g-dlq-refused", redis_.url(),
                                              R"([{"source":"public.customers","invalidate":["customer:{id}"]}])"));
  ASSERT_TRUE(engine);
  EXPECT_TRUE(wait_until([&] { return !key_exists(redis_, 2); }, 30s));  // the partition went on
  EXPECT_TRUE(wait_until([&] { return !engine->stats().healthy; }, 15s));
  EXPECT_LT(committed_in_stats(*engine, 0), 1);
  ASSERT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == 2; }, 60s)) << committed_in_stats(*engine, 0);
  auto records = kafka_.read_all("cdc-cache.dead-letter", 1, 15s);
  ASSERT_EQ(records.size(), 1u);  // committed only because it is there
  EXPECT_EQ(records[0].value, bad);
  EXPECT_TRUE(wait_until([&] { return engine->stats().healthy; }, 10s));
  EXPECT_EQ(engine->stats().dead_lettered, 1u);
  stop_engine(engine);
}

// ---- Exact 64-bit integers reach JavaScript handlers (issue 10, item 9) ----

TEST_F(EngineTest, HandlerEventsCarryIntegersBeyondTwoToThe53AsExactStrings) {
  with_events_ = true;
  kafka_.create_topic(kTopic, 1);
  std::string value = customer_update_at(1, 9007199254740993, "big");
  const std::string big_id = "9007199254740993";
  value.replace(value.find(R"("after":{"id":1)") + 14, 1, big_id);
  kafka_.produce(kTopic, 0, R"({"id":9007199254740993})", &value);
  kafka_.flush();
  auto engine = start_engine(engine_config(kafka_.bootstraps(), "g-bigint", redis_.url(),
                                           R"(,"jsHandlers":[{"id":1,"source":"public.*"}])"));
  ASSERT_TRUE(engine);
  Harness::Batch batch;
  ASSERT_TRUE(harness_.next_batch(batch, 30s));
  ASSERT_EQ(batch.events.size(), 1u);
  // JSON.parse in the addon turns a bare 9007199254740993 into 9007199254740992.
  EXPECT_NE(batch.events[0].after_json.find(R"("id":"9007199254740993")"), std::string::npos) << batch.events[0].after_json;
  EXPECT_NE(batch.events[0].key_json.find(R"("id":"9007199254740993")"), std::string::npos) << batch.events[0].key_json;
  EXPECT_NE(batch.events[0].before_json.find(R"("id":1)"), std::string::npos) << batch.events[0].before_json;
  engine->ack(batch.token, true, "");
  stop_engine(engine);
}

// ---- Deletes that arrive only as tombstones (issue 10, item 3) ----

std::string customer_delete(int id) {
  std::string n = std::to_string(id);
  return R"({"before":{"id":)" + n + R"(,"email":"gone)" + n + R"(@example.com"},"after":null,)"
         R"("source":{"connector":"postgresql","name":"dbserver1","ts_ms":1790710562903,"db":"inventory",)"
         R"("schema":"public","table":"customers","lsn":400},"op":"d","ts_ms":1790710563391})";
}

// ExtractNewRecordState with delete.tombstone.handling.mode=tombstone: the delete is only a
// tombstone keyed by the primary key. It deletes the key rendered from the message key, whether
// the topic's source is known from earlier events or only from its name.
TEST_F(EngineTest, TombstoneOnlyDeletesAreApplied) {
  kafka_.create_topic(kTopic, 1);
  set_keys(redis_, 0, 6);
  kafka_.produce(kTopic, 0, customer_key(1), nullptr);  // before any event of the topic: from its name
  std::string update = customer_update(2);
  kafka_.produce(kTopic, 0, customer_key(2), &update);
  kafka_.produce(kTopic, 0, customer_key(3), nullptr);  // source known from the update
  std::string full_delete = customer_delete(4);
  kafka_.produce(kTopic, 0, customer_key(4), &full_delete);
  kafka_.produce(kTopic, 0, customer_key(4), nullptr);  // follows its delete envelope: nothing more
  kafka_.flush();
  auto engine = start_engine(engine_config(kafka_.bootstraps(), "g-tombstone", redis_.url()));
  ASSERT_TRUE(engine);
  EXPECT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == 5; }, 30s)) << committed_in_stats(*engine, 0);
  for (int id = 1; id <= 4; ++id) EXPECT_FALSE(key_exists(redis_, id)) << id;
  EXPECT_TRUE(key_exists(redis_, 5));
  EngineStats stats = engine->stats();
  EXPECT_EQ(stats.tombstone_deletes, 2u);
  EXPECT_EQ(stats.skipped.tombstone, 1u);
  stop_engine(engine);
}

// ---- redis.waitReplicas (issue 10, item 12) ----

// A batch counts as acknowledged only once a replica has it: without a replica nothing is
// committed (unhealthy); once one attaches, everything is.
TEST_F(EngineTest, WaitReplicasHoldsCommitsUntilAReplicaAcknowledges) {
  kafka_.create_topic(kTopic, 1);
  set_keys(redis_, 0, 5);
  produce_updates(kafka_, 0, 5);
  std::string config = engine_config(kafka_.bootstraps(), "g-wait", redis_.url());
  const std::string timeouts = R"("commandTimeoutMs":1000})";
  config.replace(config.find(timeouts), timeouts.size(), R"("commandTimeoutMs":1000,"waitReplicas":1,"waitTimeoutMs":200})");
  auto engine = start_engine(config);
  ASSERT_TRUE(engine);
  EXPECT_TRUE(wait_until([&] { return keys_gone(redis_, 0, 5); }, 30s));  // written, not yet durable
  EXPECT_TRUE(wait_until([&] { return engine->stats().redis.errors > 0 && !engine->stats().healthy; }, 15s));
  EXPECT_LT(committed_in_stats(*engine, 0), 1);
  RedisServer replica({"--replicaof", "127.0.0.1", std::to_string(redis_.port())});
  ASSERT_TRUE(replica.running()) << replica.error();
  EXPECT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == 5; }, 60s)) << committed_in_stats(*engine, 0);
  EXPECT_TRUE(wait_until([&] { return engine->stats().healthy; }, 15s));
  EXPECT_EQ(engine->stats().dead_lettered, 0u);
  stop_engine(engine);
}

// ---- One handler batch per partition in flight (issue 10, item 8) ----

TEST_F(EngineTest, AtMostOneHandlerBatchPerPartitionInFlight) {
  with_events_ = true;
  kafka_.create_topic(kTopic, 2);
  for (int id = 0; id < 6; ++id) {
    std::string value = customer_update(id);
    kafka_.produce(kTopic, id < 4 ? 0 : 1, customer_key(id), &value);  // partition 0: 4, partition 1: 2
  }
  kafka_.flush();
  auto engine = start_engine(engine_config(kafka_.bootstraps(), "g-order", redis_.url(),
                                           R"(,"handlers":{"maxBatchSize":2,"maxInFlight":4},)"
                                           R"("jsHandlers":[{"id":3,"source":"public.*"}])"));
  ASSERT_TRUE(engine);
  // Both partitions run in parallel, but the second batch of partition 0 waits for the first.
  std::vector<Harness::Batch> delivered;
  Harness::Batch batch;
  while (harness_.next_batch(batch, delivered.size() < 2 ? 30s : 1500ms)) delivered.push_back(std::move(batch));
  ASSERT_EQ(delivered.size(), 2u);
  EXPECT_NE(delivered[0].events[0].partition, delivered[1].events[0].partition);
  for (const Harness::Batch& b : delivered)
    for (const HandlerEvent& event : b.events) EXPECT_EQ(event.partition, b.events[0].partition);
  const Harness::Batch& first_p0 = delivered[0].events[0].partition == 0 ? delivered[0] : delivered[1];
  EXPECT_EQ(first_p0.events[0].offset, 0);
  engine->ack(first_p0.token, true, "");
  ASSERT_TRUE(harness_.next_batch(batch, 30s));
  EXPECT_EQ(batch.events[0].partition, 0);
  EXPECT_EQ(batch.events[0].offset, 2);
  engine->ack(batch.token, true, "");
  engine->ack(delivered[0].events[0].partition == 1 ? delivered[0].token : delivered[1].token, true, "");
  EXPECT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == 4 && committed_in_stats(*engine, 1) == 2; }, 15s));
  stop_engine(engine);
}

// ---- Work of partitions no longer owned is dropped (issue 10, item 5) ----

// The first engine holds pipelines of both partitions while Redis refuses writes (a replica);
// a second engine joins and takes one partition. Once Redis takes writes again, the first must
// not send the commands of the partition it lost (its keys, prefixed "a:", stay).
TEST_F(EngineTest, CommandsOfRevokedPartitionsAreNotSentAfterAnOutage) {
  kafka_.create_topic(kTopic, 2);
  for (int id = 0; id < 8; ++id) {
    redis_.command({"SET", "a:customer:" + std::to_string(id), "cached"});
    redis_.command({"SET", "b:customer:" + std::to_string(id), "cached"});
  }
  const std::string fast_group = R"(,"session.timeout.ms":6000,"heartbeat.interval.ms":500)";
  auto config = [&](const std::string& prefix) {
    return engine_config(kafka_.bootstraps(), "g-revoked", redis_.url(), R"(,"keyPrefix":")" + prefix + R"(")", fast_group);
  };
  auto first = start_engine(config("a:"));
  ASSERT_TRUE(first);
  ASSERT_TRUE(wait_until([&] { return first->stats().partitions.size() == 2; }, 30s));
  ASSERT_EQ(redis_.command({"REPLICAOF", "127.0.0.1", "1"}), "OK");  // writes refused: -READONLY
  for (int id = 0; id < 8; ++id) {
    std::string value = customer_update(id);
    kafka_.produce(kTopic, id % 2, customer_key(id), &value);
  }
  kafka_.flush();
  ASSERT_TRUE(wait_until([&] { return first->stats().consumed == 8 && !first->stats().healthy; }, 30s));

  Harness second_harness;
  std::unique_ptr<Engine> second;
  ASSERT_TRUE(Engine::create(config("b:"), second_harness.callbacks(), second).ok());
  ASSERT_TRUE(second->start().ok());
  ASSERT_TRUE(wait_until([&] {
    return first->stats().partitions.size() == 1 && second->stats().partitions.size() == 1;
  }, 90s)) << first->stats().partitions.size() << " + " << second->stats().partitions.size();
  const int32_t lost = first->stats().partitions[0].partition == 0 ? 1 : 0;
  ASSERT_EQ(redis_.command({"REPLICAOF", "NO", "ONE"}), "OK");
  // The new owner applies the lost partition; the first applies the one it kept.
  EXPECT_TRUE(wait_until([&] {
    for (int id = lost; id < 8; id += 2)
      if (redis_.command({"EXISTS", "b:customer:" + std::to_string(id)}) != "0") return false;
    for (int id = 1 - lost; id < 8; id += 2)
      if (redis_.command({"EXISTS", "a:customer:" + std::to_string(id)}) != "0") return false;
    return true;
  }, 60s));
  EXPECT_TRUE(wait_until([&] { return first->stats().healthy && first->stats().redis.revoked_dropped > 0; }, 30s));
  for (int id = lost; id < 8; id += 2)
    EXPECT_EQ(redis_.command({"EXISTS", "a:customer:" + std::to_string(id)}), "1") << "sent by the old owner: " << id;
  second->stop();
  EXPECT_TRUE(second_harness.wait_stopped());
  stop_engine(first);
}

// ---- Connect logical types without a schema (issue 10, item 7) ----

// Keys without a schema holding a VariableScaleDecimal struct render keys the application never
// uses: the engine says so, once for the topic, however many such messages come.
TEST_F(EngineTest, EncodedKeysWithoutSchemaAreWarnedOncePerTopic) {
  kafka_.create_topic(kTopic, 1);
  std::string update = customer_update(1);
  for (int i = 0; i < 3; ++i) kafka_.produce(kTopic, 0, R"({"id":{"scale":0,"value":"JxA="}})", &update);
  kafka_.produce(kTopic, 0, customer_key(2), &update);
  kafka_.flush();
  auto engine = start_engine(engine_config(kafka_.bootstraps(), "g-encoded-keys", redis_.url()));
  ASSERT_TRUE(engine);
  EXPECT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == 4; }, 30s)) << committed_in_stats(*engine, 0);
  EXPECT_EQ(harness_.warnings_containing("topic " + std::string(kTopic) + ": message keys have no schema"), 1u);
  stop_engine(engine);
}

// ---- topicSources (issue 10, item 3) ----

// A topic renamed by a routing transform: its tombstones name no source, and its name does not
// follow <prefix>.<schema>.<table>. Only the explicit topicSources entry maps it to its rules.
TEST_F(EngineTest, TopicSourcesMapATombstoneOnlyTopicToItsRules) {
  const std::string routed = "routed_customers";
  kafka_.create_topic(routed, 1);
  set_keys(redis_, 0, 3);
  kafka_.produce(routed, 0, customer_key(1), nullptr);
  kafka_.produce(routed, 0, customer_key(2), nullptr);
  kafka_.flush();
  std::string config = engine_config(kafka_.bootstraps(), "g-topic-sources", redis_.url(),
                                     R"(,"topicSources":{"routed_customers":"public.customers"})");
  config.replace(config.find(kTopic), std::string(kTopic).size(), routed);
  auto engine = start_engine(config);
  ASSERT_TRUE(engine);
  auto committed = [&] {
    for (const PartitionStats& stats : engine->stats().partitions)
      if (stats.topic == routed) return stats.committed;
    return int64_t(-2);
  };
  EXPECT_TRUE(wait_until([&] { return committed() == 2; }, 30s)) << committed();
  EXPECT_FALSE(key_exists(redis_, 1));
  EXPECT_FALSE(key_exists(redis_, 2));
  EXPECT_TRUE(key_exists(redis_, 0));
  EXPECT_EQ(engine->stats().tombstone_deletes, 2u);
  stop_engine(engine);
}

// ---- start positions (issue 10, item D) ----

int64_t position_in_stats(const Engine& engine, int32_t partition) {
  for (const PartitionStats& stats : engine.stats().partitions)
    if (stats.topic == kTopic && stats.partition == partition) return stats.position;
  return -2;
}

// Under auto.offset.reset=latest, librdkafka resolves the end only once fetching starts: a change
// appended after the assignment but before that was skipped, and the position stayed unknown (-1)
// until a first message arrived, so nobody could tell when producing was safe. Now the start is
// resolved at the assignment: its position is reported at once, and everything after it is applied.
TEST_F(EngineTest, StartPositionsAreKnownFromTheAssignmentOn) {
  kafka_.create_topic(kTopic, 2);
  set_keys(redis_, 0, 40);
  produce_updates(kafka_, 0, 10);  // before the group exists: "latest" skips these
  // A short session: the stopped engine's member may stay in the group until it times out.
  const std::string kafka_extra = R"(,"auto.offset.reset":"latest","session.timeout.ms":"6000","heartbeat.interval.ms":"500")";
  auto engine = start_engine(engine_config(kafka_.bootstraps(), "g-start-latest", redis_.url(), "", kafka_extra));
  ASSERT_TRUE(engine);
  EXPECT_TRUE(wait_until([&] { return position_in_stats(*engine, 0) == 10 && position_in_stats(*engine, 1) == 0; }, 20s))
      << position_in_stats(*engine, 0) << " " << position_in_stats(*engine, 1);
  EXPECT_EQ(engine->stats().consumed, 0u);
  produce_updates(kafka_, 10, 20);  // right after the position is known: all applied
  EXPECT_TRUE(wait_until([&] { return keys_gone(redis_, 10, 20); }, 20s));
  EXPECT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == 20; }, 15s)) << committed_in_stats(*engine, 0);
  EXPECT_TRUE(key_exists(redis_, 0));
  stop_engine(engine);

  // The same group again: it starts at its committed offsets, known at the assignment too.
  produce_updates(kafka_, 20, 24);
  engine = start_engine(engine_config(kafka_.bootstraps(), "g-start-latest", redis_.url(), "", kafka_extra));
  ASSERT_TRUE(engine);
  EXPECT_TRUE(wait_until([&] { return keys_gone(redis_, 20, 24); }, 30s));
  EXPECT_TRUE(wait_until([&] { return position_in_stats(*engine, 0) == 24 && position_in_stats(*engine, 1) == 0; }, 15s))
      << position_in_stats(*engine, 0) << " " << position_in_stats(*engine, 1);
  EXPECT_EQ(engine->stats().consumed, 4u);
  stop_engine(engine);
}

// ---- Replies are taken as they arrive (issue 14) ----

struct TracedEvent {
  int64_t sent_us = 0;
  int64_t acked_us = 0;
};

// The E lines of an engine trace (src/native/core/engine/trace.h): partition offset append begun planned sent acked.
std::vector<TracedEvent> traced_events(const std::string& path) {
  std::vector<TracedEvent> events;
  std::ifstream in(path);
  std::string kind;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    int64_t partition, offset, append_ms, begun, planned;
    TracedEvent event;
    if (fields >> kind && kind == "E" &&
        fields >> partition >> offset >> append_ms >> begun >> planned >> event.sent_us >> event.acked_us)
      events.push_back(event);
  }
  return events;
}

// For each event, how many events were sent to Redis and not yet acknowledged when it was sent;
// the median of that over all events.
size_t median_unacknowledged_at_send(const std::vector<TracedEvent>& events) {
  std::vector<int64_t> sends, acks;
  for (const TracedEvent& event : events) {
    sends.push_back(event.sent_us);
    acks.push_back(event.acked_us);
  }
  std::sort(sends.begin(), sends.end());
  std::sort(acks.begin(), acks.end());
  std::vector<size_t> unacknowledged;
  for (const TracedEvent& event : events) {
    size_t sent = std::upper_bound(sends.begin(), sends.end(), event.sent_us) - sends.begin();
    size_t acked = std::upper_bound(acks.begin(), acks.end(), event.sent_us) - acks.begin();
    unacknowledged.push_back(sent - acked);
  }
  std::nth_element(unacknowledged.begin(), unacknowledged.begin() + unacknowledged.size() / 2, unacknowledged.end());
  return unacknowledged[unacknowledged.size() / 2];
}

// While messages keep coming, pipelines go out back to back up to batch.maxInFlight; a reply that
// arrived meanwhile must still be taken at once, not when the window is full. With a window of
// 1024 one-event pipelines and a backlog of 5,000 events, the engine used to send most events
// behind 1,023 unacknowledged others (measured: a median of 1024 in 5 of 5 runs; 3 to 64 after).
TEST_F(EngineTest, RepliesThatArrivedAreTakenBeforeTheWindowFills) {
  kafka_.create_topic(kTopic, 1);
  produce_updates(kafka_, 0, 5000);
  const std::string trace = ::testing::TempDir() + "engine-replies-trace.txt";
  std::remove(trace.c_str());
  ASSERT_EQ(setenv("CDC_CACHE_TRACE", trace.c_str(), 1), 0);
  auto engine = start_engine(customers_config(kafka_.bootstraps(), "g-replies", redis_.url(),
                                              R"([{"source":"public.customers","invalidate":["customer:{id}"]}],)"
                                              R"("batch":{"maxEvents":1,"maxWaitMs":0,"maxInFlight":1024})"));
  unsetenv("CDC_CACHE_TRACE");
  ASSERT_TRUE(engine);
  EXPECT_TRUE(wait_until([&] { return committed_in_stats(*engine, 0) == 5000; }, 60s)) << committed_in_stats(*engine, 0);
  stop_engine(engine);
  engine.reset();  // closes the trace

  std::vector<TracedEvent> events = traced_events(trace);
  ASSERT_EQ(events.size(), 5000u);
  // The median, not the peak: on a busy machine Redis may not run for a few milliseconds.
  EXPECT_LT(median_unacknowledged_at_send(events), 512u) << "events unacknowledged when an event was sent (median)";
  std::remove(trace.c_str());
}

}  // namespace
}  // namespace cdc
