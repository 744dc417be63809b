// The one table of integer option limits and defaults, read by the C++ config parser
// (engine/config.cc) and by the TypeScript validator (lib/option-limits.ts is generated from this
// file by scripts/gen-option-limits.mjs; a unit test fails when it is stale).
// Columns: option path, C++ name, minimum, maximum, default. Keep one entry per line.
#pragma once

#include <cstdint>
#include <string_view>

#define CDC_OPTION_LIMITS(X)                                                           \
  X("kafka.prefetchBytes", kafka_prefetch_bytes, 65536, 4294967296, 33554432)          \
  X("redis.connectTimeoutMs", redis_connect_timeout_ms, 1, 600000, 2000)               \
  X("redis.commandTimeoutMs", redis_command_timeout_ms, 1, 600000, 5000)               \
  X("redis.waitReplicas", redis_wait_replicas, 0, 100, 0)                              \
  X("redis.waitTimeoutMs", redis_wait_timeout_ms, 1, 600000, 1000)                     \
  X("batch.maxEvents", batch_max_events, 1, 100000, 1000)                              \
  X("batch.maxWaitMs", batch_max_wait_ms, 0, 60000, 0)                                 \
  X("batch.maxInFlight", batch_max_in_flight, 1, 1024, 4)                              \
  X("commitIntervalMs", commit_interval_ms, 1, 3600000, 1000)                          \
  X("handlers.maxBatchSize", handlers_max_batch_size, 1, 100000, 500)                  \
  X("handlers.maxInFlight", handlers_max_in_flight, 1, 1024, 2)                        \
  X("handlers.attempts", handlers_attempts, 1, 100, 3)                                 \
  X("handlers.retryDelayMs", handlers_retry_delay_ms, 0, 600000, 200)                 \
  X("invalidateTimeoutMs", invalidate_timeout_ms, 1, 3600000, 30000)

namespace cdc {

struct OptionLimit {
  std::string_view path;
  int64_t min, max, default_value;
};

namespace option_limits {
#define CDC_DEFINE_OPTION_LIMIT(path, name, min, max, default_value) \
  inline constexpr OptionLimit name{path, min, max, default_value};
CDC_OPTION_LIMITS(CDC_DEFINE_OPTION_LIMIT)
#undef CDC_DEFINE_OPTION_LIMIT
}  // namespace option_limits

}  // namespace cdc
