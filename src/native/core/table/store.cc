#include "table/store.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <new>
#include <utility>

namespace cdc {
namespace table {
namespace {

char* map_chunk(size_t bytes) {
  void* data = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (data == MAP_FAILED) throw std::bad_alloc();
  return static_cast<char*>(data);
}

constexpr size_t kCompactSlice = 4096;  // entries moved per hold of the lock while compacting

}  // namespace

Store::~Store() {
  for (const Chunk& chunk : chunks_)
    if (chunk.data != nullptr) munmap(chunk.data, chunk.capacity);
}

uint32_t Store::hash_of(std::string_view key) {
  auto hash = static_cast<uint32_t>(std::hash<std::string_view>{}(key) >> 32);
  return hash == 0 ? 1 : hash;
}

size_t Store::find(uint32_t hash, std::string_view key) const {
  size_t at = home(hash);
  while (slots_[at].hash != 0 && (slots_[at].hash != hash || key_of(entries_[slots_[at].entry]) != key)) at = (at + 1) & mask_;
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

// Only this thread changes slots_, entries_ and chunks, so it finds and copies without the lock;
// an old copy stays readable until compact_if_worth_it(), which this thread runs too.
Store::Written Store::upsert(std::string_view key, std::string_view value, std::string* previous) {
  if ((entries_.size() + 1) * 2 > slots_.size()) grow();  // at most half full: probes stay short
  uint32_t hash = hash_of(key);
  size_t at = find(hash, key);
  Place copy = place(key, value);
  if (slots_[at].hash != 0) {
    Entry before;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      Entry& entry = entries_[slots_[at].entry];
      before = entry;
      entry.chunk = copy.chunk;
      entry.offset = copy.offset;
      entry.value_size = static_cast<uint32_t>(value.size());
      entry.read = false;
    }
    if (previous) previous->assign(value_of(before));
    bytes_.fetch_add(value.size() - before.value_size, std::memory_order_relaxed);
    release(before);
    compact_if_worth_it();
    return Written{true, before.read};
  }
  Entry entry{hash, copy.chunk, copy.offset, static_cast<uint32_t>(key.size()), static_cast<uint32_t>(value.size()), false};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    slots_[at] = Slot{hash, static_cast<uint32_t>(entries_.size())};
    entries_.push_back(entry);
  }
  bytes_.fetch_add(key.size() + value.size(), std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  return Written{};
}

Store::Written Store::remove(std::string_view key, std::string* previous) {
  if (slots_.empty()) return {};
  size_t at = find(hash_of(key), key);
  if (slots_[at].hash == 0) return {};
  Entry gone;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    uint32_t index = slots_[at].entry;
    gone = entries_[index];
    erase_slot(at);
    // The last entry fills the hole in entries_: its slot points to its new place.
    uint32_t last = static_cast<uint32_t>(entries_.size() - 1);
    if (index != last) {
      size_t moved = home(entries_[last].hash);
      while (slots_[moved].entry != last || slots_[moved].hash != entries_[last].hash) moved = (moved + 1) & mask_;
      slots_[moved].entry = index;
      entries_[index] = entries_[last];
    }
    entries_.pop_back();
  }
  if (previous) previous->assign(value_of(gone));
  bytes_.fetch_sub(gone.key_size + gone.value_size, std::memory_order_relaxed);
  count_.fetch_sub(1, std::memory_order_relaxed);
  release(gone);
  compact_if_worth_it();
  return Written{true, gone.read};
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
  std::vector<Chunk> chunks;  // unmapped after the lock
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Slot>().swap(slots_);
    std::deque<Entry>().swap(entries_);
    chunks.swap(chunks_);
    free_chunks_.clear();
    mask_ = 0;
    current_ = 0;
  }
  for (const Chunk& chunk : chunks)
    if (chunk.data != nullptr) munmap(chunk.data, chunk.capacity);
  garbage_ = 0;
  bytes_ = 0;
  count_ = 0;
}

// Built apart, swapped in under the lock.
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

Store::Place Store::place(std::string_view key, std::string_view value) {
  size_t size = key.size() + value.size();
  if (chunks_.empty() || chunks_[current_].capacity - chunks_[current_].used < size) new_chunk(size);
  Chunk& chunk = chunks_[current_];
  Place at{current_, static_cast<uint32_t>(chunk.used)};
  if (!key.empty()) std::memcpy(chunk.data + chunk.used, key.data(), key.size());
  if (!value.empty()) std::memcpy(chunk.data + chunk.used + key.size(), value.data(), value.size());
  chunk.used += size;
  chunk.live += size;
  return at;
}

void Store::release(const Entry& entry) {
  size_t size = entry.key_size + entry.value_size;
  chunks_[entry.chunk].live -= size;
  garbage_ += size;
}

void Store::new_chunk(size_t at_least) {
  size_t capacity = std::max(kChunkBytes, (at_least + 4095) / 4096 * 4096);
  Chunk chunk{map_chunk(capacity), capacity, 0, 0};
  std::lock_guard<std::mutex> lock(mutex_);  // the reader indexes chunks_
  if (free_chunks_.empty()) {
    current_ = static_cast<uint32_t>(chunks_.size());
    chunks_.push_back(chunk);
  } else {
    current_ = free_chunks_.back();
    free_chunks_.pop_back();
    chunks_[current_] = chunk;
  }
}

// Once garbage outgrows what is live, the chunks at most half live are copied out and freed: each
// byte written is copied again at most about once on average.
void Store::compact_if_worth_it() {
  if (garbage_ < kCompactAfterBytes || garbage_ < bytes()) return;
  std::vector<bool> victim(chunks_.size(), false);
  bool any = false;
  for (size_t i = 0; i < chunks_.size(); ++i) {
    const Chunk& chunk = chunks_[i];
    if (chunk.data != nullptr && i != current_ && chunk.live * 2 <= chunk.used) victim[i] = any = true;
  }
  if (!any) return;
  ++compactions_;
  std::vector<std::pair<size_t, Place>> moves;
  for (size_t start = 0; start < entries_.size(); start += kCompactSlice) {
    moves.clear();
    size_t end = std::min(entries_.size(), start + kCompactSlice);
    for (size_t i = start; i < end; ++i) {
      const Entry& entry = entries_[i];
      if (entry.chunk < victim.size() && victim[entry.chunk]) moves.emplace_back(i, place(key_of(entry), value_of(entry)));
    }
    if (moves.empty()) continue;
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [index, copy] : moves) {
      entries_[index].chunk = copy.chunk;
      entries_[index].offset = copy.offset;
    }
  }
  std::vector<Chunk> freed;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (size_t i = 0; i < victim.size(); ++i) {
      if (!victim[i]) continue;
      freed.push_back(chunks_[i]);
      chunks_[i] = Chunk{};
      free_chunks_.push_back(static_cast<uint32_t>(i));
    }
  }
  for (const Chunk& chunk : freed) {
    garbage_ -= chunk.used - chunk.live;
    munmap(chunk.data, chunk.capacity);
  }
}

}  // namespace table
}  // namespace cdc
