#include "mptcp/convert/converter.h"

#include <algorithm>

#include "tcpstack/icmp.h"

namespace braid::mptcp::convert {

namespace {

struct Info {
    std::string_view name;
    std::string_view help;
};

constexpr Info refusal_info[] = {
#define BRAID_X(name, help) {#name, help},
    BRAID_CONVERT_REFUSALS(BRAID_X)
#undef BRAID_X
};
constexpr Info counter_info[] = {
#define BRAID_X(name, help) {#name, help},
    BRAID_CONVERT_COUNTERS(BRAID_X)
#undef BRAID_X
};

constexpr uint64_t token = 1'000'000;  // one error reply, in bucket units (rate x microseconds)

namespace kind {
constexpr uint8_t eol = 0, nop = 1, mss = 2, ws = 3, sack_permitted = 4, sack = 5, timestamps = 8,
                  mptcp = 30, tfo = 34;
}

// Bytes of the N6 SYN: IP header, TCP header, options laid out as tcpstack emits them (MSS,
// SACK-permitted + Timestamps or NOP NOP Timestamps, NOP WS, TFO), padded to a word. No
// payload: the client's data after the TLVs goes after the N6 handshake.
uint32_t n6_syn_bytes(bool v4, const N6SynOptions& o) {
    uint32_t opts = 4 + 4;  // MSS, NOP + window scale
    if (o.timestamps) {
        opts += 12;  // SACK-permitted rides in the two bytes before Timestamps, or NOP NOP
    } else if (o.sack_permitted) {
        opts += 4;
    }
    if (o.tfo) {
        opts += 2 + static_cast<uint32_t>(o.tfo_cookie.size);
    }
    opts = (opts + 3) / 4 * 4;
    return (v4 ? 20 : 40) + 20 + opts;
}

// FNV-1a over an address: the pool slot of a UE in sharing mode (paired pooling: the same UE
// always gets the same N6 address).
uint64_t hash(const Address& a) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint8_t b : a.bytes) {
        h = (h ^ b) * 0x100000001b3ull;
    }
    return h;
}

// Address `index` of `p` (index below the prefix's size; host part at most 64 bits).
Address nth(const Prefix& p, uint64_t index) {
    Address a = p.address;
    for (int i = 15; i >= 0 && index != 0; --i) {
        uint64_t sum = a.bytes[static_cast<size_t>(i)] + (index & 0xff);
        a.bytes[static_cast<size_t>(i)] = static_cast<uint8_t>(sum);
        index = (index >> 8) + (sum >> 8);
    }
    return a;
}

}  // namespace

std::string_view to_string(Refusal r) {
    auto i = static_cast<size_t>(r);
    return i < std::size(refusal_info) ? refusal_info[i].name : "unknown";
}
std::string_view help(Refusal r) {
    auto i = static_cast<size_t>(r);
    return i < std::size(refusal_info) ? refusal_info[i].help : "";
}
std::string_view to_string(Counter c) {
    auto i = static_cast<size_t>(c);
    return i < std::size(counter_info) ? counter_info[i].name : "unknown";
}
std::string_view help(Counter c) {
    auto i = static_cast<size_t>(c);
    return i < std::size(counter_info) ? counter_info[i].help : "";
}

bool Prefix::contains(const Address& a) const {
    for (size_t bit = 0; bit < len; bit += 8) {
        size_t i = bit / 8;
        uint8_t mask = len - bit >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - (len - bit)));
        if ((a.bytes[i] & mask) != (address.bytes[i] & mask)) {
            return false;
        }
    }
    return true;
}

Prefix Prefix::v4(uint32_t host_order, uint8_t l) {
    return Prefix{Address::v4(host_order), static_cast<uint8_t>(96 + l)};
}

Prefix Prefix::v6(const std::array<uint8_t, 16>& a, uint8_t l) {
    return Prefix{Address::v6(a), l};
}

