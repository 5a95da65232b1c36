// SDF filters: IPFilterRule parsing (TS 29.212 §5.4.2, RFC 6733 §4.3), packet keys from
// untrusted inner IP packets, and the per-session classifier (linear or rte_acl).
#include "dataplane/sdf.h"

#include <arpa/inet.h>
#include <rte_acl.h>
#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_memory.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace braid::dataplane::sdf {

namespace {

// ------------------------------------------------------------------------------ parsing

// A parser limit, not a protocol one: a filter expands to (remote ranges x UE ranges) ACL rules.
constexpr size_t max_port_ranges = 32;

struct Token {
    std::string_view text;
    size_t col = 0;  // 1-based column of the first character (length + 1 at the end)
};

class Lexer {
public:
    explicit Lexer(std::string_view s) : s_(s) {}

    // The next whitespace-separated token, or a token with empty text at the end.
    Token next() {
        while (pos_ < s_.size() && is_space(s_[pos_])) {
            ++pos_;
        }
        size_t start = pos_;
        while (pos_ < s_.size() && !is_space(s_[pos_])) {
            ++pos_;
        }
        return Token{s_.substr(start, pos_ - start), start + 1};
    }

private:
    static bool is_space(char c) { return c == ' ' || c == '\t'; }
    std::string_view s_;
    size_t pos_ = 0;
};

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (size_t i = 0; i < a.size(); ++i) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
        if (c != b[i]) {
            return false;
        }
    }
    return true;
}

std::string at(const Token& t) {
    return " at column " + std::to_string(t.col);
}

// "expected 'from' at column 14, got 'to'" / "..., got end of text".
std::string expected(std::string_view what, const Token& t) {
    if (t.text.empty()) {
        return "expected " + std::string(what) + at(t) + ", got end of text";
    }
    return "expected " + std::string(what) + at(t) + ", got '" + std::string(t.text) + "'";
}

// Decimal digits only, at most `max`.
bool parse_uint(std::string_view s, uint32_t max, uint32_t& out) {
    if (s.empty() || s.size() > 10) {
        return false;
    }
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') {
            return false;
        }
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (v > max) {
        return false;
    }
    out = static_cast<uint32_t>(v);
    return true;
}

void mask_host_bits(Prefix& p) {
    const unsigned bytes = p.family == 4 ? 4 : 16;
    for (unsigned i = 0; i < 16; ++i) {
        unsigned keep = 0;  // bits of octet i inside the prefix
        if (i < bytes && p.len > i * 8) {
            keep = std::min(8u, p.len - i * 8u);
        }
        p.addr[i] &= static_cast<uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
    }
}

// "any" | "assigned" (UE side only) | IPv4/IPv6 address with optional "/len".
std::optional<std::string> parse_address(const Token& t, bool ue_side, Prefix& p, bool& assigned) {
    p = Prefix{};
    assigned = false;
    if (t.text.empty()) {
        return expected(ue_side ? "a destination address" : "a source address", t);
    }
    if (iequals(t.text, "any")) {
        return std::nullopt;
    }
    if (iequals(t.text, "assigned")) {
        if (!ue_side) {
            return "'assigned' is only allowed after 'to' (the UE side of an 'out' rule)" + at(t);
        }
        assigned = true;
        return std::nullopt;
    }
    if (t.text[0] == '!') {
        return "negated address '" + std::string(t.text) + "' is not supported" + at(t);
    }
    std::string_view addr = t.text;
    std::string_view len;
    bool has_len = false;
    if (size_t slash = addr.find('/'); slash != std::string_view::npos) {
        len = addr.substr(slash + 1);
        addr = addr.substr(0, slash);
        has_len = true;
    }
    char buf[INET6_ADDRSTRLEN + 1];
    if (addr.empty() || addr.size() >= sizeof(buf)) {
        return "invalid address '" + std::string(t.text) + "'" + at(t);
    }
    std::memcpy(buf, addr.data(), addr.size());
    buf[addr.size()] = '\0';
    const bool v6 = addr.find(':') != std::string_view::npos;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, p.addr.data()) != 1) {
        return "invalid address '" + std::string(t.text) + "'" + at(t);
    }
    p.family = v6 ? 6 : 4;
    const uint32_t max_len = v6 ? 128 : 32;
    uint32_t l = max_len;
    if (has_len && !parse_uint(len, max_len, l)) {
        return "invalid prefix length '/" + std::string(len) + "'" + at(t) + " (0-" +
               std::to_string(max_len) + ")";
    }
    p.len = static_cast<uint8_t>(l);
    mask_host_bits(p);
    return std::nullopt;
}

bool starts_with_digit(std::string_view s) {
    return !s.empty() && s[0] >= '0' && s[0] <= '9';
}

// "N" or "N-M", comma separated (no blanks).
std::optional<std::string> parse_ports(const Token& t, std::vector<PortRange>& out) {
    size_t pos = 0;
    while (true) {
        size_t comma = t.text.find(',', pos);
        std::string_view item = t.text.substr(
            pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
        const std::string col = " at column " + std::to_string(t.col + pos);
        if (item.empty()) {
            return "empty port in '" + std::string(t.text) + "'" + col;
        }
        if (out.size() == max_port_ranges) {
            return "too many port ranges in '" + std::string(t.text) + "'" + col + " (at most " +
                   std::to_string(max_port_ranges) + ")";
        }
        std::string_view lo = item;
        std::string_view hi = item;
        if (size_t dash = item.find('-'); dash != std::string_view::npos) {
            lo = item.substr(0, dash);
            hi = item.substr(dash + 1);
        }
        uint32_t l = 0;
        uint32_t h = 0;
        if (!parse_uint(lo, 65535, l) || !parse_uint(hi, 65535, h)) {
            return "invalid port '" + std::string(item) + "'" + col + " (N or N-M, 0-65535)";
        }
        if (l > h) {
            return "reversed port range '" + std::string(item) + "'" + col;
        }
        out.push_back(PortRange{static_cast<uint16_t>(l), static_cast<uint16_t>(h)});
        if (comma == std::string_view::npos) {
            return std::nullopt;
        }
        pos = comma + 1;
    }
}

bool is_rfc6733_option(std::string_view s) {
    for (std::string_view o :
         {"frag", "ipoptions", "tcpoptions", "established", "setup", "tcpflags", "icmptypes"}) {
        if (iequals(s, o)) {
            return true;
        }
    }
    return false;
}

std::string prefix_string(const Prefix& p) {
    if (p.family != 4 && p.family != 6) {
        return "any";
    }
    char buf[INET6_ADDRSTRLEN];
    if (inet_ntop(p.family == 4 ? AF_INET : AF_INET6, p.addr.data(), buf, sizeof(buf)) == nullptr) {
        return "any";
    }
    std::string s = buf;
    if (p.len != (p.family == 4 ? 32 : 128)) {
        s += "/" + std::to_string(p.len);
    }
    return s;
}

void append_ports(std::string& s, const std::vector<PortRange>& ports) {
    for (size_t i = 0; i < ports.size(); ++i) {
        s += i == 0 ? " " : ",";
        s += std::to_string(ports[i].lo);
        if (ports[i].hi != ports[i].lo) {
            s += "-" + std::to_string(ports[i].hi);
        }
    }
}

// ------------------------------------------------------------------------------ packet keys

uint16_t rd16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
uint32_t rd32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
           static_cast<uint32_t>(p[2]) << 8 | p[3];
}

