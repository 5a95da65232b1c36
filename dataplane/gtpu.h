// GTP-U wire codec (TS 29.281, GTPv1-U) with the 5GC PDU Session Container (TS 38.415 §5.5.2).
//
// Sans-I/O and DPDK-free: input is a span over the UDP payload, output goes into caller buffers.
// smoltcp-style split (STYLE.md, "Bytes from the wire are untrusted"): `parse()` is the
// checked view — it validates the fixed header, the Length field and the whole extension header
// chain before handing out a `Packet` whose spans all lie inside the input; the structs
// (`Header`, `DlPduSessionInfo`, ...) are parsed values; `encode_*` emit them.
//
// Per-packet path rules: no exceptions, no heap, no logging. A failed parse returns a
// `ParseError` whose name (`to_string`) is the drop-reason label.
//
// Read first: the spec digest n4-gtpu-mams.md §2 (TS 29.281 §5-§8, TS 29.060 §6, TS 38.415).
// Implemented / not implemented:
//   - header §5.1 incl. S/PN/E optional fields; Length must cover exactly the rest of the UDP
//     payload (shorter or trailing bytes → length_mismatch);
//   - extension headers §5.2: chain of at most `max_ext_headers`; understood: PDU Session
//     Container (0x85), UDP Port (0x40), PDCP PDU Number (0xC0), Long PDCP PDU Number (0x82,
//     0x03); other types are skipped when the comprehension bits (8-7) say "not required" and
//     reported (`unknown_required_ext_header` + type) when they say "required" — braid is always
//     the endpoint receiver, so `10` and `11` both count as required;
//   - IEs §8: Recovery (14), TEID Data I (16), GTP-U Peer Address (133), Extension Header Type
//     List (141), Private Extension (255, skipped); unknown TLV (>= 128) skipped, unknown TV
//     (< 128) rejected (its length is unknown);
//   - not implemented: Tunnel Status content, RAN/NR RAN containers, Service Class Indicator
//     content (skipped, not required), the TS 38.415 R17+ fields beyond the New IE Flags octet.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

namespace braid::gtpu {

inline constexpr uint16_t udp_port = 2152;
inline constexpr size_t fixed_header_len = 8;     // octets 1-8, always present
inline constexpr size_t optional_fields_len = 4;  // octets 9-12, present iff any of E/S/PN
inline constexpr size_t max_ext_headers = 8;      // chain cap (DoS guard, not a spec limit)

// ---------------------------------------------------------------------------------------------
// Strong types

// Tunnel Endpoint Identifier. Holds the host-order value; the only ways in from the wire and
// back are from_wire/to_wire, so a TEID can neither be mixed up with another uint32_t nor be
// left in network order by accident. TEID 0 is valid on the wire (a peer may use it).
class Teid {
public:
    constexpr Teid() = default;
    constexpr explicit Teid(uint32_t host_order) : v_(host_order) {}

    constexpr uint32_t value() const { return v_; }

    static constexpr Teid from_wire(std::span<const uint8_t, 4> p) {
        return Teid{(uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) |
                    uint32_t{p[3]}};
    }
    constexpr void to_wire(std::span<uint8_t, 4> p) const {
        p[0] = static_cast<uint8_t>(v_ >> 24);
        p[1] = static_cast<uint8_t>(v_ >> 16);
        p[2] = static_cast<uint8_t>(v_ >> 8);
        p[3] = static_cast<uint8_t>(v_);
    }

