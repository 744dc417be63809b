// The entries of a table, shared by two threads: the table thread writes each record as it reads
// it, the owner's thread (JS) looks up the keys it is asked for. One mutex, held for a few pointer
// moves per write and for one lookup per read: a reader never waits for an allocation, a copy or
// the index growing, which the writer (the only one) does outside it.
//
// Keys and values are copied back to back into large chunks (no allocation per record, 24 bytes
// of entry and 16 of index per key besides). A rewrite or a remove leaves garbage in its chunk; once
// garbage outgrows what is live (and kCompactAfterBytes), the chunks mostly garbage are emptied
// into fresh ones and freed.
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

  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  ~Store();

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
    use(value_of(*entry));
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
    for (const Entry& entry : entries_) use(key_of(entry), value_of(entry));
  }

  // For tests: chunks allocated now, and compactions so far.
  size_t chunks() const { return chunks_.size() - free_chunks_.size(); }
  uint64_t compactions() const { return compactions_; }

  static constexpr size_t kChunkBytes = size_t{4} << 20;
  static constexpr uint64_t kCompactAfterBytes = uint64_t{32} << 20;

 private:
  struct Entry {
    uint32_t hash = 0;
    uint32_t chunk = 0, offset = 0;  // where the key is, the value right after it
    uint32_t key_size = 0, value_size = 0;
    bool read = false;
  };
  // 8 bytes, so a probe run stays in one cache line.
  struct Slot {
    uint32_t hash = 0;    // 0: empty (a real 0 is stored as 1)
    uint32_t entry = 0;   // index in entries_
  };
  struct Chunk {
    char* data = nullptr;  // mmap'ed; nullptr once freed (its index is reused)
    size_t capacity = 0, used = 0, live = 0;
  };
  struct Place {
    uint32_t chunk, offset;
  };

  static uint32_t hash_of(std::string_view key);
  static size_t home(uint32_t hash, size_t mask) { return static_cast<size_t>(hash * 0x9E3779B97F4A7C15ull >> 20) & mask; }
  size_t home(uint32_t hash) const { return home(hash, mask_); }
  std::string_view key_of(const Entry& entry) const { return {chunks_[entry.chunk].data + entry.offset, entry.key_size}; }
  std::string_view value_of(const Entry& entry) const {
    return {chunks_[entry.chunk].data + entry.offset + entry.key_size, entry.value_size};
  }
  size_t find(uint32_t hash, std::string_view key) const;  // the slot holding key, or the empty slot where it would go
  Entry* find_entry(std::string_view key);
  void erase_slot(size_t hole);
  void grow();
  Place place(std::string_view key, std::string_view value);  // copies both into a chunk
  void release(const Entry& entry);  // its copy is garbage now
  void new_chunk(size_t at_least);
  void compact_if_worth_it();

  std::mutex mutex_;  // guards what the owner reads: slots_, entries_, chunks_ (the vector) and entry fields
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  std::deque<Entry> entries_;  // a deque: growing it never moves an entry
  std::vector<Chunk> chunks_;
  std::vector<uint32_t> free_chunks_;
  uint32_t current_ = 0;  // the chunk new copies go to (chunks_ empty: none yet)
  uint64_t garbage_ = 0, compactions_ = 0;
  std::atomic<uint64_t> bytes_{0};
  std::atomic<size_t> count_{0};
};

}  // namespace table
}  // namespace cdc
