// Kafka Connect logical types (issue 10, item 7). With JsonConverter schemas, a column's schema
// names how its value is encoded: a NUMERIC as base64 bytes plus a scale, a date as epoch days, a
// timestamp as epoch micros. The decoder turns them into the text PostgreSQL itself prints for
// the column (`10000.00`, `2026-12-01`, `2026-12-01 10:11:12.123456`), so keys and refreshed values
// read the way the application writes them. The schema is read once per schema (see
// SchemaPrefixes), never per message.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cdc {
namespace decoding {

enum class LogicalKind : uint8_t {
  none,              // no decoding: the value is used as it arrives
  decimal,           // org.apache.kafka.connect.data.Decimal: base64 two's complement, fixed scale
  variable_decimal,  // io.debezium.data.VariableScaleDecimal: {"scale":s,"value":base64}
  date,              // epoch days
  time_millis,       // milliseconds of the day
  time_micros,
  time_nanos,
  timestamp_millis,  // since the epoch, no time zone
  timestamp_micros,
  timestamp_nanos,
  json,              // io.debezium.data.Json: JSON text in a string, cached as JSON
};

struct LogicalColumn {
  std::string name;
  LogicalKind kind = LogicalKind::none;
  int32_t scale = 0;  // decimal only
};

// The top-level columns of a row schema that need decoding (others are not listed).
class LogicalColumns {
 public:
  bool empty() const { return columns_.empty(); }
  void clear() {
    columns_.clear();
    next_ = 0;
  }
  // A second column of the same name (a broken schema) is ignored: the first one counts, so that
  // find()'s starting point never changes which column a name gets (found by fuzzing).
  void add(LogicalColumn column) {
    for (const LogicalColumn& known : columns_)
      if (known.name == column.name) return;
    columns_.push_back(std::move(column));
  }
  // Columns come in schema order, like the row's fields: the next one is tried first.
  const LogicalColumn* find(std::string_view name) const {
    for (size_t i = 0; i < columns_.size(); ++i) {
      size_t slot = (next_ + i) % columns_.size();
      if (columns_[slot].name == name) {
        next_ = slot + 1 == columns_.size() ? 0 : slot + 1;
        return &columns_[slot];
      }
    }
    return nullptr;
  }

 private:
  std::vector<LogicalColumn> columns_;
  mutable size_t next_ = 0;
};

// The logical columns of a message schema: of its `after`/`before` struct for a Debezium
// envelope, else of the struct itself (a key, an ExtractNewRecordState row). Empty when the
// schema names none, or is not a struct.
void read_logical_columns(simdjson::dom::element schema, LogicalColumns& out);

// The conversions, each false when the input is not what the type encodes.
// Decimal bytes (base64 of a big-endian two's complement integer) at `scale`: "-0.05".
constexpr int64_t kMaxDecimalScale = 1000;  // PostgreSQL's NUMERIC scale is at most 1000

bool decimal_text(std::string_view base64, int32_t scale, std::string& out);
// Days since 1970-01-01: "2026-12-01"; years before 1 as PostgreSQL prints them ("0044-03-15 BC").
void date_text(int64_t days, std::string& out);
// `value` counts `per_second` units: "10:11:12.00025" (no trailing zeros, like PostgreSQL).
bool time_text(int64_t value, int64_t per_second, std::string& out);
// Since the epoch, in `per_second` units: "2026-12-01 10:11:12.123456".
void timestamp_text(int64_t value, int64_t per_second, std::string& out);
// Units per second of a time or timestamp kind (1000, 1000000, 1000000000), 0 for other kinds.
int64_t units_per_second(LogicalKind kind);

}  // namespace decoding
}  // namespace cdc
