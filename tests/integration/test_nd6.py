"""IPv6 Neighbor Discovery on N6 end to end (RFC 4861, issues 3 and 5).

A fresh braid knows no IPv6 neighbor. It must resolve the DN host's IPv6 address itself with a
multicast Neighbor Solicitation (not borrow the IPv4 gateway's MAC), answer the kernel's
solicitations for its own address, forward IPv6 UE traffic from the gNB emulator to the DN host
and back, run its own TCP over IPv6 against the Linux kernel, and give up on a next hop that
never answers after three solicitations, dropping what it held with a named reason.
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
import time

import pytest

from conftest import DN_IP6, GNB_IP, N3_IP, N6_IP6, PYTHON, run
from gnb import Gnb

UE = "198.19.100.11"
UE6 = "2001:db8:100:11::1"
SEID, UL_TEID, DL_TEID = 61, 0x6101, 0x6201
ECHO, SOURCE_BYTES = 5101, 64 * 1024 * 1024
SILENT6 = "2001:db8:6::99"  # on-link on N6, nobody has it


@pytest.fixture(scope="module")
def braid(braid_factory):
    # Held packets outlive the three solicitations (3 s), so that a silent next hop's packets
    # are dropped for the failure, not for the hold timeout.
    return braid_factory({"tcp": {"services": [{"port": ECHO, "mode": "echo"}]},
                          "neighbors": {"hold_timeout_ms": 10000}})


@pytest.fixture(scope="module")
def session(braid):
    braid.cli_ok("session", "add", str(SEID), "teid", str(UL_TEID), "ue", UE, "gnb", GNB_IP,
                 "gnb-teid", str(DL_TEID))
    braid.cli_ok("session", "set", str(SEID), "ue6", "2001:db8:100:11::/64")
    return SEID


@pytest.fixture
def gnb(lab, session):
    with Gnb(lab, UE, ul_teid=UL_TEID, dl_teid=DL_TEID, upf_n3_ip=N3_IP,
             routes=["198.19.0.0/24", "2001:db8:6::/64"], qfi=9, ue_ipv6=UE6) as g:
        yield g


def neighbor_row(braid, address):
    """The `show neighbors` row of `address` split in fields, or None."""
    for line in braid.cli_ok("show", "neighbors").splitlines():
        f = line.split()
        if len(f) >= 5 and f[2] == address:
            return f
    return None


def wait_until(pred, timeout=5.0, step=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def tshark_fields(path, display_filter, *fields):
    cmd = ["tshark", "-n", "-r", str(path), "-o", "ip.check_checksum:TRUE", "-Y", display_filter,
           "-T", "fields", "-E", "separator=|"]
    for f in fields:
        cmd += ["-e", f]
    cp = run(cmd, timeout=60)
    assert cp.returncode == 0, f"tshark failed: {cp.stderr}"
    return [line.split("|") for line in cp.stdout.splitlines() if line.strip()]


def test_braid_resolves_the_dn_host_with_a_solicitation(lab, braid, gnb, alive):
    """The first IPv6 uplink packet to the DN host waits while braid solicits it; the kernel's
    advertisement resolves it; the ping completes. Wireshark's dissector finds braid's
    solicitation well-formed (hop limit 255, solicited-node group, source link-layer option,
    checksum good)."""
    braid_mac = lab.mac(lab.n6)
    dn_mac = lab.mac("eth0", lab.dn)
    assert neighbor_row(braid, DN_IP6) is None, "a fresh braid already knows the DN host"
    with lab.capture(lab.dn, "nd6-resolve.pcap", bpf="icmp6") as cap:
        cp = lab.ping(lab.gnb, DN_IP6, count=3, extra=("-6", "-I", UE6))
    assert cp.returncode == 0, cp.stdout + cp.stderr + braid.cli("show", "drops")[1]
    path = cap.stop()
    from_braid = f"eth.src == {braid_mac}"
    ns = tshark_fields(path, f"{from_braid} && icmpv6.type == 135",
                       "eth.dst", "ipv6.src", "ipv6.dst", "ipv6.hlim",
                       "icmpv6.nd.ns.target_address", "icmpv6.opt.linkaddr",
                       "icmpv6.checksum.status")
    assert ns, "braid sent no Neighbor Solicitation for the DN host"
    assert ns[0] == ["33:33:ff:00:00:02", N6_IP6, "ff02::1:ff00:2", "255", DN_IP6, braid_mac,
                     "1"], ns
    bad = tshark_fields(path, f"{from_braid} && (_ws.malformed || _ws.expert.severity >= warning)",
                        "frame.number", "_ws.col.Info")
    assert not bad, f"tshark flags frames braid sent: {bad}"
    row = neighbor_row(braid, DN_IP6)
    assert row is not None, braid.cli_ok("show", "neighbors")
    assert row[1] == "ipv6" and row[3] == dn_mac and row[4] in ("reachable", "stale"), row
    m = braid.metrics()
    assert m.value("braid_nd_solicitations_sent_total") >= 1
    assert m.value("braid_neighbor_held_total") >= 1
    assert m.value("braid_drop_packets_total", reason="neighbor_resolution_failed") == 0


def test_ipv6_ue_tcp_and_udp_reach_the_dn_host_and_come_back(lab, braid, gnb, alive):
    """2 MB over TCP from the DN host to the UE (SHA-256 echoed back) and 300 UDP datagrams
    from the UE to the DN host, counted to the byte."""
    server = textwrap.dedent(f"""
        import socket, hashlib, os
        data = os.urandom(2_000_000)
        ls = socket.socket(socket.AF_INET6); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(('{DN_IP6}', 5211)); ls.listen(1); ls.settimeout(30)
        print('listening', flush=True)
        c, _ = ls.accept(); c.sendall(data); c.shutdown(socket.SHUT_WR)
        print(hashlib.sha256(data).hexdigest(), c.recv(100).decode())
    """)
    srv = subprocess.Popen(["ip", "netns", "exec", lab.dn, PYTHON, "-c", server],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert srv.stdout.readline().strip() == "listening"
        client = textwrap.dedent(f"""
            import socket, hashlib
            s = socket.create_connection(('{DN_IP6}', 5211), timeout=30, source_address=('{UE6}', 0))
            h = hashlib.sha256(); n = 0
            while True:
                d = s.recv(65536)
                if not d: break
                h.update(d); n += len(d)
            s.sendall(h.hexdigest().encode()); s.close(); print(n, h.hexdigest())
        """)
        cp = lab.py(lab.gnb, client, timeout=60)
        out, err = srv.communicate(timeout=30)
    finally:
        if srv.poll() is None:
            srv.kill()  # by PID
            srv.wait()
    n, digest = cp.stdout.split()
    assert int(n) == 2_000_000
    sent_digest, echoed = out.split()
    assert digest == sent_digest == echoed

    counter = textwrap.dedent(f"""
        import socket
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(('{DN_IP6}', 5212)); s.settimeout(3)
        print('listening', flush=True)
        n = nbytes = 0
        try:
            while True:
                d = s.recv(65535); n += 1; nbytes += len(d)
        except socket.timeout:
            pass
        print(n, nbytes)
    """)
    rx = subprocess.Popen(["ip", "netns", "exec", lab.dn, PYTHON, "-c", counter],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert rx.stdout.readline().strip() == "listening"
        lab.py(lab.gnb, textwrap.dedent(f"""
            import socket, time
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(('{UE6}', 0))
            for i in range(300):
                s.sendto(b'u' * (100 + i), ('{DN_IP6}', 5212)); time.sleep(0.002)
        """), timeout=30)
        out, _ = rx.communicate(timeout=30)
    finally:
        if rx.poll() is None:
            rx.kill()  # by PID
            rx.wait()
    n, nbytes = map(int, out.split())
    assert (n, nbytes) == (300, sum(100 + i for i in range(300)))


def test_kernel_resolves_braids_ipv6_address(lab, braid, alive):
    """braid answers the kernel's solicitation for its N6 and N3 addresses (RFC 4861 §7.2.4):
    the kernels' neighbor tables hold braid's MACs."""
    for ns, addr, port in ((lab.dn, N6_IP6, lab.n6), (lab.gnb, "2001:db8:3::1", lab.n3)):
        lab.ns(ns, "ip", "-6", "neigh", "flush", "dev", "eth0", check=True)
        cp = lab.ping(ns, addr, count=2, extra=("-6",))
        assert cp.returncode == 0, cp.stdout + cp.stderr
        neigh = lab.ns(ns, "ip", "-6", "neigh", "show", addr, "dev", "eth0", check=True).stdout
        assert f"lladdr {lab.mac(port)}" in neigh, neigh
        assert re.search(r"REACHABLE|STALE|DELAY|PROBE", neigh), neigh
    m = braid.metrics()
    assert m.value("braid_nd_messages_total", type="solicitation", direction="received") >= 2
    assert m.value("braid_nd_messages_total", type="advertisement", direction="sent") >= 2


def test_braid_tcp_over_ipv6_as_server_echoes_byte_exact(lab, braid, alive):
    client = textwrap.dedent(f"""
        import hashlib, json, os, socket, threading
        s = socket.create_connection(('{N6_IP6}', {ECHO}), timeout=60)
        peer = s.getpeername()[0]
        data = os.urandom(16 << 20)
        got = hashlib.sha256(); n = [0]
        def reader():
            while True:
                b = s.recv(1 << 20)
                if not b: return
                got.update(b); n[0] += len(b)
        t = threading.Thread(target=reader); t.start()
        s.sendall(data); s.shutdown(socket.SHUT_WR); t.join(60)
        print(json.dumps({{"sent_sha": hashlib.sha256(data).hexdigest(), "received": n[0],
                          "received_sha": got.hexdigest(), "peer": peer}}))
    """)
    cp = lab.py(lab.dn, client, timeout=120)
    r = json.loads(cp.stdout.strip().splitlines()[-1])
    assert r["peer"] == N6_IP6
    assert r["received"] == 16 << 20
    assert r["received_sha"] == r["sent_sha"]


def test_braid_tcp_over_ipv6_as_client_sends_64_mib(lab, braid, alive):
    server = textwrap.dedent("""
        import hashlib, json, socket
        l = socket.socket(socket.AF_INET6)
        l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        l.bind(("::", 6101)); l.listen(1); l.settimeout(120)
        print("listening", flush=True)
        c, peer = l.accept(); c.settimeout(120)
        h = hashlib.sha256(); n = 0
        while True:
            b = c.recv(1 << 20)
            if not b: break
            h.update(b); n += len(b)
        print(json.dumps({"received": n, "sha": h.hexdigest(), "peer": peer[0]}), flush=True)
    """)
    proc = subprocess.Popen(["ip", "netns", "exec", lab.dn, PYTHON, "-c", server],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "listening"
        out = braid.cli_ok("tcp", "connect", DN_IP6, "6101", "source", str(SOURCE_BYTES))
        assert re.match(r"connection \d+ on worker \d+", out), out
        stdout, stderr = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()  # by PID
            proc.wait()
    r = json.loads(stdout.strip().splitlines()[-1])
    assert r["peer"] == N6_IP6
    assert r["received"] == SOURCE_BYTES

    def finished():
        for line in braid.cli_ok("show", "tcp", "apps").splitlines()[1:]:
            f = line.split()
            if len(f) >= 12 and f[2:5] == ["source", "out", "finished"] and DN_IP6 in f[6]:
                return f
        return None

    a = wait_until(finished, timeout=30)
    assert a, braid.cli_ok("show", "tcp", "apps")
    assert int(a[8]) == SOURCE_BYTES
    assert a[10] == r["sha"], "what Linux received differs from what braid sent"


def test_silent_next_hop_fails_after_three_solicitations(lab, braid, gnb, alive):
    """RFC 4861 §7.2.2: MAX_MULTICAST_SOLICIT (3) solicitations RETRANS_TIMER (1 s) apart, then
    the address is unreachable: the packets held for it are dropped as
    neighbor_resolution_failed."""
    before = braid.metrics().value("braid_drop_packets_total", reason="neighbor_resolution_failed")
    with lab.capture(lab.dn, "nd6-silent.pcap", bpf="icmp6") as cap:
        lab.ping(lab.gnb, SILENT6, count=2, interval=0.2, wait=1, extra=("-6", "-I", UE6))
        assert wait_until(lambda: braid.metrics().value(
            "braid_drop_packets_total", reason="neighbor_resolution_failed") > before, timeout=8)
    path = cap.stop()
    ns = tshark_fields(path, f"eth.src == {lab.mac(lab.n6)} && icmpv6.type == 135 && "
                             f"icmpv6.nd.ns.target_address == {SILENT6}", "frame.time_relative")
    assert len(ns) == 3, ns
    gaps = [float(b[0]) - float(a[0]) for a, b in zip(ns, ns[1:])]
    assert all(0.8 <= g <= 1.6 for g in gaps), gaps
    row = neighbor_row(braid, SILENT6)
    assert row is None or row[4] == "failed", row
