// libFuzzer target: cdc::Decoder::decode over arbitrary bytes, as value alone or as value + key
// (input format in fuzz_harness.h). One Decoder for the whole run, as the engine thread keeps one.
#include <cstddef>
#include <cstdint>

#include "fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static cdc::Decoder decoder;
  cdc_fuzz::run_decoder_input(decoder, data, size);
  return 0;
}
