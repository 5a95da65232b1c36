// braid configuration: the typed model of the one YAML file (docs/CONFIG.md).
//
// Parsing is strict: unknown keys, wrong types, bad addresses and out-of-range numbers are
// errors that name the key path and the line. The parser never throws to its caller.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "control/pfcp/ue_ip_pool.h"
#include "dataplane/fault_spec.h"

namespace braid::config {

enum class PortRole : uint8_t { n3, n6 };

std::string_view to_string(PortRole role);

struct Ipv4Prefix {
    uint32_t addr_host = 0;  // host byte order
    uint8_t len = 0;

    bool operator==(const Ipv4Prefix&) const = default;
};

struct Ipv6Prefix {
    std::array<uint8_t, 16> addr{};  // network byte order
    uint8_t len = 0;

    bool operator==(const Ipv6Prefix&) const = default;
};

struct Port {
    std::string name;  // unique, [a-z0-9_-]{1,31}
    PortRole role = PortRole::n3;
    std::string pci;   // "0000:3b:02.0" (SR-IOV VF or PF); exclusive with vdev
    std::string vdev;  // "net_af_packet0,iface=veth0" etc.; exclusive with pci
    std::optional<std::array<uint8_t, 6>> mac;  // override the port MAC
    std::optional<Ipv4Prefix> ipv4;             // braid's own address on this port, with prefix
    std::optional<Ipv6Prefix> ipv6;
    std::optional<uint32_t> gateway_ipv4;  // next hop for off-link destinations (host order)
    std::optional<std::array<uint8_t, 16>> gateway_ipv6;
    uint16_t rx_queues = 1;          // 1..64
    uint16_t tx_queues = 1;          // 1..64 (>= number of workers is enforced by dataplane)
    uint16_t rx_descriptors = 1024;  // 64..16384, power of two
    uint16_t tx_descriptors = 1024;  // 64..16384, power of two
    uint16_t mtu = 1500;             // 576..9600
    bool promiscuous = false;

    bool operator==(const Port&) const = default;
};

struct Mempool {
    uint32_t mbufs_per_port = 8191;  // 1023..4194303
    uint16_t cache_size = 256;       // 0..512
    uint16_t data_room = 2176;       // 1024..16384 (RTE_MBUF_DEFAULT_BUF_SIZE)

    bool operator==(const Mempool&) const = default;
};

struct Workers {
    std::vector<unsigned> lcores{1};    // worker lcore ids, unique, non-empty, none = main lcore
    uint16_t burst_size = 32;           // 1..256
    uint32_t tx_drain_us = 100;         // 1..100000: flush partially filled TX buffers
    uint16_t handoff_ring_size = 1024;  // 64..16384, power of two: each worker→worker ring

    bool operator==(const Workers&) const = default;
};

struct Eal {
    unsigned main_lcore = 0;
    std::string file_prefix = "braid";    // --file-prefix
    bool no_huge = false;                 // --no-huge (tests, laptops)
    uint32_t memory_mb = 0;               // -m (0: EAL default; required > 0 with no_huge)
    bool no_pci = false;                  // --no-pci (forced when no port has a pci address)
    std::vector<std::string> extra_args;  // passed to rte_eal_init verbatim

    bool operator==(const Eal&) const = default;
};

// An IPv4 or IPv6 prefix, host bits zero.
struct IpPrefix {
    uint8_t family = 4;              // 4 or 6
    std::array<uint8_t, 16> addr{};  // network order; IPv4 in the first 4 octets
    uint8_t len = 0;

    bool contains(const IpPrefix& o) const;  // same family and o lies within this prefix
    bool operator==(const IpPrefix&) const = default;
};

// Where the MPTCP proxy's N6 connections come from (RFC 8803 §4.4).
enum class ProxyAddressMode : uint8_t {
    preserving,  // the session's UE address
    sharing,     // an address of `n6_pool`, the same one for all of a UE's connections
};

std::string_view to_string(ProxyAddressMode mode);

struct Endpoint {
    std::string address;  // IPv4 or IPv6 literal
    uint16_t port = 0;

