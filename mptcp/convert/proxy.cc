// The converter's application on the engine and the endpoint: see proxy.h for the life of one
// proxied connection.
#include "mptcp/convert/proxy.h"

#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>

#include "tcpstack/mbuf_util.h"

namespace braid::mptcp::convert {

namespace {

// The code of a Destination Unreachable the N6 connection received (its soft error), if that
// is what its last ICMP error was (RFC 8803 §4.2 reports it when the SYN times out).
std::optional<uint8_t> soft_unreachable(const std::optional<tcp::IcmpNote>& n) {
    if (n && ((!n->v6 && n->type == 3 && n->code != 4) || (n->v6 && n->type == 1))) {
        return n->code;
    }
    return std::nullopt;
}

Address to_address(const tcp::IpAddr& a) {
    if (a.family == 6) {
        return Address::v6(a.bytes);
    }
    return Address::v4(uint32_t{a.bytes[0]} << 24 | uint32_t{a.bytes[1]} << 16 |
                       uint32_t{a.bytes[2]} << 8 | uint32_t{a.bytes[3]});
}

tcp::IpAddr to_ip(const Address& a) {
    if (a.is_v4()) {
        const uint32_t v = a.v4_host();
        return tcp::IpAddr::v4(static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                               static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v));
    }
    tcp::IpAddr x;
    x.family = 6;
    x.bytes = a.bytes;
    return x;
}

uint32_t chain_len(const rte_mbuf* m) {
    return m == nullptr ? 0 : rte_pktmbuf_pkt_len(m);
}

// Copies `bytes` into a chain from `pool` (nullptr if it ran dry).
rte_mbuf* make_chain(rte_mempool* pool, std::span<const uint8_t> bytes) {
    rte_mbuf* head = nullptr;
    rte_mbuf* tail = nullptr;
    size_t off = 0;
    while (off < bytes.size()) {
        rte_mbuf* m = rte_pktmbuf_alloc(pool);
        if (m == nullptr) {
            rte_pktmbuf_free(head);
            return nullptr;
        }
        const size_t n = std::min<size_t>(rte_pktmbuf_tailroom(m), bytes.size() - off);
        std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(n)), bytes.data() + off, n);
        off += n;
        if (head == nullptr) {
            head = tail = m;
        } else {
            tail->next = m;
            tail = m;
            head->nb_segs = static_cast<uint16_t>(head->nb_segs + 1);
            head->pkt_len += static_cast<uint32_t>(n);
        }
    }
    return head;
}

}  // namespace

void SetupHistogram::add(uint64_t us) {
    size_t i = 0;
    while (i < setup_buckets_us.size() && us > setup_buckets_us[i]) {
        ++i;
    }
    ++counts[i];
    sum_us += us;
}

uint64_t SetupHistogram::quantile_bound_us(double q) const {
    const uint64_t n = total();
    if (n == 0) {
        return 0;
    }
    // The rank of the q-quantile sample, 1-based: the first bucket whose cumulative count
    // reaches it.
    const auto rank = static_cast<uint64_t>(q * static_cast<double>(n) + 0.999999);
    uint64_t cum = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
        cum += counts[i];
        if (cum >= std::max<uint64_t>(rank, 1)) {
            return i < setup_buckets_us.size() ? setup_buckets_us[i] : UINT64_MAX;
        }
    }
    return UINT64_MAX;
}

std::string_view to_string(ProxyState s) {
    switch (s) {
#define BRAID_X(name, text) \
    case ProxyState::name:  \
        return text;
        BRAID_PROXY_STATES(BRAID_X)
#undef BRAID_X
        case ProxyState::count:
            break;
    }
    return "?";
}

std::string_view to_string(ProxyCounter c) {
    switch (c) {
#define BRAID_X(name, help)  \
    case ProxyCounter::name: \
        return #name;
        BRAID_PROXY_COUNTERS(BRAID_X)
#undef BRAID_X
        case ProxyCounter::count:
            break;
    }
    return "?";
}

std::string_view help(ProxyCounter c) {
    switch (c) {
#define BRAID_X(name, text)  \
    case ProxyCounter::name: \
        return text;
        BRAID_PROXY_COUNTERS(BRAID_X)
#undef BRAID_X
        case ProxyCounter::count:
            break;
    }
    return "?";
}

