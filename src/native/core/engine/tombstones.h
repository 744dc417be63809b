// Deletes that arrive only as tombstones. Debezium's ExtractNewRecordState can drop the delete
// record and keep its tombstone (delete.tombstone.handling.mode=tombstone): then the tombstone,
// keyed by the primary key, is the only trace of the delete. Such a tombstone becomes a delete
// rendered from its key when its topic maps to a source with rules; the tombstone that merely
// follows a full delete envelope costs nothing extra.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "debezium/change_event.h"
#include "engine/pending.h"
#include "rules/rules.h"

namespace cdc {

// What a later tombstone of this partition needs, from every change event: the source its topic
// carries, and the key of a delete just seen. Allocates only when either changes.
void remember_for_tombstones(const ChangeEvent& event, std::string_view key, PartitionState& partition);

// The topicSources option: the source named for a topic whose records do not say (a topic renamed
// by a routing transform, or named otherwise than "<prefix>.<schema>.<table>").
class TopicSources {
 public:
  explicit TopicSources(std::vector<std::pair<std::string, std::string>> entries) : entries_(std::move(entries)) {}
  const std::string* find(std::string_view topic) const {
    for (const auto& [name, source] : entries_)
      if (name == topic) return &source;
    return nullptr;  // a handful of entries at most: no map needed
  }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

// Turns a tombstone into a delete (kind change, op remove) of the source its topic maps to: the
// one topicSources names, else the source its earlier events named, else
// "<prefix>.<schema>.<table>". False when it stays a tombstone: no key, the delete before it was
// applied, or no rule for the source.
bool tombstone_as_delete(ChangeEvent& event, std::string_view key, std::string_view topic, PartitionState& partition,
                         const RuleSet& rules, const TopicSources& explicit_sources);

// A record without source metadata (ExtractNewRecordState without add.fields, a tombstone): its
// source is the one topicSources names for its topic, else named by its topic,
// "<prefix>.<schema>.<table>" -> "<schema>.<table>". False when neither gives one.
bool source_from_topic(std::string_view topic, const TopicSources& explicit_sources, SourceInfo& source);

}  // namespace cdc
