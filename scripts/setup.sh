#!/usr/bin/env bash
# Installs what mqsim needs on a fresh Debian/Ubuntu machine (only what is missing), then
# builds it. Used by scripts/up.sh and scripts/test.sh; safe to run again.
#   ZooKeeper (Debian package `zookeeper`) and Java 17, a C compiler (LMDB is built from C).
# Further arguments are Debian packages the caller needs too (e.g. `activemq`), or `rabbitmq`:
# RabbitMQ 3.10 (`rabbitmq-server`) and Python's AMQP client (`python3-pika`) for
# scripts/bench-stomp.sh. The package's own service is not left running: scripts/lib/rabbitmq.sh
# starts its nodes itself, on ports of its own (see there).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
need=()
if [ -z "${ZOOKEEPER_HOME:-}" ] && [ ! -f /usr/share/java/zookeeper.jar ]; then need+=(zookeeper); fi
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v cc >/dev/null 2>&1 || need+=(build-essential)
for extra in "$@"; do
  case $extra in
    rabbitmq) need+=(rabbitmq-server python3-pika) ;;
    *) need+=("$extra") ;;
  esac
done
if [ ${#need[@]} -gt 0 ]; then
  missing=()
  for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing ${missing[*]} (apt-get)"
    $SUDO apt-get update -qq
    # rabbitmq-server's postinst starts a system broker (AMQP on 5672, epmd, a node named
    # rabbit@HOST) unless a policy-rc.d forbids it: lay one down for this install when the
    # machine has none (containers usually do), and remove it after.
    policy=""
    if [[ " ${missing[*]} " == *" rabbitmq-server "* ]] && [ ! -e /usr/sbin/policy-rc.d ]; then
      policy=/usr/sbin/policy-rc.d
      printf '#!/bin/sh\n# scripts/setup.sh: no service starts while rabbitmq-server installs\nexit 101\n' |
        $SUDO tee "$policy" >/dev/null
      $SUDO chmod 755 "$policy"
    fi
    rc=0
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
    [ -z "$policy" ] || $SUDO rm -f "$policy"
    [ "$rc" = 0 ] || exit "$rc"
    # Under systemd the unit would still start at the next boot: it is not wanted there either.
    if [[ " ${missing[*]} " == *" rabbitmq-server "* ]] && [ -d /run/systemd/system ]; then
      $SUDO systemctl disable --now rabbitmq-server >/dev/null 2>&1 || true
    fi
  fi
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "error: no Rust toolchain (cargo) found; install one with rustup (https://rustup.rs) and run this again" >&2
  exit 1
fi
echo "==> building mqsim"
cargo build --locked --quiet
