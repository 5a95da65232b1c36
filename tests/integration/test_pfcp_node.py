"""braid's PFCP server on N4 (TS 29.244 §6.2, §6.4, §7.4, §7.6): node procedures over a real UDP
socket. The SMF is this test process: scapy.contrib.pfcp messages on a UDP socket bound to
127.0.0.1, sent to braid's pfcp.listen address (127.0.0.1, a port unique to this module)."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time

import pytest
from scapy.contrib.pfcp import (
    PFCP,
    IE_Cause,
    IE_CPFunctionFeatures,
    IE_FSEID,
    IE_NodeId,
    IE_RecoveryTimeStamp,
    PFCPAssociationReleaseRequest,
    PFCPAssociationSetupRequest,
    PFCPAssociationSetupResponse,
    PFCPHeartbeatRequest,
    PFCPHeartbeatResponse,
    PFCPSessionEstablishmentRequest,
)

BRAID_NODE_ID = "198.18.0.1"
SMF_NODE_ID = "smf.example.org"
SMF_RTS = 3946684800  # NTP seconds, 2025-01-24


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pfcp_config(port: int, **extra) -> dict:
    cfg = {"enabled": True, "listen": {"address": "127.0.0.1", "port": port},
           "node_id": BRAID_NODE_ID, "heartbeat": {"interval_s": 1, "misses": 3},
           "t1_ms": 300, "n1": 2}
    cfg.update(extra)
    return {"pfcp": cfg}


class Smf:
    """A PFCP peer on 127.0.0.1: sends requests to braid, collects what braid sends back, and
    answers braid's Heartbeat Requests (so that the association stays up)."""

    def __init__(self, braid_port: int, port: int = 0):
        self.braid = ("127.0.0.1", braid_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.seq = random.randint(1, 0xfff000)
        self.heartbeats_from_braid = 0
        self.inbox = []  # requests braid sent us other than heartbeats

    def close(self):
        self.sock.close()

    def send(self, msg):
        self.sock.sendto(bytes(msg), self.braid)

    def recv(self, timeout=3.0):
        """The next datagram from braid, or None."""
        self.sock.settimeout(timeout)
        try:
            data, peer = self.sock.recvfrom(65535)
        except socket.timeout:
            return None
        assert peer == self.braid, f"datagram from {peer}, not braid {self.braid}"
        return data

    def next_seq(self) -> int:
        self.seq = (self.seq + 1) & 0xffffff
        return self.seq

    def request(self, body, seq=None, seid=None, timeout=3.0):
        """Sends a request; returns (raw bytes, PFCP) of braid's response with the same seq."""
        seq = self.next_seq() if seq is None else seq
        hdr = PFCP(version=1, S=0, seq=seq) if seid is None else PFCP(version=1, S=1, seid=seid,
                                                                   seq=seq)
        self.send(hdr / body)
        return self.expect_response(seq, timeout)

    def expect_response(self, seq, timeout=3.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.recv(max(0.05, deadline - time.monotonic()))
            if data is None:
                break
            msg = PFCP(data)
            if self.handle_request(data, msg):
                continue
            if msg.seq == seq:
                return data, msg
        pytest.fail(f"no response with seq {seq} from braid within {timeout}s")

    def handle_request(self, data, msg) -> bool:
        """Answers braid's Heartbeat Requests; keeps its other requests. True if `msg` was one."""
        if msg.message_type == 1:
            self.heartbeats_from_braid += 1
            self.sock.sendto(bytes(PFCP(version=1, S=0, seq=msg.seq) / PFCPHeartbeatResponse(
                IE_list=[IE_RecoveryTimeStamp(timestamp=SMF_RTS)])), self.braid)
            return True
        if msg.message_type in (5, 7, 9, 12, 56):
            self.inbox.append(data)
            return True
        return False

    def setup(self, node_id=SMF_NODE_ID, rts=SMF_RTS):
        return self.request(PFCPAssociationSetupRequest(IE_list=[
            IE_NodeId(id_type=2, id=node_id), IE_RecoveryTimeStamp(timestamp=rts),
            IE_CPFunctionFeatures(LOAD=1)]))


def ies(msg):
    return {ie.ietype: ie for ie in msg.payload.IE_list}


def ie_value(raw: bytes, ie_type: int) -> bytes:
    """The value octets of the first IE of `ie_type` in a node message (8-octet header)."""
    off = 8
    while off + 4 <= len(raw):
        t = int.from_bytes(raw[off:off + 2], "big")
        n = int.from_bytes(raw[off + 2:off + 4], "big")
        if t == ie_type:
            return raw[off + 4:off + 4 + n]
        off += 4 + n
    raise AssertionError(f"IE {ie_type} not in {raw.hex()}")


@pytest.fixture(scope="module")
def pfcp_port():
    return free_udp_port()


@pytest.fixture(scope="module")
def upf(braid_factory, pfcp_port):
    return braid_factory(pfcp_config(pfcp_port))


@pytest.fixture
def smf(upf, pfcp_port):
    s = Smf(pfcp_port)
    yield s
    s.close()
    assert upf.running(), f"braid died during the test\n--- log\n{upf.log()}"


def release(smf):
    smf.request(PFCPAssociationReleaseRequest(IE_list=[IE_NodeId(id_type=2, id=SMF_NODE_ID)]))


# --------------------------------------------------------------------------- procedures


def test_association_setup_response_fields(upf, smf):
    raw, rsp = smf.setup()
    assert rsp.version == 1 and rsp.S == 0
    assert rsp.message_type == 6 and isinstance(rsp.payload, PFCPAssociationSetupResponse)
    got = ies(rsp)
    assert got[60].id_type == 0 and got[60].ipv4 == BRAID_NODE_ID  # Node ID: IPv4
    assert got[19].cause == 1
    assert got[96].timestamp > 0
    # UP Function Features: exactly FTUP (octet 5 bit 5), nothing braid does not implement.
    assert ie_value(raw, 43) == bytes([0x10, 0x00])
    assert [ie.ietype for ie in rsp.payload.IE_list] == [60, 19, 96, 43]

    out = upf.cli_ok("show", "pfcp", "associations")
    line = next((l for l in out.splitlines() if l.startswith(SMF_NODE_ID)), None)
    assert line is not None, out
    assert "127.0.0.1:" in line and "established" in line and " cp " in line, out
    assert "1 associations" in out, out
    release(smf)


def test_heartbeat_both_directions(upf, smf):
    _, setup_rsp = smf.setup()
    braid_rts = ies(setup_rsp)[96].timestamp
    _, rsp = smf.request(PFCPHeartbeatRequest(IE_list=[IE_RecoveryTimeStamp(timestamp=SMF_RTS)]))
    assert rsp.message_type == 2 and isinstance(rsp.payload, PFCPHeartbeatResponse)
    assert ies(rsp)[96].timestamp == braid_rts
    # braid asks too, every heartbeat.interval_s (1 s); Smf answers.
    deadline = time.monotonic() + 5
    while smf.heartbeats_from_braid < 2 and time.monotonic() < deadline:
        data = smf.recv(0.5)
        if data is not None:
            smf.handle_request(data, PFCP(data))
    assert smf.heartbeats_from_braid >= 2
    out = upf.cli_ok("show", "pfcp", "associations")
    assert "s ago" in out and "established" in out, out
    release(smf)


def test_association_release_ends_the_association(upf, smf):
    smf.setup()
    _, rsp = smf.request(PFCPAssociationReleaseRequest(IE_list=[
        IE_NodeId(id_type=2, id=SMF_NODE_ID)]))
    assert rsp.message_type == 10
    assert ies(rsp)[19].cause == 1
    assert ies(rsp)[60].ipv4 == BRAID_NODE_ID
    out = upf.cli_ok("show", "pfcp", "associations")
    assert SMF_NODE_ID not in out and "0 associations" in out, out
    # No association any more: a second release and session requests get Cause 72.
    _, again = smf.request(PFCPAssociationReleaseRequest(IE_list=[
        IE_NodeId(id_type=2, id=SMF_NODE_ID)]))
    assert ies(again)[19].cause == 72


def test_session_request_without_association_gets_cause_72(upf, smf):
    _, rsp = smf.request(PFCPSessionEstablishmentRequest(IE_list=[
        IE_NodeId(id_type=2, id=SMF_NODE_ID), IE_FSEID(v4=1, seid=0xc0ffee, ipv4="127.0.0.1")]),
        seid=0)
    assert rsp.message_type == 51 and rsp.S == 1
    assert rsp.seid == 0xc0ffee
    assert ies(rsp)[19].cause == 72


def test_malformed_requests_get_the_right_cause(upf, smf):
    # Association Setup Request without its mandatory Node ID: Cause 66 + Offending IE 60.
    _, rsp = smf.request(PFCPAssociationSetupRequest(IE_list=[
        IE_RecoveryTimeStamp(timestamp=SMF_RTS)]))
    assert rsp.message_type == 6
    assert ies(rsp)[19].cause == 66
    assert ies(rsp)[40].type == 60
    # Recovery Time Stamp two octets short: Cause 68 + Offending IE 96.
    seq = smf.next_seq()
    body = (bytes.fromhex("003c0005") + bytes([0]) + bytes([127, 0, 0, 1])
            + bytes.fromhex("00600002 eb3d"))
    smf.sock.sendto(bytes.fromhex("2005") + (len(body) + 4).to_bytes(2, "big")
                    + seq.to_bytes(3, "big") + b"\0" + body, smf.braid)
    _, rsp = smf.expect_response(seq)
    assert ies(rsp)[19].cause == 68
    assert ies(rsp)[40].type == 96
    # Message Length beyond the datagram: Cause 68.
    seq = smf.next_seq()
    smf.sock.sendto(bytes.fromhex("20050040") + seq.to_bytes(3, "big") + b"\0", smf.braid)
    _, rsp = smf.expect_response(seq)
    assert rsp.message_type == 6 and ies(rsp)[19].cause == 68
    m = upf.metrics()
    assert m.value("braid_pfcp_rejections_total", cause="mandatory_ie_missing") >= 1
    assert m.value("braid_pfcp_rejections_total", cause="invalid_length") >= 2


def test_bad_version_gets_version_not_supported(upf, smf):
    smf.sock.sendto(bytes.fromhex("40010008abcdef00"), smf.braid)  # version 2
    data = smf.recv(3)
    assert data is not None, "no Version Not Supported Response"
    assert data[:2] == bytes([0x20, 11]) and data[4:7] == bytes.fromhex("abcdef"), data.hex()


def test_braid_survives_garbage(upf, smf):
    before = upf.metrics()
    rng = random.Random(1)
    datagrams = [b"", b"\x20", b"\x20\x01\x00", bytes(7), bytes(64),
                 bytes.fromhex("2012000400000100"),           # unknown message type 18
                 bytes.fromhex("20ff000400000100"),           # unknown message type 255
                 bytes.fromhex("2002000400000100"),           # a response to nothing
                 bytes.fromhex("200c000400000100"),           # Node Report Request: unexpected
                 bytes.fromhex("21010004 0000000000000000 00000100".replace(" ", ""))]
    datagrams += [bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200)))
                  for _ in range(300)]
    for d in datagrams:
        smf.sock.sendto(d, smf.braid)
    # Drain whatever braid answered (some random datagrams are valid enough to deserve one).
    while smf.recv(0.5) is not None:
        pass
    _, rsp = smf.request(PFCPHeartbeatRequest(IE_list=[IE_RecoveryTimeStamp(timestamp=SMF_RTS)]))
    assert rsp.message_type == 2
    after = upf.metrics()
    for reason in ("too_short", "unknown_message_type", "unmatched_response",
                   "unexpected_request"):
        assert (after.value("braid_pfcp_drops_total", reason=reason)
                > before.value("braid_pfcp_drops_total", reason=reason)), reason
    stats = upf.cli_ok("show", "pfcp", "stats")
    assert "unknown_message_type" in stats and "Heartbeat Request" in stats, stats


