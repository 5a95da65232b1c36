"""PFCP session procedures end to end (TS 29.244 §6.3, §7.5): an SMF (scapy, this process)
establishes a session with F-TEID CHOOSE over N4; the userspace gNB uses the TEID braid allocated,
the kernel's traffic flows UE ⇄ DN through braid; deletion returns the final usage report."""

from __future__ import annotations

import subprocess
import time

import pytest
import scapy.contrib.pfcp as p

from conftest import DN_IP, GNB_IP, N3_IP, PYTHON, run
from gnb import Gnb
from test_pfcp_node import Smf, free_udp_port, pfcp_config

UE = "198.19.100.20"
CP_SEID = 0x1122334455667788
DL_TEID = 0x01000002


def establishment():
    return p.PFCPSessionEstablishmentRequest(IE_list=[
        p.IE_NodeId(id_type=2, id="smf.example.org"),
        p.IE_FSEID(v4=1, seid=CP_SEID, ipv4="127.0.0.1"),
        p.IE_CreatePDR(IE_list=[
            p.IE_PDR_Id(id=1), p.IE_Precedence(precedence=200),
            p.IE_PDI(IE_list=[p.IE_SourceInterface(interface=0),
                              p.IE_FTEID(V4=1, CH=1, CHID=1, choose_id=7),
                              p.IE_QFI(QFI=9)]),
            p.IE_OuterHeaderRemoval(header=0), p.IE_FAR_Id(id=1), p.IE_URR_Id(id=1),
            p.IE_QER_Id(id=1)]),
        p.IE_CreatePDR(IE_list=[
            p.IE_PDR_Id(id=2), p.IE_Precedence(precedence=200),
            p.IE_PDI(IE_list=[p.IE_SourceInterface(interface=1),
                              p.IE_UE_IP_Address(V4=1, SD=1, ipv4=UE)]),
            p.IE_FAR_Id(id=2), p.IE_URR_Id(id=1), p.IE_QER_Id(id=1)]),
        p.IE_CreateFAR(IE_list=[
            p.IE_FAR_Id(id=1), p.IE_ApplyAction(FORW=1),
            p.IE_ForwardingParameters(IE_list=[p.IE_DestinationInterface(interface=1)])]),
        p.IE_CreateFAR(IE_list=[
            p.IE_FAR_Id(id=2), p.IE_ApplyAction(FORW=1),
            p.IE_ForwardingParameters(IE_list=[
                p.IE_DestinationInterface(interface=0),
                p.IE_OuterHeaderCreation(GTPUUDPIPV4=1, TEID=DL_TEID, ipv4=GNB_IP)])]),
        p.IE_CreateURR(IE_list=[p.IE_URR_Id(id=1), p.IE_MeasurementMethod(VOLUM=1, DURAT=1),
                                p.IE_ReportingTriggers()]),
        p.IE_CreateQER(IE_list=[p.IE_QER_Id(id=1), p.IE_GateStatus(ul=0, dl=0),
                                p.IE_QFI(QFI=9)]),
    ])


def find(ies, cls):
    return [ie for ie in ies if isinstance(ie, cls)]


@pytest.fixture(scope="module")
def upf(braid_factory):
    port = free_udp_port()
    b = braid_factory(pfcp_config(port))
    b.pfcp_port = port
    return b


def test_session_established_over_n4_carries_traffic(lab, upf):
    smf = Smf(upf.pfcp_port)
    try:
        _, rsp = smf.setup()
        assert find(rsp.IE_list, p.IE_Cause)[0].cause == 1
        _, rsp = smf.request(establishment(), seid=0)
        assert rsp.message_type == 51
        assert find(rsp.IE_list, p.IE_Cause)[0].cause == 1, rsp.show(dump=True)
        up_seid = find(rsp.IE_list, p.IE_FSEID)[0].seid
        created = find(rsp.IE_list, p.IE_CreatedPDR)
        assert len(created) == 1
        fteid = find(created[0].IE_list, p.IE_FTEID)[0]
        assert fteid.ipv4 == N3_IP and fteid.TEID >= 0x80000000
        out = upf.cli_ok("show", "session", str(up_seid))
        assert f"teid {fteid.TEID}" in out and f"ue {UE}" in out, out

        with Gnb(lab, UE, ul_teid=fteid.TEID, dl_teid=DL_TEID, upf_n3_ip=N3_IP,
                 routes=["198.19.0.0/24"], qfi=9) as g:
            cp = lab.ping(lab.gnb, DN_IP, count=3, extra=("-I", UE))
            assert cp.returncode == 0, cp.stdout + upf.cli("show", "drops")[1]
            assert g.stats()["dl_qfi"].get("9", 0) >= 3

        _, rsp = smf.request(p.PFCPSessionDeletionRequest(), seid=up_seid)
        assert rsp.message_type == 55 and rsp.seid == CP_SEID
        assert find(rsp.IE_list, p.IE_Cause)[0].cause == 1
        reports = find(rsp.IE_list, p.IE_UsageReport_SDR)
        assert len(reports) == 1, rsp.show(dump=True)
        vol = find(reports[0].IE_list, p.IE_VolumeMeasurement)[0]
        assert vol.uplink >= 3 * 84 and vol.downlink >= 3 * 84
        assert upf.cli("show", "session", str(up_seid))[0] != 0
    finally:
        smf.close()


