// One TCP connection's control block (RFC 9293 §3.3.1) and its input/output processing. Private
// to the engine: the API is Engine's (tcpstack/engine.h).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "tcpstack/cc/cc.h"
#include "tcpstack/engine.h"
#include "tcpstack/ring_queue.h"
#include "tcpstack/seq.h"
#include "tcpstack/wire/tcp.h"

struct rte_mbuf;

namespace braid::tcp {

struct Listener {
    ListenerId id;
    ListenOptions opts;
    uint32_t half_open = 0;
    std::deque<ConnId> accept_queue;
};

class Connection {
public:
    Connection(Engine& e, ConnId id, const FourTuple& t, uint32_t rcv_buf, uint16_t our_mss,
               uint64_t now_us);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Passive open (LISTEN → SYN-RECEIVED) and active open (CLOSED → SYN-SENT).
    void open_passive(const Listener& l, const wire::Header& h, const wire::Options& o,
                      rte_mbuf* payload, uint32_t len, uint64_t now_us);
    void open_active(uint64_t now_us);
    // A connection rebuilt from a SYN cookie (RFC 4987): straight to ESTABLISHED.
    void open_from_cookie(const Listener& l, const wire::Header& h, const wire::Options& o,
                          const SynCookieOptions& co, uint64_t now_us);

    void input(const wire::Header& h, const wire::Options& o, rte_mbuf* payload, uint32_t len,
               uint64_t now_us);
    void on_timer(uint64_t now_us);
    uint64_t next_deadline() const;

    uint32_t send(rte_mbuf* chain, uint64_t now_us);
    uint32_t send_space() const;
    void want_writable() { snd_blocked = true; }
    rte_mbuf* recv(uint64_t now_us);
    void shutdown_write(uint64_t now_us);
    void close(uint64_t now_us);
    void abort(uint64_t now_us);
    void set_rcv_buf(uint32_t bytes, uint64_t now_us);
    // A deferred SYN (ListenOptions::defer_syn_data): its data, the SYN/ACK now, or forget it.
    rte_mbuf* take_syn_data();
    bool answer_syn(uint64_t now_us);
    void refuse_syn();

    ConnInfo info() const;
    // RFC 6191-style TIME-WAIT reuse test for a new SYN on this tuple.
    bool timewait_acceptable_syn(const wire::Header& h, const wire::Options& o) const;

    Engine& eng;
    ConnId id;
    FourTuple tuple;
    State state = State::closed;
    ListenerId listener = 0;
    bool dead = false;
    bool nagle;
    uint32_t rcv_buffered = 0;
    bool fin_received = false;
    // The earliest deadline the engine's timer heap holds for this connection (UINT64_MAX: none).
    uint64_t timer_queued = UINT64_MAX;
    uint64_t tuple_hash = 0;   // TupleTable::hash(tuple), kept for the table's insert and erase
    ConnHook* hook = nullptr;  // attached to a layer above (tcpstack/hook.h), else plain TCP
    // Deferred SYN (ListenOptions::defer_syn_data): no SYN/ACK sent yet; the SYN's payload is
    // held here, outside the stream, until take_syn_data().
    bool syn_deferred = false;
    rte_mbuf* syn_data = nullptr;
    uint32_t syn_data_len = 0;
    uint32_t syn_options_len = 0;

    // Active open (Engine::connect): what ConnectOptions asked of the SYN beyond the engine's
    // defaults, and the peer's SYN/ACK options when asked to keep them. Allocated only then.
    struct ActiveOpen {
        bool tfo = false;
        std::array<uint8_t, 16> tfo_cookie{};
        uint8_t tfo_cookie_len = 0;
        bool keep_syn_ack = false;
        bool have_syn_ack = false;
        wire::Options syn_ack;  // spans not kept: the cookie below
        std::array<uint8_t, 16> syn_ack_cookie{};
    };
    std::unique_ptr<ActiveOpen> active;
    bool offer_sack = true;  // ConnectOptions::sack / timestamps (passive opens: true)
    bool offer_ts = true;

    // An ICMP error quoting this connection (Engine::icmp_error; tcpstack/icmp.h).
    IcmpVerdict icmp(const IcmpError& e);
    std::optional<IcmpNote> last_icmp;

    void ack_now(uint64_t now_us);
    // An ACK with an old sequence number (SND.UNA - 1): the peer must answer it with an ACK
    // carrying its current window (RFC 9293 §3.10.7.4). False: not in a state to send one.
    bool probe(uint64_t now_us);
    void window_update(uint32_t old_wnd, uint64_t now_us);
    uint32_t adv_window() const { return seq_span(rcv_nxt, rcv_adv); }

private:
    struct SendChunk {
        rte_mbuf* head;
        Seq seq;
        uint32_t len;
    };
    struct OooSegment {
        Seq seq;
        uint32_t len;
        rte_mbuf* m;
    };

    // --- input steps (RFC 9293 §3.10.7) ---
    void input_syn_sent(const wire::Header& h, const wire::Options& o, rte_mbuf* payload,
                        uint32_t len, uint64_t now_us);
    bool acceptable(Seq seq, uint32_t seg_len) const;
    bool process_ack(const wire::Header& h, const wire::Options& o, uint32_t len, uint64_t now_us);
    void process_data(Seq seq, rte_mbuf* payload, uint32_t len, uint64_t now_us);
    void process_fin(uint64_t now_us);
    // In-order payload: to the hook if attached, else to the receive queue.
    void deliver(Seq seq, rte_mbuf* m, uint32_t len, uint64_t now_us);
    uint32_t rcv_used() const { return rcv_buffered + (hook != nullptr ? hook->rcv_held(id) : 0); }
    uint32_t option_room() const { return hook != nullptr ? hook->data_option_room(id) : 0; }
    void negotiate(const wire::Options& peer, bool peer_is_syn_ack);
    void update_scoreboard(const wire::Options& o);
    void rtt_sample(uint32_t rtt_us);
    void enter_recovery(uint64_t now_us);

