// The running dataplane: ports, workers and the tables they share. Built by App::start() on the
// main lcore from a validated Config; read-only for workers once they run (DESIGN.md §2, §4).
#pragma once

#include <rte_ether.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "control/config.h"
#include "dataplane/counter.h"
#include "dataplane/fault.h"
#include "dataplane/flow_owner.h"
#include "dataplane/gtpu_paths.h"
#include "dataplane/mbuf_meta.h"
#include "dataplane/neighbor.h"
#include "dataplane/neighbor_hold.h"
#include "dataplane/packet_buffer.h"
#include "dataplane/session_table.h"
#include "dataplane/token_owner.h"
#include "dataplane/usage.h"
#include "pipelines/drop_reasons.h"

struct rte_mempool;
struct rte_graph;
struct rte_ring;
struct rte_rcu_qsbr;
struct rte_eth_dev_tx_buffer;
struct rte_mbuf;

namespace braid::dataplane {

inline constexpr unsigned max_ports = 8;
inline constexpr unsigned max_workers = 32;
inline constexpr unsigned max_rx_per_worker = 16;
inline constexpr size_t cache_line = 64;  // hardware_destructive_interference_size on x86-64

struct RssInfo {
    bool device_rss = false;     // the device hashes in hardware with this key and RETA
    uint64_t rss_hf = 0;         // hash functions enabled
    std::vector<uint8_t> key;    // Toeplitz key (40 or 52 bytes)
    std::vector<uint16_t> reta;  // RETA: hash & (size-1) → queue
};

// One configured port, immutable after start.
struct PortRuntime {
    std::string name;
    config::PortRole role = config::PortRole::n3;
    uint16_t port_id = 0;  // DPDK ethdev id
    uint16_t index = 0;    // braid's index (App::ports)
    std::string device;    // vdev string or PCI address
    std::string driver;
    rte_ether_addr mac{};
    rte_mempool* pool = nullptr;
    uint16_t rx_queues = 1;
    uint16_t tx_queues = 1;  // one per worker; the control core sends through worker 0
    uint16_t mtu = 1500;
    bool has_ipv4 = false;
    uint32_t ipv4 = 0;  // host order
    uint8_t ipv4_len = 0;
    bool has_ipv6 = false;
    std::array<uint8_t, 16> ipv6{};
    uint8_t ipv6_len = 0;
    std::array<uint8_t, 16> ipv6_link_local{};  // fe80::/64 with the EUI-64 of `mac`
    bool has_gateway_ipv4 = false;
    uint32_t gateway_ipv4 = 0;  // host order
    bool has_gateway_ipv6 = false;
    std::array<uint8_t, 16> gateway_ipv6{};  // next hop for off-link IPv6 destinations
    RssInfo rss;
};

struct RxQueueRef {
    uint16_t port_id;
    uint16_t queue;
    uint16_t port_index;
};

// Counters a worker writes and everybody else reads (see counter.h for the contract).
struct WorkerCounters {
    Counter loops;
    Counter busy_cycles;
    Counter idle_cycles;
    Counter rx_packets;
    Counter tx_packets;
    Counter w2m_full;           // events lost because the W2M ring was full
    Counter error_ind_sent;     // GTP-U Error Indications for unknown TEIDs
    Counter sehn_sent;          // Supported Extension Headers Notifications
    Counter end_markers_sent;   // (control core through this worker's ctrl_tx)
    Counter gtpu_encapsulated;  // G-PDUs built toward N3
    Counter gtpu_decapsulated;  // T-PDUs forwarded to N6
    Counter far_duplicated;     // copies built for FARs with DUPL (Duplicating Parameters)
    Counter icmp_too_big_sent;  // ICMP Frag. Needed / ICMPv6 Packet Too Big for N3 (gtpu_encap)
    Counter fragmented_for_n3;  // IPv4 packets fragmented to fit N3 once encapsulated
    Counter neighbor_held;      // packets held for an unresolved next hop
    Counter neighbor_released;  // held packets sent once their next hop resolved
    Counter neighbor_holding;   // gauge: packets held now
    Counter nd_solicitations_received;   // valid Neighbor Solicitations (RFC 4861 §4.3)
    Counter nd_advertisements_received;  // valid Neighbor Advertisements (RFC 4861 §4.4)
    Counter nd_advertisements_sent;      // answers to solicitations for braid's addresses
    std::array<Counter, pipelines::drop_reason_count> drops;
    // Hand-off to the worker of that index (pipelines/handoff.cc): packets put on its ring, and
    // packets dropped because the ring was full.
    std::array<Counter, max_workers> handoff_packets;
    std::array<Counter, max_workers> handoff_drops;
};

// A per-worker token bucket for replies that an attacker could trigger at line rate (Error
// Indication, SEHN): `rate` per second, bursts of `burst`.
struct ReplyLimiter {
    uint64_t tokens_x1000 = 0;  // thousandths of a token
    uint64_t last_tsc = 0;
    bool take(uint64_t now_tsc, uint64_t tsc_hz, uint32_t rate, uint32_t burst) {
        if (last_tsc != 0) {
            // Beyond the time that refills a whole burst, more idle time adds nothing; the cap
            // also keeps the product below from overflowing after days of silence.
            const uint64_t full = tsc_hz * (burst / std::max<uint32_t>(rate, 1) + 1);
            const uint64_t elapsed = std::min<uint64_t>(now_tsc - last_tsc, full);
            const uint64_t add = elapsed * rate * 1000 / tsc_hz;
            tokens_x1000 = std::min<uint64_t>(tokens_x1000 + add, uint64_t{burst} * 1000);
        } else {
            tokens_x1000 = uint64_t{burst} * 1000;
        }
        last_tsc = now_tsc;
        if (tokens_x1000 < 1000) {
            return false;
        }
        tokens_x1000 -= 1000;
        return true;
    }
};

// Worker → main (control core) events, through one SPSC ring per worker.
struct W2MEvent {
    enum class Type : uint16_t {
        arp_seen,            // ipv4 (or ipv6 when v6) + mac seen in ARP or ND on port_index
        neighbor_wanted,     // a packet needed the MAC of ipv4 (or ipv6) on port_index
        error_ind_received,  // Error Indication from ipv4 for TEID `value`
        echo_response,       // GTP-U Echo Response from ipv4 with sequence number `value`
    };
    Type type;
    uint16_t port_index;
    uint32_t ipv4;  // host order
    uint32_t value;
    uint8_t mac[6];
    uint8_t addressed_to_us;
    uint8_t v6;  // arp_seen, neighbor_wanted: the address is `ipv6`, not `ipv4`
    uint8_t ipv6[16];
};
static_assert(sizeof(W2MEvent) == 36);

static_assert(max_workers <= max_handoff_workers, "MbufMeta::handoff_to names a worker");

class TcpHost;
struct ProxyHostConfig;

// A function the control core runs on a worker, between two graph walks (App::call_on_worker):
// the way into state only the worker may touch (its TCP engine).
struct WorkerCall {
    std::function<void(struct WorkerContext&)> fn;
    std::atomic<bool> done{false};
};

struct alignas(cache_line) WorkerContext {
    // --- read-only once the worker runs --------------------------------------------------
    unsigned lcore_id = 0;
    unsigned index = 0;
    uint16_t txq = 0;  // this worker's TX queue on every port
    uint16_t burst = 32;
    rte_graph* graph = nullptr;
    rte_ring* w2m = nullptr;       // SP (this worker) / SC (control core)
    uint64_t drain_tsc = 0;        // TX drain period in TSC cycles
    rte_ring* m2w_pkts = nullptr;  // SP (control core) / SC (this worker): packets to send
    rte_ring* w2m_pkts = nullptr;  // SP (this worker) / SC (control core): packets to buffer
    // Worker → worker hand-off (DESIGN.md §5), one SPSC ring per ordered pair: handoff_out[w] is
    // SP here / SC on worker w, handoff_in[w] is SP on worker w / SC here. Null for w == index.
    std::array<rte_ring*, max_workers> handoff_out{};
    std::array<rte_ring*, max_workers> handoff_in{};
    uint16_t n_workers = 1;
    std::array<std::array<RxQueueRef, max_rx_per_worker>, 2> rx{};  // by config::PortRole
    std::array<uint16_t, 2> n_rx{};
    std::array<rte_eth_dev_tx_buffer*, max_ports> tx_buffers{};
    char graph_name[32] = {};
    uint64_t tsc_per_us = 1;
    TcpHost* tcp = nullptr;                  // braid's TCP endpoint, used by this worker only
    std::atomic<WorkerCall*> call{nullptr};  // set by the control core, taken by the worker

