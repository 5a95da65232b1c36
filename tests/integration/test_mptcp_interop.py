"""braid's MPTCP v1 endpoint (mptcp/endpoint.h, issue 6) against the Linux kernel's MPTCP.

A Linux client in the DN namespace opens `socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP)` to braid's
MPTCP echo service: the bytes come back identical (SHA-256 both ends), the kernel counts an
MP_CAPABLE handshake (MPTcpExt counters of the namespace) and keeps the connection MPTCP (no
fallback), and braid lists it under `show mptcp connections`. braid's options on the wire are
checked with tshark's MPTCP dissector. A plain TCP client to the same service falls back.

Two subflows: the client namespace gets a second address with an in-kernel PM `subflow`
endpoint, so Linux joins a second subflow (MP_JOIN) to braid: the echo runs over both, braid's
`show mptcp connection <token>` lists them; then the second address's path is cut mid-transfer
(nftables drop rules both ways in the client's namespace: the test kernels have no netem) and
the transfer completes on the first subflow.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from conftest import DN_IP, N6_IP, PYTHON, long_run
from test_tcp_interop import wait_app

ECHO = 5011
REDUNDANT = 5012  # echo whose connections use the redundant scheduler
STANDBY = 5013    # echo with active-standby, the client's second address the active access
BALANCED = 5014   # echo with load balancing, 70 % on the client's first (3GPP) address
ADVERTISED = 5015  # echo that announces braid's address with JOIN_PORT (ADD_ADDR)
JOIN_PORT = 5016   # MPTCP listener the announced subflows join (matched by token)
LOSSY = 5017       # echo with active-standby (non-3GPP active) and a 3 % PLR threshold
MIB = 1 << 20
IPPROTO_MPTCP = 262
PEER2 = "198.19.0.3"  # the client's second address (same link as DN_IP)


@pytest.fixture(scope="module")
def braid(braid_factory):
    return braid_factory({
        "tcp": {
            "services": [
                {"port": ECHO, "mode": "echo", "mptcp": True},
                {"port": REDUNDANT, "mode": "echo", "mptcp": True,
                 "scheduler": {"mode": "redundant", "tgpp": [f"{DN_IP}/32"],
                               "non_tgpp": [f"{PEER2}/32"]}},
                {"port": STANDBY, "mode": "echo", "mptcp": True,
                 "scheduler": {"mode": "active_standby", "tgpp": [f"{DN_IP}/32"],
                               "non_tgpp": [f"{PEER2}/32"], "preferred": "non-3gpp"}},
                {"port": BALANCED, "mode": "echo", "mptcp": True,
                 "scheduler": {"mode": "load_balancing", "tgpp": [f"{DN_IP}/32"],
                               "non_tgpp": [f"{PEER2}/32"], "tgpp_weight": 70}},
                {"port": ADVERTISED, "mode": "echo", "mptcp": True,
                 "advertise": [{"id": 1, "address": N6_IP, "port": JOIN_PORT}]},
                {"port": JOIN_PORT, "mode": "echo", "mptcp": True},
                {"port": LOSSY, "mode": "echo", "mptcp": True,
                 "scheduler": {"mode": "active_standby", "tgpp": [f"{DN_IP}/32"],
                               "non_tgpp": [f"{PEER2}/32"], "preferred": "non-3gpp",
                               "plr_threshold": 3}},
            ],
        },
    })


@pytest.fixture(scope="module", autouse=True)
def mptcp_enabled(lab):
    cp = lab.ns(lab.dn, "sysctl", "-n", "net.mptcp.enabled")
    if cp.returncode != 0 or cp.stdout.strip() != "1":
        lab.ns(lab.dn, "sysctl", "-w", "net.mptcp.enabled=1")
    cp = lab.ns(lab.dn, "sysctl", "-n", "net.mptcp.enabled")
    if cp.stdout.strip() != "1":
        pytest.skip("the kernel has no MPTCP (net.mptcp.enabled)")


# The namespace's MPTcpExt counters (/proc/net/netstat), for the client scripts below.
MPTCP_COUNTERS = textwrap.dedent("""
    def mptcp_counters():
        names, values = None, None
        with open("/proc/net/netstat") as f:
            for line in f:
                if line.startswith("MPTcpExt:"):
                    if names is None:
                        names = line.split()[1:]
                    else:
                        values = [int(x) for x in line.split()[1:]]
        return dict(zip(names or [], values or []))
""").replace("{", "{{").replace("}", "}}")

# Sends `total` bytes on a socket of protocol `proto` (0: TCP, 262: MPTCP), reads the echo,
# prints both SHA-256 and the namespace's MPTcpExt counters before and after, as JSON.
CLIENT = textwrap.dedent("""
    import hashlib, json, os, socket, threading, time
    HOST, PORT, TOTAL, PROTO, TIMEOUT = {host!r}, {port}, {total}, {proto}, {timeout}
""") + MPTCP_COUNTERS + textwrap.dedent("""
    before = mptcp_counters()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, PROTO)
    s.settimeout(TIMEOUT)
    s.connect((HOST, PORT))
    base = bytearray(os.urandom(1 << 20))
    sent, got = hashlib.sha256(), hashlib.sha256()
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
    left, i = TOTAL, 0
    while left > 0:
        base[0:8] = i.to_bytes(8, "big")
        chunk = bytes(base[:min(left, len(base))])
        s.sendall(chunk)
        sent.update(chunk)
        left -= len(chunk)
        i += 1
    s.shutdown(socket.SHUT_WR)
    t.join(TIMEOUT)
    elapsed = time.monotonic() - t0
    after = mptcp_counters()
    delta = {{k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}}
    print(json.dumps({{"sent": TOTAL, "sent_sha": sent.hexdigest(), "received": received,
                      "received_sha": got.hexdigest(), "seconds": elapsed,
                      "reader_alive": t.is_alive(), "mptcp": delta}}))
