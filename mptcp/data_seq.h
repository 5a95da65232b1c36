// MPTCP data sequence numbers (RFC 8684 §3.3): a 64-bit space per direction of a connection.
// A distinct type so that a DSN is never mixed up with a subflow sequence number (tcp::Seq), a
// length or a window. Comparisons are serial (RFC 1982 over 2^64): the IDSN is random, so the
// space may wrap, and DSNs of one connection always lie within 2^63 of each other.
#pragma once

#include <cstdint>

namespace braid::mptcp {

class DataSeq {
public:
    constexpr DataSeq() = default;
    constexpr explicit DataSeq(uint64_t v) : v_(v) {}

    constexpr uint64_t raw() const { return v_; }
    // The low 32 bits, what a 32-bit DSN / DATA_ACK field carries.
    constexpr uint32_t low32() const { return static_cast<uint32_t>(v_); }

    constexpr DataSeq operator+(uint64_t n) const { return DataSeq(v_ + n); }
    constexpr DataSeq operator-(uint64_t n) const { return DataSeq(v_ - n); }
    constexpr DataSeq& operator+=(uint64_t n) {
        v_ += n;
        return *this;
    }
    // Signed distance from `o` to this, valid when both lie within 2^63 of each other.
    constexpr int64_t operator-(DataSeq o) const { return static_cast<int64_t>(v_ - o.v_); }

    constexpr bool operator==(const DataSeq&) const = default;
    constexpr bool operator<(DataSeq o) const { return static_cast<int64_t>(v_ - o.v_) < 0; }
    constexpr bool operator<=(DataSeq o) const { return static_cast<int64_t>(v_ - o.v_) <= 0; }
    constexpr bool operator>(DataSeq o) const { return o < *this; }
    constexpr bool operator>=(DataSeq o) const { return o <= *this; }

private:
    uint64_t v_ = 0;
};

constexpr DataSeq dseq_max(DataSeq a, DataSeq b) {
    return a < b ? b : a;
}
constexpr DataSeq dseq_min(DataSeq a, DataSeq b) {
    return a < b ? a : b;
}
// lo <= s < hi (empty when lo == hi).
constexpr bool dseq_in(DataSeq s, DataSeq lo, DataSeq hi) {
    return lo <= s && s < hi;
}
// Bytes from `from` up to `to`, 0 if `to` is not after `from`.
constexpr uint64_t dseq_span(DataSeq from, DataSeq to) {
    return to > from ? static_cast<uint64_t>(to - from) : 0;
}

// Extends a 32-bit DSN or DATA_ACK to 64 bits (RFC 8684 §3.3.1: receivers "MUST accept both
// and extend 32-bit values by tracking wraps"). The result is the 64-bit value with these low
// 32 bits that lies closest to `ref` (within [ref - 2^31, ref + 2^31)), so a value just past a
// 2^32 boundary of `ref` moves into the next epoch and one just before it (reordering, an old
// retransmission) stays in the previous one. `ref` is the reader's best knowledge of where the
// peer is: the expected DSN (receive side) or the last DATA_ACK seen (send side).
constexpr DataSeq extend32(uint32_t v, DataSeq ref) {
    int32_t d = static_cast<int32_t>(v - ref.low32());
    return DataSeq(ref.raw() + static_cast<uint64_t>(static_cast<int64_t>(d)));
}

// True when a 32-bit field cannot be extended safely against `ref`: the receiver's window is so
// large that its span reaches 2^31 (RFC 8684 §3.3.1: "MUST send 64 bits if 32 could wrap"). A
// sender uses the 64-bit forms whenever this holds for the span it may have outstanding.
constexpr bool needs_dsn64(uint64_t span) {
    return span >= (uint64_t{1} << 31);
}

}  // namespace braid::mptcp