constexpr uint8_t proto_tcp = 6;
constexpr uint8_t proto_udp = 17;
constexpr uint8_t proto_esp = 50;
constexpr uint8_t proto_sctp = 132;

// IPv6 extension headers skipped before the upper-layer header (RFC 8200 §4.1 order without AH).
constexpr unsigned max_ipv6_ext_headers = 5;

// Ports or SPI of the upper-layer header at `l4` (`len` octets available).
bool parse_l4(const uint8_t* l4, size_t len, Direction dir, PacketKey& key) {
    size_t need = 0;
    switch (key.proto) {
        case proto_tcp:
            need = 20;
            break;
        case proto_udp:
            need = 8;
            break;
        case proto_sctp:
            need = 12;  // common header (RFC 9260 §3.1)
            break;
        case proto_esp:
            need = 8;  // SPI + sequence number (RFC 4303 §2)
            break;
        default:
            return true;
    }
    if (len < need) {
        return false;
    }
    if (key.proto == proto_esp) {
        key.has_spi = true;
        key.spi = rd32(l4);
        return true;
    }
    const uint16_t src = rd16(l4);
    const uint16_t dst = rd16(l4 + 2);
    key.has_ports = true;
    key.ue_port = dir == Direction::uplink ? src : dst;
    key.remote_port = dir == Direction::uplink ? dst : src;
    return true;
}

bool extract_v4(const uint8_t* ip, size_t len, Direction dir, PacketKey& key) {
    if (len < 20) {
        return false;
    }
    const size_t hl = static_cast<size_t>(ip[0] & 0x0f) * 4;
    const size_t total = rd16(ip + 2);
    if (hl < 20 || hl > len || total < hl) {
        return false;
    }
    const size_t avail = std::min(len, total);  // ignore link-layer padding
    key.family = 4;
    key.tos = ip[1];
    key.proto = ip[9];
    const uint8_t* src = ip + 12;
    const uint8_t* dst = ip + 16;
    std::memcpy(key.ue.data(), dir == Direction::uplink ? src : dst, 4);
    std::memcpy(key.remote.data(), dir == Direction::uplink ? dst : src, 4);
    if ((rd16(ip + 6) & 0x1fff) != 0) {
        return true;  // not the first fragment: no upper-layer header
    }
    return parse_l4(ip + hl, avail - hl, dir, key);
}

bool extract_v6(const uint8_t* ip, size_t len, Direction dir, PacketKey& key) {
    if (len < 40) {
        return false;
    }
    const size_t payload = rd16(ip + 4);
    uint8_t nh = ip[6];
    // Payload Length 0 is a jumbogram only with a Hop-by-Hop header (RFC 2675).
    const size_t avail = payload == 0 && nh == 0 ? len : std::min(len, 40 + payload);
    key.family = 6;
    key.tos = static_cast<uint8_t>((ip[0] & 0x0f) << 4 | ip[1] >> 4);
    key.flow_label =
        static_cast<uint32_t>(ip[1] & 0x0f) << 16 | static_cast<uint32_t>(ip[2]) << 8 | ip[3];
    std::memcpy(key.ue.data(), ip + (dir == Direction::uplink ? 8 : 24), 16);
    std::memcpy(key.remote.data(), ip + (dir == Direction::uplink ? 24 : 8), 16);
    size_t off = 40;
    for (unsigned n = 0; n <= max_ipv6_ext_headers; ++n) {
        key.proto = nh;
        switch (nh) {
            case 0:     // Hop-by-Hop Options
            case 43:    // Routing
            case 60: {  // Destination Options
                if (n == max_ipv6_ext_headers) {
                    return true;  // too many to look further: no upper-layer header
                }
                if (avail < off + 2) {
                    return false;
                }
                const size_t hlen = (static_cast<size_t>(ip[off + 1]) + 1) * 8;
                if (avail < off + hlen) {
                    return false;
                }
                nh = ip[off];
                off += hlen;
                break;
            }
            case 44: {  // Fragment (RFC 8200 §4.5)
                if (n == max_ipv6_ext_headers) {
                    return true;
                }
                if (avail < off + 8) {
                    return false;
                }
                nh = ip[off];
                const bool first = (rd16(ip + off + 2) >> 3) == 0;
                off += 8;
                if (!first) {
                    key.proto = nh;
                    return true;
                }
                break;
            }
            default:
                return parse_l4(ip + off, avail - off, dir, key);
        }
    }
    return true;
}

// ------------------------------------------------------------------------------ matching

bool prefix_contains(const Prefix& p, uint8_t family, const std::array<uint8_t, 16>& addr) {
    if (p.family == 0) {
        return true;
    }
    if (p.family != family) {
        return false;
    }
    const unsigned len = std::min<unsigned>(p.len, family == 4 ? 32 : 128);
    const unsigned full = len / 8;
    if (std::memcmp(p.addr.data(), addr.data(), full) != 0) {
        return false;
    }
    const unsigned rest = len % 8;
    if (rest == 0) {
        return true;
    }
    const uint8_t m = static_cast<uint8_t>(0xff << (8 - rest));
    return ((p.addr[full] ^ addr[full]) & m) == 0;
}

