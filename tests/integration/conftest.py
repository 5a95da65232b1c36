"""Integration test fixtures: a network-namespace lab (scripts/lab.sh) and a running braid.

Topology per test module (NAME is unique per module and per pytest process):

    NAME-gnb: eth0 198.18.0.2/24 2001:db8:3::2/64  <-veth->  NAME-n3 (root ns) = braid port n3
    NAME-dn:  eth0 198.19.0.2/24 2001:db8:6::2/64  <-veth->  NAME-n6 (root ns) = braid port n6

braid owns 198.18.0.1 / 2001:db8:3::1 (n3) and 198.19.0.1 / 2001:db8:6::1 (n6).

Every subprocess call has a timeout; braid is stopped with SIGTERM and must exit 0.
Missing prerequisites fail the tests with a clear message (never a silent skip).
"""

from __future__ import annotations

import copy
import itertools
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BRAID_BUILD_DIR", str(ROOT / "build")))
BRAID = BUILD / "braid"
BRAID_CLI = BUILD / "braid-cli"
LAB_SH = ROOT / "scripts" / "lab.sh"
PYTHON = "/usr/bin/python3"

GNB_IP, GNB_IP6 = "198.18.0.2", "2001:db8:3::2"
DN_IP, DN_IP6 = "198.19.0.2", "2001:db8:6::2"
N3_IP, N3_IP6 = "198.18.0.1", "2001:db8:3::1"
N6_IP, N6_IP6 = "198.19.0.1", "2001:db8:6::1"

START_TIMEOUT_S = 20
STOP_TIMEOUT_S = 15

_lab_ids = itertools.count()
_braid_ids = itertools.count()


# --------------------------------------------------------------------------- helpers


def long_run() -> bool:
    """`scripts/test.sh --long` (env BRAID_LONG=1): tests run their full-size variants (issue 6:
    1 GB MPTCP transfers) instead of the CI sizes."""
    return os.environ.get("BRAID_LONG") == "1"


