// SYN cookies (RFC 4987 §3.6), used by a listener whose half-open queue is full: the SYN/ACK's ISN
// carries everything needed to rebuild the connection from the third segment, and nothing is kept.
//
// ISN layout (32 bits), Linux-like but with a keyed SipHash-2-4 MAC (tcpstack/siphash.h):
//   bits 31..24  ((t mod 32) << 3 | mss_index) XOR mask, mask = top byte of H1(tuple, client_isn)
//   bits 23..0   low 24 bits of H2(tuple, client_isn, t, mss_index)
// t is a coarse counter, now_us / 64 s. check() accepts the current slot and the previous one, so a
// cookie stays valid for 64..128 s. The MSS travels as an index into a table of common values
// (kCookieMssTable) rounded down; window scale and SACK are lost unless timestamps are on, in which
// case they ride in the low bits of our TSval and come back in the peer's TSecr (Linux style).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "tcpstack/siphash.h"

namespace braid::tcp {

struct SynCookieOptions {
    uint16_t mss;    // the MSS for the connection; rounded down to kCookieMssTable by check()
    uint8_t wscale;  // peer's window scale shift, 15 = absent
    bool sack_ok;
    bool ts_ok;
    bool operator==(const SynCookieOptions&) const = default;
};

struct CookieTuple {
    uint8_t family;  // 4 | 6; for 4 only the first 4 bytes of the addresses count
    std::array<uint8_t, 16> local, remote;
    uint16_t local_port, remote_port;  // host order
};

// 3 bits of MSS index. Ascending. 88 is Linux's TCP_MIN_MSS (anything below is encoded as 88);
// 536 the RFC 9293 default; 1220 the IPv6 minimum MTU; 1360/1400 common behind GTP-U and
// mobile middleboxes; 1440 IPv6 on Ethernet; 1460 IPv4 on Ethernet; 8960 jumbo frames.
inline constexpr std::array<uint16_t, 8> kCookieMssTable = {88,   536,  1220, 1360,
                                                            1400, 1440, 1460, 8960};
inline constexpr uint64_t kCookieSlotUs = 64'000'000;  // t advances every 64 s
inline constexpr uint32_t kCookieTsBits = 5;           // TSval bits 3..0 wscale, bit 4 SACK

class SynCookies {
public:
    explicit SynCookies(std::span<const uint8_t, 16> secret);
    uint32_t make_isn(const CookieTuple& t, uint32_t client_isn, const SynCookieOptions& o,
                      uint64_t now_us) const;
    // ack_isn = (ACK of the 3rd segment) - 1, client_isn = (its SEQ) - 1. nullopt if
    // invalid/expired. The result has the table MSS, wscale 15, no SACK, no timestamps; apply
    // decode_tsecr() when the segment carries a timestamp option.
    std::optional<SynCookieOptions> check(const CookieTuple& t, uint32_t client_isn,
                                          uint32_t ack_isn, uint64_t now_us) const;
    // With timestamps, wscale/sack may be carried in the low bits of TSval (Linux style): the
    // result is <= now_tsval (never runs ahead of our clock) and differs from it by < 32.
    uint32_t encode_tsval(uint32_t now_tsval, const SynCookieOptions& o) const;
    SynCookieOptions decode_tsecr(uint32_t tsecr, SynCookieOptions base) const;

    // Index of the largest table entry <= mss (0 when mss < 88).
    static uint8_t mss_index(uint16_t mss);

private:
    uint64_t mac(const CookieTuple& t, uint32_t client_isn, uint8_t domain, uint32_t slot,
                 uint8_t mss_idx) const;

    SipKey key_;
};

}  // namespace braid::tcp
