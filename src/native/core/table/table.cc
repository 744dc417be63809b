#include "table/table.h"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <random>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "debezium/decoder.h"
#include "kafka/client_config.h"

namespace cdc {
namespace table {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kPollMs = 100;
constexpr int kProducerPollMs = 50;
constexpr int kFlushOnStopMs = 5000;
constexpr int kRequestTimeoutMs = 10000;
constexpr int kRetryMs = 1000;
constexpr int kDestroyWaitMs = 10000;  // librdkafka handle destruction, then they are left to the process
constexpr uint64_t kLoggedDecodeErrors = 10;  // then only counted

bool user_set(const Settings& settings, const std::string& name) {
  for (const auto& property : settings.properties)
    if (property.first == name) return true;
  return false;
}

std::string random_suffix() {
  std::random_device device;
  std::mt19937_64 generator(device());
  return std::to_string(generator());
}

Status set(RdKafka::Conf& conf, const std::string& name, const std::string& value) {
  std::string errstr;
  if (conf.set(name, value, errstr) != RdKafka::Conf::CONF_OK) return Status::Error("kafka.config." + name + ": " + errstr);
  return Status::Ok();
}

class EventForwarder : public RdKafka::EventCb {
 public:
  explicit EventForwarder(const Callbacks& callbacks) : callbacks_(callbacks) {}
  void event_cb(RdKafka::Event& event) override {
    if (!callbacks_.log) return;
    if (event.type() == RdKafka::Event::EVENT_ERROR) {
      callbacks_.log(LogLevel::warn, "kafka: " + RdKafka::err2str(event.err()) + ": " + event.str());
    } else if (event.type() == RdKafka::Event::EVENT_LOG && event.severity() <= RdKafka::Event::EVENT_SEVERITY_WARNING) {
      callbacks_.log(LogLevel::warn, "kafka: " + event.fac() + ": " + event.str());
    }
  }

 private:
  const Callbacks& callbacks_;
};

class DeliveryForwarder : public RdKafka::DeliveryReportCb {
 public:
  explicit DeliveryForwarder(const Callbacks& callbacks) : callbacks_(callbacks) {}
  void dr_cb(RdKafka::Message& message) override {
    auto token = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(message.msg_opaque()));
    Status status = message.err() == RdKafka::ERR_NO_ERROR ? Status::Ok() : Status::Error("put: " + message.errstr());
    if (callbacks_.put_done) callbacks_.put_done(token, status, message.partition(), message.offset());
  }

 private:
  const Callbacks& callbacks_;
};

KafkaSettings kafka_settings(const Settings& settings) {
  KafkaSettings kafka;
  kafka.brokers = settings.brokers;
  kafka.topics = {settings.topic};
  kafka.properties = settings.properties;
  // Never used to join or commit: librdkafka wants one for assign(); unique so no group is shared.
  kafka.group_id = "cdc-cache-table-" + random_suffix();
  return kafka;
}

}  // namespace

bool debezium_key_text(const RowImage& key, std::string& out) {
  out.clear();
  size_t count = key.fields.size();
  // The decoder adds an "_id" alias of a single-field key (MongoDB, tombstones): not a key column.
  if (count >= 2 && key.fields[count - 1].path == "_id" && key.fields[0].path != "_id" &&
      key.fields[count - 1].value == key.fields[0].value)
    --count;
  if (count == 0) return false;
  for (size_t i = 0; i < count; ++i) {
    const Field& field = key.fields[i];
    if (field.is_null || field.is_unavailable || field.type == FieldType::json) return false;
    if (i > 0) out.push_back(':');
    out += field.value;
  }
  return true;
}

struct Table::Impl {
  Settings settings;
  Callbacks callbacks;
  EventForwarder events{callbacks};
  DeliveryForwarder deliveries{callbacks};
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
  std::unique_ptr<RdKafka::Producer> producer;
  std::unique_ptr<RdKafka::Topic> producer_topic;
  std::thread thread, producer_thread;
  std::atomic<bool> stopping{false}, producer_stopping{false};
  bool handles_leaked = false;  // destroy_clients gave up: this Impl must outlive them

  std::mutex mutex;  // guards the three below
  std::condition_variable wake;
  int in_flight = 0;
  std::vector<uint64_t> end_requests;
  bool finished = false;
  std::condition_variable finished_cv;

