#!/usr/bin/env bash
# braid: benchmark the packet path against dpdk-testpmd on the same kind of vdev and core.
#
#   scripts/bench.sh [--workload icmp|upf|both|tcp] [--size 64|128|512|1400] [--duration S]
#                    [--warmup S] [--rounds N] [--inflight K] [--sessions N] [--sdf-filters K]
#                    [--qer on|off] [--builddir DIR] [--no-build]
#
# --sessions, --sdf-filters and --qer go to the upf runs only (bench_pipeline checks their
# ranges; --sessions up to 1000000, the run's timeout grows with it for the install).
# Builds bench_pipeline (meson compile -C DIR, default build/), then for each round runs, one
# after the other:
#   braid icmp  DIR/tests/bench/bench_pipeline --workload icmp: rx -> eth_classify -> icmp_local
#               -> tx on a net_ring port, ICMP echo requests answered in place by one worker on
#               lcore 1, twice: --mode cross (the reflector that turns replies back into requests
#               runs on lcore 0, the headline) and --mode inline (the reflector runs on lcore 1
#               between graph walks, like testpmd's one-core loopback: no cache line crosses cores)
#   braid upf   ... --workload upf: the GTP-U user plane on two net_ring ports (N3, N6), one
#               session; every frame alternates between uplink decapsulation and downlink
#               encapsulation, each braid pass counting as a packet; cross and inline as above.
#               --size is the N6 frame (inner packet + 14); N3 frames are 44 bytes longer
#   testpmd     dpdk-testpmd --forward-mode=5tswap on a net_ring vdev (its TX ring is its RX
#               ring), one forwarding core on lcore 1, --txpkts = --size
# --workload picks the braid runs (default both); testpmd runs in every round either way.
# All: -l 0-1 --no-huge -m 1024 --no-pci, a unique --file-prefix, same frame size, bounded by
# `timeout`. Prints a summary (median over rounds) to stdout and DIR/bench-results.txt; the raw
# logs go to DIR/bench-logs/. See docs/BENCHMARKS.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SIZE=64
DURATION=10
WARMUP=1
ROUNDS=3
INFLIGHT=1024
SESSIONS=1
SDF=0
QER=on
BUILD=1
WORKLOAD=both
BUILDDIR=build
while (($#)); do
    case "$1" in
    --workload) WORKLOAD=$2; shift 2 ;;
    --builddir) BUILDDIR=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --inflight) INFLIGHT=$2; shift 2 ;;
    --sessions) SESSIONS=$2; shift 2 ;;
    --sdf-filters) SDF=$2; shift 2 ;;
    --qer) QER=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[[ "$WORKLOAD" == icmp || "$WORKLOAD" == upf || "$WORKLOAD" == both || "$WORKLOAD" == tcp ]] ||
    { echo "bench.sh: --workload must be icmp, upf, both or tcp" >&2; exit 2; }
[[ "$SIZE" == 64 || "$SIZE" == 128 || "$SIZE" == 512 || "$SIZE" == 1400 ]] ||
    { echo "bench.sh: --size must be 64, 128, 512 or 1400" >&2; exit 2; }
[[ "$QER" == on || "$QER" == off ]] || { echo "bench.sh: --qer must be on or off" >&2; exit 2; }
[[ "$SESSIONS" =~ ^[0-9]+$ ]] || { echo "bench.sh: --sessions must be a number" >&2; exit 2; }
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 1 && "$DURATION" -le 600 ]] ||
    { echo "bench.sh: --duration must be 1..600 (whole seconds)" >&2; exit 2; }
[[ "$WARMUP" =~ ^[0-9]+$ && "$WARMUP" -le 60 ]] || { echo "bench.sh: --warmup must be 0..60" >&2; exit 2; }
[[ "$ROUNDS" =~ ^[0-9]+$ && "$ROUNDS" -ge 1 && "$ROUNDS" -le 20 ]] ||
    { echo "bench.sh: --rounds must be 1..20" >&2; exit 2; }

