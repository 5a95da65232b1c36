#!/usr/bin/python3
"""PFCP session message vectors for tests/unit/pfcp/test_pfcp_session.cc, built with scapy.

Usage (Debian python3-scapy; scapy.contrib.pfcp follows TS 29.244 V15.6.0):
    /usr/bin/python3 tests/unit/pfcp/session_vectors.py
        print the request vectors as C++ (paste between the "scapy vectors" markers of
        test_pfcp_session.cc)
    /usr/bin/python3 tests/unit/pfcp/session_vectors.py --tshark [UNIT_TESTS]
        dissect the request vectors with tshark; with the path of the unit_tests binary, also
        run its [pfcp-session] tests with BRAID_PFCP_SESSION_DUMP set, which makes them write
        every message braid built (responses, Session Report Requests) as a file, and dissect
        those. Fails on any "Malformed" item or Error-severity expert info.
    /usr/bin/python3 tests/unit/pfcp/session_vectors.py --corpus DIR
        write the request vectors as seed files for tests/fuzz/fuzz_pfcp_session.cc.

Test addresses only from 198.18.0.0/15 and 2001:db8::/32 (docs/TESTING.md).
"""

import os
import subprocess
import sys
import tempfile

from scapy.all import IP, UDP, Ether, raw, wrpcap
from scapy.contrib import pfcp as p

SMF_N4 = "198.18.4.1"    # the SMF's N4 address (Node ID, CP F-SEID)
UPF_N4 = "198.18.4.2"    # braid's N4 address
UPF_N3 = "198.18.0.1"    # braid's N3 address (allocated F-TEIDs)
GNB_N3 = "198.18.0.2"    # the gNB (Outer Header Creation of the DL FAR)
GNB2_N3 = "198.18.0.3"   # the gNB after a handover
UE_IP = "198.19.100.2"   # a UE address the SMF chose
CP_SEID = 0x1122334455667788
UP_SEID = 0x100000001    # the first SEID braid allocates in the tests (first_seid)


def ul_pdr(pdr_id, choose_id, qer=True):
    members = [
        p.IE_PDR_Id(id=pdr_id),
        p.IE_Precedence(precedence=200 + pdr_id),
        p.IE_PDI(IE_list=[
            p.IE_SourceInterface(interface=0),
            p.IE_FTEID(V4=1, CH=1, CHID=1, choose_id=choose_id),
            p.IE_NetworkInstance(instance="internet"),
            p.IE_SDF_Filter(FD=1, flow_description="permit out ip from any to assigned"),
            p.IE_QFI(QFI=9),
        ]),
        p.IE_OuterHeaderRemoval(header=0),
        p.IE_FAR_Id(id=1),
        p.IE_URR_Id(id=1),
    ]
    if qer:
        members.append(p.IE_QER_Id(id=1))
    return p.IE_CreatePDR(IE_list=members)


def establishment():
    """CHOOSE with CHOOSE ID (PDRs 1 and 3 share ID 5), a DL PDR, every rule type."""
    return p.PFCP(version=1, S=1, seid=0, seq=0x000201) / p.PFCPSessionEstablishmentRequest(
        IE_list=[
            p.IE_NodeId(id_type=0, ipv4=SMF_N4),
            p.IE_FSEID(v4=1, seid=CP_SEID, ipv4=SMF_N4),
            ul_pdr(1, 5),
            p.IE_CreatePDR(IE_list=[
                p.IE_PDR_Id(id=2),
                p.IE_Precedence(precedence=100),
                p.IE_PDI(IE_list=[
                    p.IE_SourceInterface(interface=1),
                    p.IE_NetworkInstance(instance="internet"),
                    p.IE_UE_IP_Address(V4=1, SD=1, ipv4=UE_IP),
                ]),
                p.IE_FAR_Id(id=2),
                p.IE_URR_Id(id=1),
                p.IE_QER_Id(id=1),
            ]),
            ul_pdr(3, 5, qer=False),
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
                    p.IE_NetworkInstance(instance="access"),
                    p.IE_OuterHeaderCreation(GTPUUDPIPV4=1, TEID=0x01000002, ipv4=GNB_N3),
                ]),
                p.IE_BAR_Id(id=1),
            ]),
            p.IE_CreateURR(IE_list=[
                p.IE_URR_Id(id=1),
                p.IE_MeasurementMethod(VOLUM=1, DURAT=1),
                p.IE_ReportingTriggers(volume_threshold=1, periodic_reporting=1),
                p.IE_MeasurementPeriod(period=60),
                p.IE_VolumeThreshold(TOVOL=1, total=1000000),
            ]),
            p.IE_CreateQER(IE_list=[
                p.IE_QER_Id(id=1),
                p.IE_GateStatus(ul=0, dl=0),
                p.IE_MBR(ul=100000, dl=200000),
                p.IE_QFI(QFI=9),
            ]),
            p.IE_Create_BAR(IE_list=[
                p.IE_BAR_Id(id=1),
                p.IE_SuggestedBufferingPacketsCount(count=10),
            ]),
        ])


