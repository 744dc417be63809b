#include "kafka/app_producer.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "kafka/client_config.h"
#include "kafka/event_callback.h"

namespace cdc {
namespace kafka {
namespace {

constexpr int kPollMs = 100;          // the thread's wait; publish() and close() wake it at once
constexpr int kCloseFlushMs = 10000;  // close(): how long accepted messages may take to be acknowledged
constexpr int kPurgeWaitMs = 5000;

struct Request {
  uint64_t id = 0;
  std::vector<OutgoingMessage> messages;
};

// A request whose messages were produced, waiting for their delivery reports.
struct InFlight {
  std::vector<DeliveryResult> results;
  size_t remaining = 0;
};

// The delivery report's opaque: which message of which request.
struct Slot {
  uint64_t request = 0;
  size_t index = 0;
};

bool user_set(const ProducerSettings& settings, const std::string& name) {
  for (const auto& property : settings.properties)
    if (property.first == name) return true;
  return false;
}

}  // namespace

struct AppProducer::Shared : public RdKafka::DeliveryReportCb {
  Shared(const ProducerSettings& s, Done d, std::function<void()> c, LogFn l)
      : settings(s),
        done(std::move(d)),
        closed(std::move(c)),
        log(l ? std::move(l) : LogFn([](LogLevel, std::string) {})),
        events(log) {}

  const ProducerSettings settings;
  const Done done;
  const std::function<void()> closed;
  const LogFn log;
  EventCallback events;
  std::unique_ptr<RdKafka::Producer> producer;  // used by the thread only (once it runs)
  rd_kafka_queue_t* wake_queue = nullptr;  // the producer's main queue: yielding it ends a poll (under mutex)

  std::mutex mutex;
  std::deque<Request> queue;
  bool closing = false;
  std::atomic<size_t> queued{0};
  std::atomic<bool> finished{false};
  std::thread thread;

  // Thread only.
  std::unordered_map<uint64_t, InFlight> in_flight;

  void dr_cb(RdKafka::Message& message) override;
  void run();
  void produce(Request& request);
  void record(const Slot& slot, DeliveryResult result);
  void shutdown();
  void wake() {
    std::lock_guard<std::mutex> lock(mutex);
    if (wake_queue) rd_kafka_queue_yield(wake_queue);
  }
};

Status AppProducer::create(const ProducerSettings& settings, Done done, std::function<void()> closed, LogFn log,
                           std::unique_ptr<AppProducer>& out) {
  auto shared = std::make_shared<Shared>(settings, std::move(done), std::move(closed), std::move(log));
  KafkaSettings kafka;
  kafka.brokers = settings.brokers;
  kafka.properties = settings.properties;
  std::unique_ptr<RdKafka::Conf> conf;
  Status st = make_producer_conf(kafka, shared.get(), &shared->events, conf);  // acks=all, idempotence
  if (!st.ok()) return st;
  std::string errstr;
  // Keys land where KafkaJS and the Java client put them (murmur2), so producers can be mixed.
  std::vector<std::pair<std::string, std::string>> defaults = {
      {"client.id", "cdc-cache-producer"},
      {"partitioner", "murmur2_random"},
      {"queue.buffering.max.messages", std::to_string(std::max<size_t>(settings.max_queued, 1000))}};
  for (const auto& [name, value] : defaults) {
    if (user_set(settings, name) && name != "client.id") continue;
    if (conf->set(name, value, errstr) != RdKafka::Conf::CONF_OK) return Status::Error("kafka.config." + name + ": " + errstr);
  }
  shared->producer.reset(RdKafka::Producer::create(conf.get(), errstr));
  if (!shared->producer) return Status::Error("kafka: cannot create the producer: " + errstr);
  shared->wake_queue = rd_kafka_queue_get_main(shared->producer->c_ptr());
  shared->thread = std::thread([shared] { shared->run(); });
  out.reset(new AppProducer(shared));
  return Status::Ok();
}

AppProducer::~AppProducer() {
  close();
  if (!join(0) && shared_->thread.joinable()) shared_->thread.detach();  // it holds its own reference
}

Status AppProducer::publish(uint64_t request, std::vector<OutgoingMessage>&& messages) {
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    if (shared_->closing) return Status::Error("the producer is closed");
    const size_t waiting = shared_->queued.load();
    if (waiting + messages.size() > shared_->settings.max_queued)
      return Status::Error("publish queue full: " + std::to_string(waiting) +
                           " message(s) wait for Kafka's acknowledgement (at most " +
                           std::to_string(shared_->settings.max_queued) + "); retry once earlier publishes resolved");
    shared_->queued += messages.size();
    shared_->queue.push_back(Request{request, std::move(messages)});
  }
  shared_->wake();
  return Status::Ok();
}

void AppProducer::close() {
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->closing = true;
  }
  shared_->wake();
}

