// MPTCP v1 connections on top of the tcpstack engine, braid as the passive side (RFC 8684 §3.1,
// §3.3; issue 6). One Endpoint per worker, next to that worker's tcp::Engine: it implements the
// engine's ConnHook (tcpstack/hook.h), so an MPTCP listener's connections are its subflows,
// and it offers the application the engine's own API (send/recv of mbuf chains, the same
// events) for every connection: an MPTCP connection is named by the ConnId of its initial
// subflow, and a connection that fell back to plain TCP is passed straight to the engine. The
// echo/sink/source applications thus run over MPTCP unchanged.
//
// What runs where:
//   - handshake (MP_CAPABLE v1): SYN with MP_CAPABLE -> braid's key (token unique in the token
//     table) in the SYN/ACK; the third ACK (or the first data, 22/24-byte form) must echo it;
//     checksums on if either side asks. With SYN cookies the key is derived from the tuple, the
//     cookie ISN and a secret, and the third ACK proves it: no state before it.
//   - receive: DSS mappings and the subflow's in-order payload go through mptcp::Receiver; the
//     DATA_ACK and the window on every segment braid sends are the connection's.
//   - send: application bytes go to mptcp::Sender, which hands out DSN ranges; they are queued
//     on the subflow as mbufs, and every data segment the subflow sends (retransmissions too)
//     carries the DSS mapping of exactly its bytes (Linux wants a mapping per segment).
//   - DATA_FIN both ways; once braid's DATA_FIN is DATA_ACKed the subflows are closed with FIN.
//   - more subflows (MP_JOIN, §3.2): a SYN with MP_JOIN is matched to its connection by token
//     (refuse_syn() answers an unknown token, a connection not established or at its subflow
//     limit, and any join while the listener is under SYN-cookie pressure with a RST: joins are
//     never stateless), the SYN/ACK carries the truncated HMAC-B and braid's nonce, the third
//     ACK's HMAC-A is checked (bad: RST) and answered at once (the "4th ACK"). Every subflow
//     feeds the one Receiver; new data goes to the non-backup subflow with the lowest RTT that
//     has congestion-window room; a subflow that dies (RST, timeout) has its un-DATA_ACKed data
//     reinjected on the others and the connection lives on while one subflow does (§3.3.6).
//     The application still names the connection by its initial subflow's ConnId (ConnIds are
//     never reused by the engine), even after that subflow is gone.
//
// Engine work decided inside a hook call (send more, an ACK to carry a DATA_FIN, a reset) is
// queued and done by poll(), which the owner calls after every engine call (the hook must not
// call back into the engine).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mptcp/counters.h"
#include "mptcp/crypto.h"
#include "mptcp/data_seq.h"
#include "mptcp/receiver.h"
#include "mptcp/scheduler.h"
#include "mptcp/sender.h"
#include "tcpstack/engine.h"
#include "tcpstack/hook.h"

struct rte_mempool;