def establishment_chv4():
    """UE IP address allocation: CHV4 (0x10, in scapy's R15 spare bits) on both PDRs."""
    return p.PFCP(version=1, S=1, seid=0, seq=0x000202) / p.PFCPSessionEstablishmentRequest(
        IE_list=[
            p.IE_NodeId(id_type=0, ipv4=SMF_N4),
            p.IE_FSEID(v4=1, seid=CP_SEID + 1, ipv4=SMF_N4),
            p.IE_CreatePDR(IE_list=[
                p.IE_PDR_Id(id=1),
                p.IE_Precedence(precedence=200),
                p.IE_PDI(IE_list=[
                    p.IE_SourceInterface(interface=0),
                    p.IE_FTEID(V4=1, CH=1),
                    p.IE_UE_IP_Address(spare=2, V4=1, SD=0),
                ]),
                p.IE_OuterHeaderRemoval(header=0),
                p.IE_FAR_Id(id=1),
            ]),
            p.IE_CreatePDR(IE_list=[
                p.IE_PDR_Id(id=2),
                p.IE_Precedence(precedence=100),
                p.IE_PDI(IE_list=[
                    p.IE_SourceInterface(interface=1),
                    p.IE_UE_IP_Address(spare=2, V4=1, SD=1),
                ]),
                p.IE_FAR_Id(id=2),
            ]),
            p.IE_CreateFAR(IE_list=[
                p.IE_FAR_Id(id=1),
                p.IE_ApplyAction(FORW=1),
                p.IE_ForwardingParameters(IE_list=[p.IE_DestinationInterface(interface=1)]),
            ]),
            p.IE_CreateFAR(IE_list=[
                p.IE_FAR_Id(id=2),
                p.IE_ApplyAction(BUFF=1, NOCP=1),
            ]),
        ])


def modification():
    """Handover: Update FAR 2 with a new gNB F-TEID and SNDEM; Remove QER 1; Create PDR 4
    (CHOOSE); Query URR 1 and QAURR."""
    return p.PFCP(version=1, S=1, seid=UP_SEID, seq=0x000203) / \
        p.PFCPSessionModificationRequest(IE_list=[
            p.IE_RemoveQER(IE_list=[p.IE_QER_Id(id=1)]),
            ul_pdr(4, 7, qer=False),
            p.IE_UpdateFAR(IE_list=[
                p.IE_FAR_Id(id=2),
                p.IE_ApplyAction(FORW=1),
                p.IE_UpdateForwardingParameters(IE_list=[
                    p.IE_DestinationInterface(interface=0),
                    p.IE_OuterHeaderCreation(GTPUUDPIPV4=1, TEID=0x02000002, ipv4=GNB2_N3),
                    p.IE_PFCPSMReqFlags(SNDEM=1),
                ]),
            ]),
            p.IE_UpdateURR(IE_list=[
                p.IE_URR_Id(id=1),
                p.IE_VolumeThreshold(TOVOL=1, total=2000000),
            ]),
            p.IE_PFCPSMReqFlags(QUARR=1),
            p.IE_QueryURR(IE_list=[p.IE_URR_Id(id=1)]),
        ])


def deletion():
    return p.PFCP(version=1, S=1, seid=UP_SEID, seq=0x000204) / p.PFCPSessionDeletionRequest()