  // Owned by the table thread.
  Decoder decoder;
  ChangeEvent event;
  std::vector<int32_t> partitions;
  std::unordered_map<int32_t, PartitionPosition> positions;
  std::vector<int32_t> moved;
  Batch batch;
  size_t batch_bytes = 0;
  uint64_t decode_errors_total = 0;
  // Size of every key held, by the key's 64-bit hash: byte accounting without a copy of the keys,
  // on this thread, so the owner's apply is one Map write per record.
  std::unordered_map<uint64_t, uint32_t> sizes;
  uint64_t total_bytes = 0;

  void log(LogLevel level, std::string text) {
    if (callbacks.log) callbacks.log(level, std::move(text));
  }

  Status create_clients();
  void run();
  void close_clients();
  void destroy_clients();
  bool open(std::vector<PartitionEnd>& ends);
  Status fetch_partitions(std::vector<int32_t>& out);
  Status query_ends(const std::vector<int32_t>& ids, std::vector<PartitionEnd>& out);
  Status assign(const std::vector<int32_t>& ids);
  void consume_loop();
  void on_message(const RdKafka::Message& message);
  void on_record(const RdKafka::Message& message);
  void on_debezium(const RdKafka::Message& message);
  void advance(int32_t partition, int64_t position);
  void account(Record& record);
  bool batch_full() const {
    return batch.records.size() >= settings.batch_records || batch_bytes >= settings.batch_bytes;
  }
  bool pending() const { return !batch.records.empty() || !moved.empty() || batch.decode_errors > 0; }
  bool wait_for_room();
  void hand_over();
  void serve_end_requests();
  void check_partitions();
};

Status Table::Impl::create_clients() {
  KafkaSettings kafka = kafka_settings(settings);
  std::unique_ptr<RdKafka::Conf> conf;
  kafka::ConsumerCallbacks consumer_callbacks;
  consumer_callbacks.event = &events;
  Status st = kafka::make_consumer_conf(kafka, consumer_callbacks, conf);
  if (!st.ok()) return st;
  // EOF events carry the end offset a fetch reached: how a position moves past markers.
  if (!(st = set(*conf, "enable.partition.eof", "true")).ok()) return st;
  if (!user_set(settings, "isolation.level") && !(st = set(*conf, "isolation.level", "read_committed")).ok()) return st;
  if (!user_set(settings, "client.id") && !(st = set(*conf, "client.id", "cdc-cache-table")).ok()) return st;
  std::string errstr;
  consumer.reset(RdKafka::KafkaConsumer::create(conf.get(), errstr));
  if (!consumer) return Status::Error("kafka: cannot create the table consumer: " + errstr);
  if (!settings.writable) return Status::Ok();

  std::unique_ptr<RdKafka::Conf> pconf;
  if (!(st = kafka::make_producer_conf(kafka, &deliveries, &events, pconf)).ok()) return st;
  if (!(st = set(*pconf, "client.id", "cdc-cache-table-writer")).ok()) return st;
  if (!(st = set(*pconf, "enable.idempotence", "true")).ok()) return st;
  // The Java client's partitioner: a key lands where Java producers of the same topic put it.
  if (!user_set(settings, "partitioner") && !(st = set(*pconf, "partitioner", "murmur2_random")).ok()) return st;
  producer.reset(RdKafka::Producer::create(pconf.get(), errstr));
  if (!producer) return Status::Error("kafka: cannot create the table producer: " + errstr);
  producer_topic.reset(RdKafka::Topic::create(producer.get(), settings.topic, nullptr, errstr));
  if (!producer_topic) return Status::Error("kafka.topic: " + errstr);
  return Status::Ok();
}

Status Table::Impl::fetch_partitions(std::vector<int32_t>& out) {
  std::string errstr;
  std::unique_ptr<RdKafka::Topic> topic(RdKafka::Topic::create(consumer.get(), settings.topic, nullptr, errstr));
  if (!topic) return Status::Error("kafka.topic: " + errstr);
  RdKafka::Metadata* raw = nullptr;
  RdKafka::ErrorCode err = consumer->metadata(false, topic.get(), &raw, kRequestTimeoutMs);
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  if (err != RdKafka::ERR_NO_ERROR) return Status::Error("metadata: " + RdKafka::err2str(err));
  out.clear();
  for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
    if (t->topic() != settings.topic) continue;
    if (t->err() != RdKafka::ERR_NO_ERROR)
      return Status::Error("topic \"" + settings.topic + "\": " + RdKafka::err2str(t->err()));
    for (const RdKafka::PartitionMetadata* p : *t->partitions()) out.push_back(p->id());
  }
  if (out.empty()) return Status::Error("topic \"" + settings.topic + "\" has no partitions");
  std::sort(out.begin(), out.end());
  return Status::Ok();
}

