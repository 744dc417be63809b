// libFuzzer target: rules from arbitrary text, both as rules JSON (parse_rules_json) and as template
// lines compiled by RuleSet::compile, then plan() over real fixture events decoded once at startup
// (input format in fuzz_harness.h).
#include <cstddef>
#include <cstdint>

#include "fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const cdc_fuzz::TemplateFixtures fixtures(CDC_FIXTURES_DIR);
  cdc_fuzz::run_templates_input(fixtures, data, size);
  return 0;
}
