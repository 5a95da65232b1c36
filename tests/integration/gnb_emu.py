#!/usr/bin/python3
"""gnb_emu: a userspace gNB for braid's integration tests (standard library only).

Run inside the gNB namespace (root: it creates a tun device and configures it):

    ip netns exec NAME-gnb /usr/bin/python3 tests/integration/gnb_emu.py \\
        --tun gnbtun0 --upf 198.18.0.1 --ue-ipv4 198.19.100.1 --ul-teid 0x1001 \\
        --dl-teid 0x2001 --qfi 9 --route 198.19.0.0/24 --stats /tmp/gnb.json

What it does
  * creates the tun device (IFF_TUN | IFF_NO_PI, no offloads: the kernel hands it complete,
    checksummed packets no larger than the tun MTU), sets the MTU so that the encapsulated packet
    fits a 1500-octet link (1500 - outer IP - 8 UDP - 16 GTP-U with the PDU Session Container:
    1456 over IPv4, 1436 over IPv6; 8 octets more with --no-ext), gives it the UE address(es)
    (IPv4 /32, IPv6 /128) and adds the --route prefixes through it (src = the first UE address
    of the family, so that plain kernel sockets use the UE address);
  * uplink: an IP packet read from the tun whose source is a UE address becomes a G-PDU
    (TS 29.281 §5.1: flags 0x34 = version 1, PT 1, E 1; extension header 0x85 PDU Session
    Container with UL PDU SESSION INFORMATION, TS 38.415 §5.5.2.2: "01 10 QFI 00"; with --no-ext
    the plain 8-octet header, flags 0x30) with that UE's UL TEID, sent over UDP from port 2152
    (--gnb-port) to the UPF's N3 address port 2152 (--upf-port);
  * downlink: a GTP-U message received on UDP port 2152: a G-PDU whose TEID is a tunnel's DL
    TEID has its header removed (S/PN/E optional fields and the extension header chain are
    walked; the QFI of a PDU Session Container is recorded) and the T-PDU is written to the tun;
    any other message (Echo Request/Response, Error Indication, End Marker, Supported Extension
    Headers Notification, ...) is recorded with its decoded header and IEs; an Echo Request is
    answered with an Echo Response (Recovery 0) unless --no-echo-reply;
  * statistics: JSON written atomically to --stats at start-up ("ready": true once the tun is
    up), on SIGUSR1 (the "sigusr1" field counts them, so a reader can wait for its own dump) and
    at exit (SIGTERM, SIGINT or --max-seconds; "exit_reason" says which). Exit status 0.

More than one tunnel per process: --tunnel ue4=A,ue6=B,ul=TEID,dl=TEID,qfi=N,delay_ms=D
(repeatable; any of ue4/ue6 may be omitted but not both; delay_ms holds that tunnel's uplink
G-PDUs back for D ms before they leave, a longer access path: its RTT grows by D; cuttable=1:
SIGUSR2 toggles a cut of that tunnel, which then forwards nothing either way, counted per
tunnel as ul_cut / dl_cut: an access lost mid-transfer). Uplink packets are mapped to a tunnel by their source
address, downlink G-PDUs by TEID. The single-tunnel options (--ue-ipv4 ...) define tunnel 0.

The event loop blocks in select() on the tun, the UDP socket and a signal wake-up pipe; nothing
polls. The tun device (and with it its addresses and routes) disappears when the process exits.
"""

from __future__ import annotations

import argparse
import collections
import errno
import fcntl
import ipaddress
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

GTPU_PORT = 2152

# TS 29.281 Table 6.1-1
MSG_NAMES = {
    1: "echo_request",
    2: "echo_response",
    26: "error_indication",
    31: "supported_ext_hdr_notification",
    253: "tunnel_status",
    254: "end_marker",
    255: "g_pdu",
}
EXT_PDU_SESSION_CONTAINER = 0x85
EXT_UDP_PORT = 0x40

# linux/if_tun.h
TUNSETIFF = 0x400454CA
TUNSETOFFLOAD = 0x400454D0
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000

