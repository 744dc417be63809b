# MariaDB, the second source: Debian's MariaDB 10.11 as a local process, captured by Debezium's MySQL
# connector 2.6.2 with connector.adapter=mariadb (topic prefix mariadb1; why this version: README). Sourced by scripts/infra, whose helpers it uses (log, fail,
# live_pid, wait_until, port_open, stop_pid, register_connector).
#
# The server runs as the user who runs scripts/infra (as root: --user=root, so the data dir below the
# checkout needs no other OS user to reach it). Its own option file, never /etc/mysql.

MARIADB_PORT=${INFRA_MARIADB_PORT:-13306}
MARIADB_DATA=$DATA/mariadb
MARIADB_SOCKET=$RUN/mariadb/mariadb.sock
MARIADB_CONFIG=$INFRA/mariadb.cnf
MARIADB_USER=cdc_cache # the connector's user and the tests' (password = user name, loopback only)
MARIADB_CONNECTOR_FILE=$LIB/connectors/inventory-mariadb.json
MARIADB_PLUGIN_DIR=$JARS/plugins/debezium-connector-mysql
MARIADB_CONNECTOR_CLASS=io.debezium.connector.mysql.MySqlConnector

# The connector version the plugin folder holds (the pom's debezium.version).
mysql_plugin_version() { sed -n 's:.*<debezium.version>\(.*\)</debezium.version>.*:\1:p' "$LIB/debezium-mysql/pom.xml"; }

# Its own stamp, the connector version: resolving it never touches the jars the running Kafka and
# Connect use, and a new version is resolved aside and swapped in whole (Connect reloads it below).
ensure_mysql_plugin_jars() {
  local version
  version=$(mysql_plugin_version)
  [[ -f $MARIADB_PLUGIN_DIR/.stamp && $(cat "$MARIADB_PLUGIN_DIR/.stamp") == "$version" ]] && return 0
  log "resolving the Debezium MySQL connector $version jars with Maven (for MariaDB)"
  rm -rf "$MARIADB_PLUGIN_DIR.tmp"
  mvn -q -B -f "$LIB/debezium-mysql/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DexcludeGroupIds=org.apache.kafka,org.slf4j -DoutputDirectory="$MARIADB_PLUGIN_DIR.tmp" >"$LOGS/maven-mysql.log" 2>&1 ||
    fail maven "$LOGS/maven-mysql.log" "could not resolve the Debezium MySQL connector jars"
  echo "$version" >"$MARIADB_PLUGIN_DIR.tmp/.stamp"
  rm -rf "$MARIADB_PLUGIN_DIR"
  mv "$MARIADB_PLUGIN_DIR.tmp" "$MARIADB_PLUGIN_DIR"
}

mariadb_config() {
  cat <<EOF
[mariadbd]
$([[ $(id -u) == 0 ]] && echo "user = root")
datadir = $MARIADB_DATA
socket = $MARIADB_SOCKET
pid-file = $RUN/mariadb/mariadbd.pid
log-error = $LOGS/mariadb.log
bind-address = 127.0.0.1
port = $MARIADB_PORT
skip-name-resolve
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
# What Debezium reads: a row-based binlog with full before images, GTIDs checked strictly.
server-id = 1
log-bin = mariadb-bin
binlog-format = ROW
binlog-row-image = FULL
gtid-domain-id = 0
gtid-strict-mode = ON
binlog-expire-logs-seconds = 172800
# Small and quick: throwaway local data, durability is not worth the disk syncs.
innodb-buffer-pool-size = 64M
innodb-log-file-size = 32M
innodb-flush-log-at-trx-commit = 0
innodb-doublewrite = 0
sync-binlog = 0
performance-schema = OFF
EOF
}

# Admin access over the socket as the OS user who installed the data dir (unix_socket authentication).
mariadb_admin() { mariadb --no-defaults --socket="$MARIADB_SOCKET" -u"$(id -un)" "$@"; }
mariadb_ready() { mariadb_admin -N -e 'SELECT 1' >/dev/null 2>&1; }
mariadb_pid() { live_pid "$RUN/mariadb.pid" "$MARIADB_CONFIG"; }

init_mariadb() {
  mkdir -p "$MARIADB_DATA"
  mariadb-install-db --no-defaults --datadir="$MARIADB_DATA" --auth-root-authentication-method=socket \
    --auth-root-socket-user="$(id -un)" --skip-test-db $([[ $(id -u) == 0 ]] && echo --user=root) \
    >"$LOGS/mariadb-install.log" 2>&1 || fail mariadb "$LOGS/mariadb-install.log" "mariadb-install-db failed"
}

