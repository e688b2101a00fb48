#!/usr/bin/env bash
# The store at scale (issue 12), side by side in one run: one real ActiveMQ 5.17.2 broker
# (Debian package, KahaDB with its default journal GC; scripts/lib/activemq.sh) and an mqsim
# 3-node cluster (real ZooKeeper ensemble, sync = quorum_mem), the same STOMP workload from
# the same client (`mqsim bench store`, release build), one broker at a time:
#   (a) disk used after N messages sent and consumed (right after, and after a quiet spell);
#   (b) restart time with (a)'s history and a few live messages, clean and with the index
#       deleted (ActiveMQ: db.data + db.redo; mqsim: each node's index);
#   (c) an mqsim slave's catch-up after missing M messages (ActiveMQ: n/a);
#   (d) a selective consumer on an N-message queue where 99 % do not match.
# Then `mqsim bench store report` rewrites the "store" section of docs/benchmarks.md, which
# keeps the first run written (the "before") and this one.
#
#   scripts/bench-store.sh [--label "after issue 12"] [--fresh] [--out FILE]
#
# --label names the run in the section (default: "commit <short hash>"; a run with the same
# label replaces the earlier one); --fresh drops the runs already there.
# Environment: BENCH_STORE_N (1000000) messages per fill, BENCH_STORE_SIZE (1024) body bytes,
# BENCH_STORE_MISSED (100000) messages the slave misses in (c), BENCH_STORE_LIVE (1000) live
# messages in (b), BENCH_STORE_PRODUCERS (4) producer connections, BENCH_STORE_SETTLE (70)
# seconds idle before (a)'s second measure (KahaDB's journal GC runs every 30 s),
# BENCH_STORE_IDLE (60) seconds without a message that end a consumer (a stall; longer than
# the 30 s period of ActiveMQ's queue expiry scan), BENCH_STORE_SELECT_LIMIT (900) seconds at
# most for (d)'s selective consumer, BENCH_STORE_INDEX_NAMES (index): comma-separated name
# prefixes of what (b) deletes from each mqsim store directory as "the index" (the report
# lists what it deleted), BENCH_STORE_PORT_BASE (27200): ActiveMQ on BASE (openwire) and
# BASE+1 (stomp), the cluster on BASE+40..BASE+62.
# mqsim's memoryLimit and storeLimit are raised for the run (every waiting message is held in
# memory: the 64 MiB default stops a producer long before (d)'s N messages wait); the report
# says so. Everything runs in a mktemp directory that is removed at the end; every process
# started here is stopped by its PID (or `mqsim down`).
set -euo pipefail
cd "$(dirname "$0")/.."

LABEL="" FRESH="" OUT=docs/benchmarks.md
while [ $# -gt 0 ]; do
  case "$1" in
    --label) LABEL=$2; shift 2 ;;
    --fresh) FRESH=--fresh; shift ;;
    --out) OUT=$2; shift 2 ;;
    -h | --help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
N=${BENCH_STORE_N:-1000000}
SIZE=${BENCH_STORE_SIZE:-1024}
MISSED=${BENCH_STORE_MISSED:-100000}
LIVE=${BENCH_STORE_LIVE:-1000}
PRODUCERS=${BENCH_STORE_PRODUCERS:-4}
SETTLE=${BENCH_STORE_SETTLE:-70}
IDLE=${BENCH_STORE_IDLE:-60}
SELECT_LIMIT=${BENCH_STORE_SELECT_LIMIT:-900}
INDEX_NAMES=${BENCH_STORE_INDEX_NAMES:-index}
BASE=${BENCH_STORE_PORT_BASE:-27200}
[ -n "$LABEL" ] || LABEL="commit $(git rev-parse --short HEAD)"

scripts/setup.sh activemq
echo "==> building mqsim (release)"
cargo build --release --locked --quiet
MQSIM="$(pwd)/${CARGO_TARGET_DIR:-target}/release/mqsim"
WORK=$(mktemp -d /tmp/mqsim-bench-store.XXXXXX)
date +%s >"$WORK/started"
CFG=$WORK/mqsim/cluster.toml
AMQ_PID=""

