// Every packet braid discards goes to the `drop` node with one of these reasons (DESIGN.md §3).
// Declared as data: name (the metric label and CLI text) and help text.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace braid::pipelines {

// clang-format off
#define BRAID_DROP_REASONS(X)                                                                   \
    X(runt_frame,          "frame shorter than the headers it announces")                      \
    X(oversized_frame,     "frame longer than the port MTU plus the Ethernet header")          \
    X(unknown_ethertype,   "Ethernet type braid does not handle")                              \
    X(vlan_unsupported,    "802.1Q/802.1ad tagged frame on an untagged port")                  \
    X(not_our_mac,         "unicast frame for another MAC address")                            \
    X(arp_malformed,       "ARP packet that is not Ethernet/IPv4 or is truncated")             \
    X(arp_not_for_us,      "ARP request for an address that is not braid's")                   \
    X(arp_reply_consumed,  "ARP reply or announcement consumed by the neighbor table")         \
    X(ipv4_bad_header,     "IPv4 version, header length or total length inconsistent")         \
    X(ipv4_bad_checksum,   "IPv4 header checksum wrong")                                       \
    X(ipv4_fragment,       "IPv4 fragment to a local address (reassembly not implemented)")    \
    X(ipv4_not_for_us,     "IPv4 packet to a foreign address (no forwarding rule)")            \
    X(ipv4_no_handler,     "IPv4 protocol to a local address that no stage handles")           \
    X(udp_bad_header,      "UDP length inconsistent with the IP packet")                       \
    X(udp_bad_checksum,    "UDP checksum wrong")                                               \
    X(gtpu_malformed,      "GTP-U message that does not parse (TS 29.281 §5)")                 \
    X(gtpu_unknown_ext_header, "GTP-U with an unknown comprehension-required extension header") \
    X(gtpu_unhandled_message, "GTP-U message type braid does not handle (TS 29.281 §7.1)")     \
    X(gtpu_unknown_teid,   "G-PDU to a TEID no session owns (Error Indication rate limit hit)") \
    X(gtpu_error_ind_received, "Error Indication from a peer, reported to the control core")   \
    X(gtpu_end_marker_received, "End Marker from a peer (consumed)")                           \
    X(gtpu_echo_response_received, "Echo Response, handed to path management (consumed)")     \
    X(inner_malformed,     "T-PDU or N6 packet that is not a complete IPv4/IPv6 packet")       \
    X(pdr_no_match,        "packet of a session that no PDR of the session matches")           \
    X(no_session_for_ue,   "N6 packet to an address no session owns")                          \
    X(qer_gate_closed,     "QER gate status closed for the packet's direction")                \
    X(qer_mbr_exceeded,    "above the QER's maximum bit rate (srTCM red)")                     \
    X(far_drop,            "FAR apply action DROP")                                            \
    X(far_unsupported,     "FAR forwarding braid does not do (e.g. GTP-U toward the core)")    \
    X(buffer_ring_full,    "FAR BUFF: the ring to the control core's buffer is full")          \
    X(neighbor_unresolved, "next hop's MAC address not known and the packet could not be held")      \
    X(neighbor_queue_full, "held for an unresolved next hop: evicted by a newer packet (per-neighbor or total bound)") \
    X(neighbor_resolution_failed, "held for a next hop whose resolution failed, or sent to a failed one") \
    X(neighbor_hold_timeout, "held for an unresolved next hop longer than neighbors.hold_timeout_ms") \
    X(encap_too_big_df,    "IPv4 with DF too big for N3 once encapsulated (ICMP sent unless rate-limited)") \
    X(encap_too_big_ipv6,  "IPv6 too big for N3 once encapsulated (ICMPv6 sent unless rate-limited)") \
    X(no_egress_port,      "no port of the role the FAR's destination interface needs")       \
    X(egress_mtu_exceeded, "packet too big for the egress port MTU after encapsulation")       \
    X(ipv6_bad_header,     "IPv6 header truncated or payload length inconsistent")             \
    X(ipv6_not_for_us,     "IPv6 packet to a foreign address (no forwarding rule)")            \
    X(ipv6_no_handler,     "IPv6 next header to a local address that no stage handles")        \
    X(icmp_bad_checksum,   "ICMP/ICMPv6 checksum wrong")                                       \
    X(icmp_malformed,      "ICMP/ICMPv6 message truncated")                                    \
    X(icmp_unhandled,      "ICMP/ICMPv6 type braid does not answer")                           \
    X(icmp_error_mismatch, "ICMP error: the quoted source is not the address it was sent to")  \
    X(icmp_error_no_connection, "ICMP error quoting TCP no connection of braid's has")         \
    X(icmp_error_out_of_window, "ICMP error quoting a sequence number outside the connection's send window (RFC 5927)") \
    X(nd_not_for_us,       "neighbor solicitation for an address that is not braid's")         \
    X(nd_bad_checksum,     "Neighbor Solicitation/Advertisement: ICMPv6 checksum wrong")       \
    X(nd_bad_hop_limit,    "Neighbor Discovery with hop limit not 255: it crossed a router (RFC 4861 §7.1)") \
    X(nd_bad_code,         "Neighbor Discovery with ICMPv6 code not 0 (RFC 4861 §7.1)")        \
    X(nd_truncated,        "Neighbor Solicitation/Advertisement shorter than 24 octets")        \
    X(nd_multicast_target, "Neighbor Solicitation/Advertisement for a multicast target (RFC 4861 §7.1)") \
    X(nd_bad_option,       "Neighbor Discovery option of length 0 or running past the message") \
    X(nd_bad_source,       "Neighbor Solicitation from :: with a source link-layer address option (RFC 4861 §7.1.1)") \
    X(nd_solicited_to_multicast, "solicited Neighbor Advertisement sent to a multicast address (RFC 4861 §7.1.2)") \
    X(nd_advert_consumed,  "Neighbor Advertisement consumed by the neighbor table")            \
    X(tx_queue_full,       "TX queue full after retries")                                      \
    X(handoff_ring_full,   "the hand-off ring to the session's owner worker is full")          \
    X(handoff_session_gone, "session deleted or re-keyed while the packet was handed off")    \
    X(tcp_bad_header,      "TCP to braid: header shorter than 20 bytes or bad data offset")    \
    X(tcp_bad_checksum,    "TCP to braid: checksum wrong")                                     \
    X(tcp_bad_options,     "TCP to braid: malformed options (RFC 9293 §3.2)")                  \
    X(fault_injected,      "dropped on purpose by the fault-injection stage (set fault)")    \
    X(link_addr_not_proxy, "T-PDU from a link-specific multipath address that is not TCP to the MPTCP proxy") \
    X(link_addr_wrong_access, "T-PDU from the link-specific address of the other access (its PDR names its access)") \
    X(duplicate_too_big,   "DUPL: the copy does not fit the egress MTU once encapsulated (copies are not fragmented)") \
    X(duplicate_no_mbuf,   "DUPL: no mbuf for the copy")                                       \
    X(link_addr_from_n6,   "N6 packet to a link-specific multipath address (only the MPTCP proxy sends there)")
// clang-format on

enum class DropReason : uint16_t {
#define BRAID_X(name, help) name,
    BRAID_DROP_REASONS(BRAID_X)
#undef BRAID_X
        count
};

inline constexpr size_t drop_reason_count = static_cast<size_t>(DropReason::count);
static_assert(drop_reason_count < 256, "MbufMeta::drop_reason is one octet");

struct DropReasonInfo {
    std::string_view name;
    std::string_view help;
};

inline constexpr std::array<DropReasonInfo, drop_reason_count> drop_reason_table{{
#define BRAID_X(name, help) {#name, help},
    BRAID_DROP_REASONS(BRAID_X)
#undef BRAID_X
}};

constexpr std::string_view to_string(DropReason r) {
    return drop_reason_table[static_cast<size_t>(r)].name;
}

}  // namespace braid::pipelines
