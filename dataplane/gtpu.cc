// GTP-U wire codec: see gtpu.h for the contract and the list of what is (not) implemented.
#include "dataplane/gtpu.h"

#include <algorithm>

namespace braid::gtpu {

namespace {

// Flag octet (octet 1): version 1, PT = 1, then E/S/PN.
constexpr uint8_t flags_base = 0x30;
constexpr uint8_t flag_e = 0x04;
constexpr uint8_t flag_s = 0x02;
constexpr uint8_t flag_pn = 0x01;

// IE types (§8, Table 8.1-1).
constexpr uint8_t ie_recovery = 14;
constexpr uint8_t ie_teid_data_i = 16;
constexpr uint8_t ie_peer_address = 133;
constexpr uint8_t ie_ext_header_type_list = 141;

// TS 38.415 PDU types.
constexpr uint8_t pdu_type_dl = 0;
constexpr uint8_t pdu_type_ul = 1;

uint16_t load16(const uint8_t* p) {
    return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
uint32_t load24(const uint8_t* p) {
    return (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | uint32_t{p[2]};
}
uint32_t load32(const uint8_t* p) {
    return (uint32_t{load16(p)} << 16) | load16(p + 2);
}
uint64_t load64(const uint8_t* p) {
    return (uint64_t{load32(p)} << 32) | load32(p + 4);
}

void store16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
void store24(uint8_t* p, uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 16);
    p[1] = static_cast<uint8_t>(v >> 8);
    p[2] = static_cast<uint8_t>(v);
}
void store32(uint8_t* p, uint32_t v) {
    store16(p, static_cast<uint16_t>(v >> 16));
    store16(p + 2, static_cast<uint16_t>(v));
}
void store64(uint8_t* p, uint64_t v) {
    store32(p, static_cast<uint32_t>(v >> 32));
    store32(p + 4, static_cast<uint32_t>(v));
}

// Bounds-checked reader over an untrusted span: take(n) yields nullptr when fewer than n octets
// remain, and the caller turns that into its error.
class Cursor {
public:
    explicit Cursor(std::span<const uint8_t> s) : s_(s) {}
    const uint8_t* take(size_t n) {
        if (n > s_.size() - pos_) {
            return nullptr;
        }
        const uint8_t* p = s_.data() + pos_;
        pos_ += n;
        return p;
    }

private:
    std::span<const uint8_t> s_;
    size_t pos_ = 0;
};

// Extension header total size for `content` octets: Length octet + content + Next Type octet,
// rounded up to a multiple of 4 (§5.2.1; TS 38.415 §5.5.2 pads the content to 4n − 2).
constexpr size_t ext_header_size(size_t content) {
    return (content + 2 + 3) / 4 * 4;
}

size_t dl_content_len(const DlPduSessionInfo& d) {
    return 2 + (d.ppi ? 1 : 0) + (d.dl_sending_timestamp ? 8 : 0) + (d.dl_qfi_seq ? 3 : 0);
}

size_t ul_content_len(const UlPduSessionInfo& u) {
    return 2 + (u.qmp ? 24 : 0) + (u.dl_delay_result ? 4 : 0) + (u.ul_delay_result ? 4 : 0) +
           (u.ul_qfi_seq ? 3 : 0) + (u.n3n9_delay_result ? 4 : 0) + (u.new_ie_flags ? 1 : 0);
}

// Writes the container content (no Length / Next Type octets) at `p`; the caller has zeroed the
// padding.
void write_dl_content(uint8_t* p, const DlPduSessionInfo& d) {
    p[0] = static_cast<uint8_t>((pdu_type_dl << 4) | (d.dl_sending_timestamp ? 0x08 : 0) |
                                (d.dl_qfi_seq ? 0x04 : 0));
    p[1] = static_cast<uint8_t>((d.ppi ? 0x80 : 0) | (d.rqi ? 0x40 : 0) | (d.qfi & 0x3f));
    size_t pos = 2;
    if (d.ppi) {
        p[pos++] = static_cast<uint8_t>((*d.ppi & 0x07) << 5);
    }
    if (d.dl_sending_timestamp) {
        store64(p + pos, *d.dl_sending_timestamp);
        pos += 8;
    }
    if (d.dl_qfi_seq) {
        store24(p + pos, *d.dl_qfi_seq & 0xffffff);
    }
}

void write_ul_content(uint8_t* p, const UlPduSessionInfo& u) {
    p[0] = static_cast<uint8_t>((pdu_type_ul << 4) | (u.qmp ? 0x08 : 0) |
                                (u.dl_delay_result ? 0x04 : 0) | (u.ul_delay_result ? 0x02 : 0) |
                                (u.ul_qfi_seq ? 0x01 : 0));
    p[1] = static_cast<uint8_t>((u.n3n9_delay_result ? 0x80 : 0) | (u.new_ie_flags ? 0x40 : 0) |
                                (u.qfi & 0x3f));
    size_t pos = 2;
    if (u.qmp) {
        store64(p + pos, u.qmp->dl_sending_repeated);
        store64(p + pos + 8, u.qmp->dl_received);
        store64(p + pos + 16, u.qmp->ul_sending);
        pos += 24;
    }
    if (u.dl_delay_result) {
        store32(p + pos, *u.dl_delay_result);
        pos += 4;
    }
    if (u.ul_delay_result) {
        store32(p + pos, *u.ul_delay_result);
        pos += 4;
    }
    if (u.ul_qfi_seq) {
        store24(p + pos, *u.ul_qfi_seq & 0xffffff);
        pos += 3;
    }
    if (u.n3n9_delay_result) {
        store32(p + pos, *u.n3n9_delay_result);
        pos += 4;
    }
    if (u.new_ie_flags) {
        p[pos] = *u.new_ie_flags;
    }
}

// Octets 1-12 (or 1-8 when no flag among E/S/PN is set). `length` is the Length field.
void write_header(uint8_t* p, uint8_t flags, MessageType type, uint16_t length, Teid teid,
                  uint16_t seq, uint8_t next_ext) {
    p[0] = static_cast<uint8_t>(flags_base | flags);
    p[1] = static_cast<uint8_t>(type);
    store16(p + 2, length);
    teid.to_wire(std::span<uint8_t, 4>(p + 4, 4));
    if ((flags & (flag_e | flag_s | flag_pn)) != 0) {
        store16(p + 8, seq);
        p[10] = 0;  // N-PDU Number: unused, sent as 0 (§5.1)
        p[11] = next_ext;
    }
}

template <typename Info, typename LenFn, typename WriteFn>
size_t encode_gpdu(std::span<uint8_t> out, Teid teid, uint16_t payload_len,
                   const std::optional<Info>& pdu, LenFn content_len, WriteFn write_content) {
    const size_t ext = pdu ? ext_header_size(content_len(*pdu)) : 0;
    const size_t hl = pdu ? fixed_header_len + optional_fields_len + ext : fixed_header_len;
    const size_t length = hl - fixed_header_len + payload_len;
    if (out.size() < hl || length > 0xffff) {
        return 0;
    }
    uint8_t* p = out.data();
    if (!pdu) {
        write_header(p, 0, MessageType::g_pdu, static_cast<uint16_t>(length), teid, 0, 0);
        return hl;
    }
    write_header(p, flag_e, MessageType::g_pdu, static_cast<uint16_t>(length), teid, 0,
                 ext_type::pdu_session_container);
    uint8_t* e = p + fixed_header_len + optional_fields_len;
    std::fill(e, e + ext, uint8_t{0});  // padding and Next Type (0 = no more)
    e[0] = static_cast<uint8_t>(ext / 4);
    write_content(e + 1, *pdu);
    return hl;
}

// Walks TV/TLV IEs (§8.1): TV for type < 128 (fixed length by type), TLV with a 2-octet length
// for type >= 128, except Extension Header Type List (141), whose length is one octet (§8.5).
template <typename Fn>
std::optional<IeError> walk_ies(std::span<const uint8_t> ies, Fn&& on_ie) {
    size_t pos = 0;
    while (pos < ies.size()) {
        const uint8_t type = ies[pos];
        const size_t left = ies.size() - pos;
        size_t hdr = 0;
        size_t len = 0;
        if (type < 128) {
            switch (type) {
                case ie_recovery:
                    len = 1;
                    break;
                case ie_teid_data_i:
                    len = 4;
                    break;
                default:
                    return IeError::unknown_tv_ie;
            }
            hdr = 1;
        } else if (type == ie_ext_header_type_list) {
            if (left < 2) {
                return IeError::ie_truncated;
            }
            hdr = 2;
            len = ies[pos + 1];
        } else {
            if (left < 3) {
                return IeError::ie_truncated;
            }
            hdr = 3;
            len = load16(&ies[pos + 1]);
        }
        if (len > left - hdr) {
            return IeError::ie_truncated;
        }
        if (auto err = on_ie(type, ies.subspan(pos + hdr, len))) {
            return err;
        }
        pos += hdr + len;
    }
    return std::nullopt;
}

constexpr std::array<std::string_view, static_cast<size_t>(ParseError::count)> parse_error_names{
#define BRAID_X(name, help) #name,
    BRAID_GTPU_PARSE_ERRORS(BRAID_X)
#undef BRAID_X
};

constexpr std::array<std::string_view, static_cast<size_t>(ParseError::count)> parse_error_help{
#define BRAID_X(name, help) help,
    BRAID_GTPU_PARSE_ERRORS(BRAID_X)
#undef BRAID_X
};

constexpr std::array<std::string_view, static_cast<size_t>(IeError::count)> ie_error_names{
#define BRAID_X(name, help) #name,
    BRAID_GTPU_IE_ERRORS(BRAID_X)
#undef BRAID_X
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Names

std::string_view to_string(MessageType t) {
    switch (t) {
        case MessageType::echo_request:
            return "echo_request";
        case MessageType::echo_response:
            return "echo_response";
        case MessageType::error_indication:
            return "error_indication";
        case MessageType::supported_ext_hdr_notification:
            return "supported_ext_hdr_notification";
        case MessageType::tunnel_status:
            return "tunnel_status";
        case MessageType::end_marker:
            return "end_marker";
        case MessageType::g_pdu:
            return "g_pdu";
    }
    return "unknown";
}

bool is_known(MessageType t) {
    return to_string(t) != "unknown";
}

std::string_view to_string(ParseError e) {
    const auto i = static_cast<size_t>(e);
    return i < parse_error_names.size() ? parse_error_names[i] : "invalid";
}

std::string_view help(ParseError e) {
    const auto i = static_cast<size_t>(e);
    return i < parse_error_help.size() ? parse_error_help[i] : "invalid";
}

std::string_view to_string(IeError e) {
    const auto i = static_cast<size_t>(e);
    return i < ie_error_names.size() ? ie_error_names[i] : "invalid";
}

// ---------------------------------------------------------------------------------------------
// Checked parse

namespace {

// Decodes into `out`; returns the error instead when the content is malformed.
std::optional<ParseError> decode_pdu_session_container(std::span<const uint8_t> content,
                                                       std::optional<PduSessionInfo>& out) {
    Cursor c(content);
    const uint8_t* head = c.take(2);
    if (head == nullptr) {
        return ParseError::bad_pdu_session_container;
    }
    const uint8_t o1 = head[0];
    const uint8_t o2 = head[1];
    const uint8_t pdu_type = o1 >> 4;
    const bool qmp = (o1 & 0x08) != 0;

    if (pdu_type == pdu_type_dl) {
        // TS 38.415 §5.5.2.1: o1 = type | QMP | SNP | spare(2); o2 = PPP | RQI | QFI.
        DlPduSessionInfo d;
        d.qfi = o2 & 0x3f;
        d.rqi = (o2 & 0x40) != 0;
        if ((o2 & 0x80) != 0) {
            const uint8_t* p = c.take(1);
            if (p == nullptr) {
                return ParseError::bad_pdu_session_container;
            }
            d.ppi = static_cast<uint8_t>(p[0] >> 5);
        }
        if (qmp) {
            const uint8_t* p = c.take(8);
            if (p == nullptr) {
                return ParseError::bad_pdu_session_container;
            }
            d.dl_sending_timestamp = load64(p);
        }
        if ((o1 & 0x04) != 0) {
            const uint8_t* p = c.take(3);
            if (p == nullptr) {
                return ParseError::bad_pdu_session_container;
            }
            d.dl_qfi_seq = load24(p);
        }
        out = d;
        return std::nullopt;
    }

    if (pdu_type == pdu_type_ul) {
        // TS 38.415 §5.5.2.2: o1 = type | QMP | DL Delay Ind | UL Delay Ind | SNP;
        // o2 = N3/N9 Delay Ind | New IE Flag | QFI. Optional fields follow in this order.
        UlPduSessionInfo u;
        u.qfi = o2 & 0x3f;
        if (qmp) {
            const uint8_t* p = c.take(24);
            if (p == nullptr) {
                return ParseError::bad_pdu_session_container;
            }
            u.qmp = UlQmpTimestamps{load64(p), load64(p + 8), load64(p + 16)};
        }
        const auto take32 = [&c](std::optional<uint32_t>& field) {
            const uint8_t* p = c.take(4);
            if (p != nullptr) {
                field = load32(p);
            }
            return p != nullptr;
        };
        if ((o1 & 0x04) != 0 && !take32(u.dl_delay_result)) {
            return ParseError::bad_pdu_session_container;
        }
        if ((o1 & 0x02) != 0 && !take32(u.ul_delay_result)) {
            return ParseError::bad_pdu_session_container;
        }
        if ((o1 & 0x01) != 0) {
            const uint8_t* p = c.take(3);
            if (p == nullptr) {
                return ParseError::bad_pdu_session_container;
            }
            u.ul_qfi_seq = load24(p);
        }
        if ((o2 & 0x80) != 0 && !take32(u.n3n9_delay_result)) {
            return ParseError::bad_pdu_session_container;
        }
        if ((o2 & 0x40) != 0) {
            const uint8_t* p = c.take(1);
            if (p == nullptr) {
                return ParseError::bad_pdu_session_container;
            }
            u.new_ie_flags = p[0];
        }
        out = u;
        return std::nullopt;
    }

    return ParseError::unknown_pdu_type;
}

}  // namespace

std::variant<PduSessionInfo, ParseError> parse_pdu_session_container(
    std::span<const uint8_t> content) {
    std::optional<PduSessionInfo> info;
    if (auto err = decode_pdu_session_container(content, info)) {
        return *err;
    }
    return *info;
}

std::optional<FastGpdu> parse_gpdu_fast(std::span<const uint8_t> b) {
    constexpr uint8_t plain = 0x30;     // version 1, PT 1, no E/S/PN
    constexpr uint8_t with_ext = 0x34;  // ... E only
    if (b.size() < fixed_header_len || b[1] != static_cast<uint8_t>(MessageType::g_pdu) ||
        fixed_header_len + load16(&b[2]) != b.size()) {
        return std::nullopt;
    }
    FastGpdu g;
    g.teid = load32(&b[4]);
    if (b[0] == plain) {
        g.payload_offset = fixed_header_len;
        return g;
    }
    // Octets 9-12 (sequence number, N-PDU number unused), then the container: Length 1, PDU type
    // UL with no QMP / delay / SNP flags, no N3/N9 delay or new IE flag, next type none.
    constexpr size_t with_container = fixed_header_len + optional_fields_len + 4;
    if (b[0] != with_ext || b.size() < with_container || b[11] != ext_type::pdu_session_container ||
        b[12] != 1 || b[13] != pdu_type_ul << 4 || (b[14] & 0xc0) != 0 || b[15] != ext_type::none) {
        return std::nullopt;
    }
    g.qfi = static_cast<uint8_t>(b[14] & 0x3f);
    g.payload_offset = static_cast<uint16_t>(with_container);
    return g;
}

ParseResult parse(std::span<const uint8_t> b) {
    // §5.1 octets 1-8.
    if (b.size() < fixed_header_len) {
        return ParseError::too_short;
    }
    Packet pkt;
    Header& h = pkt.header;
    h.version = b[0] >> 5;
    if (h.version != 1) {
        return ParseError::bad_version;
    }
    h.pt = (b[0] & 0x10) != 0;
    if (!h.pt) {
        return ParseError::not_gtp;
    }
    h.e = (b[0] & flag_e) != 0;
    h.s = (b[0] & flag_s) != 0;
    h.pn = (b[0] & flag_pn) != 0;
    h.type = static_cast<MessageType>(b[1]);
    h.length = load16(&b[2]);
    h.teid = Teid::from_wire(b.subspan<4, 4>());
    // The Length field counts every octet after the first 8; the UDP payload is exactly that.
    if (fixed_header_len + h.length != b.size()) {
        return ParseError::length_mismatch;
    }

    // Octets 9-12 exist iff any of E/S/PN is set, and Length covers them (§5.1).
    size_t off = fixed_header_len;
    if (h.e || h.s || h.pn) {
        if (h.length < optional_fields_len) {
            return ParseError::too_short;
        }
        if (h.s) {
            h.seq = load16(&b[8]);
        }
        if (h.pn) {
            h.npdu = b[10];
        }
        if (h.e) {
            h.next_ext_type = b[11];
        }
        off += optional_fields_len;
    }

    // §5.2: the extension header chain.
    const size_t chain_start = off;
    uint8_t type = h.next_ext_type;
    while (type != ext_type::none) {
        if (pkt.ext_header_count == max_ext_headers) {
            return ParseError::ext_chain_too_long;
        }
        if (off >= b.size()) {
            return ParseError::ext_header_truncated;
        }
        const size_t len = size_t{b[off]} * 4;  // Length in 4-octet units, all octets included
        if (len == 0) {
            return ParseError::ext_header_zero_length;
        }
        if (len > b.size() - off) {
            return ParseError::ext_header_truncated;
        }
        const auto content = b.subspan(off + 1, len - 2);
        switch (type) {
            case ext_type::pdu_session_container: {
                if (pkt.pdu_session) {
                    return ParseError::duplicate_ext_header;
                }
                if (auto err = decode_pdu_session_container(content, pkt.pdu_session)) {
                    return *err;
                }
                break;
            }
            case ext_type::udp_port:  // §5.2.2.1: Length 1, 2-octet port
                if (len != 4) {
                    return ParseError::ext_header_bad_length;
                }
                if (pkt.udp_port) {
                    return ParseError::duplicate_ext_header;
                }
                pkt.udp_port = load16(content.data());
                break;
            case ext_type::pdcp_pdu_number:  // §5.2.2.2: Length 1, 2-octet number
                if (len != 4) {
                    return ParseError::ext_header_bad_length;
                }
                if (pkt.pdcp_pdu_number) {
                    return ParseError::duplicate_ext_header;
                }
                pkt.pdcp_pdu_number = load16(content.data());
                break;
            case ext_type::long_pdcp_pdu_number:     // §5.2.2.2A: Length 2, 18-bit number in
            case ext_type::long_pdcp_pdu_number_nr:  // bits 2-1 of octet 2 .. octet 4
                if (len != 8) {
                    return ParseError::ext_header_bad_length;
                }
                if (pkt.long_pdcp_pdu_number) {
                    return ParseError::duplicate_ext_header;
                }
                pkt.long_pdcp_pdu_number = load24(content.data()) & 0x3ffff;
                break;
            default:
                switch (comprehension(type)) {
                    case Comprehension::not_required_forward:
                    case Comprehension::not_required_discard:
                        break;  // skip; braid forwards T-PDUs, never the extension header
                    case Comprehension::required_endpoint:
                    case Comprehension::required_all:
                        return ParseResult(ParseError::unknown_required_ext_header, type);
                }
                break;
        }
        ++pkt.ext_header_count;
        type = b[off + len - 1];
        off += len;
    }

    h.header_len = static_cast<uint16_t>(off);
    pkt.ext_chain = b.subspan(chain_start, off - chain_start);
    pkt.payload = b.subspan(off);
    return pkt;
}

ExtHeader ExtHeaderRange::iterator::operator*() const {
    const size_t len = size_t{rest_[0]} * 4;
    return {type_, rest_.subspan(1, len - 2)};
}

ExtHeaderRange::iterator& ExtHeaderRange::iterator::operator++() {
    const size_t len = size_t{rest_[0]} * 4;
    type_ = rest_[len - 1];
    rest_ = rest_.subspan(len);
    return *this;
}

// ---------------------------------------------------------------------------------------------
// IEs

PeerAddress PeerAddress::ipv4(uint32_t host_order) {
    PeerAddress a;
    a.len_ = 4;
    store32(a.bytes_.data(), host_order);
    return a;
}

PeerAddress PeerAddress::ipv6(std::span<const uint8_t, 16> octets) {
    PeerAddress a;
    a.len_ = 16;
    std::copy(octets.begin(), octets.end(), a.bytes_.begin());
    return a;
}

std::optional<PeerAddress> PeerAddress::from_octets(std::span<const uint8_t> octets) {
    if (octets.size() != 4 && octets.size() != 16) {
        return std::nullopt;
    }
    PeerAddress a;
    a.len_ = static_cast<uint8_t>(octets.size());
    std::copy(octets.begin(), octets.end(), a.bytes_.begin());
    return a;
}

uint32_t PeerAddress::ipv4_host_order() const {
    return load32(bytes_.data());
}

bool PeerAddress::operator==(const PeerAddress& o) const {
    return len_ == o.len_ && std::equal(bytes_.begin(), bytes_.begin() + len_, o.bytes_.begin());
}

IeResult<ErrorIndicationIes> parse_error_indication(std::span<const uint8_t> ies) {
    std::optional<Teid> teid;
    std::optional<PeerAddress> peer;
    auto err = walk_ies(ies, [&](uint8_t type, std::span<const uint8_t> v) {
        std::optional<IeError> e;
        if (type == ie_teid_data_i && !teid) {
            teid = Teid::from_wire(v.first<4>());
        } else if (type == ie_peer_address && !peer) {
            peer = PeerAddress::from_octets(v);
            if (!peer) {
                e = IeError::bad_ie_length;
            }
        }
        return e;
    });
    if (err) {
        return *err;
    }
    if (!teid || !peer) {
        return IeError::missing_mandatory_ie;
    }
    return ErrorIndicationIes{*teid, *peer};
}

IeResult<EchoIes> parse_echo(std::span<const uint8_t> ies) {
    EchoIes out;
    auto err = walk_ies(ies, [&](uint8_t type, std::span<const uint8_t> v) {
        if (type == ie_recovery && !out.recovery) {
            out.recovery = v[0];
        }
        return std::optional<IeError>{};
    });
    if (err) {
        return *err;
    }
    return out;
}

IeResult<SupportedExtHeadersIes> parse_supported_ext_headers_notification(
    std::span<const uint8_t> ies) {
    std::optional<std::span<const uint8_t>> types;
    auto err = walk_ies(ies, [&](uint8_t type, std::span<const uint8_t> v) {
        if (type == ie_ext_header_type_list && !types) {
            types = v;
        }
        return std::optional<IeError>{};
    });
    if (err) {
        return *err;
    }
    if (!types) {
        return IeError::missing_mandatory_ie;
    }
    return SupportedExtHeadersIes{*types};
}

// ---------------------------------------------------------------------------------------------
// Encoders

size_t gpdu_header_len(const std::optional<DlPduSessionInfo>& pdu) {
    return pdu ? fixed_header_len + optional_fields_len + ext_header_size(dl_content_len(*pdu))
               : fixed_header_len;
}

size_t gpdu_header_len(const std::optional<UlPduSessionInfo>& pdu) {
    return pdu ? fixed_header_len + optional_fields_len + ext_header_size(ul_content_len(*pdu))
               : fixed_header_len;
}

size_t encode_gpdu_header(std::span<uint8_t> out, Teid teid, uint16_t payload_len,
                          const std::optional<DlPduSessionInfo>& pdu) {
    return encode_gpdu(out, teid, payload_len, pdu, dl_content_len, write_dl_content);
}

size_t encode_gpdu_header(std::span<uint8_t> out, Teid teid, uint16_t payload_len,
                          const std::optional<UlPduSessionInfo>& pdu) {
    return encode_gpdu(out, teid, payload_len, pdu, ul_content_len, write_ul_content);
}

size_t ipv4_gpdu_outer_len(const std::optional<DlPduSessionInfo>& pdu) {
    return 20 + 8 + gpdu_header_len(pdu);
}

size_t encode_ipv4_gpdu_outer(std::span<uint8_t> out, uint32_t src_ipv4, uint32_t dst_ipv4,
                              uint16_t ip_id, Teid teid, uint16_t payload_len,
                              const std::optional<DlPduSessionInfo>& pdu) {
    const size_t gtp_len = gpdu_header_len(pdu);
    const size_t outer = 20 + 8 + gtp_len;
    if (out.size() < outer || payload_len > UINT16_MAX - outer ||
        encode_gpdu_header(out.subspan(28, gtp_len), teid, payload_len, pdu) != gtp_len) {
        return 0;
    }
    // The header checksum (RFC 1071) from the field values: no second pass over the octets.
    const uint32_t total = static_cast<uint32_t>(outer + payload_len);
    uint32_t sum = 0x4500 + total + ip_id + (64 << 8 | 17) + (src_ipv4 >> 16) +
                   (src_ipv4 & 0xffff) + (dst_ipv4 >> 16) + (dst_ipv4 & 0xffff);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    uint8_t* ip = out.data();
    store16(ip, 0x4500);  // version 4, IHL 5; DSCP/ECN 0
    store16(ip + 2, static_cast<uint16_t>(total));
    store16(ip + 4, ip_id);
    store16(ip + 6, 0);             // flags, fragment offset
    store16(ip + 8, 64 << 8 | 17);  // TTL 64, UDP
    store16(ip + 10, static_cast<uint16_t>(~sum));
    store32(ip + 12, src_ipv4);
    store32(ip + 16, dst_ipv4);
    store16(ip + 20, udp_port);
    store16(ip + 22, udp_port);
    store16(ip + 24, static_cast<uint16_t>(8 + gtp_len + payload_len));
    store16(ip + 26, 0);  // no UDP checksum (allowed over IPv4)
    return outer;
}

size_t encode_echo_request(std::span<uint8_t> out, uint16_t seq) {
    constexpr size_t n = fixed_header_len + optional_fields_len;
    if (out.size() < n) {
        return 0;
    }
    write_header(out.data(), flag_s, MessageType::echo_request, optional_fields_len, Teid{0}, seq,
                 0);
    return n;
}

size_t encode_echo_response(std::span<uint8_t> out, uint16_t seq) {
    constexpr size_t n = fixed_header_len + optional_fields_len + 2;
    if (out.size() < n) {
        return 0;
    }
    uint8_t* p = out.data();
    write_header(p, flag_s, MessageType::echo_response, n - fixed_header_len, Teid{0}, seq, 0);
    p[12] = ie_recovery;
    p[13] = 0;  // restart counter: sender sets 0 (§8.2)
    return n;
}

size_t encode_error_indication(std::span<uint8_t> out, uint16_t seq, Teid teid_data_i,
                               const PeerAddress& peer, std::optional<uint16_t> udp_source_port) {
    const auto addr = peer.octets();
    const size_t ext = udp_source_port ? 4 : 0;
    const size_t n = fixed_header_len + optional_fields_len + ext + 5 + 3 + addr.size();
    if (out.size() < n) {
        return 0;
    }
    uint8_t* p = out.data();
    write_header(p, static_cast<uint8_t>(flag_s | (udp_source_port ? flag_e : 0)),
                 MessageType::error_indication, static_cast<uint16_t>(n - fixed_header_len),
                 Teid{0}, seq, udp_source_port ? ext_type::udp_port : ext_type::none);
    size_t pos = fixed_header_len + optional_fields_len;
    if (udp_source_port) {
        p[pos] = 1;
        store16(p + pos + 1, *udp_source_port);
        p[pos + 3] = ext_type::none;
        pos += 4;
    }
    // IEs in ascending type order (§8.1).
    p[pos] = ie_teid_data_i;
    teid_data_i.to_wire(std::span<uint8_t, 4>(p + pos + 1, 4));
    pos += 5;
    p[pos] = ie_peer_address;
    store16(p + pos + 1, static_cast<uint16_t>(addr.size()));
    std::copy(addr.begin(), addr.end(), p + pos + 3);
    return n;
}

size_t encode_end_marker(std::span<uint8_t> out, Teid teid) {
    if (out.size() < fixed_header_len) {
        return 0;
    }
    write_header(out.data(), 0, MessageType::end_marker, 0, teid, 0, 0);
    return fixed_header_len;
}

size_t encode_supported_ext_headers_notification(std::span<uint8_t> out, uint16_t seq,
                                                 std::span<const uint8_t> types) {
    const size_t n = fixed_header_len + optional_fields_len + 2 + types.size();
    if (types.size() > 0xff || out.size() < n) {
        return 0;
    }
    uint8_t* p = out.data();
    write_header(p, flag_s, MessageType::supported_ext_hdr_notification,
                 static_cast<uint16_t>(n - fixed_header_len), Teid{0}, seq, 0);
    p[12] = ie_ext_header_type_list;
    p[13] = static_cast<uint8_t>(types.size());
    std::copy(types.begin(), types.end(), p + 14);
    return n;
}

}  // namespace braid::gtpu
