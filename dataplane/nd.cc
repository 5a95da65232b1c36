#include "dataplane/nd.h"

#include <cstring>

namespace braid::dataplane::nd {

namespace {

uint32_t sum16(const uint8_t* p, size_t len, uint32_t sum) {
    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += uint32_t{p[i]} << 8 | p[i + 1];
    }
    if (len % 2 != 0) {
        sum += uint32_t{p[len - 1]} << 8;
    }
    return sum;
}

bool unspecified(const Ipv6Addr& a) {
    for (uint8_t b : a) {
        if (b != 0) {
            return false;
        }
    }
    return true;
}

}  // namespace

std::string_view to_string(ParseError e) {
    switch (e) {
        case ParseError::bad_hop_limit:
            return "hop limit not 255";
        case ParseError::bad_code:
            return "code not 0";
        case ParseError::truncated:
            return "truncated";
        case ParseError::bad_target:
            return "multicast target";
        case ParseError::bad_option:
            return "option of length 0 or beyond the message";
        case ParseError::bad_source:
            return "unspecified source with a link-layer address option";
        case ParseError::solicited_to_multicast:
            return "solicited advertisement to a multicast address";
    }
    return "?";
}

Ipv6Addr solicited_node(const Ipv6Addr& target) {
    Ipv6Addr a{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0};
    a[13] = target[13];
    a[14] = target[14];
    a[15] = target[15];
    return a;
}

MacAddr multicast_mac(const Ipv6Addr& group) {
    return {0x33, 0x33, group[12], group[13], group[14], group[15]};
}

uint16_t icmp6_checksum(const Ipv6Addr& src, const Ipv6Addr& dst, const uint8_t* icmp, size_t len) {
    uint32_t sum = sum16(src.data(), 16, 0);
    sum = sum16(dst.data(), 16, sum);
    sum += static_cast<uint32_t>(len >> 16) + static_cast<uint32_t>(len & 0xffff);
    sum += 58;  // next header: ICMPv6
    sum = sum16(icmp, len, sum);
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return static_cast<uint16_t>(~sum & 0xffff);
}

size_t build_solicitation(std::span<uint8_t> out, const MacAddr& src_mac, const Ipv6Addr& src_ip,
                          const Ipv6Addr& target) {
    if (out.size() < solicitation_frame_len) {
        return 0;
    }
    uint8_t* f = out.data();
    std::memset(f, 0, solicitation_frame_len);
    const Ipv6Addr group = solicited_node(target);
    const MacAddr dst_mac = multicast_mac(group);
    std::memcpy(f, dst_mac.data(), 6);
    std::memcpy(f + 6, src_mac.data(), 6);
    f[12] = 0x86;
    f[13] = 0xdd;
    uint8_t* ip = f + 14;
    ip[0] = 0x60;
    ip[5] = 32;   // payload length
    ip[6] = 58;   // ICMPv6
    ip[7] = 255;  // hop limit (RFC 4861 §7.1.1)
    std::memcpy(ip + 8, src_ip.data(), 16);
    std::memcpy(ip + 24, group.data(), 16);
    uint8_t* icmp = ip + 40;
    icmp[0] = type_solicitation;
    std::memcpy(icmp + 8, target.data(), 16);
    icmp[24] = opt_source_lladdr;
    icmp[25] = 1;  // in units of 8 octets
    std::memcpy(icmp + 26, src_mac.data(), 6);
    const uint16_t c = icmp6_checksum(src_ip, group, icmp, 32);
    icmp[2] = static_cast<uint8_t>(c >> 8);
    icmp[3] = static_cast<uint8_t>(c & 0xff);
    return solicitation_frame_len;
}

ParseResult parse(const uint8_t* icmp, size_t len, uint8_t hop_limit, const Ipv6Addr& src,
                  const Ipv6Addr& dst) {
    ParseResult r;
    if (len < 24) {
        r.error = ParseError::truncated;
        return r;
    }
    if (hop_limit != 255) {
        r.error = ParseError::bad_hop_limit;
        return r;
    }
    if (icmp[1] != 0) {
        r.error = ParseError::bad_code;
        return r;
    }
    Message m;
    m.type = icmp[0];
    std::memcpy(m.target.data(), icmp + 8, 16);
    if (m.target[0] == 0xff) {
        r.error = ParseError::bad_target;
        return r;
    }
    if (m.type == type_advertisement) {
        m.router = (icmp[4] & 0x80) != 0;
        m.solicited = (icmp[4] & 0x40) != 0;
        m.override_flag = (icmp[4] & 0x20) != 0;
        if (m.solicited && dst[0] == 0xff) {
            r.error = ParseError::solicited_to_multicast;
            return r;
        }
    }
    const uint8_t wanted = m.type == type_solicitation ? opt_source_lladdr : opt_target_lladdr;
    for (size_t off = 24; off < len;) {
        if (len - off < 2 || icmp[off + 1] == 0 || icmp[off + 1] * size_t{8} > len - off) {
            r.error = ParseError::bad_option;
            return r;
        }
        const size_t olen = icmp[off + 1] * size_t{8};
        if (icmp[off] == wanted) {
            MacAddr mac;
            std::memcpy(mac.data(), icmp + off + 2, 6);
            m.lladdr = mac;
        }
        off += olen;
    }
    if (m.type == type_solicitation && unspecified(src) && m.lladdr) {
        r.error = ParseError::bad_source;  // RFC 4861 §7.1.1
        return r;
    }
    r.msg = m;
    return r;
}

}  // namespace braid::dataplane::nd
