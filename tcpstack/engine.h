// The tcpstack engine (issue 5): a sans-I/O TCP (RFC 9293) for one worker. Segments in
// (parsed header + options + payload mbuf, no copy), segments and events out through sinks,
// time injected in microseconds. Single-threaded: one Engine per worker, no locks.
//
// Read first: RFC 9293 §3.10 (event processing, followed step by step in engine.cc), RFC 5961
// (challenge ACKs), RFC 7323 (window scale, timestamps, PAWS), RFC 6298 (RTO), RFC 2018 + 6675
// (SACK and SACK-based recovery), RFC 6582 (NewReno), RFC 4987 (SYN cookies).
//
// Payload ownership: input() takes the payload mbuf (chain); in-order data is queued as those
// mbufs and handed out by recv(). send() takes the application's chain; every transmission of a
// range of it is a new chain of indirect mbufs (from EngineConfig::clone_pool) attached to the
// stored data, so retransmissions reference the same bytes under new headers. The output sink
// owns the payload chain of each OutSegment.
//
// The sinks run inside engine calls: they must not call back into the same Engine (queue the
// segment or event and act on it after the call returns, as the tests do).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tcpstack/cc/cc.h"
#include "tcpstack/counters.h"
#include "tcpstack/hook.h"
#include "tcpstack/seq.h"
#include "tcpstack/syn_cookie.h"
#include "tcpstack/wire/tcp.h"

struct rte_mbuf;
struct rte_mempool;

namespace braid::tcp {

struct IpAddr {
    uint8_t family = 4;  // 4 | 6; for 4 only bytes[0..3] count (the rest stay 0)
    std::array<uint8_t, 16> bytes{};
    bool operator==(const IpAddr&) const = default;
    static IpAddr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
        IpAddr x;
        x.bytes[0] = a;
        x.bytes[1] = b;
        x.bytes[2] = c;
        x.bytes[3] = d;
        return x;
    }
};

// Seen from this engine: local = our address (the destination of incoming segments).
struct FourTuple {
    IpAddr local;
    IpAddr remote;
    uint16_t local_port = 0;
    uint16_t remote_port = 0;
    bool operator==(const FourTuple&) const = default;
};

struct FourTupleHash {
    size_t operator()(const FourTuple& t) const;
};
struct IpAddrHash {
    size_t operator()(const IpAddr& a) const;
};

// clang-format off
#define BRAID_TCP_STATES(X) \
    X(closed, "CLOSED") X(listen, "LISTEN") X(syn_sent, "SYN-SENT") X(syn_received, "SYN-RECEIVED") \
    X(established, "ESTABLISHED") X(fin_wait_1, "FIN-WAIT-1") X(fin_wait_2, "FIN-WAIT-2")           \
    X(close_wait, "CLOSE-WAIT") X(closing, "CLOSING") X(last_ack, "LAST-ACK") X(time_wait, "TIME-WAIT")

#define BRAID_TCP_CLOSE_REASONS(X)                                         \
    X(normal,            "both FINs exchanged and acknowledged")           \
    X(reset_received,    "the peer sent an acceptable RST")                \
    X(refused,           "RST in answer to our SYN")                       \
    X(aborted,           "local abort (RST sent)")                         \
    X(timeout,           "retransmissions exhausted (R2)")                 \
    X(syn_timeout,       "SYN or SYN/ACK retransmissions exhausted")       \
    X(keepalive_timeout, "keep-alive probes unanswered")                \
    X(unreachable,       "a hard ICMP error answered our SYN (RFC 1122 §4.2.3.9)")
// clang-format on

enum class State : uint8_t {
#define BRAID_X(name, text) name,
    BRAID_TCP_STATES(BRAID_X)
#undef BRAID_X
        count
};
std::string_view to_string(State s);

enum class CloseReason : uint8_t {
#define BRAID_X(name, help) name,
    BRAID_TCP_CLOSE_REASONS(BRAID_X)
#undef BRAID_X
        count
};
std::string_view to_string(CloseReason r);

using ConnId = uint32_t;
using ListenerId = uint32_t;

// A segment the caller must wrap in IP (and Ethernet/GTP-U) and send.
struct OutSegment {
    FourTuple tuple;  // local = source address of the packet to build
    wire::Header header;
    wire::Options options;
    rte_mbuf* payload = nullptr;  // owned by the sink (nullptr: no payload)
    uint32_t payload_len = 0;
};

// syn_data: a listener with ListenOptions::defer_syn_data created this connection from a SYN
// carrying data and holds it in SYN-RECEIVED without answering: the application takes the data
// (take_syn_data) and later calls answer_syn() or refuse_syn() (or abort()).
enum class EventKind : uint8_t { established, readable, writable, closed, reset, syn_data };

