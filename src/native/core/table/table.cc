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

#include "kafka/client_config.h"
#include "kafka/prefetching_consumer.h"
#include "table/applier.h"

namespace cdc {
namespace table {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kPollMs = 100;
constexpr int kRoomWaitMs = 5;  // while the owner applies: how often librdkafka's queue is emptied meanwhile
constexpr int kProducerPollMs = 50;
constexpr int kFlushOnStopMs = 5000;
constexpr int kRequestTimeoutMs = 10000;
constexpr int kRetryMs = 1000;
constexpr int kDestroyWaitMs = 10000;  // librdkafka handle destruction, then they are left to the process

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
  kafka.prefetch_bytes = settings.prefetch_bytes;
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
  std::atomic<bool> stopping{false}, producer_stopping{false};
  std::unique_ptr<kafka::PrefetchingConsumer> consumer;
  std::unique_ptr<RdKafka::Producer> producer;
  std::unique_ptr<RdKafka::Topic> producer_topic;
  std::thread thread, producer_thread;
  bool handles_leaked = false;  // destroy_clients gave up: this Impl must outlive them

  std::mutex mutex;  // guards the three below
  std::condition_variable wake;
  int in_flight = 0;
  std::vector<uint64_t> end_requests;
  bool finished = false;
  std::condition_variable finished_cv;

  Store store;  // written by the table thread, read by the owner
  std::atomic<bool> report_changes{false};

  // Owned by the table thread.
  std::unique_ptr<Applier> applier;
  std::vector<int32_t> partitions;
  std::vector<PartitionPosition> positions;  // by partition id
  std::vector<int32_t> moved;

  void log(LogLevel level, std::string text) {
    if (callbacks.log) callbacks.log(level, std::move(text));
  }
  LogFn log_fn() {
    return [this](LogLevel level, std::string text) { log(level, std::move(text)); };
  }

  Status create_clients();
  void run();
  void close_clients();
  void destroy_clients();
  bool open(std::vector<PartitionEnd>& ends);
  Status fetch_partitions(std::vector<int32_t>& out);
  Status query_ends(const std::vector<int32_t>& ids, std::vector<PartitionEnd>& out);
  void assign(const std::vector<int32_t>& ids, const std::vector<PartitionEnd>& ends);
  void consume_loop();
  void apply_available(int timeout_ms);
  void on_message(const kafka::Message& message);
  void advance(int32_t partition, int64_t position);
  bool pending() const { return !applier->empty() || !moved.empty(); }
  bool has_room();
  void wait_for_room();
  void wait_for_stop();
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
  consumer = std::make_unique<kafka::PrefetchingConsumer>(settings.prefetch_bytes, stopping, log_fn());
  if (!(st = consumer->create(*conf)).ok()) return st;
  consumer->keep_partition_eof(true);
  report_changes = settings.report_changes;
  applier = std::make_unique<Applier>(settings, store, report_changes, log_fn());
  if (!settings.writable) return Status::Ok();
  std::string errstr;

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
  std::unique_ptr<RdKafka::Topic> topic(RdKafka::Topic::create(&consumer->handle(), settings.topic, nullptr, errstr));
  if (!topic) return Status::Error("kafka.topic: " + errstr);
  RdKafka::Metadata* raw = nullptr;
  RdKafka::ErrorCode err = consumer->handle().metadata(false, topic.get(), &raw, kRequestTimeoutMs);
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
    RdKafka::ErrorCode err = consumer->handle().query_watermark_offsets(settings.topic, id, &low, &high, kRequestTimeoutMs);
    if (err != RdKafka::ERR_NO_ERROR)
      return Status::Error("end offset of partition " + std::to_string(id) + ": " + RdKafka::err2str(err));
    out.push_back(PartitionEnd{id, low, high});
  }
  return Status::Ok();
}

// From the log start; the prefetching consumer reports an assign error in the log.
void Table::Impl::assign(const std::vector<int32_t>& ids, const std::vector<PartitionEnd>& ends) {
  kafka::TopicPartitions list;
  for (int32_t id : ids) list.push_back(RdKafka::TopicPartition::create(settings.topic, id, RdKafka::Topic::OFFSET_BEGINNING));
  consumer->assign(list, /*cooperative=*/true);
  RdKafka::TopicPartition::destroy(list);
  for (const PartitionEnd& end : ends) {
    if (positions.size() <= static_cast<size_t>(end.partition)) positions.resize(end.partition + 1);
    positions[end.partition] = PartitionPosition{end.partition, end.start, end.end};
  }
}