def test_duplicate_request_gets_cached_response(upf, smf):
    seq = smf.next_seq()
    raw1, _ = smf.request(PFCPAssociationSetupRequest(IE_list=[
        IE_NodeId(id_type=2, id=SMF_NODE_ID), IE_RecoveryTimeStamp(timestamp=SMF_RTS)]), seq=seq)
    before = upf.metrics().value("braid_pfcp_associations_established_total")
    raw2, _ = smf.request(PFCPAssociationSetupRequest(IE_list=[
        IE_NodeId(id_type=2, id=SMF_NODE_ID), IE_RecoveryTimeStamp(timestamp=SMF_RTS)]), seq=seq)
    assert raw2 == raw1
    m = upf.metrics()
    assert m.value("braid_pfcp_associations_established_total") == before  # not re-executed
    assert m.value("braid_pfcp_duplicate_requests_total") >= 1
    release(smf)


def test_pfcp_metrics_exported(upf, smf):
    smf.request(PFCPHeartbeatRequest(IE_list=[IE_RecoveryTimeStamp(timestamp=SMF_RTS)]))
    m = upf.metrics()
    assert m.value("braid_pfcp_messages_total", direction="rx", type="heartbeat_request") >= 1
    assert m.value("braid_pfcp_messages_total", direction="tx", type="heartbeat_response") >= 1
    for name in ("braid_pfcp_associations", "braid_pfcp_heartbeat_losses_total",
                 "braid_pfcp_retransmissions_total", "braid_pfcp_rejections_total",
                 "braid_pfcp_drops_total"):
        assert name in m, f"{name} missing from /metrics"
    assert m.value("braid_metrics_invalid_families_total", collector="pfcp") == 0


