#!/usr/bin/env bash
# The demo cluster in one command on a fresh machine: installs ZooKeeper/Java if absent,
# builds mqsim, and runs `mqsim up` with the repository's cluster.toml.
# Extra arguments go to `mqsim up` (e.g. --foreground).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec target/debug/mqsim --config cluster.toml up "$@"
