# Redis Cluster for the cluster tests: six redis-server processes on loopback ports 17100-17105
# (INFRA_REDIS_CLUSTER_PORT: the first of six), joined once into three masters with one replica
# each. Data (nodes.conf) under .infra/data/redis-cluster/<port>; started only where missing, so a
# node a test killed comes back as the replica of whoever took over. Sourced by scripts/infra,
# whose helpers it uses (log, fail, live_pid, wait_until, port_open, stop_pid).
# A short node timeout: a killed master's replica takes over within a few seconds.

REDIS_CLUSTER_PORT=${INFRA_REDIS_CLUSTER_PORT:-17100}
REDIS_CLUSTER_PORTS=$(seq "$REDIS_CLUSTER_PORT" $((REDIS_CLUSTER_PORT + 5)))
REDIS_CLUSTER_DATA=$DATA/redis-cluster

redis_cluster_nodes() {
  local port list=""
  for port in $REDIS_CLUSTER_PORTS; do list+="${list:+,}127.0.0.1:$port"; done
  echo "$list"
}

redis_cluster_marker() { echo "redis-server 127.0.0.1:$1 [cluster]"; }

start_redis_cluster_node() {
  local port=$1 dir=$REDIS_CLUSTER_DATA/$1
  live_pid "$RUN/redis-cluster-$port.pid" "$(redis_cluster_marker "$port")" >/dev/null && return 0
  port_open "$port" && fail redis-cluster "" "port $port is in use by another process"
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$port" --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-node-timeout 2000 --cluster-replica-validity-factor 0 --save "" --appendonly no \
    --daemonize yes --pidfile "$RUN/redis-cluster-$port.pid" --logfile "$LOGS/redis-cluster-$port.log" \
    --dir "$dir" 9>&- || fail redis-cluster "$LOGS/redis-cluster-$port.log" "redis-server on $port did not start"
  wait_until redis-cluster "$LOGS/redis-cluster-$port.log" 10 "" "" redis_cluster_ping "$port"
  log "redis cluster node started on 127.0.0.1:$port"
}

redis_cluster_ping() { [[ $(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null) == PONG ]]; }
redis_cluster_info() { redis-cli -h 127.0.0.1 -p "$1" cluster info 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }
redis_cluster_ok() {
  local port
  for port in $REDIS_CLUSTER_PORTS; do [[ $(redis_cluster_info "$port" cluster_state) == ok ]] || return 1; done
}

start_redis_cluster() {
  local port addresses=()
  for port in $REDIS_CLUSTER_PORTS; do start_redis_cluster_node "$port"; done
  if [[ $(redis_cluster_info "$REDIS_CLUSTER_PORT" cluster_known_nodes) == 1 ]]; then
    for port in $REDIS_CLUSTER_PORTS; do addresses+=("127.0.0.1:$port"); done
    redis-cli --cluster create "${addresses[@]}" --cluster-replicas 1 --cluster-yes \
      >"$LOGS/redis-cluster-create.log" 2>&1 || fail redis-cluster "$LOGS/redis-cluster-create.log" "cluster create failed"
  fi
  wait_until redis-cluster "$LOGS/redis-cluster-$REDIS_CLUSTER_PORT.log" 60 "" "" redis_cluster_ok
  log "redis cluster ok on $(redis_cluster_nodes)"
}

stop_redis_cluster() {
  local port
  for port in $REDIS_CLUSTER_PORTS; do
    stop_pid "redis-cluster $port" "$RUN/redis-cluster-$port.pid" "$(redis_cluster_marker "$port")"
  done
}

redis_cluster_status() {
  local port all=0 state
  for port in $REDIS_CLUSTER_PORTS; do
    live_pid "$RUN/redis-cluster-$port.pid" "$(redis_cluster_marker "$port")" >/dev/null || all=1
  done
  state=$(redis_cluster_info "$REDIS_CLUSTER_PORT" cluster_state)
  if ((all == 0)) && [[ $state == ok ]]; then
    printf '%-10s running  %s (cluster_state:ok)\n' redis-clu "$(redis_cluster_nodes)"
  else
    printf '%-10s stopped  (some of %s down, cluster_state:%s)\n' redis-clu "$(redis_cluster_nodes)" "${state:-unreachable}"
    return 1
  fi
}