bool in_ranges(const PortRange* r, size_t n, uint16_t port) {
    for (size_t i = 0; i < n; ++i) {
        if (port >= r[i].lo && port <= r[i].hi) {
            return true;
        }
    }
    return false;
}

constexpr uint32_t flow_label_mask = 0xfffff;

// Which packet families a filter can match: bit 0 IPv4, bit 1 IPv6.
constexpr uint8_t fam_v4 = 1;
constexpr uint8_t fam_v6 = 2;

uint8_t filter_families(const Filter& f) {
    uint8_t fams = fam_v4 | fam_v6;
    if (f.flow) {
        const FlowDescription& fd = *f.flow;
        uint8_t fam = fd.remote.family;
        if (fam == 0 && !fd.ue_assigned) {
            fam = fd.ue.family;
        }
        if (fam == 4) {
            fams = fam_v4;
        } else if (fam == 6) {
            fams = fam_v6;
        }
    }
    if (f.flow_label) {
        fams &= fam_v6;
    }
    return fams;
}

std::optional<std::string> validate_prefix(const Prefix& p, const char* what) {
    if (p.family == 0) {
        return std::nullopt;
    }
    if (p.family != 4 && p.family != 6) {
        return std::string(what) + ": address family " + std::to_string(p.family) +
               " (expected 0, 4 or 6)";
    }
    if (p.len > (p.family == 4 ? 32 : 128)) {
        return std::string(what) + ": prefix length " + std::to_string(p.len) +
               " too long for IPv" + std::to_string(p.family);
    }
    return std::nullopt;
}

std::optional<std::string> validate_ports(const std::vector<PortRange>& ports, const char* what) {
    if (ports.size() > max_port_ranges) {
        return std::string(what) + ": more than " + std::to_string(max_port_ranges) +
               " port ranges";
    }
    for (const PortRange& r : ports) {
        if (r.lo > r.hi) {
            return std::string(what) + ": reversed port range " + std::to_string(r.lo) + "-" +
                   std::to_string(r.hi);
        }
    }
    return std::nullopt;
}

std::optional<std::string> validate_filter(const Filter& f) {
    if (f.flow) {
        const FlowDescription& fd = *f.flow;
        if (auto e = validate_prefix(fd.remote, "flow description source")) {
            return e;
        }
        if (auto e = validate_prefix(fd.ue, "flow description destination")) {
            return e;
        }
        if (fd.ue_assigned && fd.ue.family != 0) {
            return "flow description: 'assigned' with an explicit destination address";
        }
        if (fd.remote.family != 0 && fd.ue.family != 0 && fd.remote.family != fd.ue.family) {
            return "flow description: source and destination address families differ";
        }
        if (auto e = validate_ports(fd.remote_ports, "flow description source ports")) {
            return e;
        }
        if (auto e = validate_ports(fd.ue_ports, "flow description destination ports")) {
            return e;
        }
    }
    if (f.flow_label && *f.flow_label > flow_label_mask) {
        return "flow label " + std::to_string(*f.flow_label) + " exceeds 20 bits";
    }
    return std::nullopt;
}

// Sorted, merged copy (overlapping and adjacent ranges joined): same set of ports.
std::vector<PortRange> merged(std::vector<PortRange> r) {
    std::sort(r.begin(), r.end(), [](const PortRange& a, const PortRange& b) {
        return a.lo != b.lo ? a.lo < b.lo : a.hi < b.hi;
    });
    std::vector<PortRange> out;
    for (const PortRange& x : r) {
        if (!out.empty() &&
            static_cast<uint32_t>(x.lo) <= static_cast<uint32_t>(out.back().hi) + 1) {
            out.back().hi = std::max(out.back().hi, x.hi);
        } else {
            out.push_back(x);
        }
    }
    return out;
}

// The UE prefix a filter means for packets of `family` (4 or 6); family 0 = any.
Prefix ue_prefix(const FlowDescription& fd, uint8_t family, const UeAddresses& ue) {
    if (fd.ue_assigned) {
        const Prefix& p = family == 4 ? ue.v4 : ue.v6;
        return p.family == family ? p : Prefix{};
    }
    return fd.ue.family == family ? fd.ue : Prefix{};
}

// ------------------------------------------------------------------------------ linear engine

// An address prefix as two masked 64-bit words (network order as laid out in memory).
struct Masked128 {
    uint64_t addr[2] = {0, 0};
    uint64_t mask[2] = {0, 0};
};

Masked128 masked(const Prefix& p) {
    Masked128 m;
    if (p.family != 4 && p.family != 6) {
        return m;
    }
    Prefix q = p;
    q.len = std::min<uint8_t>(q.len, p.family == 4 ? 32 : 128);
    std::array<uint8_t, 16> mask{};
    for (unsigned i = 0; i < 16 && q.len > i * 8; ++i) {
        const unsigned keep = std::min(8u, q.len - i * 8u);
        mask[i] = static_cast<uint8_t>(0xff << (8 - keep));
    }
    for (unsigned i = 0; i < 16; ++i) {
        q.addr[i] &= mask[i];
    }
    std::memcpy(m.addr, q.addr.data(), 16);
    std::memcpy(m.mask, mask.data(), 16);
    return m;
}

bool masked_match(const Masked128& m, const std::array<uint8_t, 16>& a) {
    uint64_t x[2];
    std::memcpy(x, a.data(), sizeof(x));
    return (((x[0] ^ m.addr[0]) & m.mask[0]) | ((x[1] ^ m.addr[1]) & m.mask[1])) == 0;
}

// A Filter compiled for the linear engine ("assigned" resolved per family).
struct LinFilter {
    Masked128 remote;
    Masked128 ue[2];            // for IPv4, IPv6 packets
    uint32_t remote_ports = 0;  // offset into Impl::ports
    uint32_t ue_ports = 0;
    uint16_t n_remote_ports = 0;
    uint16_t n_ue_ports = 0;
    uint32_t spi = 0;
    uint32_t flow_label = 0;
    uint8_t families = 0;
    uint8_t proto = 0;
    bool any_proto = true;
    bool need_ports = false;
    bool has_spi = false;
    bool has_flow_label = false;
    uint8_t tos = 0;  // pre-masked
    uint8_t tos_mask = 0;
};

