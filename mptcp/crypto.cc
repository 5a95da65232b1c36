#include "mptcp/crypto.h"

#include <intel-ipsec-mb.h>
#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <vector>

namespace braid::mptcp::crypto {

namespace {

constexpr size_t block = 64;  // SHA-256 block size (RFC 2104 "B")

void put_be32(uint8_t* p, uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
}
void put_be64(uint8_t* p, uint64_t v) {
    put_be32(p, static_cast<uint32_t>(v >> 32));
    put_be32(p + 4, static_cast<uint32_t>(v));
}
uint64_t get_be64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
        v = v << 8 | p[i];
    }
    return v;
}

// 16-byte HMAC key = first key || second key, both big-endian (§3.2, §3.4.1).
std::array<uint8_t, 16> key_pair(uint64_t first, uint64_t second) {
    std::array<uint8_t, 16> k{};
    put_be64(k.data(), first);
    put_be64(k.data() + 8, second);
    return k;
}

// One's-complement sum of `len` bytes starting at an even stream offset, as 16-bit words in
// network order; folded by the caller.
uint32_t raw_sum(const uint8_t* p, size_t len) {
    // rte_raw_cksum sums host-order 16-bit loads; converting the folded result to network order
    // gives the sum of big-endian words (one's-complement sums commute with byte swapping).
    return rte_be_to_cpu_16(static_cast<rte_be16_t>(rte_raw_cksum(p, len)));
}

uint16_t fold(uint64_t s) {
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return static_cast<uint16_t>(s);
}

}  // namespace

Sha256::Sha256() {
    IMB_MGR* m = alloc_mb_mgr(0);
    if (m == nullptr) {
        return;
    }
    IMB_ARCH arch = IMB_ARCH_NONE;
    init_mb_mgr_auto(m, &arch);
    if (arch == IMB_ARCH_NONE || imb_get_errno(m) != 0) {
        free_mb_mgr(m);
        return;
    }
    mgr_ = m;
}

Sha256::~Sha256() {
    if (mgr_ != nullptr) {
        free_mb_mgr(mgr_);
    }
}

Digest Sha256::hash(std::span<const uint8_t> data) const {
    Digest d{};
    if (mgr_ != nullptr) {
        IMB_SHA256(mgr_, data.data(), data.size(), d.data());
    }
    return d;
}

Digest Sha256::hmac(std::span<const uint8_t> key, std::span<const uint8_t> msg) const {
    // RFC 2104 §2: H(K ^ opad || H(K ^ ipad || text)), K zero-padded to B bytes.
    std::array<uint8_t, block> k{};
    if (key.size() > block) {
        Digest kd = hash(key);
        std::copy(kd.begin(), kd.end(), k.begin());
    } else {
        std::copy(key.begin(), key.end(), k.begin());
    }
    // Inner input: B bytes of key ^ ipad, then the message, hashed in one call. MPTCP's
    // messages are at most 19 bytes and fit the stack buffer; a longer one (no MPTCP caller)
    // takes a heap buffer rather than being cut.
    constexpr size_t stack_msg_max = 64;
    std::array<uint8_t, block + stack_msg_max> small{};
    std::vector<uint8_t> large;
    uint8_t* inner = small.data();
    if (msg.size() > stack_msg_max) {
        large.resize(block + msg.size());
        inner = large.data();
    }
    for (size_t i = 0; i < block; ++i) {
        inner[i] = static_cast<uint8_t>(k[i] ^ 0x36);
    }
    std::copy(msg.begin(), msg.end(), inner + block);
    Digest ih = hash(std::span<const uint8_t>(inner, block + msg.size()));

    std::array<uint8_t, block + 32> outer{};
    for (size_t i = 0; i < block; ++i) {
        outer[i] = static_cast<uint8_t>(k[i] ^ 0x5c);
    }
    std::copy(ih.begin(), ih.end(), outer.begin() + block);
    return hash(outer);
}

KeyMaterial key_material(const Sha256& sha, uint64_t key) {
    std::array<uint8_t, 8> k{};
    put_be64(k.data(), key);
    Digest d = sha.hash(k);
    KeyMaterial m;
    m.key = key;
    m.token = static_cast<uint32_t>(get_be64(d.data()) >> 32);
    m.idsn = get_be64(d.data() + 24);
    return m;
}

