#include "kafka/event_callback.h"

#include <string>

namespace cdc {
namespace kafka {
namespace {

LogLevel level_of(const RdKafka::Event& event) {
  const int severity = event.severity();
  if (severity <= RdKafka::Event::EVENT_SEVERITY_ERROR) return LogLevel::error;
  if (severity == RdKafka::Event::EVENT_SEVERITY_WARNING) return LogLevel::warn;
  if (severity <= RdKafka::Event::EVENT_SEVERITY_INFO) return LogLevel::info;
  return LogLevel::debug;
}

}  // namespace

void EventCallback::event_cb(RdKafka::Event& event) {
  switch (event.type()) {
    case RdKafka::Event::EVENT_ERROR:
      if (event.err() == RdKafka::ERR__ALL_BROKERS_DOWN) brokers_down_.store(true, std::memory_order_relaxed);
      log_(event.fatal() ? LogLevel::error : LogLevel::warn, "kafka: " + event.str());
      break;
    case RdKafka::Event::EVENT_LOG: {
      LogLevel level = level_of(event);
      const std::string facility = event.fac();
      // Connection failures also arrive as error events (logged above): do not say it twice.
      if (facility == "FAIL") level = LogLevel::debug;
      // The dead-letter producer shares the user's properties; consumer-only ones are expected.
      if (facility == "CONFWARN" && event.str().find("ignored by this producer") != std::string::npos)
        level = LogLevel::debug;
      log_(level, "kafka " + facility + ": " + event.str());
      break;
    }
    default: break;
  }
}

}  // namespace kafka
}  // namespace cdc