""")


def stat(text, name):
    """A counter's value in `show mptcp stats` output."""
    return int(next(line for line in text.splitlines() if line.startswith(name + " ")).split()[1])


def run_client(lab, total, proto, timeout=120):
    code = CLIENT.format(host=N6_IP, port=ECHO, total=total, proto=proto, timeout=float(timeout))
    cp = lab.py(lab.dn, code, timeout=timeout + 30)
    return json.loads(cp.stdout.strip().splitlines()[-1])


def tshark_fields(pcap, fields, display_filter="mptcp"):
    cmd = ["tshark", "-r", str(pcap), "-Y", display_filter, "-T", "fields", "-E", "separator=|"]
    for f in fields:
        cmd += ["-e", f]
    cp = subprocess.run(cmd, capture_output=True, text=True, timeout=240, check=False)
    assert cp.returncode == 0, cp.stderr
    return [line.split("|") for line in cp.stdout.splitlines() if line.strip()]


# An 8 MiB echo transfer slower than this keeps its capture and braid's counters (below);
# BRAID_SLOW_ECHO_S=0 keeps every run's.
SLOW_ECHO_S = float(os.environ.get("BRAID_SLOW_ECHO_S", "30"))


def keep_slow_run(braid, pcap, name):
    """Copies a slow transfer's capture out of the module's workdir (removed at teardown) with
    braid's TCP and MPTCP counters next to it; returns the capture's new path."""
    stem = Path(tempfile.gettempdir()) / f"braid-slow-{name}-{time.strftime('%Y%m%dT%H%M%S')}"
    shutil.copy(pcap, stem.with_suffix(".pcap"))
    stem.with_suffix(".txt").write_text(braid.cli_ok("show", "tcp", "stats")
                                        + braid.cli_ok("show", "mptcp", "stats"))
    return stem.with_suffix(".pcap")


# Four tshark passes over the 8 MiB echo's capture, one with MPTCP mapping analysis: slow on a
# loaded 2-core machine (the whole test took over 180 s in a CI rehearsal). The transfer's own
# time and the tshark passes' go to the JUnit XML (suite properties): issue 6's open finding
# (about 1 run in 5 took ~100 s instead of 5-20 s) was timed as a whole test, which cannot
# tell a slow transfer from slow tshark passes.
@pytest.mark.timeout(480)
def test_linux_mptcp_echo_8mib(lab, braid, alive, record_testsuite_property):
    with lab.capture(lab.dn, "mptcp-echo.pcap", bpf=f"tcp port {ECHO}") as cap:
        r = run_client(lab, 8 * MIB, IPPROTO_MPTCP)
    record_testsuite_property("mptcp_echo_8mib_transfer_s", round(r["seconds"], 2))
    assert not r["reader_alive"], "braid did not close after echoing everything"
    assert r["received"] == r["sent"]
    assert r["received_sha"] == r["sent_sha"]
    # The kernel saw braid's MP_CAPABLE SYN/ACK and did not fall back.
    assert r["mptcp"].get("MPCapableSYNACKRX", 0) == 1, r["mptcp"]
    for k in ("MPCapableFallbackSYNACK", "MPCapableFallbackACK", "DSSNotMatching",
              "DataCsumErr", "DSSNoMatchTCP", "InfiniteMapTx", "InfiniteMapRx"):
        assert r["mptcp"].get(k, 0) == 0, (k, r["mptcp"])
    a = wait_app(braid, lambda a: a["mode"] == "echo" and a["state"] == "finished")
    assert a["rx"] == r["sent"] and a["tx"] == r["sent"]
    assert a["rx_sha"] == r["sent_sha"]
    stats = braid.cli_ok("show", "mptcp", "stats")
    assert " 1 " in next(line for line in stats.splitlines() if line.startswith("established"))

    # braid's options on the wire, as Wireshark's dissector reads them.
    pcap = cap.stop()
    if r["seconds"] > SLOW_ECHO_S:
        record_testsuite_property("mptcp_echo_8mib_slow_capture",
                                  str(keep_slow_run(braid, pcap, "mptcp-echo")))
    tshark_start = time.monotonic()
    synack = tshark_fields(pcap, ["tcp.options.mptcp.version", "tcp.options.mptcp.sendkey",
                                  "tcp.options.mptcp.sha256.flag"],
                           f"ip.src=={N6_IP} && tcp.flags.syn==1 && tcp.flags.ack==1 && mptcp")
    assert len(synack) >= 1, "no SYN/ACK with MP_CAPABLE from braid"
    version, key, sha256 = synack[0]
    assert version == "1"                  # MPTCP v1
    assert key not in ("", "0", "0x0000000000000000")  # braid's key
    assert sha256 in ("1", "True")         # HMAC-SHA256
    data = tshark_fields(pcap, ["tcp.len", "tcp.options.mptcp.rawdataseqno",
                                "tcp.options.mptcp.subflowseqno", "tcp.options.mptcp.datalvllen",
                                "tcp.options.mptcp.rawdataack"],
                         f"ip.src=={N6_IP} && tcp.len>0")
    assert len(data) > 100
    for tcp_len, dsn, ssn, dll, ack in data:
        assert dsn and ssn and ack, "a data segment from braid without a DSS mapping"
        assert int(dll) in (int(tcp_len), int(tcp_len) + 1)  # +1: the DATA_FIN rides along
    missing = tshark_fields(pcap, ["frame.number"],
                            f"ip.src=={N6_IP} && (mptcp.dss.missing_mapping || "
                            f"mptcp.dss.infinite_mapping)")
    assert not missing, f"segments the dissector flags: {missing[:5]}"
    fins = tshark_fields(pcap, ["tcp.options.mptcp.datafin.flag"],
                         f"ip.src=={N6_IP} && tcp.options.mptcp.datafin.flag==1")
    assert fins, "braid sent no DATA_FIN"
    record_testsuite_property("mptcp_echo_8mib_tshark_s",
                              round(time.monotonic() - tshark_start, 1))


