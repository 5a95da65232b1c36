#include "dataplane/app.h"

#include <arpa/inet.h>
#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_graph.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_random.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <cstring>

#include "control/log.h"
#include "dataplane/mbuf_meta.h"
#include "dataplane/nd.h"
#include "dataplane/port.h"
#include "dataplane/tcp_host.h"
#include "pipelines/graph.h"

namespace braid::dataplane {

App* current_app = nullptr;

namespace {

constexpr unsigned w2m_ring_size = 4096;
constexpr unsigned m2w_ring_size = 1024;
constexpr unsigned w2m_pkts_ring_size = 1024;
constexpr uint32_t buffer_packets_total = 16384;
constexpr uint64_t usage_poll_ms = 100;  // URR triggers are checked this often
// Freeing retired snapshots per control tick (App::reclaim_sessions).
constexpr uint64_t reclaim_budget_us = 200;
constexpr size_t reclaim_chunk = 32;
constexpr size_t reclaim_backlog_per_session = 4;  // retired entries per possible session ...
constexpr size_t reclaim_backlog_share = 32;       // ... beyond which 1/32 more per tick
constexpr uint32_t flow_owner_capacity = 65536;    // flows the workers may own at once
constexpr uint32_t token_owner_capacity = 65536;   // MPTCP connections on all workers

// `tcp.services[].scheduler` as the scheduler's config (the config checked the names). The
// preferred access is the Active (active-standby), High (priority-based) and Primary
// (redundant) one; the other is Standby, Low and Secondary.
mptcp::SchedulerConfig scheduler_config(const config::TcpService::Scheduler& s) {
    mptcp::SchedulerConfig c;
    c.mode = mptcp::scheduler_mode(s.mode).value_or(mptcp::SchedulerMode::smallest_delay);
    const bool tgpp_first = s.preferred != "non-3gpp";
    auto& first = c.access[tgpp_first ? 0 : 1];
    auto& second = c.access[tgpp_first ? 1 : 0];
    switch (c.mode) {
        case mptcp::SchedulerMode::priority_based:
            first.priority = mptcp::AccessPriority::high;
            second.priority = mptcp::AccessPriority::low;
            break;
        case mptcp::SchedulerMode::redundant:
            first.priority = mptcp::AccessPriority::primary;
            second.priority = mptcp::AccessPriority::secondary;
            break;
        default:
            first.priority = mptcp::AccessPriority::active;
            second.priority = mptcp::AccessPriority::standby;
            break;
    }
    c.access[0].weight = static_cast<uint8_t>(s.tgpp_weight);
    c.access[1].weight = static_cast<uint8_t>(100 - s.tgpp_weight);
    c.rtt_threshold_ms = s.rtt_threshold_ms;
    if (s.plr_threshold) {
        c.plr_threshold_percent = static_cast<uint8_t>(*s.plr_threshold);
    }
    return c;
}

std::string errno_text() {
    return rte_strerror(rte_errno);
}

}  // namespace

App::App() = default;

App::~App() {
    shutdown();
}

const PortRuntime* App::port_by_id(uint16_t port_id) const {
    for (const auto& p : ports_) {
        if (p.port_id == port_id) {
            return &p;
        }
    }
    return nullptr;
}

bool App::setup(const config::Config& cfg, std::string* err) {
    cfg_ = cfg;
    tsc_hz_ = rte_get_tsc_hz();
    current_app = this;
    if (cfg.ports.size() > max_ports) {
        *err = "too many ports: at most " + std::to_string(max_ports);
        return false;
    }
    if (cfg.workers.lcores.size() > max_workers) {
        *err = "too many workers: at most " + std::to_string(max_workers);
        return false;
    }
    for (unsigned l : cfg.workers.lcores) {
        if (!rte_lcore_is_enabled(l) || l == rte_get_main_lcore()) {
            *err = "workers.lcores: lcore " + std::to_string(l) +
                   " is not an enabled worker lcore of this EAL instance";
            return false;
        }
    }
    NeighborTable::Limits limits;
    limits.max_entries = cfg.neighbors.max_entries;
    limits.reachable_ms = uint64_t{cfg.neighbors.reachable_s} * 1000;
    limits.retry_ms = cfg.neighbors.retry_ms;
    limits.max_retries = cfg.neighbors.max_retries;
    neighbors_ = std::make_unique<NeighborTable>(limits);

    // RCU: one reader thread id per worker.
    size_t rcu_size = rte_rcu_qsbr_get_memsize(static_cast<uint32_t>(cfg.workers.lcores.size()));
    rcu_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("braid_rcu", rcu_size, RTE_CACHE_LINE_SIZE));
    if (rcu_ == nullptr ||
        rte_rcu_qsbr_init(rcu_, static_cast<uint32_t>(cfg.workers.lcores.size())) != 0) {
        *err = "cannot allocate the RCU state: " + errno_text();
        return false;
    }

