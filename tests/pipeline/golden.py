#!/usr/bin/python3
"""Golden packets for the pipeline tests: each case is an input frame on a port and what braid
must do with it: send an exact frame out of a port, or drop it for a named reason.

Writes tests/pipeline/golden_packets.h (checked in). scripts/test.sh regenerates it and fails if
it differs, so the header always matches this script. Run: /usr/bin/python3 tests/pipeline/golden.py
"""
import sys
from pathlib import Path

from scapy.contrib.gtp import GTP_U_Header, GTPEchoRequest, GTPEchoResponse, IE_Recovery, \
    GTPPDUSessionContainer, GTPErrorIndication, \
    GTP_UDPPort_ExtensionHeader, IE_TEIDI, IE_GSNAddress
from scapy.all import ARP, ICMP, IP, Ether, IPv6, ICMPv6EchoRequest, ICMPv6EchoReply, \
    ICMPv6ND_NS, ICMPv6ND_NA, ICMPv6NDOptSrcLLAddr, ICMPv6NDOptDstLLAddr, ICMPv6Unknown, UDP, TCP, Dot1Q, raw

# braid's side (the fixture configures exactly these)
N3_MAC, N3_IP, N3_IP6 = "02:00:00:00:03:01", "198.18.0.1", "2001:db8:3::1"
N6_MAC, N6_IP, N6_IP6 = "02:00:00:00:06:01", "198.19.0.1", "2001:db8:6::1"
N3_LL = "fe80::ff:fe00:301"  # modified EUI-64 of N3_MAC
# peers
GNB_MAC, GNB_IP, GNB_IP6 = "02:00:00:00:03:02", "198.18.0.2", "2001:db8:3::2"
DN_MAC, DN_IP, DN_IP6 = "02:00:00:00:06:02", "198.19.0.2", "2001:db8:6::2"
BCAST = "ff:ff:ff:ff:ff:ff"
# The sessions the fixture installs (tests/unit/pipelines/test_nodes.cc, RingLab::add_sessions)
# and the neighbors it has learned (gNB on N3, DN on N6):
#   SEID 1: UL TEID 0x1001 -> N6; DL to UE 198.19.100.1 or 2001:db8:100:1::/64 -> GTP-U to the
#           gNB, TEID 0x2002, QER 1 with QFI 9 on every PDR
#   SEID 2: UL TEID 0x3001, UE 198.19.100.2, QER gates closed both ways
#   SEID 3: UL TEID 0x4001, UE 198.19.100.3, DL FAR drop
# (neighbors: also DN_IP6 -> DN_MAC on N6)
UE1, UE1_6, UE2, UE3 = "198.19.100.1", "2001:db8:100:1::1", "198.19.100.2", "198.19.100.3"

cases = []


def tx(name, port, frame, out_port, out):
    cases.append((name, port, raw(frame), "tx", out_port, raw(out)))


def drop(name, port, frame, reason):
    cases.append((name, port, raw(frame), "drop", reason, b""))


# --- ARP (RFC 826)
req = Ether(src=GNB_MAC, dst=BCAST) / ARP(op=1, hwsrc=GNB_MAC, psrc=GNB_IP, pdst=N3_IP)
rep = Ether(src=N3_MAC, dst=GNB_MAC) / ARP(op=2, hwsrc=N3_MAC, psrc=N3_IP, hwdst=GNB_MAC, pdst=GNB_IP)
tx("arp_request_for_n3_is_answered", "n3", req, "n3", rep)
# Ethernet padding to 60 bytes is kept (the reply is built in place)
tx("arp_request_padded_is_answered", "n3", raw(req) + b"\0" * 18, "n3", raw(rep) + b"\0" * 18)
req6 = Ether(src=DN_MAC, dst=BCAST) / ARP(op=1, hwsrc=DN_MAC, psrc=DN_IP, pdst=N6_IP)
rep6 = Ether(src=N6_MAC, dst=DN_MAC) / ARP(op=2, hwsrc=N6_MAC, psrc=N6_IP, hwdst=DN_MAC, pdst=DN_IP)
tx("arp_request_for_n6_is_answered_on_n6", "n6", req6, "n6", rep6)
drop("arp_request_for_foreign_address", "n3",
     Ether(src=GNB_MAC, dst=BCAST) / ARP(op=1, hwsrc=GNB_MAC, psrc=GNB_IP, pdst="198.18.0.77"),
     "arp_not_for_us")
