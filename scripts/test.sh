#!/usr/bin/env bash
# braid: the one command that runs every test tier.
#
#   scripts/test.sh           setup + build, format check, unit tests, ASan/UBSan unit tests,
#                             integration tests (netns lab), fuzz smoke (scripts/fuzz.sh if present)
#   scripts/test.sh --quick   the same without the sanitizer build
#   scripts/test.sh --long    integration tests at full size (env BRAID_LONG=1: e.g. the MPTCP
#                             transfers move 1 GiB each way instead of CI's 100 MiB); combines
#                             with --quick
#
# Each stage prints a banner and its duration; the run goes on after a failed stage. The last line
# is "N passed, N failed" summing the real test cases (Catch2 test cases, pytest tests; a stage
# without test cases of its own, such as the format check, counts as one) and the exit status is
# non-zero if any stage failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

QUICK=0
LONG=0
for arg in "$@"; do
    case "$arg" in
    --quick) QUICK=1 ;;
    --long) LONG=1 ;;
    -h | --help)
        sed -n '2,14p' "$0"
        exit 0
        ;;
    *)
        echo "test.sh: unknown argument '$arg'" >&2
        exit 2
        ;;
    esac
done

PY=/usr/bin/python3
LOGDIR="$ROOT/build/testlogs" # created after setup, so that meson owns build/

TOTAL_PASS=0
TOTAL_FAIL=0
TOTAL_SKIP=0
STAGES_FAILED=0
SUMMARY=()
START_ALL=$SECONDS

banner() {
    printf '\n==============================================================================\n'
    printf '== %s\n' "$*"
    printf '==============================================================================\n'
}

# record NAME RC PASS FAIL SKIP SECONDS
# PASS/FAIL/SKIP are test-case counts parsed from the stage ("" when the stage has none).
record() {
    local name=$1 rc=$2 p=${3:-} f=${4:-} s=${5:-} secs=$6 verdict
    if [[ -z "$p" && -z "$f" ]]; then
        if ((rc == 0)); then p=1 f=0; else p=0 f=1; fi
    fi
    p=${p:-0} f=${f:-0} s=${s:-0}
    # A failing stage that parsed no failed test case (build error, crash, timeout) still fails.
    if ((rc != 0 && f == 0)); then f=1; fi
    if ((rc == 0)); then verdict=PASS; else
        verdict=FAIL
        STAGES_FAILED=$((STAGES_FAILED + 1))
    fi
    TOTAL_PASS=$((TOTAL_PASS + p))
    TOTAL_FAIL=$((TOTAL_FAIL + f))
    TOTAL_SKIP=$((TOTAL_SKIP + s))
    SUMMARY+=("$(printf '%-12s %-4s %5ss  passed=%s failed=%s skipped=%s' "$name" "$verdict" "$secs" "$p" "$f" "$s")")
    printf -- '-- stage %s: %s in %ss (rc=%s, passed=%s failed=%s skipped=%s)\n' \
        "$name" "$verdict" "$secs" "$rc" "$p" "$f" "$s"
}

# Sum test cases from a meson testlog.json: Catch2 counts when a test printed them, else the
# meson verdict of the test itself. Prints "PASS FAIL SKIP".
count_meson() {
    "$PY" - "$1" <<'PYEOF'
import json, re, sys
p = f = s = 0
try:
    lines = open(sys.argv[1], encoding="utf-8", errors="replace").read().splitlines()
except OSError:
    print("  "); sys.exit(0)
for line in lines:
    try:
        t = json.loads(line)
    except ValueError:
        continue
    out = (t.get("stdout") or "") + "\n" + (t.get("stderr") or "")
    res = t.get("result", "")
    m = re.search(r"All tests passed \((\d+) assertions? in (\d+) test cases?\)", out)
    m2 = re.search(r"test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed", out)
    m3 = re.search(r"test cases:\s*(\d+)\s*\|\s*(\d+) failed", out)
    if m:
        p += int(m.group(2))
    elif m2:
        p += int(m2.group(2)); f += int(m2.group(3))
    elif m3:
        f += int(m3.group(2))
    elif res in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif res == "SKIP":
        s += 1
    else:
        f += 1
    # A Catch2 binary that reported all passes but then crashed/timed out still failed.
    if (m or m2) and res not in ("OK", "EXPECTEDFAIL") and not (m2 and int(m2.group(3))):
        f += 1
print(p, f, s)
PYEOF
}

