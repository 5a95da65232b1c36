"""MPTCP goodput of braid's endpoint against plain TCP, side by side (issue 6 benchmark).

Run (not part of the test suite; needs root, like the integration tests):

    /usr/bin/python3 -m pytest -q -s -p no:cacheprovider tests/bench/bench_mptcp.py \\
    (environment: BENCH_ROUNDS, default 3; BENCH_MIB, default 256)

The integration lab (tests/integration/conftest.py): braid's one worker on lcore 1 with
af_packet ports on veths, a Linux client in the DN namespace. Each round echoes M MiB
(default 256) through braid three ways, one after the other: plain TCP to a plain echo service
(the baseline), MPTCP with one subflow, MPTCP with two subflows (a second client address, the
in-kernel path manager joins it). Goodput = 2 × M MiB (both directions cross braid's one worker
core) / the client's wall time. Prints per round and the median, and the ratios MPTCP / TCP.
The client, the kernel's veth path and braid share the 2 vCPUs: the ratio is the figure, the
absolute rates describe this machine only.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from conftest import N6_IP, PYTHON, braid_factory, lab, workdir  # noqa: E402,F401
from test_mptcp_interop import (CLIENT, ECHO, IPPROTO_MPTCP, MIB,  # noqa: E402
                                add_second_address, finish_client, remove_second_address)

PLAIN = 5021


@pytest.fixture(scope="module")
def braid(braid_factory):  # noqa: F811
    return braid_factory({
        "tcp": {"services": [{"port": ECHO, "mode": "echo", "mptcp": True},
                             {"port": PLAIN, "mode": "echo"}]},
        "log": {"level": "warning"},
    })


def echo_mib_per_s(lab, port, proto, total):
    code = CLIENT.format(host=N6_IP, port=port, total=total, proto=proto, timeout=300.0)
    proc = subprocess.Popen(["ip", "netns", "exec", lab.dn, PYTHON, "-c", code],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    r = finish_client(proc, 300)
    assert r["received"] == r["sent"] == total and r["received_sha"] == r["sent_sha"]
    return 2 * total / MIB / r["seconds"], r


def test_bench_mptcp_goodput(lab, braid):  # noqa: F811
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    total = int(os.environ.get("BENCH_MIB", "256")) * MIB
    res = {"tcp": [], "mptcp1": [], "mptcp2": []}
    for i in range(rounds):
        res["tcp"].append(echo_mib_per_s(lab, PLAIN, 0, total)[0])
        res["mptcp1"].append(echo_mib_per_s(lab, ECHO, IPPROTO_MPTCP, total)[0])
        limits = add_second_address(lab)
        try:
            rate, r = echo_mib_per_s(lab, ECHO, IPPROTO_MPTCP, total)
            assert r["mptcp"].get("MPJoinSynAckRx", 0) >= 1, "no second subflow"
            res["mptcp2"].append(rate)
        finally:
            remove_second_address(lab, limits)
        print(f"round {i + 1}: " + ", ".join(f"{k} {v[-1]:.0f} MiB/s" for k, v in res.items()),
              flush=True)
    med = {k: statistics.median(v) for k, v in res.items()}
    print("median: " + ", ".join(f"{k} {v:.0f} MiB/s" for k, v in med.items()))
    print(f"ratio mptcp1/tcp {med['mptcp1'] / med['tcp']:.3f}  "
          f"mptcp2/tcp {med['mptcp2'] / med['tcp']:.3f}")