Digest join_hmac(const Sha256& sha, uint64_t local_key, uint64_t remote_key, uint32_t local_nonce,
                 uint32_t remote_nonce) {
    auto key = key_pair(local_key, remote_key);
    std::array<uint8_t, 8> msg{};
    put_be32(msg.data(), local_nonce);
    put_be32(msg.data() + 4, remote_nonce);
    return sha.hmac(key, msg);
}

uint64_t join_synack_hmac(const Sha256& sha, uint64_t local_key, uint64_t remote_key,
                          uint32_t local_nonce, uint32_t remote_nonce) {
    Digest d = join_hmac(sha, local_key, remote_key, local_nonce, remote_nonce);
    return get_be64(d.data());  // leftmost 64 bits
}

std::array<uint8_t, wire::join_ack_hmac_len> join_ack_hmac(const Sha256& sha, uint64_t local_key,
                                                           uint64_t remote_key,
                                                           uint32_t local_nonce,
                                                           uint32_t remote_nonce) {
    Digest d = join_hmac(sha, local_key, remote_key, local_nonce, remote_nonce);
    std::array<uint8_t, wire::join_ack_hmac_len> out{};
    std::copy(d.begin(), d.begin() + wire::join_ack_hmac_len, out.begin());  // leftmost 160 bits
    return out;
}

uint64_t add_addr_hmac(const Sha256& sha, uint64_t sender_key, uint64_t receiver_key,
                       uint8_t address_id, const wire::IpAddress& address,
                       std::optional<uint16_t> port) {
    auto key = key_pair(sender_key, receiver_key);
    std::array<uint8_t, 1 + 16 + 2> msg{};
    size_t n = 0;
    msg[n++] = address_id;
    for (uint8_t b : address.view()) {
        msg[n++] = b;
    }
    // The port is always in the message: two zero bytes when the option carries none (spec
    // §2.7, as Linux add_addr_generate_hmac() does).
    uint16_t p = port.value_or(0);
    msg[n++] = static_cast<uint8_t>(p >> 8);
    msg[n++] = static_cast<uint8_t>(p);
    Digest d = sha.hmac(key, std::span<const uint8_t>(msg.data(), n));
    return get_be64(d.data() + 24);  // rightmost 64 bits
}

DssChecksum::DssChecksum(uint64_t dsn, uint32_t ssn, uint16_t data_len) {
    // Pseudo-header: DSN (8) | SSN (4) | data-level length (2) | zero (2), 16 bytes: even, so
    // the payload that follows starts on a word boundary.
    sum_ = (dsn >> 48) + ((dsn >> 32) & 0xffff) + ((dsn >> 16) & 0xffff) + (dsn & 0xffff) +
           (ssn >> 16) + (ssn & 0xffff) + data_len;
}

void DssChecksum::add(std::span<const uint8_t> bytes) {
    const uint8_t* p = bytes.data();
    size_t n = bytes.size();
    if (n == 0) {
        return;
    }
    if (odd_) {
        // The previous piece ended mid-word: this first byte is that word's low-order byte.
        sum_ += p[0];
        ++p;
        --n;
        odd_ = false;
    }
    sum_ += raw_sum(p, n & ~size_t{1});
    if (n & 1) {
        sum_ += uint32_t{p[n - 1]} << 8;  // high-order byte of a word padded with zero
        odd_ = true;
    }
}

bool DssChecksum::add(const rte_mbuf* m, uint32_t offset, uint32_t len) {
    if (m == nullptr || rte_pktmbuf_pkt_len(m) < offset || rte_pktmbuf_pkt_len(m) - offset < len) {
        // pkt_len is the first segment's view of the chain; also walk defensively below.
        return false;
    }
    // Find the segment holding `offset`, checking the chain really has the bytes before adding.
    const rte_mbuf* s = m;
    while (s != nullptr && offset >= s->data_len) {
        offset -= s->data_len;
        s = s->next;
    }
    uint32_t have = 0;
    for (const rte_mbuf* t = s; t != nullptr && have < len + offset; t = t->next) {
        have += t->data_len;
    }
    if (have < len + offset) {
        return false;
    }
    while (len > 0) {
        uint32_t take = std::min<uint32_t>(len, s->data_len - offset);
        add(std::span<const uint8_t>(rte_pktmbuf_mtod_offset(s, const uint8_t*, offset), take));
        len -= take;
        offset = 0;
        s = s->next;
    }
    return true;
}

uint16_t DssChecksum::value() const {
    return static_cast<uint16_t>(~fold(sum_));
}

bool DssChecksum::verify(uint16_t received) const {
    return fold(sum_ + received) == 0xffff;
}

}  // namespace braid::mptcp::crypto
