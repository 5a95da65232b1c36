// Per-packet metadata that travels with an mbuf between graph nodes, stored in an mbuf dynamic
// field (rte_mbuf_dyn.h) so it never collides with what PMDs use.
#pragma once

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include <cstdint>

namespace braid::dataplane {

// What the user-plane nodes pass along (pdr_ul / pdr_dl → qer_meter → urr_count → far_forward
// → gtpu_encap). `rules` points into a published snapshot: valid until the worker's next
// quiescent-state report, i.e. within one graph walk; never carried across a ring. A packet handed
// to another worker (pipelines/handoff.cc) carries the snapshot's `generation` instead, and the
// owner finds the session again by TEID or UE address (the snapshot may be gone by then).
struct MbufMeta {
    uint8_t drop_reason;     // pipelines::DropReason, set before enqueueing to `drop`
    uint8_t handoff_to : 5;  // pdr_ul / pdr_dl → handoff: the worker that owns the session
    uint8_t resume : 3;      // handoff → handoff_rx: the stage to continue at (pipelines::Resume)
    uint16_t port_index;     // braid's index of the RX port (App::ports), then of the TX port
    uint16_t l3_offset;      // offset of the IP/ARP header from the start of the frame
    uint16_t inner_offset;   // gtpu_input: offset of the T-PDU from the start of the frame
    uint32_t teid;           // gtpu_input: the G-PDU's TEID
    uint8_t qfi;             // gtpu_input: QFI of the UL PDU Session Container, or no_qfi
    uint8_t uplink : 1;      // 1 for packets from N3, 0 from N6
    // pdr_dl: a downlink packet to a link-specific multipath address (issue 7): 1 + its
    // dataplane::LinkAccess, whose FAR it leaves by (CompiledPdr::link_far_index); 0: none.
    uint8_t link_access : 2;
    // The MPTCP proxy built this downlink segment (tcp_local / proxy_input → pdr_dl); cleared by
    // eth_classify for every received frame. Only the proxy may send to link-specific addresses.
    uint8_t from_proxy : 1;
    uint8_t spare_bits : 4;
    uint16_t pdr_index;  // pdr_ul / pdr_dl: index into SessionRules::pdrs
    union {
        const void* rules;    // pdr_ul / pdr_dl: the SessionRules matched (within one walk)
        uint64_t generation;  // across a hand-off ring: SessionRules::generation of `rules`
    };
    uint64_t seid;  // pdr_ul / pdr_dl: the session (survives rings, unlike `rules`)
};
static_assert(sizeof(MbufMeta) == 32);
inline constexpr unsigned max_handoff_workers = 32;  // what `handoff_to` can name

inline constexpr uint8_t no_qfi = 0xff;
// In `inner_offset` of a packet the control core hands to ctrl_tx: "run it through pdr_dl"
// (a released buffered packet) rather than "send it".
inline constexpr uint16_t release_to_pdr_dl = 0xffff;

extern int mbuf_meta_offset;

// Registers the dynamic field; call once after rte_eal_init. Returns false on failure.
bool register_mbuf_meta();

inline MbufMeta& meta(rte_mbuf* m) {
    return *RTE_MBUF_DYNFIELD(m, mbuf_meta_offset, MbufMeta*);
}

}  // namespace braid::dataplane
