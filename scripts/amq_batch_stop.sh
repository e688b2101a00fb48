#!/bin/sh
# amq_batch_stop.sh: amq_batch.sh with "start" changed to "stop", as in the notes.
#
#   notes: cd /mq_cluster/mq_node01/bin; ./activemq stop ...    mqsim: mqsim stop node01 ...
#
# A clean stop (SIGTERM): each broker deletes its znode at once, so when the master goes
# the slaves elect a new one without waiting for a session timeout.
#
#   scripts/amq_batch_stop.sh [node01 node02 node03]  MQSIM=..., MQSIM_CONFIG=... as in zk_batch.sh
if [ -z "$MQSIM" ]; then
    if command -v mqsim >/dev/null 2>&1; then MQSIM=mqsim; else MQSIM="$(dirname "$0")/../target/debug/mqsim"; fi
fi
[ $# -gt 0 ] || set -- node01 node02 node03
rc=0
for node in "$@"; do
    "$MQSIM" stop "$node" || rc=1
done
exit $rc
