#include "common/safe_integers.h"

namespace cdc {
namespace {

constexpr std::string_view kMaxSafe = "9007199254740991";  // 2^53 - 1

bool is_number_char(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

}  // namespace

bool beyond_safe_integer(std::string_view token) {
  std::string_view digits = !token.empty() && token.front() == '-' ? token.substr(1) : token;
  if (digits.empty() || digits.size() < kMaxSafe.size()) return false;
  for (char c : digits)
    if (c < '0' || c > '9') return false;  // a fraction or exponent: a double anyway
  if (digits.size() > kMaxSafe.size()) return true;
  return digits > kMaxSafe;  // same length: compares as numbers
}

std::string quote_unsafe_integers(std::string_view json) {
  std::string out;
  size_t copied = 0;  // json[0, copied) is in out (or out is still empty: nothing to change)
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (in_string) {
      if (c == '\\') ++i;  // the escaped character cannot end the string
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (c != '-' && (c < '0' || c > '9')) continue;
    size_t end = i;
    while (end < json.size() && is_number_char(json[end])) ++end;
    std::string_view token = json.substr(i, end - i);
    if (beyond_safe_integer(token)) {
      if (out.empty()) out.reserve(json.size() + 8);
      out.append(json.substr(copied, i - copied)).push_back('"');
      out.append(token).push_back('"');
      copied = end;
    }
    i = end - 1;
  }
  if (copied == 0) return std::string(json);
  out.append(json.substr(copied));
  return out;
}

}  // namespace cdc
