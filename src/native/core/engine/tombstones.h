// Deletes that arrive only as tombstones. Debezium's ExtractNewRecordState can drop the delete
// record and keep its tombstone (delete.tombstone.handling.mode=tombstone): then the tombstone,
// keyed by the primary key, is the only trace of the delete. Such a tombstone becomes a delete
// rendered from its key when its topic maps to a source with rules; the tombstone that merely
// follows a full delete envelope costs nothing extra.
#pragma once

#include <string_view>

#include "debezium/change_event.h"
#include "engine/pending.h"
#include "rules/rules.h"

namespace cdc {

// What a later tombstone of this partition needs, from every change event: the source its topic
// carries, and the key of a delete just seen. Allocates only when either changes.
void remember_for_tombstones(const ChangeEvent& event, std::string_view key, PartitionState& partition);

// Turns a tombstone into a delete (kind change, op remove) of the source its topic maps to: the
// source its earlier events named, else "<prefix>.<schema>.<table>". False when it stays a
// tombstone: no key, the delete before it was applied, or no rule for the source.
bool tombstone_as_delete(ChangeEvent& event, std::string_view key, std::string_view topic, PartitionState& partition,
                         const RuleSet& rules);

// A record without source metadata (ExtractNewRecordState without add.fields, a tombstone): its
// source is named by its topic, "<prefix>.<schema>.<table>" -> "<schema>.<table>". False when the
// topic has fewer than three parts.
bool source_from_topic(std::string_view topic, SourceInfo& source);

}  // namespace cdc
