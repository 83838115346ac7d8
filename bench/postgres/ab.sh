#!/usr/bin/env bash
# A/B of dgf itself: pgbench -S (1 and 8 clients, simple and prepared protocol) through dgf built from two commits,
# side by side in one run, interleaved rounds, median of the paired ratios B/A. Both run the same config
# (bench/postgres/dgf.sh, the one bench/postgres/run.sh uses too): transaction mode, pool 2, shipped packs, audit to a
# file with dgf's default audit settings (no failMode/durability keys: failMode closed, durability write, i.e. each
# intent record is handed to the OS before its statement goes upstream; a commit from before `durability` existed
# runs its own defaults), as a user no role mapping matches (role `default`: every label masked, the full governance
# path: analysis, lineage, masking plans). AB_DURABILITY=write|fsync writes the keys explicitly instead (both
# commits must know them).
#   bash bench/postgres/ab.sh [A-ref] [B-ref]        default: HEAD~1 and the work tree
# Writes bench/results/postgres-ab.md. Needs the test PostgreSQL on 55432 (scripts/backends.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
A_REF=${1:-HEAD~1}
B_REF=${2:-WORKTREE}
PGPORT=55432
A_PORT=${A_PORT:-16531}
B_PORT=${B_PORT:-16532}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-5}
AB_DURABILITY=${AB_DURABILITY:-default}
SCALE=${SCALE:-10}
DB=dgf_bench_ab
WORK=$(mktemp -d /tmp/dgf-bench-ab.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  psql -X -q -h 127.0.0.1 -p $PGPORT -U postgres -c "drop database if exists $DB with (force)" postgres >/dev/null 2>&1 || true
  git -C "$ROOT" worktree remove --force "$WORK/a" >/dev/null 2>&1 || true
  [ "$B_REF" = WORKTREE ] || git -C "$ROOT" worktree remove --force "$WORK/b" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

bash scripts/backends.sh start >/dev/null
psql -X -q -h 127.0.0.1 -p $PGPORT -U postgres -c "drop database if exists $DB with (force)" -c "create database $DB" postgres
pgbench -i -q -s "$SCALE" -h 127.0.0.1 -p $PGPORT -U postgres $DB >/dev/null 2>&1

source bench/ab-common.sh # checkout, median, paired_ratio, interleaved
A_DIR=$(checkout "$A_REF" "$WORK/a")
B_DIR=$(checkout "$B_REF" "$WORK/b")

source bench/postgres/dgf.sh
PIDS+=("$(start_bench_dgf "$AB_DURABILITY" $A_PORT 0 a "$A_DIR")")
PIDS+=("$(start_bench_dgf "$AB_DURABILITY" $B_PORT 0 b "$B_DIR")")

tps() { # clients mode a|b
  local port=$A_PORT
  [ "$3" = b ] && port=$B_PORT
  PGPASSWORD=benchpw pgbench -n -S -M "$2" -T "$DURATION" -c "$1" -j "$(( $1 < 2 ? 1 : 2 ))" -h 127.0.0.1 -p "$port" -U bench $DB 2>/dev/null | awk '/^tps/ {printf "%.0f", $3}'
}

ROWS=""
for mode in simple prepared; do
  for c in 1 8; do
    tps $c $mode a >/dev/null; tps $c $mode b >/dev/null # warm-up: JIT, pools, caches
    A=""; B=""; RATIOS=""
    for r in $(seq 1 "$ROUNDS"); do
      { read -r a; read -r b; } < <(interleaved "$r" tps $c $mode)
      A+=" $a"; B+=" $b"
      RATIOS+=" $(paired_ratio "$a" "$b")"
    done
    line="| $mode | $c | $(echo "$A" | median) | $(echo "$B" | median) | $(echo "$RATIOS" | median) | A:$A / B:$B |"
    echo "$line"
    ROWS+="$line"$'\n'
  done
done

mkdir -p bench/results
cat > bench/results/postgres-ab.md <<MD
# PostgreSQL: dgf A/B ($A_REF vs $B_REF)

Run: $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores; \`bash bench/postgres/ab.sh $A_REF $B_REF\` ($ROUNDS interleaved rounds of
${DURATION}s per point, pgbench -S scale $SCALE). Both: transaction mode, pool 2, shipped packs, audit file
($( [ "$AB_DURABILITY" = default ] && echo "dgf's default audit settings: failMode closed, durability write" || echo "failMode closed, durability $AB_DURABILITY")), user \`bench\` in role \`default\` (every label masked: analysis, lineage and masking plans all run).
A = $(git -C "$ROOT" rev-parse --short "$A_REF" 2>/dev/null || echo "$A_REF"), B = $( [ "$B_REF" = WORKTREE ] && echo "work tree at $(git -C "$ROOT" rev-parse --short HEAD)" || git -C "$ROOT" rev-parse --short "$B_REF").

| protocol | clients | A tps | B tps | B/A (median of paired rounds) | samples |
| --- | ---: | ---: | ---: | ---: | --- |
$ROWS
MD
echo "wrote bench/results/postgres-ab.md"
