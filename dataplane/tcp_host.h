// braid's own TCP endpoint on a worker (issue 5): the tcpstack engine wired to the ports, plus
// the test applications that run on it (echo, sink, source, discard) for interop tests against
// the Linux kernel and for operators checking a path. The MPTCP proxy (issues 6, 7) will be the
// second application of the same engine.
//
// One TcpHost per worker, used by that worker only (pipelines/tcp_local.cc feeds it segments
// addressed to braid, `tcp_timers` polls it). The control core reaches it through
// App::call_on_worker (CLI commands, `show tcp ...`); exporter threads read only counters()
// and states(), which the worker writes as single-writer statistics (dataplane/counter.h).
//
// Frames out: IP packets (no Ethernet header yet) in mbufs from `pool`, the TCP payload chained
// after the header mbuf, with MbufMeta::port_index set to the port that owns the source address;
// the caller adds the Ethernet header toward the next hop and sends them.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "dataplane/counter.h"
#include "dataplane/flow_owner.h"
#include "dataplane/sha256.h"
#include "mptcp/convert/converter.h"
#include "mptcp/convert/proxy.h"
#include "mptcp/endpoint.h"
#include "pipelines/drop_reasons.h"
#include "tcpstack/engine.h"

struct rte_mbuf;
struct rte_mempool;

