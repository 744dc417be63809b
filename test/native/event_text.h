// Everything a decoded event carries (or the error), as one text: for comparing two decodes.
#pragma once

#include <sstream>
#include <string>

#include "common/status.h"
#include "debezium/change_event.h"

namespace cdc_test {

inline std::string describe_event(const cdc::Status& status, const cdc::ChangeEvent& e) {
  if (!status.ok()) return "error: " + status.message();
  std::ostringstream out;
  auto image = [&](const char* name, const cdc::RowImage& image) {
    out << name << (image.present ? " present " : " absent ") << image.json << "\n";
    for (const cdc::Field& f : image.fields)
      out << "  " << f.path << "=" << f.value << " null=" << f.is_null << " unavailable=" << f.is_unavailable
          << " type=" << static_cast<int>(f.type) << "\n";
  };
  out << "kind " << static_cast<int>(e.kind) << " op " << static_cast<int>(e.op) << " ts " << e.ts_ms << " tx " << e.tx_id
      << " " << e.tx_status << " update " << e.update_description << "\n";
  out << "source " << e.source.connector << "|" << e.source.db << "|" << e.source.schema << "|" << e.source.table << "|"
      << e.source.name << "|" << e.source.position << "|" << e.source.ts_ms << "\n";
  image("before", e.before);
  image("after", e.after);
  image("key", e.key);
  return out.str();
}

}  // namespace cdc_test
