#!/usr/bin/env bash
# braid: namespace lab for one braid instance.
#
#   scripts/lab.sh up NAME      create NAME-gnb and NAME-dn namespaces and veth pairs
#   scripts/lab.sh down NAME    delete them (safe to call twice)
#   scripts/lab.sh status NAME  show what exists
#
# Topology (braid attaches to the root-side veth ends with net_af_packet):
#
#   root ns: NAME-n3 (no IP) <-> NAME-gnb: eth0 198.18.0.2/24 2001:db8:3::2/64, default via 198.18.0.1
#   root ns: NAME-n6 (no IP) <-> NAME-dn:  eth0 198.19.0.2/24 2001:db8:6::2/64, default via 198.19.0.1
#
# braid owns 198.18.0.1 / 2001:db8:3::1 on n3 and 198.19.0.1 / 2001:db8:6::1 on n6.
# NAME is at most 8 characters so that interface names stay within 15.
set -euo pipefail

usage() { echo "usage: $0 up|down|status NAME" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
cmd=$1
name=$2
[[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9_]{0,7}$ ]] ||
    { echo "lab.sh: NAME must be 1-8 characters [A-Za-z0-9_] (got '$name')" >&2; exit 2; }

GNB="$name-gnb"
DN="$name-dn"
N3="$name-n3"
N6="$name-n6"

offloads_off() { # [netns] ifname
    if [[ $# -eq 2 ]]; then
        ip netns exec "$1" ethtool -K "$2" tx off tso off gso off gro off >/dev/null 2>&1 || true
    else
        ethtool -K "$1" tx off tso off gso off gro off >/dev/null 2>&1 || true
    fi
}

ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }
link_exists() { ip link show dev "$1" >/dev/null 2>&1; }

# side NS ROOTIF V4 V6 GW4 GW6
make_side() {
    local ns=$1 rootif=$2 v4=$3 v6=$4 gw4=$5 gw6=$6
    ip netns add "$ns"
    ip link add "$rootif" type veth peer name eth0 netns "$ns"
    # Root (braid) side: no addresses, no IPv6 autoconf, so the kernel stays quiet on it.
    sysctl -qw "net.ipv6.conf.$rootif.disable_ipv6=1" >/dev/null 2>&1 || true
    ip link set "$rootif" up
    offloads_off "$rootif"
    # Namespace side.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.accept_dad=0
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.dad_transmits=0 2>/dev/null || true
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.accept_ra=0
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip addr add "$v4" dev eth0
    ip netns exec "$ns" ip -6 addr add "$v6" dev eth0 nodad
    ip netns exec "$ns" ip link set eth0 up
    offloads_off "$ns" eth0
    ip netns exec "$ns" ip route add default via "$gw4" dev eth0
    ip netns exec "$ns" ip -6 route add default via "$gw6" dev eth0
}

down() {
    local ns link
    for ns in "$GNB" "$DN"; do
        if ns_exists "$ns"; then ip netns del "$ns" 2>/dev/null || true; fi
    done
    # Deleting the namespace deletes the peer and so the pair; delete by name in case it remains.
    for link in "$N3" "$N6"; do
        if link_exists "$link"; then ip link del "$link" 2>/dev/null || true; fi
    done
}

up() {
    # A leftover lab of the same name (crashed run) is replaced.
    down
    trap 'echo "lab.sh: up $name failed; cleaning up" >&2; down' ERR
    make_side "$GNB" "$N3" 198.18.0.2/24 2001:db8:3::2/64 198.18.0.1 2001:db8:3::1
    make_side "$DN" "$N6" 198.19.0.2/24 2001:db8:6::2/64 198.19.0.1 2001:db8:6::1
    trap - ERR
    echo "lab $name up: $N3 <-> $GNB/eth0 (198.18.0.2), $N6 <-> $DN/eth0 (198.19.0.2)"
}

status() {
    local ns
    for ns in "$GNB" "$DN"; do
        if ns_exists "$ns"; then
            echo "== $ns"; ip netns exec "$ns" ip -br addr
        else
            echo "== $ns: absent"
        fi
    done
    ip -br link show dev "$N3" 2>/dev/null || echo "$N3: absent"
    ip -br link show dev "$N6" 2>/dev/null || echo "$N6: absent"
}

case "$cmd" in
up) up ;;
down) down ;;
status) status ;;
*) usage ;;
esac
