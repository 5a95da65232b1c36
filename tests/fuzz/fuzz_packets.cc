// libFuzzer target: the per-packet logic of braid's local stages (pipelines/stages.h), i.e.
// eth_classify → arp | icmp_local, on untrusted frames, exactly as the graph nodes run them but
// without ports or graphs.
//
// EAL comes up once, in LLVMFuzzerInitialize, with --no-huge, --no-pci, no vdev at all and a
// per-process --file-prefix (nothing is probed, nothing is shared with another process). The
// frame is copied into one mbuf from a private pool; invariants checked (abort on violation):
//   - a `tx` verdict leaves a frame of at least 14 bytes whose Ethernet source is the port MAC,
//     and a well-formed reply: ARP reply from our MAC/address; IPv4 or IPv6 from one of our
//     addresses, length fields matching the frame, IP and ICMP checksums correct;
//   - the packet never grows by more than 32 bytes (the NS → NA rewrite may append);
//   - a `drop` verdict carries a reason < DropReason::count;
//   - the mbuf stays a single, consistent segment (pkt_len == data_len);
//   - after rte_pktmbuf_free every mbuf is back in the pool (no leak, no double free).
#include <rte_arp.h>
#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_udp.h>

#include <dirent.h>
#include <unistd.h>

#include <iterator>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dataplane/app.h"
#include "dataplane/eal.h"
#include "dataplane/mbuf_meta.h"
#include "fuzz_eal.h"
#include "pipelines/stages.h"

namespace {

using braid::dataplane::PortRuntime;
using braid::pipelines::DropReason;
using braid::pipelines::StageResult;
using braid::pipelines::Verdict;

constexpr size_t max_input = 9000;
constexpr uint16_t data_room = 16384 + RTE_PKTMBUF_HEADROOM;
constexpr unsigned pool_size = 63;
constexpr uint32_t max_growth = 32;

rte_mempool* pool = nullptr;
PortRuntime* port = nullptr;
bool verbose = false;  // BRAID_FUZZ_VERBOSE=1: one line per input (to check the seeds)

[[noreturn]] void die(const char* fmt, unsigned a = 0, unsigned b = 0) {
    std::fprintf(stderr, "fuzz_packets: ");
    std::fprintf(stderr, fmt, a, b);
    std::fprintf(stderr, "\n");
    std::abort();
}

PortRuntime* make_port() {
    auto* p = new PortRuntime();
    p->name = "n3";
    p->role = braid::config::PortRole::n3;
    p->port_id = 0;
    p->index = 0;
    p->device = "fuzz";
    p->driver = "none";
    p->mac = rte_ether_addr{{0x02, 0x00, 0x00, 0x00, 0x03, 0x01}};
    p->pool = pool;
    p->mtu = 9000;
    p->has_ipv4 = true;
    p->ipv4 = (198u << 24) | (18u << 16) | (0u << 8) | 1u;  // 198.18.0.1, host order
    p->ipv4_len = 24;
    p->has_ipv6 = true;
    p->ipv6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};  // 2001:db8:3::1
    p->ipv6_len = 64;
    // fe80::/64 with the modified EUI-64 of the MAC, as configure_port (dataplane/port.cc).
    p->ipv6_link_local = {0xfe, 0x80};
    p->ipv6_link_local[8] = p->mac.addr_bytes[0] ^ 0x02;
    p->ipv6_link_local[9] = p->mac.addr_bytes[1];
    p->ipv6_link_local[10] = p->mac.addr_bytes[2];
    p->ipv6_link_local[11] = 0xff;
    p->ipv6_link_local[12] = 0xfe;
    p->ipv6_link_local[13] = p->mac.addr_bytes[3];
    p->ipv6_link_local[14] = p->mac.addr_bytes[4];
    p->ipv6_link_local[15] = p->mac.addr_bytes[5];
    p->has_gateway_ipv4 = true;
    p->gateway_ipv4 = (198u << 24) | (18u << 16) | 254u;
    return p;
}