def run(cmd, timeout=10, check=False, input=None, env=None):
    """Run a command with a timeout; returns CompletedProcess (text, stdout/stderr captured)."""
    try:
        cp = subprocess.run(
            [str(c) for c in cmd],
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            env=env,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"command timed out after {timeout}s: {' '.join(map(str, cmd))}\n"
                    f"stdout: {e.stdout!r}\nstderr: {e.stderr!r}")
    if check and cp.returncode != 0:
        pytest.fail(f"command failed (rc={cp.returncode}): {' '.join(map(str, cmd))}\n"
                    f"stdout: {cp.stdout}\nstderr: {cp.stderr}")
    return cp


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text: str):
    """Prometheus text format -> list of (name, labels dict, value). Comments are ignored."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$", line)
        if not m:
            raise AssertionError(f"unparseable metrics line: {line!r}")
        labels = {k: bytes(v, "utf-8").decode("unicode_escape") for k, v in
                  _LABEL_RE.findall(m.group(3) or "")}
        out.append((m.group(1), labels, float(m.group(4))))
    return out


class Metrics:
    """A parsed scrape. m.value(name, **labels) sums the samples whose labels include `labels`."""

    def __init__(self, text: str):
        self.text = text
        self.samples = parse_prometheus(text)

    def names(self):
        return {n for n, _, _ in self.samples}

    def find(self, name, **labels):
        return [(lab, v) for n, lab, v in self.samples
                if n == name and all(lab.get(k) == str(v2) for k, v2 in labels.items())]

    def value(self, name, **labels) -> float:
        return sum(v for _, v in self.find(name, **labels))

    def __contains__(self, name):
        return name in self.names()


# --------------------------------------------------------------------------- lab


class Capture:
    """tcpdump -w inside a namespace; use as a context manager or call start()/stop()."""

    def __init__(self, ns: str, path: Path, iface: str = "eth0", bpf: str = ""):
        self.ns, self.path, self.iface, self.bpf = ns, Path(path), iface, bpf
        self.proc = None

    def start(self):
        cmd = ["ip", "netns", "exec", self.ns, "tcpdump", "-i", self.iface, "-n", "-U",
               "--immediate-mode", "-s", "0", "-w", str(self.path)]
        if self.bpf:
            cmd += self.bpf.split()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        buf = b""
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stderr], [], [], 0.2)
            if r:
                chunk = os.read(self.proc.stderr.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
                if b"listening on" in buf:
                    return self
            if self.proc.poll() is not None:
                break
        self.stop()
        pytest.fail(f"tcpdump in {self.ns} did not start: {buf.decode(errors='replace')}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            time.sleep(0.3)  # let the last packets reach the capture
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # by PID (Popen), never by name
                self.proc.wait(timeout=5)
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        return self.path

    def packets(self):
        from scapy.all import rdpcap  # noqa: PLC0415 (slow import, only when needed)

        self.stop()
        if not self.path.exists():
            return []
        return list(rdpcap(str(self.path)))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Lab:
    def __init__(self, name: str, workdir: Path):
        assert len(name) <= 8, name
        self.name = name
        self.gnb = f"{name}-gnb"
        self.dn = f"{name}-dn"
        self.n3 = f"{name}-n3"
        self.n6 = f"{name}-n6"
        self.workdir = workdir

    def up(self):
        run(["bash", LAB_SH, "up", self.name], timeout=30, check=True)

    def down(self):
        run(["bash", LAB_SH, "down", self.name], timeout=30, check=True)

    def ns(self, ns: str, *cmd, timeout=10, check=False):
        return run(["ip", "netns", "exec", ns, *cmd], timeout=timeout, check=check)

    def py(self, ns: str, code: str, timeout=30, check=True):
        """Run a Python snippet with Debian's python3 inside a namespace."""
        return run(["ip", "netns", "exec", ns, PYTHON, "-c", code], timeout=timeout, check=check)

    def sendp(self, ns: str, frames, iface="eth0", timeout=30):
        """Send raw Ethernet frames (bytes or scapy packets) with scapy's sendp inside `ns`."""
        hexes = [bytes(f).hex() for f in frames]
        code = (
            "import logging\n"
            "logging.getLogger('scapy.runtime').setLevel(logging.ERROR)\n"
            "from scapy.packet import Raw\n"
            "from scapy.sendrecv import sendp\n"
            f"frames = [Raw(bytes.fromhex(h)) for h in {hexes!r}]\n"
            f"sendp(frames, iface={iface!r}, verbose=False)\n"
            "print('sent', len(frames))\n"
        )
        return self.py(ns, code, timeout=timeout)

    def mac(self, ifname: str, ns: str | None = None) -> str:
        cmd = ["ip", "-o", "link", "show", "dev", ifname]
        cp = run(["ip", "netns", "exec", ns, *cmd] if ns else cmd, check=True)
        m = re.search(r"link/ether ([0-9a-f:]{17})", cp.stdout)
        assert m, cp.stdout
        return m.group(1)

    def ping(self, ns: str, dst: str, count=3, interval=0.2, wait=1, extra=(), timeout=20):
        return self.ns(ns, "ping", "-n", "-c", str(count), "-i", str(interval), "-W", str(wait),
                       *extra, dst, timeout=timeout)

    def capture(self, ns: str, fname: str, iface="eth0", bpf=""):
        return Capture(ns, self.workdir / fname, iface=iface, bpf=bpf)


# --------------------------------------------------------------------------- braid


def lab_config(lab: Lab, workdir: Path, file_prefix: str, metrics_port: int) -> dict:
    """The test configuration for one braid attached to `lab`."""
    return {
        "eal": {"main_lcore": 0, "file_prefix": file_prefix, "no_huge": True,
                "memory_mb": 512, "no_pci": True},
        "ports": [
            {"name": "n3", "role": "n3", "vdev": f"net_af_packet0,iface={lab.n3}",
             "ipv4": "198.18.0.1/24", "ipv6": "2001:db8:3::1/64", "gateway_ipv4": GNB_IP},
            {"name": "n6", "role": "n6", "vdev": f"net_af_packet1,iface={lab.n6}",
             "ipv4": "198.19.0.1/24", "ipv6": "2001:db8:6::1/64", "gateway_ipv4": DN_IP},
        ],
        "workers": {"lcores": [1]},
        "mempool": {"mbufs_per_port": 4095},
        "cli": {"socket_path": str(workdir / "cli.sock")},
        "metrics": {"listen": {"address": "127.0.0.1", "port": metrics_port}},
        "pfcp": {"enabled": False},
        "log": {"level": "info"},
    }