# start_activemq / stop_amq
source scripts/lib/activemq.sh
cleanup() {
  stop_amq
  if [ -f "$CFG" ]; then "$MQSIM" --config "$CFG" down >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# step NAME ARGS...: `mqsim bench store ARGS...`, its JSON kept as $WORK/NAME.json.
step() {
  local name=$1
  shift
  echo "==> $name: $*"
  "$MQSIM" --config "$CFG" bench store "$@" >"$WORK/$name.json"
  cut -c1-400 "$WORK/$name.json"
}

# --- the brokers ------------------------------------------------------------------------
mkdir -p "$WORK/mqsim"
"$MQSIM" bench cluster-toml --base $((BASE + 40)) --sync quorum_mem >"$CFG"
MEMORY=$((2 * N * (SIZE + 512)))
STORE=$((8 * N * (SIZE + 512)))
[ "$MEMORY" -ge $((64 << 20)) ] || MEMORY=$((64 << 20))
[ "$STORE" -ge $((10 << 30)) ] || STORE=$((10 << 30))
sed -i "/^\[cluster\]\$/a memoryLimit = $MEMORY\nstoreLimit = $STORE" "$CFG"
echo "==> mqsim: 3 nodes, quorum_mem, memoryLimit $MEMORY, storeLimit $STORE ($WORK/mqsim)"
"$MQSIM" --config "$CFG" up >/dev/null

start_activemq "$WORK/activemq" "$BASE" "$((BASE + 1))"
AMQ_URL="tcp://127.0.0.1:$AMQ_STOMP"
KAHADB=$AMQ_DATA/kahadb
if ! "$MQSIM" bench store wait-stomp --url "$AMQ_URL" --timeout 120 >/dev/null; then
  tail -20 "$AMQ_BASE/stdout.log" "$AMQ_DATA/activemq.log" >&2 || true
  exit 1
fi
cut -d' ' -f1 /proc/loadavg >"$WORK/loadavg.start"

url() { if [ "$1" = activemq ]; then echo "$AMQ_URL"; else echo master; fi; }
dirs() { if [ "$1" = activemq ]; then echo "--dir kahadb=$KAHADB"; else echo "--nodes"; fi; }

# ActiveMQ stopped cleanly (SIGTERM), the given KahaDB files deleted, started, timed to serving.
restart_activemq() {
  local name=$1
  shift
  stop_amq
  for f in "$@"; do rm -f "$KAHADB/$f"; done
  local deleted=()
  for f in "$@"; do deleted+=(--deleted "$f"); done
  local t0
  t0=$(date +%s%3N)
  start_activemq "$WORK/activemq" "$BASE" "$((BASE + 1))"
  step "activemq.$name" wait-stomp --url "$AMQ_URL" --since-ms "$t0" "${deleted[@]}"
}

# --- (a) disk after N messages sent and consumed ------------------------------------------
for b in activemq mqsim; do
  step "$b.fill-a" fill --url "$(url $b)" --queue store.a --n "$N" --size "$SIZE" --producers "$PRODUCERS"
  step "$b.drain-a" drain --url "$(url $b)" --queue store.a --n "$N" --idle "$IDLE"
  # shellcheck disable=SC2046 # dirs prints options
  step "$b.du-a" du $(dirs $b) --settle "$SETTLE"
done

# --- (b) restart with history and a few live messages --------------------------------------
for b in activemq mqsim; do
  step "$b.fill-b" fill --url "$(url $b)" --queue store.b --n "$LIVE" --size "$SIZE" --producers 1
  # shellcheck disable=SC2046
  step "$b.du-b" du $(dirs $b)
done
restart_activemq restart
restart_activemq restart-index db.data db.redo
step mqsim.restart restart
step mqsim.restart-index restart --drop-index --index-names "$INDEX_NAMES"
for b in activemq mqsim; do
  step "$b.drain-b" drain --url "$(url $b)" --queue store.b --n "$LIVE" --idle "$IDLE"
done

# --- (c) a slave misses M messages ---------------------------------------------------------
step mqsim.catch-up catch-up --queue store.c --missed "$MISSED" --size "$SIZE" --producers "$PRODUCERS"
step mqsim.drain-c drain --url master --queue store.c --n "$MISSED" --idle "$IDLE"

# --- (d) a selective consumer on an N-message queue, 1 in 100 matching -----------------------
for b in activemq mqsim; do
  step "$b.fill-d" fill --url "$(url $b)" --queue store.d --n "$N" --size "$SIZE" --producers "$PRODUCERS" \
    --match-every 100
  step "$b.select-d" drain --url "$(url $b)" --queue store.d --n $(((N + 99) / 100)) --selector "color = 'red'" \
    --idle "$IDLE" --limit "$SELECT_LIMIT"
  got=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["received"])' "$WORK/$b.select-d.json")
  step "$b.rest-d" drain --url "$(url $b)" --queue store.d --n $((N - got)) --idle "$IDLE"
done

# --- the report ---------------------------------------------------------------------------
cut -d' ' -f1 /proc/loadavg >"$WORK/loadavg.end"
"$MQSIM" --config "$CFG" bench store report --work "$WORK" --label "$LABEL" $FRESH --out "$OUT"