drop("arp_request_for_n6_address_on_n3", "n3",
     Ether(src=GNB_MAC, dst=BCAST) / ARP(op=1, hwsrc=GNB_MAC, psrc=GNB_IP, pdst=N6_IP),
     "arp_not_for_us")
drop("arp_reply_is_consumed", "n3", Ether(src=GNB_MAC, dst=N3_MAC) /
     ARP(op=2, hwsrc=GNB_MAC, psrc=GNB_IP, hwdst=N3_MAC, pdst=N3_IP), "arp_reply_consumed")
drop("arp_gratuitous_is_consumed", "n3", Ether(src=GNB_MAC, dst=BCAST) /
     ARP(op=1, hwsrc=GNB_MAC, psrc=GNB_IP, pdst=GNB_IP), "arp_reply_consumed")
drop("arp_truncated", "n3", raw(req)[:14 + 20], "runt_frame")
drop("arp_bad_hardware_type", "n3", Ether(src=GNB_MAC, dst=BCAST) /
     ARP(hwtype=6, op=1, hwsrc=GNB_MAC, psrc=GNB_IP, pdst=N3_IP), "arp_malformed")
drop("arp_unknown_opcode", "n3", Ether(src=GNB_MAC, dst=BCAST) /
     ARP(op=9, hwsrc=GNB_MAC, psrc=GNB_IP, pdst=N3_IP), "arp_malformed")

# --- ICMP echo (RFC 792)
ping = IP(src=GNB_IP, dst=N3_IP, id=0x1234, ttl=61) / ICMP(type=8, id=7, seq=1) / (b"braid" * 10)
pong = IP(src=N3_IP, dst=GNB_IP, id=0x1234, ttl=64) / ICMP(type=0, id=7, seq=1) / (b"braid" * 10)
tx("icmp_echo_request_is_answered", "n3", Ether(src=GNB_MAC, dst=N3_MAC) / ping, "n3",
   Ether(src=N3_MAC, dst=GNB_MAC) / pong)
small = IP(src=GNB_IP, dst=N3_IP, id=1, ttl=64) / ICMP(type=8, id=1, seq=9)
tx("icmp_echo_padded_frame_is_trimmed", "n3", raw(Ether(src=GNB_MAC, dst=N3_MAC) / small) + b"\0" * 18,
   "n3", Ether(src=N3_MAC, dst=GNB_MAC) / IP(src=N3_IP, dst=GNB_IP, id=1, ttl=64) / ICMP(type=0, id=1, seq=9))
# All-zero echo (id 0, seq 0, no data): the reply's checksum is 0xffff, not 0 (RFC 1624 §3).
zero = IP(src=GNB_IP, dst=N3_IP, id=1, ttl=64) / ICMP(type=8, id=0, seq=0)
tx("icmp_echo_all_zero_reply_checksum_is_ffff", "n3", Ether(src=GNB_MAC, dst=N3_MAC) / zero, "n3",
   Ether(src=N3_MAC, dst=GNB_MAC) / IP(src=N3_IP, dst=GNB_IP, id=1, ttl=64) / ICMP(type=0, id=0, seq=0))
ping6 = IP(src=DN_IP, dst=N6_IP, id=9, ttl=64) / ICMP(type=8, id=3, seq=4) / (b"x" * 1400)
tx("icmp_echo_on_n6_large", "n6", Ether(src=DN_MAC, dst=N6_MAC) / ping6, "n6",
   Ether(src=N6_MAC, dst=DN_MAC) / IP(src=N6_IP, dst=DN_IP, id=9, ttl=64) / ICMP(type=0, id=3, seq=4) / (b"x" * 1400))