    // --- read-write, this worker only ----------------------------------------------------
    alignas(cache_line) uint64_t last_drain_tsc = 0;
    uint32_t rx_this_loop = 0;
    uint16_t ip_id = 0;  // IPv4 Identification of the outer headers this worker builds
    // prepend_ethernet's last next hop per egress port (pipelines/upf.h): what the neighbor
    // snapshot of `generation` answered for `key`. Snapshots are immutable, so while that one is
    // current the entry is its answer, without the hash lookup.
    struct NeighborCacheEntry {
        bool valid = false;
        uint64_t generation = 0;
        NeighborKey key;
        MacAddr mac{};
    };
    std::array<NeighborCacheEntry, max_ports> neighbor_cache{};
    ReplyLimiter error_ind_limiter;
    ReplyLimiter icmp_error_limiter;  // gtpu_encap: ICMP too-big replies
    // Packets waiting for their next hop (pipelines/neighbor_release.cc), polled against the
    // neighbor snapshot when its generation changes and every millisecond.
    NeighborHold* hold = nullptr;
    uint64_t hold_generation = 0;
    uint64_t hold_next_poll_ms = 0;
    WorkerCounters counters;
    // The fault-injection stage (dataplane/fault.h, pipelines/fault_stage.cc). Last: its delay
    // lines are large and stay cold while no fault is set.
    FaultWorker fault;
};

// What the control core publishes for the exporter thread (relaxed atomics: statistics only).
struct ControlStats {
    std::array<std::atomic<uint64_t>, 4> neighbors_by_state{};  // by NeighborState
    std::atomic<uint64_t> arp_requests_sent{0};
    std::atomic<uint64_t> nd_solicitations_sent{0};  // IPv6 Neighbor Solicitations
    std::atomic<uint64_t> control_tx_failures{0};
    // Sessions and the user plane's control-core side (SessionCounters, PacketBuffer).
    std::atomic<uint64_t> sessions{0};
    std::atomic<uint64_t> sessions_created{0}, sessions_modified{0}, sessions_deleted{0},
        sessions_rejected{0};
    std::atomic<uint64_t> usage_reports{0}, error_ind_reports{0}, error_ind_unmatched{0},
        downlink_data_reports{0}, end_markers_sent{0}, reports_dropped{0};
    std::atomic<uint64_t> buffered_now{0}, buffered_total{0}, buffer_released{0},
        buffer_dropped_oldest{0}, buffer_discarded{0};
    // GTP-U path management (GtpuPaths).
    std::array<std::atomic<uint64_t>, 3> gtpu_peers_by_state{};  // by GtpuPaths::State
    std::atomic<uint64_t> gtpu_echo_requests_sent{0}, gtpu_echo_responses{0},
        gtpu_echo_unexpected{0}, gtpu_echo_timeouts{0}, gtpu_path_failures{0},
        gtpu_path_recoveries{0};
};

// What the dataplane tells the SMF about a session (PFCP Session Report Request, TS 29.244
// §7.5.8): usage reports, Error Indications received for one of its tunnels, and the first
// downlink packet buffered for it when the FAR asked to be notified.
struct ErrorIndicationReport {
    uint64_t seid;
    uint32_t teid;       // the session's remote TEID the peer did not know
    uint32_t peer_ipv4;  // host order
};
struct DownlinkDataReport {
    uint64_t seid;
    uint16_t pdr_id;
};
using SessionReport = std::variant<UsageReport, ErrorIndicationReport, DownlinkDataReport>;

// Flags of a modification (PFCPSMReq-Flags, Query URR).
struct ModifyFlags {
    bool send_end_marker = false;      // SNDEM: End Marker on the old path of changed tunnels
    bool query_all_urrs = false;       // QAURR
    std::vector<uint32_t> query_urrs;  // Query URR
};

struct SessionCounters {
    uint64_t created = 0, modified = 0, deleted = 0, rejected = 0;
    uint64_t usage_reports = 0, error_ind_reports = 0, error_ind_unmatched = 0;
    uint64_t downlink_data_reports = 0, end_markers_sent = 0;
    uint64_t reports_dropped = 0;  // nobody took them (no PFCP consumer) before the bound
};

class App {
public:
    App();  // out of line: members hold types only app.cc sees whole (TcpHost)
    ~App();
    App(const App&) = delete;
    App& operator=(const App&) = delete;

