"""rte_pdump: dpdk-dumpcap (a DPDK secondary process) captures on braid's ports.

A secondary process shares the primary's hugepage memory, so this braid runs on hugepages
(scripts/setup.sh reserves them and mounts hugetlbfs). Without hugepages the test fails and says
why: capture is a feature operators rely on, not an optional extra.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from conftest import GNB_IP, N3_IP

HUGEPAGES_NEEDED = 160  # 256 MB of 2 MB pages for braid, plus what dumpcap maps


def _hugepages_free() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("HugePages_Free:"):
            return int(line.split()[1])
    return 0


def test_dumpcap_captures_braid_traffic(lab, braid_factory, workdir):
    free = _hugepages_free()
    mounted = "hugetlbfs" in Path("/proc/mounts").read_text()
    if free < HUGEPAGES_NEEDED or not mounted:
        pytest.fail(f"dpdk-dumpcap needs braid on hugepages: {free} free 2 MB pages "
                    f"(need {HUGEPAGES_NEEDED}), hugetlbfs mounted: {mounted}. "
                    "Run scripts/setup.sh as root.", pytrace=False)
    braid = braid_factory({"eal": {"no_huge": False, "memory_mb": 256}})
    pcap = Path(workdir) / "dumpcap-n3.pcapng"
    dumpcap = subprocess.Popen(
        ["dpdk-dumpcap", "--file-prefix", braid.file_prefix, "-i", "net_af_packet0",
         "-c", "6", "-w", str(pcap)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(2)  # dumpcap attaches and enables capture on the port
        cp = lab.ping(lab.gnb, N3_IP, count=3)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        out, _ = dumpcap.communicate(timeout=15)
    finally:
        if dumpcap.poll() is None:
            dumpcap.kill()  # by PID
            dumpcap.wait(timeout=5)
    assert dumpcap.returncode == 0, f"dpdk-dumpcap failed:\n{out}"
    tshark = subprocess.run(
        ["tshark", "-n", "-r", str(pcap), "-Y", "icmp", "-T", "fields", "-e", "ip.src",
         "-e", "ip.dst", "-e", "icmp.type"], capture_output=True, text=True, timeout=30)
    assert tshark.returncode == 0, tshark.stderr
    rows = [tuple(line.split("\t")) for line in tshark.stdout.splitlines() if line]
    assert (GNB_IP, N3_IP, "8") in rows, f"no echo request in the capture:\n{tshark.stdout}"
    assert (N3_IP, GNB_IP, "0") in rows, f"no echo reply in the capture:\n{tshark.stdout}"
    assert braid.running()
    assert braid.stop() == 0, braid.log()
    # EAL keeps its hugepage files after exit (a restart with the same prefix reuses them);
    # the test's prefix is never reused, so give the pages back.
    for f in Path("/dev/hugepages").glob(f"{braid.file_prefix}map_*"):
        f.unlink()
    assert _hugepages_free() >= free, "hugepages not returned after braid stopped"