    constexpr auto operator<=>(const Teid&) const = default;

private:
    uint32_t v_ = 0;
};

// Table 6.1-1. Values not listed are carried through unchanged (the enum is not closed).
enum class MessageType : uint8_t {
    echo_request = 1,
    echo_response = 2,
    error_indication = 26,
    supported_ext_hdr_notification = 31,
    tunnel_status = 253,
    end_marker = 254,
    g_pdu = 255,
};

// Name of a GTP-U message type; "unknown" for values outside Table 6.1-1.
std::string_view to_string(MessageType t);
bool is_known(MessageType t);

// §5.2.1 Figure 5.2.1-3 (and TS 29.060 §6 for the shared values).
namespace ext_type {
inline constexpr uint8_t none = 0x00;
inline constexpr uint8_t long_pdcp_pdu_number_nr = 0x03;  // comprehension-not-required variant
inline constexpr uint8_t service_class_indicator = 0x20;
inline constexpr uint8_t udp_port = 0x40;
inline constexpr uint8_t ran_container = 0x81;
inline constexpr uint8_t long_pdcp_pdu_number = 0x82;
inline constexpr uint8_t xw_ran_container = 0x83;
inline constexpr uint8_t nr_ran_container = 0x84;
inline constexpr uint8_t pdu_session_container = 0x85;
inline constexpr uint8_t pdcp_pdu_number = 0xc0;
}  // namespace ext_type

// Bits 8-7 of an extension header type (§5.2.1).
enum class Comprehension : uint8_t {
    not_required_forward = 0,  // 00: intermediate nodes forward it
    not_required_discard = 1,  // 01: intermediate nodes discard the content
    required_endpoint = 2,     // 10: the endpoint receiver must comprehend it
    required_all = 3,          // 11: every recipient must comprehend it
};
constexpr Comprehension comprehension(uint8_t type) {
    return static_cast<Comprehension>(type >> 6);
}

// Comprehension-required types braid understands: the list it sends in a Supported Extension
// Headers Notification. Ascending.
inline constexpr std::array<uint8_t, 4> supported_ext_headers{
    ext_type::udp_port, ext_type::long_pdcp_pdu_number, ext_type::pdu_session_container,
    ext_type::pdcp_pdu_number};

// ---------------------------------------------------------------------------------------------
// Parsed values

// TS 38.415 §5.5.2.1 DL PDU SESSION INFORMATION (PDU Type 0).
struct DlPduSessionInfo {
    uint8_t qfi = 0;                               // 6 bits
    bool rqi = false;                              // Reflective QoS Indicator
    std::optional<uint8_t> ppi;                    // 3 bits; present iff PPP = 1
    std::optional<uint64_t> dl_sending_timestamp;  // NTP 64-bit; present iff QMP = 1
    std::optional<uint32_t> dl_qfi_seq;            // 24 bits; present iff SNP = 1
    bool operator==(const DlPduSessionInfo&) const = default;
};

// The three QoS-monitoring time stamps an UL PDU carries when QMP = 1.
struct UlQmpTimestamps {
    uint64_t dl_sending_repeated = 0;
    uint64_t dl_received = 0;
    uint64_t ul_sending = 0;
    bool operator==(const UlQmpTimestamps&) const = default;
};

// TS 38.415 §5.5.2.2 UL PDU SESSION INFORMATION (PDU Type 1).
struct UlPduSessionInfo {
    uint8_t qfi = 0;                            // 6 bits
    std::optional<UlQmpTimestamps> qmp;         // present iff QMP = 1
    std::optional<uint32_t> dl_delay_result;    // present iff DL Delay Ind = 1
    std::optional<uint32_t> ul_delay_result;    // present iff UL Delay Ind = 1
    std::optional<uint32_t> ul_qfi_seq;         // 24 bits; present iff SNP = 1
    std::optional<uint32_t> n3n9_delay_result;  // present iff N3/N9 Delay Ind = 1
    // New IE Flags octet, present iff New IE Flag = 1. Fields it announces (R17+) are not
    // decoded; the extension header length skips them.
    std::optional<uint8_t> new_ie_flags;
    bool operator==(const UlPduSessionInfo&) const = default;
};

using PduSessionInfo = std::variant<DlPduSessionInfo, UlPduSessionInfo>;

constexpr uint8_t qfi(const PduSessionInfo& p) {
    return std::visit([](const auto& v) { return v.qfi; }, p);
}

// §5.1 fixed header plus optional fields, as read from the wire.
struct Header {
    uint8_t version = 1;
    bool pt = true;  // protocol type: 1 = GTP, 0 = GTP'
    bool e = false;  // extension header flag
    bool s = false;  // sequence number flag
    bool pn = false;
    MessageType type = MessageType::g_pdu;
    uint16_t length = 0;  // Length field: octets after the first 8
    Teid teid;
    std::optional<uint16_t> seq;  // present iff S = 1 (the octets exist iff any of E/S/PN)
    std::optional<uint8_t> npdu;  // present iff PN = 1
    uint8_t next_ext_type = 0;    // octet 12 when E = 1, else 0
    uint16_t header_len = 0;      // 8 + optional fields + every extension header

