"""The ATSSS MPTCP proxy end to end (issue 7, RFC 8803).

A static session with `mptcp: true` (no PFCP: simpler, and the same session action functions);
the UE in the gnb namespace, behind gnb_emu's tun, opens a Linux MPTCP socket (IPPROTO_MPTCP)
to the proxy address with a Convert Connect TLV as TCP Fast Open data (MSG_FASTOPEN, no cookie:
net.ipv4.tcp_fastopen=5 in the namespace); braid answers only after the DN server's SYN/ACK,
connects from the UE's address (address-preserving mode) and relays. Bytes both ways are
checked by SHA-256. Errors: a destination that refuses (RST → Error TLV Connection Reset, then
FIN) and a session without MPTCP (Not Authorized). PFCP steering (the same session action
functions as PFCP, through `session set ... mar` and `session del`): a MAR modified while a
proxied connection is open changes its scheduler; deleting the session closes it (MP_FASTCLOSE
to the UE, FIN to the server). Each test is bounded (timeouts, 1 MiB).
"""

from __future__ import annotations

import hashlib
import json
import re
import select
import subprocess
import time

import pytest

from conftest import DN_IP, GNB_IP, N3_IP, PYTHON, stopping_each_test
from gnb import Gnb
from ue_tools import CLIENT, SERVER, connect_msg

UE = "198.19.100.5"
PROXY = "198.18.50.1"
PROXY_PORT = 5124
SIZE = 1 << 20


def static(seid, teid, gnb_teid, **extra):
    return {"seid": seid, "uplink_teid": teid, "ue_ipv4": UE, "gnb_ipv4": GNB_IP,
            "gnb_teid": gnb_teid, **extra}


def proxy_config(mptcp: bool) -> dict:
    return {
        "sessions": {"static": [static(31, 0x7001, 0x8001, mptcp=mptcp)]},
        "pfcp": {"mptcp_proxy": {
            "enabled": True, "address_v4": PROXY, "port": PROXY_PORT,
            "link_specific_pools": {"tgpp": [{"prefix": "198.19.210.0/24"}],
                                    "non_tgpp": [{"prefix": "198.19.220.0/24"}]}}},
    }


def stat(text: str, name: str) -> int:
    """The count on the `name` line of show proxy stats (the first such line)."""
    for line in text.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == name:
            return int(words[1])
    raise AssertionError(f"no {name} in\n{text}")


def run_client(lab, msg: bytes, size: int, timeout: float = 20):
    cp = lab.ns(lab.gnb, PYTHON, "-c", CLIENT, msg.hex(), str(size), UE, PROXY,
                str(PROXY_PORT), str(timeout), timeout=60)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    import json
    return json.loads(cp.stdout.strip().splitlines()[-1])


@pytest.fixture
def braid_factory(braid_factory):  # noqa: F811 (the module's, stopped per test)
    yield from stopping_each_test(braid_factory)


@pytest.fixture
def ue_lab(lab):
    # TFO client without cookies (0x1 | 0x4), MPTCP on, in the UE's namespace only.
    for key, value in (("net.ipv4.tcp_fastopen", "5"), ("net.mptcp.enabled", "1")):
        cp = lab.ns(lab.gnb, "sysctl", "-w", f"{key}={value}")
        assert cp.returncode == 0, cp.stderr
    return lab


