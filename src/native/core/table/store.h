// The entries of a table, shared by two threads: the table thread writes each record as it reads
// it, the owner's thread (JS) looks up the keys it is asked for. One mutex, held for one record
// or one lookup, so a reader waits at most for one write (the index grows outside it).
//
// The owner keeps its own copies (parsed values) of the entries it read. An entry remembers that
// it was read, so a later write of its key is reported to the owner, which drops its copy, while
// the writes of keys nobody read cost the owner nothing.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace cdc {
namespace table {

class Store {
 public:
  struct Written {
    bool existed = false;  // the key had a value before (copied to *previous when asked)
    bool read = false;     // the owner had read that value: its copy is outdated now
  };

  // Table thread only.
  Written upsert(std::string_view key, std::string_view value, std::string* previous = nullptr);
  Written remove(std::string_view key, std::string* previous = nullptr);
  void clear();

  // Any thread.
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }  // keys and values held
  size_t entries() const { return count_.load(std::memory_order_relaxed); }

  // The owner: calls use(value) under the lock and marks the entry as read. False when absent.
  template <typename Use>
  bool read(std::string_view key, Use&& use) {
    std::lock_guard<std::mutex> lock(mutex_);
    Entry* entry = find_entry(key);
    if (entry == nullptr) return false;
    entry->read = true;
    use(std::string_view(entry->value));
    return true;
  }
  bool contains(std::string_view key);
  // Table thread: brings the key's slot into the cache ahead of its write (a write's one cache miss).
  void prefetch(std::string_view key) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[home(hash_of(key))]);
  }
  // use(key, value) for every entry, under the lock (the writer waits meanwhile).
  template <typename Use>
  void for_each(Use&& use) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const Entry& entry : entries_) use(std::string_view(entry.key), std::string_view(entry.value));
  }

 private:
  struct Entry {
    uint32_t hash = 0;
    std::string key, value;
    bool read = false;
  };
  // 8 bytes, so a probe run stays in one cache line.
  struct Slot {
    uint32_t hash = 0;    // 0: empty (a real 0 is stored as 1)
    uint32_t entry = 0;   // index in entries_
  };
  static uint32_t hash_of(std::string_view key);
  static size_t home(uint32_t hash, size_t mask) { return static_cast<size_t>(hash * 0x9E3779B97F4A7C15ull >> 20) & mask; }
  size_t home(uint32_t hash) const { return home(hash, mask_); }
  size_t find(uint32_t hash, std::string_view key) const;  // the slot holding key, or the empty slot where it would go
  Entry* find_entry(std::string_view key);
  void erase_slot(size_t hole);
  void grow();

  std::mutex mutex_;  // guards what the owner reads: slots_, entries_ and the entries' fields
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  std::deque<Entry> entries_;  // a deque: growing it never moves an entry
  std::atomic<uint64_t> bytes_{0};
  std::atomic<size_t> count_{0};
};

}  // namespace table
}  // namespace cdc
