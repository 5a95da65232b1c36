#!/usr/bin/python3
"""GTP-U golden vectors built with scapy.contrib.gtp, cross-checking braid's codec
(dataplane/gtpu.h). Prints one `name hex` line per vector; the hex strings are pasted into
tests/unit/dataplane/test_gtpu.cc (each test names the expression below that produced it).

Run: /usr/bin/python3 tests/pipeline/gtpu_vectors.py

scapy 2.5.0 notes (do not "fix" the C++ side to match these):
  - IE_ExtensionHeaderList (141) is built with a 2-octet length by scapy; TS 29.281 §8.5 has a
    1-octet count, so the SEHN vector below is not used as a golden encoding, only printed.
  - GTPPDUSessionContainer pads the extension header to a multiple of 4 octets (TS 38.415
    §5.5.2: content length 4n - 2), as braid does.
"""
from scapy.all import IP, ICMP, raw
from scapy.contrib.gtp import (GTP_U_Header, GTPHeader, GTPPDUSessionContainer, GTPEchoRequest,
                               GTPEchoResponse, GTPErrorIndication, IE_Recovery, IE_TEIDI,
                               IE_GSNAddress, GTP_UDPPort_ExtensionHeader,
                               GTPSupportedExtensionHeadersNotification, IE_ExtensionHeaderList)

# A fixed inner packet so the vectors are stable (ICMP echo, 28 octets): UE 198.19.100.2 to the
# lab's DN host 198.19.0.2 (test addresses only from 198.18.0.0/15 and 2001:db8::/32).
INNER = IP(src="198.19.100.2", dst="198.19.0.2", id=1) / ICMP(id=1, seq=1)

VECTORS = {
    # plain G-PDU, no optional fields
    "gpdu_plain": GTP_U_Header(teid=0x11223344, gtp_type=255) / INNER,
    # UL PDU SESSION INFORMATION, QFI 9 (minimal form)
    "gpdu_ul_qfi9": GTP_U_Header(teid=0x11223344, gtp_type=255, E=1, next_ex=0x85)
    / GTPPDUSessionContainer(type=1, QFI=9) / INNER,
    # DL PDU SESSION INFORMATION, QFI 5, no PPP (minimal form)
    "gpdu_dl_qfi5": GTP_U_Header(teid=0x01020304, gtp_type=255, E=1, next_ex=0x85)
    / GTPPDUSessionContainer(type=0, QFI=5) / INNER,
    # DL with PPP=1 RQI=1 QFI 5 PPI 3
    "gpdu_dl_ppp_rqi_qfi5_ppi3": GTP_U_Header(teid=0x01020304, gtp_type=255, E=1, next_ex=0x85)
    / GTPPDUSessionContainer(type=0, PPP=1, RQI=1, QFI=5, PPI=3) / INNER,
    # DL with QMP (sending time stamp) and SNP (QFI sequence number)
    "gpdu_dl_qmp_snp": GTP_U_Header(teid=0x01020304, gtp_type=255, E=1, next_ex=0x85)
    / GTPPDUSessionContainer(type=0, QMP=1, SNP=1, QFI=7, dlSendTime=0x0102030405060708,
                             dlQFISeqNum=0xabcdef) / INNER,
    # UL with every optional field of the R16 layout
    "gpdu_ul_all_fields": GTP_U_Header(teid=0x11223344, gtp_type=255, E=1, next_ex=0x85)
    / GTPPDUSessionContainer(type=1, QMP=1, dlDelayInd=1, ulDelayInd=1, SNP=1, N3N9DelayInd=1,
                             QFI=9, dlSendTimeRpt=0x1111111111111111,
                             dlRecvTime=0x2222222222222222, ulSendTime=0x3333333333333333,
                             dlDelayRslt=0x44444444, ulDelayRslt=0x55555555,
                             UlQFISeqNum=0x666666, N3N9DelayRslt=0x77777777) / INNER,
    # Echo Request / Response, seq 7
    "echo_request_seq7": GTPHeader(gtp_type=1, S=1, seq=7, teid=0) / GTPEchoRequest(),
    "echo_response_seq7": GTPHeader(gtp_type=2, S=1, seq=7, teid=0)
    / GTPEchoResponse(IE_list=[IE_Recovery(restart_counter=0)]),
    # Error Indication (TEID Data I 0xdeadbeef, peer 198.18.0.1, braid's N3 address), S=1, no extension header
    "error_indication_v4": GTP_U_Header(gtp_type=26, S=1, seq=0, teid=0)
    / GTPErrorIndication(IE_list=[IE_TEIDI(TEIDI=0xdeadbeef),
                                  IE_GSNAddress(length=4, ipv4_address="198.18.0.1")]),
    # Error Indication with a UDP Port extension header (40000)
    "error_indication_v4_udp_port": GTP_U_Header(gtp_type=26, S=1, E=1, seq=0, teid=0,
                                                 next_ex=0x40)
    / GTP_UDPPort_ExtensionHeader(udp_port=40000)
    / GTPErrorIndication(IE_list=[IE_TEIDI(TEIDI=0xdeadbeef),
                                  IE_GSNAddress(length=4, ipv4_address="198.18.0.1")]),
    # Error Indication, IPv6 peer
    "error_indication_v6": GTP_U_Header(gtp_type=26, S=1, seq=0, teid=0)
    / GTPErrorIndication(IE_list=[IE_TEIDI(TEIDI=0x00000001),
                                  IE_GSNAddress(length=16, ipv6_address="2001:db8::1")]),
    # End Marker
    "end_marker": GTP_U_Header(gtp_type=254, teid=0x55667788),
    # SEHN (scapy encodes IE 141 with a 2-octet length: informational only)
    "sehn_scapy_2octet_len": GTPHeader(gtp_type=31, S=1, seq=0, teid=0)
    / GTPSupportedExtensionHeadersNotification(
        IE_list=[IE_ExtensionHeaderList(extension_headers=[0x85, 0x40])]),
}

if __name__ == "__main__":
    for name, pkt in VECTORS.items():
        print(name, raw(pkt).hex())