namespace braid::mptcp {

// Tokens in use on this host (RFC 8684 §3.1: keys unique per host), token -> connection. A
// per-worker table now; a cross-worker one (rte_hash, MP_JOIN handover) implements the same.
class TokenTable {
public:
    virtual ~TokenTable() = default;
    virtual bool contains(uint32_t token) const = 0;
    // False if the token is taken.
    virtual bool insert(uint32_t token, tcp::ConnId c) = 0;
    virtual std::optional<tcp::ConnId> find(uint32_t token) const = 0;
    virtual void erase(uint32_t token) = 0;
};

class LocalTokenTable final : public TokenTable {
public:
    bool contains(uint32_t token) const override { return map_.contains(token); }
    bool insert(uint32_t token, tcp::ConnId c) override { return map_.emplace(token, c).second; }
    std::optional<tcp::ConnId> find(uint32_t token) const override;
    void erase(uint32_t token) override { map_.erase(token); }
    size_t size() const { return map_.size(); }

private:
    std::unordered_map<uint32_t, tcp::ConnId> map_;
};

// An address braid announces on a connection with ADD_ADDR (RFC 8684 §3.4.1): another local
// address the peer may open subflows to. braid is the passive side: it announces, the peer
// (the UE) decides whether to join; braid never opens subflows itself (§3.4.1 leaves that to
// the receiver of the announcement).
struct AdvertisedAddress {
    uint8_t id = 1;  // address ID, unique per connection; 0 is the initial subflow's (implicit)
    tcp::IpAddr address;
    std::optional<uint16_t> port;  // unset: the port the connection's peer connected to
    bool operator==(const AdvertisedAddress&) const = default;
};

// An address the peer announced (a valid ADD_ADDR; REMOVE_ADDR takes it away).
struct PeerAddress {
    uint8_t id = 0;
    tcp::IpAddr address;
    std::optional<uint16_t> port;
};

// braid's own announcement and whether the peer echoed it.
struct LocalAddressSummary {
    AdvertisedAddress addr;
    bool echoed = false;
    uint32_t sends = 0;  // ADD_ADDRs sent for it (first + retransmissions)
};

struct EndpointConfig {
    rte_mempool* data_pool = nullptr;  // mbufs for the stream handed to the application
    bool checksums = false;            // ask for DSS checksums (A in the SYN/ACK); Linux: off
    uint32_t rcv_buf = 256 * 1024;     // connection-level receive buffer
    uint32_t snd_buf = 256 * 1024;     // connection-level send buffer (§3.3.4: >= rcv side)
    std::array<uint8_t, 16> secret{};  // SYN-cookie key derivation
    std::function<uint64_t()> rng;     // keys and MP_JOIN nonces; required
    uint32_t max_subflows = 4;         // live subflows per connection (the initial one counts)
    SchedulerConfig scheduler;         // new connections' scheduler (set_scheduler changes one)
    // The access a subflow runs over, from its addresses (ATSSS: the UE's link-specific
    // addresses); unset: every subflow's access is unknown.
    std::function<Access(const tcp::FourTuple&)> access_of;
    // Addresses announced (ADD_ADDR) on a connection once its handshake is done, from its
    // initial subflow's tuple: per service (`tcp.services[].advertise`), or the proxy's address
    // per access. Unset or empty: nothing announced.
    std::function<std::vector<AdvertisedAddress>(const tcp::FourTuple&)> advertise;
    // An ADD_ADDR not echoed is sent again after add_addr_retry_us (doubling), at most
    // add_addr_tries times in all (§3.4.1: "a missing echo may trigger resend").
    uint32_t add_addr_tries = 3;
    uint64_t add_addr_retry_us = 1'000'000;
};

// clang-format off
#define BRAID_MPTCP_CONN_STATES(X)                                                  \
    X(handshake,   "HANDSHAKE")    /* SYN/ACK with our key sent, third ACK not yet */ \
    X(established, "ESTABLISHED")                                                    \
    X(fin_wait,    "FIN-WAIT")     /* our DATA_FIN sent, not DATA_ACKed */             \
    X(close_wait,  "CLOSE-WAIT")   /* the peer's DATA_FIN received, ours not sent */   \
    X(closing,     "CLOSING")      /* both DATA_FINs sent, ours not DATA_ACKed */     \
    X(closed,      "CLOSED")       /* both DATA_FINs sent, ours DATA_ACKed */
// clang-format on

enum class ConnState : uint8_t {
#define BRAID_X(name, text) name,
    BRAID_MPTCP_CONN_STATES(BRAID_X)
#undef BRAID_X
        count
};
std::string_view to_string(ConnState s);

// clang-format off
#define BRAID_MPTCP_SUBFLOW_STATES(X)                                                      \
    X(joining,     "JOINING")      /* MP_JOIN SYN/ACK sent, the third ACK's HMAC-A not yet */ \
    X(established, "ESTABLISHED")  /* may carry data */                                      \
    X(closing,     "CLOSING")      /* FIN sent on it after our DATA_FIN was DATA_ACKed */
// clang-format on

enum class SubflowState : uint8_t {
#define BRAID_X(name, text) name,
    BRAID_MPTCP_SUBFLOW_STATES(BRAID_X)
#undef BRAID_X
        count
};
std::string_view to_string(SubflowState s);

struct SubflowSummary {
    tcp::ConnId id;  // the engine connection
    SubflowId index;
    tcp::FourTuple tuple;
    SubflowState state;
    bool join;     // opened with MP_JOIN (false: the initial MP_CAPABLE subflow)
    bool backup;   // the peer asked braid to use it only when no other works (B, MP_PRIO)
    bool stalled;  // RTOs without progress: avoided, its data reinjected on the others
    uint8_t remote_address_id;
    Access access;
    uint32_t srtt_us, cwnd;
    uint32_t loss_ppm;             // estimated packet loss rate (LossEstimate), ppm
    uint64_t bytes_in, bytes_out;  // payload bytes received / queued for sending on it
};

struct ConnSummary {
    tcp::ConnId id;  // the initial subflow
    uint32_t local_token, remote_token;
    ConnState state;
    uint32_t subflows;
    bool checksums;
    SchedulerMode scheduler;
    uint64_t bytes_in, bytes_out;  // data-level, application bytes
    bool fallen_back;              // §3.7 infinite mapping (MP_FAIL, options stripped): plain TCP
};

class Endpoint final : public tcp::ConnHook {
public:
    using EventSink = std::function<void(const tcp::Event&)>;

