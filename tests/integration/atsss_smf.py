"""A scripted SMF for an MA PDU session with ATSSS (issue 7), standard library only.

Used by tests/integration/test_proxy_atsss.py and scripts/demo_atsss.py. It builds the PFCP
bodies with raw IEs (scapy has no ATSSS IEs; TS 29.244 §7.5.2, spec §1.12-§1.13) and reads the
ATSSS Control Parameters braid answers with (MPTCP Parameters: the proxy address and port and
the UE's link-specific multipath addresses, TS 23.501 §5.32.6.2.1).

    smf = PfcpPeer(("127.0.0.1", 8805))
    smf.associate("smf.example.org")
    r = parse_establishment(smf.request(50, establishment(...), seid=0))
"""

from __future__ import annotations

import random
import socket
import struct
import time

STEERING_MODES = {"active-standby": 0, "smallest-delay": 1, "load-balancing": 2,
                  "priority-based": 3, "redundant": 4}
# Priority IE (174) values, TS 29.244 §8.2.164.
PRIORITIES = {"active": 0, "standby": 1, "no-standby": 2, "high": 3, "low": 4, "primary": 5,
              "secondary": 6}


def ie(ie_type: int, value: bytes) -> bytes:
    return struct.pack("!HH", ie_type, len(value)) + value


def u16(v: int) -> bytes:
    return struct.pack("!H", v)


def u32(v: int) -> bytes:
    return struct.pack("!I", v)


def ipv4(a: str) -> bytes:
    return socket.inet_aton(a)


