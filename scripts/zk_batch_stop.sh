#!/bin/sh
# zk_batch_stop.sh: zk_batch.sh with "start" changed to "stop", as in the notes.
#
#   notes: cd /myzookeeper/zk01/bin; ./zkServer.sh stop ...     mqsim: mqsim stop zk01 ...
#
# A clean stop (SIGTERM); the supervisor started by `mqsim up` keeps running, so
# scripts/zk_batch.sh starts the servers again. Stopping two of three loses the quorum:
# every broker steps down ("service outage") until they are back.
#
#   scripts/zk_batch_stop.sh [zk01 zk02 zk03]  MQSIM=..., MQSIM_CONFIG=... as in zk_batch.sh
if [ -z "$MQSIM" ]; then
    if command -v mqsim >/dev/null 2>&1; then MQSIM=mqsim; else MQSIM="$(dirname "$0")/../target/debug/mqsim"; fi
fi
[ $# -gt 0 ] || set -- zk01 zk02 zk03
rc=0
for zk in "$@"; do
    "$MQSIM" stop "$zk" || rc=1
done
exit $rc
