"""The plain UPF datapath end to end: a userspace gNB (gnb_emu.py) in the gNB namespace carries
the Linux kernel's own traffic from a UE address over GTP-U to braid, braid forwards it to the DN
namespace and back (TS 29.281, TS 29.244 PDR/FAR/QER/URR/BAR). Sessions come from the CLI, which
uses the same session action functions as PFCP."""

from __future__ import annotations

import re
import time

import pytest

from conftest import BRAID_CLI, DN_IP, DN_IP6, GNB_IP, N3_IP, PYTHON
from gnb import Gnb

UE = "198.19.100.1"
UE6 = "2001:db8:100:1::1"
SEID, UL_TEID, DL_TEID = 7, 0x1001, 0x2001


def drops(braid, reason):
    return braid.metrics().value("braid_drop_packets_total", reason=reason)


def wait_until(pred, timeout=5.0, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


@pytest.fixture(scope="module")
def session(braid):
    braid.cli_ok("session", "add", str(SEID), "teid", str(UL_TEID), "ue", UE, "gnb", GNB_IP,
                 "gnb-teid", str(DL_TEID))
    braid.cli_ok("session", "set", str(SEID), "qfi", "9")
    braid.cli_ok("session", "set", str(SEID), "ue6", "2001:db8:100:1::/64")
    return SEID


@pytest.fixture
def gnb(lab, session):
    with Gnb(lab, UE, ul_teid=UL_TEID, dl_teid=DL_TEID, upf_n3_ip=N3_IP,
             routes=["198.19.0.0/24", "2001:db8:6::/64"], qfi=9, ue_ipv6=UE6) as g:
        yield g


# DN side helpers: a UDP sender and a TCP server in the DN namespace.
UDP_BLAST = r"""
import socket, sys, time
dst, port, rate_bps, seconds, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
payload = b"x" * size
interval = size * 8 / rate_bps
start = time.monotonic(); n = 0
while True:
    now = time.monotonic()
    if now - start >= seconds:
        break
    target = start + n * interval
    if now < target:
        time.sleep(target - now)
    s.sendto(payload, (dst, port)); n += 1
print(n)
"""

UDP_COUNT = r"""
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(float(sys.argv[3]))
first = last = None; n = 0; nbytes = 0
try:
    while True:
        d = s.recv(65535)
        t = time.monotonic()
        first = first or t; last = t; n += 1; nbytes += len(d)
except socket.timeout:
    pass
print(n, nbytes, (last - first) if first else 0)
"""


def test_uplink_and_downlink_ping_through_braid(lab, braid, gnb, alive):
    before = gnb.stats()["dl_packets"]
    cp = lab.ping(lab.gnb, DN_IP, count=3, extra=("-I", UE))
    assert cp.returncode == 0, cp.stdout + cp.stderr
    s = gnb.stats()
    assert s["dl_packets"] - before >= 3
    # The downlink PDU Session Container carries QER 1's QFI (TS 38.415 §5.5.2.1).
    assert s["dl_qfi"].get("9", 0) >= 3, s["dl_qfi"]
    out = braid.cli_ok("show", "session", str(SEID))
    ul = int(re.search(r"ul (\d+) B / (\d+) pkts", out).group(2))
    dl = int(re.search(r"dl (\d+) B / (\d+) pkts", out).group(2))
    assert ul >= 3 and dl >= 3, out


def test_ipv6_ue_traffic(lab, braid, gnb, alive):
    cp = lab.ping(lab.gnb, DN_IP6, count=3, extra=("-6", "-I", UE6))
    assert cp.returncode == 0, cp.stdout + cp.stderr + braid.cli("show", "drops")[1]


def test_tcp_transfer_is_exact(lab, braid, gnb, alive):
    # 2 MB from the DN to the UE and its SHA-256 back over the same connection.
    server = lab.workdir / "tcp_server.py"
    server.write_text(
        "import socket, hashlib, os\n"
        "data = os.urandom(2_000_000)\n"
        "ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        f"ls.bind(('{DN_IP}', 5201)); ls.listen(1); ls.settimeout(20)\n"
        "c, _ = ls.accept(); c.sendall(data); c.shutdown(socket.SHUT_WR)\n"
        "print(hashlib.sha256(data).hexdigest(), c.recv(100).decode())\n")
    import subprocess
    srv = subprocess.Popen(["ip", "netns", "exec", lab.dn, PYTHON, str(server)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        client = (
            "import socket, hashlib\n"
            f"s = socket.create_connection(('{DN_IP}', 5201), timeout=20, source_address=('{UE}', 0))\n"
            "h = hashlib.sha256(); n = 0\n"
            "while True:\n"
            "    d = s.recv(65536)\n"
            "    if not d: break\n"
            "    h.update(d); n += len(d)\n"
            "s.sendall(h.hexdigest().encode()); s.close(); print(n, h.hexdigest())\n")
        cp = lab.py(lab.gnb, client, timeout=40)
        out, err = srv.communicate(timeout=30)
    finally:
        if srv.poll() is None:
            srv.kill()
    n, digest = cp.stdout.split()
    assert int(n) == 2_000_000
    sent_digest, echoed = out.split()
    assert digest == sent_digest == echoed


def test_unknown_teid_gets_error_indication(lab, braid, session, alive):
    before = braid.metrics().value("braid_gtpu_error_indications_sent_total")
    with Gnb(lab, "198.19.100.9", ul_teid=0x0bad, dl_teid=0x0bae, upf_n3_ip=N3_IP,
             routes=["198.19.0.0/24"], qfi=9) as g:
        lab.ping(lab.gnb, DN_IP, count=1, extra=("-I", "198.19.100.9"))
        msgs = g.wait_for(lambda s: s["rx_messages"].get("error_indication", 0) >= 1)
    ei = [m for m in g.final_stats["messages"] if m["name"] == "error_indication"][0]
    assert ei["from"] == N3_IP and ei["teid"] == 0
    assert ei["ies"]["teid_data_i"] == 0x0bad
    assert ei["ies"]["peer_address"] == N3_IP
    assert braid.metrics().value("braid_gtpu_error_indications_sent_total") == before + 1
    del msgs


def test_received_error_indication_is_reported(lab, braid, session, alive):
    # The gNB says it does not know the session's downlink TEID (TS 29.281 §7.3.1).
    import struct
    ies = struct.pack("!BI", 16, DL_TEID) + struct.pack("!BH4B", 133, 4, *map(int, GNB_IP.split(".")))
    msg = struct.pack("!BBHIHBB", 0x32, 26, 4 + len(ies), 0, 0, 0, 0) + ies
    code = ("import socket\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            f"s.sendto(bytes.fromhex('{msg.hex()}'), ('{N3_IP}', 2152))\n")
    lab.py(lab.gnb, code)
    out = wait_until(lambda: "error indication: session 7" in braid.cli_ok("show", "session",
                                                                               "reports"))
    assert out, braid.cli_ok("show", "session", "reports")


def test_end_marker_on_tunnel_change(lab, braid, gnb, alive):
    # Handover within the same gNB address: new TEID, End Marker on the old tunnel (SNDEM).
    braid.cli_ok("session", "set", str(SEID), "gnb", GNB_IP, "gnb-teid", str(DL_TEID + 1),
                 "end-marker")
    try:
        s = gnb.wait_for(lambda s: s["rx_messages"].get("end_marker", 0) >= 1)
        em = [m for m in s["messages"] if m["name"] == "end_marker"][0]
        assert em["teid"] == DL_TEID and em["from"] == N3_IP
    finally:
        braid.cli_ok("session", "set", str(SEID), "gnb", GNB_IP, "gnb-teid", str(DL_TEID))
    # Without the flag, no End Marker.
    n = gnb.stats()["rx_messages"].get("end_marker", 0)
    braid.cli_ok("session", "set", str(SEID), "gnb", GNB_IP, "gnb-teid", str(DL_TEID))
    time.sleep(0.3)
    assert gnb.stats()["rx_messages"].get("end_marker", 0) == n


def test_gate_closed_drops_and_counts(lab, braid, gnb, alive):
    before = drops(braid, "qer_gate_closed")
    braid.cli_ok("session", "set", str(SEID), "gate", "ul", "closed", "dl", "open")
    try:
        cp = lab.ping(lab.gnb, DN_IP, count=2, extra=("-I", UE))
        assert cp.returncode != 0
        assert drops(braid, "qer_gate_closed") >= before + 2
    finally:
        braid.cli_ok("session", "set", str(SEID), "gate", "ul", "open", "dl", "open")
    assert lab.ping(lab.gnb, DN_IP, count=1, extra=("-I", UE)).returncode == 0


def test_downlink_buffering_and_release_in_order(lab, braid, gnb, alive):
    braid.cli_ok("session", "set", str(SEID), "buffer-packets", "3")
    braid.cli_ok("session", "set", str(SEID), "dl-action", "buffer-notify")
    recv = ("import socket\n"
            f"s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('{UE}', 6000))\n"
            "s.settimeout(4); got = []\n"
            "try:\n"
            "    while len(got) < 10: got.append(s.recv(100).decode())\n"
            "except socket.timeout: pass\n"
            "print(' '.join(got))\n")
    import subprocess
    rx = subprocess.Popen(["ip", "netns", "exec", lab.gnb, PYTHON, "-c", recv],
                          stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)
        send = ("import socket, time\n"
                "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                "for i in range(5):\n"
                f"    s.sendto(str(i).encode(), ('{UE}', 6000)); time.sleep(0.02)\n")
        lab.py(lab.dn, send)
        assert wait_until(lambda: "5 downlink packets buffered" in braid.cli_ok(
            "show", "session", str(SEID)) or "3 downlink packets buffered" in braid.cli_ok(
            "show", "session", str(SEID)))
        out = braid.cli_ok("show", "session", str(SEID))
        assert "3 downlink packets buffered" in out, out
        reports = braid.cli_ok("show", "session", "reports")
        assert f"downlink data: session {SEID} pdr 2" in reports, reports
        braid.cli_ok("session", "set", str(SEID), "dl-action", "forward")
        got, _ = rx.communicate(timeout=10)
    finally:
        if rx.poll() is None:
            rx.kill()
        braid.cli_ok("session", "set", str(SEID), "dl-action", "forward")
    # The bound is 3: the two oldest were dropped, the rest arrive in order.
    assert got.split() == ["2", "3", "4"], got


def test_sdf_filter_selects_downlink_traffic(lab, braid, gnb, alive):
    braid.cli_ok("session", "set", str(SEID), "sdf", "2", "permit", "out", "17", "from", "any",
                 "to", "assigned", "7000")
    try:
        before = drops(braid, "pdr_no_match")
        recv = ("import socket\n"
                f"a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind(('{UE}', 7000))\n"
                f"b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.bind(('{UE}', 7001))\n"
                "a.settimeout(2); b.settimeout(0.5)\n"
                "r = [a.recv(10).decode()]\n"
                "try: r.append(b.recv(10).decode())\n"
                "except socket.timeout: r.append('none')\n"
                "print(*r)\n")
        import subprocess
        rx = subprocess.Popen(["ip", "netns", "exec", lab.gnb, PYTHON, "-c", recv],
                              stdout=subprocess.PIPE, text=True)
        time.sleep(0.3)
        lab.py(lab.dn, "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                       f"s.sendto(b'ok', ('{UE}', 7000)); s.sendto(b'no', ('{UE}', 7001))\n")
        out, _ = rx.communicate(timeout=10)
        assert out.split() == ["ok", "none"], out
        assert drops(braid, "pdr_no_match") >= before + 1
    finally:
        braid.cli_ok("session", "del", str(SEID))
        braid.cli_ok("session", "add", str(SEID), "teid", str(UL_TEID), "ue", UE, "gnb", GNB_IP,
                     "gnb-teid", str(DL_TEID))
        braid.cli_ok("session", "set", str(SEID), "qfi", "9")
        braid.cli_ok("session", "set", str(SEID), "ue6", "2001:db8:100:1::/64")


def test_volume_threshold_report_within_one_second(lab, braid, gnb, alive):
    braid.cli_ok("session", "set", str(SEID), "urr", "volume", "20000", "time", "0", "period", "0")
    before = braid.cli_ok("show", "session", "reports").count("trigger volume_threshold")
    lab.py(lab.dn, "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                   f"[s.sendto(b'v' * 1000, ('{UE}', 9)) for _ in range(25)]\n")
    sent = time.monotonic()
    ok = wait_until(lambda: braid.cli_ok("show", "session", "reports").count(
        "trigger volume_threshold") > before, timeout=3)
    elapsed = time.monotonic() - sent
    assert ok and elapsed < 1.0, f"report after {elapsed:.2f} s"
    braid.cli_ok("session", "set", str(SEID), "urr", "volume", "0", "time", "0", "period", "0")


def test_periodic_reports(lab, braid, gnb, alive):
    braid.cli_ok("session", "set", str(SEID), "urr", "volume", "0", "time", "0", "period", "1")
    before = braid.cli_ok("show", "session", "reports").count("trigger periodic")
    time.sleep(2.5)
    n = braid.cli_ok("show", "session", "reports").count("trigger periodic") - before
    braid.cli_ok("session", "set", str(SEID), "urr", "volume", "0", "time", "0", "period", "0")
    assert 2 <= n <= 3, n


def test_mbr_polices_a_udp_flow_within_5_percent(lab, braid, gnb, alive):
    mbr_kbps = 4000
    braid.cli_ok("session", "set", str(SEID), "mbr", "0", str(mbr_kbps))
    try:
        import subprocess
        rx = subprocess.Popen(["ip", "netns", "exec", lab.gnb, PYTHON, "-c", UDP_COUNT, UE,
                               "7100", "2"], stdout=subprocess.PIPE, text=True)
        time.sleep(0.3)
        # Twice the MBR for 10 s; 1172-octet datagrams = 1200-octet IP packets.
        cp = lab.ns(lab.dn, PYTHON, "-c", UDP_BLAST, UE, "7100", str(2 * mbr_kbps * 1000),
                    "10", "1172", timeout=30)
        assert cp.returncode == 0, cp.stderr
        out, _ = rx.communicate(timeout=20)
        n, nbytes, span = out.split()
        ip_bits = int(n) * 1200 * 8
        rate = ip_bits / float(span) / 1000
        assert abs(rate - mbr_kbps) / mbr_kbps < 0.05, f"measured {rate:.0f} kbit/s"
        assert drops(braid, "qer_mbr_exceeded") > 0
    finally:
        braid.cli_ok("session", "set", str(SEID), "mbr", "0", "0")


def test_show_commands_find_sessions_and_rules(braid, session, alive):
    by_seid = braid.cli_ok("show", "session", str(SEID))
    assert braid.cli_ok("show", "session", "teid", str(UL_TEID)) == by_seid
    assert braid.cli_ok("show", "session", "ue", UE) == by_seid
    assert braid.cli_ok("show", "session", "ue", "2001:db8:100:1::77") == by_seid  # the /64
    assert "error: no session for uplink TEID 4242" in braid.cli("show", "session", "teid",
                                                                  "4242")[1]
    assert "error: no session for UE address 198.19.200.1" in braid.cli("show", "session", "ue",
                                                                         "198.19.200.1")[1]
    pdr = braid.cli_ok("show", "pdr", str(SEID), "1")
    assert f"local F-TEID {UL_TEID}" in pdr and "outer header removal GTP-U/UDP/IPv4" in pdr, pdr
    far = braid.cli_ok("show", "far", str(SEID), "2")
    assert f"TEID {DL_TEID}" in far and f"peer {GNB_IP}" in far and "FORW" in far, far
    qer = braid.cli_ok("show", "qer", str(SEID), "1")
    assert "gate ul open, dl open" in qer and "qfi 9" in qer, qer
    urr = braid.cli_ok("show", "urr", str(SEID), "1")
    assert "since the last report: uplink" in urr, urr
    assert "has no far 99" in braid.cli("show", "far", str(SEID), "99")[1]


def _usage(report_text):
    """(ul bytes, ul packets, dl bytes, dl packets) summed over the usage reports printed."""
    tot = [0, 0, 0, 0]
    for m in re.finditer(r"ul (\d+) B / (\d+) pkts, dl (\d+) B / (\d+) pkts", report_text):
        for i in range(4):
            tot[i] += int(m.group(i + 1))
    return tot


def test_urr_volume_is_exact_to_the_byte(lab, braid, gnb, alive):
    import subprocess
    braid.cli_ok("session", "query", str(SEID))  # start a fresh measurement
    dl_rx = subprocess.Popen(["ip", "netns", "exec", lab.gnb, PYTHON, "-c", UDP_COUNT, UE, "7200",
                              "1.5"], stdout=subprocess.PIPE, text=True)
    ul_rx = subprocess.Popen(["ip", "netns", "exec", lab.dn, PYTHON, "-c", UDP_COUNT, DN_IP,
                              "7201", "1.5"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    dl_sizes = [1 + 35 * i for i in range(40)]  # 1 .. 1366 octets: fit N3 once encapsulated
    ul_sizes = [3 + 41 * i for i in range(30)]
    lab.py(lab.dn, "import socket, time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                   f"for n in {dl_sizes}:\n    s.sendto(b'd' * n, ('{UE}', 7200)); time.sleep(0.002)\n")
    lab.py(lab.gnb, "import socket, time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                    f"s.bind(('{UE}', 0))\n"
                    f"for n in {ul_sizes}:\n    s.sendto(b'u' * n, ('{DN_IP}', 7201)); time.sleep(0.002)\n")
    dl_n, dl_bytes, _ = dl_rx.communicate(timeout=20)[0].split()
    ul_n, ul_bytes, _ = ul_rx.communicate(timeout=20)[0].split()
    # What the hosts received, as IP packets (20 + 8 octets of headers per datagram).
    assert (int(dl_n), int(ul_n)) == (len(dl_sizes), len(ul_sizes))
    dl_ip = int(dl_bytes) + 28 * int(dl_n)
    ul_ip = int(ul_bytes) + 28 * int(ul_n)
    assert int(dl_bytes) == sum(dl_sizes) and int(ul_bytes) == sum(ul_sizes)
    ul_b, ul_p, dl_b, dl_p = _usage(braid.cli_ok("session", "query", str(SEID)))
    assert (ul_b, ul_p, dl_b, dl_p) == (ul_ip, len(ul_sizes), dl_ip, len(dl_sizes))


def test_modifications_of_other_sessions_lose_no_packet(lab, braid, gnb, alive):
    """1,000 session modifications per second on other sessions while a flow of this session
    runs: the untouched session loses nothing (snapshots are published whole, lock-free)."""
    import subprocess
    others = [100 + i for i in range(10)]
    for i, seid in enumerate(others):
        braid.cli_ok("session", "add", str(seid), "teid", str(0x7000 + i), "ue",
                     f"198.19.101.{i + 1}", "gnb", GNB_IP, "gnb-teid", str(0x7100 + i))
    modified_before = braid.metrics().value("braid_session_changes_total", op="modify")
    try:
        rx = subprocess.Popen(["ip", "netns", "exec", lab.gnb, PYTHON, "-c", UDP_COUNT, UE,
                               "7300", "2"], stdout=subprocess.PIPE, text=True)
        time.sleep(0.3)
        # 1000 datagrams/s of 200 octets for 5 s toward the untouched session's UE.
        tx = subprocess.Popen(["ip", "netns", "exec", lab.dn, PYTHON, "-c", UDP_BLAST, UE, "7300",
                               str(1000 * 228 * 8), "5", "200"], stdout=subprocess.PIPE,
                              text=True)
        mods = 0
        start = time.monotonic()
        while time.monotonic() - start < 4.5:
            slot = time.monotonic()
            batch = "".join(f"session set {others[(mods + k) % len(others)]} mbr 0 "
                            f"{1000 + (mods + k) % 997}\n" for k in range(100))
            cp = subprocess.run([str(BRAID_CLI), "-s", braid.socket], input=batch, text=True,
                                capture_output=True, timeout=10)
            assert cp.returncode == 0, cp.stdout[-500:] + cp.stderr
            mods += 100
            time.sleep(max(0.0, 0.1 - (time.monotonic() - slot)))
        elapsed = time.monotonic() - start
        sent = int(tx.communicate(timeout=30)[0])
        got = int(rx.communicate(timeout=30)[0].split()[0])
        rate = mods / elapsed
        assert got == sent, f"{sent - got} of {sent} packets lost during {mods} modifications"
        assert rate >= 900, f"only {rate:.0f} modifications/s reached"
        assert wait_until(lambda: braid.metrics().value("braid_session_changes_total", op="modify")
                          - modified_before >= mods, timeout=3)
    finally:
        for seid in others:
            braid.cli("session", "del", str(seid))


BIG_SEND = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, int(sys.argv[3]))  # IP_MTU_DISCOVER: 0 DONT (no DF), 2 DO
try:
    s.sendto(b"F" * int(sys.argv[4]), (sys.argv[1], int(sys.argv[2])))
    print("sent")
except OSError as e:  # EMSGSIZE once the kernel learned a smaller path MTU
    print("emsgsize", e.errno)
"""


def test_too_big_for_n3_fragments_or_tells_the_source(lab, braid, gnb, alive):
    """RFC 4459: a 1500-octet packet does not fit N3 once encapsulated (44 octets of outer
    headers). Without DF braid fragments it (the UE gets the whole datagram); with DF braid sends
    ICMP Fragmentation Needed with MTU 1456, the DN kernel learns the path MTU and refuses the
    next oversized send with EMSGSIZE (RFC 1191)."""
    import subprocess
    frag_before = braid.metrics().value("braid_gtpu_fragmented_total")
    icmp_before = braid.metrics().value("braid_icmp_too_big_sent_total")
    rx = subprocess.Popen(["ip", "netns", "exec", lab.gnb, PYTHON, "-c", UDP_COUNT, UE, "7400",
                           "1.5"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    cp = lab.ns(lab.dn, PYTHON, "-c", BIG_SEND, UE, "7400", "0", "1472")
    assert cp.stdout.strip() == "sent", cp.stdout + cp.stderr
    n, nbytes, _ = rx.communicate(timeout=20)[0].split()
    assert (int(n), int(nbytes)) == (1, 1472), "the fragmented datagram did not arrive whole"
    assert wait_until(lambda: braid.metrics().value("braid_gtpu_fragmented_total")
                      > frag_before, timeout=3)
    lab.ns(lab.dn, "ip", "route", "flush", "cache")
    # Every DF send is answered (the counter); the DN must learn MTU 1456 from it. An ICMP error
    # is a datagram like any other and can be lost on a loaded machine (seen once in ~10 runs
    # with other suites on the same vCPUs), and RFC 1191 hosts recover by sending again: so
    # does the test, up to three times.
    route = None
    for _ in range(3):
        cp = lab.ns(lab.dn, PYTHON, "-c", BIG_SEND, UE, "7400", "2", "1472")
        assert cp.stdout.strip() == "sent", cp.stdout + cp.stderr
        assert wait_until(lambda: braid.metrics().value("braid_icmp_too_big_sent_total")
                          > icmp_before, timeout=3)
        icmp_before = braid.metrics().value("braid_icmp_too_big_sent_total")
        route = wait_until(lambda: "mtu 1456" in lab.ns(lab.dn, "ip", "-4", "route", "get",
                                                        UE).stdout, timeout=3)
        if route:
            break
    assert route, lab.ns(lab.dn, "ip", "-4", "route", "get", UE).stdout
    cp = lab.ns(lab.dn, PYTHON, "-c", BIG_SEND, UE, "7400", "2", "1472")
    assert cp.stdout.strip().startswith("emsgsize"), cp.stdout + cp.stderr
    lab.ns(lab.dn, "ip", "route", "flush", "cache")
