// IPv6 Neighbor Discovery messages braid sends and reads (RFC 4861 §4.3, §4.4, §4.6.1, §7.1):
// the Neighbor Solicitation the control core sends to resolve an IPv6 next hop, and the checked
// parse of a received Neighbor Solicitation / Advertisement (what a worker learns from it).
// Pure functions over bytes: no DPDK, unit-tested against scapy's encodings.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "dataplane/neighbor.h"

namespace braid::dataplane::nd {

using Ipv6Addr = std::array<uint8_t, 16>;

inline constexpr uint8_t type_solicitation = 135;
inline constexpr uint8_t type_advertisement = 136;
inline constexpr uint8_t opt_source_lladdr = 1;
inline constexpr uint8_t opt_target_lladdr = 2;
// Ethernet + IPv6 + NS (24) + source link-layer address option (8).
inline constexpr size_t solicitation_frame_len = 14 + 40 + 32;

// ff02::1:ffXX:XXXX, the solicited-node multicast address of `target` (RFC 4291 §2.7.1), and
// 33:33 + its last four octets, the Ethernet address it maps to (RFC 2464 §7).
Ipv6Addr solicited_node(const Ipv6Addr& target);
MacAddr multicast_mac(const Ipv6Addr& group);

// The whole frame of a multicast Neighbor Solicitation for `target` from `src_ip` / `src_mac`,
// with the source link-layer address option, hop limit 255, checksum set. Returns the length
// written (solicitation_frame_len), 0 if `out` is too short.
size_t build_solicitation(std::span<uint8_t> out, const MacAddr& src_mac, const Ipv6Addr& src_ip,
                          const Ipv6Addr& target);

// The ICMPv6 checksum of `icmp` (length `len`) between `src` and `dst` (RFC 8200 §8.1); a message
// whose checksum field is right sums to 0 here.
uint16_t icmp6_checksum(const Ipv6Addr& src, const Ipv6Addr& dst, const uint8_t* icmp, size_t len);

enum class ParseError : uint8_t {
    bad_hop_limit,           // not 255: it came through a router (RFC 4861 §7.1.1, §7.1.2)
    bad_code,                // ICMP code not 0
    truncated,               // shorter than the message's fixed part
    bad_target,              // multicast target
    bad_option,              // an option of length 0 or beyond the message
    bad_source,              // NS from the unspecified address with a source link-layer option
    solicited_to_multicast,  // NA with S set to a multicast destination
};
std::string_view to_string(ParseError e);

struct Message {
    uint8_t type = 0;  // type_solicitation or type_advertisement
    Ipv6Addr target{};
    std::optional<MacAddr> lladdr;  // NS: source link-layer address; NA: target link-layer address
    bool router = false, solicited = false, override_flag = false;  // NA flags
};

// `icmp`: the ICMPv6 message of `len` octets (checksum already verified by the caller) from an
// IPv6 header with `hop_limit`, `src` and `dst`. Options other than the link-layer ones are
// skipped (RFC 4861 §4.6: unknown options are ignored).
struct ParseResult {
    std::optional<Message> msg;
    ParseError error = ParseError::truncated;
};
ParseResult parse(const uint8_t* icmp, size_t len, uint8_t hop_limit, const Ipv6Addr& src,
                  const Ipv6Addr& dst);

}  // namespace braid::dataplane::nd
