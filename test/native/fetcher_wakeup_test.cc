// The fetcher wake-up (kafka/fetcher_wakeup.h) against librdkafka's mock cluster: a broker that
// answers slowly must not make the consumer seek, since a seek throws the fetch in flight away
// (issue #14: on a busy machine every fetch was dropped for hundreds of milliseconds). And the
// consumer configuration must not let librdkafka's own queue thresholds stop its fetcher.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "kafka/client_config.h"
#include "kafka/prefetching_consumer.h"
#include "mock_kafka.h"

namespace {

using namespace std::chrono_literals;
using cdc::kafka::PrefetchingConsumer;

constexpr const char* kTopic = "slow-broker";
constexpr int kMessages = 600;
constexpr int kBrokerRttMs = 80;  // far above the 25 ms stall interval

class SlowBroker : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kafka_.create_topic(kTopic, 1));
    produce_backlog();
  }

  // Small message sets: the mock broker answers a fetch with one of them, so the partition's high
  // watermark stays ahead of what was fetched until the very end, as under load.
  void produce_backlog() {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::string errstr;
    conf->set("bootstrap.servers", kafka_.bootstraps(), errstr);
    conf->set("batch.num.messages", "20", errstr);
    conf->set("log_level", "2", errstr);
    std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), errstr));
    ASSERT_TRUE(producer) << errstr;
    const std::string value(200, 'x');
    for (int i = 0; i < kMessages; ++i)
      ASSERT_EQ(producer->produce(kTopic, 0, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value.data()),
                                  value.size(), nullptr, 0, 0, nullptr),
                RdKafka::ERR_NO_ERROR);
    ASSERT_EQ(producer->flush(20000), RdKafka::ERR_NO_ERROR);
  }

  MockKafka kafka_;
};

TEST_F(SlowBroker, SlowFetchesAreNotMistakenForAStoppedFetcher) {
  ASSERT_EQ(rd_kafka_mock_broker_set_rtt(kafka_.cluster(), 1, kBrokerRttMs), RD_KAFKA_RESP_ERR_NO_ERROR);
  std::atomic<bool> stop{false};
  PrefetchingConsumer consumer(32 << 20, stop, [](cdc::LogLevel, std::string) {});
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string errstr;
  conf->set("bootstrap.servers", kafka_.bootstraps(), errstr);
  conf->set("group.id", "slow-broker-test", errstr);
  conf->set("log_level", "2", errstr);
  conf->set("max.partition.fetch.bytes", "1", errstr);  // one message set per fetch
  ASSERT_TRUE(consumer.create(*conf).ok());
  std::vector<RdKafka::TopicPartition*> partitions{RdKafka::TopicPartition::create(kTopic, 0, 0)};
  consumer.assign(partitions, false);
  RdKafka::TopicPartition::destroy(partitions);

  // The engine's loop, reduced to fetching: take what arrived, check for a stall, again.
  int received = 0;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (received < kMessages && std::chrono::steady_clock::now() < deadline) {
    consumer.pull(5);
    while (!consumer.empty()) {
      consumer.take();
      ++received;
    }
    consumer.wake_if_stalled(std::chrono::steady_clock::now());
  }
  EXPECT_EQ(received, kMessages);
  // Every gap between two fetch responses is longer than the stall interval, with more to fetch:
  // before the fix each of them was "a stall", and each wake-up dropped the fetch in flight.
  EXPECT_EQ(consumer.stats().stall_wakes, 0u);
  consumer.handle().close();
  consumer.destroy(false);
}

// Tiny messages (a table of small values): librdkafka 2.0.2 stops fetching a partition once its
// queue holds queued.min.messages (100,000 by default) messages, and is not woken when the queue is
// emptied: on the real broker a 1M-record table load stood still for up to 700 ms several times
// ("not fetchable: queued.min.messages exceeded" in librdkafka's fetch log; issue #11). The
// prefetch buffer's byte limit is the flow control, so the message count must never stop fetching.
TEST(QueueThresholds, ManySmallMessagesDoNotStopTheFetcher) {
  char errstr[512];
  rd_kafka_conf_t* mock_conf = rd_kafka_conf_new();
  rd_kafka_conf_set(mock_conf, "log_level", "2", errstr, sizeof(errstr));
  rd_kafka_t* mock_handle = rd_kafka_new(RD_KAFKA_PRODUCER, mock_conf, errstr, sizeof(errstr));
  ASSERT_NE(mock_handle, nullptr) << errstr;
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(mock_handle, 1);
  ASSERT_NE(cluster, nullptr);
  constexpr const char* kSmallTopic = "small-messages";
  constexpr int kSmall = 250000;
  ASSERT_EQ(rd_kafka_mock_topic_create(cluster, kSmallTopic, 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::string error;
    conf->set("bootstrap.servers", rd_kafka_mock_cluster_bootstraps(cluster), error);
    conf->set("log_level", "2", error);
    std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
    ASSERT_TRUE(producer) << error;
    char value[8] = "v";
    for (int i = 0; i < kSmall; ++i) {
      while (producer->produce(kSmallTopic, 0, RdKafka::Producer::RK_MSG_COPY, value, sizeof(value), nullptr, 0, 0,
                               nullptr) == RdKafka::ERR__QUEUE_FULL)
        producer->poll(10);
    }
    ASSERT_EQ(producer->flush(60000), RdKafka::ERR_NO_ERROR);
  }

  cdc::KafkaSettings settings;  // the engine's and the tables' consumer configuration
  settings.brokers = rd_kafka_mock_cluster_bootstraps(cluster);
  settings.group_id = "queue-thresholds-test";
  settings.topics = {kSmallTopic};
  settings.properties = {{"log_level", "2"}};
  std::unique_ptr<RdKafka::Conf> conf;
  ASSERT_TRUE(cdc::kafka::make_consumer_conf(settings, {}, conf).ok());
  std::atomic<bool> stop{false};
  PrefetchingConsumer consumer(settings.prefetch_bytes, stop, [](cdc::LogLevel, std::string) {});
  ASSERT_TRUE(consumer.create(*conf).ok());
  std::vector<RdKafka::TopicPartition*> partitions{RdKafka::TopicPartition::create(kSmallTopic, 0, 0)};
  consumer.assign(partitions, false);
  RdKafka::TopicPartition::destroy(partitions);

  // Nothing is taken while librdkafka fetches (the consumer's thread held up, as by a slow Redis
  // or a busy event loop): its queue must grow to the whole backlog, not stop at 100,000.
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(consumer.handle().c_ptr());
  size_t queued = 0, before = 0;
  auto unchanged_since = std::chrono::steady_clock::now();
  const auto deadline = unchanged_since + 60s;
  while (queued < static_cast<size_t>(kSmall) && std::chrono::steady_clock::now() < deadline &&
         std::chrono::steady_clock::now() - unchanged_since < 3s) {
    std::this_thread::sleep_for(20ms);
    queued = rd_kafka_queue_length(queue);
    if (queued != before) unchanged_since = std::chrono::steady_clock::now();
    before = queued;
  }
  rd_kafka_queue_destroy(queue);
  EXPECT_GE(queued, static_cast<size_t>(kSmall)) << "librdkafka stopped fetching with " << queued << " messages queued";

  int received = 0;
  while (received < kSmall && std::chrono::steady_clock::now() < deadline) {
    consumer.pull(5);
    while (!consumer.empty()) {
      consumer.take();
      ++received;
    }
  }
  EXPECT_EQ(received, kSmall);
  consumer.handle().close();
  consumer.destroy(false);
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(mock_handle);
}

}  // namespace
