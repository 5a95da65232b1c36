"""braid's own TCP endpoint (tcpstack, issue 5) against the Linux kernel's TCP.

braid listens on its N6 address with the test applications (echo, sink, source) and opens
connections to a Linux server in the DN namespace. Every transfer is verified end to end by
SHA-256: what Linux sent against what braid hashed, what braid sent against what Linux hashed.
"""

from __future__ import annotations

import re
import textwrap
import time

import pytest
from conftest import DN_IP, N6_IP

ECHO, SINK, SOURCE, DISCARD = 5001, 5002, 5003, 5004
SOURCE_BYTES = 64 * 1024 * 1024
GIB = 1 << 30


@pytest.fixture(scope="module")
def braid(braid_factory):
    return braid_factory({
        "tcp": {
            "max_per_source": 20000,
            "max_connections": 30000,
            "services": [
                {"port": ECHO, "mode": "echo"},
                {"port": SINK, "mode": "sink"},
                {"port": SOURCE, "mode": "source", "bytes": SOURCE_BYTES},
                {"port": DISCARD, "mode": "discard"},
            ],
        },
    })


def apps(braid) -> list[dict]:
    """`show tcp apps` as dicts."""
    out = braid.cli_ok("show", "tcp", "apps")
    rows = []
    for line in out.splitlines()[1:]:
        f = line.split()
        if len(f) < 12:
            continue
        rows.append({"id": int(f[0]), "worker": int(f[1]), "mode": f[2], "open": f[3],
                     "state": f[4], "local": f[5], "remote": f[6], "rx": int(f[7]),
                     "tx": int(f[8]), "rx_sha": f[9], "tx_sha": f[10], "close": " ".join(f[11:])})
    return rows