def report_response(cause):
    return p.PFCP(version=1, S=1, seid=UP_SEID, seq=0x000001) / p.PFCPSessionReportResponse(
        IE_list=[p.IE_Cause(cause=cause)])


def vectors():
    return {
        "establishment": establishment(),
        "establishment_chv4": establishment_chv4(),
        "modification": modification(),
        "deletion": deletion(),
        "report_response_accepted": report_response(1),
        "report_response_not_found": report_response(65),
    }


def cpp(vs):
    out = ["// ---- scapy vectors (tests/unit/pfcp/session_vectors.py) ----"]
    for name, pkt in vs.items():
        b = raw(pkt).hex()
        lines = [b[i:i + 80] for i in range(0, len(b), 80)]
        out.append(f"const Bytes scapy_{name} = hex(")
        out.extend(f'    "{line}"' for line in lines[:-1])
        out.append(f'    "{lines[-1]}");')
    out.append("// ---- end of scapy vectors ----")
    return "\n".join(out)


def tshark_check(messages):
    """messages: list of (name, bytes, from_upf). Returns the number of problems."""
    pkts = []
    for _, data, from_upf in messages:
        src, dst = (UPF_N4, SMF_N4) if from_upf else (SMF_N4, UPF_N4)
        pkts.append(Ether() / IP(src=src, dst=dst) / UDP(sport=8805, dport=8805) / data)
    problems = 0
    with tempfile.TemporaryDirectory() as d:
        pcap = os.path.join(d, "session.pcap")
        wrpcap(pcap, pkts)
        text = subprocess.run(["tshark", "-r", pcap, "-V", "-o", "pfcp.track_pfcp_session:FALSE"],
                              capture_output=True, text=True, check=False).stdout
    frames = text.split("\nFrame ")
    for (name, _, _), frame in zip(messages, frames):
        bad = [ln.strip() for ln in frame.splitlines()
               if "Malformed" in ln or "[Severity level: Error]" in ln
               or ("Expert Info (Error" in ln)]
        if "Packet Forwarding Control Protocol" not in frame:
            bad.append("not dissected as PFCP")
        if bad:
            problems += 1
            print(f"tshark: {name}: " + "; ".join(bad[:4]))
    print(f"tshark: {len(messages)} messages dissected, {problems} with problems")
    return problems


def dumped_messages(unit_tests):
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, BRAID_PFCP_SESSION_DUMP=d)
        r = subprocess.run([unit_tests, "[pfcp-session]"], env=env, capture_output=True,
                           text=True, check=False)
        if r.returncode != 0:
            print(r.stdout[-2000:])
            sys.exit("unit tests failed")
        out = []
        for f in sorted(os.listdir(d)):
            with open(os.path.join(d, f), "rb") as fh:
                out.append((f, fh.read(), True))
        return out


def main():
    vs = vectors()
    if len(sys.argv) >= 2 and sys.argv[1] == "--tshark":
        msgs = [(n, raw(v), n.startswith("report_response")) for n, v in vs.items()]
        if len(sys.argv) >= 3:
            dumped = dumped_messages(sys.argv[2])
            if not dumped:
                sys.exit("the unit tests dumped nothing")
            msgs += dumped
        sys.exit(1 if tshark_check(msgs) else 0)
    if len(sys.argv) >= 3 and sys.argv[1] == "--corpus":
        os.makedirs(sys.argv[2], exist_ok=True)
        # Mode byte (see the fuzz target): 0 a datagram; 1/2/3/4 the IEs of an establishment,
        # modification, deletion, report response.
        modes = {"establishment": 1, "establishment_chv4": 1, "modification": 2, "deletion": 3,
                 "report_response_accepted": 4, "report_response_not_found": 4}
        for n, v in vs.items():
            b = raw(v)
            with open(os.path.join(sys.argv[2], "datagram_" + n), "wb") as fh:
                fh.write(b"\x00" + b)
            with open(os.path.join(sys.argv[2], "ies_" + n), "wb") as fh:
                fh.write(bytes([modes[n]]) + b[16:])
        return
    print(cpp(vs))


if __name__ == "__main__":
    main()
