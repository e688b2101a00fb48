#!/usr/bin/env bash
# Installs what mqsim needs on a fresh Debian/Ubuntu machine (only what is missing), then
# builds it. Used by scripts/up.sh and scripts/test.sh; safe to run again.
#   ZooKeeper (Debian package `zookeeper`) and Java 17, a C compiler (LMDB is built from C).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
need=()
if [ -z "${ZOOKEEPER_HOME:-}" ] && [ ! -f /usr/share/java/zookeeper.jar ]; then need+=(zookeeper); fi
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v cc >/dev/null 2>&1 || need+=(build-essential)
for extra in "$@"; do need+=("$extra"); done
if [ ${#need[@]} -gt 0 ]; then
  missing=()
  for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing ${missing[*]} (apt-get)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "error: no Rust toolchain (cargo) found; install one with rustup (https://rustup.rs) and run this again" >&2
  exit 1
fi
echo "==> building mqsim"
cargo build --locked --quiet
