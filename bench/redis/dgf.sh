# Sourced by bench/redis/run.sh and ab.sh: dgf's Redis benchmark config. Needs WORK, REDIS_PORT, DGF_SHARED.
# Shipped packs, audit to a file (fsyncMs 20), users analyst / service / admin with password benchpw.

# write_config NAME LISTEN_PORT ADMIN_PORT DURABILITY -> $WORK/dgf-NAME.yaml, audit in $WORK/audit-NAME/
#   DURABILITY: default  no `failMode` / `durability` keys (failMode closed, durability write); any commit runs it
#               write | fsync  failMode closed and that durability
write_config() {
  local keys=""
  [[ $4 != default ]] && keys=$'\n'"  failMode: closed"$'\n'"  durability: $4"
  mkdir -p "$WORK/audit-$1"
  cat >"$WORK/dgf-$1.yaml" <<YML
admin:
  listen: 127.0.0.1:$3
policies:
  hashKey: bench-hash-key-0123456789abcdef
roles:
  - { match: { user: analyst }, role: analyst }
  - { match: { user: service }, role: service }
  - { match: { user: admin }, role: admin }
audit:$keys
  sinks:
    - { type: file, path: $WORK/audit-$1/audit.jsonl, rotateBytes: 1073741824, fsyncMs: 20 }
log:
  level: warn
listeners:
  - name: cache
    protocol: redis
    listen: 127.0.0.1:$2
    users:
      - { name: analyst, password: benchpw }
      - { name: service, password: benchpw }
      - { name: admin, password: benchpw }
    upstream: { url: "redis://127.0.0.1:$REDIS_PORT" }
    quota: { preset: redis-cloud-free }
    options: { sharedConnections: $DGF_SHARED }
YML
}
