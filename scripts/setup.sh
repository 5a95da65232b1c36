#!/usr/bin/env bash
# braid: install build/test dependencies (Debian 12), try to reserve hugepages, build into build/.
# Idempotent: a repeat run skips apt when everything is installed and only recompiles.
#
#   scripts/setup.sh            install + build (build/)
#   BRAID_SKIP_BUILD=1 scripts/setup.sh   install only
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PACKAGES=(
    build-essential g++ clang clang-format libclang-rt-14-dev
    meson ninja-build pkg-config
    dpdk dpdk-dev libdpdk-dev
    libyaml-cpp-dev prometheus-cpp-dev libipsec-mb-dev catch2
    python3 python3-scapy python3-pytest python3-pytest-timeout python3-yaml
    tshark tcpdump iproute2 iputils-ping arping ethtool curl procps
    nftables
)

log() { printf '[setup] %s\n' "$*"; }

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); else
        log "not root and no sudo: cannot install packages"; fi
fi

# ---------------------------------------------------------------- packages
missing=()
for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    if [[ "$status" != "install ok installed" ]]; then
        missing+=("$p")
    fi
done

if ((${#missing[@]} == 0)); then
    log "all ${#PACKAGES[@]} packages already installed"
else
    log "missing packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark/wireshark-common asks whether non-root users may capture: answer no, non-interactively.
    echo "wireshark-common wireshark-common/install-setuid boolean false" |
        "${SUDO[@]}" debconf-set-selections
    "${SUDO[@]}" apt-get update -qq
    # Check that every name exists in the archive before installing, to fail with a clear message.
    unknown=()
    for p in "${missing[@]}"; do
        cand=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')
        if [[ -z "$cand" || "$cand" == "(none)" ]]; then unknown+=("$p"); fi
    done
    if ((${#unknown[@]} > 0)); then
        log "ERROR: packages not found in the apt sources: ${unknown[*]}"
        exit 1
    fi
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
    log "installed: ${missing[*]}"
fi

# ---------------------------------------------------------------- hugepages (best effort)
HP=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
WANT_HP=${BRAID_HUGEPAGES:-512}
if [[ -w "$HP" ]]; then
    cur=$(cat "$HP" 2>/dev/null || echo 0)
    if ((cur < WANT_HP)); then
        echo "$WANT_HP" >"$HP" 2>/dev/null || true
        cur=$(cat "$HP" 2>/dev/null || echo 0)
    fi
    # EAL finds hugepages through a hugetlbfs mount; Debian mounts one under systemd, a bare
    # container or VM may not.
    if ((cur > 0)) && ! grep -q hugetlbfs /proc/mounts; then
        mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null ||
            log "hugepages: cannot mount hugetlbfs on /dev/hugepages"
    fi
    if ((cur >= WANT_HP)); then
        log "hugepages: $cur x 2 MB reserved"
    else
        log "hugepages: only $cur x 2 MB reserved (wanted $WANT_HP); tests use --no-huge"
    fi
else
    log "hugepages: $HP not writable; tests use --no-huge"
fi

# ---------------------------------------------------------------- build
if [[ "${BRAID_SKIP_BUILD:-0}" == 1 ]]; then
    log "BRAID_SKIP_BUILD=1: not building"
    exit 0
fi

BUILD_DIR=${BRAID_BUILD_DIR:-build}
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
    log "configuring $BUILD_DIR"
    wipe=()
    [[ -d "$BUILD_DIR/meson-private" ]] && wipe=(--wipe)
    meson setup "${wipe[@]}" "$BUILD_DIR" --buildtype=debugoptimized -Dwerror=true
fi
log "compiling $BUILD_DIR"
meson compile -C "$BUILD_DIR"
log "done"
