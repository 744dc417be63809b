// Kafka Connect logical types: reading them from a schema, and their PostgreSQL text forms.
#include "debezium/logical_types.h"

#include <algorithm>
#include <cstdio>

#include "debezium/json_scalars.h"

namespace cdc {
namespace decoding {

namespace {

constexpr size_t kMaxDecimalBase64 = 8 * 1024;  // ~14,000 digits; PostgreSQL's own limit is far above
constexpr int64_t kSecondsPerDay = 86400;

LogicalKind kind_of(std::string_view name) {
  if (name == "org.apache.kafka.connect.data.Decimal") return LogicalKind::decimal;
  if (name == "io.debezium.data.VariableScaleDecimal") return LogicalKind::variable_decimal;
  if (name == "io.debezium.time.Date" || name == "org.apache.kafka.connect.data.Date") return LogicalKind::date;
  if (name == "io.debezium.time.Time" || name == "org.apache.kafka.connect.data.Time") return LogicalKind::time_millis;
  if (name == "io.debezium.time.MicroTime") return LogicalKind::time_micros;
  if (name == "io.debezium.time.NanoTime") return LogicalKind::time_nanos;
  if (name == "io.debezium.time.Timestamp" || name == "org.apache.kafka.connect.data.Timestamp")
    return LogicalKind::timestamp_millis;
  if (name == "io.debezium.time.MicroTimestamp") return LogicalKind::timestamp_micros;
  if (name == "io.debezium.time.NanoTimestamp") return LogicalKind::timestamp_nanos;
  if (name == "io.debezium.data.Json") return LogicalKind::json;
  return LogicalKind::none;  // ZonedTimestamp, ZonedTime, Uuid ... arrive as their text already
}

int base64_digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool base64_decode(std::string_view text, std::vector<uint8_t>& out) {
  out.clear();
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return false;
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    int d = base64_digit(c);
    if (d < 0) return false;
    bits = (bits << 6) | uint32_t(d);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(uint8_t(bits >> count));
    }
  }
  return true;
}

// The decimal digits of a big-endian unsigned magnitude (consumed), most significant first.
std::string magnitude_digits(std::vector<uint8_t>& magnitude) {
  std::string reversed;
  size_t first = 0;
  while (first < magnitude.size()) {
    uint64_t remainder = 0;
    for (size_t i = first; i < magnitude.size(); ++i) {
      uint64_t current = remainder * 256 + magnitude[i];
      magnitude[i] = uint8_t(current / 1000000000u);
      remainder = current % 1000000000u;
    }
    while (first < magnitude.size() && magnitude[first] == 0) ++first;
    for (int i = 0; i < 9 && (remainder != 0 || first < magnitude.size()); ++i) {
      reversed.push_back(char('0' + remainder % 10));
      remainder /= 10;
    }
  }
  if (reversed.empty()) reversed.push_back('0');
  return std::string(reversed.rbegin(), reversed.rend());
}

// y-m-d of days since 1970-01-01 (proleptic Gregorian; year 0 is 1 BC), by 400-year eras.
void civil_from_days(int64_t days, int64_t& year, int& month, int& day) {
  const int64_t z = days + 719468;  // days since 0000-03-01
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t day_of_era = z - era * 146097;
  const int64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t shifted_month = (5 * day_of_year + 2) / 153;  // March = 0
  day = int(day_of_year - (153 * shifted_month + 2) / 5 + 1);
  month = int(shifted_month < 10 ? shifted_month + 3 : shifted_month - 9);
  year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);
}

// "2026-12-01" without the era; bc: the year is before 1 (PostgreSQL appends " BC" at the end).
void append_date(int64_t days, std::string& out, bool& bc) {
  int64_t year;
  int month, day;
  civil_from_days(days, year, month, day);
  bc = year <= 0;
  char text[48];
  std::snprintf(text, sizeof text, "%04lld-%02d-%02d", static_cast<long long>(bc ? 1 - year : year), month, day);
  out.append(text);
}

int fraction_digits(int64_t per_second) { return per_second == 1000 ? 3 : per_second == 1000000 ? 6 : 9; }