def test_plain_tcp_client_falls_back(lab, braid, alive):
    before = braid.cli_ok("show", "mptcp", "stats")
    r = run_client(lab, 1 * MIB, 0)
    assert r["received"] == r["sent"]
    assert r["received_sha"] == r["sent_sha"]
    after = braid.cli_ok("show", "mptcp", "stats")
    assert stat(after, "fallback_syn_no_option") == stat(before, "fallback_syn_no_option") + 1


def test_show_mptcp_and_metrics(lab, braid, alive):
    text = braid.cli_ok("show", "mptcp", "connections")
    assert text.splitlines()[0].split()[:4] == ["id", "worker", "token", "peer_token"]
    m = braid.metrics()
    assert m.value("braid_mptcp_events_total", event="established") >= 1
    assert "braid_mptcp_connections" in m


# --------------------------------------------------------------------------- two subflows


def add_second_address(lab, flags=("subflow",)):
    """A second client address and an in-kernel PM endpoint for it: Linux opens a second
    subflow from it to braid (MP_JOIN). Returns what remove_second_address() needs."""
    limits = lab.ns(lab.dn, "ip", "mptcp", "limits", "show").stdout.split()
    lab.ns(lab.dn, "ip", "addr", "add", f"{PEER2}/24", "dev", "eth0", check=True)
    lab.ns(lab.dn, "ip", "mptcp", "endpoint", "flush")
    lab.ns(lab.dn, "ip", "mptcp", "limits", "set", "subflows", "2", check=True)
    lab.ns(lab.dn, "ip", "mptcp", "endpoint", "add", PEER2, "dev", "eth0", "id", "5", *flags,
           check=True)
    # braid learns the new address before the test: it drops a frame whose next hop is not
    # resolved yet, so a join's SYN/ACK would come a retransmission (1 s) late. The kernel
    # forgets braid's MAC so that its ARP request, sent from PEER2, teaches braid PEER2's MAC
    # (an ICMP echo alone does not: braid answers it to the sender's MAC).
    lab.ns(lab.dn, "ip", "neigh", "flush", "dev", "eth0")
    assert lab.ping(lab.dn, N6_IP, count=2, extra=("-I", PEER2)).returncode == 0
    return limits


def remove_second_address(lab, limits):
    lab.ns(lab.dn, "ip", "mptcp", "endpoint", "flush")
    if len(limits) >= 4:  # "add_addr_accepted N subflows M"
        lab.ns(lab.dn, "ip", "mptcp", "limits", "set", *limits[:4])
    lab.ns(lab.dn, "ip", "addr", "del", f"{PEER2}/24", "dev", "eth0")


@pytest.fixture
def second_address(lab):
    """add_second_address() for one test, undone afterwards."""
    limits = add_second_address(lab)
    yield
    remove_second_address(lab, limits)


def start_client(lab, total, timeout, port=ECHO):
    code = CLIENT.format(host=N6_IP, port=port, total=total, proto=IPPROTO_MPTCP,
                         timeout=float(timeout))
    return subprocess.Popen(["ip", "netns", "exec", lab.dn, PYTHON, "-c", code],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_client(proc, timeout):
    out, err = proc.communicate(timeout=timeout + 30)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def subflow_rows(braid):
    """{token: [subflow rows]} for every MPTCP connection `show mptcp connections` lists."""
    text = braid.cli_ok("show", "mptcp", "connections")
    rows = {}
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) < 3:
            continue
        rows[f[2]] = connection_rows(braid, f[2])  # [] if gone meanwhile
    return rows


def watch_two_subflows(braid, proc, until_both_carried=True, limit_s=60, direction="bytes_in"):
    """Samples braid's subflow table while the client runs; returns the last sample that had
    two subflows (and, if asked, stops once both carried bytes in `direction`: "bytes_in" from
    the client, "bytes_out" from braid)."""
    seen, both = None, False
    deadline = time.monotonic() + limit_s
    while proc.poll() is None and time.monotonic() < deadline:
        for subs in subflow_rows(braid).values():
            if len(subs) >= 2:
                seen = subs
                both = both or all(x[direction] > 0 for x in subs)
        if seen is not None and (both or not until_both_carried):
            break
        time.sleep(0.2)
    return seen, both