# ---- FAR DUPL (TS 29.244 §5.2.3): copies to an LI collector's GTP-U tunnel ------------------------

LI_IP = "198.18.0.9"  # a second address of the gNB namespace: the LI function's tunnel end
LI_TEID = 0x00D0D0D0
# argv: address, TEID, expected, seconds. Counts the G-PDUs with that TEID whose T-PDU is an
# ICMP echo request for at most `seconds`, and 0.5 s more once it has `expected` (any extra copy
# is counted too), then prints "<copies> <other datagrams>".
LI_COLLECTOR = r"""
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 2152))
s.settimeout(0.2)
teid, expected = int(sys.argv[2]), int(sys.argv[3])
end = time.monotonic() + float(sys.argv[4])
copies = other = 0
print("ready", flush=True)
while time.monotonic() < end:
    try:
        d = s.recv(4096)
    except socket.timeout:
        continue
    flags, mtype, length, t = struct.unpack("!BBHI", d[:8])
    inner = d[8:]
    if (flags == 0x30 and mtype == 0xFF and length == len(inner) and t == teid
            and inner[0] >> 4 == 4 and inner[9] == 1 and inner[(inner[0] & 15) * 4] == 8):
        copies += 1
        if copies == expected:
            end = min(end, time.monotonic() + 0.5)
    else:
        other += 1
print(copies, other, flush=True)
"""