bool icmp_is_hard(bool v6, uint8_t code) {
    return tcp::icmp_unreachable_is_hard(v6, code);
}

TeardownAction on_event(Event e) {
    switch (e) {
        case Event::ue_data_fin:
            return TeardownAction::fin_n6;  // §5.1: DATA_FIN -> FIN downstream
        case Event::ue_subflow_rst:
            return TeardownAction::subflow_only;  // §5.1: never tears down the N6 side
        case Event::ue_fastclose:
            return TeardownAction::rst_n6;
        case Event::n6_fin:
            return TeardownAction::close_ue;  // §4.2: SHOULD close upstream gracefully
        case Event::n6_rst:
        case Event::n6_failed:
            return TeardownAction::fastclose_ue;  // §5.1: downstream reset -> MP_FASTCLOSE
    }
    return TeardownAction::fastclose_ue;
}

bool Converter::take_error_token(UeState& ue, uint64_t now_us) {
    const uint64_t rate = std::max<uint32_t>(policy_.error_reply_rate, 1);
    const uint64_t depth = rate * token;
    if (!ue.bucket_started) {
        ue.bucket_started = true;
        ue.error_tokens_us = depth;
        ue.error_refill_at_us = now_us;
    }
    if (now_us > ue.error_refill_at_us) {
        uint64_t add = (now_us - ue.error_refill_at_us) * rate;
        ue.error_tokens_us = std::min(depth, ue.error_tokens_us + std::min(add, depth));
        ue.error_refill_at_us = now_us;
    }
    if (ue.error_tokens_us < token) {
        return false;
    }
    ue.error_tokens_us -= token;
    return true;
}

void Converter::count_error(const Decision& d) {
    // The code is byte 6 of a reply made of the header and one Error TLV.
    if (d.is_error && d.reply_len >= 8) {
        counters_.errors_by_code[d.reply[6]]++;
        counters_.add(Counter::error_replies);
    }
}

// Every error answer to a UE: the refusal counted, then a reply only if the UE's error budget
// allows one (RFC 8803 §9.3 rate limit; otherwise ignored, counted); `emit` writes the reply.
template <class Emit>
Decision Converter::limited_error(UeState& ue, Refusal r, uint64_t now_us, Emit emit) {
    Decision d;
    d.refusal = r;
    counters_.refusals[static_cast<size_t>(r)]++;
    if (!take_error_token(ue, now_us)) {
        counters_.add(Counter::error_replies_limited);
        d.verdict = Verdict::ignore;
        return d;
    }
    d.verdict = Verdict::reply;
    d.is_error = true;
    d.reply_len = emit(std::span<uint8_t>(d.reply)).value_or(0);
    count_error(d);
    return d;
}

Decision Converter::error_reply(UeState& ue, Refusal r, wire::ErrorCode code, uint8_t value,
                                uint64_t now_us) {
    return limited_error(
        ue, r, now_us, [&](std::span<uint8_t> out) { return wire::emit_error(code, value, out); });
}

Decision Converter::echo_reply(UeState& ue, Refusal r, wire::ErrorCode code,
                               std::span<const uint8_t> received, uint64_t now_us) {
    return limited_error(ue, r, now_us, [&](std::span<uint8_t> out) {
        return wire::emit_error_echo(code, received, out);
    });
}

Decision Converter::option_reply(UeState& ue, std::span<const uint8_t> kinds, uint64_t now_us) {
    return limited_error(ue, Refusal::unsupported_option, now_us, [&](std::span<uint8_t> out) {
        return wire::emit_unsupported_options(kinds, out);
    });
}

bool Converter::destination_allowed(const Address& dst) const {
    if (wire::is_forbidden_destination(dst)) {
        return false;
    }
    if (std::find(policy_.own.begin(), policy_.own.end(), dst) != policy_.own.end()) {
        return false;
    }
    return std::none_of(policy_.deny.begin(), policy_.deny.end(),
                        [&](const Prefix& p) { return p.contains(dst); });
}