bad = raw(Ether(src=GNB_MAC, dst=N3_MAC) / ping)
bad = bad[:-1] + bytes([bad[-1] ^ 0xff])  # corrupt the payload: ICMP checksum no longer matches
drop("icmp_bad_checksum", "n3", bad, "icmp_bad_checksum")
drop("icmp_unhandled_type", "n3", Ether(src=GNB_MAC, dst=N3_MAC) /
     IP(src=GNB_IP, dst=N3_IP) / ICMP(type=13, ts_ori=1, ts_rx=2, ts_tx=3), "icmp_unhandled")
drop("icmp_truncated", "n3", Ether(src=GNB_MAC, dst=N3_MAC) /
     IP(src=GNB_IP, dst=N3_IP, proto=1) / b"\x08\x00\xf7", "icmp_malformed")

# --- Ethernet and IPv4 validation
drop("runt_frame", "n3", b"\x02\x00\x00\x00\x03\x01\x02\x00", "runt_frame")
drop("unknown_ethertype", "n3", Ether(src=GNB_MAC, dst=N3_MAC, type=0x88b5) / (b"\0" * 46), "unknown_ethertype")
drop("vlan_tagged", "n3", Ether(src=GNB_MAC, dst=N3_MAC) / Dot1Q(vlan=5) / ping, "vlan_unsupported")
drop("other_unicast_mac", "n3", Ether(src=GNB_MAC, dst="02:00:00:00:99:99") / ping, "not_our_mac")
drop("oversized_frame", "n3", Ether(src=GNB_MAC, dst=N3_MAC) / IP(src=GNB_IP, dst=N3_IP) /
     ICMP() / (b"y" * 1600), "oversized_frame")
drop("ipv4_runt", "n3", Ether(src=GNB_MAC, dst=N3_MAC, type=0x0800) / b"\x45\x00", "runt_frame")
v = bytearray(raw(Ether(src=GNB_MAC, dst=N3_MAC) / ping))
v[14] = 0x44  # IHL 4
drop("ipv4_header_length_too_small", "n3", bytes(v), "ipv4_bad_header")
v = bytearray(raw(Ether(src=GNB_MAC, dst=N3_MAC) / ping))
v[14] = 0x65  # version 6 in an IPv4 ethertype
drop("ipv4_wrong_version", "n3", bytes(v), "ipv4_bad_header")
v = bytearray(raw(Ether(src=GNB_MAC, dst=N3_MAC) / ping))
v[16:18] = (2000).to_bytes(2, "big")  # total length beyond the frame
drop("ipv4_total_length_beyond_frame", "n3", bytes(v), "ipv4_bad_header")
v = bytearray(raw(Ether(src=GNB_MAC, dst=N3_MAC) / ping))
v[24] ^= 0x55  # header checksum
drop("ipv4_bad_checksum", "n3", bytes(v), "ipv4_bad_checksum")
drop("ipv4_fragment_to_us", "n3", Ether(src=GNB_MAC, dst=N3_MAC) /
     IP(src=GNB_IP, dst=N3_IP, flags="MF") / ICMP(), "ipv4_fragment")
drop("ipv4_foreign_destination", "n3", Ether(src=GNB_MAC, dst=N3_MAC) /
     IP(src=GNB_IP, dst="198.18.0.99") / ICMP(), "ipv4_not_for_us")
drop("ipv4_udp_to_us_without_handler", "n3", Ether(src=GNB_MAC, dst=N3_MAC) /
     IP(src=GNB_IP, dst=N3_IP) / UDP(sport=1000, dport=9), "ipv4_no_handler")

# --- GTP-U on N3 (TS 29.281): path management answered, the rest counted
echo = IP(src=GNB_IP, dst=N3_IP, id=77, ttl=64) / UDP(sport=40000, dport=2152) / \
    GTP_U_Header(gtp_type=1, S=1, seq=0x1234, teid=0) / GTPEchoRequest()
echo_rep = IP(src=N3_IP, dst=GNB_IP, id=77, ttl=64) / UDP(sport=2152, dport=40000) / \
    GTP_U_Header(gtp_type=2, S=1, seq=0x1234, teid=0) / GTPEchoResponse(IE_list=[IE_Recovery(restart_counter=0)])
