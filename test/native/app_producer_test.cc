// kafka/AppProducer (publish()) against librdkafka's mock cluster: fault injection that the shared
// real broker must never see (a broker going down mid-publish, produce requests failing).
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kafka/app_producer.h"
#include "mock_kafka.h"

namespace cdc::kafka {
namespace {

using namespace std::chrono_literals;

constexpr int16_t kProduceApi = 0;  // RD_KAFKAP_Produce

class MockCluster : public MockKafka {
 public:
  // Every value of partition 0, in log order.
  std::vector<std::string> read_all(const std::string& topic, size_t expected) {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::string errstr;
    conf->set("bootstrap.servers", bootstraps(), errstr);
    conf->set("group.id", "reader", errstr);
    conf->set("log_level", "2", errstr);
    std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), errstr));
    std::vector<RdKafka::TopicPartition*> assignment{RdKafka::TopicPartition::create(topic, 0, 0)};
    consumer->assign(assignment);
    RdKafka::TopicPartition::destroy(assignment);
    std::vector<std::string> values;
    auto take = [&](int timeout_ms) {
      std::unique_ptr<RdKafka::Message> message(consumer->consume(timeout_ms));
      if (message->err() == RdKafka::ERR_NO_ERROR)
        values.emplace_back(static_cast<const char*>(message->payload()), message->len());
    };
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (values.size() < expected && std::chrono::steady_clock::now() < deadline) take(100);
    for (int i = 0; i < 5; ++i) take(100);  // a duplicate would show up as extra messages
    consumer->close();
    return values;
  }

};

// Collects the producer's answers.
struct Answers {
  std::mutex mutex;
  std::condition_variable changed;
  std::map<uint64_t, std::vector<DeliveryResult>> by_request;
  bool closed = false;

  AppProducer::Done done() {
    return [this](uint64_t request, std::vector<DeliveryResult>&& results) {
      std::lock_guard<std::mutex> lock(mutex);
      by_request[request] = std::move(results);
      changed.notify_all();
    };
  }
  std::function<void()> on_closed() {
    return [this] {
      std::lock_guard<std::mutex> lock(mutex);
      closed = true;
      changed.notify_all();
    };
  }
  bool wait_for(size_t requests, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex);
    return changed.wait_for(lock, timeout, [&] { return by_request.size() >= requests; });
  }
};

OutgoingMessage message(const std::string& topic, int sequence) {
  OutgoingMessage out;
  out.topic = topic;
  out.has_key = true;
  out.key = "k";
  out.has_value = true;
  out.value = std::to_string(sequence);
  out.headers.emplace_back("cdc-cache-message-id", "m-" + std::to_string(sequence));
  return out;
}

ProducerSettings settings_for(const MockCluster& mock, size_t max_queued = 100000) {
  ProducerSettings settings;
  settings.brokers = mock.bootstraps();
  settings.properties = {{"log_level", "2"}, {"retry.backoff.ms", "20"}};
  settings.max_queued = max_queued;
  return settings;
}

TEST(AppProducer, RetriesThroughFailuresWithoutDuplicatesOrGaps) {
  MockCluster mock;
  ASSERT_EQ(rd_kafka_mock_topic_create(mock.cluster(), "app", 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  Answers answers;
  std::unique_ptr<AppProducer> producer;
  ASSERT_TRUE(AppProducer::create(settings_for(mock), answers.done(), answers.on_closed(), nullptr, producer).ok());

  // Produce requests fail retriably, and the broker goes away mid-publish: the idempotent
  // producer retries with the same sequence numbers.
  rd_kafka_mock_push_request_errors(mock.cluster(), kProduceApi, 4, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
  constexpr int kRequests = 100, kPerRequest = 10;
  int sequence = 0;
  for (int r = 1; r <= kRequests; ++r) {
    std::vector<OutgoingMessage> batch;
    for (int i = 0; i < kPerRequest; ++i) batch.push_back(message("app", sequence++));
    ASSERT_TRUE(producer->publish(static_cast<uint64_t>(r), std::move(batch)).ok());
    if (r == kRequests / 2) rd_kafka_mock_broker_set_down(mock.cluster(), 1);
    if (r == kRequests / 2 + 10) rd_kafka_mock_broker_set_up(mock.cluster(), 1);
  }
  ASSERT_TRUE(answers.wait_for(kRequests, 60s));

  // Every message acknowledged, each at the offset of its sequence number: nothing twice, no gap.
  for (int r = 1; r <= kRequests; ++r) {
    const std::vector<DeliveryResult>& results = answers.by_request[static_cast<uint64_t>(r)];
    ASSERT_EQ(results.size(), static_cast<size_t>(kPerRequest));
    for (int i = 0; i < kPerRequest; ++i) {
      EXPECT_TRUE(results[i].ok) << results[i].error;
      EXPECT_EQ(results[i].offset, (r - 1) * kPerRequest + i);
    }
  }
  std::vector<std::string> values = mock.read_all("app", kRequests * kPerRequest);
  ASSERT_EQ(values.size(), static_cast<size_t>(kRequests * kPerRequest));
  for (size_t i = 0; i < values.size(); ++i) ASSERT_EQ(values[i], std::to_string(i));
  producer->close();
  EXPECT_TRUE(producer->join(15000));
  EXPECT_TRUE(answers.closed);
}

TEST(AppProducer, RefusesWhatWouldOverflowItsQueue) {
  MockCluster mock;
  ASSERT_EQ(rd_kafka_mock_topic_create(mock.cluster(), "app", 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_mock_broker_set_down(mock.cluster(), 1);  // nothing is acknowledged meanwhile
  Answers answers;
  std::unique_ptr<AppProducer> producer;
  ASSERT_TRUE(AppProducer::create(settings_for(mock, 10), answers.done(), answers.on_closed(), nullptr, producer).ok());
  std::vector<OutgoingMessage> first;
  for (int i = 0; i < 10; ++i) first.push_back(message("app", i));
  ASSERT_TRUE(producer->publish(1, std::move(first)).ok());
  std::vector<OutgoingMessage> one;
  one.push_back(message("app", 10));
  Status refused = producer->publish(2, std::move(one));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("publish queue full"), std::string::npos) << refused.message();
  EXPECT_EQ(producer->queued(), 10u);

  rd_kafka_mock_broker_set_up(mock.cluster(), 1);
  ASSERT_TRUE(answers.wait_for(1, 30s));
  for (const DeliveryResult& result : answers.by_request[1]) EXPECT_TRUE(result.ok) << result.error;
  EXPECT_EQ(producer->queued(), 0u);
  EXPECT_EQ(answers.by_request.count(2), 0u);  // refused: never answered
  producer->close();
  EXPECT_TRUE(producer->join(15000));
  EXPECT_FALSE(producer->publish(3, {}).ok());  // closed
}

TEST(AppProducer, RejectsBadPropertiesByName) {
  Answers answers;
  std::unique_ptr<AppProducer> producer;
  ProducerSettings settings;
  settings.brokers = "127.0.0.1:1";
  settings.properties = {{"no.such.property", "1"}};
  Status st = AppProducer::create(settings, answers.done(), answers.on_closed(), nullptr, producer);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("kafka.config.no.such.property"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace cdc::kafka
