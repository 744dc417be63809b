// Small helpers for writing JSON text (refresh values, explain output, error messages).
#pragma once

#include <string>
#include <string_view>

namespace cdc {

// Appends s as a JSON string literal (with quotes). s is UTF-8; control characters, quotes and
// backslashes are escaped, everything else is copied.
inline void append_json_string(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

// A short quoted rendering of untrusted text for error messages (at most max_len bytes of it).
inline std::string quote_for_message(std::string_view s, size_t max_len = 64) {
  std::string out;
  bool cut = s.size() > max_len;
  if (cut) s = s.substr(0, max_len);
  append_json_string(out, s);
  if (cut) out.insert(out.size() - 1, "...");
  return out;
}

}  // namespace cdc