tx("gtpu_echo_request_is_answered", "n3", Ether(src=GNB_MAC, dst=N3_MAC) / echo, "n3",
   Ether(src=N3_MAC, dst=GNB_MAC) / echo_rep)
drop("gtpu_truncated_header", "n3", Ether(src=GNB_MAC, dst=N3_MAC) /
     IP(src=GNB_IP, dst=N3_IP) / UDP(sport=2152, dport=2152) / b"\x30\xff\x00", "gtpu_malformed")
drop("gtpu_version_2", "n3", Ether(src=GNB_MAC, dst=N3_MAC) /
     IP(src=GNB_IP, dst=N3_IP) / UDP(sport=2152, dport=2152) / b"\x50\xff\x00\x00\x00\x00\x00\x01",
     "gtpu_malformed")
drop("gtpu_end_marker_is_consumed", "n3", Ether(src=GNB_MAC, dst=N3_MAC) /
     IP(src=GNB_IP, dst=N3_IP) / UDP(sport=2152, dport=2152) / GTP_U_Header(teid=0x1001, gtp_type=254),
     "gtpu_end_marker_received")
drop("gtpu_echo_response_goes_to_path_management", "n3", Ether(src=GNB_MAC, dst=N3_MAC) /
     IP(src=GNB_IP, dst=N3_IP) / UDP(sport=2152, dport=2152) /
     GTP_U_Header(gtp_type=2, S=1, seq=7, teid=0) / GTPEchoResponse(IE_list=[IE_Recovery(restart_counter=0)]),
     "gtpu_echo_response_received")
drop("gtpu_echo_response_without_sequence", "n3", Ether(src=GNB_MAC, dst=N3_MAC) /
     IP(src=GNB_IP, dst=N3_IP) / UDP(sport=2152, dport=2152) / GTP_U_Header(gtp_type=2, teid=0),
     "gtpu_malformed")
drop("gtpu_tunnel_status_is_not_handled", "n3", Ether(src=GNB_MAC, dst=N3_MAC) /
     IP(src=GNB_IP, dst=N3_IP) / UDP(sport=2152, dport=2152) / GTP_U_Header(teid=0, gtp_type=253),
     "gtpu_unhandled_message")
v = bytearray(raw(Ether(src=GNB_MAC, dst=N3_MAC) / echo))
v[38:40] = (200).to_bytes(2, "big")  # UDP length beyond the datagram
drop("udp_length_inconsistent", "n3", bytes(v), "udp_bad_header")
v = bytearray(raw(Ether(src=GNB_MAC, dst=N3_MAC) / echo))
v[40] ^= 0x5a  # UDP checksum
drop("udp_bad_checksum", "n3", bytes(v), "udp_bad_checksum")
drop("gtpu_on_n6_is_not_handled", "n6", Ether(src=DN_MAC, dst=N6_MAC) /
     IP(src=DN_IP, dst=N6_IP) / UDP(sport=2152, dport=2152) / GTP_U_Header(gtp_type=1, S=1, seq=1) /
     GTPEchoRequest(), "ipv4_no_handler")

# --- The user plane (TS 29.281, TS 29.244): uplink decapsulation, downlink encapsulation
def gpdu(teid, inner, qfi=None, sport=2152):
    g = GTP_U_Header(teid=teid, gtp_type=255)
    if qfi is not None:
        g = GTP_U_Header(teid=teid, gtp_type=255, E=1, next_ex=0x85) / \
            GTPPDUSessionContainer(type=1, QFI=qfi)
    return Ether(src=GNB_MAC, dst=N3_MAC) / IP(src=GNB_IP, dst=N3_IP, id=9) / \
        UDP(sport=sport, dport=2152) / g / inner


ul_inner = IP(src=UE1, dst=DN_IP, id=1) / UDP(sport=40000, dport=7) / b"uplink"
tx("uplink_gpdu_with_qfi_is_decapsulated_to_n6", "n3", gpdu(0x1001, ul_inner, qfi=9), "n6",
   Ether(src=N6_MAC, dst=DN_MAC) / ul_inner)
