#!/usr/bin/env bash
# pgbench -S with 1 and 8 clients, in one run, targets interleaved: direct, through PgBouncer (transaction mode,
# pool 2), through dgf in its default configuration (transaction mode, pool 2, shipped packs, audit to a file;
# no failMode/durability keys: failMode closed, durability write) and through dgf with durability fsync (failMode
# closed) beside it. ROUNDS rounds of DURATION seconds; the ratios are medians of per-round ratios (dgf and
# PgBouncer measured in the same round). CPU per transaction of PgBouncer and both dgf processes from
# /proc/<pid>/stat (utime + stime). Then dgf's RSS with IDLE_CLIENTS idle clients and the statement-analysis cost.
# Writes bench/results/postgres.md. Needs the test PostgreSQL on 55432 (scripts/backends.sh).
#   bash bench/postgres/run.sh                       # ROUNDS=5 DURATION=5 SCALE=10 IDLE_CLIENTS=5000
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PGPORT=55432
BOUNCER_PORT=${BOUNCER_PORT:-16510}
DGF_PORT=${DGF_PORT:-16511}
ADMIN_PORT=${ADMIN_PORT:-16512}
PIPE_PORT=${PIPE_PORT:-16515}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-5}
SCALE=${SCALE:-10}
IDLE_CLIENTS=${IDLE_CLIENTS:-5000}
HZ=$(getconf CLK_TCK)
DB=dgf_bench
WORK=$(mktemp -d /tmp/dgf-bench-pg.XXXXXX)
chmod 777 "$WORK"
DGF_PIDS=()
PIPE_PID=""
cleanup() {
  [ -n "$PIPE_PID" ] && kill "$PIPE_PID" 2>/dev/null || true
  for p in "${DGF_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$WORK/pgbouncer.pid" ] && kill "$(cat "$WORK/pgbouncer.pid")" 2>/dev/null || true
  sleep 0.5
  psql -X -q -h 127.0.0.1 -p $PGPORT -U postgres -c "drop database if exists $DB with (force)" postgres >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

bash scripts/backends.sh start >/dev/null
psql -X -q -h 127.0.0.1 -p $PGPORT -U postgres -c "drop database if exists $DB with (force)" -c "create database $DB" postgres
pgbench -i -q -s "$SCALE" -h 127.0.0.1 -p $PGPORT -U postgres $DB >/dev/null 2>&1

# PgBouncer: transaction pooling, 2 server connections, as the postgres user (it refuses root).
sed -e "s|@DB@|$DB|g" -e "s|@PGPORT@|$PGPORT|g" -e "s|@PORT@|$BOUNCER_PORT|g" -e "s|@DIR@|$WORK|g" \
  bench/postgres/pgbouncer.ini.in > "$WORK/pgbouncer.ini"
echo '"postgres" ""' > "$WORK/userlist.txt"
chmod 644 "$WORK/pgbouncer.ini" "$WORK/userlist.txt"
su postgres -s /bin/sh -c "/usr/sbin/pgbouncer -d $WORK/pgbouncer.ini"
for _ in $(seq 1 50); do [ -s "$WORK/pgbouncer.pid" ] && break; sleep 0.1; done
BOUNCER_PID=$(cat "$WORK/pgbouncer.pid")

# A reference, not a proxy to compare dgf with: a bare Node TCP pipe (one upstream connection per client, no parsing
# or pooling), to show what Node's own per-read/per-write cost is next to PgBouncer's.
node --import tsx bench/postgres/bare-pipe.ts "$PIPE_PORT" "$PGPORT" 2>"$WORK/pipe.log" &
PIPE_PID=$!
for _ in $(seq 1 100); do psql -X -q -h 127.0.0.1 -p "$PIPE_PORT" -U postgres -c 'select 1' $DB >/dev/null 2>&1 && break; sleep 0.2; done

# dgf: transaction pooling, 2 upstream connections, shipped packs, audit to a file (fsyncMs 20), twice:
#   dgf        the default configuration (no failMode/durability keys: failMode closed, durability write)
#   dgf-fsync  failMode closed, durability fsync
source bench/postgres/dgf.sh
declare -A PORT PID
PORT[dgf]=$DGF_PORT
PORT[fsync]=$((DGF_PORT + 10))
PID[dgf]=$(start_bench_dgf default "${PORT[dgf]}" "$ADMIN_PORT" dgf)
DGF_PIDS+=("${PID[dgf]}")
PID[fsync]=$(start_bench_dgf fsync "${PORT[fsync]}" $((ADMIN_PORT + 1)) fsync)
DGF_PIDS+=("${PID[fsync]}")
PORT[direct]=$PGPORT
PORT[bouncer]=$BOUNCER_PORT
PORT[pipe]=$PIPE_PORT
PID[pipe]=$PIPE_PID
PID[direct]=""
PID[bouncer]=$BOUNCER_PID
declare -A USER_OF=([direct]=postgres [bouncer]=postgres [pipe]=postgres [dgf]=bench [fsync]=bench)
declare -A PW_OF=([direct]="" [bouncer]="" [pipe]="" [dgf]=benchpw [fsync]=benchpw)
declare -A TX_THROUGH=([dgf]=0 [fsync]=0) # transactions through each dgf, warm-ups included (audit records / tx)

# utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/<pid>/stat; the command name, field 2, may
# hold spaces, so count from the ") " that ends it).
ticks() { if [ -n "$1" ]; then sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; else echo 0; fi; }

# One pgbench -S run against a target; prints "tps transactions cpu_us_per_transaction" (cpu "-" without a pid).
measure() { # target clients
  local t=$1 c=$2 pid=${PID[$1]} out t0 t1
  t0=$(ticks "$pid")
  out=$(PGPASSWORD=${PW_OF[$t]} pgbench -n -S -T "$DURATION" -c "$c" -j "$(( c < 2 ? 1 : 2 ))" -h 127.0.0.1 -p "${PORT[$t]}" -U "${USER_OF[$t]}" $DB 2>/dev/null || true)
  t1=$(ticks "$pid")
  echo "$out" | awk -v d=$((t1 - t0)) -v hz="$HZ" -v pid="$pid" '
    /^tps/ { tps = $3 }
    /actually processed/ { n = $NF; sub(/\/.*/, "", n) }
    END { printf "%.0f %d %s\n", tps, n, (pid != "" && n > 0) ? sprintf("%.1f", d * 1e6 / hz / n) : "-" }'
}
# Median of the numbers on stdin (mean of the middle two for an even count).
median() { tr ' ' '\n' | { grep -v -e '^$' -e '^-$' || true; } | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }
fmt2() { awk -v x="$1" 'BEGIN { if (x == "n/a") print x; else printf "%.2f", x }'; }
fmt1() { awk -v x="$1" 'BEGIN { if (x == "n/a") print x; else printf "%.1f", x }'; }

TARGETS=(direct bouncer pipe dgf fsync)
declare -A TPS CPU RAT MED
for c in 1 8; do
  for t in bouncer pipe dgf fsync; do # warm-up, not measured: JIT, pools, caches
    read -r _ n _ < <(measure $t $c)
    case $t in dgf | fsync) TX_THROUGH[$t]=$(( ${TX_THROUGH[$t]} + n )) ;; esac
  done
  for r in $(seq 1 "$ROUNDS"); do
    # Interleaved, the order reversed every other round: a slow moment of the shared machine hits all targets.
    order=("${TARGETS[@]}")
    ((r % 2)) || order=(fsync dgf pipe bouncer direct)
    for t in "${order[@]}"; do
      read -r tps n cpu < <(measure $t $c)
      TPS[$c/$t/$r]=$tps; CPU[$c/$t/$r]=$cpu
      case $t in dgf | fsync) TX_THROUGH[$t]=$(( ${TX_THROUGH[$t]} + n )) ;; esac
    done
    RAT[$c/dgf/$r]=$(ratio "${TPS[$c/dgf/$r]}" "${TPS[$c/bouncer/$r]}")
    RAT[$c/fsync/$r]=$(ratio "${TPS[$c/fsync/$r]}" "${TPS[$c/bouncer/$r]}")
    RAT[$c/pipe/$r]=$(ratio "${TPS[$c/pipe/$r]}" "${TPS[$c/bouncer/$r]}")
    echo "clients=$c round=$r direct=${TPS[$c/direct/$r]} pgbouncer=${TPS[$c/bouncer/$r]} (${CPU[$c/bouncer/$r]} us/tx)" \
      "dgf=${TPS[$c/dgf/$r]} (${CPU[$c/dgf/$r]} us/tx, ratio ${RAT[$c/dgf/$r]})" \
      "dgf-fsync=${TPS[$c/fsync/$r]} (${CPU[$c/fsync/$r]} us/tx, ratio ${RAT[$c/fsync/$r]})" \
      "node-pipe=${TPS[$c/pipe/$r]} (${CPU[$c/pipe/$r]} us/tx, ratio ${RAT[$c/pipe/$r]})"
  done
  for t in "${TARGETS[@]}"; do
    MED[$c/tps/$t]=$(for r in $(seq 1 "$ROUNDS"); do echo "${TPS[$c/$t/$r]}"; done | median)
    MED[$c/cpu/$t]=$(for r in $(seq 1 "$ROUNDS"); do echo "${CPU[$c/$t/$r]}"; done | median)
  done
  for t in dgf fsync pipe; do MED[$c/ratio/$t]=$(for r in $(seq 1 "$ROUNDS"); do echo "${RAT[$c/$t/$r]}"; done | median); done
  echo "clients=$c medians: direct=${MED[$c/tps/direct]} pgbouncer=${MED[$c/tps/bouncer]} dgf=${MED[$c/tps/dgf]} dgf-fsync=${MED[$c/tps/fsync]}" \
    "dgf/pgbouncer=${MED[$c/ratio/dgf]} dgf-fsync/pgbouncer=${MED[$c/ratio/fsync]}" \
    "cpu us/tx: pgbouncer=${MED[$c/cpu/bouncer]} dgf=${MED[$c/cpu/dgf]} dgf-fsync=${MED[$c/cpu/fsync]}"
