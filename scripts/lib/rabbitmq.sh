#!/usr/bin/env bash
# Shared by the benchmark scripts: a real 3-node RabbitMQ 3.10 cluster (Debian package
# `rabbitmq-server`, `scripts/setup.sh rabbitmq`) on this one host, with the STOMP plugin, and
# quorum queues (Raft over the 3 nodes; every member fsyncs its write-ahead log, and a send is
# confirmed once a majority has it) declared for the benchmark. Facts behind it:
# shared/reference/replicated-peer.md.
#
# start_rabbitmq DIR BASEPORT [QUEUE...]
#   Everything (state, logs, config, the Erlang cookie) lives under DIR; no system file is used or
#   changed. Every port is BASEPORT + 0..99:
#     node N (1..3): AMQP BASEPORT+N-1, Erlang distribution BASEPORT+10+N-1, STOMP BASEPORT+20+N-1
#     rabbitmqctl's own (hidden) Erlang node: BASEPORT+90..+98
#     epmd, Erlang's port mapper: BASEPORT+99 (its default is 4369; ERL_EPMD_PORT moves it, and
#       the nodes and rabbitmqctl look for it there, so an epmd already on 4369 is left alone)
#   The three nodes start together, then nodes 2 and 3 join node 1 (`join_cluster`); each QUEUE is declared over
#   AMQP on node 1 (Python's pika) as a durable quorum queue with all 3 nodes as members, and
#   `rabbitmqctl list_queues` must then show it as `quorum` with 3 members (else it fails). STOMP
#   clients send `host:/` (the vhost) and use the destination /amq/queue/QUEUE (a /queue/NAME
#   destination would declare a classic queue).
#   Sets RMQ_STOMP, RMQ_AMQP and RMQ_PID (STOMP port, AMQP port and beam.smp of the first
#   QUEUE's leader, node 1 as declared; node 1's without a QUEUE), RMQ_PIDS (all three nodes'),
#   RMQ_DIR. About 30 s here (2 vCPUs, busy with other work).
# stop_rabbitmq
#   `rabbitmqctl stop` for each node started, then SIGTERM/SIGKILL by PID for any left, then the
#   epmd it started. A no-op when nothing runs.
# rmqctl ARGS...
#   /usr/lib/rabbitmq/bin/rabbitmqctl with this cluster's cookie, epmd and ports.
#
# The servers are run from /usr/lib/rabbitmq/bin as the calling user (root here): the wrappers on
# the PATH switch to the `rabbitmq` user, which cannot then write a state directory root made.
RMQ_BIN=/usr/lib/rabbitmq/bin
RMQ_NODES=(rmq1@localhost rmq2@localhost rmq3@localhost)
RMQ_PIDS=()
RMQ_WRAPPERS=()
RMQ_EPMD_PID=""
RMQ_DIR=""
RMQ_BASEPORT=""
RMQ_ENV=()

# The environment every rabbitmq-server, rabbitmqctl and the epmd of this cluster run with
# (`env "${RMQ_ENV[@]}" CMD`, so that a CMD started in the background is $!).
_rmq_set_env() {
  RMQ_ENV=(
    HOME="$RMQ_DIR/home"
    ERL_EPMD_PORT=$((RMQ_BASEPORT + 99))
    RABBITMQ_USE_LONGNAME=false
    RABBITMQ_CONF_ENV_FILE="$RMQ_DIR/rabbitmq-env.conf"
    RABBITMQ_CTL_DIST_PORT_MIN=$((RMQ_BASEPORT + 90))
    RABBITMQ_CTL_DIST_PORT_MAX=$((RMQ_BASEPORT + 98))
  )
}

rmqctl() {
  env "${RMQ_ENV[@]}" "$RMQ_BIN/rabbitmqctl" "$@"
}