// The last ICMP error about a connection's segments (tcpstack/icmp.h), reported with its end:
// the cause of an `unreachable` close, or the soft error behind a timeout.
struct IcmpNote {
    bool v6 = false;
    uint8_t type = 0;
    uint8_t code = 0;
    bool operator==(const IcmpNote&) const = default;
};

struct Event {
    EventKind kind;
    ConnId conn;
    ListenerId listener;             // for established connections accepted from a listener, else 0
    CloseReason reason;              // for closed and reset
    std::optional<IcmpNote> icmp{};  // closed and reset: the last ICMP error received
};

struct IcmpError;
// What Engine::icmp_error did with an ICMP error.
enum class IcmpVerdict : uint8_t {
    no_connection,  // no live connection has the quoted tuple
    out_of_window,  // the quoted sequence number is not in [SND.UNA, SND.MAX] (RFC 5927 §4.1)
    aborted,        // a hard error in SYN-SENT: the connection is closed (reset event)
    soft,           // remembered, reported with the connection's end
    ignored,        // Packet Too Big / Fragmentation Needed: no path MTU discovery
};

struct EngineConfig {
    rte_mempool* clone_pool = nullptr;  // indirect mbufs for transmissions (required)
    CcAlgorithm cc = CcAlgorithm::cubic;
    std::array<uint8_t, 16> secret{};  // ISN PRF and SYN cookie key (RFC 6528, RFC 4987)
    uint64_t msl_us = 120'000'000;     // RFC 9293 §3.4.2; TIME-WAIT lasts 2*MSL
    uint64_t rto_initial_us = 1'000'000;
    uint64_t rto_min_us = 1'000'000;  // RFC 6298 §2.4 SHOULD round up to 1 s
    uint64_t rto_max_us = 60'000'000;
    uint64_t delack_us = 40'000;    // delayed ACK: every 2nd full segment or 40 ms
    uint32_t syn_retries = 6;       // ~127 s with backoff from 1 s (> 3 min R2 with rto_max)
    uint32_t max_retransmits = 15;  // R2 for data, counted in back-offs
    uint32_t default_rcv_buf = 256 * 1024;
    uint32_t default_snd_buf = 256 * 1024;
    uint32_t default_backlog = 128;    // half-open connections per listener before SYN cookies
    uint16_t default_mss = 1460;       // our MSS (what we advertise) unless a listener clamps it
    uint32_t max_connections = 65536;  // per worker (this engine), every state counted
    uint32_t max_per_source = 4096;    // per remote address
    uint32_t challenge_acks_per_s = 1000;
    bool timestamps = true;
    bool sack = true;
    bool window_scale = true;
    bool nagle = true;
    bool keepalive = false;  // RFC 9293 §3.8.4: default off
    uint64_t keepalive_idle_us = 7200'000'000;
    uint64_t keepalive_interval_us = 75'000'000;
    uint32_t keepalive_probes = 9;
    // A deferred SYN (ListenOptions::defer_syn_data) the application neither answered nor
    // refused is dropped after this long (closed event, reason syn_timeout).
    uint64_t syn_defer_timeout_us = 60'000'000;
};

struct ListenOptions {
    IpAddr addr;  // family only matters with any_addr
    bool any_addr = true;
    uint16_t port = 0;
    uint16_t mss_clamp = 0;  // advertise at most this MSS (0: default_mss); e.g. fits in GTP-U
    bool accept_syn_data = false;  // keep SYN payload, deliver after ESTABLISHED (RFC 8803)
    // RFC 8803 0-RTT: a SYN carrying data is not answered at once. The connection waits in
    // SYN-RECEIVED holding the SYN data outside its stream (take_syn_data; for a hooked
    // connection the hook's stream starts after it, RFC 8684 App. B.2) and a syn_data event
    // tells the application, which answers (answer_syn: the SYN/ACK acknowledges all SYN data)
    // or refuses. Retransmissions of that SYN are absorbed meanwhile. Under SYN-cookie pressure
    // such SYNs are dropped and counted (no state, so nothing to defer). SYNs without data are
    // answered as usual.
    bool defer_syn_data = false;
    // Half-open connections before SYN cookies; unset: EngineConfig::default_backlog.
    std::optional<uint32_t> backlog;
    uint32_t rcv_buf = 0;  // 0: default_rcv_buf
    // A layer above TCP (MPTCP) that connections from this listener may be attached to
    // (tcpstack/hook.h); nullptr: plain TCP. Not owned; outlives the listener.
    ConnHook* hook = nullptr;
};

