// The read side's addon class (reader.cc), registered by module.cc.
#pragma once

#include <napi.h>

namespace cdc_addon {

// exports.Reader: the LeaseClient over hiredis behind getOrLoad.
void RegisterReader(Napi::Env env, Napi::Object exports);

}  // namespace cdc_addon