# Sum a pytest junit xml: prints "PASS FAIL SKIP".
count_junit() {
    "$PY" - "$1" <<'PYEOF'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print("  "); sys.exit(0)
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = f = e = s = 0
for su in suites:
    t += int(su.get("tests", 0)); f += int(su.get("failures", 0))
    e += int(su.get("errors", 0)); s += int(su.get("skipped", 0))
print(max(t - f - e - s, 0), f + e, s)
PYEOF
}

run_meson_tests() { # NAME BUILDDIR TIMEOUT [START_SECONDS]
    local name=$1 dir=$2 tmo=$3 rc p f s t0=${4:-$SECONDS}
    rm -f "$dir/meson-logs/testlog.json"
    timeout --kill-after=30 "$tmo" meson test -C "$dir" --print-errorlogs ${MESON_TEST_ARGS:-}
    rc=$?
    ((rc == 124)) && echo "!! $name: timed out after ${tmo}s"
    read -r p f s < <(count_meson "$dir/meson-logs/testlog.json")
    record "$name" "$rc" "$p" "$f" "$s" $((SECONDS - t0))
}

# ------------------------------------------------------------------------------ setup + build
banner "setup: packages, hugepages, build (scripts/setup.sh)"
t0=$SECONDS
timeout --kill-after=30 2400 bash scripts/setup.sh
setup_rc=$?
record setup "$setup_rc" "" "" "" $((SECONDS - t0))

# ------------------------------------------------------------------------------ format
banner "format: clang-format --dry-run --Werror"
t0=$SECONDS
fmt_dirs=()
for d in control dataplane pipelines tcpstack mptcp tests; do [[ -d $d ]] && fmt_dirs+=("$d"); done
unformatted=()
nfiles=0
if ! command -v clang-format >/dev/null; then
    echo "clang-format not installed"
    unformatted+=("(clang-format missing)")
else
    while IFS= read -r -d '' file; do
        nfiles=$((nfiles + 1))
        if ! clang-format --dry-run --Werror "$file" >/dev/null 2>&1; then
            unformatted+=("$file")
        fi
    done < <(find "${fmt_dirs[@]}" -type f \( -name '*.cc' -o -name '*.h' \) -print0 | sort -z)