struct ConnectOptions {
    FourTuple tuple;  // chosen local address and port
    uint16_t mss_clamp = 0;
    uint32_t rcv_buf = 0;
    // What the SYN offers besides MSS and window scale: SACK-permitted and timestamps when the
    // engine is configured for them and these allow (the RFC 8803 converter leaves out what
    // would make its SYN bigger than the client's, §9.3).
    bool sack = true;
    bool timestamps = true;
    // A TCP Fast Open option (RFC 7413 §4.1.1) in the SYN, for the RFC 8803 converter (§7.6):
    // without a cookie it asks the server for one; a cookie (4..16 octets) is sent as given.
    // No data rides in the SYN.
    bool tfo = false;
    std::array<uint8_t, 16> tfo_cookie{};
    uint8_t tfo_cookie_len = 0;
    // Keep the peer's SYN/ACK options for syn_ack_options() (the converter's Extended TCP
    // Header, RFC 8803 §6.2.6).
    bool keep_syn_ack_options = false;
};

// `show tcp connection <id>`.
struct ConnInfo {
    ConnId id;
    FourTuple tuple;
    State state;
    uint32_t cwnd, ssthresh, srtt_us, rttvar_us, rto_us;
    uint32_t snd_wnd, rcv_wnd, snd_mss;
    uint32_t snd_una, snd_nxt, rcv_nxt;
    uint32_t snd_buffered, rcv_buffered, rcv_buf_limit;
    uint32_t retransmits;
    uint32_t data_segments;  // with data or FIN, retransmissions included (loss rate: MPTCP PLR)
    uint32_t backoff;        // RTO expiries since the last ACK that advanced (stall detection)
    bool in_recovery, sack_ok, ts_ok;
    uint8_t snd_wscale, rcv_wscale;
};

class Connection;
class TupleTable;
struct Listener;

class Engine {
public:
    using SegmentSink = std::function<void(OutSegment&&)>;
    using EventSink = std::function<void(const Event&)>;

    Engine(const EngineConfig& cfg, SegmentSink out, EventSink events);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // --- segments in ---------------------------------------------------------------------
    // `payload` (may be nullptr) is taken; its data starts at the TCP payload.
    void input(const FourTuple& t, const wire::Header& h, const wire::Options& o, rte_mbuf* payload,
               uint64_t now_us);
    // Runs every timer due at now_us (RTO, delayed ACK, persist, keep-alive, TIME-WAIT).
    void on_timer(uint64_t now_us);
    // Earliest pending deadline, or UINT64_MAX.
    uint64_t next_timer() const;
    // An ICMP error quoting one of our segments (parsed by tcpstack/icmp.h).
    IcmpVerdict icmp_error(const IcmpError& e, uint64_t now_us);

    // --- API for the proxy and tests -------------------------------------------------------
    std::optional<ListenerId> listen(const ListenOptions& o);
    std::optional<ConnId> accept(ListenerId l);  // next established, not yet accepted connection
    std::optional<ConnId> connect(const ConnectOptions& o, uint64_t now_us);
    // Queues `chain` (taken) for sending; returns bytes accepted (0 when the send buffer is full
    // or writing was shut down; then the chain is NOT taken and stays the caller's).
    uint32_t send(ConnId c, rte_mbuf* chain, uint64_t now_us);
    uint32_t send_space(ConnId c) const;
    // Ask for a `writable` event when send space opens up (an application that found
    // send_space() == 0 and did not try send()).
    void want_writable(ConnId c);
    // Dequeues in-order received data as one chain (nullptr if none).
    rte_mbuf* recv(ConnId c, uint64_t now_us);
    // Deferred SYNs (ListenOptions::defer_syn_data). take_syn_data hands the held SYN payload
    // over once (nullptr if none or already taken). answer_syn sends the SYN/ACK (ack = ISN + 1
    // + SYN data length, hook options as usual); false if `c` is not a deferred SYN.
    // refuse_syn forgets the connection without a segment (a closed event follows, reason
    // refused); abort() instead answers the SYN with a RST.
    rte_mbuf* take_syn_data(ConnId c);
    uint32_t syn_data_len(ConnId c) const;
    uint32_t syn_options_len(ConnId c) const;  // TCP option bytes of that SYN (as received)
    bool syn_deferred(ConnId c) const;
    bool answer_syn(ConnId c, uint64_t now_us);
    void refuse_syn(ConnId c, uint64_t now_us);
    uint32_t readable_bytes(ConnId c) const;
    bool peer_closed(ConnId c) const;                // FIN received and all data read
    void shutdown_write(ConnId c, uint64_t now_us);  // half-close: FIN after queued data
    void close(ConnId c, uint64_t now_us);           // shutdown_write; state freed when done
    void abort(ConnId c, uint64_t now_us);           // RST, freed now
    // Backpressure hook: the relay sets how much received data may be buffered. Shrinking never
    // drops data already accepted or inside a window already advertised.
    void set_rcv_buf(ConnId c, uint32_t bytes, uint64_t now_us);
    void set_nagle(ConnId c, bool on);
    // For a ConnHook's owner, after the call that changed what the hook signals: an ACK now
    // (e.g. a DATA_ACK or DATA_FIN to carry), and a window update if reading data the hook held
    // opened a worthwhile amount of window.
    void ack_now(ConnId c, uint64_t now_us);
    void window_update(ConnId c, uint64_t now_us);
    // A window probe on demand: the old-sequence ACK of the persist timer (the peer answers it
    // with an ACK), for a hook whose own window (e.g. MPTCP's connection-level one) is closed
    // while the connection has nothing queued. False: no such connection or not established.
    bool probe(ConnId c, uint64_t now_us);
    bool hooked(ConnId c) const;

