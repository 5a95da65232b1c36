"""ARP and ICMP echo against braid's own addresses, checked on the wire (tcpdump + scapy)."""

from __future__ import annotations

import re
import time

import pytest
from conftest import DN_IP, DN_IP6, GNB_IP, GNB_IP6, N3_IP, N3_IP6, N6_IP, N6_IP6, run

from scapy.all import ARP, ICMP, IP, Ether, ICMPv6EchoReply, ICMPv6EchoRequest, IPv6  # noqa: E402


@pytest.fixture(scope="module")
def startup_captures(lab):
    """Captures on both namespaces started *before* braid, to see its start-up ARP requests."""
    caps = {
        "gnb": lab.capture(lab.gnb, "gnb-start.pcap", bpf="arp").start(),
        "dn": lab.capture(lab.dn, "dn-start.pcap", bpf="arp").start(),
    }
    yield caps
    for c in caps.values():
        c.stop()


@pytest.fixture(scope="module")
def braid(startup_captures, braid_factory):
    # Overrides conftest's `braid`: started after the captures.
    return braid_factory()


def _norm_mac(mac: str) -> str:
    return mac.lower()


def _echo_pairs(pkts, req_layer, rep_layer):
    """Echo requests and replies keyed by (id, seq). For IPv4 both are ICMP: split by type."""
    reqs, reps = {}, {}
    for p in pkts:
        if req_layer is ICMP:
            if not p.haslayer(ICMP):
                continue
            e = p[ICMP]
            if e.type == 8:
                reqs[(e.id, e.seq)] = p
            elif e.type == 0:
                reps[(e.id, e.seq)] = p
        elif p.haslayer(req_layer):
            e = p[req_layer]
            reqs[(e.id, e.seq)] = p
        elif p.haslayer(rep_layer):
            e = p[rep_layer]
            reps[(e.id, e.seq)] = p
    return reqs, reps


def _check_echo(pkts, braid_mac, ns_mac, my_ip, braid_ip, ip_layer, req_layer, rep_layer,
                count):
    reqs, reps = _echo_pairs(pkts, req_layer, rep_layer)
    assert len(reqs) >= count, f"captured {len(reqs)} echo requests, expected {count}"
    assert reps, "no echo reply captured"
    for key, req in reqs.items():
        assert key in reps, f"no reply for echo request id/seq {key}"
        rep = reps[key]
        assert _norm_mac(rep[Ether].src) == braid_mac, (rep[Ether].src, braid_mac)
        assert _norm_mac(rep[Ether].dst) == ns_mac, (rep[Ether].dst, ns_mac)
        assert rep[ip_layer].src == req[ip_layer].dst == braid_ip
        assert rep[ip_layer].dst == req[ip_layer].src == my_ip
        assert bytes(rep[rep_layer].payload) == bytes(req[req_layer].payload), \
            "echo reply payload differs from the request"
        assert rep[rep_layer].id == req[req_layer].id
        assert rep[rep_layer].seq == req[req_layer].seq


def test_arp_from_gnb(lab, alive):
    braid_mac = lab.mac(lab.n3)
    cp = lab.ns(lab.gnb, "arping", "-c", "3", "-W", "0.5", "-i", "eth0", N3_IP, timeout=15)
    assert cp.returncode == 0, f"arping got no answer: {cp.stdout}{cp.stderr}"
    macs = set(re.findall(r"bytes from ([0-9a-f:]{17})", cp.stdout.lower()))
    assert macs == {braid_mac}, f"ARP replies from {macs}, braid's MAC is {braid_mac}\n{cp.stdout}"


def test_ping_gnb_on_wire(lab, alive):
    gnb_mac = lab.mac("eth0", ns=lab.gnb)
    braid_mac = lab.mac(lab.n3)
    with lab.capture(lab.gnb, "gnb-icmp.pcap", bpf="icmp or arp") as cap:
        cp = lab.ping(lab.gnb, N3_IP, count=3, extra=("-p", "a5c3", "-s", "100"))
    assert cp.returncode == 0, f"ping {N3_IP} failed:\n{cp.stdout}{cp.stderr}"
    assert " 0% packet loss" in cp.stdout, cp.stdout
    pkts = cap.packets()
    _check_echo(pkts, braid_mac, gnb_mac, GNB_IP, N3_IP, IP, ICMP, ICMP, 3)
    # ICMP type/code and a valid checksum in braid's replies.
    for p in pkts:
        if p.haslayer(ICMP) and p[ICMP].type == 0:
            raw = Ether(bytes(p))
            chk = raw[ICMP].chksum
            del raw[ICMP].chksum
            assert Ether(bytes(raw))[ICMP].chksum == chk, "bad ICMP checksum in echo reply"
            ipchk = p[IP].chksum
            q = Ether(bytes(p))
            del q[IP].chksum
            assert Ether(bytes(q))[IP].chksum == ipchk, "bad IPv4 checksum in echo reply"
            assert p[ICMP].code == 0


def test_ping_dn(lab, alive):
    dn_mac = lab.mac("eth0", ns=lab.dn)
    braid_mac = lab.mac(lab.n6)
    with lab.capture(lab.dn, "dn-icmp.pcap", bpf="icmp") as cap:
        cp = lab.ping(lab.dn, N6_IP, count=3)
    assert cp.returncode == 0, f"ping {N6_IP} failed:\n{cp.stdout}{cp.stderr}"
    _check_echo(cap.packets(), braid_mac, dn_mac, DN_IP, N6_IP, IP, ICMP, ICMP, 3)