struct Proxy::Conn {
    uint32_t id = 0;
    ProxyState state = ProxyState::connecting;
    tcp::ConnId ue = 0;
    tcp::ConnId n6 = 0;
    tcp::FourTuple ue_tuple;
    tcp::FourTuple n6_tuple;
    tcp::IpAddr ue_key;  // whose per-UE limits it counts against (the session's UE address)
    bool mptcp = false;
    N6Open open;
    bool port_reserved = false;
    std::vector<uint8_t> reply;  // the Convert reply, first bytes of the UE-bound stream
    bool reply_sent = false;
    bool close_after_reply = false;    // an Error (or Info-only) reply: FIN after it
    bool counted = false;              // holds one of the UE's converter connections
    std::vector<uint8_t> early_up;     // SYN data after the Convert message, for N6
    rte_mbuf* up_pending = nullptr;    // received from the UE, not yet taken by N6
    rte_mbuf* down_pending = nullptr;  // received from N6, not yet taken by the UE side
    bool ue_established = false;
    bool n6_established = false;
    bool up_fin = false;    // N6 write side shut (the UE finished)
    bool down_fin = false;  // UE write side shut (N6 finished)
    bool ue_gone = false;
    bool n6_gone = false;
    // N6 closed normally (e.g. TIME-WAIT) with bytes the proxy has not read yet: they are
    // still relayed; n6_gone follows once they are.
    bool n6_draining = false;
    uint64_t bytes_up = 0, bytes_down = 0;
    uint64_t started_us = 0;
    uint64_t deadline_us = 0;  // connecting: the N6 SYN/ACK's deadline
    std::optional<Refusal> refusal;
    // Session steering (issue 7): the session the connection was opened for, the snapshot
    // generation last applied, the address its session is found by, the scheduler applied.
    uint64_t seid = 0;
    uint64_t generation = 0;
    tcp::IpAddr session_addr;
    std::optional<SchedulerConfig> scheduler;
    bool session_gone = false;  // closing because the session was deleted
    uint64_t linger_us = 0;     // session_gone: the N6 side is reset if still open by then
};

std::optional<uint16_t> Proxy::Ports::reserve(const Address& src, const Address& dst,
                                              uint16_t dst_port, uint16_t preferred) {
    auto key = [&](uint16_t p) { return Key{src.bytes, dst.bytes, dst_port, p}; };
    if (preferred != 0 && !used_.contains(key(preferred))) {
        used_.emplace(key(preferred), true);
        return preferred;
    }
    const uint32_t span = uint32_t{hi_} - lo_ + 1;
    for (uint32_t i = 0; i < span; ++i) {
        const uint16_t p = next_;
        next_ = next_ == hi_ ? lo_ : static_cast<uint16_t>(next_ + 1);
        if (!used_.contains(key(p))) {
            used_.emplace(key(p), true);
            return p;
        }
    }
    return std::nullopt;
}

void Proxy::Ports::release(const Address& src, const Address& dst, uint16_t dst_port,
                           uint16_t port) {
    used_.erase(Key{src.bytes, dst.bytes, dst_port, port});
}

Proxy::Proxy(tcp::Engine& eng, Endpoint& ep, Converter& conv, UeLookup lookup, ProxyConfig cfg)
    : eng_(eng),
      ep_(ep),
      conv_(conv),
      lookup_(std::move(lookup)),
      cfg_(cfg),
      ports_(cfg.port_min, cfg.port_max) {}

Proxy::~Proxy() {
    for (auto& [id, c] : conns_) {
        rte_pktmbuf_free(c->up_pending);
        rte_pktmbuf_free(c->down_pending);
    }
}

bool Proxy::start() {
    tcp::ListenOptions lo;
    lo.addr = cfg_.address;
    lo.any_addr = false;
    lo.port = cfg_.port;
    lo.mss_clamp = cfg_.ue_mss_clamp;
    lo.defer_syn_data = true;
    lo.rcv_buf = cfg_.ue_rcv_buf;
    lo.hook = &ep_;
    auto l = eng_.listen(lo);
    if (!l) {
        return false;
    }
    lid_ = *l;
    return true;
}

bool Proxy::on_event(const tcp::Event& e, uint64_t now_us) {
    if (e.kind == tcp::EventKind::syn_data) {
        if (lid_ == 0 || e.listener != lid_) {
            return false;
        }
        on_syn_data(e.conn, now_us);
        return true;
    }
    if (auto it = by_n6_.find(e.conn); it != by_n6_.end()) {
        auto c = conns_.find(it->second);
        if (c != conns_.end()) {
            on_n6_event(*c->second, e, now_us);
            if (c->second->ue_gone && c->second->n6_gone) {
                maybe_finish(*c->second);
            }
        }
        return true;
    }
    if (auto it = by_ue_.find(e.conn); it != by_ue_.end()) {
        auto c = conns_.find(it->second);
        if (c != conns_.end()) {
            on_ue_event(*c->second, e, now_us);
            if (c->second->ue_gone && c->second->n6_gone) {
                maybe_finish(*c->second);
            }
        }
        return true;
    }
    return false;
}

