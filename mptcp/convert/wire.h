// RFC 8803 Convert protocol codec (0-RTT TCP Convert), in the shape of mptcp/wire/options.h:
// parse() checks untrusted bytes and yields a typed Message or a named ParseError; each error
// says what the converter must answer (ignore the SYN, reset, or an Error TLV with a code);
// emit() / Builder write the exact bytes. Formats: spec tcp-mptcp-convert.md §1.3-1.5, §1.12.
//
// Canonical forms (what parse -> emit -> parse keeps): a Connect TLV's option list is kept
// without NOPs and without padding (NOP is ignored, RFC 8803 §7.1; a zero byte starts the
// padding); Supported TCP Extensions keeps the kinds before the padding; Extended TCP Header,
// Cookie and Error values are opaque and kept with their padding. Emit writes TLVs in type
// order, whatever order they were parsed in.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

struct rte_mbuf;

namespace braid::mptcp::convert::wire {

inline constexpr uint8_t version = 1;
inline constexpr uint16_t magic = 0x2263;  // = 8803 (RFC 8803 §6.1)
inline constexpr size_t header_len = 4;
inline constexpr size_t max_message_len = 255 * 4;  // Total Length is one byte of 32-bit words
inline constexpr size_t connect_base_len = 20;      // Type, Length, Port, 16-byte address
inline constexpr size_t max_tlv_value = max_message_len - header_len - 4;

enum class TlvType : uint8_t {
    info = 1,
    connect = 10,
    extended_tcp_header = 20,
    supported_tcp_extensions = 21,
    cookie = 22,
    error = 30,
};

// clang-format off
#define BRAID_CONVERT_ERROR_CODES(X)                                                              \
    X(unsupported_version,     0x00, "Unsupported Version")                                       \
    X(malformed_message,       0x01, "Malformed Message")                                         \
    X(unsupported_message,     0x02, "Unsupported Message")                                       \
    X(missing_cookie,          0x03, "Missing Cookie")                                            \
    X(not_authorized,          0x20, "Not Authorized")                                            \
    X(unsupported_tcp_option,  0x21, "Unsupported TCP Option")                                    \
    X(resource_exceeded,       0x40, "Resource Exceeded")                                         \
    X(network_failure,         0x41, "Network Failure")                                           \
    X(connection_reset,        0x60, "Connection Reset")                                          \
    X(destination_unreachable, 0x61, "Destination Unreachable")
// clang-format on

enum class ErrorCode : uint8_t {
#define BRAID_X(name, value, text) name = value,
    BRAID_CONVERT_ERROR_CODES(BRAID_X)
#undef BRAID_X
};
// "malformed_message" etc.; "unknown" for codes not in the registry above.
std::string_view to_string(ErrorCode);

// What the converter does about a message that failed to parse (spec §1.6).
enum class Action : uint8_t {
    ignore,  // not a Convert message: silently ignore the SYN (absent a policy, §4.3)
    reset,   // Total Length 0: the connection MUST be reset (§6.1)
    reply,   // answer with an Error TLV carrying `code`, then FIN
};

// clang-format off
#define BRAID_CONVERT_PARSE_ERRORS(X)                                                              \
    X(not_convert,          ignore, malformed_message,   "magic number is not 0x2263")              \
    X(bad_version,          reply,  unsupported_version, "version is not 1")                        \
    X(zero_total_length,    reset,  malformed_message,   "Total Length is 0")                       \
    X(tlv_zero_length,      reply,  malformed_message,   "a TLV with Length 0")                     \
    X(tlv_overrun,          reply,  malformed_message,   "a TLV extends past Total Length")         \
    X(reserved_type,        reply,  unsupported_message, "TLV type 0 (reserved)")                   \
    X(unknown_type,         reply,  unsupported_message, "TLV type not in the registry")            \
    X(duplicate_type,       reply,  malformed_message,   "a TLV type appears twice")                \
    X(info_bad_length,      reply,  malformed_message,   "Info TLV Length is not 1")                \
    X(connect_too_short,    reply,  malformed_message,   "Connect TLV Length below 5")              \
    X(connect_bad_address,  reply,  malformed_message,   "Connect address is multicast, broadcast, loopback or unspecified") \
    X(connect_bad_option,   reply,  malformed_message,   "Connect TCP option with Length below 2 or past the TLV") \
    X(connect_bad_padding,  reply,  malformed_message,   "non-zero bytes in the Connect option list's padding") \
    X(supported_bad_padding, reply, malformed_message,   "non-zero bytes in the Supported TCP Extensions padding")
// clang-format on

enum class ParseError : uint8_t {
#define BRAID_X(name, action, code, help) name,
    BRAID_CONVERT_PARSE_ERRORS(BRAID_X)
#undef BRAID_X
        count
};
std::string_view to_string(ParseError);
std::string_view help(ParseError);
Action action(ParseError);
ErrorCode error_code(ParseError);  // meaningful when action() == reply

// A byte string of bounded size, held inline (no allocation on the data path).
template <size_t N>
struct FixedBytes {
    std::array<uint8_t, N> data{};
    size_t size = 0;

