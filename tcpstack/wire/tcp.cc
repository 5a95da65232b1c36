#include "tcpstack/wire/tcp.h"

#include <bit>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <cstring>

namespace braid::tcp::wire {

namespace {

uint16_t get16(const uint8_t* p) {
    return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
uint32_t get32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
void put16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
}

// One's complement sum of 16-bit big-endian words, not folded.
uint64_t sum_words(std::span<const uint8_t> b, uint64_t acc) {
    return acc + partial_sum(b);
}

uint16_t fold(uint64_t acc) {
    while (acc >> 16) {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    return static_cast<uint16_t>(~acc & 0xffff);
}

size_t fixed_options_len(const Options& o) {
    size_t n = 0;
    if (o.mss) {
        n += 4;
    }
    if (o.timestamps) {
        n += 12;  // SACK-P TS or NOP NOP TS
    } else if (o.sack_permitted) {
        n += 4;  // NOP NOP SACK-P
    }
    if (o.window_scale) {
        n += 4;
    }
    for (uint8_t i = 0; i < o.mptcp_count; ++i) {
        n += o.mptcp[i].size();
    }
    n += o.mptcp_out_len;
    if (o.fast_open) {
        n += 2 + o.fast_open_cookie.size();
    }
    return n;
}

}  // namespace

std::string_view to_string(WireError e) {
    switch (e) {
#define BRAID_X(name, help) \
    case WireError::name:   \
        return #name;
        BRAID_TCP_WIRE_ERRORS(BRAID_X)
#undef BRAID_X
        case WireError::count:
            break;
    }
    return "unknown";
}

// RFC 9293 §3.1: options may begin on any octet; EOL ends the list; unknown kinds with a valid
// length are skipped (§3.2 MUST); illegal lengths are an error the caller counts.
OptionsResult parse_options(std::span<const uint8_t> b) {
    OptionsResult r;
    Options& o = r.options;
    size_t i = 0;
    while (i < b.size()) {
        uint8_t k = b[i];
        if (k == kind::eol) {
            break;
        }
        if (k == kind::nop) {
            ++i;
            continue;
        }
        if (i + 1 >= b.size()) {
            r.error = WireError::option_truncated;
            return r;
        }
        uint8_t len = b[i + 1];
        if (len < 2 || i + len > b.size()) {
            r.error = WireError::option_bad_length;
            return r;
        }
        const uint8_t* p = &b[i];
        switch (k) {
            case kind::mss:
                if (len != 4) {
                    r.error = WireError::bad_mss_length;
                    return r;
                }
                o.mss = get16(p + 2);
                break;
            case kind::window_scale:
                if (len != 3) {
                    r.error = WireError::bad_window_scale_length;
                    return r;
                }
                o.window_scale = p[2];
                break;
            case kind::sack_permitted:
                if (len != 2) {
                    r.error = WireError::bad_sack_permitted_length;
                    return r;
                }
                o.sack_permitted = true;
                break;
            case kind::sack: {
                size_t n = (len - 2u) / 8u;
                if ((len - 2u) % 8u != 0 || n == 0 || n > max_sack_blocks) {
                    r.error = WireError::bad_sack_length;
                    return r;
                }
                o.sack_count = static_cast<uint8_t>(n);
                for (size_t j = 0; j < n; ++j) {
                    o.sack[j] = {Seq(get32(p + 2 + 8 * j)), Seq(get32(p + 6 + 8 * j))};
                }
                break;
            }
            case kind::timestamps:
                if (len != 10) {
                    r.error = WireError::bad_timestamps_length;
                    return r;
                }
                o.timestamps = Timestamps{get32(p + 2), get32(p + 6)};
                break;
            case kind::mptcp:
                if (o.mptcp_count == max_mptcp_options) {
                    r.error = WireError::too_many_mptcp_options;
                    return r;
                }
                o.mptcp[o.mptcp_count++] = b.subspan(i, len);
                break;
            case kind::fast_open:
                if (len != 2 && (len < 6 || len > 18)) {
                    r.error = WireError::bad_fast_open_length;
                    return r;
                }
                o.fast_open = true;
                o.fast_open_cookie = b.subspan(i + 2, len - 2u);
                break;
            default:
                break;  // unknown with a sane length: ignored
        }
        i += len;
    }
    return r;
}

size_t options_len(const Options& o) {
    std::array<uint8_t, max_options_len> scratch{};
    return emit_options(o, scratch).value_or(0);
}

std::optional<size_t> emit_options(const Options& o, std::span<uint8_t, max_options_len> out) {
    size_t fixed = fixed_options_len(o);
    if (fixed > max_options_len) {
        return std::nullopt;
    }
    uint8_t* p = out.data();
    size_t n = 0;
    if (o.mss) {
        p[n] = kind::mss;
        p[n + 1] = 4;
        put16(p + n + 2, *o.mss);
        n += 4;
    }
    if (o.timestamps) {
        if (o.sack_permitted) {
            p[n] = kind::sack_permitted;
            p[n + 1] = 2;
        } else {
            p[n] = kind::nop;
            p[n + 1] = kind::nop;
        }
        p[n + 2] = kind::timestamps;
        p[n + 3] = 10;
        put32(p + n + 4, o.timestamps->tsval);
        put32(p + n + 8, o.timestamps->tsecr);
        n += 12;
    } else if (o.sack_permitted) {
        p[n] = kind::nop;
        p[n + 1] = kind::nop;
        p[n + 2] = kind::sack_permitted;
        p[n + 3] = 2;
        n += 4;
    }
    if (o.window_scale) {
        p[n] = kind::nop;
        p[n + 1] = kind::window_scale;
        p[n + 2] = 3;
        p[n + 3] = *o.window_scale;
        n += 4;
    }
    for (uint8_t i = 0; i < o.mptcp_count; ++i) {
        for (uint8_t byte : o.mptcp[i]) {
            p[n++] = byte;
        }
    }
    for (uint8_t i = 0; i < o.mptcp_out_len && i < max_options_len; ++i) {
        p[n++] = o.mptcp_out[i];
    }
    if (o.fast_open) {
        p[n] = kind::fast_open;
        p[n + 1] = static_cast<uint8_t>(2 + o.fast_open_cookie.size());
        n += 2;
        for (uint8_t byte : o.fast_open_cookie) {
            p[n++] = byte;
        }
    }
    // SACK last: blocks that do not fit are left out, the first (most recent) kept (RFC 2018 §4).
    if (o.sack_count > 0 && n + 10 <= max_options_len) {
        size_t blocks = (max_options_len - n - 2) / 8;
        blocks = blocks < o.sack_count ? blocks : o.sack_count;
        if (n % 4 == 0 && n + 4 + 8 * blocks <= max_options_len) {
            p[n++] = kind::nop;  // NOP NOP keeps the blocks 4-byte aligned
            p[n++] = kind::nop;
        }
        p[n] = kind::sack;
        p[n + 1] = static_cast<uint8_t>(2 + 8 * blocks);
        n += 2;
        for (size_t j = 0; j < blocks; ++j) {
            put32(p + n, o.sack[j].left.raw());
            put32(p + n + 4, o.sack[j].right.raw());
            n += 8;
        }
    }
    while (n % 4 != 0) {
        p[n++] = kind::eol;
    }
    return n;
}

SegmentResult parse_segment(std::span<const uint8_t> b) {
    SegmentResult r;
    if (b.size() < min_header_len) {
        r.error = WireError::truncated_header;
        return r;
    }
    size_t off = static_cast<size_t>(b[12] >> 4) * 4;
    if (off < min_header_len) {
        r.error = WireError::bad_data_offset;
        return r;
    }
    if (off > b.size()) {
        r.error = WireError::truncated_header;
        return r;
    }
    Segment s;
    s.header.src_port = get16(&b[0]);
    s.header.dst_port = get16(&b[2]);
    s.header.seq = Seq(get32(&b[4]));
    s.header.ack = Seq(get32(&b[8]));
    s.header.flags = b[13];
    s.header.window = get16(&b[14]);
    s.header.checksum = get16(&b[16]);
    s.header.urgent = get16(&b[18]);
    s.options = b.subspan(min_header_len, off - min_header_len);
    s.payload = b.subspan(off);
    r.segment = s;
    return r;
}

std::optional<size_t> emit_header(const Header& h, const Options& o, std::span<uint8_t> out) {
    std::array<uint8_t, max_options_len> opt{};
    auto olen = emit_options(o, opt);
    if (!olen || out.size() < min_header_len + *olen) {
        return std::nullopt;
    }
    uint8_t* p = out.data();
    put16(p, h.src_port);
    put16(p + 2, h.dst_port);
    put32(p + 4, h.seq.raw());
    put32(p + 8, h.ack.raw());
    p[12] = static_cast<uint8_t>(((min_header_len + *olen) / 4) << 4);
    p[13] = h.flags;
    put16(p + 14, h.window);
    put16(p + 16, 0);
    put16(p + 18, h.urgent);
    for (size_t i = 0; i < *olen; ++i) {
        p[min_header_len + i] = opt[i];
    }
    return min_header_len + *olen;
}

uint16_t partial_sum(std::span<const uint8_t> b) {
    // RFC 1071 §2(B): the one's complement sum does not depend on byte order. Sum native 32-bit
    // halves of 8-byte loads into 64-bit accumulators (carries kept: no overflow below 2^32
    // loads), fold, and swap to big-endian words at the end. Four accumulators let the adds
    // run in parallel; this is the per-byte cost of every segment without checksum offload.
    const uint8_t* p = b.data();
    size_t n = b.size();
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#if defined(__SSE2__)
    // 32 bytes per step: the 32-bit lanes widened to 64 bits (unpack with zero) and added.
    {
        const __m128i zero = _mm_setzero_si128();
        __m128i a0 = zero, a1 = zero;
        while (n >= 32) {
            const __m128i v0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
            const __m128i v1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16));
            a0 = _mm_add_epi64(a0, _mm_unpacklo_epi32(v0, zero));
            a1 = _mm_add_epi64(a1, _mm_unpackhi_epi32(v0, zero));
            a0 = _mm_add_epi64(a0, _mm_unpacklo_epi32(v1, zero));
            a1 = _mm_add_epi64(a1, _mm_unpackhi_epi32(v1, zero));
            p += 32;
            n -= 32;
        }
        uint64_t lanes[4];
        _mm_storeu_si128(reinterpret_cast<__m128i*>(lanes), a0);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(lanes + 2), a1);
        s0 = lanes[0];
        s1 = lanes[1];
        s2 = lanes[2];
        s3 = lanes[3];
    }