    bool operator==(const Endpoint&) const = default;
};

// What braid does with a peer's sessions when its heartbeats go unanswered (TS 29.244 §6.2.2).
enum class PfcpPeerLost : uint8_t {
    delete_sessions,  // drop the association and the peer's sessions
    keep_sessions,    // keep both; keep sending heartbeats; the association recovers on an answer
};

std::string_view to_string(PfcpPeerLost policy);

struct PfcpHeartbeat {
    uint32_t interval_s = 10;  // 1..3600: between Heartbeat Requests braid sends to a peer
    uint32_t misses = 3;       // 1..100: unanswered requests in a row before the peer is lost

    bool operator==(const PfcpHeartbeat&) const = default;
};

struct Pfcp {
    bool enabled = true;
    Endpoint listen{"127.0.0.1", 8805};
    std::optional<std::string> node_id;  // FQDN or IP; default: listen address (not a wildcard)
    PfcpHeartbeat heartbeat;
    uint32_t t1_ms = 3000;  // 10..60000: retransmission timer of requests braid sends
    uint32_t n1 = 3;        // 0..10: retransmissions before braid gives up on a request
    // 100..3600000: how long a response is kept to answer a retransmitted request; unset:
    // duplicate_window_ms_default() (the SMF's T1 x N1 is unknown; assume braid's, plus slack).
    std::optional<uint32_t> duplicate_window_ms;
    PfcpPeerLost peer_lost = PfcpPeerLost::delete_sessions;
    std::vector<Endpoint> peers;  // SMFs braid sets up an association with itself (port: 8805)
    // UE address pools for CHV4/CHV6 in PDIs (TS 29.244 §5.21); non-empty: braid claims UEIP.
    std::vector<pfcp::UeIpPoolConfig> ue_ip_pools;
    // The ATSSS MPTCP proxy's PFCP parameters (TS 29.244 §5.20.2.3) and the converter's policy
    // (issue 7). `enabled: true` runs the proxy on every worker and lets PFCP return MPTCP
    // Parameters.
    struct MptcpProxy {
        bool enabled = false;
        std::optional<uint32_t> address_v4;  // host order
        std::optional<std::array<uint8_t, 16>> address_v6;
        uint16_t port = 0;
        std::vector<pfcp::UeIpPoolConfig> tgpp_pools;      // link_specific_pools.tgpp
        std::vector<pfcp::UeIpPoolConfig> non_tgpp_pools;  // link_specific_pools.non_tgpp
        // The converter (mptcp/convert/converter.h Policy; RFC 8803 §4.4, §9).
        ProxyAddressMode address_mode = ProxyAddressMode::preserving;
        std::vector<IpPrefix> n6_pool;          // sharing mode: at most one prefix per family
        std::vector<IpPrefix> deny_prefixes;    // destinations refused (Not Authorized)
        uint32_t per_ue_max_connections = 64;   // 1..65536
        uint32_t per_ue_max_pending_syns = 16;  // 1..4096, <= per_ue_max_connections
        uint32_t error_reply_rate = 10;         // 1..10000 Error TLV replies per second per UE
        uint32_t connect_timeout_ms = 10'000;   // 100..120000: no N6 SYN/ACK by then → Error
        bool operator==(const MptcpProxy&) const = default;
    } mptcp_proxy;

    uint32_t duplicate_window_ms_default() const { return t1_ms * (n1 + 1) + 2000; }
    bool operator==(const Pfcp&) const = default;
};

struct Metrics {
    bool enabled = true;
    Endpoint listen{"127.0.0.1", 9464};

    bool operator==(const Metrics&) const = default;
};

struct Cli {
    std::string socket_path = "/run/braid/cli.sock";  // empty: no socket