// With read_committed, librdkafka asks for the last stable offset: the end a position reaches.
Status Table::Impl::query_ends(const std::vector<int32_t>& ids, std::vector<PartitionEnd>& out) {
  out.clear();
  for (int32_t id : ids) {
    int64_t low = 0, high = 0;
    RdKafka::ErrorCode err = consumer->query_watermark_offsets(settings.topic, id, &low, &high, kRequestTimeoutMs);
    if (err != RdKafka::ERR_NO_ERROR)
      return Status::Error("end offset of partition " + std::to_string(id) + ": " + RdKafka::err2str(err));
    out.push_back(PartitionEnd{id, low, high});
  }
  return Status::Ok();
}

Status Table::Impl::assign(const std::vector<int32_t>& ids) {
  std::vector<RdKafka::TopicPartition*> list;
  for (int32_t id : ids) list.push_back(RdKafka::TopicPartition::create(settings.topic, id, RdKafka::Topic::OFFSET_BEGINNING));
  RdKafka::Error* error = consumer->incremental_assign(list);
  RdKafka::TopicPartition::destroy(list);
  if (error == nullptr) return Status::Ok();
  Status st = Status::Error("assign: " + error->str());
  delete error;
  return st;
}

// Retries until it succeeds or the table is stopped: an outage at open is waited out.
bool Table::Impl::open(std::vector<PartitionEnd>& ends) {
  for (int attempt = 1; !stopping; ++attempt) {
    Status st = fetch_partitions(partitions);
    if (st.ok()) st = query_ends(partitions, ends);
    if (st.ok()) st = assign(partitions);
    if (st.ok()) {
      for (const PartitionEnd& end : ends) positions[end.partition] = PartitionPosition{end.partition, end.start, end.end};
      return true;
    }
    if (attempt == 1 || attempt % 10 == 0)
      log(LogLevel::warn, "table " + settings.topic + ": cannot open yet (attempt " + std::to_string(attempt) + "): " + st.message());
    std::unique_lock<std::mutex> lock(mutex);
    wake.wait_for(lock, std::chrono::milliseconds(kRetryMs), [&] { return stopping.load(); });
  }
  return false;
}

void Table::Impl::run() {
  std::vector<PartitionEnd> ends;
  if (open(ends)) {
    if (callbacks.opened) callbacks.opened(Status::Ok(), ends);
    consume_loop();
  } else if (callbacks.opened) {
    callbacks.opened(Status::Error("table closed before it opened"), {});
  }
  close_clients();
  destroy_clients();
  {
    std::lock_guard<std::mutex> lock(mutex);
    finished = true;
  }
  finished_cv.notify_all();
  if (callbacks.closed) callbacks.closed();
}

void Table::Impl::close_clients() {
  if (consumer) consumer->close();
  if (producer) {
    producer_stopping = true;
    if (producer_thread.joinable()) producer_thread.join();
    if (producer->flush(kFlushOnStopMs) != RdKafka::ERR_NO_ERROR) {
      // Puts still queued fail with a delivery report rather than hanging.
      producer->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
      producer->poll(0);
    }
  }
}

// The handles are destroyed here, on the table thread, never by a finalizer on the JS thread.
// librdkafka 2.0.2 can wait forever destroying a consumer that has read aborted transactions (seen
// in the e2e suite: process exit hung in ~KafkaConsumerImpl): after kDestroyWaitMs they are left to
// the process, and so is this Impl, which their callbacks point into.
void Table::Impl::destroy_clients() {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> destroyed = done->get_future();
  std::thread([this, done] {
    producer_topic.reset();
    producer.reset();
    consumer.reset();
    done->set_value();
  }).detach();
  if (destroyed.wait_for(std::chrono::milliseconds(kDestroyWaitMs)) == std::future_status::ready) return;
  handles_leaked = true;
  log(LogLevel::warn, "kafka: the table's clients did not shut down within " + std::to_string(kDestroyWaitMs / 1000) +
                          " s; their handles are left to the process");
}

void Table::Impl::consume_loop() {
  auto next_metadata = Clock::now() + std::chrono::milliseconds(settings.metadata_interval_ms);
  while (!stopping) {
    serve_end_requests();
    if (Clock::now() >= next_metadata) {
      check_partitions();
      next_metadata = Clock::now() + std::chrono::milliseconds(settings.metadata_interval_ms);
    }
    if (batch_full()) {
      if (wait_for_room()) hand_over();
      continue;
    }
    std::unique_ptr<RdKafka::Message> message(consumer->consume(pending() ? 0 : kPollMs));
    RdKafka::ErrorCode err = message->err();
    if (err == RdKafka::ERR_NO_ERROR) {
      on_message(*message);
      continue;
    }
    if (err == RdKafka::ERR__PARTITION_EOF) {
      advance(message->partition(), message->offset());
    } else if (err != RdKafka::ERR__TIMED_OUT) {
      log(LogLevel::warn, "table " + settings.topic + ": consume: " + message->errstr());
    }
    // Nothing more right now (or the end was reached): hand over what there is without waiting.
    if (pending() && wait_for_room()) hand_over();
  }
}

