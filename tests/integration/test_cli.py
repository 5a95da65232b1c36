"""The CLI over its UNIX socket (build/braid-cli -s SOCKET ...): every command answers, errors
start with `error:` and exit 3, and braid keeps running."""

from __future__ import annotations

import re

import pytest
import yaml

OK_COMMANDS = [
    ("show", "version"),
    ("show", "config"),
    ("show", "port", "info", "all"),
    ("show", "port", "info", "0"),
    ("show", "port", "info", "1"),
    ("show", "port", "stats", "all"),
    ("show", "port", "stats", "0"),
    ("show", "port", "xstats", "all"),
    ("show", "port", "xstats", "1"),
    ("clear", "port", "stats"),
    ("show", "lcores"),
    ("show", "graph"),
    ("show", "graph", "dot"),
    ("show", "neighbors"),
    ("show", "drops"),
    ("show", "handoff"),
    ("show", "flows"),
    ("show", "flows", "5"),
    ("help",),
]

BAD_COMMANDS = [
    ("frobnicate",),
    ("show",),
    ("show", "bogus"),
    ("show", "port", "stats", "99"),
    ("show", "port", "info", "not-a-port"),
    ("show", "port", "bogus", "all"),
    ("show", "graph", "bogus"),
    ("show", "flows", "-1"),
    ("show", "handoff", "bogus"),
    ("clear", "bogus"),
    ("set", "log"),
    ("set", "log", "dataplane"),
    ("set", "log", "dataplane", "loud"),
    ("set", "log", "no_such_component", "debug"),
]


@pytest.mark.parametrize("words", OK_COMMANDS, ids=lambda w: "_".join(w))
def test_command_answers(alive, words):
    out = alive.cli_ok(*words)
    assert out.strip(), f"empty answer to {' '.join(words)}"


@pytest.mark.parametrize("words", BAD_COMMANDS, ids=lambda w: "_".join(w))
def test_bad_command_errors(alive, words):
    rc, out = alive.cli(*words)
    assert rc == 3, f"'{' '.join(words)}' -> rc={rc} (expected 3): {out}"
    assert out.lstrip().startswith("error:"), f"answer does not start with 'error:': {out!r}"
    # braid keeps running and answering.
    alive.cli_ok("show", "version")


def test_version_names_braid(alive):
    out = alive.cli_ok("show", "version")
    assert "braid" in out.lower(), out
    assert re.search(r"\d+\.\d+\.\d+", out), f"no version number: {out}"


def test_help_lists_commands(alive):
    out = alive.cli_ok("help")
    for cmd in ("show version", "show port", "show graph", "show neighbors", "show drops",
                "set log", "clear port stats"):
        assert cmd in out, f"help does not mention '{cmd}':\n{out}"


def _leaves(d, prefix=""):
    if isinstance(d, dict):
        for k, v in d.items():
            yield from _leaves(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(d, list) and d and isinstance(d[0], dict):
        for i, v in enumerate(d):
            yield from _leaves(v, f"{prefix}[{i}]")
    else:
        yield prefix, d


def _lookup(d, path):
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            d = d[int(part[1:-1])]
        else:
            d = d[part]
    return d


def test_show_config_round_trips(alive):
    out = alive.cli_ok("show", "config")
    shown = yaml.safe_load(out)
    assert isinstance(shown, dict), f"show config is not a YAML mapping:\n{out}"
    for path, want in _leaves(alive.config):
        try:
            got = _lookup(shown, path)
        except (KeyError, IndexError, TypeError):
            pytest.fail(f"show config lacks {path} (configured {want!r}):\n{out}")
        assert str(got) == str(want) or got == want, f"{path}: configured {want!r}, shown {got!r}"


def test_set_log_level(alive):
    alive.cli_ok("set", "log", "dataplane", "debug")
    alive.cli_ok("set", "log", "dataplane", "info")


def test_clear_port_stats_resets(lab, alive):
    lab.ping(lab.gnb, "198.18.0.1", count=2)
    alive.cli_ok("clear", "port", "stats")
    out = alive.cli_ok("show", "port", "stats", "all")
    assert "n3" in out and "n6" in out, out


def test_graph_dot_is_dot(alive):
    out = alive.cli_ok("show", "graph", "dot")
    assert re.search(r"\bdigraph\b", out, re.IGNORECASE), out  # DOT keywords are case-insensitive
    assert "->" in out, out


def test_concurrent_clients(alive):
    """Several clients at once all get answers."""
    import concurrent.futures as cf

    with cf.ThreadPoolExecutor(max_workers=4) as ex:
        results = list(ex.map(lambda _: alive.cli("show", "version"), range(8)))
    assert all(rc == 0 for rc, _ in results), results


def test_proxy_commands_without_the_proxy(alive):
    # The lab's braid runs without pfcp.mptcp_proxy.enabled: the commands answer, saying so
    # (test_proxy.py runs them with the proxy).
    for words in (("show", "proxy", "stats"), ("show", "proxy", "connections"),
                  ("show", "proxy", "connection", "1")):
        out = alive.cli_ok(*words)
        assert "the MPTCP proxy is not running" in out, out


# Keep last: `quit` stops the module's braid (like testpmd: ports stopped, workers joined, exit 0).
def test_quit_stops_braid_cleanly(braid):
    rc, out = braid.cli("quit")
    assert rc == 0, f"quit -> rc={rc}: {out}"
    try:
        code = braid.proc.wait(timeout=15)
    except Exception:  # noqa: BLE001
        pytest.fail(f"braid still running 15 s after 'quit'\n--- log\n{braid.log()}")
    assert code == 0, f"braid exited with {code} after 'quit'\n--- log\n{braid.log()}"