    bool operator==(const Cli&) const = default;
};

struct Neighbors {
    uint32_t max_entries = 1024;  // 16..1048576
    uint32_t reachable_s = 300;   // entry lifetime before refresh
    uint32_t retry_ms = 1000;     // ARP request retry interval while incomplete
    uint32_t max_retries = 3;     // then the entry becomes FAILED
    // Packets held per worker while their next hop resolves (RFC 1122 §2.3.2.2); 0 disables.
    uint32_t hold_per_neighbor = 16;  // 0..65536
    uint32_t hold_total = 256;        // 0..65536, per worker
    uint32_t hold_timeout_ms = 3000;  // 10..60000: then a held packet is dropped

    bool operator==(const Neighbors&) const = default;
};

// GTP-U path management (TS 29.281 §7.2.1): Echo Requests to every peer sessions tunnel to.
struct Gtpu {
    uint32_t echo_interval_s = 60;   // 1..86400; the spec wants >= 60 (shorter: labs, warned)
    uint32_t t3_response_ms = 3000;  // 100..60000: wait for each Echo Response
    uint32_t n3_requests = 3;        // 1..10: unanswered requests before the path is down

    bool operator==(const Gtpu&) const = default;
};

// braid's own TCP endpoint on N6 (dataplane/tcp_host.h): the engine's settings per worker and
// the test applications that listen on braid's N6 addresses.
struct TcpService {
    uint16_t port = 0;   // TCP port, 1..65535
    std::string mode;    // echo | sink | source | discard
    uint64_t bytes = 0;  // source: bytes sent per connection (required, > 0)
    bool mptcp = false;  // MPTCP v1 listener (plain TCP clients fall back)
    // MPTCP: the packet scheduler of each connection (mptcp/scheduler.h) and which client
    // addresses are which access, as a PFCP MAR would say for an ATSSS session.
    struct Scheduler {
        std::string mode = "smallest_delay";  // active_standby | smallest_delay | load_balancing
                                              // | priority_based | redundant
        std::vector<IpPrefix> tgpp;           // client addresses of the 3GPP access
        std::vector<IpPrefix> non_tgpp;       // ... and of the non-3GPP access
        std::string preferred = "3gpp";       // active / high / primary access: 3gpp | non-3gpp
        uint32_t tgpp_weight = 50;            // load_balancing: percent on 3GPP (0..100)
        std::optional<uint32_t> rtt_threshold_ms;  // 1..60000
        std::optional<uint32_t> plr_threshold;     // percent 0..100 (packet loss rate)
        bool operator==(const Scheduler&) const = default;
    } scheduler;
    bool scheduler_set = false;  // the `scheduler` key was given (only with mptcp: true)
    // MPTCP: other addresses of braid announced with ADD_ADDR on every connection (RFC 8684
    // §3.4.1); the client may open subflows to them (braid never opens any itself).
    struct Advertise {
        uint8_t id = 0;                  // address ID, 1..255, unique in the service
        uint8_t family = 4;              // 4 or 6
        std::array<uint8_t, 16> addr{};  // network order; IPv4 in the first 4 octets
        std::optional<uint16_t> port;    // unset: the service's port
        bool operator==(const Advertise&) const = default;
    };
    std::vector<Advertise> advertise;

    bool operator==(const TcpService&) const = default;
};

struct Tcp {
    std::string congestion_control = "cubic";  // cubic | newreno
    uint32_t mbufs_per_worker = 8191;          // 1023..1048575: headers and application data
    uint32_t max_connections = 65536;          // per worker, every state counted
    uint32_t max_per_source = 4096;            // per remote address, per worker
    uint32_t syn_backlog = 1024;  // half-open connections per listener before SYN cookies
    uint32_t rcv_buf_kb = 256;    // 4..16384 per connection
    uint32_t snd_buf_kb = 256;    // 4..16384 per connection
    uint32_t msl_s = 30;          // 1..600: TIME-WAIT lasts 2 MSL
    uint32_t rto_min_ms = 200;    // 10..1000: RFC 6298 §2.4 says 1 s; Linux (and braid) 200 ms
    std::vector<TcpService> services;

