// LeaseClient against a real redis-server: the lease protocol (acquire, fill, release), what an
// invalidation or a refresh between acquire and fill does, NOSCRIPT fallback and Redis down.
#include "cache/lease_client.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <thread>
#include <mutex>

#include "redis_server.h"

namespace {

using cdc::ReadOp;
using cdc::ReadOutcome;
using cdc::ReadRequest;
using cdc::ReadResult;

class Reader {
 public:
  explicit Reader(const std::string& url, int reconnect_backoff_ms = 0) {
    cdc::LeaseClientOptions options;
    EXPECT_TRUE(cdc::parse_redis_url(url, options.endpoint).ok());
    options.redis.connect_timeout_ms = 1000;
    options.redis.command_timeout_ms = 1000;
    options.reconnect_backoff_ms = reconnect_backoff_ms;
    options.lease_ms = 5000;
    client_ = std::make_unique<cdc::LeaseClient>(
        options,
        [this](std::vector<ReadResult>&& results) {
          std::lock_guard<std::mutex> lock(mutex_);
          for (ReadResult& result : results) results_[result.id] = std::move(result);
          cv_.notify_all();
        },
        nullptr);
    client_->start();
  }

  ReadResult call(ReadOp op, const std::string& key, const std::string& token = "", const std::string& value = "",
                  int64_t ttl_ms = 0) {
    uint64_t id = ++next_id_;
    std::vector<ReadRequest> requests(1);
    requests[0] = ReadRequest{id, op, key, token, value, ttl_ms};
    EXPECT_TRUE(client_->submit(std::move(requests)));
    std::unique_lock<std::mutex> lock(mutex_);
    EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(10), [&] { return results_.count(id) > 0; }));
    ReadResult result = results_[id];
    results_.erase(id);
    return result;
  }

  cdc::LeaseClient& client() { return *client_; }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<uint64_t, ReadResult> results_;
  uint64_t next_id_ = 0;
  std::unique_ptr<cdc::LeaseClient> client_;
};

// A plain hiredis connection for the test's own writes (the engine's UNLINK, a refresh's SET).
class Direct {
 public:
  explicit Direct(int port) : context_(redisConnect("127.0.0.1", port)) {}
  ~Direct() { redisFree(context_); }
  std::string run(const std::vector<std::string>& argv) {
    std::vector<const char*> args;
    std::vector<size_t> lengths;
    for (const std::string& arg : argv) {
      args.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(context_, static_cast<int>(args.size()), args.data(), lengths.data()));
    std::string out = reply == nullptr ? "<io error>"
                      : reply->type == REDIS_REPLY_NIL ? "<nil>"
                      : reply->type == REDIS_REPLY_INTEGER ? std::to_string(reply->integer)
                                                           : std::string(reply->str, reply->len);
    freeReplyObject(reply);
    return out;
  }

 private:
  redisContext* context_;
};

class LeaseClientTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(redis_.running()) << redis_.error(); }
  cdc_test::RedisServer redis_;
};

TEST_F(LeaseClientTest, MissLeaseFillThenHit) {
  Reader reader(redis_.url());
  EXPECT_EQ(reader.call(ReadOp::get, "k").outcome, ReadOutcome::miss);
  ReadResult lease = reader.call(ReadOp::acquire, "k");
  ASSERT_EQ(lease.outcome, ReadOutcome::granted);
  EXPECT_EQ(lease.value.size(), 32u);
  EXPECT_EQ(reader.call(ReadOp::get, "k").outcome, ReadOutcome::leased);
  EXPECT_EQ(reader.call(ReadOp::acquire, "k").outcome, ReadOutcome::leased);  // one holder
  EXPECT_EQ(reader.call(ReadOp::fill, "k", lease.value, "{\"a\":1}", 60000).outcome, ReadOutcome::filled);
  ReadResult hit = reader.call(ReadOp::get, "k");
  EXPECT_EQ(hit.outcome, ReadOutcome::hit);
  EXPECT_EQ(hit.value, "{\"a\":1}");
  Direct direct(redis_.port());
  int64_t ttl = std::stoll(direct.run({"PTTL", "k"}));
  EXPECT_GT(ttl, 50000);
  EXPECT_EQ(reader.call(ReadOp::acquire, "k").outcome, ReadOutcome::hit);
}

