"""`ports[].gateway_ipv6`: braid's IPv6 next hop for off-link destinations on N6 (RFC 4861 §5.2
with a configured default router). The DN host is the gateway; it also owns 2001:db8:7::1 on its
loopback, an off-link destination for braid."""

from __future__ import annotations

import pytest

from conftest import DN_IP6, GNB_IP, N3_IP
from gnb import Gnb

UE = "198.19.100.12"
UE6 = "2001:db8:100:12::1"
OFF_LINK6 = "2001:db8:7::1"
SEID, UL_TEID, DL_TEID = 62, 0x6102, 0x6202


@pytest.fixture(scope="module")
def braid(braid_factory, lab):
    lab.ns(lab.dn, "ip", "-6", "addr", "add", f"{OFF_LINK6}/128", "dev", "lo", check=True)
    b = braid_factory({"ports": [
        {"name": "n3", "role": "n3", "vdev": f"net_af_packet0,iface={lab.n3}",
         "ipv4": "198.18.0.1/24", "ipv6": "2001:db8:3::1/64", "gateway_ipv4": GNB_IP},
        {"name": "n6", "role": "n6", "vdev": f"net_af_packet1,iface={lab.n6}",
         "ipv4": "198.19.0.1/24", "ipv6": "2001:db8:6::1/64", "gateway_ipv4": "198.19.0.2",
         "gateway_ipv6": DN_IP6},
    ]})
    b.cli_ok("session", "add", str(SEID), "teid", str(UL_TEID), "ue", UE, "gnb", GNB_IP,
             "gnb-teid", str(DL_TEID))
    b.cli_ok("session", "set", str(SEID), "ue6", "2001:db8:100:12::/64")
    return b


def neighbor_row(braid, address):
    for line in braid.cli_ok("show", "neighbors").splitlines():
        f = line.split()
        if len(f) >= 5 and f[2] == address:
            return line
    return None


def test_gateway_ipv6_is_resolved_at_start_and_pinned(lab, braid, alive):
    import time
    deadline = time.monotonic() + 5
    row = None
    while time.monotonic() < deadline:
        row = neighbor_row(braid, DN_IP6)
        if row and "reachable" in row:
            break
        time.sleep(0.1)
    assert row and "reachable" in row and "(next hop)" in row, braid.cli_ok("show", "neighbors")
    assert lab.mac("eth0", lab.dn) in row


def test_off_link_ipv6_destination_goes_through_the_gateway(lab, braid, alive):
    with Gnb(lab, UE, ul_teid=UL_TEID, dl_teid=DL_TEID, upf_n3_ip=N3_IP,
             routes=["2001:db8:7::/64"], qfi=9, ue_ipv6=UE6):
        cp = lab.ping(lab.gnb, OFF_LINK6, count=3, extra=("-6", "-I", UE6))
    assert cp.returncode == 0, cp.stdout + cp.stderr + braid.cli("show", "drops")[1]
    # Resolved through the gateway: braid never solicited the off-link address itself.
    assert neighbor_row(braid, OFF_LINK6) is None, braid.cli_ok("show", "neighbors")
