// MPTCP v1 option codec (RFC 8684 §3, TCP option kind 30), in the smoltcp shape of
// tcpstack/wire/: parse() checks the untrusted bytes of one whole option (kind and length
// included, as tcp::wire::Options::mptcp keeps them) and yields a typed value; emit() writes a
// value back as the exact bytes; option_len() says how many. Formats: spec tcp-mptcp-convert.md
// §2.1-2.8. Every malformed form is a named ParseError, never undefined behaviour.
//
// What the codec does not decide: which TCP segment a form may ride on (SYN, SYN/ACK, ACK, RST)
// and the flag semantics of MP_CAPABLE (B set, no crypto bit: check_capable_flags() names
// those) are the connection's business; reserved bits are ignored on input and written as 0.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

namespace braid::mptcp::wire {

inline constexpr uint8_t option_kind = 30;
// TCP carries at most 40 option bytes (RFC 9293 §3.1): no MPTCP option can be longer.
inline constexpr size_t max_option_len = 40;
inline constexpr uint8_t mptcp_version = 1;

enum class Subtype : uint8_t {
    mp_capable = 0x0,
    mp_join = 0x1,
    dss = 0x2,
    add_addr = 0x3,
    remove_addr = 0x4,
    mp_prio = 0x5,
    mp_fail = 0x6,
    mp_fastclose = 0x7,
    mp_tcprst = 0x8,
};

// MP_CAPABLE flags (RFC 8684 §3.1, §7.3).
namespace capable_flag {
inline constexpr uint8_t checksum = 0x80;        // A: checksum required
inline constexpr uint8_t extensibility = 0x40;   // B: MUST be 0; set by an unknown extension
inline constexpr uint8_t no_new_subflow = 0x20;  // C: no more subflows to this address/port
inline constexpr uint8_t hmac_sha256 = 0x01;     // H
inline constexpr uint8_t crypto_mask = 0x1f;     // D..H: crypto algorithm bits
}  // namespace capable_flag

// DSS flags (RFC 8684 §3.3, byte 3: rsv(3) F m M a A).
namespace dss_flag {
inline constexpr uint8_t data_ack = 0x01;   // A
inline constexpr uint8_t data_ack8 = 0x02;  // a
inline constexpr uint8_t mapping = 0x04;    // M
inline constexpr uint8_t dsn8 = 0x08;       // m
inline constexpr uint8_t data_fin = 0x10;   // F
}  // namespace dss_flag

// MP_TCPRST reasons (RFC 8684 §3.6, §7.4). The field is a registry up to 0xff: values not named
// here are carried through as numbers.
enum class ResetReason : uint8_t {
    unspecified = 0x00,
    mptcp_error = 0x01,
    lack_of_resources = 0x02,
    administratively_prohibited = 0x03,
    too_much_outstanding_data = 0x04,
    unacceptable_performance = 0x05,
    middlebox_interference = 0x06,
};

// clang-format off
#define BRAID_MPTCP_WIRE_ERRORS(X)                                                              \
    X(truncated,              "fewer than 3 bytes, or fewer than the length byte announces")    \
    X(not_mptcp,              "option kind is not 30")                                           \
    X(too_long,               "length byte above 40 (more than a TCP header can carry)")         \
    X(trailing_bytes,         "more bytes than the length byte announces")                       \
    X(unknown_subtype,        "subtype 0x9-0xf (unassigned or MP_EXPERIMENTAL)")                  \
    X(capable_bad_version,    "MP_CAPABLE version is not 1")                                      \
    X(capable_bad_length,     "MP_CAPABLE length not 4, 12, 20, 22 or 24")                        \
    X(join_bad_length,        "MP_JOIN length not 12 (SYN), 16 (SYN/ACK) or 24 (ACK)")            \
    X(dss_bad_length,         "DSS length does not match its flags (with or without checksum)")   \
    X(add_addr_bad_length,    "ADD_ADDR length not 8/10/16/18 (IPv4) or 20/22/28/30 (IPv6)")      \
    X(add_addr_echo_with_hmac, "ADD_ADDR echo (E=1) with a truncated HMAC")                       \
    X(add_addr_missing_hmac,  "ADD_ADDR without echo (E=0) and without a truncated HMAC")         \
    X(remove_addr_empty,      "REMOVE_ADDR without any address ID (length 3)")                    \
    X(prio_bad_length,        "MP_PRIO length is not 3")                                          \
    X(fail_bad_length,        "MP_FAIL length is not 12")                                         \
    X(fastclose_bad_length,   "MP_FASTCLOSE length is not 12")                                    \
    X(tcprst_bad_length,      "MP_TCPRST length is not 4")
// clang-format on

enum class ParseError : uint8_t {
#define BRAID_X(name, help) name,
    BRAID_MPTCP_WIRE_ERRORS(BRAID_X)
#undef BRAID_X
        count
};
std::string_view to_string(ParseError);
std::string_view help(ParseError);

// MP_CAPABLE (subtype 0, §3.1). The form is given by which fields are present:
//   SYN: none (4); SYN/ACK: sender_key (12); third ACK: both keys (20);
//   first data: both keys + data_len (22) [+ checksum (24)].
struct MpCapable {
    uint8_t flags = capable_flag::hmac_sha256;
    std::optional<uint64_t> sender_key;
    std::optional<uint64_t> receiver_key;
    std::optional<uint16_t> data_len;
    std::optional<uint16_t> checksum;
    bool operator==(const MpCapable&) const = default;
};

// Why an MP_CAPABLE that parsed must still be ignored (RFC 8684 §3.1: B set, or no crypto
// algorithm, or only ones we do not know; both mean: fall back to plain TCP).
enum class CapableFlagsError : uint8_t { none, extensibility_set, no_crypto_algorithm };
CapableFlagsError check_capable_flags(uint8_t flags);

// MP_JOIN (subtype 1, §3.2): three forms told apart by length.
struct MpJoinSyn {
    bool backup = false;
    uint8_t address_id = 0;
    uint32_t token = 0;  // the receiver's token
    uint32_t nonce = 0;  // the sender's random number
    bool operator==(const MpJoinSyn&) const = default;
};
struct MpJoinSynAck {
    bool backup = false;
    uint8_t address_id = 0;
    uint64_t truncated_hmac = 0;  // leftmost 64 bits of HMAC-B, big-endian
    uint32_t nonce = 0;
    bool operator==(const MpJoinSynAck&) const = default;
};
inline constexpr size_t join_ack_hmac_len = 20;  // leftmost 160 bits of HMAC-A
struct MpJoinAck {
    std::array<uint8_t, join_ack_hmac_len> hmac{};
    bool operator==(const MpJoinAck&) const = default;
};

// DSS (subtype 2, §3.3). A 32-bit DATA_ACK or DSN (data_ack8 / dsn8 false) is sent as the low
// 32 bits of the value; parse yields it in the low 32 bits, to be extended with extend32().
struct DssMapping {
    uint64_t dsn = 0;
    bool dsn8 = true;
    uint32_t ssn = 0;  // relative subflow sequence number (SYN = 0, first data byte = 1)
    uint16_t data_len = 0;
    std::optional<uint16_t> checksum;
    bool operator==(const DssMapping&) const = default;
};
struct Dss {
    std::optional<uint64_t> data_ack;
    bool data_ack8 = true;  // meaningful only with data_ack
    std::optional<DssMapping> mapping;
    bool data_fin = false;
    bool operator==(const Dss&) const;
};

// ADD_ADDR (subtype 3, §3.4.1). Family, port and HMAC presence follow from the length.
struct IpAddress {
    bool v6 = false;
    std::array<uint8_t, 16> bytes{};  // IPv4 in the first 4 bytes, the rest zero
    std::span<const uint8_t> view() const { return {bytes.data(), v6 ? 16u : 4u}; }
    bool operator==(const IpAddress& o) const;
};
struct AddAddr {
    bool echo = false;
    uint8_t address_id = 0;
    IpAddress address;
    std::optional<uint16_t> port;
    std::optional<uint64_t> truncated_hmac;  // rightmost 64 bits; present iff !echo
    bool operator==(const AddAddr&) const = default;
};

// REMOVE_ADDR (subtype 4, §3.4.2): 1..37 address IDs.
inline constexpr size_t max_remove_ids = max_option_len - 3;
struct RemoveAddr {
    uint8_t count = 0;
    std::array<uint8_t, max_remove_ids> ids{};
    std::span<const uint8_t> id_list() const { return {ids.data(), count}; }
    bool operator==(const RemoveAddr& o) const;
};

// MP_PRIO (subtype 5, §3.3.8).
struct MpPrio {
    bool backup = false;
    bool operator==(const MpPrio&) const = default;
};

// MP_FAIL (subtype 6, §3.7): the 64-bit DSN of the start of the failed mapping.
struct MpFail {
    uint64_t dsn = 0;
    bool operator==(const MpFail&) const = default;
};

// MP_FASTCLOSE (subtype 7, §3.5): the option receiver's key.
struct MpFastclose {
    uint64_t receiver_key = 0;
    bool operator==(const MpFastclose&) const = default;
};

// MP_TCPRST (subtype 8, §3.6).
namespace tcprst_flag {
inline constexpr uint8_t transient = 0x01;  // T; U V W (0x8, 0x4, 0x2) MUST be 0
}
struct MpTcpRst {
    bool transient = false;
    uint8_t reason = 0;  // ResetReason, or an unnamed registry value
    bool operator==(const MpTcpRst&) const = default;
};

using Option = std::variant<MpCapable, MpJoinSyn, MpJoinSynAck, MpJoinAck, Dss, AddAddr, RemoveAddr,
                            MpPrio, MpFail, MpFastclose, MpTcpRst>;

struct ParseResult {
    std::optional<Option> option;
    ParseError error = ParseError::count;  // set when !option
};

// Parses one whole MPTCP option: bytes[0] = 30, bytes[1] = length = bytes.size().
ParseResult parse(std::span<const uint8_t> bytes);

// Bytes emit() writes for `o`, or nullopt if `o` is not representable (an MP_CAPABLE receiver
// key without a sender key, data_len without both keys, a checksum without data_len; a DSS
// checksum with DATA_FIN alone is fine; ADD_ADDR echo with an HMAC or neither; REMOVE_ADDR with
// 0 or more than 37 IDs).
std::optional<size_t> option_len(const Option& o);
// Writes `o`; returns its length, or nullopt if it is not representable or `out` is too small.
std::optional<size_t> emit(const Option& o, std::span<uint8_t> out);

}  // namespace braid::mptcp::wire