void Table::Impl::on_message(const RdKafka::Message& message) {
  if (settings.debezium) {
    on_debezium(message);
  } else {
    on_record(message);
  }
  advance(message.partition(), message.offset() + 1);
}

void Table::Impl::on_record(const RdKafka::Message& message) {
  Record record;
  record.partition = message.partition();
  record.offset = message.offset();
  if (message.key_pointer() != nullptr)
    record.key.assign(static_cast<const char*>(message.key_pointer()), message.key_len());
  if (message.payload() == nullptr) {
    record.kind = RecordKind::remove;
  } else {
    record.value.assign(static_cast<const char*>(message.payload()), message.len());
  }
  account(record);
  batch_bytes += record.key.size() + record.value.size() + sizeof(Record);
  batch.records.push_back(std::move(record));
}

void Table::Impl::account(Record& record) {
  if (record.kind == RecordKind::clear) {
    sizes.clear();
    total_bytes = 0;
  } else {
    uint64_t hash = std::hash<std::string_view>{}(record.key);
    if (record.kind == RecordKind::remove) {
      auto it = sizes.find(hash);
      if (it != sizes.end()) {
        total_bytes -= it->second;
        sizes.erase(it);
      }
    } else {
      auto size = static_cast<uint32_t>(record.key.size() + record.value.size());
      auto [it, inserted] = sizes.try_emplace(hash, size);
      if (!inserted) {
        total_bytes -= it->second;
        it->second = size;
      }
      total_bytes += size;
    }
  }
  record.total_bytes = total_bytes;
}

void Table::Impl::on_debezium(const RdKafka::Message& message) {
  std::string_view value(static_cast<const char*>(message.payload()), message.payload() ? message.len() : 0);
  std::string_view key(static_cast<const char*>(message.key_pointer()), message.key_pointer() ? message.key_len() : 0);
  Status st = decoder.decode(value, message.payload() == nullptr, key, event);
  Record record;
  record.partition = message.partition();
  record.offset = message.offset();
  if (st.ok() && event.kind == EventKind::change && event.op == Op::truncate) {
    record.kind = RecordKind::clear;
  } else if (st.ok() && (event.kind == EventKind::tombstone ||
                         (event.kind == EventKind::change && event.op != Op::message))) {
    if (!debezium_key_text(event.key, record.key)) st = Status::Error("key: no primary key field usable as text");
    if (event.kind == EventKind::tombstone || event.op == Op::remove || !event.after.present) {
      record.kind = RecordKind::remove;
    } else {
      record.value = std::move(event.after.json);
    }
  } else if (st.ok()) {
    return;  // heartbeats, transaction metadata, schema changes, logical messages: not rows
  }
  if (!st.ok()) {
    ++batch.decode_errors;
    if (++decode_errors_total <= kLoggedDecodeErrors)
      log(LogLevel::warn, "table " + settings.topic + ": skipped partition " + std::to_string(record.partition) +
                              " offset " + std::to_string(record.offset) + ": " + st.message());
    return;
  }
  account(record);
  batch_bytes += record.key.size() + record.value.size() + sizeof(Record);
  batch.records.push_back(std::move(record));
}

void Table::Impl::advance(int32_t partition, int64_t position) {
  PartitionPosition& entry = positions[partition];
  entry.partition = partition;
  if (position <= entry.position) return;
  entry.position = position;
  if (std::find(moved.begin(), moved.end(), partition) == moved.end()) moved.push_back(partition);
}

bool Table::Impl::wait_for_room() {
  std::unique_lock<std::mutex> lock(mutex);
  wake.wait_for(lock, std::chrono::milliseconds(kPollMs), [&] {
    return in_flight < settings.max_batches_in_flight || stopping || !end_requests.empty();
  });
  return in_flight < settings.max_batches_in_flight && !stopping;
}