void Proxy::on_syn_data(tcp::ConnId u, uint64_t now_us) {
    count(ProxyCounter::syns);
    auto ci = eng_.describe(u);
    if (!ci) {
        return;
    }
    rte_mbuf* m = eng_.take_syn_data(u);
    std::vector<uint8_t> data(chain_len(m));
    if (m != nullptr) {
        // rte_pktmbuf_read copies only when the bytes span segments, else points into m.
        const void* p = rte_pktmbuf_read(m, 0, static_cast<uint32_t>(data.size()), data.data());
        if (p != nullptr && p != data.data()) {
            std::memcpy(data.data(), p, data.size());
        }
        rte_pktmbuf_free(m);
    }
    const tcp::IpAddr ue_addr = ci->tuple.remote;
    UeContext ctx = lookup_ ? lookup_(ue_addr) : UeContext{};
    // Per-UE limits count against the PDU session's UE address, whichever address the subflow
    // comes from (a link-specific multipath address of an access, issue 7); outside a session,
    // against the source.
    const std::optional<Address>& same = ue_addr.family == 6 ? ctx.ue_v6 : ctx.ue_v4;
    const std::optional<Address>& other = ue_addr.family == 6 ? ctx.ue_v4 : ctx.ue_v6;
    const tcp::IpAddr ue_key = !ctx.in_session ? ue_addr
                               : same          ? to_ip(*same)
                               : other         ? to_ip(*other)
                                               : ue_addr;
    UeState& us = ue_state(ue_key);
    UeSyn syn;
    syn.data = data;
    const uint32_t ip_len = ue_addr.family == 6 ? 40 : 20;
    syn.syn_bytes = ip_len + 20 + eng_.syn_options_len(u) + static_cast<uint32_t>(data.size());
    syn.client = to_address(ue_addr);
    syn.client_port = ci->tuple.remote_port;
    syn.mptcp = ep_.is_mptcp(u);
    Decision d = conv_.on_syn(ctx, us, syn, ports_, now_us);

    switch (d.verdict) {
        case Verdict::ignore:
            eng_.refuse_syn(u, now_us);
            ep_.poll(now_us);
            return;
        case Verdict::reset:
            eng_.abort(u, now_us);
            ep_.poll(now_us);
            return;
        default:
            break;
    }
    auto c = std::make_unique<Conn>();
    c->id = next_id_++;
    c->ue = u;
    c->ue_tuple = ci->tuple;
    c->ue_key = ue_key;
    c->mptcp = syn.mptcp;
    c->started_us = now_us;
    c->refusal = d.refusal;
    Conn& ref = *c;
    by_ue_[u] = c->id;
    conns_.emplace(c->id, std::move(c));
    if (d.verdict != Verdict::open_n6) {
        // An Error TLV or an answer without an N6 side (Info): the reply, then FIN.
        ref.n6_gone = true;
        answer_ue(ref, d, true, now_us);
        return;
    }
    ref.open = d.n6;
    ref.port_reserved = true;
    ref.counted = true;
    if (ctx.in_session && ctx.seid != 0) {
        // Found again by the session's own UE address (not the subflow's source, which may be
        // a link-specific address): check_sessions() follows the session from here.
        ref.seid = ctx.seid;
        ref.generation = ctx.generation;
        const std::optional<Address>& a = ue_addr.family == 6 ? (ctx.ue_v6 ? ctx.ue_v6 : ctx.ue_v4)
                                                              : (ctx.ue_v4 ? ctx.ue_v4 : ctx.ue_v6);
        ref.session_addr = a ? to_ip(*a) : ue_addr;
        if (ctx.scheduler && ref.mptcp && ep_.set_scheduler(u, *ctx.scheduler, now_us)) {
            ref.scheduler = ctx.scheduler;
        }
        if (session_lookup_) {
            // Once now, so that the owner knows the session's downlink path even if the session
            // is deleted before the first check_sessions() pass reaches the connection.
            session_lookup_(ref.session_addr);
        }
    }
    if (d.n6.message_len < data.size()) {
        ref.early_up.assign(data.begin() + d.n6.message_len, data.end());
    }
    tcp::ConnectOptions co;
    co.tuple = tcp::FourTuple{to_ip(d.n6.src), to_ip(d.n6.dst), d.n6.src_port, d.n6.dst_port};
    co.mss_clamp = cfg_.n6_mss_clamp;
    co.rcv_buf = cfg_.n6_rcv_buf;
    // RFC 8803 §7: what the converter chose (the client's Extended Connect options within local
    // policy, trimmed so that this SYN is no bigger than the client's, §9.3).
    co.sack = d.n6.options.sack_permitted;
    co.timestamps = d.n6.options.timestamps;
    co.tfo = d.n6.options.tfo;
    co.tfo_cookie_len = static_cast<uint8_t>(std::min<size_t>(d.n6.options.tfo_cookie.size, 16));
    std::copy_n(d.n6.options.tfo_cookie.data.begin(), co.tfo_cookie_len, co.tfo_cookie.begin());
    co.keep_syn_ack_options = d.n6.extended;
    ref.n6_tuple = co.tuple;
    std::optional<tcp::ConnId> n;
    if (!cfg_.n6_claim || cfg_.n6_claim(co.tuple)) {
        n = eng_.connect(co, now_us);
        if (cfg_.n6_opened) {
            cfg_.n6_opened(co.tuple, n);
        }
    }
    if (!n) {
        count(ProxyCounter::n6_connect_failed);
        n6_failed(ref, N6Outcome{.kind = N6Outcome::Kind::timeout}, now_us);
        return;
    }
    count(ProxyCounter::n6_connects);
    ref.n6 = *n;
    by_n6_[*n] = ref.id;
    ref.deadline_us = now_us + cfg_.n6_connect_timeout_us;
    timers_.push({ref.deadline_us, ref.id});
}

