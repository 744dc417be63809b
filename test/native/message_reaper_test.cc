// Consumed messages given back through PrefetchingConsumer::release() are destroyed by the
// reaper's thread (kafka/message_reaper.h), not by the consumer's: librdkafka allocated them on its
// fetcher thread, and freeing them beside it made a table load sleep on glibc's arena lock (issue
// #11). Against librdkafka's mock cluster, with real messages. (Under ThreadSanitizer, reports
// with a librdkafka frame are suppressed (tsan.supp), so a message freed too early shows under
// AddressSanitizer, not there.)
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

#include "kafka/message_reaper.h"
#include "kafka/prefetching_consumer.h"
#include "mock_kafka.h"

namespace {

using namespace std::chrono_literals;
using cdc::kafka::Message;
using cdc::kafka::MessageReaper;
using cdc::kafka::PrefetchingConsumer;

constexpr const char* kTopic = "reaped";
constexpr int kMessages = 3000;

class Reaping : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kafka_.create_topic(kTopic, 1));
    std::unique_ptr<RdKafka::Conf> producer_conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::string error;
    producer_conf->set("bootstrap.servers", kafka_.bootstraps(), error);
    producer_conf->set("log_level", "2", error);
    std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(producer_conf.get(), error));
    ASSERT_TRUE(producer) << error;
    const std::string value(100, 'v');
    for (int i = 0; i < kMessages; ++i) {
      std::string key = "k" + std::to_string(i);
      ASSERT_EQ(producer->produce(kTopic, 0, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value.data()),
                                  value.size(), key.data(), key.size(), 0, nullptr),
                RdKafka::ERR_NO_ERROR);
    }
    ASSERT_EQ(producer->flush(20000), RdKafka::ERR_NO_ERROR);

    consumer_ = std::make_unique<PrefetchingConsumer>(32 << 20, stop_, [](cdc::LogLevel, std::string) {});
    std::unique_ptr<RdKafka::Conf> consumer_conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    consumer_conf->set("bootstrap.servers", kafka_.bootstraps(), error);
    consumer_conf->set("group.id", "reaper-test", error);
    consumer_conf->set("log_level", "2", error);
    ASSERT_TRUE(consumer_->create(*consumer_conf).ok());
    std::vector<RdKafka::TopicPartition*> partitions{RdKafka::TopicPartition::create(kTopic, 0, 0)};
    consumer_->assign(partitions, false);
    RdKafka::TopicPartition::destroy(partitions);
  }
  void TearDown() override {
    if (consumer_) {
      consumer_->drop_buffer();
      consumer_->handle().close();
      consumer_->destroy(false);
    }
  }

  // The next `count` messages, in order.
  std::vector<Message> take(int count) {
    std::vector<Message> out;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (static_cast<int>(out.size()) < count && std::chrono::steady_clock::now() < deadline) {
      if (consumer_->empty()) consumer_->pull(100);
      while (!consumer_->empty() && static_cast<int>(out.size()) < count) out.push_back(consumer_->take());
    }
    return out;
  }

  MockKafka kafka_;
  std::atomic<bool> stop_{false};
  std::unique_ptr<PrefetchingConsumer> consumer_;
};

TEST_F(Reaping, ReleasedMessagesAreDestroyedByTheReaperAndDropBufferWaitsForThem) {
  std::vector<Message> messages = take(kMessages);
  ASSERT_EQ(messages.size(), static_cast<size_t>(kMessages));
  EXPECT_EQ(messages.front().offset(), 0);
  EXPECT_EQ(messages.back().offset(), kMessages - 1);
  EXPECT_EQ(std::string(static_cast<const char*>(messages[7].key_pointer()), messages[7].key_len()), "k7");
  for (Message& message : messages) consumer_->release(std::move(message));
  consumer_->drop_buffer();  // waits until every released message is destroyed
  cdc::kafka::ReaperStats destroyed = consumer_->stats().destroyed;
  EXPECT_EQ(destroyed.reaped, static_cast<uint64_t>(kMessages));
  EXPECT_EQ(destroyed.by_caller, 0u);
}

// A released message keeps its fetch buffer alive: a consumer about to wait does not hold back what
// it collected. A few messages it destroys itself (no reaper wake-up for them); more go to the reaper.
TEST_F(Reaping, AConsumerAboutToWaitGivesUpWhatItCollected) {
  const size_t few = MessageReaper::kDestroyedBeforeWait - 1, more = MessageReaper::kDestroyedBeforeWait;
  std::vector<Message> messages = take(static_cast<int>(few + more));
  ASSERT_EQ(messages.size(), few + more);
  for (size_t i = 0; i < few; ++i) consumer_->release(std::move(messages[i]));
  EXPECT_EQ(consumer_->stats().destroyed.by_caller, 0u);  // fewer than a batch: still collected
  consumer_->pull(1);
  EXPECT_EQ(consumer_->stats().destroyed.by_caller, few);
  EXPECT_EQ(consumer_->stats().destroyed.reaped, 0u);

  for (size_t i = few; i < few + more; ++i) consumer_->release(std::move(messages[i]));
  consumer_->pull(1);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (consumer_->stats().destroyed.reaped < more && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(consumer_->stats().destroyed.reaped, more);
  EXPECT_EQ(consumer_->stats().destroyed.by_caller, few);
}

// Bounded: a batch that would take the reaper past max_pending messages or max_pending_bytes is
// destroyed by the caller, and so is everything released after stop(), at once.
TEST_F(Reaping, BeyondItsBoundsAndAfterStopTheCallerDestroysTheMessages) {
  std::vector<Message> messages = take(20);
  ASSERT_EQ(messages.size(), 20u);
  MessageReaper few(/*max_pending=*/3, /*max_pending_bytes=*/1 << 20, /*batch_messages=*/4);
  for (int i = 0; i < 8; ++i) few.release(std::move(messages[i]));
  EXPECT_EQ(few.stats().by_caller, 8u);
  EXPECT_EQ(few.stats().reaped, 0u);

  MessageReaper small(/*max_pending=*/100, /*max_pending_bytes=*/150, /*batch_messages=*/2);  // 2 x ~103 bytes > 150
  for (int i = 8; i < 12; ++i) small.release(std::move(messages[i]));
  EXPECT_EQ(small.stats().by_caller, 4u);
  EXPECT_EQ(small.stats().reaped, 0u);

  MessageReaper reaper(/*max_pending=*/100, /*max_pending_bytes=*/1 << 20, /*batch_messages=*/2);
  reaper.release(std::move(messages[12]));
  reaper.release(std::move(messages[13]));
  reaper.flush();
  EXPECT_EQ(reaper.stats().reaped, 2u);
  reaper.stop();
  reaper.release(std::move(messages[14]));  // not collected: destroyed now, no flush needed
  EXPECT_EQ(reaper.stats().by_caller, 1u);
  MessageReaper unused;
  unused.stop();
  for (int i = 15; i < 20; ++i) unused.release(std::move(messages[i]));
  EXPECT_EQ(unused.stats().by_caller, 5u);
  EXPECT_EQ(reaper.stats().reaped, 2u);
  for (const Message& message : messages) EXPECT_FALSE(message);  // all given up
}

}  // namespace
