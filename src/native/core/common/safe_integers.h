// JavaScript numbers are doubles: an integer beyond 2^53 (a BIGINT id, a Debezium lsn) would reach
// a handler rounded (9007199254740993 -> ...992). Such integers are quoted in the JSON handed to
// JavaScript, so JSON.parse yields their exact digits as a string; smaller ones stay numbers.
#pragma once

#include <string>
#include <string_view>

namespace cdc {

// True when `token` (a JSON number token) is an integer a double cannot hold exactly.
bool beyond_safe_integer(std::string_view token);

// `json` with every integer beyond +-(2^53 - 1) quoted; other text unchanged byte for byte. The
// input is a valid JSON text (the decoder wrote it).
std::string quote_unsafe_integers(std::string_view json);

}  // namespace cdc