# --------------------------------------------------------------------------- tshark


def test_setup_response_dissects_cleanly_in_tshark(upf, smf, tmp_path):
    if shutil.which("tshark") is None:
        pytest.fail("tshark not found: run scripts/setup.sh")
    from scapy.layers.inet import IP, UDP  # noqa: PLC0415
    from scapy.layers.l2 import Ether  # noqa: PLC0415
    from scapy.utils import wrpcap  # noqa: PLC0415

    raw, _ = smf.setup()
    release(smf)
    pcap = tmp_path / "setup_response.pcap"
    # As braid would send it from the standard port, so that tshark's PFCP heuristics apply.
    wrpcap(str(pcap), [Ether() / IP(src="127.0.0.1", dst="127.0.0.1")
                       / UDP(sport=8805, dport=8805) / raw])
    cp = subprocess.run(["tshark", "-r", str(pcap), "-V", "-Y", "pfcp"], capture_output=True,
                        text=True, timeout=60, env={**os.environ, "HOME": str(tmp_path)})
    assert cp.returncode == 0, cp.stderr
    out = cp.stdout
    assert "Packet Forwarding Control Protocol" in out, out
    assert "PFCP Association Setup Response" in out, out
    assert "Malformed" not in out and "Expert Info (Error" not in out \
        and "Expert Info (Warning" not in out, out
    assert "FTUP" in out and "Request accepted" in out, out
    ex = subprocess.run(["tshark", "-r", str(pcap), "-q", "-z", "expert"], capture_output=True,
                        text=True, timeout=60, env={**os.environ, "HOME": str(tmp_path)})
    assert "Errors" not in ex.stdout and "Warnings" not in ex.stdout, ex.stdout