    std::span<const uint8_t> view() const { return {data.data(), size}; }
    bool empty() const { return size == 0; }
    bool assign(std::span<const uint8_t> b) {
        if (b.size() > N) {
            return false;
        }
        std::copy(b.begin(), b.end(), data.begin());
        size = b.size();
        return true;
    }
    bool push(uint8_t b) {
        if (size == N) {
            return false;
        }
        data[size++] = b;
        return true;
    }
    bool operator==(const FixedBytes& o) const {
        return std::equal(data.begin(), data.begin() + static_cast<ptrdiff_t>(size), o.data.begin(),
                          o.data.begin() + static_cast<ptrdiff_t>(o.size));
    }
};

// An address as the Connect TLV carries it: 16 bytes, IPv4 as ::ffff:a.b.c.d (RFC 4291 §2.5.5.2).
struct Address {
    std::array<uint8_t, 16> bytes{};

    static Address v4(uint32_t host_order);
    static Address v6(const std::array<uint8_t, 16>& b) { return Address{b}; }
    bool is_v4() const;        // IPv4-mapped
    uint32_t v4_host() const;  // meaningful when is_v4()
    bool operator==(const Address&) const = default;
};
// Multicast, broadcast, loopback or unspecified (RFC 6890; RFC 8803 §6.2.5): never a Connect
// destination.
bool is_forbidden_destination(const Address& a);

// One TCP option of a Connect TLV's list: kind, and its value (Len - 2 bytes, a view into
// Connect::options).
struct ConnectOption {
    uint8_t kind = 0;
    std::span<const uint8_t> value;
};

struct Connect {
    uint16_t port = 0;
    Address address;
    // The option list, canonical: Kind Len Value entries only, no NOPs, no padding.
    FixedBytes<max_tlv_value> options;

