// PFCP Information Elements (TS 29.244 §8.1.1): a checked list view over untrusted bytes, and a
// Writer that appends IEs to a buffer.
//
//   Type (2) | Length (2, excludes these 4 octets) | [Enterprise ID (2) if Type >= 32768] | value
//
// Reading: IeList::parse() walks one level of TLVs once and rejects a truncated header or a
// Length beyond the buffer; afterwards iteration cannot fail, and an IeView's value() is always
// in bounds. A grouped IE's members are another IeList one level down (IeView::members()), with
// a depth limit. IE order is never assumed; vendor IEs are visible (is_vendor_specific()) and
// typed callers skip them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "control/pfcp/result.h"
#include "control/pfcp/types.h"

namespace braid::pfcp {

// Deepest IE list accepted: the message body is depth 0, a grouped IE's members depth 1, ...
// Real messages nest 4 deep (Create PDR > PDI > Ethernet Packet Filter > ...).
inline constexpr unsigned max_ie_depth = 8;

struct IeError {
    enum class Code : uint8_t {
        truncated_header,      // fewer than 4 octets left for a Type/Length
        length_beyond_buffer,  // Length runs past the enclosing message or grouped IE
        excessive_nesting,     // grouped IEs nested deeper than max_ie_depth
        invalid_length,        // value too short for its fixed fields / flags (Cause 68)
        invalid_value,         // a field holds a value the spec does not allow (Cause 69)
    };

    Code code = Code::invalid_length;
    IeType type{};  // the IE concerned (Offending IE); 0 when unknown (truncated header)

    static IeError truncated_header() { return {Code::truncated_header, IeType{}}; }
    static IeError length_beyond_buffer(IeType t) { return {Code::length_beyond_buffer, t}; }
    static IeError excessive_nesting(IeType t) { return {Code::excessive_nesting, t}; }
    static IeError invalid_length(IeType t) { return {Code::invalid_length, t}; }
    static IeError invalid_value(IeType t) { return {Code::invalid_value, t}; }

    bool operator==(const IeError&) const = default;
};

std::string_view to_string(IeError::Code c);
// The reject Cause for an IE fault (§7.6): length faults -> 68 Invalid length, value faults ->
// 69 Mandatory IE incorrect. The procedure decides whether the IE was mandatory at all.
Cause cause_for(const IeError& e);

class IeList;

// One IE inside a checked IeList. Cheap to copy; refers to the list's bytes.
class IeView {
public:
    IeType type() const { return static_cast<IeType>(raw_type_); }
    uint16_t raw_type() const { return raw_type_; }
    bool is_vendor_specific() const { return pfcp::is_vendor_specific(raw_type_); }
    uint16_t enterprise_id() const { return enterprise_id_; }  // 0 unless vendor-specific
    std::span<const uint8_t> value() const { return value_; }  // after the Enterprise ID
    std::span<const uint8_t> bytes() const { return bytes_; }  // the whole TLV
    unsigned depth() const { return depth_; }                  // depth of the list holding it

    // The value read as a list of member IEs, one level down.
    Result<IeList, IeError> members() const;

private:
    friend class IeList;
    IeView() = default;

    uint16_t raw_type_ = 0;
    uint16_t enterprise_id_ = 0;
    unsigned depth_ = 0;
    std::span<const uint8_t> value_;
    std::span<const uint8_t> bytes_;
};

// A span of concatenated IEs whose TLV framing has been checked.
class IeList {
public:
    IeList() = default;  // empty
    static Result<IeList, IeError> parse(std::span<const uint8_t> bytes, unsigned depth = 0);
    // The list refers to the bytes: a temporary buffer would dangle.
    static Result<IeList, IeError> parse(std::vector<uint8_t>&&, unsigned = 0) = delete;

    // Forward iterator over the (already checked) IEs of the list.
    class iterator {
    public:
        using value_type = IeView;
        using difference_type = std::ptrdiff_t;

        iterator() = default;
        IeView operator*() const;
        iterator& operator++();
        iterator operator++(int) {
            iterator old = *this;
            ++*this;
            return old;
        }
        bool operator==(const iterator& o) const { return pos_ == o.pos_; }

