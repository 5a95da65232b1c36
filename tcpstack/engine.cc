// Engine: demultiplexing (§3.10.7.1 CLOSED, §3.10.7.2 LISTEN), listeners and SYN cookies,
// connection limits, timers and the application API. Per-connection processing is in
// connection.cc.
#include "tcpstack/engine.h"

#include <rte_mbuf.h>

#include <algorithm>

#include "tcpstack/connection.h"
#include "tcpstack/icmp.h"
#include "tcpstack/siphash.h"
#include "tcpstack/tuple_table.h"

namespace braid::tcp {

namespace {

uint64_t hash_tuple(const SipKey& k, const FourTuple& t, uint8_t domain) {
    std::array<uint8_t, 38> b{};
    std::copy(t.local.bytes.begin(), t.local.bytes.end(), b.begin());
    std::copy(t.remote.bytes.begin(), t.remote.bytes.end(), b.begin() + 16);
    b[32] = static_cast<uint8_t>(t.local_port >> 8);
    b[33] = static_cast<uint8_t>(t.local_port);
    b[34] = static_cast<uint8_t>(t.remote_port >> 8);
    b[35] = static_cast<uint8_t>(t.remote_port);
    b[36] = t.local.family;
    b[37] = domain;
    return siphash24(k, b);
}

CookieTuple cookie_tuple(const FourTuple& t) {
    return CookieTuple{t.local.family, t.local.bytes, t.remote.bytes, t.local_port, t.remote_port};
}

uint32_t payload_len(rte_mbuf* m) {
    return m == nullptr ? 0 : rte_pktmbuf_pkt_len(m);
}

}  // namespace

std::string_view to_string(State s) {
    switch (s) {
#define BRAID_X(name, text) \
    case State::name:       \
        return text;
        BRAID_TCP_STATES(BRAID_X)
#undef BRAID_X
        case State::count:
            break;
    }
    return "?";
}

std::string_view to_string(CloseReason r) {
    switch (r) {
#define BRAID_X(name, help) \
    case CloseReason::name: \
        return #name;
        BRAID_TCP_CLOSE_REASONS(BRAID_X)
#undef BRAID_X
        case CloseReason::count:
            break;
    }
    return "?";
}

size_t FourTupleHash::operator()(const FourTuple& t) const {
    // Per-worker table, keys from the network: a keyed hash would be better against collision
    // floods; the engine keeps one fixed key (see Engine::Engine) through SipHash.
    static const SipKey key{0x6272616964746370ULL, 0x7475706c65686173ULL};
    return static_cast<size_t>(hash_tuple(key, t, 0));
}

size_t IpAddrHash::operator()(const IpAddr& a) const {
    static const SipKey key{0x6272616964697061ULL, 0x6464726861736821ULL};
    return static_cast<size_t>(siphash24(key, a.bytes));
}

Engine::Engine(const EngineConfig& cfg, SegmentSink out, EventSink events)
    : cfg_(cfg),
      out_(std::move(out)),
      events_(std::move(events)),
      cookies_(cfg.secret),
      by_tuple_(std::make_unique<TupleTable>()) {}

Engine::~Engine() = default;

uint32_t Engine::make_isn(const FourTuple& t, uint64_t now_us) const {
    // RFC 9293 §3.4.1 / RFC 6528: M (4 µs clock) + F(tuple, secret).
    SipKey k = SipKey::from_bytes(cfg_.secret);
    return static_cast<uint32_t>(now_us / 4) + static_cast<uint32_t>(hash_tuple(k, t, 1));
}

uint32_t Engine::ts_offset(const FourTuple& t) const {
    // Per-connection random TS offset (RFC 7323 §7.1), stable per tuple so that a connection
    // rebuilt from a SYN cookie keeps the clock its SYN/ACK used.
    SipKey k = SipKey::from_bytes(cfg_.secret);
    return static_cast<uint32_t>(hash_tuple(k, t, 2));
}

Connection* Engine::find(ConnId c) const {
    auto it = conns_.find(c);
    if (it == conns_.end() || it->second->dead) {
        return nullptr;
    }
    return it->second.get();
}

void Engine::emit(OutSegment&& s) {
    count(Counter::segments_out);
    out_(std::move(s));
}

bool Engine::challenge_ack_allowed(uint64_t now_us) {
    // RFC 5961 §7: a per-worker budget per second.
    if (now_us - challenge_window_start_us_ >= 1'000'000) {
        challenge_window_start_us_ = now_us;
        challenge_in_window_ = 0;
    }
    if (challenge_in_window_ >= cfg_.challenge_acks_per_s) {
        return false;
    }
    ++challenge_in_window_;
    return true;
}

void Engine::send_rst_for(const FourTuple& t, const wire::Header& h, uint32_t len, Counter reason) {
    // §3.10.7.1: <SEQ=SEG.ACK><CTL=RST> if ACK, else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
    OutSegment s;
    s.tuple = t;
    s.header.src_port = t.local_port;
    s.header.dst_port = t.remote_port;
    if (h.has(wire::flag::ack)) {
        s.header.seq = h.ack;
        s.header.flags = wire::flag::rst;
    } else {
        uint32_t seg_len =
            len + (h.has(wire::flag::syn) ? 1 : 0) + (h.has(wire::flag::fin) ? 1 : 0);
        s.header.ack = h.seq + seg_len;
        s.header.flags = wire::flag::rst | wire::flag::ack;
    }
    count(reason);
    emit(std::move(s));
}

Listener* Engine::find_listener(const FourTuple& t) {
    Listener* any = nullptr;
    for (auto& l : listeners_) {
        if (l->opts.port != t.local_port) {
            continue;
        }
        if (!l->opts.any_addr && l->opts.addr == t.local) {
            return l.get();
        }
        if (l->opts.any_addr && (any == nullptr)) {
            any = l.get();
        }
    }
    return any;
}

Connection* Engine::create(const FourTuple& t, uint64_t tuple_hash, uint32_t rcv_buf,
                           uint16_t our_mss, uint64_t now_us) {
    ConnId id = next_id_++;
    if (next_id_ == 0) {
        next_id_ = 1;
    }
    auto c = std::make_unique<Connection>(*this, id, t, rcv_buf, our_mss, now_us);
    Connection* p = c.get();
    p->tuple_hash = tuple_hash;
    conns_.emplace(id, std::move(c));
    by_tuple_->insert(p);
    ++per_source_[t.remote];
    return p;
}

void Engine::destroy(Connection* c) {
    if (last_conn_ == c) {
        last_conn_ = nullptr;
    }
    if (ConnHook* h = c->hook) {
        c->hook = nullptr;
        h->on_closed(c->id);
    }
    by_tuple_->erase(c);
    auto ps = per_source_.find(c->tuple.remote);
    if (ps != per_source_.end() && --ps->second == 0) {
        per_source_.erase(ps);
    }
    conns_.erase(c->id);
}

void Engine::reap() {
    // Only the connections that died during this call (Connection::mark_dead), not a scan of
    // every connection: reap() runs at the end of every API call.
    while (!dead_.empty()) {
        const ConnId id = dead_.back();
        dead_.pop_back();
        auto it = conns_.find(id);
        if (it != conns_.end() && it->second->dead) {
            destroy(it->second.get());
        }
    }
}

void Engine::input(const FourTuple& t, const wire::Header& h, const wire::Options& o,
                   rte_mbuf* payload, uint64_t now_us) {
    count(Counter::segments_in);
    uint32_t len = payload_len(payload);
    // One-entry demux cache: a burst of segments mostly belongs to one connection, and the
    // keyed tuple hash (SipHash) is the costliest part of a lookup.
    Connection* c = last_conn_;
    if (c == nullptr || c->dead || !(c->tuple == t)) {
        input_hash_ = TupleTable::hash(t);
        c = by_tuple_->find(t, input_hash_);
        if (c != nullptr && c->dead) {
            c = nullptr;
        }
        last_conn_ = c;
    }
    if (c != nullptr && c->state == State::time_wait && h.has(wire::flag::syn) &&
        !h.has(wire::flag::ack) && !h.has(wire::flag::rst) && find_listener(t) != nullptr &&
        c->timewait_acceptable_syn(h, o)) {
        // A new incarnation of a TIME-WAIT tuple (RFC 9293 §3.6.1, RFC 6191).
        count(Counter::timewait_reused);
        input_hash_ = c->tuple_hash;
        c->dead = true;
        destroy(c);
        c = nullptr;
    }
    if (c != nullptr) {
        c->input(h, o, payload, len, now_us);
        if (c->dead) {
            destroy(c);
        } else {
            schedule(c);
        }
        return;
    }
    Listener* l = find_listener(t);
    if (l != nullptr) {
        input_listen(*l, t, h, o, payload, len, now_us);
        return;
    }
    // §3.10.7.1 CLOSED: everything but a RST gets a RST.
    rte_pktmbuf_free(payload);
    if (!h.has(wire::flag::rst)) {
        send_rst_for(t, h, len, Counter::rst_sent_no_listener);
    } else {
        count(Counter::rst_ignored);
    }
}

void Engine::input_listen(Listener& l, const FourTuple& t, const wire::Header& h,
                          const wire::Options& o, rte_mbuf* payload, uint32_t len,
                          uint64_t now_us) {
    // §3.10.7.2: RST ignored; ACK → RST (unless a SYN cookie completes); SYN → SYN-RECEIVED.
    if (h.has(wire::flag::rst)) {
        count(Counter::rst_ignored);
        rte_pktmbuf_free(payload);
        return;
    }
    if (h.has(wire::flag::ack)) {
        if (!h.has(wire::flag::syn) && try_syn_cookie(l, t, h, o, payload, now_us)) {
            return;
        }
        rte_pktmbuf_free(payload);
        send_rst_for(t, h, len, Counter::rst_sent_bad_ack);
        return;
    }
    if (!h.has(wire::flag::syn)) {
        rte_pktmbuf_free(payload);
        return;
    }
    if (conns_.size() >= cfg_.max_connections) {
        count(Counter::refused_worker_limit);
        rte_pktmbuf_free(payload);
        return;
    }
    auto ps = per_source_.find(t.remote);
    if (ps != per_source_.end() && ps->second >= cfg_.max_per_source) {
        count(Counter::refused_source_limit);
        rte_pktmbuf_free(payload);
        return;
    }
    uint16_t mss = cfg_.default_mss;
    if (l.opts.mss_clamp != 0) {
        mss = std::min(mss, l.opts.mss_clamp);
    }
    if (l.opts.hook != nullptr &&
        l.opts.hook->refuse_syn(t, h, o, l.half_open >= *l.opts.backlog)) {
        rte_pktmbuf_free(payload);
        send_rst_for(t, h, len, Counter::rst_sent_hook_refused);
        return;
    }
    if (l.opts.defer_syn_data && len > 0 && l.half_open >= *l.opts.backlog) {
        // A deferred SYN needs state, and a cookie SYN/ACK could not acknowledge its data
        // (RFC 8803 clients then stop using the converter): drop it, the peer retries.
        count(Counter::syn_data_refused_pressure);
        rte_pktmbuf_free(payload);
        return;
    }
    if (l.half_open >= *l.opts.backlog) {
        // RFC 4987 §3.6: no state; the SYN/ACK's ISN carries what the ACK needs. Window scale
        // and SACK survive only inside the timestamp (else they are not offered).
        rte_pktmbuf_free(payload);
        bool ts = cfg_.timestamps && o.timestamps.has_value();
        SynCookieOptions co{};
        co.mss = o.mss ? *o.mss : (t.local.family == 6 ? 1220 : 536);
        co.mss = std::min(co.mss, mss);
        co.wscale = (ts && cfg_.window_scale && o.window_scale)
                        ? std::min<uint8_t>(*o.window_scale, 14)
                        : 15;
        co.sack_ok = ts && cfg_.sack && o.sack_permitted;
        co.ts_ok = ts;
        OutSegment s;
        s.tuple = t;
        s.header.src_port = t.local_port;
        s.header.dst_port = t.remote_port;
        s.header.seq = Seq(cookies_.make_isn(cookie_tuple(t), h.seq.raw(), co, now_us));
        s.header.ack = h.seq + 1;
        s.header.flags = wire::flag::syn | wire::flag::ack;
        uint32_t rcv_buf = l.opts.rcv_buf != 0 ? l.opts.rcv_buf : cfg_.default_rcv_buf;
        s.header.window = static_cast<uint16_t>(std::min<uint32_t>(rcv_buf, 65535));
        s.options.mss = mss;
        if (co.wscale != 15) {
            s.options.window_scale = 7;  // connection.cc our_wscale
        }
        s.options.sack_permitted = co.sack_ok;
        if (ts) {
            uint32_t now_ts = static_cast<uint32_t>(now_us / 1000) + ts_offset(t);
            s.options.timestamps =
                wire::Timestamps{cookies_.encode_tsval(now_ts, co), o.timestamps->tsval};
        }
        if (l.opts.hook != nullptr) {
            l.opts.hook->on_cookie_syn_ack(t, s.header.seq.raw(), o, s.options);
        }
        count(Counter::syn_cookies_sent);
        emit(std::move(s));
        return;
    }
    uint32_t rcv_buf = l.opts.rcv_buf != 0 ? l.opts.rcv_buf : cfg_.default_rcv_buf;
    Connection* c = create(t, input_hash_, rcv_buf, mss, now_us);
    ++l.half_open;
    c->open_passive(l, h, o, payload, len, now_us);
    schedule(c);
}

bool Engine::try_syn_cookie(Listener& l, const FourTuple& t, const wire::Header& h,
                            const wire::Options& o, rte_mbuf* payload, uint64_t now_us) {
    auto co = cookies_.check(cookie_tuple(t), (h.seq - 1).raw(), (h.ack - 1).raw(), now_us);
    if (!co) {
        count(Counter::syn_cookies_failed);
        return false;
    }
    if (conns_.size() >= cfg_.max_connections) {
        count(Counter::refused_worker_limit);
        rte_pktmbuf_free(payload);
        return true;
    }
    if (o.timestamps) {
        *co = cookies_.decode_tsecr(o.timestamps->tsecr, *co);
    } else {
        co->ts_ok = false;
    }
    count(Counter::syn_cookies_validated);
    uint16_t mss = cfg_.default_mss;
    if (l.opts.mss_clamp != 0) {
        mss = std::min(mss, l.opts.mss_clamp);
    }
    uint32_t rcv_buf = l.opts.rcv_buf != 0 ? l.opts.rcv_buf : cfg_.default_rcv_buf;
    Connection* c = create(t, input_hash_, rcv_buf, mss, now_us);
    if (l.opts.hook != nullptr && l.opts.hook->on_cookie_ack(c->id, t, h, o, now_us)) {
        c->hook = l.opts.hook;  // before open_from_cookie: the MSS keeps the hook's room
    }
    c->open_from_cookie(l, h, o, *co, now_us);
    if (c->dead) {
        rte_pktmbuf_free(payload);
        destroy(c);
        return true;
    }
    // The ACK may carry data (and a FIN): normal processing from here.
    c->input(h, o, payload, payload_len(payload), now_us);
    if (c->dead) {
        destroy(c);
    } else {
        schedule(c);
    }
    return true;
}

namespace {
struct LaterFirst {
    template <typename E>
    bool operator()(const E& a, const E& b) const {
        return a.at > b.at;
    }
};
}  // namespace

void Engine::schedule(Connection* c) {
    if (c->dead) {
        return;
    }
    const uint64_t d = c->next_deadline();
    if (d < c->timer_queued) {
        c->timer_queued = d;
        timers_.push_back({d, c->id});
        std::push_heap(timers_.begin(), timers_.end(), LaterFirst{});
        if (timers_.size() > 2 * conns_.size() + 64) {
            compact_timers();
        }
    }
}

void Engine::compact_timers() const {
    // Drop entries of freed connections and superseded deadlines; the heap then holds at most
    // one entry per connection.
    std::erase_if(timers_, [this](const TimerEntry& e) {
        auto it = conns_.find(e.id);
        return it == conns_.end() || it->second->dead || it->second->timer_queued != e.at;
    });
    std::make_heap(timers_.begin(), timers_.end(), LaterFirst{});
}

void Engine::on_timer(uint64_t now_us) {
    // Each connection due runs its timers once per call (as a scan would); deadlines it sets
    // at or before now_us are queued after the loop so that this call ends.
    timers_due_.clear();
    while (!timers_.empty() && timers_.front().at <= now_us) {
        std::pop_heap(timers_.begin(), timers_.end(), LaterFirst{});
        const TimerEntry e = timers_.back();
        timers_.pop_back();
        auto it = conns_.find(e.id);
        if (it == conns_.end() || it->second->dead || it->second->timer_queued != e.at) {
            continue;
        }
        Connection* c = it->second.get();
        c->timer_queued = UINT64_MAX;
        if (c->next_deadline() <= now_us) {
            c->on_timer(now_us);
        }
        timers_due_.push_back(c);
    }
    for (Connection* c : timers_due_) {
        schedule(c);
    }
    reap();
}

uint64_t Engine::next_timer() const {
    while (!timers_.empty()) {
        const TimerEntry& e = timers_.front();
        auto it = conns_.find(e.id);
        if (it != conns_.end() && !it->second->dead && it->second->timer_queued == e.at) {
            Connection* c = it->second.get();
            const uint64_t d = c->next_deadline();
            if (d == e.at) {
                return d;
            }
            // The deadline moved later (or went away): requeue it exactly.
            std::pop_heap(timers_.begin(), timers_.end(), LaterFirst{});
            timers_.pop_back();
            c->timer_queued = d;
            if (d != UINT64_MAX) {
                timers_.push_back({d, c->id});
                std::push_heap(timers_.begin(), timers_.end(), LaterFirst{});
            }
            continue;
        }
        std::pop_heap(timers_.begin(), timers_.end(), LaterFirst{});
        timers_.pop_back();
    }
    return UINT64_MAX;
}

std::optional<ListenerId> Engine::listen(const ListenOptions& o) {
    for (auto& l : listeners_) {
        if (l->opts.port == o.port && l->opts.any_addr == o.any_addr &&
            (o.any_addr || l->opts.addr == o.addr)) {
            return std::nullopt;  // already listening
        }
    }
    auto l = std::make_unique<Listener>();
    l->id = static_cast<ListenerId>(listeners_.size() + 1);
    l->opts = o;
    if (!l->opts.backlog) {
        l->opts.backlog = cfg_.default_backlog;
    }
    ListenerId id = l->id;
    listeners_.push_back(std::move(l));
    return id;
}

std::optional<ConnId> Engine::accept(ListenerId lid) {
    for (auto& l : listeners_) {
        if (l->id != lid) {
            continue;
        }
        while (!l->accept_queue.empty()) {
            ConnId c = l->accept_queue.front();
            l->accept_queue.pop_front();
            if (find(c) != nullptr) {
                return c;
            }
        }
    }
    return std::nullopt;
}

std::optional<ConnId> Engine::connect(const ConnectOptions& o, uint64_t now_us) {
    const uint64_t th = TupleTable::hash(o.tuple);
    if (by_tuple_->find(o.tuple, th) != nullptr || conns_.size() >= cfg_.max_connections) {
        return std::nullopt;
    }
    uint16_t mss = cfg_.default_mss;
    if (o.mss_clamp != 0) {
        mss = std::min(mss, o.mss_clamp);
    }
    Connection* c =
        create(o.tuple, th, o.rcv_buf != 0 ? o.rcv_buf : cfg_.default_rcv_buf, mss, now_us);
    c->offer_sack = o.sack;
    c->offer_ts = o.timestamps;
    if (o.tfo || o.keep_syn_ack_options) {
        c->active = std::make_unique<Connection::ActiveOpen>();
        c->active->tfo = o.tfo;
        c->active->tfo_cookie = o.tfo_cookie;
        c->active->tfo_cookie_len = std::min<uint8_t>(o.tfo_cookie_len, 16);
        c->active->keep_syn_ack = o.keep_syn_ack_options;
    }
    c->open_active(now_us);
    schedule(c);
    return c->id;
}

uint32_t Engine::send(ConnId id, rte_mbuf* chain, uint64_t now_us) {
    Connection* c = find(id);
    if (c == nullptr) {
        return 0;
    }
    uint32_t n = c->send(chain, now_us);
    schedule(c);
    reap();
    return n;
}

uint32_t Engine::send_space(ConnId id) const {
    Connection* c = find(id);
    return c == nullptr ? 0 : c->send_space();
}

void Engine::want_writable(ConnId id) {
    if (Connection* c = find(id)) {
        c->want_writable();
    }
}

rte_mbuf* Engine::recv(ConnId id, uint64_t now_us) {
    Connection* c = find(id);
    if (c == nullptr) {
        return nullptr;
    }
    rte_mbuf* m = c->recv(now_us);
    schedule(c);
    return m;
}

rte_mbuf* Engine::take_syn_data(ConnId id) {
    Connection* c = find(id);
    return c == nullptr ? nullptr : c->take_syn_data();
}

uint32_t Engine::syn_data_len(ConnId id) const {
    Connection* c = find(id);
    return c == nullptr ? 0 : c->syn_data_len;
}

uint32_t Engine::syn_options_len(ConnId id) const {
    Connection* c = find(id);
    return c == nullptr ? 0 : c->syn_options_len;
}

bool Engine::syn_deferred(ConnId id) const {
    Connection* c = find(id);
    return c != nullptr && c->syn_deferred;
}

bool Engine::answer_syn(ConnId id, uint64_t now_us) {
    Connection* c = find(id);
    if (c == nullptr || !c->answer_syn(now_us)) {
        return false;
    }
    schedule(c);
    return true;
}

void Engine::refuse_syn(ConnId id, uint64_t now_us) {
    (void)now_us;
    if (Connection* c = find(id); c != nullptr && c->syn_deferred) {
        c->refuse_syn();
    }
    reap();
}

uint32_t Engine::readable_bytes(ConnId id) const {
    Connection* c = find(id);
    return c == nullptr ? 0 : c->rcv_buffered;
}

bool Engine::peer_closed(ConnId id) const {
    Connection* c = find(id);
    return c != nullptr && c->fin_received && c->rcv_buffered == 0;
}

void Engine::shutdown_write(ConnId id, uint64_t now_us) {
    if (Connection* c = find(id)) {
        c->shutdown_write(now_us);
        schedule(c);
    }
    reap();
}

void Engine::close(ConnId id, uint64_t now_us) {
    if (Connection* c = find(id)) {
        c->close(now_us);
        schedule(c);
    }
    reap();
}

void Engine::abort(ConnId id, uint64_t now_us) {
    if (Connection* c = find(id)) {
        c->abort(now_us);
    }
    reap();
}

void Engine::set_rcv_buf(ConnId id, uint32_t bytes, uint64_t now_us) {
    if (Connection* c = find(id)) {
        c->set_rcv_buf(bytes, now_us);
        schedule(c);
    }
}

void Engine::ack_now(ConnId id, uint64_t now_us) {
    Connection* c = find(id);
    if (c != nullptr) {
        c->ack_now(now_us);
        schedule(c);
    }
}

void Engine::window_update(ConnId id, uint64_t now_us) {
    Connection* c = find(id);
    if (c != nullptr) {
        c->window_update(c->adv_window(), now_us);
        schedule(c);
    }
}

bool Engine::probe(ConnId id, uint64_t now_us) {
    Connection* c = find(id);
    if (c == nullptr || !c->probe(now_us)) {
        return false;
    }
    schedule(c);
    return true;
}

bool Engine::hooked(ConnId id) const {
    Connection* c = find(id);
    return c != nullptr && c->hook != nullptr;
}

void Engine::set_nagle(ConnId id, bool on) {
    if (Connection* c = find(id)) {
        c->nagle = on;
    }
}

IcmpVerdict Engine::icmp_error(const IcmpError& e, uint64_t now_us) {
    (void)now_us;
    Connection* c = by_tuple_->find(e.tuple, TupleTable::hash(e.tuple));
    if (c == nullptr || c->dead) {
        return IcmpVerdict::no_connection;
    }
    const IcmpVerdict v = c->icmp(e);
    if (c->dead) {
        destroy(c);
    }
    return v;
}

bool Engine::owns(const FourTuple& t) const {
    const Connection* c = by_tuple_->find(t, TupleTable::hash(t));
    return c != nullptr && !c->dead;
}

std::optional<IcmpNote> Engine::last_icmp(ConnId id) const {
    const Connection* c = find(id);
    return c != nullptr ? c->last_icmp : std::nullopt;
}

size_t Engine::syn_ack_options(ConnId id, std::span<uint8_t, wire::max_options_len> out) const {
    const Connection* c = find(id);
    if (c == nullptr || !c->active || !c->active->have_syn_ack) {
        return 0;
    }
    return wire::emit_options(c->active->syn_ack, out).value_or(0);
}

std::optional<State> Engine::state(ConnId id) const {
    Connection* c = find(id);
    if (c == nullptr) {
        return std::nullopt;
    }
    return c->state;
}

std::optional<ConnInfo> Engine::describe(ConnId id) const {
    Connection* c = find(id);
    if (c == nullptr) {
        return std::nullopt;
    }
    return c->info();
}

std::vector<ConnInfo> Engine::describe_all() const {
    std::vector<ConnInfo> v;
    v.reserve(conns_.size());
    for (const auto& [id, c] : conns_) {
        if (!c->dead) {
            v.push_back(c->info());
        }
    }
    std::sort(v.begin(), v.end(), [](const ConnInfo& a, const ConnInfo& b) { return a.id < b.id; });
    return v;
}

std::array<uint32_t, static_cast<size_t>(State::count)> Engine::connections_by_state() const {
    std::array<uint32_t, static_cast<size_t>(State::count)> n{};
    for (const auto& [id, c] : conns_) {
        if (!c->dead) {
            ++n[static_cast<size_t>(c->state)];
        }
    }
    n[static_cast<size_t>(State::listen)] = static_cast<uint32_t>(listeners_.size());
    return n;
}

}  // namespace braid::tcp
