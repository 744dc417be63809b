#include "kafka/client_config.h"

#include <algorithm>
#include <string>
#include <utility>

namespace cdc {
namespace kafka {
namespace {

// librdkafka sometimes quotes the rejected value in its error text; a value may be a secret
// (sasl.password, ssl.key.password), so it is masked wherever it appears.
std::string without_value(std::string text, const std::string& value) {
  if (value.empty()) return text;
  for (size_t at = text.find(value); at != std::string::npos; at = text.find(value, at + 3))
    text.replace(at, value.size(), "***");
  return text;
}

Status set_property(RdKafka::Conf& conf, const std::string& path, const std::string& name,
                    const std::string& value) {
  std::string errstr;
  if (conf.set(name, value, errstr) != RdKafka::Conf::CONF_OK)
    return Status::Error(path + ": " + without_value(errstr, value));
  return Status::Ok();
}

bool user_set(const KafkaSettings& settings, const std::string& name) {
  for (const auto& property : settings.properties)
    if (property.first == name) return true;
  return false;
}

}  // namespace

Status make_consumer_conf(const KafkaSettings& settings, const ConsumerCallbacks& callbacks,
                          std::unique_ptr<RdKafka::Conf>& out) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  Status st = Status::Ok();
  // Defaults the user may override.
  const std::pair<const char*, const char*> defaults[] = {
      {"client.id", "cdc-cache"},
      // Our rebalance callback handles both protocols; cooperative keeps other partitions
      // flowing while one moves.
      {"partition.assignment.strategy", "cooperative-sticky"},
      // A new group must see the changes already in the topic, or caches stay stale.
      {"auto.offset.reset", "earliest"},
  };
  for (const auto& property : defaults) {
    if (user_set(settings, property.first)) continue;
    if (!(st = set_property(*conf, std::string("kafka.config.") + property.first, property.first,
                            property.second)).ok())
      return st;
  }
  // The engine empties librdkafka's queue into its own prefetch buffer all the time, so this limit
  // only matters while the engine thread is held up. It must stay well above what one pause can
  // leave behind in that queue (a fetch in flight, dropped when popped): reaching it stops
  // librdkafka 2.0.2's fetcher for up to a second.
  if (!user_set(settings, "queued.max.messages.kbytes") &&
      !(st = set_property(*conf, "kafka.prefetchBytes", "queued.max.messages.kbytes",
                          std::to_string(std::max<int64_t>(1, settings.prefetch_bytes * 2 / 1024)))).ok())
    return st;
  // The message count threshold stops the fetcher the same way, and small messages reach it long
  // before the byte limit (a table of short values: 100,000 messages are ~10 MB): the prefetch
  // buffer's bytes are the flow control, so the count is set out of reach (librdkafka's maximum).
  if (!user_set(settings, "queued.min.messages") &&
      !(st = set_property(*conf, "kafka.config.queued.min.messages", "queued.min.messages", "10000000")).ok())
    return st;
  for (const auto& property : settings.properties) {
    if (!(st = set_property(*conf, "kafka.config." + property.first, property.first, property.second)).ok())
      return st;
  }
  // Forced: offsets are committed by the engine only once every effect is acknowledged.
  if (!(st = set_property(*conf, "kafka.brokers", "bootstrap.servers", settings.brokers)).ok()) return st;
  if (!(st = set_property(*conf, "kafka.groupId", "group.id", settings.group_id)).ok()) return st;
  if (!(st = set_property(*conf, "kafka.config", "enable.auto.commit", "false")).ok()) return st;
  if (!(st = set_property(*conf, "kafka.config", "enable.auto.offset.store", "false")).ok()) return st;
  if (!(st = set_property(*conf, "kafka.config", "enable.partition.eof", "false")).ok()) return st;

  std::string errstr;
  if (callbacks.rebalance && conf->set("rebalance_cb", callbacks.rebalance, errstr) != RdKafka::Conf::CONF_OK)
    return Status::Error("kafka: " + errstr);
  if (callbacks.offset_commit &&
      conf->set("offset_commit_cb", callbacks.offset_commit, errstr) != RdKafka::Conf::CONF_OK)
    return Status::Error("kafka: " + errstr);
  if (callbacks.event && conf->set("event_cb", callbacks.event, errstr) != RdKafka::Conf::CONF_OK)
    return Status::Error("kafka: " + errstr);
  out = std::move(conf);
  return Status::Ok();
}

Status make_producer_conf(const KafkaSettings& settings, RdKafka::DeliveryReportCb* delivery,
                          RdKafka::EventCb* event, std::unique_ptr<RdKafka::Conf>& out) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  Status st = Status::Ok();
  if (!(st = set_property(*conf, "kafka.config.client.id", "client.id", "cdc-cache-dead-letter")).ok())
    return st;
  // The user's properties carry security settings the producer needs too. Consumer-only
  // properties are accepted by librdkafka here (it ignores them with a warning).
  for (const auto& property : settings.properties) {
    if (property.first == "client.id") continue;
    if (!(st = set_property(*conf, "kafka.config." + property.first, property.first, property.second)).ok())
      return st;
  }
  if (!(st = set_property(*conf, "kafka.brokers", "bootstrap.servers", settings.brokers)).ok()) return st;
  // A dead letter must not be lost: wait for every in-sync replica.
  if (!(st = set_property(*conf, "kafka.config", "acks", "all")).ok()) return st;
  // Retried dead letters are written once, in order.
  if (!(st = set_property(*conf, "kafka.config", "enable.idempotence", "true")).ok()) return st;
  std::string errstr;
  if (delivery && conf->set("dr_cb", delivery, errstr) != RdKafka::Conf::CONF_OK)
    return Status::Error("kafka: " + errstr);
  if (event && conf->set("event_cb", event, errstr) != RdKafka::Conf::CONF_OK)
    return Status::Error("kafka: " + errstr);
  out = std::move(conf);
  return Status::Ok();
}

}  // namespace kafka
}  // namespace cdc