// onMessage's Redis idempotency store: an id is recorded once (SET NX PX), with its expiry.
TEST_F(LeaseClientTest, RecordSetsOnceWithItsExpiry) {
  Reader reader(redis_.url());
  EXPECT_EQ(reader.call(ReadOp::record, "id:1", "", "1", 60000).outcome, ReadOutcome::filled);
  EXPECT_EQ(reader.call(ReadOp::record, "id:1", "", "1", 60000).outcome, ReadOutcome::refused);
  EXPECT_EQ(reader.call(ReadOp::get, "id:1").outcome, ReadOutcome::hit);
  Direct direct(redis_.port());
  int64_t ttl = std::stoll(direct.run({"PTTL", "id:1"}));
  EXPECT_GT(ttl, 50000);
  EXPECT_LE(ttl, 60000);
}

TEST_F(LeaseClientTest, InvalidationBetweenLeaseAndFillRefusesTheFill) {
  Reader reader(redis_.url());
  Direct direct(redis_.port());
  ReadResult lease = reader.call(ReadOp::acquire, "k");
  ASSERT_EQ(lease.outcome, ReadOutcome::granted);
  EXPECT_EQ(direct.run({"UNLINK", "k"}), "1");  // what the engine sends for a change
  EXPECT_EQ(reader.call(ReadOp::fill, "k", lease.value, "old", 0).outcome, ReadOutcome::refused);
  EXPECT_EQ(direct.run({"GET", "k"}), "<nil>");
}

TEST_F(LeaseClientTest, RefreshBetweenLeaseAndFillWins) {
  Reader reader(redis_.url());
  Direct direct(redis_.port());
  ReadResult lease = reader.call(ReadOp::acquire, "k");
  ASSERT_EQ(lease.outcome, ReadOutcome::granted);
  EXPECT_EQ(direct.run({"SET", "k", "refreshed"}), "OK");  // a refresh rule's write
  EXPECT_EQ(reader.call(ReadOp::fill, "k", lease.value, "old", 0).outcome, ReadOutcome::refused);
  EXPECT_EQ(direct.run({"GET", "k"}), "refreshed");
}

TEST_F(LeaseClientTest, AStaleTokenNeitherFillsNorReleases) {
  Reader reader(redis_.url());
  Direct direct(redis_.port());
  ReadResult first = reader.call(ReadOp::acquire, "k");
  ASSERT_EQ(first.outcome, ReadOutcome::granted);
  direct.run({"DEL", "k"});
  ReadResult second = reader.call(ReadOp::acquire, "k");
  ASSERT_EQ(second.outcome, ReadOutcome::granted);
  EXPECT_NE(first.value, second.value);
  EXPECT_EQ(reader.call(ReadOp::release, "k", first.value).outcome, ReadOutcome::refused);
  EXPECT_EQ(reader.call(ReadOp::fill, "k", first.value, "v1", 0).outcome, ReadOutcome::refused);
  EXPECT_EQ(reader.call(ReadOp::release, "k", second.value).outcome, ReadOutcome::released);
  EXPECT_EQ(direct.run({"EXISTS", "k"}), "0");
}

TEST_F(LeaseClientTest, NoscriptFallsBackToEval) {
  Reader reader(redis_.url());
  Direct direct(redis_.port());
  EXPECT_EQ(reader.call(ReadOp::get, "warm").outcome, ReadOutcome::miss);  // connected, scripts loaded
  EXPECT_EQ(direct.run({"SCRIPT", "FLUSH"}), "OK");
  ReadResult lease = reader.call(ReadOp::acquire, "k");
  EXPECT_EQ(lease.outcome, ReadOutcome::granted);
  EXPECT_EQ(reader.client().stats().noscript, 1u);
  EXPECT_EQ(reader.call(ReadOp::fill, "k", lease.value, "v", 0).outcome, ReadOutcome::filled);
  EXPECT_EQ(reader.client().stats().noscript, 1u);  // loaded again after the fallback
}

