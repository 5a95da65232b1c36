#!/usr/bin/python3
"""Regenerate the libFuzzer seed corpora in tests/fuzz/corpus/ (committed; rerun after changing
the packet formats, docs/CONFIG.md or the CLI grammar).

    /usr/bin/python3 tests/fuzz/make_corpus.py [--braid build/braid]

packets/  Ethernet frames for the port of fuzz_packets.cc (MAC 02:00:00:00:03:01,
          198.18.0.1/24, 2001:db8:3::1/64), built with scapy
config/   the embedded default (`braid --print-default-config`; docs/CONFIG.md's copy when the
          binary is not built) and every ```yaml example of docs/CONFIG.md
cli/      command lines, one or several per file
"""

import argparse
import pathlib
import re
import subprocess
import sys

from scapy.all import (ARP, ICMP, IP, UDP, Dot1Q, Ether, ICMPv6EchoRequest,  # noqa: E402
                       ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6, Raw)

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


if __name__ == "__main__":
    main()