    // Ports, mempools, queues, graphs; does not launch workers. EAL must be initialised.
    bool setup(const config::Config& cfg, std::string* err);
    // Launch the worker loops on their lcores.
    bool launch(std::string* err);
    // Ask workers to stop, wait for them, stop and close the ports, free what setup made.
    // Returns the number of mbufs that were not returned to the pools (0 when all is well).
    uint64_t shutdown();

    // Control core housekeeping: drain W2M rings, run the neighbor table, publish snapshots,
    // reclaim old ones after an RCU grace period. Call every few milliseconds.
    void control_tick(uint64_t now_ms);
    // Refresh control_stats() for the exporter thread (once a second is plenty).
    void publish_control_stats();

    const config::Config& config() const { return cfg_; }
    const std::vector<PortRuntime>& ports() const { return ports_; }
    const PortRuntime* port_by_id(uint16_t port_id) const;
    const std::vector<WorkerContext*>& workers() const { return workers_; }
    std::vector<WorkerContext*>& workers() { return workers_; }
    NeighborTable& neighbors() { return *neighbors_; }
    // --- session action functions (control core): the one path into the session table for
    // the CLI, the YAML static sessions and PFCP (dataplane/session_actions.cc) -------------
    std::optional<SpecError> create_session(const SessionSpec& spec);
    // On success, `reports` gets the usage reports the modification produced (removed URRs:
    // termination; queried URRs: query).
    std::optional<SpecError> modify_session(const SessionSpec& spec, const ModifyFlags& flags,
                                            std::vector<UsageReport>* reports);
    // The final usage reports, or nullopt when there is no such session.
    std::optional<std::vector<UsageReport>> delete_session(uint64_t seid);
    // Reports raised since the last call (usage triggers, Error Indications, downlink data).
    std::vector<SessionReport> take_reports();
    // The last reports raised (for the CLI), oldest first.
    const std::deque<SessionReport>& recent_reports() const { return recent_reports_; }
    // The current measurement of a URR (since its last report).
    std::optional<UsageTotals> current_usage(uint64_t seid, uint32_t urr_id) const;
    const SessionCounters& session_counters() const { return session_counters_; }
    const PacketBuffer& packet_buffer() const { return *buffer_; }
    // Send a GTP-U End Marker for `teid` to `peer_ipv4` on N3 (through worker 0).
    bool send_end_marker(uint32_t peer_ipv4, uint32_t teid);
    // The fault-injection plan in force (dataplane/fault_control.cc): set publishes it to every
    // worker and returns once no worker can still read the previous one.
    void set_fault_plan(const FaultPlan& plan);
    const FaultPlan& fault_plan() const { return fault_plan_; }
    // GTP-U path management: the peers that sessions tunnel to and their echo state.
    const GtpuPaths& gtpu_paths() const { return *gtpu_paths_; }