void Proxy::answer_ue(Conn& c, const Decision& d, bool close_after, uint64_t now_us) {
    c.reply.assign(d.reply_bytes().begin(), d.reply_bytes().end());
    c.close_after_reply = close_after;
    if (d.is_error) {
        count(ProxyCounter::error_replies);
        c.refusal = d.refusal;
    }
    c.state = close_after ? ProxyState::closing : ProxyState::replying;
    // The SYN/ACK acknowledges all SYN data; the reply goes out once the UE's third ACK has
    // established the connection (RFC 8684 App. B.2: the first bytes after the handshake).
    eng_.answer_syn(c.ue, now_us);
    ep_.poll(now_us);
}

void Proxy::n6_failed(Conn& c, const N6Outcome& o, uint64_t now_us) {
    Decision d = conv_.on_n6_outcome(ue_state(c.ue_key), c.open, o);
    c.counted = false;  // on_n6_outcome released the UE's connection and pending SYN
    c.n6_gone = true;
    if (c.n6 != 0) {
        by_n6_.erase(c.n6);
    }
    if (c.port_reserved) {
        ports_.release(c.open.src, c.open.dst, c.open.dst_port, c.open.src_port);
        c.port_reserved = false;
    }
    if (c.ue_gone) {
        return;
    }
    answer_ue(c, d, true, now_us);
}

