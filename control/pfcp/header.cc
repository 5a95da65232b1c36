#include "control/pfcp/header.h"

#include "control/pfcp/ie.h"  // load_u16 ...

namespace braid::pfcp {

namespace {

constexpr uint8_t flag_s = 0x01;
constexpr uint8_t flag_mp = 0x02;
constexpr uint8_t flag_fo = 0x04;
constexpr size_t fixed_octets = 4;  // octets not counted in Message Length

}  // namespace

std::string_view to_string(HeaderError::Code c) {
    switch (c) {
        case HeaderError::Code::too_short:
            return "datagram shorter than a PFCP header";
        case HeaderError::Code::bad_version:
            return "PFCP version not supported";
        case HeaderError::Code::length_too_small:
            return "message length shorter than the header";
        case HeaderError::Code::length_beyond_datagram:
            return "message length beyond the datagram";
        case HeaderError::Code::trailing_bytes:
            return "octets after the last message";
        case HeaderError::Code::seid_flag_mismatch:
            return "S flag does not match the message type";
    }
    return "unknown header error";
}

Result<Message, HeaderError> parse_message(std::span<const uint8_t> bytes) {
    using Code = HeaderError::Code;
    if (bytes.size() < node_header_size) {
        return Unexpected{HeaderError{Code::too_short, std::nullopt}};
    }
    const uint8_t flags = bytes[0];
    if ((flags >> 5) != pfcp_version) {
        return Unexpected{HeaderError{Code::bad_version, std::nullopt}};
    }
    const bool s = (flags & flag_s) != 0;
    const size_t hlen = s ? session_header_size : node_header_size;
    if (bytes.size() < hlen) {
        return Unexpected{HeaderError{Code::too_short, std::nullopt}};
    }

    Header h;
    h.type = static_cast<MessageType>(bytes[1]);
    h.length = load_u16(&bytes[2]);
    h.follow_on = (flags & flag_fo) != 0;
    size_t off = fixed_octets;
    if (s) {
        h.seid = Seid(load_u64(&bytes[off]));
        off += 8;
    }
    h.sequence = SequenceNumber(load_u24(&bytes[off]));
    off += 3;
    if (s && (flags & flag_mp) != 0) {
        h.priority = static_cast<uint8_t>(bytes[off] >> 4);
    }

    if (h.length + fixed_octets < hlen) {
        return Unexpected{HeaderError{Code::length_too_small, std::nullopt}};
    }
    if (h.length + fixed_octets > bytes.size()) {
        return Unexpected{HeaderError{Code::length_beyond_datagram, h}};
    }
    if (is_known(h.type) && s != is_session_message(h.type)) {
        return Unexpected{HeaderError{Code::seid_flag_mismatch, h}};
    }
    const auto whole = bytes.first(h.length + fixed_octets);
    return Message{h, whole.subspan(hlen), whole};
}

Result<Message, HeaderError> MessageReader::next() {
    auto m = parse_message(rest_);
    if (!m) {
        rest_ = {};
        return m;
    }
    rest_ = rest_.subspan(m->bytes.size());
    if (!m->header.follow_on && !rest_.empty()) {
        rest_ = {};
        return Unexpected{HeaderError{HeaderError::Code::trailing_bytes, m->header}};
    }
    return m;
}

void encode_header(const Header& h, std::vector<uint8_t>& out) {
    uint8_t flags = pfcp_version << 5;
    if (h.follow_on) {
        flags |= flag_fo;
    }
    if (h.seid) {
        flags |= flag_s;
        if (h.priority) {
            flags |= flag_mp;
        }
    }
    out.push_back(flags);
    out.push_back(static_cast<uint8_t>(h.type));
    out.push_back(static_cast<uint8_t>(h.length >> 8));
    out.push_back(static_cast<uint8_t>(h.length));
    if (h.seid) {
        const uint64_t v = h.seid->value();
        for (int shift = 56; shift >= 0; shift -= 8) {
            out.push_back(static_cast<uint8_t>(v >> shift));
        }
    }
    const uint32_t seq = h.sequence.value();
    out.push_back(static_cast<uint8_t>(seq >> 16));
    out.push_back(static_cast<uint8_t>(seq >> 8));
    out.push_back(static_cast<uint8_t>(seq));
    out.push_back(h.seid && h.priority ? static_cast<uint8_t>((*h.priority & 0x0f) << 4) : 0);
}

size_t begin_message(const Header& h, std::vector<uint8_t>& out) {
    const size_t start = out.size();
    Header copy = h;
    copy.length = 0;
    encode_header(copy, out);
    return start;
}

bool finish_message(std::vector<uint8_t>& out, size_t start) {
    const size_t len = out.size() - start - fixed_octets;
    if (len > 0xffff) {
        return false;
    }
    out[start + 2] = static_cast<uint8_t>(len >> 8);
    out[start + 3] = static_cast<uint8_t>(len);
    return true;
}

}  // namespace braid::pfcp
