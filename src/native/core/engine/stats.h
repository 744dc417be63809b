// Stats: the end-to-end lag of finished messages, and the snapshot other threads read.
#pragma once

#include <cstdint>

#include "engine/engine.h"
#include "engine/histogram.h"

namespace cdc {

// From a message's Kafka append (and its source commit) to when it was finished: its Redis
// effects acknowledged (or it was skipped or dead-lettered).
class EndToEndLag {
 public:
  // Timestamps in ms since the epoch; 0 (or less) when unknown.
  void record(int64_t kafka_ts_ms, int64_t source_ts_ms);
  void summarize(EngineStats& out) const;

 private:
  Histogram source_, kafka_;
};

}  // namespace cdc