    std::optional<State> state(ConnId c) const;
    std::optional<IcmpNote> last_icmp(ConnId c) const;  // the last ICMP error it received
    // The SYN/ACK options of a connection opened with keep_syn_ack_options, re-encoded in the
    // canonical order (MSS, SACK-permitted + timestamps, NOP window scale, TFO cookie; Linux
    // sends them so). Returns the length, 0 if none were kept.
    size_t syn_ack_options(ConnId c, std::span<uint8_t, wire::max_options_len> out) const;
    // A live connection has this tuple (the datapath's test for segments owned by braid's TCP,
    // e.g. N6 replies to a UE address the proxy connected from).
    bool owns(const FourTuple& t) const;
    std::optional<ConnInfo> describe(ConnId c) const;
    std::vector<ConnInfo> describe_all() const;
    size_t connection_count() const { return conns_.size(); }
    std::array<uint32_t, static_cast<size_t>(State::count)> connections_by_state() const;

    const Counters& counters() const { return counters_; }
    const EngineConfig& config() const { return cfg_; }

private:
    friend class Connection;
    Connection* find(ConnId c) const;
    void count(Counter c, uint64_t n = 1) { counters_[static_cast<size_t>(c)] += n; }
    void emit(OutSegment&& s);
    void event(const Event& e) { events_(e); }
    void send_rst_for(const FourTuple& t, const wire::Header& h, uint32_t payload_len,
                      Counter reason);
    void input_listen(Listener& l, const FourTuple& t, const wire::Header& h,
                      const wire::Options& o, rte_mbuf* payload, uint32_t len, uint64_t now_us);
    bool try_syn_cookie(Listener& l, const FourTuple& t, const wire::Header& h,
                        const wire::Options& o, rte_mbuf* payload, uint64_t now_us);
    Listener* find_listener(const FourTuple& t);
    // tuple_hash: TupleTable::hash(t), already computed by every caller's lookup.
    Connection* create(const FourTuple& t, uint64_t tuple_hash, uint32_t rcv_buf, uint16_t our_mss,
                       uint64_t now_us);
    void destroy(Connection* c);
    bool challenge_ack_allowed(uint64_t now_us);
    uint32_t make_isn(const FourTuple& t, uint64_t now_us) const;
    uint32_t ts_offset(const FourTuple& t) const;
    void reap();
    // Timers: a lazy min-heap of (deadline, connection). schedule() after every call into a
    // connection pushes its deadline when it moved earlier than what the heap holds for it
    // (Connection::timer_queued); entries that no longer match are skipped when they surface.
    void schedule(Connection* c);
    void compact_timers() const;

    EngineConfig cfg_;
    SegmentSink out_;
    EventSink events_;
    SynCookies cookies_;
    Counters counters_{};
    ConnId next_id_ = 1;
    std::unordered_map<ConnId, std::unique_ptr<Connection>> conns_;
    std::unique_ptr<TupleTable> by_tuple_;  // tuple_table.h
    std::unordered_map<IpAddr, uint32_t, IpAddrHash> per_source_;
    std::vector<std::unique_ptr<Listener>> listeners_;
    std::vector<ConnId> dead_;         // closed during a call, freed at its end
    Connection* last_conn_ = nullptr;  // input()'s demux cache (cleared by destroy())
    uint64_t input_hash_ = 0;          // input(): hash of the tuple of a segment with no connection
    struct TimerEntry {
        uint64_t at;
        ConnId id;
    };
    mutable std::vector<TimerEntry> timers_;  // heap, earliest first (see schedule())
    std::vector<Connection*> timers_due_;     // on_timer scratch
    uint64_t challenge_window_start_us_ = 0;
    uint32_t challenge_in_window_ = 0;
};

}  // namespace braid::tcp
