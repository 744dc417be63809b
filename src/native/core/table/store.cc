#include "table/store.h"

#include <functional>
#include <utility>

namespace cdc {
namespace table {

uint32_t Store::hash_of(std::string_view key) {
  auto hash = static_cast<uint32_t>(std::hash<std::string_view>{}(key) >> 32);
  return hash == 0 ? 1 : hash;
}

size_t Store::find(uint32_t hash, std::string_view key) const {
  size_t at = home(hash);
  while (slots_[at].hash != 0 && (slots_[at].hash != hash || entries_[slots_[at].entry].key != key)) at = (at + 1) & mask_;
  return at;
}

Store::Entry* Store::find_entry(std::string_view key) {
  if (slots_.empty()) return nullptr;
  const Slot& slot = slots_[find(hash_of(key), key)];
  return slot.hash == 0 ? nullptr : &entries_[slot.entry];
}

bool Store::contains(std::string_view key) {
  std::lock_guard<std::mutex> lock(mutex_);
  return find_entry(key) != nullptr;
}

// Only this thread changes slots_ and keys, so it finds without the lock; strings are allocated
// and freed outside it too: a reader waits for a few pointer moves, never for malloc.
Store::Written Store::upsert(std::string_view key, std::string_view value, std::string* previous) {
  if ((entries_.size() + 1) * 2 > slots_.size()) grow();  // at most half full: probes stay short
  uint32_t hash = hash_of(key);
  size_t at = find(hash, key);
  std::string fresh(value);
  if (slots_[at].hash != 0) {
    Written written{true, false};
    {
      std::lock_guard<std::mutex> lock(mutex_);
      Entry& entry = entries_[slots_[at].entry];
      written.read = entry.read;
      entry.read = false;
      bytes_.fetch_add(value.size() - entry.value.size(), std::memory_order_relaxed);
      entry.value.swap(fresh);  // fresh holds the previous value now
    }
    if (previous) *previous = std::move(fresh);
    return written;
  }
  Entry entry{hash, std::string(key), std::move(fresh), false};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    slots_[at] = Slot{hash, static_cast<uint32_t>(entries_.size())};
    entries_.push_back(std::move(entry));
  }
  bytes_.fetch_add(key.size() + value.size(), std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  return Written{};
}

Store::Written Store::remove(std::string_view key, std::string* previous) {
  if (slots_.empty()) return {};
  size_t at = find(hash_of(key), key);
  if (slots_[at].hash == 0) return {};
  Entry gone;  // freed after the lock
  Written written{true, false};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    uint32_t index = slots_[at].entry;
    gone = std::move(entries_[index]);
    written.read = gone.read;
    erase_slot(at);
    // The last entry fills the hole in entries_: its slot points to its new place.
    uint32_t last = static_cast<uint32_t>(entries_.size() - 1);
    if (index != last) {
      size_t moved = home(entries_[last].hash);
      while (slots_[moved].entry != last || slots_[moved].hash != entries_[last].hash) moved = (moved + 1) & mask_;
      slots_[moved].entry = index;
      entries_[index] = std::move(entries_[last]);
    }
    entries_.pop_back();
  }
  bytes_.fetch_sub(gone.key.size() + gone.value.size(), std::memory_order_relaxed);
  count_.fetch_sub(1, std::memory_order_relaxed);
  if (previous) *previous = std::move(gone.value);
  return written;
}

// Backward-shift deletion: later slots of the same probe run move up, so no tombstones.
void Store::erase_slot(size_t hole) {
  for (size_t next = (hole + 1) & mask_; slots_[next].hash != 0; next = (next + 1) & mask_) {
    size_t want = home(slots_[next].hash);
    // The slot may fill the hole unless its home lies cyclically in (hole, next].
    bool stays = hole <= next ? (hole < want && want <= next) : (hole < want || want <= next);
    if (stays) continue;
    slots_[hole] = slots_[next];
    hole = next;
  }
  slots_[hole] = Slot{};
}

void Store::clear() {
  std::vector<Slot> slots;
  std::deque<Entry> entries;  // freed after the lock
  {
    std::lock_guard<std::mutex> lock(mutex_);
    slots.swap(slots_);
    entries.swap(entries_);
    mask_ = 0;
  }
  bytes_ = 0;
  count_ = 0;
}

// Built apart (only this thread writes slots_), swapped in under the lock.
void Store::grow() {
  std::vector<Slot> bigger(slots_.empty() ? 1024 : slots_.size() * 2);
  size_t mask = bigger.size() - 1;
  for (const Slot& slot : slots_) {
    if (slot.hash == 0) continue;
    size_t at = home(slot.hash, mask);
    while (bigger[at].hash != 0) at = (at + 1) & mask;
    bigger[at] = slot;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  slots_.swap(bigger);
  mask_ = mask;
}

}  // namespace table
}  // namespace cdc
