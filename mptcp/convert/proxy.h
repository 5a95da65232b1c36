// The RFC 8803 transport converter as an application on one worker's tcp::Engine and
// mptcp::Endpoint (issue 7): UE-side connections (MPTCP, or plain TCP carrying a Convert
// message) arrive on a listener that defers SYNs with data (tcpstack ListenOptions::
// defer_syn_data); the Converter decides; the N6 side is a plain engine connection; bytes are
// relayed both ways with backpressure. Sans-I/O like the engine: the owner (dataplane TcpHost)
// feeds it the events of its connections and the clock, and moves the segments.
//
// One proxied connection, in order:
//   1. syn_data event: the UE's SYN data (Convert message [+ data]) goes to Converter::on_syn
//      with the session's context (UeLookup). ignore → the SYN is forgotten (no segment);
//      reset → RST; reply (Error TLV or Info answer) → SYN/ACK now, the reply as the first
//      bytes of the stream, then FIN; open_n6 → engine connect() from the chosen N6 source.
//   2. The N6 SYN/ACK → Converter::on_n6_outcome → the UE's SYN/ACK (acknowledging all SYN
//      data), the Convert reply first in the UE-bound stream, then the relay. N6 RST, a hard
//      ICMP error (tcp::Engine::icmp_error: Destination Unreachable with its code) or no
//      answer within ProxyConfig::n6_connect_timeout_us (with the last soft ICMP error's code
//      if one came, RFC 1122 §4.2.3.9) → the Error TLV, then FIN (never an
//      immediate RST, RFC 8803 §6.2.2). User data that followed the Convert message in the SYN
//      data is sent on N6 after its handshake.
//   3. Relay: a direction moves bytes only while the receiving side has send space, and at
//      most one recv() chain per direction waits in the proxy; what is not read stays in the
//      sending side's receive buffer, so its advertised window shrinks (MPTCP: the connection
//      level window, rcv_held). Nothing accepted is dropped; memory is bounded by the buffers.
//   4. Teardown (RFC 8803 §4.2, §5.1, Converter::on_event): UE DATA_FIN (FIN) → FIN on N6 after
//      the relayed bytes; N6 FIN → DATA_FIN (FIN) to the UE after the relayed bytes; N6 RST or
//      N6 retransmission timeout → the UE side is reset (the Endpoint's abort: RST with
//      MP_FASTCLOSE on every subflow); UE reset → N6 RST. One
//      subflow's RST is the Endpoint's business (the connection lives on its other subflows).
//   5. Session steering (issue 7, PFCP): a connection opened for a session (UeContext::seid)
//      gets the session's scheduler (its MPTCP MAR, UeContext::scheduler) at once. The owner
//      calls check_sessions() every tick: it looks a bounded number of connections up again
//      (set_session_lookup) and applies a new snapshot's scheduler (Endpoint::set_scheduler),
//      or, when the session is gone (lookup fails, or the address now belongs to another
//      SEID), closes the connection: MP_FASTCLOSE (RST) to the UE, and toward the server the
//      bytes already taken from the UE, then FIN (see close_for_session in proxy.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "mptcp/convert/converter.h"
#include "mptcp/endpoint.h"
#include "tcpstack/engine.h"

struct rte_mempool;

