#!/usr/bin/env bash
# Build braid's libFuzzer targets with clang + ASan/UBSan and run each one briefly on a copy of
# its seed corpus (tests/fuzz/corpus/<target>/). For CI: exits non-zero if a target fails to
# build, crashes, hangs (-timeout), leaks or trips a sanitizer.
#
#   bash scripts/fuzz.sh                  # every target, FUZZ_SECONDS each
#   FUZZ_SECONDS=300 bash scripts/fuzz.sh packets
#
# Environment:
#   FUZZ_SECONDS    seconds per target (default 30)
#   FUZZ_BUILD_DIR  build directory (default build-fuzz, configured on first use)
#   FUZZ_KEEP=1     keep the temporary work directories (corpus grown by the run, logs)
#
# Nothing is written into the repository except the build directory: each target runs in its
# own mktemp directory (corpus copy, log, crash artifacts). On a failure that directory is kept
# and its path printed. The packet target brings up DPDK EAL with --no-huge --no-pci, no vdev
# and --file-prefix braid-fuzz-<pid>: no hugepages, no device is ever probed.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
seconds=${FUZZ_SECONDS:-30}
build=${FUZZ_BUILD_DIR:-build-fuzz}
all_targets=(config cli convert gtpu icmp join_token mptcp_data mptcp_endpoint mptcp_options nd packets pfcp pfcp_session sdf tcp_engine tcp_host tcp_options)
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    targets=("${all_targets[@]}")
fi
for t in "${targets[@]}"; do
    if [[ ! -d tests/fuzz/corpus/$t ]]; then
        echo "fuzz: unknown target '$t' (targets: ${all_targets[*]})" >&2
        exit 2
    fi
done

start=$SECONDS

if [[ ! -f $build/build.ninja ]]; then
    echo "fuzz: configuring $build"
    CC=clang CXX=clang++ meson setup "$build" -Dfuzz=true -Db_sanitize=address,undefined \
        -Db_lundef=false -Dbuildtype=debugoptimized
fi

# Only the fuzz executables and what they need (an instrumented copy of braid_core), not the
# daemon, unit tests and benchmarks. A compile error in braid_core fails here.
ninja_targets=()
for t in "${targets[@]}"; do
    ninja_targets+=("tests/fuzz/fuzz_$t")
done
echo "fuzz: building ${ninja_targets[*]} in $build"
if ! ninja -C "$build" "${ninja_targets[@]}"; then
    echo "fuzz: BUILD FAILED" >&2
    exit 1
fi

# Sanitizers: UBSan findings must stop the run (by default UBSan only prints and continues);
# libFuzzer turns the abort into a crash artifact. Leak detection stays on.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}

failed=0
for t in "${targets[@]}"; do
    bin=$root/$build/tests/fuzz/fuzz_$t
    work=$(mktemp -d "${TMPDIR:-/tmp}/braid-fuzz-$t.XXXXXX")
    cp -r "tests/fuzz/corpus/$t" "$work/corpus"
    mkdir "$work/artifacts"
    rc=0
    # cwd = the work dir: libFuzzer writes nothing else, but be sure it is not the repo.
    (cd "$work" && "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/" corpus \
        >"$work/log" 2>&1) || rc=$?
    runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' "$work/log" | tail -1)
    secs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' "$work/log" | tail -1)
    artifact=$(find "$work/artifacts" -type f | head -1)
    if [[ $rc -eq 0 && -n $runs && -z $artifact ]]; then
        rate=$(( runs / (secs > 0 ? secs : 1) ))
        cov=$(sed -n 's/^stat::.*//; s/.*cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/cov \1, ft \2, corpus \3/p' \
            "$work/log" | tail -1)
        echo "fuzz $t: $runs runs, no crash ($rate exec/s; $cov)"
        if [[ ${FUZZ_KEEP:-0} == 1 ]]; then
            echo "  kept $work"
        else
            rm -rf "$work"
        fi
    else
        failed=1
        echo "fuzz $t: FAILED (exit $rc)" >&2
        grep -E '^==[0-9]+==|ERROR|SUMMARY|runtime error|fuzz_[a-z]+: ' "$work/log" | head -20 >&2 || true
        if [[ -n $artifact ]]; then
            echo "  crash file: $artifact ($(stat -c %s "$artifact") bytes)" >&2
            echo "  reproduce:  $bin $artifact" >&2
            xxd "$artifact" | head -16 >&2 || true
        else
            echo "  (no artifact)" >&2
        fi
        echo "  full log:   $work/log" >&2
    fi
done

echo "fuzz: ${#targets[@]} target(s), ${seconds}s each, $(( SECONDS - start ))s in total"
exit $failed
