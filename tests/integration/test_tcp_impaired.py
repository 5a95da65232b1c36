"""braid's TCP engine against Linux under loss, delay with jitter and reordering, and
duplication — impairments from braid's own fault-injection stage on the N6 port (the test
kernels have no netem), in both directions. Every transfer is checked by SHA-256, and sized so
that each run ends well within a minute.
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap

import pytest
from test_tcp_interop import ECHO, SINK, braid_sends_to_linux, run_client, wait_app

SERVICES = [{"port": ECHO, "mode": "echo"}, {"port": SINK, "mode": "sink"}]


@pytest.fixture(scope="module")
def braid(braid_factory):
    return braid_factory({"tcp": {"services": SERVICES, "max_per_source": 20000}})


def engine_counter(braid, name) -> int:
    return int(re.search(rf"^\s*{name}\s+(\d+)", braid.cli_ok("show", "tcp", "stats"),
                         re.M).group(1))


def fault_count(braid, direction, action) -> float:
    return braid.metrics().value("braid_fault_packets_total", port="n6", direction=direction,
                                 action=action)


@pytest.fixture
def impaired(braid):
    """Applies fault settings on n6 rx and tx; always cleared afterwards."""
    def apply(**kv):
        words = [w for k, v in kv.items() for w in (k, str(v))]
        for direction in ("rx", "tx"):
            braid.cli_ok("set", "fault", "n6", direction, *words)
    yield apply
    braid.cli_ok("clear", "fault")


def echo_exact(lab, braid, total, timeout=90):
    r = run_client(lab, ECHO, total, timeout=timeout)
    assert not r["reader_alive"], "the echo did not finish"
    assert r["received"] == total and r["received_sha"] == r["sent_sha"]
    a = wait_app(braid, lambda a: a["mode"] == "echo" and a["state"] == "finished"
                 and a["rx_sha"] == r["sent_sha"], timeout=30)
    assert a["rx"] == total and a["close"] == "normal"
    return r


@pytest.mark.parametrize("loss_pct,total", [(1, 8 << 20), (5, 2 << 20)])
def test_echo_through_loss(lab, braid, alive, impaired, loss_pct, total):
    retrans = engine_counter(braid, "retransmissions")
    impaired(drop=loss_pct, seed=loss_pct)
    r = echo_exact(lab, braid, total)
    # Both directions lost packets, and braid recovered its own losses.
    assert fault_count(braid, "rx", "dropped") > 0
    assert fault_count(braid, "tx", "dropped") > 0
    assert engine_counter(braid, "retransmissions") > retrans
    print(f"{loss_pct} % loss each way: {total >> 20} MiB echoed in {r['seconds']:.1f} s")


def test_delay_jitter_and_reordering_both_roles(lab, braid, alive, impaired):
    # 25 ms +- 10 ms each way: a 50 ms RTT that varies packet to packet, so packets overtake
    # each other; plus 2 % explicit reordering.
    impaired(delay_us=25000, jitter_us=10000, reorder=2, reorder_gap=3, seed=11)
    r = run_client(lab, SINK, 4 << 20, timeout=90)
    a = wait_app(braid, lambda a: a["mode"] == "sink" and a["state"] == "finished"
                 and a["rx_sha"] == r["sent_sha"], timeout=60)
    assert a["rx"] == 4 << 20
    # braid as the client, sending.
    got = braid_sends_to_linux(lab, braid, 6101, 4 << 20, timeout=90)
    src = wait_app(braid, lambda a: a["mode"] == "source" and a["open"] == "out"
                   and a["state"] == "finished", timeout=30)
    assert got["received"] == 4 << 20 and src["tx_sha"] == got["sha"]
    assert fault_count(braid, "rx", "delayed") > 0 and fault_count(braid, "rx", "reordered") > 0
    assert engine_counter(braid, "ooo_segments") > 0  # braid saw reordering and reassembled


def test_echo_through_duplication(lab, braid, alive, impaired):
    dups = engine_counter(braid, "dup_segments")
    impaired(duplicate=5, seed=3)
    echo_exact(lab, braid, 4 << 20)
    assert fault_count(braid, "rx", "duplicated") > 0
    assert engine_counter(braid, "dup_segments") > dups  # duplicates recognised, not delivered


CONCURRENT = textwrap.dedent("""
    import json, os, selectors, socket, sys, time
    host, port, n, payload = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), b"p" * 100
    deadline = time.monotonic() + 120
    socks, sel = [], selectors.DefaultSelector()
    for i in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex((host, port))
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE, i)
    pending = {i: b"" for i in range(n)}
    established = 0
    while pending and time.monotonic() < deadline:
        for key, ev in sel.select(timeout=1):
            s, i = key.fileobj, key.data
            if ev & selectors.EVENT_WRITE:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err != 0:
                    raise SystemExit(f"connection {i} failed: {os.strerror(err)}")
                s.send(payload)
                established += 1
                sel.modify(s, selectors.EVENT_READ, i)
            else:
                pending[i] += s.recv(4096)
                if len(pending[i]) >= len(payload):
                    assert pending[i] == payload
                    del pending[i]
                    sel.unregister(s)
    print(json.dumps({"established": established, "echoed": n - len(pending)}), flush=True)
    sys.stdin.readline()   # all stay open until the test has looked at braid
    for s in socks:
        s.close()
