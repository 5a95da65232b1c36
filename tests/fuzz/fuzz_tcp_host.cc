// libFuzzer target: braid's TCP endpoint (dataplane/tcp_host.h) as the graph drives it —
// eth_classify on an N6 port, then TcpHost::input — with segments from a fuzzed peer, time
// advancing between them, an echo service listening and a connection braid opened.
//
// Input: records of [flags:1][advance_ms:1][len:2 big endian][len bytes of TCP segment]. Each
// segment is wrapped in an Ethernet + IPv4 (flags bit 1: IPv6) header from the peer to braid's N6
// address; flags bit 0 asks for a correct TCP checksum (else the fuzzed one stays). Invariants
// (abort on violation):
//   - every frame braid emits is a consistent IPv4/IPv6 packet from its own address with a
//     correct TCP checksum over the whole chain;
//   - a refused segment carries a drop reason < DropReason::count;
//   - after the host is destroyed every mbuf is back in its pool (no leak, no double free).
#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_tcp.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/app.h"
#include "dataplane/eal.h"
#include "dataplane/mbuf_meta.h"
#include "dataplane/tcp_host.h"
#include "fuzz_eal.h"
#include "pipelines/stages.h"

namespace {

using braid::dataplane::PortRuntime;
using braid::dataplane::TcpHost;
using braid::pipelines::DropReason;

rte_mempool* rx_pool = nullptr;
rte_mempool* data_pool = nullptr;
rte_mempool* clone_pool = nullptr;
std::vector<PortRuntime> ports;

constexpr uint8_t peer4[4] = {198, 19, 0, 2};
constexpr uint8_t ours4[4] = {198, 19, 0, 1};
constexpr uint8_t peer6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
constexpr uint8_t ours6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "fuzz_tcp_host: %s\n", what);
    std::abort();
}

void check_frame(rte_mbuf* m) {
    const uint8_t version = *rte_pktmbuf_mtod(m, const uint8_t*) >> 4;
    if (version == 4) {
        const auto* ip = rte_pktmbuf_mtod(m, const rte_ipv4_hdr*);
        if (rte_be_to_cpu_16(ip->total_length) != rte_pktmbuf_pkt_len(m) ||
            std::memcmp(&ip->src_addr, ours4, 4) != 0 || rte_raw_cksum(ip, 20) != 0xffff ||
            rte_ipv4_udptcp_cksum_mbuf_verify(m, ip, 20) != 0) {
            die("an IPv4 frame braid built is inconsistent");
        }
    } else if (version == 6) {
        const auto* ip6 = rte_pktmbuf_mtod(m, const rte_ipv6_hdr*);
        if (rte_be_to_cpu_16(ip6->payload_len) + 40u != rte_pktmbuf_pkt_len(m) ||
            std::memcmp(ip6->src_addr, ours6, 16) != 0 ||
            rte_ipv6_udptcp_cksum_mbuf_verify(m, ip6, 40) != 0) {
            die("an IPv6 frame braid built is inconsistent");
        }
    } else {
        die("a frame braid built is not IP");
    }
}

void drain(TcpHost& host) {
    for (rte_mbuf* m : host.frames()) {
        check_frame(m);
        rte_pktmbuf_free(m);
    }
    host.frames().clear();
}