MAX_RECORDED_MESSAGES = 1000
UL_BURST = 256  # packets handled per readable event before select() is consulted again


class GtpuError(Exception):
    pass


# ------------------------------------------------------------------------------- GTP-U codec


def gpdu_header(teid: int, payload_len: int, qfi: int | None, pdu_type: int = 1) -> bytes:
    """G-PDU header. qfi None: plain 8 octets (flags 0x30). Otherwise E=1 with one PDU Session
    Container (TS 38.415 §5.5.2): Length 1 (4 octets), PDU type in the high nibble of octet 1,
    QFI in the low 6 bits of octet 2 (all other flags 0), next extension header type 0."""
    if qfi is None:
        return struct.pack("!BBHI", 0x30, 0xFF, payload_len, teid)
    # Length counts everything after the mandatory 8 octets: 4 (seq, N-PDU, next type) + 4.
    return struct.pack("!BBHIHBBBBBB", 0x34, 0xFF, payload_len + 8, teid, 0, 0,
                       EXT_PDU_SESSION_CONTAINER, 1, (pdu_type & 0x0F) << 4, qfi & 0x3F, 0)


def echo_response(seq: int | None) -> bytes:
    """TS 29.281 §7.2.2: S=1, TEID 0, the request's sequence number, Recovery (14) = 0."""
    return struct.pack("!BBHIHBB", 0x32, 2, 6, 0, seq or 0, 0, 0) + b"\x0e\x00"


def parse_gtpu(data: bytes) -> dict:
    """Decode a GTP-U message: header, optional fields, extension header chain.

    Returns a dict with type, teid, seq, npdu, exts [(type, content bytes)], qfi/pdu_type of a
    PDU Session Container, payload_offset and payload_end. Raises GtpuError when malformed."""
    if len(data) < 8:
        raise GtpuError("too_short")
    flags, mtype, length, teid = struct.unpack_from("!BBHI", data, 0)
    if flags >> 5 != 1:
        raise GtpuError("bad_version")
    if not flags & 0x10:
        raise GtpuError("not_gtp")  # PT=0: GTP'
    end = 8 + length
    if end > len(data):
        raise GtpuError("length_mismatch")
    out = {"flags": flags, "type": mtype, "teid": teid, "length": length, "seq": None,
           "npdu": None, "exts": [], "qfi": None, "pdu_type": None, "udp_port": None}
    off = 8
    if flags & 0x07:
        if end < 12:
            raise GtpuError("too_short")
        seq, npdu, nxt = struct.unpack_from("!HBB", data, 8)
        if flags & 0x02:
            out["seq"] = seq
        if flags & 0x01:
            out["npdu"] = npdu
        off = 12
        if flags & 0x04:
            hops = 0
            while nxt:
                hops += 1
                if hops > 16 or off >= end:
                    raise GtpuError("ext_header_truncated")
                units = data[off]
                if units == 0:
                    raise GtpuError("ext_header_zero_length")
                ext_end = off + 4 * units
                if ext_end > end:
                    raise GtpuError("ext_header_truncated")
                content = bytes(data[off + 1:ext_end - 1])
                out["exts"].append((nxt, content))
                if nxt == EXT_PDU_SESSION_CONTAINER and len(content) >= 2:
                    out["pdu_type"] = content[0] >> 4
                    out["qfi"] = content[1] & 0x3F
                elif nxt == EXT_UDP_PORT and len(content) >= 2:
                    out["udp_port"] = (content[0] << 8) | content[1]
                nxt = data[ext_end - 1]
                off = ext_end
    out["payload_offset"] = off
    out["payload_end"] = end
    return out