    sessions_ = SessionTable::create("sessions", cfg.sessions.max, rcu_, err);
    if (sessions_ == nullptr) {
        return false;
    }
    sessions_->set_workers(static_cast<unsigned>(cfg.workers.lcores.size()));
    flows_ = FlowOwnerTable::create("flows", flow_owner_capacity, rcu_, err);
    if (flows_ == nullptr) {
        return false;
    }
    tokens_ = TokenOwnerTable::create("mptcp_tokens", token_owner_capacity, rcu_, err);
    if (tokens_ == nullptr) {
        return false;
    }
    usage_ = std::make_unique<UsageMonitor>(static_cast<unsigned>(cfg.workers.lcores.size()));
    buffer_ = std::make_unique<PacketBuffer>(buffer_packets_total, rte_pktmbuf_free);
    GtpuPathConfig paths;
    paths.echo_interval_ms = cfg.gtpu.echo_interval_s * 1000;
    paths.t3_response_ms = cfg.gtpu.t3_response_ms;
    paths.n3_requests = cfg.gtpu.n3_requests;
    gtpu_paths_ = std::make_unique<GtpuPaths>(paths);
    if (cfg.gtpu.echo_interval_s < 60) {
        BRAID_LOG(dataplane, WARNING,
                  "gtpu.echo_interval_s is %u: TS 29.281 7.2.1 allows an Echo Request at most "
                  "every 60 s on a path (use shorter intervals in labs only)",
                  cfg.gtpu.echo_interval_s);
    }

    for (uint16_t i = 0; i < cfg.ports.size(); ++i) {
        if (!setup_port(cfg.ports[i], i, err)) {
            return false;
        }
    }
    if (!setup_workers(err) || !setup_tcp(err)) {
        return false;
    }
    for (auto& p : ports_) {
        if (int rc = rte_eth_dev_start(p.port_id); rc != 0) {
            *err = "port " + p.name + ": cannot start: " + rte_strerror(-rc);
            return false;
        }
        read_rss_info(p);
    }
    ports_started_ = true;
    publish_neighbors();
    if (cfg.fault_injection.enabled()) {
        set_fault_plan(cfg.fault_injection);
    }
    return true;
}

bool App::setup_port(const config::Port& pc, uint16_t index, std::string* err) {
    PortRuntime p;
    p.name = pc.name;
    p.role = pc.role;
    p.index = index;
    p.device = pc.pci.empty() ? pc.vdev : pc.pci;
    p.mtu = pc.mtu;
    if (pc.ipv4) {
        p.has_ipv4 = true;
        p.ipv4 = pc.ipv4->addr_host;
        p.ipv4_len = pc.ipv4->len;
    }
    if (pc.ipv6) {
        p.has_ipv6 = true;
        p.ipv6 = pc.ipv6->addr;
        p.ipv6_len = pc.ipv6->len;
    }
    if (pc.gateway_ipv4) {
        p.has_gateway_ipv4 = true;
        p.gateway_ipv4 = *pc.gateway_ipv4;
    }
    if (pc.gateway_ipv6) {
        p.has_gateway_ipv6 = true;
        p.gateway_ipv6 = *pc.gateway_ipv6;
    }
    p.rx_queues = pc.rx_queues;
    p.tx_queues = static_cast<uint16_t>(cfg_.workers.lcores.size());
    if (!configure_port(pc, cfg_, p, err)) {
        rte_mempool_free(p.pool);  // nullptr-safe; the port itself is closed by EAL cleanup
        return false;
    }
    ports_.push_back(std::move(p));
    return true;
}

