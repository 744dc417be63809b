// Decodes Debezium messages (PostgreSQL, MySQL, MongoDB; with or without the JsonConverter schema
// wrapper; ExtractNewRecordState output) with simdjson on-demand. One Decoder per thread, reused:
// it owns the parser and the padded buffers.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "debezium/change_event.h"

namespace cdc {

// What a caller reads of the row images (before, after). By default everything. With
// whole_images false an image holds only the listed top-level columns (with their nested fields,
// and the columns whose names start with one of them and a dot) and no JSON text; the other columns are skipped unread, so decoding costs what the rules use,
// not the table's width. The message key is always decoded in full. Without positions the
// source's position (lsn, txId, binlog file and pos, ord) is left empty, also unread.
struct DecodeNeeds {
  bool whole_images = true;
  std::vector<std::string> columns;
  bool positions = true;
};

class Decoder {
 public:
  Decoder();
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // value_is_null: the Kafka value was null (a tombstone); an empty value is a tombstone too.
  // key may be empty (null key). On error the Status names what is wrong and where
  // ("payload.op: unknown op \"x\"", "value: malformed JSON (...) near byte N").
  //
  // Ownership: value and key are only read during the call (copied into a padded buffer), so the
  // Kafka message may be released afterwards. Everything in `out` is an owned copy. `out` is reset
  // and refilled on every call (its string/vector capacity is reused): move or copy the event if
  // it must outlive the next decode. After an error `out` is unspecified (do not use it).
  Status decode(std::string_view value, bool value_is_null, std::string_view key, ChangeEvent& out);
  void set_needs(DecodeNeeds needs);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cdc
