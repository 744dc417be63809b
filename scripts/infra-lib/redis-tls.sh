# shellcheck shell=bash
# TLS Redis for scripts/infra (sourced), and its certificates: two redis-servers that speak TLS
# only, on 127.0.0.1:16390 (client certificates optional) and 127.0.0.1:16391 (client
# certificates required: mutual TLS). INFRA_REDIS_TLS_PORT / INFRA_REDIS_MTLS_PORT move them.
#
# Certificates, signed by the local test CA of .infra/tls (ca.crt, made for Kafka), EC P-256:
#   redis-server.crt/.key  SAN IP:127.0.0.1, DNS:localhost     redis-client.crt/.key  clientAuth
#   other-ca.crt           a CA nobody trusts, and other-server.crt/.key signed by it (wrong-CA tests)
# Made only when missing or no longer signed by ca.crt.
#
# Run directly, it makes the certificates in a directory (with a CA of its own when the directory
# has none): bash scripts/infra-lib/redis-tls.sh certs DIR   (the native tests do).

REDIS_TLS_PORT=${INFRA_REDIS_TLS_PORT:-16390}
REDIS_MTLS_PORT=${INFRA_REDIS_MTLS_PORT:-16391}

# sign_cert DIR NAME CA_NAME "SUBJECT" EXTENDED_KEY_USAGE: an EC key and a certificate DIR/NAME.crt.
sign_cert() {
  local dir=$1 name=$2 ca=$3 subject=$4 usage=$5
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "$subject" \
    -keyout "$dir/$name.key" -out "$dir/$name.csr"
  printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
    "keyUsage=digitalSignature,keyEncipherment" "extendedKeyUsage=$usage" >"$dir/$name.ext"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/$ca.crt" -CAkey "$dir/$ca.key" -CAcreateserial \
    -days 3650 -extfile "$dir/$name.ext" -out "$dir/$name.crt"
  rm -f "$dir/$name.csr" "$dir/$name.ext"
  chmod 600 "$dir/$name.key"
}

make_ca() {
  local dir=$1 name=$2 subject=$3
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 -subj "$subject" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$dir/$name.key" -out "$dir/$name.crt"
  chmod 600 "$dir/$name.key"
}

signed_by() { [[ -f $2 ]] && openssl verify -CAfile "$1" "$2" >/dev/null 2>&1; }

# redis_tls_certs DIR: whatever of the material above is missing or stale.
redis_tls_certs() {
  local dir=$1
  mkdir -p "$dir"
  [[ -f $dir/ca.crt && -f $dir/ca.key ]] || make_ca "$dir" ca "/CN=cdc-cache test CA"
  signed_by "$dir/ca.crt" "$dir/redis-server.crt" ||
    sign_cert "$dir" redis-server ca "/CN=localhost" serverAuth
  signed_by "$dir/ca.crt" "$dir/redis-client.crt" ||
    sign_cert "$dir" redis-client ca "/CN=cdc-cache test client" clientAuth
  [[ -f $dir/other-ca.crt && -f $dir/other-ca.key ]] || make_ca "$dir" other-ca "/CN=cdc-cache untrusted CA"
  signed_by "$dir/other-ca.crt" "$dir/other-server.crt" ||
    sign_cert "$dir" other-server other-ca "/CN=localhost" serverAuth
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then # run directly
  set -euo pipefail
  [[ ${1:-} == certs && -n ${2:-} ]] || { echo "usage: redis-tls.sh certs DIR" >&2; exit 2; }
  redis_tls_certs "$2" >"$2.log" 2>&1 || { cat "$2.log" >&2; exit 1; }
  rm -f "$2.log"
  exit 0
fi

redis_tls_marker() { echo "redis-server 127.0.0.1:$1"; } # its command line once daemonized

redis_tls_ping() {
  local port=$1
  [[ $(redis-cli --tls --cacert "$TLS/ca.crt" --cert "$TLS/redis-client.crt" --key "$TLS/redis-client.key" \
    -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]]
}

# start_one_redis_tls NAME PORT AUTH_CLIENTS
start_one_redis_tls() {
  local name=$1 port=$2 auth=$3
  if live_pid "$RUN/$name.pid" "$(redis_tls_marker "$port")" >/dev/null; then log "$name already running"; return 0; fi
  port_open "$port" && fail "$name" "" "port $port is in use by another process"
  mkdir -p "$DATA/$name"
  redis-server --bind 127.0.0.1 --port 0 --tls-port "$port" --tls-cert-file "$TLS/redis-server.crt" \
    --tls-key-file "$TLS/redis-server.key" --tls-ca-cert-file "$TLS/ca.crt" --tls-auth-clients "$auth" \
    --save "" --appendonly no --daemonize yes --pidfile "$RUN/$name.pid" --logfile "$LOGS/$name.log" \
    --dir "$DATA/$name" 9>&- || fail "$name" "$LOGS/$name.log" "redis-server did not start"
  wait_until "$name" "$LOGS/$name.log" 10 "" "" redis_tls_ping "$port"
  log "$name started on 127.0.0.1:$port (TLS, client certificates $auth)"
}

start_redis_tls() {
  ensure_tls # the test CA (made for Kafka) signs the Redis certificates
  redis_tls_certs "$TLS" >"$LOGS/redis-tls-certs.log" 2>&1 ||
    fail redis-tls "$LOGS/redis-tls-certs.log" "generating the Redis TLS certificates failed"
  start_one_redis_tls redis-tls "$REDIS_TLS_PORT" optional
  start_one_redis_tls redis-mtls "$REDIS_MTLS_PORT" yes
}

stop_redis_tls() {
  stop_pid redis-tls "$RUN/redis-tls.pid" "$(redis_tls_marker "$REDIS_TLS_PORT")"
  stop_pid redis-mtls "$RUN/redis-mtls.pid" "$(redis_tls_marker "$REDIS_MTLS_PORT")"
}

redis_tls_status() {
  local all=0 name port pid
  for name in redis-tls redis-mtls; do
    port=$REDIS_TLS_PORT
    [[ $name == redis-mtls ]] && port=$REDIS_MTLS_PORT
    if pid=$(live_pid "$RUN/$name.pid" "$(redis_tls_marker "$port")"); then
      printf '%-10s running  127.0.0.1:%s (pid %s)\n' "$name" "$port" "$pid"
    else printf '%-10s stopped\n' "$name"; all=1; fi
  done
  return $all
}

redis_tls_env() {
  cat <<EOF
REDIS_TLS_URL=rediss://127.0.0.1:$REDIS_TLS_PORT
REDIS_MTLS_URL=rediss://127.0.0.1:$REDIS_MTLS_PORT
REDIS_TLS_CA_FILE=$TLS/ca.crt
REDIS_TLS_CERT_FILE=$TLS/redis-client.crt
REDIS_TLS_KEY_FILE=$TLS/redis-client.key
REDIS_TLS_OTHER_CA_FILE=$TLS/other-ca.crt
EOF
}