bool App::setup_workers(std::string* err) {
    const unsigned n = static_cast<unsigned>(cfg_.workers.lcores.size());
    for (unsigned w = 0; w < n; ++w) {
        void* mem =
            rte_zmalloc_socket("braid_worker", sizeof(WorkerContext), cache_line,
                               static_cast<int>(rte_lcore_to_socket_id(cfg_.workers.lcores[w])));
        if (mem == nullptr) {
            *err = "cannot allocate a worker context";
            return false;
        }
        auto* wc = new (mem) WorkerContext();
        workers_.push_back(wc);
        wc->lcore_id = cfg_.workers.lcores[w];
        wc->index = w;
        wc->txq = static_cast<uint16_t>(w);
        wc->burst = cfg_.workers.burst_size;
        wc->drain_tsc = (tsc_hz_ + 999'999) / 1'000'000 * cfg_.workers.tx_drain_us;
        std::snprintf(wc->graph_name, sizeof(wc->graph_name), "worker%u", w);

        std::string rname = "w2m_" + std::to_string(w);
        wc->w2m = rte_ring_create_elem(rname.c_str(), sizeof(W2MEvent), w2m_ring_size,
                                       SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
        rname = "m2w_" + std::to_string(w);
        wc->m2w_pkts = rte_ring_create(rname.c_str(), m2w_ring_size, SOCKET_ID_ANY,
                                       RING_F_SP_ENQ | RING_F_SC_DEQ);
        rname = "w2mp_" + std::to_string(w);
        wc->w2m_pkts = rte_ring_create(rname.c_str(), w2m_pkts_ring_size, SOCKET_ID_ANY,
                                       RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (wc->w2m == nullptr || wc->m2w_pkts == nullptr || wc->w2m_pkts == nullptr) {
            *err = "cannot create the worker rings: " + errno_text();
            return false;
        }
        NeighborHold::Limits hold;
        hold.per_neighbor = cfg_.neighbors.hold_per_neighbor;
        hold.total = cfg_.neighbors.hold_total;
        hold.timeout_ms = cfg_.neighbors.hold_timeout_ms;
        wc->hold = new NeighborHold(hold);  // its storage, once: holding never allocates
        for (const auto& p : ports_) {
            auto* buf = static_cast<rte_eth_dev_tx_buffer*>(
                rte_zmalloc_socket("braid_txbuf", RTE_ETH_TX_BUFFER_SIZE(wc->burst), 0,
                                   static_cast<int>(rte_eth_dev_socket_id(p.port_id))));
            if (buf == nullptr || rte_eth_tx_buffer_init(buf, wc->burst) != 0) {
                *err = "cannot allocate TX buffers";
                return false;
            }
            // Packets the TX queue would not take after the PMD's own retries: counted, freed.
            rte_eth_tx_buffer_set_err_callback(
                buf, rte_eth_tx_buffer_count_callback,
                &wc->counters.drops[static_cast<size_t>(pipelines::DropReason::tx_queue_full)]);
            wc->tx_buffers[p.index] = buf;
        }
    }
    // Hand-off rings, one per ordered pair (DESIGN.md §5): single producer, single consumer.
    for (unsigned from = 0; from < n; ++from) {
        workers_[from]->n_workers = static_cast<uint16_t>(n);
        for (unsigned to = 0; to < n; ++to) {
            if (from == to) {
                continue;
            }
            const std::string rname = "ho_" + std::to_string(from) + "_" + std::to_string(to);
            rte_ring* r =
                rte_ring_create(rname.c_str(), cfg_.workers.handoff_ring_size,
                                static_cast<int>(rte_lcore_to_socket_id(cfg_.workers.lcores[to])),
                                RING_F_SP_ENQ | RING_F_SC_DEQ);
            if (r == nullptr) {
                *err = "workers.handoff_ring_size: cannot create the hand-off ring " + rname +
                       ": " + errno_text();
                return false;
            }
            workers_[from]->handoff_out[to] = r;
            workers_[to]->handoff_in[from] = r;
        }
    }
    // RX queues: every (port, queue) pair goes to one worker, round robin.
    unsigned next = 0;
    for (const auto& p : ports_) {
        for (uint16_t q = 0; q < p.rx_queues; ++q) {
            WorkerContext* wc = workers_[next++ % n];
            auto role = static_cast<size_t>(p.role);
            if (wc->n_rx[role] >= max_rx_per_worker) {
                *err = "too many RX queues for one worker";
                return false;
            }
            wc->rx[role][wc->n_rx[role]++] = RxQueueRef{p.port_id, q, p.index};
        }
    }
    for (auto* wc : workers_) {
        if (!pipelines::create_worker_graph(*wc, err)) {
            return false;
        }
        if (rte_rcu_qsbr_thread_register(rcu_, wc->index) != 0) {
            *err = "cannot register worker with RCU";
            return false;
        }
    }
    return true;
}

// The MPTCP proxy of every worker (config pfcp.mptcp_proxy; RFC 8803 converter, issue 7).
ProxyHostConfig App::proxy_host_config() const {
    namespace cv = mptcp::convert;
    const config::Pfcp::MptcpProxy& mp = cfg_.pfcp.mptcp_proxy;
    auto prefix = [](const config::IpPrefix& p) {
        if (p.family == 4) {
            return cv::Prefix::v4(uint32_t{p.addr[0]} << 24 | uint32_t{p.addr[1]} << 16 |
                                      uint32_t{p.addr[2]} << 8 | p.addr[3],
                                  p.len);
        }
        return cv::Prefix::v6(p.addr, p.len);
    };
    ProxyHostConfig pc;
    cv::Policy& pol = pc.policy;
    pol.mode = mp.address_mode == config::ProxyAddressMode::sharing ? cv::AddressMode::sharing
                                                                    : cv::AddressMode::preserving;
    for (const config::IpPrefix& p : mp.n6_pool) {
        (p.family == 4 ? pol.n6_pool_v4 : pol.n6_pool_v6) = prefix(p);
    }
    for (const config::IpPrefix& p : mp.deny_prefixes) {
        pol.deny.push_back(prefix(p));
    }
    pol.per_ue_max_connections = mp.per_ue_max_connections;
    pol.per_ue_max_pending_syns = mp.per_ue_max_pending_syns;
    pol.error_reply_rate = mp.error_reply_rate;
    pc.proxy.n6_connect_timeout_us = uint64_t{mp.connect_timeout_ms} * 1000;
    for (const PortRuntime& p : ports_) {
        if (p.has_ipv4) {
            pol.own.push_back(cv::Address::v4(p.ipv4));
        }
        if (p.has_ipv6) {
            pol.own.push_back(cv::Address::v6(p.ipv6));
        }
        if (p.role == config::PortRole::n6) {
            pc.n6_port_index = p.index;
        }
    }
    // The proxy listens on one address: IPv4 when configured, else IPv6.
    if (mp.address_v4) {
        const uint32_t a = *mp.address_v4;
        pc.proxy.address =
            tcp::IpAddr::v4(static_cast<uint8_t>(a >> 24), static_cast<uint8_t>(a >> 16),
                            static_cast<uint8_t>(a >> 8), static_cast<uint8_t>(a));
        pol.own.push_back(cv::Address::v4(a));
    } else if (mp.address_v6) {
        pc.proxy.address.family = 6;
        pc.proxy.address.bytes = *mp.address_v6;
        pol.own.push_back(cv::Address::v6(*mp.address_v6));
    }
    pc.proxy.port = mp.port;
    // UE-side segments travel in GTP-U: leave room for outer IPv4 + UDP + GTP-U (48 bytes with the
    // PDU Session Container) inside the N3 MTU.
    uint16_t mtu = UINT16_MAX;
    for (const PortRuntime& p : ports_) {
        mtu = std::min(mtu, p.mtu);
    }
    pc.proxy.ue_mss_clamp = static_cast<uint16_t>(mtu - 40 - 48 - (mp.address_v4 ? 0 : 20));
    // Subflows are classified by the session's link-specific addresses (issue 7). Called on
    // the worker inside the T-PDU's processing: the lock-free lookup, like pdr_ul's.
    const SessionTable* table = sessions_.get();
    pc.link_access = [table](const tcp::IpAddr& a) {
        LinkAccess access{};
        if (table == nullptr ||
            table->by_link_address(a.family, a.bytes.data(), access) == nullptr) {
            return mptcp::Access::unknown;
        }
        return access == LinkAccess::tgpp ? mptcp::Access::tgpp : mptcp::Access::non_tgpp;
    };
    return pc;
}

bool App::setup_tcp(std::string* err) {
    const config::Tcp& tc = cfg_.tcp;
    for (WorkerContext* wc : workers_) {
        const int socket = static_cast<int>(rte_lcore_to_socket_id(wc->lcore_id));
        const std::string data_name = "tcp_w" + std::to_string(wc->index);
        const std::string clone_name = "tcpc_w" + std::to_string(wc->index);
        rte_mempool* data =
            rte_pktmbuf_pool_create(data_name.c_str(), tc.mbufs_per_worker, cfg_.mempool.cache_size,
                                    0, cfg_.mempool.data_room, socket);
        // Every transmission is a chain of indirect mbufs over the stored data (tcpstack): as
        // many as the data mbufs, twice over for retransmissions in flight.
        rte_mempool* clones = rte_pktmbuf_pool_create(
            clone_name.c_str(), 2 * tc.mbufs_per_worker + 1, cfg_.mempool.cache_size, 0, 0, socket);
        if (data != nullptr) {
            tcp_pools_.push_back(data);
        }
        if (clones != nullptr) {
            tcp_pools_.push_back(clones);
        }
        if (data == nullptr || clones == nullptr) {
            *err = "tcp.mbufs_per_worker: cannot create the TCP mempools of worker " +
                   std::to_string(wc->index) + ": " + rte_strerror(rte_errno) +
                   " (see eal.memory_mb)";
            return false;
        }
        TcpHostConfig hc;
        hc.pool = data;
        hc.flows = flows_.get();
        hc.tokens = workers_.size() > 1 ? tokens_.get() : nullptr;
        hc.worker = wc->index;
        hc.n_workers = static_cast<unsigned>(workers_.size());
        tcp::EngineConfig& ec = hc.engine;
        ec.clone_pool = clones;
        ec.cc = tc.congestion_control == "newreno" ? tcp::CcAlgorithm::newreno
                                                   : tcp::CcAlgorithm::cubic;
        for (size_t i = 0; i < ec.secret.size(); i += 8) {
            const uint64_t r = rte_rand();
            std::memcpy(ec.secret.data() + i, &r, 8);
        }
        ec.msl_us = uint64_t{tc.msl_s} * 1'000'000;
        ec.rto_min_us = uint64_t{tc.rto_min_ms} * 1000;
        ec.max_connections = tc.max_connections;
        ec.max_per_source = tc.max_per_source;
        ec.default_rcv_buf = tc.rcv_buf_kb * 1024;
        ec.default_snd_buf = tc.snd_buf_kb * 1024;
        ec.default_backlog = tc.syn_backlog;  // every listener: services and the proxy
        // Our MSS: what the smallest port MTU leaves after IPv4 and TCP headers.
        uint16_t mtu = UINT16_MAX;
        for (const auto& p : ports_) {
            mtu = std::min(mtu, p.mtu);
        }
        ec.default_mss = static_cast<uint16_t>(mtu - 40);
        if (cfg_.pfcp.mptcp_proxy.enabled) {
            hc.proxy = proxy_host_config();
            hc.sessions = sessions_.get();
        }
        auto host = std::make_unique<TcpHost>(hc, std::span<const PortRuntime>(ports_));
        for (const config::TcpService& svc : tc.services) {
            TcpServiceSpec spec;
            spec.tcp_port = svc.port;
            spec.mode = *tcp_app_mode(svc.mode);  // the config checked the name
            spec.bytes = svc.bytes;
            spec.mptcp = svc.mptcp;
            spec.scheduler = scheduler_config(svc.scheduler);
            for (const config::TcpService::Advertise& adv : svc.advertise) {
                mptcp::AdvertisedAddress a;
                a.id = adv.id;
                a.address.family = adv.family;
                a.address.bytes = adv.addr;
                a.port = adv.port;
                spec.advertise.push_back(a);
            }
            for (auto [list, access] :
                 {std::pair{&svc.scheduler.tgpp, mptcp::Access::tgpp},
                  std::pair{&svc.scheduler.non_tgpp, mptcp::Access::non_tgpp}}) {
                for (const config::IpPrefix& pre : *list) {
                    AccessPrefix a;
                    a.addr.family = pre.family;
                    a.addr.bytes = pre.addr;
                    a.len = pre.len;
                    a.access = access;
                    spec.access.push_back(a);
                }
            }
            if (auto e = host->add_service(spec)) {
                *err = "tcp.services: " + *e;
                return false;
            }
        }
        wc->tsc_per_us = std::max<uint64_t>(1, tsc_hz_ / 1'000'000);
        wc->tcp = host.get();
        tcp_hosts_.push_back(std::move(host));
    }
    return true;
}

bool App::call_on_worker(unsigned w, std::function<void(WorkerContext&)> fn, uint32_t timeout_ms) {
    if (w >= workers_.size()) {
        return false;
    }
    WorkerContext& wc = *workers_[w];
    if (!launched_) {
        fn(wc);
        return true;
    }
    WorkerCall call;
    call.fn = std::move(fn);
    wc.call.store(&call, std::memory_order_release);
    const uint64_t deadline = rte_get_timer_cycles() + rte_get_timer_hz() / 1000 * timeout_ms;
    while (!call.done.load(std::memory_order_acquire)) {
        if (rte_get_timer_cycles() > deadline) {
            WorkerCall* expected = &call;
            if (wc.call.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel)) {
                return false;  // never taken: safe to forget
            }
            // Taken: the worker is running it now; wait for the end (it cannot block).
            while (!call.done.load(std::memory_order_acquire)) {
                rte_pause();
            }
            return true;
        }
        rte_delay_us_sleep(20);
    }
    return true;
}

bool App::launch(std::string* err) {
    for (auto* wc : workers_) {
        // Online before launch so that a grace period started now already waits for it.
        rte_rcu_qsbr_thread_online(rcu_, wc->index);
        if (int rc = rte_eal_remote_launch(&App::worker_main, wc, wc->lcore_id); rc != 0) {
            *err = "cannot launch worker on lcore " + std::to_string(wc->lcore_id) + ": " +
                   rte_strerror(-rc);
            quit_.store(true, std::memory_order_release);
            rte_eal_mp_wait_lcore();
            return false;
        }
    }
    launched_ = true;
    return true;
}

uint64_t App::shutdown() {
    if (current_app != this) {
        return 0;
    }
    quit_.store(true, std::memory_order_release);
    if (launched_) {
        rte_eal_mp_wait_lcore();
        launched_ = false;
    }
    for (auto* wc : workers_) {
        // Control packets that never made it out, and the unsent TX buffers.
        rte_mbuf* m = nullptr;
        while (wc->m2w_pkts != nullptr &&
               rte_ring_dequeue(wc->m2w_pkts, reinterpret_cast<void**>(&m)) == 0) {
            rte_pktmbuf_free(m);
        }
        while (wc->w2m_pkts != nullptr &&
               rte_ring_dequeue(wc->w2m_pkts, reinterpret_cast<void**>(&m)) == 0) {
            rte_pktmbuf_free(m);
        }
        for (rte_ring* r : wc->handoff_out) {  // packets handed off but never taken
            while (r != nullptr && rte_ring_dequeue(r, reinterpret_cast<void**>(&m)) == 0) {
                rte_pktmbuf_free(m);
            }
        }
        for (const auto& p : ports_) {
            // Frames still buffered for TX are dropped, not sent: the ports stop next, and a
            // frame handed to a port now is out of braid's reach (a ring port never frees it,
            // so the pool check below would count it).
            if (rte_eth_dev_tx_buffer* b = wc->tx_buffers[p.index]; b != nullptr) {
                for (uint16_t i = 0; i < b->length; ++i) {
                    rte_pktmbuf_free(b->pkts[i]);
                }
                b->length = 0;
            }
        }
        wc->fault.discard_all();    // packets the fault stage still held (delay line, reorder)
        if (wc->hold != nullptr) {  // packets still waiting for a next hop
            wc->hold->clear([](rte_mbuf* held) { rte_pktmbuf_free(held); });
        }
    }
    fault_published_.reset();
    if (buffer_) {
        buffer_->discard_all();
    }
    // The TCP engines hold received data (port mbufs) and sent data: free it all before the
    // pools are checked.
    for (auto* wc : workers_) {
        wc->tcp = nullptr;
    }
    tcp_hosts_.clear();
    for (auto* wc : workers_) {
        pipelines::destroy_worker_graph(*wc);
    }
    for (auto& p : ports_) {
        if (ports_started_) {
            rte_eth_dev_stop(p.port_id);
        }
        rte_eth_dev_close(p.port_id);
    }
    ports_started_ = false;
    uint64_t leaked = 0;
    for (auto& p : ports_) {
        if (p.pool != nullptr) {
            unsigned in_use = rte_mempool_in_use_count(p.pool);
            if (in_use != 0) {
                BRAID_LOG(dataplane, WARNING, "port %s: %u mbufs not returned to the pool",
                          p.name.c_str(), in_use);
            }
            leaked += in_use;
            rte_mempool_free(p.pool);
            p.pool = nullptr;
        }
    }
    for (rte_mempool* pool : tcp_pools_) {
        if (unsigned in_use = rte_mempool_in_use_count(pool); in_use != 0) {
            BRAID_LOG(dataplane, WARNING, "TCP mempool %s: %u mbufs not returned", pool->name,
                      in_use);
            leaked += in_use;
        }
        rte_mempool_free(pool);
    }
    tcp_pools_.clear();
    for (auto* wc : workers_) {
        for (auto* b : wc->tx_buffers) {
            rte_free(b);
        }
        rte_ring_free(wc->w2m);
        rte_ring_free(wc->m2w_pkts);
        rte_ring_free(wc->w2m_pkts);
        for (rte_ring* r : wc->handoff_out) {
            rte_ring_free(r);  // each ring once: by its producer
        }
        delete wc->hold;
        wc->~WorkerContext();
        rte_free(wc);
    }
    workers_.clear();
    ports_.clear();
    reclaim(true);
    sessions_.reset();  // workers are stopped: nothing can still read a snapshot
    flows_.reset();     // before the RCU variable its defer queue checks
    tokens_.reset();
    delete neighbor_snapshot_.exchange(nullptr);
    rte_free(rcu_);
    rcu_ = nullptr;
    current_app = nullptr;
    return leaked;
}

uint64_t App::drops(pipelines::DropReason r) const {
    uint64_t sum = 0;
    for (const auto* wc : workers_) {
        sum += wc->counters.drops[static_cast<size_t>(r)].get();
    }
    return sum;
}

void App::control_tick(uint64_t now_ms) {
    now_ms_ = now_ms;
    drain_worker_events(now_ms);
    drain_buffered_packets();
    release_buffered_packets();
    // Next hops we must know.
    for (const auto& p : ports_) {
        if (p.has_gateway_ipv4) {
            if (auto req = neighbors_->want(p.index, p.gateway_ipv4, now_ms, true)) {
                send_neighbor_request(*req);
            }
        }
        if (p.has_gateway_ipv6) {
            if (auto req =
                    neighbors_->want(NeighborKey::of_ipv6(p.index, p.gateway_ipv6), now_ms, true)) {
                send_neighbor_request(*req);
            }
        }
    }
    for (const auto& req : neighbors_->tick(now_ms)) {
        send_neighbor_request(req);
    }
    if (neighbors_->take_dirty()) {
        publish_neighbors();
    }
    if (usage_pass_active_ || now_ms >= next_usage_poll_ms_) {
        if (!usage_pass_active_) {
            next_usage_poll_ms_ =
                now_ms + usage_poll_ms;  // the next pass starts 100 ms after this one
        }
        poll_usage(now_ms);
    }
    poll_gtpu_paths(now_ms);
    reclaim(false);
    reclaim_sessions();
}

void App::reclaim_sessions() {
    // Retired snapshots and key slots have a budget of their own per tick: freeing a burst of
    // 40,000 modifications' snapshots in one tick paused the control core for milliseconds.
    // The budget is time (a snapshot costs 1-3 µs to free, more when cache-cold), in chunks,
    // at least one chunk per tick. Past a large backlog (changes faster than the budget frees
    // them, for long) a share of the backlog is freed whatever the time, so memory stays
    // bounded: the pause then grows instead.
    const uint64_t until = rte_rdtsc() + tsc_hz_ * reclaim_budget_us / 1'000'000;
    size_t n;
    do {
        n = sessions_->reclaim(false, reclaim_chunk);
    } while (n == reclaim_chunk && rte_rdtsc() < until);
    const size_t backlog = sessions_->retired();
    if (n == reclaim_chunk && backlog > size_t{cfg_.sessions.max} * reclaim_backlog_per_session) {
        sessions_->reclaim(false, backlog / reclaim_backlog_share);
    }
}

namespace {

NeighborKey event_key(const W2MEvent& e) {
    if (e.v6 == 0) {
        return NeighborKey::of_ipv4(e.port_index, e.ipv4);
    }
    Ipv6Addr a;
    std::memcpy(a.data(), e.ipv6, 16);
    return NeighborKey::of_ipv6(e.port_index, a);
}

}  // namespace

void App::drain_worker_events(uint64_t now_ms) {
    W2MEvent ev[64];
    for (auto* wc : workers_) {
        unsigned n;
        while ((n = rte_ring_sc_dequeue_burst_elem(wc->w2m, ev, sizeof(W2MEvent), 64, nullptr)) >
               0) {
            for (unsigned i = 0; i < n; ++i) {
                const W2MEvent& e = ev[i];
                switch (e.type) {
                    case W2MEvent::Type::arp_seen: {
                        MacAddr mac;
                        std::memcpy(mac.data(), e.mac, 6);
                        neighbors_->learn(event_key(e), mac, e.addressed_to_us != 0, now_ms);
                        break;
                    }
                    case W2MEvent::Type::neighbor_wanted:
                        if (auto req = neighbors_->want(event_key(e), now_ms)) {
                            send_neighbor_request(*req);
                        }
                        break;
                    case W2MEvent::Type::error_ind_received:
                        report_error_indication(e.value, e.ipv4);
                        break;
                    case W2MEvent::Type::echo_response: {
                        std::vector<GtpuPaths::Transition> t;
                        gtpu_paths_->on_echo_response(e.ipv4, static_cast<uint16_t>(e.value),
                                                      now_ms, t);
                        log_path_transitions(t);
                        break;
                    }
                }
            }
        }
    }
}

void App::publish_control_stats() {
    std::array<uint64_t, 4> by_state{};
    for (const auto& n : neighbors_->entries()) {
        ++by_state[static_cast<size_t>(n.state)];
    }
    for (size_t s = 0; s < by_state.size(); ++s) {
        control_stats_.neighbors_by_state[s].store(by_state[s], std::memory_order_relaxed);
    }
    control_stats_.arp_requests_sent.store(control_tx_packets_, std::memory_order_relaxed);
    control_stats_.nd_solicitations_sent.store(nd_solicitations_sent_, std::memory_order_relaxed);
    control_stats_.control_tx_failures.store(control_tx_failures_, std::memory_order_relaxed);
    auto put = [](std::atomic<uint64_t>& a, uint64_t v) { a.store(v, std::memory_order_relaxed); };
    const SessionCounters& c = session_counters_;
    put(control_stats_.sessions, sessions_->size());
    put(control_stats_.sessions_created, c.created);
    put(control_stats_.sessions_modified, c.modified);
    put(control_stats_.sessions_deleted, c.deleted);
    put(control_stats_.sessions_rejected, c.rejected);
    put(control_stats_.usage_reports, c.usage_reports);
    put(control_stats_.error_ind_reports, c.error_ind_reports);
    put(control_stats_.error_ind_unmatched, c.error_ind_unmatched);
    put(control_stats_.downlink_data_reports, c.downlink_data_reports);
    put(control_stats_.end_markers_sent, c.end_markers_sent);
    put(control_stats_.reports_dropped, c.reports_dropped);
    const PacketBuffer::Stats& b = buffer_->stats();
    put(control_stats_.buffered_now, buffer_->total());
    put(control_stats_.buffered_total, b.buffered);
    put(control_stats_.buffer_released, b.released);
    put(control_stats_.buffer_dropped_oldest, b.dropped_oldest);
    put(control_stats_.buffer_discarded, b.discarded);
    for (size_t st = 0; st < control_stats_.gtpu_peers_by_state.size(); ++st) {
        put(control_stats_.gtpu_peers_by_state[st],
            gtpu_paths_->count(static_cast<GtpuPaths::State>(st)));
    }
    const GtpuPaths::Stats& g = gtpu_paths_->stats();
    put(control_stats_.gtpu_echo_requests_sent, g.requests_sent);
    put(control_stats_.gtpu_echo_responses, g.responses);
    put(control_stats_.gtpu_echo_unexpected, g.unexpected_responses);
    put(control_stats_.gtpu_echo_timeouts, g.timeouts);
    put(control_stats_.gtpu_path_failures, g.path_failures);
    put(control_stats_.gtpu_path_recoveries, g.path_recoveries);
}

void App::publish_neighbors() {
    const NeighborSnapshot* fresh = neighbors_->snapshot().release();
    // Release: workers that load the pointer with acquire see a fully built snapshot.
    const NeighborSnapshot* old = neighbor_snapshot_.exchange(fresh, std::memory_order_acq_rel);
    if (old != nullptr) {
        retired_.push_back({old, rte_rcu_qsbr_start(rcu_)});
    }
}

void App::reclaim(bool wait) {
    for (auto it = retired_.begin(); it != retired_.end();) {
        if (rcu_ == nullptr || rte_rcu_qsbr_check(rcu_, it->token, wait) == 1 || !launched_) {
            delete it->snap;
            it = retired_.erase(it);
        } else {
            ++it;
        }
    }
}

bool App::send_arp_request(uint16_t port_index, uint32_t target_ipv4) {
    const PortRuntime& p = ports_.at(port_index);
    rte_mbuf* m = p.has_ipv4 ? rte_pktmbuf_alloc(p.pool) : nullptr;
    if (m == nullptr) {
        ++control_tx_failures_;
        return false;
    }
    constexpr uint16_t len = sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr);
    auto* eth = reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_append(m, len));
    if (eth == nullptr) {
        rte_pktmbuf_free(m);
        ++control_tx_failures_;
        return false;
    }
    std::memset(eth->dst_addr.addr_bytes, 0xff, RTE_ETHER_ADDR_LEN);
    rte_ether_addr_copy(&p.mac, &eth->src_addr);
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
    auto* arp = reinterpret_cast<rte_arp_hdr*>(eth + 1);
    arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
    arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    arp->arp_hlen = RTE_ETHER_ADDR_LEN;
    arp->arp_plen = 4;
    arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
    rte_ether_addr_copy(&p.mac, &arp->arp_data.arp_sha);
    arp->arp_data.arp_sip = rte_cpu_to_be_32(p.ipv4);
    std::memset(arp->arp_data.arp_tha.addr_bytes, 0, RTE_ETHER_ADDR_LEN);
    arp->arp_data.arp_tip = rte_cpu_to_be_32(target_ipv4);
    meta(m).port_index = port_index;
    return send_from_control(m);
}