tx("uplink_gpdu_without_extension_header_is_decapsulated", "n3", gpdu(0x1001, ul_inner), "n6",
   Ether(src=N6_MAC, dst=DN_MAC) / ul_inner)
ul_tcp = IP(src=UE1, dst=DN_IP, id=2) / TCP(sport=40001, dport=80, flags="S")
tx("uplink_tcp_syn_is_decapsulated", "n3", gpdu(0x1001, ul_tcp, qfi=9), "n6",
   Ether(src=N6_MAC, dst=DN_MAC) / ul_tcp)

# IPv6 T-PDU to an on-link DN host on N6 (2001:db8:6::/64): its own next hop, resolved with
# Neighbor Discovery (the fixture has learned DN_IP6 -> DN_MAC).
ul_inner6 = IPv6(src=UE1_6, dst=DN_IP6, hlim=63) / UDP(sport=40000, dport=7) / b"uplink6"
tx("uplink_ipv6_gpdu_is_decapsulated_to_n6", "n3", gpdu(0x1001, ul_inner6, qfi=9), "n6",
   Ether(src=N6_MAC, dst=DN_MAC) / ul_inner6)

# Downlink: outer IPv4 ID counts the worker's encapsulations from 0, UDP checksum 0.
encap_id = 0


def dl_expect(teid, inner, qfi):
    global encap_id
    g = GTP_U_Header(teid=teid, gtp_type=255, E=1, next_ex=0x85) / GTPPDUSessionContainer(type=0, QFI=qfi)
    outer = IP(src=N3_IP, dst=GNB_IP, id=encap_id, ttl=64, flags=0) / UDP(sport=2152, dport=2152, chksum=0) / g / inner
    encap_id += 1
    return Ether(src=N3_MAC, dst=GNB_MAC) / outer


dl_inner = IP(src=DN_IP, dst=UE1, id=3) / UDP(sport=7, dport=40000) / b"downlink"
tx("downlink_ipv4_is_encapsulated_with_dl_qfi", "n6", Ether(src=DN_MAC, dst=N6_MAC) / dl_inner, "n3",
   dl_expect(0x2002, dl_inner, 9))
dl_inner6 = IPv6(src="2001:db8:6::2", dst=UE1_6) / UDP(sport=7, dport=40000) / b"downlink6"
tx("downlink_ipv6_to_the_ue_prefix_is_encapsulated", "n6", Ether(src=DN_MAC, dst=N6_MAC) / dl_inner6,
   "n3", dl_expect(0x2002, dl_inner6, 9))
# Too big for N3 once encapsulated (MTU 1500 - 44 octets of outer headers with the container):
# DF set -> ICMP Fragmentation Needed with next-hop MTU 1456 and the first 548 octets of the
# packet (RFC 1191, RFC 1812 4.3.2.3). (IPv6 -> ICMPv6 Packet Too Big: tests/integration, the
# fixture's N6 port has no IPv6 next hop.)
big = IP(src=DN_IP, dst=UE1, id=4, flags="DF") / UDP(sport=7, dport=40000) / (b"B" * 1452)
tx("downlink_too_big_with_df_gets_icmp_frag_needed", "n6", Ether(src=DN_MAC, dst=N6_MAC) / big, "n6",
   Ether(src=N6_MAC, dst=DN_MAC) / IP(src=N6_IP, dst=DN_IP, id=encap_id, ttl=64) /
   ICMP(type=3, code=4, nexthopmtu=1456) / raw(big)[:548])
encap_id += 1
drop("downlink_to_an_address_without_session", "n6", Ether(src=DN_MAC, dst=N6_MAC) /
     IP(src=DN_IP, dst="198.19.100.99") / UDP(sport=7, dport=9), "no_session_for_ue")
drop("downlink_ipv6_outside_any_ue_prefix", "n6", Ether(src=DN_MAC, dst=N6_MAC) /
     IPv6(src="2001:db8:6::2", dst="2001:db8:100:99::1") / UDP(sport=7, dport=9), "no_session_for_ue")