done
# Every file of the sink: the active one and any rotated at 100 MiB.
declare -A RECORDS PER_TX
for t in dgf fsync; do
  RECORDS[$t]=$(cat "$WORK"/audit-$t/*.jsonl | wc -l)
  PER_TX[$t]=$(ratio "${RECORDS[$t]}" "${TX_THROUGH[$t]}")
done
kill "${PID[fsync]}"
IDLE=$(node --import tsx bench/postgres/idle-clients.ts "${PORT[dgf]}" bench benchpw "$IDLE_CLIENTS" "${PID[dgf]}")
echo "idle: $IDLE"
GOV=$(node --import tsx bench/postgres/governance-cost.ts)
echo "governance: $GOV"

# Goal of issue #17 for dgf (default configuration) / PgBouncer, and the floor below which it is a regression.
status() { # ratio goal floor
  awk -v x="$1" -v g="$2" -v f="$3" 'BEGIN { if (x == "n/a") print "n/a"; else if (x >= g) print "goal met"; else if (x >= f) print "below goal, above floor"; else print "below floor" }'
}
declare -A GOAL=([1]=0.9 [8]=1.0) FLOOR=([1]=0.75 [8]=0.9)
rounds_row() { # clients target -> " v1 / v2 / ..." of TPS, CPU or RAT
  local c=$1 key=$2 arr=$3 r out=""
  for r in $(seq 1 "$ROUNDS"); do
    case $arr in TPS) out+=" ${TPS[$c/$key/$r]}" ;; CPU) out+=" ${CPU[$c/$key/$r]}" ;; RAT) out+=" $(fmt2 "${RAT[$c/$key/$r]}")" ;; esac
    [ "$r" -lt "$ROUNDS" ] && out+=" /"
  done
  echo "$out"
}

mkdir -p bench/results
{
cat <<MD
# PostgreSQL: dgf vs PgBouncer vs direct

Run: $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores ($(uname -r)); \`ROUNDS=$ROUNDS DURATION=$DURATION bash bench/postgres/run.sh\`:
$ROUNDS interleaved rounds of ${DURATION}s per point (the targets' order reversed every other round), after one
unmeasured warm-up run per proxy; pgbench -S, scale $SCALE. PostgreSQL 15 on 127.0.0.1:$PGPORT (its own fsync off).
PgBouncer $(/usr/sbin/pgbouncer --version | head -1 | awk '{print $2}'): transaction mode, default_pool_size 2.
dgf: transaction mode, maxConnections 2, shipped policy packs, SCRAM client login, audit to a file sink (fsyncMs 20),
run as \`node --import tsx src/cli/main.ts start --config <yaml>\` (config: bench/postgres/dgf.sh), twice side by side:

- **dgf (default)**: no \`failMode\` / \`durability\` keys in the config, i.e. the defaults \`failMode: closed\`,
  \`durability: write\`;
- **dgf fsync**: \`failMode: closed\`, \`durability: fsync\`.

Everything (pgbench, the proxies, PostgreSQL) shares the same machine, which other work shares too.

## The audit dgf runs here: write-ahead (issue #17)

With \`failMode: closed\` no statement goes upstream before its intent record is written: dgf appends the
statement's intent record (normalized statement, identity, role, objects, decision, hash chain) and sends the
statement to PostgreSQL only once the audit log has taken it; the outcome follows as a record nobody waits for.

- \`durability: write\` (default): the records appended during one event-loop turn are sealed and handed to the
  operating system (the page cache) with one write(2) per event-loop turn; the statements then go upstream in the
  same turn. The file sink fdatasyncs in the background, every \`fsyncMs\` (20 ms here).
- \`durability: fsync\`: a statement goes upstream only after the fdatasync of the batch holding its intent record
  has returned; records appended meanwhile form the next batch (group commit).

Audit records written during this run (warm-ups included): ${RECORDS[dgf]} by dgf (default) for ${TX_THROUGH[dgf]}
transactions (${PER_TX[dgf]} per transaction), ${RECORDS[fsync]} by dgf fsync for ${TX_THROUGH[fsync]} (${PER_TX[fsync]} per transaction).

## Goals (issue #17): dgf (default) / PgBouncer

| clients | goal | floor | measured (median of paired ratios) | |
| --- | ---: | ---: | ---: | --- |
MD
for c in 1 8; do
  echo "| $c | >= ${GOAL[$c]} | ${FLOOR[$c]} | $(fmt2 "${MED[$c/ratio/dgf]}") | $(status "${MED[$c/ratio/dgf]}" "${GOAL[$c]}" "${FLOOR[$c]}") |"
done
cat <<MD

## pgbench -S (select only), tps

Median over the $ROUNDS rounds for each target; each ratio is the median over rounds of (dgf's tps / PgBouncer's tps
in the same round), not the ratio of the medians.

| clients | direct | PgBouncer | dgf (default) | dgf / PgBouncer | dgf fsync | dgf fsync / PgBouncer | Node pipe | Node pipe / PgBouncer |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
MD
for c in 1 8; do
  echo "| $c | ${MED[$c/tps/direct]} | ${MED[$c/tps/bouncer]} | ${MED[$c/tps/dgf]} | $(fmt2 "${MED[$c/ratio/dgf]}") | ${MED[$c/tps/fsync]} | $(fmt2 "${MED[$c/ratio/fsync]}") | ${MED[$c/tps/pipe]} | $(fmt2 "${MED[$c/ratio/pipe]}") |"
done
cat <<MD

The Node pipe is a reference, not a proxy to compare dgf with: \`bench/postgres/bare-pipe.ts\` pipes each client to
an upstream connection of its own (no parsing, pooling, auth, policy or audit), to show Node's own per-read and
per-write cost; with 8 clients it runs 8 server connections where PgBouncer and dgf run 2.
MD
cat <<MD

Every round (round 1 / round 2 / ...):

| clients | | per round |
| --- | --- | --- |
MD
for c in 1 8; do
  echo "| $c | direct tps |$(rounds_row $c direct TPS) |"
  echo "| $c | PgBouncer tps |$(rounds_row $c bouncer TPS) |"
  echo "| $c | dgf (default) tps |$(rounds_row $c dgf TPS) |"
  echo "| $c | dgf fsync tps |$(rounds_row $c fsync TPS) |"
  echo "| $c | Node pipe tps |$(rounds_row $c pipe TPS) |"
  echo "| $c | dgf / PgBouncer |$(rounds_row $c dgf RAT) |"
  echo "| $c | dgf fsync / PgBouncer |$(rounds_row $c fsync RAT) |"
  echo "| $c | PgBouncer CPU us/tx |$(rounds_row $c bouncer CPU) |"
  echo "| $c | dgf (default) CPU us/tx |$(rounds_row $c dgf CPU) |"
  echo "| $c | dgf fsync CPU us/tx |$(rounds_row $c fsync CPU) |"
  echo "| $c | Node pipe CPU us/tx |$(rounds_row $c pipe CPU) |"
done
cat <<MD

## CPU per transaction, microseconds

CPU time (utime + stime from /proc/<pid>/stat, $HZ ticks/s) the proxy process used during a measured run, divided
by the transactions pgbench completed in it (connection setup included); median over the rounds. dgf's figure is
the whole Node process (all its threads).

| clients | PgBouncer | dgf (default) | dgf fsync | Node pipe |
| --- | ---: | ---: | ---: | ---: |
MD
for c in 1 8; do
  echo "| $c | $(fmt1 "${MED[$c/cpu/bouncer]}") | $(fmt1 "${MED[$c/cpu/dgf]}") | $(fmt1 "${MED[$c/cpu/fsync]}") | $(fmt1 "${MED[$c/cpu/pipe]}") |"
done
cat <<MD

## Memory with idle clients

\`$IDLE\`

(RSS of the dgf (default) process before and after $IDLE_CLIENTS idle client connections, each logged in with
SCRAM-SHA-256.)

## Where dgf's time goes

Statement analysis with libpg-query, per call (\`bench/postgres/governance-cost.ts\`): \`$GOV\`.
pgbench -S sends a new text per query (the account id is inlined), so dgf shares one analysis among texts of the
same shape (constants replaced; see protocols/postgres/statement-shapes.ts) instead of parsing every text.
In transaction mode, when both pooled connections are busy and no client waits in the pool, dgf may write another
client's read-only autocommit SELECT behind the running one (protocols/postgres/session.ts, pipeline-drain.ts).
With 1 client there is nothing to queue: that row is dgf's per-statement latency against PgBouncer's.

Profile of 2026-12-07 (not re-measured by this script; dgf default configuration, pgbench -S, this VM):

- System calls per transaction (strace -c): at 8 clients dgf makes ~1.5 write + 0.3 writev + 1.5 read + 0.45
  epoll_pwait (client replies one write each; upstream writes and the audit's one write per event-loop turn shared
  by the statements of that turn); PgBouncer ~2 sendto + 3 recvfrom (one of them EAGAIN) + 2 epoll_ctl + 0.7
  epoll_wait. At 1 client dgf makes 2 reads, 3 writes (client, upstream, audit) and 2.2 epoll_pwait, the minimum
  for a write-ahead proxy. dgf's gap is not system calls.
- CPU split (perf, software clock, 8 clients): kernel ~45% (socket writes waking the receiver:
  \`sock_def_readable\` and \`finish_task_switch\` alone ~19%), V8 runtime and builtins ~33% (inline caches, write
  barriers, typed-array creation for Buffer views, Map look-ups), optimized JavaScript ~17%, libc ~5%. By dgf
  component: socket writes ~33%, the audit ~15-20% (intent and outcome bodies, native seal, the write(2)), the
  Query/reply handling the rest, spread over many functions (none above 3% by itself).
- The Node pipe above (no parsing, pooling or audit) is Node's own cost: in the run of 2026-12-07 20:45 it used
  30.7 us per transaction at 8 clients (PgBouncer 28.2) and 55.9 at 1 client (PgBouncer 41.9), and reached 0.77-0.84
  of PgBouncer's tps at 1 client. So at 1 client even a bare Node pipe is below issue #17's goal of 0.9, and dgf's
  own per-statement work (parse, shape, lineage, decision, two audit records and their write, reply scan, pooling)
  is the rest: ~19 us per transaction at 8 clients, ~69 us at 1 client, where nothing is shared between the
  statements of an event-loop turn.

Profile of 2026-12-08 at 1 client (not re-measured by this script; dgf default configuration, pgbench -S):

- /proc, 8 s runs side by side: dgf 95 us user + 71 us system per transaction, the Node pipe 30 + 50. perf
  (software clock) of dgf: kernel 49% (waking the receiver of a socket write, \`sock_def_readable\`, ~13%; being
  switched back in, \`finish_task_switch\`, ~12%), Node and V8 runtime 30%, optimized JavaScript 15%, libc 5%.
- V8's sampler (wall time of the main thread, system calls included): the upstream write 26%, the client write 17%
  and the audit write 5% of busy time; the Query's handling 9% (statement shape 2, lineage verdicts 1, intent record
  2), sealing and flushing the turn's records 5%, the reply's handling 6.5%, the outcome record 3.4%. dgf's own
  JavaScript on a statement's path is ~30 us of the ~120 us dgf spends per transaction; the rest is the same writes
  and wake-ups the Node pipe pays, which at 1 client is itself at 0.73-0.80 of PgBouncer here. So the 1-client goal
  (0.9) and floor (0.75) are out of reach of dgf's JavaScript alone: they would need fewer or cheaper socket
  operations per statement than a bare Node pipe makes.

Later on 2026-12-08, 1 client (perf, software clock, per sample the innermost dgf function): the audit was ~18% of
dgf's CPU per transaction, a third of it per-batch bookkeeping rather than records: prom-client's labelled \`inc\`
for dgf_audit_records_total (hashing its labels per flush) and the queue-depth gauge set per flush ~2.5%,
\`Array.prototype.shift\` on the recent() ring ~0.5%, a fresh Buffer of the chain head per seal ~0.3%. All gone (a
LabelledCounter, the gauge read at scrape time, an index into the ring, the head's bytes reused); and plain client
connections now read through pooled reads like Redis' (the 'data' path was ~1.5%). bench/postgres/ab.sh, each
against the commit before: B/A 1.01 / 1.14 / 1.07 / 1.07, then 1.015 / 1.10 / 1.09 / 0.99 (simple 1, simple 8,
prepared 1, prepared 8 clients). System calls per statement at 1 client stay 2 reads, 3 writes, ~2.1 epoll_pwait
(also for node-postgres' extended-protocol INSERT, whose writev carries Parse/Bind/Describe/Execute/Sync).
MD
} > bench/results/postgres.md
cat bench/results/postgres.md