#endif
    while (n >= 32) {
        uint64_t v[4];
        std::memcpy(v, p, 32);
        s0 += (v[0] & 0xffffffff) + (v[0] >> 32);
        s1 += (v[1] & 0xffffffff) + (v[1] >> 32);
        s2 += (v[2] & 0xffffffff) + (v[2] >> 32);
        s3 += (v[3] & 0xffffffff) + (v[3] >> 32);
        p += 32;
        n -= 32;
    }
    uint64_t s = (s0 & 0xffffffff) + (s0 >> 32) + (s1 & 0xffffffff) + (s1 >> 32) +
                 (s2 & 0xffffffff) + (s2 >> 32) + (s3 & 0xffffffff) + (s3 >> 32);
    while (n >= 4) {
        uint32_t v;
        std::memcpy(&v, p, 4);
        s += v;
        p += 4;
        n -= 4;
    }
    if (n >= 2) {
        uint16_t v;
        std::memcpy(&v, p, 2);
        s += v;
        p += 2;
        n -= 2;
    }
    if (n == 1) {
        // The odd byte is the high half of a big-endian word padded with zero.
        const uint8_t pad[2] = {*p, 0};
        uint16_t v;
        std::memcpy(&v, pad, 2);
        s += v;
    }
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    uint16_t r = static_cast<uint16_t>(s);
    if constexpr (std::endian::native == std::endian::little) {
        r = static_cast<uint16_t>((r >> 8) | (r << 8));
    }
    return r;
}

uint16_t checksum_fold(uint64_t acc) {
    return fold(acc);
}

uint16_t checksum_ipv4(std::span<const uint8_t, 4> src, std::span<const uint8_t, 4> dst,
                       std::span<const uint8_t> segment) {
    uint64_t acc = sum_words(src, 0);
    acc = sum_words(dst, acc);
    acc += 6;  // zero, protocol
    acc += segment.size();
    return fold(sum_words(segment, acc));
}

uint16_t checksum_ipv6(std::span<const uint8_t, 16> src, std::span<const uint8_t, 16> dst,
                       std::span<const uint8_t> segment) {
    uint64_t acc = sum_words(src, 0);
    acc = sum_words(dst, acc);
    acc += (segment.size() >> 16) + (segment.size() & 0xffff);  // 32-bit upper-layer length
    acc += 6;                                                   // next header
    return fold(sum_words(segment, acc));
}

}  // namespace braid::tcp::wire