rte_mbuf* frame(const uint8_t* seg, size_t len, bool v6, bool fix_checksum) {
    rte_mbuf* m = rte_pktmbuf_alloc(rx_pool);
    if (m == nullptr) {
        die("rx pool exhausted");
    }
    const size_t ip_len = v6 ? 40 : 20;
    auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, uint16_t(14 + ip_len + len)));
    if (p == nullptr) {
        die("cannot append");
    }
    auto* eth = reinterpret_cast<rte_ether_hdr*>(p);
    eth->dst_addr = ports[0].mac;
    eth->src_addr = rte_ether_addr{{0x02, 0, 0, 0, 6, 2}};
    eth->ether_type = rte_cpu_to_be_16(v6 ? RTE_ETHER_TYPE_IPV6 : RTE_ETHER_TYPE_IPV4);
    std::memcpy(p + 14 + ip_len, seg, len);
    if (v6) {
        auto* ip6 = reinterpret_cast<rte_ipv6_hdr*>(p + 14);
        ip6->vtc_flow = rte_cpu_to_be_32(6u << 28);
        ip6->payload_len = rte_cpu_to_be_16(uint16_t(len));
        ip6->proto = IPPROTO_TCP;
        ip6->hop_limits = 64;
        std::memcpy(ip6->src_addr, peer6, 16);
        std::memcpy(ip6->dst_addr, ours6, 16);
        if (fix_checksum && len >= 20) {
            auto* th = reinterpret_cast<rte_tcp_hdr*>(p + 14 + 40);
            th->cksum = 0;
            th->cksum = rte_ipv6_udptcp_cksum(ip6, th);
        }
    } else {
        auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p + 14);
        ip->version_ihl = 0x45;
        ip->total_length = rte_cpu_to_be_16(uint16_t(20 + len));
        ip->time_to_live = 64;
        ip->next_proto_id = IPPROTO_TCP;
        std::memcpy(&ip->src_addr, peer4, 4);
        std::memcpy(&ip->dst_addr, ours4, 4);
        ip->hdr_checksum = rte_ipv4_cksum(ip);
        if (fix_checksum && len >= 20) {
            auto* th = reinterpret_cast<rte_tcp_hdr*>(p + 14 + 20);
            th->cksum = 0;
            th->cksum = rte_ipv4_udptcp_cksum(ip, th);
        }
    }
    braid::dataplane::meta(m) = {};
    return m;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
    braid::fuzz::eal_up("tcp_host");
    if (!braid::dataplane::register_mbuf_meta()) {
        std::fprintf(stderr, "fuzz_tcp_host: cannot register the mbuf metadata\n");
        std::exit(1);
    }
    rx_pool = rte_pktmbuf_pool_create("fz_rx", 511, 0, 0, 2176, SOCKET_ID_ANY);
    data_pool = rte_pktmbuf_pool_create("fz_data", 1023, 0, 0, 2176, SOCKET_ID_ANY);
    clone_pool = rte_pktmbuf_pool_create("fz_clone", 2047, 0, 0, 0, SOCKET_ID_ANY);
    if (rx_pool == nullptr || data_pool == nullptr || clone_pool == nullptr) {
        std::fprintf(stderr, "fuzz_tcp_host: cannot create the pools\n");
        std::exit(1);
    }
    PortRuntime p;
    p.name = "n6";
    p.role = braid::config::PortRole::n6;
    p.mac = rte_ether_addr{{0x02, 0, 0, 0, 6, 1}};
    p.mtu = 1500;
    p.has_ipv4 = true;
    p.ipv4 = (198u << 24) | (19u << 16) | 1u;
    p.has_ipv6 = true;
    std::memcpy(p.ipv6.data(), ours6, 16);
    ports.push_back(p);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 64 * 1024) {
        return -1;
    }
    uint64_t now_us = 1'000'000;
    {
        braid::dataplane::TcpHostConfig cfg;
        cfg.pool = data_pool;
        cfg.engine.clone_pool = clone_pool;
        cfg.engine.default_rcv_buf = 16 * 1024;  // small: window edges and zero windows happen
        cfg.engine.default_snd_buf = 16 * 1024;
        TcpHost host(cfg, ports);
        host.add_service({5001, braid::dataplane::TcpAppMode::echo, 0});
        braid::dataplane::TcpConnectSpec c;
        c.remote = braid::tcp::IpAddr::v4(198, 19, 0, 2);
        c.remote_port = 80;
        c.local_port = 40000;
        c.mode = braid::dataplane::TcpAppMode::source;
        c.bytes = 50'000;
        (void)host.connect(c, now_us);
        drain(host);
        for (size_t i = 0; i + 4 <= size;) {
            const uint8_t flags = data[i];
            now_us += uint64_t{data[i + 1]} * 1000;
            const size_t len = std::min<size_t>(size_t{data[i + 2]} << 8 | data[i + 3], 1460);
            i += 4;
            const size_t take = std::min(len, size - i);
            rte_mbuf* m = frame(data + i, take, (flags & 2) != 0, (flags & 1) != 0);
            i += take;
            const auto r = braid::pipelines::eth_classify_packet(ports[0], m);
            if (r.verdict == braid::pipelines::Verdict::tcp_local) {
                const DropReason d = host.input(m, now_us);
                if (d != DropReason::count) {
                    if (static_cast<size_t>(d) >= braid::pipelines::drop_reason_count) {
                        die("drop reason out of range");
                    }
                    rte_pktmbuf_free(m);
                }
            } else {
                rte_pktmbuf_free(m);
            }
            host.poll(now_us);
            drain(host);
        }
        now_us += 200'000'000;  // every timer fires: RTOs, TIME-WAIT, SYN retries
        host.poll(now_us);
        drain(host);
    }
    for (rte_mempool* p : {rx_pool, data_pool, clone_pool}) {
        if (rte_mempool_in_use_count(p) != 0) {
            die("mbufs still in use after the host was destroyed");
        }
    }
    return 0;
}