void Proxy::on_n6_event(Conn& c, const tcp::Event& e, uint64_t now_us) {
    switch (e.kind) {
        case tcp::EventKind::established: {
            if (c.n6_established) {
                return;
            }
            c.n6_established = true;
            c.deadline_us = 0;
            if (c.ue_gone) {
                ep_.abort(c.n6, now_us);
                return;
            }
            N6Outcome o;
            o.kind = N6Outcome::Kind::syn_ack;
            std::array<uint8_t, tcp::wire::max_options_len> syn_ack{};
            o.syn_ack_options = {syn_ack.data(), eng_.syn_ack_options(c.n6, syn_ack)};
            Decision d = conv_.on_n6_outcome(ue_state(c.ue_key), c.open, o);
            count(ProxyCounter::established);
            if (!c.early_up.empty()) {
                if (rte_mbuf* m = make_chain(cfg_.pool, c.early_up)) {
                    if (ep_.send(c.n6, m, now_us) == 0) {
                        rte_pktmbuf_free(m);  // cannot happen: a fresh send buffer
                    } else {
                        c.bytes_up += c.early_up.size();
                        count(ProxyCounter::bytes_up, c.early_up.size());
                    }
                } else {
                    count(ProxyCounter::no_mbuf);
                }
                c.early_up.clear();
            }
            setup_.add(now_us - c.started_us);
            answer_ue(c, d, false, now_us);
            return;
        }
        case tcp::EventKind::readable:
        case tcp::EventKind::writable:
            pump(c, now_us);
            return;
        case tcp::EventKind::closed:
        case tcp::EventKind::reset:
            if (!c.n6_established) {
                // The N6 SYN's fate: RST (refused) → Connection Reset; a hard ICMP error →
                // Destination Unreachable with its code; anything else (SYN retransmissions
                // exhausted) → the last soft ICMP error's code, else Network Failure.
                N6Outcome o;
                o.kind = N6Outcome::Kind::timeout;
                if (e.reason == tcp::CloseReason::refused) {
                    o.kind = N6Outcome::Kind::rst;
                } else if (e.reason == tcp::CloseReason::unreachable && e.icmp) {
                    o.kind = N6Outcome::Kind::icmp;
                    o.icmp_v6 = e.icmp->v6;
                    o.icmp_code = e.icmp->code;
                } else {
                    o.last_soft_icmp = soft_unreachable(e.icmp);
                }
                n6_failed(c, o, now_us);
                return;
            }
            if (e.kind == tcp::EventKind::closed && e.reason == tcp::CloseReason::normal) {
                // Both FINs exchanged (the engine reports it on entering TIME-WAIT): what the
                // server sent may still wait unread in the connection; relay it first.
                c.n6_draining = true;
                pump(c, now_us);
                return;
            }
            c.n6_gone = true;
            by_n6_.erase(c.n6);
            if (c.port_reserved) {
                ports_.release(c.open.src, c.open.dst, c.open.dst_port, c.open.src_port);
                c.port_reserved = false;
            }
            if (e.kind == tcp::EventKind::reset || e.reason == tcp::CloseReason::timeout ||
                e.reason == tcp::CloseReason::keepalive_timeout) {
                // §5.1: downstream reset → MP_FASTCLOSE upstream (the Endpoint's abort puts it
                // on every subflow's RST; a plain-TCP UE gets a RST).
                count(ProxyCounter::n6_resets);
                if (!c.ue_gone) {
                    rte_pktmbuf_free(c.down_pending);
                    c.down_pending = nullptr;
                    ep_.abort(c.ue, now_us);
                }
                return;
            }
            pump(c, now_us);
            return;
        case tcp::EventKind::syn_data:
            return;
    }
}

void Proxy::on_ue_event(Conn& c, const tcp::Event& e, uint64_t now_us) {
    switch (e.kind) {
        case tcp::EventKind::established:
            // Drain the listener's accept queue: the proxy owns its connections.
            while (ep_.accept(lid_)) {
            }
            c.ue_established = true;
            send_reply(c, now_us);
            pump(c, now_us);
            return;
        case tcp::EventKind::readable:
        case tcp::EventKind::writable:
            pump(c, now_us);
            return;
        case tcp::EventKind::closed:
        case tcp::EventKind::reset: {
            if (c.session_gone) {
                return;  // close_for_session already let the UE side go
            }
            const bool was_up = c.ue_established;
            c.ue_gone = true;
            by_ue_.erase(c.ue);
            rte_pktmbuf_free(c.down_pending);
            c.down_pending = nullptr;
            if (c.n6_gone) {
                return;
            }
            if (c.state == ProxyState::connecting) {
                // The UE gave up on its SYN (RST or our defer deadline) before N6 answered.
                count(ProxyCounter::ue_gave_up);
                UeState& us = ue_state(c.ue_key);
                us.pending_syns -= us.pending_syns != 0 ? 1 : 0;
                us.connections -= us.connections != 0 ? 1 : 0;
                c.counted = false;
                c.n6_gone = true;
                by_n6_.erase(c.n6);
                ep_.abort(c.n6, now_us);  // its closed event no longer finds the connection
                return;
            }
            if (e.kind == tcp::EventKind::reset || !was_up) {
                // §5.1 MP_FASTCLOSE (or RST of a plain-TCP UE) → RST the N6 connection.
                count(ProxyCounter::ue_resets);
                ep_.abort(c.n6, now_us);
                return;
            }
            // Closed normally: N6 got its FIN from pump() when the UE's DATA_FIN arrived.
            pump(c, now_us);
            return;
        }
        case tcp::EventKind::syn_data:
            return;
    }
}

void Proxy::send_reply(Conn& c, uint64_t now_us) {
    if (c.reply_sent || !c.ue_established) {
        return;
    }
    c.reply_sent = true;
    if (!c.reply.empty()) {
        rte_mbuf* m = make_chain(cfg_.pool, c.reply);
        if (m == nullptr) {
            count(ProxyCounter::no_mbuf);
            ep_.abort(c.ue, now_us);
            return;
        }
        if (ep_.send(c.ue, m, now_us) == 0) {
            rte_pktmbuf_free(m);
        }
    }
    if (c.close_after_reply) {
        ep_.close(c.ue, now_us);  // FIN (DATA_FIN) after the Error TLV (RFC 8803 §6.2.2)
        return;
    }
    c.state = ProxyState::relaying;
}