std::optional<Address> Converter::pick_source(const UeContext& ctx, const Address& dst) const {
    const bool v4 = dst.is_v4();
    if (policy_.mode == AddressMode::preserving) {
        return v4 ? ctx.ue_v4 : ctx.ue_v6;
    }
    const std::optional<Prefix>& pool = v4 ? policy_.n6_pool_v4 : policy_.n6_pool_v6;
    if (!pool) {
        return std::nullopt;
    }
    // Paired pooling (RFC 6888 REQ-2): the slot follows from the UE's address. The host part
    // counts at most 64 bits; in an IPv4 pool of 4 or more the network and broadcast addresses
    // are skipped.
    unsigned host_bits = 128u - pool->len;
    uint64_t size = host_bits >= 64 ? 0 : uint64_t{1} << host_bits;  // 0: 2^64
    const Address& who = ctx.ue_v4 ? *ctx.ue_v4 : ctx.ue_v6 ? *ctx.ue_v6 : dst;
    uint64_t h = hash(who);
    uint64_t index = 0;
    if (v4 && size >= 4) {
        index = 1 + h % (size - 2);
    } else if (size != 0) {
        index = h % size;
    } else {
        index = h;
    }
    return nth(*pool, index);
}

Decision Converter::on_syn(const UeContext& ctx, UeState& ue, const UeSyn& syn, PortSource& ports,
                           uint64_t now_us) {
    counters_.add(Counter::syns);
    // Error replies to sources outside any session share one bucket.
    UeState& bucket = ctx.in_session ? ue : strangers_;

    // §1.6 steps 1-5: the message.
    wire::Message m;
    wire::ParseResult pr = wire::parse(syn.data, m);
    if (pr.status == wire::Status::need_more) {
        // The message must be whole in the SYN: braid keeps no state for half a message (an
        // implementation choice the RFC leaves open, spec §1.6).
        return echo_reply(bucket, Refusal::incomplete_message, wire::ErrorCode::malformed_message,
                          syn.data, now_us);
    }
    if (pr.status == wire::Status::failed) {
        // Echo the message, not the user data after it: Total Length bounds it.
        size_t echo = syn.data.size();
        if (syn.data.size() >= 2 && syn.data[1] != 0) {
            echo = std::min(echo, size_t{syn.data[1]} * 4);
        }
        const std::span<const uint8_t> received = syn.data.first(echo);
        switch (pr.error) {
            case wire::ParseError::not_convert: {
                Decision d;
                d.refusal = Refusal::not_convert;
                counters_.refusals[static_cast<size_t>(Refusal::not_convert)]++;
                return d;
            }
            case wire::ParseError::zero_total_length: {
                Decision d;
                d.verdict = Verdict::reset;
                d.refusal = Refusal::zero_total_length;
                counters_.refusals[static_cast<size_t>(Refusal::zero_total_length)]++;
                counters_.add(Counter::resets);
                return d;
            }
            case wire::ParseError::bad_version:
                return error_reply(bucket, Refusal::bad_version,
                                   wire::ErrorCode::unsupported_version, wire::version, now_us);
            default:
                break;
        }
        const bool unsupported = wire::error_code(pr.error) == wire::ErrorCode::unsupported_message;
        return echo_reply(bucket,
                          unsupported ? Refusal::unsupported_tlv : Refusal::malformed_message,
                          wire::error_code(pr.error), received, now_us);
    }
    const std::span<const uint8_t> received = syn.data.first(pr.length);
    // TLVs only a converter sends are not messages a converter supports (§6.2.2).
    if (m.extended_tcp_header || m.supported_extensions || m.error) {
        return echo_reply(bucket, Refusal::unsupported_tlv, wire::ErrorCode::unsupported_message,
                          received, now_us);
    }

    // §9.2: internal realm only.
    if (!ctx.in_session) {
        return error_reply(bucket, Refusal::no_session, wire::ErrorCode::not_authorized, 0, now_us);
    }
    if (!ctx.mptcp_enabled) {
        return error_reply(ue, Refusal::mptcp_not_enabled, wire::ErrorCode::not_authorized, 0,
                           now_us);
    }

    if (!m.connect) {
        if (!m.info) {
            return echo_reply(ue, Refusal::no_connect, wire::ErrorCode::malformed_message, received,
                              now_us);
        }
        // Info alone: Supported TCP Extensions, no N6 connection (§6.2.3).
        Decision d;
        d.verdict = Verdict::reply;
        d.reply_len =
            wire::Builder(d.reply).supported_extensions(supported_kinds).finish().value_or(0);
        counters_.add(Counter::info_replies);
        return d;
    }
    const wire::Connect& c = *m.connect;

    if (!destination_allowed(c.address)) {
        return error_reply(ue, Refusal::destination_denied, wire::ErrorCode::not_authorized, 0,
                           now_us);
    }

    // §7: the options the client asks for.
    N6SynOptions opts;
    std::array<uint8_t, 64> unsupported{};
    size_t n_unsupported = 0;
    bool bad_tfo = false;
    c.for_each_option([&](wire::ConnectOption o) {
        switch (o.kind) {
            case kind::eol:
            case kind::nop:
            case kind::mss:
            case kind::ws:
            case kind::sack:
                counters_.add(Counter::options_ignored);  // MUST be ignored (§7.1-7.3)
                return;
            case kind::sack_permitted:
                opts.sack_permitted = true;
                return;
            case kind::timestamps:
                opts.timestamps = true;  // values, if any, are the converter's own (§7.4)
                return;
            case kind::mptcp:
                // braid's N6 side is plain TCP: not requested downstream; the Extended TCP
                // Header (the server's SYN+ACK options) shows the client it is absent.
                counters_.add(Counter::options_ignored);
                return;
            case kind::tfo:
                // Empty: cookie request; else a 4..16-byte cookie to copy (RFC 7413 §4.1.1).
                if (!o.value.empty() && (o.value.size() < 4 || o.value.size() > 16)) {
                    bad_tfo = true;
                    return;
                }
                opts.tfo = true;
                opts.tfo_cookie.assign(o.value);
                return;
            default:
                break;
        }
        // Anything else, TCP-AO (29) included (§7.7): Unsupported TCP Option, each kind once.
        const uint8_t* end = unsupported.data() + n_unsupported;
        if (std::find(static_cast<const uint8_t*>(unsupported.data()), end, o.kind) == end &&
            n_unsupported < unsupported.size()) {
            unsupported[n_unsupported++] = o.kind;
        }
    });
    if (bad_tfo) {
        return echo_reply(ue, Refusal::malformed_message, wire::ErrorCode::malformed_message,
                          received, now_us);
    }
    if (n_unsupported != 0) {
        return option_reply(ue, std::span<const uint8_t>(unsupported.data(), n_unsupported),
                            now_us);
    }

    // §9.3: per-UE limits.
    if (ue.connections >= policy_.per_ue_max_connections) {
        return error_reply(ue, Refusal::ue_connection_limit, wire::ErrorCode::resource_exceeded, 0,
                           now_us);
    }
    if (ue.pending_syns >= policy_.per_ue_max_pending_syns) {
        return error_reply(ue, Refusal::ue_pending_syn_limit, wire::ErrorCode::resource_exceeded, 0,
                           now_us);
    }

    auto src = pick_source(ctx, c.address);
    if (!src) {
        return error_reply(ue, Refusal::no_source_address, wire::ErrorCode::network_failure, 0,
                           now_us);
    }

    // §9.3: no SYN amplification. Leave out what the client merely asked for, least useful
    // first, until the N6 SYN is no bigger than the UE's.
    const bool v4 = c.address.is_v4();
    if (n6_syn_bytes(v4, opts) > syn.syn_bytes) {
        for (auto drop :
             {&N6SynOptions::timestamps, &N6SynOptions::tfo, &N6SynOptions::sack_permitted}) {
            if (opts.*drop && n6_syn_bytes(v4, opts) > syn.syn_bytes) {
                opts.*drop = false;
                if (drop == &N6SynOptions::tfo) {
                    opts.tfo_cookie.size = 0;
                }
                counters_.add(Counter::options_dropped_for_size);
            }
        }
        if (n6_syn_bytes(v4, opts) > syn.syn_bytes) {
            return error_reply(ue, Refusal::syn_amplification, wire::ErrorCode::not_authorized, 0,
                               now_us);
        }
    }

    // Address preservation keeps the client's port when it is free.
    const uint16_t preferred = policy_.mode == AddressMode::preserving ? syn.client_port : 0;
    auto port = ports.reserve(*src, c.address, c.port, preferred);
    if (!port) {
        return error_reply(ue, Refusal::no_source_port, wire::ErrorCode::resource_exceeded, 0,
                           now_us);
    }

    Decision d;
    d.verdict = Verdict::open_n6;
    d.n6.src = *src;
    d.n6.src_port = *port;
    d.n6.dst = c.address;
    d.n6.dst_port = c.port;
    d.n6.options = opts;
    d.n6.extended = c.extended();
    d.n6.info = m.info;
    d.n6.message_len = static_cast<uint32_t>(pr.length);
    ue.connections++;
    ue.pending_syns++;
    counters_.add(Counter::n6_opens);
    return d;
}

