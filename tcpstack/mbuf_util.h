// mbuf chain helpers for the engine: trimming received payload to the window and building
// zero-copy (indirect mbuf) chains over stored send data.
#pragma once

#include <cstdint>
#include <span>

struct rte_mbuf;
struct rte_mempool;

namespace braid::tcp {

// Drops the first n bytes of chain m; returns the new head (nullptr, chain freed, if n covers it).
rte_mbuf* mbuf_trim_front(rte_mbuf* m, uint32_t n);
// Keeps the first n bytes of chain m; returns the head (nullptr, chain freed, if n == 0).
rte_mbuf* mbuf_truncate(rte_mbuf* m, uint32_t n);
// Appends to the chain (head, *tail) indirect mbufs from `pool` referencing bytes
// [off, off + len) of `src` (clipped to src's length). Returns the head (a new one if head was
// nullptr), or nullptr if the pool ran dry (pieces already linked stay on `head`, which the
// caller frees).
rte_mbuf* mbuf_clone_range(rte_mempool* pool, rte_mbuf* src, uint32_t off, uint32_t len,
                           rte_mbuf** tail, rte_mbuf* head);

// TCP checksum (RFC 9293 §3.1) of an IPv4 segment whose header (with options, checksum field as
// it stands) is `header` and whose payload is the chain `payload` (may be nullptr; segments of
// any length, odd ones included). Building: write the result into a zeroed checksum field.
// Verifying: 0 means the segment is intact.
uint16_t mbuf_tcp_checksum_ipv4(std::span<const uint8_t, 4> src, std::span<const uint8_t, 4> dst,
                                std::span<const uint8_t> header, const rte_mbuf* payload);

}  // namespace braid::tcp
