#!/usr/bin/python3
"""Repeats the 8 MiB echo of tests/integration/test_mptcp_interop.py against one braid and
records what each side saw: for issue 6's open finding (an MPTCP echo about 1 run in 5 taking
~100 s instead of a few). Run as root from the repository, with braid built:

    scripts/mptcp_echo_runs.py [--runs N] [--mib M] [--tcp] [--two-subflows]
                               [--fault "drop 1 seed 3"] [--sample] [--slow-s S] OUTDIR

One namespace lab and one braid (the test's fixtures: tests/integration/conftest.py) serve
every run. Per run: a tcpdump capture (kept only when the transfer took more than --slow-s, or
always with --slow-s 0), and with --sample braid's `show tcp connection` / `show mptcp
connection` and the kernel's `ss -tmi` / `ss -Mmi` every 0.5 s into OUTDIR/runN.samples, then
braid's counters and the namespace's nstat at the end. --fault applies braid's fault injection
(`set fault n6 rx|tx ...`) to both directions. One line per run on stdout: wall time, the
client's transfer time, SHA-256 check, the kernel's MPTcpExt counter deltas.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

import conftest as lab_env  # noqa: E402 (after the path)
import test_mptcp_interop as mt  # noqa: E402


def sample(b, lab, out):
    """One snapshot of braid's and the kernel's view of the connections."""
    for words in (["show", "tcp", "connections"], ["show", "mptcp", "connections"]):
        _, text = b.cli(*words, timeout=5, fail_on_timeout=False)
        out.write(f"--- {' '.join(words)}\n{text}")
        for line in text.splitlines():
            f = line.split()
            if words[1] == "tcp" and f and f[0].isdigit():
                _, t = b.cli("show", "tcp", "connection", f[0], timeout=5, fail_on_timeout=False)
                out.write(f"--- show tcp connection {f[0]}\n{t}")
            if words[1] == "mptcp" and len(f) > 2 and len(f[2]) == 8:
                _, t = b.cli("show", "mptcp", "connection", f[2], timeout=5,
                             fail_on_timeout=False)
                out.write(f"--- show mptcp connection {f[2]}\n{t}")
    ss = lab.ns(lab.dn, "ss", "-tmin", "dport", "=", f":{mt.ECHO}").stdout
    ssm = lab.ns(lab.dn, "ss", "-Mmin").stdout
    out.write(f"--- ss -tmi\n{ss}--- ss -Mmi\n{ssm}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mib", type=int, default=8)
    ap.add_argument("--tcp", action="store_true",
                    help="plain TCP client (the MPTCP echo falls back)")
    ap.add_argument("--two-subflows", action="store_true",
                    help="a second client address with an in-kernel PM subflow endpoint")
    ap.add_argument("--fault", default="", help="braid fault injection on n6, both directions")
    ap.add_argument("--sample", action="store_true", help="CLI and ss samples every 0.5 s")
    ap.add_argument("--slow-s", type=float, default=30.0, help="keep captures of slower runs")
    args = ap.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    work = args.outdir / "work"
    work.mkdir(exist_ok=True)

    lab = lab_env.Lab(f"er{os.getpid() % 100000:05d}"[:8], work)
    lab.up()
    b = lab_env.Braid(lab, work, overrides={
        "tcp": {"services": [{"port": mt.ECHO, "mode": "echo", "mptcp": True}]}})
    try:
        b.start()
        lab.ns(lab.dn, "sysctl", "-w", "net.mptcp.enabled=1")
        if args.two_subflows:
            mt.add_second_address(lab)
        if args.fault:
            for direction in ("rx", "tx"):
                print(b.cli("set", "fault", "n6", direction, *args.fault.split())[1].strip())
        for i in range(args.runs):
            pcap = args.outdir / f"run{i}.pcap"
            cap = lab_env.Capture(lab.dn, pcap, bpf=f"tcp port {mt.ECHO}").start()
            code = mt.CLIENT.format(host=lab_env.N6_IP, port=mt.ECHO, total=args.mib * mt.MIB,
                                    proto=0 if args.tcp else mt.IPPROTO_MPTCP, timeout=400.0)
            samples = open(args.outdir / f"run{i}.samples", "w")
            t0 = time.monotonic()
            proc = subprocess.Popen(["ip", "netns", "exec", lab.dn, lab_env.PYTHON, "-c", code],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            while args.sample and proc.poll() is None:
                samples.write(f"===== t={time.monotonic() - t0:.2f}\n")
                sample(b, lab, samples)
                samples.flush()
                time.sleep(0.5)
            out, err = proc.communicate(timeout=460)
            wall = time.monotonic() - t0
            for words in (["show", "tcp", "stats"], ["show", "mptcp", "stats"]):
                samples.write(f"--- {' '.join(words)} (end)\n"
                              f"{b.cli(*words, timeout=5, fail_on_timeout=False)[1]}")
            samples.write(f"--- nstat -az\n{lab.ns(lab.dn, 'nstat', '-az').stdout}")
            samples.close()
            cap.stop()
            try:
                r = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                r = {"error": err[-2000:]}
            ok = r.get("received") == r.get("sent") and r.get("received_sha") == r.get("sent_sha")
            print(f"run{i}: wall {wall:.1f} s, transfer {r.get('seconds', -1):.2f} s, "
                  f"sha ok {ok}, MPTcpExt {r.get('mptcp', r.get('error'))}", flush=True)
            if r.get("seconds", wall) <= args.slow_s:
                pcap.unlink(missing_ok=True)
            time.sleep(1)
    finally:
        if b.proc is not None:
            print(f"braid stop: exit {b.stop()}")
        lab.down()


if __name__ == "__main__":
    main()
