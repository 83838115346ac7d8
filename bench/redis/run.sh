#!/usr/bin/env bash
# Redis end-to-end benchmark: redis-benchmark GET and SET, 50 connections, pipeline 1 and 16, in one run, targets
# interleaved: directly against Redis, through twemproxy (nutcracker), through a bare Node forwarder (a reference,
# not a proxy), through dgf in its default configuration (no failMode/durability keys: failMode closed, durability
# write) and through dgf with durability fsync (failMode closed). Shipped packs, audit to a file, started with
# `dgf start --config`. ROUNDS rounds; the ratios are medians of per-round ratios (dgf and twemproxy measured in the
# same round). CPU per request of twemproxy, the forwarder and both dgf processes from /proc/<pid>/stat.
# Writes bench/results/redis.md.
#
#   bash bench/redis/run.sh            # needs the Redis 7 of scripts/backends.sh on 127.0.0.1:56379
#   REQUESTS=200000 ROUNDS=5 ROLE_USER=service bash bench/redis/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
REDIS_PORT=${REDIS_PORT:-56379}
NUT_PORT=${NUT_PORT:-22131}
BARE_PORT=${BARE_PORT:-22141}
DGF_PORT=${DGF_PORT:-16380}
ADMIN_PORT=${ADMIN_PORT:-18089}
REQUESTS=${REQUESTS:-100000}
CLIENTS=${CLIENTS:-50}
ROLE_USER=${ROLE_USER:-analyst}   # analyst: a masked role (every bulk reply is scanned by the value detectors)
ROUNDS=${ROUNDS:-5}
NODE_FLAGS=${NODE_FLAGS:-}
HZ=$(getconf CLK_TCK)
# Shared upstream connections of dgf, like twemproxy's server_connections below (1 each: every client's commands go
# out together in one write per event-loop turn; the listener's default, 4, spreads big replies over more sockets).
DGF_SHARED=${DGF_SHARED:-1}
WORK=$(mktemp -d /tmp/dgf-bench-redis.XXXXXX)
OUT=$ROOT/bench/results/redis.md
mkdir -p "$ROOT/bench/results"