start_mariadb() {
  if mariadb_pid >/dev/null; then log "mariadb already running"; return 0; fi
  port_open "$MARIADB_PORT" && fail mariadb "" "port $MARIADB_PORT is in use by another process"
  command -v mariadbd >/dev/null || fail mariadb "" "mariadbd not found (install mariadb-server: scripts/setup)"
  mkdir -p "$RUN/mariadb"
  mariadb_config >"$MARIADB_CONFIG"
  [[ -d $MARIADB_DATA/mysql ]] || init_mariadb
  [[ -f $LOGS/mariadb.log ]] && mv "$LOGS/mariadb.log" "$LOGS/mariadb.log.prev"
  setsid mariadbd --defaults-file="$MARIADB_CONFIG" >>"$LOGS/mariadb.log" 2>&1 </dev/null 9>&- &
  echo $! >"$RUN/mariadb.pid"
  wait_until mariadb "$LOGS/mariadb.log" 60 "$RUN/mariadb.pid" "$MARIADB_CONFIG" mariadb_ready
  log "mariadb started on 127.0.0.1:$MARIADB_PORT"
}

seed_mariadb() {
  [[ $(mariadb_admin -N -e "SELECT 1 FROM information_schema.schemata WHERE schema_name = 'inventory'") == 1 ]] &&
    return 0
  {
    # The replication grants Debezium's MySQL connector needs (snapshot: RELOAD, LOCK TABLES; binlog:
    # REPLICATION SLAVE, REPLICATION CLIENT = BINLOG MONITOR), and the tables for the tests to write.
    echo "CREATE USER IF NOT EXISTS '$MARIADB_USER'@'127.0.0.1' IDENTIFIED BY '$MARIADB_USER';"
    echo "GRANT SELECT, RELOAD, SHOW DATABASES, LOCK TABLES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '$MARIADB_USER'@'127.0.0.1';"
    echo "CREATE DATABASE inventory;"
    echo "GRANT ALL PRIVILEGES ON inventory.* TO '$MARIADB_USER'@'127.0.0.1';"
    echo "USE inventory;"
    cat "$LIB/sql/inventory-mariadb.sql"
  } | mariadb_admin >"$LOGS/mariadb-seed.log" 2>&1 ||
    fail mariadb "$LOGS/mariadb-seed.log" "creating database inventory failed"
  log "mariadb database inventory created"
}

stop_mariadb() { stop_pid mariadb "$RUN/mariadb.pid" "$MARIADB_CONFIG"; }

connect_has_mysql_plugin() {
  curl -sf --max-time 10 "$CONNECT_URL/connector-plugins" | node -e '
    let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
      const found = JSON.parse(s).some(p => p.class === process.argv[1] && p.version === process.argv[2]);
      process.exit(found ? 0 : 1);
    });' "$MARIADB_CONNECTOR_CLASS" "$(mysql_plugin_version)"
}

# A Connect worker started before the plugin folder existed (or changed) does not load it: restart the
# worker once (the PostgreSQL connector resumes from its stored offsets).
reload_connect_for_mysql_plugin() {
  connect_has_mysql_plugin && return 0
  log "kafka connect does not list $MARIADB_CONNECTOR_CLASS $(mysql_plugin_version): restarting it to load $MARIADB_PLUGIN_DIR"
  stop_pid connect "$RUN/connect.pid" "$INFRA/connect.properties"
  start_connect
  connect_has_mysql_plugin ||
    fail connect "$LOGS/connect.log" "$MARIADB_CONNECTOR_CLASS $(mysql_plugin_version) not loaded from $MARIADB_PLUGIN_DIR"
}

# Its schema history lives in a file, not a Kafka topic: Debezium 2.6's Kafka history reads the topic
# with KafkaConsumer.poll(long), which Kafka 4 clients (the worker's) no longer have, so a task restart
# would fail with NoSuchMethodError. The file sits with the other data (`reset` wipes both).
register_mariadb_connector() {
  local generated=$INFRA/connectors/$(basename "$MARIADB_CONNECTOR_FILE")
  mkdir -p "$INFRA/connectors" "$DATA/debezium"
  sed "s|@DATA@|$DATA|g" "$MARIADB_CONNECTOR_FILE" >"$generated"
  register_connector "$generated" "mariadb1.inventory.*"
}

mariadb_status() {
  local pid
  if pid=$(mariadb_pid); then
    printf '%-10s running  127.0.0.1:%s (pid %s)\n' mariadb "$MARIADB_PORT" "$pid"
  else
    printf '%-10s stopped\n' mariadb
    return 1
  fi
}

mariadb_url() { echo "mysql://$MARIADB_USER:$MARIADB_USER@127.0.0.1:$MARIADB_PORT/inventory"; }
