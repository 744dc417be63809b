// The size of every key a table holds, by the key's 64-bit hash: the byte accounting behind
// maxBytes without a copy of the keys. Open addressing with linear probing in one flat array (a
// node-based std::unordered_map cost a third of a 1M-record load in allocations and cache misses).
// Two keys with one hash share an entry (their sizes are then approximate): 1 in 2^64.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace cdc {
namespace table {

class SizeIndex {
 public:
  // Sets the key's size; returns the size it had (0 when absent).
  uint32_t set(uint64_t hash, uint32_t size);
  // Removes the key; returns the size it had (0 when absent).
  uint32_t remove(uint64_t hash);
  void clear();
  size_t size() const { return count_; }

 private:
  struct Slot {
    uint64_t hash = 0;  // 0: empty (a real 0 is stored as 1)
    uint32_t size = 0;
  };
  static uint64_t stored(uint64_t hash) { return hash == 0 ? 1 : hash; }
  size_t home(uint64_t hash) const { return static_cast<size_t>(hash * 0x9E3779B97F4A7C15ull) & mask_; }
  size_t find(uint64_t hash) const;  // the slot holding hash, or the empty slot where it would go
  void grow();

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t count_ = 0;
};

}  // namespace table
}  // namespace cdc
