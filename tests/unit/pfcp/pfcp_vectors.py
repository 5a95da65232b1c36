#!/usr/bin/python3
"""Golden PFCP vectors for tests/unit/pfcp/test_pfcp_codec.cc, built with scapy's PFCP layer.

Usage (Debian python3-scapy; scapy.contrib.pfcp follows TS 29.244 V15.6.0):
    /usr/bin/python3 tests/unit/pfcp/pfcp_vectors.py            # print the vectors as hex
    /usr/bin/python3 tests/unit/pfcp/pfcp_vectors.py --tshark   # also dissect them with tshark

The C++ tests paste the printed hex and check that braid decodes each one and that braid's
encoder reproduces it byte for byte; --tshark checks that Wireshark dissects the same bytes
without a malformed-packet or error expert item, so braid's encoder output is validated too.
"""

import os
import subprocess
import sys
import tempfile

from scapy.all import IP, UDP, Ether, raw, wrpcap
from scapy.contrib import pfcp as p

# Test addresses only from 198.18.0.0/15 and 2001:db8::/32 (docs/TESTING.md).
SMF_N4 = "198.18.4.1"   # the SMF's N4 address (Node ID, CP F-SEID)
UPF_N4 = "198.18.4.2"   # braid's N4 address (docs/CONFIG.md pfcp example)
UPF_N3 = "198.18.0.1"   # braid's N3 address (the UP F-TEID)
GNB_N3 = "198.18.0.2"   # the gNB (Outer Header Creation of the DL FAR)
UE_IP = "198.19.100.2"  # the UE


def vectors():
    out = {}

    # Heartbeat Request, seq 4, Recovery Time Stamp 0xe8d0a1b2 (same as spec §1.14).
    out["heartbeat_request"] = p.PFCP(version=1, S=0, seq=4) / p.PFCPHeartbeatRequest(
        IE_list=[p.IE_RecoveryTimeStamp(timestamp=0xE8D0A1B2)])

    # Association Setup Request from an SMF: Node ID IPv4 198.18.4.1, Recovery Time Stamp.
    out["association_setup_request"] = p.PFCP(version=1, S=0, seq=7) / \
        p.PFCPAssociationSetupRequest(IE_list=[
            p.IE_NodeId(id_type=0, ipv4=SMF_N4),
            p.IE_RecoveryTimeStamp(timestamp=0xE8D0A1B2),
        ])

    # Association Setup Response from braid: Node ID FQDN, Cause 1, RTS, UP Function Features
    # FTUP + EMPU (2 octets: the R15 layout scapy knows).
    out["association_setup_response"] = p.PFCP(version=1, S=0, seq=7) / \
        p.PFCPAssociationSetupResponse(IE_list=[
            p.IE_NodeId(id_type=2, id="upf.braid.test"),
            p.IE_Cause(cause=1),
            p.IE_RecoveryTimeStamp(timestamp=0xE8D0A1B3),
            p.IE_UPFunctionFeatures(BUCP=0, DDND=0, DLBD=0, TRST=0, FTUP=1, PFDM=0, HEEU=0,
                                    TREU=0, EMPU=1, PDIU=0, UDBC=0, QUOAC=0, TRACE=0,
                                    FRRT=0, PFDE=0, spare=0),
        ])

    # Session Establishment Request (SEID 0): one UL PDR with F-TEID CHOOSE, one FAR.
    out["session_establishment_request"] = p.PFCP(version=1, S=1, seid=0, seq=0x000102) / \
        p.PFCPSessionEstablishmentRequest(IE_list=[
            p.IE_NodeId(id_type=0, ipv4=SMF_N4),
            p.IE_FSEID(v4=1, seid=0x1122334455667788, ipv4=SMF_N4),
            p.IE_CreatePDR(IE_list=[
                p.IE_PDR_Id(id=1),
                p.IE_Precedence(precedence=255),
                p.IE_PDI(IE_list=[
                    p.IE_SourceInterface(interface=0),
                    p.IE_FTEID(V4=1, CH=1, CHID=1, choose_id=5),
                    p.IE_NetworkInstance(instance="internet"),
                    p.IE_UE_IP_Address(V4=1, ipv4=UE_IP),
                    p.IE_SDF_Filter(FD=1, flow_description="permit out ip from any to assigned"),
                ]),
                p.IE_OuterHeaderRemoval(header=0),
                p.IE_FAR_Id(id=1),
                p.IE_QER_Id(id=1),
            ]),
            p.IE_CreateFAR(IE_list=[
                p.IE_FAR_Id(id=1),
                p.IE_ApplyAction(FORW=1),
                p.IE_ForwardingParameters(IE_list=[
                    p.IE_DestinationInterface(interface=1),
                    p.IE_NetworkInstance(instance="internet"),
                ]),
            ]),
            p.IE_CreateFAR(IE_list=[
                p.IE_FAR_Id(id=2),
                p.IE_ApplyAction(FORW=1),
                p.IE_ForwardingParameters(IE_list=[
                    p.IE_DestinationInterface(interface=0),
                    p.IE_OuterHeaderCreation(GTPUUDPIPV4=1, TEID=0x01020304,
                                             ipv4=GNB_N3),
                ]),
            ]),
            p.IE_CreateQER(IE_list=[
                p.IE_QER_Id(id=1),
                p.IE_GateStatus(ul=0, dl=0),
                p.IE_MBR(ul=1000000, dl=2000000),
                p.IE_QFI(QFI=9),
            ]),
        ])

    # Session Establishment Response (SEID 0x1122334455667788) with message priority 3.
    out["session_establishment_response"] = p.PFCP(
        version=1, S=1, MP=1, priority=3, seid=0x1122334455667788, seq=0x000102) / \
        p.PFCPSessionEstablishmentResponse(IE_list=[
            p.IE_NodeId(id_type=0, ipv4=UPF_N4),
            p.IE_Cause(cause=1),
            p.IE_FSEID(v4=1, seid=0x0000000000000001, ipv4=UPF_N4),
            p.IE_CreatedPDR(IE_list=[
                p.IE_PDR_Id(id=1),
                p.IE_FTEID(V4=1, TEID=0x00000401, ipv4=UPF_N3),
            ]),
        ])
    return out


