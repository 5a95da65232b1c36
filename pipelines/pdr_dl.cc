// pdr_dl: downlink packet detection (TS 29.244 §5.2.1). An IP packet from N6 to an address
// that is not braid's finds its session by UE address (IPv4, or the /64 of an IPv6 address) in
// the lock-free table and is matched against the session's downlink PDRs in precedence order
// (SDF filters). The Ethernet header is removed (gtpu_encap builds the new one) and the packet
// continues to qer_meter (through handoff when the session's owner worker polices its MBR,
// DESIGN.md §5). Buffered packets the control core releases come back here through
// ctrl_tx, already without their Ethernet header (`meta.l3_offset == 0`).
#include <rte_ip.h>

#include <cstring>

#include "dataplane/tcp_host.h"

#include "pipelines/node.h"
#include "pipelines/upf.h"

namespace braid::pipelines {

namespace {

enum Next : rte_edge_t { next_drop, next_qer_meter, next_handoff, next_tcp_local, next_count };
constexpr const char* next_names[next_count] = {"drop", "qer_meter", "handoff", "tcp_local"};

// A TCP segment to a UE address that one of braid's own connections owns: the MPTCP proxy's
// N6 side, opened from the UE's address (RFC 8803 §4.4.1). Not forwarded to the UE.
bool owned_by_proxy(const dataplane::WorkerContext& wc, rte_mbuf* m) {
    if (wc.tcp == nullptr || wc.tcp->proxy() == nullptr) {
        return false;
    }
    const uint16_t l3 = dataplane::meta(m).l3_offset;
    const size_t len = rte_pktmbuf_data_len(m);
    if (len < l3 + 1u) {
        return false;
    }
    const uint8_t* ip = rte_pktmbuf_mtod_offset(m, const uint8_t*, l3);
    tcp::FourTuple t;
    size_t l4 = 0;
    if (ip[0] >> 4 == 4) {
        const size_t ihl = (ip[0] & 0x0f) * 4u;
        if (len < l3 + ihl + 4 || ihl < 20 || ip[9] != IPPROTO_TCP) {
            return false;
        }
        std::memcpy(t.remote.bytes.data(), ip + 12, 4);
        std::memcpy(t.local.bytes.data(), ip + 16, 4);
        l4 = ihl;
    } else {
        if (len < l3 + 44u || ip[6] != IPPROTO_TCP) {
            return false;
        }
        t.local.family = t.remote.family = 6;
        std::memcpy(t.remote.bytes.data(), ip + 8, 16);
        std::memcpy(t.local.bytes.data(), ip + 24, 16);
        l4 = 40;
    }
    t.remote_port = static_cast<uint16_t>(ip[l4] << 8 | ip[l4 + 1]);
    t.local_port = static_cast<uint16_t>(ip[l4 + 2] << 8 | ip[l4 + 3]);
    return wc.tcp->owns(t);
}

rte_edge_t classify(const dataplane::WorkerContext& wc, rte_mbuf* m, DropReason& reason) {
    auto& md = dataplane::meta(m);
    if (owned_by_proxy(wc, m)) {
        return next_tcp_local;
    }
    if (md.l3_offset != 0) {
        rte_pktmbuf_adj(m, md.l3_offset);
        md.l3_offset = 0;
    }
    md.uplink = 0;
    const uint8_t* ip = rte_pktmbuf_mtod(m, const uint8_t*);
    const size_t len = rte_pktmbuf_data_len(m);
    sdf::PacketKey key;
    if (len == 0 || !sdf::extract_key(ip, len, sdf::Direction::downlink, key)) {
        reason = DropReason::inner_malformed;
        return next_drop;
    }
    const dataplane::SessionRules* rules = nullptr;
    if (key.family == 4) {
        uint32_t ue;
        std::memcpy(&ue, key.ue.data(), 4);
        rules = app().sessions().by_ue_ipv4(rte_be_to_cpu_32(ue));
    } else {
        rules = app().sessions().by_ue_ipv6(key.ue.data());
    }
    if (rules == nullptr) {
        reason = DropReason::no_session_for_ue;
        return next_drop;
    }
    const dataplane::CompiledPdr* pdr = rules->match_downlink(key);
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