namespace braid::mptcp::convert {

struct ProxyConfig {
    tcp::IpAddr address;  // the proxy address the UEs were given (MPTCP Parameters)
    uint16_t port = 0;
    uint16_t ue_mss_clamp = 0;  // UE-side MSS (fits GTP-U); 0: engine default
    uint16_t n6_mss_clamp = 0;
    uint32_t ue_rcv_buf = 0;  // 0: engine default
    uint32_t n6_rcv_buf = 0;
    uint64_t n6_connect_timeout_us = 10'000'000;  // no N6 SYN/ACK by then: Network Failure
    rte_mempool* pool = nullptr;                  // mbufs for the Convert replies (required)
    uint16_t port_min = 32768;                    // N6 source ports (sharing mode)
    uint16_t port_max = 60999;
    // After a Session Deletion: how long the N6 side may take to finish (its FIN) before it
    // is reset, and how many connections check_sessions() looks at per call.
    uint64_t session_close_linger_us = 5'000'000;
    uint32_t session_checks_per_tick = 64;
    // With several workers (dataplane/tcp_host.h): the N6 connection's replies reach any
    // worker, so its tuple is registered as this worker's before the SYN leaves. n6_claim false
    // (another worker's flow, or the table full): the connect fails like a refused one.
    // n6_opened tells the outcome (the connection, or nullopt: release the claim). Unset: none.
    std::function<bool(const tcp::FourTuple&)> n6_claim;
    std::function<void(const tcp::FourTuple&, std::optional<tcp::ConnId>)> n6_opened;
};

// The owner's session lookup: the context of the UE whose address is `ue` (the UE-side
// connection's remote address).
using UeLookup = std::function<UeContext(const tcp::IpAddr& ue)>;

// clang-format off
#define BRAID_PROXY_STATES(X)                                                            \
    X(connecting, "CONNECTING") /* N6 SYN sent, the UE's SYN held */                   \
    X(replying,   "REPLYING")   /* UE SYN/ACK sent, the Convert reply waits for ESTABLISHED */ \
    X(relaying,   "RELAYING")   /* both sides up, bytes moving */                      \
    X(closing,    "CLOSING")    /* an Error reply then FIN, or one side finished */

#define BRAID_PROXY_COUNTERS(X)                                                          \
    X(syns,            "deferred UE SYNs handed to the converter")                      \
    X(n6_connects,     "N6 connections opened")                                         \
    X(n6_connect_failed, "N6 connections the engine refused to open (tuple in use, limit)") \
    X(n6_timeouts,     "N6 SYNs unanswered within n6_connect_timeout_us")                \
    X(established,     "proxied connections relaying")                                  \
    X(error_replies,   "Error TLV replies sent (then FIN)")                             \
    X(ue_gave_up,      "UE SYNs reset or timed out while the N6 SYN was pending")        \
    X(ue_resets,       "UE sides reset after establishment (N6 RST sent)")               \
    X(n6_resets,       "N6 sides reset or timed out after establishment (UE side reset)") \
    X(bytes_up,        "bytes relayed UE to N6")                                        \
    X(bytes_down,      "bytes relayed N6 to UE")                                        \
    X(no_mbuf,         "replies not sent: mbuf pool empty")                              \
    X(scheduler_updates, "live connections given a new scheduler (MAR modified)")        \
    X(session_deleted, "connections closed because their session was deleted")          \
    X(session_linger_resets, "N6 sides reset: no FIN within the linger after deletion")
// clang-format on

enum class ProxyState : uint8_t {
#define BRAID_X(name, text) name,
    BRAID_PROXY_STATES(BRAID_X)
#undef BRAID_X
        count
};
std::string_view to_string(ProxyState s);

enum class ProxyCounter : uint8_t {
#define BRAID_X(name, help) name,
    BRAID_PROXY_COUNTERS(BRAID_X)
#undef BRAID_X
        count
};
inline constexpr size_t proxy_counter_count = static_cast<size_t>(ProxyCounter::count);
std::string_view to_string(ProxyCounter c);
std::string_view help(ProxyCounter c);

// Connection setup latency: the UE's SYN to the UE's SYN/ACK, i.e. the N6 handshake the
// proxy waits for (0-RTT conversion). Upper bounds of the buckets in microseconds; the last
// count is +Inf. Written by the owning worker, read by exporters (single-writer statistics).
inline constexpr std::array<uint64_t, 12> setup_buckets_us = {
    250, 500, 1'000, 2'500, 5'000, 10'000, 25'000, 50'000, 100'000, 250'000, 1'000'000, 5'000'000};
struct SetupHistogram {
    std::array<uint64_t, setup_buckets_us.size() + 1> counts{};  // not cumulative
    uint64_t sum_us = 0;
    uint64_t total() const {
        uint64_t n = 0;
        for (uint64_t c : counts) {
            n += c;
        }
        return n;
    }
    void add(uint64_t us);
    // The smallest bucket bound below which a fraction q of the samples lie (UINT64_MAX: the
    // +Inf bucket, 0: no samples).
    uint64_t quantile_bound_us(double q) const;
};

struct ProxyConnInfo {
    uint32_t id = 0;
    ProxyState state = ProxyState::connecting;
    tcp::ConnId ue = 0;  // the Endpoint's connection (its initial subflow)
    tcp::ConnId n6 = 0;  // 0: none (an Error or Info reply)
    tcp::FourTuple ue_tuple;
    tcp::FourTuple n6_tuple;
    bool mptcp = false;
    uint64_t bytes_up = 0, bytes_down = 0;
    uint64_t started_us = 0;
    std::optional<Refusal> refusal;            // the reason of an Error reply
    uint64_t seid = 0;                         // the session it was opened for (0: none)
    uint64_t generation = 0;                   // the session snapshot last applied
    std::optional<SchedulerConfig> scheduler;  // from the session's MAR (unset: default)
    bool session_deleted = false;              // closing because the session went away
};

class Proxy {
public:
    Proxy(tcp::Engine& eng, Endpoint& ep, Converter& conv, UeLookup lookup, ProxyConfig cfg);
    ~Proxy();
    Proxy(const Proxy&) = delete;
    Proxy& operator=(const Proxy&) = delete;