bool App::send_neighbor_request(const NeighborTable::Request& req) {
    return req.v6 ? send_neighbor_solicitation(req.port_index, req.target_ipv6)
                  : send_arp_request(req.port_index, req.target_ipv4);
}

bool App::send_neighbor_solicitation(uint16_t port_index, const std::array<uint8_t, 16>& target) {
    const PortRuntime& p = ports_.at(port_index);
    // RFC 4861 §7.2.2: the source is an address of the interface; the link-local one for a
    // link-local target or when the port has no global address.
    const bool link_local_target = target[0] == 0xfe && (target[1] & 0xc0) == 0x80;
    const Ipv6Addr& src = p.has_ipv6 && !link_local_target ? p.ipv6 : p.ipv6_link_local;
    rte_mbuf* m = rte_pktmbuf_alloc(p.pool);
    if (m == nullptr) {
        ++control_tx_failures_;
        return false;
    }
    auto* frame = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, nd::solicitation_frame_len));
    MacAddr mac;
    std::memcpy(mac.data(), p.mac.addr_bytes, 6);
    if (frame == nullptr ||
        nd::build_solicitation({frame, nd::solicitation_frame_len}, mac, src, target) == 0) {
        rte_pktmbuf_free(m);
        ++control_tx_failures_;
        return false;
    }
    meta(m).port_index = port_index;
    ++nd_solicitations_sent_;
    return send_from_control(m);
}

bool App::send_from_control(rte_mbuf* m) {
    meta(m).inner_offset = 0;  // send as is (not release_to_pdr_dl)
    if (workers_.empty() || rte_ring_sp_enqueue(workers_[0]->m2w_pkts, m) != 0) {
        rte_pktmbuf_free(m);
        ++control_tx_failures_;
        return false;
    }
    ++control_tx_packets_;
    return true;
}

}  // namespace braid::dataplane
