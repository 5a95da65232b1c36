"""Static sessions from the YAML configuration (`sessions.static`): installed at start-up through
the same session action functions as the CLI and PFCP, carrying real traffic; a session the rules
refuse stops braid with exit 2 and a message naming it."""

from __future__ import annotations

import subprocess

from conftest import BRAID, DN_IP, GNB_IP, N3_IP
from gnb import Gnb

UE = "198.19.100.5"


def static(seid, teid, ue, gnb_teid, **extra):
    return {"seid": seid, "uplink_teid": teid, "ue_ipv4": ue, "gnb_ipv4": GNB_IP,
            "gnb_teid": gnb_teid, **extra}


def test_static_session_carries_traffic(lab, braid_factory):
    b = braid_factory({"sessions": {"static": [
        static(21, 0x5001, UE, 0x6001, qfi=5,
               downlink_filters=["permit out ip from 198.19.0.0/24 to assigned"])]}})
    out = b.cli_ok("show", "session", "21")
    assert "teid 20481" in out and f"ue {UE}" in out and "sdf-filters 1" in out, out
    with Gnb(lab, UE, ul_teid=0x5001, dl_teid=0x6001, upf_n3_ip=N3_IP,
             routes=["198.19.0.0/24"], qfi=5) as g:
        cp = lab.ping(lab.gnb, DN_IP, count=2, extra=("-I", UE))
        assert cp.returncode == 0, cp.stdout + b.cli("show", "drops")[1]
        assert g.stats()["dl_qfi"].get("5", 0) >= 2
    b.stop()


def test_refused_static_session_exits_2_naming_it(lab, braid_factory):
    b = braid_factory({"sessions": {"static": [
        static(31, 0x7001, "198.19.100.6", 0x8001),
        static(32, 0x7001, "198.19.100.7", 0x8002)]}}, start=False)
    cp = subprocess.run([str(BRAID), "--config", str(b.config_path)], capture_output=True,
                        text=True, timeout=60, cwd=b.workdir)
    assert cp.returncode == 2, cp.stdout + cp.stderr
    assert "sessions.static[1] (seid 32): teid_in_use" in cp.stderr, cp.stderr


def test_check_config_rejects_a_bad_filter(lab, braid_factory):
    b = braid_factory({"sessions": {"static": [
        static(41, 0x9001, "198.19.100.8", 0xa001, uplink_filters=["permit in ip from any to any"])
    ]}}, start=False)
    cp = subprocess.run([str(BRAID), "--check-config", "--config", str(b.config_path)],
                        capture_output=True, text=True, timeout=30)
    assert cp.returncode == 2
    assert "sessions.static[0].uplink_filters[0]" in cp.stdout + cp.stderr