struct LinRule {
    uint32_t first = 0;  // into Impl::filters
    uint32_t count = 0;
    uint32_t teid = 0;
    uint16_t pdr_index = 0;
    uint8_t qfi = 0;
    bool has_teid = false;
    bool has_qfi = false;
};

// ------------------------------------------------------------------------------ rte_acl engine

// Classification input, multi-byte fields in network order (rte_acl reads the input MSB first
// and takes rule values in host order). Layout rules: the first field is one octet, the others
// come in groups of four consecutive octets, one rte_acl input index each.
struct AclKey4 {
    uint8_t proto;
    uint8_t pad[3];
    uint32_t ue;
    uint32_t remote;
    uint16_t remote_port;
    uint16_t ue_port;
    uint32_t teid;
    uint32_t meta;
    uint32_t spi;
};

struct AclKey6 {
    uint8_t proto;
    uint8_t pad[3];
    uint32_t ue[4];
    uint32_t remote[4];
    uint16_t remote_port;
    uint16_t ue_port;
    uint32_t teid;
    uint32_t meta;
    uint32_t spi;
    uint32_t flow_label;
};

// `meta`: QFI, presence bits and ToS in one BITMASK field.
constexpr uint32_t meta_qfi_present = 1u << 8;
constexpr uint32_t meta_has_ports = 1u << 9;
constexpr uint32_t meta_has_spi = 1u << 10;
constexpr unsigned meta_tos_shift = 16;

// One rte_acl rule before it is laid out: host-order values.
struct AclEntry {
    uint8_t proto = 0;
    uint8_t proto_mask = 0;
    uint32_t ue[4] = {0, 0, 0, 0};
    uint8_t ue_len[4] = {0, 0, 0, 0};
    uint32_t remote[4] = {0, 0, 0, 0};
    uint8_t remote_len[4] = {0, 0, 0, 0};
    PortRange remote_port;
    PortRange ue_port;
    uint32_t teid = 0;
    uint32_t teid_mask = 0;
    uint32_t meta = 0;
    uint32_t meta_mask = 0;
    uint32_t spi = 0;
    uint32_t spi_mask = 0;
    uint32_t flow_label = 0;
    uint32_t flow_label_mask = 0;
    uint32_t userdata = 0;  // rank + 1
    int32_t priority = 0;
};

// One rte_acl input group.
enum class SlotKind : uint8_t { proto, ue, remote, ports, teid, meta, spi, flow_label };
struct Slot {
    SlotKind kind;
    uint8_t word;  // address word (0-3)
    uint32_t offset;
};

constexpr size_t max_acl_fields = 16;
RTE_ACL_RULE_DEF(AclRule, max_acl_fields);

// Memory budget of one context's run-time structures (rte_acl_config::max_size).
constexpr size_t acl_max_size = size_t{32} << 20;

// Upper bound per context, after port-range expansion.
constexpr size_t max_acl_rules = 65536;

std::atomic<uint64_t> acl_ctx_counter{0};

std::vector<Slot> all_slots(uint8_t family) {
    std::vector<Slot> s;
    if (family == 4) {
        s = {{SlotKind::proto, 0, offsetof(AclKey4, proto)},
             {SlotKind::ue, 0, offsetof(AclKey4, ue)},
             {SlotKind::remote, 0, offsetof(AclKey4, remote)},
             {SlotKind::ports, 0, offsetof(AclKey4, remote_port)},
             {SlotKind::teid, 0, offsetof(AclKey4, teid)},
             {SlotKind::meta, 0, offsetof(AclKey4, meta)},
             {SlotKind::spi, 0, offsetof(AclKey4, spi)}};
        return s;
    }
    s.push_back({SlotKind::proto, 0, offsetof(AclKey6, proto)});
    for (uint8_t w = 0; w < 4; ++w) {
        s.push_back({SlotKind::ue, w, static_cast<uint32_t>(offsetof(AclKey6, ue) + 4 * w)});
    }
    for (uint8_t w = 0; w < 4; ++w) {
        s.push_back(
            {SlotKind::remote, w, static_cast<uint32_t>(offsetof(AclKey6, remote) + 4 * w)});
    }
    s.push_back({SlotKind::ports, 0, offsetof(AclKey6, remote_port)});
    s.push_back({SlotKind::teid, 0, offsetof(AclKey6, teid)});
    s.push_back({SlotKind::meta, 0, offsetof(AclKey6, meta)});
    s.push_back({SlotKind::spi, 0, offsetof(AclKey6, spi)});
    s.push_back({SlotKind::flow_label, 0, offsetof(AclKey6, flow_label)});
    return s;
}

// Whether any entry constrains the slot (unconstrained slots are left out of the context: every
// input group costs four trie transitions per lookup). The protocol slot is always present.
bool slot_used(const Slot& s, const std::vector<AclEntry>& entries) {
    for (const AclEntry& e : entries) {
        switch (s.kind) {
            case SlotKind::proto:
                return true;
            case SlotKind::ue:
                if (e.ue_len[s.word] != 0) {
                    return true;
                }
                break;
            case SlotKind::remote:
                if (e.remote_len[s.word] != 0) {
                    return true;
                }
                break;
            case SlotKind::ports:
                if (e.remote_port != PortRange{} || e.ue_port != PortRange{}) {
                    return true;
                }
                break;
            case SlotKind::teid:
                if (e.teid_mask != 0) {
                    return true;
                }
                break;
            case SlotKind::meta:
                if (e.meta_mask != 0) {
                    return true;
                }
                break;
            case SlotKind::spi:
                if (e.spi_mask != 0) {
                    return true;
                }
                break;
            case SlotKind::flow_label:
                if (e.flow_label_mask != 0) {
                    return true;
                }
                break;
        }
    }
    return false;
}

void set_field(rte_acl_field& f, uint32_t value, uint32_t mask_range) {
    f.value.u64 = 0;
    f.mask_range.u64 = 0;
    f.value.u32 = value;
    f.mask_range.u32 = mask_range;
}