    constexpr size_t payload_offset() const { return header_len; }
};

// One extension header of a validated chain: its type and the octets between its Length octet
// and its Next Extension Header Type octet.
struct ExtHeader {
    uint8_t type = 0;
    std::span<const uint8_t> content;
};

// Iterates the extension headers of a chain `parse()` has validated.
class ExtHeaderRange {
public:
    class iterator {
    public:
        using value_type = ExtHeader;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        ExtHeader operator*() const;
        iterator& operator++();
        iterator operator++(int) {
            iterator t = *this;
            ++*this;
            return t;
        }
        bool operator==(const iterator& o) const {
            return type_ == o.type_ && rest_.size() == o.rest_.size();
        }

    private:
        friend class ExtHeaderRange;
        iterator(uint8_t type, std::span<const uint8_t> rest) : type_(type), rest_(rest) {}
        uint8_t type_ = ext_type::none;
        std::span<const uint8_t> rest_;
    };

    ExtHeaderRange() = default;
    ExtHeaderRange(uint8_t first_type, std::span<const uint8_t> chain)
        : first_(first_type), chain_(chain) {}
    iterator begin() const { return {first_, chain_}; }
    iterator end() const { return {ext_type::none, {}}; }

private:
    uint8_t first_ = ext_type::none;
    std::span<const uint8_t> chain_;
};

// A GTP-U message whose header and extension header chain have been checked. All spans point
// into the buffer given to parse(): keep that buffer alive while the Packet is used.
struct Packet {
    Header header;
    std::span<const uint8_t> ext_chain;  // every extension header, back to back
    uint8_t ext_header_count = 0;
    std::optional<PduSessionInfo> pdu_session;     // 0x85
    std::optional<uint16_t> udp_port;              // 0x40
    std::optional<uint16_t> pdcp_pdu_number;       // 0xC0
    std::optional<uint32_t> long_pdcp_pdu_number;  // 0x82 / 0x03, 18 bits
    std::span<const uint8_t> payload;              // T-PDU (G-PDU) or the IEs (other types)

    ExtHeaderRange ext_headers() const { return {header.next_ext_type, ext_chain}; }
};

// ---------------------------------------------------------------------------------------------
// Checked parse

// clang-format off
#define BRAID_GTPU_PARSE_ERRORS(X)                                                                 \
    X(too_short,                   "shorter than the GTP-U header or its optional fields")          \
    X(bad_version,                 "GTP version other than 1")                                     \
    X(not_gtp,                     "protocol type 0 (GTP')")                                       \
    X(length_mismatch,             "GTP-U Length field disagrees with the UDP payload size")       \
    X(ext_header_truncated,        "extension header runs past the end of the message")            \
    X(ext_header_zero_length,      "extension header with Length 0")                               \
    X(ext_chain_too_long,          "more extension headers than braid accepts")                    \
    X(unknown_required_ext_header, "unknown extension header marked comprehension-required")       \
    X(ext_header_bad_length,       "known extension header with a Length its type does not allow") \
    X(duplicate_ext_header,        "the same understood extension header twice in one chain")      \
    X(bad_pdu_session_container,   "PDU Session Container shorter than its flags announce")        \
    X(unknown_pdu_type,            "PDU Session Container PDU type other than DL (0) or UL (1)")
// clang-format on

enum class ParseError : uint8_t {
#define BRAID_X(name, help) name,
    BRAID_GTPU_PARSE_ERRORS(BRAID_X)
#undef BRAID_X
        count
};

std::string_view to_string(ParseError e);
std::string_view help(ParseError e);

// Either a checked Packet or the reason it was rejected. For unknown_required_ext_header,
// `unknown_ext_type()` is the offending type (the caller answers with a Supported Extension
// Headers Notification to the originator, TS 29.281 §5.2.1 / TS 29.060 §6).
class ParseResult {
public:
    ParseResult(const Packet& p) : v_(p) {}  // NOLINT: implicit by design
    ParseResult(ParseError e, uint8_t ext = 0) : v_(Failure{e, ext}) {}