bool Proxy::relay(tcp::ConnId from, tcp::ConnId to, rte_mbuf*& pending, uint64_t& bytes,
                  uint64_t now_us) {
    // Moves what `to` can take now; false when `to` is full (a writable event will come).
    for (;;) {
        uint32_t space = ep_.send_space(to);
        if (space == 0) {
            ep_.want_writable(to);
            return false;
        }
        if (pending == nullptr) {
            pending = ep_.recv(from, now_us);
            if (pending == nullptr) {
                return true;
            }
        }
        rte_mbuf* piece = pending;
        const uint32_t len = rte_pktmbuf_pkt_len(pending);
        uint32_t n = len;
        if (len > space) {
            // Indirect mbufs over the first `space` bytes; the rest stays pending.
            rte_mbuf* tail = nullptr;
            piece =
                tcp::mbuf_clone_range(eng_.config().clone_pool, pending, 0, space, &tail, nullptr);
            if (piece == nullptr) {
                ep_.want_writable(to);
                return false;  // pool dry: retried on the next event
            }
            n = space;
        }
        if (ep_.send(to, piece, now_us) == 0) {
            if (piece != pending) {
                rte_pktmbuf_free(piece);
            }
            ep_.want_writable(to);
            return false;
        }
        if (piece == pending) {
            pending = nullptr;
        } else {
            pending = tcp::mbuf_trim_front(pending, n);
        }
        bytes += n;
    }
}

void Proxy::pump(Conn& c, uint64_t now_us) {
    if (c.session_gone) {
        drain_deleted(c, now_us);
        return;
    }
    if (c.state != ProxyState::relaying && c.state != ProxyState::closing) {
        return;
    }
    if (c.close_after_reply) {
        return;  // an Error reply: nothing is relayed
    }
    if (!c.ue_gone && !c.n6_gone) {
        uint64_t up = 0, down = 0;
        const bool up_done = relay(c.ue, c.n6, c.up_pending, up, now_us);
        const bool down_done = relay(c.n6, c.ue, c.down_pending, down, now_us);
        if (!up_done || !down_done) {
            blocked_.push_back(c.id);
        }
        c.bytes_up += up;
        c.bytes_down += down;
        count(ProxyCounter::bytes_up, up);
        count(ProxyCounter::bytes_down, down);
    }
    if (c.n6_draining && !c.n6_gone && c.down_pending == nullptr && ep_.readable_bytes(c.n6) == 0) {
        c.n6_gone = true;
        by_n6_.erase(c.n6);
        if (c.port_reserved) {
            ports_.release(c.open.src, c.open.dst, c.open.dst_port, c.open.src_port);
            c.port_reserved = false;
        }
    }
    // Half-closes follow the bytes (§4.2, §5.1): DATA_FIN/FIN → FIN/DATA_FIN once relayed.
    if (!c.up_fin && !c.n6_gone && c.up_pending == nullptr &&
        (c.ue_gone || ep_.peer_closed(c.ue))) {
        c.up_fin = true;
        c.state = ProxyState::closing;
        ep_.shutdown_write(c.n6, now_us);
    }
    if (!c.down_fin && !c.ue_gone && c.down_pending == nullptr &&
        (c.n6_gone || ep_.peer_closed(c.n6))) {
        c.down_fin = true;
        c.state = ProxyState::closing;
        ep_.shutdown_write(c.ue, now_us);
    }
}

void Proxy::release_n6(Conn& c) {
    c.n6_gone = true;
    if (c.n6 != 0) {
        by_n6_.erase(c.n6);
    }
    if (c.port_reserved) {
        ports_.release(c.open.src, c.open.dst, c.open.dst_port, c.open.src_port);
        c.port_reserved = false;
    }
}

