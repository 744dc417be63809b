// The steady-load latency floor: a minimal librdkafka consumer that does nothing with a message but
// note how long after its Kafka append time (LogAppendTime) it arrived. Same broker, same producer,
// same machine as the contenders, no Redis.
//   rawlat BROKERS TOPIC GROUP COUNT
// Prints READY once it owns partitions, then after COUNT messages (or 60 s without one):
//   RESULT {"count":N,"p50_ms":..,"p99_ms":..,"p999_ms":..,"max_ms":..,"busiest_thread":{comm,cpu_s,runqueue_wait_s}}
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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

// The busiest thread's CPU seconds and seconds runnable but waiting for a core (/proc schedstat),
// as the cdc-cache contender reports its threads (bench/lib/common.js threadSchedule).
std::string busiest_thread_schedule() {
  double best_cpu = -1, best_wait = 0;
  std::string best_comm;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream sched(task.path() / "schedstat"), comm_file(task.path() / "comm");
    double cpu_ns = 0, wait_ns = 0;
    std::string comm;
    if (!(sched >> cpu_ns >> wait_ns)) continue;
    std::getline(comm_file, comm);
    if (cpu_ns / 1e9 > best_cpu) best_cpu = cpu_ns / 1e9, best_wait = wait_ns / 1e9, best_comm = comm;
  }
  char text[200];
  std::snprintf(text, sizeof(text), "{\"comm\":\"%s\",\"cpu_s\":%.3f,\"runqueue_wait_s\":%.3f}", best_comm.c_str(),
                best_cpu, best_wait);
  return text;
}

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
  const std::string schedule = busiest_thread_schedule();
  consumer->close();
  std::sort(latencies.begin(), latencies.end());
  auto at = [&](double p) {
    if (latencies.empty()) return -1.0;
    size_t index = static_cast<size_t>(p / 100.0 * static_cast<double>(latencies.size()));
    return latencies[std::min(index, latencies.size() - 1)];
  };
  std::printf("RESULT {\"count\":%zu,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"p999_ms\":%.2f,\"max_ms\":%.2f,\"busiest_thread\":%s}\n",
              latencies.size(), at(50), at(99), at(99.9), latencies.empty() ? -1.0 : latencies.back(), schedule.c_str());
  return 0;
}
