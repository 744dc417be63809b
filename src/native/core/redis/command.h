// One Redis command as argv: what rules produce and the Redis connection sends.
#pragma once

#include <string>
#include <vector>

namespace cdc {

// Binary safe, never formatted into a command string.
struct Command {
  std::vector<std::string> argv;
};

}  // namespace cdc
