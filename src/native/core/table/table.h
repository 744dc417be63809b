// A log-backed table: one native thread reads every partition of a topic from the beginning (no
// consumer group, no commits), decodes each record (raw key/value, or a Debezium change by primary
// key) and applies it to the table's Store, which the owner reads (table/store.h). The owner gets
// bounded batches of what it must know: each partition's position, the records whose keys it had
// read (its copies are outdated), and with report_changes every record with its previous value.
// Puts go through an idempotent producer (acks=all); its delivery reports come back with the position.
//
// Readiness is computed by the owner from two things this side reports: the end offsets
// snapshotted at open (with read_committed, the last stable offset) and, with every batch, each
// partition's position. A position advances past records and, through librdkafka's partition-EOF
// event, past transaction markers and aborted records, so a log ending in a commit marker still
// reaches its end (the KAFKA-12951 bug class).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/log.h"
#include "common/status.h"
#include "debezium/change_event.h"
#include "table/store.h"

namespace cdc {
namespace table {

using LogLevel = cdc::LogLevel;

struct Settings {
  std::string brokers;
  std::string topic;
  std::vector<std::pair<std::string, std::string>> properties;  // librdkafka, user's
  bool debezium = false;     // decode Debezium changes: key = primary key text, value = after image
  bool json_values = false;  // raw values must be JSON: invalid ones are skipped (and counted) here
  bool json_keys = false;    // raw keys are JSON: held as JSON.stringify writes them
  bool text_keys = false;    // raw keys are UTF-8 text: invalid sequences held as U+FFFD, as JS decodes them
  bool report_changes = false;  // at start: every record goes to the owner (see Table::report_changes)
  uint64_t max_bytes = 0;    // keys and values held beyond it: the table stops applying (0: no limit)
  bool writable = false;     // create the idempotent producer for put()
  size_t batch_records = 4096;        // records reported to the owner per batch
  size_t batch_applied = 65536;       // records applied per batch (the owner's positions move at least that often)
  size_t batch_bytes = size_t{2} << 20;
  int max_batches_in_flight = 2;      // batches handed over and not yet acknowledged
  int64_t prefetch_bytes = int64_t{32} << 20;  // fetched ahead while the owner applies (kafka::PrefetchingConsumer)
  int open_timeout_ms = 30000;        // metadata and end offsets at open
  int metadata_interval_ms = 10000;   // how often the partition count is checked
};

enum class RecordKind : uint8_t { upsert = 0, remove = 1, clear = 2 };

// Flags of Batch::flags: the key / value / previous value is 7-bit ASCII (JS takes it as Latin-1: a
// copy, no UTF-8 decoding); the record carries its values (report_changes), the key had a value before.
constexpr uint8_t kKeyAscii = 1, kValueAscii = 2, kPreviousAscii = 4, kReported = 8, kHadPrevious = 16;

struct PartitionPosition {
  int32_t partition = 0;
  int64_t position = 0;        // next offset to read (past markers too)
  int64_t high_watermark = -1; // last known end of the log, -1 when unknown
};

// The records the owner must know of, packed into a few buffers: record i's key is
// keys[key_ends[i-1], key_ends[i]) (from 0 for i = 0), its value and previous value likewise in
// values and previous (empty unless reported).
struct Batch {
  std::string keys, values, previous;
  std::vector<uint32_t> key_ends, value_ends, previous_ends;
  std::vector<RecordKind> kinds;
  std::vector<uint8_t> flags;
  std::vector<int32_t> partitions;
  std::vector<int64_t> offsets;
  std::vector<PartitionPosition> positions;  // partitions whose position moved, as of this batch's end
  uint64_t decode_errors = 0;               // records skipped because they could not be decoded
  size_t applied = 0;                       // records applied to the store, reported or not
  uint64_t bytes = 0, entries = 0;          // the store's, as of this batch's end
  std::string failure;                      // set once the table stopped applying (maxBytes exceeded)
  size_t size() const { return kinds.size(); }
};

struct PartitionEnd {
  int32_t partition = 0;
  int64_t start = 0;  // the log start offset: where a position begins
  int64_t end = 0;    // the offset a position must reach
};

// Called on the table's threads; each must only hand its argument over (never block long).
struct Callbacks {
  std::function<void(const Status&, std::vector<PartitionEnd>)> opened;   // once
  std::function<void(Batch&&)> batch;
  std::function<void(uint64_t token, const Status&, int32_t partition, int64_t offset)> put_done;
  std::function<void(uint64_t token, const Status&, std::vector<PartitionEnd>)> ends;  // for sync()
  std::function<void(std::vector<PartitionEnd>)> partitions_added;   // the topic was repartitioned
  std::function<void(LogLevel, std::string)> log;
  std::function<void()> closed;  // the last call
};

class Table {
 public:
  // Fails naming the setting ("kafka.config.x: ...") when a client cannot be configured.
  static Status create(Settings settings, Callbacks callbacks, std::unique_ptr<Table>& out);
  ~Table();

  Status start();  // starts the thread; opened() follows
  // The owner applied one batch: the thread may hand over another.
  void ack_batch();
  // Produces key -> value (value_is_null: a tombstone). put_done(token, ...) follows.
  Status put(uint64_t token, std::string key, std::string value, bool value_is_null);
  // The entries, for the owner to read (lives as long as this table).
  Store& store();
  // Every record goes to the owner from now on (it has change listeners), or only those it must know.
  void report_changes(bool on);
  // Snapshots the end offsets now (off the caller's thread); ends(token, ...) follows.
  void request_ends(uint64_t token);
  // Asks the thread to finish: flushes puts (bounded), closes the clients, then closed().
  void stop();
  // Waits up to timeout_ms for the thread to end. Never call it on the owner's event loop with a
  // non-zero timeout.
  bool join(int timeout_ms);

  // Tables not yet destroyed in this process (a closed table must not outlive its owner).
  static int64_t alive();

 private:
  struct Impl;
  explicit Table(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The table key of a Debezium message key: its single field's canonical text (the same text a
// "{id}" key template renders), or with a composite key, the fields' texts joined with ':' in key
// order. False when the key has no usable field (none, null, or a nested JSON value).
bool debezium_key_text(const RowImage& key, std::string& out);

}  // namespace table
}  // namespace cdc
