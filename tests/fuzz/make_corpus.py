#!/usr/bin/python3
"""Regenerate the libFuzzer seed corpora in tests/fuzz/corpus/ (committed; rerun after changing
the packet formats, docs/CONFIG.md or the CLI grammar).

    /usr/bin/python3 tests/fuzz/make_corpus.py [--braid build/braid]

packets/  Ethernet frames for the port of fuzz_packets.cc (MAC 02:00:00:00:03:01,
          198.18.0.1/24, 2001:db8:3::1/64), built with scapy
config/   the embedded default (`braid --print-default-config`; docs/CONFIG.md's copy when the
          binary is not built) and every ```yaml example of docs/CONFIG.md
cli/      command lines, one or several per file
sdf/      an IPFilterRule (TS 29.212 §5.4.2), a NUL octet, then an inner IP packet, built with
          scapy (fuzz_sdf.cc): UE 198.19.100.1 / 2001:db8:100:1::/64, remote 198.18.0.0/15
"""

import argparse
import pathlib
import re
import subprocess
import sys

from scapy.all import (ARP, ICMP, IP, TCP, UDP, Dot1Q, Ether,  # noqa: E402
                       ICMPv6EchoRequest, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6,
                       IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, Raw)

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent

OUR_MAC = "02:00:00:00:03:01"
PEER_MAC = "02:00:00:00:03:fe"
OUR_IP = "198.18.0.1"
PEER_IP = "198.18.0.2"
OUR_IP6 = "2001:db8:3::1"
PEER_IP6 = "2001:db8:3::2"
OUR_LL6 = "fe80::ff:fe00:301"  # modified EUI-64 of OUR_MAC
SOLICITED = "ff02::1:ff00:1"   # solicited-node multicast of 2001:db8:3::1
SOLICITED_MAC = "33:33:ff:00:00:01"


def packets():
    bcast = "ff:ff:ff:ff:ff:ff"
    return {
        "arp_request": Ether(dst=bcast, src=PEER_MAC) /
        ARP(op=1, hwsrc=PEER_MAC, psrc=PEER_IP, pdst=OUR_IP),
        "arp_request_padded": Ether(dst=bcast, src=PEER_MAC) /
        ARP(op=1, hwsrc=PEER_MAC, psrc=PEER_IP, pdst=OUR_IP) / Raw(b"\x00" * 18),
        "arp_reply": Ether(dst=OUR_MAC, src=PEER_MAC) /
        ARP(op=2, hwsrc=PEER_MAC, psrc=PEER_IP, hwdst=OUR_MAC, pdst=OUR_IP),
        "arp_gratuitous": Ether(dst=bcast, src=PEER_MAC) /
        ARP(op=1, hwsrc=PEER_MAC, psrc=PEER_IP, pdst=PEER_IP),
        "icmp_echo": Ether(dst=OUR_MAC, src=PEER_MAC) / IP(src=PEER_IP, dst=OUR_IP) /
        ICMP(type=8, id=0x1234, seq=1) / Raw(b"braid-fuzz-seed!" * 4),
        "icmp_echo_options": Ether(dst=OUR_MAC, src=PEER_MAC) /
        IP(src=PEER_IP, dst=OUR_IP, options=b"\x01\x01\x01\x00") / ICMP(type=8) / Raw(b"x" * 8),
        "udp_to_us": Ether(dst=OUR_MAC, src=PEER_MAC) / IP(src=PEER_IP, dst=OUR_IP) /
        UDP(sport=2152, dport=2152) / Raw(b"\x30\xff\x00\x04\x00\x00\x00\x01"),
        "icmp6_echo": Ether(dst=OUR_MAC, src=PEER_MAC) / IPv6(src=PEER_IP6, dst=OUR_IP6) /
        ICMPv6EchoRequest(id=7, seq=1, data=b"braid"),
        "icmp6_ns": Ether(dst=SOLICITED_MAC, src=PEER_MAC) /
        IPv6(src=PEER_IP6, dst=SOLICITED, hlim=255) / ICMPv6ND_NS(tgt=OUR_IP6) /
        ICMPv6NDOptSrcLLAddr(lladdr=PEER_MAC),
        "icmp6_ns_dad": Ether(dst=SOLICITED_MAC, src=PEER_MAC) /
        IPv6(src="::", dst=SOLICITED, hlim=255) / ICMPv6ND_NS(tgt=OUR_IP6),
        "icmp6_ns_link_local": Ether(dst="33:33:ff:00:03:01", src=PEER_MAC) /
        IPv6(src="fe80::2", dst="ff02::1:ff00:301", hlim=255) / ICMPv6ND_NS(tgt=OUR_LL6),
        "vlan": Ether(dst=OUR_MAC, src=PEER_MAC) / Dot1Q(vlan=3) / IP(src=PEER_IP, dst=OUR_IP) /
        ICMP(),
        "runt": Ether(dst=OUR_MAC, src=PEER_MAC, type=0x0800) / Raw(b"\x45\x00"),
    }


def yaml_blocks(markdown):
    return re.findall(r"^```yaml\n(.*?)^```", markdown, flags=re.S | re.M)