    bool ok() const { return std::holds_alternative<Packet>(v_); }
    explicit operator bool() const { return ok(); }
    // nullptr when the parse failed.
    const Packet* packet() const { return std::get_if<Packet>(&v_); }
    // Meaningful only when !ok().
    ParseError error() const {
        const auto* f = std::get_if<Failure>(&v_);
        return f != nullptr ? f->error : ParseError::count;
    }
    uint8_t unknown_ext_type() const {
        const auto* f = std::get_if<Failure>(&v_);
        return f != nullptr ? f->ext_type : 0;
    }

private:
    struct Failure {
        ParseError error;
        uint8_t ext_type;
    };
    std::variant<Packet, Failure> v_;
};

// `udp_payload` is exactly the UDP payload (UDP length − 8 octets).
ParseResult parse(std::span<const uint8_t> udp_payload);

// The uplink G-PDUs nearly every packet is, read without building a Packet: flags 0x30 (no
// optional fields), or 0x34 (E only) with a single PDU Session Container of the UL type that
// carries the QFI and nothing optional (TS 38.415 §5.5.2.2, Length 1). What it accepts, parse()
// accepts with the same TEID, T-PDU offset and QFI; anything else is nullopt, and the caller
// falls back to parse() (tests/unit/dataplane/test_gtpu.cc and fuzz_gtpu check the equivalence).
struct FastGpdu {
    uint32_t teid = 0;
    uint16_t payload_offset = 0;  // from the start of the GTP-U header
    std::optional<uint8_t> qfi;
    bool operator==(const FastGpdu&) const = default;
};
std::optional<FastGpdu> parse_gpdu_fast(std::span<const uint8_t> udp_payload);

// Parses a PDU Session Container content (the octets between Length and Next Type, padding
// included). Exposed for tests and for callers that walk ext_headers() themselves.
std::variant<PduSessionInfo, ParseError> parse_pdu_session_container(
    std::span<const uint8_t> content);

// ---------------------------------------------------------------------------------------------
// Information elements (§8) of the signalling messages

// GTP-U Peer Address value (IE 133): an IPv4 (4 octets) or IPv6 (16 octets) address, network
// order octets.
class PeerAddress {
public:
    PeerAddress() = default;
    static PeerAddress ipv4(uint32_t host_order);
    static PeerAddress ipv6(std::span<const uint8_t, 16> octets);
    // 4 or 16 octets; anything else yields nullopt.
    static std::optional<PeerAddress> from_octets(std::span<const uint8_t> octets);

