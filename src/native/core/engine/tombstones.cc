#include "engine/tombstones.h"

namespace cdc {
namespace {

bool as_delete(ChangeEvent& event) {
  event.kind = EventKind::change;
  event.op = Op::remove;
  return true;
}

}  // namespace

void remember_for_tombstones(const ChangeEvent& event, std::string_view key, PartitionState& partition) {
  if (event.kind == EventKind::tombstone) return;
  if (partition.source_name != event.source.name) partition.source_name = event.source.name;
  if (event.op == Op::remove) {
    partition.last_delete_key.assign(key.data(), key.size());
  } else if (!partition.last_delete_key.empty()) {
    partition.last_delete_key.clear();
  }
}

bool tombstone_as_delete(ChangeEvent& event, std::string_view key, std::string_view topic, PartitionState& partition,
                         const RuleSet& rules, const TopicSources& explicit_sources) {
  if (!event.key.present) return false;
  if (!partition.last_delete_key.empty() && partition.last_delete_key == key) {
    partition.last_delete_key.clear();
    return false;  // the delete itself was applied
  }
  if (partition.source_name.empty() || explicit_sources.find(topic))
    return source_from_topic(topic, explicit_sources, event.source) && rules.matches(event.source.name) &&
           as_delete(event);
  if (!rules.matches(partition.source_name)) return false;
  event.source.name = partition.source_name;
  return as_delete(event);
}

bool source_from_topic(std::string_view topic, const TopicSources& explicit_sources, SourceInfo& source) {
  if (const std::string* named = explicit_sources.find(topic)) {
    source.name = *named;
    const size_t dot = named->rfind('.');
    source.table.assign(dot == std::string::npos ? *named : named->substr(dot + 1));
    if (dot != std::string::npos && source.schema.empty() && source.db.empty()) source.schema.assign(*named, 0, dot);
    return true;
  }
  size_t last = topic.rfind('.');
  size_t before = last == std::string_view::npos || last == 0 ? std::string_view::npos : topic.rfind('.', last - 1);
  if (before == std::string_view::npos) return false;
  source.name.assign(topic.substr(before + 1));
  source.table.assign(topic.substr(last + 1));
  if (source.schema.empty() && source.db.empty()) source.schema.assign(topic.substr(before + 1, last - before - 1));
  return true;
}

}  // namespace cdc