drop("uplink_gate_closed", "n3", gpdu(0x3001, IP(src=UE2, dst=DN_IP) / UDP(sport=1, dport=7)),
     "qer_gate_closed")
drop("downlink_gate_closed", "n6", Ether(src=DN_MAC, dst=N6_MAC) /
     IP(src=DN_IP, dst=UE2) / UDP(sport=7, dport=1), "qer_gate_closed")
drop("downlink_far_drop", "n6", Ether(src=DN_MAC, dst=N6_MAC) /
     IP(src=DN_IP, dst=UE3) / UDP(sport=7, dport=1), "far_drop")
drop("uplink_tpdu_not_ip", "n3", gpdu(0x1001, raw(b"\x00" * 24)), "inner_malformed")
tx("uplink_unknown_teid_gets_error_indication", "n3", gpdu(0x0bad, ul_inner, sport=31000), "n3",
   Ether(src=N3_MAC, dst=GNB_MAC) / IP(src=N3_IP, dst=GNB_IP, id=9, ttl=64) /
   UDP(sport=2152, dport=2152) /
   GTP_U_Header(gtp_type=26, S=1, E=1, seq=0, teid=0, next_ex=0x40) /
   GTP_UDPPort_ExtensionHeader(udp_port=31000) /
   GTPErrorIndication(IE_list=[IE_TEIDI(TEIDI=0x0bad), IE_GSNAddress(ietype=133, length=4, ipv4_address=N3_IP)]))
unknown_ext = bytes([0x34, 0xff, 0x00, 0x0c, 0, 0, 0x10, 0x01, 0, 0, 0, 0xc1, 1, 0xaa, 0xbb, 0]) + \
    raw(ul_inner)
unknown_ext = bytearray(unknown_ext)
unknown_ext[2:4] = (len(unknown_ext) - 8).to_bytes(2, "big")
tx("unknown_required_extension_header_gets_sehn", "n3",
   Ether(src=GNB_MAC, dst=N3_MAC) / IP(src=GNB_IP, dst=N3_IP, id=9) / UDP(sport=2152, dport=2152) /
   raw(bytes(unknown_ext)), "n3",
   Ether(src=N3_MAC, dst=GNB_MAC) / IP(src=N3_IP, dst=GNB_IP, id=9, ttl=64) / UDP(sport=2152, dport=2152) /
   GTP_U_Header(gtp_type=31, S=1, seq=0, teid=0) /
   # IE 141 with a 1-octet length (TS 29.281 §8.5); scapy's IE_ExtensionHeaderList writes two.
   raw(bytes([141, 4, 0x40, 0x82, 0x85, 0xc0])))

# --- IPv6: echo and neighbor discovery (RFC 4443, RFC 4861)
e6 = IPv6(src=GNB_IP6, dst=N3_IP6, hlim=64) / ICMPv6EchoRequest(id=5, seq=6, data=b"hello")
r6 = IPv6(src=N3_IP6, dst=GNB_IP6, hlim=64) / ICMPv6EchoReply(id=5, seq=6, data=b"hello")
tx("icmpv6_echo_request_is_answered", "n3", Ether(src=GNB_MAC, dst=N3_MAC) / e6, "n3",
   Ether(src=N3_MAC, dst=GNB_MAC) / r6)
ns = IPv6(src=GNB_IP6, dst="ff02::1:ff00:1", hlim=255) / ICMPv6ND_NS(tgt=N3_IP6) / ICMPv6NDOptSrcLLAddr(lladdr=GNB_MAC)
na = IPv6(src=N3_IP6, dst=GNB_IP6, hlim=255) / ICMPv6ND_NA(tgt=N3_IP6, R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=N3_MAC)
tx("nd_solicitation_for_n3_is_advertised", "n3", Ether(src=GNB_MAC, dst="33:33:ff:00:00:01") / ns, "n3",
   Ether(src=N3_MAC, dst=GNB_MAC) / na)