    bool is_ipv4() const { return len_ == 4; }
    uint32_t ipv4_host_order() const;  // meaningful iff is_ipv4()
    std::span<const uint8_t> octets() const { return {bytes_.data(), len_}; }
    bool operator==(const PeerAddress& o) const;

private:
    uint8_t len_ = 4;
    std::array<uint8_t, 16> bytes_{};
};

// clang-format off
#define BRAID_GTPU_IE_ERRORS(X)                                                              \
    X(ie_truncated,        "information element runs past the end of the message")          \
    X(unknown_tv_ie,       "unknown TV information element (type < 128): length unknown")   \
    X(missing_mandatory_ie, "mandatory information element absent")                         \
    X(bad_ie_length,       "information element with a length its type does not allow")
// clang-format on

enum class IeError : uint8_t {
#define BRAID_X(name, help) name,
    BRAID_GTPU_IE_ERRORS(BRAID_X)
#undef BRAID_X
        count
};
std::string_view to_string(IeError e);

// Minimal result type for the IE parsers (no exceptions: check ok() / value() first).
template <typename T>
class IeResult {
public:
    IeResult(const T& v) : v_(v) {}  // NOLINT: implicit by design
    IeResult(IeError e) : v_(e) {}   // NOLINT
    bool ok() const { return std::holds_alternative<T>(v_); }
    explicit operator bool() const { return ok(); }
    const T* value() const { return std::get_if<T>(&v_); }
    IeError error() const {
        const auto* e = std::get_if<IeError>(&v_);
        return e != nullptr ? *e : IeError::count;
    }

private:
    std::variant<T, IeError> v_;
};

struct ErrorIndicationIes {
    Teid teid_data_i;  // IE 16: the TEID the sender did not know
    PeerAddress peer;  // IE 133: the address that TEID was sent to
};

struct EchoIes {
    std::optional<uint8_t> recovery;  // IE 14 (mandatory in Echo Response, value ignored)
};

struct SupportedExtHeadersIes {
    std::span<const uint8_t> types;  // IE 141 contents, points into the message
};

// Each takes Packet::payload of the matching message type. First occurrence of an IE wins;
// Private Extension and unknown TLV IEs are skipped.
IeResult<ErrorIndicationIes> parse_error_indication(std::span<const uint8_t> ies);
IeResult<EchoIes> parse_echo(std::span<const uint8_t> ies);
IeResult<SupportedExtHeadersIes> parse_supported_ext_headers_notification(
    std::span<const uint8_t> ies);

// ---------------------------------------------------------------------------------------------
// Encoders. Each returns the number of octets written, or 0 when `out` is too small or the
// message would not fit the 16-bit Length field. Nothing is written past the returned size.

// Octets encode_gpdu_header() writes for this container (8, or 12 + the container).
size_t gpdu_header_len(const std::optional<DlPduSessionInfo>& pdu);
size_t gpdu_header_len(const std::optional<UlPduSessionInfo>& pdu);

// G-PDU header for a T-PDU of `payload_len` octets (S = PN = 0). With a container: E = 1 and a
// single PDU Session Container, padded to a multiple of 4 octets (TS 38.415 §5.5.2).
size_t encode_gpdu_header(std::span<uint8_t> out, Teid teid, uint16_t payload_len,
                          const std::optional<DlPduSessionInfo>& pdu);
size_t encode_gpdu_header(std::span<uint8_t> out, Teid teid, uint16_t payload_len,
                          const std::optional<UlPduSessionInfo>& pdu);

// Outer IPv4 + UDP + G-PDU header of a downlink G-PDU (§4.4.2: UDP port 2152 both ways; UDP
// checksum 0; TTL 64, DF clear, the IPv4 header checksum computed) for a T-PDU of `payload_len`
// octets; addresses in host order. `out` must hold ipv4_gpdu_outer_len(pdu) octets.
size_t ipv4_gpdu_outer_len(const std::optional<DlPduSessionInfo>& pdu);
size_t encode_ipv4_gpdu_outer(std::span<uint8_t> out, uint32_t src_ipv4, uint32_t dst_ipv4,
                              uint16_t ip_id, Teid teid, uint16_t payload_len,
                              const std::optional<DlPduSessionInfo>& pdu);

// Echo Request (§7.2.1): TEID 0, S = 1, no IEs.
size_t encode_echo_request(std::span<uint8_t> out, uint16_t seq);
// Echo Response (§7.2.2): TEID 0, S = 1, Recovery (14) = 0, same seq as the request.
size_t encode_echo_response(std::span<uint8_t> out, uint16_t seq);
// Error Indication (§7.3.1): TEID 0, S = 1, TEID Data I (16) + GTP-U Peer Address (133).
// With `udp_source_port`, E = 1 and a UDP Port extension header (0x40) carrying it.
size_t encode_error_indication(std::span<uint8_t> out, uint16_t seq, Teid teid_data_i,
                               const PeerAddress& peer,
                               std::optional<uint16_t> udp_source_port = std::nullopt);
// End Marker (§7.3.2): S = 0, TEID of the old tunnel, no IEs.
size_t encode_end_marker(std::span<uint8_t> out, Teid teid);
// Supported Extension Headers Notification (§7.2.3): TEID 0, S = 1, Extension Header Type
// List (141, 1-octet count). Defaults to braid's own list.
size_t encode_supported_ext_headers_notification(
    std::span<uint8_t> out, uint16_t seq, std::span<const uint8_t> types = supported_ext_headers);

}  // namespace braid::gtpu