TEST_F(LeaseClientTest, ErrorReplyAnswersOnlyItsRequest) {
  Reader reader(redis_.url());
  Direct direct(redis_.port());
  direct.run({"LPUSH", "list", "x"});
  ReadResult wrong = reader.call(ReadOp::get, "list");
  EXPECT_EQ(wrong.outcome, ReadOutcome::error);
  EXPECT_NE(wrong.value.find("WRONGTYPE"), std::string::npos) << wrong.value;
  EXPECT_EQ(reader.call(ReadOp::get, "k").outcome, ReadOutcome::miss);
}

TEST_F(LeaseClientTest, RedisDownIsAnErrorThenRecovers) {
  Reader reader(redis_.url());
  EXPECT_EQ(reader.call(ReadOp::get, "k").outcome, ReadOutcome::miss);
  ASSERT_TRUE(redis_.kill());
  ReadResult down = reader.call(ReadOp::get, "k");
  EXPECT_EQ(down.outcome, ReadOutcome::error);
  EXPECT_FALSE(down.value.empty());
  ASSERT_TRUE(redis_.restart());
  ReadResult back = reader.call(ReadOp::get, "k");
  if (back.outcome == ReadOutcome::error) back = reader.call(ReadOp::get, "k");  // first may meet the dead socket
  EXPECT_EQ(back.outcome, ReadOutcome::miss) << back.value;
  EXPECT_GE(reader.client().stats().reconnects, 1u);
}

TEST_F(LeaseClientTest, ConcurrentSubmittersAreAllAnsweredInBatches) {
  cdc::LeaseClientOptions options;
  ASSERT_TRUE(cdc::parse_redis_url(redis_.url(), options.endpoint).ok());
  std::mutex mutex;
  std::condition_variable cv;
  size_t answered = 0, misses = 0;
  cdc::LeaseClient client(options, [&](std::vector<ReadResult>&& results) {
    std::lock_guard<std::mutex> lock(mutex);
    for (const ReadResult& result : results) misses += result.outcome == ReadOutcome::miss;
    answered += results.size();
    cv.notify_all();
  }, nullptr);
  client.start();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&client, t] {
      for (int i = 0; i < 250; ++i) {
        std::vector<ReadRequest> requests(4);
        for (int j = 0; j < 4; ++j) requests[j] = ReadRequest{uint64_t(t * 1000 + i * 4 + j + 1), ReadOp::get, "k"};
        while (!client.submit(std::move(requests))) std::this_thread::yield();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::unique_lock<std::mutex> lock(mutex);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return answered == 4000; }));
  EXPECT_EQ(misses, 4000u);
  EXPECT_LT(client.stats().round_trips, 4000u);  // pipelined: fewer round trips than requests
}

TEST_F(LeaseClientTest, CloseAnswersQueuedRequestsAndEnds) {
  bool closed = false;
  cdc::LeaseClientOptions options;
  ASSERT_TRUE(cdc::parse_redis_url(redis_.url(), options.endpoint).ok());
  size_t answered = 0;
  cdc::LeaseClient client(options, [&](std::vector<ReadResult>&& results) { answered += results.size(); },
                          [&] { closed = true; });
  client.start();
  std::vector<ReadRequest> requests(100);
  for (size_t i = 0; i < requests.size(); ++i) requests[i] = ReadRequest{i + 1, ReadOp::get, "k" + std::to_string(i)};
  ASSERT_TRUE(client.submit(std::move(requests)));
  client.close();
  ASSERT_TRUE(client.join(10000));
  EXPECT_TRUE(closed);
  EXPECT_EQ(answered, 100u);  // every request answered, by Redis or with "reader closed"
  EXPECT_FALSE(client.submit(std::vector<ReadRequest>(1)));
}

}  // namespace
