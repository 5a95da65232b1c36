#include "mptcp/endpoint.h"

#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>

#include "tcpstack/siphash.h"

namespace braid::mptcp {

namespace {

namespace tflag = tcp::wire::flag;

// The connection-level window the Sender works with. One subflow: the subflow's own window is
// the peer's connection-level window (its TCP window field is relative to the DATA_ACK, and
// with one subflow the DATA_ACK and the subflow ACK move together), so the subflow's flow
// control already holds the sender back; the Sender is not limited a second time.
constexpr uint32_t single_subflow_window = 1u << 30;

// DSS with a 64-bit DATA_ACK, a 64-bit mapping and a checksum: 28 bytes (26 without the
// checksum, padded to 28 on the wire). With timestamps (12) a data segment's options are then
// exactly 40 bytes (spec §2.12): no SACK blocks on data segments of an MPTCP subflow.
constexpr uint32_t dss_room = 28;

struct Parsed {
    std::optional<wire::MpCapable> cap;
    std::optional<wire::Dss> dss;
    bool bad = false;
};

Parsed parse_all(const tcp::wire::Options& o) {
    Parsed p;
    for (uint8_t i = 0; i < o.mptcp_count; ++i) {
        wire::ParseResult r = wire::parse(o.mptcp[i]);
        if (!r.option) {
            p.bad = true;
            continue;
        }
        if (auto* c = std::get_if<wire::MpCapable>(&*r.option); c != nullptr && !p.cap) {
            p.cap = *c;
        } else if (auto* d = std::get_if<wire::Dss>(&*r.option); d != nullptr && !p.dss) {
            p.dss = *d;
        }
    }
    return p;
}

// A SYN's MP_CAPABLE we can answer: the 4-byte v1 form with known flags.
enum class SynCheck { usable, absent, unusable };
SynCheck check_syn(const Parsed& p) {
    if (!p.cap) {
        return p.bad ? SynCheck::unusable : SynCheck::absent;
    }
    if (p.cap->sender_key ||
        wire::check_capable_flags(p.cap->flags) != wire::CapableFlagsError::none) {
        return SynCheck::unusable;
    }
    return SynCheck::usable;
}

uint32_t mbuf_room(rte_mempool* pool) {
    return static_cast<uint32_t>(rte_pktmbuf_data_room_size(pool)) - RTE_PKTMBUF_HEADROOM;
}

}  // namespace

std::string_view to_string(ConnState s) {
    switch (s) {
#define BRAID_X(name, text) \
    case ConnState::name:   \
        return text;
        BRAID_MPTCP_CONN_STATES(BRAID_X)
#undef BRAID_X
        default:
            return "?";
    }
}

std::optional<tcp::ConnId> LocalTokenTable::find(uint32_t token) const {
    auto it = map_.find(token);
    if (it == map_.end()) {
        return std::nullopt;
    }
    return it->second;
}

Endpoint::Endpoint(tcp::Engine& eng, const EndpointConfig& cfg, TokenTable& tokens,
                   EventSink events)
    : eng_(eng), cfg_(cfg), tokens_(tokens), events_(std::move(events)) {}

Endpoint::~Endpoint() {
    for (auto& [id, c] : conns_) {
        tokens_.erase(c->local.token);
    }
}

Endpoint::Conn* Endpoint::find(tcp::ConnId c) {
    auto it = conns_.find(c);
    return it == conns_.end() ? nullptr : it->second.get();
}

const Endpoint::Conn* Endpoint::find(tcp::ConnId c) const {
    auto it = conns_.find(c);
    return it == conns_.end() ? nullptr : it->second.get();
}

Endpoint::Conn& Endpoint::create(tcp::ConnId c, const crypto::KeyMaterial& k) {
    auto conn = std::make_unique<Conn>();
    conn->id = c;
    conn->local = k;
    tokens_.insert(k.token, c);
    Conn& r = *conn;
    conns_[c] = std::move(conn);
    return r;
}

void Endpoint::forget(tcp::ConnId c) {
    auto it = conns_.find(c);
    if (it == conns_.end()) {
        return;
    }
    tokens_.erase(it->second->local.token);
    conns_.erase(it);
}

void Endpoint::queue(Conn& c) {
    if (std::find(pending_.begin(), pending_.end(), c.id) == pending_.end()) {
        pending_.push_back(c.id);
    }
}

uint64_t Endpoint::cookie_key(const tcp::FourTuple& t, uint32_t isn) const {
    // Stateless key (spec §2.2: "derive Key-B from 4-tuple, ISN and a secret and verify the
    // echo"): a keyed PRF of exactly what the cookie ACK brings back.
    std::array<uint8_t, 16 + 16 + 2 + 2 + 4 + 1> msg{};
    std::memcpy(msg.data(), t.local.bytes.data(), 16);
    std::memcpy(msg.data() + 16, t.remote.bytes.data(), 16);
    msg[32] = static_cast<uint8_t>(t.local_port >> 8);
    msg[33] = static_cast<uint8_t>(t.local_port);
    msg[34] = static_cast<uint8_t>(t.remote_port >> 8);
    msg[35] = static_cast<uint8_t>(t.remote_port);
    for (int i = 0; i < 4; ++i) {
        msg[36 + i] = static_cast<uint8_t>(isn >> (24 - 8 * i));
    }
    msg[40] = t.local.family;
    return tcp::siphash24(tcp::SipKey::from_bytes(cfg_.secret), msg);
}

void Endpoint::emit_option(const wire::Option& opt, tcp::wire::Options& o) {
    size_t room = tcp::wire::max_options_len - o.mptcp_out_len;
    auto n = wire::emit(opt, std::span<uint8_t>(o.mptcp_out.data() + o.mptcp_out_len, room));
    if (n) {
        o.mptcp_out_len = static_cast<uint8_t>(o.mptcp_out_len + *n);
    }
}

void Endpoint::readable_event(Conn& c) {
    events_({tcp::EventKind::readable, c.id, 0, tcp::CloseReason::normal});
}

// ---------------------------------------------------------------------------------------------
// Handshake

bool Endpoint::on_syn(tcp::ConnId c, const tcp::FourTuple&, const tcp::wire::Header& h,
                      const tcp::wire::Options& o, uint64_t) {
    Parsed p = parse_all(o);
    switch (check_syn(p)) {
        case SynCheck::absent:
            counters_.add(Counter::fallback_syn_no_option);
            return false;
        case SynCheck::unusable:
            counters_.add(Counter::fallback_syn_bad_option);
            return false;
        case SynCheck::usable:
            break;
    }
    auto k =
        crypto::generate_key(sha_, cfg_.rng, [this](uint32_t t) { return tokens_.contains(t); });
    if (!k) {
        counters_.add(Counter::fallback_no_unique_key);
        return false;
    }
    counters_.add(Counter::syn_mp_capable);
    Conn& conn = create(c, *k);
    conn.irs = h.seq;
    conn.syn_asked_checksums = (p.cap->flags & wire::capable_flag::checksum) != 0;
    conn.checksums = cfg_.checksums || conn.syn_asked_checksums;
    return true;
}

void Endpoint::on_cookie_syn_ack(const tcp::FourTuple& t, uint32_t isn,
                                 const tcp::wire::Options& syn, tcp::wire::Options& out) {
    Parsed p = parse_all(syn);
    switch (check_syn(p)) {
        case SynCheck::absent:
            counters_.add(Counter::fallback_syn_no_option);
            return;
        case SynCheck::unusable:
            counters_.add(Counter::fallback_syn_bad_option);
            return;
        case SynCheck::usable:
            break;
    }
    crypto::KeyMaterial k = crypto::key_material(sha_, cookie_key(t, isn));
    if (tokens_.contains(k.token)) {
        counters_.add(Counter::fallback_no_unique_key);
        return;
    }
    wire::MpCapable cap;
    cap.flags = wire::capable_flag::hmac_sha256;
    if (cfg_.checksums || (p.cap->flags & wire::capable_flag::checksum) != 0) {
        cap.flags |= wire::capable_flag::checksum;
    }
    cap.sender_key = k.key;
    emit_option(cap, out);
    counters_.add(Counter::cookie_syn_acks);
}

bool Endpoint::on_cookie_ack(tcp::ConnId c, const tcp::FourTuple& t, const tcp::wire::Header& h,
                             const tcp::wire::Options& o, uint64_t) {
    Parsed p = parse_all(o);
    if (!p.cap || !p.cap->receiver_key) {
        return false;  // a plain-TCP SYN's cookie (counted at the SYN), or options stripped
    }
    crypto::KeyMaterial k = crypto::key_material(sha_, cookie_key(t, (h.ack - 1).raw()));
    if (*p.cap->receiver_key != k.key || tokens_.contains(k.token)) {
        counters_.add(Counter::fallback_cookie_ack);
        return false;
    }
    Conn& conn = create(c, k);
    conn.irs = h.seq - 1;
    conn.iss = h.ack - 1;
    // The SYN's flags are gone; the third ACK repeats A when checksums were asked (§3.1).
    conn.checksums = cfg_.checksums || (p.cap->flags & wire::capable_flag::checksum) != 0;
    return true;  // on_input follows with this segment and completes the handshake
}

bool Endpoint::complete_handshake(Conn& c, const wire::MpCapable& cap) {
    c.remote = crypto::key_material(sha_, *cap.sender_key);
    if ((cap.flags & wire::capable_flag::checksum) != 0) {
        c.checksums = true;
    }
    // Receive buffer with slack over the subflow's: the subflow's window (counting what is
    // held here) is what the peer may send, rounded up to its scale unit.
    c.rx.emplace(DataSeq(c.remote.idsn + 1), cfg_.rcv_buf * 2, c.checksums, counters_);
    c.tx.emplace(DataSeq(c.local.idsn + 1), cfg_.snd_buf, single_subflow_window, false, counters_);
    c.state = ConnState::established;
    counters_.add(Counter::established);
    return true;
}

// ---------------------------------------------------------------------------------------------
// Subflow input

bool Endpoint::on_input(tcp::ConnId id, const tcp::wire::Header&, const tcp::wire::Options& o,
                        uint32_t len, uint64_t) {
    Conn* c = find(id);
    if (c == nullptr) {
        return false;
    }
    Parsed p = parse_all(o);
    if (p.bad) {
        counters_.add(Counter::option_parse_errors);
    }
    if (!c->rx) {
        // Third ACK, or the first data if that was lost (22/24-byte form): both keys echoed.
        if (!p.cap || !p.cap->sender_key || !p.cap->receiver_key) {
            counters_.add(Counter::fallback_third_ack);
            forget(id);
            return false;
        }
        if (*p.cap->receiver_key != c->local.key) {
            counters_.add(Counter::fallback_bad_key);
            forget(id);
            return false;
        }
        complete_handshake(*c, *p.cap);
        queue(*c);
        c->need_pump = true;
    }
    auto handle = [&](const RxResult& r) {
        switch (r.error) {
            case RxError::checksum_failed:
                counters_.add(Counter::reset_checksum);
                c->need_abort = true;
                queue(*c);
                break;
            case RxError::checksum_missing:
            case RxError::checksum_unexpected:
            case RxError::unmapped_overflow:
                counters_.add(Counter::reset_protocol);
                c->need_abort = true;
                queue(*c);
                break;
            default:
                break;
        }
    };
    // MP_CAPABLE with data (the peer's first data): the mapping DSN = IDSN + 1, SSN = 1.
    if (p.cap && p.cap->data_len && len > 0) {
        wire::DssMapping m;
        m.dsn = c->remote.idsn + 1;
        m.ssn = 1;
        m.data_len = *p.cap->data_len;
        m.checksum = p.cap->checksum;
        handle(c->rx->on_mapping(0, m, false));
    }
    if (p.dss) {
        if (p.dss->data_ack) {
            AckStatus s =
                c->tx->on_data_ack(*p.dss->data_ack, p.dss->data_ack8, single_subflow_window);
            if (s == AckStatus::advanced) {
                c->need_pump = true;
                queue(*c);
            }
            // Everything but our DATA_FIN acknowledged: the segment that carried the DATA_FIN
            // may be lost (it rode on a bare ACK); each peer segment gets it again.
            if (c->fin_dsn && !c->tx->fin_acked() && c->tx->snd_una() == *c->fin_dsn && len > 0) {
                c->need_ack = true;
                queue(*c);
            }
            if (c->tx->fin_acked() && !c->subflow_closed) {
                queue(*c);
            }
        }
        if (p.dss->mapping) {
            handle(c->rx->on_mapping(0, *p.dss->mapping, p.dss->data_fin));
        }
    }
    if (c->rx->fin_received() && !c->peer_fin_told) {
        c->peer_fin_told = true;
        readable_event(*c);
    }
    update_state(*c);
    return true;
}

void Endpoint::on_data(tcp::ConnId id, tcp::Seq seq, rte_mbuf* payload, uint32_t, uint64_t) {
    Conn* c = find(id);
    if (c == nullptr || !c->rx) {
        counters_.add(Counter::data_before_keys);
        rte_pktmbuf_free(payload);
        return;
    }
    uint32_t ssn = seq.raw() - c->irs.raw();
    for (rte_mbuf* s = payload; s != nullptr; s = s->next) {
        std::span<const uint8_t> b(rte_pktmbuf_mtod(s, const uint8_t*), s->data_len);
        RxResult r = c->rx->on_data(0, ssn, b);
        ssn += s->data_len;
        if (r.error == RxError::checksum_failed) {
            counters_.add(Counter::reset_checksum);
            c->need_abort = true;
            queue(*c);
        } else if (r.error == RxError::unmapped_overflow) {
            counters_.add(Counter::reset_protocol);
            c->need_abort = true;
            queue(*c);
        }
    }
    rte_pktmbuf_free(payload);
    if (c->app_closed) {
        std::array<uint8_t, 2048> sink;
        while (c->rx->read(sink) > 0) {
        }
    } else if (c->rx->readable() > 0) {
        readable_event(*c);
    }
    if (c->rx->fin_received() && !c->peer_fin_told) {
        c->peer_fin_told = true;
        readable_event(*c);
    }
    update_state(*c);
}

// ---------------------------------------------------------------------------------------------
// Subflow output

void Endpoint::on_output(tcp::ConnId id, const tcp::wire::Header& h, tcp::wire::Options& o,
                         const rte_mbuf* payload, uint32_t len, uint64_t) {
    Conn* c = find(id);
    if (c == nullptr) {
        return;
    }
    if (h.has(tflag::syn)) {
        c->iss = h.seq;
        wire::MpCapable cap;
        cap.flags = wire::capable_flag::hmac_sha256;
        if (c->checksums) {
            cap.flags |= wire::capable_flag::checksum;
        }
        cap.sender_key = c->local.key;
        emit_option(cap, o);
        return;
    }
    if (!c->rx) {
        return;
    }
    wire::Dss d;
    d.data_ack = c->rx->data_ack().raw();
    d.data_ack8 = true;
    if (len > 0) {
        uint32_t ssn = h.seq.raw() - c->iss.raw();
        for (const TxMap& m : c->txmaps) {
            if (ssn - m.ssn >= m.len) {
                continue;
            }
            uint32_t off = ssn - m.ssn;
            uint32_t l = std::min(len, m.len - off);
            uint64_t dsn = m.dsn + off;
            bool fin = c->fin_dsn && dsn + l == c->fin_dsn->raw();
            wire::DssMapping map;
            map.dsn = dsn;
            map.ssn = ssn;
            map.data_len = static_cast<uint16_t>(l + (fin ? 1 : 0));
            if (c->checksums) {
                crypto::DssChecksum cs(dsn, ssn, map.data_len);
                cs.add(payload, 0, l);
                map.checksum = cs.value();
            }
            d.mapping = map;
            d.data_fin = fin;
            break;
        }
    } else if (c->fin_dsn && !c->tx->fin_acked()) {
        // DATA_FIN alone (§3.3.3): SSN 0, length 1, checksum over the pseudo-header only.
        wire::DssMapping map;
        map.dsn = c->fin_dsn->raw();
        map.ssn = 0;
        map.data_len = 1;
        if (c->checksums) {
            map.checksum = crypto::DssChecksum(map.dsn, 0, 1).value();
        }
        d.mapping = map;
        d.data_fin = true;
    }
    emit_option(d, o);
}

uint32_t Endpoint::rcv_held(tcp::ConnId id) const {
    const Conn* c = find(id);
    return c == nullptr || !c->rx ? 0 : static_cast<uint32_t>(c->rx->buffered());
}

uint32_t Endpoint::data_option_room(tcp::ConnId) const {
    return dss_room;
}

void Endpoint::on_closed(tcp::ConnId id) {
    forget(id);
}

// ---------------------------------------------------------------------------------------------
// Engine work and events

void Endpoint::pump(Conn& c, uint64_t now_us) {
    if (!c.tx || c.subflow_closed) {
        return;
    }
    const tcp::ConnId id = c.id;
    const uint32_t room = mbuf_room(cfg_.data_pool);
    while (true) {
        uint32_t space = eng_.send_space(id);
        if (space == 0) {
            if (c.tx->unsent() > 0) {
                eng_.want_writable(id);
            }
            return;
        }
        rte_mbuf* m = rte_pktmbuf_alloc(cfg_.data_pool);
        if (m == nullptr) {
            counters_.add(Counter::no_mbuf);
            return;
        }
        std::optional<Chunk> ch = c.tx->next(0, c.tx_ssn, std::min(space, room));
        if (!ch) {
            rte_pktmbuf_free(m);
            return;
        }
        uint32_t n = static_cast<uint32_t>(ch->bytes.size());
        if (ch->data_fin) {
            c.fin_dsn = DataSeq(ch->mapping.dsn + n);
            // The segment carrying it may be lost, and a bare ACK is never retransmitted by
            // the subflow: poll() sends the DATA_FIN again until it is DATA_ACKed.
            c.fin_backoff_us = fin_retry_initial_us;
            c.fin_retry_us = now_us + c.fin_backoff_us;
            fin_wait_.push_back(id);
        }
        if (n == 0) {
            rte_pktmbuf_free(m);
            eng_.ack_now(id, now_us);  // a bare ACK carries the DATA_FIN
            update_state(c);
            return;
        }
        std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(n)), ch->bytes.data(), n);
        // The mapping first: the segments eng_.send() emits look it up.
        if (!c.txmaps.empty() && c.txmaps.back().ssn + c.txmaps.back().len == c.tx_ssn &&
            c.txmaps.back().dsn + c.txmaps.back().len == ch->mapping.dsn) {
            c.txmaps.back().len += n;
        } else {
            c.txmaps.push_back({c.tx_ssn, ch->mapping.dsn, n});
        }
        c.tx_ssn += n;
        if (eng_.send(id, m, now_us) == 0) {
            rte_pktmbuf_free(m);  // the subflow stopped taking data (closing): nothing more
            return;
        }
        // Ranges the peer DATA_ACKed are never sent again on this single subflow.
        while (c.txmaps.size() > 1 &&
               DataSeq(c.txmaps.front().dsn + c.txmaps.front().len) <= c.tx->snd_una()) {
            c.txmaps.pop_front();
        }
        update_state(c);
    }
}

