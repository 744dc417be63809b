// The fetcher wake-up (kafka/fetcher_wakeup.h) against librdkafka's mock cluster: a broker that
// answers slowly must not make the consumer seek, since a seek throws the fetch in flight away
// (issue #14: on a busy machine every fetch was dropped for hundreds of milliseconds).
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "kafka/prefetching_consumer.h"

namespace {

using namespace std::chrono_literals;
using cdc::kafka::PrefetchingConsumer;

constexpr const char* kTopic = "slow-broker";
constexpr int kMessages = 600;
constexpr int kBrokerRttMs = 80;  // far above the 25 ms stall interval

class SlowBroker : public ::testing::Test {
 protected:
  void SetUp() override {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "2", errstr, sizeof(errstr));
    handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    ASSERT_NE(handle_, nullptr) << errstr;
    cluster_ = rd_kafka_mock_cluster_new(handle_, 1);
    ASSERT_NE(cluster_, nullptr);
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, kTopic, 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    produce_backlog();
  }
  void TearDown() override {
    if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
    if (handle_) rd_kafka_destroy(handle_);
  }

  // Small message sets: the mock broker answers a fetch with one of them, so the partition's high
  // watermark stays ahead of what was fetched until the very end, as under load.
  void produce_backlog() {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::string errstr;
    conf->set("bootstrap.servers", rd_kafka_mock_cluster_bootstraps(cluster_), errstr);
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

  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

TEST_F(SlowBroker, SlowFetchesAreNotMistakenForAStoppedFetcher) {
  ASSERT_EQ(rd_kafka_mock_broker_set_rtt(cluster_, 1, kBrokerRttMs), RD_KAFKA_RESP_ERR_NO_ERROR);
  std::atomic<bool> stop{false};
  PrefetchingConsumer consumer(32 << 20, stop, [](cdc::LogLevel, std::string) {});
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string errstr;
  conf->set("bootstrap.servers", rd_kafka_mock_cluster_bootstraps(cluster_), errstr);
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

}  // namespace
