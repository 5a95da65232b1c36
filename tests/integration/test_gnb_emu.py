"""gnb_emu.py without braid: two emulators back to back in a throwaway namespace pair.

    NAMEg (gNB): eth0 198.18.200.2/24  <-veth->  NAMEu ("UPF"): eth0 198.18.200.1/24
    gNB emulator: UE 198.19.200.1 / 2001:db8:c8::1 on its tun, routes 198.19.201.0/24 and
                  2001:db8:c9::/64 through it; UL TEID 0x1001, DL TEID 0x2001, UL QFI 9.
    "UPF" emulator: the mirror image (198.19.201.1 / 2001:db8:c9::1 on its tun, TEIDs swapped,
                  DL PDU Session Containers with QFI 5): decapsulates what the gNB sends,
                  the kernel answers, and it re-encapsulates the answer towards the gNB.

So a ping, a UDP exchange or a TCP transfer from the UE address crosses two tuns and two
GTP-U encapsulations. The G-PDUs on the wire are captured on the "UPF" side and dissected with
scapy's GTP-U layer. The namespaces are created here with unique names and deleted by name.
"""

from __future__ import annotations

import itertools
import os
import struct
import subprocess
import time

import pytest

from conftest import PYTHON, Capture, run
from gnb import Gnb

GNB_N3, UPF_N3 = "198.18.200.2", "198.18.200.1"
UE4, UE6 = "198.19.200.1", "2001:db8:c8::1"
DN4, DN6 = "198.19.201.1", "2001:db8:c9::1"
UE_NET4, UE_NET6 = "198.19.200.0/24", "2001:db8:c8::/64"
DN_NET4, DN_NET6 = "198.19.201.0/24", "2001:db8:c9::/64"
UL_TEID, DL_TEID = 0x1001, 0x2001
UL_QFI, DL_QFI = 9, 5

_ids = itertools.count()

pytestmark = pytest.mark.timeout(60)


class Pair:
    """Two namespaces joined by a veth pair, no root-namespace interface."""

    def __init__(self, workdir):
        name = f"ge{os.getpid() % 10000:04d}{next(_ids)}"
        self.gnb, self.upf = f"{name}g", f"{name}u"
        self.workdir = workdir

    def up(self):
        self.down()
        try:
            for ns in (self.gnb, self.upf):
                run(["ip", "netns", "add", ns], check=True)
                run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
            run(["ip", "-n", self.gnb, "link", "add", "eth0", "type", "veth", "peer", "name",
                 "eth0", "netns", self.upf], check=True)
            for ns, addr in ((self.gnb, GNB_N3), (self.upf, UPF_N3)):
                run(["ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0"], check=True)
                run(["ip", "-n", ns, "link", "set", "eth0", "up"], check=True)
                run(["ip", "netns", "exec", ns, "ethtool", "-K", "eth0", "tx", "off", "tso",
                     "off", "gso", "off", "gro", "off"])
        except BaseException:
            self.down()
            raise
        return self

    def down(self):
        for ns in (self.gnb, self.upf):
            if os.path.exists(f"/run/netns/{ns}") or os.path.exists(f"/var/run/netns/{ns}"):
                run(["ip", "netns", "del", ns])

    def ns(self, ns, *cmd, timeout=15, check=False):
        return run(["ip", "netns", "exec", ns, *cmd], timeout=timeout, check=check)

    def py(self, ns, code, *args, timeout=15):
        cp = self.ns(ns, PYTHON, "-c", code, *args, timeout=timeout)
        assert cp.returncode == 0, f"{ns}: rc={cp.returncode}\n{cp.stdout}\n{cp.stderr}"
        return cp.stdout


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    p = Pair(tmp_path_factory.mktemp("gnb_emu"))
    p.up()
    try:
        yield p
    finally:
        p.down()


def gnb(pair, **kw):
    """The gNB emulator under test."""
    return Gnb(pair.gnb, UE4, UL_TEID, DL_TEID, UPF_N3, [DN_NET4, DN_NET6], qfi=UL_QFI,
               ue_ipv6=UE6, workdir=pair.workdir, tun="gtun0", **kw)


def upf(pair, **kw):
    """The mirror-image emulator that plays the UPF (and the DN hosts behind it)."""
    return Gnb(pair.upf, DN4, DL_TEID, UL_TEID, GNB_N3, [UE_NET4, UE_NET6], qfi=DL_QFI,
               ue_ipv6=DN6, pdu_type="dl", workdir=pair.workdir, tun="utun0", **kw)


