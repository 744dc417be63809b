// Scalar helpers for the decoder: whitespace, JSON number grammar, integers, type names.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string_view>

namespace cdc {
namespace decoding {

namespace od = simdjson::ondemand;

inline std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

inline bool is_blank(std::string_view s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  return true;
}

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

// JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?  (on-demand does not validate
// tokens it is not asked to parse, and we keep numbers as their raw text).
inline bool is_json_number(std::string_view s) {
  size_t i = 0, n = s.size();
  if (i < n && s[i] == '-') ++i;
  if (i >= n) return false;
  if (s[i] == '0') {
    ++i;
  } else if (is_digit(s[i])) {
    while (i < n && is_digit(s[i])) ++i;
  } else {
    return false;
  }
  if (i < n && s[i] == '.') {
    ++i;
    if (i >= n || !is_digit(s[i])) return false;
    while (i < n && is_digit(s[i])) ++i;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= n || !is_digit(s[i])) return false;
    while (i < n && is_digit(s[i])) ++i;
  }
  return i == n;
}

inline bool parse_int64(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  size_t i = 0;
  bool negative = s[0] == '-';
  if (negative) i = 1;
  if (i >= s.size()) return false;
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (!is_digit(s[i])) return false;
    uint64_t d = uint64_t(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (negative) {
    if (v > uint64_t(INT64_MAX) + 1) return false;
    out = v == uint64_t(INT64_MAX) + 1 ? INT64_MIN : -int64_t(v);
  } else {
    if (v > uint64_t(INT64_MAX)) return false;
    out = int64_t(v);
  }
  return true;
}

inline const char* type_name(od::json_type t) {
  switch (t) {
    case od::json_type::array: return "an array";
    case od::json_type::object: return "an object";
    case od::json_type::number: return "a number";
    case od::json_type::string: return "a string";
    case od::json_type::boolean: return "a boolean";
    case od::json_type::null: return "null";
  }
  return "an unknown value";
}

inline bool is_op_letter(char c) {
  return c == 'c' || c == 'u' || c == 'd' || c == 'r' || c == 't' || c == 'm';
}

}  // namespace decoding
}  // namespace cdc
