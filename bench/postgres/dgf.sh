# Sourced by bench/postgres/run.sh and ab.sh: dgf's benchmark config and its start (bench/postgres/insert-latency.ts
# writes the same config, durability `default`). Needs WORK, PGPORT, DB. Transaction pooling, pool 2, shipped packs,
# audit to a file (fsyncMs 20), user bench / benchpw.

# start_bench_dgf DURABILITY PORT ADMIN_PORT NAME [DIR] [FAILMODE] -> prints the pid of the dgf (node) process.
#   DURABILITY: default  no `failMode` / `durability` keys at all: the shipped defaults (failMode closed, durability
#                        write); works with any commit, also one from before `durability` existed (ab.sh)
#               write    failMode FAILMODE (default closed), durability write: the intent record is handed to the OS
#                        (one write(2) per event-loop turn) before the statement goes upstream
#               fsync    failMode FAILMODE (default closed), durability fsync: waits for the record's fdatasync
#   DIR: the checkout to run (default .)
start_bench_dgf() {
  local durability=$1 port=$2 admin=$3 name=$4 dir=${5:-.} failmode=${6:-closed} audit_keys
  case $durability in
    default) audit_keys="" ;;
    write | fsync) audit_keys="  failMode: $failmode
  durability: $durability" ;;
    *) echo "start_bench_dgf: durability must be default, write or fsync, not '$durability'" >&2; return 1 ;;
  esac
  mkdir -p "$WORK/audit-$name"
  {
    cat <<YAML
admin:
  listen: 127.0.0.1:$admin
policies:
  hashKey: bench-hash-key-0123456789
  watch: false
audit:
YAML
    [ -n "$audit_keys" ] && echo "$audit_keys"
    cat <<YAML
  sinks:
    - { type: file, path: $WORK/audit-$name/audit.jsonl, fsyncMs: 20 }
listeners:
  - name: pg
    protocol: postgres
    listen: 127.0.0.1:$port
    users:
      - { name: bench, password: benchpw }
    upstream:
      url: postgres://postgres@127.0.0.1:$PGPORT/postgres?sslmode=disable
      maxConnections: 2
    pool: transaction
    quota: { preset: supabase-free }
YAML
  } > "$WORK/dgf-$name.yaml"
  (cd "$dir" && DGF_LOG_LEVEL=warn exec node --import tsx src/cli/main.ts start --config "$WORK/dgf-$name.yaml" >"$WORK/dgf-$name.log" 2>&1) &
  local pid=$!
  for _ in $(seq 1 120); do
    if PGPASSWORD=benchpw psql -X -q -h 127.0.0.1 -p "$port" -U bench -d "$DB" -c 'select 1' >/dev/null 2>&1; then
      echo "$pid"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.5
  done
  echo "dgf ($name) did not start: $(cat "$WORK/dgf-$name.log")" >&2
  kill "$pid" 2>/dev/null || true
  return 1
}