stop_rabbitmq() {
  [ -n "$RMQ_DIR" ] || return 0
  local i pid
  for i in "${!RMQ_PIDS[@]}"; do
    pid=${RMQ_PIDS[$i]}
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || continue
    # `stop PIDFILE` returns once that process is gone.
    rmqctl -n "${RMQ_NODES[$i]}" -t 60 stop "$RMQ_DIR/${RMQ_NODES[$i]%@*}.pid" >/dev/null 2>&1 || true
  done
  for pid in "${RMQ_PIDS[@]}" "${RMQ_WRAPPERS[@]}" $RMQ_EPMD_PID; do
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  RMQ_PIDS=()
  RMQ_WRAPPERS=()
  RMQ_EPMD_PID=""
  RMQ_DIR=""
}

# Until something accepts a TCP connection on 127.0.0.1:$1 (at most $2 seconds).
_rmq_wait_port() {
  local t
  for t in $(seq "$(($2 * 10))"); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "error: nothing listens on 127.0.0.1:$1 after $2 s" >&2
  return 1
}

start_rabbitmq() {
  RMQ_DIR=$1
  RMQ_BASEPORT=$2
  shift 2
  local queues=("$@") n name node dir i
  if [ ! -x "$RMQ_BIN/rabbitmq-server" ]; then
    echo "error: no $RMQ_BIN/rabbitmq-server; run scripts/setup.sh rabbitmq" >&2
    return 1
  fi
  _rmq_set_env
  # Python's AMQP client declares the queues: Debian's python3-pika is for /usr/bin/python3,
  # which may not be the first python3 on the PATH.
  local py
  for py in python3 /usr/bin/python3 ""; do
    [ -n "$py" ] && "$py" -c 'import pika' 2>/dev/null && break
  done
  if [ ${#queues[@]} -gt 0 ] && [ -z "$py" ]; then
    echo "error: no python3 with pika (Debian python3-pika); run scripts/setup.sh rabbitmq" >&2
    return 1
  fi
  mkdir -p "$RMQ_DIR/home"
  # One cookie for the three nodes and rabbitmqctl; Erlang refuses one others can read.
  python3 -c 'import secrets; print(secrets.token_hex(16), end="")' >"$RMQ_DIR/home/.erlang.cookie"
  chmod 400 "$RMQ_DIR/home/.erlang.cookie"
  : >"$RMQ_DIR/rabbitmq-env.conf" # not /etc/rabbitmq/rabbitmq-env.conf
  echo '[rabbitmq_stomp].' >"$RMQ_DIR/enabled_plugins"

  # Our own epmd, on loopback, in the port block (the nodes would otherwise start a daemon one).
  env "${RMQ_ENV[@]}" epmd -port $((RMQ_BASEPORT + 99)) -address 127.0.0.1 >"$RMQ_DIR/epmd.log" 2>&1 &
  RMQ_EPMD_PID=$!
  _rmq_wait_port $((RMQ_BASEPORT + 99)) 10 || return 1

  RMQ_STOMP=$((RMQ_BASEPORT + 20))
  RMQ_AMQP=$RMQ_BASEPORT
  echo "==> RabbitMQ 3.10: 3 nodes, AMQP $RMQ_BASEPORT-$((RMQ_BASEPORT + 2)), STOMP $RMQ_STOMP-$((RMQ_STOMP + 2)), \
dist $((RMQ_BASEPORT + 10))-$((RMQ_BASEPORT + 12)), epmd $((RMQ_BASEPORT + 99)) ($RMQ_DIR)"
  for n in 1 2 3; do
    node=${RMQ_NODES[$((n - 1))]}
    name=${node%@*}
    dir=$RMQ_DIR/$name
    mkdir -p "$dir/mnesia" "$dir/log"
    cat >"$dir/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$((RMQ_BASEPORT + n - 1))
stomp.listeners.tcp.1 = 127.0.0.1:$((RMQ_STOMP + n - 1))
loopback_users = none
log.file.level = info
log.console = false
EOF
    env "${RMQ_ENV[@]}" RABBITMQ_NODENAME="$node" \
      RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
      RABBITMQ_NODE_PORT=$((RMQ_BASEPORT + n - 1)) \
      RABBITMQ_DIST_PORT=$((RMQ_BASEPORT + 10 + n - 1)) \
      RABBITMQ_MNESIA_BASE="$dir/mnesia" \
      RABBITMQ_LOG_BASE="$dir/log" \
      RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_DIR/enabled_plugins" \
      RABBITMQ_CONFIG_FILE="$dir/rabbitmq" \
      RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config" \
      RABBITMQ_PID_FILE="$RMQ_DIR/$name.pid" \
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
      "$RMQ_BIN/rabbitmq-server" >"$dir/stdout.log" 2>&1 &
    RMQ_WRAPPERS+=($!)
  done
  for n in 1 2 3; do
    node=${RMQ_NODES[$((n - 1))]}
    name=${node%@*}
    if ! rmqctl -n "$node" -q wait --timeout 120 "$RMQ_DIR/$name.pid" >/dev/null; then
      echo "error: RabbitMQ node $node did not start" >&2
      tail -20 "$RMQ_DIR/$name/stdout.log" "$RMQ_DIR/$name"/log/*.log >&2 || true
      return 1
    fi
    RMQ_PIDS+=("$(cat "$RMQ_DIR/$name.pid")")
  done
  RMQ_PID=${RMQ_PIDS[0]}
  for node in "${RMQ_NODES[@]:1}"; do
    rmqctl -n "$node" -q stop_app >/dev/null || return 1
    rmqctl -n "$node" -q join_cluster "${RMQ_NODES[0]}" >/dev/null || return 1
    rmqctl -n "$node" -q start_app >/dev/null || return 1
  done
  local running
  running=$(rmqctl -n "${RMQ_NODES[0]}" -q cluster_status --formatter json |
    python3 -c 'import json, sys; print(len(json.load(sys.stdin)["running_nodes"]))')
  if [ "$running" != 3 ]; then
    echo "error: the RabbitMQ cluster has $running running nodes, not 3" >&2
    return 1
  fi
  for i in 1 2; do _rmq_wait_port $((RMQ_STOMP + i)) 30 || return 1; done
  _rmq_wait_port "$RMQ_STOMP" 30 || return 1

  [ ${#queues[@]} -gt 0 ] || return 0
  "$py" - "$RMQ_AMQP" "${queues[@]}" <<'EOF' || return 1
import sys
import pika
port, names = int(sys.argv[1]), sys.argv[2:]
conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port, "/"))
ch = conn.channel()
for name in names:
    # Initial group size 3 (the default is every node of the cluster: the same, said outright).
    ch.queue_declare(name, durable=True, arguments={"x-queue-type": "quorum", "x-quorum-initial-group-size": 3})
conn.close()
EOF
  # One listing for all: each must be a quorum queue, on all 3 nodes; its leader is printed.
  local listed first_leader
  listed=$(rmqctl -n "${RMQ_NODES[0]}" -q list_queues name type leader members --formatter json)
  first_leader=$(python3 - "$listed" "${queues[@]}" <<'EOF'
import json, sys
listed = {q["name"]: q for q in json.loads(sys.argv[1])}
for name in sys.argv[2:]:
    q = listed.get(name)
    if q is None or q["type"] != "quorum" or len(q["members"]) != 3:
        sys.exit(f"error: RabbitMQ queue {name} is not a quorum queue with 3 members: {q}")
    print(f"    quorum queue {name}: members {', '.join(sorted(q['members']))}, leader {q['leader']}", file=sys.stderr)
print(listed[sys.argv[2]]["leader"])
EOF
  ) || return 1
  echo "    STOMP: host:/ and destination /amq/queue/NAME"
  # The clients go to the first queue's leader, as mqsim's go to its master.
  for i in 0 1 2; do
    if [ "${RMQ_NODES[$i]}" = "$first_leader" ]; then
      RMQ_STOMP=$((RMQ_BASEPORT + 20 + i))
      RMQ_AMQP=$((RMQ_BASEPORT + i))
      RMQ_PID=${RMQ_PIDS[$i]}
    fi
  done
}
