"""GTP-U path management (TS 29.281 §7.2.1): braid probes the gNB its sessions tunnel to with Echo
Requests, sees the path up while the gNB emulator answers, declares it down after N3-REQUESTS
unanswered requests (logged, counted) and back up when the answers return."""

from __future__ import annotations

import re
import time

from conftest import GNB_IP, N3_IP
from gnb import Gnb

UE = "198.19.100.9"
SEID, UL_TEID, DL_TEID = 51, 0x5101, 0x5201
CONFIG = {"gtpu": {"echo_interval_s": 1, "t3_response_ms": 200, "n3_requests": 2}}


def peer_state(b):
    out = b.cli_ok("show", "gtpu", "peers")
    m = re.search(rf"^{re.escape(GNB_IP)}\s+(\w+)\s+(\d+)", out, re.M)
    return (m.group(1), int(m.group(2))) if m else (None, 0)


def wait_for(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def echo_metric(b, event):
    return b.metrics().value("braid_gtpu_echo_total", event=event)


def test_echo_path_up_down_and_back(lab, braid_factory):
    b = braid_factory(CONFIG)
    assert "peer" in b.cli_ok("show", "gtpu", "peers")
    assert peer_state(b) == (None, 0)  # no session tunnels to the gNB yet: nothing probed
    b.cli_ok("session", "add", str(SEID), "teid", str(UL_TEID), "ue", UE, "gnb", GNB_IP,
             "gnb-teid", str(DL_TEID))
    with Gnb(lab, UE, ul_teid=UL_TEID, dl_teid=DL_TEID, upf_n3_ip=N3_IP,
             routes=["198.19.0.0/24"]) as g:
        assert wait_for(lambda: peer_state(b) == ("up", 1), 5), b.cli_ok("show", "gtpu", "peers")
        assert wait_for(lambda: g.stats().get("echo_responses_sent", 0) >= 2, 5), g.stats()
        requests = g.messages("echo_request")
        assert requests, g.stats()
        for m in requests:  # §7.2.1: TEID 0, a sequence number, from braid's N3 address
            assert m["teid"] == 0 and m["seq"] is not None, m
            assert m["from"].startswith(N3_IP), m
        seqs = [m["seq"] for m in requests]
        assert len(set(seqs)) == len(seqs), seqs  # one new sequence number per answered probe
        assert echo_metric(b, "response") >= 1
    with Gnb(lab, UE, ul_teid=UL_TEID, dl_teid=DL_TEID, upf_n3_ip=N3_IP,
             routes=["198.19.0.0/24"], echo_reply=False):
        # interval 1 s + 2 requests x 200 ms: down within ~2 s.
        assert wait_for(lambda: peer_state(b)[0] == "down", 6), b.cli_ok("show", "gtpu", "peers")
        # (The path may already have failed in the gap between the two emulators.)
        assert wait_for(lambda: b.metrics().value("braid_gtpu_path_failures_total") >= 1, 3)
        assert wait_for(lambda: echo_metric(b, "timeout") >= 2, 3)
        assert "GTP-U path to " + GNB_IP + " is down" in b.log()
    with Gnb(lab, UE, ul_teid=UL_TEID, dl_teid=DL_TEID, upf_n3_ip=N3_IP,
             routes=["198.19.0.0/24"]):
        assert wait_for(lambda: peer_state(b)[0] == "up", 5), b.cli_ok("show", "gtpu", "peers")
        assert wait_for(lambda: b.metrics().value("braid_gtpu_path_recoveries_total") >= 1, 3)
    # The last session using the peer goes: the peer is forgotten.
    b.cli_ok("session", "del", str(SEID))
    assert peer_state(b) == (None, 0)
    b.stop()
