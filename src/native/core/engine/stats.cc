#include "engine/stats.h"

#include <chrono>

namespace cdc {
namespace {

double wall_clock_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
}

LagSummary summary_of(const Histogram& histogram) {
  LagSummary summary;
  summary.count = histogram.count();
  summary.p50 = histogram.percentile(50);
  summary.p99 = histogram.percentile(99);
  summary.p999 = histogram.percentile(99.9);
  summary.max = histogram.max();
  return summary;
}

}  // namespace

void EndToEndLag::record(int64_t kafka_ts_ms, int64_t source_ts_ms) {
  if (kafka_ts_ms <= 0 && source_ts_ms <= 0) return;
  const double now = moment_ms_ > 0 ? moment_ms_ : wall_clock_ms();
  if (kafka_ts_ms > 0) kafka_.record(now - static_cast<double>(kafka_ts_ms));
  if (source_ts_ms > 0) source_.record(now - static_cast<double>(source_ts_ms));
}

EndToEndLag::SameMoment::SameMoment(EndToEndLag& lag) : lag_(lag) { lag_.moment_ms_ = wall_clock_ms(); }

void EndToEndLag::summarize(EngineStats& out) const {
  out.source_lag = summary_of(source_);
  out.kafka_lag = summary_of(kafka_);
}

}  // namespace cdc