def parse_ies(body: bytes) -> dict:
    """TS 29.281 §8: Recovery (14, TV 1), TEID Data I (16, TV 4), GTP-U Peer Address (133, TLV),
    Extension Header Type List (141, count + types), other TLVs (type >= 128) by type number."""
    ies: dict = {}
    off = 0
    while off < len(body):
        t = body[off]
        if t == 14 and off + 2 <= len(body):
            ies.setdefault("recovery", body[off + 1])
            off += 2
        elif t == 16 and off + 5 <= len(body):
            ies.setdefault("teid_data_i", struct.unpack_from("!I", body, off + 1)[0])
            off += 5
        elif t == 141 and off + 2 <= len(body):
            n = body[off + 1]
            ies.setdefault("ext_header_types", list(body[off + 2:off + 2 + n]))
            off += 2 + n
        elif t >= 128 and off + 3 <= len(body):
            n = struct.unpack_from("!H", body, off + 1)[0]
            value = body[off + 3:off + 3 + n]
            if t == 133 and len(value) in (4, 16):
                ies.setdefault("peer_address", str(ipaddress.ip_address(bytes(value))))
            else:
                ies.setdefault(f"ie_{t}", bytes(value).hex())
            off += 3 + n
        else:
            ies["undecoded"] = bytes(body[off:]).hex()
            break
    return ies


# ------------------------------------------------------------------------------- setup


class Tunnel:
    def __init__(self, index, ue4, ue6, ul_teid, dl_teid, qfi, delay_ms=0.0, cuttable=False):
        self.index = index
        self.delay_s = delay_ms / 1000.0  # uplink G-PDUs leave this much later (a longer path)
        # Delayed uplink G-PDUs (due, header, packet): one constant delay, so in time order.
        self.delayed: collections.deque = collections.deque()
        # SIGUSR2 toggles `cut` of the cuttable tunnels: a cut access forwards nothing either
        # way (the packets are counted as ul_cut / dl_cut and dropped).
        self.cuttable = cuttable
        self.cut = False
        self.ul_cut = self.dl_cut = 0
        self.ue4 = ue4
        self.ue6 = ue6
        self.ul_teid = ul_teid
        self.dl_teid = dl_teid
        self.qfi = qfi
        self.ul_packets = self.ul_bytes = self.dl_packets = self.dl_bytes = 0
        self.dl_qfi: dict[str, int] = {}

    def stats(self):
        return {"ue_ipv4": self.ue4 and str(self.ue4), "ue_ipv6": self.ue6 and str(self.ue6),
                "ul_teid": self.ul_teid, "dl_teid": self.dl_teid, "qfi": self.qfi,
                "ul_packets": self.ul_packets, "ul_bytes": self.ul_bytes,
                "dl_packets": self.dl_packets, "dl_bytes": self.dl_bytes,
                "dl_qfi": dict(self.dl_qfi), "delay_ms": self.delay_s * 1000.0,
                "cut": self.cut, "ul_cut": self.ul_cut, "dl_cut": self.dl_cut}


def sh(*cmd):
    cp = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    if cp.returncode != 0:
        raise SystemExit(f"gnb_emu: {' '.join(cmd)} failed: {cp.stderr.strip()}")


def write_sysctl(path, value):
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError:
        pass


def open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    ifr = struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI)
    fcntl.ioctl(fd, TUNSETIFF, ifr)
    # No checksum/TSO/UFO offload towards userspace: without IFF_VNET_HDR the kernel already
    # resolves partial checksums and segments GSO packets, this makes it explicit.
    try:
        fcntl.ioctl(fd, TUNSETOFFLOAD, 0)
    except OSError:
        pass
    return fd


