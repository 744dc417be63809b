// The table reader and writer against librdkafka's mock cluster: the one broker goes down and
// comes back while the table is reading and while puts are in flight (the shared Kafka of the e2e
// suite must never be restarted). Nothing may be lost and nothing applied twice.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <functional>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "table/applier.h"
#include "table/store.h"
#include "table/table.h"
#include "mock_kafka.h"

namespace {

using namespace std::chrono_literals;

constexpr int kPartitions = 3;
constexpr int kBefore = 3000;  // records in the log before the table opens
constexpr int kPuts = 500;     // put while the broker is down

struct Applied {
  int32_t partition;
  int64_t offset;
  std::string key;
};

struct PutResult {
  bool ok = false;
  std::string error;
  int32_t partition = -1;
  int64_t offset = -1;
};

// What the table hands over, as its owner (the JS side) would see it.
struct Owner {
  std::mutex mutex;
  std::vector<Applied> applied;
  std::map<uint64_t, PutResult> puts;
  std::atomic<int> unacked{0};
  std::atomic<bool> opened{false};

  cdc::table::Callbacks callbacks() {
    cdc::table::Callbacks callbacks;
    callbacks.opened = [this](const cdc::Status& status, std::vector<cdc::table::PartitionEnd>) { opened = status.ok(); };
    callbacks.batch = [this](cdc::table::Batch&& batch) {
      std::lock_guard<std::mutex> lock(mutex);
      uint32_t start = 0;
      for (size_t i = 0; i < batch.size(); ++i) {
        applied.push_back({batch.partitions[i], batch.offsets[i], batch.keys.substr(start, batch.key_ends[i] - start)});
        start = batch.key_ends[i];
      }
      ++unacked;
    };
    callbacks.put_done = [this](uint64_t token, const cdc::Status& status, int32_t partition, int64_t offset) {
      std::lock_guard<std::mutex> lock(mutex);
      puts[token] = PutResult{status.ok(), status.message(), partition, offset};
    };
    return callbacks;
  }
  size_t applied_count() {
    std::lock_guard<std::mutex> lock(mutex);
    return applied.size();
  }
  size_t put_count() {
    std::lock_guard<std::mutex> lock(mutex);
    return puts.size();
  }
};

// Acknowledges every batch handed over (the owner applied it) until the condition holds.
bool serve_until(cdc::table::Table& table, Owner& owner, std::chrono::milliseconds timeout, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    while (owner.unacked > 0) {
      --owner.unacked;
      table.ack_batch();
    }
    if (done()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return done();
}

class MockCluster : public MockKafka {
 public:
  void produce(const std::string& topic, int count) {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::string errstr;
    conf->set("bootstrap.servers", bootstraps(), errstr);
    conf->set("log_level", "2", errstr);
    conf->set("batch.num.messages", "50", errstr);  // small message sets: many fetches to read them
    std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), errstr));
    ASSERT_TRUE(producer) << errstr;
    for (int i = 0; i < count; ++i) {
      std::string key = "before-" + std::to_string(i), value = "{\"i\":" + std::to_string(i) + "}";
      ASSERT_EQ(producer->produce(topic, i % kPartitions, RdKafka::Producer::RK_MSG_COPY, value.data(), value.size(),
                                  key.data(), key.size(), 0, nullptr),
                RdKafka::ERR_NO_ERROR);
    }
    ASSERT_EQ(producer->flush(20000), RdKafka::ERR_NO_ERROR);
  }

};