// The session of `c` was deleted (PFCP Session Deletion, `session del`, association release,
// a peer's restart: every path ends in SessionTable::delete_session, and this worker notices
// it without a lock when the lookup fails). The UE can no longer be reached through braid (its
// tunnels are gone), so its side is aborted at once: MP_FASTCLOSE on every subflow (a plain-TCP
// UE gets a RST). The server side is closed with a FIN, not a RST: the bytes the UE sent and
// braid acknowledged are delivered first (RFC 8803 §4.2/§5.1 map a finished client to a FIN,
// and the server sees an orderly end of the request rather than losing acknowledged data);
// what the server sends afterwards has nowhere to go and is read and dropped. A server that
// does not close within ProxyConfig::session_close_linger_us is reset. A connection whose N6
// side is not established yet (the UE's SYN still held) has nothing to deliver: the UE's SYN
// is reset and the N6 connection aborted (in SYN-SENT that sends nothing; a late SYN/ACK
// gets the engine's RST).
void Proxy::close_for_session(Conn& c, uint64_t now_us) {
    count(ProxyCounter::session_deleted);
    c.session_gone = true;
    if (!c.ue_gone) {
        if (c.state == ProxyState::connecting) {
            // The pending SYN and the connection the converter counted for the UE.
            UeState& us = ue_state(c.ue_key);
            us.pending_syns -= us.pending_syns != 0 ? 1 : 0;
            us.connections -= us.connections != 0 ? 1 : 0;
            c.counted = false;
        } else if (!c.n6_gone && c.n6_established && !c.close_after_reply) {
            // Take what the UE sent and braid acknowledged: it goes to the server before FIN.
            while (rte_mbuf* m = ep_.recv(c.ue, now_us)) {
                if (c.up_pending == nullptr) {
                    c.up_pending = m;
                } else if (rte_pktmbuf_chain(c.up_pending, m) != 0) {
                    rte_pktmbuf_free(m);  // over the segment limit: cannot happen with buffers
                    break;                // bounded by the receive buffer
                }
            }
        }
        c.ue_gone = true;
        by_ue_.erase(c.ue);
        rte_pktmbuf_free(c.down_pending);
        c.down_pending = nullptr;
        ep_.abort(c.ue, now_us);  // MP_FASTCLOSE; its reset event no longer finds `c`
    }
    c.state = ProxyState::closing;
    if (!c.n6_gone) {
        if (!c.n6_established) {
            const tcp::ConnId n6 = c.n6;
            release_n6(c);
            if (n6 != 0) {
                ep_.abort(n6, now_us);
            }
        } else {
            c.linger_us = now_us + cfg_.session_close_linger_us;
            timers_.push({c.linger_us, c.id});
            drain_deleted(c, now_us);
        }
    }
    ep_.poll(now_us);
}

void Proxy::drain_deleted(Conn& c, uint64_t now_us) {
    if (c.n6_gone) {
        return;
    }
    if (c.up_pending != nullptr) {
        uint64_t up = 0;
        // From connection 0 (none): only what is pending is sent.
        if (!relay(0, c.n6, c.up_pending, up, now_us)) {
            blocked_.push_back(c.id);
        }
        c.bytes_up += up;
        count(ProxyCounter::bytes_up, up);
    }
    if (c.up_pending == nullptr && !c.up_fin) {
        c.up_fin = true;
        ep_.shutdown_write(c.n6, now_us);
    }
    while (rte_mbuf* m = ep_.recv(c.n6, now_us)) {
        rte_pktmbuf_free(m);  // the UE is gone: the server's bytes have nowhere to go
    }
    if (c.n6_draining) {
        release_n6(c);
    }
}

void Proxy::check_sessions(uint64_t now_us) {
    if (!session_lookup_) {
        return;
    }
    if (check_queue_.empty()) {
        for (const auto& [id, c] : conns_) {
            if (c->seid != 0 && !c->session_gone) {
                check_queue_.push_back(id);
            }
        }
    }
    uint32_t budget = std::max<uint32_t>(cfg_.session_checks_per_tick, 1);
    while (!check_queue_.empty() && budget-- > 0) {
        const uint32_t id = check_queue_.back();
        check_queue_.pop_back();
        auto it = conns_.find(id);
        if (it == conns_.end() || it->second->session_gone) {
            continue;
        }
        Conn& c = *it->second;
        const UeContext ctx = session_lookup_(c.session_addr);
        if (!ctx.in_session || ctx.seid != c.seid) {
            close_for_session(c, now_us);
            if (c.ue_gone && c.n6_gone) {
                maybe_finish(c);
            }
            continue;
        }
        if (ctx.generation == c.generation) {
            continue;
        }
        c.generation = ctx.generation;
        if (!c.mptcp || c.ue_gone || ctx.scheduler == c.scheduler) {
            continue;
        }
        // A MAR removed: back to the endpoint's default for new connections.
        const SchedulerConfig next = ctx.scheduler.value_or(ep_.default_scheduler());
        if (ep_.set_scheduler(c.ue, next, now_us)) {
            c.scheduler = ctx.scheduler;
            count(ProxyCounter::scheduler_updates);
        }
    }
}

