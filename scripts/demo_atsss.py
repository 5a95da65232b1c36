#!/usr/bin/python3
"""braid demo, part 2: an MA PDU session with ATSSS through the MPTCP proxy (issue 7).

Run by scripts/demo.sh once braid is up in the namespace lab `demo` with scripts/demo.yaml
(PFCP on 127.0.0.1:8805, the proxy on 198.18.50.1:5124). This process is the SMF: it sets up a
PFCP association and an MA PDU session (two UL PDRs, one per access; a MAR with steering
functionality MPTCP; ATSSS control information asking for MPTCP) and reads braid's MPTCP
Parameters: the proxy address and port and the UE's link-specific addresses. The UE is the
Linux kernel in `demo-gnb`: gnb_emu (tests/integration/gnb_emu.py) plays the gNB and the N3IWF,
one GTP-U tunnel per access, each carrying the UE's link-specific address of that access. The UE
opens an MPTCP socket to the proxy with the RFC 8803 Convert message (Connect: the DN server) as
TCP Fast Open data and a second subflow from its non-3GPP address, uploads and downloads
`--mib` MiB through braid to a server in `demo-dn`, and the demo prints what each access
carried and braid's own view of the connection. Bounded: every wait has a timeout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from atsss_smf import PfcpPeer, establishment, parse_establishment  # noqa: E402
from gnb import Gnb  # noqa: E402
from ue_tools import CLIENT, SERVER, connect_msg  # noqa: E402

PYTHON = "/usr/bin/python3"
SMF_NODE_ID = "smf.demo.example"
UE = "198.19.100.40"  # the PDU session's UE address: what the DN server sees
GNB_IP = "198.18.0.2"
N3_IP = "198.18.0.1"
DN_IP = "198.19.0.2"
DL_TEID_3GPP = 0x0A000001  # the gNB's
DL_TEID_N3GPP = 0x0A000002  # the N3IWF's (gnb_emu plays both)
SERVER_PORT = 8080


def step(text: str):
    print(f"\n>>> {text}", flush=True)


def ns(name: str, *cmd, check=True, timeout=20):
    print(f"[{name}]$ {' '.join(cmd)}", flush=True)
    return subprocess.run(["ip", "netns", "exec", name, *cmd], check=check, timeout=timeout,
                          capture_output=True, text=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab", default="demo")
    ap.add_argument("--cli", default=str(ROOT / "build" / "braid-cli"))
    ap.add_argument("--socket", default="/tmp/braid-demo/cli.sock")
    ap.add_argument("--pfcp-port", type=int, default=8805)
    ap.add_argument("--mib", type=int, default=4, help="MiB up and MiB down (1..256)")
    ap.add_argument("--steering", default="smallest-delay",
                    choices=["active-standby", "smallest-delay", "load-balancing",
                             "priority-based"])
    args = ap.parse_args()
    size = max(1, min(args.mib, 256)) << 20
    gnb_ns, dn_ns = f"{args.lab}-gnb", f"{args.lab}-dn"

    def cli(*words) -> str:
        cp = subprocess.run([args.cli, "-s", args.socket, *words], capture_output=True,
                            text=True, timeout=10)
        return cp.stdout + cp.stderr

    step("SMF: PFCP association and an MA PDU session with ATSSS (MPTCP)")
    smf = PfcpPeer(("127.0.0.1", args.pfcp_port))
    try:
        smf.associate(SMF_NODE_ID)
        rsp = smf.request(50, establishment(SMF_NODE_ID, 0x0DE0000000000001, UE, GNB_IP,
                                            DL_TEID_3GPP, DL_TEID_N3GPP, args.steering),
                          seid=0)
        r = parse_establishment(rsp)
        if r["cause"] != 1:
            print(f"session refused, cause {r['cause']}", file=sys.stderr)
            return 1
        print(f"UP SEID {r['seid']:#x}; UL TEIDs: 3GPP {r['teids'][1]:#x}, "
              f"non-3GPP {r['teids'][2]:#x}")
        print(f"MPTCP Parameters: proxy {r['proxy'][0]}:{r['proxy'][1]}; link-specific "
              f"addresses: 3GPP {r['tgpp4']}, non-3GPP {r['non_tgpp4']}; UE address {UE}")
        print(cli("show", "session", str(r["seid"])))

        step("UE (Linux MPTCP, TCP Fast Open without cookie) and the DN server")
        for key, value in (("net.ipv4.tcp_fastopen", "5"), ("net.mptcp.enabled", "1")):
            ns(gnb_ns, "sysctl", "-qw", f"{key}={value}")
        ns(gnb_ns, "ip", "mptcp", "limits", "set", "subflows", "2")
        srv = subprocess.Popen(["ip", "netns", "exec", dn_ns, PYTHON, "-c", SERVER, DN_IP,
                                str(size), str(SERVER_PORT)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(0.5)
            with Gnb(gnb_ns, r["tgpp4"], ul_teid=r["teids"][1], dl_teid=DL_TEID_3GPP,
                     upf_n3_ip=N3_IP, routes=[f"{r['proxy'][0]}/32"],
                     extra_tunnels=[{"ue4": r["non_tgpp4"], "ul": hex(r["teids"][2]),
                                     "dl": hex(DL_TEID_N3GPP), "qfi": 9}]) as g:
                ns(gnb_ns, "ip", "mptcp", "endpoint", "add", r["non_tgpp4"], "dev", g.tun,
                   "subflow")
                step(f"transfer: {size >> 20} MiB up and {size >> 20} MiB down through the proxy")
                start = time.monotonic()
                client = subprocess.Popen(
                    ["ip", "netns", "exec", gnb_ns, PYTHON, "-c", CLIENT,
                     connect_msg(DN_IP, SERVER_PORT).hex(), str(size), r["tgpp4"],
                     r["proxy"][0], str(r["proxy"][1]), "30"],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                live = ""
                while client.poll() is None and time.monotonic() - start < 60:
                    shown = cli("show", "proxy", "connection", "1")
                    if shown.count("subflow ") >= 2:
                        live = shown
                    time.sleep(0.2)
                out, err = client.communicate(timeout=30)
                took = time.monotonic() - start
                stats = g.stats()
            srv_out, srv_err = srv.communicate(timeout=30)
        finally:
            if srv.poll() is None:
                srv.kill()
        if client.returncode != 0:
            print(out + err, file=sys.stderr)
            return 1
        res = json.loads(out.strip().splitlines()[-1])
        down = bytes((i * 13 + 1) & 0xff for i in range(size))
        ok = (res["data"][:8] == "01012263" and res["digest"] == res["up_sha"]
              and res["len"] == 4 + 64 + size
              and res["tail_sha"] == hashlib.sha256(down).hexdigest())
        print(f"UE: Convert reply {res['data'][:8]}, {size} bytes up and {res['len'] - 68} "
              f"bytes down in {took:.1f} s, SHA-256 both ways {'OK' if ok else 'WRONG'}")
        print(f"DN server saw the client address {srv_out.strip()} (the PDU session's UE "
              "address: address-preserving mode)")

        step("what each access carried (the GTP-U tunnels, gnb_emu's counters)")
        names = {DL_TEID_3GPP: "3GPP", DL_TEID_N3GPP: "non-3GPP"}
        for t in stats.get("tunnels", []):
            print(f"  {names.get(t['dl_teid'], hex(t['dl_teid'])):9} uplink "
                  f"{t['ul_bytes']:>11} B / {t['ul_packets']:>7} pkts   downlink "
                  f"{t['dl_bytes']:>11} B / {t['dl_packets']:>7} pkts")

        step("braid's view of the connection while it ran (subflows per access, RTT, cwnd)")
        print(live or "(the transfer ended before both subflows were shown)")
        step("braid: proxy and MPTCP statistics")
        print(cli("show", "proxy", "stats"))
        print(cli("show", "mptcp", "stats"))
        ok = ok and srv_out.strip() == UE and live != ""
        step("ATSSS demo " + ("OK" if ok else "FAILED"))
        return 0 if ok else 1
    finally:
        smf.close()


if __name__ == "__main__":
    sys.exit(main())