def configure_tun(args, tunnels, mtu):
    name = args.tun
    write_sysctl(f"/proc/sys/net/ipv6/conf/{name}/accept_dad", "0")
    write_sysctl(f"/proc/sys/net/ipv6/conf/{name}/accept_ra", "0")
    write_sysctl(f"/proc/sys/net/ipv6/conf/{name}/router_solicitations", "0")
    # No link-local address, no multicast: the kernel has nothing of its own to send on the tun.
    subprocess.run(["ip", "link", "set", "dev", name, "addrgenmode", "none"],
                   capture_output=True, timeout=10)
    sh("ip", "link", "set", "dev", name, "mtu", str(mtu), "multicast", "off")
    for t in tunnels:
        if t.ue4:
            sh("ip", "addr", "add", f"{t.ue4}/32", "dev", name)
        if t.ue6:
            sh("ip", "-6", "addr", "add", f"{t.ue6}/128", "dev", name, "nodad")
    sh("ip", "link", "set", "dev", name, "up")
    first4 = next((t.ue4 for t in tunnels if t.ue4), None)
    first6 = next((t.ue6 for t in tunnels if t.ue6), None)
    for prefix in args.route:
        net = ipaddress.ip_network(prefix, strict=False)
        src = first4 if net.version == 4 else first6
        cmd = ["ip", "-6" if net.version == 6 else "-4", "route", "replace", str(net), "dev", name]
        if src:
            cmd += ["src", str(src)]
        sh(*cmd)


def parse_int(text: str) -> int:
    return int(text, 0)


def parse_tunnel_spec(index, spec):
    fields = {}
    for item in spec.split(","):
        if "=" not in item:
            raise SystemExit(f"gnb_emu: --tunnel item '{item}' is not key=value")
        k, v = item.split("=", 1)
        fields[k.strip()] = v.strip()
    unknown = set(fields) - {"ue4", "ue6", "ul", "dl", "qfi", "delay_ms", "cuttable"}
    if unknown or "ul" not in fields or "dl" not in fields or not ({"ue4", "ue6"} & set(fields)):
        raise SystemExit(f"gnb_emu: bad --tunnel '{spec}': need ul=, dl= and ue4= and/or ue6= "
                         "(optional: qfi=, delay_ms=, cuttable=)")
    return Tunnel(index,
                  ipaddress.IPv4Address(fields["ue4"]) if "ue4" in fields else None,
                  ipaddress.IPv6Address(fields["ue6"]) if "ue6" in fields else None,
                  parse_int(fields["ul"]), parse_int(fields["dl"]),
                  parse_int(fields.get("qfi", "9")), float(fields.get("delay_ms", "0")),
                  fields.get("cuttable", "0") not in ("0", "false", "False", ""))


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tun", required=True, help="tun device name (created)")
    ap.add_argument("--upf", required=True, help="UPF N3 address (IPv4 or IPv6)")
    ap.add_argument("--upf-port", type=int, default=GTPU_PORT)
    ap.add_argument("--gnb-ip", default=None, help="local N3 address to bind (default: any)")
    ap.add_argument("--gnb-port", type=int, default=GTPU_PORT)
    ap.add_argument("--ue-ipv4", type=ipaddress.IPv4Address)
    ap.add_argument("--ue-ipv6", type=ipaddress.IPv6Address)
    ap.add_argument("--ul-teid", type=parse_int)
    ap.add_argument("--dl-teid", type=parse_int)
    ap.add_argument("--qfi", type=parse_int, default=9, help="QFI of UL PDU Session Containers")
    ap.add_argument("--tunnel", action="append", default=[],
                    help="extra tunnel: ue4=A,ue6=B,ul=TEID,dl=TEID,qfi=N (repeatable)")
    ap.add_argument("--route", action="append", default=[], help="prefix routed via the tun")
    ap.add_argument("--no-ext", action="store_true",
                    help="plain 8-octet G-PDU header, no PDU Session Container")
    ap.add_argument("--pdu-type", choices=("ul", "dl"), default="ul",
                    help="PDU Session Container type to send (dl: act as a UPF in tests)")
    ap.add_argument("--mtu", type=int, default=0, help="tun MTU (default: fits 1500 outer)")
    ap.add_argument("--no-echo-reply", action="store_true", help="do not answer Echo Requests")
    ap.add_argument("--stats", required=True, help="JSON statistics file")
    ap.add_argument("--max-seconds", type=float, default=600.0)
    args = ap.parse_args(argv)

    tunnels = []
    if args.ue_ipv4 or args.ue_ipv6:
        if args.ul_teid is None or args.dl_teid is None:
            raise SystemExit("gnb_emu: --ue-ipv4/--ue-ipv6 need --ul-teid and --dl-teid")
        tunnels.append(Tunnel(0, args.ue_ipv4, args.ue_ipv6, args.ul_teid, args.dl_teid,
                              args.qfi))
    for spec in args.tunnel:
        tunnels.append(parse_tunnel_spec(len(tunnels), spec))
    if not tunnels:
        raise SystemExit("gnb_emu: no tunnel: give --ue-ipv4/--ue-ipv6 or --tunnel")
    for t in tunnels:
        for teid, what in ((t.ul_teid, "UL"), (t.dl_teid, "DL")):
            if not 0 <= teid <= 0xFFFFFFFF:
                raise SystemExit(f"gnb_emu: {what} TEID {teid:#x} out of range")
        if not 0 <= t.qfi <= 63:
            raise SystemExit(f"gnb_emu: QFI {t.qfi} out of range 0..63")
        if not 0 <= t.delay_s <= 10:
            raise SystemExit(f"gnb_emu: delay_ms {t.delay_s * 1000:g} out of range 0..10000")
    if len({t.dl_teid for t in tunnels}) != len(tunnels):
        raise SystemExit("gnb_emu: DL TEIDs must be distinct")
    upf = ipaddress.ip_address(args.upf)
    for prefix in args.route:
        if upf in ipaddress.ip_network(prefix, strict=False):
            raise SystemExit(f"gnb_emu: route {prefix} covers the UPF address {upf}: the "
                             "encapsulated packets would loop into the tun")
    return args, tunnels


