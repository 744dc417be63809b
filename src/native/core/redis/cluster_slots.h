// Redis Cluster topology: node addresses, who serves which hash slots (from CLUSTER NODES, whose
// reply is one bulk string), and the MOVED / ASK redirections a node answers with.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace cdc {

struct ClusterAddress {
  std::string host;
  int port = 0;
  std::string name() const;  // "host:port" ("[::1]:port" for IPv6)
  bool operator==(const ClusterAddress& other) const { return host == other.host && port == other.port; }
};

// "host:port" or "[v6]:port", port 1-65535. Errors say what is wrong, not where (callers prefix).
Status parse_cluster_address(std::string_view text, ClusterAddress& out);

struct SlotRange {
  int first = 0, last = 0;  // inclusive
  size_t master = 0;        // index into ClusterTopology::masters
};

struct ClusterTopology {
  std::vector<ClusterAddress> masters;  // serving masters only (not failed, with an address)
  std::vector<SlotRange> ranges;
};

// Parses CLUSTER NODES. A master flagged fail (or without an address) serves nothing: its slots
// stay unassigned until a replica takes over. Migrating/importing entries ("[slot->-id]") are
// skipped: the source still owns such a slot.
Status parse_cluster_nodes(std::string_view text, ClusterTopology& out);

struct Redirect {
  bool ask = false;  // ASK: this command only, once; MOVED: the slot has a new owner
  int slot = -1;
  ClusterAddress to;
};

// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381"; false for any other error text. An
// empty host (":6381") means the host of the node that answered (`from_host`).
bool parse_redirect(std::string_view error, const std::string& from_host, Redirect& out);

}  // namespace cdc