DGF_PIDS=()
cleanup() {
  for pid in "${DGF_PIDS[@]:-}"; do [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done || true
  [[ -f $WORK/nut.pid ]] && kill "$(cat "$WORK/nut.pid")" 2>/dev/null || true
  [[ -n "${BARE_PID:-}" ]] && kill "$BARE_PID" 2>/dev/null || true
  # redis-benchmark -r leaves ~100k keys (~12 MB) behind; against a 30 MB quota they would make the Redis tests
  # that share this server see -OOM.
  redis-cli -p "$REDIS_PORT" --scan --pattern 'key:[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]' 2>/dev/null \
    | xargs -r -n 1000 redis-cli -p "$REDIS_PORT" unlink >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

redis-cli -p "$REDIS_PORT" ping >/dev/null || { echo "Redis is not running on $REDIS_PORT (bash scripts/backends.sh start)"; exit 1; }

# twemproxy: one pool in front of the same Redis.
cat >"$WORK/nutcracker.yml" <<YML
bench:
  listen: 127.0.0.1:$NUT_PORT
  redis: true
  hash: fnv1a_64
  distribution: ketama
  auto_eject_hosts: false
  server_connections: 1
  servers:
   - 127.0.0.1:$REDIS_PORT:1
YML
nutcracker -d -c "$WORK/nutcracker.yml" -p "$WORK/nut.pid" -o "$WORK/nut.log" -s $((NUT_PORT + 1)) -a 127.0.0.1
for _ in $(seq 1 50); do [[ -s $WORK/nut.pid ]] && redis-cli -p "$NUT_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
NUT_PID=$(cat "$WORK/nut.pid")

# A reference, not a proxy to compare dgf with: a bare Node forwarder with dgf's batching and nothing else (no
# auth, policy, audit or masking), to show what Node's own per-read/per-write cost leaves for governance.
node --import tsx bench/redis/bare-forwarder.ts "$BARE_PORT" "$REDIS_PORT" 2>"$WORK/bare.log" &
BARE_PID=$!
for _ in $(seq 1 100); do redis-cli -p "$BARE_PORT" ping >/dev/null 2>&1 && break; sleep 0.2; done

# dgf: the shipped packs, audit to a file, one redis listener; started twice:
#   dgf        the default configuration: no failMode/durability keys (failMode closed, durability write)
#   dgf-fsync  failMode closed, durability fsync
source bench/redis/dgf.sh # write_config
declare -A PORT PID
PORT[direct]=$REDIS_PORT; PID[direct]=""
PORT[twemproxy]=$NUT_PORT; PID[twemproxy]=$NUT_PID
PORT[bare]=$BARE_PORT; PID[bare]=$BARE_PID
PORT[dgf]=$DGF_PORT
PORT[dgf-fsync]=$((DGF_PORT + 1))
for name in dgf dgf-fsync; do
  admin=$ADMIN_PORT; durability=default
  [[ $name == dgf-fsync ]] && admin=$((ADMIN_PORT + 1)) && durability=fsync
  write_config "$name" "${PORT[$name]}" "$admin" "$durability"
  # node directly (not the npx wrapper) so the trap stops the proxy itself, and its pid is the one to measure.
  node --import tsx $NODE_FLAGS src/cli/main.ts start --config "$WORK/dgf-$name.yaml" 2>"$WORK/dgf-$name.log" &
  PID[$name]=$!
  DGF_PIDS+=("${PID[$name]}")
  for _ in $(seq 1 100); do redis-cli -p "${PORT[$name]}" --user "$ROLE_USER" --pass benchpw --no-auth-warning ping >/dev/null 2>&1 && break; sleep 0.2; done
  redis-cli -p "${PORT[$name]}" --user "$ROLE_USER" --pass benchpw --no-auth-warning ping >/dev/null \
    || { echo "dgf ($name) did not start: $(cat "$WORK/dgf-$name.log")"; exit 1; }
done
declare -A RUNS=([dgf]=0 [dgf-fsync]=0) # redis-benchmark runs through each dgf, warm-ups included (records / request)
count_run() { case $1 in dgf | dgf-fsync) RUNS[$1]=$(( ${RUNS[$1]} + 1 )) ;; esac; }

# utime + stime of a process in clock ticks (fields 14 and 15 of /proc/<pid>/stat, counted after the ") " that
# ends the command name).
ticks() { if [[ -n $1 ]]; then sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; else echo 0; fi; }

# One redis-benchmark run of one command: prints "<rps> <cpu us per request of the target's process, or ->".
measure() { # target pipeline command
  local t=$1 P=$2 cmd=$3 pid=${PID[$1]} auth=() t0 t1 rps
  [[ $t == dgf* ]] && auth=(--user "$ROLE_USER" -a benchpw)
  t0=$(ticks "$pid")
  rps=$(redis-benchmark -h 127.0.0.1 -p "${PORT[$t]}" "${auth[@]}" -t "$cmd" -n "$REQUESTS" -c "$CLIENTS" -P "$P" -r 100000 --csv 2>/dev/null \
    | awk -F, 'NR > 1 { gsub(/"/, ""); print $2; exit }' || true)
  t1=$(ticks "$pid")
  awk -v rps="${rps:-0}" -v d=$((t1 - t0)) -v hz="$HZ" -v n="$REQUESTS" -v pid="$pid" \
    'BEGIN { printf "%.0f %s\n", rps, pid != "" ? sprintf("%.2f", d * 1e6 / hz / n) : "-" }'
}
median() { tr ' ' '\n' | { grep -v -e '^$' -e '^-$' || true; } | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }
fmt() { awk -v x="$2" -v d="$1" 'BEGIN { if (x == "n/a") print x; else printf "%." d "f", x }'; }

# Warm-up (not measured): JIT compilation and the policy's name caches of the Node processes, connections of all.
for t in direct twemproxy bare dgf dgf-fsync; do
  pipelines=(16); [[ $t == dgf* ]] && pipelines=(16 1)
  for P in "${pipelines[@]}"; do for cmd in set get; do measure $t $P $cmd >/dev/null; count_run $t; done; done
done

TARGETS=(direct twemproxy bare dgf dgf-fsync)
declare -A RPS CPU RAT
for round in $(seq 1 "$ROUNDS"); do
  # Interleaved, the order reversed every other round: a slow moment of the shared machine hits all targets.
  order=("${TARGETS[@]}")
  ((round % 2)) || order=(dgf-fsync dgf bare twemproxy direct)
  for P in 1 16; do
    for cmd in SET GET; do
      for t in "${order[@]}"; do
        read -r rps cpu < <(measure "$t" "$P" "${cmd,,}")
        RPS[$t/$cmd/$P/$round]=$rps; CPU[$t/$cmd/$P/$round]=$cpu
        count_run "$t"
      done
      for t in bare dgf dgf-fsync; do RAT[$t/$cmd/$P/$round]=$(ratio "${RPS[$t/$cmd/$P/$round]}" "${RPS[twemproxy/$cmd/$P/$round]}"); done
      echo "round=$round $cmd P$P: direct=${RPS[direct/$cmd/$P/$round]} twemproxy=${RPS[twemproxy/$cmd/$P/$round]} (${CPU[twemproxy/$cmd/$P/$round]} us/req)" \
        "bare=${RPS[bare/$cmd/$P/$round]} dgf=${RPS[dgf/$cmd/$P/$round]} (${CPU[dgf/$cmd/$P/$round]} us/req, ratio ${RAT[dgf/$cmd/$P/$round]})" \
        "dgf-fsync=${RPS[dgf-fsync/$cmd/$P/$round]} (${CPU[dgf-fsync/$cmd/$P/$round]} us/req, ratio ${RAT[dgf-fsync/$cmd/$P/$round]})"
    done
  done
done

over_rounds() { # array key -> the values of every round, space separated
  local arr=$1 key=$2 r
  for r in $(seq 1 "$ROUNDS"); do
    case $arr in RPS) echo -n " ${RPS[$key/$r]:-}" ;; CPU) echo -n " ${CPU[$key/$r]:-}" ;; RAT) echo -n " ${RAT[$key/$r]:-}" ;; esac
  done
}
med() { over_rounds "$1" "$2" | median; }
per_round() { # array key decimals -> " v1 / v2 / ..."
  local out="" v
  for v in $(over_rounds "$1" "$2"); do out+=" $(fmt "$3" "$v") /"; done
  echo "${out% /}"
}
declare -A RECORDS PER_REQ
for t in dgf dgf-fsync; do
  RECORDS[$t]=$(cat "$WORK"/audit-$t/* | wc -l | tr -d ' ')
  PER_REQ[$t]=$(awk -v r="${RECORDS[$t]}" -v n=$(( ${RUNS[$t]} * REQUESTS )) 'BEGIN { printf "%.3f", (n > 0) ? r / n : 0 }')
done
status() { # ratio goal floor
  awk -v x="$1" -v g="$2" -v f="$3" 'BEGIN { if (x == "n/a") print "n/a"; else if (x >= g) print "goal met"; else if (x >= f) print "below goal, above floor"; else print "below floor" }'
}
declare -A FLOOR=([1]=0.8 [16]=0.9)
{
  echo "# Redis benchmark: direct vs twemproxy vs dgf"
  echo
  echo "Generated by \`ROUNDS=$ROUNDS REQUESTS=$REQUESTS bash bench/redis/run.sh\` on $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(redis-server --version | awk '{print $3}'), $(nutcracker -V 2>&1 | head -1 | tr -d '\n')."
  echo "redis-benchmark -t <command> -n $REQUESTS -c $CLIENTS -r 100000 --csv, one run per command, pipeline 1 and 16, after an unmeasured warm-up"
  echo "of every target; $ROUNDS round(s), targets interleaved (the order reversed every other round)."
  echo "twemproxy: server_connections 1. dgf: \`dgf start --config\` with the shipped packs (default, gdpr, hipaa, sox, iso27001),"
  echo "audit to a file (fsyncMs 20) and $DGF_SHARED shared upstream connection(s); clients logged in as \`$ROLE_USER\`"
  echo "(role $ROLE_USER; analyst is a masked role: every bulk reply is scanned by the value detectors). Two dgf processes side by side:"
  echo
  echo "- **dgf (default)**: no \`failMode\` / \`durability\` keys in the config: \`failMode: closed\`, \`durability: write\`;"
  echo "- **dgf fsync**: \`failMode: closed\`, \`durability: fsync\`."
  echo
  cat <<'TXT'
## The audit dgf runs here: write-ahead (issue #17)

With `failMode: closed` no command goes upstream before its intent record is written. The intent records of the
commands going upstream in one event-loop turn are appended at the turn's end, before any upstream write, one
record per subject (listener, role, identity) and turn (`protocols/redis/turn-intents.ts`); the outcome records
follow, grouped the same way (`turn-records.ts`), and nobody waits for them.

- `durability: write` (default): the turn's records are sealed and handed to the operating system (the page cache)
  with one write(2) per event-loop turn, and the turn's upstream writes follow in the same turn. The file sink
  fdatasyncs in the background every `fsyncMs` (20 ms).
- `durability: fsync`: the turn's upstream writes wait until the fdatasync of the batch holding their intent
  records has returned; records appended meanwhile form the next batch (group commit).
TXT
  echo
  echo "Audit records written during this run (warm-ups included): ${RECORDS[dgf]} by dgf (default), ${PER_REQ[dgf]} per request;"
  echo "${RECORDS[dgf-fsync]} by dgf fsync, ${PER_REQ[dgf-fsync]} per request."
  echo
  echo "## Goals (issue #17): dgf (default) / twemproxy"
  echo
  echo "Median over rounds of (dgf's requests/s / twemproxy's in the same round)."
  echo
  echo "| command | pipeline | goal | floor | measured | |"
  echo "| --- | --- | ---: | ---: | ---: | --- |"
  for P in 1 16; do
    for cmd in SET GET; do
      m=$(med RAT "dgf/$cmd/$P")
      echo "| $cmd | $P | >= 1.0 | ${FLOOR[$P]} | $(fmt 2 "$m") | $(status "$m" 1.0 "${FLOOR[$P]}") |"
    done
  done
  echo
  echo "## Requests/s"
  echo
  echo "Median over rounds for each target; each ratio is the median over rounds of the ratio of the same round (not the"
  echo "ratio of the medians). The bare Node forwarder is a reference, not a proxy: \`bench/redis/bare-forwarder.ts\` is"
  echo "dgf's batching with nothing else (no auth, policy, audit or masking)."
  echo
  echo "| command | pipeline | direct | twemproxy | bare forwarder | dgf (default) | dgf fsync | bare / twemproxy | dgf / twemproxy | dgf fsync / twemproxy |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for P in 1 16; do
    for cmd in SET GET; do
      row="| $cmd | $P |"
      for t in direct twemproxy bare dgf dgf-fsync; do row+=" $(fmt 0 "$(med RPS "$t/$cmd/$P")") |"; done
      for t in bare dgf dgf-fsync; do row+=" $(fmt 2 "$(med RAT "$t/$cmd/$P")") |"; done
      echo "$row"
    done
  done
  echo
  echo "## CPU per request, microseconds"
  echo
  echo "CPU time (utime + stime from /proc/<pid>/stat, $HZ ticks/s) the proxy process used during a measured run, divided"
  echo "by the run's $REQUESTS requests (the $CLIENTS connections' setup included); median over rounds. dgf's and the"
  echo "forwarder's figures are the whole Node process (all its threads)."
  echo
  echo "| command | pipeline | twemproxy | bare forwarder | dgf (default) | dgf fsync |"
  echo "| --- | --- | ---: | ---: | ---: | ---: |"
  for P in 1 16; do
    for cmd in SET GET; do
      row="| $cmd | $P |"
      for t in twemproxy bare dgf dgf-fsync; do row+=" $(fmt 2 "$(med CPU "$t/$cmd/$P")") |"; done
      echo "$row"
    done
  done
  echo
  echo "## Every round (round 1 / round 2 / ...)"
  echo
  echo "| command | pipeline | | per round |"
  echo "| --- | --- | --- | --- |"
  for P in 1 16; do
    for cmd in SET GET; do
      for t in direct twemproxy bare dgf dgf-fsync; do echo "| $cmd | $P | $t req/s |$(per_round RPS "$t/$cmd/$P" 0) |"; done
      for t in bare dgf dgf-fsync; do echo "| $cmd | $P | $t / twemproxy |$(per_round RAT "$t/$cmd/$P" 2) |"; done
      for t in twemproxy dgf dgf-fsync; do echo "| $cmd | $P | $t CPU us/req |$(per_round CPU "$t/$cmd/$P" 2) |"; done
    done
  done
  echo
  cat <<'TXT'
## Profile of 2026-12-08 (not re-measured by this script)

Pipeline 16, SET, the default configuration (V8 sampler and a sampling heap profile that keeps collected objects):
dgf allocated ~2.3 KB per command (the parser's argument views and arrays ~30%, dispatch's per-command objects ~30%,
the audit entries of the intent and outcome records ~9%, the reply views ~11%), i.e. a scavenge every ~5,500
commands. The largest avoidable cost was not there but in external memory: the audit log's `recent()` ring copied
every small batch into a fresh Buffer (an mmap'd ArrayBuffer, freed only by a full GC), which drove 21-22
mark-compact GCs per 2,000,000 commands; copying into reused 1 MiB chunks (src/audit/recent-lines.ts) left 3-7 and
cut dgf's CPU per command by ~10% in the same run (1,078-1,126 -> 971-985 CPU ticks for 2,000,000 SETs, twice
each, interleaved; bench/redis/ab.sh measured -17% / -19% CPU per request for SET / GET at pipeline 16). Gathering
a turn's audited commands with a loop instead of `flatMap` saved ~3% more. Still at pipeline 16: socket writes
~25% of dgf's busy time, garbage collection ~7%, dispatch ~5%, the audit's entries, bodies and seal ~12%.
On this VM the same binary's throughput and CPU per request drift by up to 30% between runs minutes apart (three
alternating pairs of 2,000,000 SETs: 769-1,101 ticks for the same code), so a change is judged by interleaved
pairs, by counts that do not drift (GC events, system calls), or not at all. A larger young generation
(`--max-semi-space-size=64`: a quarter of the scavenges) showed no difference beyond that noise in an interleaved
A/B (bench/redis/ab.sh with B_NODE_FLAGS: 4.50 vs 4.50 us per SET at pipeline 16), so dgf is not started with it.

Later on 2026-12-08 (perf and V8's sampler, the default configuration, 50 clients): a second audit write(2) per
event-loop turn, of the outcome records alone, came from the stale end-of-turn flush the turn's intents had queued
(the turn had already flushed them itself); outcomes now share the next turn's intent write (src/audit/log.ts,
`onImmediate`; unit test in test/unit/audit/write-ahead.test.ts). bench/redis/ab.sh against the commit before: CPU
per request -3% / -8% (SET / GET, pipeline 1), -9% / -3% (pipeline 16). The audit's per-batch bookkeeping went too:
prom-client's labelled `inc` per flush (hashing its labels), a queue-depth gauge set per flush (now read at scrape
time), `Array.prototype.shift` on the recent() ring. At pipeline 1, dgf's CPU is then half kernel (the client and
upstream writes waking their readers, ~35% of dgf's samples for the 50 client writes alone) and half user; dgf's
user time per request is ~3 us above the bare forwarder's (7.8 vs 4.7 us, /proc, GET). At pipeline 16 SET costs
dgf ~1.4 us a request more than GET (twemproxy: the same for both): its request has one argument more to view and
its reply path differs; no single function explains it.

## Earlier profile (not re-measured by this script)

From earlier sessions, before the write-ahead audit of issue #17 (so with the audit records written after the
replies, not before the commands); kept as the record of where dgf's time went then. Measured on this VM with the processes' CPU counters in /proc, `perf record` of the running proxy (node
--perf-basic-prof), /proc/stat for the whole machine and `strace`; analyst role, failMode open, GET. CPU per
request, user + system (the VM's speed drifts by a fifth or more within minutes; ranges over interleaved runs):

| | pipeline 1 | pipeline 16 |
| --- | ---: | ---: |
| twemproxy (one thread) | ~12.5-18.5 us (2-3.5 + 10.5-15) | ~3.1-4 us (1.5-1.9 + 1.6-2.1) |
| bare Node forwarder, pooled reads | ~17-20 us (5-7.5 + 11-14) | |
| dgf | ~17.5-23 us (8.4-12 user + 9-12 system) | ~3.3-6.5 us (2.6-5.2 + 0.7-1.3) |
| redis-benchmark itself | ~13-17 us (1-2 + 11.5-15.5) | |

- Pipeline 1: dgf's event loop is the limit. During a dgf run its one thread is 81-96% busy while the 2 cores are
  82-90% busy; during a twemproxy run twemproxy's thread is 75-80% busy and the cores 91-94%. So twemproxy's rounds
  move with the machine's speed (45,000-72,000 requests/s in one run) while dgf's stay near 1 / (its CPU per
  request), 32,000-41,000 in the same run: the ratio of a round is mostly the VM's speed at that moment.
- dgf's CPU at pipeline 1 (perf, share of dgf's CPU), before the per-turn audit records: kernel ~49%: the reply
  write system calls ~30% (on loopback the sender's write runs the client's receive path and wakes it; ~7.6 bytes
  a reply), the upstream writes ~6% (one per event-loop turn, ~25 commands each), reads and epoll ~8%. User ~51%:
  the audit record ~13% (event and metrics, body as bytes, native seal), the command's dispatch, key shape and
  decision ~8%, Node's write path around each reply ~6.5%, Node's read path ~6% plus dgf's read glue ~4%, the
  reply scan and slots ~5%, the parse ~3%. dgf makes one read and one write system call per request (twemproxy
  ~5: it adds two epoll_ctl and a getpeername), so its system time matches twemproxy's; the gap is user time.
- Audit records per turn and subject (`protocols/redis/turn-records.ts`): at pipeline 1 one command per client is
  read per turn; the commands of clients with one identity and role completed in a turn now share one record with
  an entry per command (~15 a record here). The audit's share of dgf's CPU fell from ~13.7% to ~5.7% (perf);
  the pipeline-1 medians of four full runs were 0.73-0.86 (SET) and 0.74-0.81 (GET), from 0.61-0.69/0.62-0.75.
- Writes at the end of the turn, upstream first (`protocols/redis/turn-end.ts`): the commands read during a turn
  go to Redis before the turn's replies go to the clients, so Redis works on the next batch while dgf writes.
  Measured interleaved against the previous commit: pipeline 16 +13% requests/s (253,000 vs 225,000, every pair
  ahead), pipeline 1 +2.5% (44,200 vs 43,100) with 0.6 us less user CPU per request.
- Pipeline 16: one audit record per batch with an entry per command (written as bytes), the parse, dispatch and
  decision per command, the client writes and the batch concatenations are the largest items.
- Audit: a record's canonical body is written as bytes when the command completes (`src/audit/body-bytes.ts`); the
  batch is sealed (seq, prev, HMAC, line) at the group commit by `src/audit/native/seal.c` (OpenSSL's SHA-256 linked
  into Node, HMAC resumed from precomputed ipad/opad states). Sealing on a worker thread, and writing the client
  replies from a worker thread, were both measured slower: the 2 cores are shared, so a hand-off only adds CPU and
  latency. Writing each reply with `fs.writeSync` on the socket's descriptor from the event loop (skipping the
  Writable stream when its queue is empty) saved ~0.3% of dgf's CPU: fs.writeSync has its own per-call costs; not
  kept.
TXT
} >"$OUT"
cat "$OUT"