def gtpu_packets(cap, dst):
    """(raw GTP-U bytes, scapy IP packet) of the captured UDP/2152 datagrams sent to dst."""
    import logging

    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    from scapy.all import IP, UDP  # noqa: PLC0415
    import scapy.contrib.gtp  # noqa: F401,PLC0415 (binds GTP-U to UDP port 2152)

    out = []
    for p in cap.packets():
        if IP in p and UDP in p and p[IP].dst == dst and p[UDP].dport == 2152:
            out.append((bytes(p[UDP].payload), p[IP]))
    return out


def check_gpdu(raw, ip, teid, pdu_type, qfi, ue_src=None, ext=True):
    """One captured G-PDU against scapy's GTP-U dissector and the expected bytes."""
    from scapy.contrib.gtp import GTP_U_Header, GTPPDUSessionContainer  # noqa: PLC0415
    from scapy.layers.inet import IP  # noqa: PLC0415
    from scapy.layers.inet6 import IPv6  # noqa: PLC0415

    g = ip[GTP_U_Header]
    assert (g.version, g.PT, g.E, g.S, g.PN) == (1, 1, int(ext), 0, 0), g.summary()
    assert g.gtp_type == 255 and g.teid == teid, g.summary()
    inner_len = len(raw) - (16 if ext else 8)
    assert g.length == len(raw) - 8
    assert len(ip) <= 1500, f"outer packet of {len(ip)} octets exceeds the link MTU"
    if ext:
        assert g.next_ex == 0x85, g.summary()
        c = g[GTPPDUSessionContainer]
        assert (c.ExtHdrLen, c.type, c.QFI, c.NextExtHdr) == (1, pdu_type, qfi, 0), c.summary()
        assert raw[:16] == struct.pack("!BBHIHBBBBBB", 0x34, 0xFF, inner_len + 8, teid, 0, 0,
                                       0x85, 1, pdu_type << 4, qfi, 0)
    else:
        assert GTPPDUSessionContainer not in g
        assert raw[:8] == struct.pack("!BBHI", 0x30, 0xFF, inner_len, teid)
    inner = raw[16 if ext else 8:]
    if ue_src is not None:
        inner_pkt = IP(inner) if inner[0] >> 4 == 4 else IPv6(inner)
        assert inner_pkt.src == ue_src, inner_pkt.summary()


UDP_ECHO_SERVER = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 7777))
s.settimeout(8)
print("listening", flush=True)
for _ in range(int(sys.argv[2])):
    data, peer = s.recvfrom(65535)
    s.sendto(data[::-1], peer)
"""

UDP_ECHO_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect((sys.argv[1], 7777))
for size in (1, 100, 1400):
    msg = bytes(range(256)) * (size // 256) + bytes(size % 256)
    s.send(msg)
    data, peer = s.recvfrom(65535)
    assert data == msg[::-1], (size, len(data))
    print("udp", size, peer[0], s.getsockname()[0])
"""

TCP_SINK = r"""
import hashlib, socket, sys
srv = socket.create_server((sys.argv[1], 5001), family=socket.AF_INET6 if ":" in sys.argv[1]
                           else socket.AF_INET)
srv.settimeout(10)
print("listening", flush=True)
c, peer = srv.accept()
c.settimeout(10)
h = hashlib.sha256()
n = 0
while True:
    b = c.recv(65536)
    if not b:
        break
    h.update(b)
    n += len(b)
c.sendall(f"{n} {h.hexdigest()} {peer[0]}".encode())
c.close()
"""

TCP_SOURCE = r"""
import hashlib, socket, sys
data = hashlib.sha256(b"braid").digest() * (int(sys.argv[2]) // 32)
c = socket.create_connection((sys.argv[1], 5001), timeout=10)
c.sendall(data)
c.shutdown(socket.SHUT_WR)
reply = b""
while True:
    b = c.recv(4096)
    if not b:
        break
    reply += b
n, digest, peer = reply.decode().split()
assert int(n) == len(data) and digest == hashlib.sha256(data).hexdigest(), reply
print("tcp", n, peer)
"""