    // `tokens` (not owned) outlives the endpoint; `events` gets the application's events (the
    // engine's, with `readable` for MPTCP connections coming from here).
    Endpoint(tcp::Engine& eng, const EndpointConfig& cfg, TokenTable& tokens, EventSink events);
    ~Endpoint() override;
    Endpoint(const Endpoint&) = delete;
    Endpoint& operator=(const Endpoint&) = delete;

    bool ok() const { return sha_.ok(); }
    // Feed every engine event through here (the owner's engine event sink calls it).
    void on_engine_event(const tcp::Event& e);
    // Queued engine work (see the header comment); call after every engine call.
    void poll(uint64_t now_us);

    // --- the application API: tcp::Engine's, for MPTCP and plain connections alike ------------
    uint32_t send(tcp::ConnId c, rte_mbuf* chain, uint64_t now_us);
    uint32_t send_space(tcp::ConnId c) const;
    void want_writable(tcp::ConnId c);
    rte_mbuf* recv(tcp::ConnId c, uint64_t now_us);
    uint32_t readable_bytes(tcp::ConnId c) const;
    bool peer_closed(tcp::ConnId c) const;
    void shutdown_write(tcp::ConnId c, uint64_t now_us);
    void close(tcp::ConnId c, uint64_t now_us);
    void abort(tcp::ConnId c, uint64_t now_us);
    // The scheduler of a live MPTCP connection (a PFCP Session Modification of its MAR applies
    // at once). False: no such MPTCP connection.
    bool set_scheduler(tcp::ConnId c, const SchedulerConfig& s, uint64_t now_us);
    // What new connections get (EndpointConfig::scheduler).
    const SchedulerConfig& default_scheduler() const { return cfg_.scheduler; }

    // §3.4.1: announce another local address on a live connection (ADD_ADDR with its HMAC, sent
    // again until echoed). False: no such MPTCP connection past its handshake, the ID is 0 or
    // taken by another address, or the connection fell back.
    bool advertise(tcp::ConnId c, const AdvertisedAddress& a, uint64_t now_us);
    // §3.4.2: withdraw an announced address: REMOVE_ADDR to the peer, and braid's subflows on
    // that address are reset (except the last one: the connection lives on it). False: no such
    // connection or no address with that ID announced.
    bool withdraw(tcp::ConnId c, uint8_t address_id, uint64_t now_us);
    std::vector<LocalAddressSummary> local_addresses(tcp::ConnId c) const;
    std::vector<PeerAddress> peer_addresses(tcp::ConnId c) const;

    bool is_mptcp(tcp::ConnId c) const { return conns_.contains(c); }
    // The application's view of a connection's TCP state: an MPTCP connection is as alive as
    // its initial subflow, or any other subflow once that one is gone.
    std::optional<tcp::State> state(tcp::ConnId c) const;
    // Engine::accept() without the MP_JOIN subflows (they belong to their connection).
    std::optional<tcp::ConnId> accept(tcp::ListenerId l);
    std::optional<tcp::ConnId> find_token(uint32_t local_token) const;
    std::vector<SubflowSummary> subflows(tcp::ConnId c) const;
    std::array<uint32_t, static_cast<size_t>(SubflowState::count)> subflows_by_state() const;
    std::optional<ConnSummary> describe(tcp::ConnId c) const;
    std::vector<ConnSummary> describe_all() const;
    std::array<uint32_t, static_cast<size_t>(ConnState::count)> connections_by_state() const;
    const Counters& counters() const { return counters_; }
    // Subflow payload bytes by the access of the subflow (Access::unknown too), received from
    // the peer (`received`) or sent to it: every MPTCP connection of this endpoint, the proxy's
    // UE sides included. Single-writer statistics.
    uint64_t access_bytes(Access a, bool received) const {
        return access_bytes_[static_cast<size_t>(a)][received ? 0 : 1];
    }

