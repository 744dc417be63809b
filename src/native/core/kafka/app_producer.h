// The application producer behind publish(): one thread owns an idempotent librdkafka producer
// (acks=all, enable.idempotence=true: its retries never duplicate or reorder). Requests from any
// thread wait in a bounded queue; each request is answered once, with one result per message,
// when Kafka acknowledged (or refused) all of its messages. Knows nothing of the engine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/log.h"
#include "common/status.h"

namespace cdc {
namespace kafka {

struct OutgoingMessage {
  std::string topic;
  bool has_key = false;
  std::string key;
  bool has_value = false;  // false: a null value (a tombstone)
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct DeliveryResult {
  bool ok = false;
  std::string error;  // when !ok
  int32_t partition = -1;
  int64_t offset = -1;
};

struct ProducerSettings {
  std::string brokers;
  std::vector<std::pair<std::string, std::string>> properties;  // the user's librdkafka properties
  size_t max_queued = 100000;  // messages accepted and not yet acknowledged
};

class AppProducer {
 public:
  // On the producer thread: one call per request, results in the request's order.
  using Done = std::function<void(uint64_t request, std::vector<DeliveryResult>&& results)>;

  // Validates the properties (errors name them); the thread starts at once. `closed` is the
  // thread's last call, after every accepted request was answered.
  static Status create(const ProducerSettings& settings, Done done, std::function<void()> closed, LogFn log,
                       std::unique_ptr<AppProducer>& out);
  ~AppProducer();  // close(), then a bounded join; a thread still flushing is left to finish
  AppProducer(const AppProducer&) = delete;
  AppProducer& operator=(const AppProducer&) = delete;

  // Queues a request. An error (nothing queued, `done` never called) when closed or when the
  // messages would exceed max_queued.
  Status publish(uint64_t request, std::vector<OutgoingMessage>&& messages);
  // Stops taking requests; what was accepted is still delivered (flush, bounded), the rest fails.
  // `done` is called for every accepted request before the thread ends. Never blocks.
  void close();
  // Joins the thread once it has ended; false when it did not within timeout_ms.
  bool join(int timeout_ms);
  // Messages accepted and not yet answered.
  size_t queued() const;

  struct Shared;

 private:
  explicit AppProducer(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
  std::shared_ptr<Shared> shared_;
};

}  // namespace kafka
}  // namespace cdc