def start_server(pair, ns, code, *args):
    """Run a server snippet in `ns` and wait for its 'listening' line."""
    p = subprocess.Popen(["ip", "netns", "exec", ns, PYTHON, "-c", code, *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if "listening" not in line:
        p.kill()
        out, err = p.communicate(timeout=5)
        pytest.fail(f"server did not start: {line}{out}{err}")
    return p


def finish_server(p, timeout=15):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()  # by PID
        out, err = p.communicate(timeout=5)
        pytest.fail(f"server did not finish: {out}{err}")
    assert p.returncode == 0, f"server failed: {out}{err}"
    return out


# ------------------------------------------------------------------------------------- tests


def test_ping_udp_tcp_round_trip_and_gpdu_bytes(pair):
    cap = Capture(pair.upf, pair.workdir / "n3.pcap", bpf="udp port 2152")
    with cap, upf(pair) as u, gnb(pair) as g:
        s = g.stats()
        assert s["mtu"] == 1456 and s["ext"] is True and s["tun"] == "gtun0", s
        mtu = run(["ip", "-n", pair.gnb, "-o", "link", "show", "dev", "gtun0"], check=True)
        assert "mtu 1456" in mtu.stdout, mtu.stdout

        cp = pair.ns(pair.gnb, "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", DN4)
        assert cp.returncode == 0 and "3 received" in cp.stdout, cp.stdout + cp.stderr
        cp = pair.ns(pair.gnb, "ping", "-6", "-n", "-c", "2", "-i", "0.2", "-W", "2", DN6)
        assert cp.returncode == 0 and "2 received" in cp.stdout, cp.stdout + cp.stderr

        server = start_server(pair, pair.upf, UDP_ECHO_SERVER, DN4, "3")
        out = pair.py(pair.gnb, UDP_ECHO_CLIENT, DN4)
        finish_server(server)
        assert out.split("\n")[:3] == [f"udp {n} {DN4} {UE4}" for n in (1, 100, 1400)], out

        # TCP both ways through both tuns: full-size segments must fit (tun MTU 1456).
        for dst in (DN4, DN6):
            server = start_server(pair, pair.upf, TCP_SINK, dst)
            out = pair.py(pair.gnb, TCP_SOURCE, dst, str(200 * 1024))
            finish_server(server)
            assert out.startswith(f"tcp {200 * 1024} {UE4 if dst == DN4 else UE6}"), out

        s = g.stats()
        assert s["dl_unknown_teid"] == 0 and s["dl_malformed"] == 0, s
        assert s["ul_dropped_no_tunnel"] == 0 and s["ul_send_errors"] == 0, s
        assert s["ul_packets"] >= 3 + 2 + 3 + 2 * 100, s
        assert s["dl_packets"] >= 3 + 2 + 3, s
        # Every downlink G-PDU carried the "UPF"'s DL container with QFI 5.
        assert s["dl_qfi"] == {str(DL_QFI): s["dl_packets"]}, s
        assert s["dl_pdu_type"] == {"0": s["dl_packets"]}, s
        assert s["dl_no_container"] == 0 and s["rx_messages"] == {}, s
        us = u.stats()
        assert us["dl_qfi"] == {str(UL_QFI): us["dl_packets"]}, us  # what the gNB sent
        assert us["dl_pdu_type"] == {"1": us["dl_packets"]}, us
        assert us["dl_packets"] == s["ul_packets"], (us, s)
    assert g.final_stats["exit_reason"] == "sigterm" and g.returncode == 0
    assert u.returncode == 0

    pkts = gtpu_packets(cap, UPF_N3)
    assert len(pkts) == g.final_stats["ul_packets"], len(pkts)
    for raw, ip in pkts:
        assert ip.src == GNB_N3
        check_gpdu(raw, ip, UL_TEID, 1, UL_QFI)
    pings = [(r, ip) for r, ip in pkts if r[16] >> 4 == 4 and r[16 + 9] == 1]
    assert len(pings) == 3
    for raw, ip in pings:
        check_gpdu(raw, ip, UL_TEID, 1, UL_QFI, ue_src=UE4)
    assert max(len(ip) for _, ip in pkts) == 1500, "no full-size TCP segment seen"
    for raw, ip in gtpu_packets(cap, GNB_N3):
        check_gpdu(raw, ip, DL_TEID, 0, DL_QFI)


def test_no_ext_plain_header(pair):
    cap = Capture(pair.upf, pair.workdir / "noext.pcap", bpf="udp port 2152")
    with cap, upf(pair, no_ext=True) as u, gnb(pair, no_ext=True) as g:
        assert g.stats()["mtu"] == 1464
        cp = pair.ns(pair.gnb, "ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", DN4)
        assert cp.returncode == 0 and "2 received" in cp.stdout, cp.stdout + cp.stderr
        s = g.stats()
        assert s["dl_packets"] == 2 and s["dl_no_container"] == 2 and s["dl_qfi"] == {}, s
    pkts = gtpu_packets(cap, UPF_N3)
    assert len(pkts) == 2
    for raw, ip in pkts:
        check_gpdu(raw, ip, UL_TEID, 1, UL_QFI, ue_src=UE4, ext=False)
    assert u.final_stats["dl_no_container"] == 2


PEER_SENDS = r"""
import socket, struct, sys
gnb = (sys.argv[1], 2152)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 40000))
s.settimeout(3)
def msg(flags, mtype, teid, rest):
    return struct.pack("!BBHI", flags, mtype, len(rest), teid) + rest
# Echo Request, seq 0x1234: the emulator answers.
s.sendto(msg(0x32, 1, 0, struct.pack("!HBB", 0x1234, 0, 0)), gnb)
data, peer = s.recvfrom(2048)
print("echo", peer[1], data.hex())
# Error Indication with a UDP Port extension header: TEID Data I 0x1001, peer 198.18.200.1.
s.sendto(msg(0x36, 26, 0, struct.pack("!HBB", 7, 0, 0x40) + bytes.fromhex("019c4000")
             + bytes.fromhex("10 00001001 85 0004 c612c801".replace(" ", ""))), gnb)
# End Marker for the DL TEID.
s.sendto(msg(0x30, 254, 0x2001, b""), gnb)
# G-PDU with E, S and PN set, a chain of two extension headers (Service Class Indicator 0x20,
# then a DL PDU Session Container with RQI and QFI 7) and an inner packet for the UE.
inner = bytes.fromhex("4500001c000100004001" + "0000" + "c612c801" + "c613c801"
                      + "0800f7ff00000000")
chain = bytes.fromhex("01 07 00 85".replace(" ", "")) + bytes.fromhex("01 00 47 00".replace(" ", ""))
s.sendto(msg(0x37, 255, 0x2001, struct.pack("!HBB", 9, 3, 0x20) + chain + inner), gnb)
# An unknown TEID and a malformed message.
s.sendto(msg(0x30, 255, 0xabcdef, inner), gnb)
s.sendto(b"\x30\xff\x00", gnb)
print("sent")
"""


def test_non_gpdu_messages_and_dl_parsing(pair):
    with gnb(pair) as g:
        out = pair.py(pair.upf, PEER_SENDS, GNB_N3)
        assert out.split("\n")[0] == "echo 2152 32020006000000001234" + "00000e00", out
        s = g.wait_for(lambda s: s["dl_malformed"] >= 1)
    s = g.final_stats
    assert s["rx_messages"] == {"echo_request": 1, "error_indication": 1, "end_marker": 1}, s
    assert s["echo_responses_sent"] == 1
    ei = g.messages("error_indication")[0]
    assert ei["ies"] == {"teid_data_i": UL_TEID, "peer_address": "198.18.200.1"}, ei
    assert ei["udp_port"] == 40000 and ei["seq"] == 7 and ei["from"] == UPF_N3, ei
    em = g.messages("end_marker")[0]
    assert em["teid"] == DL_TEID and em["ies"] == {}, em
    assert g.messages("echo_request")[0]["seq"] == 0x1234
    # The G-PDU with optional fields and an extension header chain reached the tun.
    assert s["dl_packets"] == 1 and s["dl_qfi"] == {"7": 1}, s
    assert s["tunnels"][0]["dl_packets"] == 1 and s["tunnels"][0]["dl_bytes"] == 28, s
    assert s["dl_unknown_teid"] == 1 and s["dl_unknown_teids"] == {str(0xABCDEF): 1}, s
    assert s["dl_malformed"] == 1 and s["dl_malformed_reasons"] == {"too_short": 1}, s
    assert s["rx_datagrams"] == 6 and s["rx_other_peer"] == 0, s  # all from the UPF address


def test_multiple_tunnels_and_max_seconds(pair):
    # A second UE in the same emulator, mirrored by a second tunnel in the "UPF" emulator.
    extra_gnb = [{"ue4": "198.19.200.2", "ul": 0x1002, "dl": 0x2002, "qfi": 3}]
    extra_upf = [{"ue4": "198.19.201.2", "ul": 0x2002, "dl": 0x1002, "qfi": 6}]
    with upf(pair, extra_tunnels=extra_upf) as u:
        g = Gnb(pair.gnb, UE4, UL_TEID, DL_TEID, UPF_N3, [DN_NET4], qfi=UL_QFI,
                extra_tunnels=extra_gnb, workdir=pair.workdir, tun="gtun1", max_seconds=3)
        t0 = time.monotonic()
        g.start()
        try:
            for src, dst in ((UE4, DN4), ("198.19.200.2", "198.19.201.2")):
                cp = pair.ns(pair.gnb, "ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", "-I",
                             src, dst)
                assert cp.returncode == 0 and "2 received" in cp.stdout, cp.stdout + cp.stderr
            s = g.stats()
            t = s["tunnels"]
            assert [x["ul_packets"] for x in t] == [2, 2] and [x["dl_packets"] for x in t] == [2, 2]
            assert (t[0]["dl_qfi"], t[1]["dl_qfi"]) == ({"5": 2}, {"6": 2}), t
            assert [x["dl_qfi"] for x in u.stats()["tunnels"]] == [{"9": 2}, {"3": 2}]
            # --max-seconds ends the emulator on its own, cleanly.
            g.proc.wait(timeout=10)
        finally:
            final = g.stop()
        assert time.monotonic() - t0 >= 2.5
        assert g.returncode == 0 and final["exit_reason"] == "max_seconds", final