void Table::Impl::hand_over() {
  for (int32_t partition : moved) {
    PartitionPosition& entry = positions[partition];
    int64_t low = 0, high = 0;
    if (consumer->get_watermark_offsets(settings.topic, partition, &low, &high) == RdKafka::ERR_NO_ERROR && high >= 0)
      entry.high_watermark = std::max(high, entry.position);
    batch.positions.push_back(entry);
  }
  moved.clear();
  {
    std::lock_guard<std::mutex> lock(mutex);
    ++in_flight;
  }
  Batch out = std::move(batch);
  batch = Batch{};
  batch.records.reserve(settings.batch_records);
  batch_bytes = 0;
  if (callbacks.batch) callbacks.batch(std::move(out));
}

void Table::Impl::serve_end_requests() {
  std::vector<uint64_t> tokens;
  {
    std::lock_guard<std::mutex> lock(mutex);
    tokens.swap(end_requests);
  }
  if (tokens.empty()) return;
  std::vector<PartitionEnd> ends;
  Status st = query_ends(partitions, ends);
  for (uint64_t token : tokens)
    if (callbacks.ends) callbacks.ends(token, st, ends);
}

// A topic can only gain partitions; the new ones are read from their beginning.
void Table::Impl::check_partitions() {
  std::vector<int32_t> now;
  if (!fetch_partitions(now).ok()) return;  // an outage: the next check tries again
  std::vector<int32_t> added;
  for (int32_t id : now)
    if (!std::binary_search(partitions.begin(), partitions.end(), id)) added.push_back(id);
  if (added.empty()) return;
  std::vector<PartitionEnd> ends;
  Status st = query_ends(added, ends);
  if (st.ok()) st = assign(added);
  if (!st.ok()) {
    log(LogLevel::warn, "table " + settings.topic + ": new partitions not assigned yet: " + st.message());
    return;
  }
  partitions = now;
  for (const PartitionEnd& end : ends) positions[end.partition] = PartitionPosition{end.partition, end.start, end.end};
  log(LogLevel::warn, "table " + settings.topic + ": repartitioned to " + std::to_string(now.size()) +
                          " partitions; keys written before may now live in two partitions");
  if (callbacks.partitions_added) callbacks.partitions_added(std::move(ends));
}

Status Table::create(Settings settings, Callbacks callbacks, std::unique_ptr<Table>& out) {
  if (settings.brokers.empty()) return Status::Error("kafka.brokers: expected a non-empty string");
  if (settings.topic.empty()) return Status::Error("kafka.topic: expected a non-empty string");
  auto impl = std::make_unique<Impl>();
  impl->settings = std::move(settings);
  impl->callbacks = std::move(callbacks);
  impl->batch.records.reserve(impl->settings.batch_records);
  Status st = impl->create_clients();
  if (!st.ok()) return st;
  out.reset(new Table(std::move(impl)));
  return Status::Ok();
}

Table::Table(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Table::~Table() {
  stop();
  bool finished = join(kFlushOnStopMs + kDestroyWaitMs + 1000);
  if (!finished) impl_->thread.detach();  // never reached in practice: the owner joins before dropping the table
  if (!finished || impl_->handles_leaked) impl_.release();  // still in use by that thread or those handles
}

Status Table::start() {
  if (impl_->thread.joinable()) return Status::Error("table already started");
  Impl* impl = impl_.get();
  if (impl->producer) {
    impl->producer_thread = std::thread([impl] {
      while (!impl->producer_stopping) impl->producer->poll(kProducerPollMs);
    });
  }
  impl->thread = std::thread([impl] { impl->run(); });
  return Status::Ok();
}

void Table::ack_batch() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (impl_->in_flight > 0) --impl_->in_flight;
  }
  impl_->wake.notify_all();
}

Status Table::put(uint64_t token, std::string key, std::string value, bool value_is_null) {
  if (!impl_->producer) return Status::Error("put: the table is read-only");
  if (impl_->stopping) return Status::Error("put: the table is closing");
  RdKafka::ErrorCode err = impl_->producer->produce(
      impl_->producer_topic.get(), RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
      value_is_null ? nullptr : value.data(), value_is_null ? 0 : value.size(), &key, reinterpret_cast<void*>(static_cast<uintptr_t>(token)));
  if (err != RdKafka::ERR_NO_ERROR) return Status::Error("put: " + RdKafka::err2str(err));
  return Status::Ok();
}

void Table::request_ends(uint64_t token) {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->end_requests.push_back(token);
  }
  impl_->wake.notify_all();
}

void Table::stop() {
  impl_->stopping = true;
  impl_->wake.notify_all();
}

bool Table::join(int timeout_ms) {
  if (!impl_->thread.joinable()) return true;
  {
    std::unique_lock<std::mutex> lock(impl_->mutex);
    if (!impl_->finished_cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return impl_->finished; }))
      return false;
  }
  impl_->thread.join();
  return true;
}

}  // namespace table
}  // namespace cdc
