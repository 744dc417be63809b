// "What would this event do?": decodes one Kafka message with the production decoder, plans it with
// the production rules, and describes both as JSON. Used by the cdc_explain CLI and the addon.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace cdc {

// rules_json: the `rules` array, or an object holding `rules` (plus optional `keyPrefix` and
// `deleteCommand`, so the engine config itself can be passed). value_is_null or an empty value is a
// tombstone; an empty key is a null key. On success out_json is
// {"event":{"kind","op","source":{"connector","db","schema","table"},"before","after"},"commands":[[...]]}.
// Errors name what is wrong and where (decoder path, or rules[i].field).
Status explain(std::string_view rules_json, std::string_view value, bool value_is_null, std::string_view key,
               std::string& out_json);

}  // namespace cdc