void Endpoint::update_state(Conn& c) {
    if (!c.rx) {
        c.state = ConnState::handshake;
        return;
    }
    bool ours = c.fin_dsn.has_value();
    bool theirs = c.rx->fin_received();
    if (!ours) {
        c.state = theirs ? ConnState::close_wait : ConnState::established;
    } else if (!theirs) {
        c.state = ConnState::fin_wait;
    } else {
        c.state = c.tx->fin_acked() ? ConnState::closed : ConnState::closing;
    }
}

void Endpoint::on_engine_event(const tcp::Event& e) {
    Conn* c = find(e.conn);
    if (c == nullptr) {
        events_(e);
        return;
    }
    switch (e.kind) {
        case tcp::EventKind::readable:
            return;  // the subflow's bytes are this layer's; readable comes from on_data
        case tcp::EventKind::writable:
            c->need_pump = true;
            queue(*c);
            events_(e);
            return;
        default:
            events_(e);
            return;
    }
}

void Endpoint::poll(uint64_t now_us) {
    for (auto it = fin_wait_.begin(); it != fin_wait_.end();) {
        Conn* c = find(*it);
        if (c == nullptr || !c->tx || c->tx->fin_acked()) {
            it = fin_wait_.erase(it);
            continue;
        }
        if (now_us >= c->fin_retry_us) {
            c->fin_backoff_us = std::min(c->fin_backoff_us * 2, fin_retry_max_us);
            c->fin_retry_us = now_us + c->fin_backoff_us;
            c->need_ack = true;
            queue(*c);
        }
        ++it;
    }
    for (int round = 0; round < 4 && !pending_.empty(); ++round) {
        std::vector<tcp::ConnId> work;
        work.swap(pending_);
        for (tcp::ConnId id : work) {
            Conn* c = find(id);
            if (c == nullptr) {
                continue;
            }
            if (c->need_abort) {
                eng_.abort(id, now_us);  // RST; on_closed forgets the connection
                forget(id);
                continue;
            }
            if (c->need_pump) {
                c->need_pump = false;
                pump(*c, now_us);
                if ((c = find(id)) == nullptr) {
                    continue;
                }
            }
            if (c->need_ack) {
                c->need_ack = false;
                eng_.ack_now(id, now_us);
                if ((c = find(id)) == nullptr) {
                    continue;
                }
            }
            if (c->need_window) {
                c->need_window = false;
                eng_.window_update(id, now_us);
                if ((c = find(id)) == nullptr) {
                    continue;
                }
            }
            if (c->wants_writable && send_space(id) > 0) {
                c->wants_writable = false;
                events_({tcp::EventKind::writable, id, 0, tcp::CloseReason::normal});
            }
            if (c->tx && c->tx->fin_acked() && !c->subflow_closed) {
                // §3.3.3: our DATA_FIN is acknowledged: FIN on the subflow. The peer may
                // still send (its DATA_FIN ends that) unless the application closed.
                c->subflow_closed = true;
                if (c->app_closed) {
                    eng_.close(id, now_us);
                } else {
                    eng_.shutdown_write(id, now_us);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Application API

uint32_t Endpoint::send(tcp::ConnId id, rte_mbuf* chain, uint64_t now_us) {
    Conn* c = find(id);
    if (c == nullptr) {
        return eng_.send(id, chain, now_us);
    }
    if (chain == nullptr || !c->tx || c->app_closed || c->fin_dsn || c->tx->fin_sent()) {
        return 0;
    }
    uint32_t len = rte_pktmbuf_pkt_len(chain);
    if (len == 0) {
        rte_pktmbuf_free(chain);
        return 0;
    }
    if (len > send_space(id)) {
        return 0;
    }
    for (rte_mbuf* s = chain; s != nullptr; s = s->next) {
        c->tx->write(std::span<const uint8_t>(rte_pktmbuf_mtod(s, const uint8_t*), s->data_len));
    }
    rte_pktmbuf_free(chain);
    c->bytes_out += len;
    pump(*c, now_us);
    poll(now_us);
    return len;
}

uint32_t Endpoint::send_space(tcp::ConnId id) const {
    const Conn* c = find(id);
    if (c == nullptr) {
        return eng_.send_space(id);
    }
    if (!c->tx) {
        return 0;
    }
    size_t used = c->tx->buffered();
    return used >= cfg_.snd_buf ? 0 : static_cast<uint32_t>(cfg_.snd_buf - used);
}

void Endpoint::want_writable(tcp::ConnId id) {
    // The connection-level buffer frees on DATA_ACKs (poll() tells the application then), the
    // subflow's on subflow ACKs (its writable event, passed on).
    if (Conn* c = find(id)) {
        c->wants_writable = true;
    }
    eng_.want_writable(id);
}

rte_mbuf* Endpoint::recv(tcp::ConnId id, uint64_t now_us) {
    Conn* c = find(id);
    if (c == nullptr) {
        return eng_.recv(id, now_us);
    }
    if (!c->rx || c->rx->readable() == 0) {
        return nullptr;
    }
    rte_mbuf* head = nullptr;
    rte_mbuf* tail = nullptr;
    const uint32_t room = mbuf_room(cfg_.data_pool);
    while (c->rx->readable() > 0 && (head == nullptr || head->nb_segs < 32)) {
        rte_mbuf* m = rte_pktmbuf_alloc(cfg_.data_pool);
        if (m == nullptr) {
            counters_.add(Counter::no_mbuf);
            break;
        }
        uint32_t n = static_cast<uint32_t>(std::min<size_t>(room, c->rx->readable()));
        auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(n)));
        c->rx->read(std::span<uint8_t>(p, n));
        c->bytes_in += n;
        if (head == nullptr) {
            head = tail = m;
        } else {
            tail->next = m;
            tail = m;
            head->nb_segs = static_cast<uint16_t>(head->nb_segs + 1);
            head->pkt_len += n;
        }
    }
    eng_.window_update(id, now_us);
    poll(now_us);
    return head;
}

uint32_t Endpoint::readable_bytes(tcp::ConnId id) const {
    const Conn* c = find(id);
    if (c == nullptr) {
        return eng_.readable_bytes(id);
    }
    return c->rx ? static_cast<uint32_t>(c->rx->readable()) : 0;
}

bool Endpoint::peer_closed(tcp::ConnId id) const {
    const Conn* c = find(id);
    if (c == nullptr) {
        return eng_.peer_closed(id);
    }
    return c->rx && c->rx->fin_received() && c->rx->readable() == 0;
}

void Endpoint::shutdown_write(tcp::ConnId id, uint64_t now_us) {
    Conn* c = find(id);
    if (c == nullptr || !c->tx) {
        eng_.shutdown_write(id, now_us);
        return;
    }
    c->tx->shutdown();
    pump(*c, now_us);
    poll(now_us);
}

void Endpoint::close(tcp::ConnId id, uint64_t now_us) {
    Conn* c = find(id);
    if (c == nullptr || !c->tx) {
        eng_.close(id, now_us);
        return;
    }
    c->app_closed = true;
    std::array<uint8_t, 2048> sink;
    while (c->rx->read(sink) > 0) {
    }
    shutdown_write(id, now_us);
}

void Endpoint::abort(tcp::ConnId id, uint64_t now_us) {
    eng_.abort(id, now_us);  // RST on the subflow (MP_FASTCLOSE not sent yet)
    forget(id);
}

std::optional<ConnSummary> Endpoint::describe(tcp::ConnId id) const {
    const Conn* c = find(id);
    if (c == nullptr) {
        return std::nullopt;
    }
    return ConnSummary{c->id, c->local.token, c->remote.token, c->state,
                       1,     c->checksums,   c->bytes_in,     c->bytes_out};
}

std::vector<ConnSummary> Endpoint::describe_all() const {
    std::vector<ConnSummary> v;
    for (const auto& [id, c] : conns_) {
        v.push_back(*describe(id));
    }
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return v;
}

std::array<uint32_t, static_cast<size_t>(ConnState::count)> Endpoint::connections_by_state() const {
    std::array<uint32_t, static_cast<size_t>(ConnState::count)> n{};
    for (const auto& [id, c] : conns_) {
        ++n[static_cast<size_t>(c->state)];
    }
    return n;
}

}  // namespace braid::mptcp
