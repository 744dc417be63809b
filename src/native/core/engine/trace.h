// Per-stage timestamps of the engine, to find where a slow event waited. Off unless the
// environment names a file (CDC_CACHE_TRACE=/path/trace-%p.txt, %p: the process id); off, every hook is one branch on a
// null pointer. On, the engine writes one line per finished event (append time and the moments it
// was begun, planned, sent to Redis and acknowledged), one per loop step that took at least
// CDC_CACHE_TRACE_STEP_MS (default 2) and every log line with its time (librdkafka `debug`
// output included). Times are wall-clock microseconds, comparable with Kafka's timestamps.
// Format (space separated):
//   E <partition> <offset> <append_ms> <begun_us> <planned_us> <sent_us> <acked_us>
//   S <step> <start_us> <duration_us> <detail>
//   L <us> <message>
#pragma once

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

namespace cdc {

struct PendingMessage;

class EngineTrace {
 public:
  EngineTrace();  // opens the file named by CDC_CACHE_TRACE, if any
  ~EngineTrace();
  EngineTrace(const EngineTrace&) = delete;
  EngineTrace& operator=(const EngineTrace&) = delete;

  bool on() const { return file_ != nullptr; }
  static int64_t now_us();

  void event(const PendingMessage& message, int64_t acked_us);
  // Written only when it took at least the step threshold.
  void step(const char* name, int64_t start_us, int64_t detail = 0);
  void line(const std::string& message);  // any thread (librdkafka logs from its own)

 private:
  std::FILE* file_ = nullptr;
  int64_t step_threshold_us_ = 2000;
  std::mutex mutex_;  // log lines come from librdkafka's threads too
};

}  // namespace cdc

namespace cdc {

// Times the enclosing block as one trace step (nothing at all when the trace is off).
class TraceStep {
 public:
  TraceStep(EngineTrace& trace, const char* name)
      : trace_(trace.on() ? &trace : nullptr), name_(name), start_us_(trace_ ? EngineTrace::now_us() : 0) {}
  ~TraceStep() {
    if (trace_) trace_->step(name_, start_us_, detail_);
  }
  TraceStep(const TraceStep&) = delete;
  TraceStep& operator=(const TraceStep&) = delete;
  void detail(int64_t value) { detail_ = value; }

 private:
  EngineTrace* trace_;
  const char* name_;
  int64_t start_us_;
  int64_t detail_ = 0;
};

}  // namespace cdc
