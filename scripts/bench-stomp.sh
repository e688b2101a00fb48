#!/usr/bin/env bash
# STOMP throughput, latency and broker RSS, side by side in one run:
#   (o)  the disk itself (`mqsim bench disk`): a durable journal append alone and 3 at once;
#   (i)  one real ActiveMQ 5.17.2 broker (Debian package, Debian's JVM flags, KahaDB with its
#        default fsync per synchronous send), started without Debian's wrapper as in
#        shared/reference/anchor-baseline.md §2;
#   (ii) mqsim clusters (real ZooKeeper ensemble, 3 nodes) with sync = quorum_mem and quorum_disk;
#   (iii) a replicated peer: RabbitMQ 3.10 (Debian package), 3 nodes on this host, STOMP plugin, a
#        quorum queue (Raft over the 3 nodes, every member fsyncs; scripts/lib/rabbitmq.sh), the
#        same contract as quorum_disk.
# All four brokers are up at once and measured in turn, one rep each per round
# ($BENCH_ROUNDS, default 5), so that a change in the host's speed during the run (common on a
# shared VM host) falls on all four alike. The same client (`mqsim bench stomp`, release
# build) drives each one; then `mqsim bench stomp-report` rewrites the "stomp" section of
# docs/benchmarks.md.
#
# Ports: $BENCH_PORT_BASE (default 24000) .. +200 for ActiveMQ and mqsim; $BENCH_RMQ_PORT_BASE
# (default 27000) .. +99 for RabbitMQ, its epmd included (see scripts/lib/rabbitmq.sh).
# Everything runs in a mktemp directory that is removed at the end; every process started here
# is stopped by its PID (or `mqsim down`, or `rabbitmqctl stop`).
# $BENCH_N (5000) messages of $BENCH_SIZE (1024) bytes per test, $BENCH_WARMUP (2000) warm-up
# sends in the first round. Takes about six minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh activemq rabbitmq
echo "==> building mqsim (release)"
cargo build --release --locked --quiet
MQSIM="${CARGO_TARGET_DIR:-target}/release/mqsim"
OUT=docs/benchmarks.md
BASE=${BENCH_PORT_BASE:-24000}
WORK=$(mktemp -d /tmp/mqsim-bench-stomp.XXXXXX)
AMQ_PID=""
CONFIGS=()

# start_activemq / stop_amq, start_rabbitmq / stop_rabbitmq
source "$(dirname "$0")/lib/activemq.sh"
source "$(dirname "$0")/lib/rabbitmq.sh"
cleanup() {
  stop_amq
  stop_rabbitmq
  for c in "${CONFIGS[@]}"; do "$MQSIM" --config "$c" down >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Until a STOMP CONNECT on 127.0.0.1:$1 (virtual host $3, default localhost) gets CONNECTED
# (at most $2 seconds).
wait_stomp() {
  python3 - "$1" "$2" "${3:-localhost}" <<'EOF'
import socket, sys, time
port, limit, host = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
t0 = time.time()
while time.time() - t0 < limit:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"CONNECT\naccept-version:1.2\nhost:" + host.encode() + b"\n\n\0")
            if s.recv(4096).startswith(b"CONNECTED"):
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.05)
sys.exit(f"nothing answered a STOMP CONNECT on port {port} within {limit} s")
EOF
}

# Waits until the machine is quiet: the CPUs less than $BENCH_QUIET_BUSY % busy (default 25)
# over 3 s, for at most $BENCH_QUIET_MAX seconds (default 600; 0 skips). Other work on the
# host moves these figures a lot; the report shows the load average of each run.
wait_quiet() {
  python3 - "${BENCH_QUIET_BUSY:-25}" "${BENCH_QUIET_MAX:-600}" <<'EOF'
import sys, time
limit, wait = float(sys.argv[1]), float(sys.argv[2])
def snap():
    v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return sum(v), v[3] + v[4]
t0 = time.time()
while True:
    (a, ai) = snap()
    time.sleep(3)
    (b, bi) = snap()
    busy = 100.0 * (1 - (bi - ai) / max(1, b - a))
    if busy < limit or time.time() - t0 >= wait:
        note = "" if busy < limit else f", gave up waiting after {wait:.0f} s"
        print(f"    (CPUs {busy:.0f}% busy{note})", file=sys.stderr)
        break
EOF
}

# --- (o) the disk: a durable journal append alone and three at once (master + 2 slaves) -----
wait_quiet
echo "==> the disk ($WORK)"
"$MQSIM" bench disk --dir "$WORK" --json >"$WORK/disk.json"

# --- (i) ActiveMQ 5.17.2, one node ------------------------------------------------------
start_activemq "$WORK/activemq" "$BASE" "$((BASE + 1))"
if ! wait_stomp "$AMQ_STOMP" 60; then
  tail -20 "$AMQ_BASE/stdout.log" "$AMQ_DATA/activemq.log" >&2 || true
  exit 1