    // --- tcp::ConnHook ---------------------------------------------------------------------
    bool refuse_syn(const tcp::FourTuple& t, const tcp::wire::Header& h,
                    const tcp::wire::Options& o, bool cookie_pressure) override;
    bool on_syn(tcp::ConnId c, const tcp::FourTuple& t, const tcp::wire::Header& h,
                const tcp::wire::Options& o, uint64_t now_us) override;
    void on_syn_data(tcp::ConnId c, uint32_t len) override;
    void on_cookie_syn_ack(const tcp::FourTuple& t, uint32_t isn, const tcp::wire::Options& syn,
                           tcp::wire::Options& out) override;
    bool on_cookie_ack(tcp::ConnId c, const tcp::FourTuple& t, const tcp::wire::Header& h,
                       const tcp::wire::Options& o, uint64_t now_us) override;
    bool on_input(tcp::ConnId c, const tcp::wire::Header& h, const tcp::wire::Options& o,
                  uint32_t len, uint64_t now_us) override;
    void on_data(tcp::ConnId c, tcp::Seq seq, rte_mbuf* payload, uint32_t len,
                 uint64_t now_us) override;
    void on_output(tcp::ConnId c, const tcp::wire::Header& h, tcp::wire::Options& o,
                   const rte_mbuf* payload, uint32_t len, uint64_t now_us) override;
    uint32_t rcv_held(tcp::ConnId c) const override;
    uint32_t data_option_room(tcp::ConnId c) const override;
    uint32_t segment_limit(tcp::ConnId c, tcp::Seq seq) const override;
    void on_closed(tcp::ConnId c) override;
    void on_rst_output(tcp::ConnId c, tcp::wire::Options& o) override;
    void on_rst_input(tcp::ConnId c, const tcp::wire::Options& o) override;

private:
    // A range of subflow sequence space that carries a contiguous range of DSNs.
    struct TxMap {
        uint32_t ssn;  // relative
        uint64_t dsn;
        uint32_t len;
    };
    struct Subflow {
        tcp::ConnId id = 0;
        SubflowId index = 0;
        tcp::FourTuple tuple;
        SubflowState state = SubflowState::joining;
        bool join = false;
        bool backup = false;
        uint8_t remote_address_id = 0;
        uint8_t local_address_id = 0;
        uint32_t local_nonce = 0, remote_nonce = 0;
        tcp::Seq iss, irs;
        uint32_t tx_ssn = 1;  // relative SSN of the next byte queued on the subflow
        std::deque<TxMap> txmaps;
        bool need_ack = false, need_abort = false;
        // The reason its RST carries in MP_TCPRST when braid resets this subflow alone (§3.6).
        std::optional<wire::ResetReason> rst_reason;
        std::optional<uint8_t> peer_rst_reason;  // the MP_TCPRST reason of the peer's RST
        // Signals for the next pure ACK on this subflow (ADD_ADDR and its echo, REMOVE_ADDR
        // and MP_FAIL do not fit next to a data segment's DSS: §2.7 "a separate ACK").
        std::optional<wire::AddAddr> add_addr_out;
        std::optional<wire::RemoveAddr> remove_addr_out;
        Access access = Access::unknown;
        bool stalled = false;  // RTOs without progress: its data reinjected, new data avoids it
        LossEstimate loss;     // sampled by check_stalls(), for the PLR threshold
        uint64_t bytes_in = 0, bytes_out = 0;
    };
    struct Conn {
        tcp::ConnId id = 0;  // the initial subflow's: the application's name for it
        ConnState state = ConnState::handshake;
        crypto::KeyMaterial local;
        crypto::KeyMaterial remote;
        bool checksums = false;
        bool syn_asked_checksums = false;
        std::optional<Receiver> rx;
        std::optional<Sender> tx;
        std::vector<std::unique_ptr<Subflow>> subflows;  // live ones
        SubflowId next_index = 1;        // never reused (Sender/Receiver keep per-index state)
        std::optional<DataSeq> fin_dsn;  // our DATA_FIN's DSN once handed to a subflow
        bool app_closed = false;         // close(): received data is discarded
        bool subflows_closed = false;    // FIN on the subflows after our DATA_FIN was acked
        bool peer_fin_told = false;      // the application got `readable` for the DATA_FIN
        bool wants_writable = false;     // want_writable(): `writable` once send_space() > 0
        uint64_t fin_retry_us = 0;       // when our un-DATA_ACKed DATA_FIN goes out again
        uint64_t fin_backoff_us = 0;
        // Connection-level zero-window probing (see check_window_probes): 0 = not armed.
        uint64_t probe_at_us = 0;
        uint64_t probe_backoff_us = 0;
        bool need_pump = false, need_abort = false, need_window = false;
        SchedulerConfig sched;
        BalanceBytes balance{};  // load balancing: new bytes per access while both were usable
        bool fastclose = false;  // braid aborts it: its subflows' RSTs carry MP_FASTCLOSE
        bool peer_fastclosed = false;  // the peer's MP_FASTCLOSE: the application sees a reset
        struct LocalAddr {
            AdvertisedAddress addr;
            bool echoed = false;
            bool given_up = false;  // add_addr_tries sent, no echo
            bool pending = false;   // an ADD_ADDR waits for a pure ACK
            uint32_t sends = 0;
            uint64_t retry_us = 0, backoff_us = 0;
        };
        std::vector<LocalAddr> local_addrs;  // announced, not withdrawn
        std::vector<PeerAddress> peer_addrs;
        bool announced = false;  // cfg.advertise consulted (once, at the handshake)
        // §3.7: a joined subflow ends the infinite-mapping fallback option for good.
        bool ever_joined = false;
        bool dss_seen = false;  // a DSS (or MP_CAPABLE with data) arrived since the handshake
        bool infinite = false;  // fell back: plain TCP on the one subflow, no DSS
        std::optional<uint64_t> mp_fail_out;   // MP_FAIL to send (the DSN), on a pure ACK
        bool mp_fail_sent = false;             // ours went out (the peer's then is the echo)
        bool infinite_map_sent = false;        // the one DSS with the infinite mapping
        std::optional<uint64_t> infinite_dsn;  // its DSN: retroactive from the failed data
        uint64_t bytes_in = 0, bytes_out = 0;