# --workload tcp: the tcpstack engine against Linux TCP on one CPU (tests/bench/bench_tcp.cc);
# --rounds alternating rounds, --duration seconds per bulk and per rate run. No testpmd.
if [[ "$WORKLOAD" == tcp ]]; then
    if ((BUILD)); then
        meson compile -C "$BUILDDIR" bench_tcp >/dev/null ||
            { echo "bench.sh: build failed (meson compile -C $BUILDDIR bench_tcp)" >&2; exit 1; }
    fi
    BENCH=$BUILDDIR/tests/bench/bench_tcp
    [[ -x "$BENCH" ]] || { echo "bench.sh: $BENCH missing (configure with meson setup $BUILDDIR)" >&2; exit 2; }
    mkdir -p "$BUILDDIR/bench-logs"
    log="$BUILDDIR/bench-logs/$(date -u +%Y%m%dT%H%M%SZ)-tcp.txt"
    rc=0
    timeout -k 10 $((ROUNDS * (4 * DURATION + 40) + 120)) "$BENCH" --rounds "$ROUNDS" \
        --bulk-s "$DURATION" --rate-s "$DURATION" >"$log" 2>&1 || rc=$?
    cat "$log"
    cp "$log" "$BUILDDIR/bench-results-tcp.txt"
    ((rc == 0)) || { echo "bench.sh: bench_tcp failed (exit $rc), see $log" >&2; exit 1; }
    exit 0
fi

TESTPMD=$(command -v dpdk-testpmd || true)
[[ -n "$TESTPMD" ]] || { echo "bench.sh: dpdk-testpmd not found (apt install dpdk)" >&2; exit 2; }

if ((BUILD)); then
    meson compile -C "$BUILDDIR" bench_pipeline >/dev/null ||
        { echo "bench.sh: build failed (meson compile -C $BUILDDIR bench_pipeline)" >&2; exit 1; }
fi
BENCH=$BUILDDIR/tests/bench/bench_pipeline
[[ -x "$BENCH" ]] || { echo "bench.sh: $BENCH missing (configure with meson setup $BUILDDIR)" >&2; exit 2; }

LOGS=$BUILDDIR/bench-logs
mkdir -p "$LOGS"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)

# The same worker core for both: lcore 1 (braid's worker, testpmd's only forwarding core).
run_braid() { # round mode workload
    local log="$LOGS/$STAMP-braid-$3-$2-$1.txt"
    local upf_args=()
    local install_s=0
    if [[ "$3" == upf ]]; then
        upf_args=(--sessions "$SESSIONS" --sdf-filters "$SDF" --qer "$QER")
        # Installing takes ~40-50 us per session on the loaded VM (more with SDF filters).
        install_s=$((SESSIONS * (1 + SDF) / 5000))
    fi
    timeout -k 10 $((WARMUP + DURATION + 60 + install_s)) "$BENCH" --workload "$3" --size "$SIZE" \
        --duration "$DURATION" --warmup "$WARMUP" --inflight "$INFLIGHT" --mode "$2" \
        "${upf_args[@]}" >"$log" 2>&1 || {
        echo "bench.sh: bench_pipeline --workload $3 --mode $2 failed (round $1), see $log" >&2
        tail -20 "$log" >&2
        return 1
    }
    echo "$log"
}

run_testpmd() { # round
    local log="$LOGS/$STAMP-testpmd-$1.txt" rc=0
    # Without -i testpmd forwards until a signal: timeout sends SIGINT after warm-up + duration
    # (+1 s for the first stats period), testpmd prints its totals and exits; -k bounds a hang.
    timeout -s INT -k 10 $((WARMUP + DURATION + 1)) "$TESTPMD" -l 0-1 --no-huge -m 1024 --no-pci \
        --file-prefix "braid-bench-tp-$$-$1" --no-telemetry --vdev net_ring0 -- \
        --forward-mode=5tswap --tx-first --stats-period 1 --nb-cores=1 --port-topology=loop \
        --total-num-mbufs=8192 --txpkts="$SIZE" --burst=32 --record-core-cycles \
        --record-burst-stats </dev/null >"$log" 2>&1 || rc=$?
    rm -rf "/var/run/dpdk/braid-bench-tp-$$-$1" # EAL leaves its runtime directory behind
    if ((rc != 124 && rc != 0)) || ! grep -q 'Accumulated forward statistics' "$log"; then
        echo "bench.sh: testpmd failed (rc $rc, round $1), see $log" >&2
        tail -20 "$log" >&2
        return 1
    fi
    echo "$log"
}

kv() { sed -n "s/^result\.$2=//p" "$1" | head -1; }

