// PFCP message header (TS 29.244 §7.2.2; spec/n4-gtpu-mams.md §1.2).
//
//   octet 1: Version (3 bits) = 1 | spare (2) | FO | MP | S
//   octet 2: Message Type;  octets 3-4: Message Length (octets after the first 4)
//   S=1: SEID (8);  then Sequence Number (3);  then octet: Message Priority (high nibble, if MP)
//
// A datagram may carry several messages (FO=1 on all but the last, §6.5 bundling):
// MessageReader yields them one by one. Each Message's body is its IEs, unchecked: hand it to
// IeList::parse().
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

inline constexpr uint8_t pfcp_version = 1;
inline constexpr size_t node_header_size = 8;      // S=0
inline constexpr size_t session_header_size = 16;  // S=1

struct Header {
    MessageType type{};
    bool follow_on = false;           // FO
    std::optional<Seid> seid;         // present iff S=1
    SequenceNumber sequence;          // 24 bit
    std::optional<uint8_t> priority;  // MP=1: 0 (highest) .. 15; only with a SEID
    uint16_t length = 0;              // Message Length as received / as patched by finish_message

    size_t size() const { return seid ? session_header_size : node_header_size; }
    bool operator==(const Header&) const = default;
};

struct Message {
    Header header;
    std::span<const uint8_t> body;   // the IEs (after the header, within Message Length)
    std::span<const uint8_t> bytes;  // the whole message
};

struct HeaderError {
    enum class Code : uint8_t {
        too_short,               // fewer octets than a header: drop (§7.6)
        bad_version,             // Version != 1: answer Version Not Supported Response
        length_too_small,        // Message Length below the header's own SEID/seq octets
        length_beyond_datagram,  // Message Length runs past the datagram: Cause 68
        trailing_bytes,          // FO=0 but octets follow the message: Cause 68
        seid_flag_mismatch,      // S=1 on a node message or S=0 on a session message
    };
    Code code = Code::too_short;
    // The fixed fields, when they could be read (length_beyond_datagram, trailing_bytes,
    // seid_flag_mismatch): enough to answer a request with a Cause.
    std::optional<Header> header;
};

std::string_view to_string(HeaderError::Code c);

// Parses the message at the start of `bytes`. Octets after it are not looked at (see
// MessageReader for FO handling).
Result<Message, HeaderError> parse_message(std::span<const uint8_t> bytes);
// The Message refers to the bytes: a temporary buffer would dangle.
Result<Message, HeaderError> parse_message(std::vector<uint8_t>&&) = delete;

// The messages of one datagram, in order. After an error, done() is true.
//
//   MessageReader r(datagram);
//   while (!r.done()) { auto m = r.next(); if (!m) { ...; break; } ... }
//
// FO=1 on the last message is accepted (the message is complete); FO=0 with octets after it is
// trailing_bytes.
class MessageReader {
public:
    explicit MessageReader(std::span<const uint8_t> datagram) : rest_(datagram) {}
    explicit MessageReader(std::vector<uint8_t>&&) = delete;  // would dangle
    bool done() const { return rest_.empty(); }
    Result<Message, HeaderError> next();

private:
    std::span<const uint8_t> rest_;
};

// Appends a header with h.length verbatim. S is set iff h.seid; MP iff h.priority and h.seid.
void encode_header(const Header& h, std::vector<uint8_t>& out);

// Starts a message at the end of `out` (Message Length 0 for now); returns its offset. Append
// the IEs (Writer over the same vector), then finish_message() patches Message Length. Returns
// false (and leaves the length 0) if the message exceeds 65535 + 4 octets.
size_t begin_message(const Header& h, std::vector<uint8_t>& out);
bool finish_message(std::vector<uint8_t>& out, size_t start);

}  // namespace braid::pfcp