namespace braid::dataplane {

namespace sdf {
struct PacketKey;
}
struct PortRuntime;
struct SessionRules;
class SessionTable;
class TokenOwnerTable;

// The flow-owner key of the segments a connection receives (remote → local).
FlowKey flow_key_in(const tcp::FourTuple& t);

// What the proxy's converter and its session steering know of a session's UE (proxy_input
// builds it for each uplink T-PDU; the proxy's session checks for live connections).
mptcp::convert::UeContext ue_context(const SessionRules& rules);

// clang-format off
#define BRAID_TCP_APP_MODES(X)                                                   \
    X(echo,    "sends back every byte it receives, closes after the peer does")  \
    X(sink,    "reads and hashes everything, closes after the peer does")       \
    X(source,  "sends `bytes` bytes of a seeded pattern, then closes")          \
    X(discard, "reads and drops everything (no hash), closes after the peer")
// clang-format on

enum class TcpAppMode : uint8_t {
#define BRAID_X(name, help) name,
    BRAID_TCP_APP_MODES(BRAID_X)
#undef BRAID_X
        count
};
std::string_view to_string(TcpAppMode m);
std::optional<TcpAppMode> tcp_app_mode(std::string_view name);

// What an application connection did: live ones from their state, finished ones kept (a bounded
// history) so that a test or an operator can read the result after the close.
struct TcpAppRecord {
    tcp::ConnId conn = 0;
    unsigned worker = 0;
    tcp::FourTuple tuple;
    TcpAppMode mode = TcpAppMode::echo;
    bool active_open = false;  // braid connected (client) rather than accepted
    bool finished = false;
    tcp::CloseReason reason = tcp::CloseReason::normal;  // when finished
    uint64_t rx_bytes = 0;
    uint64_t tx_bytes = 0;      // queued to the engine (for source: the pattern bytes)
    uint64_t target_bytes = 0;  // source: how many to send
    std::string rx_sha256;      // of everything received (sink/echo), when finished
    std::string tx_sha256;      // of everything sent (source/echo), when finished
    uint64_t started_us = 0;
    uint64_t finished_us = 0;
};

// Client addresses of one access (the MPTCP scheduler's view of a subflow; ATSSS sessions get
// this from PFCP, a test service from the config).
struct AccessPrefix {
    tcp::IpAddr addr;
    uint8_t len = 0;
    mptcp::Access access = mptcp::Access::unknown;
    bool contains(const tcp::IpAddr& a) const;
};

// A listening application on braid's N6 addresses (eth_classify passes TCP to braid only there).
struct TcpServiceSpec {
    uint16_t tcp_port = 0;
    TcpAppMode mode = TcpAppMode::echo;
    uint64_t bytes = 0;  // source: bytes per connection
    bool mptcp = false;  // MPTCP v1 listener (mptcp/endpoint.h); plain TCP clients fall back
    mptcp::SchedulerConfig scheduler;  // MPTCP: each accepted connection's scheduler
    std::vector<AccessPrefix> access;  // MPTCP: which client addresses are which access
    // MPTCP: braid's other addresses announced (ADD_ADDR) on each accepted connection.
    std::vector<mptcp::AdvertisedAddress> advertise;
};

struct TcpConnectSpec {
    uint16_t port_index = 0;  // braid port whose address is the source
    tcp::IpAddr remote;
    uint16_t remote_port = 0;
    uint16_t local_port = 0;  // 0: an ephemeral port of this worker
    TcpAppMode mode = TcpAppMode::source;
    uint64_t bytes = 0;
};

// clang-format off
#define BRAID_TCP_HOST_COUNTERS(X)                                                        \
    X(frames_out,        "IP packets built from the engine's segments")                  \
    X(tx_no_mbuf,        "segments not sent: the header mempool was empty")              \
    X(app_no_mbuf,       "source applications that found the mempool empty (retried)")    \
    X(app_connections,   "application connections opened (accepted or connected)")       \
    X(app_finished,      "application connections finished")                             \
    X(farewell_frames,   "proxy segments to UEs whose session was deleted, sent through the last known tunnel") \
    X(join_handovers,    "MP_JOIN SYNs handed to the worker holding their token (several workers)")
// clang-format on

enum class TcpHostCounter : uint8_t {
#define BRAID_X(name, help) name,
    BRAID_TCP_HOST_COUNTERS(BRAID_X)
#undef BRAID_X
        count
};

// The RFC 8803 proxy on this worker (mptcp/convert/proxy.h): its listener on the proxy
// address, the converter's policy, and the port its N6 connections leave by.
struct ProxyHostConfig {
    mptcp::convert::Policy policy;
    mptcp::convert::ProxyConfig proxy;  // pool: TcpHostConfig::pool when unset
    uint16_t n6_port_index = 0;
    // The access of a UE's link-specific multipath address (issue 7; App: the session table's
    // lock-free lookup, SessionTable::by_link_address): how each proxied subflow is classified
    // for the scheduler. Unset, or an address that is none: Access::unknown.
    std::function<mptcp::Access(const tcp::IpAddr&)> link_access;
};

struct TcpHostConfig {
    tcp::EngineConfig engine;         // clone_pool required
    rte_mempool* pool = nullptr;      // header mbufs and source payload
    FlowOwnerTable* flows = nullptr;  // with several workers: active opens registered here
    // With several workers: MPTCP tokens unique across them (SharedTokenTable), so that a
    // worker receiving an MP_JOIN finds which one holds the connection. nullptr: a local table.
    TokenOwnerTable* tokens = nullptr;
    unsigned worker = 0;
    unsigned n_workers = 1;
    size_t history = 256;                  // finished application records kept
    bool mptcp_checksums = false;          // ask MPTCP peers for DSS checksums
    std::optional<ProxyHostConfig> proxy;  // the MPTCP proxy (issue 7); unset: none
    // The proxy finds its connections' sessions again here (lock-free reads on the worker,
    // between two quiescent-state reports: poll() runs inside the graph walk). nullptr: live
    // connections do not follow their session (MAR changes, deletion).
    const SessionTable* sessions = nullptr;
};

class TcpHost {
public:
    // `ports`: every port of the instance (the local addresses and which port sends from them).
    TcpHost(const TcpHostConfig& cfg, std::span<const PortRuntime> ports);
    ~TcpHost();
    TcpHost(const TcpHost&) = delete;
    TcpHost& operator=(const TcpHost&) = delete;