def test_linux_mptcp_two_subflows(lab, braid, alive, second_address):
    total = 128 * MIB  # a few seconds: the join (its SYN/ACK waits for ARP) is on in time
    with lab.capture(lab.dn, "mptcp-join.pcap", bpf=f"host {PEER2}") as cap:
        proc = start_client(lab, total, 120)
        seen, both = watch_two_subflows(braid, proc)
        r = finish_client(proc, 120)
    cap.stop()
    assert r["received"] == r["sent"] == total
    assert r["received_sha"] == r["sent_sha"]
    assert r["mptcp"].get("MPJoinSynAckRx", 0) >= 1, r["mptcp"]
    assert seen is not None, "braid never listed two subflows"
    assert len(seen) == 2
    assert [x["join"] for x in seen] == ["no", "yes"]
    assert any(x["remote"].startswith(PEER2 + ":") for x in seen), seen
    assert both, f"the client's bytes did not arrive on both subflows: {seen}"
    a = wait_app(braid, lambda a: a["mode"] == "echo" and a["state"] == "finished"
                 and a["rx_sha"] == r["sent_sha"], timeout=30)
    assert a["rx"] == total and a["tx"] == total
    stats = braid.cli_ok("show", "mptcp", "stats")
    accepted = next(line for line in stats.splitlines() if line.startswith("join_accepted"))
    assert int(accepted.split()[1]) >= 1


# nftables chains that cut the second address's path both ways (see nft_table).
CUT_PEER2 = f"""
    chain in {{
        type filter hook input priority filter; policy accept;
        ip daddr {PEER2} drop
    }}
    chain out {{
        type filter hook output priority filter; policy accept;
        ip saddr {PEER2} drop
    }}"""


@contextlib.contextmanager
def nft_table(lab, name: str, chains: str):
    """An nftables table `name` with `chains` in the client's namespace while the block runs:
    the test kernels have no netem, so cuts, loss and option stripping come from here
    (scripts/setup.sh installs nftables)."""
    if shutil.which("nft") is None:
        pytest.fail("nft (nftables) is not installed: scripts/setup.sh installs it")
    cp = subprocess.run(["ip", "netns", "exec", lab.dn, "nft", "-f", "-"],
                        input=f"table inet {name} {{\n{chains}\n}}\n", capture_output=True,
                        text=True, timeout=10, check=False)
    assert cp.returncode == 0, cp.stderr
    try:
        yield
    finally:
        lab.ns(lab.dn, "nft", "delete", "table", "inet", name)


def test_linux_mptcp_subflow_path_cut(lab, braid, alive, second_address):
    total = 512 * MIB  # long enough to see both subflows carry data before the cut
    proc = start_client(lab, total, 150)
    # Both subflows carry braid's echo before the cut, so some of braid's bytes are in flight
    # on the path that dies (Linux may keep its own bytes on the first subflow).
    seen, _ = watch_two_subflows(braid, proc, until_both_carried=True, limit_s=30,
                                 direction="bytes_out")
    assert seen is not None and len(seen) == 2, (
        "no second subflow to cut: " + braid.cli_ok("show", "mptcp", "stats")
        + braid.cli_ok("show", "tcp", "stats"))
    before = braid.cli_ok("show", "mptcp", "stats")
    # The second address's path goes dead mid-transfer, both ways. (Not an `ip rule ...
    # blackhole`: a rule added later does not stop a subflow that is already sending.)
    with nft_table(lab, "braid_cut", CUT_PEER2):
        r = finish_client(proc, 150)
    assert not r["reader_alive"], "the echo did not finish after the cut"
    assert r["received"] == r["sent"] == total
    assert r["received_sha"] == r["sent_sha"]
    a = wait_app(braid, lambda a: a["mode"] == "echo" and a["state"] == "finished"
                 and a["rx_sha"] == r["sent_sha"], timeout=60)
    assert a["rx"] == total and a["tx"] == total
    # braid saw the cut subflow stall and sent its bytes again on the other one.
    after = braid.cli_ok("show", "mptcp", "stats")
    assert stat(after, "subflow_stalled") > stat(before, "subflow_stalled"), after
    assert stat(after, "tx_reinjected_bytes") > stat(before, "tx_reinjected_bytes"), after


# --------------------------------------------------------------------------- MP_FASTCLOSE

# Opens an MPTCP connection, checks one echo round trip, then waits (bounded) for braid to
# abort it; prints how the socket ended and the MPTcpExt counters that moved, as JSON.
ABORT_CLIENT = textwrap.dedent("""
    import json, socket, sys, time
    HOST, PORT = {host!r}, {port}
""") + MPTCP_COUNTERS + textwrap.dedent("""
    before = mptcp_counters()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
    s.settimeout(20)
    s.connect((HOST, PORT))
    s.sendall(b"ping")
    echo = s.recv(4)
    print("ready", flush=True)
    end = "timeout"
    try:
        end = "eof" if s.recv(1) == b"" else "data"
    except ConnectionResetError:
        end = "reset"
    except socket.timeout:
        pass
    after = mptcp_counters()
    delta = {{k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}}
    print(json.dumps({{"echo": echo.decode(), "end": end, "mptcp": delta}}))
""")


