#include "redis/reply_class.h"

namespace cdc {
namespace {

std::string_view first_word(std::string_view text) {
  size_t end = text.find(' ');
  return end == std::string_view::npos ? text : text.substr(0, end);
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

ReplyClass classify_error_reply(std::string_view text) {
  std::string_view code = first_word(text);
  // States of the server or of its role, each ended by time or by an operator, never by the event.
  static constexpr std::string_view kOutages[] = {
      "LOADING", "READONLY", "MASTERDOWN", "BUSY",  "TRYAGAIN", "CLUSTERDOWN",
      "MISCONF", "NOREPLICAS", "MOVED",    "ASK",   "NOMASTERLINK", "UNBLOCKED",
      "NOSCRIPT",  // the script cache was flushed: it is loaded again on reconnect
  };
  for (std::string_view outage : kOutages)
    if (code == outage) return ReplyClass::outage;
  if (code == "OOM") return ReplyClass::out_of_memory;
  // A script that failed because the server refused a write inside it carries the inner code.
  if (code == "ERR") {
    if (starts_with(text, "ERR max number of clients reached")) return ReplyClass::outage;
    if (text.find("-OOM ") != std::string_view::npos || text.find(" OOM ") != std::string_view::npos)
      return ReplyClass::out_of_memory;
    if (text.find("-READONLY ") != std::string_view::npos || text.find("-LOADING ") != std::string_view::npos ||
        text.find("-MISCONF ") != std::string_view::npos)
      return ReplyClass::outage;
  }
  return ReplyClass::permanent;
}

const char* reply_class_name(ReplyClass cls) {
  switch (cls) {
    case ReplyClass::ok: return "ok";
    case ReplyClass::outage: return "outage";
    case ReplyClass::out_of_memory: return "out of memory";
    case ReplyClass::permanent: return "permanent";
  }
  return "?";
}

}  // namespace cdc