Decision Converter::on_n6_outcome(UeState& ue, const N6Open& open, const N6Outcome& outcome) {
    Decision d;
    auto fail = [&](Refusal r, wire::ErrorCode code, uint8_t value) {
        // Bounded by the pending-SYN limit: not rate-limited (the UE's SYN needs its answer).
        ue.pending_syns -= ue.pending_syns != 0 ? 1 : 0;
        ue.connections -= ue.connections != 0 ? 1 : 0;
        counters_.refusals[static_cast<size_t>(r)]++;
        d.verdict = Verdict::reply;
        d.refusal = r;
        d.is_error = true;
        d.reply_len = wire::emit_error(code, value, d.reply).value_or(0);
        count_error(d);
        return d;
    };
    switch (outcome.kind) {
        case N6Outcome::Kind::syn_ack: {
            ue.pending_syns -= ue.pending_syns != 0 ? 1 : 0;
            wire::Builder b(d.reply);
            if (open.info) {
                b.supported_extensions(supported_kinds);
            }
            if (open.extended) {
                b.extended_tcp_header(outcome.syn_ack_options);  // §6.2.6: MUST
            }
            d.verdict = Verdict::established;
            d.reply_len = b.finish().value_or(0);
            counters_.add(Counter::established);
            return d;
        }
        case N6Outcome::Kind::rst:
            return fail(Refusal::server_reset, wire::ErrorCode::connection_reset, 0);
        case N6Outcome::Kind::icmp:
            if (!icmp_is_hard(outcome.icmp_v6, outcome.icmp_code)) {
                counters_.add(Counter::icmp_soft_errors);
                d.verdict = Verdict::ignore;  // keep retransmitting until ACK or timeout
                return d;
            }
            return fail(Refusal::destination_unreachable, wire::ErrorCode::destination_unreachable,
                        outcome.icmp_code);
        case N6Outcome::Kind::timeout:
            // A soft error seen before the timeout is the reason (RFC 1122 §4.2.3.9); silence
            // alone has no code of its own: Network Failure is the closest (spec §1.7).
            if (outcome.last_soft_icmp) {
                return fail(Refusal::destination_unreachable,
                            wire::ErrorCode::destination_unreachable, *outcome.last_soft_icmp);
            }
            return fail(Refusal::server_timeout, wire::ErrorCode::network_failure, 0);
    }
    return d;
}

void Converter::on_closed(UeState& ue) {
    ue.connections -= ue.connections != 0 ? 1 : 0;
}

}  // namespace braid::mptcp::convert