    // Opens the proxy's listener (MPTCP hook, deferred SYNs). False: the port is taken.
    bool start();
    // How check_sessions() finds a connection's session again (by the session's UE address,
    // UeContext::in_session false when there is none). Unset: sessions are never checked.
    void set_session_lookup(UeLookup f) { session_lookup_ = std::move(f); }
    // Looks up to ProxyConfig::session_checks_per_tick connections' sessions again (round
    // robin over passes): applies a changed scheduler, closes those whose session is gone.
    void check_sessions(uint64_t now_us);
    tcp::ListenerId listener() const { return lid_; }
    const ProxyConfig& config() const { return cfg_; }

    // Every application event of the owner's Endpoint goes here first: true if it was the
    // proxy's (the owner then ignores it).
    bool on_event(const tcp::Event& e, uint64_t now_us);
    void on_timer(uint64_t now_us);
    uint64_t next_timer() const;

    std::vector<ProxyConnInfo> describe_all() const;
    std::optional<ProxyConnInfo> describe(uint32_t id) const;
    std::array<uint32_t, static_cast<size_t>(ProxyState::count)> connections_by_state() const;
    uint64_t operator[](ProxyCounter c) const { return counters_[static_cast<size_t>(c)]; }
    const std::array<uint64_t, proxy_counter_count>& counters() const { return counters_; }
    const Converter& converter() const { return conv_; }
    const SetupHistogram& setup_histogram() const { return setup_; }
    size_t size() const { return conns_.size(); }

private:
    struct Conn;
    // N6 source ports: the preferred one (the UE's, in preserving mode) if no proxied
    // connection of this worker holds the same tuple, else the next free one of the range.
    class Ports final : public PortSource {
    public:
        Ports(uint16_t lo, uint16_t hi) : lo_(lo), hi_(hi), next_(lo) {}
        std::optional<uint16_t> reserve(const Address& src, const Address& dst, uint16_t dst_port,
                                        uint16_t preferred) override;
        void release(const Address& src, const Address& dst, uint16_t dst_port, uint16_t port);

    private:
        using Key =
            std::tuple<std::array<uint8_t, 16>, std::array<uint8_t, 16>, uint16_t, uint16_t>;
        std::map<Key, bool> used_;
        uint16_t lo_, hi_, next_;
    };

    void on_syn_data(tcp::ConnId u, uint64_t now_us);
    void on_n6_event(Conn& c, const tcp::Event& e, uint64_t now_us);
    void on_ue_event(Conn& c, const tcp::Event& e, uint64_t now_us);
    void answer_ue(Conn& c, const Decision& d, bool close_after, uint64_t now_us);
    void send_reply(Conn& c, uint64_t now_us);
    void pump(Conn& c, uint64_t now_us);
    bool relay(tcp::ConnId from, tcp::ConnId to, rte_mbuf*& pending, uint64_t& bytes,
               uint64_t now_us);
    void n6_failed(Conn& c, const N6Outcome& o, uint64_t now_us);
    void maybe_finish(Conn& c);
    void close_for_session(Conn& c, uint64_t now_us);
    void drain_deleted(Conn& c, uint64_t now_us);
    void release_n6(Conn& c);
    void count(ProxyCounter k, uint64_t n = 1) { counters_[static_cast<size_t>(k)] += n; }
    UeState& ue_state(const tcp::IpAddr& a) { return ues_[a]; }
    ProxyConnInfo info(const Conn& c) const;

    tcp::Engine& eng_;
    Endpoint& ep_;
    Converter& conv_;
    UeLookup lookup_;
    UeLookup session_lookup_;
    ProxyConfig cfg_;
    Ports ports_;
    tcp::ListenerId lid_ = 0;
    uint32_t next_id_ = 1;
    std::unordered_map<uint32_t, std::unique_ptr<Conn>> conns_;
    std::unordered_map<tcp::ConnId, uint32_t> by_ue_;
    std::unordered_map<tcp::ConnId, uint32_t> by_n6_;
    std::unordered_map<tcp::IpAddr, UeState, tcp::IpAddrHash> ues_;
    // Connections a relay direction stopped on (no send space, or no mbuf for a split): pumped
    // again on the next on_timer() as well as on their writable events.
    std::vector<uint32_t> blocked_;
    // Connect deadlines and session lingers, earliest first, so that a tick looks at the due
    // ones only. An entry whose connection has moved on (connected, closed) is dropped when it
    // comes due; each connection adds at most two.
    struct Timer {
        uint64_t at_us = 0;
        uint32_t id = 0;
        bool operator>(const Timer& o) const { return at_us > o.at_us; }
    };
    std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
    std::array<uint64_t, proxy_counter_count> counters_{};
    SetupHistogram setup_;
    std::vector<uint32_t> check_queue_;  // check_sessions(): the rest of the current pass
};

}  // namespace braid::mptcp::convert
