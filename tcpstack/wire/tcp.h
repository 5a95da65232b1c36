// TCP segment wire format (RFC 9293 §3.1) and options (§3.2, RFC 7323, RFC 2018, RFC 7413,
// RFC 8684 kind 30), in the smoltcp shape: parse() checks untrusted bytes and yields a parsed
// value, emit() writes a value back. Nothing here casts a struct onto packet bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "tcpstack/seq.h"

namespace braid::tcp::wire {

namespace flag {
inline constexpr uint8_t fin = 0x01;
inline constexpr uint8_t syn = 0x02;
inline constexpr uint8_t rst = 0x04;
inline constexpr uint8_t psh = 0x08;
inline constexpr uint8_t ack = 0x10;
inline constexpr uint8_t urg = 0x20;
inline constexpr uint8_t ece = 0x40;
inline constexpr uint8_t cwr = 0x80;
}  // namespace flag

inline constexpr size_t min_header_len = 20;
inline constexpr size_t max_options_len = 40;

// Option kinds (spec §3.1).
namespace kind {
inline constexpr uint8_t eol = 0;
inline constexpr uint8_t nop = 1;
inline constexpr uint8_t mss = 2;
inline constexpr uint8_t window_scale = 3;
inline constexpr uint8_t sack_permitted = 4;
inline constexpr uint8_t sack = 5;
inline constexpr uint8_t timestamps = 8;
inline constexpr uint8_t mptcp = 30;
inline constexpr uint8_t fast_open = 34;
}  // namespace kind

// clang-format off
#define BRAID_TCP_WIRE_ERRORS(X)                                                             \
    X(truncated_header,    "fewer than 20 bytes, or fewer than the data offset announces")    \
    X(bad_data_offset,     "data offset below 5 words")                                      \
    X(option_truncated,    "option kind present but its length byte is missing")            \
    X(option_bad_length,   "option length below 2 or running past the header")              \
    X(bad_mss_length,      "MSS option length is not 4")                                    \
    X(bad_window_scale_length, "window scale option length is not 3")                       \
    X(bad_sack_permitted_length, "SACK-permitted option length is not 2")                   \
    X(bad_sack_length,     "SACK option length is not 2 + 8n with 1 <= n <= 4")             \
    X(bad_timestamps_length, "timestamps option length is not 10")                          \
    X(bad_fast_open_length, "TFO option length is not 2 or 6..18")                          \
    X(too_many_mptcp_options, "more MPTCP options than one segment can carry")
// clang-format on

enum class WireError : uint8_t {
#define BRAID_X(name, help) name,
    BRAID_TCP_WIRE_ERRORS(BRAID_X)
#undef BRAID_X
        count
};
std::string_view to_string(WireError);

struct SackBlock {
    Seq left;
    Seq right;
    bool operator==(const SackBlock&) const = default;
};

struct Timestamps {
    uint32_t tsval = 0;
    uint32_t tsecr = 0;
    bool operator==(const Timestamps&) const = default;
};

inline constexpr size_t max_sack_blocks = 4;
inline constexpr size_t max_mptcp_options = 8;

// Parsed options. Spans (MPTCP, TFO cookie) point into the bytes that were parsed; the caller
// keeps those alive while it uses them.
struct Options {
    std::optional<uint16_t> mss;
    std::optional<uint8_t> window_scale;  // as received; the engine clamps to 14 (RFC 7323 §2.3)
    bool sack_permitted = false;
    uint8_t sack_count = 0;
    std::array<SackBlock, max_sack_blocks> sack{};
    std::optional<Timestamps> timestamps;
    // MPTCP options (kind 30) kept whole (kind and length bytes included) for mptcp/.
    uint8_t mptcp_count = 0;
    std::array<std::span<const uint8_t>, max_mptcp_options> mptcp{};
    // MPTCP option bytes to send, owned here so that a queued OutSegment carries them (the
    // engine's ConnHook fills them on the way out; parse_options never does). Emitted after the
    // `mptcp` spans.
    std::array<uint8_t, max_options_len> mptcp_out{};
    uint8_t mptcp_out_len = 0;
    // TFO: present with an empty cookie = cookie request.
    bool fast_open = false;
    std::span<const uint8_t> fast_open_cookie{};

    std::span<const SackBlock> sack_blocks() const { return {sack.data(), sack_count}; }
};

struct OptionsResult {
    Options options;
    std::optional<WireError> error;
};
OptionsResult parse_options(std::span<const uint8_t> bytes);

// Writes `o` in the canonical order (MSS, SACK-permitted+TS or NOP NOP TS, NOP WS, SACK, MPTCP,
// TFO), padded with NOPs/EOL to a multiple of 4. SACK blocks that do not fit are left out (the
// first, most recent ones are kept). Returns the length, or nullopt if MSS/WS/TS/MPTCP/TFO alone
// exceed 40 bytes.
std::optional<size_t> emit_options(const Options& o, std::span<uint8_t, max_options_len> out);
// Bytes emit_options would write.
size_t options_len(const Options& o);

// The fixed header as a parsed value.
struct Header {
    uint16_t src_port = 0;
    uint16_t dst_port = 0;
    Seq seq;
    Seq ack;
    uint8_t flags = 0;
    uint16_t window = 0;
    uint16_t checksum = 0;
    uint16_t urgent = 0;

    bool has(uint8_t f) const { return (flags & f) != 0; }
};

struct Segment {
    Header header;
    std::span<const uint8_t> options;  // raw option bytes (data offset - 20)
    std::span<const uint8_t> payload;
};

struct SegmentResult {
    std::optional<Segment> segment;
    WireError error = WireError::count;
};
// Checked view over a whole TCP segment (header + payload as far as the IP layer says).
SegmentResult parse_segment(std::span<const uint8_t> bytes);

// Writes the header and options; checksum field written as 0 (see checksum helpers).
// Returns the header length, or nullopt if `out` is too small or the options do not fit.
std::optional<size_t> emit_header(const Header& h, const Options& o, std::span<uint8_t> out);

// Internet checksum of a TCP segment with the IPv4 / IPv6 pseudo-header (RFC 9293 §3.1,
// RFC 8200 §8.1). `segment` includes the header with its checksum field as sent; a received
// segment verifies when the result is 0, a segment being built gets result written into its
// checksum field when that field was 0.
uint16_t checksum_ipv4(std::span<const uint8_t, 4> src, std::span<const uint8_t, 4> dst,
                       std::span<const uint8_t> segment);
// The building blocks, for segments in pieces (mbuf chains: tcpstack/mbuf_util.h): the one's
// complement sum of `b` as big-endian 16-bit words, folded to 16 bits, not complemented (a piece
// that starts at an odd offset of the segment contributes its sum byte-swapped), and the final
// fold and complement of an accumulated sum.
uint16_t partial_sum(std::span<const uint8_t> b);
uint16_t checksum_fold(uint64_t acc);
uint16_t checksum_ipv6(std::span<const uint8_t, 16> src, std::span<const uint8_t, 16> dst,
                       std::span<const uint8_t> segment);

}  // namespace braid::tcp::wire