# ------------------------------------------------------------------------------- emulator


class Emulator:
    def __init__(self, args, tunnels):
        self.args = args
        self.tunnels = tunnels
        self.by_src = {}
        for t in tunnels:
            if t.ue4:
                self.by_src[t.ue4.packed] = t
            if t.ue6:
                self.by_src[t.ue6.packed] = t
        self.by_dl_teid = {t.dl_teid: t for t in tunnels}
        self.upf = ipaddress.ip_address(args.upf)
        self.family = socket.AF_INET if self.upf.version == 4 else socket.AF_INET6
        self.upf_addr = (str(self.upf), args.upf_port)
        self.ext = not args.no_ext
        self.pdu_type = 1 if args.pdu_type == "ul" else 0
        outer = 20 if self.family == socket.AF_INET else 40
        self.mtu = args.mtu or 1500 - outer - 8 - (16 if self.ext else 8)
        self.started = time.monotonic()
        self.exit_reason = None
        self.sigusr1 = 0
        self.dumps = 0
        self.c = {k: 0 for k in (
            "ul_packets", "ul_bytes", "ul_dropped_no_tunnel", "ul_dropped_not_ip",
            "ul_send_errors", "dl_packets", "dl_bytes", "dl_unknown_teid", "dl_malformed",
            "dl_empty", "dl_write_errors", "dl_no_container", "rx_datagrams", "rx_other_peer",
            "echo_responses_sent")}
        self.dl_qfi: dict[str, int] = {}
        self.dl_pdu_type: dict[str, int] = {}
        self.rx_messages: dict[str, int] = {}
        self.malformed_reasons: dict[str, int] = {}
        self.messages: list = []
        self.messages_dropped = 0
        self.unknown_teids: dict[str, int] = {}
        self.delaying = [t for t in tunnels if t.delay_s > 0]

    # -- statistics

    def snapshot(self):
        return {
            "ready": True,
            "pid": os.getpid(),
            "tun": self.args.tun,
            "mtu": self.mtu,
            "upf": self.upf_addr[0],
            "upf_port": self.upf_addr[1],
            "ext": self.ext,
            "uptime_s": round(time.monotonic() - self.started, 3),
            "sigusr1": self.sigusr1,
            "dumps": self.dumps,
            "exit_reason": self.exit_reason,
            **self.c,
            "dl_qfi": dict(self.dl_qfi),
            "dl_pdu_type": dict(self.dl_pdu_type),
            "dl_unknown_teids": dict(self.unknown_teids),
            "dl_malformed_reasons": dict(self.malformed_reasons),
            "rx_messages": dict(self.rx_messages),
            "messages": list(self.messages),
            "messages_dropped": self.messages_dropped,
            "tunnels": [t.stats() for t in self.tunnels],
        }

    def write_stats(self):
        self.dumps += 1
        path = self.args.stats
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(self.snapshot(), f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)

    # -- uplink

    def uplink(self, tun_fd, sock):
        for _ in range(UL_BURST):
            try:
                pkt = os.read(tun_fd, 65535)
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno in (errno.EAGAIN, errno.EINTR):
                    return
                raise
            if not pkt:
                return
            v = pkt[0] >> 4
            if v == 4 and len(pkt) >= 20:
                src = pkt[12:16]
            elif v == 6 and len(pkt) >= 40:
                src = pkt[8:24]
            else:
                self.c["ul_dropped_not_ip"] += 1
                continue
            t = self.by_src.get(src)
            if t is None:
                self.c["ul_dropped_no_tunnel"] += 1
                continue
            if t.cut:
                t.ul_cut += 1
                continue
            hdr = gpdu_header(t.ul_teid, len(pkt), t.qfi if self.ext else None, self.pdu_type)
            if t.delay_s > 0:  # one constant delay per tunnel: the queue stays in time order
                t.delayed.append((time.monotonic() + t.delay_s, hdr, pkt))
                continue
            self.send_ul(sock, t, hdr, pkt)

    def send_ul(self, sock, t, hdr, pkt):
        try:
            sock.sendto(hdr + pkt, self.upf_addr)
        except OSError:
            self.c["ul_send_errors"] += 1
            return
        self.c["ul_packets"] += 1
        self.c["ul_bytes"] += len(pkt)
        t.ul_packets += 1
        t.ul_bytes += len(pkt)

    def flush_delayed(self, sock) -> float | None:
        """Sends the delayed uplink G-PDUs that are due; returns when the next one is."""
        now = time.monotonic()
        next_due = None
        for t in self.delaying:
            while t.delayed:
                due, hdr, pkt = t.delayed[0]
                if due > now:
                    next_due = due if next_due is None else min(next_due, due)
                    break
                t.delayed.popleft()
                self.send_ul(sock, t, hdr, pkt)
        return next_due

    # -- downlink

    def record(self, msg, data, peer, count=True):
        name = MSG_NAMES.get(msg["type"], f"type_{msg['type']}")
        if count:
            self.rx_messages[name] = self.rx_messages.get(name, 0) + 1
        if len(self.messages) >= MAX_RECORDED_MESSAGES:
            self.messages_dropped += 1
            return name
        body = data[msg["payload_offset"]:msg["payload_end"]]
        entry = {"type": msg["type"], "name": name, "teid": msg["teid"], "seq": msg["seq"],
                 "flags": msg["flags"], "from": peer[0], "from_port": peer[1],
                 "ext_types": [t for t, _ in msg["exts"]], "udp_port": msg["udp_port"],
                 "qfi": msg["qfi"], "time_s": round(time.monotonic() - self.started, 3),
                 "hex": bytes(data[:256]).hex()}
        if msg["type"] != 255:
            entry["ies"] = parse_ies(body)
        self.messages.append(entry)
        return name

    def downlink(self, sock, tun_fd):
        for _ in range(UL_BURST):
            try:
                data, peer = sock.recvfrom(65535)
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno in (errno.EAGAIN, errno.EINTR):
                    return
                raise
            self.c["rx_datagrams"] += 1
            if peer[0] != self.upf_addr[0]:
                self.c["rx_other_peer"] += 1
            try:
                msg = parse_gtpu(data)
            except GtpuError as e:
                self.c["dl_malformed"] += 1
                self.malformed_reasons[str(e)] = self.malformed_reasons.get(str(e), 0) + 1
                continue
            if msg["type"] != 255:
                self.record(msg, data, peer)
                if msg["type"] == 1 and not self.args.no_echo_reply:
                    try:
                        sock.sendto(echo_response(msg["seq"]), peer)
                        self.c["echo_responses_sent"] += 1
                    except OSError:
                        pass
                continue
            t = self.by_dl_teid.get(msg["teid"])
            if t is None:
                self.c["dl_unknown_teid"] += 1
                key = str(msg["teid"])
                self.unknown_teids[key] = self.unknown_teids.get(key, 0) + 1
                if self.c["dl_unknown_teid"] <= 20:  # the first few, for the test's eyes
                    self.record(msg, data, peer, count=False)
                continue
            if t.cut:
                t.dl_cut += 1
                continue
            if msg["qfi"] is None:
                self.c["dl_no_container"] += 1
            else:
                q = str(msg["qfi"])
                self.dl_qfi[q] = self.dl_qfi.get(q, 0) + 1
                t.dl_qfi[q] = t.dl_qfi.get(q, 0) + 1
                pt = str(msg["pdu_type"])
                self.dl_pdu_type[pt] = self.dl_pdu_type.get(pt, 0) + 1
            payload = data[msg["payload_offset"]:msg["payload_end"]]
            if not payload:
                self.c["dl_empty"] += 1
                continue
            try:
                os.write(tun_fd, payload)
            except OSError:
                self.c["dl_write_errors"] += 1
                continue
            self.c["dl_packets"] += 1
            self.c["dl_bytes"] += len(payload)
            t.dl_packets += 1
            t.dl_bytes += len(payload)

    # -- main loop

    def run(self):
        args = self.args
        # Signals first: a SIGTERM or SIGUSR1 during set-up must not kill the process.
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        flags = {"stop": None, "dump": 0, "cut": 0}

        def on_stop(signum, _frame):
            flags["stop"] = signal.Signals(signum).name.lower()

        def on_dump(_signum, _frame):
            flags["dump"] += 1

        def on_cut(_signum, _frame):
            flags["cut"] += 1

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGUSR1, on_dump)
        signal.signal(signal.SIGUSR2, on_cut)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)

        sock = socket.socket(self.family, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        bind_ip = args.gnb_ip or ("0.0.0.0" if self.family == socket.AF_INET else "::")
        sock.bind((bind_ip, args.gnb_port))
        sock.setblocking(False)

        tun_fd = open_tun(args.tun)
        configure_tun(args, self.tunnels, self.mtu)

        deadline = self.started + args.max_seconds
        self.write_stats()
        print(f"gnb_emu ready: tun {args.tun} mtu {self.mtu} upf {self.upf_addr[0]}:"
              f"{self.upf_addr[1]} tunnels {len(self.tunnels)}", flush=True)
        try:
            while True:
                while flags["cut"]:  # before a dump: a SIGUSR2, SIGUSR1 pair reads the new state
                    flags["cut"] -= 1
                    for t in self.tunnels:
                        t.cut = t.cuttable and not t.cut
                if flags["dump"]:
                    self.sigusr1 += flags["dump"]
                    flags["dump"] = 0
                    self.write_stats()
                if flags["stop"]:
                    self.exit_reason = flags["stop"]
                    break
                next_due = self.flush_delayed(sock)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.exit_reason = "max_seconds"
                    break
                wait = remaining if next_due is None else max(0.0, min(remaining,
                                                                       next_due - time.monotonic()))
                readable, _, _ = select.select([tun_fd, sock, wake_r], [], [], wait)
                if wake_r in readable:
                    try:
                        while os.read(wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                if tun_fd in readable:
                    self.uplink(tun_fd, sock)
                if sock in readable:
                    self.downlink(sock, tun_fd)
        finally:
            signal.set_wakeup_fd(-1)
            self.sigusr1 += flags["dump"]
            self.exit_reason = self.exit_reason or "error"
            self.write_stats()
            os.close(tun_fd)
            sock.close()
        return 0


def main(argv=None):
    args, tunnels = parse_args(sys.argv[1:] if argv is None else argv)
    return Emulator(args, tunnels).run()


if __name__ == "__main__":
    sys.exit(main())