fi
declare -A URL PID LABEL
URL[activemq]="tcp://127.0.0.1:$AMQ_STOMP"
PID[activemq]=$AMQ_PID
LABEL[activemq]="ActiveMQ 5.17.2"

# --- (ii) mqsim, quorum_mem and quorum_disk --------------------------------------------
block=0
for sync in quorum_mem quorum_disk; do
  block=$((block + 1))
  dir=$WORK/$sync
  mkdir -p "$dir"
  "$MQSIM" bench cluster-toml --base $((BASE + 40 * block)) --sync "$sync" >"$dir/cluster.toml"
  CONFIGS+=("$dir/cluster.toml")
  echo "==> mqsim sync=$sync ($dir)"
  "$MQSIM" --config "$dir/cluster.toml" up >/dev/null
  read -r master_pid master_stomp < <("$MQSIM" --config "$dir/cluster.toml" status --json | python3 -c '
import json, sys
st = json.load(sys.stdin)
node = next(n for n in st["nodes"] if n["name"] == st["master"])
print(node["pid"], node["ports"]["stomp"])')
  wait_stomp "$master_stomp" 60
  URL[$sync]="tcp://127.0.0.1:$master_stomp"
  PID[$sync]=$master_pid
  LABEL[$sync]="mqsim $sync"
done

# --- (iii) RabbitMQ 3.10, 3 nodes, one quorum queue -------------------------------------
# A fresh quorum queue per test and round, as the others get (`bench stomp` names them
# PREFIX.warmup, PREFIX.a.1, PREFIX.b.1 with --reps 1): RabbitMQ answers an ACK's RECEIPT before
# the queue has the settlement, so a consumer's last few ACKs can be lost when it disconnects
# and those messages come back, redelivered, to the next test on the same queue.
RMQ_QUEUES=(bench.r1.warmup)
for round in $(seq "${BENCH_ROUNDS:-5}"); do RMQ_QUEUES+=("bench.r$round.a.1" "bench.r$round.b.1"); done
start_rabbitmq "$WORK/rabbitmq" "${BENCH_RMQ_PORT_BASE:-27000}" "${RMQ_QUEUES[@]}"
wait_stomp "$RMQ_STOMP" 60 /
URL[rabbitmq]="tcp://127.0.0.1:$RMQ_STOMP"
PID[rabbitmq]=$RMQ_PID
LABEL[rabbitmq]="RabbitMQ 3.10 quorum queue"

# --- (iv) rounds: one rep of each broker per round ---------------------------------------
sleep 5 # idle RSS is read 5 s (or more) after the brokers answer, by `bench stomp --pid`
BROKERS=(activemq rabbitmq quorum_mem quorum_disk)
for round in $(seq "${BENCH_ROUNDS:-5}"); do
  wait_quiet
  warmup=0
  [ "$round" = 1 ] && warmup=${BENCH_WARMUP:-2000}
  for b in "${BROKERS[@]}"; do
    echo "==> round $round: ${LABEL[$b]}"
    # RabbitMQ: the vhost in CONNECT, and this round's declared quorum queues (a /queue/NAME
    # destination would make a classic queue).
    extra=()
    [ "$b" = rabbitmq ] && extra=(--host / --queue-prefix "/amq/queue/bench.r$round")
    "$MQSIM" bench stomp --url "${URL[$b]}" --pid "${PID[$b]}" --label "${LABEL[$b]}" --json --reps 1 \
      --warmup "$warmup" --n "${BENCH_N:-5000}" --size "${BENCH_SIZE:-1024}" "${extra[@]}" >"$WORK/$b.$round.json"
  done
done

# What RabbitMQ's queues still hold, every message having been consumed (its counts lag by a
# few seconds: a quorum queue reports them on its periodic tick).
sleep 15
rmqctl -n "${RMQ_NODES[0]}" -q list_queues name messages --formatter json >"$WORK/rabbitmq-left.json"

# --- (v) the report ------------------------------------------------------------------
rounds() { seq -f "$WORK/$1.%g.json" "${BENCH_ROUNDS:-5}"; }
mapfile -t AMQ_RUNS < <(rounds activemq)
mapfile -t RMQ_RUNS < <(rounds rabbitmq)
mapfile -t MEM_RUNS < <(rounds quorum_mem)
mapfile -t DISK_RUNS < <(rounds quorum_disk)
"$MQSIM" bench stomp-report --activemq "${AMQ_RUNS[@]}" --rabbitmq "${RMQ_RUNS[@]}" --quorum-mem "${MEM_RUNS[@]}" \
  --quorum-disk "${DISK_RUNS[@]}" --disk "$WORK/disk.json" \
  --rabbitmq-left "$WORK/rabbitmq-left.json" --build "release build" --out "$OUT"
