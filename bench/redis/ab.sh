#!/usr/bin/env bash
# A/B of dgf itself on Redis: redis-benchmark SET and GET, 50 connections, pipeline 1 and 16, through dgf built from
# two commits, side by side in one run, interleaved rounds (the order reversed every other round). Both run
# bench/redis/dgf.sh's config (the one bench/redis/run.sh uses) with dgf's default audit settings (no failMode /
# durability keys: failMode closed, durability write), clients logged in as ROLE_USER (analyst: a masked role).
# Reports, per point, the median requests/s of A and B, the median of the paired ratios B/A, and the median CPU per
# request of each process (utime + stime from /proc/<pid>/stat): on this shared VM throughput drifts by a fifth
# within minutes, CPU per request much less, so a CPU change shows there first.
#   bash bench/redis/ab.sh [A-ref] [B-ref]        default: HEAD~1 and the work tree
#   A_NODE_FLAGS=... B_NODE_FLAGS=... bash bench/redis/ab.sh WORKTREE WORKTREE    the same code, two sets of Node flags
# Writes bench/results/redis-ab.md. Needs the Redis of scripts/backends.sh on 127.0.0.1:56379.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
A_REF=${1:-HEAD~1}
B_REF=${2:-WORKTREE}
REDIS_PORT=${REDIS_PORT:-56379}
A_PORT=${A_PORT:-16390}
B_PORT=${B_PORT:-16391}
REQUESTS=${REQUESTS:-200000}
CLIENTS=${CLIENTS:-50}
ROUNDS=${ROUNDS:-5}
ROLE_USER=${ROLE_USER:-analyst}
# Node flags of each side (an A/B of a flag rather than of a commit: same ref twice, different flags).
A_NODE_FLAGS=${A_NODE_FLAGS:-}
B_NODE_FLAGS=${B_NODE_FLAGS:-}
DGF_SHARED=${DGF_SHARED:-1}
HZ=$(getconf CLK_TCK)
WORK=$(mktemp -d /tmp/dgf-bench-redis-ab.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done
  sleep 0.5
  # redis-benchmark -r leaves ~100k keys behind; the Redis tests share this server and its 30 MB quota.
  redis-cli -p "$REDIS_PORT" --scan --pattern 'key:[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]' 2>/dev/null \
    | xargs -r -n 1000 redis-cli -p "$REDIS_PORT" unlink >/dev/null 2>&1 || true
  git -C "$ROOT" worktree remove --force "$WORK/a" >/dev/null 2>&1 || true
  [ "$B_REF" = WORKTREE ] || git -C "$ROOT" worktree remove --force "$WORK/b" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
redis-cli -p "$REDIS_PORT" ping >/dev/null || { echo "Redis is not running on $REDIS_PORT (bash scripts/backends.sh start)"; exit 1; }

source bench/ab-common.sh # checkout, median, paired_ratio, interleaved
source bench/redis/dgf.sh # write_config
declare -A PORT=([a]=$A_PORT [b]=$B_PORT) PID DIR
DIR[a]=$(checkout "$A_REF" "$WORK/a")
DIR[b]=$(checkout "$B_REF" "$WORK/b")
for t in a b; do
  write_config "$t" "${PORT[$t]}" 0 default
  flags=$A_NODE_FLAGS; [ "$t" = b ] && flags=$B_NODE_FLAGS
  # shellcheck disable=SC2086 # flags are words
  (cd "${DIR[$t]}" && exec node $flags --import tsx src/cli/main.ts start --config "$WORK/dgf-$t.yaml" 2>"$WORK/dgf-$t.log") &
  PID[$t]=$!
  PIDS+=("${PID[$t]}")
  for _ in $(seq 1 150); do redis-cli -p "${PORT[$t]}" --user "$ROLE_USER" --pass benchpw --no-auth-warning ping >/dev/null 2>&1 && break; sleep 0.2; done
  redis-cli -p "${PORT[$t]}" --user "$ROLE_USER" --pass benchpw --no-auth-warning ping >/dev/null || { echo "dgf ($t) did not start: $(cat "$WORK/dgf-$t.log")"; exit 1; }
done

ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
measure() { # pipeline command a|b -> "<rps> <cpu us per request>"
  local t0 t1 rps
  t0=$(ticks "${PID[$3]}")
  rps=$(redis-benchmark -h 127.0.0.1 -p "${PORT[$3]}" --user "$ROLE_USER" -a benchpw -t "$2" -n "$REQUESTS" -c "$CLIENTS" -P "$1" -r 100000 --csv 2>/dev/null \
    | awk -F, 'NR > 1 { gsub(/"/, ""); print $2; exit }' || true)
  t1=$(ticks "${PID[$3]}")
  awk -v rps="${rps:-0}" -v d=$((t1 - t0)) -v hz="$HZ" -v n="$REQUESTS" 'BEGIN { printf "%.0f %.2f\n", rps, d * 1e6 / hz / n }'
}

for P in 16 1; do for cmd in set get; do measure $P $cmd a >/dev/null; measure $P $cmd b >/dev/null; done; done # warm-up
ROWS=""
for P in 1 16; do
  for cmd in set get; do
    RA=""; RB=""; CA=""; CB=""; RATIOS=""
    for r in $(seq 1 "$ROUNDS"); do
      declare -A RPS CPU
      { read -r RPS[a] CPU[a]; read -r RPS[b] CPU[b]; } < <(interleaved "$r" measure "$P" "$cmd")
      RA+=" ${RPS[a]}"; RB+=" ${RPS[b]}"; CA+=" ${CPU[a]}"; CB+=" ${CPU[b]}"
      RATIOS+=" $(paired_ratio "${RPS[a]}" "${RPS[b]}")"
    done
    line="| ${cmd^^} | $P | $(echo "$RA" | median) | $(echo "$RB" | median) | $(echo "$RATIOS" | median) | $(echo "$CA" | median) | $(echo "$CB" | median) | A:$RA / B:$RB |"
    echo "$line"
    ROWS+="$line"$'\n'
  done
done

mkdir -p bench/results
cat > bench/results/redis-ab.md <<MD
# Redis: dgf A/B ($A_REF vs $B_REF)

Run: $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores; \`bash bench/redis/ab.sh $A_REF $B_REF\` ($ROUNDS interleaved rounds of
redis-benchmark -n $REQUESTS -c $CLIENTS -r 100000, as \`$ROLE_USER\`). Both: bench/redis/dgf.sh's config, default audit
(failMode closed, durability write), $DGF_SHARED shared upstream connection(s).
A = $A_REF${A_NODE_FLAGS:+ (node $A_NODE_FLAGS)}, B = $([ "$B_REF" = WORKTREE ] && echo "work tree at $(git rev-parse --short HEAD)" || echo "$B_REF")${B_NODE_FLAGS:+ (node $B_NODE_FLAGS)}.

| command | pipeline | A req/s | B req/s | B/A (median of paired rounds) | A CPU us/req | B CPU us/req | samples (req/s) |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |
$ROWS
MD
echo "wrote bench/results/redis-ab.md"
