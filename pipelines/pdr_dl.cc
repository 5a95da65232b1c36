// pdr_dl: downlink packet detection (TS 29.244 §5.2.1). An IP packet from N6 to an address
// that is not braid's finds its session by UE address (IPv4, or the /64 of an IPv6 address) in
// the lock-free table and is matched against the session's downlink PDRs in precedence order
// (SDF filters). The Ethernet header is removed (gtpu_encap builds the new one) and the packet
// continues to qer_meter (through handoff when the session's owner worker polices its MBR,
// DESIGN.md §5). Buffered packets the control core releases come back here through
// ctrl_tx, already without their Ethernet header (`meta.l3_offset == 0`). The MPTCP proxy's
// segments to a UE's link-specific multipath address (issue 7) find the session by that
// address and leave by the FAR of its access (MbufMeta::link_access, far_of()). With several
// workers, a segment of the proxy's N6 connection held by another worker (the flow-owner table,
// registered by that worker's TcpHost at connect), or an ICMP error quoting one, goes to that
// worker's tcp_local through handoff (Resume::tcp_local) instead of the UE.
#include <rte_ip.h>

#include <cstring>
#include <optional>

#include "dataplane/flow_owner.h"
#include "dataplane/tcp_host.h"

#include "pipelines/node.h"
#include "pipelines/upf.h"
#include "tcpstack/icmp.h"

namespace braid::pipelines {

namespace {

enum Next : rte_edge_t { next_drop, next_qer_meter, next_handoff, next_tcp_local, next_count };
constexpr const char* next_names[next_count] = {"drop", "qer_meter", "handoff", "tcp_local"};

// A TCP segment to a UE address, or an ICMP error quoting one, as braid's own connections see
// it (local = the UE's address): the MPTCP proxy's N6 side is opened from the UE's address (RFC
// 8803 §4.4.1), and an ICMP error about it is the proxy's too (TcpHost::input_icmp; RFC 8803
// Destination Unreachable). Parsed once here for the checks below.
std::optional<tcp::FourTuple> proxy_tuple(const dataplane::WorkerContext& wc,
                                          const sdf::PacketKey& key, const uint8_t* ip,
                                          size_t len) {
    if (wc.tcp == nullptr || wc.tcp->proxy() == nullptr) {
        return std::nullopt;
    }
    if (key.proto == IPPROTO_TCP && key.has_ports) {
        tcp::FourTuple t;
        t.local.family = t.remote.family = key.family;
        t.local.bytes = key.ue;
        t.remote.bytes = key.remote;
        t.local_port = key.ue_port;
        t.remote_port = key.remote_port;
        return t;
    }
    if (key.proto == IPPROTO_ICMP || key.proto == IPPROTO_ICMPV6) {
        if (const auto e = tcp::parse_icmp_error({ip, len}, nullptr)) {
            return e->tuple;
        }
    }
    return std::nullopt;
}

// With several workers: the proxy connection another worker opened, i.e. registered in the
// flow-owner table (TcpHost, n6_claim): RSS spreads the server's replies over the workers, only
// the owner's engine knows the connection.
std::optional<uint16_t> proxy_owner(const dataplane::WorkerContext& wc, const tcp::FourTuple& t) {
    if (wc.n_workers < 2) {
        return std::nullopt;
    }
    const auto owner = app().flows().owner(dataplane::flow_key_in(t));
    if (owner && *owner != wc.index && *owner < wc.n_workers) {
        return owner;
    }
    return std::nullopt;
}

rte_edge_t classify(const dataplane::WorkerContext& wc, rte_mbuf* m, DropReason& reason) {
    auto& md = dataplane::meta(m);
    if (md.l3_offset != 0) {
        rte_pktmbuf_adj(m, md.l3_offset);
        md.l3_offset = 0;
    }
    md.uplink = 0;
    md.link_access = 0;
    const uint8_t* ip = rte_pktmbuf_mtod(m, const uint8_t*);
    const size_t len = rte_pktmbuf_data_len(m);
    sdf::PacketKey key;
    if (len == 0 || !sdf::extract_key(ip, len, sdf::Direction::downlink, key)) {
        reason = DropReason::inner_malformed;
        return next_drop;
    }
    if (const auto t = proxy_tuple(wc, key, ip, len)) {
        if (wc.tcp->owns(*t)) {
            return next_tcp_local;  // the mbuf starts at the IP header (l3_offset 0)
        }
        if (auto owner = proxy_owner(wc, *t)) {
            // tcp_local on the owner takes it as above (l3_offset 0, no session needed).
            md.handoff_to = static_cast<uint8_t>(*owner & 0x1f);
            md.resume = static_cast<uint8_t>(Resume::tcp_local);
            return next_handoff;
        }
    }
    const dataplane::SessionRules* rules = nullptr;
    if (key.family == 4) {
        uint32_t ue;
        std::memcpy(&ue, key.ue.data(), 4);
        rules = app().sessions().by_ue_ipv4(rte_be_to_cpu_32(ue));
    } else {
        rules = app().sessions().by_ue_ipv6(key.ue.data());
    }
    const dataplane::CompiledPdr* pdr = nullptr;
    if (rules != nullptr) {
        pdr = rules->match_downlink(key);
    } else {
        // A link-specific multipath address (issue 7): only the MPTCP proxy's segments to a
        // subflow go there, matched as the UE's traffic and sent by the FAR of the address's
        // access (the MAR's 3GPP or non-3GPP FAR: GTP-U to the gNB or to the N3IWF).
        dataplane::LinkAccess access{};
        rules = by_link_address(key, access);
        if (rules == nullptr) {
            reason = DropReason::no_session_for_ue;
            return next_drop;
        }
        if (md.from_proxy == 0) {
            reason = DropReason::link_addr_from_n6;
            return next_drop;
        }
        pdr = rules->match_downlink(rules->as_ue(key));
        md.link_access = static_cast<uint8_t>(1 + static_cast<uint8_t>(access)) & 3;
    }
    if (pdr == nullptr) {
        reason = DropReason::pdr_no_match;
        return next_drop;
    }
    md.rules = rules;
    md.seid = rules->seid;
    md.pdr_index = static_cast<uint16_t>(pdr - rules->pdrs.data());
    return hand_off_to_owner(m, *rules, *pdr, wc) ? next_handoff : next_qer_meter;
}

uint16_t pdr_dl_process(rte_graph* graph, rte_node* node, void** objs, uint16_t nb) {
    const dataplane::WorkerContext& wc = *ctx(node).wc;
    for (uint16_t i = 0; i < nb; ++i) {
        auto* m = static_cast<rte_mbuf*>(objs[i]);
        DropReason reason = DropReason::pdr_no_match;
        rte_edge_t next = classify(wc, m, reason);
        if (next == next_drop) {
            enqueue_drop(graph, node, next_drop, m, reason);
        } else {
            rte_node_enqueue_x1(graph, node, next, m);
        }
    }
    return nb;
}

}  // namespace

extern const NodeDef pdr_dl_node = {"pdr_dl", pdr_dl_process, 0, next_names, next_count, nullptr};

}  // namespace braid::pipelines