    // --- output ---
    void output(uint64_t now_us, bool force_ack);
    void send_syn(uint64_t now_us);
    void send_ack(uint64_t now_us);
    void send_rst(Seq seq);
    void send_challenge_ack(uint64_t now_us);
    bool emit_data(Seq seq, uint32_t len, bool fin, uint64_t now_us);
    // `len` capped where the hook wants a data segment to end (hook.h segment_limit).
    uint32_t hook_cap(Seq seq, uint32_t len) const {
        return hook != nullptr ? std::min(len, std::max(1u, hook->segment_limit(id, seq))) : len;
    }
    void emit(uint8_t flags, Seq seq, rte_mbuf* payload, uint32_t len, uint64_t now_us);
    wire::Options syn_options(uint64_t now_us) const;
    uint16_t window_field(bool syn);
    uint32_t tsval(uint64_t now_us) const;
    void fill_sack(wire::Options& o) const;
    bool sack_next_seg(Seq& seq, uint32_t& len, bool& is_new) const;
    uint32_t pipe() const;
    Seq lost_end() const;
    uint32_t sacked_bytes() const;
    bool sacked(Seq s, Seq* end) const;
    // The first byte in [from, limit) that no SACK block covers and the end of its hole
    // (at most `limit`). False if every byte there is SACKed.
    bool first_hole(Seq from, Seq limit, Seq& hole, Seq& hole_end) const;
    rte_mbuf* clone_range(Seq seq, uint32_t len);
    void release_acked();
    Seq snd_end() const { return snd_data_seq + snd_buffered; }

    // --- timers ---
    void arm_rto(uint64_t now_us) { rto_at = now_us + rto_us; }
    void on_rto(uint64_t now_us);
    void on_persist(uint64_t now_us);
    void on_keepalive(uint64_t now_us);
    void enter_time_wait(uint64_t now_us);
    void terminate(CloseReason r, bool reset_event);
    // Sets `dead` and queues the connection for Engine::reap() (freed at the end of the call).
    void mark_dead() {
        if (!dead) {
            dead = true;
            eng.dead_.push_back(id);
        }
    }
    void leave_syn_received();
    void established(uint64_t now_us);

    // Send sequence space (RFC 9293 §3.3.1).
    Seq iss, snd_una, snd_nxt, snd_max;
    uint32_t snd_wnd = 0, max_snd_wnd = 0;
    Seq snd_wl1, snd_wl2;
    uint8_t snd_wscale = 0, rcv_wscale = 0;
    bool ws_ok = false, sack_ok = false, ts_ok = false;
    uint16_t our_mss;         // what we advertise
    uint16_t peer_mss = 536;  // from the peer's SYN
    uint32_t snd_mss = 536;   // payload bytes per segment (peer MSS less TS overhead)
    RingQueue<SendChunk> sndq;
    Seq snd_data_seq;  // sequence number of sndq's first byte
    // clone_range()'s place in the chunk it last cloned from: the chunk (by its first sequence
    // number), the segment of its chain and that segment's offset in the chunk.
    Seq clone_hint_seq;
    rte_mbuf* clone_hint_m = nullptr;
    uint32_t clone_hint_base = 0;
    uint32_t snd_buffered = 0;
    uint32_t snd_buf_limit;
    bool snd_blocked = false;  // send() refused bytes: emit writable when space frees up
    bool fin_queued = false;
    Seq fin_seq;
    bool syn_data_pending_established = false;

    // Receive sequence space.
    Seq irs, rcv_nxt, rcv_adv;
    uint32_t rcv_buf_limit;
    RingQueue<rte_mbuf*> rcvq;
    std::vector<OooSegment> ooo;
    std::optional<Seq> ooo_fin;
    std::vector<wire::SackBlock> recent_sacks;  // most recent first (RFC 2018 §4)
    bool read_closed = false;

    // Timestamps (RFC 7323).
    uint32_t ts_recent = 0;
    uint64_t ts_recent_us = 0;
    uint32_t ts_off = 0;
    Seq last_ack_sent;

    // RTT / RTO (RFC 6298).
    uint32_t srtt_us = 0, rttvar_us = 0;
    uint64_t rto_us;
    bool have_rtt = false;
    bool rtt_timing = false;
    Seq rtt_seq;
    uint64_t rtt_start_us = 0;
    uint32_t backoff = 0;
    uint32_t retransmits = 0;
    uint32_t data_segments = 0;  // segments with data or FIN sent, retransmissions included
    bool syn_retransmitted = false;

    // Timers (0 = off).
    uint64_t rto_at = 0, delack_at = 0, persist_at = 0, keepalive_at = 0, timewait_at = 0;
    uint64_t persist_backoff_us = 0;
    uint32_t keepalive_sent = 0;
    uint64_t last_send_us = 0;

    // ACK generation.
    uint32_t unacked_segments = 0;

    // Congestion control and loss recovery (RFC 5681, 6675, 6582).
    CongestionControl cc;
    bool in_recovery = false;
    Seq recover;
    uint32_t dupacks = 0;
    Seq high_rxt;
    uint32_t newreno_inflation = 0;
    std::vector<wire::SackBlock> scoreboard;  // SACKed ranges above snd_una, sorted, merged
};

}  // namespace braid::tcp