// Retries until it succeeds or the table is stopped: an outage at open is waited out.
bool Table::Impl::open(std::vector<PartitionEnd>& ends) {
  for (int attempt = 1; !stopping; ++attempt) {
    Status st = fetch_partitions(partitions);
    if (st.ok()) st = query_ends(partitions, ends);
    if (st.ok()) {
      assign(partitions, ends);
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
  if (consumer && consumer->created()) {
    consumer->drop_buffer();  // messages must go before their handle
    consumer->handle().close();
  }
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
    if (consumer) consumer->destroy(/*leak=*/false);
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
    // No consumer->wake_if_stalled(): its "high watermark beyond the last message" test holds at
    // a transaction marker, and its seeks would keep restarting the fetch that reports the EOF.
    // This loop empties librdkafka's queue at least every kRoomWaitMs, so its threshold is not hit.
    // Records are applied to the store while batches wait for the owner; only the batch (what the
    // owner must be told) is bounded, and fetching pauses when the prefetch buffer is full.
    bool room = has_room();
    if (!applier->full()) apply_available(room && !pending() ? kPollMs : 0);
    if (room && pending()) {
      hand_over();
    } else if (applier->failed()) {
      wait_for_stop();  // the owner closes a failed table
    } else if (!room) {
      wait_for_room();
    }
    consumer->update_pause();
  }
}

// Applies buffered messages, fetching more while there is some at once.
void Table::Impl::apply_available(int timeout_ms) {
  while (!applier->full() && !applier->failed() && !stopping) {
    if (consumer->empty() && !consumer->pull(timeout_ms)) break;
    kafka::Message message = consumer->take();
    if (!consumer->empty()) applier->prefetch(consumer->front());
    on_message(message);
    consumer->release(std::move(message));
    timeout_ms = 0;
  }
}

void Table::Impl::on_message(const kafka::Message& message) {
  // A partition-EOF event carries the end a fetch reached: how a position moves past markers.
  if (message.err() == RdKafka::ERR__PARTITION_EOF) {
    advance(message.partition(), message.offset());
    return;
  }
  applier->add(message);
  advance(message.partition(), message.offset() + 1);
}

void Table::Impl::advance(int32_t partition, int64_t position) {
  if (partition < 0 || static_cast<size_t>(partition) >= positions.size()) return;  // not assigned (never happens)
  PartitionPosition& entry = positions[partition];
  if (position <= entry.position) return;
  entry.position = position;
  if (std::find(moved.begin(), moved.end(), partition) == moved.end()) moved.push_back(partition);
}

bool Table::Impl::has_room() {
  std::lock_guard<std::mutex> lock(mutex);
  return in_flight < settings.max_batches_in_flight;
}

void Table::Impl::wait_for_room() {
  consumer->before_wait();
  std::unique_lock<std::mutex> lock(mutex);
  wake.wait_for(lock, std::chrono::milliseconds(kRoomWaitMs), [&] {
    return in_flight < settings.max_batches_in_flight || stopping || !end_requests.empty();
  });
}

void Table::Impl::wait_for_stop() {
  consumer->before_wait();
  std::unique_lock<std::mutex> lock(mutex);
  wake.wait_for(lock, std::chrono::milliseconds(kPollMs), [&] { return stopping || !end_requests.empty(); });
}

void Table::Impl::hand_over() {
  Batch out = applier->take();
  for (int32_t partition : moved) {
    PartitionPosition& entry = positions[partition];
    int64_t low = 0, high = 0;
    if (consumer->handle().get_watermark_offsets(settings.topic, partition, &low, &high) == RdKafka::ERR_NO_ERROR && high >= 0)
      entry.high_watermark = std::max(high, entry.position);
    out.positions.push_back(entry);
  }
  moved.clear();
  {
    std::lock_guard<std::mutex> lock(mutex);
    ++in_flight;
  }
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
  if (!st.ok()) {
    log(LogLevel::warn, "table " + settings.topic + ": new partitions not assigned yet: " + st.message());
    return;
  }
  assign(added, ends);
  partitions = now;
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
  Status st = impl->create_clients();
  if (!st.ok()) return st;
  out.reset(new Table(std::move(impl)));
  return Status::Ok();
}

namespace {
std::atomic<int64_t> tables_alive{0};
}  // namespace

int64_t Table::alive() { return tables_alive.load(); }

Table::Table(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) { ++tables_alive; }

Table::~Table() {
  --tables_alive;
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

Store& Table::store() { return impl_->store; }

void Table::report_changes(bool on) { impl_->report_changes = on; }

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
