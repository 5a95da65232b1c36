// ICMP errors about braid's own TCP segments (RFC 1122 §4.2.3.9, RFC 4443 §3, RFC 5461, RFC 5927):
// a checked parser of an ICMP/ICMPv6 error message (the whole IP packet, untrusted bytes) into
// the connection it quotes, and which Destination Unreachable codes are hard errors.
//
// What the engine does with a parsed error is Engine::icmp_error: a hard error aborts a
// connection attempt (SYN-SENT); anything else is a soft error, remembered and reported with
// the connection's eventual timeout (RFC 5461 §4: in synchronized states even hard errors are
// treated as soft). The quoted sequence number must lie in [SND.UNA, SND.MAX] (RFC 5927 §4.1),
// so a blind attacker must guess it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "tcpstack/engine.h"
#include "tcpstack/seq.h"

namespace braid::tcp {

enum class IcmpKind : uint8_t {
    unreachable,        // ICMPv4 3, ICMPv6 1
    too_big,            // ICMPv4 3 code 4 (Fragmentation Needed), ICMPv6 2 (Packet Too Big)
    time_exceeded,      // ICMPv4 11, ICMPv6 3
    parameter_problem,  // ICMPv4 12, ICMPv6 4
};

struct IcmpError {
    bool v6 = false;
    uint8_t type = 0;
    uint8_t code = 0;
    IcmpKind kind = IcmpKind::unreachable;
    FourTuple tuple;   // the connection as the engine sees it: local = the quoted source
    Seq seq;           // sequence number of the quoted segment
    uint32_t mtu = 0;  // too_big: the next-hop MTU the router reported (0: not given)

    bool hard() const;
};

// RFC 1122 §4.2.3.9: of the Destination Unreachable codes, protocol and port unreachable
// (ICMPv6: port unreachable, RFC 4443 §3.1) are hard errors; the others (net/host unreachable,
// administratively prohibited, ...) are soft. Fragmentation Needed (ICMPv4 code 4) belongs to
// path MTU discovery.
bool icmp_unreachable_is_hard(bool v6, uint8_t code);

// Why a packet is not an ICMP error braid's TCP can act on.
// clang-format off
#define BRAID_ICMP_PARSE_ERRORS(X)                                                               \
    X(truncated,        "shorter than its headers say")                                           \
    X(bad_ip_header,    "the outer IP header is malformed or not ICMP")                          \
    X(bad_checksum,     "the ICMP checksum is wrong")                                             \
    X(not_an_error,     "an ICMP message that is not an error (echo, ND, ...)")                  \
    X(unhandled_type,   "an ICMP error type TCP does not act on (source quench, redirect, ...)") \
    X(quote_not_tcp,    "the quoted packet is not TCP (or a later fragment)")                    \
    X(quote_truncated,  "the quoted packet lacks its IP header or the first 8 TCP octets")       \
    X(address_mismatch, "the quoted source is not the address the error was sent to")
// clang-format on

enum class IcmpParseError : uint8_t {
#define BRAID_X(name, help) name,
    BRAID_ICMP_PARSE_ERRORS(BRAID_X)
#undef BRAID_X
        count
};
std::string_view to_string(IcmpParseError e);

// `packet`: an IPv4 or IPv6 packet from its first header octet (extra octets after the IP
// total/payload length, e.g. Ethernet padding, are ignored). Checks the outer header, the ICMP
// checksum (ICMPv6: with the pseudo header) and the quoted IP + TCP header.
std::optional<IcmpError> parse_icmp_error(std::span<const uint8_t> packet, IcmpParseError* why);

}  // namespace braid::tcp
