#include "table/size_index.h"

#include <utility>

namespace cdc {
namespace table {

size_t SizeIndex::find(uint64_t hash) const {
  size_t at = home(hash);
  while (slots_[at].hash != 0 && slots_[at].hash != hash) at = (at + 1) & mask_;
  return at;
}

uint32_t SizeIndex::set(uint64_t hash, uint32_t size) {
  if ((count_ + 1) * 2 > slots_.size()) grow();  // at most half full: probes stay short
  hash = stored(hash);
  Slot& slot = slots_[find(hash)];
  uint32_t before = slot.hash == 0 ? 0 : slot.size;
  if (slot.hash == 0) ++count_;
  slot.hash = hash;
  slot.size = size;
  return before;
}

// Backward-shift deletion: later entries of the same probe run move up, so no tombstones.
uint32_t SizeIndex::remove(uint64_t hash) {
  if (count_ == 0) return 0;
  hash = stored(hash);
  size_t hole = find(hash);
  if (slots_[hole].hash == 0) return 0;
  uint32_t before = slots_[hole].size;
  for (size_t next = (hole + 1) & mask_; slots_[next].hash != 0; next = (next + 1) & mask_) {
    size_t want = home(slots_[next].hash);
    // The entry may fill the hole unless its home lies cyclically in (hole, next].
    bool stays = hole <= next ? (hole < want && want <= next) : (hole < want || want <= next);
    if (stays) continue;
    slots_[hole] = slots_[next];
    hole = next;
  }
  slots_[hole] = Slot{};
  --count_;
  return before;
}

void SizeIndex::clear() {
  slots_.clear();
  mask_ = 0;
  count_ = 0;
}

void SizeIndex::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
  mask_ = slots_.size() - 1;
  for (const Slot& slot : old)
    if (slot.hash != 0) slots_[find(slot.hash)] = slot;
}

}  // namespace table
}  // namespace cdc