bool AppProducer::join(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!shared_->finished.load()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (shared_->thread.joinable()) shared_->thread.join();
  return true;
}

size_t AppProducer::queued() const { return shared_->queued.load(); }

void AppProducer::Shared::run() {
  for (;;) {
    std::deque<Request> taken;
    bool stop = false;
    {
      std::lock_guard<std::mutex> lock(mutex);
      taken.swap(queue);
      stop = closing;
    }
    for (Request& request : taken) produce(request);
    if (stop && taken.empty()) break;
    producer->poll(taken.empty() ? kPollMs : 0);
  }
  shutdown();
  finished.store(true);
  if (closed) closed();
}

void AppProducer::Shared::produce(Request& request) {
  InFlight& pending = in_flight[request.id];
  pending.results.resize(request.messages.size());
  pending.remaining = request.messages.size();
  if (pending.remaining == 0) return record(Slot{request.id, 0}, DeliveryResult{});
  for (size_t i = 0; i < request.messages.size(); ++i) {
    OutgoingMessage& message = request.messages[i];
    RdKafka::Headers* headers = RdKafka::Headers::create();
    for (const auto& [name, value] : message.headers) headers->add(name, value);
    auto* slot = new Slot{request.id, i};
    RdKafka::ErrorCode err;
    // librdkafka's own queue is sized above max_queued; a full one still only means "wait a little".
    while ((err = producer->produce(message.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                    message.has_value ? const_cast<char*>(message.value.data()) : nullptr,
                                    message.has_value ? message.value.size() : 0,
                                    message.has_key ? message.key.data() : nullptr,
                                    message.has_key ? message.key.size() : 0, 0, headers, slot)) ==
           RdKafka::ERR__QUEUE_FULL)
      producer->poll(10);
    if (err == RdKafka::ERR_NO_ERROR) continue;  // librdkafka owns the headers now
    delete headers;
    Slot failed = *slot;
    delete slot;
    record(failed, DeliveryResult{false, message.topic + ": " + RdKafka::err2str(err), -1, -1});
  }
}

void AppProducer::Shared::dr_cb(RdKafka::Message& message) {
  std::unique_ptr<Slot> slot(static_cast<Slot*>(message.msg_opaque()));
  if (!slot) return;
  DeliveryResult result;
  result.ok = message.err() == RdKafka::ERR_NO_ERROR;
  if (!result.ok) result.error = message.topic_name() + ": " + message.errstr();
  result.partition = message.partition();
  result.offset = message.offset();
  record(*slot, std::move(result));
}

void AppProducer::Shared::record(const Slot& slot, DeliveryResult result) {
  auto it = in_flight.find(slot.request);
  if (it == in_flight.end()) return;
  InFlight& pending = it->second;
  if (slot.index < pending.results.size()) pending.results[slot.index] = std::move(result);
  if (pending.remaining > 0 && --pending.remaining > 0) return;
  std::vector<DeliveryResult> results = std::move(pending.results);
  in_flight.erase(it);
  queued -= results.size();
  if (done) done(slot.request, std::move(results));
}

// Accepted messages get their chance (bounded flush); whatever is left is purged, and its
// delivery reports fail its requests. Every accepted request is answered before the thread ends.
void AppProducer::Shared::shutdown() {
  if (producer->flush(kCloseFlushMs) != RdKafka::ERR_NO_ERROR) {
    log(LogLevel::warn, "producer: messages not acknowledged at close; their publish() calls fail");
    producer->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kPurgeWaitMs);
    while (!in_flight.empty() && std::chrono::steady_clock::now() < deadline) producer->poll(10);
  }
  for (auto& [id, pending] : in_flight) {  // never expected: reports missing after a purge
    for (DeliveryResult& result : pending.results)
      if (!result.ok && result.error.empty()) result.error = "the producer closed before Kafka acknowledged";
    queued -= pending.results.size();
    if (done) done(id, std::move(pending.results));
  }
  in_flight.clear();
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (wake_queue) rd_kafka_queue_destroy(wake_queue);
    wake_queue = nullptr;
  }
  producer.reset();
}

}  // namespace kafka
}  // namespace cdc
