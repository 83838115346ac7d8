# Sourced by bench/postgres/run.sh and ab.sh: dgf's benchmark config and its start. Needs WORK, PGPORT, DB.
# Transaction pooling, pool 2, shipped packs, audit to a file with fsync group commit, user bench / benchpw.

# start_bench_dgf FAILMODE PORT ADMIN_PORT NAME [DIR] -> prints the pid; DIR: the checkout to run (default .)
start_bench_dgf() {
  local mode=$1 port=$2 admin=$3 name=$4 dir=${5:-.}
  mkdir -p "$WORK/audit-$name"
  cat > "$WORK/dgf-$name.yaml" <<YAML
admin:
  listen: 127.0.0.1:$admin
policies:
  hashKey: bench-hash-key-0123456789
  watch: false
audit:
  failMode: $mode
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
  (cd "$dir" && DGF_LOG_LEVEL=warn exec node --import tsx src/cli/main.ts start --config "$WORK/dgf-$name.yaml" >"$WORK/dgf-$name.log" 2>&1) &
  local pid=$!
  for _ in $(seq 1 120); do
    if PGPASSWORD=benchpw psql -X -q -h 127.0.0.1 -p "$port" -U bench -d "$DB" -c 'select 1' >/dev/null 2>&1; then
      echo "$pid"
      return 0
    fi
    sleep 0.5
  done
  echo "dgf ($name) did not start: $(cat "$WORK/dgf-$name.log")" >&2
  kill "$pid" 2>/dev/null || true
  return 1
}
