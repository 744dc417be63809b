// publish()'s producer: the Producer class on the addon's exports.
#pragma once

#include <napi.h>

namespace cdc_addon {

void register_producer(Napi::Env env, Napi::Object exports);

}  // namespace cdc_addon
