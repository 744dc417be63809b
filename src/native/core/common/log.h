// Log levels and the log sink every native piece reports through (the addon forwards it to JS).
#pragma once

#include <functional>
#include <string>

namespace cdc {

enum class LogLevel { debug, info, warn, error };

inline const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "info";
}

// May be called from librdkafka's own threads too: it must only hand the line over, never block.
using LogFn = std::function<void(LogLevel, std::string)>;

}  // namespace cdc