ns_ll = IPv6(src="fe80::2", dst="ff02::1:ff00:301", hlim=255) / ICMPv6ND_NS(tgt=N3_LL) / ICMPv6NDOptSrcLLAddr(lladdr=GNB_MAC)
na_ll = IPv6(src=N3_LL, dst="fe80::2", hlim=255) / ICMPv6ND_NA(tgt=N3_LL, R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=N3_MAC)
tx("nd_solicitation_for_link_local_is_advertised", "n3", Ether(src=GNB_MAC, dst="33:33:ff:00:03:01") / ns_ll,
   "n3", Ether(src=N3_MAC, dst=GNB_MAC) / na_ll)
drop("nd_solicitation_wrong_hop_limit", "n3", Ether(src=GNB_MAC, dst="33:33:ff:00:00:01") /
     IPv6(src=GNB_IP6, dst="ff02::1:ff00:1", hlim=64) / ICMPv6ND_NS(tgt=N3_IP6), "nd_bad_hop_limit")
# Duplicate Address Detection probe (source ::, RFC 4862 §5.4.2): braid defends its address with
# an advertisement to all-nodes, S clear (RFC 4861 §7.2.4).
dad = IPv6(src="::", dst="ff02::1:ff00:1", hlim=255) / ICMPv6ND_NS(tgt=N3_IP6)
dad_na = IPv6(src=N3_IP6, dst="ff02::1", hlim=255) / ICMPv6ND_NA(tgt=N3_IP6, R=0, S=0, O=1) / \
    ICMPv6NDOptDstLLAddr(lladdr=N3_MAC)
tx("nd_dad_solicitation_is_advertised_to_all_nodes", "n3", Ether(src=GNB_MAC, dst="33:33:ff:00:00:01") / dad,
   "n3", Ether(src=N3_MAC, dst="33:33:00:00:00:01") / dad_na)
SN = Ether(src=GNB_MAC, dst="33:33:ff:00:00:01")
drop("nd_solicitation_bad_code", "n3", SN / IPv6(src=GNB_IP6, dst="ff02::1:ff00:1", hlim=255) /
     ICMPv6ND_NS(code=1, tgt=N3_IP6), "nd_bad_code")
drop("nd_solicitation_multicast_target", "n3", SN / IPv6(src=GNB_IP6, dst="ff02::1:ff00:1", hlim=255) /
     ICMPv6ND_NS(tgt="ff02::1:ff00:1"), "nd_multicast_target")
drop("nd_solicitation_option_length_zero", "n3", SN / IPv6(src=GNB_IP6, dst="ff02::1:ff00:1", hlim=255) /
     ICMPv6ND_NS(tgt=N3_IP6) / raw(bytes([1, 0]) + bytes.fromhex(GNB_MAC.replace(":", ""))), "nd_bad_option")
drop("nd_solicitation_option_past_the_message", "n3", SN / IPv6(src=GNB_IP6, dst="ff02::1:ff00:1", hlim=255) /
     ICMPv6ND_NS(tgt=N3_IP6) / raw(bytes([1, 2]) + bytes.fromhex(GNB_MAC.replace(":", ""))), "nd_bad_option")
drop("nd_dad_solicitation_with_source_lladdr", "n3", SN / IPv6(src="::", dst="ff02::1:ff00:1", hlim=255) /
     ICMPv6ND_NS(tgt=N3_IP6) / ICMPv6NDOptSrcLLAddr(lladdr=GNB_MAC), "nd_bad_source")
drop("nd_solicitation_truncated", "n3", SN / IPv6(src=GNB_IP6, dst="ff02::1:ff00:1", hlim=255) /
     ICMPv6Unknown(type=135, msgbody=b"\0" * 12), "nd_truncated")
v = bytearray(raw(SN / ns))
v[-1] ^= 0x01
drop("nd_solicitation_bad_checksum", "n3", bytes(v), "nd_bad_checksum")
drop("nd_solicitation_for_a_foreign_target", "n3", SN / IPv6(src=GNB_IP6, dst="ff02::1:ff00:1", hlim=255) /
     ICMPv6ND_NS(tgt="2001:db8:3::77") / ICMPv6NDOptSrcLLAddr(lladdr=GNB_MAC), "nd_not_for_us")
