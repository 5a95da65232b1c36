// What the user-plane nodes (pdr_ul, pdr_dl, qer_meter, urr_count, far_forward, gtpu_encap,
// buffer) share: the matched rules in the mbuf metadata, the egress port of a destination
// interface and the Ethernet header toward a next hop.
#pragma once

#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_meter.h>

#include <algorithm>
#include <cstring>

#include "dataplane/app.h"
#include "dataplane/mbuf_meta.h"
#include "dataplane/session.h"
#include "pipelines/drop_reasons.h"
#include "pipelines/node.h"

namespace braid::pipelines {

namespace sdf = dataplane::sdf;

inline const dataplane::SessionRules& rules_of(rte_mbuf* m) {
    return *static_cast<const dataplane::SessionRules*>(dataplane::meta(m).rules);
}
inline const dataplane::CompiledPdr& pdr_of(rte_mbuf* m) {
    return rules_of(m).pdrs[dataplane::meta(m).pdr_index];
}
// The matched PDR's FAR; for a downlink packet to a link-specific address (issue 7), the FAR
// of that address's access.
inline const dataplane::Far& far_of(rte_mbuf* m) {
    const dataplane::CompiledPdr& pdr = pdr_of(m);
    const uint8_t link = dataplane::meta(m).link_access;
    return rules_of(m).fars[link == 0 ? pdr.far_index : pdr.link_far_index[(link - 1) & 1]];
}

// The session whose link-specific multipath address (issue 7) is `key`'s UE-side address, and
// which access that address is; nullptr when it is none.
inline const dataplane::SessionRules* by_link_address(const sdf::PacketKey& key,
                                                      dataplane::LinkAccess& access) {
    return dataplane::current_app->sessions().by_link_address(key.family, key.ue.data(), access);
}

// The length the QER and URR account for: the UE's IP packet (the mbuf starts at it after
// pdr_ul / pdr_dl).
inline uint32_t accounted_len(const rte_mbuf* m) {
    return rte_pktmbuf_pkt_len(m);
}

// Usage measurement of one packet for every URR the matched PDR names, into this worker's
// slice (urr_count; also proxy_input, where the proxy's uplink leaves the forwarding path).
inline void count_usage(const dataplane::SessionRules& rules, const dataplane::CompiledPdr& pdr,
                        rte_mbuf* m, unsigned worker, uint64_t now_tsc) {
    const uint32_t len = accounted_len(m);
    const bool uplink = dataplane::meta(m).uplink != 0;
    for (uint16_t ui : pdr.urr_indices) {
        dataplane::UsageSlice* slice = rules.urrs[ui].usage.at(worker);
        if (slice == nullptr) {
            continue;  // sized before this worker existed (SessionTable::set_workers)
        }
        dataplane::UsageSlice& s = *slice;
        (uplink ? s.packets_ul : s.packets_dl).add();
        (uplink ? s.bytes_ul : s.bytes_dl).add(len);
        if (s.first_tsc.get() == 0) {
            s.first_tsc.set(now_tsc);
        }
        s.last_tsc.set(now_tsc);
    }
}

// QoS enforcement of one QER for one packet (qer_meter): the gate of the packet's direction
// (closed: drop), then the maximum bit rate, policed by this worker's srTCM slot of the QER.
inline DropReason police(const dataplane::CompiledQer& q, bool uplink, unsigned worker,
                         uint64_t now_tsc, uint32_t len) {
    if (uplink ? !q.qer.gate_ul_open : !q.qer.gate_dl_open) {
        return DropReason::qer_gate_closed;
    }
    if (!(uplink ? q.limit_ul : q.limit_dl)) {
        return DropReason::count;
    }
    // rte_meter takes the profile by non-const pointer but only reads it; the snapshot's
    // profile is immutable.
    auto* profile = const_cast<rte_meter_srtcm_profile*>(uplink ? &q.ul_profile : &q.dl_profile);
    dataplane::MeterSlice* slice = q.meters.at(worker, uplink);
    if (slice == nullptr) {
        // Sized before this worker existed (SessionTable::set_workers): not policed here. The
        // owner worker meters a session's MBRs, and owners are below the size.
        return DropReason::count;
    }
    dataplane::MeterSlice& s = *slice;
    if (s.profile != profile) {
        // A new snapshot (or the first packet): start this worker's bucket full.
        rte_meter_srtcm_config(&s.meter, profile);
        s.profile = profile;
    }
    const rte_color c = rte_meter_srtcm_color_blind_check(&s.meter, profile, now_tsc, len);
    return c == RTE_COLOR_RED ? DropReason::qer_mbr_exceeded : DropReason::count;
}

// Every QER the matched PDR names, in order; the first refusal wins (DropReason::count: pass).
// qer_meter runs it for forwarded packets; proxy_input for the uplink T-PDUs the MPTCP proxy
// terminates, which leave the forwarding path before qer_meter. Those are not handed to the
// session's owner worker (the proxy's connection lives where its SYN arrived), so their MBR
// is policed by this worker's slot: with several workers a session's proxied uplink and its
// other uplink are policed separately (DESIGN.md §5 caveat, docs/FEATURES.md).
inline DropReason qer_check(const dataplane::SessionRules& rules, const dataplane::CompiledPdr& pdr,
                            bool uplink, unsigned worker, uint64_t now_tsc, uint32_t len) {
    for (uint16_t qi : pdr.qer_indices) {
        const DropReason r = police(rules.qers[qi], uplink, worker, now_tsc, len);
        if (r != DropReason::count) {
            return r;
        }
    }
    return DropReason::count;
}

// Where a packet handed to another worker continues there (MbufMeta::resume; handoff_rx's
// edges after `drop`, in this order).
enum class Resume : uint8_t { qer_meter, tcp_local, proxy_input, count };
static_assert(static_cast<unsigned>(Resume::count) <= 8, "MbufMeta::resume has three bits");

// DESIGN.md §5: a session's MBRs are policed by one srTCM, on the worker that owns the session,
// so that N workers together cannot pass N × MBR. True (and the metadata set for the handoff
// node) when the matched PDR is metered and this worker is not the owner; packets of PDRs
// without an MBR never hop.
inline bool hand_off_to_owner(rte_mbuf* m, const dataplane::SessionRules& rules,
                              const dataplane::CompiledPdr& pdr,
                              const dataplane::WorkerContext& wc) {
    if (!pdr.metered || rules.owner == wc.index || rules.owner >= wc.n_workers) {
        return false;
    }
    auto& md = dataplane::meta(m);
    md.handoff_to = static_cast<uint8_t>(rules.owner & 0x1f);
    md.resume = static_cast<uint8_t>(Resume::qer_meter);
    return true;
}

// The first port of `role` (braid has one N3 and one N6 port per instance today).
inline const dataplane::PortRuntime* egress_port(config::PortRole role) {
    for (const auto& p : dataplane::current_app->ports()) {
        if (p.role == role) {
            return &p;
        }
    }
    return nullptr;
}

// The IPv4 next hop toward `dst` (host order): the destination itself when it is on the port's
// subnet (or the port has no gateway), the gateway otherwise.
inline uint32_t next_hop_ipv4(const dataplane::PortRuntime& port, uint32_t dst) {
    if (!port.has_gateway_ipv4 || !port.has_ipv4) {
        return dst;
    }
    const uint32_t mask = port.ipv4_len == 0 ? 0 : ~uint32_t{0} << (32 - port.ipv4_len);
    return (dst & mask) == (port.ipv4 & mask) ? dst : port.gateway_ipv4;
}

// The IPv6 next hop toward `dst`: the destination itself when it is on-link (link-local, in the
// port's prefix, or the port has no IPv6 gateway), the gateway otherwise (RFC 4861 §5.2, with
// the configured gateway as the only default router: braid does not process Router
// Advertisements).
inline dataplane::NeighborKey next_hop_ipv6(const dataplane::PortRuntime& port,
                                            const uint8_t* dst) {
    dataplane::Ipv6Addr hop;
    std::memcpy(hop.data(), dst, 16);
    const bool link_local = dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80;
    if (!port.has_gateway_ipv6 || link_local) {
        return dataplane::NeighborKey::of_ipv6(port.index, hop);
    }
    bool on_link = port.has_ipv6;
    for (unsigned bit = 0; on_link && bit < port.ipv6_len; bit += 8) {
        const unsigned n = std::min(8u, port.ipv6_len - bit);
        const auto mask = static_cast<uint8_t>(0xff << (8 - n));
        on_link = ((dst[bit / 8] ^ port.ipv6[bit / 8]) & mask) == 0;
    }
    return dataplane::NeighborKey::of_ipv6(port.index, on_link ? hop : port.gateway_ipv6);
}

// Tell the control core that a next hop needs resolving (it deduplicates).
inline void want_neighbor(dataplane::WorkerContext& wc, const dataplane::NeighborKey& key) {
    dataplane::W2MEvent ev{};
    ev.type = dataplane::W2MEvent::Type::neighbor_wanted;
    ev.port_index = key.port_index;
    ev.ipv4 = key.ipv4;
    ev.v6 = key.v6 ? 1 : 0;
    std::memcpy(ev.ipv6, key.ipv6.data(), 16);
    if (rte_ring_sp_enqueue_elem(wc.w2m, &ev, sizeof(ev)) != 0) {
        wc.counters.w2m_full.add();
    }
}

// What prepend_ethernet returns when it kept the packet in the worker's neighbor hold queue
// (dataplane/neighbor_hold.h): the caller no longer owns it and must not touch it again. Not a
// drop reason (beyond DropReason::count, which means "ready to send").
inline constexpr DropReason neighbor_held = static_cast<DropReason>(drop_reason_count + 1);

// Milliseconds of the worker's clock (the TSC), for the hold queue's timeouts.
inline uint64_t worker_now_ms(const dataplane::WorkerContext& wc) {
    return rte_rdtsc() / wc.tsc_per_us / 1000;
}

// The Ethernet header from `port` to `mac` in front of `m`; DropReason::count on success.
inline DropReason write_ethernet(const dataplane::PortRuntime& port, rte_mbuf* m,
                                 const dataplane::MacAddr& mac, uint16_t ether_type) {
    auto* eth = reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_prepend(m, sizeof(rte_ether_hdr)));
    if (eth == nullptr) {
        return DropReason::egress_mtu_exceeded;  // no headroom: cannot happen with our pools
    }
    std::memcpy(eth->dst_addr.addr_bytes, mac.data(), RTE_ETHER_ADDR_LEN);
    eth->src_addr = port.mac;
    eth->ether_type = rte_cpu_to_be_16(ether_type);
    if (rte_pktmbuf_pkt_len(m) > uint32_t{port.mtu} + sizeof(rte_ether_hdr)) {
        return DropReason::egress_mtu_exceeded;
    }
    m->ol_flags &= ~(RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK);
    dataplane::meta(m).port_index = port.index;
    return DropReason::count;
}

