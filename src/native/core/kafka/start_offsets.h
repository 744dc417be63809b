// Where newly assigned partitions start, known before fetching begins: the group's committed offset,
// else the end or the beginning as auto.offset.reset says. librdkafka would resolve the same itself,
// but only once fetching starts: under "latest", a message appended between the assignment and that
// moment is skipped, and nobody can tell when it is safe to produce. Resolved here, the start is a
// position the engine reports (stats().partitions[].position) from the assignment on.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <string>
#include <vector>

#include "common/log.h"

namespace cdc {
namespace kafka {

enum class OffsetReset { earliest, latest, other };

// auto.offset.reset's value as librdkafka spells it (smallest, earliest, beginning, largest, latest, end, error).
OffsetReset parse_offset_reset(const std::string& value);

// Sets the offset of each partition that has none (OFFSET_INVALID) to where consumption starts;
// explicit offsets, logical ones included, are left alone. A partition whose start cannot be
// resolved within timeout_ms keeps OFFSET_INVALID, and librdkafka resolves it as before.
void resolve_start_offsets(RdKafka::KafkaConsumer& consumer, OffsetReset reset,
                           std::vector<RdKafka::TopicPartition*>& partitions, int timeout_ms, const LogFn& log);

}  // namespace kafka
}  // namespace cdc
