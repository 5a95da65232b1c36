// libFuzzer target: braid::gtpu::parse() and the IE parsers on arbitrary bytes (a UDP payload
// arriving on port 2152). Pure C++, no EAL. Not wired into meson; build by hand:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. dataplane/gtpu.cc \
//       tests/fuzz/fuzz_gtpu.cc -o /tmp/fuzz_gtpu && /tmp/fuzz_gtpu -max_total_time=60
//
// Invariants checked (abort on violation):
//   - a Packet's header length is ≤ the input size, and payload, extension chain and every
//     extension header content lie inside the input; the chain walk visits exactly
//     ext_header_count headers and ends where the payload starts;
//   - a failed parse carries a named reason (< ParseError::count), and the type only for
//     unknown_required_ext_header;
//   - for a G-PDU with no extension header or a single PDU Session Container, re-encoding the
//     header (encode_gpdu_header) and re-parsing it gives the same TEID, the same container
//     (hence QFI) and the same payload length;
//   - the IE parsers never read outside the payload (ASan) and return a named result;
//   - what parse_gpdu_fast() accepts, parse() accepts as a G-PDU with the same TEID, T-PDU
//     offset and QFI.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <variant>

#include "dataplane/gtpu.h"

namespace {

using namespace braid::gtpu;

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

bool inside(std::span<const uint8_t> inner, std::span<const uint8_t> outer) {
    if (inner.empty()) {
        return true;
    }
    return inner.data() >= outer.data() &&
           inner.data() + inner.size() <= outer.data() + outer.size();
}

template <typename Info>
void reencode(const Packet& p, const Info* info) {
    uint8_t buf[128];
    const auto payload_len = static_cast<uint16_t>(p.payload.size());
    const std::optional<Info> opt = info != nullptr ? std::optional<Info>(*info) : std::nullopt;
    const size_t n = encode_gpdu_header(buf, p.header.teid, payload_len, opt);
    if (n == 0) {
        // Only a container larger than the buffer or a Length overflow may refuse.
        check(gpdu_header_len(opt) > sizeof(buf) ||
                  gpdu_header_len(opt) - fixed_header_len + payload_len > 0xffff,
              "encode_gpdu_header refused a header that fits");
        return;
    }
    check(n == gpdu_header_len(opt), "encoded size != gpdu_header_len");
    // Parse the header alone: Length announces the payload, so give parse() a buffer of that
    // size with zero payload bytes appended.
    static uint8_t whole[128 + 65536];
    std::copy(buf, buf + n, whole);
    std::fill(whole + n, whole + n + payload_len, uint8_t{0});
    const auto r = parse(std::span<const uint8_t>(whole, n + payload_len));
    const Packet* q = r.packet();
    check(q != nullptr, "re-encoded G-PDU header does not parse");
    check(q->header.teid == p.header.teid, "TEID changed in re-encode");
    check(q->header.type == MessageType::g_pdu, "type changed in re-encode");
    check(q->payload.size() == p.payload.size(), "payload length changed in re-encode");
    check(q->header.header_len == n, "header length of re-encoded header");
    check(q->pdu_session.has_value() == (info != nullptr), "container presence changed");
    if (info != nullptr) {
        const auto* back = std::get_if<Info>(&*q->pdu_session);
        check(back != nullptr, "container PDU type changed");
        check(back->qfi == info->qfi, "QFI changed in re-encode");
        check(*back == *info, "container fields changed in re-encode");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const uint8_t> in(data, size);
    const ParseResult r = parse(in);
    const Packet* p = r.packet();
    if (const auto fast = parse_gpdu_fast(in)) {
        check(p != nullptr && p->header.type == MessageType::g_pdu, "fast path took a non-G-PDU");
        check(fast->teid == p->header.teid.value(), "fast path TEID");
        check(fast->payload_offset == p->header.header_len, "fast path T-PDU offset");
        check(fast->qfi ==
                  (p->pdu_session ? std::optional<uint8_t>(qfi(*p->pdu_session)) : std::nullopt),
              "fast path QFI");
    }
    if (p == nullptr) {
        check(r.error() < ParseError::count, "unnamed parse error");
        check(!to_string(r.error()).empty(), "empty error name");
        check(r.error() == ParseError::unknown_required_ext_header || r.unknown_ext_type() == 0,
              "ext type reported for another error");
        return 0;
    }

    const Header& h = p->header;
    check(h.header_len <= size, "header length beyond input");
    check(h.payload_offset() == h.header_len, "payload offset");
    check(inside(p->payload, in), "payload outside input");
    check(p->payload.size() == size - h.header_len, "payload size");
    check(p->payload.empty() || p->payload.data() == data + h.header_len, "payload start");
    check(size_t{h.length} + fixed_header_len == size, "Length field vs input");
    check(inside(p->ext_chain, in), "extension chain outside input");
    check(h.e || p->ext_header_count == 0, "extension headers without E");
    check(p->ext_header_count <= max_ext_headers, "chain longer than the cap");

    size_t count = 0;
    size_t walked = 0;
    for (const ExtHeader& e : p->ext_headers()) {
        check(inside(e.content, in), "extension header content outside input");
        check(e.type != ext_type::none, "iterated a 'no more' header");
        walked += e.content.size() + 2;
        ++count;
        check(count <= max_ext_headers, "iterator ran past the cap");
    }
    check(count == p->ext_header_count, "iterator count");
    check(walked == p->ext_chain.size(), "iterator length");

    // Signalling IEs: any result is fine, reading out of bounds is not (ASan).
    switch (h.type) {
        case MessageType::echo_request:
        case MessageType::echo_response:
            (void)parse_echo(p->payload);
            break;
        case MessageType::error_indication: {
            const auto ies = parse_error_indication(p->payload);
            check(ies.ok() || ies.error() < IeError::count, "unnamed IE error");
            break;
        }
        case MessageType::supported_ext_hdr_notification: {
            const auto ies = parse_supported_ext_headers_notification(p->payload);
            if (const auto* v = ies.value()) {
                check(inside(v->types, p->payload), "SEHN list outside payload");
            }
            break;
        }
        default:
            break;
    }

    // Re-encode plain G-PDUs and G-PDUs whose only extension header is a PDU Session Container.
    if (h.type == MessageType::g_pdu) {
        if (p->ext_header_count == 0) {
            reencode<DlPduSessionInfo>(*p, nullptr);
        } else if (p->ext_header_count == 1 && p->pdu_session) {
            if (const auto* dl = std::get_if<DlPduSessionInfo>(&*p->pdu_session)) {
                reencode(*p, dl);
            } else if (const auto* ul = std::get_if<UlPduSessionInfo>(&*p->pdu_session)) {
                reencode(*p, ul);
            }
        }
    }
    return 0;
}