def test_proxy_relays_both_ways(ue_lab, braid_factory):
    lab = ue_lab
    b = braid_factory(proxy_config(mptcp=True))
    port = 7070
    srv = subprocess.Popen(["ip", "netns", "exec", lab.dn, PYTHON, "-c", SERVER, DN_IP,
                            str(SIZE), str(port)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        with Gnb(lab, UE, ul_teid=0x7001, dl_teid=0x8001, upf_n3_ip=N3_IP,
                 routes=["198.19.0.0/24", "198.18.50.0/24"]):
            out = run_client(lab, connect_msg(DN_IP, port), SIZE)
        srv_out, srv_err = srv.communicate(timeout=30)
    finally:
        if srv.poll() is None:
            srv.kill()
    diag = (f"{out}\n{b.cli('show', 'proxy', 'connection', '1')[1]}\n"
            f"{b.cli('show', 'tcp', 'connections')[1]}\n{b.cli('show', 'mptcp', 'connections')[1]}"
            f"{b.cli('show', 'drops')[1]}")
    assert out["data"][:8] == "01012263", diag  # the Convert reply first
    assert out["digest"] == out["up_sha"], diag  # every byte up arrived
    down = bytes((i * 13 + 1) & 0xff for i in range(SIZE))
    assert out["len"] == 4 + 64 + SIZE, diag
    assert out["tail_sha"] == hashlib.sha256(down).hexdigest(), diag
    # Address-preserving mode: the server saw the UE's address.
    assert srv_out.strip() == UE, srv_out + srv_err
    stats = b.cli_ok("show", "proxy", "stats")
    assert stat(stats, "established") == 1, stats
    assert stat(stats, "bytes_up") == SIZE and stat(stats, "bytes_down") == 64 + SIZE, stats
    # The proxied bytes are charged to the session's URR both ways (IP packets: headers too).
    report = b.cli_ok("session", "query", "31")
    m = re.search(r"ul (\d+) B / (\d+) pkts, dl (\d+) B / (\d+) pkts", report)
    assert m, report
    assert int(m.group(1)) > SIZE and int(m.group(3)) > 64 + SIZE, report
    b.stop()


def test_proxy_server_refuses(ue_lab, braid_factory):
    lab = ue_lab
    b = braid_factory(proxy_config(mptcp=True))
    with Gnb(lab, UE, ul_teid=0x7001, dl_teid=0x8001, upf_n3_ip=N3_IP,
             routes=["198.19.0.0/24", "198.18.50.0/24"]):
        out = run_client(lab, connect_msg(DN_IP, 7999), 0)  # nothing listens: RST
    # Error TLV Connection Reset (96), then FIN: the stream ends after it.
    assert out["data"] == "01022263" + "1e016000", out
    stats = b.cli_ok("show", "proxy", "stats")
    assert stat(stats, "server_reset") == 1, stats
    b.stop()


def test_proxy_refuses_a_session_without_mptcp(ue_lab, braid_factory):
    lab = ue_lab
    b = braid_factory(proxy_config(mptcp=False))
    with Gnb(lab, UE, ul_teid=0x7001, dl_teid=0x8001, upf_n3_ip=N3_IP,
             routes=["198.19.0.0/24", "198.18.50.0/24"]):
        out = run_client(lab, connect_msg(DN_IP, 7070), 0)
    assert out["data"] == "01022263" + "1e012000", out  # Not Authorized (32)
    stats = b.cli_ok("show", "proxy", "stats")
    assert stat(stats, "mptcp_not_enabled") == 1, stats
    b.stop()


def test_proxy_convert_error_paths(ue_lab, braid_factory):
    """RFC 8803 §6.2 error paths end to end (spec §1.6 order of checks), one UE connection
    each: every refusal is an Error TLV with its code followed by FIN, never a RST; a SYN whose
    data does not start with the Convert magic is not answered as a Convert message at all."""
    lab = ue_lab
    b = braid_factory(proxy_config(mptcp=True))
    connect = connect_msg(DN_IP, 7070)  # 6 words: header + Connect TLV (5 words)
    words = connect[1]
    cases = [
        # Version 2: Unsupported Version, value = the version braid speaks (1).
        ("bad_version", bytes([2]) + connect[1:], 0x00),
        # An unknown TLV type (0x63) after the Connect TLV: Unsupported Message.
        ("unsupported_tlv", bytes([1, words + 1]) + connect[2:] + bytes([0x63, 1, 0, 0]), 0x02),
        # The Connect TLV twice: Malformed Message.
        ("malformed_message", bytes([1, 2 * words - 1]) + connect[2:] + connect[4:], 0x01),
    ]
    with Gnb(lab, UE, ul_teid=0x7001, dl_teid=0x8001, upf_n3_ip=N3_IP,
             routes=["198.19.0.0/24", "198.18.50.0/24"]):
        replies = {name: run_client(lab, msg, 0) for name, msg, _ in cases}
        # Magic 0x2264: not Convert (spec §1.6 step 1), nothing is opened on N6.
        wrong_magic = run_client(lab, connect[:3] + b"\x64" + connect[4:], 0, timeout=3)
    stats = b.cli_ok("show", "proxy", "stats")
    for name, _, code in cases:
        out = replies[name]
        assert out["data"][:2] == "01" and out["data"][4:8] == "2263", (name, out)
        assert out["data"][8:10] == "1e", (name, out)  # Error TLV
        assert int(out["data"][12:14], 16) == code, (name, out)
        assert "recv_error" not in out, (name, out)  # FIN, not RST
        assert stat(stats, name) == 1, stats
    assert not wrong_magic["data"].startswith("01") or wrong_magic["data"][4:8] != "2263", \
        wrong_magic
    assert stat(stats, "not_convert") >= 1, stats
    assert stat(stats, "n6_opens") == 0, stats
    b.stop()


def test_proxy_reports_icmp_destination_unreachable(ue_lab, braid_factory):
    """RFC 8803 §6.2.5 Destination Unreachable carries the ICMP code: the DN answers braid's N6
    SYN with ICMP Administratively Prohibited (`ip route prohibit` on a forwarding host, code
    13, a soft error): braid keeps retrying until connect_timeout_ms, then replies with it."""
    lab = ue_lab
    cfg = proxy_config(mptcp=True)
    cfg["pfcp"]["mptcp_proxy"]["connect_timeout_ms"] = 2500
    b = braid_factory(cfg)
    forward = lab.ns(lab.dn, "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip()
    setup = (["sysctl", "-w", "net.ipv4.ip_forward=1"],
             ["ip", "route", "add", "prohibit", "198.18.77.0/24"])
    try:
        for cmd in setup:
            cp = lab.ns(lab.dn, *cmd)
            assert cp.returncode == 0, cp.stderr
        with Gnb(lab, UE, ul_teid=0x7001, dl_teid=0x8001, upf_n3_ip=N3_IP,
                 routes=["198.19.0.0/24", "198.18.50.0/24"]):
            start = time.monotonic()
            out = run_client(lab, connect_msg("198.18.77.7", 80), 0)
            waited = time.monotonic() - start
    finally:
        lab.ns(lab.dn, "ip", "route", "del", "prohibit", "198.18.77.0/24")
        lab.ns(lab.dn, "sysctl", "-w", f"net.ipv4.ip_forward={forward or '0'}")
    diag = f"{out}\n{b.cli('show', 'tcp', 'stats')[1]}\n{b.cli('show', 'drops')[1]}"
    # Error TLV Destination Unreachable (97 = 0x61) with the ICMP code 13, then FIN.
    assert out["data"] == "01022263" + "1e01610d", diag
    assert 2.0 < waited < 10, diag  # the soft error waited for the timeout
    stats = b.cli_ok("show", "proxy", "stats")
    assert stat(stats, "destination_unreachable") == 1, stats
    tcp_stats = b.cli_ok("show", "tcp", "stats")
    m = re.search(r"^\s*icmp_errors\s+(\d+)", tcp_stats, re.M)
    assert m and int(m.group(1)) >= 1, tcp_stats
    b.stop()


# A UE that opens a proxied connection, says hello, waits for the server's "ready", prints
# "connected", then waits for the end of the connection and prints how it ended.
HOLD_CLIENT = r"""
import json, socket, sys
msg = bytes.fromhex(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)  # IPPROTO_MPTCP
s.settimeout(20)
s.bind((sys.argv[2], 0))
s.sendto(msg, socket.MSG_FASTOPEN, (sys.argv[3], int(sys.argv[4])))
s.sendall(b"hello")
got = b""
while len(got) < 4 + 5:  # the Convert reply, then "ready"
    b = s.recv(64)
    if not b:
        break
    got += b
print("connected " + got.hex(), flush=True)
out = {}
try:
    b = s.recv(65536)
    out["end"] = "eof" if not b else "data"
except ConnectionResetError:
    out["end"] = "reset"
except OSError as e:
    out["end"] = "error: " + str(e)
print(json.dumps(out), flush=True)
"""

# The DN server: one connection; reads "hello", answers "ready", then reads until the end.
HOLD_SERVER = r"""
import json, socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2]))); l.listen(4); l.settimeout(30)
c, peer = l.accept(); c.settimeout(30)
first = b""
while len(first) < 5:
    b = c.recv(5 - len(first))
    if not b:
        break
    first += b
c.sendall(b"ready")
out = {"first": first.decode(errors="replace"), "extra": 0}
try:
    while True:
        b = c.recv(65536)
        if not b:
            out["end"] = "eof"
            break
        out["extra"] += len(b)
except ConnectionResetError:
    out["end"] = "reset"
except OSError as e:
    out["end"] = "error: " + str(e)
print(json.dumps(out), flush=True)
"""


def mptcp_counter(lab, name: str) -> int:
    """An MPTcpExt counter of the UE's namespace (/proc/net/netstat)."""
    cp = lab.ns(lab.gnb, "cat", "/proc/net/netstat")
    assert cp.returncode == 0, cp.stderr
    lines = cp.stdout.splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("MPTcpExt:"):
            return int(dict(zip(names.split()[1:], values.split()[1:])).get(name, 0))
    return 0


def read_line(proc, timeout: float) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline() if ready else ""


def until(pred, timeout=5.0, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class HeldConnection:
    """A proxied connection held open between a HOLD_CLIENT UE and a HOLD_SERVER."""

    def __init__(self, lab, port: int):
        self.lab, self.port = lab, port

    def __enter__(self):
        lab = self.lab
        self.srv = subprocess.Popen(["ip", "netns", "exec", lab.dn, PYTHON, "-c", HOLD_SERVER,
                                     DN_IP, str(self.port)], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        self.gnb = Gnb(lab, UE, ul_teid=0x7001, dl_teid=0x8001, upf_n3_ip=N3_IP,
                       routes=["198.19.0.0/24", "198.18.50.0/24"])
        self.gnb.__enter__()
        self.cli = subprocess.Popen(["ip", "netns", "exec", lab.gnb, PYTHON, "-c", HOLD_CLIENT,
                                     connect_msg(DN_IP, self.port).hex(), UE, PROXY,
                                     str(PROXY_PORT)], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        line = read_line(self.cli, 15)
        assert line.startswith("connected "), (
            line, self.cli.stderr.read() if self.cli.poll() is not None else "")
        assert line.split()[1] == "01012263" + b"ready".hex(), line
        return self

    def results(self, timeout=15):
        client = read_line(self.cli, timeout)
        srv_out, srv_err = self.srv.communicate(timeout=timeout)
        return (json.loads(client) if client else {"end": "none"},
                json.loads(srv_out.strip().splitlines()[-1]) if srv_out.strip() else
                {"end": "none: " + srv_err})

    def __exit__(self, *exc):
        for p in (self.cli, self.srv):
            if p.poll() is None:
                p.kill()
                p.wait()
        self.gnb.__exit__(*exc)


def test_proxy_mar_modification_changes_the_live_scheduler(ue_lab, braid_factory):
    lab = ue_lab
    b = braid_factory(proxy_config(mptcp=True))
    b.cli_ok("session", "set", "31", "mar", "active_standby")
    with HeldConnection(lab, 7071):
        out = b.cli_ok("show", "proxy", "connection", "1")
        assert "session seid 0x000000000000001f" in out, out
        assert "scheduler active_standby (from the MAR)" in out, out
        # Update MAR: Load Balancing 70 % on 3GPP, applied to the live connection.
        b.cli_ok("session", "set", "31", "mar", "load_balancing", "weight", "70")
        shown = until(lambda: (lambda o: o if "scheduler load_balancing" in o else "")(
            b.cli_ok("show", "proxy", "connection", "1")))
        assert "scheduler load_balancing (from the MAR) 3gpp weight 70" in shown, shown
        stats = b.cli_ok("show", "proxy", "stats")
        assert stat(stats, "scheduler_updates") == 1, stats
        assert "connection setup (UE SYN to UE SYN/ACK, the N6 handshake): 1 connections" \
            in stats, stats
        # Remove MAR: back to the default.
        b.cli_ok("session", "set", "31", "mar", "none")
        shown = until(lambda: (lambda o: o if "scheduler default" in o else "")(
            b.cli_ok("show", "proxy", "connection", "1")))
        assert "scheduler default" in shown, shown
        assert stat(b.cli_ok("show", "proxy", "stats"), "session_deleted") == 0
        m = b.metrics()
        assert m.value("braid_proxy_setup_seconds_count") == 1, m.text
        assert m.value("braid_proxy_setup_seconds_bucket", le="+Inf") == 1, m.text
        # "hello" from the UE, the Convert reply and "ready" to it, by the subflow's access.
        assert m.value("braid_mptcp_subflow_bytes_total", direction="received") >= 5, m.text
        assert m.value("braid_mptcp_subflow_bytes_total", direction="sent") >= 9, m.text
    b.stop()


def test_proxy_session_deletion_fastcloses_the_ue_and_fins_the_server(ue_lab, braid_factory):
    lab = ue_lab
    b = braid_factory(proxy_config(mptcp=True))
    before = mptcp_counter(lab, "MPFastcloseRx")
    with HeldConnection(lab, 7072) as held:
        b.cli_ok("session", "del", "31")
        client, server = held.results()
    diag = f"{client} {server}\n{b.cli('show', 'proxy', 'stats')[1]}\n{b.cli('show', 'drops')[1]}"
    assert client["end"] == "reset", diag  # MP_FASTCLOSE: the UE's socket is reset
    assert mptcp_counter(lab, "MPFastcloseRx") == before + 1, diag
    assert server["first"] == "hello" and server["end"] == "eof", diag  # FIN, not RST
    stats = b.cli_ok("show", "proxy", "stats")
    assert stat(stats, "session_deleted") == 1, stats
    assert until(lambda: "0 connections" in b.cli_ok("show", "proxy", "connections") or
                 len(b.cli_ok("show", "proxy", "connections").strip().splitlines()) == 1), \
        b.cli_ok("show", "proxy", "connections")
    # The MP_FASTCLOSE went through the session's last known tunnel (its rules were gone).
    tcp_stats = b.cli_ok("show", "tcp", "stats")
    m = re.search(r"^\s*farewell_frames\s+(\d+)", tcp_stats, re.M)
    assert m and int(m.group(1)) >= 1, tcp_stats
    b.stop()


# A UE whose SYN may go unanswered: gives up after 2 s, prints how the connect ended.
SHORT_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.settimeout(2)
s.bind((sys.argv[2], 0))
try:
    s.sendto(bytes.fromhex(sys.argv[1]), socket.MSG_FASTOPEN, (sys.argv[3], int(sys.argv[4])))
    print("reply " + s.recv(64).hex())
except OSError as e:
    print("failed " + type(e).__name__)
"""


@pytest.mark.parametrize("direction", ["ul", "dl"])
def test_proxy_traffic_passes_the_session_qer_gate(ue_lab, braid_factory, direction):
    """Uplink T-PDUs to the proxy are gated in proxy_input; the proxy's segments to the UE
    through pdr_dl → qer_meter, like any downlink packet."""
    lab = ue_lab
    b = braid_factory(proxy_config(mptcp=True))
    gates = {"ul": ("closed", "open"), "dl": ("open", "closed")}[direction]
    b.cli_ok("session", "set", "31", "gate", "ul", gates[0], "dl", gates[1])
    before = b.metrics().value("braid_drop_packets_total", reason="qer_gate_closed")
    srv = subprocess.Popen(["ip", "netns", "exec", lab.dn, PYTHON, "-c", SERVER, DN_IP, "0",
                            "7073"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        with Gnb(lab, UE, ul_teid=0x7001, dl_teid=0x8001, upf_n3_ip=N3_IP,
                 routes=["198.19.0.0/24", "198.18.50.0/24"]):
            cp = lab.ns(lab.gnb, PYTHON, "-c", SHORT_CLIENT, connect_msg(DN_IP, 7073).hex(), UE,
                        PROXY, str(PROXY_PORT), timeout=20)
    finally:
        srv.kill()
        srv.wait()
    assert cp.stdout.startswith("failed"), cp.stdout + cp.stderr  # no SYN/ACK reached the UE
    after = b.metrics().value("braid_drop_packets_total", reason="qer_gate_closed")
    assert after > before, (before, after)
    syns = stat(b.cli_ok("show", "proxy", "stats"), "syns")
    # Gate UL closed: the SYN never reached the proxy. Gate DL closed: it did, its answer is
    # what the gate dropped.
    assert (syns == 0) if direction == "ul" else (syns >= 1), syns
    b.stop()
