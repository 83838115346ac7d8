#!/usr/bin/env bash
# Starts, stops and reports the real test backends on loopback (SPEC "Ports"), installing what is missing.
# Idempotent: a backend already answering on its port is left alone.
#   PostgreSQL 15  127.0.0.1:55432  (trust for `postgres`; scram/md5/password roles dgf_scram/dgf_md5/dgf_clear, pw dgfpass; TLS on)
#   Redis 7        127.0.0.1:56379  (default user open; ACL user dgf / dgfpass)
#   CongoDB        127.0.0.1:57017  (MongoDB wire protocol server, see shared BACKENDS.md)
#   Azurite Blob   127.0.0.1:10000
#   Cosmos server  127.0.0.1:8081   (HTTPS, self-signed)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN=${DGF_RUN_DIR:-$ROOT/.run}
# PostgreSQL runs as user postgres, which must be able to reach $RUN: a clone under /root is not reachable,
# so fall back to a world-traversable directory there.
if [ -z "${DGF_RUN_DIR:-}" ] && [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 && ! su postgres -s /bin/sh -c "test -x '$ROOT'" 2>/dev/null; then
  RUN=/tmp/dgf-backends
  mkdir -p "$RUN"; ln -sfn "$RUN" "$ROOT/.run" 2>/dev/null || true
fi
PGBIN=/usr/lib/postgresql/15/bin
PG_PORT=55432 REDIS_PORT=56379 MONGO_PORT=57017 BLOB_PORT=10000 COSMOS_PORT=8081
CONGO_VERSION=2.2.0

log() { printf '[backends] %s\n' "$*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && exec 3>&- 3<&-; }
wait_port() { local p=$1 n=${2:-100}; for _ in $(seq "$n"); do port_open "$p" && return 0; sleep 0.2; done; log "port $p did not open"; return 1; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    sudo apt-get update -qq >/dev/null && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

as_postgres() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$1"; else bash -c "$1"; fi; }

start_postgres() {
  port_open $PG_PORT && { log "postgres already on $PG_PORT"; return; }
  apt_install postgresql openssl
  mkdir -p "$RUN"; [ "$(id -u)" = 0 ] && chown postgres "$RUN" 2>/dev/null || true
  chmod 755 "$RUN"
  if [ ! -s "$RUN/pg/PG_VERSION" ]; then
    rm -rf "$RUN/pg"
    as_postgres "$PGBIN/initdb -D '$RUN/pg' -U postgres --auth=trust -E UTF8 --no-sync -N >/dev/null"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
      -keyout "$RUN/pg/server.key" -out "$RUN/pg/server.crt" >/dev/null 2>&1
    [ "$(id -u)" = 0 ] && chown postgres "$RUN/pg/server.key" "$RUN/pg/server.crt"
    chmod 600 "$RUN/pg/server.key"
    cat > "$RUN/pg/pg_hba.conf" <<HBA
local all all trust
host all dgf_scram 127.0.0.1/32 scram-sha-256
host all dgf_md5 127.0.0.1/32 md5
host all dgf_clear 127.0.0.1/32 password
host all all 127.0.0.1/32 trust
host all all ::1/128 trust
HBA
    [ "$(id -u)" = 0 ] && chown postgres "$RUN/pg/pg_hba.conf"
    local fresh=1
  fi
  as_postgres "$PGBIN/pg_ctl -D '$RUN/pg' -l '$RUN/pg.log' -w -o \"-p $PG_PORT -k '$RUN' -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300 -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key\" start >/dev/null"
  if [ "${fresh:-0}" = 1 ]; then
    psql -h 127.0.0.1 -p $PG_PORT -U postgres -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET password_encryption = 'scram-sha-256';
CREATE ROLE dgf_scram LOGIN SUPERUSER PASSWORD 'dgfpass';
SET password_encryption = 'md5';
CREATE ROLE dgf_md5 LOGIN SUPERUSER PASSWORD 'dgfpass';
SET password_encryption = 'scram-sha-256';
CREATE ROLE dgf_clear LOGIN SUPERUSER PASSWORD 'dgfpass';
SQL
  fi
  log "postgres on $PG_PORT"
}

start_redis() {
  port_open $REDIS_PORT && { log "redis already on $REDIS_PORT"; return; }
  apt_install redis-server redis-tools
  mkdir -p "$RUN/redis"
  redis-server --port $REDIS_PORT --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$RUN/redis.pid" --logfile "$RUN/redis.log" --dir "$RUN/redis" \
    --maxclients 2000 >/dev/null
  wait_port $REDIS_PORT
  redis-cli -p $REDIS_PORT ACL SETUSER dgf on '>dgfpass' '~*' '&*' '+@all' >/dev/null
  log "redis on $REDIS_PORT"
}

install_congodb() {
  local dir="$RUN/congodb"
  [ -f "$dir/node_modules/@push.rocks/smartmongo/dist_ts/congodb/index.js" ] && return
  log "installing CongoDB (@push.rocks/smartmongo@$CONGO_VERSION) into $dir"
  mkdir -p "$dir"
  (cd "$dir" && [ -f package.json ] || echo '{"name":"congodb-runner","private":true,"type":"module"}' > package.json)
  (cd "$dir" && npm i --no-audit --no-fund --silent mongodb bson@6 mingo@7 @push.rocks/smartfs @push.rocks/smartpath @push.rocks/smartpromise @push.rocks/smartrx >/dev/null 2>&1)
  (cd "$dir" && npm pack --silent "@push.rocks/smartmongo@$CONGO_VERSION" >/dev/null 2>&1)
  mkdir -p "$dir/node_modules/@push.rocks/smartmongo"
  tar -xzf "$dir"/push.rocks-smartmongo-$CONGO_VERSION.tgz -C "$dir/node_modules/@push.rocks/smartmongo" --strip-components=1
}

start_mongo() {
  port_open $MONGO_PORT && { log "congodb already on $MONGO_PORT"; return; }
  install_congodb
  # Written on every start, so an older install gets the current stop behaviour: server.stop() waits for open
  # client connections, so SIGTERM exits after a second whatever they do.
  cat > "$RUN/congodb/start.mjs" <<JS
import { CongoServer } from './node_modules/@push.rocks/smartmongo/dist_ts/congodb/index.js';
const server = new CongoServer({ port: Number(process.argv[2] || $MONGO_PORT), host: '127.0.0.1' });
await server.start();
process.on('SIGTERM', async () => {
  setTimeout(() => process.exit(0), 1000).unref();
  await server.stop?.();
  process.exit(0);
});
JS
  (cd "$RUN/congodb" && nohup node start.mjs $MONGO_PORT > "$RUN/congodb.log" 2>&1 & echo $! > "$RUN/congodb.pid")
  wait_port $MONGO_PORT
  log "congodb on $MONGO_PORT"
}

start_azurite() {
  port_open $BLOB_PORT && { log "azurite already on $BLOB_PORT"; return; }
  local bin="$ROOT/node_modules/.bin/azurite-blob"
  [ -x "$bin" ] || { log "azurite missing: run npm ci first"; return 1; }
  nohup "$bin" --blobHost 127.0.0.1 --blobPort $BLOB_PORT --inMemoryPersistence --skipApiVersionCheck --disableProductStyleUrl --silent \
    > "$RUN/azurite.log" 2>&1 & echo $! > "$RUN/azurite.pid"
  wait_port $BLOB_PORT
  log "azurite on $BLOB_PORT"
}

start_cosmos() {
  port_open $COSMOS_PORT && { log "cosmos server already on $COSMOS_PORT"; return; }
  local bin="$ROOT/node_modules/.bin/cosmosdb-server"
  [ -x "$bin" ] || { log "cosmosdb-server missing: run npm ci first"; return 1; }
  nohup "$bin" --host 127.0.0.1 -p $COSMOS_PORT > "$RUN/cosmos.log" 2>&1 & echo $! > "$RUN/cosmos.pid"
  wait_port $COSMOS_PORT
  log "cosmos server on $COSMOS_PORT"
}

stop_pidfile() { local f="$RUN/$1.pid"; [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; rm -f "$f"; }
# A server restarted by hand (or from another clone) has another pid than its pidfile: stop whatever still
# listens on its port. `|| true`: under pipefail an empty port must not end the script.
# A server that does not exit within 5 s of SIGTERM gets SIGKILL, so `stop` leaves the port free.
stop_port() {
  local pids
  pids=$(ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u || true)
  [ -z "$pids" ] && return 0
  kill $pids 2>/dev/null || true
  for _ in $(seq 1 50); do port_open "$1" || return 0; sleep 0.1; done
  kill -9 $pids 2>/dev/null || true
}

cmd=${1:-status}
mkdir -p "$RUN"
case "$cmd" in
  start)
    start_postgres; start_redis; start_azurite; start_cosmos; start_mongo
    ;;
  stop)
    [ -f "$RUN/pg/postmaster.pid" ] && as_postgres "$PGBIN/pg_ctl -D '$RUN/pg' -m fast stop >/dev/null" || true
    stop_pidfile redis; stop_pidfile congodb; stop_pidfile azurite; stop_pidfile cosmos
    # A PostgreSQL started from another clone (another run directory) has no postmaster.pid here.
    for p in $PG_PORT $REDIS_PORT $MONGO_PORT $BLOB_PORT $COSMOS_PORT; do stop_port "$p"; done
    log "stopped"
    ;;
  status)
    rc=0
    for pair in postgres:$PG_PORT redis:$REDIS_PORT congodb:$MONGO_PORT azurite:$BLOB_PORT cosmos:$COSMOS_PORT; do
      if port_open "${pair#*:}"; then echo "${pair%%:*} up (${pair#*:})"; else echo "${pair%%:*} down (${pair#*:})"; rc=1; fi
    done
    exit $rc
    ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
