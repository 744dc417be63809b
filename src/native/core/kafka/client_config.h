// librdkafka configuration for the engine's consumer and dead-letter producer: the user's
// properties first, then the few we must force for correctness.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <memory>
#include <string>

#include "common/status.h"
#include "kafka/settings.h"

namespace cdc {
namespace kafka {

struct ConsumerCallbacks {
  RdKafka::RebalanceCb* rebalance = nullptr;
  RdKafka::OffsetCommitCb* offset_commit = nullptr;
  RdKafka::EventCb* event = nullptr;
};

// Errors name the property ("kafka.config.fetch.max.bytes: ...") and never echo its value.
Status make_consumer_conf(const KafkaSettings& settings, const ConsumerCallbacks& callbacks,
                          std::unique_ptr<RdKafka::Conf>& out);
Status make_producer_conf(const KafkaSettings& settings, RdKafka::DeliveryReportCb* delivery,
                          RdKafka::EventCb* event, std::unique_ptr<RdKafka::Conf>& out);

}  // namespace kafka
}  // namespace cdc
