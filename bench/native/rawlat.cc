// The steady-load latency floor: a minimal librdkafka consumer that does nothing with a message but
// note how long after its Kafka append time (LogAppendTime) it arrived. Same broker, same producer,
// same machine as the contenders, no Redis.
//   rawlat BROKERS TOPIC GROUP COUNT
// Prints READY once it owns partitions, then after COUNT messages (or 60 s without one):
//   RESULT {"count":N,"p50_ms":..,"p99_ms":..,"p999_ms":..,"max_ms":..}
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace {

// Fractional milliseconds, as the engine measures its own lag (engine/stats.cc): the same
// quantisation on both sides of the comparison (Kafka's timestamp alone is whole milliseconds).
double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(system_clock::now().time_since_epoch()).count();
}

class Ready : public RdKafka::RebalanceCb {
 public:
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      consumer->assign(partitions);
      if (!partitions.empty() && !announced_) {
        std::printf("READY\n");
        std::fflush(stdout);
        announced_ = true;
      }
    } else {
      consumer->unassign();
    }
  }

 private:
  bool announced_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: rawlat BROKERS TOPIC GROUP COUNT\n");
    return 2;
  }
  const long count = std::atol(argv[4]);
  std::string errstr;
  Ready ready;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  if (conf->set("bootstrap.servers", argv[1], errstr) != RdKafka::Conf::CONF_OK ||
      conf->set("group.id", argv[3], errstr) != RdKafka::Conf::CONF_OK ||
      conf->set("auto.offset.reset", "earliest", errstr) != RdKafka::Conf::CONF_OK ||
      conf->set("rebalance_cb", &ready, errstr) != RdKafka::Conf::CONF_OK) {
    std::fprintf(stderr, "rawlat: %s\n", errstr.c_str());
    return 2;
  }
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), errstr));
  if (!consumer) {
    std::fprintf(stderr, "rawlat: %s\n", errstr.c_str());
    return 2;
  }
  consumer->subscribe({argv[2]});
  std::vector<double> latencies;
  latencies.reserve(static_cast<size_t>(count));
  double last_message = now_ms();
  while (static_cast<long>(latencies.size()) < count && now_ms() - last_message < 60000) {
    std::unique_ptr<RdKafka::Message> message(consumer->consume(100));
    if (message->err() != RdKafka::ERR_NO_ERROR) continue;
    last_message = now_ms();
    latencies.push_back(last_message - static_cast<double>(message->timestamp().timestamp));
  }
  consumer->close();
  std::sort(latencies.begin(), latencies.end());
  auto at = [&](double p) {
    if (latencies.empty()) return -1.0;
    size_t index = static_cast<size_t>(p / 100.0 * static_cast<double>(latencies.size()));
    return latencies[std::min(index, latencies.size() - 1)];
  };
  std::printf("RESULT {\"count\":%zu,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"p999_ms\":%.2f,\"max_ms\":%.2f}\n", latencies.size(),
              at(50), at(99), at(99.9), latencies.empty() ? -1.0 : latencies.back());
  return 0;
}