    // Which worker owns which transport flow (DESIGN.md §5); workers add and read lock-free.
    FlowOwnerTable& flows() { return *flows_; }
    const FlowOwnerTable& flows() const { return *flows_; }
    TokenOwnerTable& mptcp_tokens() { return *tokens_; }
    const TokenOwnerTable& mptcp_tokens() const { return *tokens_; }

    // Control core only (the action functions); workers use its lock-free lookups.
    SessionTable& sessions() { return *sessions_; }
    const SessionTable& sessions() const { return *sessions_; }
    const NeighborSnapshot* neighbor_snapshot() const {
        return neighbor_snapshot_.load(std::memory_order_acquire);
    }
    bool running() const { return !quit_.load(std::memory_order_acquire); }
    rte_rcu_qsbr* rcu() const { return rcu_; }
    uint64_t tsc_hz() const { return tsc_hz_; }

    // Sum of a drop reason over all workers.
    uint64_t drops(pipelines::DropReason r) const;

    // Send an ARP request from the control core's TX queue. Returns false if the packet could
    // not be built or sent (counted in control_tx_failures()).
    bool send_arp_request(uint16_t port_index, uint32_t target_ipv4);
    // A multicast Neighbor Solicitation for `target` (RFC 4861 §7.2.2).
    bool send_neighbor_solicitation(uint16_t port_index, const std::array<uint8_t, 16>& target);
    // An ARP request or a Neighbor Solicitation, by the request's family.
    bool send_neighbor_request(const NeighborTable::Request& req);
    uint64_t control_tx_failures() const { return control_tx_failures_; }
    uint64_t control_tx_packets() const { return control_tx_packets_; }
    const ControlStats& control_stats() const { return control_stats_; }