// A reply must be a well-formed frame from us: our source MAC, and for IP a consistent length
// and correct checksums (a reply the peer would discard is a bug too).
void check_tx(rte_mbuf* m) {
    const uint32_t len = rte_pktmbuf_data_len(m);
    if (len < sizeof(rte_ether_hdr)) {
        die("tx verdict with a %u-byte frame", len);
    }
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    if (!rte_is_same_ether_addr(&eth->src_addr, &port->mac)) {
        die("tx verdict with a foreign Ethernet source");
    }
    const uint32_t l3_len = len - sizeof(rte_ether_hdr);
    switch (rte_be_to_cpu_16(eth->ether_type)) {
        case RTE_ETHER_TYPE_ARP: {
            if (l3_len < sizeof(rte_arp_hdr)) {
                die("ARP reply of %u bytes", l3_len);
            }
            const auto* arp = reinterpret_cast<const rte_arp_hdr*>(eth + 1);
            if (arp->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REPLY) ||
                !rte_is_same_ether_addr(&arp->arp_data.arp_sha, &port->mac) ||
                rte_be_to_cpu_32(arp->arp_data.arp_sip) != port->ipv4) {
                die("ARP reply is not a reply from our MAC and address");
            }
            break;
        }
        case RTE_ETHER_TYPE_IPV4: {
            const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(eth + 1);
            const uint32_t ihl = (ip->version_ihl & 0x0f) * 4u;
            const uint32_t total = rte_be_to_cpu_16(ip->total_length);
            if (l3_len < sizeof(rte_ipv4_hdr) || ihl < sizeof(rte_ipv4_hdr) || total != l3_len ||
                total < ihl + sizeof(rte_icmp_hdr)) {
                die("IPv4 reply: total length %u, frame carries %u", total, l3_len);
            }
            if (rte_raw_cksum(ip, ihl) != 0xffff) {
                die("IPv4 reply with a bad header checksum");
            }
            if (ip->next_proto_id == IPPROTO_UDP) {
                // GTP-U Echo Response: from port 2152, UDP length and checksum right.
                const auto* udp = reinterpret_cast<const rte_udp_hdr*>(
                    reinterpret_cast<const uint8_t*>(ip) + ihl);
                if (udp->src_port != rte_cpu_to_be_16(2152) ||
                    rte_be_to_cpu_16(udp->dgram_len) != total - ihl ||
                    rte_ipv4_udptcp_cksum_verify(ip, udp) != 0) {
                    die("GTP-U reply with a bad UDP header or checksum");
                }
            } else if (rte_raw_cksum(reinterpret_cast<const uint8_t*>(ip) + ihl, total - ihl) !=
                       0xffff) {
                die("ICMP reply with a bad checksum");
            }
            if (rte_be_to_cpu_32(ip->src_addr) != port->ipv4) {
                die("IPv4 reply not from our address");
            }
            break;
        }
        case RTE_ETHER_TYPE_IPV6: {
            const auto* ip6 = reinterpret_cast<const rte_ipv6_hdr*>(eth + 1);
            if (l3_len < sizeof(rte_ipv6_hdr) ||
                sizeof(rte_ipv6_hdr) + rte_be_to_cpu_16(ip6->payload_len) != l3_len) {
                die("IPv6 reply: payload length %u, frame carries %u",
                    l3_len < sizeof(rte_ipv6_hdr) ? 0u : rte_be_to_cpu_16(ip6->payload_len),
                    l3_len);
            }
            if (ip6->proto != IPPROTO_ICMPV6 || rte_ipv6_udptcp_cksum_verify(ip6, ip6 + 1) != 0) {
                die("ICMPv6 reply with a bad checksum");
            }
            if (std::memcmp(ip6->src_addr, port->ipv6.data(), 16) != 0 &&
                std::memcmp(ip6->src_addr, port->ipv6_link_local.data(), 16) != 0) {
                die("IPv6 reply not from one of our addresses");
            }
            break;
        }
        default:
            die("tx verdict with Ethernet type 0x%04x", rte_be_to_cpu_16(eth->ether_type));
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
    braid::fuzz::eal_up("packets");
    pool = rte_pktmbuf_pool_create("fuzz_pool", pool_size, 0, 0, data_room,
                                   static_cast<int>(rte_socket_id()));
    if (pool == nullptr) {
        std::fprintf(stderr, "fuzz_packets: cannot create the mbuf pool\n");
        std::exit(1);
    }
    port = make_port();
    verbose = std::getenv("BRAID_FUZZ_VERBOSE") != nullptr;
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > max_input) {
        return -1;
    }
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (m == nullptr) {
        die("mbuf pool exhausted (%u in use)", rte_mempool_in_use_count(pool));
    }
    char* dst = rte_pktmbuf_append(m, static_cast<uint16_t>(size));
    if (dst == nullptr) {
        die("cannot append %u bytes", static_cast<unsigned>(size));
    }
    if (size > 0) {
        std::memcpy(dst, data, size);
    }
    braid::dataplane::meta(m) = {};
    braid::dataplane::meta(m).port_index = 0;

    StageResult r = braid::pipelines::eth_classify_packet(*port, m);
    if (r.verdict == Verdict::arp) {
        r = braid::pipelines::arp_packet(*port, m, nullptr);
    } else if (r.verdict == Verdict::icmp_local) {
        r = braid::pipelines::icmp_local_packet(*port, m);
    } else if (r.verdict == Verdict::gtpu_input) {
        r = braid::pipelines::gtpu_input_packet(*port, m);
        if (r.verdict == Verdict::gtpu_echo) {
            r = braid::pipelines::gtpu_echo_packet(*port, m, nullptr);
        } else if (r.verdict == Verdict::gtpu_error_ind || r.verdict == Verdict::pdr_ul) {
            // No sessions here: every G-PDU's TEID is unknown and gets an Error Indication.
            r = braid::pipelines::gtpu_error_ind_packet(*port, m, nullptr);
        }
    }

    if (verbose) {
        static constexpr const char* verdicts[] = {
            "drop",           "arp",    "icmp_local", "gtpu_input", "gtpu_echo",
            "gtpu_error_ind", "pdr_ul", "pdr_dl",     "tx",         "consumed"};
        std::fprintf(stderr, "fuzz_packets: %zu bytes -> %s (%s), %u bytes out\n", size,
                     static_cast<size_t>(r.verdict) < std::size(verdicts)
                         ? verdicts[static_cast<size_t>(r.verdict)]
                         : "?",
                     static_cast<size_t>(r.reason) < braid::pipelines::drop_reason_count
                         ? std::string(braid::pipelines::to_string(r.reason)).c_str()
                         : "-",
                     rte_pktmbuf_pkt_len(m));
    }
    switch (r.verdict) {
        case Verdict::tx:
            check_tx(m);
            break;
        case Verdict::drop:
            if (static_cast<size_t>(r.reason) >= braid::pipelines::drop_reason_count) {
                die("drop reason %u out of range", static_cast<unsigned>(r.reason));
            }
            break;
        case Verdict::arp:
        case Verdict::icmp_local:
        case Verdict::gtpu_input:
        case Verdict::gtpu_echo:
        case Verdict::gtpu_error_ind:
        case Verdict::pdr_ul:
        case Verdict::pdr_dl:
            // Intermediate verdicts must have been consumed by the next stage (pdr_dl cannot
            // come from an N3 port).
            die("stage returned the intermediate verdict %u", static_cast<unsigned>(r.verdict));
        default:
            die("invalid verdict %u", static_cast<unsigned>(r.verdict));
    }
    if (rte_pktmbuf_pkt_len(m) > size + max_growth) {
        die("packet grew from %u to %u bytes", static_cast<unsigned>(size), rte_pktmbuf_pkt_len(m));
    }
    if (m->nb_segs != 1 || m->next != nullptr ||
        rte_pktmbuf_pkt_len(m) != rte_pktmbuf_data_len(m)) {
        die("mbuf no longer one consistent segment (pkt_len %u, data_len %u)",
            rte_pktmbuf_pkt_len(m), rte_pktmbuf_data_len(m));
    }
    rte_pktmbuf_free(m);
    if (const unsigned n = rte_mempool_in_use_count(pool); n != 0) {
        die("%u mbufs still in use after the input", n);
    }
    return 0;
}