def fqdn_node_id(name: str) -> bytes:
    """Node ID IE (60), FQDN form (TS 29.244 §8.2.38: DNS labels)."""
    return ie(60, bytes([2]) + b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")))


def access_steering(weight: int | None = None, priority: str | None = None) -> bytes:
    """The Weight (173) and Priority (174) IEs of an access forwarding action information."""
    out = b""
    if weight is not None:
        out += ie(173, bytes([weight]))
    if priority is not None:
        out += ie(174, bytes([PRIORITIES[priority]]))
    return out


# 3GPP Interface Type (IE 160, TS 29.244 §8.2.118) of each UL PDR's tunnel.
N3_3GPP_ACCESS = 11
N3_UNTRUSTED_NON_3GPP_ACCESS = 13


def establishment(smf_node_id: str, cp_seid: int, ue: str, gnb_ip: str, dl_teid_3gpp: int,
                  dl_teid_non_3gpp: int, steering_mode: str = "smallest-delay",
                  tgpp: dict | None = None, non_tgpp: dict | None = None) -> bytes:
    """Session Establishment Request body of an MA PDU session with MPTCP: two UL PDRs (3GPP and
    non-3GPP access, F-TEID CHOOSE with CHOOSE IDs 1 and 2, Source Interface Type N3 3GPP Access
    and N3 Untrusted Non-3GPP Access, FAR 1 to the core), a DL PDR whose
    MAR 1 (steering functionality MPTCP, `steering_mode`) names FAR 2 (3GPP: GTP-U to `gnb_ip`
    with `dl_teid_3gpp`) and FAR 3 (non-3GPP: the same peer plays the N3IWF with
    `dl_teid_non_3gpp`), and Provide ATSSS Control Information with the MPTCP TCI. `tgpp` /
    `non_tgpp`: that access's steering parameters, access_steering() keywords (weight,
    priority)."""
    f_seid = ie(57, bytes([0x02]) + struct.pack("!Q", cp_seid) + ipv4("127.0.0.1"))

    def ul_pdr(pdr_id, choose_id, interface_type):
        pdi = ie(2, ie(20, b"\x00")  # Source Interface: access
                 + ie(21, bytes([0x0d, choose_id]))  # F-TEID CH, CHID, V4
                 + ie(160, bytes([interface_type])))  # Source Interface Type
        return ie(1, ie(56, u16(pdr_id)) + ie(29, u32(200)) + pdi
                  + ie(95, b"\x00")  # Outer Header Removal GTP-U/UDP/IPv4
                  + ie(108, u32(1))  # FAR 1: to the core
                  + ie(265, b"\x01"))  # Multipath Applicable Indication: MTAI

    dl_pdi = ie(2, ie(20, b"\x01") + ie(93, bytes([0x06]) + ipv4(ue)))  # V4 SD
    dl_pdr = ie(1, ie(56, u16(3)) + ie(29, u32(200)) + dl_pdi + ie(170, u16(1)))  # MAR 1

    def far(far_id, dest, ohc=None):
        fwd = ie(42, bytes([dest]))
        if ohc:
            fwd += ie(84, u16(0x0100) + u32(ohc[0]) + ipv4(ohc[1]))
        return ie(3, ie(108, u32(far_id)) + ie(44, b"\x02") + ie(4, fwd))

    mar = ie(165, ie(170, u16(1)) + ie(171, b"\x01")  # steering functionality MPTCP
             + ie(172, bytes([STEERING_MODES[steering_mode]]))
             + ie(166, ie(108, u32(2)) + access_steering(**(tgpp or {})))
             + ie(167, ie(108, u32(3)) + access_steering(**(non_tgpp or {}))))
    atsss = ie(220, ie(222, b"\x01"))  # MPTCP Control Information: TCI
    return (fqdn_node_id(smf_node_id) + f_seid + ul_pdr(1, 1, N3_3GPP_ACCESS) + ul_pdr(2, 2, N3_UNTRUSTED_NON_3GPP_ACCESS) + dl_pdr
            + far(1, 1) + far(2, 0, (dl_teid_3gpp, gnb_ip))
            + far(3, 0, (dl_teid_non_3gpp, gnb_ip)) + mar + atsss)


def update_mar(steering_mode: str, tgpp: dict | None = None,
               non_tgpp: dict | None = None) -> bytes:
    """Session Modification Request body (message 52; the header carries the UP SEID): Update
    MAR (169) of MAR 1 with a new steering mode and, per access, Update 3GPP / non-3GPP Access
    Forwarding Action Information (175 / 176) with access_steering() keywords."""
    body = ie(170, u16(1)) + ie(172, bytes([STEERING_MODES[steering_mode]]))
    if tgpp:
        body += ie(175, access_steering(**tgpp))
    if non_tgpp:
        body += ie(176, access_steering(**non_tgpp))
    return ie(169, body)


def cause_of(raw: bytes) -> int:
    """The Cause (19) of a PFCP response with a SEID header."""
    return first(raw[16:], 19)[0]


def walk(data: bytes):
    """(type, value) of each IE in `data`."""
    off = 0
    while off + 4 <= len(data):
        t, n = struct.unpack_from("!HH", data, off)
        yield t, data[off + 4:off + 4 + n]
        off += 4 + n


def first(data: bytes, ie_type: int) -> bytes:
    for t, v in walk(data):
        if t == ie_type:
            return v
    raise AssertionError(f"IE {ie_type} not in {data.hex()}")


def parse_establishment(raw: bytes) -> dict:
    """Cause, UP SEID, the UL TEIDs per PDR ID, the proxy and the link-specific IPv4 addresses
    of a Session Establishment Response."""
    body = raw[16:]  # header with SEID
    out = {"cause": first(body, 19)[0], "teids": {}}
    out["seid"] = struct.unpack("!Q", first(body, 57)[1:9])[0]
    for t, v in walk(body):
        if t == 8:  # Created PDR
            pdr_id = struct.unpack("!H", first(v, 56))[0]
            fteid = first(v, 21)
            out["teids"][pdr_id] = struct.unpack("!I", fteid[1:5])[0]
    mptcp = first(first(body, 221), 225)
    addr = first(mptcp, 228)
    assert addr[0] & 0x01 and addr[1] == 1, addr.hex()  # V4, Transport Converter
    out["proxy"] = (socket.inet_ntoa(addr[4:8]), struct.unpack("!H", addr[2:4])[0])
    link = first(mptcp, 229)
    flags, off = link[0], 1
    for bit, key, n in ((0x01, "tgpp4", 4), (0x02, "tgpp6", 16), (0x04, "non_tgpp4", 4),
                        (0x08, "non_tgpp6", 16)):
        if flags & bit:
            out[key] = link[off:off + n]
            off += n
    out["tgpp4"] = socket.inet_ntoa(out["tgpp4"])
    out["non_tgpp4"] = socket.inet_ntoa(out["non_tgpp4"])
    return out


class PfcpPeer:
    """An SMF's PFCP socket toward braid: requests with retransmission, Heartbeat Requests from
    braid answered while waiting."""

    def __init__(self, braid: tuple[str, int]):
        self.braid = braid
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.seq = random.randint(1, 0xfff000)

    def close(self):
        self.sock.close()

    def request(self, msg_type: int, body: bytes, seid: int | None = None,
                timeout: float = 3.0) -> bytes:
        """Sends a request (TS 29.244 §7.2.2 header; `seid` set: a session message) and returns
        the response with the same sequence number."""
        self.seq = self.seq + 1 & 0xffffff
        seq = struct.pack("!I", self.seq << 8)
        if seid is None:
            head = struct.pack("!BBH", 0x20, msg_type, len(body) + 4) + seq
        else:
            head = struct.pack("!BBHQ", 0x21, msg_type, len(body) + 12, seid) + seq
        deadline = time.monotonic() + timeout
        for _ in range(3):
            self.sock.sendto(head + body, self.braid)
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.05, min(1.0, deadline - time.monotonic())))
                try:
                    data, peer = self.sock.recvfrom(65535)
                except socket.timeout:
                    break
                if data[1] == 1:  # Heartbeat Request from braid: answer it
                    rts = ie(96, u32(int(time.time()) + 2208988800))
                    rsp = struct.pack("!BBH", 0x20, 2, len(rts) + 4) + data[4:8] + rts
                    self.sock.sendto(rsp, peer)
                    continue
                off = 12 if data[0] & 0x01 else 4
                if struct.unpack("!I", data[off:off + 4])[0] >> 8 == self.seq:
                    return data
        raise TimeoutError(f"no response to PFCP message type {msg_type}")

    def associate(self, smf_node_id: str) -> bytes:
        """Association Setup Request (5) → Response (6); returns the response."""
        rts = ie(96, u32(int(time.time()) + 2208988800))  # Recovery Time Stamp (NTP seconds)
        rsp = self.request(5, fqdn_node_id(smf_node_id) + rts)
        cause = first(rsp[8:], 19)[0]
        if cause != 1:
            raise RuntimeError(f"association refused, cause {cause}")
        return rsp