def config_seeds(braid):
    docs = (ROOT / "docs" / "CONFIG.md").read_text()
    blocks = yaml_blocks(docs)
    seeds = {}
    default = None
    if braid and pathlib.Path(braid).exists():
        default = subprocess.run([braid, "--print-default-config"], check=True,
                                 capture_output=True, text=True).stdout
    elif blocks:
        print(f"make_corpus: {braid} not built; default config taken from docs/CONFIG.md",
              file=sys.stderr)
        default = blocks[0]
    if default:
        seeds["default"] = default
    for i, b in enumerate(blocks):
        if b != default:
            seeds[f"doc_example_{i}"] = b
    seeds["empty"] = ""
    seeds["two_documents"] = "ports: []\n---\nports: []\n"
    return seeds


def cli_seeds():
    return {
        "show_version": "show version\n",
        "show_port_info": "show port info all\nshow port info 0\nshow port info 65535\n",
        "show_port_stats": "show port stats 1\nshow port xstats all\nclear port stats\n",
        "clear_port_stats": "clear port stats all\nclear port stats 3\n",
        "set_log": "set log dataplane debug\nset log all info\n",
        "show_misc": "show lcores\nshow graph\nshow graph dot\nshow neighbors\n"
                     "show drops all\nshow log\nshow metrics\nshow config\n",
        "help": "help\nhelp show port\n   # just a comment\n\n",
        "errors": "show port info 65536\nshow bogus\nset log\nquit now\n",
        "typed": "debug ipv4 198.18.0.1\ndebug ipv6 2001:db8:3::1\ndebug ip fe80::1\n"
                 "debug u32 4294967295\ndebug u64 18446744073709551615\n"
                 "debug echo some words # comment\ndebug throw\n",
    }


def sdf_seeds():
    ue4, ue6 = "198.19.100.1", "2001:db8:100:1::1"
    esp = Raw(bytes.fromhex("00001000 00000001") + b"\x55" * 16)  # SPI 0x1000, sequence 1
    seeds = {
        "any_udp": ("permit out ip from any to assigned",
                    IP(src="198.18.5.5", dst=ue4) / UDP(sport=53, dport=40000)),
        "udp_ranges": ("permit out 17 from 198.18.0.0/16 1000-2000,3000 to assigned 80",
                       IP(src="198.18.1.1", dst=ue4, tos=0xb8) / UDP(sport=1500, dport=80)),
        "tcp_v6": ("permit out 6 from 2001:db8::/32 to 2001:db8:1::1 443",
                   IPv6(src="2001:db8:5::9", dst="2001:db8:1::1", tc=0xa5, fl=0x12345) /
                   TCP(sport=443, dport=50000)),
        "ipv4_options_uplink": ("permit out 6 from 198.19.2.0/23 80 to assigned 1024-65535",
                                IP(src=ue4, dst="198.19.2.1", options=b"\x94\x04\x00\x00") /
                                TCP(sport=50000, dport=80)),
        "esp": ("permit out 50 from 198.18.0.0/15 to assigned",
                IP(src="198.18.9.9", dst=ue4, proto=50) / esp),
        "ipv4_fragment": ("permit out 17 from any to any",
                          IP(src="198.18.1.1", dst=ue4, flags="MF", frag=0) / UDP(sport=7)),
        "ipv4_later_fragment": ("permit out 17 from any to assigned",
                                IP(src="198.18.1.1", dst=ue4, proto=17, frag=185) / Raw(b"x" * 8)),
        "v6_ext_headers": ("permit out 17 from 2001:db8:5::/48 to assigned",
                           IPv6(src="2001:db8:5::1", dst=ue6) / IPv6ExtHdrHopByHop() /
                           IPv6ExtHdrDestOpt() / IPv6ExtHdrFragment(offset=0, m=1) /
                           UDP(sport=5060, dport=5060)),
        "sctp_v6": ("permit out 132 from any 38412 to assigned",
                    IPv6(src="2001:db8:5::1", dst=ue6, nh=132) /
                    Raw(bytes.fromhex("960c0009 00000000 00000000"))),
        "icmp_error_option": ("permit out ip from any to assigned frag",
                              IP(src="198.18.1.1", dst=ue4) / ICMP()),
        "deny_in": ("deny in ip from any to any", IP(src="198.18.1.1", dst=ue4) / ICMP()),
        "truncated": ("permit out 17 from 198.18.0.0/15 to assigned 0-65535",
                      Raw(bytes(IP(src="198.18.1.1", dst=ue4) / UDP())[:24])),
    }
    return {name: text.encode() + b"\x00" + bytes(pkt) for name, (text, pkt) in seeds.items()}


def write(dirname, seeds, binary):
    d = HERE / "corpus" / dirname
    d.mkdir(parents=True, exist_ok=True)
    for name, data in seeds.items():
        path = d / name
        path.write_bytes(data if binary else data.encode())
    print(f"make_corpus: {len(seeds)} seeds in {d.relative_to(ROOT)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--braid", default=str(ROOT / "build" / "braid"),
                    help="braid binary for --print-default-config (default: build/braid)")
    args = ap.parse_args()
    write("packets", {k: bytes(v) for k, v in packets().items()}, binary=True)
    write("config", config_seeds(args.braid), binary=False)
    write("cli", cli_seeds(), binary=False)
    write("sdf", sdf_seeds(), binary=True)


if __name__ == "__main__":
    main()
