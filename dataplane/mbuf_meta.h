// Per-packet metadata that travels with an mbuf between graph nodes, stored in an mbuf dynamic
// field (rte_mbuf_dyn.h) so it never collides with what PMDs use.
#pragma once

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include <cstdint>

namespace braid::dataplane {

struct MbufMeta {
    uint16_t drop_reason;  // pipelines::DropReason, set before enqueueing to `drop`
    uint16_t port_index;   // braid's index of the RX port (App::ports)
    uint16_t l3_offset;    // offset of the IP/ARP header from the start of the frame
    uint16_t reserved;
};
static_assert(sizeof(MbufMeta) == 8);

extern int mbuf_meta_offset;

// Registers the dynamic field; call once after rte_eal_init. Returns false on failure.
bool register_mbuf_meta();

inline MbufMeta& meta(rte_mbuf* m) {
    return *RTE_MBUF_DYNFIELD(m, mbuf_meta_offset, MbufMeta*);
}

}  // namespace braid::dataplane
