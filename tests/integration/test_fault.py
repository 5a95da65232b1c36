"""The fault-injection stage (issue 5): `set fault n6 rx drop ...` makes ping lose about that share
of its requests, the drops show under reason fault_injected, and `clear fault` restores 0 % loss."""

from __future__ import annotations

import re

from conftest import N6_IP


def _loss_pct(cp) -> float:
    m = re.search(r"(\d+(?:\.\d+)?)% packet loss", cp.stdout)
    assert m, f"no loss figure in ping output:\n{cp.stdout}{cp.stderr}"
    return float(m.group(1))


def _ping_dn(lab, count):
    return lab.ping(lab.dn, N6_IP, count=count, interval=0.01, wait=1, extra=("-q",), timeout=30)


def test_fault_drop_on_n6_rx_then_clear(lab, alive):
    braid = alive
    assert _loss_pct(_ping_dn(lab, 3)) == 0.0  # ARP resolved, path clean

    out = braid.cli_ok("set", "fault", "n6", "rx", "drop", "40", "seed", "7")
    assert "drop 40.0" in out, out
    assert "n6 rx: drop 40.0 seed 7" in braid.cli_ok("show", "fault")

    loss = _loss_pct(_ping_dn(lab, 200))
    # Binomial(200, 0.4): standard deviation ~7 %; the seed makes the run repeatable anyway.
    assert 25.0 <= loss <= 55.0, f"loss {loss} % with drop 40 % on n6 rx"

    drops = braid.cli_ok("show", "drops")
    m = re.search(r"fault_injected\s+(\d+)", drops)
    assert m and int(m.group(1)) >= 50, drops
    metrics = braid.metrics()
    dropped = metrics.value("braid_fault_packets_total", port="n6", direction="rx",
                            action="dropped")
    seen = metrics.value("braid_fault_packets_total", port="n6", direction="rx", action="seen")
    assert dropped == int(m.group(1))
    assert seen >= 200

    assert "off" in braid.cli_ok("clear", "fault")
    assert "n6 rx: off" in braid.cli_ok("show", "fault")
    assert _loss_pct(_ping_dn(lab, 50)) == 0.0


def test_fault_cli_rejects_bad_settings(alive):
    braid = alive
    rc, out = braid.cli("set", "fault", "n6", "rx", "drop", "101")
    assert "error: drop: expected a percentage" in out, out
    rc, out = braid.cli("set", "fault", "n6", "rx", "loss", "1")
    assert "unknown key 'loss'" in out, out
    assert "n6 rx: off" in braid.cli_ok("show", "fault")  # nothing applied