def test_far_duplicate_sends_a_copy_of_each_uplink_packet_to_the_li_tunnel(lab, upf):
    """A UL FAR with Apply Action FORW|DUPL and Duplicating Parameters (Destination Interface
    LI Function, GTP-U to LI_IP/LI_TEID): each ping reaches the DN as usual and a copy of it
    reaches the LI collector in a G-PDU; tshark dissects the copies cleanly."""
    req = establishment()
    for ie in req.IE_list:
        if isinstance(ie, p.IE_FSEID):
            ie.seid = CP_SEID + 0x100
        if isinstance(ie, p.IE_CreateFAR) and find(ie.IE_list, p.IE_FAR_Id)[0].id == 1:
            ie.IE_list = [p.IE_FAR_Id(id=1), p.IE_ApplyAction(FORW=1, DUPL=1),
                          p.IE_ForwardingParameters(IE_list=[p.IE_DestinationInterface(interface=1)]),
                          p.IE_DuplicatingParameters(IE_list=[
                              p.IE_DestinationInterface(interface=4),
                              p.IE_OuterHeaderCreation(GTPUUDPIPV4=1, TEID=LI_TEID, ipv4=LI_IP)])]
    lab.ns(lab.gnb, "ip", "addr", "add", f"{LI_IP}/24", "dev", "eth0", check=True)
    smf = Smf(upf.pfcp_port)
    collector = None
    try:
        smf.setup()
        _, rsp = smf.request(req, seid=0)
        assert find(rsp.IE_list, p.IE_Cause)[0].cause == 1, rsp.show(dump=True)
        up_seid = find(rsp.IE_list, p.IE_FSEID)[0].seid
        fteid = find(find(rsp.IE_list, p.IE_CreatedPDR)[0].IE_list, p.IE_FTEID)[0]
        shown = upf.cli_ok("show", "far", str(up_seid), "1")
        assert "DUPL" in shown and f"duplicate to LI function" in shown and LI_IP in shown, shown
        before = upf.metrics().value("braid_far_duplicated_total")
        collector = subprocess.Popen(["ip", "netns", "exec", lab.gnb, PYTHON, "-c", LI_COLLECTOR,
                                      LI_IP, str(LI_TEID), "3", "10"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        assert collector.stdout.readline().strip() == "ready"
        with lab.capture(lab.gnb, "gnb-dupl.pcap", bpf=f"udp and dst host {LI_IP}") as cap:
            with Gnb(lab, UE, ul_teid=fteid.TEID, dl_teid=DL_TEID, upf_n3_ip=N3_IP,
                     routes=["198.19.0.0/24"], qfi=9, gnb_ip=GNB_IP):  # not LI_IP's port 2152
                cp = lab.ping(lab.gnb, DN_IP, count=3, extra=("-I", UE))
            time.sleep(0.3)
        out, err = collector.communicate(timeout=30)
        # Deleted before the SMF, which answers no heartbeats, loses its association.
        _, rsp = smf.request(p.PFCPSessionDeletionRequest(), seid=up_seid)
        assert find(rsp.IE_list, p.IE_Cause)[0].cause == 1
        assert cp.returncode == 0, cp.stdout + upf.cli("show", "drops")[1]
        assert out.split() == ["3", "0"], out + err
        assert upf.metrics().value("braid_far_duplicated_total") - before == 3
        path = cap.stop()
        dissect = run(["tshark", "-n", "-r", path, "-o", "ip.check_checksum:TRUE", "-Y",
                       f"gtp.teid == {LI_TEID} && icmp.type == 8 && ip.src == {UE} "
                       f"&& !_ws.malformed && !(_ws.expert.severity >= warning)",
                       "-T", "fields", "-e", "frame.number"], timeout=60)
        assert dissect.returncode == 0, dissect.stderr
        assert len(dissect.stdout.split()) == 3, dissect.stdout
    finally:
        if collector is not None and collector.poll() is None:
            collector.kill()
            collector.wait()
        lab.ns(lab.gnb, "ip", "addr", "del", f"{LI_IP}/24", "dev", "eth0")
        smf.close()


# ---- UE IP address allocation (TS 29.244 §5.21) over the socket ---------------------------------

UE_POOL = "198.19.128.0/30"  # two hosts: .1 and .2


@pytest.fixture(scope="module")
def upf_pool(braid_factory):
    port = free_udp_port()
    b = braid_factory(pfcp_config(port, ue_ip_pools=[{"prefix": UE_POOL}]))
    b.pfcp_port = port
    return b


def establishment_choose_ue(cp_seid):
    """Establishment whose DL PDR asks braid for the UE IPv4 address (CHV4). scapy's R15 UE IP
    Address has no CHV4 field: it is bit 2 of the 5-bit `spare` (flag 0x10)."""
    req = establishment()
    for ie in req.IE_list:
        if isinstance(ie, p.IE_FSEID):
            ie.seid = cp_seid
        if isinstance(ie, p.IE_CreatePDR) and find(ie.IE_list, p.IE_PDR_Id)[0].id == 2:
            pdi = find(ie.IE_list, p.IE_PDI)[0]
            pdi.IE_list = [p.IE_SourceInterface(interface=1),
                           p.IE_UE_IP_Address(spare=2, SD=1)]
    return req


def test_session_with_choose_ue_ip_gets_the_address_back(lab, upf_pool):
    smf = Smf(upf_pool.pfcp_port)
    try:
        _, rsp = smf.setup()
        assert find(rsp.IE_list, p.IE_Cause)[0].cause == 1
        features = find(rsp.IE_list, p.IE_UPFunctionFeatures)[0]
        assert features.FTUP == 1
        assert len(features.extra_data) >= 1 and features.extra_data[0] & 0x04, "UEIP claimed"
        seids, addresses = [], []
        for i in range(2):
            _, rsp = smf.request(establishment_choose_ue(CP_SEID + i), seid=0)
            assert find(rsp.IE_list, p.IE_Cause)[0].cause == 1, rsp.show(dump=True)
            seids.append(find(rsp.IE_list, p.IE_FSEID)[0].seid)
            created = {find(c.IE_list, p.IE_PDR_Id)[0].id: c
                       for c in find(rsp.IE_list, p.IE_CreatedPDR)}
            ue = find(created[2].IE_list, p.IE_UE_IP_Address)[0]
            assert ue.V4 == 1 and ue.SD == 1
            addresses.append(ue.ipv4)
        assert addresses == ["198.19.128.1", "198.19.128.2"]
        out = upf_pool.cli_ok("show", "session", str(seids[0]))
        assert "ue 198.19.128.1" in out, out
        pools = upf_pool.cli_ok("show", "ue-pools")
        assert UE_POOL in pools and " 2\n" in pools, pools
        # Exhausted: Cause 79 "All dynamic addresses are occupied" + Offending IE UE IP Address.
        _, rsp = smf.request(establishment_choose_ue(CP_SEID + 2), seid=0)
        assert find(rsp.IE_list, p.IE_Cause)[0].cause == 79
        assert find(rsp.IE_list, p.IE_OffendingIE)[0].type == 93
        # Deletion frees the address for the next session.
        _, rsp = smf.request(p.PFCPSessionDeletionRequest(), seid=seids[0])
        assert find(rsp.IE_list, p.IE_Cause)[0].cause == 1
        _, rsp = smf.request(establishment_choose_ue(CP_SEID + 2), seid=0)
        assert find(rsp.IE_list, p.IE_Cause)[0].cause == 1
        created = find(rsp.IE_list, p.IE_CreatedPDR)
        ues = [find(c.IE_list, p.IE_UE_IP_Address) for c in created]
        assert [u[0].ipv4 for u in ues if u] == ["198.19.128.1"]
        metrics = upf_pool.metrics()
        assert metrics.value("braid_pfcp_ue_pool_used", pool=UE_POOL) == 2
        assert metrics.value("braid_pfcp_ue_pool_size", pool=UE_POOL) == 2
    finally:
        smf.close()


# ---- Session Report Request sent by braid (§6.3.5) and its reliability (§6.4) -------------------

def test_periodic_report_reaches_the_smf_retransmitted_until_answered(lab, upf_pool):
    """A URR with PERIO (period 1 s): braid sends Session Report Requests to the SMF. The first
    one is left unanswered: braid sends it 1 + N1 times (pfcp_config: t1_ms 300, n1 2), byte for
    byte, then gives up (counted). A later one is answered and braid takes the response."""
    from scapy.contrib.pfcp import PFCP
    smf = Smf(upf_pool.pfcp_port)
    try:
        smf.setup()
        req = establishment()
        for ie in req.IE_list:
            if isinstance(ie, p.IE_FSEID):
                ie.seid = CP_SEID + 10
            if isinstance(ie, p.IE_CreatePDR) and find(ie.IE_list, p.IE_PDR_Id)[0].id == 2:
                find(find(ie.IE_list, p.IE_PDI)[0].IE_list, p.IE_UE_IP_Address)[0].ipv4 = \
                    "198.19.100.30"
            if isinstance(ie, p.IE_CreateURR):
                ie.IE_list = [p.IE_URR_Id(id=1), p.IE_MeasurementMethod(VOLUM=1, DURAT=1),
                              p.IE_ReportingTriggers(periodic_reporting=1),
                              p.IE_MeasurementPeriod(period=1)]
        _, rsp = smf.request(req, seid=0)
        assert find(rsp.IE_list, p.IE_Cause)[0].cause == 1, rsp.show(dump=True)
        up_seid = find(rsp.IE_list, p.IE_FSEID)[0].seid

        def next_report(timeout):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if smf.inbox:
                    data = smf.inbox.pop(0)
                    if PFCP(data).message_type == 56:
                        return data
                    continue
                data = smf.recv(max(0.05, deadline - time.monotonic()))
                if data is not None and not smf.handle_request(data, PFCP(data)):
                    pass
            return None

        first = next_report(4.0)
        assert first is not None, "no Session Report Request within 4 s"
        msg = PFCP(first)
        assert msg.seid == CP_SEID + 10
        assert find(msg.IE_list, p.IE_ReportType)[0].USAR == 1
        assert find(msg.IE_list, p.IE_UsageReport_SRR), msg.show(dump=True)
        # Unanswered: collect every copy of this sequence number for T1 x (N1 + 1) + slack.
        copies, later = 1, []
        deadline = time.monotonic() + 0.3 * 3 + 0.6
        while time.monotonic() < deadline:
            data = next_report(max(0.05, deadline - time.monotonic()))
            if data is None:
                break
            if PFCP(data).seq == msg.seq:
                assert data == first  # a retransmission is byte-identical
                copies += 1
            else:
                later.append(data)
        assert copies == 3, f"{copies} copies of the unanswered request"

        # Answer the next one.
        data = later.pop(0) if later else next_report(3.0)
        assert data is not None
        rq = PFCP(data)
        smf.sock.sendto(bytes(PFCP(version=1, S=1, seid=up_seid, seq=rq.seq) /
                              p.PFCPSessionReportResponse(IE_list=[p.IE_Cause(cause=1)])),
                        smf.braid)
        time.sleep(0.5)
        metrics = upf_pool.metrics()
        assert metrics.value("braid_pfcp_session_report_timeouts_total") >= 1
        assert metrics.value("braid_pfcp_session_report_responses_total",
                             cause="request_accepted") >= 1
        smf.request(p.PFCPSessionDeletionRequest(), seid=up_seid)
    finally:
        smf.close()