        Subflow* subflow(tcp::ConnId sid);
        const Subflow* subflow(tcp::ConnId sid) const;
    };
    struct JoinCheck {
        Conn* conn = nullptr;
        std::optional<wire::MpJoinSyn> syn;
        std::optional<Counter> refused;
    };

    Conn* find(tcp::ConnId c);
    const Conn* find(tcp::ConnId c) const;
    // The connection a subflow (engine connection) belongs to, and the subflow.
    std::pair<Conn*, Subflow*> find_subflow(tcp::ConnId sid);
    std::pair<const Conn*, const Subflow*> find_subflow(tcp::ConnId sid) const;
    Conn& create(tcp::ConnId c, const tcp::FourTuple& t, const crypto::KeyMaterial& k);
    void forget(tcp::ConnId c);
    void queue(Conn& c);
    JoinCheck check_join(const tcp::wire::Options& o, bool cookie_pressure);
    bool join_input(Conn& c, Subflow& s, const tcp::wire::Options& o);
    // Subflows that may take new data now, best first (see the header comment).
    struct Candidate {
        Subflow* sf;
        bool copies_only;  // redundant: only copies of what another subflow sent
        bool balanced;     // load balancing between two accesses: count its bytes
    };
    using Candidates = FixedList<Candidate, max_scheduled_subflows>;
    Candidates candidates(Conn& c);
    void pump(Conn& c, uint64_t now_us);
    void abort_subflows(Conn& c, uint64_t now_us);
    void peer_fastclose(Conn& c, const wire::MpFastclose& f);
    void update_state(Conn& c);
    uint64_t cookie_key(const tcp::FourTuple& t, uint32_t isn) const;
    bool complete_handshake(Conn& c, const wire::MpCapable& cap, uint32_t window);
    void emit_option(const wire::Option& opt, tcp::wire::Options& o);
    void readable_event(Conn& c);
    // ADD_ADDR / REMOVE_ADDR / MP_FAIL (RFC 8684 §3.4, §3.7).
    void start_announcements(Conn& c, uint64_t now_us);
    Subflow* signal_subflow(Conn& c, std::optional<uint8_t> avoid_local_id = {});
    void add_addr_input(Conn& c, Subflow& s, const wire::AddAddr& a);
    void remove_addr_input(Conn& c, const wire::RemoveAddr& r);
    void mp_fail_input(Conn& c, Subflow& s, const wire::MpFail& f);
    // §3.7 fallback to plain TCP on the one subflow: `reason` fallback_mp_fail (a checksum
    // failure or the peer's MP_FAIL: MP_FAIL with `failed_dsn` goes out) or fallback_no_dss
    // (options stripped on data: no MP_FAIL, only the infinite mapping).
    void fall_back(Conn& c, Subflow& s, std::optional<uint64_t> failed_dsn,
                   Counter reason = Counter::fallback_mp_fail);
    // §3.7: data, or an ACK of braid's data, without a DSS on the only subflow before any DSS
    // arrived: a middlebox strips the options from data segments. True: the connection fell
    // back to plain TCP.
    bool options_stripped(Conn& c, Subflow& s, const tcp::wire::Header& h, uint32_t len);
    void emit_signals(Conn& c, Subflow& s, tcp::wire::Options& o, uint64_t now_us);
    bool add_local(Conn& c, const AdvertisedAddress& a);
    void check_announcements(uint64_t now_us);
    std::vector<tcp::ConnId> announcing_;

