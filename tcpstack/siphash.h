// SipHash-2-4 (Aumasson & Bernstein, "SipHash: a fast short-input PRF", 2012): a keyed 64-bit
// PRF for short inputs; the MAC behind SYN cookies. Written from the paper's description.
#pragma once

#include <cstdint>
#include <span>

namespace braid::tcp {

struct SipKey {
    uint64_t k0, k1;  // the 16 key bytes read as two little-endian words (paper §2)
    static SipKey from_bytes(std::span<const uint8_t, 16> bytes);
};

uint64_t siphash24(const SipKey& key, std::span<const uint8_t> message);

}  // namespace braid::tcp