// RFC 1122 §2.3.2.2: a packet to a next hop being resolved waits in the worker's hold queue (its
// first packet asks the control core to resolve the next hop, as every miss did before). A
// packet to a next hop whose resolution failed is dropped at once.
inline DropReason hold_for_neighbor(dataplane::WorkerContext& wc,
                                    const dataplane::PortRuntime& port, rte_mbuf* m,
                                    const dataplane::NeighborKey& hop,
                                    const dataplane::NeighborSnapshot* nb) {
    if (nb != nullptr && nb->failed(hop)) {
        return DropReason::neighbor_resolution_failed;
    }
    if (wc.hold == nullptr || !wc.hold->enabled()) {
        want_neighbor(wc, hop);
        return DropReason::neighbor_unresolved;
    }
    dataplane::meta(m).port_index = port.index;
    const auto r = wc.hold->hold(hop, m, worker_now_ms(wc));
    if (r.dropped != nullptr) {
        wc.counters.drops[static_cast<size_t>(DropReason::neighbor_queue_full)].add();
        rte_pktmbuf_free(r.dropped);
    }
    if (r.new_neighbor) {
        want_neighbor(wc, hop);
    }
    wc.counters.neighbor_held.add();
    wc.counters.neighbor_holding.set(wc.hold->size());
    return neighbor_held;
}