def test_ping_gnb_ipv6(lab, alive):
    gnb_mac = lab.mac("eth0", ns=lab.gnb)
    braid_mac = lab.mac(lab.n3)
    with lab.capture(lab.gnb, "gnb-icmp6.pcap", bpf="icmp6") as cap:
        cp = lab.ping(lab.gnb, N3_IP6, count=3, extra=("-6",))
    assert cp.returncode == 0, f"ping -6 {N3_IP6} failed:\n{cp.stdout}{cp.stderr}"
    _check_echo(cap.packets(), braid_mac, gnb_mac, GNB_IP6, N3_IP6, IPv6, ICMPv6EchoRequest,
                ICMPv6EchoReply, 3)


def test_ping_wrong_address_gets_no_reply(lab, alive):
    # 198.18.0.9 is on the n3 subnet but not braid's: no ARP reply, so ping fails.
    cp = lab.ping(lab.gnb, "198.18.0.9", count=1, wait=1)
    assert cp.returncode != 0, cp.stdout


def test_braid_arps_for_its_gateways(lab, braid, startup_captures):
    """At start-up braid resolves the gateways: an ARP request who-has GW tell braid."""
    deadline = time.monotonic() + 10
    found = {}
    expect = {"gnb": (lab.n3, GNB_IP, N3_IP), "dn": (lab.n6, DN_IP, N6_IP)}
    # Stop the start-up captures once both requests have had time to appear.
    while time.monotonic() < deadline:
        time.sleep(1)
        rc, neigh = braid.cli("show", "neighbors")
        if rc == 0 and GNB_IP in neigh and DN_IP in neigh:
            break
    for side, cap in startup_captures.items():
        braid_if, gw, own = expect[side]
        braid_mac = lab.mac(braid_if)
        reqs = [p for p in cap.packets() if p.haslayer(ARP) and p[ARP].op == 1
                and p[ARP].pdst == gw]
        assert reqs, f"no ARP request for gateway {gw} captured on {side}"
        r = reqs[0]
        assert r[ARP].psrc == own, r.summary()
        assert _norm_mac(r[ARP].hwsrc) == braid_mac, r.summary()
        assert _norm_mac(r[Ether].src) == braid_mac, r.summary()
        assert _norm_mac(r[Ether].dst) == "ff:ff:ff:ff:ff:ff", r.summary()
        found[side] = r
    # The gateways answered: the neighbor table knows them.
    rc, neigh = braid.cli("show", "neighbors")
    assert rc == 0, neigh
    assert GNB_IP in neigh and DN_IP in neigh, f"gateways missing from neighbors:\n{neigh}"
    gnb_mac = lab.mac("eth0", ns=lab.gnb)
    assert gnb_mac in neigh.lower(), f"gNB MAC {gnb_mac} not in neighbors:\n{neigh}"


def test_ping_dn_ipv6(lab, alive):
    dn_mac = lab.mac("eth0", ns=lab.dn)
    braid_mac = lab.mac(lab.n6)
    with lab.capture(lab.dn, "dn-icmp6.pcap", bpf="icmp6") as cap:
        cp = lab.ping(lab.dn, N6_IP6, count=3, extra=("-6",))
    assert cp.returncode == 0, f"ping -6 {N6_IP6} failed:\n{cp.stdout}{cp.stderr}"
    _check_echo(cap.packets(), braid_mac, dn_mac, DN_IP6, N6_IP6, IPv6, ICMPv6EchoRequest,
                ICMPv6EchoReply, 3)


def test_tshark_dissects_braid_frames_cleanly(lab, alive):
    """Wireshark's dissectors, with checksum validation on, find nothing wrong in what braid
    sends: ARP replies, ICMP and ICMPv6 echo replies, neighbor advertisements."""
    braid_mac = lab.mac(lab.n3)
    with lab.capture(lab.gnb, "gnb-tshark.pcap", bpf="arp or icmp or icmp6") as cap:
        lab.ns(lab.gnb, "ip", "neigh", "flush", "dev", "eth0", check=True)
        assert lab.ping(lab.gnb, N3_IP, count=2).returncode == 0
        assert lab.ping(lab.gnb, N3_IP6, count=2, extra=("-6",)).returncode == 0
    path = cap.stop()
    prefs = ["-o", "ip.check_checksum:TRUE"]

    def tshark(display_filter):
        cp = run(["tshark", "-n", "-r", path, *prefs, "-Y", display_filter, "-T", "fields",
                  "-e", "frame.number", "-e", "_ws.col.Info"], timeout=60)
        assert cp.returncode == 0, f"tshark failed: {cp.stderr}"
        return [line for line in cp.stdout.splitlines() if line.strip()]

    from_braid = f"eth.src == {braid_mac}"
    bad = tshark(f"{from_braid} && (_ws.malformed || _ws.expert.severity >= warning)")
    assert not bad, f"tshark flags frames braid sent:\n" + "\n".join(bad)
    assert len(tshark(f"{from_braid} && arp.opcode == 2")) >= 1
    assert len(tshark(f"{from_braid} && icmp.type == 0 && icmp.checksum.status == 1 "
                      f"&& ip.checksum.status == 1")) == 2
    assert len(tshark(f"{from_braid} && icmpv6.type == 129 && icmpv6.checksum.status == 1")) == 2
    assert len(tshark(f"{from_braid} && icmpv6.type == 136 && icmpv6.checksum.status == 1 "
                      f"&& icmpv6.nd.na.flag.s == 1")) >= 1