# testpmd's per-second "Rx-pps" lines: drop the first $WARMUP+1 (start-up, tx_first, warm-up),
# average the rest.
testpmd_pps() {
    { grep -o 'Rx-pps: *[0-9]*' "$1" || true; } | awk -v skip=$((WARMUP + 1)) \
        '{ v[++n] = $2 } END { if (skip >= n) skip = n - 1; for (i = skip + 1; i <= n; i++) { s += v[i]; k++ }
           if (k) printf "%.0f", s / k; else print 0 }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'; }

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
declare -a B_MPPS B_CPP B_CPPT B_WMPPS B_WCPP I_MPPS I_CPP I_RCPP T_MPPS T_CPP T_OWN
declare -a U_MPPS U_CPP U_CPPT U_WMPPS U_UL U_DL U_ULC U_DLC U_RCPP UI_MPPS UI_CPP UI_RCPP UI_ULC UI_DLC
declare -a U_P50 U_P99 UI_P50 UI_P99 UI_ULP50 UI_ULP99 UI_DLP50 UI_DLP99 U_RSS U_INST
TSC_HZ=0
ICMP=0 UPF=0
[[ "$WORKLOAD" == icmp || "$WORKLOAD" == both ]] && ICMP=1
[[ "$WORKLOAD" == upf || "$WORKLOAD" == both ]] && UPF=1
for ((r = 1; r <= ROUNDS; r++)); do
    if ((ICMP)); then
        echo "round $r/$ROUNDS: braid icmp cross ($((WARMUP + DURATION)) s) ..." >&2
        blog=$(run_braid "$r" cross icmp) || exit 1
        [[ "$(kv "$blog" ok)" == 1 ]] || { echo "bench.sh: braid run not clean: $blog" >&2; exit 1; }
        TSC_HZ=$(kv "$blog" tsc_hz)
        B_MPPS+=("$(kv "$blog" mpps)")
        B_CPP+=("$(kv "$blog" cycles_per_pkt_busy)")
        B_CPPT+=("$(kv "$blog" cycles_per_pkt_total)")
        B_WMPPS+=("$(kv "$blog" window_median_mpps)")
        B_WCPP+=("$(kv "$blog" window_median_cycles_per_pkt)")
        echo "round $r/$ROUNDS: braid icmp inline ($((WARMUP + DURATION)) s) ..." >&2
        ilog=$(run_braid "$r" inline icmp) || exit 1
        [[ "$(kv "$ilog" ok)" == 1 ]] || { echo "bench.sh: braid inline run not clean: $ilog" >&2; exit 1; }
        I_MPPS+=("$(kv "$ilog" mpps)")
        I_CPP+=("$(kv "$ilog" cycles_per_pkt_busy)")
        I_RCPP+=("$(kv "$ilog" reflect_cycles_per_pkt)")
    fi
    if ((UPF)); then
        echo "round $r/$ROUNDS: braid upf cross ($((WARMUP + DURATION)) s) ..." >&2
        ulog=$(run_braid "$r" cross upf) || exit 1
        [[ "$(kv "$ulog" ok)" == 1 ]] || { echo "bench.sh: braid upf run not clean: $ulog" >&2; exit 1; }
        TSC_HZ=$(kv "$ulog" tsc_hz)
        U_MPPS+=("$(kv "$ulog" mpps)")
        U_CPP+=("$(kv "$ulog" cycles_per_pkt_busy)")
        U_CPPT+=("$(kv "$ulog" cycles_per_pkt_total)")
        U_WMPPS+=("$(kv "$ulog" window_median_mpps)")
        U_UL+=("$(kv "$ulog" mpps_ul)")
        U_DL+=("$(kv "$ulog" mpps_dl)")
        U_ULC+=("$(kv "$ulog" ul_cycles_per_pkt)")
        U_DLC+=("$(kv "$ulog" dl_cycles_per_pkt)")
        U_RCPP+=("$(kv "$ulog" reflect_cycles_per_pkt)")
        U_P50+=("$(kv "$ulog" latency_p50_us)")
        U_P99+=("$(kv "$ulog" latency_p99_us)")
        U_RSS+=("$(kv "$ulog" hwm_mib)")
        U_INST+=("$(kv "$ulog" install_s)")
        echo "round $r/$ROUNDS: braid upf inline ($((WARMUP + DURATION)) s) ..." >&2
        uilog=$(run_braid "$r" inline upf) || exit 1
        [[ "$(kv "$uilog" ok)" == 1 ]] || { echo "bench.sh: braid upf inline run not clean: $uilog" >&2; exit 1; }
        UI_MPPS+=("$(kv "$uilog" mpps)")
        UI_CPP+=("$(kv "$uilog" cycles_per_pkt_busy)")
        UI_RCPP+=("$(kv "$uilog" reflect_cycles_per_pkt)")
        UI_ULC+=("$(kv "$uilog" ul_cycles_per_pkt)")
        UI_DLC+=("$(kv "$uilog" dl_cycles_per_pkt)")
        UI_P50+=("$(kv "$uilog" latency_p50_us)")
        UI_P99+=("$(kv "$uilog" latency_p99_us)")
        UI_ULP50+=("$(kv "$uilog" latency_ul_p50_us)")
        UI_ULP99+=("$(kv "$uilog" latency_ul_p99_us)")
        UI_DLP50+=("$(kv "$uilog" latency_dl_p50_us)")
        UI_DLP99+=("$(kv "$uilog" latency_dl_p99_us)")
    fi
    echo "round $r/$ROUNDS: testpmd ($((WARMUP + DURATION)) s) ..." >&2
    tlog=$(run_testpmd "$r") || exit 1
    pps=$(testpmd_pps "$tlog")
    T_MPPS+=("$(awk -v p="$pps" 'BEGIN { printf "%.4f", p / 1e6 }')")
    T_CPP+=("$(awk -v p="$pps" -v hz="$TSC_HZ" 'BEGIN { if (p) printf "%.2f", hz / p; else print 0 }')")
    T_OWN+=("$(sed -n 's/.*CPU cycles\/packet=\([0-9.]*\).*/\1/p' "$tlog" | head -1)")
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

