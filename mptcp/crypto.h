// MPTCP v1 cryptography (RFC 8684 §3.1, §3.2, §3.4.1, §3.3.1; spec tcp-mptcp-convert.md §2.3,
// §2.4, §2.6, §2.7): key -> token and IDSN, the MP_JOIN and ADD_ADDR HMACs, the DSS checksum,
// and key generation that never hands out a token already in use.
//
// SHA-256 comes from Intel IPsec-MB 1.3 (IMB_SHA256, single buffer). HMAC is built from it per
// RFC 2104 here rather than through the job API: 1.3 has no helper for the ipad/opad partial
// hashes (imb_hmac_ipad_opad arrived in 1.4), the job API would need them precomputed with the
// library's internal state layout, and MPTCP's HMAC inputs are tiny (a 16-byte key, a 7..19 byte
// message), so two single-buffer hashes are the simplest correct form. The published Linux
// vectors (spec §4.1) pin it down in tests/unit/mptcp/test_crypto.cc.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "mptcp/wire/options.h"

struct rte_mbuf;
struct IMB_MGR;

namespace braid::mptcp::crypto {

using Digest = std::array<uint8_t, 32>;

// Owns one IPsec-MB manager: one per worker (a manager is not thread-safe); allocating one is
// not cheap, so it lives as long as the worker.
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    // False if the manager could not be allocated or initialised (no usable CPU path); every
    // hash then yields all zeros, so callers check this once at start-up.
    bool ok() const { return mgr_ != nullptr; }

    Digest hash(std::span<const uint8_t> data) const;
    // HMAC-SHA256 (RFC 2104) with a key of at most 64 bytes (MPTCP's are 16); a longer key is
    // hashed first as RFC 2104 §2 says.
    Digest hmac(std::span<const uint8_t> key, std::span<const uint8_t> msg) const;

private:
    IMB_MGR* mgr_ = nullptr;
};

// §3.1/§3.2: token = most significant 32 bits of SHA-256(key as 8 bytes BE), IDSN = least
// significant 64 bits.
struct KeyMaterial {
    uint64_t key = 0;
    uint32_t token = 0;
    uint64_t idsn = 0;
    bool operator==(const KeyMaterial&) const = default;
};
KeyMaterial key_material(const Sha256& sha, uint64_t key);

// §3.2: HMAC-SHA256(key = local key || remote key, msg = local nonce || remote nonce). The
// responder sends the leftmost 64 bits in its SYN/ACK (HMAC-B), the initiator the leftmost 160
// bits in its third ACK (HMAC-A): each side computes its own with itself as "local" and checks
// the peer's with the roles swapped.
Digest join_hmac(const Sha256& sha, uint64_t local_key, uint64_t remote_key, uint32_t local_nonce,
                 uint32_t remote_nonce);
uint64_t join_synack_hmac(const Sha256& sha, uint64_t local_key, uint64_t remote_key,
                          uint32_t local_nonce, uint32_t remote_nonce);
std::array<uint8_t, wire::join_ack_hmac_len> join_ack_hmac(const Sha256& sha, uint64_t local_key,
                                                           uint64_t remote_key,
                                                           uint32_t local_nonce,
                                                           uint32_t remote_nonce);

// §3.4.1: rightmost 64 bits of HMAC-SHA256(key = sender key || receiver key,
// msg = address ID || address (4 or 16) || port (2, zero when absent)).
uint64_t add_addr_hmac(const Sha256& sha, uint64_t sender_key, uint64_t receiver_key,
                       uint8_t address_id, const wire::IpAddress& address,
                       std::optional<uint16_t> port);

// §3.3.1 DSS checksum: one's-complement sum over the pseudo-header (DSN 8, always 64-bit;
// relative SSN 4; data-level length 2; checksum 2) and the mapped payload. Payload sums add up
// across pieces, so a mapping spread over several segments or mbufs is summed piecewise:
//
//   DssChecksum c(dsn, ssn, dll);  c.add(piece1); c.add(piece2);
//   field to send = c.value();     received field ok iff c.verify(field)
class DssChecksum {
public:
    DssChecksum(uint64_t dsn, uint32_t ssn, uint16_t data_len);
    void add(std::span<const uint8_t> bytes);
    // `len` bytes from `offset` of an mbuf chain (chained segments followed); returns false and
    // adds nothing if the chain holds fewer bytes.
    bool add(const rte_mbuf* m, uint32_t offset, uint32_t len);
    // The value to write into the checksum field (computed with the field as zero).
    uint16_t value() const;
    // Receive check: the sum with the received field in place is 0xffff.
    bool verify(uint16_t received) const;

private:
    uint64_t sum_ = 0;  // 16-bit words, folded at the end
    bool odd_ = false;  // bytes added so far is odd: the next byte is a low-order byte
};

// Picks a random 64-bit key whose token is not in use (§3.1: keys "unique per host"; "SHOULD
// check token collisions before sending"). `rng()` yields uint64_t; `in_use(token)` says whether
// the token is taken (the token table, which comes later). After `attempts` collisions in a row
// it gives up: the caller then omits MP_CAPABLE (§3.1: no unique key -> plain TCP).
template <class Rng, class InUse>
std::optional<KeyMaterial> generate_key(const Sha256& sha, Rng&& rng, InUse&& in_use,
                                        unsigned attempts = 8) {
    for (unsigned i = 0; i < attempts; ++i) {
        KeyMaterial k = key_material(sha, static_cast<uint64_t>(rng()));
        if (!in_use(k.token)) {
            return k;
        }
    }
    return std::nullopt;
}

}  // namespace braid::mptcp::crypto
