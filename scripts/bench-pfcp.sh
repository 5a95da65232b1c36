#!/usr/bin/env bash
# braid: PFCP session establishment / modification / deletion benchmark (issue 4).
#
#   scripts/bench-pfcp.sh [--builddir DIR] [--no-build] [bench_pfcp options...]
#
# Builds bench_pfcp (meson compile -C DIR, default build/) and runs it once:
# DIR/tests/bench/bench_pfcp --sessions 100000 --paced-rate 1000 --paced-seconds 10 by default
# (any other option is passed through; see bench_pfcp --help). EAL: -l 0-1 --no-huge --no-pci and
# a unique --file-prefix. The report goes to stdout and DIR/bench-pfcp-results.txt, braid's log
# lines to DIR/bench-logs/. Exit status: bench_pfcp's (0 only if every request was accepted and
# every check passed). See docs/BENCHMARKS.md, "PFCP sessions".
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BUILDDIR=build
BUILD=1
ARGS=()
while (($#)); do
    case "$1" in
    --builddir) BUILDDIR=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
    *) ARGS+=("$1"); shift ;;
    esac
done

if ((BUILD)); then
    meson compile -C "$BUILDDIR" bench_pfcp >/dev/null ||
        { echo "bench-pfcp.sh: build failed (meson compile -C $BUILDDIR bench_pfcp)" >&2; exit 1; }
fi
BENCH=$BUILDDIR/tests/bench/bench_pfcp
[[ -x "$BENCH" ]] || { echo "bench-pfcp.sh: $BENCH missing (meson setup $BUILDDIR)" >&2; exit 2; }

mkdir -p "$BUILDDIR/bench-logs"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
LOG=$BUILDDIR/bench-logs/$STAMP-pfcp.txt
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

{
    echo "braid bench_pfcp $STAMP  (git $(git rev-parse --short HEAD 2>/dev/null || echo ?)$(git diff --quiet 2>/dev/null || echo '+dirty'))"
    echo "load average before: $LOAD_BEFORE  (2 CPUs; > 0.5 means other work shared the cores)"
    timeout -k 10 1800 "$BENCH" "${ARGS[@]}" 2>"$LOG" || true
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "braid log: $LOG"
} | tee "$BUILDDIR/bench-pfcp-results.txt"
grep -q "^result.ok=1" "$BUILDDIR/bench-pfcp-results.txt" || exit 1
exit 0