def deep_update(base: dict, over: dict) -> dict:
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            deep_update(base[k], v)
        else:
            base[k] = v
    return base


class _FanoutCollision(Exception):
    pass


class Braid:
    def __init__(self, lab: Lab, workdir: Path, overrides: dict | None = None,
                 extra_args=()):
        self.lab = lab
        self.id = next(_braid_ids)
        self.workdir = Path(tempfile.mkdtemp(prefix=f"braid{self.id}-", dir=workdir))
        self.file_prefix = f"braid-{lab.name}-{self.id}"
        self.metrics_port = free_tcp_port()
        self.config = lab_config(lab, self.workdir, self.file_prefix, self.metrics_port)
        if overrides:
            deep_update(self.config, copy.deepcopy(overrides))
        self.socket = self.config["cli"]["socket_path"]
        self.config_path = self.workdir / "braid.yaml"
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        self.log_path = self.workdir / "braid.log"
        self.extra_args = list(extra_args)
        self.proc = None
        self.returncode = None

    @property
    def pid(self):
        return self.proc.pid

    def start(self, attempts=3):
        # DPDK's af_packet PMD joins a PACKET_FANOUT group whose id is (pid ^ ifindex) & 0xffff;
        # the ids are global to the network namespace, so another braid on this machine (other
        # test runs) holding the same id on another device makes the join fail (EINVAL). A new
        # process has a new pid: start again.
        for attempt in range(attempts):
            try:
                return self._start_once()
            except _FanoutCollision as e:
                self._cleanup_runtime()
                if attempt == attempts - 1:
                    pytest.fail(f"braid exited during start-up {attempts} times: PACKET_FANOUT "
                                f"group id collisions\n--- log\n{e}")
        return self

    def _start_once(self):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(BRAID), "--config", str(self.config_path), *self.extra_args],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            cwd=self.workdir)
        deadline = time.monotonic() + START_TIMEOUT_S
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._close_log()
                if "could not set PACKET_FANOUT" in self.log():
                    raise _FanoutCollision(self.log())
                pytest.fail(f"braid exited with {self.proc.returncode} during start-up\n"
                            f"--- config\n{self.config_path.read_text()}--- log\n{self.log()}")
            if os.path.exists(self.socket):
                rc, out = self.cli("show", "version", timeout=3, fail_on_timeout=False)
                if rc == 0:
                    return self
                last = out
            time.sleep(0.2)
        self.kill()
        pytest.fail(f"braid did not answer 'show version' on {self.socket} within "
                    f"{START_TIMEOUT_S}s (last answer: {last!r})\n--- log\n{self.log()}")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cli(self, *words, timeout=10, fail_on_timeout=True):
        """Run `braid-cli -s SOCKET words...` -> (rc, stdout + stderr)."""
        cmd = [str(BRAID_CLI), "-s", self.socket, *map(str, words)]
        try:
            cp = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            if fail_on_timeout:
                pytest.fail(f"braid-cli timed out after {timeout}s: {' '.join(words)}")
            return -1, "timeout"
        return cp.returncode, cp.stdout + cp.stderr

    def cli_ok(self, *words, timeout=10) -> str:
        rc, out = self.cli(*words, timeout=timeout)
        assert rc == 0, f"'{' '.join(map(str, words))}' -> rc={rc}: {out}"
        assert not out.startswith("error:"), out
        return out

    def metrics_text(self, timeout=5) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=timeout) as r:
            assert r.status == 200, r.status
            return r.read().decode()

    def metrics(self) -> Metrics:
        return Metrics(self.metrics_text())

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"

    def _close_log(self):
        if getattr(self, "_log", None) and not self._log.closed:
            self._log.close()

    def kill(self):
        if self.running():
            self.proc.kill()  # SIGKILL by PID
            self.proc.wait(timeout=10)
        self._close_log()
        self._cleanup_runtime()

    def stop(self, timeout=STOP_TIMEOUT_S) -> int:
        """SIGTERM and wait; returns the exit code. Fails the test if braid hangs."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                pytest.fail(f"braid (pid {self.proc.pid}) did not exit within {timeout}s of "
                            f"SIGTERM; killed\n--- log\n{self.log()}")
        self.returncode = self.proc.returncode
        self._close_log()
        self._cleanup_runtime()
        return self.returncode

    def _cleanup_runtime(self):
        # EAL runtime directory of this instance only (unique --file-prefix).
        shutil.rmtree(f"/var/run/dpdk/{self.file_prefix}", ignore_errors=True)


# --------------------------------------------------------------------------- fixtures


def _missing_prerequisites():
    problems = []
    if os.geteuid() != 0:
        problems.append("integration tests must run as root (network namespaces, AF_PACKET)")
    for b in (BRAID, BRAID_CLI):
        if not os.access(b, os.X_OK):
            problems.append(f"{b} is missing: build first (scripts/setup.sh)")
    for tool in ("ip", "tcpdump", "arping", "ping", "ethtool"):
        if shutil.which(tool) is None:
            problems.append(f"'{tool}' not found: run scripts/setup.sh")
    if not os.access(PYTHON, os.X_OK):
        problems.append(f"{PYTHON} not found")
    return problems


def pytest_sessionstart(session):
    """Missing prerequisites stop the whole run with one clear message (never silent skips)."""
    if session.config.option.collectonly:
        return
    problems = _missing_prerequisites()
    if problems:
        pytest.exit("integration prerequisites missing:\n  " + "\n  ".join(problems),
                    returncode=1)


@pytest.fixture(scope="module")
def workdir():
    d = Path(tempfile.mkdtemp(prefix="braid-it-", dir="/tmp"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def lab(workdir):
    """A fresh namespace lab for this test module."""
    name = f"b{os.getpid() % 1000:03d}{next(_lab_ids):02d}"
    lab = Lab(name, workdir)
    lab.up()
    try:
        yield lab
    finally:
        lab.down()


def stopping_each_test(braid_factory):
    """For a module whose tests each start their own braid: a function-scoped `braid_factory`
    that stops every braid the test started when the test ends, passed or failed
    (`yield from stopping_each_test(braid_factory)`). The module's factory stops them only at
    the module's end, and a braid left running shares the lab's ports with the next test's
    braid: both answer every packet, and one failed test fails all the later ones."""
    started = []

    def factory(*args, **kwargs):
        b = braid_factory(*args, **kwargs)
        started.append(b)
        return b

    yield factory
    for b in started:
        if b.proc is not None and b.returncode is None:
            b.stop()


@pytest.fixture(scope="module")
def braid_factory(lab, workdir):
    """Start braid instances on the module's lab; all are stopped (and must exit 0) at the end."""
    started = []

    def factory(overrides=None, extra_args=(), start=True):
        b = Braid(lab, workdir, overrides=overrides, extra_args=extra_args)
        started.append(b)
        return b.start() if start else b

    yield factory
    problems = []
    for b in started:
        if b.proc is None or b.returncode is not None:
            continue
        rc = b.stop()
        if rc != 0:
            problems.append(f"braid pid {b.pid} exited with {rc} on SIGTERM\n--- log\n{b.log()}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def braid(braid_factory):
    """One braid running on the module's lab for the whole module."""
    return braid_factory()


@pytest.fixture
def alive(braid):
    """Asserts after the test that braid is still running (no crash during the test)."""
    yield braid
    assert braid.running(), f"braid died during the test\n--- log\n{braid.log()}"