// Word `w` of an address prefix: host-order value and the prefix length within the word.
void prefix_word(const Prefix& p, unsigned w, uint32_t& value, uint8_t& len) {
    const int l = std::clamp(static_cast<int>(p.len) - static_cast<int>(32 * w), 0, 32);
    len = static_cast<uint8_t>(l);
    const uint32_t mask = l == 0 ? 0 : ~uint32_t{0} << (32 - l);
    value = rd32(p.addr.data() + 4 * w) & mask;
}

struct AclContext {
    rte_acl_ctx* ctx = nullptr;
    ~AclContext() { rte_acl_free(ctx); }
};

}  // namespace

// ------------------------------------------------------------------------------ public API

std::variant<FlowDescription, std::string> parse_flow_description(std::string_view text) {
    FlowDescription fd;
    Lexer lex(text);
    Token t = lex.next();
    if (t.text.empty()) {
        return std::string("empty flow description");
    }
    if (iequals(t.text, "deny")) {
        return "action 'deny' is not supported" + at(t) + " (only 'permit')";
    }
    if (!iequals(t.text, "permit")) {
        return expected("'permit'", t);
    }
    t = lex.next();
    if (iequals(t.text, "in")) {
        return "direction 'in' is not supported" + at(t) +
               " (filters are written for the downlink: 'out')";
    }
    if (!iequals(t.text, "out")) {
        return expected("'out'", t);
    }
    t = lex.next();
    if (t.text.empty()) {
        return expected("a protocol ('ip' or 0-255)", t);
    }
    if (!iequals(t.text, "ip")) {
        uint32_t p = 0;
        if (!parse_uint(t.text, 255, p)) {
            return "invalid protocol '" + std::string(t.text) + "'" + at(t) +
                   " (expected 'ip' or 0-255)";
        }
        fd.proto = static_cast<uint8_t>(p);
    }
    t = lex.next();
    if (!iequals(t.text, "from")) {
        return expected("'from'", t);
    }
    bool assigned = false;
    t = lex.next();
    if (auto e = parse_address(t, false, fd.remote, assigned)) {
        return *e;
    }
    t = lex.next();
    if (starts_with_digit(t.text)) {
        if (auto e = parse_ports(t, fd.remote_ports)) {
            return *e;
        }
        t = lex.next();
    }
    if (!iequals(t.text, "to")) {
        return expected(fd.remote_ports.empty() ? "source ports or 'to'" : "'to'", t);
    }
    t = lex.next();
    if (auto e = parse_address(t, true, fd.ue, fd.ue_assigned)) {
        return *e;
    }
    if (fd.remote.family != 0 && fd.ue.family != 0 && fd.remote.family != fd.ue.family) {
        return "address families of 'from' (IPv" + std::to_string(fd.remote.family) +
               ") and 'to' (IPv" + std::to_string(fd.ue.family) + ") differ" + at(t);
    }
    t = lex.next();
    if (starts_with_digit(t.text)) {
        if (auto e = parse_ports(t, fd.ue_ports)) {
            return *e;
        }
        t = lex.next();
    }
    if (!t.text.empty()) {
        if (is_rfc6733_option(t.text)) {
            return "option '" + std::string(t.text) + "' is not supported" + at(t);
        }
        return "unexpected '" + std::string(t.text) + "'" + at(t) + " (end of rule expected)";
    }
    return fd;
}

std::string to_string(const FlowDescription& f) {
    std::string s = "permit out ";
    s += f.proto ? std::to_string(*f.proto) : "ip";
    s += " from " + prefix_string(f.remote);
    append_ports(s, f.remote_ports);
    s += " to ";
    s += f.ue_assigned ? "assigned" : prefix_string(f.ue);
    append_ports(s, f.ue_ports);
    return s;
}

bool extract_key(const uint8_t* ip, size_t len, Direction dir, PacketKey& key) {
    key = PacketKey{};
    if (ip == nullptr || len < 1) {
        return false;
    }
    switch (ip[0] >> 4) {
        case 4:
            return extract_v4(ip, len, dir, key);
        case 6:
            return extract_v6(ip, len, dir, key);
        default:
            return false;
    }
}

bool matches(const Filter& f, const PacketKey& key, const UeAddresses& ue) {
    if (key.family != 4 && key.family != 6) {
        return false;
    }
    if (f.flow) {
        const FlowDescription& fd = *f.flow;
        if (fd.proto && key.proto != *fd.proto) {
            return false;
        }
        if (fd.remote.family != 0 && fd.remote.family != key.family) {
            return false;
        }
        if (!fd.ue_assigned && fd.ue.family != 0 && fd.ue.family != key.family) {
            return false;
        }
        if (!prefix_contains(fd.remote, key.family, key.remote) ||
            !prefix_contains(ue_prefix(fd, key.family, ue), key.family, key.ue)) {
            return false;
        }
        if (!fd.remote_ports.empty() &&
            (!key.has_ports ||
             !in_ranges(fd.remote_ports.data(), fd.remote_ports.size(), key.remote_port))) {
            return false;
        }
        if (!fd.ue_ports.empty() &&
            (!key.has_ports || !in_ranges(fd.ue_ports.data(), fd.ue_ports.size(), key.ue_port))) {
            return false;
        }
    }
    if (f.tos && ((key.tos ^ (*f.tos)[0]) & (*f.tos)[1]) != 0) {
        return false;
    }
    if (f.spi && (!key.has_spi || key.spi != *f.spi)) {
        return false;
    }
    if (f.flow_label && (key.family != 6 || (key.flow_label & flow_label_mask) != *f.flow_label)) {
        return false;
    }
    return true;
}

// ------------------------------------------------------------------------------ Classifier

struct Classifier::Impl {
    bool acl = false;
    size_t filter_count = 0;

    // Linear: rules in match order.
    std::vector<LinRule> rules;
    std::vector<LinFilter> filters;
    std::vector<PortRange> ports;

    // rte_acl: userdata (rank + 1) -> pdr_index.
    std::vector<uint16_t> pdr_by_rank;
    AclContext v4;
    AclContext v6;

    int match_linear(const PacketKey& key, uint32_t teid, std::optional<uint8_t> qfi) const;
    int match_acl(const PacketKey& key, uint32_t teid, std::optional<uint8_t> qfi) const;

