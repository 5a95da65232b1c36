#!/usr/bin/env bash
# braid: instructions per packet of the UPF graph (uplink and downlink), counted by callgrind.
#
#   scripts/bench_callgrind.sh [--size 64|128|512|1400] [--sessions N] [--sdf-filters K]
#                              [--qer on|off] [--duration S] [--builddir DIR] [--no-build]
#
# Runs DIR/tests/bench/bench_pipeline --workload upf --mode inline (the reflector on the worker
# lcore, so one thread does all the work) under `valgrind --tool=callgrind`, collecting only
# inside the graph nodes' process functions (--collect-atstart=no, --toggle-collect on every
# function whose name contains "_process": braid's nodes are <node>_process). Instruction
# counts do not depend on the machine's load, unlike the cycles of scripts/bench.sh.
#
# Ir per packet by direction, from callgrind_annotate's inclusive Ir per node function and the
# bench's whole-run counters (result.total.*): the nodes only uplink packets go through
# (gtpu_input, pdr_ul) per decapsulated packet, those only downlink packets go through
# (pdr_dl, gtpu_encap) per encapsulated packet, plus the shared node functions and the empty
# sources (rx_process and tx_process serve both ports; eth_classify, qer_meter, urr_count,
# far_forward, ctrl_tx, ...) per packet of either direction -- the split bench_pipeline uses
# for cycles, except that the port nodes are one function here. The sum over the node
# functions equals callgrind's PROGRAM TOTALS: nothing outside them is counted.
# Installs valgrind with apt-get if it is missing. EAL as for every bench: --no-pci --no-huge,
# a unique --file-prefix (bench_pipeline's own).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SIZE=64
SESSIONS=1
SDF=0
QER=on
DURATION=2
BUILD=1
BUILDDIR=build
while (($#)); do
    case "$1" in
    --size) SIZE=$2; shift 2 ;;
    --sessions) SESSIONS=$2; shift 2 ;;
    --sdf-filters) SDF=$2; shift 2 ;;
    --qer) QER=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --builddir) BUILDDIR=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "bench_callgrind.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 1 && "$DURATION" -le 60 ]] ||
    { echo "bench_callgrind.sh: --duration must be 1..60" >&2; exit 2; }
[[ "$SESSIONS" =~ ^[0-9]+$ && "$SDF" =~ ^[0-9]+$ ]] ||
    { echo "bench_callgrind.sh: --sessions and --sdf-filters are numbers" >&2; exit 2; }

if ! command -v valgrind >/dev/null || ! command -v callgrind_annotate >/dev/null; then
    echo "bench_callgrind.sh: installing valgrind (apt-get)" >&2
    if [[ $(id -u) == 0 ]]; then
        apt-get install -y valgrind >/dev/null
    else
        sudo apt-get install -y valgrind >/dev/null
    fi
fi

if ((BUILD)); then
    meson compile -C "$BUILDDIR" bench_pipeline >/dev/null ||
        { echo "bench_callgrind.sh: build failed (meson compile -C $BUILDDIR bench_pipeline)" >&2; exit 1; }
fi
BENCH=$BUILDDIR/tests/bench/bench_pipeline
[[ -x "$BENCH" ]] || { echo "bench_callgrind.sh: $BENCH missing" >&2; exit 2; }

LOGS=$BUILDDIR/bench-logs
mkdir -p "$LOGS"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
out="$LOGS/$STAMP-callgrind.out"
log="$LOGS/$STAMP-callgrind.txt"
# Under valgrind the program runs ~50-100x slower; the bench's intervals are TSC time, so the
# packet count is small but the per-packet counts are what matters. 64 frames in flight keep
# the start-up short; bounded by timeout (install of many sessions is slow too).
rc=0
timeout -k 10 $((DURATION * 3 + 120 + SESSIONS * (1 + SDF) / 200)) \
    valgrind --tool=callgrind --callgrind-out-file="$out" --collect-atstart=no \
    --toggle-collect='*_process*' --dump-instr=no \
    "$BENCH" --workload upf --mode inline --inflight 64 --warmup 0 --duration "$DURATION" \
    --size "$SIZE" --sessions "$SESSIONS" --sdf-filters "$SDF" --qer "$QER" >"$log" 2>&1 || rc=$?
if ((rc != 0)) || [[ "$(sed -n 's/^result\.ok=//p' "$log")" != 1 ]]; then
    echo "bench_callgrind.sh: run failed or not clean (rc $rc), see $log" >&2
    tail -20 "$log" >&2
    exit 1
fi

kv() { sed -n "s/^result\.$1=//p" "$log" | head -1; }
decap=$(kv total.decap)
encap=$(kv total.encap)
# Inclusive Ir per function; keep braid's node functions (<node>_process), summed by node.
callgrind_annotate --inclusive=yes --threshold=100 "$out" 2>/dev/null |
    awk '
        /braid::pipelines::.*_process\(/ {
            ir = $1; gsub(",", "", ir)
            if (ir !~ /^[0-9]+$/) next
            if (match($0, /::[a-z0-9_]+_process\(/)) {
                name = substr($0, RSTART + 2, RLENGTH - 11)
                if (!(name in seen)) { seen[name] = 1; total[name] = ir }
            }
        }
        END { for (n in total) print n, total[n] }' >"$log.nodes"

awk -v decap="$decap" -v encap="$encap" -v size="$SIZE" -v sessions="$SESSIONS" -v sdf="$SDF" \
    -v qer="$QER" '
    BEGIN {
        ul["n3_rx"]; ul["gtpu_input"]; ul["pdr_ul"]; ul["n6_tx"]
        dl["n6_rx"]; dl["pdr_dl"]; dl["gtpu_encap"]; dl["n3_tx"]
    }
    { if ($1 in ul) u += $2; else if ($1 in dl) d += $2; else s += $2; per[$1] = $2 }
    END {
        if (decap == 0 || encap == 0) { print "no packets"; exit 1 }
        shared = s / (decap + encap)
        printf "callgrind, upf inline, N6 frame %d B, %d session(s), %d SDF filter(s), QER %s\n", size, sessions, sdf, qer
        printf "packets: %d uplink, %d downlink (whole run)\n", decap, encap
        printf "Ir per packet: uplink %.1f, downlink %.1f  (shared nodes and empty sources %.1f of each)\n", u / decap + shared, d / encap + shared, shared
        for (n in per) printf "  %-14s %14d Ir  %8.1f per packet of its direction(s)\n", n, per[n], per[n] / ((n in ul) ? decap : (n in dl) ? encap : decap + encap)
        printf "result.ir_ul=%.1f\nresult.ir_dl=%.1f\n", u / decap + shared, d / encap + shared
    }' "$log.nodes" | tee "$BUILDDIR/bench-callgrind.txt"
