"""Gnb: run tests/integration/gnb_emu.py (a userspace gNB) inside a namespace for a test.

    from gnb import Gnb

    with Gnb(lab, "198.19.100.1", ul_teid=0x1001, dl_teid=0x2001, upf_n3_ip=N3_IP,
             routes=["198.19.0.0/24"], qfi=9) as g:
        lab.ping(lab.gnb, DN_IP)              # kernel traffic from the UE, through the tun
        s = g.stats()                         # SIGUSR1, then the JSON the emulator wrote
    assert g.final_stats["dl_qfi"] == {"9": 3}

`lab` is conftest's Lab (the emulator runs in lab.gnb, files go to lab.workdir) or simply the
name of a namespace. The emulator is started with `ip netns exec NS /usr/bin/python3 ...`
(ip execs the command, so the PID of the Popen is the emulator's) and stopped by that PID with
SIGTERM; it must exit 0 and leave its final statistics, kept in `final_stats`.

Statistics (see gnb_emu.py): ul_packets/ul_bytes, dl_packets/dl_bytes, dl_unknown_teid,
dl_malformed, dl_qfi {"QFI": count}, rx_messages {"error_indication": n, "end_marker": n, ...},
messages [{name, type, teid, seq, from, ies: {teid_data_i, peer_address, recovery, ...}, hex}],
tunnels [per-tunnel counters], sigusr1, exit_reason.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

PYTHON = "/usr/bin/python3"
GNB_EMU = Path(__file__).resolve().parent / "gnb_emu.py"

START_TIMEOUT_S = 10
STOP_TIMEOUT_S = 10
STATS_TIMEOUT_S = 5

_ids = itertools.count()


class GnbError(AssertionError):
    pass


class Gnb:
    def __init__(self, lab, ue_ipv4, ul_teid, dl_teid, upf_n3_ip, routes, qfi=9, ue_ipv6=None,
                 *, tun=None, gnb_ip=None, no_ext=False, pdu_type="ul", extra_tunnels=(),
                 mtu=0, echo_reply=True, max_seconds=300, workdir=None):
        """lab: conftest.Lab (namespace lab.gnb, files in lab.workdir) or a namespace name.

        ue_ipv4 / ue_ipv6: the UE's addresses (either may be None, not both); ul_teid: the TEID
        braid allocated (N3 uplink); dl_teid: the gNB's TEID braid sends to; upf_n3_ip: braid's
        N3 address; routes: destination prefixes routed through the tun; qfi: the QFI of the UL
        PDU Session Container. extra_tunnels: more UEs in the same process, each a dict with
        keys ue4/ue6/ul/dl/qfi (see gnb_emu.py --tunnel); such UEs must bind their sockets to
        their address, the routes' source address is the first UE's."""
        self.ns = getattr(lab, "gnb", lab)
        base = Path(workdir or getattr(lab, "workdir", None) or tempfile.gettempdir())
        n = next(_ids)
        self.tun = tun or f"gtun{n}"
        self.dir = Path(tempfile.mkdtemp(prefix=f"gnb{n}-", dir=base))
        self.stats_path = self.dir / "gnb_stats.json"
        self.log_path = self.dir / "gnb_emu.log"
        self.cmd = [PYTHON, str(GNB_EMU), "--tun", self.tun, "--upf", str(upf_n3_ip),
                    "--stats", str(self.stats_path), "--max-seconds", str(max_seconds),
                    "--qfi", str(qfi), "--pdu-type", pdu_type]
        if ue_ipv4 is not None or ue_ipv6 is not None:
            self.cmd += ["--ul-teid", str(ul_teid), "--dl-teid", str(dl_teid)]
        if ue_ipv4 is not None:
            self.cmd += ["--ue-ipv4", str(ue_ipv4)]
        if ue_ipv6 is not None:
            self.cmd += ["--ue-ipv6", str(ue_ipv6)]
        for t in extra_tunnels:
            self.cmd += ["--tunnel", ",".join(f"{k}={v}" for k, v in t.items())]
        for r in routes:
            self.cmd += ["--route", str(ipaddress.ip_network(r, strict=False))]
        if gnb_ip:
            self.cmd += ["--gnb-ip", str(gnb_ip)]
        if no_ext:
            self.cmd.append("--no-ext")
        if mtu:
            self.cmd += ["--mtu", str(mtu)]
        if not echo_reply:
            self.cmd.append("--no-echo-reply")
        self.proc = None
        self.returncode = None
        self.final_stats = None
        self._usr1_sent = 0
        self._log = None

    # ---------------------------------------------------------------- life cycle

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, *self.cmd],
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._close_log()
                raise GnbError(f"gnb_emu exited with {self.proc.returncode} during start-up\n"
                               f"cmd: {' '.join(self.cmd)}\n--- log\n{self.log()}")
            s = self._read_stats()
            if s and s.get("ready") and self._tun_up():
                return self
            time.sleep(0.05)
        self.kill()
        raise GnbError(f"gnb_emu did not bring {self.tun} up in {self.ns} within "
                       f"{START_TIMEOUT_S}s\n--- log\n{self.log()}")

    def stop(self, timeout=STOP_TIMEOUT_S) -> dict:
        """SIGTERM by PID, wait, check exit status 0; returns (and keeps) the final stats."""
        if self.proc is None:
            return self.final_stats
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise GnbError(f"gnb_emu (pid {self.proc.pid}) did not exit within {timeout}s "
                               f"of SIGTERM; killed\n--- log\n{self.log()}")
        self.returncode = self.proc.returncode
        self._close_log()
        self.final_stats = self._read_stats()
        if self.returncode != 0:
            raise GnbError(f"gnb_emu exited with {self.returncode}\n--- log\n{self.log()}")
        return self.final_stats

    def kill(self):
        if self.running():
            self.proc.kill()  # SIGKILL by PID, never by name
            self.proc.wait(timeout=10)
        self._close_log()

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self.stop()
        else:  # the test already failed: clean up without masking its error
            try:
                self.stop()
            except GnbError:
                pass

    # ---------------------------------------------------------------- statistics

    def stats(self, timeout=STATS_TIMEOUT_S) -> dict:
        """Ask the running emulator for its counters (SIGUSR1) and return the fresh JSON."""
        if not self.running():
            raise GnbError(f"gnb_emu is not running (rc={self.proc and self.proc.poll()})\n"
                           f"--- log\n{self.log()}")
        self._usr1_sent += 1
        os.kill(self.proc.pid, signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self._read_stats()
            if s and s.get("sigusr1", 0) >= self._usr1_sent:
                return s
            time.sleep(0.02)
        raise GnbError(f"gnb_emu did not write its statistics within {timeout}s of SIGUSR1\n"
                       f"--- log\n{self.log()}")

    def toggle_cut(self) -> dict:
        """SIGUSR2: the tunnels given `cuttable=1` stop (or resume) forwarding either way.
        Returns the statistics written after the toggle (the signals are handled in order)."""
        if not self.running():
            raise GnbError(f"gnb_emu is not running\n--- log\n{self.log()}")
        os.kill(self.proc.pid, signal.SIGUSR2)
        return self.stats()

    def wait_for(self, predicate, timeout=5.0, interval=0.1) -> dict:
        """Poll stats() until predicate(stats) is true; returns the last stats (check it)."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.stats()
            if predicate(s) or time.monotonic() >= deadline:
                return s
            time.sleep(interval)

    def messages(self, name=None, stats=None):
        """Recorded non-G-PDU messages (optionally only those called `name`)."""
        s = stats or self.final_stats or self.stats()
        return [m for m in s["messages"] if name is None or m["name"] == name]

    # ---------------------------------------------------------------- helpers

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"

    def _close_log(self):
        if self._log and not self._log.closed:
            self._log.close()

    def _read_stats(self):
        try:
            return json.loads(self.stats_path.read_text())
        except (OSError, ValueError):
            return None

    def _tun_up(self) -> bool:
        cp = subprocess.run(["ip", "-n", self.ns, "-o", "link", "show", "dev", self.tun],
                            capture_output=True, text=True, timeout=5)
        return cp.returncode == 0 and ",UP" in cp.stdout
