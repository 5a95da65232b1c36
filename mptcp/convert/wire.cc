#include "mptcp/convert/wire.h"

#include <rte_mbuf.h>

namespace braid::mptcp::convert::wire {

namespace {

struct ErrorInfo {
    std::string_view name;
    Action action;
    ErrorCode code;
    std::string_view help;
};

constexpr ErrorInfo error_info[] = {
#define BRAID_X(name, action, code, help) {#name, Action::action, ErrorCode::code, help},
    BRAID_CONVERT_PARSE_ERRORS(BRAID_X)
#undef BRAID_X
};

uint16_t be16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

ParseResult fail(ParseError e) {
    return ParseResult{Status::failed, 0, e};
}

// Bit per TLV type seen, for "each TLV type at most once" (§6.2.1).
struct Seen {
    std::array<bool, 256> type{};
};

// The Connect TLV `t` (whole TLV, t.size() = 4 * Length >= 4).
std::optional<ParseError> parse_connect(std::span<const uint8_t> t, Connect& c) {
    if (t.size() < connect_base_len) {
        return ParseError::connect_too_short;
    }
    c.port = be16(&t[2]);
    std::copy(t.begin() + 4, t.begin() + 20, c.address.bytes.begin());
    if (is_forbidden_destination(c.address)) {
        return ParseError::connect_bad_address;
    }
    c.options.size = 0;
    // Kind Len Value entries; NOP is ignored (§7.1); a zero byte (EOL) starts the padding.
    size_t i = connect_base_len;
    while (i < t.size()) {
        uint8_t kind = t[i];
        if (kind == 0) {
            for (size_t j = i; j < t.size(); ++j) {
                if (t[j] != 0) {
                    return ParseError::connect_bad_padding;
                }
            }
            break;
        }
        if (kind == 1) {
            ++i;
            continue;
        }
        if (i + 2 > t.size() || t[i + 1] < 2 || i + t[i + 1] > t.size()) {
            return ParseError::connect_bad_option;
        }
        size_t len = t[i + 1];
        for (size_t j = 0; j < len; ++j) {
            c.options.push(t[i + j]);  // fits: the list is shorter than the TLV
        }
        i += len;
    }
    return std::nullopt;
}

std::optional<ParseError> parse_tlv(std::span<const uint8_t> t, Message& m) {
    switch (static_cast<TlvType>(t[0])) {
        case TlvType::info:
            if (t.size() != 4) {
                return ParseError::info_bad_length;
            }
            m.info = true;
            return std::nullopt;
        case TlvType::connect: {
            Connect& c = m.connect.emplace();
            return parse_connect(t, c);
        }
        case TlvType::extended_tcp_header:
            m.extended_tcp_header.emplace().assign(t.subspan(4));
            return std::nullopt;
        case TlvType::supported_tcp_extensions: {
            auto& kinds = m.supported_extensions.emplace();
            size_t i = 4;
            for (; i < t.size() && t[i] != 0; ++i) {
                kinds.push(t[i]);
            }
            for (; i < t.size(); ++i) {
                if (t[i] != 0) {
                    return ParseError::supported_bad_padding;
                }
            }
            return std::nullopt;
        }
        case TlvType::cookie:
            m.cookie.emplace().assign(t.subspan(4));
            return std::nullopt;
        case TlvType::error: {
            ErrorTlv& e = m.error.emplace();
            e.code = t[2];
            e.value.assign(t.subspan(3));
            return std::nullopt;
        }
    }
    return t[0] == 0 ? ParseError::reserved_type : ParseError::unknown_type;
}

}  // namespace

std::string_view to_string(ErrorCode c) {
    switch (c) {
#define BRAID_X(name, value, text) \
    case ErrorCode::name:          \
        return #name;
        BRAID_CONVERT_ERROR_CODES(BRAID_X)
#undef BRAID_X
    }
    return "unknown";
}

std::string_view to_string(ParseError e) {
    auto i = static_cast<size_t>(e);
    return i < std::size(error_info) ? error_info[i].name : "unknown";
}
std::string_view help(ParseError e) {
    auto i = static_cast<size_t>(e);
    return i < std::size(error_info) ? error_info[i].help : "";
}
Action action(ParseError e) {
    auto i = static_cast<size_t>(e);
    return i < std::size(error_info) ? error_info[i].action : Action::ignore;
}
ErrorCode error_code(ParseError e) {
    auto i = static_cast<size_t>(e);
    return i < std::size(error_info) ? error_info[i].code : ErrorCode::malformed_message;
}

Address Address::v4(uint32_t host_order) {
    Address a;
    a.bytes[10] = 0xff;
    a.bytes[11] = 0xff;
    a.bytes[12] = static_cast<uint8_t>(host_order >> 24);
    a.bytes[13] = static_cast<uint8_t>(host_order >> 16);
    a.bytes[14] = static_cast<uint8_t>(host_order >> 8);
    a.bytes[15] = static_cast<uint8_t>(host_order);
    return a;
}

bool Address::is_v4() const {
    for (size_t i = 0; i < 10; ++i) {
        if (bytes[i] != 0) {
            return false;
        }
    }
    return bytes[10] == 0xff && bytes[11] == 0xff;
}

uint32_t Address::v4_host() const {
    return uint32_t{bytes[12]} << 24 | uint32_t{bytes[13]} << 16 | uint32_t{bytes[14]} << 8 |
           bytes[15];
}

bool is_forbidden_destination(const Address& a) {
    if (a.is_v4()) {
        uint32_t v = a.v4_host();
        return (v >> 24) == 127     // loopback 127.0.0.0/8
               || (v >> 28) == 0xe  // multicast 224.0.0.0/4
               || v == 0xffffffffu  // limited broadcast
               || (v >> 24) == 0;   // "this network" 0.0.0.0/8, unspecified included
    }
    if (a.bytes[0] == 0xff) {  // multicast ff00::/8
        return true;
    }
    bool zero15 =
        std::all_of(a.bytes.begin(), a.bytes.begin() + 15, [](uint8_t b) { return b == 0; });
    return zero15 && (a.bytes[15] == 0 || a.bytes[15] == 1);  // :: and ::1
}

bool Connect::add_option(uint8_t kind, std::span<const uint8_t> value) {
    if (value.size() > 253 || options.size + 2 + value.size() > options.data.size()) {
        return false;
    }
    options.push(kind);
    options.push(static_cast<uint8_t>(value.size() + 2));
    for (uint8_t b : value) {
        options.push(b);
    }
    return true;
}

ParseResult parse(std::span<const uint8_t> bytes, Message& out) {
    out = Message{};
    // §1.6 step 1: the magic number first (a SYN whose data is not Convert is ignored).
    if (bytes.size() >= 3 && bytes[2] != (magic >> 8)) {
        return fail(ParseError::not_convert);
    }
    if (bytes.size() < header_len) {
        return ParseResult{Status::need_more, 0, ParseError::count};
    }
    if (be16(&bytes[2]) != magic) {
        return fail(ParseError::not_convert);
    }
    if (bytes[0] != version) {
        return fail(ParseError::bad_version);
    }
    if (bytes[1] == 0) {
        return fail(ParseError::zero_total_length);
    }
    size_t total = size_t{bytes[1]} * 4;
    if (bytes.size() < total) {
        return ParseResult{Status::need_more, total, ParseError::count};
    }
    Seen seen;
    size_t i = header_len;
    while (i < total) {
        // total and i are multiples of 4: at least a Type, Length and two more bytes remain.
        size_t len = size_t{bytes[i + 1]} * 4;
        if (len == 0) {
            return fail(ParseError::tlv_zero_length);
        }
        if (i + len > total) {
            return fail(ParseError::tlv_overrun);
        }
        uint8_t type = bytes[i];
        if (seen.type[type]) {
            return fail(ParseError::duplicate_type);
        }
        seen.type[type] = true;
        if (auto e = parse_tlv(bytes.subspan(i, len), out)) {
            return fail(*e);
        }
        i += len;
    }
    return ParseResult{Status::complete, total, ParseError::count};
}

ParseResult parse(const rte_mbuf* m, uint32_t offset, uint32_t len, Message& out,
                  std::array<uint8_t, max_message_len>& scratch, size_t& copied) {
    copied = 0;
    uint32_t want = std::min<uint32_t>(len, max_message_len);
    const rte_mbuf* s = m;
    while (s != nullptr && offset >= s->data_len) {
        offset -= s->data_len;
        s = s->next;
    }
    while (s != nullptr && copied < want) {
        size_t take = std::min<size_t>(want - copied, s->data_len - offset);
        const auto* p = rte_pktmbuf_mtod_offset(s, const uint8_t*, offset);
        std::copy(p, p + take, scratch.begin() + static_cast<ptrdiff_t>(copied));
        copied += take;
        offset = 0;
        s = s->next;
    }
    return parse(std::span<const uint8_t>(scratch.data(), copied), out);
}

// --- emit ---------------------------------------------------------------------------------

Builder::Builder(std::span<uint8_t> out) : out_(out) {
    ok_ = out_.size() >= header_len;
}

bool Builder::reserve(size_t n) {
    if (!ok_ || len_ + n > max_message_len || len_ + n > out_.size()) {
        ok_ = false;
    }
    return ok_;
}

void Builder::tlv2(TlvType type, std::span<const uint8_t> body) {
    size_t n = (2 + body.size() + 3) / 4 * 4;
    if (!reserve(n)) {
        return;
    }
    uint8_t* p = &out_[len_];
    std::fill(p, p + n, uint8_t{0});
    p[0] = static_cast<uint8_t>(type);
    p[1] = static_cast<uint8_t>(n / 4);
    std::copy(body.begin(), body.end(), p + 2);
    len_ += n;
}

void Builder::tlv(TlvType type, uint8_t b2, uint8_t b3, std::span<const uint8_t> body) {
    size_t n = (4 + body.size() + 3) / 4 * 4;
    if (!reserve(n)) {
        return;
    }
    uint8_t* p = &out_[len_];
    std::fill(p, p + n, uint8_t{0});
    p[0] = static_cast<uint8_t>(type);
    p[1] = static_cast<uint8_t>(n / 4);
    p[2] = b2;
    p[3] = b3;
    std::copy(body.begin(), body.end(), p + 4);
    len_ += n;
}

Builder& Builder::info() {
    tlv(TlvType::info, 0, 0, {});
    return *this;
}

Builder& Builder::connect(const Connect& c) {
    std::array<uint8_t, max_message_len> body{};
    if (18 + c.options.size > body.size()) {
        ok_ = false;
        return *this;
    }
    body[0] = static_cast<uint8_t>(c.port >> 8);
    body[1] = static_cast<uint8_t>(c.port);
    std::copy(c.address.bytes.begin(), c.address.bytes.end(), body.begin() + 2);
    std::copy(c.options.data.begin(),
              c.options.data.begin() + static_cast<ptrdiff_t>(c.options.size), body.begin() + 18);
    tlv2(TlvType::connect, std::span<const uint8_t>(body.data(), 18 + c.options.size));
    return *this;
}

Builder& Builder::extended_tcp_header(std::span<const uint8_t> options) {
    tlv(TlvType::extended_tcp_header, 0, 0, options);
    return *this;
}

Builder& Builder::supported_extensions(std::span<const uint8_t> kinds) {
    // Kind 0 would read as padding (and is EOL, which MUST NOT be listed, §6.2.4).
    if (std::find(kinds.begin(), kinds.end(), uint8_t{0}) != kinds.end()) {
        ok_ = false;
        return *this;
    }
    tlv(TlvType::supported_tcp_extensions, 0, 0, kinds);
    return *this;
}

Builder& Builder::cookie(std::span<const uint8_t> cookie_bytes) {
    tlv(TlvType::cookie, 0, 0, cookie_bytes);
    return *this;
}

Builder& Builder::error(uint8_t code, std::span<const uint8_t> value) {
    std::array<uint8_t, max_message_len> body{};
    if (1 + value.size() > body.size()) {
        ok_ = false;
        return *this;
    }
    body[0] = code;
    std::copy(value.begin(), value.end(), body.begin() + 1);
    tlv2(TlvType::error, std::span<const uint8_t>(body.data(), 1 + value.size()));
    return *this;
}

std::optional<size_t> Builder::finish() {
    if (!ok_) {
        return std::nullopt;
    }
    out_[0] = version;
    out_[1] = static_cast<uint8_t>(len_ / 4);
    out_[2] = static_cast<uint8_t>(magic >> 8);
    out_[3] = static_cast<uint8_t>(magic);
    return len_;
}

std::optional<size_t> emit(const Message& m, std::span<uint8_t> out) {
    Builder b(out);
    if (m.info) {
        b.info();
    }
    if (m.connect) {
        b.connect(*m.connect);
    }
    if (m.extended_tcp_header) {
        b.extended_tcp_header(m.extended_tcp_header->view());
    }
    if (m.supported_extensions) {
        b.supported_extensions(m.supported_extensions->view());
    }
    if (m.cookie) {
        b.cookie(m.cookie->view());
    }
    if (m.error) {
        b.error(m.error->code, m.error->value.view());
    }
    return b.finish();
}

std::optional<size_t> emit_error_echo(ErrorCode code, std::span<const uint8_t> received,
                                      std::span<uint8_t> out) {
    // Value: byte 3 zero, then the received message from its offset 4 (Fig. 23): the echo
    // starts with the received header. What does not fit in 1020 bytes is cut, on a word.
    constexpr size_t room = max_message_len - header_len - 4;
    size_t n = std::min(received.size(), room) / 4 * 4;
    std::array<uint8_t, max_message_len> value{};
    std::copy(received.begin(), received.begin() + static_cast<ptrdiff_t>(n), value.begin() + 1);
    // A received message that is not a whole number of words (cut off in the SYN) keeps its
    // last partial word, zero-padded, when there is room.
    if (n < received.size() && n < room) {
        size_t rest = received.size() - n;
        std::copy(received.begin() + static_cast<ptrdiff_t>(n), received.end(),
                  value.begin() + 1 + static_cast<ptrdiff_t>(n));
        n += rest;
    }
    return Builder(out)
        .error(static_cast<uint8_t>(code), std::span<const uint8_t>(value.data(), 1 + n))
        .finish();
}

std::optional<size_t> emit_error(ErrorCode code, uint8_t value, std::span<uint8_t> out) {
    const uint8_t v[1] = {value};
    return Builder(out).error(static_cast<uint8_t>(code), v).finish();
}

std::optional<size_t> emit_unsupported_options(std::span<const uint8_t> kinds,
                                               std::span<uint8_t> out) {
    return Builder(out)
        .error(static_cast<uint8_t>(ErrorCode::unsupported_tcp_option), kinds)
        .finish();
}

}  // namespace braid::mptcp::convert::wire
