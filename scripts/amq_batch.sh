#!/bin/sh
# amq_batch.sh: the notes' ActiveMQ batch start, on mqsim. Start ZooKeeper first
# (scripts/zk_batch.sh): "到这步前提是zk集群已经成功运行".
#
#   notes (three copies of ActiveMQ)           mqsim
#   cd /mq_cluster/mq_node01/bin               mqsim start node01
#   ./activemq start               ...         mqsim start node02, node03
#
# Needs the supervisor that `mqsim up` started (see scripts/zk_batch.sh). The brokers then
# register in ZooKeeper and elect a master; `mqsim status` shows who won.
#
#   scripts/amq_batch.sh [node01 node02 node03]  MQSIM=..., MQSIM_CONFIG=... as in zk_batch.sh
if [ -z "$MQSIM" ]; then
    if command -v mqsim >/dev/null 2>&1; then MQSIM=mqsim; else MQSIM="$(dirname "$0")/../target/debug/mqsim"; fi
fi
[ $# -gt 0 ] || set -- node01 node02 node03
rc=0
for node in "$@"; do
    "$MQSIM" start "$node" || rc=1
done
exit $rc