    void compile_linear(const std::vector<RuleInput>& sorted, const UeAddresses& ue);
    bool compile_acl(const std::vector<RuleInput>& sorted, const UeAddresses& ue, std::string* err);
};

void Classifier::Impl::compile_linear(const std::vector<RuleInput>& sorted, const UeAddresses& ue) {
    for (const RuleInput& r : sorted) {
        LinRule lr;
        lr.pdr_index = r.pdr_index;
        lr.has_teid = r.teid.has_value();
        lr.teid = r.teid.value_or(0);
        lr.has_qfi = r.qfi.has_value();
        lr.qfi = r.qfi.value_or(0);
        lr.first = static_cast<uint32_t>(filters.size());
        lr.count = static_cast<uint32_t>(r.filters.size());
        for (const Filter& f : r.filters) {
            LinFilter lf;
            lf.families = filter_families(f);
            if (f.flow) {
                const FlowDescription& fd = *f.flow;
                lf.any_proto = !fd.proto.has_value();
                lf.proto = fd.proto.value_or(0);
                lf.remote = masked(fd.remote);
                lf.ue[0] = masked(ue_prefix(fd, 4, ue));
                lf.ue[1] = masked(ue_prefix(fd, 6, ue));
                lf.need_ports = !fd.remote_ports.empty() || !fd.ue_ports.empty();
                std::vector<PortRange> rp = merged(fd.remote_ports);
                std::vector<PortRange> up = merged(fd.ue_ports);
                lf.remote_ports = static_cast<uint32_t>(ports.size());
                lf.n_remote_ports = static_cast<uint16_t>(rp.size());
                ports.insert(ports.end(), rp.begin(), rp.end());
                lf.ue_ports = static_cast<uint32_t>(ports.size());
                lf.n_ue_ports = static_cast<uint16_t>(up.size());
                ports.insert(ports.end(), up.begin(), up.end());
            }
            if (f.tos) {
                lf.tos_mask = (*f.tos)[1];
                lf.tos = (*f.tos)[0] & lf.tos_mask;
            }
            lf.has_spi = f.spi.has_value();
            lf.spi = f.spi.value_or(0);
            lf.has_flow_label = f.flow_label.has_value();
            lf.flow_label = f.flow_label.value_or(0);
            filters.push_back(lf);
        }
        rules.push_back(lr);
    }
}

int Classifier::Impl::match_linear(const PacketKey& key, uint32_t teid,
                                   std::optional<uint8_t> qfi) const {
    const unsigned fi = key.family == 6 ? 1 : 0;
    const uint8_t fam = key.family == 6 ? fam_v6 : fam_v4;
    for (const LinRule& r : rules) {
        if ((r.has_teid && r.teid != teid) || (r.has_qfi && (!qfi || *qfi != r.qfi))) {
            continue;
        }
        if (r.count == 0) {
            return r.pdr_index;
        }
        for (uint32_t i = r.first; i < r.first + r.count; ++i) {
            const LinFilter& f = filters[i];
            if ((f.families & fam) == 0 || (!f.any_proto && key.proto != f.proto) ||
                !masked_match(f.remote, key.remote) || !masked_match(f.ue[fi], key.ue)) {
                continue;
            }
            if (f.need_ports &&
                (!key.has_ports ||
                 (f.n_remote_ports != 0 &&
                  !in_ranges(&ports[f.remote_ports], f.n_remote_ports, key.remote_port)) ||
                 (f.n_ue_ports != 0 &&
                  !in_ranges(&ports[f.ue_ports], f.n_ue_ports, key.ue_port)))) {
                continue;
            }
            if ((key.tos & f.tos_mask) != f.tos ||
                (f.has_spi && (!key.has_spi || key.spi != f.spi)) ||
                (f.has_flow_label && (key.flow_label & flow_label_mask) != f.flow_label)) {
                continue;
            }
            return r.pdr_index;
        }
    }
    return -1;
}