    tcp::Engine& eng_;
    EndpointConfig cfg_;
    TokenTable& tokens_;
    EventSink events_;
    crypto::Sha256 sha_;
    Counters counters_{};
    std::array<std::array<uint64_t, 2>, 3> access_bytes_{};  // [access][received, sent]
    std::unordered_map<tcp::ConnId, std::unique_ptr<Conn>> conns_;
    std::unordered_map<tcp::ConnId, tcp::ConnId> subflow_conn_;  // subflow -> connection
    std::vector<tcp::ConnId> pending_;
    std::vector<tcp::ConnId> fin_wait_;
    uint64_t next_stall_check_us_ = 0;
    void check_stalls(uint64_t now_us);  // our DATA_FIN sent, not DATA_ACKed: retried by poll()
    // Nothing in flight on any subflow, so no subflow timer runs and the peer has nothing to
    // answer, while the connection is stuck: the peer's connection-level window (§3.3.4) is
    // closed with data waiting (its window update may be lost), or the subflows acknowledged
    // data the peer never DATA_ACKed (§3.3.6; with one subflow check_stalls cannot help).
    // poll() then probes (the subflow's old-sequence ACK: the peer answers with DATA_ACK +
    // window) or sends the un-DATA_ACKed data again, from the subflow's RTO, doubling up to
    // window_probe_max_us like the engine's persist timer.
    bool window_blocked(const Conn& c) const;
    bool data_unacked(const Conn& c) const;
    bool subflows_idle(const Conn& c) const;
    void arm_window_probe(Conn& c, uint64_t now_us);
    void check_window_probes(uint64_t now_us);
    std::vector<tcp::ConnId> probing_;
};

// First re-send of a DATA_FIN the peer has not DATA_ACKed (doubling, at most fin_retry_max_us).
inline constexpr uint64_t fin_retry_initial_us = 1'000'000;
inline constexpr uint64_t fin_retry_max_us = 30'000'000;
// Connection-level window probes: the first after the probing subflow's RTO, doubling up to
// this (the engine's persist timer's cap, rto_max).
inline constexpr uint64_t window_probe_max_us = 60'000'000;
// A subflow whose RTO fired this many times in a row without progress counts as stalled while
// another subflow works: its un-DATA_ACKed data goes out on the others (§3.3.6), new data
// avoids it until an ACK moves it again. Checked every stall_check_us. One: the first RTO
// already fails over (issue 6: active-standby "failover within 1 s of a link cut"; with the
// daemon's 200 ms rto_min the first expiry comes ~0.2-0.3 s after the cut, the second one
// only ~0.6-0.7 s later, too close to the bound under load). A spurious RTO costs a copy of
// the subflow's unacknowledged bytes on another subflow (the peer delivers the first one) and
// the subflow is used again at its next ACK.
inline constexpr uint32_t stall_backoffs = 1;
inline constexpr uint64_t stall_check_us = 50'000;
// After both DATA_FINs a subflow is reset as on a dead path after this many RTOs in a row.
inline constexpr uint32_t dead_path_backoffs = 2;

}  // namespace braid::mptcp
