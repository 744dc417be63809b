#include "redis/transport.h"

#include <utility>

#include "redis/cluster_transport.h"
#include "redis/node_transport.h"

namespace cdc {

RedisTransport::RedisTransport(RedisEndpoint endpoint, RedisOptions options, OutagePolicy policy, LogFn log,
                               std::function<void()> on_down, std::vector<ClusterAddress> cluster_nodes) {
  if (cluster_nodes.empty()) {
    impl_ = std::make_unique<NodeTransport>(std::move(endpoint), options, std::move(policy), std::move(log),
                                            std::move(on_down));
  } else {
    impl_ = std::make_unique<ClusterTransport>(std::move(cluster_nodes), std::move(endpoint), options,
                                               std::move(policy), std::move(log), std::move(on_down));
  }
}

}  // namespace cdc
