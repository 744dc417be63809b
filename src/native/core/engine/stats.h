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

  // While one lives, record() takes the time it was made instead of reading the clock for each
  // event: the events a pipeline's replies finish were all acknowledged at that moment.
  class SameMoment {
   public:
    explicit SameMoment(EndToEndLag& lag);
    ~SameMoment() { lag_.moment_ms_ = 0; }
    SameMoment(const SameMoment&) = delete;
    SameMoment& operator=(const SameMoment&) = delete;

   private:
    EndToEndLag& lag_;
  };

 private:
  Histogram source_, kafka_;
  double moment_ms_ = 0;  // set by a SameMoment
};

}  // namespace cdc
