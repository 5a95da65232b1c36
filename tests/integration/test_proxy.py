"""The ATSSS MPTCP proxy end to end (issue 7, RFC 8803).

A static session with `mptcp: true` (no PFCP: simpler, and the same session action functions);
the UE in the gnb namespace, behind gnb_emu's tun, opens a Linux MPTCP socket (IPPROTO_MPTCP)
to the proxy address with a Convert Connect TLV as TCP Fast Open data (MSG_FASTOPEN, no cookie:
net.ipv4.tcp_fastopen=5 in the namespace); braid answers only after the DN server's SYN/ACK,
connects from the UE's address (address-preserving mode) and relays. Bytes both ways are
checked by SHA-256. Errors: a destination that refuses (RST → Error TLV Connection Reset, then
FIN) and a session without MPTCP (Not Authorized). Each test is bounded (timeouts, 1 MiB).
"""

from __future__ import annotations

import hashlib
import re
import socket
import struct
import subprocess
import time

import pytest

from conftest import DN_IP, GNB_IP, N3_IP, PYTHON
from gnb import Gnb

UE = "198.19.100.5"
PROXY = "198.18.50.1"
PROXY_PORT = 5124
SIZE = 1 << 20


def connect_msg(dst: str, port: int) -> bytes:
    """Convert header + Connect TLV (RFC 8803 §6.1, §6.2.5): 24 bytes, 6 words."""
    addr = b"\x00" * 10 + b"\xff\xff" + socket.inet_aton(dst)
    tlv = bytes([10, 5]) + struct.pack("!H", port) + addr
    return bytes([1, 1 + len(tlv) // 4, 0x22, 0x63]) + tlv


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


# The UE: MPTCP socket, Convert message as SYN data, then `SIZE` bytes up, half-close, and
# everything the server sends back. Prints JSON.
CLIENT = r"""
import hashlib, json, socket, sys
msg = bytes.fromhex(sys.argv[1]); size = int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)  # IPPROTO_MPTCP
s.settimeout(20)
s.bind((sys.argv[3], 0))
s.sendto(msg, socket.MSG_FASTOPEN, (sys.argv[4], int(sys.argv[5])))
up = bytes((i * 7 + 3) & 0xff for i in range(size))
out = {"up_sha": hashlib.sha256(up).hexdigest()}
try:
    s.sendall(up)
    s.shutdown(socket.SHUT_WR)
except OSError as e:
    out["send_error"] = str(e)
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
except OSError as e:
    out["recv_error"] = str(e)
out["data"] = data[:64].hex()
out["len"] = len(data)
out["tail_sha"] = hashlib.sha256(data[4 + 64:]).hexdigest() if len(data) > 68 else ""
out["digest"] = data[4:68].decode(errors="replace") if len(data) >= 68 else ""
print(json.dumps(out))
"""

# The DN server: one connection; reads to EOF, answers the SHA-256 of what it read (64 hex
# bytes) and `size` bytes of its own pattern, then closes.
SERVER = r"""
import hashlib, socket, sys
size = int(sys.argv[2])
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[3]))); l.listen(4); l.settimeout(30)
c, peer = l.accept(); c.settimeout(20)
h = hashlib.sha256()
while True:
    b = c.recv(65536)
    if not b:
        break
    h.update(b)
c.sendall(h.hexdigest().encode())
c.sendall(bytes((i * 13 + 1) & 0xff for i in range(size)))
c.close()
print(peer[0])
"""


def stat(text: str, name: str) -> int:
    """The count on the `name` line of show proxy stats (the first such line)."""
    for line in text.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == name:
            return int(words[1])
    raise AssertionError(f"no {name} in\n{text}")


def run_client(lab, msg: bytes, size: int):
    cp = lab.ns(lab.gnb, PYTHON, "-c", CLIENT, msg.hex(), str(size), UE, PROXY,
                str(PROXY_PORT), timeout=60)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    import json
    return json.loads(cp.stdout.strip().splitlines()[-1])


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