// Prepend an Ethernet header from `port` to the next hop toward `dst_ipv4` (host order) for an
// IPv4 packet; for an IPv6 packet (`ether_type` IPv6, `m` starting at its IPv6 header) toward its
// destination address, resolved with Neighbor Discovery (`dst_ipv4` unused).
// Returns the drop reason, DropReason::count on success (the TX port set in the metadata), or
// neighbor_held when the packet waits for its next hop (the caller must forget it).
inline DropReason prepend_ethernet(dataplane::WorkerContext& wc, const dataplane::PortRuntime& port,
                                   rte_mbuf* m, uint32_t dst_ipv4, uint16_t ether_type) {
    const dataplane::NeighborSnapshot* nb = dataplane::current_app->neighbor_snapshot();
    dataplane::NeighborKey hop;
    if (ether_type == RTE_ETHER_TYPE_IPV6) {
        if (rte_pktmbuf_data_len(m) < sizeof(rte_ipv6_hdr)) {
            return DropReason::inner_malformed;
        }
        hop = next_hop_ipv6(port, rte_pktmbuf_mtod(m, const rte_ipv6_hdr*)->dst_addr);
    } else {
        hop = dataplane::NeighborKey::of_ipv4(
            port.index, dst_ipv4 != 0 ? next_hop_ipv4(port, dst_ipv4) : port.gateway_ipv4);
        if (hop.ipv4 == 0) {
            return DropReason::neighbor_unresolved;
        }
    }
    if (nb == nullptr) [[unlikely]] {
        return hold_for_neighbor(wc, port, m, hop, nb);
    }
    auto& cached = wc.neighbor_cache[port.index];
    if (cached.valid && cached.generation == nb->generation() && cached.key == hop) {
        return write_ethernet(port, m, cached.mac, ether_type);
    }
    auto mac = nb->lookup(hop);
    if (!mac) [[unlikely]] {
        return hold_for_neighbor(wc, port, m, hop, nb);
    }
    cached = {true, nb->generation(), hop, *mac};
    return write_ethernet(port, m, *mac, ether_type);
}

// After prepend_ethernet (or a function returning its result): `m` to `tx_edge` when ready,
// to `drop_edge` with the reason, or nowhere when the hold queue took it.
inline void send_or_drop(rte_graph* graph, rte_node* node, rte_mbuf* m, DropReason r,
                         rte_edge_t tx_edge, rte_edge_t drop_edge) {
    if (r == DropReason::count) {
        rte_node_enqueue_x1(graph, node, tx_edge, m);
    } else if (r != neighbor_held) {
        enqueue_drop(graph, node, drop_edge, m, r);
    }
}

}  // namespace braid::pipelines
