#!/usr/bin/env bash
# OpenWire: the real ActiveMQ JMS client (tests/java/JmsClient.java, javax.jms 1.1 + Debian's
# activemq-client 5.17) sending persistent TextMessages, side by side in one run:
#   (i)  one real ActiveMQ 5.17.2 broker (Debian package, Debian's JVM flags, KahaDB with an
#        fsync per synchronous send), OpenWire connector only;
#   (ii) an mqsim cluster (real ZooKeeper ensemble, 3 nodes, sync = quorum_mem) through the
#        notes' failover URL; then the same producer while `mqsim kill master` runs: the
#        longest time one send() blocked is the failover gap the application sees.
# Then rewrites the "openwire" section of docs/benchmarks.md.
#
# Ports: $BENCH_PORT_BASE (default 24400) .. +80. Everything runs in a mktemp directory that is
# removed at the end; every process started here is stopped by its PID (or `mqsim down`).
# N (default 3000) messages per run, the first 500 are warm-up. Takes about two minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-3000}
WARMUP=${WARMUP:-500}
scripts/setup.sh activemq openjdk-17-jdk-headless libactivemq-java
echo "==> building mqsim (release)"
cargo build --release --locked --quiet
MQSIM="${CARGO_TARGET_DIR:-target}/release/mqsim"
OUT=docs/benchmarks.md
BASE=${BENCH_PORT_BASE:-24400}
WORK=$(mktemp -d /tmp/mqsim-bench-openwire.XXXXXX)
AMQ_PID=""
CONFIG=""
CP=/usr/share/java/activemq-client.jar:/usr/share/java/geronimo-jms_1.1_spec.jar:/usr/share/java/geronimo-j2ee-management-1.1-spec.jar:/usr/share/java/hawtbuf.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-simple.jar

# start_activemq / stop_amq
source "$(dirname "$0")/lib/activemq.sh"
cleanup() {
  stop_amq
  [ -z "$CONFIG" ] || "$MQSIM" --config "$CONFIG" down >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/classes"
javac -d "$WORK/classes" -cp "$CP" tests/java/JmsClient.java
client() { java -Xmx256m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$WORK/classes:$CP" JmsClient "$@"; }

wait_port() {
  for _ in $(seq $(($2 * 10))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1 after $2 s" >&2
  return 1
}

# --- (i) ActiveMQ 5.17.2, one node ------------------------------------------------------
start_activemq "$WORK/activemq" "$BASE"
wait_port "$AMQ_OPENWIRE" 60
sleep 3
client produce "failover:(tcp://127.0.0.1:$AMQ_OPENWIRE)?startupMaxReconnectAttempts=5" bench.activemq "$N" 0 \
  >"$WORK/activemq.txt"
stop_amq

# --- (ii) mqsim, quorum_mem ------------------------------------------------------------
dir=$WORK/mqsim
mkdir -p "$dir"
CONFIG=$dir/cluster.toml
"$MQSIM" bench cluster-toml --base $((BASE + 40)) --sync quorum_mem >"$CONFIG"
echo "==> mqsim sync=quorum_mem ($dir)"
"$MQSIM" --config "$CONFIG" up >/dev/null
ports=$(python3 -c '
import re, sys
print(",".join("tcp://127.0.0.1:" + p for p in re.findall(r"^openwire = (\d+)", open(sys.argv[1]).read(), re.M)))' "$CONFIG")
URL="failover:($ports)?randomize=false&startupMaxReconnectAttempts=40&maxReconnectDelay=1000"
sleep 3
client produce "$URL" bench.mqsim "$N" 0 >"$WORK/mqsim.txt"

# The failover run: a producer 2 ms between sends, the master killed after ~3 s.
client produce "$URL" bench.failover "$N" 2 >"$WORK/failover.txt" &
PROD=$!
sleep 3
"$MQSIM" --config "$CONFIG" kill master >/dev/null
wait "$PROD"
client consume "$URL" bench.failover 3000 >"$WORK/failover-recv.txt"
"$MQSIM" --config "$CONFIG" down >/dev/null
CONFIG=""

# --- (iii) the report -----------------------------------------------------------------
python3 - "$WORK" "$N" "$WARMUP" "$OUT" <<'EOF'
import datetime, os, re, statistics, sys
work, n, warm, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

def load(name):
    rows = [tuple(map(int, l.split()[1:4])) for l in open(os.path.join(work, name)) if l.startswith("sent ")]
    assert [r[0] for r in rows] == list(range(1, n + 1)), f"{name}: not every send returned"
    return rows

def stats(rows):
    m = rows[warm:]
    rate = (len(m) - 1) / ((m[-1][2] - m[0][2]) / 1e6)
    lat = sorted(r[1] / 1000 for r in m)
    return rate, statistics.median(lat), lat[int(0.99 * (len(lat) - 1))]

amq, mq, fo = load("activemq.txt"), load("mqsim.txt"), load("failover.txt")
ra, ma, pa = stats(amq)
rm, mm, pm = stats(mq)
recv = [int(l.split()[1]) for l in open(os.path.join(work, "failover-recv.txt")) if l.startswith("recv ")]
missing = sorted(set(range(1, n + 1)) - set(recv))
dups = len(recv) - len(set(recv))
gap = max(r[1] for r in fo) / 1000
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
ncpu = os.cpu_count()
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
section = f"""<!-- begin:openwire -->
## OpenWire: the real JMS client, persistent sends, side by side with ActiveMQ 5.17.2

Measured {now} on {ncpu} × {cpu} with `scripts/bench-openwire.sh` (mqsim release build). The
client is `tests/java/JmsClient.java produce` (javax.jms 1.1 + Debian's activemq-client 5.17.2,
one connection, one producer, `DeliveryMode.PERSISTENT`, so every `send()` waits for the
broker's Response), {n} TextMessages per run, the first {warm} are warm-up.

* **ActiveMQ 5.17.2** (Debian package): one node, no replication; Debian's JVM flags, KahaDB
  with an fsync per synchronous send; `tcp://` URL.
* **mqsim**: the 3-node cluster (real ZooKeeper ensemble), `sync = quorum_mem` (a send is
  acknowledged once the master and 1 slave have it); the notes' `failover:(...)?randomize=false`
  URL over the three openwire ports.

| broker | msg/s | per-send median (ms) | per-send p99 (ms) | msg/s vs ActiveMQ |
|---|---|---|---|---|
| mqsim `quorum_mem` | {rm:.0f} | {mm:.3f} | {pm:.3f} | {rm / ra:.2f}× |
| ActiveMQ 5.17.2 | {ra:.0f} | {ma:.3f} | {pa:.3f} | 1.00× |

**Failover, as the application sees it**: the same producer (2 ms between sends) while
`mqsim kill master` runs once: the longest a single `send()` blocked was **{gap:.0f} ms** (the
client walks its URL list until the new master opens its port, replays its state and resends
the unanswered message). Afterwards a consumer drained the queue: {len(recv)} received for
{n} acknowledged, {len(missing)} missing, {dups} duplicates.
<!-- end:openwire -->"""
text = open(out).read()
if "<!-- begin:openwire -->" in text:
    text = re.sub(r"<!-- begin:openwire -->.*?<!-- end:openwire -->", lambda _: section, text, flags=re.S)
else:
    text = text.rstrip("\n") + "\n" + section + "\n"
open(out, "w").write(text)
print(section)
EOF
