// Connection processing, following RFC 9293 §3.10.7 "SEGMENT ARRIVES" step by step, with the
// RFC 5961 (challenge ACK), RFC 7323 (PAWS, RTTM), RFC 2018/6675 (SACK) and RFC 6298 (RTO) rules
// at the places those RFCs put them.
#include "tcpstack/connection.h"

#include <rte_mbuf.h>

#include <algorithm>

#include "tcpstack/icmp.h"
#include "tcpstack/mbuf_util.h"

namespace braid::tcp {

namespace {

constexpr uint32_t dup_thresh = 3;  // RFC 6675 DupThresh
constexpr uint8_t our_wscale = 7;   // up to 8 MiB of receive window
constexpr uint32_t ts_stale_s =
    24u * 86400u;                           // RFC 7323 §5.5: TS.Recent invalid after 24 days idle
constexpr uint32_t max_ooo_segments = 256;  // bound on out-of-order pieces per connection
constexpr size_t max_scoreboard_blocks = 64;     // bound on SACK scoreboard entries
constexpr uint64_t clock_granularity_us = 1000;  // G in RFC 6298 (1 ms TS clock)

bool ts_before(uint32_t a, uint32_t b) {
    return static_cast<int32_t>(a - b) < 0;
}

}  // namespace

Connection::Connection(Engine& e, ConnId i, const FourTuple& t, uint32_t rcv_buf, uint16_t mss,
                       uint64_t now_us)
    : eng(e),
      id(i),
      tuple(t),
      nagle(e.cfg_.nagle),
      our_mss(mss),
      snd_buf_limit(e.cfg_.default_snd_buf),
      rcv_buf_limit(rcv_buf),
      rto_us(e.cfg_.rto_initial_us),
      cc(e.cfg_.cc, 536) {
    ts_off = e.ts_offset(t);
    last_send_us = now_us;
}

Connection::~Connection() {
    for (auto& c : sndq) {
        rte_pktmbuf_free(c.head);
    }
    for (rte_mbuf* m : rcvq) {
        rte_pktmbuf_free(m);
    }
    for (auto& s : ooo) {
        rte_pktmbuf_free(s.m);
    }
    rte_pktmbuf_free(syn_data);
}

// ---------------------------------------------------------------------------------------------
// Opening

void Connection::negotiate(const wire::Options& peer, bool peer_is_syn_ack) {
    const EngineConfig& cfg = eng.cfg_;
    // RFC 9293 §3.7.1: default send MSS 536 (IPv4) / 1220 (IPv6) when the option is absent.
    peer_mss = peer.mss ? *peer.mss : (tuple.local.family == 6 ? 1220 : 536);
    if (peer_mss < 88) {
        peer_mss = 88;  // a tiny MSS only burns CPU; Linux's floor
    }
    ws_ok = cfg.window_scale && peer.window_scale.has_value();
    if (ws_ok) {
        snd_wscale = std::min<uint8_t>(*peer.window_scale, 14);  // RFC 7323 §2.3
        rcv_wscale = our_wscale;
    } else {
        snd_wscale = rcv_wscale = 0;
    }
    sack_ok = cfg.sack && offer_sack && peer.sack_permitted;
    ts_ok = cfg.timestamps && offer_ts && peer.timestamps.has_value();
    if (ts_ok) {
        ts_recent = peer.timestamps->tsval;
    }
    (void)peer_is_syn_ack;
    snd_mss = std::min<uint32_t>(peer_mss, our_mss) - (ts_ok ? 12 : 0) - option_room();
    cc = CongestionControl(cfg.cc, snd_mss);
}

void Connection::open_active(uint64_t now_us) {
    iss = Seq(eng.make_isn(tuple, now_us));
    snd_una = iss;
    snd_nxt = iss;
    snd_max = iss;
    snd_data_seq = iss + 1;
    state = State::syn_sent;
    send_syn(now_us);
}

void Connection::open_passive(const Listener& l, const wire::Header& h, const wire::Options& o,
                              rte_mbuf* payload, uint32_t len, uint64_t now_us) {
    listener = l.id;
    irs = h.seq;
    rcv_nxt = h.seq + 1;
    rcv_adv = rcv_nxt;
    if (l.opts.hook != nullptr && l.opts.hook->on_syn(id, tuple, h, o, now_us)) {
        hook = l.opts.hook;
    }
    negotiate(o, false);
    snd_wnd = h.window;  // never scaled in a SYN (RFC 7323 §2.2)
    max_snd_wnd = snd_wnd;
    snd_wl1 = h.seq;
    iss = Seq(eng.make_isn(tuple, now_us));
    snd_una = snd_nxt = snd_max = iss;
    snd_data_seq = iss + 1;
    state = State::syn_received;
    if (l.opts.defer_syn_data && payload != nullptr && len > 0) {
        // RFC 8803 0-RTT: hold the SYN and its data; the application answers (answer_syn) once
        // it knows what to say. The data stays outside the stream (RFC 8684 App. B.2 for a
        // hooked connection); the SYN/ACK will acknowledge it.
        uint32_t room = std::max<uint32_t>(rcv_buf_limit, 1);
        if (len > room) {
            payload = mbuf_truncate(payload, room);
            len = room;
        }
        syn_data = payload;
        syn_data_len = len;
        syn_options_len = static_cast<uint32_t>(wire::options_len(o));
        rcv_nxt += len;
        rcv_adv = rcv_nxt;
        if (hook != nullptr) {
            hook->on_syn_data(id, len);
        }
        syn_deferred = true;
        rto_at = now_us + eng.cfg_.syn_defer_timeout_us;
        eng.count(Counter::syn_data_deferred);
        eng.count(Counter::syn_data_accepted, len);
        eng.event({EventKind::syn_data, id, l.id, CloseReason::normal});
        return;
    }
    // Data in the SYN (RFC 8803 / RFC 7413 without cookie): kept, delivered after ESTABLISHED;
    // the SYN/ACK acknowledges it. Otherwise it is dropped and the peer sends it again.
    // An attached connection's stream starts after the SYN (RFC 8684 App. B.2: SYN data is
    // outside the data sequence space); its SYN data is not kept.
    if (payload != nullptr && len > 0 && l.opts.accept_syn_data && hook == nullptr) {
        uint32_t room = rcv_buf_limit;
        if (len > room) {
            payload = mbuf_truncate(payload, room);
            len = room;
        }
        rcvq.push_back(payload);
        rcv_buffered += len;
        rcv_nxt += len;
        rcv_adv = rcv_nxt;
        eng.count(Counter::syn_data_accepted, len);
        syn_data_pending_established = true;
    } else if (payload != nullptr) {
        rte_pktmbuf_free(payload);
    }
    send_syn(now_us);
}

void Connection::open_from_cookie(const Listener& l, const wire::Header& h,
                                  const wire::Options& ack_opts, const SynCookieOptions& co,
                                  uint64_t now_us) {
    listener = l.id;
    irs = h.seq - 1;
    rcv_nxt = h.seq;
    rcv_adv = rcv_nxt;
    iss = h.ack - 1;
    snd_una = snd_nxt = snd_max = h.ack;
    snd_data_seq = h.ack;
    wire::Options o;
    o.mss = co.mss;
    if (co.wscale != 15) {
        o.window_scale = co.wscale;
    }
    o.sack_permitted = co.sack_ok;
    negotiate(o, false);
    ts_ok = co.ts_ok && eng.cfg_.timestamps && ack_opts.timestamps.has_value();
    if (ts_ok) {
        // TS.Recent from the third segment: the SYN's TSval was not kept.
        ts_recent = ack_opts.timestamps->tsval;
        ts_recent_us = now_us;
        snd_mss = std::min<uint32_t>(peer_mss, our_mss) - 12 - option_room();
        cc = CongestionControl(eng.cfg_.cc, snd_mss);
    }
    snd_wnd = uint32_t{h.window} << snd_wscale;
    max_snd_wnd = snd_wnd;
    snd_wl1 = h.seq;
    snd_wl2 = h.ack;
    // The cookie SYN/ACK advertised an unscaled window up to 65535 (see Engine).
    rcv_adv = rcv_nxt + std::min<uint32_t>(rcv_buf_limit, 65535);
    state = State::established;
    established(now_us);
}

void Connection::established(uint64_t now_us) {
    // A close() in SYN-RECEIVED was queued until now (§3.10.4).
    state = fin_queued ? State::fin_wait_1 : State::established;
    if (eng.cfg_.keepalive) {
        keepalive_at = now_us + eng.cfg_.keepalive_idle_us;
    }
    // RFC 6298 §5.7: a SYN that timed out leaves RTO at 3 s for the data phase.
    if (syn_retransmitted && !have_rtt) {
        rto_us = std::max<uint64_t>(rto_us, 3'000'000);
    }
    if (listener != 0) {
        for (auto& l : eng.listeners_) {
            if (l->id == listener) {
                l->accept_queue.push_back(id);
            }
        }
    }
    eng.event({EventKind::established, id, listener, CloseReason::normal});
    eng.event({EventKind::writable, id, 0, CloseReason::normal});
    if (syn_data_pending_established && rcv_buffered > 0) {
        syn_data_pending_established = false;
        eng.event({EventKind::readable, id, 0, CloseReason::normal});
    }
}

void Connection::leave_syn_received() {
    if (state != State::syn_received || listener == 0) {
        return;
    }
    for (auto& l : eng.listeners_) {
        if (l->id == listener && l->half_open > 0) {
            --l->half_open;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Input

bool Connection::timewait_acceptable_syn(const wire::Header& h, const wire::Options& o) const {
    if (ts_ok && o.timestamps) {
        return ts_before(ts_recent, o.timestamps->tsval);
    }
    return h.seq > rcv_nxt;
}

void Connection::input(const wire::Header& h, const wire::Options& o, rte_mbuf* payload,
                       uint32_t len, uint64_t now_us) {
    if (state == State::syn_sent) {
        input_syn_sent(h, o, payload, len, now_us);
        return;
    }
    if (eng.cfg_.keepalive && state >= State::established) {
        keepalive_at = now_us + eng.cfg_.keepalive_idle_us;
        keepalive_sent = 0;
    }
    const bool rst = h.has(wire::flag::rst);
    // SYN-RECEIVED: a retransmitted SYN gets the SYN/ACK again.
    if (state == State::syn_received && h.has(wire::flag::syn) && !h.has(wire::flag::ack) &&
        h.seq == irs) {
        if (payload != nullptr) {
            rte_pktmbuf_free(payload);
        }
        if (syn_deferred) {
            // Still waiting for the application (RFC 8803: for the N6 SYN/ACK): the same SYN,
            // not a second connection, and nothing to answer yet.
            eng.count(Counter::syn_retransmits_absorbed);
            return;
        }
        send_syn(now_us);
        return;
    }
    // RFC 7323 §3.2: once negotiated, non-RST segments without timestamps are dropped.
    if (ts_ok && !rst && !o.timestamps) {
        eng.count(Counter::no_timestamp_dropped);
        rte_pktmbuf_free(payload);
        return;
    }
    // RFC 7323 §5.3 R1: PAWS before the sequence check.
    if (ts_ok && !rst && o.timestamps && ts_before(o.timestamps->tsval, ts_recent) &&
        now_us - ts_recent_us < uint64_t{ts_stale_s} * 1'000'000) {
        eng.count(Counter::paws_rejected);
        rte_pktmbuf_free(payload);
        send_ack(now_us);
        return;
    }

    // First: check sequence number (§3.10.7.4).
    uint32_t seg_len = len + (h.has(wire::flag::syn) ? 1 : 0) + (h.has(wire::flag::fin) ? 1 : 0);
    bool zero_window_ack = false;
    if (!acceptable(h.seq, seg_len) && !rst && !h.has(wire::flag::syn) && h.seq == rcv_nxt &&
        rcv_adv <= rcv_nxt) {
        // §3.10.7.4: with a zero receive window, valid ACKs are still processed; the text
        // (and FIN) is dropped and the ACK we send repeats the zero window.
        rte_pktmbuf_free(payload);
        payload = nullptr;
        len = 0;
        seg_len = 0;
        zero_window_ack = true;
        eng.count(Counter::out_of_window);
    }
    if (!acceptable(h.seq, seg_len)) {
        rte_pktmbuf_free(payload);
        if (rst) {
            eng.count(Counter::rst_ignored);
            return;
        }
        eng.count(seg_len > 0 && h.seq + seg_len <= rcv_nxt ? Counter::dup_segments
                                                            : Counter::out_of_window);
        send_ack(now_us);
        return;
    }
    // RFC 7323 §4.3: TS.Recent from segments covering Last.ACK.sent.
    if (ts_ok && o.timestamps && h.seq <= last_ack_sent &&
        !ts_before(o.timestamps->tsval, ts_recent)) {
        ts_recent = o.timestamps->tsval;
        ts_recent_us = now_us;
    }

    // Second: RST (RFC 5961 §3.2: only an exact match resets, in-window gets a challenge ACK).
    if (rst) {
        rte_pktmbuf_free(payload);
        if (h.seq != rcv_nxt) {
            send_challenge_ack(now_us);
            return;
        }
        if (state == State::syn_received) {
            eng.count(Counter::rst_received_syn_received);
        } else {
            eng.count(Counter::rst_received_established);
        }
        if (hook != nullptr) {
            hook->on_rst_input(id, o);
        }
        terminate(CloseReason::reset_received, true);
        return;
    }

    // Fourth: SYN in a synchronized state → challenge ACK (RFC 5961 §4.2).
    if (h.has(wire::flag::syn)) {
        rte_pktmbuf_free(payload);
        send_challenge_ack(now_us);
        return;
    }

    // Fifth: ACK.
    if (!h.has(wire::flag::ack)) {
        rte_pktmbuf_free(payload);
        return;
    }
    if (state == State::syn_received) {
        if (snd_una < h.ack && h.ack <= snd_max) {
            leave_syn_received();
            snd_wnd = uint32_t{h.window} << snd_wscale;
            max_snd_wnd = std::max(max_snd_wnd, snd_wnd);
            snd_wl1 = h.seq;
            snd_wl2 = h.ack;
            established(now_us);
            if (dead) {
                rte_pktmbuf_free(payload);
                return;
            }
        } else {
            rte_pktmbuf_free(payload);
            eng.count(Counter::rst_sent_bad_ack);
            send_rst(h.ack);
            return;
        }
    }
    if (!process_ack(h, o, len, now_us)) {
        rte_pktmbuf_free(payload);
        return;
    }
    if (dead) {
        rte_pktmbuf_free(payload);
        return;
    }
    if (hook != nullptr && !hook->on_input(id, h, o, len, now_us)) {
        hook = nullptr;  // detached: plain TCP from here on (the MSS keeps its reserve)
    }

    // Seventh: segment text.
    bool fin = h.has(wire::flag::fin) && !zero_window_ack;
    Seq seq = h.seq;
    if (len > 0) {
        switch (state) {
            case State::established:
            case State::fin_wait_1:
            case State::fin_wait_2:
                process_data(seq, payload, len, now_us);
                payload = nullptr;
                break;
            default:
                break;  // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the peer already sent FIN
        }
    }
    if (payload != nullptr) {
        rte_pktmbuf_free(payload);
    }
    // Eighth: FIN (in order only; an early FIN waits with the out-of-order data).
    if (fin) {
        Seq fin_at = seq + len;
        if (fin_at == rcv_nxt && !fin_received) {
            process_fin(now_us);
        } else if (fin_at > rcv_nxt && !fin_received) {
            ooo_fin = fin_at;
        } else if (state == State::time_wait) {
            send_ack(now_us);  // retransmitted FIN: ACK it, restart 2*MSL (§3.10.7.4)
            timewait_at = now_us + 2 * eng.cfg_.msl_us;
        }
    }
    if (!dead && state != State::time_wait && state != State::closed) {
        output(now_us, zero_window_ack);
    }
}

void Connection::input_syn_sent(const wire::Header& h, const wire::Options& o, rte_mbuf* payload,
                                uint32_t len, uint64_t now_us) {
    // §3.10.7.3: first check the ACK, then RST, then SYN.
    if (h.has(wire::flag::ack) && (h.ack <= iss || h.ack > snd_max)) {
        rte_pktmbuf_free(payload);
        if (!h.has(wire::flag::rst)) {
            eng.count(Counter::rst_sent_bad_ack);
            send_rst(h.ack);
        }
        return;
    }
    if (h.has(wire::flag::rst)) {
        rte_pktmbuf_free(payload);
        if (h.has(wire::flag::ack)) {  // acceptable ACK checked above (RFC 5961 §3: exact)
            eng.count(Counter::rst_received_syn_sent);
            terminate(CloseReason::refused, true);
        } else {
            eng.count(Counter::rst_ignored);
        }
        return;
    }
    if (!h.has(wire::flag::syn)) {
        rte_pktmbuf_free(payload);
        return;
    }
    irs = h.seq;
    rcv_nxt = h.seq + 1;
    rcv_adv = rcv_nxt;
    negotiate(o, true);
    if (active && active->keep_syn_ack) {
        active->have_syn_ack = true;
        active->syn_ack = wire::Options{};
        active->syn_ack.mss = o.mss;
        active->syn_ack.window_scale = o.window_scale;
        active->syn_ack.sack_permitted = o.sack_permitted;
        active->syn_ack.timestamps = o.timestamps;
        active->syn_ack.fast_open = o.fast_open;
        const size_t n = std::min(o.fast_open_cookie.size(), active->syn_ack_cookie.size());
        std::copy_n(o.fast_open_cookie.begin(), n, active->syn_ack_cookie.begin());
        active->syn_ack.fast_open_cookie = {active->syn_ack_cookie.data(), n};
    }
    snd_wl1 = h.seq;
    if (ts_ok) {
        ts_recent = o.timestamps->tsval;
        ts_recent_us = now_us;
    }
    if (h.has(wire::flag::ack)) {
        snd_una = h.ack;
        snd_nxt = seq_max(snd_nxt, snd_una);
        snd_wnd = h.window;  // unscaled in a SYN
        max_snd_wnd = snd_wnd;
        snd_wl2 = h.ack;
        rto_at = 0;
        backoff = 0;
        if (rtt_timing && !syn_retransmitted) {
            rtt_timing = false;
            rtt_sample(static_cast<uint32_t>(now_us - rtt_start_us));
        }
        if (payload != nullptr && len > 0) {
            process_data(h.seq + 1, payload, len, now_us);
            payload = nullptr;
        }
        if (payload != nullptr) {
            rte_pktmbuf_free(payload);
        }
        established(now_us);
        if (dead) {
            return;
        }
        send_ack(now_us);
        output(now_us, false);
        return;
    }
    // Simultaneous open (§3.5 figure 8): SYN-RECEIVED, send SYN,ACK with our ISS.
    if (payload != nullptr) {
        rte_pktmbuf_free(payload);
    }
    snd_wnd = h.window;
    max_snd_wnd = snd_wnd;
    state = State::syn_received;
    snd_nxt = iss;
    send_syn(now_us);
}

// §3.10.7.4 acceptability table, against the window we advertised.
bool Connection::acceptable(Seq seq, uint32_t seg_len) const {
    uint32_t wnd = seq_span(rcv_nxt, rcv_adv);
    if (seg_len == 0) {
        return wnd == 0 ? seq == rcv_nxt : seq_in(seq, rcv_nxt, rcv_adv);
    }
    if (wnd == 0) {
        // A zero window still takes the segment that carries only an in-sequence FIN or ACK
        // of ours; data is refused. Let a probe at RCV.NXT through so that it gets an ACK.
        return false;
    }
    Seq last = seq + (seg_len - 1);
    return seq_in(seq, rcv_nxt, rcv_adv) || seq_in(last, rcv_nxt, rcv_adv);
}

bool Connection::process_ack(const wire::Header& h, const wire::Options& o, uint32_t len,
                             uint64_t now_us) {
    // RFC 5961 §5.2: SND.UNA − MAX.SND.WND ≤ SEG.ACK ≤ SND.NXT, else ACK and drop.
    if (h.ack > snd_max || h.ack < snd_una - max_snd_wnd) {
        eng.count(Counter::bad_ack);
        send_ack(now_us);
        return false;
    }
    if (sack_ok && o.sack_count > 0) {
        update_scoreboard(o);
    }
    uint32_t flight = seq_span(snd_una, snd_max);
    if (h.ack > snd_una) {
        uint32_t acked = seq_span(snd_una, h.ack);
        bool fin_acked = fin_queued && h.ack > fin_seq;
        snd_una = h.ack;
        if (snd_nxt < snd_una) {
            snd_nxt = snd_una;
        }
        release_acked();
        // RTT (RFC 7323 §4: from TSecr; else one timed segment, Karn's rule).
        uint32_t sample = 0;
        if (ts_ok && o.timestamps && o.timestamps->tsecr != 0) {
            uint32_t ms = tsval(now_us) - o.timestamps->tsecr;
            if (ms < 60'000) {
                sample = std::max<uint32_t>(ms * 1000, 1);
            }
        } else if (rtt_timing && h.ack > rtt_seq) {
            sample = static_cast<uint32_t>(now_us - rtt_start_us);
            rtt_timing = false;
        }
        if (sample != 0) {
            rtt_sample(sample);
        }
        backoff = 0;
        dupacks = 0;
        if (in_recovery) {
            if (h.ack >= recover) {
                in_recovery = false;
                newreno_inflation = 0;
                cc.on_recovery_exit(now_us);
            } else if (!sack_ok) {
                // RFC 6582 §3.2 step 5: partial ACK, retransmit the next hole, deflate.
                newreno_inflation = newreno_inflation > acked ? newreno_inflation - acked : 0;
                newreno_inflation += snd_mss;
                uint32_t l = hook_cap(snd_una, std::min(snd_mss, seq_span(snd_una, snd_end())));
                if (l > 0) {
                    emit_data(snd_una, l, false, now_us);
                    eng.count(Counter::retransmissions);
                }
            }
        } else {
            uint32_t data_acked = acked - (fin_acked ? 1 : 0);
            cc.on_ack({data_acked, flight, now_us, sample, snd_buffered == 0});
        }
        // RFC 6298 §5.2/5.3: stop when all is acknowledged, else restart.
        rto_at = snd_una == snd_max ? 0 : now_us + rto_us;
        if (snd_blocked && send_space() > 0) {
            snd_blocked = false;
            eng.event({EventKind::writable, id, 0, CloseReason::normal});
        }
        if (fin_acked) {
            switch (state) {
                case State::fin_wait_1:
                    state = State::fin_wait_2;
                    break;
                case State::closing:
                    enter_time_wait(now_us);
                    break;
                case State::last_ack:
                    terminate(CloseReason::normal, false);
                    return true;
                default:
                    break;
            }
        }
    } else if (h.ack == snd_una && len == 0 && !h.has(wire::flag::fin) && snd_max > snd_una &&
               (uint32_t{h.window} << snd_wscale) == snd_wnd) {
        // RFC 5681 §2 duplicate ACK.
        ++dupacks;
        if (in_recovery) {
            if (!sack_ok) {
                newreno_inflation += snd_mss;
            }
        } else if (dupacks >= dup_thresh ||
                   (sack_ok && !scoreboard.empty() && lost_end() > snd_una)) {
            enter_recovery(now_us);
        }
    }
    // Window update (§3.10.7.4, unsigned window).
    if (snd_wl1 < h.seq || (snd_wl1 == h.seq && snd_wl2 <= h.ack)) {
        snd_wnd = uint32_t{h.window} << snd_wscale;
        snd_wl1 = h.seq;
        snd_wl2 = h.ack;
        max_snd_wnd = std::max(max_snd_wnd, snd_wnd);
        if (snd_wnd > 0) {
            persist_at = 0;
            persist_backoff_us = 0;
        }
    }
    return true;
}

void Connection::enter_recovery(uint64_t now_us) {
    in_recovery = true;
    recover = snd_max;
    high_rxt = snd_una;
    uint32_t flight = seq_span(snd_una, snd_max);
    cc.on_congestion_event(flight, now_us);
    eng.count(Counter::fast_retransmits);
    rtt_timing = false;  // Karn
    if (sack_ok) {
        eng.count(Counter::sack_recoveries);
        // The first retransmission goes out regardless of pipe (RFC 6675 §5 step 4.2).
        Seq s;
        uint32_t l;
        bool is_new;
        if (sack_next_seg(s, l, is_new) && !is_new) {
            emit_data(s, l, false, now_us);
            high_rxt = s + l;
            eng.count(Counter::retransmissions);
        }
    } else {
        eng.count(Counter::newreno_recoveries);
        newreno_inflation = dup_thresh * snd_mss;
        uint32_t l = hook_cap(snd_una, std::min(snd_mss, seq_span(snd_una, snd_end())));
        if (l > 0) {
            emit_data(snd_una, l, false, now_us);
            eng.count(Counter::retransmissions);
        }
    }
    rto_at = now_us + rto_us;
}

void Connection::update_scoreboard(const wire::Options& o) {
    for (const auto& b : o.sack_blocks()) {
        // Only blocks inside what we sent and above SND.UNA count (D-SACKs are ignored).
        if (!(snd_una < b.right && b.left < b.right && b.right <= snd_max &&
              seq_span(b.left, b.right) <= seq_span(snd_una, snd_max))) {
            continue;
        }
        if (scoreboard.size() >= max_scoreboard_blocks) {
            break;  // a peer slicing its SACKs finely gets no more state
        }
        wire::SackBlock nb{seq_max(b.left, snd_una), b.right};
        std::vector<wire::SackBlock> merged;
        merged.reserve(scoreboard.size() + 1);
        bool placed = false;
        for (const auto& x : scoreboard) {
            if (x.right < nb.left) {
                merged.push_back(x);
            } else if (nb.right < x.left) {
                if (!placed) {
                    merged.push_back(nb);
                    placed = true;
                }
                merged.push_back(x);
            } else {
                nb.left = seq_min(nb.left, x.left);
                nb.right = seq_max(nb.right, x.right);
            }
        }
        if (!placed) {
            merged.push_back(nb);
        }
        scoreboard.swap(merged);
    }
}

void Connection::rtt_sample(uint32_t r) {
    // RFC 6298 §2.
    if (!have_rtt) {
        srtt_us = r;
        rttvar_us = r / 2;
        have_rtt = true;
    } else {
        uint32_t diff = srtt_us > r ? srtt_us - r : r - srtt_us;
        rttvar_us = (3 * uint64_t{rttvar_us} + diff) / 4;
        srtt_us = (7 * uint64_t{srtt_us} + r) / 8;
    }
    uint64_t rto = srtt_us + std::max<uint64_t>(clock_granularity_us, 4 * uint64_t{rttvar_us});
    rto_us = std::clamp(rto, eng.cfg_.rto_min_us, eng.cfg_.rto_max_us);
}

void Connection::process_data(Seq seq, rte_mbuf* payload, uint32_t len, uint64_t now_us) {
    // Trim to [RCV.NXT, right edge advertised).
    if (seq < rcv_nxt) {
        uint32_t cut = seq_span(seq, rcv_nxt);
        payload = mbuf_trim_front(payload, cut);
        len -= cut;
        seq = rcv_nxt;
    }
    uint32_t room = seq_span(seq, rcv_adv);
    bool trimmed = false;
    if (len > room) {
        payload = mbuf_truncate(payload, room);
        len = room;
        trimmed = true;  // the peer overran the window: tell it at once where the edge is
    }
    if (len == 0 || payload == nullptr) {
        rte_pktmbuf_free(payload);
        return;
    }
    if (read_closed) {
        // The application closed: data is acknowledged and discarded.
        rte_pktmbuf_free(payload);
        rcv_nxt += len;
        send_ack(now_us);
        return;
    }
    if (seq != rcv_nxt) {
        // Out of order: keep it, ACK at once with SACK (RFC 5681 §4.2, RFC 2018 §4).
        eng.count(Counter::ooo_segments);
        for (const auto& s : ooo) {
            if (s.seq <= seq && seq + len <= s.seq + s.len) {
                rte_pktmbuf_free(payload);
                send_ack(now_us);
                return;
            }
        }
        if (ooo.size() >= max_ooo_segments) {
            rte_pktmbuf_free(payload);
            send_ack(now_us);
            return;
        }
        auto it =
            std::find_if(ooo.begin(), ooo.end(), [&](const OooSegment& s) { return seq < s.seq; });
        ooo.insert(it, {seq, len, payload});
        // The block holding this segment goes first.
        Seq l = seq, r = seq + len;
        for (const auto& s : ooo) {
            if (s.seq <= r && s.seq + s.len >= l && s.seq + s.len > r) {
                r = s.seq + s.len;
            }
        }
        for (auto it2 = ooo.rbegin(); it2 != ooo.rend(); ++it2) {
            if (it2->seq < l && it2->seq + it2->len >= l) {
                l = it2->seq;
            }
        }
        std::vector<wire::SackBlock> next{{l, r}};
        for (const auto& b : recent_sacks) {
            if (b.right <= rcv_nxt || (l <= b.left && b.right <= r) || next.size() == 4) {
                continue;
            }
            bool dup = false;
            for (const auto& x : next) {
                dup = dup || (x.left <= b.left && b.right <= x.right);
            }
            if (!dup) {
                next.push_back(b);
            }
        }
        recent_sacks.swap(next);
        send_ack(now_us);
        return;
    }
    bool filled_gap = !ooo.empty();
    rcv_nxt += len;
    eng.count(Counter::bytes_in, len);
    deliver(seq, payload, len, now_us);
    // Pull what the hole was holding back.
    while (!ooo.empty() && ooo.front().seq <= rcv_nxt) {
        OooSegment s = ooo.front();
        ooo.erase(ooo.begin());
        if (s.seq + s.len <= rcv_nxt) {
            rte_pktmbuf_free(s.m);
            continue;
        }
        uint32_t cut = seq_span(s.seq, rcv_nxt);
        rte_mbuf* m = mbuf_trim_front(s.m, cut);
        uint32_t l = s.len - cut;
        Seq at = rcv_nxt;
        rcv_nxt += l;
        eng.count(Counter::bytes_in, l);
        deliver(at, m, l, now_us);
    }
    std::erase_if(recent_sacks, [&](const wire::SackBlock& b) { return b.right <= rcv_nxt; });
    for (auto& b : recent_sacks) {
        b.left = seq_max(b.left, rcv_nxt);
    }
    if (ooo_fin && *ooo_fin == rcv_nxt) {
        ooo_fin.reset();
        process_fin(now_us);
    }
    eng.event({EventKind::readable, id, 0, CloseReason::normal});
    // Delayed ACK (RFC 9293 §3.8.6.3, RFC 5681 §4.2): every second segment (of any size, so at
    // least every 2 full-sized ones) is ACKed at once, a lone one after delack_us (40 ms); a
    // segment that fills a hole or overran the window is ACKed at once.
    ++unacked_segments;
    if (filled_gap || unacked_segments >= 2 || trimmed) {
        send_ack(now_us);
        return;
    }
    if (delack_at == 0) {
        delack_at = now_us + eng.cfg_.delack_us;
    }
}

void Connection::deliver(Seq seq, rte_mbuf* m, uint32_t len, uint64_t now_us) {
    if (hook != nullptr) {
        hook->on_data(id, seq, m, len, now_us);
        return;
    }
    rcvq.push_back(m);
    rcv_buffered += len;
}

void Connection::process_fin(uint64_t now_us) {
    fin_received = true;
    rcv_nxt += 1;
    switch (state) {
        case State::syn_received:
        case State::established:
            state = State::close_wait;
            break;
        case State::fin_wait_1:
            if (fin_queued && snd_una > fin_seq) {
                enter_time_wait(now_us);
            } else {
                state = State::closing;
            }
            break;
        case State::fin_wait_2:
            enter_time_wait(now_us);
            break;
        default:
            break;
    }
    send_ack(now_us);
    eng.event({EventKind::readable, id, 0, CloseReason::normal});
}

// ---------------------------------------------------------------------------------------------
// Output

uint32_t Connection::tsval(uint64_t now_us) const {
    return static_cast<uint32_t>(now_us / 1000) + ts_off;
}

wire::Options Connection::syn_options(uint64_t now_us) const {
    const EngineConfig& cfg = eng.cfg_;
    wire::Options o;
    o.mss = our_mss;
    bool is_syn_ack = state != State::syn_sent;
    if (cfg.window_scale && (!is_syn_ack || ws_ok)) {
        o.window_scale = our_wscale;
    }
    if (cfg.sack && (is_syn_ack ? sack_ok : offer_sack)) {
        o.sack_permitted = true;
    }
    if (cfg.timestamps && (is_syn_ack ? ts_ok : offer_ts)) {
        o.timestamps = wire::Timestamps{tsval(now_us), is_syn_ack ? ts_recent : 0};
    }
    if (!is_syn_ack && active && active->tfo) {
        o.fast_open = true;
        o.fast_open_cookie = {active->tfo_cookie.data(), active->tfo_cookie_len};
    }
    return o;
}

uint16_t Connection::window_field(bool syn) {
    uint32_t used = rcv_used();
    uint32_t free = rcv_buf_limit > used ? rcv_buf_limit - used : 0;
    if (syn) {
        uint32_t w = std::min<uint32_t>(free, 65535);
        rcv_adv = seq_max(rcv_adv, rcv_nxt + w);
        return static_cast<uint16_t>(w);
    }
    Seq want = rcv_nxt + free;
    // Receiver SWS avoidance (§3.8.6.2.2): move the right edge only by a worthwhile amount.
    uint32_t step = std::min<uint32_t>(rcv_buf_limit / 2, our_mss);
    if (want > rcv_adv && seq_span(rcv_adv, want) >= step) {
        uint32_t w = std::min<uint32_t>(seq_span(rcv_nxt, want), 65535u << rcv_wscale);
        w &= ~((1u << rcv_wscale) - 1);  // what the scaled field can express
        rcv_adv = seq_max(rcv_adv, rcv_nxt + w);
    }
    // Never shrink an advertised edge (§3.8.6.2.1): what we announce is RCV.ADV − RCV.NXT.
    // Rounded up to the scale unit, and the edge moves with it so that what the peer is told
    // it may send is always accepted (at most 2^wscale − 1 bytes above the buffer limit).
    uint32_t wnd = seq_span(rcv_nxt, rcv_adv);
    uint32_t field = std::min<uint32_t>((wnd + (1u << rcv_wscale) - 1) >> rcv_wscale, 65535);
    rcv_adv = seq_max(rcv_adv, rcv_nxt + (field << rcv_wscale));
    return static_cast<uint16_t>(field);
}

void Connection::fill_sack(wire::Options& o) const {
    if (!sack_ok) {
        return;
    }
    for (const auto& b : recent_sacks) {
        if (o.sack_count == (ts_ok ? 3 : 4)) {
            break;
        }
        if (b.right > rcv_nxt) {
            o.sack[o.sack_count++] = b;
        }
    }
}

void Connection::emit(uint8_t flags, Seq seq, rte_mbuf* payload, uint32_t len, uint64_t now_us) {
    OutSegment s;
    s.tuple = tuple;
    s.header.src_port = tuple.local_port;
    s.header.dst_port = tuple.remote_port;
    s.header.seq = seq;
    s.header.flags = flags;
    bool syn = (flags & wire::flag::syn) != 0;
    if (flags & wire::flag::ack) {
        s.header.ack = rcv_nxt;
        last_ack_sent = rcv_nxt;
        delack_at = 0;
        unacked_segments = 0;
    }
    if (syn) {
        s.options = syn_options(now_us);
    } else {
        if (ts_ok) {
            s.options.timestamps = wire::Timestamps{tsval(now_us), ts_recent};
        }
        fill_sack(s.options);
    }
    s.header.window = (flags & wire::flag::rst) ? 0 : window_field(syn);
    if (hook != nullptr && (flags & wire::flag::rst) == 0) {
        hook->on_output(id, s.header, s.options, payload, len, now_us);
    }
    s.payload = payload;
    s.payload_len = len;
    last_send_us = now_us;
    eng.emit(std::move(s));
}

void Connection::send_syn(uint64_t now_us) {
    uint8_t flags = wire::flag::syn | (state == State::syn_received ? wire::flag::ack : 0);
    emit(flags, iss, nullptr, 0, now_us);
    if (snd_max == iss) {
        snd_max = iss + 1;
        snd_nxt = iss + 1;
        if (!rtt_timing) {
            rtt_timing = true;
            rtt_seq = iss;
            rtt_start_us = now_us;
        }
    }
    if (rto_at == 0) {
        arm_rto(now_us);
    }
}

void Connection::send_ack(uint64_t now_us) {
    if (state == State::syn_sent || state == State::closed) {
        return;
    }
    emit(wire::flag::ack, snd_nxt, nullptr, 0, now_us);
}

void Connection::send_rst(Seq seq) {
    OutSegment s;
    s.tuple = tuple;
    s.header.src_port = tuple.local_port;
    s.header.dst_port = tuple.remote_port;
    s.header.seq = seq;
    s.header.flags = wire::flag::rst;
    if (hook != nullptr) {
        hook->on_rst_output(id, s.options);
    }
    eng.emit(std::move(s));
}

void Connection::send_challenge_ack(uint64_t now_us) {
    if (eng.challenge_ack_allowed(now_us)) {
        eng.count(Counter::challenge_acks);
        send_ack(now_us);
    } else {
        eng.count(Counter::challenge_acks_limited);
    }
}

rte_mbuf* Connection::clone_range(Seq seq, uint32_t len) {
    // Binary search the chunk holding `seq` (chunks are contiguous from snd_data_seq).
    auto it = std::upper_bound(sndq.begin(), sndq.end(), seq, [this](Seq s, const SendChunk& c) {
        return seq_span(snd_data_seq, s) < seq_span(snd_data_seq, c.seq);
    });
    if (it == sndq.begin()) {
        return nullptr;
    }
    --it;
    rte_mbuf* head = nullptr;
    rte_mbuf* tail = nullptr;
    uint32_t off = seq_span(it->seq, seq);
    // Find the segment of the chunk that holds `off`, from where the last transmission from
    // this chunk started when that is not past it: in-order sending walks each chunk once
    // instead of from its head for every segment.
    rte_mbuf* src = it->head;
    uint32_t base = 0;
    if (clone_hint_m != nullptr && clone_hint_seq == it->seq && clone_hint_base <= off) {
        src = clone_hint_m;
        base = clone_hint_base;
    }
    while (src != nullptr && off - base >= src->data_len) {
        base += src->data_len;
        src = src->next;
    }
    if (src == nullptr) {
        return nullptr;
    }
    clone_hint_seq = it->seq;
    clone_hint_m = src;
    clone_hint_base = base;
    off -= base;
    while (len > 0 && it != sndq.end()) {
        rte_mbuf* piece = mbuf_clone_range(eng.cfg_.clone_pool, src, off, len, &tail, head);
        if (piece == nullptr) {
            rte_pktmbuf_free(head);
            return nullptr;
        }
        head = piece;
        uint32_t took = std::min(len, it->len - base - off);
        len -= took;
        off = 0;
        base = 0;
        ++it;
        if (it != sndq.end()) {
            src = it->head;
        }
    }
    return head;
}

bool Connection::emit_data(Seq seq, uint32_t len, bool fin, uint64_t now_us) {
    rte_mbuf* m = nullptr;
    if (len > 0) {
        m = clone_range(seq, len);
        if (m == nullptr) {
            eng.count(Counter::refused_no_mbuf);
            return false;
        }
    }
    uint8_t flags = wire::flag::ack;
    if (fin) {
        flags |= wire::flag::fin;
    }
    if (len > 0 && seq + len == snd_end()) {
        flags |= wire::flag::psh;
    }
    emit(flags, seq, m, len, now_us);
    ++data_segments;
    eng.count(Counter::bytes_out, len);
    if (rto_at == 0) {
        arm_rto(now_us);
    }
    return true;
}

void Connection::release_acked() {
    while (!sndq.empty()) {
        SendChunk& c = sndq.front();
        if (c.seq + c.len > snd_una) {
            break;
        }
        snd_buffered -= c.len;
        snd_data_seq = c.seq + c.len;
        if (clone_hint_m != nullptr && clone_hint_seq == c.seq) {
            clone_hint_m = nullptr;  // its chunk goes
        }
        rte_pktmbuf_free(c.head);
        sndq.pop_front();
    }
    // Partially acknowledged chunks stay whole (clones reference them); accounting follows
    // the chunk boundaries.
    std::erase_if(scoreboard, [&](const wire::SackBlock& b) { return b.right <= snd_una; });
    if (!scoreboard.empty() && scoreboard.front().left < snd_una) {
        scoreboard.front().left = snd_una;
    }
}

bool Connection::sacked(Seq s, Seq* end) const {
    for (const auto& b : scoreboard) {
        if (seq_in(s, b.left, b.right)) {
            *end = b.right;
            return true;
        }
    }
    return false;
}

uint32_t Connection::sacked_bytes() const {
    uint32_t n = 0;
    for (const auto& b : scoreboard) {
        n += seq_span(b.left, b.right);
    }
    return n;
}

// RFC 6675 IsLost(): a byte is lost when more than (DupThresh − 1)·SMSS bytes above it were
// SACKed. Lost bytes are those below the returned edge.
Seq Connection::lost_end() const {
    uint32_t above = 0;
    for (auto it = scoreboard.rbegin(); it != scoreboard.rend(); ++it) {
        above += seq_span(it->left, it->right);
        if (above > (dup_thresh - 1) * snd_mss) {
            return it->left;
        }
    }
    return snd_una;
}

uint32_t Connection::pipe() const {
    // RFC 6675 SetPipe(): unSACKed bytes not deemed lost, plus lost bytes retransmitted.
    Seq lost = lost_end();
    uint32_t p = 0;
    Seq s = snd_una;
    for (const auto& b : scoreboard) {
        // hole [s, b.left)
        Seq hl = s, hr = b.left;
        if (hl < hr) {
            Seq lost_to = seq_min(hr, seq_max(hl, lost));
            p += seq_span(lost_to, hr);  // not lost part
            Seq rtx_to = seq_min(seq_min(high_rxt, lost_to), hr);
            p += seq_span(hl, rtx_to);  // lost and retransmitted
        }
        s = b.right;
    }
    p += seq_span(s, snd_max);
    return p;
}

// RFC 6675 NextSeg().
bool Connection::first_hole(Seq from, Seq limit, Seq& hole, Seq& hole_end) const {
    Seq s = from;
    Seq e;
    while (s < limit) {
        if (sacked(s, &e)) {
            s = e;
            continue;
        }
        hole_end = limit;
        for (const auto& b : scoreboard) {
            if (b.left > s) {
                hole_end = seq_min(hole_end, b.left);
                break;
            }
        }
        hole = s;
        return true;
    }
    return false;
}

bool Connection::sack_next_seg(Seq& seq, uint32_t& len, bool& is_new) const {
    const Seq lost = lost_end();
    const Seq start = seq_max(high_rxt, snd_una);
    Seq hole_end;
    // (1) lost, unSACKed, above HighRxt.
    if (first_hole(start, lost, seq, hole_end)) {
        len = hook_cap(seq, std::min(snd_mss, seq_span(seq, hole_end)));
        is_new = false;
        return len > 0;
    }
    // (2) new data the windows allow.
    uint32_t unsent = seq_span(snd_max, snd_end());
    if (unsent > 0 && seq_span(snd_una, snd_max) < snd_wnd) {
        seq = snd_max;
        len = hook_cap(seq, std::min({snd_mss, unsent, snd_wnd - seq_span(snd_una, snd_max)}));
        is_new = true;
        return len > 0;
    }
    // (3) unSACKed bytes below the highest SACK, not yet retransmitted.
    if (!scoreboard.empty() &&
        first_hole(seq_max(start, lost), scoreboard.back().left, seq, hole_end)) {
        len = hook_cap(seq, std::min(snd_mss, seq_span(seq, hole_end)));
        is_new = false;
        return len > 0;
    }
    return false;
}

void Connection::output(uint64_t now_us, bool force_ack) {
    bool sent = false;
    bool can_send_data = state == State::established || state == State::close_wait ||
                         state == State::fin_wait_1 || state == State::closing ||
                         state == State::last_ack;
    if (can_send_data) {
        // RFC 5681 §4.1: restart window after an idle period longer than an RTO.
        if (snd_una == snd_max && now_us - last_send_us > rto_us && snd_max > snd_data_seq) {
            cc.on_idle_restart(now_us);
        }
        if (in_recovery && sack_ok) {
            // RFC 6675 §5 step (C): send while cwnd − pipe ≥ 1 SMSS.
            for (int guard = 0; guard < 1024; ++guard) {
                uint32_t p = pipe();
                if (p + snd_mss > cc.cwnd()) {
                    break;
                }
                Seq s;
                uint32_t l;
                bool is_new;
                if (!sack_next_seg(s, l, is_new)) {
                    break;
                }
                bool fin = fin_queued && is_new && s + l == fin_seq;
                if (!emit_data(s, l, fin, now_us)) {
                    break;
                }
                sent = true;
                if (is_new) {
                    snd_max = s + l + (fin ? 1 : 0);
                    snd_nxt = snd_max;
                } else {
                    high_rxt = s + l;
                    ++retransmits;
                    eng.count(Counter::retransmissions);
                }
            }
        } else {
            uint32_t cwnd = cc.cwnd() + newreno_inflation;
            for (int guard = 0; guard < 4096; ++guard) {
                // After an RTO, SND.NXT was pulled back: skip what the peer SACKed.
                Seq e;
                while (snd_nxt < snd_max && sacked(snd_nxt, &e)) {
                    snd_nxt = seq_min(e, snd_max);
                }
                uint32_t avail = seq_span(snd_nxt, snd_end());
                uint32_t win = std::min(cwnd, snd_wnd);
                uint32_t usable = seq_span(snd_nxt, snd_una + win);
                if (avail == 0) {
                    if (fin_queued && snd_nxt == fin_seq) {
                        if (emit_data(snd_nxt, 0, true, now_us)) {
                            if (snd_max > fin_seq) {
                                ++retransmits;
                                eng.count(Counter::retransmissions);
                            }
                            snd_nxt = fin_seq + 1;
                            snd_max = seq_max(snd_max, snd_nxt);
                            sent = true;
                        }
                    }
                    break;
                }
                uint32_t len = std::min({avail, snd_mss, usable});
                if (snd_nxt < snd_max) {
                    len = std::min(len, seq_span(snd_nxt, snd_max));
                }
                if (len == 0) {
                    // Zero window with data waiting and nothing in flight: probe (§3.8.6.1).
                    if (snd_wnd == 0 && snd_una == snd_max && persist_at == 0) {
                        persist_backoff_us = std::max<uint64_t>(rto_us, eng.cfg_.rto_min_us);
                        persist_at = now_us + persist_backoff_us;
                    }
                    break;
                }
                bool retransmit = snd_nxt < snd_max;
                if (!retransmit && len < snd_mss && len < avail) {
                    break;  // window-limited runt: wait (sender SWS avoidance)
                }
                if (!retransmit && len < snd_mss && nagle && snd_una < snd_max && !fin_queued) {
                    break;  // Nagle (§3.7.4)
                }
                len = hook_cap(snd_nxt, len);  // after the SWS/Nagle checks: never a stall
                bool fin = fin_queued && snd_nxt + len == fin_seq;
                if (!emit_data(snd_nxt, len, fin, now_us)) {
                    break;
                }
                sent = true;
                if (retransmit) {
                    ++retransmits;
                    eng.count(Counter::retransmissions);
                } else if (!rtt_timing && !ts_ok) {
                    rtt_timing = true;
                    rtt_seq = snd_nxt;
                    rtt_start_us = now_us;
                }
                snd_nxt += len + (fin ? 1 : 0);
                snd_max = seq_max(snd_max, snd_nxt);
            }
        }
    }
    if (!sent && force_ack) {
        send_ack(now_us);
    }
}

// ---------------------------------------------------------------------------------------------
// Timers

uint64_t Connection::next_deadline() const {
    uint64_t d = UINT64_MAX;
    for (uint64_t t : {rto_at, delack_at, persist_at, keepalive_at, timewait_at}) {
        if (t != 0 && t < d) {
            d = t;
        }
    }
    return d;
}

void Connection::on_timer(uint64_t now_us) {
    if (timewait_at != 0 && now_us >= timewait_at) {
        timewait_at = 0;
        state = State::closed;
        mark_dead();
        return;
    }
    if (rto_at != 0 && now_us >= rto_at) {
        rto_at = 0;
        on_rto(now_us);
        if (dead) {
            return;
        }
    }
    if (persist_at != 0 && now_us >= persist_at) {
        persist_at = 0;
        on_persist(now_us);
    }
    if (keepalive_at != 0 && now_us >= keepalive_at) {
        keepalive_at = 0;
        on_keepalive(now_us);
        if (dead) {
            return;
        }
    }
    if (delack_at != 0 && now_us >= delack_at) {
        delack_at = 0;
        eng.count(Counter::delayed_acks);
        send_ack(now_us);
    }
}

void Connection::on_rto(uint64_t now_us) {
    if (syn_deferred) {
        // Nothing was sent: the timer was the application's deadline to answer.
        eng.count(Counter::syn_deferred_timeouts);
        terminate(CloseReason::syn_timeout, false);
        return;
    }
    eng.count(Counter::rtos);
    ++backoff;
    rto_us = std::min<uint64_t>(rto_us * 2, eng.cfg_.rto_max_us);  // RFC 6298 §5.5
    rtt_timing = false;                                            // Karn
    if (state == State::syn_sent || state == State::syn_received) {
        if (backoff > eng.cfg_.syn_retries) {
            eng.count(Counter::timeouts);
            terminate(CloseReason::syn_timeout, false);
            return;
        }
        syn_retransmitted = true;
        ++retransmits;
        eng.count(Counter::retransmissions);
        emit(wire::flag::syn | (state == State::syn_received ? wire::flag::ack : 0), iss, nullptr,
             0, now_us);
        arm_rto(now_us);
        return;
    }
    if (snd_una == snd_max) {
        return;
    }
    if (backoff > eng.cfg_.max_retransmits) {
        eng.count(Counter::timeouts);
        send_rst(snd_nxt);
        terminate(CloseReason::timeout, false);
        return;
    }
    cc.on_rto(seq_span(snd_una, snd_max), now_us);
    in_recovery = false;
    newreno_inflation = 0;
    dupacks = 0;
    // RFC 2018 §8: after a timeout the SACK information is not trusted.
    scoreboard.clear();
    snd_nxt = snd_una;
    high_rxt = snd_una;
    recover = snd_max;
    arm_rto(now_us);
    output(now_us, false);
    arm_rto(now_us);
}

void Connection::on_persist(uint64_t now_us) {
    if (snd_wnd != 0 || seq_span(snd_nxt, snd_end()) == 0) {
        return;
    }
    // Probe with an old sequence number: the peer answers with its current window. A peer that
    // keeps answering is never timed out (§3.8.6.1): probes are not counted against R2.
    eng.count(Counter::zero_window_probes);
    emit(wire::flag::ack, snd_una - 1, nullptr, 0, now_us);
    persist_backoff_us = std::min<uint64_t>(persist_backoff_us * 2, eng.cfg_.rto_max_us);
    persist_at = now_us + persist_backoff_us;
}

void Connection::on_keepalive(uint64_t now_us) {
    if (state != State::established && state != State::close_wait) {
        return;
    }
    if (keepalive_sent >= eng.cfg_.keepalive_probes) {
        eng.count(Counter::keepalive_timeouts);
        send_rst(snd_nxt);
        terminate(CloseReason::keepalive_timeout, false);
        return;
    }
    ++keepalive_sent;
    eng.count(Counter::keepalive_probes);
    emit(wire::flag::ack, snd_una - 1, nullptr, 0, now_us);
    keepalive_at = now_us + eng.cfg_.keepalive_interval_us;
}

void Connection::enter_time_wait(uint64_t now_us) {
    state = State::time_wait;
    rto_at = delack_at = persist_at = keepalive_at = 0;
    timewait_at = now_us + 2 * eng.cfg_.msl_us;
    eng.event({EventKind::closed, id, 0, CloseReason::normal});
}

void Connection::terminate(CloseReason r, bool reset_event) {
    leave_syn_received();
    state = State::closed;
    mark_dead();
    rto_at = delack_at = persist_at = keepalive_at = timewait_at = 0;
    eng.event({reset_event ? EventKind::reset : EventKind::closed, id, 0, r, last_icmp});
}

IcmpVerdict Connection::icmp(const IcmpError& e) {
    if (!(snd_una <= e.seq && e.seq <= snd_max)) {
        eng.count(Counter::icmp_out_of_window);
        return IcmpVerdict::out_of_window;
    }
    eng.count(Counter::icmp_errors);
    last_icmp = IcmpNote{e.v6, e.type, e.code};
    if (e.kind == IcmpKind::too_big) {
        eng.count(Counter::icmp_too_big_ignored);
        return IcmpVerdict::ignored;
    }
    // RFC 1122 §4.2.3.9: a hard error aborts a connection attempt. RFC 5461 §4: in the other
    // states, hard errors too are only reported (with the connection's timeout): ICMP is
    // unauthenticated, and a transient routing failure must not kill a connection.
    if (state == State::syn_sent && e.hard()) {
        eng.count(Counter::icmp_hard_aborts);
        terminate(CloseReason::unreachable, true);
        return IcmpVerdict::aborted;
    }
    return IcmpVerdict::soft;
}

// ---------------------------------------------------------------------------------------------
// Application side

uint32_t Connection::send_space() const {
    return snd_buf_limit > snd_buffered ? snd_buf_limit - snd_buffered : 0;
}

uint32_t Connection::send(rte_mbuf* chain, uint64_t now_us) {
    if (fin_queued || chain == nullptr ||
        !(state == State::established || state == State::close_wait || state == State::syn_sent ||
          state == State::syn_received)) {
        return 0;
    }
    uint32_t len = rte_pktmbuf_pkt_len(chain);
    if (len == 0) {
        rte_pktmbuf_free(chain);
        return 0;
    }
    if (len > send_space()) {
        snd_blocked = true;
        return 0;
    }
    sndq.push_back({chain, snd_end(), len});
    snd_buffered += len;
    output(now_us, false);
    return len;
}

rte_mbuf* Connection::recv(uint64_t now_us) {
    if (rcvq.empty() || state == State::syn_received) {
        return nullptr;
    }
    uint32_t old_wnd = seq_span(rcv_nxt, rcv_adv);
    rte_mbuf* head = rcvq.front();
    rcvq.pop_front();
    while (!rcvq.empty()) {
        rte_mbuf* m = rcvq.front();
        if (rte_pktmbuf_chain(head, m) != 0) {
            break;  // too many segments for one chain: the rest on the next call
        }
        rcvq.pop_front();
    }
    rcv_buffered -= std::min(rcv_buffered, rte_pktmbuf_pkt_len(head));
    window_update(old_wnd, now_us);
    return head;
}

void Connection::ack_now(uint64_t now_us) {
    if (state == State::syn_received || state == State::time_wait || dead) {
        return;
    }
    send_ack(now_us);
}

bool Connection::probe(uint64_t now_us) {
    if ((state != State::established && state != State::close_wait) || dead) {
        return false;
    }
    emit(wire::flag::ack, snd_una - 1, nullptr, 0, now_us);
    return true;
}

void Connection::window_update(uint32_t old_wnd, uint64_t now_us) {
    // Window update when the advertised window had shrunk below half of what it can be and
    // reading opened a worthwhile amount (§3.8.6.2.2); otherwise the next ACK carries it.
    uint32_t used = rcv_used();
    uint32_t free = rcv_buf_limit > used ? rcv_buf_limit - used : 0;
    uint32_t cap = std::min<uint32_t>(rcv_buf_limit, 65535u << rcv_wscale);
    uint32_t new_wnd = std::min(free, cap);
    // Not before ESTABLISHED: in SYN-RECEIVED the peer has not acknowledged our SYN, and a bare
    // ACK there is no handshake segment (an MPTCP peer resets a joining subflow on an ACK
    // without MPTCP options, which a layer above cannot add before the handshake completes).
    if (state != State::syn_sent && state != State::syn_received && state != State::time_wait &&
        state != State::closed && old_wnd < cap / 2 && new_wnd > old_wnd &&
        new_wnd - old_wnd >= std::min<uint32_t>(rcv_buf_limit / 2, our_mss)) {
        send_ack(now_us);
    }
}

void Connection::shutdown_write(uint64_t now_us) {
    if (fin_queued) {
        return;
    }
    switch (state) {
        case State::syn_sent:
            terminate(CloseReason::normal, false);
            return;
        case State::syn_received:
            break;  // FIN once established (§3.10.4): our SYN is not acknowledged yet
        case State::established:
            state = State::fin_wait_1;
            break;
        case State::close_wait:
            state = State::last_ack;
            break;
        default:
            return;
    }
    fin_queued = true;
    fin_seq = snd_end();
    output(now_us, false);
}

void Connection::close(uint64_t now_us) {
    read_closed = true;
    for (rte_mbuf* m : rcvq) {
        rte_pktmbuf_free(m);
    }
    rcvq.clear();
    rcv_buffered = 0;
    shutdown_write(now_us);
}

void Connection::abort(uint64_t now_us) {
    (void)now_us;
    if (syn_deferred) {
        // The peer has seen no ISN of ours: answer its SYN like §3.10.7.2 answers a refused
        // one, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, acknowledging the SYN data too.
        OutSegment s;
        s.tuple = tuple;
        s.header.src_port = tuple.local_port;
        s.header.dst_port = tuple.remote_port;
        s.header.ack = rcv_nxt;
        s.header.flags = wire::flag::rst | wire::flag::ack;
        eng.count(Counter::rst_sent_abort);
        eng.emit(std::move(s));
        terminate(CloseReason::aborted, false);
        return;
    }
    if (state != State::syn_sent && state != State::closed && state != State::time_wait) {
        eng.count(Counter::rst_sent_abort);
        send_rst(snd_nxt);
    }
    terminate(CloseReason::aborted, false);
}

rte_mbuf* Connection::take_syn_data() {
    rte_mbuf* m = syn_data;
    syn_data = nullptr;
    return m;
}

bool Connection::answer_syn(uint64_t now_us) {
    if (!syn_deferred || state != State::syn_received) {
        return false;
    }
    syn_deferred = false;
    rto_at = 0;
    eng.count(Counter::syn_deferred_answered);
    send_syn(now_us);  // ack = rcv_nxt = ISN + 1 + SYN data
    return true;
}

void Connection::refuse_syn() {
    eng.count(Counter::syn_deferred_refused);
    terminate(CloseReason::refused, false);
}

void Connection::set_rcv_buf(uint32_t bytes, uint64_t now_us) {
    uint32_t old = rcv_buf_limit;
    rcv_buf_limit = bytes;
    // Growing out of a small window: tell the peer now (it may be probing a zero window).
    if (bytes > old && state >= State::established && state != State::time_wait) {
        uint32_t wnd = seq_span(rcv_nxt, rcv_adv);
        if (wnd < our_mss) {
            send_ack(now_us);
        }
    }
}

ConnInfo Connection::info() const {
    ConnInfo i{};
    i.id = id;
    i.tuple = tuple;
    i.state = state;
    i.cwnd = cc.cwnd();
    i.ssthresh = cc.ssthresh();
    i.srtt_us = srtt_us;
    i.rttvar_us = rttvar_us;
    i.rto_us = static_cast<uint32_t>(rto_us);
    i.snd_wnd = snd_wnd;
    i.rcv_wnd = seq_span(rcv_nxt, rcv_adv);
    i.snd_mss = snd_mss;
    i.snd_una = snd_una.raw();
    i.snd_nxt = snd_nxt.raw();
    i.rcv_nxt = rcv_nxt.raw();
    i.snd_buffered = snd_buffered;
    i.rcv_buffered = rcv_buffered;
    i.rcv_buf_limit = rcv_buf_limit;
    i.retransmits = retransmits;
    i.data_segments = data_segments;
    i.backoff = backoff;
    i.in_recovery = in_recovery;
    i.sack_ok = sack_ok;
    i.ts_ok = ts_ok;
    i.snd_wscale = snd_wscale;
    i.rcv_wscale = rcv_wscale;
    return i;
}

}  // namespace braid::tcp