    bool extended() const { return !options.empty(); }
    // Calls f(ConnectOption) for each option of the (already checked) list.
    template <class F>
    void for_each_option(F&& f) const {
        for (size_t i = 0; i + 2 <= options.size;) {
            size_t len = options.data[i + 1];
            f(ConnectOption{options.data[i],
                            std::span<const uint8_t>(&options.data[i + 2], len - 2)});
            i += len;
        }
    }
    // Appends one option (for builders and tests); false if it does not fit or len > 255.
    bool add_option(uint8_t kind, std::span<const uint8_t> value = {});
    bool operator==(const Connect&) const = default;
};

struct ErrorTlv {
    uint8_t code = 0;  // an ErrorCode, or an unregistered value carried through
    // Bytes from offset 3 to the end of the TLV (padding included).
    FixedBytes<max_tlv_value + 1> value;
    bool operator==(const ErrorTlv&) const = default;
};

struct Message {
    bool info = false;
    std::optional<Connect> connect;
    // Extended TCP Header: the server's SYN+ACK option bytes (padding included).
    std::optional<FixedBytes<max_tlv_value>> extended_tcp_header;
    // Supported TCP Extensions: the kinds before the padding.
    std::optional<FixedBytes<max_tlv_value>> supported_extensions;
    std::optional<FixedBytes<max_tlv_value>> cookie;  // opaque, padding included
    std::optional<ErrorTlv> error;
    bool operator==(const Message&) const = default;
};

enum class Status : uint8_t {
    complete,   // `message` holds the message; `length` bytes of the stream were it
    need_more,  // a prefix of a possibly valid message: wait for `length` bytes (0: unknown)
    failed,     // `error` says why and what to answer
};

struct ParseResult {
    Status status = Status::failed;
    size_t length = 0;
    ParseError error = ParseError::count;
};

// Parses the Convert message at the start of `bytes` (the stream may continue after it: user
// data follows the TLVs). Checks in the order of spec §1.6.
ParseResult parse(std::span<const uint8_t> bytes, Message& out);

// The same over `len` bytes from `offset` of an mbuf chain (SYN data may be split over
// segments). At most max_message_len bytes are copied into `scratch`; `copied` is set to the
// bytes it holds (for an echo in Malformed/Unsupported Message replies).
ParseResult parse(const rte_mbuf* m, uint32_t offset, uint32_t len, Message& out,
                  std::array<uint8_t, max_message_len>& scratch, size_t& copied);

// Builds one message: header, then TLVs in the order they are added. Any TLV that does not fit
// (the whole message is at most 1020 bytes, and `out`) makes finish() fail.
class Builder {
public:
    explicit Builder(std::span<uint8_t> out);
    Builder& info();
    Builder& connect(const Connect& c);
    Builder& extended_tcp_header(std::span<const uint8_t> options);
    Builder& supported_extensions(std::span<const uint8_t> kinds);
    Builder& cookie(std::span<const uint8_t> cookie);
    Builder& error(uint8_t code, std::span<const uint8_t> value);
    // Writes the header; the message length in bytes, or nullopt.
    std::optional<size_t> finish();

private:
    // Type, Length, the two bytes at offset 2-3, `body` from offset 4, zero-padded.
    void tlv(TlvType type, uint8_t b2, uint8_t b3, std::span<const uint8_t> body);
    // Type, Length, `body` from offset 2, zero-padded.
    void tlv2(TlvType type, std::span<const uint8_t> body);
    bool reserve(size_t n);
    std::span<uint8_t> out_;
    size_t len_ = header_len;
    bool ok_ = true;
};

// Writes `m` (TLVs in type order); nullopt if it is longer than 1020 bytes or than `out`.
std::optional<size_t> emit(const Message& m, std::span<uint8_t> out);

// The converter's Error replies (spec §1.5). Value rules per code:
//   echo (Malformed / Unsupported Message): byte 3 zero, then `received` from its offset 4,
//   keeping its alignment, cut to what fits in 1020 bytes (RFC 8803 §6.2.8 Fig. 23);
std::optional<size_t> emit_error_echo(ErrorCode code, std::span<const uint8_t> received,
                                      std::span<uint8_t> out);
//   one byte (Not Authorized / Connection Reset: 0; Resource Exceeded / Network Failure: the
//   back-off in seconds, 0 = default; Destination Unreachable: the ICMP code; Unsupported
//   Version: our version, 1);
std::optional<size_t> emit_error(ErrorCode code, uint8_t value, std::span<uint8_t> out);
//   Unsupported TCP Option: the kinds, zero-padded.
std::optional<size_t> emit_unsupported_options(std::span<const uint8_t> kinds,
                                               std::span<uint8_t> out);

}  // namespace braid::mptcp::convert::wire