fi
if ((${#unformatted[@]} > 0)); then
    echo "unformatted files (fix with: clang-format -i FILE):"
    printf '  %s\n' "${unformatted[@]}"
    record format 1 "" "" "" $((SECONDS - t0))
else
    echo "$nfiles files formatted"
    record format 0 "" "" "" $((SECONDS - t0))
fi

# ------------------------------------------------------------------------------ golden packets
banner "golden: tests/pipeline/golden_packets.h matches tests/pipeline/golden.py"
t0=$SECONDS
golden_tmp=$(mktemp /tmp/braid-golden.XXXXXX.h)
if "$PY" tests/pipeline/golden.py "$golden_tmp" && cmp -s "$golden_tmp" tests/pipeline/golden_packets.h; then
    record golden 0 "" "" "" $((SECONDS - t0))
else
    echo "tests/pipeline/golden_packets.h is stale: run $PY tests/pipeline/golden.py"
    record golden 1 "" "" "" $((SECONDS - t0))
fi
rm -f "$golden_tmp"

# ------------------------------------------------------------------------------ unit tests
banner "unit: meson test -C build"
if ((setup_rc == 0)); then
    run_meson_tests unit build 1200
else
    echo "skipped: setup/build failed"
    record unit 1 "" "" "" 0
fi

# ------------------------------------------------------------------------------ sanitizers
if ((QUICK == 0)); then
    banner "asan: ASan+UBSan build (build-asan/) and unit tests"
    t0=$SECONDS
    asan_rc=0
    if [[ ! -f build-asan/build.ninja ]]; then
        wipe=()
        [[ -d build-asan/meson-private ]] && wipe=(--wipe)
        # -O0: ASan+UBSan at -O2 made g++ take ~5x longer per file (133 s vs 27 s for the
        # biggest one) and the build was most of this stage; -O0 also keeps every access checked.
        timeout 600 meson setup "${wipe[@]}" build-asan --buildtype=debug \
            -Db_sanitize=address,undefined -Db_lundef=false || asan_rc=$?
    fi
    if ((asan_rc == 0)); then
        # Only what the tests run: the daemon and the benchmark are not needed under ASan.
        timeout --kill-after=30 2400 meson compile -C build-asan unit_tests tcp_tests mptcp_tests || asan_rc=$?
    fi
    if ((asan_rc == 0)); then
        export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
        MESON_TEST_ARGS=--no-rebuild run_meson_tests asan build-asan 1800 "$t0"
    else
        echo "!! asan build failed"
        record asan "$asan_rc" "" "" "" $((SECONDS - t0))
    fi
else
    banner "asan: skipped (--quick)"
fi

# ------------------------------------------------------------------------------ integration
banner "integration: pytest tests/integration (netns lab + build/braid)"
t0=$SECONDS
mkdir -p "$LOGDIR"
junit="$LOGDIR/integration-junit.xml"
rm -f "$junit"
int_tmo=1800
if ((LONG == 1)); then
    export BRAID_LONG=1 # tests/integration/conftest.py long_run()
    int_tmo=5400
fi
timeout --kill-after=30 "$int_tmo" "$PY" -m pytest -q -p no:cacheprovider \
    --junitxml="$junit" tests/integration
int_rc=$?
((int_rc == 5)) && echo "!! pytest collected no tests"
read -r p f s < <(count_junit "$junit")
record integration "$int_rc" "$p" "$f" "$s" $((SECONDS - t0))

# ------------------------------------------------------------------------------ fuzz
if [[ -f scripts/fuzz.sh ]]; then
    banner "fuzz: scripts/fuzz.sh"
    t0=$SECONDS
    mkdir -p "$LOGDIR"
    fuzzlog="$LOGDIR/fuzz.log"
    timeout --kill-after=30 1200 bash scripts/fuzz.sh 2>&1 | tee "$fuzzlog"
    fuzz_rc=${PIPESTATUS[0]}
    # If fuzz.sh prints its own "N passed, N failed" line, use it.
    line=$(grep -Eo '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed' "$fuzzlog" | tail -1 || true)
    if [[ -n "$line" ]]; then
        fp=$(grep -Eo '[0-9]+ passed' <<<"$line" | grep -Eo '[0-9]+')
        ff=$(grep -Eo '[0-9]+ failed' <<<"$line" | grep -Eo '[0-9]+')
        record fuzz "$fuzz_rc" "$fp" "$ff" "" $((SECONDS - t0))
    else
        record fuzz "$fuzz_rc" "" "" "" $((SECONDS - t0))
    fi
else
    banner "fuzz: no scripts/fuzz.sh yet (nothing to run)"
fi

# ------------------------------------------------------------------------------ summary
banner "summary ($((SECONDS - START_ALL))s total)"
printf '%s\n' "${SUMMARY[@]}"
echo "stages failed: $STAGES_FAILED"
if ((TOTAL_SKIP > 0)); then
    echo "$TOTAL_PASS passed, $TOTAL_FAIL failed, $TOTAL_SKIP skipped"
else
    echo "$TOTAL_PASS passed, $TOTAL_FAIL failed"
fi
((STAGES_FAILED == 0))
