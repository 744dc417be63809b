// What an error reply from Redis means for the command that got it: wait and resend (the server
// cannot take writes right now), fall back (a refresh refused for memory becomes a delete), or
// give up on the event (retrying cannot cure it: dead letter).
#pragma once

#include <string_view>


namespace cdc {

enum class ReplyClass {
  ok,             // not an error reply
  outage,         // LOADING, READONLY, MASTERDOWN, BUSY, TRYAGAIN, CLUSTERDOWN, MISCONF, NOREPLICAS,
                  // MOVED/ASK, NOSCRIPT, -ERR max clients...: the node is not (yet) able; back off and resend
  out_of_memory,  // OOM: maxmemory reached under noeviction; deletes still pass, writes do not
  permanent,      // WRONGTYPE, NOPERM, syntax and anything unknown: the event's own problem
};

// error_text: the text of an error reply, whose first word is its code ("LOADING Redis is
// loading the dataset in memory"). Never called for other replies.
ReplyClass classify_error_reply(std::string_view error_text);
const char* reply_class_name(ReplyClass cls);

}  // namespace cdc