    // Run `fn` on worker `w` between two graph walks and wait for it (the control core only; at
    // most `timeout_ms`). Before launch() it runs here and now. False on timeout (`fn` did not
    // run and never will) or when there is no such worker.
    bool call_on_worker(unsigned w, std::function<void(WorkerContext&)> fn,
                        uint32_t timeout_ms = 2000);
    bool launched() const { return launched_; }

    // Worker-side entry point (worker.cc).
    static int worker_main(void* arg);

    std::atomic<bool> quit_{false};

private:
    bool setup_port(const config::Port& pc, uint16_t index, std::string* err);
    bool setup_workers(std::string* err);
    bool setup_tcp(std::string* err);
    ProxyHostConfig proxy_host_config() const;
    void publish_neighbors();
    void reclaim(bool wait);
    void reclaim_sessions();
    void drain_worker_events(uint64_t now_ms);
    void drain_buffered_packets();
    void release_buffered_packets();
    void poll_usage(uint64_t now_ms);
    void want_session_neighbors(const SessionSpec& spec, uint64_t now_ms);
    void report_error_indication(uint32_t teid, uint32_t peer_ipv4);
    void push_report(SessionReport r);
    bool send_from_control(rte_mbuf* m);
    // A GTP-U message from braid's N3 address, UDP 2152 → 2152, to `peer_ipv4`.
    bool send_gtpu(uint32_t peer_ipv4, std::span<const uint8_t> message);
    void track_gtpu_peers(const SessionSpec* before, const SessionSpec* after);
    void poll_gtpu_paths(uint64_t now_ms);
    void log_path_transitions(const std::vector<GtpuPaths::Transition>& t);

    config::Config cfg_;
    std::vector<PortRuntime> ports_;
    std::vector<WorkerContext*> workers_;
    std::unique_ptr<NeighborTable> neighbors_;
    std::unique_ptr<SessionTable> sessions_;
    std::unique_ptr<FlowOwnerTable> flows_;
    std::unique_ptr<TokenOwnerTable> tokens_;  // MPTCP tokens across workers (token_owner.h)
    std::unique_ptr<UsageMonitor> usage_;
    std::unique_ptr<PacketBuffer> buffer_;
    std::unique_ptr<GtpuPaths> gtpu_paths_;
    std::vector<std::unique_ptr<TcpHost>> tcp_hosts_;  // by worker
    std::vector<rte_mempool*> tcp_pools_;              // per worker: data, clones
    std::vector<SessionReport> reports_;
    std::deque<SessionReport> recent_reports_;
    SessionCounters session_counters_;
    uint64_t now_ms_ = 0;  // of the last control_tick
    uint64_t next_usage_poll_ms_ = 0;
    // A usage poll pass is in progress: a pass over many sessions is spread over control ticks,
    // usage_poll_budget URRs each (App::poll_usage); SessionTable::walk_step keeps its place.
    bool usage_pass_active_ = false;
    std::atomic<const NeighborSnapshot*> neighbor_snapshot_{nullptr};
    struct Retired {
        const NeighborSnapshot* snap;
        uint64_t token;
    };
    std::vector<Retired> retired_;
    rte_rcu_qsbr* rcu_ = nullptr;
    uint64_t tsc_hz_ = 0;
    ControlStats control_stats_;
    uint64_t control_tx_failures_ = 0;
    uint64_t control_tx_packets_ = 0;
    uint64_t nd_solicitations_sent_ = 0;
    bool launched_ = false;
    bool ports_started_ = false;
    FaultPlan fault_plan_;                              // what `show fault` shows
    std::unique_ptr<const FaultPlan> fault_published_;  // what workers may be reading
    uint64_t fault_generation_ = 0;
};

// The one App of this process; nodes use it in their init callbacks to find their worker.
extern App* current_app;

}  // namespace braid::dataplane
