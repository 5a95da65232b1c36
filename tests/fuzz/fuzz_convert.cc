// libFuzzer target: the RFC 8803 Convert codec (mptcp/convert/wire) and the converter's SYN
// decision on arbitrary SYN data. Pure C++, no EAL (mbufs are built by hand over the input).
//
// Invariants checked (abort on violation):
//   - a failed parse carries a named error; need_more asks for more than was given;
//   - a complete message re-encodes (emit) and the bytes parse again to an equal value of the
//     length emitted; emitting that value again gives the same bytes (canonical form is stable);
//   - parsing the same bytes split over an mbuf chain gives the same result as the flat parse;
//   - every reply the converter decides on is a complete Convert message; an error reply holds
//     exactly one Error TLV; an N6 open only for a session with MPTCP; per-UE counts follow.
// The converter part reads its context (session, MPTCP, address mode, N6 outcome) from the last
// input byte and takes the bytes before it as the SYN data.
#include <rte_mbuf.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "mptcp/convert/converter.h"
#include "mptcp/convert/wire.h"

namespace {

using namespace braid::mptcp::convert;

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

struct Ports : PortSource {
    std::optional<uint16_t> reserve(const Address&, const Address&, uint16_t,
                                    uint16_t preferred) override {
        return preferred != 0 ? preferred : uint16_t{40000};
    }
};

void check_codec(std::span<const uint8_t> in) {
    static wire::Message m;  // ~5 KB: kept off the stack of each run
    static wire::Message back;
    wire::ParseResult r = wire::parse(in, m);
    if (r.status == wire::Status::failed) {
        check(r.error < wire::ParseError::count, "unnamed error");
    } else if (r.status == wire::Status::need_more) {
        check(r.length == 0 || r.length > in.size(), "need_more with enough bytes");
    } else {
        check(r.length <= in.size() && r.length % 4 == 0, "bad message length");
        std::array<uint8_t, wire::max_message_len> buf{};
        auto n = wire::emit(m, buf);
        check(n.has_value(), "parsed message not representable");
        check(*n <= r.length, "canonical form longer than the input");
        wire::ParseResult r2 = wire::parse(std::span<const uint8_t>(buf.data(), *n), back);
        check(r2.status == wire::Status::complete && r2.length == *n, "re-encoded message fails");
        check(back == m, "parse -> emit -> parse changed the value");
        std::array<uint8_t, wire::max_message_len> buf2{};
        auto n2 = wire::emit(back, buf2);
        check(n2 == n &&
                  std::equal(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(*n), buf2.begin()),
              "canonical form not stable");
    }

    // The same bytes over a chain of three segments (cut at places taken from the input).
    if (in.size() >= 3 && in.size() <= UINT16_MAX) {  // data_len is 16 bits
        size_t a = in[0] % (in.size() + 1);
        size_t b = a + (in[1] % (in.size() - a + 1));
        std::array<rte_mbuf, 3> seg{};
        const size_t cuts[] = {0, a, b, in.size()};
        for (size_t i = 0; i < 3; ++i) {
            seg[i].buf_addr = const_cast<uint8_t*>(in.data() + cuts[i]);
            seg[i].data_off = 0;
            seg[i].data_len = static_cast<uint16_t>(cuts[i + 1] - cuts[i]);
            seg[i].next = i < 2 ? &seg[i + 1] : nullptr;
        }
        seg[0].pkt_len = static_cast<uint32_t>(in.size());
        static std::array<uint8_t, wire::max_message_len> scratch;
        size_t copied = 0;
        wire::ParseResult rc =
            wire::parse(&seg[0], 0, static_cast<uint32_t>(in.size()), back, scratch, copied);
        if (in.size() <= wire::max_message_len) {
            check(rc.status == r.status && rc.length == r.length && rc.error == r.error,
                  "mbuf chain parse differs");
            check(rc.status != wire::Status::complete || back == m, "mbuf chain value differs");
        }
    }
}

void check_reply(const Decision& d) {
    if (d.reply_len == 0) {
        check(d.verdict != Verdict::reply && d.verdict != Verdict::established,
              "reply verdict without bytes");
        return;
    }
    static wire::Message m;
    wire::ParseResult r = wire::parse(d.reply_bytes(), m);
    check(r.status == wire::Status::complete && r.length == d.reply_len, "reply does not parse");
    check(!d.is_error || (m.error && !m.connect && !m.info), "error reply without one Error TLV");
}

void check_converter(std::span<const uint8_t> in) {
    if (in.empty()) {
        return;
    }
    // The last byte picks the context; the rest is the SYN data (so that a seed is a message
    // followed by one context byte, which the codec sees as user data).
    const uint8_t flags = in.back();
    Policy policy;
    policy.per_ue_max_connections = 2;
    policy.per_ue_max_pending_syns = 1;
    policy.mode = (flags & 1) ? AddressMode::sharing : AddressMode::preserving;
    policy.n6_pool_v4 = Prefix::v4(0xc6126400u, 24);
    policy.deny = {Prefix::v4(0xc6128000u, 17)};
    Converter cv(policy);
    UeContext ctx;
    ctx.in_session = (flags & 2) != 0;
    ctx.mptcp_enabled = (flags & 4) != 0;
    if (flags & 8) {
        ctx.ue_v4 = Address::v4(0xc6130001u);
    }
    UeState ue;
    Ports ports;
    UeSyn syn;
    syn.data = in.first(in.size() - 1);
    syn.syn_bytes = static_cast<uint32_t>(40 + in.size());
    Decision d = cv.on_syn(ctx, ue, syn, ports, 1000);
    check_reply(d);
    if (d.verdict == Verdict::open_n6) {
        check(ctx.in_session && ctx.mptcp_enabled, "opened N6 without authorization");
        check(ue.connections == 1 && ue.pending_syns == 1, "per-UE state not counted");
        N6Outcome o;
        o.kind = static_cast<N6Outcome::Kind>(flags >> 6);
        o.syn_ack_options = in.first(std::min<size_t>(in.size() - 1, 40));
        o.icmp_code = static_cast<uint8_t>(in.size());
        Decision r = cv.on_n6_outcome(ue, d.n6, o);
        check_reply(r);
        check(r.verdict != Verdict::reply || ue.connections == 0,
              "failed connection still counted");
    } else {
        check(ue.connections == 0, "refused connection counted");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const uint8_t> in(data, size);
    check_codec(in);
    check_converter(in);
    return 0;
}
