"""Process lifecycle: clean stop on SIGTERM, config errors exit 2 naming key and line,
--print-default-config."""

from __future__ import annotations

import subprocess
import time

import pytest
import yaml
from conftest import BRAID, N3_IP, run

STOP_FAST_S = 5.0


def test_sigterm_exits_zero_quickly(braid_factory, lab):
    b = braid_factory()
    assert lab.ping(lab.gnb, N3_IP, count=1, wait=2).returncode == 0
    t0 = time.monotonic()
    rc = b.stop(timeout=15)
    took = time.monotonic() - t0
    assert rc == 0, f"exit code {rc} on SIGTERM\n--- log\n{b.log()}"
    assert took < STOP_FAST_S, f"SIGTERM took {took:.1f}s (limit {STOP_FAST_S}s)"


def test_sigterm_under_traffic(braid_factory, lab):
    b = braid_factory()
    ping = subprocess.Popen(["ip", "netns", "exec", lab.gnb, "ping", "-n", "-q", "-i", "0.01",
                             "-c", "500", "-W", "1", N3_IP],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        t0 = time.monotonic()
        rc = b.stop(timeout=15)
        took = time.monotonic() - t0
    finally:
        if ping.poll() is None:
            ping.kill()  # by PID
        ping.wait(timeout=5)
    assert rc == 0, f"exit code {rc} on SIGTERM under traffic\n--- log\n{b.log()}"
    assert took < STOP_FAST_S, f"SIGTERM under traffic took {took:.1f}s"


def test_restart_after_stop(braid_factory, lab):
    """A second instance starts on the same interfaces after the first stopped (no leftovers)."""
    b1 = braid_factory()
    assert b1.stop() == 0
    b2 = braid_factory()
    cp = lab.ping(lab.gnb, N3_IP, count=2, wait=2)
    assert cp.returncode == 0, cp.stdout
    assert b2.stop() == 0


def test_print_default_config():
    cp = run([BRAID, "--print-default-config"], timeout=10)
    assert cp.returncode == 0, cp.stderr
    cfg = yaml.safe_load(cp.stdout)
    assert isinstance(cfg, dict), cp.stdout
    for key in ("eal", "ports", "workers", "cli", "metrics", "log"):
        assert key in cfg, f"default config lacks '{key}':\n{cp.stdout}"
    assert cfg["ports"], "default config has no ports"
    for p in cfg["ports"]:
        assert "vdev" in p and not p.get("pci"), f"default port is not a vdev: {p}"
    assert cfg["eal"].get("no_huge") is True, cfg["eal"]


def test_default_config_passes_check(tmp_path):
    """The printed default is accepted by braid's own parser (not started: it uses net_tap)."""
    cp = run([BRAID, "--print-default-config"], timeout=10)
    p = tmp_path / "default.yaml"
    p.write_text(cp.stdout)
    cp = run([BRAID, "--check-config", "--config", p], timeout=10)
    assert cp.returncode == 0, f"--check-config rejected the default:\n{cp.stdout}{cp.stderr}"


def test_check_config_rejects_bad(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("ports:\n  - name: n3\n    role: n3\n    vdev: net_null0\n    mtu: 99999\n")
    cp = run([BRAID, "--check-config", "--config", p], timeout=10)
    assert cp.returncode == 2, f"exit {cp.returncode}\n{cp.stdout}{cp.stderr}"
    assert "ports[0].mtu" in cp.stderr and "line 5" in cp.stderr, cp.stderr


def _line_of(text: str, needle: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in config text")


def _bad_config(braid_factory, mutate):
    b = braid_factory(start=False)
    cfg = b.config
    mutate(cfg)
    text = yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False)
    b.config_path.write_text(text)
    return b, text


BAD = {
    # name: (mutation, key path expected in the message, text on the offending line)
    "bad_ipv4": (lambda c: c["ports"][0].update(ipv4="300.1.1.1/24"), "ports[0].ipv4",
                 "300.1.1.1/24"),
    "unknown_key": (lambda c: c["eal"].update(bogus_option=1), "eal.bogus_option",
                    "bogus_option"),
    "wrong_type": (lambda c: c["mempool"].update(mbufs_per_port="many"),
                   "mempool.mbufs_per_port", "many"),
    "bad_log_level": (lambda c: c["log"].update(level="loud"), "log.level", "loud"),
    "bad_role": (lambda c: c["ports"][1].update(role="n9"), "ports[1].role", "n9"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_config_exits_2(braid_factory, case):
    mutate, key, needle = BAD[case]
    b, text = _bad_config(braid_factory, mutate)
    line = _line_of(text, needle)
    cp = run([BRAID, "--config", b.config_path], timeout=15)
    assert cp.returncode == 2, (f"exit {cp.returncode} (expected 2)\nstdout: {cp.stdout}\n"
                                f"stderr: {cp.stderr}\n--- config\n{text}")
    assert key in cp.stderr, f"stderr does not name key {key}:\n{cp.stderr}"
    assert f"line {line}" in cp.stderr, f"stderr does not give line {line}:\n{cp.stderr}"


def test_yaml_syntax_error_exits_2(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("eal:\n  main_lcore: 0\n  file_prefix: [unclosed\nports: []\n")
    cp = run([BRAID, "--config", p], timeout=15)
    assert cp.returncode == 2, f"exit {cp.returncode}\n{cp.stdout}{cp.stderr}"
    assert "line" in cp.stderr, cp.stderr


def test_missing_config_file_exits_2(tmp_path):
    cp = run([BRAID, "--config", tmp_path / "nope.yaml"], timeout=15)
    assert cp.returncode == 2, f"exit {cp.returncode}\n{cp.stdout}{cp.stderr}"
    assert "nope.yaml" in cp.stderr, cp.stderr
