"""The MPTCP proxy for an MA PDU session set up over PFCP (issue 7: link-specific addresses, MP_JOIN).

An SMF (this process, raw PFCP IEs: scapy has no ATSSS IEs) sets up an MA PDU session: two UL PDRs
(3GPP and non-3GPP access, F-TEID CHOOSE each), a DL PDR whose MAR (steering functionality MPTCP,
Smallest Delay) names one FAR per access, and Provide ATSSS Control Information with TCI. braid
answers with MPTCP Parameters: the proxy address and port and the UE's link-specific multipath
addresses (TS 23.501 §5.32.6.2.1), which reach the datapath with the session.

The UE (Linux MPTCP in the gNB namespace, behind gnb_emu with one tunnel per access, each with its
link-specific address) connects to the proxy from its 3GPP link address with the Convert message
as TCP Fast Open data; `ip mptcp endpoint add <non-3GPP link address> subflow` makes the kernel
join a second subflow from the non-3GPP address, in the non-3GPP tunnel. braid relays 1 MiB each
way to the DN server, which sees the PDU session's UE address (address-preserving mode), never a
link-specific one. Bounded: every wait has a timeout.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import subprocess
import time

import pytest
from scapy.contrib.pfcp import PFCP
from scapy.packet import Raw

from atsss_smf import establishment, parse_establishment
from conftest import DN_IP, GNB_IP, N3_IP, PYTHON
from gnb import Gnb
from test_pfcp_node import SMF_NODE_ID, Smf, free_udp_port, pfcp_config
from test_proxy import stat
from ue_tools import CLIENT, SERVER, connect_msg

UE = "198.19.100.40"  # the PDU session's UE address (N6 sees it)
PROXY = "198.18.50.1"
PROXY_PORT = 5124
TGPP_POOL = "198.19.210.0/24"
NON_TGPP_POOL = "198.19.220.0/24"
CP_SEID = 0x0A75550000000001
DL_TEID_3GPP = 0x0A000001  # the gNB's
DL_TEID_N3GPP = 0x0A000002  # the "N3IWF"'s (gnb_emu plays both, one tunnel each)
SIZE = 1 << 20
SERVER_PORT = 7071


# test_proxy's UE, but it waits (HOLD_S) after sending before its half-close: the server
# answers only after EOF, so the connection stays up meanwhile for `show proxy connection`.
HOLD_S = 2.0
HOLDING_CLIENT = CLIENT.replace("    s.shutdown(socket.SHUT_WR)",
                                f"    __import__('time').sleep({HOLD_S})\n"
                                "    s.shutdown(socket.SHUT_WR)")
assert HOLDING_CLIENT != CLIENT


def subflow_lines(conn: str) -> list[str]:
    return [line for line in conn.splitlines() if line.strip().startswith("subflow ")]


@pytest.fixture
def ue_lab(lab):
    # TFO client without cookies, MPTCP on, two subflows: in the UE's namespace only.
    for key, value in (("net.ipv4.tcp_fastopen", "5"), ("net.mptcp.enabled", "1")):
        cp = lab.ns(lab.gnb, "sysctl", "-w", f"{key}={value}")
        if cp.returncode != 0 and key == "net.mptcp.enabled":
            pytest.skip("the kernel has no MPTCP")
        assert cp.returncode == 0, cp.stderr
    limits = lab.ns(lab.gnb, "ip", "mptcp", "limits", "show").stdout.split()
    lab.ns(lab.gnb, "ip", "mptcp", "endpoint", "flush")
    lab.ns(lab.gnb, "ip", "mptcp", "limits", "set", "subflows", "2", check=True)
    yield lab
    lab.ns(lab.gnb, "ip", "mptcp", "endpoint", "flush")
    if len(limits) >= 4:
        lab.ns(lab.gnb, "ip", "mptcp", "limits", "set", *limits[:4])


def test_ma_pdu_session_two_accesses_through_the_proxy(ue_lab, braid_factory):
    lab = ue_lab
    port = free_udp_port()
    # Nobody answers braid's Heartbeat Requests while the UE transfers: a slow heartbeat keeps
    # the association (and with it the session) up for the test's duration.
    b = braid_factory(pfcp_config(port, heartbeat={"interval_s": 60, "misses": 3}, mptcp_proxy={
        "enabled": True, "address_v4": PROXY, "port": PROXY_PORT,
        "link_specific_pools": {"tgpp": [{"prefix": TGPP_POOL}],
                                "non_tgpp": [{"prefix": NON_TGPP_POOL}]}}))
    smf = Smf(port)
    srv = None
    try:
        _, rsp = smf.setup()
        seq = smf.next_seq()
        body = establishment(SMF_NODE_ID, CP_SEID, UE, GNB_IP, DL_TEID_3GPP, DL_TEID_N3GPP)
        smf.send(PFCP(version=1, S=1, seid=0, seq=seq, message_type=50) / Raw(body))
        raw, _ = smf.expect_response(seq)
        r = parse_establishment(raw)
        assert r["cause"] == 1, raw.hex()
        assert r["proxy"] == (PROXY, PROXY_PORT)
        assert ipaddress.ip_address(r["tgpp4"]) in ipaddress.ip_network(TGPP_POOL)
        assert ipaddress.ip_address(r["non_tgpp4"]) in ipaddress.ip_network(NON_TGPP_POOL)
        ul_3gpp, ul_n3gpp = r["teids"][1], r["teids"][2]
        assert ul_3gpp != ul_n3gpp
        shown = b.cli_ok("show", "session", str(r["seid"]))
        assert r["tgpp4"] in shown and r["non_tgpp4"] in shown, shown

        srv = subprocess.Popen(["ip", "netns", "exec", lab.dn, PYTHON, "-c", SERVER, DN_IP,
                                str(SIZE), str(SERVER_PORT)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        # One gnb_emu, one tunnel per access: the 3GPP link address in the 3GPP tunnel (the
        # gNB's TEIDs), the non-3GPP one in the other (the N3IWF's TEIDs).
        with Gnb(lab, r["tgpp4"], ul_teid=ul_3gpp, dl_teid=DL_TEID_3GPP, upf_n3_ip=N3_IP,
                 routes=["198.18.50.0/24", "198.19.0.0/24"],
                 extra_tunnels=[{"ue4": r["non_tgpp4"], "ul": hex(ul_n3gpp),
                                 "dl": hex(DL_TEID_N3GPP), "qfi": 9}]) as g:
            lab.ns(lab.gnb, "ip", "mptcp", "endpoint", "add", r["non_tgpp4"], "dev", g.tun,
                   "subflow", check=True)
            client = subprocess.Popen(
                ["ip", "netns", "exec", lab.gnb, PYTHON, "-c", HOLDING_CLIENT,
                 connect_msg(DN_IP, SERVER_PORT).hex(), str(SIZE), r["tgpp4"], PROXY,
                 str(PROXY_PORT)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                # While the UE holds its half-close back: braid's view of the live connection.
                conn = ""
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    conn = b.cli("show", "proxy", "connection", "1")[1]
                    if len(subflow_lines(conn)) >= 2:
                        break
                    time.sleep(0.1)
                mptcp_conns = b.cli("show", "mptcp", "connections")[1]
                client_out, client_err = client.communicate(timeout=60)
            finally:
                if client.poll() is None:
                    client.kill()
            # Anything but TCP to the proxy from a link-specific address is dropped, by name.
            lab.ns(lab.gnb, PYTHON, "-c",
                   "import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                   "s.bind((sys.argv[1], 0)); [s.sendto(b'x', (sys.argv[2], 9)) for _ in range(3)]",
                   r["non_tgpp4"], DN_IP, check=True)
            stats = g.stats()
        srv_out, srv_err = srv.communicate(timeout=30)
        assert client.returncode == 0, client_out + client_err
        out = json.loads(client_out.strip().splitlines()[-1])
        diag = (f"{out}\n{conn}\n{mptcp_conns}\n"
                f"{b.cli('show', 'drops')[1]}\n{json.dumps(stats.get('tunnels'))}")
        assert out["data"][:8] == "01012263", diag  # the Convert reply first
        assert out["digest"] == out["up_sha"], diag  # every byte up arrived
        assert out["len"] == 4 + 64 + SIZE, diag
        down = bytes((i * 13 + 1) & 0xff for i in range(SIZE))
        assert out["tail_sha"] == hashlib.sha256(down).hexdigest(), diag
        # Address-preserving mode: the server saw the PDU session's UE address.
        assert srv_out.strip() == UE, srv_out + srv_err
        # Two subflows, one per access, classified from the session's link-specific addresses.
        subflows = subflow_lines(conn)
        assert len(subflows) >= 2, diag
        assert any(r["tgpp4"] in s and "access 3gpp" in s for s in subflows), diag
        assert any(r["non_tgpp4"] in s and "access non-3gpp" in s for s in subflows), diag
        # Both tunnels carried traffic both ways.
        tunnels = {t["dl_teid"]: t for t in stats["tunnels"]}
        for teid in (DL_TEID_3GPP, DL_TEID_N3GPP):
            t = tunnels[teid]
            assert t["ul_packets"] > 0 and t["dl_packets"] > 0, diag
        drops = b.cli_ok("show", "drops")
        assert re.search(r"link_addr_not_proxy\s+3\b", drops), drops
        pstats = b.cli_ok("show", "proxy", "stats")
        assert stat(pstats, "established") == 1, pstats
    finally:
        if srv is not None and srv.poll() is None:
            srv.kill()
        smf.close()
    b.stop()


def test_static_session_link_addresses(ue_lab, braid_factory):
    """A static session's `link_addresses` (docs/CONFIG.md): the UE's subflow from its 3GPP
    link-specific address is proxied, N6 sees the session's UE address; one downlink FAR."""
    lab = ue_lab
    link_3gpp, link_n3gpp = "198.19.210.9", "198.19.220.9"
    b = braid_factory({
        "sessions": {"static": [{
            "seid": 41, "uplink_teid": 0x7041, "ue_ipv4": UE, "gnb_ipv4": GNB_IP,
            "gnb_teid": 0x8041, "mptcp": True,
            "link_addresses": {"tgpp": [link_3gpp], "non_tgpp": [link_n3gpp]}}]},
        "pfcp": {"mptcp_proxy": {
            "enabled": True, "address_v4": PROXY, "port": PROXY_PORT,
            "link_specific_pools": {"tgpp": [{"prefix": TGPP_POOL}],
                                    "non_tgpp": [{"prefix": NON_TGPP_POOL}]}}},
    })
    shown = b.cli_ok("show", "session", "41")
    assert f"link-specific 3gpp {link_3gpp}" in shown, shown
    assert f"link-specific non-3gpp {link_n3gpp}" in shown, shown
    srv = subprocess.Popen(["ip", "netns", "exec", lab.dn, PYTHON, "-c", SERVER, DN_IP,
                            str(SIZE), str(SERVER_PORT)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        with Gnb(lab, link_3gpp, ul_teid=0x7041, dl_teid=0x8041, upf_n3_ip=N3_IP,
                 routes=["198.18.50.0/24"]):
            cp = lab.ns(lab.gnb, PYTHON, "-c", CLIENT, connect_msg(DN_IP, SERVER_PORT).hex(),
                        str(SIZE), link_3gpp, PROXY, str(PROXY_PORT), timeout=60)
        srv_out, srv_err = srv.communicate(timeout=30)
    finally:
        if srv.poll() is None:
            srv.kill()
    assert cp.returncode == 0, cp.stdout + cp.stderr
    out = json.loads(cp.stdout.strip().splitlines()[-1])
    assert out["digest"] == out["up_sha"], out
    assert out["len"] == 4 + 64 + SIZE, out
    assert srv_out.strip() == UE, srv_out + srv_err
    b.stop()