    // A frame addressed to one of braid's addresses, IPv4 or IPv6 carrying TCP, as
    // eth_classify passed it (Ethernet at the data pointer, MbufMeta::l3_offset set, IP header
    // validated). Takes the mbuf; DropReason::count when the engine got it, else the reason
    // the caller must count (the mbuf is then still the caller's).
    pipelines::DropReason input(rte_mbuf* m, uint64_t now_us);
    // An ICMP/ICMPv6 error (same mbuf contract as input(), the IP header at l3_offset) for one
    // of braid's TCP connections: the engine acts on it (tcp::Engine::icmp_error; e.g. the
    // proxy's N6 SYN answered by Destination Unreachable). Its bytes are checked first.
    pipelines::DropReason input_icmp(rte_mbuf* m, uint64_t now_us);
    // An uplink T-PDU for the proxy: the UE's inner IP packet (IPv4/IPv6 TCP to the proxy
    // address, the mbuf starting at the IP header) and what its session says about the UE.
    // Same ownership rules as input(). Segments the proxy sends to UEs are collected in
    // downlink_frames() (inner IP packets for the session's downlink path); its N6 segments
    // go to frames() with the N6 port as MbufMeta::port_index.
    pipelines::DropReason input_uplink(rte_mbuf* m, const mptcp::convert::UeContext& ue,
                                       uint64_t now_us);
    std::vector<rte_mbuf*>& downlink_frames() { return dl_frames_; }
    // The T-PDU whose key pdr_ul extracted (sdf::extract_key, uplink) is TCP to the proxy's
    // address and port.
    bool for_proxy(const sdf::PacketKey& key) const;
    // A segment with this tuple (local = its destination) belongs to a connection here.
    bool owns(const tcp::FourTuple& t) const { return engine_->owns(t); }
    // The proxy (nullptr: not configured). Its connections only on the owning worker; its
    // counters and the converter's are single-writer statistics anyone may read.
    const mptcp::convert::Proxy* proxy() const { return proxy_.get(); }
    uint64_t proxy_connections_in(mptcp::convert::ProxyState s) const {
        return proxy_states_[static_cast<size_t>(s)].get();
    }
    // With several workers: a subflow another worker routed here (proxy_input: an MP_JOIN SYN
    // for one of this worker's tokens, its flow registered to this worker so that its later
    // segments follow). Its flow is erased from the flow-owner table once the engine has no
    // connection with the tuple any more (checked every states period).
    void adopt_flow(const tcp::FourTuple& t);
    size_t adopted_flows() const { return adopted_.size(); }
    // The worker that handed an MP_JOIN SYN over counts it here (single writer: this worker).
    void count_join_handover() { count(TcpHostCounter::join_handovers); }
    // Timers and applications. Call every loop; it does work at most every `tick_us`.
    void poll(uint64_t now_us);
    // Frames built since the last take (IP packets, see above). The caller owns them.
    std::vector<rte_mbuf*>& frames() { return frames_; }

    // --- control (the owning worker, or anyone before the worker runs) ----------------------
    // Listen on a port's addresses with an application. Error text on failure.
    std::optional<std::string> add_service(const TcpServiceSpec& s);
    std::optional<std::string> remove_service(uint16_t tcp_port);
    const std::vector<TcpServiceSpec>& services() const { return services_; }
    // Open a connection running an application. The connection id, or an error text.
    std::variant<tcp::ConnId, std::string> connect(const TcpConnectSpec& s, uint64_t now_us);
    bool close(tcp::ConnId c, uint64_t now_us);
    // MPTCP address signalling on a live connection named by braid's token (RFC 8684 §3.4.1,
    // §3.4.2: ADD_ADDR until echoed; REMOVE_ADDR and braid's subflows on it reset).
    bool mptcp_advertise(uint32_t token, const mptcp::AdvertisedAddress& a, uint64_t now_us);
    bool mptcp_withdraw(uint32_t token, uint8_t address_id, uint64_t now_us);
    bool abort(tcp::ConnId c, uint64_t now_us);
    std::vector<TcpAppRecord> apps() const;  // live ones, then finished ones, oldest first

    tcp::Engine& engine() { return *engine_; }
    const tcp::Engine& engine() const { return *engine_; }
    // The access of a subflow (the MPTCP Endpoint's EndpointConfig::access_of): to the proxy,
    // from the UE's link-specific address (ProxyHostConfig::link_access); to an MPTCP
    // service, from its AccessPrefix list.
    mptcp::Access access_of(const tcp::FourTuple& t) const;
    const mptcp::Endpoint& mptcp() const { return *mptcp_; }
    // Statistics for exporters: MPTCP counters and connections by state.
    const mptcp::Counters& mptcp_counters() const { return mptcp_->counters(); }
    uint64_t mptcp_connections_in(mptcp::ConnState s) const {
        return mptcp_states_[static_cast<size_t>(s)].get();
    }
    uint64_t mptcp_subflows_in(mptcp::SubflowState s) const {
        return mptcp_subflow_states_[static_cast<size_t>(s)].get();
    }