# --------------------------------------------------------------------------- UP-initiated


def test_up_initiated_association_setup(braid_factory):
    """With pfcp.peers, braid sets up the association itself and retransmits until answered."""
    smf_port = free_udp_port()
    braid_port = free_udp_port()
    smf = Smf(braid_port, port=smf_port)
    try:
        b = braid_factory(pfcp_config(braid_port, peers=[{"address": "127.0.0.1",
                                                          "port": smf_port}]))
        # The first request and its retransmission (t1_ms 300) are byte-identical.
        first = smf.recv(5)
        assert first is not None, f"no Association Setup Request from braid\n{b.log()}"
        second = smf.recv(2)
        assert second == first
        req = PFCP(first)
        assert req.message_type == 5
        got = ies(req)
        assert got[60].ipv4 == BRAID_NODE_ID and got[96].timestamp > 0
        assert ie_value(first, 43) == bytes([0x10, 0x00])
        out = b.cli_ok("show", "pfcp", "associations")
        assert "0 associations" in out and f"127.0.0.1:{smf_port}" in out, out
        smf.sock.sendto(bytes(PFCP(version=1, S=0, seq=req.seq) / PFCPAssociationSetupResponse(
            IE_list=[IE_NodeId(id_type=2, id=SMF_NODE_ID), IE_Cause(cause=1),
                     IE_RecoveryTimeStamp(timestamp=SMF_RTS)])), smf.braid)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            out = b.cli_ok("show", "pfcp", "associations")
            if "1 associations" in out:
                break
            time.sleep(0.1)
        assert "1 associations" in out and " up " in out, out
        assert b.metrics().value("braid_pfcp_retransmissions_total") >= 1
        assert b.stop() == 0
    finally:
        smf.close()


def test_lost_peer_is_dropped(upf, pfcp_port):
    """An SMF that stops answering heartbeats is lost after interval_s x misses (1 s x 3)."""
    s = Smf(pfcp_port)
    try:
        s.setup(node_id="smf2.example.org")
        before = upf.metrics().value("braid_pfcp_heartbeat_losses_total")
        deadline = time.monotonic() + 10
        lost = False
        while time.monotonic() < deadline and not lost:
            time.sleep(0.5)  # never answer
            lost = upf.metrics().value("braid_pfcp_heartbeat_losses_total") > before
        assert lost, upf.cli_ok("show", "pfcp", "associations")
        assert "smf2.example.org" not in upf.cli_ok("show", "pfcp", "associations")
    finally:
        s.close()
