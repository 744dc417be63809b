// Test tool: produces records to one partition inside one Kafka transaction, then commits or
// aborts it, with librdkafka's transactional API (kcat cannot). Used by test/e2e/table-transactions.
//   txproduce <brokers> <topic> <partition> <commit|abort> <count> <key-prefix>
// Record i has key "<key-prefix><i>" and value {"i":<i>,"outcome":"commit|abort"}.
#include <librdkafka/rdkafkacpp.h>

#include <cstdio>
#include <memory>
#include <string>

namespace {

bool check(RdKafka::Error* error, const char* what) {
  if (error == nullptr) return true;
  std::fprintf(stderr, "txproduce: %s: %s\n", what, error->str().c_str());
  delete error;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: txproduce <brokers> <topic> <partition> <commit|abort> <count> <key-prefix>\n");
    return 2;
  }
  std::string brokers = argv[1], topic = argv[2], outcome = argv[4], prefix = argv[6];
  int partition = std::stoi(argv[3]), count = std::stoi(argv[5]);
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string errstr;
  if (conf->set("bootstrap.servers", brokers, errstr) != RdKafka::Conf::CONF_OK ||
      conf->set("transactional.id", "cdc-cache-test-" + topic + "-" + std::to_string(partition), errstr) != RdKafka::Conf::CONF_OK) {
    std::fprintf(stderr, "txproduce: %s\n", errstr.c_str());
    return 1;
  }
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), errstr));
  if (!producer) {
    std::fprintf(stderr, "txproduce: %s\n", errstr.c_str());
    return 1;
  }
  if (!check(producer->init_transactions(30000), "init_transactions")) return 1;
  if (!check(producer->begin_transaction(), "begin_transaction")) return 1;
  for (int i = 0; i < count; ++i) {
    std::string key = prefix + std::to_string(i);
    std::string value = "{\"i\":" + std::to_string(i) + ",\"outcome\":\"" + outcome + "\"}";
    RdKafka::ErrorCode err = producer->produce(topic, partition, RdKafka::Producer::RK_MSG_COPY, value.data(), value.size(),
                                               key.data(), key.size(), 0, nullptr);
    if (err != RdKafka::ERR_NO_ERROR) {
      std::fprintf(stderr, "txproduce: produce: %s\n", RdKafka::err2str(err).c_str());
      return 1;
    }
  }
  // Both flush the records first, so the aborted ones are really in the log.
  if (outcome == "commit") {
    if (!check(producer->commit_transaction(30000), "commit_transaction")) return 1;
  } else {
    if (producer->flush(30000) != RdKafka::ERR_NO_ERROR) {
      std::fprintf(stderr, "txproduce: flush timed out\n");
      return 1;
    }
    if (!check(producer->abort_transaction(30000), "abort_transaction")) return 1;
  }
  return 0;
}
