// librdkafka's mock cluster with one broker, for fault injection and consumer-side tests in C++
// (never instead of the real broker in the end-to-end tests).
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <string>

class MockKafka {
 public:
  MockKafka() {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "2", errstr, sizeof(errstr));
    handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (handle_ != nullptr) cluster_ = rd_kafka_mock_cluster_new(handle_, 1);
  }
  ~MockKafka() {
    if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
    if (handle_) rd_kafka_destroy(handle_);
  }
  MockKafka(const MockKafka&) = delete;
  MockKafka& operator=(const MockKafka&) = delete;

  rd_kafka_t* handle() const { return handle_; }  // a producer: the cluster's host
  rd_kafka_mock_cluster_t* cluster() const { return cluster_; }  // nullptr when it could not start
  std::string bootstraps() const { return cluster_ ? rd_kafka_mock_cluster_bootstraps(cluster_) : ""; }
  bool create_topic(const std::string& topic, int partitions) {
    return cluster_ && rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1) == RD_KAFKA_RESP_ERR_NO_ERROR;
  }

 private:
  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};