bool Classifier::Impl::compile_acl(const std::vector<RuleInput>& sorted, const UeAddresses& ue,
                                   std::string* err) {
    // rte_acl_create dereferences EAL's shared configuration: refuse instead of crashing.
    if (rte_lcore_count() == 0) {
        *err = "rte_acl needs an initialised EAL";
        return false;
    }
    std::vector<AclEntry> entries[2];  // IPv4, IPv6
    for (size_t rank = 0; rank < sorted.size(); ++rank) {
        const RuleInput& r = sorted[rank];
        pdr_by_rank.push_back(r.pdr_index);
        AclEntry base;
        base.userdata = static_cast<uint32_t>(rank + 1);
        // Unique priorities: rte_acl leaves ties between matching rules unspecified.
        base.priority = static_cast<int32_t>(RTE_ACL_MAX_PRIORITY - rank);
        if (r.teid) {
            base.teid = *r.teid;
            base.teid_mask = ~uint32_t{0};
        }
        if (r.qfi) {
            base.meta = *r.qfi | meta_qfi_present;
            base.meta_mask = 0xff | meta_qfi_present;
        }
        if (r.filters.empty()) {
            entries[0].push_back(base);
            entries[1].push_back(base);
            continue;
        }
        for (const Filter& f : r.filters) {
            const uint8_t fams = filter_families(f);
            for (unsigned fi = 0; fi < 2; ++fi) {
                if ((fams & (fi == 0 ? fam_v4 : fam_v6)) == 0) {
                    continue;
                }
                const uint8_t family = fi == 0 ? 4 : 6;
                AclEntry e = base;
                std::vector<PortRange> rp{PortRange{}};
                std::vector<PortRange> up{PortRange{}};
                if (f.flow) {
                    const FlowDescription& fd = *f.flow;
                    if (fd.proto) {
                        e.proto = *fd.proto;
                        e.proto_mask = 0xff;
                    }
                    const Prefix remote = fd.remote.family == family ? fd.remote : Prefix{};
                    const Prefix uep = ue_prefix(fd, family, ue);
                    for (unsigned w = 0; w < (family == 4 ? 1u : 4u); ++w) {
                        prefix_word(remote, w, e.remote[w], e.remote_len[w]);
                        prefix_word(uep, w, e.ue[w], e.ue_len[w]);
                    }
                    if (!fd.remote_ports.empty()) {
                        rp = merged(fd.remote_ports);
                    }
                    if (!fd.ue_ports.empty()) {
                        up = merged(fd.ue_ports);
                    }
                    // A packet without ports has ports 0 in the key: only a filter whose port
                    // lists all admit 0 needs the "has ports" bit to tell it apart (leaving the
                    // bit out of the others keeps the meta field, four trie levels, out of
                    // most contexts).
                    if ((!fd.remote_ports.empty() || !fd.ue_ports.empty()) && rp[0].lo == 0 &&
                        up[0].lo == 0) {
                        e.meta |= meta_has_ports;
                        e.meta_mask |= meta_has_ports;
                    }
                }
                if (f.tos && (*f.tos)[1] != 0) {
                    e.meta |= static_cast<uint32_t>((*f.tos)[0] & (*f.tos)[1]) << meta_tos_shift;
                    e.meta_mask |= static_cast<uint32_t>((*f.tos)[1]) << meta_tos_shift;
                }
                if (f.spi) {
                    e.meta |= meta_has_spi;
                    e.meta_mask |= meta_has_spi;
                    e.spi = *f.spi;
                    e.spi_mask = ~uint32_t{0};
                }
                if (f.flow_label) {
                    e.flow_label = *f.flow_label;
                    e.flow_label_mask = flow_label_mask;
                }
                if (entries[fi].size() + rp.size() * up.size() > max_acl_rules) {
                    *err = "SDF filters expand to more than " + std::to_string(max_acl_rules) +
                           " IPv" + std::to_string(family) + " ACL rules";
                    return false;
                }
                for (const PortRange& a : rp) {
                    for (const PortRange& b : up) {
                        e.remote_port = a;
                        e.ue_port = b;
                        entries[fi].push_back(e);
                    }
                }
            }
        }
    }

    for (unsigned fi = 0; fi < 2; ++fi) {
        const std::vector<AclEntry>& es = entries[fi];
        if (es.empty()) {
            continue;  // no rule can match this family: match() answers -1 without a context
        }
        const uint8_t family = fi == 0 ? 4 : 6;
        std::vector<Slot> slots;
        for (const Slot& s : all_slots(family)) {
            if (slot_used(s, es)) {
                slots.push_back(s);
            }
        }
        rte_acl_config cfg{};
        cfg.num_categories = 1;
        // Non-zero: rte_acl starts with large tries (NODE_MAX) and halves them until the run-time
        // structures fit; with 0 it starts at the smallest split and runs out of its 8 tries on
        // rule sets with many partly-wild rules.
        cfg.max_size = acl_max_size;
        for (size_t i = 0; i < slots.size(); ++i) {
            const Slot& s = slots[i];
            const auto input = static_cast<uint8_t>(i);
            auto add = [&](uint8_t type, uint8_t size, uint32_t offset) {
                rte_acl_field_def& d = cfg.defs[cfg.num_fields];
                d.type = type;
                d.size = size;
                d.field_index = static_cast<uint8_t>(cfg.num_fields);
                d.input_index = input;
                d.offset = offset;
                ++cfg.num_fields;
            };
            switch (s.kind) {
                case SlotKind::proto:
                    add(RTE_ACL_FIELD_TYPE_BITMASK, 1, s.offset);
                    break;
                case SlotKind::ue:
                case SlotKind::remote:
                    add(RTE_ACL_FIELD_TYPE_MASK, 4, s.offset);
                    break;
                case SlotKind::ports:
                    add(RTE_ACL_FIELD_TYPE_RANGE, 2, s.offset);
                    add(RTE_ACL_FIELD_TYPE_RANGE, 2, s.offset + 2);
                    break;
                default:
                    add(RTE_ACL_FIELD_TYPE_BITMASK, 4, s.offset);
                    break;
            }
        }
        std::vector<AclRule> rules_out(es.size());
        for (size_t n = 0; n < es.size(); ++n) {
            const AclEntry& e = es[n];
            AclRule& ar = rules_out[n];
            std::memset(&ar, 0, sizeof(ar));
            ar.data.category_mask = 1;
            ar.data.priority = e.priority;
            ar.data.userdata = e.userdata;
            size_t k = 0;
            for (const Slot& s : slots) {
                switch (s.kind) {
                    case SlotKind::proto:
                        ar.field[k].value.u8 = e.proto & e.proto_mask;
                        ar.field[k].mask_range.u8 = e.proto_mask;
                        ++k;
                        break;
                    case SlotKind::ue:
                        set_field(ar.field[k++], e.ue[s.word], e.ue_len[s.word]);
                        break;
                    case SlotKind::remote:
                        set_field(ar.field[k++], e.remote[s.word], e.remote_len[s.word]);
                        break;
                    case SlotKind::ports:
                        ar.field[k].value.u16 = e.remote_port.lo;
                        ar.field[k].mask_range.u16 = e.remote_port.hi;
                        ++k;
                        ar.field[k].value.u16 = e.ue_port.lo;
                        ar.field[k].mask_range.u16 = e.ue_port.hi;
                        ++k;
                        break;
                    case SlotKind::teid:
                        set_field(ar.field[k++], e.teid & e.teid_mask, e.teid_mask);
                        break;
                    case SlotKind::meta:
                        set_field(ar.field[k++], e.meta & e.meta_mask, e.meta_mask);
                        break;
                    case SlotKind::spi:
                        set_field(ar.field[k++], e.spi & e.spi_mask, e.spi_mask);
                        break;
                    case SlotKind::flow_label:
                        set_field(ar.field[k++], e.flow_label & e.flow_label_mask,
                                  e.flow_label_mask);
                        break;
                }
            }
        }

        char name[RTE_ACL_NAMESIZE];
        std::snprintf(name, sizeof(name), "sdf%u_%" PRIx64, family,
                      acl_ctx_counter.fetch_add(1, std::memory_order_relaxed));
        rte_acl_param prm{};
        prm.name = name;
        prm.socket_id = SOCKET_ID_ANY;
        prm.rule_size = sizeof(AclRule);
        prm.max_rule_num = static_cast<uint32_t>(es.size());
        AclContext& c = fi == 0 ? v4 : v6;
        c.ctx = rte_acl_create(&prm);
        if (c.ctx == nullptr) {
            *err = "rte_acl_create " + std::string(name) + ": " + rte_strerror(rte_errno);
            return false;
        }
        int rc = rte_acl_add_rules(c.ctx, reinterpret_cast<const rte_acl_rule*>(rules_out.data()),
                                   static_cast<uint32_t>(rules_out.size()));
        if (rc != 0) {
            *err = "rte_acl_add_rules " + std::string(name) + ": " + rte_strerror(-rc);
            return false;
        }
        rc = rte_acl_build(c.ctx, &cfg);
        if (rc != 0) {
            *err = "rte_acl_build " + std::string(name) + " (" + std::to_string(es.size()) +
                   " rules, " + std::to_string(cfg.num_fields) + " fields): " + rte_strerror(-rc);
            return false;
        }
    }
    return true;
}