void Proxy::maybe_finish(Conn& c) {
    if (!c.ue_gone || !c.n6_gone) {
        return;
    }
    if (c.counted) {
        conv_.on_closed(ue_state(c.ue_key));
    }
    if (c.port_reserved) {
        ports_.release(c.open.src, c.open.dst, c.open.dst_port, c.open.src_port);
    }
    rte_pktmbuf_free(c.up_pending);
    rte_pktmbuf_free(c.down_pending);
    by_ue_.erase(c.ue);
    if (c.n6 != 0) {
        by_n6_.erase(c.n6);
    }
    const tcp::IpAddr ue = c.ue_key;
    conns_.erase(c.id);
    auto it = ues_.find(ue);
    if (it != ues_.end() && it->second.connections == 0 && it->second.pending_syns == 0) {
        ues_.erase(it);  // the error-reply bucket refills by time: nothing else to keep
    }
}

void Proxy::on_timer(uint64_t now_us) {
    std::vector<uint32_t> retry;
    retry.swap(blocked_);
    std::sort(retry.begin(), retry.end());
    retry.erase(std::unique(retry.begin(), retry.end()), retry.end());
    for (uint32_t id : retry) {
        if (auto it = conns_.find(id); it != conns_.end()) {
            pump(*it->second, now_us);
            ep_.poll(now_us);
            if (it->second->ue_gone && it->second->n6_gone) {
                maybe_finish(*it->second);
            }
        }
    }
    while (!timers_.empty() && timers_.top().at_us <= now_us) {
        const uint32_t id = timers_.top().id;
        timers_.pop();
        auto it = conns_.find(id);
        if (it == conns_.end()) {
            continue;  // closed since
        }
        Conn& c = *it->second;
        const tcp::ConnId n6 = c.n6;
        if (c.session_gone && !c.n6_gone && c.linger_us != 0 && now_us >= c.linger_us) {
            // The session was deleted and N6 did not close in time.
            count(ProxyCounter::session_linger_resets);
            release_n6(c);
            ep_.abort(n6, now_us);  // its reset event no longer finds the connection
            ep_.poll(now_us);
            maybe_finish(c);
        } else if (c.state == ProxyState::connecting && c.deadline_us != 0 &&
                   now_us >= c.deadline_us) {
            // No SYN/ACK from the destination in time.
            count(ProxyCounter::n6_timeouts);
            c.deadline_us = 0;
            N6Outcome o;
            o.kind = N6Outcome::Kind::timeout;
            o.last_soft_icmp = soft_unreachable(eng_.last_icmp(n6));
            n6_failed(c, o, now_us);
            eng_.abort(n6, now_us);  // its closed event no longer finds the connection
            ep_.poll(now_us);
        }
    }
}

uint64_t Proxy::next_timer() const {
    uint64_t d = blocked_.empty() ? UINT64_MAX : 0;  // retry at the owner's next tick
    if (!timers_.empty()) {
        d = std::min(d, timers_.top().at_us);  // possibly stale: on_timer drops it then
    }
    return d;
}

ProxyConnInfo Proxy::info(const Conn& c) const {
    ProxyConnInfo i;
    i.id = c.id;
    i.state = c.state;
    i.ue = c.ue;
    i.n6 = c.n6;
    i.ue_tuple = c.ue_tuple;
    i.n6_tuple = c.n6_tuple;
    i.mptcp = c.mptcp;
    i.bytes_up = c.bytes_up;
    i.bytes_down = c.bytes_down;
    i.started_us = c.started_us;
    i.refusal = c.refusal;
    i.seid = c.seid;
    i.generation = c.generation;
    i.scheduler = c.scheduler;
    i.session_deleted = c.session_gone;
    return i;
}

std::vector<ProxyConnInfo> Proxy::describe_all() const {
    std::vector<ProxyConnInfo> v;
    v.reserve(conns_.size());
    for (const auto& [id, c] : conns_) {
        v.push_back(info(*c));
    }
    std::sort(v.begin(), v.end(),
              [](const ProxyConnInfo& a, const ProxyConnInfo& b) { return a.id < b.id; });
    return v;
}

std::optional<ProxyConnInfo> Proxy::describe(uint32_t id) const {
    auto it = conns_.find(id);
    if (it == conns_.end()) {
        return std::nullopt;
    }
    return info(*it->second);
}

std::array<uint32_t, static_cast<size_t>(ProxyState::count)> Proxy::connections_by_state() const {
    std::array<uint32_t, static_cast<size_t>(ProxyState::count)> n{};
    for (const auto& [id, c] : conns_) {
        ++n[static_cast<size_t>(c->state)];
    }
    return n;
}

}  // namespace braid::mptcp::convert
