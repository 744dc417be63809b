// Reading the Debezium fixtures (test/fixtures/debezium) in native tests.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace cdc_test {

inline const std::string kFixtures = CDC_FIXTURES_DIR;

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace cdc_test
