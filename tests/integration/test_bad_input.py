"""Malformed and unwanted frames injected from the gNB namespace (scapy sendp) must be dropped
with the right reason (braid_drop_packets_total{reason=...}, `show drops`) and braid must keep
answering."""

from __future__ import annotations

import struct
import time

import pytest
from conftest import GNB_IP, N3_IP

from scapy.all import ARP, ICMP, IP, UDP, Dot1Q, Ether, Raw  # noqa: E402

DROP = "braid_drop_packets_total"


def _ipv4_checksum(hdr: bytes) -> int:
    if len(hdr) % 2:
        hdr += b"\0"
    s = sum(struct.unpack(f"!{len(hdr) // 2}H", hdr))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _with_ip_header(eth_ip: bytes, first_byte=None, total_len=None, fix_checksum=True) -> bytes:
    """Patch the IPv4 header of an Ethernet frame (offset 14) and recompute its checksum over
    the standard 20 bytes."""
    b = bytearray(eth_ip)
    if first_byte is not None:
        b[14] = first_byte
    if total_len is not None:
        b[16:18] = struct.pack("!H", total_len)
    if fix_checksum:
        b[24:26] = b"\0\0"
        b[24:26] = struct.pack("!H", _ipv4_checksum(bytes(b[14:34])))
    return bytes(b)


def _echo(braid_mac, gnb_mac, dst=N3_IP, payload=b"braid-bad-input", **ip_kw):
    return Ether(dst=braid_mac, src=gnb_mac) / IP(src=GNB_IP, dst=dst, **ip_kw) / \
        ICMP(id=0x4242, seq=1) / Raw(payload)


def case_runt(bm, gm):
    # Ethernet header announcing IPv4 and nothing after it; and a 10-byte IPv4 stub.
    hdr = bytes(Ether(dst=bm, src=gm, type=0x0800))
    return [hdr, hdr + bytes(_echo(bm, gm))[14:24]]


def case_unknown_ethertype(bm, gm):
    return [Ether(dst=bm, src=gm, type=0x88B5) / Raw(b"\x00" * 46)] * 2


def case_ipv4_bad_header(bm, gm):
    good = bytes(_echo(bm, gm))
    return [
        _with_ip_header(good, first_byte=0x43),  # IHL 3 (< 5)
        _with_ip_header(good, first_byte=0x4F),  # IHL 15: 60 bytes > total length 43
        _with_ip_header(good, first_byte=0x65),  # version 6 in an IPv4 ethertype
        _with_ip_header(good, total_len=1000),  # total length beyond the frame
        _with_ip_header(good, total_len=12),  # total length below the header
    ]


def case_ipv4_bad_checksum(bm, gm):
    return [_echo(bm, gm, chksum=0x1234), _echo(bm, gm, chksum=0x0000)]


def case_arp_not_for_us(bm, gm):
    return [Ether(dst="ff:ff:ff:ff:ff:ff", src=gm) /
            ARP(op=1, hwsrc=gm, psrc=GNB_IP, pdst=ip)
            for ip in ("198.18.0.77", "198.18.0.78")]


def case_vlan_unsupported(bm, gm):
    return [Ether(dst=bm, src=gm) / Dot1Q(vlan=42) / IP(src=GNB_IP, dst=N3_IP) / ICMP()]


def case_not_our_mac(bm, gm):
    return [_echo("02:00:00:00:00:99", gm)]


def case_ipv4_not_for_us(bm, gm):
    # To braid's MAC but a foreign destination, with no forwarding rule.
    return [Ether(dst=bm, src=gm) / IP(src=GNB_IP, dst="198.19.0.99") / UDP(dport=9) /
            Raw(b"x" * 20)]


def case_icmp_bad_checksum(bm, gm):
    return [Ether(dst=bm, src=gm) / IP(src=GNB_IP, dst=N3_IP) /
            ICMP(id=7, seq=7, chksum=0xBEEF) / Raw(b"y" * 16)]


CASES = {
    "runt_frame": case_runt,
    "unknown_ethertype": case_unknown_ethertype,
    "ipv4_bad_header": case_ipv4_bad_header,
    "ipv4_bad_checksum": case_ipv4_bad_checksum,
    "arp_not_for_us": case_arp_not_for_us,
    "vlan_unsupported": case_vlan_unsupported,
    "not_our_mac": case_not_our_mac,
    "ipv4_not_for_us": case_ipv4_not_for_us,
    "icmp_bad_checksum": case_icmp_bad_checksum,
}

triggered = set()


def _wait_drop(braid, reason, before, n, timeout=5.0):
    deadline = time.monotonic() + timeout
    now = before
    while time.monotonic() < deadline:
        now = braid.metrics().value(DROP, reason=reason)
        if now - before >= n:
            return now
        time.sleep(0.2)
    return now


@pytest.fixture(scope="module")
def macs(lab, braid):
    return lab.mac(lab.n3), lab.mac("eth0", ns=lab.gnb)


@pytest.mark.parametrize("reason", list(CASES))
def test_drop_reason(lab, alive, macs, reason):
    braid = alive
    frames = CASES[reason](*macs)
    before = braid.metrics().value(DROP, reason=reason)
    lab.sendp(lab.gnb, frames)
    after = _wait_drop(braid, reason, before, len(frames))
    assert after - before >= len(frames), (
        f"{DROP}{{reason=\"{reason}\"}} went {before} -> {after} after sending "
        f"{len(frames)} frame(s)\n--- show drops\n{braid.cli('show', 'drops')[1]}")
    triggered.add(reason)
    cp = lab.ping(lab.gnb, N3_IP, count=1, wait=2)
    assert cp.returncode == 0, f"braid stopped answering ping after {reason}:\n{cp.stdout}"


def test_oversized_frame(lab, alive, macs):
    """A frame 2 bytes over MTU 1500 + Ethernet header: the veth still passes it (it allows
    MTU + 14 + 4), braid must drop it as oversized_frame."""
    braid = alive
    bm, gm = macs
    lab.ns(lab.gnb, "ip", "link", "set", "dev", "eth0", "mtu", "1600", check=True)
    try:
        frame = _echo(bm, gm, payload=b"z" * (1502 - 20 - 8))
        assert len(bytes(frame)) == 1516
        before = braid.metrics().value(DROP, reason="oversized_frame")
        lab.sendp(lab.gnb, [frame])
        after = _wait_drop(braid, "oversized_frame", before, 1)
    finally:
        lab.ns(lab.gnb, "ip", "link", "set", "dev", "eth0", "mtu", "1500", check=True)
    assert after - before >= 1, (
        f"oversized_frame went {before} -> {after}\n--- show drops\n"
        f"{braid.cli('show', 'drops')[1]}")
    triggered.add("oversized_frame")


def test_show_drops_lists_reasons(alive):
    braid = alive
    out = braid.cli_ok("show", "drops")
    assert triggered, "no drop case ran before this test"
    for reason in sorted(triggered):
        assert reason in out, f"'show drops' does not list {reason}:\n{out}"


def test_still_answers_after_all(lab, alive):
    cp = lab.ping(lab.gnb, N3_IP, count=3)
    assert cp.returncode == 0 and " 0% packet loss" in cp.stdout, cp.stdout
    cp = lab.ping(lab.dn, "198.19.0.1", count=3)
    assert cp.returncode == 0 and " 0% packet loss" in cp.stdout, cp.stdout
