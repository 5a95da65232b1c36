// SipHash-2-4 from the paper's description (§2): four 64-bit lanes initialised from the key and
// "somepseudorandomlygeneratedbytes", two SipRounds per 8-byte little-endian message word, the
// last word padded with the message length mod 256 in its top byte, four SipRounds to finalise.
#include "tcpstack/siphash.h"

#include <bit>

namespace braid::tcp {
namespace {

uint64_t load_le64(const uint8_t* p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) {
        v |= uint64_t{p[i]} << (8 * i);
    }
    return v;
}

struct State {
    uint64_t v0, v1, v2, v3;

    void round() {
        v0 += v1;
        v1 = std::rotl(v1, 13);
        v1 ^= v0;
        v0 = std::rotl(v0, 32);
        v2 += v3;
        v3 = std::rotl(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = std::rotl(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = std::rotl(v1, 17);
        v1 ^= v2;
        v2 = std::rotl(v2, 32);
    }
    void compress(uint64_t m) {
        v3 ^= m;
        round();
        round();
        v0 ^= m;
    }
};

}  // namespace

SipKey SipKey::from_bytes(std::span<const uint8_t, 16> bytes) {
    return {load_le64(bytes.data(), 8), load_le64(bytes.data() + 8, 8)};
}

uint64_t siphash24(const SipKey& key, std::span<const uint8_t> message) {
    State s{key.k0 ^ 0x736f6d6570736575ULL, key.k1 ^ 0x646f72616e646f6dULL,
            key.k0 ^ 0x6c7967656e657261ULL, key.k1 ^ 0x7465646279746573ULL};
    const size_t n = message.size();
    const size_t full = n & ~size_t{7};
    for (size_t i = 0; i < full; i += 8) {
        s.compress(load_le64(message.data() + i, 8));
    }
    // Final word: the remaining 0..7 bytes, then the length mod 256 in the most significant byte.
    s.compress(load_le64(message.data() + full, n - full) | (uint64_t{n & 0xff} << 56));
    s.v2 ^= 0xff;
    for (int i = 0; i < 4; ++i) {
        s.round();
    }
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

}  // namespace braid::tcp
