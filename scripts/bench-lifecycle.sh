#!/usr/bin/env bash
# Start-up and failover timings on private clusters (ports 23000+); rewrites the
# "lifecycle" section of docs/benchmarks.md. Takes about two minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec target/debug/mqsim bench lifecycle "$@"
