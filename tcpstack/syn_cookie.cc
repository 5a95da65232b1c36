// SYN cookies: see the layout in syn_cookie.h. Two SipHash-2-4 calls per make_isn() and at most
// three per check(): H1 depends only on the connection (it masks the slot and MSS bits so that the
// ISN does not show our clock), H2 binds the connection, the slot and the MSS index together.
#include "tcpstack/syn_cookie.h"

namespace braid::tcp {
namespace {

constexpr uint8_t kDomainMask = 1;  // H1: mask for the top byte
constexpr uint8_t kDomainMac = 2;   // H2: the 24-bit MAC
constexpr uint32_t kMacMask = 0x00ffffff;
constexpr uint32_t kSlotBits = 5;       // t mod 32 in the ISN
constexpr uint32_t kAcceptedSlots = 2;  // current and previous: valid for 64..128 s
constexpr uint8_t kWscaleAbsent = 15;

uint32_t slot_of(uint64_t now_us) {
    return static_cast<uint32_t>(now_us / kCookieSlotUs);
}

}  // namespace

SynCookies::SynCookies(std::span<const uint8_t, 16> secret) : key_(SipKey::from_bytes(secret)) {}

uint8_t SynCookies::mss_index(uint16_t mss) {
    uint8_t idx = 0;
    for (uint8_t i = 1; i < kCookieMssTable.size(); ++i) {
        if (kCookieMssTable[i] <= mss) {
            idx = i;
        }
    }
    return idx;
}

uint64_t SynCookies::mac(const CookieTuple& t, uint32_t client_isn, uint8_t domain, uint32_t slot,
                         uint8_t mss_idx) const {
    // domain, family, local, remote, ports, client ISN, slot, MSS index: at most 47 bytes.
    std::array<uint8_t, 48> buf{};
    size_t n = 0;
    auto put16 = [&](uint16_t v) {
        buf[n++] = static_cast<uint8_t>(v >> 8);
        buf[n++] = static_cast<uint8_t>(v);
    };
    auto put32 = [&](uint32_t v) {
        put16(static_cast<uint16_t>(v >> 16));
        put16(static_cast<uint16_t>(v));
    };
    buf[n++] = domain;
    buf[n++] = t.family;
    // Anything but 4 hashes the full 16 bytes: an odd family value cannot shorten the input.
    const size_t alen = t.family == 4 ? 4 : 16;
    for (size_t i = 0; i < alen; ++i) {
        buf[n++] = t.local[i];
    }
    for (size_t i = 0; i < alen; ++i) {
        buf[n++] = t.remote[i];
    }
    put16(t.local_port);
    put16(t.remote_port);
    put32(client_isn);
    if (domain == kDomainMac) {
        put32(slot);
        buf[n++] = mss_idx;
    }
    return siphash24(key_, std::span<const uint8_t>(buf.data(), n));
}

uint32_t SynCookies::make_isn(const CookieTuple& t, uint32_t client_isn, const SynCookieOptions& o,
                              uint64_t now_us) const {
    const uint32_t slot = slot_of(now_us);
    const uint8_t idx = mss_index(o.mss);
    const uint32_t mask = static_cast<uint32_t>(mac(t, client_isn, kDomainMask, 0, 0) >> 56);
    const uint32_t top = (((slot & ((1u << kSlotBits) - 1)) << 3) | idx) ^ mask;
    const uint32_t low =
        static_cast<uint32_t>(mac(t, client_isn, kDomainMac, slot, idx)) & kMacMask;
    return (top << 24) | low;
}

std::optional<SynCookieOptions> SynCookies::check(const CookieTuple& t, uint32_t client_isn,
                                                  uint32_t ack_isn, uint64_t now_us) const {
    const uint32_t now_slot = slot_of(now_us);
    const uint32_t mask = static_cast<uint32_t>(mac(t, client_isn, kDomainMask, 0, 0) >> 56);
    const uint32_t top = (ack_isn >> 24) ^ mask;
    const uint32_t slot_low = top >> 3;
    const auto idx = static_cast<uint8_t>(top & 7);
    for (uint32_t age = 0; age < kAcceptedSlots && age <= now_slot; ++age) {
        const uint32_t slot = now_slot - age;
        if ((slot & ((1u << kSlotBits) - 1)) != slot_low) {
            continue;  // the slots we accept differ mod 32: at most one can match
        }
        const uint32_t want =
            static_cast<uint32_t>(mac(t, client_isn, kDomainMac, slot, idx)) & kMacMask;
        if ((ack_isn & kMacMask) == want) {
            return SynCookieOptions{kCookieMssTable[idx], kWscaleAbsent, false, false};
        }
        return std::nullopt;
    }
    return std::nullopt;
}

uint32_t SynCookies::encode_tsval(uint32_t now_tsval, const SynCookieOptions& o) const {
    const uint32_t bits = (o.wscale & 0xfu) | (o.sack_ok ? 0x10u : 0u);
    uint32_t ts = (now_tsval & ~((1u << kCookieTsBits) - 1)) | bits;
    if (ts > now_tsval) {
        ts -= 1u << kCookieTsBits;  // never ahead of our own clock (RFC 7323 §5.4 monotonicity)
    }
    return ts;
}

SynCookieOptions SynCookies::decode_tsecr(uint32_t tsecr, SynCookieOptions base) const {
    base.ts_ok = true;
    base.wscale = static_cast<uint8_t>(tsecr & 0xf);  // 15 = absent; 0..14 the peer's shift
    base.sack_ok = (tsecr & 0x10) != 0;
    return base;
}

}  // namespace braid::tcp