med() { printf '%s\n' "$@" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.4f", a / b; else print "n/a" }'; }
tm=$(med "${T_MPPS[@]}") tc=$(med "${T_CPP[@]}") to=$(med "${T_OWN[@]}")
if ((ICMP)); then
    bm=$(med "${B_MPPS[@]}") bc=$(med "${B_CPP[@]}") bct=$(med "${B_CPPT[@]}")
    bwm=$(med "${B_WMPPS[@]}") bwc=$(med "${B_WCPP[@]}")
    im=$(med "${I_MPPS[@]}") ic=$(med "${I_CPP[@]}") irc=$(med "${I_RCPP[@]}")
    ratio=$(ratio "$bm" "$tm") iratio=$(ratio "$im" "$tm") wratio=$(ratio "$bwm" "$tm")
fi
if ((UPF)); then
    um=$(med "${U_MPPS[@]}") uc=$(med "${U_CPP[@]}") uct=$(med "${U_CPPT[@]}")
    uwm=$(med "${U_WMPPS[@]}") uul=$(med "${U_UL[@]}") udl=$(med "${U_DL[@]}")
    uulc=$(med "${U_ULC[@]}") udlc=$(med "${U_DLC[@]}") urc=$(med "${U_RCPP[@]}")
    uim=$(med "${UI_MPPS[@]}") uic=$(med "${UI_CPP[@]}") uirc=$(med "${UI_RCPP[@]}")
    uiulc=$(med "${UI_ULC[@]}") uidlc=$(med "${UI_DLC[@]}")
    uratio=$(ratio "$um" "$tm") uiratio=$(ratio "$uim" "$tm") uwratio=$(ratio "$uwm" "$tm")
    up50=$(med "${U_P50[@]}") up99=$(med "${U_P99[@]}") urss=$(med "${U_RSS[@]}")
    uinst=$(med "${U_INST[@]}")
    uip50=$(med "${UI_P50[@]}") uip99=$(med "${UI_P99[@]}")
    uiulp50=$(med "${UI_ULP50[@]}") uiulp99=$(med "${UI_ULP99[@]}")
    uidlp50=$(med "${UI_DLP50[@]}") uidlp99=$(med "${UI_DLP99[@]}")
    # The aim's figure: uplink alone on one core (TSC Hz / inline UL graph cycles) against
    # testpmd's rate on the same core.
    uicap=$(awk -v hz="$TSC_HZ" -v c="$uiulc" 'BEGIN { if (c > 0) printf "%.4f", hz / c / 1e6; else print 0 }')
    uiulratio=$(ratio "$uicap" "$tm")
fi

{
    echo "braid bench $STAMP  (git $(git rev-parse --short HEAD 2>/dev/null || echo ?)$(git diff --quiet 2>/dev/null || echo '+dirty'))"
    echo "frames ${SIZE} B, ${DURATION} s measured after ${WARMUP} s warm-up, ${ROUNDS} round(s), braid in flight ${INFLIGHT}, TSC $(awk -v h="$TSC_HZ" 'BEGIN { printf "%.3f GHz", h / 1e9 }')"
    ((UPF)) && echo "upf: $SESSIONS session(s), $SDF SDF filter(s), QER $QER; N6 frames ${SIZE} B (inner IPv4/UDP packet $((SIZE - 14)) B), N3 frames $((SIZE + $([[ $QER == on ]] && echo 44 || echo 36))) B (GTP-U$([[ $QER == on ]] && echo ' + PDU Session Container')); every braid pass (uplink decap or downlink encap) is a packet"
    echo "load average before: $LOAD_BEFORE   after: $LOAD_AFTER   (2 CPUs; > 0.5 means other work shared the cores)"
    echo
    printf '%-14s %12s %12s %8s  %s\n' "" "Mpps/worker" "cycles/pkt" "ratio" "notes"
    if ((ICMP)); then
        printf '%-14s %12s %12s %8s  %s\n' "braid cross" "$bm" "$bc" "$ratio" \
            "busy cycles; all worker cycles/pkt $bct; median window $bwm Mpps / $bwc cyc (ratio $wratio)"
        printf '%-14s %12s %12s %8s  %s\n' "braid inline" "$im" "$ic" "$iratio" \
            "graph busy cycles; reflector adds $irc cyc/pkt on the same core"
    fi
    if ((UPF)); then
        printf '%-14s %12s %12s %8s  %s\n' "upf cross" "$um" "$uc" "$uratio" \
            "busy cycles; all $uct; UL $uul + DL $udl Mpps; graph UL $uulc / DL $udlc cyc; median window $uwm Mpps (ratio $uwratio); reflector $urc cyc/pkt on lcore 0"
        printf '%-14s %12s %12s %8s  %s\n' "upf inline" "$uim" "$uic" "$uiratio" \
            "graph busy cycles; graph UL $uiulc / DL $uidlc cyc; reflector adds $uirc cyc/pkt on the same core"
    fi
    printf '%-14s %12s %12s %8s  %s\n' testpmd "$tm" "$tc" "1" "TSC Hz / pps; testpmd's own count $to"
    echo
    ((ICMP)) && echo "headline: braid/testpmd Mpps per worker = $ratio (cross), $iratio (inline)"
    ((UPF)) && echo "headline: braid-upf/testpmd Mpps per worker = $uratio (cross), $uiratio (inline)"
    ((UPF)) && echo "uplink alone (TSC Hz / inline UL graph cycles): $uicap Mpps = $uiulratio of testpmd (aim: >= 0.5 at 1 session, >= 0.4 at 1M)"
    ((UPF)) && echo "latency p50/p99 us (RX ring in -> TX ring out, $INFLIGHT in flight): cross $up50 / $up99; inline $uip50 / $uip99 (UL $uiulp50 / $uiulp99, DL $uidlp50 / $uidlp99)"
    ((UPF)) && echo "session install $uinst s; peak RSS $urss MiB"
    echo
    if ((ICMP)); then
        echo "per round (braid cross Mpps / busy cyc / all cyc | inline Mpps / cyc / reflector cyc | testpmd Mpps / TSC-Hz-per-pps / own cyc):"
        for ((i = 0; i < ROUNDS; i++)); do
            echo "  $((i + 1)): ${B_MPPS[i]} / ${B_CPP[i]} / ${B_CPPT[i]} | ${I_MPPS[i]} / ${I_CPP[i]} / ${I_RCPP[i]} | ${T_MPPS[i]} / ${T_CPP[i]} / ${T_OWN[i]}"
        done
    fi
    if ((UPF)); then
        echo "per round, upf (cross Mpps / busy cyc / all cyc / UL Mpps / DL Mpps | inline Mpps / cyc / UL cyc / DL cyc / reflector cyc | testpmd Mpps):"
        for ((i = 0; i < ROUNDS; i++)); do
            echo "  $((i + 1)): ${U_MPPS[i]} / ${U_CPP[i]} / ${U_CPPT[i]} / ${U_UL[i]} / ${U_DL[i]} | ${UI_MPPS[i]} / ${UI_CPP[i]} / ${UI_ULC[i]} / ${UI_DLC[i]} / ${UI_RCPP[i]} | ${T_MPPS[i]}"
        done
    fi
    echo "logs: $LOGS/$STAMP-*"
} | tee "$BUILDDIR/bench-results.txt"
