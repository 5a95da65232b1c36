#!/usr/bin/env bash
# braid demo: builds everything (scripts/setup.sh), brings up the namespace lab `demo`, starts
# braid with scripts/demo.yaml and shows ARP, ping, port stats, neighbors, drops, lcores and
# metrics; then scripts/demo_atsss.py sets up an MA PDU session with ATSSS over PFCP and a Linux
# MPTCP UE on two GTP-U accesses moves data through braid's MPTCP proxy to a DN server; then it
# stops braid with SIGTERM and tears the lab down. Bounded in time; exits non-zero if any step
# fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

LAB=demo
CONFIG="$ROOT/scripts/demo.yaml"
RUNDIR=/tmp/braid-demo
SOCK="$RUNDIR/cli.sock"
METRICS_URL=http://127.0.0.1:19464/metrics
BRAID="$ROOT/build/braid"
CLI="$ROOT/build/braid-cli"
BRAID_PID=""

if [[ -t 1 ]]; then
    step() { printf '\n\033[1m>>> %s\033[0m\n' "$*"; }
else
    step() { printf '\n>>> %s\n' "$*"; }
fi

stop_braid() {
    [[ -n "$BRAID_PID" ]] || return 0
    local pid=$BRAID_PID rc=0 i
    BRAID_PID=""
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 150; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "braid (pid $pid) did not stop within 15 s of SIGTERM: killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            return 1
        fi
    fi
    wait "$pid" 2>/dev/null || rc=$?
    echo "braid exited with status $rc"
    return "$rc"
}

cleanup() {
    local rc=$?
    trap - EXIT
    stop_braid || rc=1
    bash "$ROOT/scripts/lab.sh" down "$LAB" || true
    rm -rf /var/run/dpdk/braid-demo # EAL runtime files of this demo's --file-prefix only
    if ((rc != 0)); then
        echo "demo FAILED (status $rc); braid log: $RUNDIR/braid.log" >&2
        [[ -f "$RUNDIR/braid.log" ]] && tail -n 30 "$RUNDIR/braid.log" >&2
    else
        rm -rf "$RUNDIR"
    fi
    exit "$rc"
}
trap cleanup EXIT

step "setup (packages, build)"
timeout 2400 bash "$ROOT/scripts/setup.sh"

step "lab up: $LAB-gnb and $LAB-dn namespaces"
bash "$ROOT/scripts/lab.sh" up "$LAB"

step "start braid --config scripts/demo.yaml"
mkdir -p "$RUNDIR"
rm -f "$SOCK"
"$BRAID" --config "$CONFIG" </dev/null >"$RUNDIR/braid.log" 2>&1 &
BRAID_PID=$!
echo "braid pid $BRAID_PID, log $RUNDIR/braid.log"
ready=0
for ((i = 0; i < 100; i++)); do
    if ! kill -0 "$BRAID_PID" 2>/dev/null; then
        echo "braid exited during start-up" >&2
        exit 1
    fi
    if [[ -S "$SOCK" ]] && timeout 3 "$CLI" -s "$SOCK" show version; then
        ready=1
        break
    fi
    sleep 0.2
done
((ready)) || { echo "braid CLI did not answer within 20 s" >&2; exit 1; }

cli() { echo "\$ braid-cli $*"; timeout 10 "$CLI" -s "$SOCK" "$@"; }
nsx() { local ns=$1; shift; echo "[$ns]\$ $*"; timeout 20 ip netns exec "$ns" "$@"; }

step "ARP from the gNB namespace for braid's N3 address"
nsx "$LAB-gnb" arping -c 2 -W 0.5 -i eth0 198.18.0.1

step "ping braid from the gNB (N3) and the DN (N6) namespaces"
nsx "$LAB-gnb" ping -n -c 3 -i 0.2 -W 1 198.18.0.1
nsx "$LAB-dn" ping -n -c 3 -i 0.2 -W 1 198.19.0.1

step "braid's view"
cli show port stats all
cli show neighbors
cli show drops
cli show lcores

step "metrics ($METRICS_URL)"
metrics=$(timeout 10 curl -sS --max-time 5 "$METRICS_URL")
grep '^braid_' <<<"$metrics" | grep -E 'build_info|port_(rx|tx)_packets_total|worker_busy' | awk 'NR <= 12'
grep -q '^braid_port_rx_packets_total' <<<"$metrics"

step "ATSSS: an MA PDU session over PFCP, a Linux MPTCP UE on two accesses, through the proxy"
timeout 120 /usr/bin/python3 "$ROOT/scripts/demo_atsss.py" --lab "$LAB" --cli "$CLI" --socket "$SOCK"

step "stop braid (SIGTERM)"
stop_braid

step "demo OK"
