#include "redis/cluster_slots.h"

#include <charconv>

#include "redis/crc16.h"

namespace cdc {
namespace {

bool parse_int(std::string_view text, int& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find(separator, begin);
    if (end == std::string_view::npos) end = text.size();
    if (end > begin) parts.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return parts;
}

bool has_flag(std::string_view flags, std::string_view flag) {
  for (std::string_view f : split(flags, ','))
    if (f == flag) return true;
  return false;
}

// "0-5460" or "5461"; false for migration entries ("[...]") and nonsense.
bool parse_slot_range(std::string_view text, int& first, int& last) {
  size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    if (!parse_int(text, first)) return false;
    last = first;
  } else if (!parse_int(text.substr(0, dash), first) || !parse_int(text.substr(dash + 1), last)) {
    return false;
  }
  return first >= 0 && first <= last && last < kClusterSlots;
}

}  // namespace

std::string ClusterAddress::name() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Status parse_cluster_address(std::string_view text, ClusterAddress& out) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return Status::Error("expected host:port, got \"" + std::string(text) + "\"");
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  if (host.empty() || host.find_first_of(" /@[]") != std::string_view::npos)
    return Status::Error("expected host:port, got \"" + std::string(text) + "\"");
  if (!parse_int(text.substr(colon + 1), port) || port < 1 || port > 65535)
    return Status::Error("port must be 1-65535 in \"" + std::string(text) + "\"");
  out.host = std::string(host);
  out.port = port;
  return Status::Ok();
}

Status parse_cluster_nodes(std::string_view text, ClusterTopology& out) {
  out = ClusterTopology{};
  for (std::string_view line : split(text, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::vector<std::string_view> fields = split(line, ' ');
    if (fields.size() < 8) return Status::Error("CLUSTER NODES: unexpected line \"" + std::string(line) + "\"");
    std::string_view flags = fields[2];
    if (!has_flag(flags, "master") || has_flag(flags, "fail") || has_flag(flags, "noaddr") ||
        has_flag(flags, "handshake"))
      continue;
    std::string_view address = fields[1].substr(0, fields[1].find('@'));  // ip:port@cport[,hostname]
    ClusterAddress node;
    if (!parse_cluster_address(address, node).ok()) continue;  // ":0": no address yet
    size_t index = out.masters.size();
    out.masters.push_back(std::move(node));
    for (size_t i = 8; i < fields.size(); ++i) {
      SlotRange range{0, 0, index};
      if (parse_slot_range(fields[i], range.first, range.last)) out.ranges.push_back(range);
    }
  }
  return Status::Ok();
}

bool parse_redirect(std::string_view error, const std::string& from_host, Redirect& out) {
  std::vector<std::string_view> words = split(error, ' ');
  if (words.size() != 3 || (words[0] != "MOVED" && words[0] != "ASK")) return false;
  out.ask = words[0] == "ASK";
  if (!parse_int(words[1], out.slot) || out.slot < 0 || out.slot >= kClusterSlots) return false;
  std::string address(words[2]);
  if (!address.empty() && address.front() == ':') address = from_host + address;
  return parse_cluster_address(address, out.to).ok();
}

}  // namespace cdc
