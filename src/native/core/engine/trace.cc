#include "engine/trace.h"

#include <chrono>
#include <cinttypes>
#include <cstdlib>
#include <string>

#include <unistd.h>

#include "engine/pending.h"

namespace cdc {

EngineTrace::EngineTrace() {
  const char* name = std::getenv("CDC_CACHE_TRACE");
  if (!name || !*name) return;
  std::string path(name);  // "%p" becomes the process id: one file per process
  if (size_t at = path.find("%p"); at != std::string::npos) path.replace(at, 2, std::to_string(getpid()));
  file_ = std::fopen(path.c_str(), "w");
  if (!file_) return;
  std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);  // the engine thread must not wait on the disk often
  if (const char* ms = std::getenv("CDC_CACHE_TRACE_STEP_MS")) step_threshold_us_ = std::atoll(ms) * 1000;
}

EngineTrace::~EngineTrace() {
  if (file_) std::fclose(file_);
}

int64_t EngineTrace::now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void EngineTrace::event(const PendingMessage& m, int64_t acked_us) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::fprintf(file_, "E %d %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 "\n",
               m.partition ? m.partition->partition : -1, m.offset, m.kafka_ts_ms, m.trace.begun_us,
               m.trace.planned_us, m.trace.sent_us, acked_us);
}

void EngineTrace::step(const char* name, int64_t start_us, int64_t detail) {
  const int64_t duration = now_us() - start_us;
  if (duration < step_threshold_us_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  std::fprintf(file_, "S %s %" PRId64 " %" PRId64 " %" PRId64 "\n", name, start_us, duration, detail);
}

void EngineTrace::line(const std::string& message) {
  const int64_t now = now_us();
  std::lock_guard<std::mutex> lock(mutex_);
  std::fprintf(file_, "L %" PRId64 " %s\n", now, message.c_str());
}

}  // namespace cdc