int Classifier::Impl::match_acl(const PacketKey& key, uint32_t teid,
                                std::optional<uint8_t> qfi) const {
    uint32_t meta = 0;
    if (qfi) {
        meta |= *qfi | meta_qfi_present;
    }
    if (key.has_ports) {
        meta |= meta_has_ports;
    }
    if (key.has_spi) {
        meta |= meta_has_spi;
    }
    meta |= static_cast<uint32_t>(key.tos) << meta_tos_shift;
    const uint16_t rport = rte_cpu_to_be_16(key.has_ports ? key.remote_port : 0);
    const uint16_t uport = rte_cpu_to_be_16(key.has_ports ? key.ue_port : 0);
    const uint32_t spi = rte_cpu_to_be_32(key.has_spi ? key.spi : 0);
    uint32_t result = 0;
    if (key.family == 4) {
        if (v4.ctx == nullptr) {
            return -1;
        }
        AclKey4 k{};
        k.proto = key.proto;
        std::memcpy(&k.ue, key.ue.data(), 4);
        std::memcpy(&k.remote, key.remote.data(), 4);
        k.remote_port = rport;
        k.ue_port = uport;
        k.teid = rte_cpu_to_be_32(teid);
        k.meta = rte_cpu_to_be_32(meta);
        k.spi = spi;
        const auto* p = reinterpret_cast<const uint8_t*>(&k);
        if (rte_acl_classify(v4.ctx, &p, &result, 1, 1) != 0) {
            return -1;
        }
    } else {
        if (v6.ctx == nullptr) {
            return -1;
        }
        AclKey6 k{};
        k.proto = key.proto;
        std::memcpy(k.ue, key.ue.data(), 16);
        std::memcpy(k.remote, key.remote.data(), 16);
        k.remote_port = rport;
        k.ue_port = uport;
        k.teid = rte_cpu_to_be_32(teid);
        k.meta = rte_cpu_to_be_32(meta);
        k.spi = spi;
        k.flow_label = rte_cpu_to_be_32(key.flow_label & flow_label_mask);
        const auto* p = reinterpret_cast<const uint8_t*>(&k);
        if (rte_acl_classify(v6.ctx, &p, &result, 1, 1) != 0) {
            return -1;
        }
    }
    if (result == 0 || result > pdr_by_rank.size()) {
        return -1;
    }
    return pdr_by_rank[result - 1];
}

std::unique_ptr<Classifier> Classifier::build(std::vector<RuleInput> rules, const UeAddresses& ue,
                                              std::string* err) {
    return build(std::move(rules), ue, err, Engine::automatic);
}

std::unique_ptr<Classifier> Classifier::build(std::vector<RuleInput> rules, const UeAddresses& ue,
                                              std::string* err, Engine engine) {
    std::string scratch;
    if (err == nullptr) {
        err = &scratch;
    }
    if (auto e = validate_prefix(ue.v4, "UE IPv4 address")) {
        *err = *e;
        return nullptr;
    }
    if (auto e = validate_prefix(ue.v6, "UE IPv6 prefix")) {
        *err = *e;
        return nullptr;
    }
    if (ue.v4.family == 6 || ue.v6.family == 4) {
        *err = "UE addresses: IPv4 and IPv6 swapped";
        return nullptr;
    }
    size_t count = 0;
    for (const RuleInput& r : rules) {
        if (r.qfi && *r.qfi > 63) {
            *err = "PDR index " + std::to_string(r.pdr_index) + ": QFI " + std::to_string(*r.qfi) +
                   " exceeds 6 bits";
            return nullptr;
        }
        for (size_t i = 0; i < r.filters.size(); ++i) {
            if (auto e = validate_filter(r.filters[i])) {
                *err = "PDR index " + std::to_string(r.pdr_index) + " SDF filter " +
                       std::to_string(i + 1) + ": " + *e;
                return nullptr;
            }
        }
        count += r.filters.size();
    }
    if (rules.size() >= RTE_ACL_MAX_PRIORITY) {
        *err = "too many rules";
        return nullptr;
    }
    // TS 29.244 §5.2.1: the lowest precedence value wins; ties by PDR index for determinism.
    std::stable_sort(rules.begin(), rules.end(), [](const RuleInput& a, const RuleInput& b) {
        return a.precedence != b.precedence ? a.precedence < b.precedence
                                            : a.pdr_index < b.pdr_index;
    });

    std::unique_ptr<Classifier> c(new Classifier());
    c->impl_ = std::make_unique<Impl>();
    c->impl_->filter_count = count;
    c->impl_->acl = engine == Engine::acl || (engine == Engine::automatic && count > acl_threshold);
    if (c->impl_->acl) {
        if (!c->impl_->compile_acl(rules, ue, err)) {
            return nullptr;
        }
    } else {
        c->impl_->compile_linear(rules, ue);
    }
    return c;
}

Classifier::~Classifier() = default;

int Classifier::match(const PacketKey& key, uint32_t teid, std::optional<uint8_t> qfi) const {
    if (key.family != 4 && key.family != 6) {
        return -1;
    }
    return impl_->acl ? impl_->match_acl(key, teid, qfi) : impl_->match_linear(key, teid, qfi);
}

bool Classifier::uses_acl() const {
    return impl_->acl;
}

size_t Classifier::filter_count() const {
    return impl_->filter_count;
}

}  // namespace braid::dataplane::sdf
