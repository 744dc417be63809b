// Registers the Table class (log-backed in-memory tables) on the addon's exports.
#pragma once

#include <napi.h>

namespace cdc_addon {
void register_table(Napi::Env env, Napi::Object exports);
}
