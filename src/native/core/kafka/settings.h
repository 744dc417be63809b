// What the engine's Kafka clients are configured from (parsed by engine/config.cc).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/option_limits.h"

namespace cdc {

struct KafkaSettings {
  std::string brokers;
  std::string group_id;
  std::vector<std::string> topics;  // either topics ...
  std::string topic_pattern;        // ... or a regex (always starts with '^', as librdkafka wants)
  // User librdkafka properties in declaration order, values already turned into strings.
  std::vector<std::pair<std::string, std::string>> properties;
  // Fetched messages the engine holds ahead of processing. Above this, fetching pauses; it resumes
  // at half. (The engine does its own prefetch flow control: librdkafka 2.0.2's queue thresholds
  // stall fetching for about a second each time they are reached.)
  int64_t prefetch_bytes = option_limits::kafka_prefetch_bytes.default_value;
};

}  // namespace cdc
