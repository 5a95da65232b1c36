"""Packets to a next hop being resolved are held, not dropped (RFC 1122 §2.3.2.2, RFC 4861
§7.2.2), end to end: braid freshly started knows the DN gateway it was configured with but not
the other DN hosts on the N6 link; the very first datagrams of a flow to such a host (and the
first echo request of a ping) must all arrive."""

from __future__ import annotations

import subprocess
import time

import pytest

from conftest import GNB_IP, N3_IP, PYTHON
from gnb import Gnb

UE = "198.19.100.1"
SEID, UL_TEID, DL_TEID = 7, 0x1001, 0x2001

UDP_COUNT = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(float(sys.argv[3]))
got = []
try:
    while True:
        got.append(int(s.recv(100)))
except socket.timeout:
    pass
print(" ".join(map(str, got)))
"""


def metric(braid, name, **labels):
    return braid.metrics().value(name, **labels)


@pytest.fixture(scope="module")
def session(braid):
    braid.cli_ok("session", "add", str(SEID), "teid", str(UL_TEID), "ue", UE, "gnb", GNB_IP,
                 "gnb-teid", str(DL_TEID))
    return SEID


@pytest.fixture
def gnb(lab, session):
    with Gnb(lab, UE, ul_teid=UL_TEID, dl_teid=DL_TEID, upf_n3_ip=N3_IP,
             routes=["198.19.0.0/24"]) as g:
        yield g


def add_dn_host(lab, address):
    """A second address on the DN host: braid has never resolved it."""
    lab.ns(lab.dn, "ip", "addr", "add", f"{address}/24", "dev", "eth0", check=True)


def test_first_datagrams_to_an_unresolved_next_hop_all_arrive(lab, braid, gnb, alive):
    host = "198.19.0.3"
    add_dn_host(lab, host)
    assert host not in braid.cli_ok("show", "neighbors")
    held = metric(braid, "braid_neighbor_held_total")
    rx = subprocess.Popen(["ip", "netns", "exec", lab.dn, PYTHON, "-c", UDP_COUNT, host, "7300",
                           "2.0"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    # Eight datagrams back to back: all leave braid before the ARP reply can be back.
    lab.py(lab.gnb, "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                    f"s.bind(('{UE}', 0))\n"
                    f"for i in range(8):\n    s.sendto(str(i).encode(), ('{host}', 7300))\n")
    got = rx.communicate(timeout=20)[0].split()
    assert got == [str(i) for i in range(8)], (got, braid.cli("show", "drops")[1])
    assert metric(braid, "braid_neighbor_held_total") > held
    assert metric(braid, "braid_neighbor_released_total") >= 1
    assert metric(braid, "braid_neighbor_holding") == 0
    for reason in ("neighbor_unresolved", "neighbor_queue_full", "neighbor_resolution_failed",
                   "neighbor_hold_timeout"):
        assert metric(braid, "braid_drop_packets_total", reason=reason) == 0, reason
    out = braid.cli_ok("show", "neighbors")
    assert host in out and "reachable" in out, out
    assert "held now 0" in out, out


def test_first_ping_to_an_unresolved_next_hop_is_answered(lab, braid, gnb, alive):
    host = "198.19.0.4"
    add_dn_host(lab, host)
    # One echo request, one chance: it must not be lost to address resolution.
    cp = lab.ping(lab.gnb, host, count=1, wait=3, extra=("-I", UE))
    assert cp.returncode == 0, cp.stdout + cp.stderr + braid.cli("show", "drops")[1]