def test_braid_abort_sends_mp_fastclose_linux_resets(lab, braid, alive):
    before = braid.cli_ok("show", "mptcp", "stats")
    code = ABORT_CLIENT.format(host=N6_IP, port=ECHO)
    proc = subprocess.Popen(["ip", "netns", "exec", lab.dn, PYTHON, "-c", code],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        conns = [line.split() for line in
                 braid.cli_ok("show", "mptcp", "connections").splitlines()[1:]]
        live = [c for c in conns if len(c) > 4 and c[4] == "ESTABLISHED"]
        assert len(live) == 1, conns
        braid.cli_ok("tcp", "abort", live[0][0], "worker", live[0][1])
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    r = json.loads(out.strip().splitlines()[-1])
    assert r["echo"] == "ping"
    # Linux checked the key in braid's MP_FASTCLOSE and reset the MPTCP socket.
    assert r["end"] == "reset", r
    assert r["mptcp"].get("MPFastcloseRx", 0) >= 1, r["mptcp"]
    after = braid.cli_ok("show", "mptcp", "stats")
    assert stat(after, "fastclose_sent") == stat(before, "fastclose_sent") + 1


# --------------------------------------------------------------------------- schedulers


def two_subflow_samples(braid, proc, limit_s=60):
    """Every `show mptcp connection` sample with two established subflows while the client
    runs, oldest first."""
    samples = []
    deadline = time.monotonic() + limit_s
    while proc.poll() is None and time.monotonic() < deadline:
        for subs in subflow_rows(braid).values():
            if len(subs) == 2 and all(x["state"] == "ESTABLISHED" for x in subs):
                samples.append(subs)
        time.sleep(0.2)
    return samples


def last_two_subflow_sample(braid, proc, limit_s=60):
    """The last `show mptcp connection` sample with two subflows while the client runs."""
    samples = two_subflow_samples(braid, proc, limit_s)
    return samples[-1] if samples else None


def test_redundant_scheduler_sends_every_byte_on_both_subflows(lab, braid, alive, second_address):
    before = braid.cli_ok("show", "mptcp", "stats")
    total = 64 * MIB
    proc = start_client(lab, total, 120, port=REDUNDANT)
    subs = last_two_subflow_sample(braid, proc)
    r = finish_client(proc, 120)
    assert r["received"] == r["sent"] == total
    assert r["received_sha"] == r["sent_sha"]
    if subs is not None:  # the transfer may be over before a sample sees both
        assert sorted(x["access"] for x in subs) == ["3gpp", "non-3gpp"], subs
    after = braid.cli_ok("show", "mptcp", "stats")
    assert stat(after, "join_accepted") > stat(before, "join_accepted")
    copies = stat(after, "tx_redundant_bytes") - stat(before, "tx_redundant_bytes")
    # Bytes still un-DATA_ACKed went out a second time on the other subflow (on this
    # zero-delay link most are acknowledged before their copy's turn: those are not copied);
    # Linux received both and dropped the later one.
    assert copies > 0, copies
    assert r["mptcp"].get("DuplicateData", 0) > 0, r["mptcp"]


def test_active_standby_scheduler_keeps_to_the_active_access(lab, braid, alive, second_address):
    before = braid.cli_ok("show", "mptcp", "stats")
    total = 64 * MIB
    proc = start_client(lab, total, 120, port=STANDBY)
    subs = last_two_subflow_sample(braid, proc)
    r = finish_client(proc, 120)
    assert r["received"] == r["sent"] == total
    assert r["received_sha"] == r["sent_sha"]
    assert subs is not None, "no second subflow"
    by_access = {x["access"]: x for x in subs}
    # The first subflow (3GPP, the standby access) carried braid's bytes only until the
    # non-3GPP subflow joined; from then on the active access carried everything.
    active, standby = by_access["non-3gpp"]["bytes_out"], by_access["3gpp"]["bytes_out"]
    assert active > 4 * standby, subs
    after = braid.cli_ok("show", "mptcp", "stats")
    assert stat(after, "sched_failover") > stat(before, "sched_failover")
    assert stat(after, "tx_redundant_bytes") == stat(before, "tx_redundant_bytes")


def test_load_balancing_scheduler_splits_70_30(lab, braid, alive, second_address):
    total = 256 * MIB
    proc = start_client(lab, total, 120, port=BALANCED)
    samples = two_subflow_samples(braid, proc)
    r = finish_client(proc, 120)
    assert r["received"] == r["sent"] == total
    assert r["received_sha"] == r["sent_sha"]
    assert len(samples) >= 2, "too few samples with both subflows"
    first = {x["access"]: x["bytes_out"] for x in samples[0]}
    last = {x["access"]: x["bytes_out"] for x in samples[-1]}
    moved = {a: last[a] - first[a] for a in last}
    share = moved["3gpp"] / max(1, moved["3gpp"] + moved["non-3gpp"])
    # Between the two samples braid's bytes went 70/30 (issue 6: within ±10 %).
    assert 0.60 <= share <= 0.80, (share, moved, len(samples))


# --------------------------------------------------------------------------- ADD_ADDR / REMOVE_ADDR


def test_braid_announces_an_address_linux_joins_it(lab, braid, alive):
    """braid's ADD_ADDR (its address with another MPTCP service's port, HMAC-SHA256): Linux
    (in-kernel PM, add_addr_accepted 1) verifies and echoes it and opens a subflow to it; the
    echo runs over both subflows."""
    limits = lab.ns(lab.dn, "ip", "mptcp", "limits", "show").stdout.split()
    lab.ns(lab.dn, "ip", "mptcp", "endpoint", "flush")
    lab.ns(lab.dn, "ip", "mptcp", "limits", "set", "add_addr_accepted", "1", "subflows", "2",
           check=True)
    before = braid.cli_ok("show", "mptcp", "stats")
    try:
        proc = start_client(lab, 64 * MIB, 14, port=ADVERTISED)
        seen, both = watch_two_subflows(braid, proc, limit_s=14)
        r = finish_client(proc, 14)
    finally:
        if len(limits) >= 4:
            lab.ns(lab.dn, "ip", "mptcp", "limits", "set", *limits[:4])
    after = braid.cli_ok("show", "mptcp", "stats")
    assert r["received"] == r["sent"] and r["received_sha"] == r["sent_sha"]
    m = r["mptcp"]
    assert m.get("AddAddr", 0) >= 1, m       # Linux took the ADD_ADDR (HMAC good)
    assert m.get("MPJoinSynAckRx", 0) >= 1, m  # and joined the announced address
    assert stat(after, "add_addr_sent") > stat(before, "add_addr_sent")
    assert stat(after, "add_addr_echoed") > stat(before, "add_addr_echoed")
    assert seen is not None and both, seen
    assert any(x["local"] == f"{N6_IP}:{JOIN_PORT}" for x in seen), seen


def test_linux_announces_an_address_braid_echoes_and_honours_its_removal(lab, braid, alive):
    """Linux announces its second address (signal endpoint, also a subflow from it): braid
    verifies the HMAC and echoes (Linux counts EchoAdd); deleting the endpoint mid-transfer
    sends REMOVE_ADDR: braid's subflow from that address goes and the transfer completes."""
    limits = add_second_address(lab, flags=("signal", "subflow"))
    before = braid.cli_ok("show", "mptcp", "stats")
    try:
        proc = start_client(lab, 256 * MIB, 14)
        seen, _ = watch_two_subflows(braid, proc, until_both_carried=False, limit_s=10)
        assert seen is not None, "no second subflow"
        lab.ns(lab.dn, "ip", "mptcp", "endpoint", "delete", "id", "5", check=True)
        one = False
        deadline = time.monotonic() + 5
        while proc.poll() is None and time.monotonic() < deadline and not one:
            rows = subflow_rows(braid).values()
            one = any(len(subs) == 1 for subs in rows)
            time.sleep(0.1)
        r = finish_client(proc, 14)
    finally:
        remove_second_address(lab, limits)
    after = braid.cli_ok("show", "mptcp", "stats")
    assert r["received"] == r["sent"] and r["received_sha"] == r["sent_sha"]
    m = r["mptcp"]
    assert m.get("EchoAdd", 0) >= 1, m  # braid's echo of Linux's ADD_ADDR
    assert stat(after, "add_addr_received") > stat(before, "add_addr_received")
    assert stat(after, "add_addr_bad_hmac") == stat(before, "add_addr_bad_hmac")
    assert m.get("RmAddrTx", 0) >= 1, m
    assert stat(after, "remove_addr_received") > stat(before, "remove_addr_received")
    assert one, "the subflow from the removed address stayed"


def test_braid_withdraws_its_address_linux_removes_the_subflow(lab, braid, alive):
    """`mptcp withdraw <token> 1` mid-transfer: braid sends REMOVE_ADDR (Linux counts RmAddr)
    and resets its subflow on that address; the echo completes on the first subflow."""
    limits = lab.ns(lab.dn, "ip", "mptcp", "limits", "show").stdout.split()
    lab.ns(lab.dn, "ip", "mptcp", "endpoint", "flush")
    lab.ns(lab.dn, "ip", "mptcp", "limits", "set", "add_addr_accepted", "1", "subflows", "2",
           check=True)
    before = braid.cli_ok("show", "mptcp", "stats")
    try:
        proc = start_client(lab, 256 * MIB, 14, port=ADVERTISED)
        token, seen = None, None
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline and token is None:
            for t, subs in subflow_rows(braid).items():
                if len(subs) >= 2:
                    token, seen = t, subs
            time.sleep(0.1)
        assert token is not None, "Linux did not join the announced address"
        out = braid.cli_ok("mptcp", "withdraw", token, "1")
        assert "withdrew" in out, out
        one = False
        deadline = time.monotonic() + 5
        while proc.poll() is None and time.monotonic() < deadline and not one:
            one = len(subflow_rows(braid).get(token, [])) == 1
            time.sleep(0.1)
        r = finish_client(proc, 14)
    finally:
        if len(limits) >= 4:
            lab.ns(lab.dn, "ip", "mptcp", "limits", "set", *limits[:4])
    after = braid.cli_ok("show", "mptcp", "stats")
    assert r["received"] == r["sent"] and r["received_sha"] == r["sent_sha"]
    assert r["mptcp"].get("RmAddr", 0) >= 1, r["mptcp"]
    assert stat(after, "remove_addr_sent") > stat(before, "remove_addr_sent")
    assert stat(after, "remove_addr_subflow_reset") > stat(before, "remove_addr_subflow_reset")
    assert one, "the subflow on the withdrawn address stayed"


# --------------------------------------------------------------------------- failover time


def connection_rows(braid, token):
    """The subflow rows of one connection (subflow_rows' format), [] once it is gone."""
    rc, t = braid.cli("show", "mptcp", "connection", token)
    if rc != 0 or t.startswith("error:"):
        return []
    subs = []
    for sl in t.splitlines():
        g = sl.split()
        # index subflow local -> remote state join backup srtt_us cwnd bytes_in bytes_out access
        if len(g) == 13 and g[0].isdigit() and g[3] == "->":
            subs.append({"index": int(g[0]), "local": g[2], "remote": g[4], "state": g[5],
                         "join": g[6], "backup": g[7], "bytes_in": int(g[10]),
                         "bytes_out": int(g[11]), "access": g[12]})
    return subs


def test_active_standby_fails_over_within_1s_of_a_link_cut(lab, braid, alive, second_address):
    """Issue 6: "failover within 1 s of a link cut". Active-standby with the client's second
    address (non-3GPP) the active access; mid-transfer its path is cut both ways (nftables
    drop rules in the client's namespace): from the cut to the first of braid's bytes on the
    standby subflow (its bytes_out in `show mptcp connection`, sampled every ~50-100 ms) is
    under 1 s, and the echo completes SHA-exact.

    Not an `ip rule ... blackhole`: on this kernel a rule added later does not stop a subflow
    that is already sending (seen: the "cut" subflow went on carrying ~20 MB/s); only new
    route lookups fail."""
    before = braid.cli_ok("show", "mptcp", "stats")
    total = 128 * MIB
    proc = start_client(lab, total, 150, port=STANDBY)
    token, active_moving = None, False
    deadline = time.monotonic() + 30
    last_active = {}  # per connection: other tests' connections may linger (closing)
    while proc.poll() is None and time.monotonic() < deadline and not active_moving:
        for t, subs in subflow_rows(braid).items():
            est = [x for x in subs if x["state"] == "ESTABLISHED"
                   and x["local"] == f"{N6_IP}:{STANDBY}"]
            if len(est) == 2 and not active_moving:
                act = next(x for x in est if x["access"] == "non-3gpp")["bytes_out"]
                # The transfer runs on the active access: its bytes move between samples.
                active_moving = t in last_active and act > last_active[t] + MIB
                last_active[t] = act
                token = t
        time.sleep(0.1)
    assert token is not None and active_moving, (
        "no transfer on the active subflow: " + braid.cli_ok("show", "mptcp", "stats"))
    subs = connection_rows(braid, token)
    standby0 = next(x for x in subs if x["access"] == "3gpp")["bytes_out"]
    t_cut = time.monotonic()  # before the rules: the measured time can only be longer
    with nft_table(lab, "braid_cut", CUT_PEER2):
        t_failover, t_last_quiet, samples = watch_failover(braid, proc, token, standby0, t_cut)
        r = finish_client(proc, 150)
    assert t_failover is not None, f"braid never sent on the standby after the cut: {samples}"
    elapsed = t_failover - t_cut
    print(f"failover: braid's bytes on the standby {elapsed:.3f} s after the cut "
          f"(last quiet sample at {t_last_quiet - t_cut:.3f} s); echo {r['seconds']:.1f} s")
    # The bytes went out between the last quiet sample and this one: this one bounds it.
    assert elapsed < 1.0, (elapsed, t_last_quiet - t_cut, samples)
    assert not r["reader_alive"], "the echo did not finish after the cut"
    assert r["received"] == r["sent"] == total
    assert r["received_sha"] == r["sent_sha"]
    a = wait_app(braid, lambda a: a["mode"] == "echo" and a["state"] == "finished"
                 and a["rx_sha"] == r["sent_sha"], timeout=60)
    assert a["rx"] == total and a["tx"] == total
    after = braid.cli_ok("show", "mptcp", "stats")
    assert stat(after, "subflow_stalled") > stat(before, "subflow_stalled")
    assert stat(after, "tx_reinjected_bytes") > stat(before, "tx_reinjected_bytes")


def watch_failover(braid, proc, token, standby0, t_cut):
    """Samples the connection after the cut until the standby (3GPP) subflow's bytes_out moves
    past `standby0`: (when it moved or None, the last sample before that, the samples)."""
    t_failover, t_last_quiet, samples = None, t_cut, []
    while proc.poll() is None and time.monotonic() < t_cut + 5:
        subs = connection_rows(braid, token)
        now = time.monotonic()
        if not subs:
            break
        sb = next((x for x in subs if x["access"] == "3gpp"), None)
        samples.append((round(now - t_cut, 3), [(x["access"], x["bytes_out"]) for x in subs]))
        if sb is not None and sb["bytes_out"] > standby0:
            t_failover = now
            break
        t_last_quiet = now
        time.sleep(0.05)
    return t_failover, t_last_quiet, samples


# --------------------------------------------------------------------------- options stripped


def test_options_stripped_on_data_falls_back_to_tcp(lab, braid, alive):
    """RFC 8684 §3.7: a middlebox (an nftables rule in the client's namespace) passes the
    handshake's MPTCP options but strips them (TCP option kind 30 → NOPs) from the client's
    data segments. braid sees the first data without a DSS on the only subflow and falls back
    to plain TCP (`fallback_no_dss`, an infinite mapping on its first data); Linux falls back
    on braid's ACKs without a DATA_ACK. The echo completes SHA-exact."""
    # Segments over 100 bytes of IP: data (the MSS-sized chunks the client sends), not the
    # third ACK (72 bytes with MP_CAPABLE and timestamps) nor pure ACKs.
    rules = f"""
            chain out {{
                type filter hook output priority mangle; policy accept;
                ip daddr {N6_IP} tcp dport {ECHO} ip length > 100 reset tcp option mptcp
            }}"""
    before = braid.cli_ok("show", "mptcp", "stats")
    with nft_table(lab, "braid_strip", rules):
        r = run_client(lab, 8 * MIB, IPPROTO_MPTCP, timeout=60)
    after = braid.cli_ok("show", "mptcp", "stats")
    assert not r["reader_alive"], "the echo did not finish"
    assert r["received"] == r["sent"] == 8 * MIB
    assert r["received_sha"] == r["sent_sha"]
    assert r["mptcp"].get("MPCapableSYNACKRX", 0) == 1, r["mptcp"]  # the handshake was MPTCP
    assert stat(after, "fallback_no_dss") == stat(before, "fallback_no_dss") + 1, after
    assert stat(after, "established") == stat(before, "established") + 1
    assert stat(after, "fallback_third_ack") == stat(before, "fallback_third_ack")
    assert stat(after, "reset_protocol") == stat(before, "reset_protocol")
    a = wait_app(braid, lambda a: a["mode"] == "echo" and a["state"] == "finished"
                 and a["rx_sha"] == r["sent_sha"], timeout=30)
    assert a["rx"] == a["tx"] == 8 * MIB


# --------------------------------------------------------------------------- long transfers


@pytest.mark.timeout(1200)  # the BRAID_LONG size; 100 MiB takes well under a minute
def test_long_transfer_both_ways_over_two_subflows(lab, braid, alive, second_address):
    """Issue 6: 1 GiB both ways over two subflows, SHA-256 verified; CI runs 100 MiB, the full
    size with `scripts/test.sh --long` (BRAID_LONG=1). braid echoes: every byte goes up and
    comes back; both subflows carried data in each direction (braid's per-subflow bytes)."""
    total = (1024 if long_run() else 100) * MIB
    limit = 900 if long_run() else 120
    older = set(subflow_rows(braid))  # other tests' connections that may linger
    proc = start_client(lab, total, limit)
    seen_in, seen_out, token = set(), set(), None
    deadline = time.monotonic() + limit
    while proc.poll() is None and time.monotonic() < deadline:
        for t, subs in subflow_rows(braid).items():
            if t not in older and (token is None or t == token):
                token = t
                seen_in |= {x["index"] for x in subs if x["bytes_in"] > 0}
                seen_out |= {x["index"] for x in subs if x["bytes_out"] > 0}
        time.sleep(0.5)
    r = finish_client(proc, limit)
    assert not r["reader_alive"], "the echo did not finish"
    assert r["received"] == r["sent"] == total
    assert r["received_sha"] == r["sent_sha"]
    assert r["mptcp"].get("MPJoinSynAckRx", 0) >= 1, r["mptcp"]
    assert token is not None, "braid never listed the connection"
    assert len(seen_in) >= 2, f"the client's bytes came on subflows {seen_in} only"
    assert len(seen_out) >= 2, f"braid's bytes went on subflows {seen_out} only"
    a = wait_app(braid, lambda a: a["mode"] == "echo" and a["state"] == "finished"
                 and a["rx_sha"] == r["sent_sha"], timeout=60)
    assert a["rx"] == a["tx"] == total


# --------------------------------------------------------------------------- PLR threshold


def test_active_standby_leaves_a_lossy_active_access(lab, braid, alive, second_address):
    """The PLR threshold (TS 29.244 Thresholds): an nftables rule in the client's namespace
    drops 15 % of braid's segments to the client's second address (the active, non-3GPP
    access; netem is not in the test kernels). braid's loss estimate for that subflow passes
    the service's 3 % threshold and active-standby moves new data to the standby access
    (`sched_failover_plr`); the echo completes SHA-exact. (Before braid resent data a subflow
    had acknowledged but the peer never DATA_ACKed, this echo stalled for over 150 s in 2 of 4
    runs at 15 %; 7 of 7 runs passed in 12-14 s after.)"""
    rules = f"""
            chain in {{
                type filter hook input priority filter; policy accept;
                ip daddr {PEER2} tcp sport {LOSSY} numgen random mod 100 < 15 drop
            }}"""
    before = braid.cli_ok("show", "mptcp", "stats")
    total = 128 * MIB
    with nft_table(lab, "braid_loss", rules):
        proc = start_client(lab, total, 150, port=LOSSY)
        # The last bytes_out seen per subflow of the connection (whatever their state: a
        # subflow may end before the transfer does).
        last = {}
        deadline = time.monotonic() + 150
        while proc.poll() is None and time.monotonic() < deadline:
            for t, rows in subflow_rows(braid).items():
                for x in rows:
                    if x["local"] == f"{N6_IP}:{LOSSY}":  # not other tests' lingering ones
                        last[(t, x["index"])] = x
            time.sleep(0.2)
        r = finish_client(proc, 150)
    subs = list(last.values())
    print("lossy active access:", [(x["access"], x["state"], x["bytes_out"]) for x in subs])
    after = braid.cli_ok("show", "mptcp", "stats")
    assert r["received"] == r["sent"] == total
    assert r["received_sha"] == r["sent_sha"]
    assert len(subs) >= 2, f"no second subflow: {subs}"
    assert stat(after, "sched_failover_plr") > stat(before, "sched_failover_plr"), after
    by_access = {}
    for x in subs:
        by_access.setdefault(x["access"], {"bytes_out": 0})["bytes_out"] += x["bytes_out"]
    # The standby access (3GPP, the first subflow) carried more than the lossy active one
    # (without the threshold the active access carries > 4x the standby's bytes:
    # test_active_standby_scheduler_keeps_to_the_active_access).
    assert by_access["3gpp"]["bytes_out"] > by_access["non-3gpp"]["bytes_out"], subs
