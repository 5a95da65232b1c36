#include "control/pfcp/ie.h"

namespace braid::pfcp {

namespace {

constexpr size_t ie_header_size = 4;
constexpr size_t enterprise_id_size = 2;

}  // namespace

std::string_view to_string(IeError::Code c) {
    switch (c) {
        case IeError::Code::truncated_header:
            return "truncated IE header";
        case IeError::Code::length_beyond_buffer:
            return "IE length beyond the buffer";
        case IeError::Code::excessive_nesting:
            return "grouped IEs nested too deep";
        case IeError::Code::invalid_length:
            return "invalid IE length";
        case IeError::Code::invalid_value:
            return "invalid IE value";
    }
    return "unknown IE error";
}

Cause cause_for(const IeError& e) {
    switch (e.code) {
        case IeError::Code::truncated_header:
        case IeError::Code::length_beyond_buffer:
        case IeError::Code::invalid_length:
            return Cause::invalid_length;
        case IeError::Code::excessive_nesting:
        case IeError::Code::invalid_value:
            return Cause::mandatory_ie_incorrect;
    }
    return Cause::request_rejected;
}

Result<IeList, IeError> IeView::members() const {
    auto r = IeList::parse(value_, depth_ + 1);
    if (!r && r.error().code == IeError::Code::excessive_nesting) {
        return Unexpected{IeError::excessive_nesting(type())};  // name the grouped IE
    }
    return r;
}

Result<IeList, IeError> IeList::parse(std::span<const uint8_t> bytes, unsigned depth) {
    if (depth >= max_ie_depth) {
        return Unexpected{IeError::excessive_nesting(IeType{})};
    }
    size_t off = 0;
    while (off < bytes.size()) {
        if (bytes.size() - off < ie_header_size) {
            return Unexpected{IeError::truncated_header()};
        }
        const uint16_t type = load_u16(&bytes[off]);
        const size_t len = load_u16(&bytes[off + 2]);
        if (len > bytes.size() - off - ie_header_size) {
            return Unexpected{IeError::length_beyond_buffer(static_cast<IeType>(type))};
        }
        if (is_vendor_specific(type) && len < enterprise_id_size) {
            return Unexpected{IeError::invalid_length(static_cast<IeType>(type))};
        }
        off += ie_header_size + len;
    }
    return IeList(bytes, depth);
}

IeView IeList::iterator::operator*() const {
    // Framing was checked by IeList::parse(): the header and the value are in bounds.
    IeView v;
    const uint16_t len = load_u16(pos_ + 2);
    v.raw_type_ = load_u16(pos_);
    v.depth_ = depth_;
    v.bytes_ = std::span<const uint8_t>(pos_, ie_header_size + len);
    if (is_vendor_specific(v.raw_type_)) {
        v.enterprise_id_ = load_u16(pos_ + ie_header_size);
        v.value_ = v.bytes_.subspan(ie_header_size + enterprise_id_size);
    } else {
        v.value_ = v.bytes_.subspan(ie_header_size);
    }
    return v;
}

IeList::iterator& IeList::iterator::operator++() {
    pos_ += ie_header_size + load_u16(pos_ + 2);
    return *this;
}

std::optional<IeView> IeList::find(IeType t) const {
    for (IeView ie : *this) {
        if (ie.type() == t) {
            return ie;
        }
    }
    return std::nullopt;
}

std::vector<IeView> IeList::find_all(IeType t) const {
    std::vector<IeView> out;
    for (IeView ie : *this) {
        if (ie.type() == t) {
            out.push_back(ie);
        }
    }
    return out;
}

size_t IeList::count(IeType t) const {
    size_t n = 0;
    for (IeView ie : *this) {
        n += ie.type() == t ? 1 : 0;
    }
    return n;
}

Result<void, IeError> validate_tree(const IeList& list) {
    for (IeView ie : list) {
        if (ie.is_vendor_specific() || !is_grouped(ie.type())) {
            continue;
        }
        auto members = ie.members();
        if (!members) {
            return Unexpected{members.error()};
        }
        if (auto r = validate_tree(*members); !r) {
            return r;
        }
    }
    return {};
}

std::string_view to_string(WriteError::Code c) {
    switch (c) {
        case WriteError::Code::ie_too_long:
            return "IE longer than 65535 octets";
        case WriteError::Code::excessive_nesting:
            return "grouped IEs nested too deep";
        case WriteError::Code::unbalanced:
            return "end_ie() without begin_ie()";
        case WriteError::Code::unencodable_value:
            return "value cannot be encoded";
    }
    return "unknown write error";
}

void Writer::fail(WriteError::Code c, IeType t) {
    if (!error_) {
        error_ = WriteError{c, t};
    }
}

void Writer::begin_ie(IeType t) {
    if (depth_ == max_ie_depth) {
        fail(WriteError::Code::excessive_nesting, t);
        return;
    }
    stack_[depth_++] = Open{out_.size(), t};
    put_u16(static_cast<uint16_t>(t));
    put_u16(0);  // patched by end_ie()
}

void Writer::begin_vendor_ie(uint16_t raw_type, uint16_t enterprise_id) {
    begin_ie(static_cast<IeType>(raw_type));
    put_u16(enterprise_id);
}

void Writer::end_ie() {
    if (depth_ == 0) {
        fail(WriteError::Code::unbalanced, IeType{});
        return;
    }
    const Open open = stack_[--depth_];
    const size_t len = out_.size() - open.start - ie_header_size;
    if (len > 0xffff) {
        fail(WriteError::Code::ie_too_long, open.type);
        return;
    }
    out_[open.start + 2] = static_cast<uint8_t>(len >> 8);
    out_[open.start + 3] = static_cast<uint8_t>(len);
}

void Writer::add(IeType t, std::span<const uint8_t> value) {
    begin_ie(t);
    put_bytes(value);
    end_ie();
}

void Writer::put_u16(uint16_t v) {
    out_.push_back(static_cast<uint8_t>(v >> 8));
    out_.push_back(static_cast<uint8_t>(v));
}

void Writer::put_u24(uint32_t v) {
    out_.push_back(static_cast<uint8_t>(v >> 16));
    put_u16(static_cast<uint16_t>(v));
}

void Writer::put_u32(uint32_t v) {
    put_u16(static_cast<uint16_t>(v >> 16));
    put_u16(static_cast<uint16_t>(v));
}

void Writer::put_u40(uint64_t v) {
    out_.push_back(static_cast<uint8_t>(v >> 32));
    put_u32(static_cast<uint32_t>(v));
}

void Writer::put_u64(uint64_t v) {
    put_u32(static_cast<uint32_t>(v >> 32));
    put_u32(static_cast<uint32_t>(v));
}

}  // namespace braid::pfcp
