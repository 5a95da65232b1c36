"""Prometheus endpoint: families, labels, and counters that move with traffic."""

from __future__ import annotations

import time

from conftest import N3_IP, N6_IP

FAMILIES = {
    "braid_build_info": {"version"},
    "braid_port_rx_packets_total": {"port", "queue"},
    "braid_port_tx_packets_total": {"port"},
    "braid_port_rx_bytes_total": {"port"},
    "braid_worker_busy_cycles_total": {"worker"},
    "braid_worker_idle_cycles_total": {"worker"},
    "braid_graph_node_objects_total": {"node", "worker"},
    "braid_drop_packets_total": {"reason"},
}

DROP_REASONS = ("runt_frame", "unknown_ethertype", "ipv4_bad_checksum", "ipv4_bad_header",
                "arp_not_for_us")


def test_families_and_labels(alive):
    m = alive.metrics()
    for fam, labels in FAMILIES.items():
        samples = m.find(fam)
        assert samples, f"metric family {fam} missing; have: {sorted(m.names())}"
        for lab, _ in samples:
            assert labels <= set(lab), f"{fam} sample lacks labels {labels - set(lab)}: {lab}"


def test_text_format_has_help_and_type(alive):
    text = alive.metrics_text()
    for fam in FAMILIES:
        assert f"# TYPE {fam} " in text, f"no TYPE line for {fam}"
        assert f"# HELP {fam} " in text, f"no HELP line for {fam}"
    for fam in FAMILIES:
        if fam.endswith("_total"):
            assert f"# TYPE {fam} counter" in text, f"{fam} is not a counter"


def test_build_info(alive):
    m = alive.metrics()
    (lab, v), *_ = m.find("braid_build_info")
    assert v == 1
    assert lab["version"], lab


def test_port_and_worker_labels(alive):
    m = alive.metrics()
    assert m.find("braid_port_rx_packets_total", port="n3", queue="0"), m.text
    assert m.find("braid_port_rx_packets_total", port="n6", queue="0"), m.text
    # One `worker` label value per configured worker (braid labels workers by index: "0" for
    # the worker on lcore 1).
    nworkers = len(alive.config["workers"]["lcores"])
    for fam in ("braid_worker_busy_cycles_total", "braid_worker_idle_cycles_total"):
        workers = {lab["worker"] for lab, _ in m.find(fam)}
        assert len(workers) == nworkers, f"{fam}: worker labels {workers}, {nworkers} workers"


def test_drop_reasons_all_exported(alive):
    """Every drop reason is exported (even at zero), so dashboards and rate() work at once."""
    m = alive.metrics()
    reasons = {lab.get("reason") for lab, _ in m.find("braid_drop_packets_total")}
    for r in DROP_REASONS:
        assert r in reasons, f"drop reason {r} not exported; have {sorted(reasons)}"


def test_counters_increase_with_pings(lab, alive):
    m0 = alive.metrics()
    cp = lab.ping(lab.gnb, N3_IP, count=5)
    assert cp.returncode == 0, cp.stdout
    cp = lab.ping(lab.dn, N6_IP, count=5)
    assert cp.returncode == 0, cp.stdout
    time.sleep(0.3)
    m1 = alive.metrics()
    for port in ("n3", "n6"):
        for fam, n in (("braid_port_rx_packets_total", 5), ("braid_port_tx_packets_total", 5),
                       ("braid_port_rx_bytes_total", 5 * 98)):
            d = m1.value(fam, port=port) - m0.value(fam, port=port)
            assert d >= n, f"{fam}{{port={port}}} grew by {d}, expected >= {n}"
    for fam in ("braid_worker_busy_cycles_total", "braid_worker_idle_cycles_total"):
        d = m1.value(fam) - m0.value(fam)
        assert d > 0, f"{fam} did not grow"
    d = m1.value("braid_graph_node_objects_total") - m0.value("braid_graph_node_objects_total")
    assert d >= 20, f"graph node objects grew by {d} for 20 packets in"


def test_counters_are_monotonic(alive):
    a = alive.metrics()
    time.sleep(0.5)
    b = alive.metrics()
    for name, lab, v in a.samples:
        if not name.endswith("_total"):
            continue
        later = [v2 for lab2, v2 in b.find(name, **lab) if lab2 == lab]
        assert later, f"{name}{lab} disappeared between scrapes"
        assert later[0] >= v, f"{name}{lab} went down: {v} -> {later[0]}"


def test_metrics_404_elsewhere(alive):
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(f"http://127.0.0.1:{alive.metrics_port}/nope", timeout=5)
    except urllib.error.HTTPError as e:
        assert e.code == 404
    else:
        raise AssertionError("GET /nope did not fail")
