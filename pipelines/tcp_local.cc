// tcp_local and tcp_timers: braid's own TCP endpoint (dataplane/tcp_host.h, issue 5).
//
// tcp_local takes TCP segments addressed to braid (eth_classify: IPv4/IPv6 TCP to one of the
// port's addresses), and ICMP errors about braid's connections (icmp_local, pdr_dl), and feeds
// them to this worker's TcpHost; with several workers, a segment (or the one an error quotes) of
// a connection another worker opened goes to that worker first (the flow-owner table, DESIGN.md
// §5). tcp_timers, a source node, runs the engine's timers and the applications that wait for
// buffer space. Both send what the engine emitted: an Ethernet header toward the next hop, then
// the TX node of the port that owns the source address.
#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_tcp.h>

#include <algorithm>
#include <cstring>

#include "dataplane/flow_owner.h"
#include "dataplane/sdf.h"
#include "dataplane/tcp_host.h"
#include "dataplane/token_owner.h"
#include "pipelines/node.h"
#include "pipelines/upf.h"
#include "tcpstack/icmp.h"
#include "tcpstack/wire/tcp.h"

namespace braid::pipelines {

namespace {

enum LocalNext : rte_edge_t {
    local_drop,
    local_n3_tx,
    local_n6_tx,
    local_handoff,
    local_pdr_dl,
    local_count
};
constexpr const char* local_next[local_count] = {"drop", "n3_tx", "n6_tx", "handoff", "pdr_dl"};

// tcp_timers and proxy_input share these edges.
enum TimersNext : rte_edge_t {
    timers_drop,
    timers_n3_tx,
    timers_n6_tx,
    timers_pdr_dl,
    timers_count
};
constexpr const char* timers_next[timers_count] = {"drop", "n3_tx", "n6_tx", "pdr_dl"};
// proxy_input: the same, plus handoff (a segment of another worker's proxy connection).
enum ProxyNext : rte_edge_t { proxy_handoff = timers_count, proxy_count };
constexpr const char* proxy_next[proxy_count] = {"drop", "n3_tx", "n6_tx", "pdr_dl", "handoff"};
static_assert(static_cast<int>(local_n3_tx) == static_cast<int>(timers_n3_tx) &&
              static_cast<int>(local_n6_tx) == static_cast<int>(timers_n6_tx) &&
              static_cast<int>(local_drop) == static_cast<int>(timers_drop));

uint64_t now_us(const dataplane::WorkerContext& wc) {
    return rte_rdtsc() / wc.tsc_per_us;
}

// The frames the engine emitted: Ethernet toward the next hop, then out (edges 0..2 are drop,
// n3_tx, n6_tx in both nodes).
uint16_t send_frames(rte_graph* graph, rte_node* node, dataplane::WorkerContext& wc) {
    auto& frames = wc.tcp->frames();
    const auto& ports = app().ports();
    for (rte_mbuf* m : frames) {
        const dataplane::PortRuntime& port = ports[dataplane::meta(m).port_index];
        const uint8_t version = *rte_pktmbuf_mtod(m, const uint8_t*) >> 4;
        uint32_t dst = 0;
        if (version == 4) {
            dst = rte_be_to_cpu_32(rte_pktmbuf_mtod(m, const rte_ipv4_hdr*)->dst_addr);
        }
        const DropReason r = prepend_ethernet(
            wc, port, m, dst, version == 4 ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
        send_or_drop(graph, node, m, r, tx_edge_for(port, local_n3_tx), local_drop);
    }
    const auto n = static_cast<uint16_t>(frames.size());
    frames.clear();
    return n;
}

// The proxy's segments to UEs: inner IP packets that take the session's downlink path
// (pdr_dl → QER, URR, GTP-U encapsulation) like any packet to the UE.
uint16_t send_downlink(rte_graph* graph, rte_node* node, dataplane::WorkerContext& wc,
                       rte_edge_t pdr_dl_edge) {
    auto& frames = wc.tcp->downlink_frames();
    for (rte_mbuf* m : frames) {
        // pdr_dl lets only these reach a link-specific address (issue 7).
        dataplane::meta(m).from_proxy = 1;
        rte_node_enqueue_x1(graph, node, pdr_dl_edge, m);
    }
    const auto n = static_cast<uint16_t>(frames.size());
    frames.clear();
    return n;
}

// An ICMP/ICMPv6 packet (an error for one of braid's connections: icmp_local and pdr_dl pass
// only those on) rather than TCP.
bool is_icmp(rte_mbuf* m) {
    const uint16_t l3 = dataplane::meta(m).l3_offset;
    const auto* ip = rte_pktmbuf_mtod_offset(m, const uint8_t*, l3);
    return (ip[0] >> 4 == 4) ? ip[9] == IPPROTO_ICMP : ip[6] == IPPROTO_ICMPV6;
}

// The flow key of the segment an ICMP error quotes, as the connection's own segments arrive
// (source = the peer).
std::optional<dataplane::FlowKey> quoted_flow(rte_mbuf* m) {
    const uint16_t l3 = dataplane::meta(m).l3_offset;
    const auto e = tcp::parse_icmp_error({rte_pktmbuf_mtod_offset(m, const uint8_t*, l3),
                                          static_cast<size_t>(rte_pktmbuf_data_len(m) - l3)},
                                         nullptr);
    if (!e) {
        return std::nullopt;
    }
    const tcp::FourTuple& t = e->tuple;
    if (t.local.family == 4) {
        uint32_t src, dst;
        std::memcpy(&src, t.remote.bytes.data(), 4);
        std::memcpy(&dst, t.local.bytes.data(), 4);
        return dataplane::FlowKey::v4(rte_be_to_cpu_32(src), rte_be_to_cpu_32(dst), t.remote_port,
                                      t.local_port, IPPROTO_TCP);
    }
    return dataplane::FlowKey::v6(t.remote.bytes.data(), t.local.bytes.data(), t.remote_port,
                                  t.local_port, IPPROTO_TCP);
}

// The flow-owner table for adding (app() is the read-only view; adding a flow is a worker's
// lock-free write, FlowOwnerTable's multi-writer add).
dataplane::FlowOwnerTable& flows_for_insert() {
    return dataplane::current_app->flows();
}

// With several workers: the worker that opened the connection, when it is another one.
std::optional<uint16_t> other_owner(const dataplane::WorkerContext& wc, rte_mbuf* m) {
    const uint16_t l3 = dataplane::meta(m).l3_offset;
    const uint8_t version = *rte_pktmbuf_mtod_offset(m, const uint8_t*, l3) >> 4;
    dataplane::FlowKey key;
    uint8_t flags = 0;  // TCP flags of a segment (not of an ICMP error)
    if (is_icmp(m)) {
        auto q = quoted_flow(m);
        if (!q) {
            return std::nullopt;  // input_icmp names the problem
        }
        key = *q;
    } else if (version == 4) {
        const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, l3);
        const uint32_t ihl = (ip->version_ihl & 0x0f) * 4u;
        if (rte_pktmbuf_data_len(m) < l3 + ihl + sizeof(rte_tcp_hdr)) {
            return std::nullopt;  // tcp_local's checks name the problem
        }
        const auto* th = rte_pktmbuf_mtod_offset(m, const rte_tcp_hdr*, l3 + ihl);
        flags = th->tcp_flags;
        key = dataplane::FlowKey::v4(rte_be_to_cpu_32(ip->src_addr), rte_be_to_cpu_32(ip->dst_addr),
                                     rte_be_to_cpu_16(th->src_port), rte_be_to_cpu_16(th->dst_port),
                                     IPPROTO_TCP);
    } else {
        const auto* ip6 = rte_pktmbuf_mtod_offset(m, const rte_ipv6_hdr*, l3);
        if (rte_pktmbuf_data_len(m) < l3 + sizeof(rte_ipv6_hdr) + sizeof(rte_tcp_hdr)) {
            return std::nullopt;
        }
        const auto* th = rte_pktmbuf_mtod_offset(m, const rte_tcp_hdr*, l3 + sizeof(rte_ipv6_hdr));
        flags = th->tcp_flags;
        key = dataplane::FlowKey::v6(ip6->src_addr, ip6->dst_addr, rte_be_to_cpu_16(th->src_port),
                                     rte_be_to_cpu_16(th->dst_port), IPPROTO_TCP);
    }
    auto owner = app().flows().owner(key);
    if (owner && *owner != wc.index && *owner < wc.n_workers) {
        return owner;
    }
    if (owner && (flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) == RTE_TCP_SYN_FLAG) {
        // A SYN (not a SYN/ACK of our active open) in a flow registered to this worker: an
        // MP_JOIN another worker handed here; this worker erases the flow when it ends.
        tcp::FourTuple t;
        t.local.family = t.remote.family = key.family;
        std::copy(key.dst.begin(), key.dst.end(), t.local.bytes.begin());
        std::copy(key.src.begin(), key.src.end(), t.remote.bytes.begin());
        t.local_port = key.dst_port;
        t.remote_port = key.src_port;
        wc.tcp->adopt_flow(t);
    }
    if (!owner && !is_icmp(m)) {
        // An MP_JOIN SYN for an MPTCP service connection another worker holds (the client's
        // other address hashes elsewhere): to the token's worker, its later segments after it.
        const std::span<const uint8_t> ip(rte_pktmbuf_mtod_offset(m, const uint8_t*, l3),
                                          size_t{rte_pktmbuf_data_len(m)} - l3);
        if (auto token = dataplane::join_syn_token(ip)) {
            auto holder = app().mptcp_tokens().owner(*token);
            if (holder && *holder != wc.index && *holder < wc.n_workers &&
                flows_for_insert().insert(key, *holder) !=
                    dataplane::FlowOwnerTable::Insert::full) {
                wc.tcp->count_join_handover();
                return holder;
            }
        }
    }
    return std::nullopt;
}

// proxy_input with several workers: the worker a UE's segment must go to, when another one.
// A subflow's flow registered to another worker (an MP_JOIN this worker handed over before),
// or an MP_JOIN SYN whose token another worker holds: its flow is registered to that worker
// first (the SYN/ACK's ACK and the data then follow) and the SYN goes there.
std::optional<uint16_t> proxy_owner(const dataplane::WorkerContext& wc, rte_mbuf* m) {
    const std::span<const uint8_t> ip(rte_pktmbuf_mtod(m, const uint8_t*), rte_pktmbuf_data_len(m));
    sdf::PacketKey pk;
    if (!sdf::extract_key(ip.data(), ip.size(), sdf::Direction::uplink, pk) ||
        pk.proto != IPPROTO_TCP || !pk.has_ports) {
        return std::nullopt;  // input_uplink names the problem
    }
    tcp::FourTuple t;  // as the proxy's UE-side subflow sees it
    t.local.family = t.remote.family = pk.family;
    t.local.bytes = pk.remote;
    t.remote.bytes = pk.ue;
    t.local_port = pk.remote_port;
    t.remote_port = pk.ue_port;
    const dataplane::FlowKey key = dataplane::flow_key_in(t);
    auto owner = app().flows().owner(key);
    if (owner) {
        if (*owner == wc.index) {
            // The SYN another worker handed here: this worker erases the flow when the subflow
            // ends (the subflow's SYNs: the TCP flags octet, IPv6 without extension headers).
            const size_t l4 = pk.family == 4 ? (ip[0] & 0x0f) * 4u : 40;
            const bool plain = pk.family == 4 || ip[6] == IPPROTO_TCP;
            if (plain && l4 + 14 <= ip.size() && (ip[l4 + 13] & tcp::wire::flag::syn) != 0) {
                wc.tcp->adopt_flow(t);
            }
            return std::nullopt;
        }
        return *owner < wc.n_workers ? owner : std::nullopt;
    }
    auto token = dataplane::join_syn_token(ip);
    if (!token) {
        return std::nullopt;
    }
    auto holder = app().mptcp_tokens().owner(*token);
    if (!holder || *holder == wc.index || *holder >= wc.n_workers ||
        flows_for_insert().insert(key, *holder) == dataplane::FlowOwnerTable::Insert::full) {
        return std::nullopt;  // unknown token: this worker's endpoint refuses the join
    }
    wc.tcp->count_join_handover();
    return holder;
}

uint16_t tcp_local_process(rte_graph* graph, rte_node* node, void** objs, uint16_t nb) {
    dataplane::WorkerContext& wc = *ctx(node).wc;
    const uint64_t now = now_us(wc);
    for (uint16_t i = 0; i < nb; ++i) {
        auto* m = static_cast<rte_mbuf*>(objs[i]);
        if (wc.n_workers > 1) {
            if (auto owner = other_owner(wc, m)) {
                auto& md = dataplane::meta(m);
                md.handoff_to = static_cast<uint8_t>(*owner & 0x1f);
                md.resume = static_cast<uint8_t>(Resume::tcp_local);
                rte_node_enqueue_x1(graph, node, local_handoff, m);
                continue;
            }
        }
        const DropReason r = is_icmp(m) ? wc.tcp->input_icmp(m, now) : wc.tcp->input(m, now);
        if (r != DropReason::count) {
            enqueue_drop(graph, node, local_drop, m, r);
        }
    }
    send_frames(graph, node, wc);
    send_downlink(graph, node, wc, local_pdr_dl);
    return nb;
}

// proxy_input: T-PDUs pdr_ul found addressed to the MPTCP proxy (TcpHost::for_proxy), the
// session's context (MPTCP allowed or not, the UE's address) from the PDR match.
uint16_t proxy_input_process(rte_graph* graph, rte_node* node, void** objs, uint16_t nb) {
    dataplane::WorkerContext& wc = *ctx(node).wc;
    const uint64_t now = now_us(wc);
    const uint64_t now_tsc = rte_rdtsc();
    for (uint16_t i = 0; i < nb; ++i) {
        auto* m = static_cast<rte_mbuf*>(objs[i]);
        if (wc.n_workers > 1 && wc.tcp->proxy() != nullptr) {
            // Before accounting: the owner charges the session (qer_check, URRs) once.
            if (auto owner = proxy_owner(wc, m)) {
                auto& md = dataplane::meta(m);
                md.handoff_to = static_cast<uint8_t>(*owner & 0x1f);
                md.resume = static_cast<uint8_t>(Resume::proxy_input);
                rte_node_enqueue_x1(graph, node, proxy_handoff, m);
                continue;
            }
        }
        const auto* rules = static_cast<const dataplane::SessionRules*>(dataplane::meta(m).rules);
        mptcp::convert::UeContext ue;
        if (rules != nullptr) {
            // The proxy's uplink is charged like forwarded traffic (issue 7: byte counts feed
            // the session's URRs); a FAR that drops keeps it from the proxy too, and the
            // session's QERs gate and police it like any uplink packet (qer_check).
            const dataplane::CompiledPdr& pdr = pdr_of(m);
            if (rules->fars[pdr.far_index].action.drop) {
                enqueue_drop(graph, node, timers_drop, m, DropReason::far_drop);
                continue;
            }
            const DropReason q = qer_check(*rules, pdr, true, wc.index, now_tsc, accounted_len(m));
            if (q != DropReason::count) {
                enqueue_drop(graph, node, timers_drop, m, q);
                continue;
            }
            count_usage(*rules, pdr, m, wc.index, now_tsc);
            ue = dataplane::ue_context(*rules);
        }
        const DropReason r = wc.tcp->input_uplink(m, ue, now);
        if (r != DropReason::count) {
            enqueue_drop(graph, node, timers_drop, m, r);
        }
    }
    send_frames(graph, node, wc);
    send_downlink(graph, node, wc, timers_pdr_dl);
    return nb;
}

uint16_t tcp_timers_process(rte_graph* graph, rte_node* node, void** /*objs*/, uint16_t /*nb*/) {
    dataplane::WorkerContext& wc = *ctx(node).wc;
    wc.tcp->poll(now_us(wc));
    const uint16_t n = send_frames(graph, node, wc);
    return static_cast<uint16_t>(n + send_downlink(graph, node, wc, timers_pdr_dl));
}

}  // namespace

extern const NodeDef tcp_local_node = {"tcp_local", tcp_local_process, 0,
                                       local_next,  local_count,       nullptr};
extern const NodeDef tcp_timers_node = {"tcp_timers", tcp_timers_process, RTE_NODE_SOURCE_F,
                                        timers_next,  timers_count,       nullptr};
extern const NodeDef proxy_input_node = {"proxy_input", proxy_input_process, 0,
                                         proxy_next,    proxy_count,         nullptr};

}  // namespace braid::pipelines
