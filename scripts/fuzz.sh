#!/usr/bin/env bash
# Runs the cargo-fuzz (libFuzzer) targets of tests/fuzz for a while each; see docs/fuzzing.md.
#
#   scripts/fuzz.sh [SECONDS [PARALLEL [TARGET...]]]    default: 20 s each, one at a time, all
#
# Needs a nightly toolchain (libFuzzer's instrumentation is nightly-only): without one it prints
# a note and exits 0, so CI on a stable-only machine is not broken. Installs cargo-fuzz with
# stable cargo if it is missing. Seeds are read from tests/fuzz/corpus/<target>/ and never
# written; new inputs go to tests/fuzz/corpus-grown/<target>/ (git-ignored). A crash, a leak,
# an out-of-memory, a timeout (10 s for one input) or an allocation over 2 GiB fails the run;
# libFuzzer writes the input to tests/fuzz/artifacts/<target>/ (commit it, renamed, so the
# replay test keeps it fixed). Dictionaries: tests/fuzz/dict/<target>.dict. Logs:
# tests/fuzz/target/logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-20}
parallel=${2:-1}
shift $(($# < 2 ? $# : 2))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(stomp_frame openwire replication_wire selector config_toml)

if [ "$seconds" = 0 ]; then
    echo "fuzz: 0 seconds asked for, so the fuzz targets were not run"
    exit 0
fi
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "fuzz: no nightly toolchain here, so the fuzz targets were not run (rustup toolchain list; docs/fuzzing.md)"
    exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo +stable install cargo-fuzz --locked --quiet
fi

# The instrumented build is slow (minutes) and CI clones the repo afresh each time, so the
# build lives in a cache outside the checkout; only mqsim itself is rebuilt in a new clone.
export target_dir=${MQSIM_FUZZ_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mqsim/fuzz-target}
mkdir -p "$target_dir"

# Overflow checks on (-a): an arithmetic overflow a peer can cause is a finding too.
mkdir -p tests/fuzz/target/logs
echo "fuzz: building the targets (cargo +nightly fuzz build --fuzz-dir tests/fuzz -a, in $target_dir)"
if ! nice -n 19 cargo +nightly fuzz build --fuzz-dir tests/fuzz --target-dir "$target_dir" -a >tests/fuzz/target/logs/build.log 2>&1; then
    tail -n 40 tests/fuzz/target/logs/build.log
    exit 1
fi

run_one() {
    local target=$1 seconds=$2 max_len
    case $target in
        openwire) max_len=1048576 ;;      # OPENWIRE_MAX_FRAME
        replication_wire) max_len=131072 ;;
        selector) max_len=4096 ;;         # limits::MAX_SELECTOR
        *) max_len=16384 ;;
    esac
    local grown=tests/fuzz/corpus-grown/$target log=tests/fuzz/target/logs/$target.log
    [ -n "$target_dir" ] || { echo "fuzz: no target_dir" >&2; return 2; }
    mkdir -p "$grown" "tests/fuzz/artifacts/$target"
    local dict=() status=0
    [ ! -f "tests/fuzz/dict/$target.dict" ] || dict=(-dict="tests/fuzz/dict/$target.dict")
    nice -n 19 cargo +nightly fuzz run --fuzz-dir tests/fuzz --target-dir "$target_dir" -a "$target" "$grown" "tests/fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 "${dict[@]}" >"$log" 2>&1 || status=$?
    echo "$status $max_len" >"tests/fuzz/target/logs/$target.status"
    if [ "$status" -eq 0 ]; then
        echo "fuzz: $target ok: $(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)"
    else
        echo "fuzz: $target FAILED (exit $status); the input is in tests/fuzz/artifacts/$target/; log $log:"
        grep -E 'ERROR|panicked|SUMMARY|Test unit written' "$log" | head -n 20 || true
    fi
    return "$status"
}
export -f run_one

echo "fuzz: ${targets[*]}: ${seconds} s each, ${parallel} at a time"
failed=0
printf '%s\n' "${targets[@]}" | xargs -P "$parallel" -I{} bash -c 'run_one "$1" "$2"' _ {} "$seconds" || failed=1

# One markdown row per target from libFuzzer's last status line and final stats (the table
# of docs/fuzzing.md), also kept in tests/fuzz/target/logs/summary.md.
summary=tests/fuzz/target/logs/summary.md
{
    echo "| target | seconds | max_len | executions | exec/s | cov | ft | corpus (inputs/size) | peak RSS MB | result |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for target in "${targets[@]}"; do
        log=tests/fuzz/target/logs/$target.log
        read -r status max_len <"tests/fuzz/target/logs/$target.status"
        last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
        field() { sed -n "s/.* $1: \([^ ]*\).*/\1/p" <<<"$last"; }
        stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
        result=$([ "$status" -eq 0 ] && echo "no crash" || echo "**failed** (exit $status)")
        echo "| $target | $seconds | $max_len | $(stat number_of_executed_units) | $(stat average_exec_per_sec) |" \
            "$(field cov) | $(field ft) | $(field corp) | $(stat peak_rss_mb) | $result |"
    done
} >"$summary"
cat "$summary"
exit "$failed"
