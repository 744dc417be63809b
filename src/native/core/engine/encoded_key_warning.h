// A warning, once per topic, when message keys carry no schema and look like Kafka Connect
// logical types left encoded (issue 10, item 7): keys rendered from them (`order:JxA=`) never
// match the application's, so every invalidation of that topic would miss, silently.
#pragma once

#include <string>
#include <unordered_set>

#include "common/log.h"

namespace cdc {

class EncodedKeyWarning {
 public:
  void note(const std::string& topic, const LogFn& log) {
    if (!warned_.insert(topic).second) return;  // bounded by the topics the engine reads
    log(LogLevel::warn,
        "topic " + topic +
            ": message keys have no schema and look like encoded Connect logical types (a Decimal's base64 bytes "
            "or a VariableScaleDecimal {scale, value}); keys rendered from them will not match the application's. "
            "Enable key.converter.schemas.enable=true, or set decimal.handling.mode=string on the connector "
            "(README: Connect logical types)");
  }

 private:
  std::unordered_set<std::string> warned_;
};

}  // namespace cdc