    private:
        friend class IeList;
        iterator(const uint8_t* pos, const uint8_t* end, unsigned depth)
            : pos_(pos), end_(end), depth_(depth) {}
        const uint8_t* pos_ = nullptr;
        const uint8_t* end_ = nullptr;
        unsigned depth_ = 0;
    };

    iterator begin() const {
        return iterator(bytes_.data(), bytes_.data() + bytes_.size(), depth_);
    }
    iterator end() const {
        const uint8_t* e = bytes_.data() + bytes_.size();
        return iterator(e, e, depth_);
    }

    bool empty() const { return bytes_.empty(); }
    std::span<const uint8_t> bytes() const { return bytes_; }
    unsigned depth() const { return depth_; }

    std::optional<IeView> find(IeType t) const;  // the first instance (§7.6: use the first)
    std::vector<IeView> find_all(IeType t) const;
    size_t count(IeType t) const;

private:
    IeList(std::span<const uint8_t> bytes, unsigned depth) : bytes_(bytes), depth_(depth) {}
    std::span<const uint8_t> bytes_;
    unsigned depth_ = 0;
};

// Checks the framing of every IE, opening each grouped IE braid knows (is_grouped()) down to
// max_ie_depth. Unknown and vendor IEs are not opened: their value is opaque.
Result<void, IeError> validate_tree(const IeList& list);

struct WriteError {
    enum class Code : uint8_t {
        ie_too_long,        // an IE's value exceeds 65535 octets
        excessive_nesting,  // begin_grouped() deeper than max_ie_depth
        unbalanced,         // end_ie() without begin_ie()
        unencodable_value,  // a typed IE holds a value its encoding cannot carry
    };
    Code code = Code::ie_too_long;
    IeType type{};
    bool operator==(const WriteError&) const = default;
};

std::string_view to_string(WriteError::Code c);

// Appends IEs to a vector. begin_ie()/end_ie() bracket one IE and patch its Length on close;
// a grouped IE is the same bracket around its members. The first error sticks: later calls
// still append (harmlessly) but ok() stays false and the buffer must not be sent.
class Writer {
public:
    explicit Writer(std::vector<uint8_t>& out) : out_(out) {}

    void begin_ie(IeType t);
    void begin_vendor_ie(uint16_t raw_type, uint16_t enterprise_id);
    void end_ie();
    void begin_grouped(IeType t) { begin_ie(t); }
    void end_grouped() { end_ie(); }

    // A whole leaf IE with the given value octets.
    void add(IeType t, std::span<const uint8_t> value);

    void put_u8(uint8_t v) { out_.push_back(v); }
    void put_u16(uint16_t v);
    void put_u24(uint32_t v);  // low 24 bits
    void put_u32(uint32_t v);
    void put_u40(uint64_t v);  // low 40 bits
    void put_u64(uint64_t v);
    void put_bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
    void put_string(std::string_view s) { out_.insert(out_.end(), s.begin(), s.end()); }

    void fail(WriteError::Code c, IeType t);

    bool ok() const { return !error_ && depth_ == 0; }
    const std::optional<WriteError>& error() const { return error_; }
    unsigned open_ies() const { return depth_; }
    std::vector<uint8_t>& buffer() { return out_; }

private:
    struct Open {
        size_t start;  // offset of the Type field
        IeType type;
    };
    std::vector<uint8_t>& out_;
    Open stack_[max_ie_depth] = {};
    unsigned depth_ = 0;
    std::optional<WriteError> error_;
};

// Big-endian field readers over a span known to be long enough (callers check the length).
inline uint16_t load_u16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
inline uint32_t load_u24(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) << 16 | static_cast<uint32_t>(p[1]) << 8 | p[2];
}
inline uint32_t load_u32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) << 24 | load_u24(p + 1);
}
inline uint64_t load_u40(const uint8_t* p) {
    return static_cast<uint64_t>(p[0]) << 32 | load_u32(p + 1);
}
inline uint64_t load_u64(const uint8_t* p) {
    return static_cast<uint64_t>(load_u32(p)) << 32 | load_u32(p + 4);
}

}  // namespace braid::pfcp
