#include "mptcp/wire/options.h"

#include <algorithm>

namespace braid::mptcp::wire {

namespace {

constexpr std::string_view error_names[] = {
#define BRAID_X(name, help) #name,
    BRAID_MPTCP_WIRE_ERRORS(BRAID_X)
#undef BRAID_X
};
constexpr std::string_view error_help[] = {
#define BRAID_X(name, help) help,
    BRAID_MPTCP_WIRE_ERRORS(BRAID_X)
#undef BRAID_X
};

// Big-endian readers over a span whose length the caller has checked.
uint16_t be16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
uint32_t be32(const uint8_t* p) {
    return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
uint64_t be64(const uint8_t* p) {
    return uint64_t{be32(p)} << 32 | be32(p + 4);
}

// A cursor for emit(): the length was computed first, so writes never overrun.
struct Writer {
    uint8_t* p;
    void u8(uint8_t v) { *p++ = v; }
    void u16(uint16_t v) {
        u8(static_cast<uint8_t>(v >> 8));
        u8(static_cast<uint8_t>(v));
    }
    void u32(uint32_t v) {
        u16(static_cast<uint16_t>(v >> 16));
        u16(static_cast<uint16_t>(v));
    }
    void u64(uint64_t v) {
        u32(static_cast<uint32_t>(v >> 32));
        u32(static_cast<uint32_t>(v));
    }
    void bytes(std::span<const uint8_t> b) {
        std::copy(b.begin(), b.end(), p);
        p += b.size();
    }
};

ParseResult fail(ParseError e) {
    return ParseResult{std::nullopt, e};
}
ParseResult ok(Option o) {
    return ParseResult{std::move(o), ParseError::count};
}

// --- parse, one function per subtype; `b` is the whole option, b.size() = length byte ------

ParseResult parse_capable(std::span<const uint8_t> b) {
    if ((b[2] & 0x0f) != mptcp_version) {
        return fail(ParseError::capable_bad_version);
    }
    size_t len = b.size();
    if (len != 4 && len != 12 && len != 20 && len != 22 && len != 24) {
        return fail(ParseError::capable_bad_length);
    }
    MpCapable c;
    c.flags = b[3];
    if (len >= 12) {
        c.sender_key = be64(&b[4]);
    }
    if (len >= 20) {
        c.receiver_key = be64(&b[12]);
    }
    if (len >= 22) {
        c.data_len = be16(&b[20]);
    }
    if (len == 24) {
        c.checksum = be16(&b[22]);
    }
    return ok(c);
}

ParseResult parse_join(std::span<const uint8_t> b) {
    bool backup = (b[2] & 0x01) != 0;
    switch (b.size()) {
        case 12:
            return ok(MpJoinSyn{backup, b[3], be32(&b[4]), be32(&b[8])});
        case 16:
            return ok(MpJoinSynAck{backup, b[3], be64(&b[4]), be32(&b[12])});
        case 24: {
            MpJoinAck a;
            std::copy(b.begin() + 4, b.end(), a.hmac.begin());
            return ok(a);
        }
        default:
            return fail(ParseError::join_bad_length);
    }
}

// Length a DSS with these flags has without the optional checksum.
size_t dss_base_len(uint8_t flags) {
    size_t n = 4;
    if (flags & dss_flag::data_ack) {
        n += (flags & dss_flag::data_ack8) ? 8 : 4;
    }
    if (flags & dss_flag::mapping) {
        n += ((flags & dss_flag::dsn8) ? 8 : 4) + 4 + 2;
    }
    return n;
}

ParseResult parse_dss(std::span<const uint8_t> b) {
    uint8_t flags = b[3];
    size_t base = dss_base_len(flags);
    bool has_map = (flags & dss_flag::mapping) != 0;
    bool csum = has_map && b.size() == base + 2;
    if (b.size() != base && !csum) {
        return fail(ParseError::dss_bad_length);
    }
    Dss d;
    d.data_fin = (flags & dss_flag::data_fin) != 0;
    const uint8_t* p = &b[4];
    if (flags & dss_flag::data_ack) {
        // 'a' is meaningful only with 'A' (§3.3); without A it is ignored (left at its default).
        d.data_ack8 = (flags & dss_flag::data_ack8) != 0;
        d.data_ack = d.data_ack8 ? be64(p) : be32(p);
        p += d.data_ack8 ? 8 : 4;
    }
    if (has_map) {
        DssMapping m;
        m.dsn8 = (flags & dss_flag::dsn8) != 0;
        m.dsn = m.dsn8 ? be64(p) : be32(p);
        p += m.dsn8 ? 8 : 4;
        m.ssn = be32(p);
        m.data_len = be16(p + 4);
        if (csum) {
            m.checksum = be16(p + 6);
        }
        d.mapping = m;
    }
    return ok(d);
}

ParseResult parse_add_addr(std::span<const uint8_t> b) {
    bool echo = (b[2] & 0x01) != 0;
    size_t len = b.size();
    // IPv4 lengths are 8..18, IPv6 20..30; after the address: nothing, port (2), HMAC (8) or
    // port and HMAC (10).
    bool v6 = len >= 20;
    size_t alen = v6 ? 16 : 4;
    size_t rest = len >= 4 + alen ? len - 4 - alen : 1;
    if (rest != 0 && rest != 2 && rest != 8 && rest != 10) {
        return fail(ParseError::add_addr_bad_length);
    }
    bool port = (rest & 2) != 0;
    bool hmac = rest >= 8;
    if (echo && hmac) {
        return fail(ParseError::add_addr_echo_with_hmac);
    }
    if (!echo && !hmac) {
        return fail(ParseError::add_addr_missing_hmac);
    }
    AddAddr a;
    a.echo = echo;
    a.address_id = b[3];
    a.address.v6 = v6;
    std::copy(b.begin() + 4, b.begin() + 4 + static_cast<ptrdiff_t>(alen), a.address.bytes.begin());
    const uint8_t* p = &b[4 + alen];
    if (port) {
        a.port = be16(p);
        p += 2;
    }
    if (hmac) {
        a.truncated_hmac = be64(p);
    }
    return ok(a);
}

ParseResult parse_remove_addr(std::span<const uint8_t> b) {
    if (b.size() < 4) {
        return fail(ParseError::remove_addr_empty);
    }
    RemoveAddr r;
    r.count = static_cast<uint8_t>(b.size() - 3);
    std::copy(b.begin() + 3, b.end(), r.ids.begin());
    return ok(r);
}

}  // namespace

std::string_view to_string(ParseError e) {
    auto i = static_cast<size_t>(e);
    return i < std::size(error_names) ? error_names[i] : "unknown";
}

std::string_view help(ParseError e) {
    auto i = static_cast<size_t>(e);
    return i < std::size(error_help) ? error_help[i] : "unknown";
}

CapableFlagsError check_capable_flags(uint8_t flags) {
    if (flags & capable_flag::extensibility) {
        return CapableFlagsError::extensibility_set;
    }
    // v1 knows one algorithm, HMAC-SHA256 (H); D..G are unassigned.
    if ((flags & capable_flag::hmac_sha256) == 0) {
        return CapableFlagsError::no_crypto_algorithm;
    }
    return CapableFlagsError::none;
}

bool Dss::operator==(const Dss& o) const {
    if (data_ack != o.data_ack || mapping != o.mapping || data_fin != o.data_fin) {
        return false;
    }
    return !data_ack || data_ack8 == o.data_ack8;
}

bool IpAddress::operator==(const IpAddress& o) const {
    return v6 == o.v6 && std::ranges::equal(view(), o.view());
}

bool RemoveAddr::operator==(const RemoveAddr& o) const {
    return std::ranges::equal(id_list(), o.id_list());
}

ParseResult parse(std::span<const uint8_t> b) {
    if (b.size() < 2) {
        return fail(ParseError::truncated);
    }
    if (b[0] != option_kind) {
        return fail(ParseError::not_mptcp);
    }
    if (b[1] > max_option_len) {
        return fail(ParseError::too_long);
    }
    // Every subtype needs its subtype byte; length 2 or a length past the bytes is truncation.
    if (b[1] < 3 || b.size() < b[1]) {
        return fail(ParseError::truncated);
    }
    if (b.size() > b[1]) {
        return fail(ParseError::trailing_bytes);
    }
    switch (static_cast<Subtype>(b[2] >> 4)) {
        case Subtype::mp_capable:
            // The version nibble needs byte 2 only, but the flags byte must be there too.
            if (b.size() < 4) {
                return fail(ParseError::capable_bad_length);
            }
            return parse_capable(b);
        case Subtype::mp_join:
            return parse_join(b);
        case Subtype::dss:
            if (b.size() < 4) {
                return fail(ParseError::dss_bad_length);
            }
            return parse_dss(b);
        case Subtype::add_addr:
            return parse_add_addr(b);
        case Subtype::remove_addr:
            return parse_remove_addr(b);
        case Subtype::mp_prio:
            if (b.size() != 3) {
                return fail(ParseError::prio_bad_length);
            }
            return ok(MpPrio{(b[2] & 0x01) != 0});
        case Subtype::mp_fail:
            if (b.size() != 12) {
                return fail(ParseError::fail_bad_length);
            }
            return ok(MpFail{be64(&b[4])});
        case Subtype::mp_fastclose:
            if (b.size() != 12) {
                return fail(ParseError::fastclose_bad_length);
            }
            return ok(MpFastclose{be64(&b[4])});
        case Subtype::mp_tcprst:
            if (b.size() != 4) {
                return fail(ParseError::tcprst_bad_length);
            }
            return ok(MpTcpRst{(b[2] & tcprst_flag::transient) != 0, b[3]});
    }
    return fail(ParseError::unknown_subtype);
}

// --- emit -----------------------------------------------------------------------------------

namespace {

std::optional<size_t> len_of(const MpCapable& c) {
    if (!c.sender_key) {
        if (c.receiver_key || c.data_len || c.checksum) {
            return std::nullopt;
        }
        return 4;
    }
    if (!c.receiver_key) {
        if (c.data_len || c.checksum) {
            return std::nullopt;
        }
        return 12;
    }
    if (!c.data_len) {
        if (c.checksum) {
            return std::nullopt;
        }
        return 20;
    }
    return c.checksum ? 24 : 22;
}
std::optional<size_t> len_of(const MpJoinSyn&) {
    return 12;
}
std::optional<size_t> len_of(const MpJoinSynAck&) {
    return 16;
}
std::optional<size_t> len_of(const MpJoinAck&) {
    return 24;
}
std::optional<size_t> len_of(const Dss& d) {
    size_t n = 4;
    if (d.data_ack) {
        n += d.data_ack8 ? 8 : 4;
    }
    if (d.mapping) {
        n += (d.mapping->dsn8 ? 8 : 4) + 4 + 2 + (d.mapping->checksum ? 2 : 0);
    }
    return n;
}
std::optional<size_t> len_of(const AddAddr& a) {
    if (a.echo == a.truncated_hmac.has_value()) {
        return std::nullopt;
    }
    return 4 + (a.address.v6 ? 16 : 4) + (a.port ? 2 : 0) + (a.truncated_hmac ? 8 : 0);
}
std::optional<size_t> len_of(const RemoveAddr& r) {
    if (r.count == 0 || r.count > max_remove_ids) {
        return std::nullopt;
    }
    return 3 + size_t{r.count};
}
std::optional<size_t> len_of(const MpPrio&) {
    return 3;
}
std::optional<size_t> len_of(const MpFail&) {
    return 12;
}
std::optional<size_t> len_of(const MpFastclose&) {
    return 12;
}
std::optional<size_t> len_of(const MpTcpRst&) {
    return 4;
}

uint8_t sub(Subtype s, uint8_t low = 0) {
    return static_cast<uint8_t>(static_cast<uint8_t>(s) << 4 | (low & 0x0f));
}

void put(Writer& w, const MpCapable& c) {
    w.u8(sub(Subtype::mp_capable, mptcp_version));
    w.u8(c.flags);
    if (c.sender_key) {
        w.u64(*c.sender_key);
    }
    if (c.receiver_key) {
        w.u64(*c.receiver_key);
    }
    if (c.data_len) {
        w.u16(*c.data_len);
    }
    if (c.checksum) {
        w.u16(*c.checksum);
    }
}
void put(Writer& w, const MpJoinSyn& j) {
    w.u8(sub(Subtype::mp_join, j.backup ? 1 : 0));
    w.u8(j.address_id);
    w.u32(j.token);
    w.u32(j.nonce);
}
void put(Writer& w, const MpJoinSynAck& j) {
    w.u8(sub(Subtype::mp_join, j.backup ? 1 : 0));
    w.u8(j.address_id);
    w.u64(j.truncated_hmac);
    w.u32(j.nonce);
}
void put(Writer& w, const MpJoinAck& j) {
    w.u8(sub(Subtype::mp_join));
    w.u8(0);
    w.bytes(j.hmac);
}
void put(Writer& w, const Dss& d) {
    uint8_t flags = 0;
    if (d.data_ack) {
        flags |= dss_flag::data_ack | (d.data_ack8 ? dss_flag::data_ack8 : 0);
    }
    if (d.mapping) {
        flags |= dss_flag::mapping | (d.mapping->dsn8 ? dss_flag::dsn8 : 0);
    }
    if (d.data_fin) {
        flags |= dss_flag::data_fin;
    }
    w.u8(sub(Subtype::dss));
    w.u8(flags);
    if (d.data_ack) {
        if (d.data_ack8) {
            w.u64(*d.data_ack);
        } else {
            w.u32(static_cast<uint32_t>(*d.data_ack));
        }
    }
    if (d.mapping) {
        const DssMapping& m = *d.mapping;
        if (m.dsn8) {
            w.u64(m.dsn);
        } else {
            w.u32(static_cast<uint32_t>(m.dsn));
        }
        w.u32(m.ssn);
        w.u16(m.data_len);
        if (m.checksum) {
            w.u16(*m.checksum);
        }
    }
}
void put(Writer& w, const AddAddr& a) {
    w.u8(sub(Subtype::add_addr, a.echo ? 1 : 0));
    w.u8(a.address_id);
    w.bytes(a.address.view());
    if (a.port) {
        w.u16(*a.port);
    }
    if (a.truncated_hmac) {
        w.u64(*a.truncated_hmac);
    }
}
void put(Writer& w, const RemoveAddr& r) {
    w.u8(sub(Subtype::remove_addr));
    w.bytes(r.id_list());
}
void put(Writer& w, const MpPrio& p) {
    w.u8(sub(Subtype::mp_prio, p.backup ? 1 : 0));
}
void put(Writer& w, const MpFail& f) {
    w.u8(sub(Subtype::mp_fail));
    w.u8(0);
    w.u64(f.dsn);
}
void put(Writer& w, const MpFastclose& f) {
    w.u8(sub(Subtype::mp_fastclose));
    w.u8(0);
    w.u64(f.receiver_key);
}
void put(Writer& w, const MpTcpRst& r) {
    w.u8(sub(Subtype::mp_tcprst, r.transient ? tcprst_flag::transient : 0));
    w.u8(r.reason);
}

}  // namespace

std::optional<size_t> option_len(const Option& o) {
    return std::visit([](const auto& v) { return len_of(v); }, o);
}

std::optional<size_t> emit(const Option& o, std::span<uint8_t> out) {
    std::optional<size_t> n = option_len(o);
    if (!n || *n > max_option_len || out.size() < *n) {
        return std::nullopt;
    }
    Writer w{out.data()};
    w.u8(option_kind);
    w.u8(static_cast<uint8_t>(*n));
    std::visit([&w](const auto& v) { put(w, v); }, o);
    return n;
}

}  // namespace braid::mptcp::wire
