#!/bin/sh
# zk_batch.sh: the notes' ZooKeeper batch start, on mqsim.
#
#   notes (three unpacked ZooKeepers)          mqsim
#   cd /myzookeeper/zk01/bin                   mqsim start zk01
#   ./zkServer.sh start            ...         mqsim start zk02, zk03
#
# mqsim's ZooKeeper servers and brokers are children of its supervisor, which `mqsim up`
# starts (and `mqsim down` ends). So run `mqsim up` once; after that these scripts start
# and stop the processes one by one, as the notes' scripts did (docs/tutorial.en.md, step 12).
# Without a supervisor, mqsim says "no cluster is running ... (start one with `mqsim up`)".
#
#   scripts/zk_batch.sh [zk01 zk02 zk03]      the servers to start (default: all three)
#   MQSIM=path/to/mqsim                        default: mqsim on PATH, else target/debug/mqsim
#   MQSIM_CONFIG=other.toml                    default: cluster.toml in the current directory
if [ -z "$MQSIM" ]; then
    if command -v mqsim >/dev/null 2>&1; then MQSIM=mqsim; else MQSIM="$(dirname "$0")/../target/debug/mqsim"; fi
fi
[ $# -gt 0 ] || set -- zk01 zk02 zk03
rc=0
for zk in "$@"; do
    "$MQSIM" start "$zk" || rc=1
done
exit $rc
