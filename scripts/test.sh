#!/usr/bin/env bash
# The whole test suite in one command (this is what .ci/run calls): installs the
# prerequisites if absent, then runs unit tests and the end-to-end tests against a real
# ZooKeeper ensemble. Each end-to-end test uses its own port block (21000-22000) and state
# directory, so a cluster you have running on the default ports is not disturbed.
set -euo pipefail
cd "$(dirname "$0")/.."
# The OpenWire tests run the real ActiveMQ Java client (javac + Debian's jars).
# The dashboard's browser test drives Debian's headless Chromium through chromedriver.
# The multi-host test (tests/multihost.rs) builds three hosts from network namespaces with
# iproute2's `ip` and fetches a namespace's dashboard with curl.
scripts/setup.sh openjdk-17-jdk-headless libactivemq-java chromium chromium-driver iproute2 curl
# The real STOMP client the broker is tested against.
python3 -c 'import stomp' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check stomp.py
# The Node client example (docs/clients/node, tests/clients.rs): its STOMP client from the
# npm registry, at the versions in its package-lock.json. Without node/npm its test says SKIPPED.
if [ ! -d docs/clients/node/node_modules ]; then
  if command -v npm >/dev/null 2>&1; then
    (cd docs/clients/node && npm ci --no-audit --no-fund --loglevel=error)
  else
    echo "==> no npm: the Node client example's test (tests/clients.rs) will be skipped" >&2
  fi
fi
# The WebDriver client of the browser test (tests/browser.rs).
python3 -c 'import selenium' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check selenium
# The fuzz targets (tests/fuzz, docs/fuzzing.md), about 20 s each, where a nightly toolchain
# exists (skipped with a note otherwise); a crash fails the run. Their first build takes
# minutes; MQSIM_FUZZ_SECONDS=0 skips them. Seeds and past crashes also replay on stable in
# tests/fuzz_replay.rs below.
scripts/fuzz.sh "${MQSIM_FUZZ_SECONDS:-20}"
# The declared minimum toolchain (Cargo.toml's rust-version) builds the code, where rustup
# has it installed; otherwise a note (this machine kind can fetch no other toolchain).
msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
if rustup toolchain list 2>/dev/null | grep -q "^$msrv[.-]"; then
    cargo "+$msrv" check --locked --all-targets
else
    echo "note: rust-version $msrv is not installed (rustup toolchain install $msrv); the MSRV check is skipped"
fi
# The code's own hygiene, before the long run: formatting, clippy and rustdoc, warnings denied.
# (rustfmt and clippy are rustup components; where one is missing, a note says so.)
if cargo fmt --version >/dev/null 2>&1; then cargo fmt --check; else echo "note: rustfmt is not installed; the format check is skipped"; fi
if cargo clippy --version >/dev/null 2>&1; then
    cargo clippy --locked --all-targets -- -D warnings
else
    echo "note: clippy is not installed; the lint check is skipped"
fi
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps --quiet
# Three clusters at a time: each is 3 ZooKeeper JVMs + 3 brokers on a 2-core machine.
cargo test --locked -- --test-threads=3