""")


def test_ten_thousand_concurrent_connections(lab, braid, alive):
    n = 10000
    lab.ns(lab.dn, "sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=20000 60999", check=True)
    code = CONCURRENT.replace("sys.argv[1], int(sys.argv[2]), int(sys.argv[3])",
                              f"{'198.19.0.1'!r}, {ECHO}, {n}")
    proc = subprocess.Popen(["ip", "netns", "exec", lab.dn, "/usr/bin/python3", "-c", code],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        r = json.loads(line)
        assert r == {"established": n, "echoed": n}
        conns = braid.cli_ok("show", "tcp", "connections", "established", timeout=30)
        assert int(conns.strip().splitlines()[-1].split()[0]) >= n
        proc.communicate(input="\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # All of them close cleanly on braid's side too.
    import time
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stats = braid.cli_ok("show", "tcp", "stats")
        if int(re.search(r"ESTABLISHED\s+(\d+)", stats).group(1)) == 0 and \
           int(re.search(r"LAST-ACK\s+(\d+)", stats).group(1)) == 0:
            break
        time.sleep(0.5)
    assert int(re.search(r"ESTABLISHED\s+(\d+)", stats).group(1)) == 0, stats


def test_syn_flood_does_not_stop_established_transfers(lab, braid, alive):
    """A bounded SYN flood (20,000 SYNs from spoofed ports) while an echo transfer runs: the
    transfer completes byte-exact, SYN cookies are sent, and braid's connection count stays
    bounded by the listener's backlog (half-open ones never pile up)."""
    n6_mac = lab.mac(f"{lab.name}-n6")
    cookies = engine_counter(braid, "syn_cookies_sent")
    flood = textwrap.dedent(f"""
        from scapy.all import Ether, IP, TCP, sendp, conf
        import random
        random.seed(5)
        conf.verb = 0
        s = conf.L2socket(iface="eth0")
        frames = [bytes(Ether(dst={n6_mac!r}) / IP(src="198.19.0.77", dst="198.19.0.1") /
                        TCP(sport=random.randint(1024, 65535), dport={ECHO}, flags="S",
                            seq=random.getrandbits(32)))
                  for _ in range(20000)]
        for f in frames:
            s.send(f)
    """)
    # 198.19.0.77 does not exist: braid's SYN/ACKs to it go unanswered (no RST kills them).
    flooder = subprocess.Popen(["ip", "netns", "exec", lab.dn, "/usr/bin/python3", "-c", flood],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        r = run_client(lab, ECHO, 8 << 20, timeout=90)
        assert r["received_sha"] == r["sent_sha"] and r["received"] == 8 << 20
        flooder.communicate(timeout=120)
    finally:
        if flooder.poll() is None:
            flooder.kill()
            flooder.wait()
    assert engine_counter(braid, "syn_cookies_sent") > cookies
    stats = braid.cli_ok("show", "tcp", "stats")
    half_open = int(re.search(r"SYN-RECEIVED\s+(\d+)", stats).group(1))
    assert half_open <= 1024, stats  # tcp.syn_backlog: the rest got cookies, not state