// "10:11:12[.fraction]" of units into the day (0 <= units <= a day).
void append_time_of_day(int64_t units, int64_t per_second, std::string& out) {
  const int64_t seconds = units / per_second;
  const int64_t fraction = units % per_second;
  char text[40];
  std::snprintf(text, sizeof text, "%02lld:%02lld:%02lld", static_cast<long long>(seconds / 3600),
                static_cast<long long>(seconds / 60 % 60), static_cast<long long>(seconds % 60));
  out.append(text);
  if (fraction == 0) return;
  std::snprintf(text, sizeof text, ".%0*lld", fraction_digits(per_second), static_cast<long long>(fraction));
  std::string_view digits(text);
  while (digits.back() == '0') digits.remove_suffix(1);
  out.append(digits);
}

}  // namespace

int64_t units_per_second(LogicalKind kind) {
  switch (kind) {
    case LogicalKind::time_millis:
    case LogicalKind::timestamp_millis: return 1000;
    case LogicalKind::time_micros:
    case LogicalKind::timestamp_micros: return 1000000;
    case LogicalKind::time_nanos:
    case LogicalKind::timestamp_nanos: return 1000000000;
    default: return 0;
  }
}

void read_logical_columns(simdjson::dom::element schema, LogicalColumns& out) {
  out.clear();
  simdjson::dom::array fields;
  if (schema["fields"].get_array().get(fields)) return;
  bool has_op = false;
  simdjson::dom::array image_fields;
  bool has_image = false;
  for (simdjson::dom::element field : fields) {
    std::string_view name;
    if (field["field"].get_string().get(name)) continue;
    if (name == "op") has_op = true;
    if ((name == "after" || name == "before") && !has_image) has_image = !field["fields"].get_array().get(image_fields);
  }
  if (has_op && has_image) fields = image_fields;  // a Debezium envelope: the row's columns
  for (simdjson::dom::element field : fields) {
    std::string_view column, type_name;
    if (field["field"].get_string().get(column) || field["name"].get_string().get(type_name)) continue;
    LogicalColumn logical{std::string(column), kind_of(type_name), 0};
    if (logical.kind == LogicalKind::none) continue;
    if (logical.kind == LogicalKind::decimal) {
      std::string_view scale;
      int64_t value = 0;
      if (field["parameters"]["scale"].get_string().get(scale) || !parse_int64(scale, value)) continue;
      // A scale PostgreSQL cannot have is kept out of range (not wrapped), so decimal_text refuses it.
      logical.scale = int32_t(std::clamp<int64_t>(value, -kMaxDecimalScale - 1, kMaxDecimalScale + 1));
    }
    out.add(std::move(logical));
  }
}

bool decimal_text(std::string_view base64, int32_t scale, std::string& out) {
  std::vector<uint8_t> bytes;
  if (scale > kMaxDecimalScale || scale < -kMaxDecimalScale) return false;  // a hostile schema: no huge padding
  if (base64.size() > kMaxDecimalBase64 || !base64_decode(base64, bytes) || bytes.empty()) return false;
  const bool negative = bytes[0] & 0x80;
  if (negative) {  // two's complement: the magnitude is the inverted bytes plus one
    for (uint8_t& b : bytes) b = uint8_t(~b);
    for (size_t i = bytes.size(); i-- > 0;)
      if (++bytes[i] != 0) break;
  }
  std::string digits = magnitude_digits(bytes);
  out.clear();
  if (negative) out.push_back('-');
  if (scale <= 0) {
    out.append(digits);
    if (digits != "0") out.append(size_t(-int64_t(scale)), '0');
    return true;
  }
  if (digits.size() <= size_t(scale)) digits.insert(0, size_t(scale) + 1 - digits.size(), '0');
  out.append(digits, 0, digits.size() - size_t(scale));
  out.push_back('.');
  out.append(digits, digits.size() - size_t(scale), std::string::npos);
  return true;
}

void date_text(int64_t days, std::string& out) {
  out.clear();
  bool bc = false;
  append_date(days, out, bc);
  if (bc) out.append(" BC");
}

bool time_text(int64_t value, int64_t per_second, std::string& out) {
  if (value < 0 || value > kSecondsPerDay * per_second) return false;  // PostgreSQL allows 24:00:00
  out.clear();
  append_time_of_day(value, per_second, out);
  return true;
}

void timestamp_text(int64_t value, int64_t per_second, std::string& out) {
  const int64_t per_day = kSecondsPerDay * per_second;
  int64_t days = value / per_day;
  int64_t units = value % per_day;
  if (units < 0) {
    units += per_day;
    --days;
  }
  out.clear();
  bool bc = false;
  append_date(days, out, bc);
  out.push_back(' ');
  append_time_of_day(units, per_second, out);
  if (bc) out.append(" BC");
}

}  // namespace decoding
}  // namespace cdc