def wait_app(braid, pred, timeout=60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for a in apps(braid):
            if pred(a):
                return a
        time.sleep(0.2)
    pytest.fail(f"no such application record within {timeout}s:\n"
                f"{braid.cli_ok('show', 'tcp', 'apps')}\n{braid.cli_ok('show', 'tcp', 'stats')}")


# A client in the DN namespace: sends `total` bytes (a 1 MiB block with the block index in its
# first 8 bytes), reads what comes back, prints the SHA-256 of both directions as JSON.
CLIENT = textwrap.dedent("""
    import hashlib, json, os, socket, sys, threading, time
    host, port, total, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    s = socket.create_connection((host, port), timeout=timeout)
    s.settimeout(timeout)
    base = bytearray(os.urandom(1 << 20))
    sent = hashlib.sha256()
    got = hashlib.sha256()
    received = 0
    def reader():
        global received
        while True:
            b = s.recv(1 << 20)
            if not b:
                return
            got.update(b)
            received += len(b)
    t = threading.Thread(target=reader)
    t.start()
    t0 = time.monotonic()
    left, i = total, 0
    while left > 0:
        base[0:8] = i.to_bytes(8, "big")
        chunk = bytes(base[:min(left, len(base))])
        s.sendall(chunk)
        sent.update(chunk)
        left -= len(chunk)
        i += 1
    s.shutdown(socket.SHUT_WR)
    t.join(timeout)
    elapsed = time.monotonic() - t0
    print(json.dumps({"sent": total, "sent_sha": sent.hexdigest(), "received": received,
                      "received_sha": got.hexdigest(), "seconds": elapsed,
                      "reader_alive": t.is_alive()}))
""")


def run_client(lab, port, total, timeout=120):
    import json
    cp = lab.py(lab.dn, CLIENT.replace("sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), "
                                       "float(sys.argv[4])",
                                       f"{N6_IP!r}, {port}, {total}, {float(timeout)}"),
                timeout=timeout + 30)
    return json.loads(cp.stdout.strip().splitlines()[-1])


def test_echo_round_trip_is_byte_exact(lab, braid, alive):
    r = run_client(lab, ECHO, 32 * 1024 * 1024)
    assert not r["reader_alive"], "braid did not close after echoing everything"
    assert r["received"] == r["sent"]
    assert r["received_sha"] == r["sent_sha"]
    a = wait_app(braid, lambda a: a["mode"] == "echo" and a["state"] == "finished")
    assert a["rx"] == r["sent"] and a["tx"] == r["sent"]
    assert a["rx_sha"] == r["sent_sha"]
    assert a["close"] == "normal"


def test_sink_receives_1_gib_from_linux(lab, braid, alive):
    r = run_client(lab, SINK, GIB, timeout=240)
    a = wait_app(braid, lambda a: a["mode"] == "sink" and a["state"] == "finished", timeout=30)
    assert a["rx"] == GIB
    assert a["rx_sha"] == r["sent_sha"], "what braid received differs from what Linux sent"
    assert r["received"] == 0
    print(f"Linux -> braid sink: 1 GiB in {r['seconds']:.1f} s "
          f"({GIB / r['seconds'] / 1e6:.0f} MB/s)")


def test_source_sends_to_linux_client(lab, braid, alive):
    r = run_client(lab, SOURCE, 0)
    assert r["received"] == SOURCE_BYTES
    a = wait_app(braid, lambda a: a["mode"] == "source" and a["state"] == "finished")
    assert a["tx"] == SOURCE_BYTES
    assert a["tx_sha"] == r["received_sha"]


# A server in the DN namespace: accepts one connection, hashes everything until EOF.
SERVER = textwrap.dedent("""
    import hashlib, json, socket, sys, time
    port, timeout = int(sys.argv[1]), float(sys.argv[2])
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("0.0.0.0", port))
    l.listen(4)
    l.settimeout(timeout)
    print("listening", flush=True)
    c, peer = l.accept()
    c.settimeout(timeout)
    h = hashlib.sha256()
    n = 0
    t0 = time.monotonic()
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        h.update(b)
        n += len(b)
    print(json.dumps({"received": n, "sha": h.hexdigest(), "peer": peer[0],
                      "seconds": time.monotonic() - t0}), flush=True)
""")


def braid_sends_to_linux(lab, braid, port, total, timeout) -> dict:
    """A Linux server in the DN namespace; braid connects to it with a source of `total` bytes.
    Returns the server's report (bytes, SHA-256, peer address, seconds)."""
    import json
    import subprocess
    code = SERVER.replace("int(sys.argv[1]), float(sys.argv[2])", f"{port}, {float(timeout)}")
    proc = subprocess.Popen(["ip", "netns", "exec", lab.dn, "/usr/bin/python3", "-c", code],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "listening", proc.stderr.read()
        out = braid.cli_ok("tcp", "connect", DN_IP, str(port), "source", str(total))
        assert re.match(r"connection \d+ on worker \d+", out), out
        stdout, stderr = proc.communicate(timeout=timeout + 30)
    finally:
        if proc.poll() is None:
            proc.kill()  # by PID
            proc.wait()
    assert stdout.strip(), stderr
    return json.loads(stdout.strip().splitlines()[-1])


def test_braid_as_client_sends_1_gib_to_linux(lab, braid, alive):
    r = braid_sends_to_linux(lab, braid, 6001, GIB, timeout=240)
    assert r["peer"] == N6_IP
    assert r["received"] == GIB
    a = wait_app(braid, lambda a: a["mode"] == "source" and a["open"] == "out"
                 and a["state"] == "finished", timeout=30)
    assert a["tx"] == GIB
    assert a["tx_sha"] == r["sha"], "what Linux received differs from what braid sent"
    assert a["close"] == "normal"
    print(f"braid source -> Linux: 1 GiB in {r['seconds']:.1f} s "
          f"({GIB / r['seconds'] / 1e6:.0f} MB/s)")


def test_closed_port_is_refused_with_rst(lab, braid, alive):
    code = textwrap.dedent(f"""
        import socket
        try:
            socket.create_connection(({N6_IP!r}, 5999), timeout=5)
            print("connected")
        except ConnectionRefusedError:
            print("refused")
    """)
    assert lab.py(lab.dn, code).stdout.strip() == "refused"
    stats = braid.cli_ok("show", "tcp", "stats")
    assert int(re.search(r"rst_sent_no_listener\s+(\d+)", stats).group(1)) >= 1


def test_show_tcp_connection_and_metrics_while_open(lab, braid, alive):
    code = textwrap.dedent(f"""
        import socket, sys, time
        s = socket.create_connection(({N6_IP!r}, {DISCARD}), timeout=5)
        s.sendall(b"x" * 100000)
        print(s.getsockname()[1], flush=True)
        sys.stdin.readline()
        s.close()
    """)
    import subprocess
    proc = subprocess.Popen(["ip", "netns", "exec", lab.dn, "/usr/bin/python3", "-c", code],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        cport = proc.stdout.readline().strip()
        assert cport.isdigit()
        time.sleep(0.5)
        conns = braid.cli_ok("show", "tcp", "connections", "established")
        line = next((l for l in conns.splitlines() if f"{DN_IP}:{cport}" in l), None)
        assert line is not None, conns
        cid = line.split()[0]
        one = braid.cli_ok("show", "tcp", "connection", cid)
        assert "ESTABLISHED" in one and "cwnd" in one and "srtt" in one
        assert re.search(r"options: sack yes timestamps yes", one), one
        time.sleep(0.3)  # the state gauge is refreshed every 200 ms
        m = braid.metrics()
        assert m.value("braid_tcp_connections", state="ESTABLISHED") >= 1
        assert m.value("braid_tcp_events_total", event="bytes_in") >= 100000
    finally:
        proc.communicate(input="\n", timeout=10)
    a = wait_app(braid, lambda a: a["mode"] == "discard" and a["remote"].endswith(":" + cport)
                 and a["state"] == "finished")
    assert a["rx"] == 100000


def test_bad_input_is_counted_not_fatal(lab, braid, alive):
    from scapy.all import IP, TCP, Ether
    n6_mac = lab.mac(f"{lab.name}-n6")
    frames = [
        # data offset 4 (< 5 words)
        Ether(dst=n6_mac) / IP(src=DN_IP, dst=N6_IP) / TCP(sport=1, dport=ECHO, dataofs=4),
        # option length running past the header
        Ether(dst=n6_mac) / IP(src=DN_IP, dst=N6_IP) / TCP(sport=2, dport=ECHO,
                                                          options=[(2, b"\x05")]),
        # bad checksum
        Ether(dst=n6_mac) / IP(src=DN_IP, dst=N6_IP) / TCP(sport=3, dport=ECHO, chksum=0x1234),
    ]
    before = {r: braid.metrics().value("braid_drop_packets_total", reason=r)
              for r in ("tcp_bad_header", "tcp_bad_options", "tcp_bad_checksum")}
    lab.sendp(lab.dn, frames)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        after = {r: braid.metrics().value("braid_drop_packets_total", reason=r) for r in before}
        if all(after[r] > before[r] for r in before):
            break
        time.sleep(0.2)
    assert all(after[r] == before[r] + 1 for r in before), (before, after)