    bool operator==(const Tcp&) const = default;
};

// A session installed at start-up (and by `session add`): one uplink PDR (G-PDUs to
// `uplink_teid`, outer header removed, to N6) and one downlink PDR per UE address family
// (GTP-U to `gnb_ipv4` with `gnb_teid`), QER 1 and URR 1 on every PDR. The same session action
// functions as PFCP install it (control/static_sessions.h).
struct StaticSession {
    uint64_t seid = 0;
    uint32_t uplink_teid = 0;
    std::optional<uint32_t> ue_ipv4;    // host order
    std::optional<Ipv6Prefix> ue_ipv6;  // a /64
    uint32_t gnb_ipv4 = 0;              // host order
    uint32_t gnb_teid = 0;
    std::optional<uint8_t> qfi;  // QER 1's QFI (downlink PDU Session Container)
    uint64_t mbr_ul_kbps = 0;    // 0: no limit
    uint64_t mbr_dl_kbps = 0;
    std::vector<std::string> uplink_filters;    // SDF filters (IPFilterRule) of the uplink PDR
    std::vector<std::string> downlink_filters;  // ... of the downlink PDRs
    bool mptcp = false;                         // the UE may use the MPTCP proxy (pfcp.mptcp_proxy)
    // The UE's link-specific multipath addresses (issue 7, TS 23.501 §5.32.6.2.1), YAML
    // `link_addresses: {tgpp: [..], non_tgpp: [..]}`: an IPv4 address (len 32) or an IPv6 /64,
    // at most one per family and access; only with `mptcp`.
    std::vector<IpPrefix> tgpp_link_addresses;
    std::vector<IpPrefix> non_tgpp_link_addresses;
    uint64_t volume_threshold_bytes = 0;  // URR 1 triggers (0: off)
    uint32_t time_threshold_s = 0;
    uint32_t period_s = 0;

    bool operator==(const StaticSession&) const = default;
};

struct Sessions {
    uint32_t max = 65536;  // 1..4194304: PFCP sessions (static or from the SMF) at once
    std::vector<StaticSession> static_sessions;  // YAML `static`

    bool operator==(const Sessions&) const = default;
};

struct Log {
    std::string level = "info";  // emerg alert crit err warning notice info debug

    bool operator==(const Log&) const = default;
};

struct Config {
    Eal eal;
    std::vector<Port> ports;  // at least one n3 and one n6 port
    Mempool mempool;
    Workers workers;
    Pfcp pfcp;
    Metrics metrics;
    Cli cli;
    Neighbors neighbors;
    Gtpu gtpu;
    Tcp tcp;
    Sessions sessions;
    Log log;
    // `fault_injection:` — per port role and direction (docs/CONFIG.md); all off when absent.
    dataplane::FaultPlan fault_injection;

    const Port* port_by_name(std::string_view name) const;

    bool operator==(const Config&) const = default;
};

struct Error {
    std::string key;  // dotted path, e.g. "ports[1].ipv4"
    int line = 0;     // 1-based; 0 when unknown
    std::string message;
    std::string to_string() const;  // "config: ports[1].ipv4 (line 12): not an IPv4 prefix: ..."
};

struct ParseResult {
    std::optional<Config> config;
    std::vector<Error> errors;  // all errors found (not just the first)
    bool ok() const { return config.has_value() && errors.empty(); }
};

// Parse YAML text. `source_name` is used in messages only.
ParseResult parse(std::string_view yaml_text, std::string_view source_name = "<config>");
ParseResult parse_file(const std::string& path);

// The embedded default: virtual devices only (two net_tap vdevs, never PCI), --no-huge, so
// that `braid` starts anywhere. Returned as YAML text, which is also what
// `braid --print-default-config` prints.
std::string_view default_yaml();

// Render a Config back to YAML (for `show config`); parse(render(c)) == c.
std::string render(const Config& config);

}  // namespace braid::config
