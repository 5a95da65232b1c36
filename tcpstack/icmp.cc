#include "tcpstack/icmp.h"

#include <algorithm>
#include <cstring>

namespace braid::tcp {
namespace {

constexpr uint8_t proto_tcp = 6;
constexpr uint8_t proto_icmp = 1;
constexpr uint8_t proto_icmp6 = 58;
constexpr size_t icmp_header_len = 8;  // type, code, checksum, 4 octets (unused / MTU / pointer)
constexpr size_t quoted_tcp_len = 8;   // ports and sequence number (RFC 792: 64 bits of data)

uint16_t be16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
uint32_t be32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
           static_cast<uint32_t>(p[2]) << 8 | p[3];
}

// RFC 1071 one's complement sum of big-endian 16-bit words, an odd last octet padded.
uint32_t sum16(std::span<const uint8_t> b, uint32_t acc = 0) {
    size_t i = 0;
    for (; i + 1 < b.size(); i += 2) {
        acc += be16(&b[i]);
    }
    if (i < b.size()) {
        acc += static_cast<uint32_t>(b[i]) << 8;
    }
    return acc;
}
bool checksum_ok(uint32_t acc) {
    while (acc >> 16) {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    return acc == 0xffff;
}

IpAddr addr(const uint8_t* p, bool v6) {
    IpAddr a;
    a.family = v6 ? 6 : 4;
    std::memcpy(a.bytes.data(), p, v6 ? 16 : 4);
    return a;
}

std::optional<IcmpError> fail(IcmpParseError e, IcmpParseError* why) {
    if (why != nullptr) {
        *why = e;
    }
    return std::nullopt;
}

}  // namespace

bool icmp_unreachable_is_hard(bool v6, uint8_t code) {
    return v6 ? code == 4 : (code == 2 || code == 3);
}

bool IcmpError::hard() const {
    return kind == IcmpKind::unreachable && icmp_unreachable_is_hard(v6, code);
}

std::string_view to_string(IcmpParseError e) {
    switch (e) {
#define BRAID_X(name, help)    \
    case IcmpParseError::name: \
        return #name;
        BRAID_ICMP_PARSE_ERRORS(BRAID_X)
#undef BRAID_X
        case IcmpParseError::count:
            break;
    }
    return "?";
}

std::optional<IcmpError> parse_icmp_error(std::span<const uint8_t> packet, IcmpParseError* why) {
    using E = IcmpParseError;
    if (packet.empty()) {
        return fail(E::truncated, why);
    }
    const bool v6 = packet[0] >> 4 == 6;
    if (!v6 && packet[0] >> 4 != 4) {
        return fail(E::bad_ip_header, why);
    }
    std::span<const uint8_t> icmp;
    const uint8_t* outer_dst = nullptr;
    uint32_t acc = 0;
    if (!v6) {
        if (packet.size() < 20) {
            return fail(E::truncated, why);
        }
        const size_t ihl = (packet[0] & 0x0f) * 4u;
        const size_t total = be16(&packet[2]);
        if (ihl < 20 || total < ihl) {
            return fail(E::bad_ip_header, why);
        }
        if (total > packet.size()) {
            return fail(E::truncated, why);
        }
        if (packet[9] != proto_icmp || (be16(&packet[6]) & 0x3fff) != 0) {
            return fail(E::bad_ip_header, why);  // not ICMP, or a fragment
        }
        outer_dst = &packet[16];
        icmp = packet.subspan(ihl, total - ihl);
    } else {
        if (packet.size() < 40) {
            return fail(E::truncated, why);
        }
        const size_t payload = be16(&packet[4]);
        if (40 + payload > packet.size()) {
            return fail(E::truncated, why);
        }
        if (packet[6] != proto_icmp6) {
            return fail(E::bad_ip_header, why);  // extension headers before ICMPv6: not handled
        }
        outer_dst = &packet[24];
        icmp = packet.subspan(40, payload);
        // RFC 4443 §2.3: the pseudo header (source, destination, length, next header).
        acc = sum16(packet.subspan(8, 32));
        acc += static_cast<uint32_t>(payload >> 16) + (payload & 0xffff) + proto_icmp6;
    }
    if (icmp.size() < icmp_header_len) {
        return fail(E::truncated, why);
    }
    if (!checksum_ok(sum16(icmp, acc))) {
        return fail(E::bad_checksum, why);
    }
    IcmpError out;
    out.v6 = v6;
    out.type = icmp[0];
    out.code = icmp[1];
    if (!v6) {
        switch (out.type) {
            case 3:
                out.kind = out.code == 4 ? IcmpKind::too_big : IcmpKind::unreachable;
                out.mtu = out.code == 4 ? be16(&icmp[6]) : 0;
                break;
            case 11:
                out.kind = IcmpKind::time_exceeded;
                break;
            case 12:
                out.kind = IcmpKind::parameter_problem;
                break;
            case 4:  // source quench (RFC 6633: ignore)
            case 5:  // redirect: a router's business
                return fail(E::unhandled_type, why);
            default:
                return fail(E::not_an_error, why);
        }
    } else {
        switch (out.type) {
            case 1:
                out.kind = IcmpKind::unreachable;
                break;
            case 2:
                out.kind = IcmpKind::too_big;
                out.mtu = be32(&icmp[4]);
                break;
            case 3:
                out.kind = IcmpKind::time_exceeded;
                break;
            case 4:
                out.kind = IcmpKind::parameter_problem;
                break;
            default:
                // 0-127 are errors (RFC 4443 §2.1); the unassigned ones are not acted on.
                return fail(out.type < 128 ? E::unhandled_type : E::not_an_error, why);
        }
    }
    const std::span<const uint8_t> q = icmp.subspan(icmp_header_len);
    size_t q_ihl = 0;
    if (!v6) {
        if (q.size() < 20) {
            return fail(E::quote_truncated, why);
        }
        q_ihl = (q[0] & 0x0f) * 4u;
        if (q[0] >> 4 != 4 || q_ihl < 20) {
            return fail(E::quote_not_tcp, why);
        }
        if (q[9] != proto_tcp || (be16(&q[6]) & 0x1fff) != 0) {
            return fail(E::quote_not_tcp, why);
        }
    } else {
        if (q.size() < 40) {
            return fail(E::quote_truncated, why);
        }
        q_ihl = 40;
        if (q[0] >> 4 != 6 || q[6] != proto_tcp) {
            return fail(E::quote_not_tcp, why);
        }
    }
    if (q.size() < q_ihl + quoted_tcp_len) {
        return fail(E::quote_truncated, why);
    }
    const uint8_t* q_src = v6 ? &q[8] : &q[12];
    const uint8_t* q_dst = v6 ? &q[24] : &q[16];
    if (std::memcmp(q_src, outer_dst, v6 ? 16 : 4) != 0) {
        return fail(E::address_mismatch, why);
    }
    const uint8_t* th = &q[q_ihl];
    out.tuple.local = addr(q_src, v6);
    out.tuple.remote = addr(q_dst, v6);
    out.tuple.local_port = be16(th);
    out.tuple.remote_port = be16(th + 2);
    out.seq = Seq(be32(th + 4));
    return out;
}

}  // namespace braid::tcp
