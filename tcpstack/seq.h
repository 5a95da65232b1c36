// TCP sequence numbers (RFC 9293 §3.4): 32-bit values compared by serial arithmetic (RFC 1982),
// so that comparisons stay right across the 2^32 wrap. A distinct type so that a sequence number
// is never mixed up with a length, a window or an MPTCP data sequence number.
#pragma once

#include <cstdint>

namespace braid::tcp {

class Seq {
public:
    constexpr Seq() = default;
    constexpr explicit Seq(uint32_t v) : v_(v) {}

    constexpr uint32_t raw() const { return v_; }

    // Adding a length moves forward in sequence space (mod 2^32).
    constexpr Seq operator+(uint32_t n) const { return Seq(v_ + n); }
    constexpr Seq operator-(uint32_t n) const { return Seq(v_ - n); }
    constexpr Seq& operator+=(uint32_t n) {
        v_ += n;
        return *this;
    }
    // The signed distance from `o` to this, valid when both lie within 2^31 of each other.
    constexpr int32_t operator-(Seq o) const { return static_cast<int32_t>(v_ - o.v_); }

    constexpr bool operator==(const Seq&) const = default;
    constexpr bool operator<(Seq o) const { return static_cast<int32_t>(v_ - o.v_) < 0; }
    constexpr bool operator<=(Seq o) const { return static_cast<int32_t>(v_ - o.v_) <= 0; }
    constexpr bool operator>(Seq o) const { return o < *this; }
    constexpr bool operator>=(Seq o) const { return o <= *this; }

private:
    uint32_t v_ = 0;
};

constexpr Seq seq_max(Seq a, Seq b) {
    return a < b ? b : a;
}
constexpr Seq seq_min(Seq a, Seq b) {
    return a < b ? a : b;
}

// lo <= s < hi (an empty range when lo == hi).
constexpr bool seq_in(Seq s, Seq lo, Seq hi) {
    return lo <= s && s < hi;
}

// Bytes from `from` up to `to`, 0 if `to` is not after `from`.
constexpr uint32_t seq_span(Seq from, Seq to) {
    return to > from ? static_cast<uint32_t>(to - from) : 0;
}

}  // namespace braid::tcp