drop("nd_advertisement_is_consumed", "n3", Ether(src=GNB_MAC, dst=N3_MAC) /
     IPv6(src=GNB_IP6, dst=N3_IP6, hlim=255) / ICMPv6ND_NA(tgt=GNB_IP6, R=0, S=1, O=1) /
     ICMPv6NDOptDstLLAddr(lladdr=GNB_MAC), "nd_advert_consumed")
# The DN host's answer to braid's solicitation for it (tests/unit/pipelines: the held IPv6
# uplink leaves once it arrives).
drop("nd_advertisement_from_dn_host_is_consumed", "n6", Ether(src=DN_MAC, dst=N6_MAC) /
     IPv6(src=DN_IP6, dst=N6_IP6, hlim=255) / ICMPv6ND_NA(tgt=DN_IP6, R=0, S=1, O=1) /
     ICMPv6NDOptDstLLAddr(lladdr=DN_MAC), "nd_advert_consumed")
# A solicitation for braid's N6 address from the DN host: answered, and the host learned from
# its source link-layer address option (RFC 4861 §7.2.3).
tx("nd_solicitation_for_n6_is_advertised", "n6", Ether(src=DN_MAC, dst="33:33:ff:00:00:01") /
   IPv6(src=DN_IP6, dst="ff02::1:ff00:1", hlim=255) / ICMPv6ND_NS(tgt=N6_IP6) / ICMPv6NDOptSrcLLAddr(lladdr=DN_MAC),
   "n6", Ether(src=N6_MAC, dst=DN_MAC) / IPv6(src=N6_IP6, dst=DN_IP6, hlim=255) /
   ICMPv6ND_NA(tgt=N6_IP6, R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=N6_MAC))
drop("nd_solicited_advertisement_to_multicast", "n3", Ether(src=GNB_MAC, dst="33:33:00:00:00:01") /
     IPv6(src=GNB_IP6, dst="ff02::1", hlim=255) / ICMPv6ND_NA(tgt=GNB_IP6, R=0, S=1, O=1) /
     ICMPv6NDOptDstLLAddr(lladdr=GNB_MAC), "nd_solicited_to_multicast")
drop("ipv6_foreign_destination", "n3", Ether(src=GNB_MAC, dst=N3_MAC) /
     IPv6(src=GNB_IP6, dst="2001:db8:3::99") / ICMPv6EchoRequest(), "ipv6_not_for_us")
drop("ipv6_tcp_to_us_without_handler", "n3", Ether(src=GNB_MAC, dst=N3_MAC) /
     IPv6(src=GNB_IP6, dst=N3_IP6) / TCP(), "ipv6_no_handler")
v = bytearray(raw(Ether(src=GNB_MAC, dst=N3_MAC) / e6))
v[18:20] = (500).to_bytes(2, "big")
drop("ipv6_payload_length_beyond_frame", "n3", bytes(v), "ipv6_bad_header")
v = bytearray(raw(Ether(src=GNB_MAC, dst=N3_MAC) / e6))
v[-1] ^= 0x01
drop("icmpv6_bad_checksum", "n3", bytes(v), "icmp_bad_checksum")


def c_bytes(b):
    return "{" + ", ".join(f"0x{x:02x}" for x in b) + "}" if b else "{}"


out = ["// Generated by tests/pipeline/golden.py — do not edit; regenerate instead.",
       "// clang-format off", "#pragma once", "#include <cstdint>", "#include <vector>", "",
       "namespace braid::golden {", "",
       "struct Case {", "    const char* name;", "    const char* in_port;",
       "    std::vector<uint8_t> in;", "    const char* action;  // \"tx\" or \"drop\"",
       "    const char* target;  // out port or drop reason", "    std::vector<uint8_t> out;", "};", "",
       "inline const std::vector<Case> cases = {"]
for name, port, frame, action, target, expect in cases:
    out.append(f'    {{"{name}", "{port}", {c_bytes(frame)}, "{action}", "{target}", {c_bytes(expect)}}},')
out += ["};", "", "}  // namespace braid::golden", ""]
dest = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("golden_packets.h")
dest.write_text("\n".join(out))
print(f"{len(cases)} golden cases written to {dest}")