    // --- statistics: written by the worker, read by anyone (tear-free u64 reads) --------------
    const tcp::Counters& counters() const { return engine_->counters(); }
    uint64_t counter(TcpHostCounter c) const {
        return host_counters_[static_cast<size_t>(c)].get();
    }
    // Connections by state, refreshed by poll() every `states_period_us`.
    uint64_t connections_in(tcp::State s) const { return states_[static_cast<size_t>(s)].get(); }

private:
    struct App;
    void on_segment(tcp::OutSegment&& s);
    void on_event(const tcp::Event& e);
    void run_events();
    void pump(App& a, uint64_t now_us);
    void finish(App& a, tcp::CloseReason reason, uint64_t now_us);
    void block(App& a);  // pumped again on the next tick
    const PortRuntime* port_for(const tcp::IpAddr& local) const;
    std::vector<mptcp::AdvertisedAddress> advertise_for(const tcp::FourTuple& t) const;
    void count(TcpHostCounter c) { host_counters_[static_cast<size_t>(c)].add(); }
    // Session steering's lookup for the proxy: the session of a UE address (and its tunnel).
    mptcp::convert::UeContext session_of(const tcp::IpAddr& ue);
    bool farewell(rte_mbuf* m, const tcp::IpAddr& ue);

    TcpHostConfig cfg_;
    std::vector<const PortRuntime*> ports_;
    std::unique_ptr<tcp::Engine> engine_;
    std::unique_ptr<mptcp::TokenTable> tokens_;  // before mptcp_: the endpoint uses it
    std::unique_ptr<mptcp::Endpoint> mptcp_;     // MPTCP listeners' connections (the app API)
    std::vector<rte_mbuf*> frames_;
    std::vector<rte_mbuf*> dl_frames_;  // the proxy's segments to UEs
    // Flows of the proxy's connections this worker registered in cfg_.flows (several workers),
    // erased when the connection closes or resets.
    std::unordered_map<tcp::ConnId, FlowKey> registered_;
    std::vector<tcp::FourTuple> adopted_;  // adopt_flow(): local = the proxy's address
    bool registers_flows() const { return cfg_.flows != nullptr && cfg_.n_workers > 1; }
    std::unique_ptr<mptcp::convert::Converter> converter_;
    std::unique_ptr<mptcp::convert::Proxy> proxy_;
    mptcp::convert::UeContext uplink_ue_;  // of the input_uplink() call in progress
    std::vector<tcp::Event> events_;
    std::vector<TcpServiceSpec> services_;
    std::unordered_map<tcp::ListenerId, TcpServiceSpec> by_listener_;
    std::unordered_map<uint16_t, tcp::ListenerId> listener_of_port_;
    std::unordered_map<tcp::ConnId, std::unique_ptr<App>> apps_;
    std::deque<TcpAppRecord> history_;
    std::vector<tcp::ConnId> blocked_;  // applications waiting for mbufs or send space
    uint16_t next_ephemeral_ = 0;
    uint16_t ip_id_ = 0;
    uint64_t now_us_ = 0;  // of the call in progress (events carry no time)
    uint64_t next_tick_us_ = 0;
    uint64_t next_states_us_ = 0;
    std::array<Counter, static_cast<size_t>(TcpHostCounter::count)> host_counters_;
    std::array<Counter, static_cast<size_t>(tcp::State::count)> states_;
    std::array<Counter, static_cast<size_t>(mptcp::ConnState::count)> mptcp_states_;
    std::array<Counter, static_cast<size_t>(mptcp::SubflowState::count)> mptcp_subflow_states_;
    std::array<Counter, static_cast<size_t>(mptcp::convert::ProxyState::count)> proxy_states_;
    // The downlink GTP-U tunnel of each UE address with proxied connections, as the proxy's
    // session checks last saw it. When the session is deleted its rules are gone, so pdr_dl
    // cannot take the proxy's last segments to the UE (the MP_FASTCLOSE); they are
    // encapsulated here with the remembered tunnel instead (`gone`). Entries not refreshed for
    // tunnel_keep_us are forgotten.
    struct DlTunnel {
        uint32_t teid = 0;
        uint32_t peer_ipv4 = 0;  // host order
        std::optional<uint8_t> qfi;
        bool gone = false;
        uint64_t seen_us = 0;
    };
    std::unordered_map<tcp::IpAddr, DlTunnel, tcp::IpAddrHash> tunnels_;
};

}  // namespace braid::dataplane
