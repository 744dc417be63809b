// Replays every input the fuzzers ever crashed on (test/fixtures/fuzz-regressions/) through the same
// harness the fuzzers use (test/fuzz/fuzz_harness.h): a file named decoder-*.bin goes through the
// decoder, templates-*.bin through parse_rules_json / RuleSet::compile / plan(). A case fails by
// crashing; run under CDC_SANITIZE=address,undefined to also catch silent memory errors.
// The Debezium fixtures themselves are replayed too, so the harness is known to work.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "../fuzz/fuzz_harness.h"

namespace fs = std::filesystem;

namespace {

const fs::path kRegressionsDir = fs::path(CDC_FIXTURES_DIR) / ".." / "fuzz-regressions";

std::vector<std::string> files_in(const fs::path& dir, const std::string& prefix) {
  std::vector<std::string> names;
  if (!fs::is_directory(dir)) return names;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.rfind(prefix, 0) == 0 && name != "README.md")
      names.push_back(fs::relative(entry.path(), dir).string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string test_name(const testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& c : name)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

void replay_decoder(const std::string& bytes) {
  cdc::Decoder decoder;
  cdc_fuzz::run_decoder_input(decoder, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

const cdc_fuzz::TemplateFixtures& template_fixtures() {
  static const cdc_fuzz::TemplateFixtures fixtures(CDC_FIXTURES_DIR);
  return fixtures;
}

}  // namespace

TEST(FuzzRegressions, FolderExists) {
  ASSERT_TRUE(fs::is_directory(kRegressionsDir)) << kRegressionsDir;
}

class DecoderRegression : public testing::TestWithParam<std::string> {};
TEST_P(DecoderRegression, DoesNotCrash) {
  replay_decoder(cdc_fuzz::read_file((kRegressionsDir / GetParam()).string()));
}
INSTANTIATE_TEST_SUITE_P(FuzzRegressions, DecoderRegression,
                         testing::ValuesIn(files_in(kRegressionsDir, "decoder-")), test_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(DecoderRegression);

class TemplatesRegression : public testing::TestWithParam<std::string> {};
TEST_P(TemplatesRegression, DoesNotCrash) {
  std::string bytes = cdc_fuzz::read_file((kRegressionsDir / GetParam()).string());
  cdc_fuzz::run_templates_input(template_fixtures(), reinterpret_cast<const uint8_t*>(bytes.data()),
                                bytes.size());
}
INSTANTIATE_TEST_SUITE_P(FuzzRegressions, TemplatesRegression,
                         testing::ValuesIn(files_in(kRegressionsDir, "templates-")), test_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(TemplatesRegression);

// The harness itself: every fixture decodes through it, and the template fixtures load.
TEST(FuzzRegressions, HarnessReplaysTheDebeziumFixtures) {
  std::vector<std::string> fixtures = files_in(CDC_FIXTURES_DIR, "");
  ASSERT_GT(fixtures.size(), 20u);
  for (const std::string& name : fixtures) {
    if (name.size() < 5 || name.substr(name.size() - 3) == ".md") continue;
    SCOPED_TRACE(name);
    replay_decoder(cdc_fuzz::read_file((fs::path(CDC_FIXTURES_DIR) / name).string()));
  }
  EXPECT_EQ(template_fixtures().events.size(), 6u);
  std::string rules = R"([{"source":"public.customers","invalidate":["customer:{id}"]}])";
  cdc_fuzz::run_templates_input(template_fixtures(), reinterpret_cast<const uint8_t*>(rules.data()), rules.size());
}