# ATSSS vectors from spec §1.14 (scapy has no R16 IEs), dissected by tshark only.
SPEC_IES = {
    "up_function_features_r16": "002b0006104120800100",
    "provide_atsss_control_information": "00dc000a00de00010100e0000101",
}


def heartbeat_with(ie_hex):
    """A Heartbeat Request carrying RTS and one extra IE, for dissecting single IEs."""
    body = bytes.fromhex("00600004e8d0a1b2" + ie_hex)
    return bytes([0x20, 0x01]) + (len(body) + 4).to_bytes(2, "big") + b"\x00\x00\x09\x00" + body


def tshark_check(frames):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "pfcp.pcap")
        wrpcap(path, [Ether() / IP(src=SMF_N4, dst=UPF_N4) /
                      UDP(sport=8805, dport=8805) / f for f in frames])
        res = subprocess.run(["tshark", "-r", path, "-V"], capture_output=True, text=True,
                             check=True)
        text = res.stdout
        bad = [l for l in text.splitlines()
               if "Malformed" in l or "[Expert Info (Error" in l or "Unknown IE" in l]
        count = text.count("Packet Forwarding Control Protocol")
        return count, bad


def main():
    vs = vectors()
    for name, pkt in vs.items():
        print(f"{name}: {raw(pkt).hex()}")
    if "--tshark" in sys.argv:
        frames = [raw(v) for v in vs.values()]
        frames += [heartbeat_with(h) for h in SPEC_IES.values()]
        count, bad = tshark_check(frames)
        print(f"tshark: {count} PFCP messages dissected, {len(bad)} problems")
        for l in bad:
            print("  " + l.strip())
        return 1 if bad or count != len(frames) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
