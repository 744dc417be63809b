// Application messages (onMessage) as JS objects.
#pragma once

#include <napi.h>

#include <vector>

#include "engine/engine.h"

namespace cdc_addon {

// [{topic, partition, offset, timestampMs, key, value, headers, id}]: value decoded as its
// handler asked (json: JSON.parse of the engine's text, exact 64-bit integers as strings).
Napi::Array app_messages_to_js(Napi::Env env, const std::vector<cdc::HandlerEvent>& events);

}  // namespace cdc_addon
