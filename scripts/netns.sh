#!/bin/sh
# Three "hosts" on one Linux machine, for the multi-host layout (tutorial §13, tests/multihost.rs):
# network namespaces mqh1..mqh3, each with its own network stack (so the same ports in each),
# address 10.231.0.N/24 on a veth whose other end is on the bridge mqhbr0; the machine itself
# is 10.231.0.254 on the bridge, so a client outside the namespaces reaches every "host".
#
#   sudo scripts/netns.sh up        # create (idempotent)
#   sudo scripts/netns.sh down      # delete (idempotent)
#   sudo scripts/netns.sh status
#   sudo ip netns exec mqh1 mqsim up --config docs/examples/netns.toml
#
# Cut host N from the others (the kernel drops its traffic):  ip netns exec mqhN ip link set mqheN down
# Heal it:                                                    ip netns exec mqhN ip link set mqheN up
# All three share this machine's files, clock and /etc/hosts; everything else is per "host".
set -eu

BR=mqhbr0
NET=${MQH_NET:-10.231.0}

up() {
    ip link show "$BR" >/dev/null 2>&1 || ip link add "$BR" type bridge
    ip addr replace "$NET.254/24" dev "$BR"
    ip link set "$BR" up
    for i in 1 2 3; do
        ns=mqh$i
        [ -e "/run/netns/$ns" ] || ip netns add "$ns"
        if ! ip link show "mqhv$i" >/dev/null 2>&1; then
            ip link add "mqhv$i" type veth peer name "mqhe$i" netns "$ns"
        fi
        ip link set "mqhv$i" master "$BR" up
        ip -n "$ns" addr replace "$NET.$i/24" dev "mqhe$i"
        ip -n "$ns" link set lo up
        ip -n "$ns" link set "mqhe$i" up
    done
    # Bridged frames may pass through iptables (br_netfilter, e.g. with Docker's FORWARD DROP):
    # let the bridge's own traffic through.
    if command -v iptables >/dev/null 2>&1 && [ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || echo 0)" = 1 ]; then
        iptables -C FORWARD -i "$BR" -o "$BR" -j ACCEPT 2>/dev/null || iptables -I FORWARD -i "$BR" -o "$BR" -j ACCEPT
    fi
}

down() {
    for i in 1 2 3; do
        [ -e "/run/netns/mqh$i" ] && ip netns del "mqh$i"
        ip link show "mqhv$i" >/dev/null 2>&1 && ip link del "mqhv$i"
    done
    ip link show "$BR" >/dev/null 2>&1 && ip link del "$BR"
    if command -v iptables >/dev/null 2>&1; then
        iptables -D FORWARD -i "$BR" -o "$BR" -j ACCEPT 2>/dev/null || true
    fi
    return 0
}

status() {
    ip -br addr show "$BR" 2>/dev/null || echo "no bridge $BR"
    for i in 1 2 3; do
        if [ -e "/run/netns/mqh$i" ]; then ip -n "mqh$i" -br addr show "mqhe$i"; else echo "no namespace mqh$i"; fi
    done
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
