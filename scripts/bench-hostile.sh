#!/usr/bin/env bash
# Issue 11's attacks on a private cluster (ports 26000..26022, or --base), one probe after
# another: per probe the master's peak RSS, an unrelated producer's longest stall, whether a
# failover happened, what the offender got, and whether acknowledged messages survived.
# Rewrites the "hostile" section of docs/benchmarks.md, keeping the first run written (the
# "before") and this one, each labelled with its commit. Takes about four minutes; every
# process it starts is stopped at the end. Options are passed on (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec target/debug/mqsim bench hostile "$@"
