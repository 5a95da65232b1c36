#include "mptcp/endpoint.h"

#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>

#include "tcpstack/siphash.h"

namespace braid::mptcp {

namespace {

namespace tflag = tcp::wire::flag;

// The connection-level window the Sender works with (§3.3.4): the TCP window field of any
// subflow's segment, scaled by that subflow's shift, is relative to the DATA_ACK it carries.
// With one subflow this equals the subflow's own limit; with several it keeps their sum within
// the peer's connection-level buffer (each subflow alone would let through a window each).
uint32_t conn_window(const tcp::Engine& eng, tcp::ConnId sid, const tcp::wire::Header& h) {
    auto info = eng.describe(sid);  // read-only: the shift is fixed since the handshake
    return uint32_t{h.window} << (info ? info->snd_wscale : 0);
}

// DSS with a 64-bit DATA_ACK, a 64-bit mapping and a checksum: 28 bytes (26 without the
// checksum, padded to 28 on the wire). With timestamps (12) a data segment's options are then
// exactly 40 bytes (spec §2.12): no SACK blocks on data segments of an MPTCP subflow.
constexpr uint32_t dss_room = 28;

struct Parsed {
    std::optional<wire::MpCapable> cap;
    std::optional<wire::Dss> dss;
    std::optional<wire::MpJoinSyn> join_syn;
    std::optional<wire::MpJoinAck> join_ack;
    std::optional<wire::MpPrio> prio;
    std::optional<wire::MpFastclose> fastclose;
    std::optional<wire::MpTcpRst> tcprst;
    std::optional<wire::AddAddr> add_addr;
    std::optional<wire::RemoveAddr> remove_addr;
    std::optional<wire::MpFail> mp_fail;
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
        } else if (auto* j = std::get_if<wire::MpJoinSyn>(&*r.option); j != nullptr) {
            p.join_syn = *j;
        } else if (auto* a = std::get_if<wire::MpJoinAck>(&*r.option); a != nullptr) {
            p.join_ack = *a;
        } else if (auto* pr = std::get_if<wire::MpPrio>(&*r.option); pr != nullptr) {
            p.prio = *pr;
        } else if (auto* f = std::get_if<wire::MpFastclose>(&*r.option); f != nullptr) {
            p.fastclose = *f;
        } else if (auto* t = std::get_if<wire::MpTcpRst>(&*r.option); t != nullptr) {
            p.tcprst = *t;
        } else if (auto* aa = std::get_if<wire::AddAddr>(&*r.option); aa != nullptr) {
            p.add_addr = *aa;
        } else if (auto* ra = std::get_if<wire::RemoveAddr>(&*r.option); ra != nullptr) {
            p.remove_addr = *ra;
        } else if (auto* mf = std::get_if<wire::MpFail>(&*r.option); mf != nullptr) {
            p.mp_fail = *mf;
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

wire::IpAddress to_wire(const tcp::IpAddr& a) {
    wire::IpAddress w;
    w.v6 = a.family == 6;
    w.bytes = a.bytes;
    if (!w.v6) {
        std::fill(w.bytes.begin() + 4, w.bytes.end(), uint8_t{0});
    }
    return w;
}

tcp::IpAddr from_wire(const wire::IpAddress& w) {
    tcp::IpAddr a;
    a.family = w.v6 ? 6 : 4;
    a.bytes = w.bytes;
    return a;
}

// Option bytes still free on a segment braid sends: 40 minus what the engine put there (the
// SACK blocks adapt to what is left; they go last).
size_t option_room(const tcp::wire::Options& o) {
    size_t n = o.mptcp_out_len;
    n += o.mss ? 4 : 0;
    n += o.timestamps ? 12 : (o.sack_permitted ? 4 : 0);
    n += o.window_scale ? 4 : 0;
    if (o.fast_open) {
        n += 2 + o.fast_open_cookie.size();
    }
    return n >= tcp::wire::max_options_len ? 0 : tcp::wire::max_options_len - n;
}

// Peer addresses recorded per connection (ADD_ADDR); more are counted and ignored.
constexpr size_t max_peer_addresses = 8;
// Addresses braid announces per connection.
constexpr size_t max_local_addresses = 8;

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

std::string_view to_string(SubflowState s) {
    switch (s) {
#define BRAID_X(name, text)  \
    case SubflowState::name: \
        return text;
        BRAID_MPTCP_SUBFLOW_STATES(BRAID_X)
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

Endpoint::Subflow* Endpoint::Conn::subflow(tcp::ConnId sid) {
    for (auto& s : subflows) {
        if (s->id == sid) {
            return s.get();
        }
    }
    return nullptr;
}

const Endpoint::Subflow* Endpoint::Conn::subflow(tcp::ConnId sid) const {
    for (const auto& s : subflows) {
        if (s->id == sid) {
            return s.get();
        }
    }
    return nullptr;
}

std::pair<Endpoint::Conn*, Endpoint::Subflow*> Endpoint::find_subflow(tcp::ConnId sid) {
    auto it = subflow_conn_.find(sid);
    if (it == subflow_conn_.end()) {
        return {nullptr, nullptr};
    }
    Conn* c = find(it->second);
    if (c == nullptr) {
        return {nullptr, nullptr};
    }
    return {c, c->subflow(sid)};
}

std::pair<const Endpoint::Conn*, const Endpoint::Subflow*> Endpoint::find_subflow(
    tcp::ConnId sid) const {
    auto it = subflow_conn_.find(sid);
    if (it == subflow_conn_.end()) {
        return {nullptr, nullptr};
    }
    const Conn* c = find(it->second);
    if (c == nullptr) {
        return {nullptr, nullptr};
    }
    return {c, c->subflow(sid)};
}

Endpoint::Conn& Endpoint::create(tcp::ConnId c, const tcp::FourTuple& t,
                                 const crypto::KeyMaterial& k) {
    auto conn = std::make_unique<Conn>();
    conn->id = c;
    conn->local = k;
    auto sf = std::make_unique<Subflow>();
    sf->id = c;
    sf->index = 0;
    sf->tuple = t;
    sf->access = cfg_.access_of ? cfg_.access_of(t) : Access::unknown;
    conn->sched = cfg_.scheduler;
    conn->subflows.push_back(std::move(sf));
    tokens_.insert(k.token, c);
    subflow_conn_[c] = c;
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
    for (const auto& s : it->second->subflows) {
        subflow_conn_.erase(s->id);
    }
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
    size_t room = std::min<size_t>(tcp::wire::max_options_len - o.mptcp_out_len, option_room(o));
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

Endpoint::JoinCheck Endpoint::check_join(const tcp::wire::Options& o, bool cookie_pressure) {
    JoinCheck r;
    Parsed p = parse_all(o);
    if (!p.join_syn) {
        return r;
    }
    r.syn = p.join_syn;
    auto id = tokens_.find(p.join_syn->token);
    Conn* c = id ? find(*id) : nullptr;
    if (c == nullptr) {
        // Also a connection owned by another worker: the cross-worker handover is not done.
        r.refused = Counter::join_unknown_token;
    } else if (c->state != ConnState::established || !c->rx || c->app_closed) {
        r.refused = Counter::join_not_established;
    } else if (c->infinite) {
        r.refused = Counter::join_fallen_back;  // §3.7: never back to MPTCP
    } else if (c->subflows.size() >= cfg_.max_subflows || c->next_index >= max_subflows) {
        r.refused = Counter::join_limit;
    } else if (cookie_pressure) {
        // A join needs state (the nonces, the connection) that a SYN cookie cannot carry; the
        // client keeps the subflows it has and may try again later (§3.9.3).
        r.refused = Counter::join_cookie_pressure;
    }
    r.conn = c;
    return r;
}

bool Endpoint::refuse_syn(const tcp::FourTuple&, const tcp::wire::Header&,
                          const tcp::wire::Options& o, bool cookie_pressure) {
    JoinCheck j = check_join(o, cookie_pressure);
    if (!j.syn) {
        return false;  // MP_CAPABLE or plain TCP: on_syn / on_cookie_syn_ack decide
    }
    counters_.add(Counter::join_syn);
    if (j.refused) {
        counters_.add(*j.refused);  // §3.2: RST (plain; MP_TCPRST is not sent on RSTs yet)
        return true;
    }
    return false;
}

bool Endpoint::on_syn(tcp::ConnId c, const tcp::FourTuple& t, const tcp::wire::Header& h,
                      const tcp::wire::Options& o, uint64_t) {
    if (JoinCheck j = check_join(o, false); j.syn) {
        if (j.refused || j.conn == nullptr) {
            return false;  // refuse_syn() answered it already; not reached
        }
        Conn& conn = *j.conn;
        auto sf = std::make_unique<Subflow>();
        sf->id = c;
        sf->index = conn.next_index++;
        sf->tuple = t;
        sf->join = true;
        sf->backup = j.syn->backup;
        sf->remote_address_id = j.syn->address_id;
        sf->remote_nonce = j.syn->nonce;
        sf->local_nonce = static_cast<uint32_t>(cfg_.rng());
        // One address ID per local address: the initial subflow's is 0 (§3.2, implicit), an
        // announced one's its own (the peer joins it after our ADD_ADDR), any other 1.
        sf->local_address_id = t.local == conn.subflows.front()->tuple.local ? 0 : 1;
        for (const auto& la : conn.local_addrs) {
            if (la.addr.address == t.local && (!la.addr.port || *la.addr.port == t.local_port)) {
                sf->local_address_id = la.addr.id;
            }
        }
        sf->irs = h.seq;
        sf->access = cfg_.access_of ? cfg_.access_of(t) : Access::unknown;
        subflow_conn_[c] = conn.id;
        conn.subflows.push_back(std::move(sf));
        return true;
    }
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
    auto k = crypto::generate_key(sha_, cfg_.rng,
                                  [this](uint32_t tok) { return tokens_.contains(tok); });
    if (!k) {
        counters_.add(Counter::fallback_no_unique_key);
        return false;
    }
    counters_.add(Counter::syn_mp_capable);
    Conn& conn = create(c, t, *k);
    conn.subflows.front()->irs = h.seq;
    conn.syn_asked_checksums = (p.cap->flags & wire::capable_flag::checksum) != 0;
    conn.checksums = cfg_.checksums || conn.syn_asked_checksums;
    return true;
}

void Endpoint::on_syn_data(tcp::ConnId c, uint32_t len) {
    // RFC 8684 App. B.2: SYN data is outside both sequence spaces; the peer's first byte after
    // the handshake is SSN 1 (ssn = seq - irs in on_data), so the SYN data shifts irs.
    auto [conn, sf] = find_subflow(c);
    if (conn != nullptr && sf != nullptr) {
        sf->irs += len;
    }
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
    Conn& conn = create(c, t, k);
    conn.subflows.front()->irs = h.seq - 1;
    conn.subflows.front()->iss = h.ack - 1;
    // The SYN's flags are gone; the third ACK repeats A when checksums were asked (§3.1).
    conn.checksums = cfg_.checksums || (p.cap->flags & wire::capable_flag::checksum) != 0;
    return true;  // on_input follows with this segment and completes the handshake
}

bool Endpoint::complete_handshake(Conn& c, const wire::MpCapable& cap, uint32_t window) {
    c.remote = crypto::key_material(sha_, *cap.sender_key);
    if ((cap.flags & wire::capable_flag::checksum) != 0) {
        c.checksums = true;
    }
    // Receive buffer with slack over the subflow's: the subflow's window (counting what is
    // held here) is what the peer may send, rounded up to its scale unit.
    c.rx.emplace(DataSeq(c.remote.idsn + 1), cfg_.rcv_buf * 2, c.checksums, counters_);
    c.tx.emplace(DataSeq(c.local.idsn + 1), cfg_.snd_buf, window, false, counters_);
    c.rx->allow_fallback(!c.ever_joined);  // §3.7: one subflow so far
    c.state = ConnState::established;
    c.subflows.front()->state = SubflowState::established;
    counters_.add(Counter::established);
    return true;
}

bool Endpoint::join_input(Conn& c, Subflow& s, const tcp::wire::Options& o) {
    // The third ACK of an MP_JOIN: HMAC-A = HMAC(Key-A || Key-B, R-A || R-B), A the client.
    Parsed p = parse_all(o);
    auto want =
        crypto::join_ack_hmac(sha_, c.remote.key, c.local.key, s.remote_nonce, s.local_nonce);
    if (!p.join_ack || p.join_ack->hmac != want) {
        counters_.add(Counter::join_bad_hmac);
        s.need_abort = true;
        s.rst_reason = wire::ResetReason::administratively_prohibited;
        queue(c);
        return false;
    }
    s.state = SubflowState::established;
    // §3.7: with a second subflow a checksum failure resets; the infinite mapping is gone for
    // good (Linux: allow_infinite_fallback).
    c.ever_joined = true;
    if (c.rx) {
        c.rx->allow_fallback(false);
    }
    // §3.2: the ACK carrying HMAC-A MUST be acknowledged at once (the client may not send data
    // before that "4th ACK").
    s.need_ack = true;
    c.need_pump = true;
    queue(c);
    counters_.add(Counter::join_accepted);
    return true;
}

// ---------------------------------------------------------------------------------------------
// Subflow input

bool Endpoint::on_input(tcp::ConnId id, const tcp::wire::Header& h, const tcp::wire::Options& o,
                        uint32_t len, uint64_t now_us) {
    // Named pointers, not a structured binding: the lambda below captures them (clang < 16).
    auto found = find_subflow(id);
    Conn* c = found.first;
    Subflow* sf = found.second;
    if (c == nullptr || sf == nullptr) {
        return false;
    }
    Parsed p = parse_all(o);
    if (p.bad) {
        counters_.add(Counter::option_parse_errors);
    }
    if (sf->need_abort) {
        return true;  // a RST follows from poll()
    }
    if (sf->join && sf->state == SubflowState::joining) {
        if (!join_input(*c, *sf, o)) {
            return true;  // stays attached: poll() resets it
        }
    } else if (!c->rx) {
        // Third ACK, or the first data if that was lost (22/24-byte form): both keys echoed.
        if (!p.cap || !p.cap->sender_key || !p.cap->receiver_key) {
            counters_.add(Counter::fallback_third_ack);
            forget(c->id);
            return false;
        }
        if (*p.cap->receiver_key != c->local.key) {
            counters_.add(Counter::fallback_bad_key);
            forget(c->id);
            return false;
        }
        complete_handshake(*c, *p.cap, conn_window(eng_, id, h));
        queue(*c);
        c->need_pump = true;
        start_announcements(*c, now_us);
    }
    if (p.fastclose) {
        // §3.5 option A: MP_FASTCLOSE on an ACK; braid resets every subflow, this one too.
        peer_fastclose(*c, *p.fastclose);
        return true;
    }
    if (p.mp_fail && c->rx) {
        mp_fail_input(*c, *sf, *p.mp_fail);
        if (c->need_abort) {
            return true;
        }
    }
    if (c->infinite) {
        // §3.7: plain TCP on this subflow from now on; its FIN is the DATA_FIN
        // (on_engine_event). No DSS, no address signalling (never back to MPTCP).
        return true;
    }
    if (p.add_addr && c->rx) {
        add_addr_input(*c, *sf, *p.add_addr);
    }
    if (p.remove_addr && c->rx) {
        remove_addr_input(*c, *p.remove_addr);
    }
    if (p.prio && p.prio->backup != sf->backup) {
        // §3.3.8: the peer asks braid to (not) send on this subflow; it rides on the subflow
        // it concerns (the address-ID form is not supported: Linux sends this one).
        sf->backup = p.prio->backup;
        counters_.add(Counter::mp_prio);
        c->need_pump = true;
        queue(*c);
    }
    if (!c->rx) {
        return true;
    }
    if (p.dss || (p.cap && p.cap->data_len)) {
        c->dss_seen = true;
    } else if (o.mptcp_count == 0 && options_stripped(*c, *sf, h, len)) {
        return true;
    }
    const SubflowId idx = sf->index;
    auto handle = [&](const RxResult& r) {
        switch (r.error) {
            case RxError::checksum_failed:
                if (r.fell_back) {
                    fall_back(*c, *sf, r.failed_dsn.raw());
                    break;
                }
                counters_.add(Counter::reset_checksum);
                c->need_abort = c->fastclose = true;
                queue(*c);
                break;
            case RxError::checksum_missing:
            case RxError::checksum_unexpected:
            case RxError::unmapped_overflow:
                counters_.add(Counter::reset_protocol);
                c->need_abort = c->fastclose = true;
                queue(*c);
                break;
            default:
                break;
        }
    };
    // MP_CAPABLE with data (the peer's first data): the mapping DSN = IDSN + 1, SSN = 1.
    if (!sf->join && p.cap && p.cap->data_len && len > 0) {
        wire::DssMapping m;
        m.dsn = c->remote.idsn + 1;
        m.ssn = 1;
        m.data_len = *p.cap->data_len;
        m.checksum = p.cap->checksum;
        handle(c->rx->on_mapping(idx, m, false));
    }
    if (p.dss) {
        if (p.dss->data_ack) {
            AckStatus st =
                c->tx->on_data_ack(*p.dss->data_ack, p.dss->data_ack8, conn_window(eng_, id, h));
            if (st == AckStatus::advanced) {
                c->need_pump = true;
                queue(*c);
            }
            // Everything but our DATA_FIN acknowledged: the segment that carried the DATA_FIN
            // may be lost (it rode on a bare ACK); each peer segment gets it again.
            if (c->fin_dsn && !c->tx->fin_acked() && c->tx->snd_una() == *c->fin_dsn && len > 0) {
                sf->need_ack = true;
                queue(*c);
            }
            if (c->tx->fin_acked() && !c->subflows_closed) {
                queue(*c);
            }
        }
        if (p.dss->mapping) {
            handle(c->rx->on_mapping(idx, *p.dss->mapping, p.dss->data_fin));
        }
    }
    if (c->rx->fin_received() && !c->peer_fin_told) {
        c->peer_fin_told = true;
        readable_event(*c);
    }
    update_state(*c);
    return true;
}

void Endpoint::on_data(tcp::ConnId id, tcp::Seq seq, rte_mbuf* payload, uint32_t len, uint64_t) {
    auto [c, sf] = find_subflow(id);
    if (c == nullptr || sf == nullptr || !c->rx || sf->state == SubflowState::joining) {
        counters_.add(Counter::data_before_keys);
        rte_pktmbuf_free(payload);
        return;
    }
    sf->bytes_in += len;
    access_bytes_[static_cast<size_t>(sf->access)][0] += len;
    uint32_t ssn = seq.raw() - sf->irs.raw();
    for (rte_mbuf* s = payload; s != nullptr; s = s->next) {
        std::span<const uint8_t> b(rte_pktmbuf_mtod(s, const uint8_t*), s->data_len);
        RxResult r = c->rx->on_data(sf->index, ssn, b);
        ssn += s->data_len;
        if (r.error == RxError::checksum_failed && r.fell_back) {
            fall_back(*c, *sf, r.failed_dsn.raw());  // §3.7: MP_FAIL, infinite mapping
        } else if (r.error == RxError::checksum_failed) {
            counters_.add(Counter::reset_checksum);
            c->need_abort = c->fastclose = true;
            queue(*c);
        } else if (r.error == RxError::unmapped_overflow) {
            counters_.add(Counter::reset_protocol);
            c->need_abort = c->fastclose = true;
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
                         const rte_mbuf* payload, uint32_t len, uint64_t now_us) {
    auto [c, sf] = find_subflow(id);
    if (c == nullptr || sf == nullptr) {
        return;
    }
    if (h.has(tflag::syn)) {
        sf->iss = h.seq;
        if (sf->join) {
            // SYN/ACK: HMAC-B = HMAC(Key-B || Key-A, R-B || R-A), leftmost 64 bits (§3.2).
            // braid never asks for backup itself: B is 0.
            wire::MpJoinSynAck j;
            j.address_id = sf->local_address_id;
            j.nonce = sf->local_nonce;
            j.truncated_hmac = crypto::join_synack_hmac(sha_, c->local.key, c->remote.key,
                                                        sf->local_nonce, sf->remote_nonce);
            emit_option(j, o);
            return;
        }
        wire::MpCapable cap;
        cap.flags = wire::capable_flag::hmac_sha256;
        if (c->checksums) {
            cap.flags |= wire::capable_flag::checksum;
        }
        cap.sender_key = c->local.key;
        emit_option(cap, o);
        return;
    }
    if (!c->rx || sf->state == SubflowState::joining) {
        return;
    }
    if (len == 0) {
        emit_signals(*c, *sf, o, now_us);  // first: the DATA_ACK is dropped if they fill it
    }
    if (c->infinite) {
        // §3.7: one DSS with an infinite mapping on the first data after the fallback,
        // retroactive from the first byte not Data-ACKed when that is still mapped here; then
        // plain TCP (no DSS, no Data ACKs).
        if (len == 0 || c->infinite_map_sent) {
            return;
        }
        const uint32_t seg_ssn = h.seq.raw() - sf->iss.raw();
        std::optional<wire::DssMapping> map;
        for (const TxMap& m : sf->txmaps) {
            if (c->infinite_dsn && *c->infinite_dsn - m.dsn < m.len) {
                map = wire::DssMapping{*c->infinite_dsn,
                                       true,
                                       m.ssn + static_cast<uint32_t>(*c->infinite_dsn - m.dsn),
                                       0,
                                       {}};
                break;
            }
        }
        for (const TxMap& m : sf->txmaps) {
            if (!map && seg_ssn - m.ssn < m.len) {
                map = wire::DssMapping{m.dsn + (seg_ssn - m.ssn), true, seg_ssn, 0, {}};
            }
        }
        if (!map) {
            return;
        }
        if (c->checksums) {
            map->checksum = 0;  // the field stays (its length was negotiated); not verified
        }
        wire::Dss inf;
        inf.mapping = map;
        emit_option(inf, o);
        c->infinite_map_sent = true;
        counters_.add(Counter::infinite_mapping_sent);
        return;
    }
    wire::Dss d;
    d.data_ack = c->rx->data_ack().raw();
    d.data_ack8 = true;
    if (len > 0) {
        uint32_t ssn = h.seq.raw() - sf->iss.raw();
        for (const TxMap& m : sf->txmaps) {
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
    auto [c, sf] = find_subflow(id);
    // In-order bytes the application has not read, not the out-of-order ones: those may wait
    // for a hole on this very subflow, and closing its window on them would deadlock it (the
    // Receiver bounds them by the connection-level window anyway).
    return c == nullptr || !c->rx ? 0 : static_cast<uint32_t>(c->rx->readable());
}

uint32_t Endpoint::segment_limit(tcp::ConnId id, tcp::Seq seq) const {
    // One DSS mapping per segment: a segment ends where the chunk (TxMap) its first byte
    // belongs to ends, since the next chunk on this subflow may carry unrelated DSNs.
    auto [c, sf] = find_subflow(id);
    if (c == nullptr || sf == nullptr) {
        return UINT32_MAX;
    }
    const uint32_t ssn = seq.raw() - sf->iss.raw();
    for (const TxMap& m : sf->txmaps) {
        if (ssn - m.ssn < m.len) {
            return m.len - (ssn - m.ssn);
        }
    }
    return UINT32_MAX;
}

uint32_t Endpoint::data_option_room(tcp::ConnId) const {
    return dss_room;
}

void Endpoint::on_rst_output(tcp::ConnId id, tcp::wire::Options& o) {
    auto [c, sf] = find_subflow(id);
    if (c == nullptr || sf == nullptr) {
        return;
    }
    if (c->fastclose) {
        // §3.5: the option carries the receiver's key, proof that the RST comes from us.
        wire::MpFastclose f;
        f.receiver_key = c->remote.key;
        emit_option(f, o);
    } else if (sf->rst_reason) {
        wire::MpTcpRst r;
        r.reason = static_cast<uint8_t>(*sf->rst_reason);
        emit_option(r, o);
        counters_.add(Counter::tcprst_sent);
    }
}

void Endpoint::on_rst_input(tcp::ConnId id, const tcp::wire::Options& o) {
    auto [c, sf] = find_subflow(id);
    if (c == nullptr || sf == nullptr) {
        return;
    }
    Parsed p = parse_all(o);
    if (p.mp_fail) {
        counters_.add(Counter::mp_fail_received);  // §3.7: RST + MP_FAIL ends this subflow
    }
    if (p.tcprst) {
        counters_.add(Counter::tcprst_received);
        sf->peer_rst_reason = p.tcprst->reason;
    }
    if (p.fastclose) {
        peer_fastclose(*c, *p.fastclose);  // §3.5 option R: RST with MP_FASTCLOSE
    }
}

void Endpoint::peer_fastclose(Conn& c, const wire::MpFastclose& f) {
    if (f.receiver_key != c.local.key) {
        // Only a peer that knows braid's key may close the whole connection (§3.5); this
        // subflow still ends if the option rode on its RST.
        counters_.add(Counter::fastclose_bad_key);
        return;
    }
    if (c.peer_fastclosed) {
        return;  // one per subflow's RST (option R): counted once
    }
    counters_.add(Counter::fastclose_received);
    c.peer_fastclosed = true;
    c.need_abort = true;  // RST (without MP_FASTCLOSE) on the subflows left
    queue(c);
}

void Endpoint::on_closed(tcp::ConnId id) {
    auto [c, sf] = find_subflow(id);
    subflow_conn_.erase(id);
    if (c == nullptr || sf == nullptr) {
        return;
    }
    const SubflowId idx = sf->index;
    const bool carried = sf->state != SubflowState::joining;
    std::erase_if(c->subflows, [id](const auto& s) { return s->id == id; });
    if (c->subflows.empty()) {
        forget(c->id);
        return;
    }
    if (carried && c->rx) {
        // §3.3.6: what it carried and the peer did not DATA_ACK goes out on the others; its
        // partly received mappings arrive again the same way from the peer.
        if (!c->subflows_closed && !c->peer_fastclosed) {
            counters_.add(Counter::subflow_failed);
        }
        c->rx->remove_subflow(idx);
        c->tx->reinject(idx);
        c->need_pump = true;
        queue(*c);
    }
}

// ---------------------------------------------------------------------------------------------
// Engine work and events

// A connection's live subflows have Receiver indexes: never more than a decision can hold.
static_assert(max_subflows <= max_scheduled_subflows);

Endpoint::Candidates Endpoint::candidates(Conn& c) {
    FixedList<SubflowView, max_scheduled_subflows> views;
    for (size_t i = 0; i < c.subflows.size(); ++i) {
        Subflow& s = *c.subflows[i];
        SubflowView v;
        v.slot = static_cast<uint32_t>(i);
        v.access = s.access;
        v.backup = s.backup;
        // check_stalls() lets a stalled subflow back in once an ACK moves it.
        v.usable = s.state == SubflowState::established && !s.need_abort &&
                   !(s.stalled && c.subflows.size() > 1);
        if (v.usable) {
            auto info = eng_.describe(s.id);
            v.usable = info && (info->state == tcp::State::established ||
                                info->state == tcp::State::close_wait);
            if (v.usable) {
                // Congestion-window room: less queued on the subflow than its window holds.
                v.room = info->snd_buffered < info->cwnd;
                v.srtt_us = info->srtt_us;
                v.loss_ppm = s.loss.ppm();
            }
        }
        views.push_back(v);
    }
    Decision d =
        schedule(c.sched, std::span<const SubflowView>(views.begin(), views.size()), c.balance);
    if (d.failover) {
        counters_.add(Counter::sched_failover);
        if (d.failover_reason == ThresholdReason::rtt) {
            counters_.add(Counter::sched_failover_rtt);
        } else if (d.failover_reason == ThresholdReason::plr) {
            counters_.add(Counter::sched_failover_plr);
        }
    }
    if (d.overflow) {
        counters_.add(Counter::sched_overflow);
    }
    Candidates r;
    for (const Pick& p : d.order) {
        r.push_back({c.subflows[p.slot].get(), p.copies_only, d.balanced});
    }
    return r;
}

bool Endpoint::set_scheduler(tcp::ConnId id, const SchedulerConfig& s, uint64_t now_us) {
    Conn* c = find(id);
    if (c == nullptr) {
        return false;
    }
    c->sched = s;
    c->need_pump = true;  // a subflow the old mode held back may send now
    queue(*c);
    poll(now_us);
    return true;
}

void Endpoint::pump(Conn& c, uint64_t now_us) {
    if (!c.tx || c.subflows_closed) {
        return;
    }
    const uint32_t room = mbuf_room(cfg_.data_pool);
    const tcp::ConnId cid = c.id;
    while (true) {
        // The mbuf first: a chunk taken from the Sender must go out.
        rte_mbuf* m = rte_pktmbuf_alloc(cfg_.data_pool);
        if (m == nullptr) {
            counters_.add(Counter::no_mbuf);
            return;
        }
        const Candidates cands = candidates(c);
        Subflow* sf = nullptr;
        std::optional<Chunk> ch;
        uint32_t space = 0;
        bool balanced = false;
        for (const Candidate& cand : cands) {
            space = eng_.send_space(cand.sf->id);
            if (space == 0) {
                continue;
            }
            ch = c.tx->next(cand.sf->index, cand.sf->tx_ssn, std::min(space, room),
                            !cand.copies_only);
            if (ch) {
                sf = cand.sf;
                balanced = cand.balanced;
                break;
            }
        }
        if (sf == nullptr) {
            rte_pktmbuf_free(m);
            if (c.tx->unsent() > 0 || space == 0) {
                for (const Candidate& cand : cands) {
                    eng_.want_writable(cand.sf->id);
                }
            }
            arm_window_probe(c, now_us);
            return;
        }
        if (!ch->reinjected) {
            c.probe_at_us = 0;  // new data moves: a later stall starts from the RTO again
        }
        if (c.sched.mode == SchedulerMode::redundant && !ch->reinjected) {
            c.tx->duplicate(sf->index, *ch);  // the copy subflows take it on the next rounds
        }
        if (balanced && !ch->reinjected && sf->access != Access::unknown) {
            c.balance[static_cast<size_t>(sf->access)] += ch->bytes.size();
        }
        const tcp::ConnId id = sf->id;
        uint32_t n = static_cast<uint32_t>(ch->bytes.size());
        if (ch->data_fin) {
            c.fin_dsn = DataSeq(ch->mapping.dsn + n);
            // The segment carrying it may be lost, and a bare ACK is never retransmitted by
            // the subflow: poll() sends the DATA_FIN again until it is DATA_ACKed.
            c.fin_backoff_us = fin_retry_initial_us;
            c.fin_retry_us = now_us + c.fin_backoff_us;
            fin_wait_.push_back(cid);
        }
        if (n == 0) {
            rte_pktmbuf_free(m);
            if (c.infinite) {
                // §3.7: the subflow's FIN is the DATA_FIN; poll() sends it.
                c.tx->on_data_ack(c.tx->snd_nxt().raw(), true, cfg_.snd_buf);
                queue(c);
            } else {
                eng_.ack_now(id, now_us);  // a bare ACK carries the DATA_FIN
            }
            update_state(c);
            return;
        }
        std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(n)), ch->bytes.data(), n);
        // The mapping first: the segments eng_.send() emits look it up.
        if (!sf->txmaps.empty() && sf->txmaps.back().ssn + sf->txmaps.back().len == sf->tx_ssn &&
            sf->txmaps.back().dsn + sf->txmaps.back().len == ch->mapping.dsn) {
            sf->txmaps.back().len += n;
        } else {
            sf->txmaps.push_back({sf->tx_ssn, ch->mapping.dsn, n});
        }
        sf->tx_ssn += n;
        sf->bytes_out += n;
        access_bytes_[static_cast<size_t>(sf->access)][1] += n;
        if (eng_.send(id, m, now_us) == 0) {
            rte_pktmbuf_free(m);  // the subflow stopped taking data (closing): nothing more
            c.tx->reinject(sf->index);
            return;
        }
        if (c.infinite) {
            // §3.7: no Data ACKs come any more; the subflow (its send queue, its ACKs) owns
            // the bytes now, so the connection-level copy goes at once.
            c.tx->on_data_ack(c.tx->snd_nxt().raw(), true, cfg_.snd_buf);
            if (c.tx->fin_acked()) {
                queue(c);
            }
        }
        // Ranges the peer DATA_ACKed are never sent again on this subflow.
        while (sf->txmaps.size() > 1 &&
               DataSeq(sf->txmaps.front().dsn + sf->txmaps.front().len) <= c.tx->snd_una()) {
            sf->txmaps.pop_front();
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
    auto [c, sf] = find_subflow(e.conn);
    if (c == nullptr || sf == nullptr) {
        events_(e);
        return;
    }
    tcp::Event out = e;
    out.conn = c->id;
    switch (e.kind) {
        case tcp::EventKind::readable:
            // The subflow's bytes are this layer's; readable comes from on_data. After the
            // §3.7 fallback the subflow's FIN is the peer's DATA_FIN.
            if (c->infinite && c->rx && !c->rx->fin_received() && eng_.peer_closed(e.conn)) {
                c->rx->fin_after_fallback();
                if (c->rx->fin_received() && !c->peer_fin_told) {
                    c->peer_fin_told = true;
                    readable_event(*c);
                }
                update_state(*c);
            }
            return;
        case tcp::EventKind::syn_data:
            events_(out);  // a deferred MP_CAPABLE SYN: the application answers it
            return;
        case tcp::EventKind::established:
            if (sf->join) {
                return;  // part of its connection, not a new one for the application
            }
            events_(out);
            return;
        case tcp::EventKind::writable:
            c->need_pump = true;
            queue(*c);
            events_(out);
            return;
        case tcp::EventKind::closed:
        case tcp::EventKind::reset:
            // The connection lives while another subflow does (§3.3.6, §3.6); the last one's
            // end is the connection's (on_closed follows and forgets it).
            if (c->subflows.size() > 1) {
                return;
            }
            if (c->peer_fastclosed) {
                out.kind = tcp::EventKind::reset;
                out.reason = tcp::CloseReason::reset_received;
            } else if (c->state == ConnState::closed) {
                // Both DATA_FINs exchanged and acknowledged: the connection ended normally,
                // however its last subflow went (e.g. reset after its path died).
                out.kind = tcp::EventKind::closed;
                out.reason = tcp::CloseReason::normal;
            }
            events_(out);
            return;
    }
}

void Endpoint::abort_subflows(Conn& c, uint64_t now_us) {
    if (c.fastclose && c.rx) {
        counters_.add(Counter::fastclose_sent);
    } else {
        c.fastclose = false;  // before the keys are confirmed a plain RST is all there is
    }
    std::vector<tcp::ConnId> ids;
    for (const auto& s : c.subflows) {
        ids.push_back(s->id);
    }
    const tcp::ConnId cid = c.id;
    // The last abort's reset event reaches the application (the others are swallowed while a
    // subflow is left); each on_closed removes its subflow.
    for (tcp::ConnId sid : ids) {
        eng_.abort(sid, now_us);
    }
    forget(cid);
}

void Endpoint::check_stalls(uint64_t now_us) {
    if (now_us < next_stall_check_us_) {
        return;
    }
    next_stall_check_us_ = now_us + stall_check_us;
    for (auto& [cid, c] : conns_) {
        arm_window_probe(*c, now_us);  // nothing in flight, nothing moving: see there
        if (c->subflows.size() < 2 || !c->tx) {
            continue;
        }
        for (auto& s : c->subflows) {
            if (s->state == SubflowState::joining) {
                continue;
            }
            auto info = eng_.describe(s->id);
            if (!info) {
                continue;
            }
            if (c->state == ConnState::closed && info->backoff >= dead_path_backoffs) {
                // Both DATA_FINs are through: nothing is left for it to carry, and its FIN
                // would wait out R2 (minutes) on a dead path while the application's close
                // waits for the last subflow. RST it.
                s->need_abort = true;
                s->rst_reason = wire::ResetReason::unacceptable_performance;
                queue(*c);
                continue;
            }
            if (s->state != SubflowState::established) {
                continue;
            }
            s->loss.sample(info->data_segments, info->retransmits);
            if (!s->stalled && info->backoff >= stall_backoffs) {
                s->stalled = true;
                counters_.add(Counter::subflow_stalled);
                c->tx->reinject(s->index);
                c->need_pump = true;
                queue(*c);
            } else if (s->stalled && info->backoff == 0) {
                s->stalled = false;
                c->need_pump = true;
                queue(*c);
            }
        }
    }
}

bool Endpoint::window_blocked(const Conn& c) const {
    return c.tx && !c.subflows_closed && !c.infinite && c.tx->unsent() > 0 &&
           c.tx->window_edge() <= c.tx->snd_nxt();
}

bool Endpoint::data_unacked(const Conn& c) const {
    // Data bytes, not the DATA_FIN alone (poll() sends that again on its own timer).
    return c.tx && !c.subflows_closed && !c.infinite &&
           c.tx->snd_una() < (c.fin_dsn ? *c.fin_dsn : c.tx->snd_nxt());
}

bool Endpoint::subflows_idle(const Conn& c) const {
    for (const auto& s : c.subflows) {
        if (s->state != SubflowState::established) {
            continue;
        }
        auto info = eng_.describe(s->id);
        if (info && info->snd_buffered > 0) {
            return false;
        }
    }
    return true;
}

void Endpoint::arm_window_probe(Conn& c, uint64_t now_us) {
    if (c.probe_at_us != 0 || !(window_blocked(c) || data_unacked(c)) || !subflows_idle(c)) {
        return;
    }
    // The first after the RTO of a subflow that can carry it (the engine's persist timer starts
    // at the subflow's RTO too).
    uint64_t rto = 0;
    for (const auto& s : c.subflows) {
        if (s->state != SubflowState::established) {
            continue;
        }
        if (auto info = eng_.describe(s->id)) {
            rto = rto == 0 ? info->rto_us : std::min<uint64_t>(rto, info->rto_us);
        }
    }
    if (rto == 0) {
        return;  // no subflow to send on; a new one's ACKs carry the window
    }
    c.probe_backoff_us = std::min(rto, window_probe_max_us);
    c.probe_at_us = now_us + c.probe_backoff_us;
    if (std::find(probing_.begin(), probing_.end(), c.id) == probing_.end()) {
        probing_.push_back(c.id);
    }
}

void Endpoint::check_window_probes(uint64_t now_us) {
    for (auto it = probing_.begin(); it != probing_.end();) {
        Conn* c = find(*it);
        if (c == nullptr || c->probe_at_us == 0) {
            it = probing_.erase(it);
            continue;
        }
        if (now_us < c->probe_at_us) {
            ++it;
            continue;
        }
        const bool unacked = data_unacked(*c);
        if (!unacked && !window_blocked(*c)) {
            // The window opened, the data is acknowledged: send what fits.
            c->probe_at_us = 0;
            c->need_pump = true;
            queue(*c);
            it = probing_.erase(it);
            continue;
        }
        if (!subflows_idle(*c)) {
            // Data in flight on a subflow: its ACKs (its RTO retransmissions) carry the DATA_ACK
            // and the window. Look again later (the backoff stays).
            c->probe_at_us = now_us + c->probe_backoff_us;
            ++it;
            continue;
        }
        bool acted = false;
        if (unacked) {
            // The subflows acknowledged data the peer never DATA_ACKed: it dropped it, or the
            // DATA_ACK that would free it was lost and nothing else will come (§3.3.6). Send it
            // again on whichever subflow the scheduler picks, the one that carried it too
            // (Linux's connection-level retransmission does the same); the peer's ACK of it
            // carries the DATA_ACK and the window.
            c->tx->retransmit_unacked();
            counters_.add(Counter::data_retransmits);
            c->need_pump = true;
            queue(*c);
            acted = true;
        } else {
            // Window closed, nothing in flight: an old-sequence ACK on a subflow that is not
            // stalled (else any); the peer answers it with DATA_ACK + window.
            const Subflow* target = nullptr;
            for (const auto& s : c->subflows) {
                if (s->state == SubflowState::established && !s->need_abort &&
                    (target == nullptr || (target->stalled && !s->stalled))) {
                    target = s.get();
                }
            }
            if (target != nullptr && eng_.probe(target->id, now_us)) {
                counters_.add(Counter::window_probes);
                acted = true;
            }
        }
        if (acted) {
            c->probe_backoff_us = std::min(c->probe_backoff_us * 2, window_probe_max_us);
        }
        c->probe_at_us = now_us + c->probe_backoff_us;
        ++it;
    }
}

void Endpoint::poll(uint64_t now_us) {
    check_stalls(now_us);
    check_window_probes(now_us);
    check_announcements(now_us);
    for (auto it = fin_wait_.begin(); it != fin_wait_.end();) {
        Conn* c = find(*it);
        if (c == nullptr || !c->tx || c->tx->fin_acked()) {
            it = fin_wait_.erase(it);
            continue;
        }
        if (now_us >= c->fin_retry_us) {
            c->fin_backoff_us = std::min(c->fin_backoff_us * 2, fin_retry_max_us);
            c->fin_retry_us = now_us + c->fin_backoff_us;
            for (auto& s : c->subflows) {
                if (s->state == SubflowState::established) {
                    s->need_ack = true;
                    break;  // one copy is enough
                }
            }
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
                abort_subflows(*c, now_us);  // RSTs; the connection is forgotten
                continue;
            }
            // Subflows refused after the handshake (bad HMAC-A): RST, the others go on.
            std::vector<tcp::ConnId> dead;
            for (const auto& s : c->subflows) {
                if (s->need_abort) {
                    dead.push_back(s->id);
                }
            }
            for (tcp::ConnId sid : dead) {
                eng_.abort(sid, now_us);  // on_closed removes it (maybe the connection too)
                if ((c = find(id)) == nullptr) {
                    break;
                }
            }
            if (c == nullptr) {
                continue;
            }
            if (c->need_pump) {
                c->need_pump = false;
                pump(*c, now_us);
                if ((c = find(id)) == nullptr) {
                    continue;
                }
            }
            std::vector<tcp::ConnId> acks;
            for (auto& s : c->subflows) {
                if (s->need_ack) {
                    s->need_ack = false;
                    acks.push_back(s->id);
                }
            }
            for (tcp::ConnId sid : acks) {
                eng_.ack_now(sid, now_us);
            }
            if ((c = find(id)) == nullptr) {
                continue;
            }
            if (c->need_window) {
                c->need_window = false;
                std::vector<tcp::ConnId> ids;
                for (const auto& s : c->subflows) {
                    ids.push_back(s->id);
                }
                for (tcp::ConnId sid : ids) {
                    eng_.window_update(sid, now_us);
                }
                if ((c = find(id)) == nullptr) {
                    continue;
                }
            }
            if (c->wants_writable && send_space(id) > 0) {
                c->wants_writable = false;
                events_({tcp::EventKind::writable, id, 0, tcp::CloseReason::normal});
            }
            if (c->tx && c->tx->fin_acked() && !c->subflows_closed) {
                // §3.3.3: our DATA_FIN is acknowledged: FIN on every subflow. The peer may
                // still send (its DATA_FIN ends that) unless the application closed.
                c->subflows_closed = true;
                std::vector<tcp::ConnId> ids;
                for (auto& s : c->subflows) {
                    if (s->state == SubflowState::established) {
                        s->state = SubflowState::closing;
                    }
                    ids.push_back(s->id);
                }
                const bool app_closed = c->app_closed;
                for (tcp::ConnId sid : ids) {
                    if (app_closed) {
                        eng_.close(sid, now_us);
                    } else {
                        eng_.shutdown_write(sid, now_us);
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Address signalling (§3.4) and MP_FAIL (§3.7)

Endpoint::Subflow* Endpoint::signal_subflow(Conn& c, std::optional<uint8_t> avoid_local_id) {
    Subflow* any = nullptr;
    for (auto& s : c.subflows) {
        if (s->state != SubflowState::established || s->need_abort) {
            continue;
        }
        if (!avoid_local_id || s->local_address_id != *avoid_local_id) {
            return s.get();
        }
        if (any == nullptr) {
            any = s.get();
        }
    }
    return any;
}

bool Endpoint::add_local(Conn& c, const AdvertisedAddress& a) {
    if (!c.rx || c.infinite || a.id == 0 || c.local_addrs.size() >= max_local_addresses) {
        return false;
    }
    for (const auto& la : c.local_addrs) {
        if (la.addr.id == a.id) {
            // §3.4.1: an ID keeps its address (withdraw it first to reuse the ID).
            return la.addr == a;
        }
    }
    Conn::LocalAddr la;
    la.addr = a;
    la.pending = true;
    la.backoff_us = cfg_.add_addr_retry_us;
    c.local_addrs.push_back(la);
    if (Subflow* sig = signal_subflow(c)) {
        sig->need_ack = true;  // a pure ACK of its own carries it
    }
    if (std::find(announcing_.begin(), announcing_.end(), c.id) == announcing_.end()) {
        announcing_.push_back(c.id);
    }
    queue(c);
    return true;
}

void Endpoint::start_announcements(Conn& c, uint64_t) {
    if (c.announced || !cfg_.advertise) {
        return;
    }
    c.announced = true;
    for (const AdvertisedAddress& a : cfg_.advertise(c.subflows.front()->tuple)) {
        add_local(c, a);
    }
}

void Endpoint::check_announcements(uint64_t now_us) {
    for (auto it = announcing_.begin(); it != announcing_.end();) {
        Conn* c = find(*it);
        if (c == nullptr || c->infinite) {
            it = announcing_.erase(it);
            continue;
        }
        bool waiting = false;
        for (auto& la : c->local_addrs) {
            if (la.echoed || la.given_up) {
                continue;
            }
            waiting = true;
            if (la.pending || la.sends == 0 || now_us < la.retry_us) {
                continue;
            }
            if (la.sends >= cfg_.add_addr_tries) {
                la.given_up = true;  // soft state: the peer may still join it
                counters_.add(Counter::add_addr_unechoed);
                continue;
            }
            la.pending = true;
            la.backoff_us *= 2;
            if (Subflow* sig = signal_subflow(*c)) {
                sig->need_ack = true;
                queue(*c);
            }
        }
        if (waiting) {
            ++it;
        } else {
            it = announcing_.erase(it);
        }
    }
}

void Endpoint::emit_signals(Conn& c, Subflow& s, tcp::wire::Options& o, uint64_t now_us) {
    // Each signal goes on this pure ACK if it fits next to what is there already; one that
    // would not fit even alone (IPv6 ADD_ADDR with a port next to timestamps) never will.
    enum class Put { done, later, never };
    const size_t empty_room = option_room(o) + o.mptcp_out_len;
    auto put = [&](const wire::Option& opt) {
        auto n = wire::option_len(opt);
        if (!n || *n > empty_room) {
            counters_.add(Counter::signal_too_long);
            return Put::never;
        }
        if (*n > option_room(o) ||
            *n > tcp::wire::max_options_len - static_cast<size_t>(o.mptcp_out_len)) {
            return Put::later;
        }
        emit_option(opt, o);
        return Put::done;
    };
    bool more = false;
    if (c.mp_fail_out) {
        Put r = put(wire::MpFail{*c.mp_fail_out});
        if (r != Put::later) {
            c.mp_fail_sent = r == Put::done;
            counters_.add(Counter::mp_fail_sent, r == Put::done ? 1 : 0);
            c.mp_fail_out.reset();
        } else {
            more = true;
        }
    }
    if (c.infinite) {
        if (more) {
            s.need_ack = true;
            queue(c);
        }
        return;
    }
    if (s.add_addr_out) {
        Put r = put(*s.add_addr_out);
        if (r == Put::done) {
            counters_.add(Counter::add_addr_echo_sent);
        }
        if (r == Put::later) {
            more = true;
        } else {
            s.add_addr_out.reset();
        }
    }
    if (s.remove_addr_out) {
        Put r = put(*s.remove_addr_out);
        if (r == Put::done) {
            counters_.add(Counter::remove_addr_sent);
        }
        if (r == Put::later) {
            more = true;
        } else {
            s.remove_addr_out.reset();
        }
    }
    if (signal_subflow(c) == &s) {
        for (auto& la : c.local_addrs) {
            if (!la.pending) {
                continue;
            }
            wire::AddAddr a;
            a.address_id = la.addr.id;
            a.address = to_wire(la.addr.address);
            a.port = la.addr.port;
            a.truncated_hmac = crypto::add_addr_hmac(sha_, c.local.key, c.remote.key, a.address_id,
                                                     a.address, a.port);
            Put r = put(a);
            if (r == Put::later) {
                more = true;
                break;
            }
            la.pending = false;
            if (r == Put::never) {
                la.given_up = true;
                continue;
            }
            ++la.sends;
            la.retry_us = now_us + la.backoff_us;
            counters_.add(Counter::add_addr_sent);
        }
    }
    if (more) {
        s.need_ack = true;  // the rest on another pure ACK
        queue(c);
    }
}

void Endpoint::add_addr_input(Conn& c, Subflow& s, const wire::AddAddr& a) {
    if (a.echo) {
        for (auto& la : c.local_addrs) {
            if (la.addr.id == a.address_id && to_wire(la.addr.address) == a.address) {
                if (!la.echoed) {
                    la.echoed = true;
                    counters_.add(Counter::add_addr_echoed);
                }
                return;
            }
        }
        counters_.add(Counter::add_addr_echo_unknown);
        return;
    }
    // §3.4.1: HMAC(Key-sender || Key-receiver, ID || address || port), rightmost 64 bits; the
    // peer is the sender. Unverifiable: ignored (no echo either).
    const uint64_t want =
        crypto::add_addr_hmac(sha_, c.remote.key, c.local.key, a.address_id, a.address, a.port);
    if (!a.truncated_hmac || *a.truncated_hmac != want) {
        counters_.add(Counter::add_addr_bad_hmac);
        return;
    }
    counters_.add(Counter::add_addr_received);
    PeerAddress pa{a.address_id, from_wire(a.address), a.port};
    auto it = std::find_if(c.peer_addrs.begin(), c.peer_addrs.end(),
                           [&](const PeerAddress& x) { return x.id == a.address_id; });
    if (it != c.peer_addrs.end()) {
        *it = pa;  // a re-announcement (soft state; the port may change)
    } else if (c.peer_addrs.size() < max_peer_addresses) {
        c.peer_addrs.push_back(pa);
    } else {
        counters_.add(Counter::add_addr_table_full);
    }
    // Echoed on the subflow it came on, with E set and no HMAC: it stops the peer resending.
    wire::AddAddr echo = a;
    echo.echo = true;
    echo.truncated_hmac.reset();
    s.add_addr_out = echo;
    s.need_ack = true;
    queue(c);
}

void Endpoint::remove_addr_input(Conn& c, const wire::RemoveAddr& r) {
    counters_.add(Counter::remove_addr_received);
    for (uint8_t id : r.id_list()) {
        bool known =
            std::erase_if(c.peer_addrs, [id](const PeerAddress& x) { return x.id == id; }) > 0;
        // §3.4.2: the subflows using it are reset (braid does not probe the path with a
        // keepalive first), except the last live one: the connection lives on it and closing
        // a working path is the sender's job.
        for (auto& s : c.subflows) {
            if (s->remote_address_id != id || s->need_abort) {
                continue;
            }
            known = true;
            size_t live = 0;
            for (const auto& x : c.subflows) {
                live += x->need_abort ? 0 : 1;
            }
            if (live <= 1) {
                counters_.add(Counter::remove_addr_last_subflow);
                continue;
            }
            s->need_abort = true;
            s->rst_reason = wire::ResetReason::unspecified;
            counters_.add(Counter::remove_addr_subflow_reset);
            queue(c);
        }
        if (!known) {
            counters_.add(Counter::remove_addr_unknown_id);  // §3.8: ignored
        }
    }
}

void Endpoint::mp_fail_input(Conn& c, Subflow& s, const wire::MpFail& f) {
    counters_.add(Counter::mp_fail_received);
    if (c.infinite) {
        return;  // the answer to ours, or a repeat
    }
    // §3.7: braid's data failed the peer's checksum. One subflow ever and contiguous data:
    // both directions fall back (MP_FAIL back, infinite mapping); else the connection resets.
    if (!c.ever_joined && c.subflows.size() == 1 && c.rx->fall_back(s.index)) {
        fall_back(c, s, f.dsn);
        return;
    }
    counters_.add(Counter::reset_mp_fail);
    c.need_abort = c.fastclose = true;
    queue(c);
}

bool Endpoint::options_stripped(Conn& c, Subflow& s, const tcp::wire::Header& h, uint32_t len) {
    // §3.7: "if a subflow receives data without a DSS ... or an ACK for data without a Data
    // ACK" before any DSS, on the first subflow with no other ever: a middlebox passes options
    // on SYNs only. The RFC's MUST: fall back (an infinite mapping on braid's next data, then
    // plain TCP), as Linux does. Later, or with joined subflows, unmapped data is counted and a
    // window's worth of it resets (the Receiver). Only segments without any MPTCP option count
    // (the caller checks: the third ACK carries MP_CAPABLE; an ADD_ADDR may push a DSS off a
    // pure ACK); a bare ACK of only braid's SYN says nothing.
    const bool acks_data = h.has(tflag::ack) && h.ack.raw() - s.iss.raw() > 1;
    if (c.dss_seen || c.ever_joined || s.join || c.subflows.size() != 1 ||
        (len == 0 && !acks_data)) {
        return false;
    }
    if (!c.rx->fall_back(s.index)) {
        return false;  // unreachable without any mapping: nothing is held out of order
    }
    fall_back(c, s, std::nullopt, Counter::fallback_no_dss);
    return true;
}

void Endpoint::fall_back(Conn& c, Subflow& s, std::optional<uint64_t> failed_dsn, Counter reason) {
    if (c.infinite) {
        return;
    }
    c.infinite = true;
    counters_.add(reason);
    if (reason == Counter::fallback_mp_fail) {
        c.mp_fail_out = failed_dsn ? *failed_dsn : c.rx->data_ack().raw();
    }
    // Our infinite mapping starts where the peer's Data ACK stands (retroactive, §3.7).
    c.infinite_dsn = c.tx->snd_una().raw();
    // From now on the subflow alone carries the bytes it was given (freed by its ACKs).
    c.tx->on_data_ack(c.tx->snd_nxt().raw(), true, cfg_.snd_buf);
    for (auto& la : c.local_addrs) {
        la.pending = false;
    }
    s.add_addr_out.reset();
    s.remove_addr_out.reset();
    s.need_ack = c.mp_fail_out.has_value();  // MP_FAIL on a pure ACK
    c.need_pump = true;
    queue(c);
}

bool Endpoint::advertise(tcp::ConnId id, const AdvertisedAddress& a, uint64_t now_us) {
    Conn* c = find(id);
    if (c == nullptr || !add_local(*c, a)) {
        return false;
    }
    poll(now_us);
    return true;
}

bool Endpoint::withdraw(tcp::ConnId id, uint8_t address_id, uint64_t now_us) {
    Conn* c = find(id);
    if (c == nullptr || !c->rx || c->infinite) {
        return false;
    }
    auto it = std::find_if(c->local_addrs.begin(), c->local_addrs.end(),
                           [address_id](const auto& la) { return la.addr.id == address_id; });
    if (it == c->local_addrs.end()) {
        return false;
    }
    c->local_addrs.erase(it);
    Subflow* carrier = signal_subflow(*c, address_id);
    if (carrier != nullptr) {
        wire::RemoveAddr& r = carrier->remove_addr_out ? *carrier->remove_addr_out
                                                       : carrier->remove_addr_out.emplace();
        if (r.count < wire::max_remove_ids) {
            r.ids[r.count++] = address_id;
        }
        carrier->need_ack = true;
    }
    // §3.4.2: both ends reset the subflows on that address (as a courtesy to middleboxes);
    // the one carrying the REMOVE_ADDR stays if it is the last.
    for (auto& s : c->subflows) {
        if (s->local_address_id == address_id && s.get() != carrier && !s->need_abort) {
            s->need_abort = true;
            s->rst_reason = wire::ResetReason::unspecified;
            counters_.add(Counter::remove_addr_subflow_reset);
        }
    }
    queue(*c);
    poll(now_us);
    return true;
}

std::vector<LocalAddressSummary> Endpoint::local_addresses(tcp::ConnId id) const {
    std::vector<LocalAddressSummary> v;
    if (const Conn* c = find(id)) {
        for (const auto& la : c->local_addrs) {
            v.push_back({la.addr, la.echoed, la.sends});
        }
    }
    return v;
}

std::vector<PeerAddress> Endpoint::peer_addresses(tcp::ConnId id) const {
    const Conn* c = find(id);
    return c == nullptr ? std::vector<PeerAddress>{} : c->peer_addrs;
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
    // subflows' on subflow ACKs (their writable events, passed on).
    Conn* c = find(id);
    if (c == nullptr) {
        eng_.want_writable(id);
        return;
    }
    c->wants_writable = true;
    for (const auto& s : c->subflows) {
        eng_.want_writable(s->id);
    }
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
    c->need_window = true;
    queue(*c);
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
    Conn* c = find(id);
    if (c == nullptr) {
        eng_.abort(id, now_us);
        return;
    }
    c->fastclose = true;
    abort_subflows(*c, now_us);  // RST with MP_FASTCLOSE on every subflow (§3.5 option R)
}

std::optional<tcp::State> Endpoint::state(tcp::ConnId id) const {
    const Conn* c = find(id);
    if (c == nullptr) {
        return eng_.state(id);
    }
    if (auto st = eng_.state(id)) {
        return st;
    }
    for (const auto& s : c->subflows) {
        if (s->state != SubflowState::joining) {
            if (auto st = eng_.state(s->id)) {
                return st;
            }
        }
    }
    return std::nullopt;
}

std::optional<tcp::ConnId> Endpoint::accept(tcp::ListenerId l) {
    while (auto id = eng_.accept(l)) {
        auto [c, sf] = find_subflow(*id);
        if (c != nullptr && sf != nullptr && sf->join) {
            continue;  // a subflow of a connection the application has already
        }
        return id;
    }
    return std::nullopt;
}

std::optional<tcp::ConnId> Endpoint::find_token(uint32_t local_token) const {
    auto id = tokens_.find(local_token);
    if (!id || find(*id) == nullptr) {
        return std::nullopt;
    }
    return id;
}

std::optional<ConnSummary> Endpoint::describe(tcp::ConnId id) const {
    const Conn* c = find(id);
    if (c == nullptr) {
        return std::nullopt;
    }
    return ConnSummary{c->id,
                       c->local.token,
                       c->remote.token,
                       c->state,
                       static_cast<uint32_t>(c->subflows.size()),
                       c->checksums,
                       c->sched.mode,
                       c->bytes_in,
                       c->bytes_out,
                       c->infinite};
}

std::vector<SubflowSummary> Endpoint::subflows(tcp::ConnId id) const {
    std::vector<SubflowSummary> v;
    const Conn* c = find(id);
    if (c == nullptr) {
        return v;
    }
    for (const auto& s : c->subflows) {
        SubflowSummary x{};
        x.id = s->id;
        x.index = s->index;
        x.tuple = s->tuple;
        x.state = s->state;
        x.join = s->join;
        x.backup = s->backup;
        x.stalled = s->stalled;
        x.remote_address_id = s->remote_address_id;
        x.access = s->access;
        x.loss_ppm = s->loss.ppm();
        if (auto info = eng_.describe(s->id)) {
            x.srtt_us = info->srtt_us;
            x.cwnd = info->cwnd;
        }
        x.bytes_in = s->bytes_in;
        x.bytes_out = s->bytes_out;
        v.push_back(x);
    }
    return v;
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

std::array<uint32_t, static_cast<size_t>(SubflowState::count)> Endpoint::subflows_by_state() const {
    std::array<uint32_t, static_cast<size_t>(SubflowState::count)> n{};
    for (const auto& [id, c] : conns_) {
        for (const auto& s : c->subflows) {
            ++n[static_cast<size_t>(s->state)];
        }
    }
    return n;
}

}  // namespace braid::mptcp