TEST(TableMockCluster, BrokerDownAndUpWhileReadingAndPuttingLosesNothingAndDuplicatesNothing) {
  MockCluster kafka;
  ASSERT_NE(kafka.cluster(), nullptr);
  const std::string topic = "table-restart";
  ASSERT_EQ(rd_kafka_mock_topic_create(kafka.cluster(), topic.c_str(), kPartitions, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  kafka.produce(topic, kBefore);

  cdc::table::Settings settings;
  settings.brokers = kafka.bootstraps();
  settings.topic = topic;
  settings.writable = true;
  settings.json_values = true;
  settings.report_changes = true;  // every record comes to the owner, as with a 'change' listener
  settings.batch_records = 100;  // many small batches, one at a time: the outage hits mid-read
  settings.max_batches_in_flight = 1;
  settings.prefetch_bytes = 2048;
  settings.properties = {{"log_level", "2"}};
  Owner owner;
  std::unique_ptr<cdc::table::Table> table;
  ASSERT_TRUE(cdc::table::Table::create(settings, owner.callbacks(), table).ok());
  ASSERT_TRUE(table->start().ok());

  // The first batch arrived and is not acknowledged: the table is mid-read (with fetching paused
  // on a tiny prefetch buffer, most of the log is still on the broker).
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (owner.applied_count() == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  ASSERT_GT(owner.applied_count(), 0u);
  ASSERT_LE(owner.applied_count(), settings.batch_records);  // one batch (or less: what had arrived) until acknowledged
  ASSERT_EQ(rd_kafka_mock_broker_set_down(kafka.cluster(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  for (int i = 0; i < kPuts; ++i) {
    std::string key = "put-" + std::to_string(i), value = "{\"p\":" + std::to_string(i) + "}";
    ASSERT_TRUE(table->put(static_cast<uint64_t>(i + 1), key, value, false).ok());
  }
  serve_until(*table, owner, 2s, [] { return false; });  // down for 2 s, still applying what was fetched
  EXPECT_EQ(owner.put_count(), 0u) << "a put was acknowledged while the only broker was down";
  ASSERT_EQ(rd_kafka_mock_broker_set_up(kafka.cluster(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);

  ASSERT_TRUE(serve_until(*table, owner, 90s, [&] {
    return owner.put_count() == static_cast<size_t>(kPuts) && owner.applied_count() >= static_cast<size_t>(kBefore + kPuts);
  })) << "applied " << owner.applied_count() << " of " << kBefore + kPuts << ", puts done " << owner.put_count();
  serve_until(*table, owner, 500ms, [] { return false; });  // anything applied twice would show up now
  table->stop();
  ASSERT_TRUE(table->join(30000));

  std::lock_guard<std::mutex> lock(owner.mutex);
  for (const auto& [token, put] : owner.puts) EXPECT_TRUE(put.ok) << "put " << token << ": " << put.error;
  std::map<std::string, int> seen;
  std::map<int32_t, int64_t> last_offset;
  for (const Applied& record : owner.applied) {
    ++seen[record.key];
    auto [it, first] = last_offset.try_emplace(record.partition, record.offset);
    if (!first) {
      EXPECT_GT(record.offset, it->second) << "partition " << record.partition << " went back";
      it->second = record.offset;
    }
  }
  EXPECT_EQ(owner.applied.size(), static_cast<size_t>(kBefore + kPuts));
  EXPECT_EQ(seen.size(), static_cast<size_t>(kBefore + kPuts));
  for (const auto& [key, count] : seen) EXPECT_EQ(count, 1) << key;
  for (int i = 0; i < kPuts; ++i) {
    const PutResult& put = owner.puts[static_cast<uint64_t>(i + 1)];
    bool found = false;
    for (const Applied& record : owner.applied)
      if (record.partition == put.partition && record.offset == put.offset) found = record.key == "put-" + std::to_string(i);
    EXPECT_TRUE(found) << "put-" << i << " not at the position its put reported";
  }
}

std::string stored(cdc::table::Store& store, const std::string& key) {
  std::string out = "<absent>";
  store.read(key, [&](std::string_view value) { out = std::string(value); });
  return out;
}

TEST(Store, UpsertReplaceRemoveAndGrowKeepEveryEntryAndItsBytes) {
  cdc::table::Store store;
  for (int i = 0; i < 5000; ++i) EXPECT_FALSE(store.upsert("k" + std::to_string(i), "v" + std::to_string(i)).existed);
  EXPECT_EQ(store.entries(), 5000u);
  std::string previous;
  EXPECT_TRUE(store.upsert("k10", "ten", &previous).existed);
  EXPECT_EQ(previous, "v10");
  for (int i = 0; i < 5000; i += 2) EXPECT_TRUE(store.remove("k" + std::to_string(i)).existed);
  EXPECT_FALSE(store.remove("k2").existed);  // already gone
  EXPECT_EQ(store.entries(), 2500u);
  uint64_t bytes = 0;
  for (int i = 1; i < 5000; i += 2) {
    std::string key = "k" + std::to_string(i), value = "v" + std::to_string(i);
    EXPECT_EQ(stored(store, key), value);  // still found after the removals moved entries and slots
    bytes += key.size() + value.size();
  }
  EXPECT_EQ(stored(store, "k10"), "<absent>");
  EXPECT_EQ(store.bytes(), bytes);
  store.clear();
  EXPECT_EQ(store.entries(), 0u);
  EXPECT_EQ(store.bytes(), 0u);
  EXPECT_FALSE(store.contains("k1"));
}

// The owner's copies: a write is reported as outdating one only for a key read since its last write.
TEST(Store, AWriteReportsAReadCopyOnceAndUnreadKeysNever) {
  cdc::table::Store store;
  store.upsert("a", "1");
  store.upsert("b", "1");
  EXPECT_FALSE(store.upsert("a", "2").read);  // nobody read it
  EXPECT_EQ(stored(store, "a"), "2");
  cdc::table::Store::Written written = store.upsert("a", "3");
  EXPECT_TRUE(written.existed && written.read);
  EXPECT_FALSE(store.upsert("a", "4").read);  // the owner dropped its copy; not read since
  EXPECT_EQ(stored(store, "a"), "4");
  EXPECT_TRUE(store.remove("a").read);
  EXPECT_FALSE(store.upsert("a", "5").read);  // a new entry
  EXPECT_FALSE(store.remove("b").read);
}

// One writer and one reader at once (what the table thread and the JS thread do): every read sees
// a whole value written for that key, and the final content is exact. Run under TSan in CI.
TEST(Store, AReaderBesideTheWriterSeesOnlyWholeValues) {
  cdc::table::Store store;
  constexpr int kKeys = 20000, kRounds = 5;
  std::atomic<bool> done{false};
  std::atomic<int> bad{0}, seen{0};
  std::thread reader([&] {
    for (int i = 0; !done; i = (i + 7919) % kKeys) {
      std::string key = "key-" + std::to_string(i);
      store.read(key, [&](std::string_view value) {
        ++seen;
        if (value.rfind(key + "@", 0) != 0) ++bad;
      });
    }
  });
  for (int round = 0; round < kRounds; ++round)
    for (int i = 0; i < kKeys; ++i) {
      std::string key = "key-" + std::to_string(i);
      if (round == 2 && i % 3 == 0) {
        store.remove(key);
      } else {
        store.upsert(key, key + "@" + std::to_string(round) + std::string(i % 50, 'x') + std::string(1024, 'p'));
      }
    }
  done = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(seen.load(), 0);
  EXPECT_EQ(store.entries(), static_cast<size_t>(kKeys));
  EXPECT_GT(store.compactions(), 0u);  // it ran while the reader read
  for (int i = 0; i < kKeys; i += 101)
    EXPECT_EQ(stored(store, "key-" + std::to_string(i)), "key-" + std::to_string(i) + "@4" + std::string(i % 50, 'x') + std::string(1024, 'p'));
}


TEST(Store, ARemoveThatHandsThePreviousValueOverStillCountsItsBytesOff) {
  cdc::table::Store store;
  store.upsert("key", std::string(30, 'v'));
  std::string previous;
  EXPECT_TRUE(store.remove("key", &previous).existed);
  EXPECT_EQ(previous, std::string(30, 'v'));
  EXPECT_EQ(store.bytes(), 0u);
  EXPECT_EQ(store.entries(), 0u);
}

// Rewrites leave garbage in the chunks; compaction copies the live records out and frees them.
TEST(Store, RewritesAreCompactedAwayAndEveryValueSurvives) {
  cdc::table::Store store;
  constexpr int kKeys = 2000, kRounds = 40;  // 2,000 x 1 KiB live, 80 MiB written
  for (int round = 0; round < kRounds; ++round)
    for (int i = 0; i < kKeys; ++i) store.upsert("k" + std::to_string(i), std::to_string(round) + std::string(1024, 'a' + i % 26));
  EXPECT_GT(store.compactions(), 0u);
  // ~2 MiB live, garbage up to kCompactAfterBytes before a compaction, in 4 MiB chunks (without
  // compaction: 20 of them)
  EXPECT_LE(store.chunks(), (cdc::table::Store::kCompactAfterBytes + (2u << 20)) / cdc::table::Store::kChunkBytes + 2);
  for (int i = 0; i < kKeys; ++i) ASSERT_EQ(stored(store, "k" + std::to_string(i)), std::to_string(kRounds - 1) + std::string(1024, 'a' + i % 26));
  EXPECT_EQ(store.entries(), static_cast<size_t>(kKeys));
  EXPECT_EQ(store.bytes(), static_cast<uint64_t>(kKeys) * 1026 + 2 * 10 + 3 * 90 + 4 * 900 + 5 * 1000);  // keys k0..k1999, values "39" + 1 KiB
  std::string big(6 << 20, 'b');  // bigger than a chunk: a chunk of its own
  store.upsert("big", big);
  EXPECT_EQ(stored(store, "big"), big);
}

// What Node's TextDecoder / napi_create_string_utf8 give for the same bytes (WHATWG decoding).
TEST(TableKeys, InvalidUtf8IsReplacedAsJsDecodesIt) {
  auto replaced = [](std::string_view text) {
    std::string out;
    cdc::table::replace_invalid_utf8(text, out);
    return out;
  };
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(replaced("plain"), "plain");
  EXPECT_EQ(replaced("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(replaced("\xFF"), fffd);
  EXPECT_EQ(replaced("a\xE2\x82"), "a" + fffd);                   // a cut 3-byte sequence: one replacement
  EXPECT_EQ(replaced("\xE2\x82z"), fffd + "z");
  EXPECT_EQ(replaced("\xED\xA0\x80"), fffd + fffd + fffd);        // a surrogate: each byte
  EXPECT_EQ(replaced("\xC0\xAF"), fffd + fffd);                    // overlong
  EXPECT_EQ(replaced("\xF0\x9F\x98"), fffd);                      // a cut 4-byte sequence
  EXPECT_EQ(replaced("\xF0\x9F\x98\x80!"), "\xF0\x9F\x98\x80!");
  EXPECT_EQ(replaced("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // beyond U+10FFFF
}

TEST(TableKeys, JsonKeysAreHeldAsJsonStringifyWritesThem) {
  simdjson::dom::parser parser;
  auto canonical = [&](const std::string& text) {
    std::string out;
    cdc::table::canonical_json(parser.parse(text).value(), out);
    return out;
  };
  EXPECT_EQ(canonical(R"({ "id" : 1.0, "region": "eu" })"), R"({"id":1,"region":"eu"})");
  EXPECT_EQ(canonical(R"([1e2, -0, 2.50, 0.1, 12345678901234567])"), R"([100,0,2.5,0.1,12345678901234567])");
  EXPECT_EQ(canonical(R"("\u00e9\/\n\u0001\"")"), "\"\xC3\xA9/\\n\\u0001\\\"\"");
  EXPECT_EQ(canonical(R"({"a":[true,false,null,{}],"b":[]})"), R"({"a":[true,false,null,{}],"b":[]})");
}

}  // namespace
