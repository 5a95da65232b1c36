// bench_pipeline: braid's packet path in steady state on one worker lcore, measured with braid's
// own counters (docs/BENCHMARKS.md). Two workloads:
//
// --workload icmp (default): n3_rx → eth_classify → icmp_local → n3_tx. One net_ring port (n3)
// with separate RX and TX rings, built in-process with rte_eth_from_rings(). The main lcore is
// the traffic generator and reflector: it pre-builds K ICMP echo requests to braid's n3 address,
// keeps the RX ring fed, takes braid's echo replies off the TX ring, checks every byte of each
// against the reply braid must send, turns it back into the request (swap MACs and IPs, ICMP
// type 0 → 8 with an RFC 1624 incremental checksum update; the IPv4 checksum is unchanged because
// the swap keeps the same words) and puts it back on the RX ring.
//
// --workload upf: the GTP-U user plane (issue 3). Two net_ring ports (n3, n6) and one session
// (SEID 1: UL TEID 0x1001, UE 198.19.100.1, gNB 198.18.0.2 with DL TEID 0x2002, a QER with QFI 9
// and a URR without triggers on both PDRs), the addresses of tests/unit/pipelines/test_nodes.cc
// and tests/pipeline/golden.py. --sessions N installs N such sessions (session i: SEID 1 + i,
// TEIDs + i, UE ue_addr(i)) and spreads the frame slots over them; --sdf-filters K puts K SDF
// filters on each uplink PDR, the matching one last; --qer off leaves the QER out (and the PDU
// Session Container with it, see set_container). Above 100000 sessions only one in
// ceil(N / 100000) has an IPv4 UE and carries traffic, the others have IPv6 UEs from
// 2001:db8::/32 and fill the tables (up to 1M). The reflector also measures each frame's
// latency from braid's RX ring to its TX ring (p50/p99). Every frame alternates between the two
// directions:
//   uplink:   n3_rx → eth_classify → gtpu_input → pdr_ul → qer_meter → urr_count → far_forward
//             → n6_tx  (a G-PDU with a UL PDU Session Container is decapsulated)
//   downlink: n6_rx → eth_classify → pdr_dl → qer_meter → urr_count → far_forward → gtpu_encap
//             → n3_tx  (the UE's packet gets GTP-U/UDP/IPv4 with a DL PDU Session Container)
// The reflector checks every byte of what braid sends and turns a decapsulated uplink packet
// (N6 TX) into a downlink packet for the UE (N6 RX: swap MACs, inner IPs and UDP ports) and a
// downlink G-PDU (N3 TX) into an uplink G-PDU (N3 RX: swap MACs and outer IPs, TEID := UL TEID,
// container type DL → UL, swap inner IPs and UDP ports). Every swap keeps the IPv4 and UDP
// checksums valid, so nothing is recomputed. --size is the N6 frame (the inner IPv4/UDP packet
// plus 14 bytes of Ethernet); the N3 frame is 44 bytes longer (outer IPv4 20, UDP 8, GTP-U 12,
// PDU Session Container 4).
//
// The worker (lcore 1) thus never runs dry and never sees a packet it has not seen before.
// --mode cross (default): braid's own worker loop on lcore 1, the reflector on the main lcore.
// --mode inline: the reflector runs on lcore 1 between graph walks (no cache line crosses cores,
// as in testpmd's one-core loopback); the main lcore only watches.
//
// Output: a human-readable report, then `key=value` lines (prefix "result.") that
// scripts/bench.sh parses. Exit status 0 only if every frame braid sent was correct, nothing was
// dropped, every frame came back and no mbuf was lost.
#include <rte_cycles.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_graph_worker.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "control/config.h"
#include "dataplane/app.h"
#include "dataplane/eal.h"
#include "dataplane/session.h"
#include "pipelines/drop_reasons.h"
#include "pipelines/graph.h"

using namespace braid;

namespace {

// --sessions: session i has SEID 1 + i, UL TEID 0x1001 + i, DL TEID 0x2002 + i and UE address
// ue_addr(i). The UE addresses must stay in 198.18.0.0/15 and off braid's and the peers'
// 198.18.0.x / 198.19.0.x, which bounds N (so the 1M-session point of the matrix needs IPv6 UEs).
constexpr unsigned max_sessions = 1000000;
// IPv4 UEs fit 100000 sessions in 198.18.0.0/15 (see ue_addr); beyond that, only every
// `v4_stride`-th session gets an IPv4 UE (and carries traffic), the others an IPv6 /64 from
// 2001:db8::/32 so that they still fill the TEID and session tables.
constexpr unsigned max_v4_sessions = 100000;
unsigned v4_stride = 1;  // set once in main() from --sessions

struct Options {
    unsigned size = 64;        // frame length without FCS (testpmd --txpkts counts the same way)
    double duration_s = 10.0;  // measured interval
    double warmup_s = 1.0;     // before the first snapshot
    unsigned inflight = 1024;  // K: frames circulating between the reflector and braid
    unsigned burst = 32;       // braid's workers.burst_size
    bool inline_mode = false;  // --mode inline: reflector on the worker lcore, between walks
    bool upf = false;          // --workload upf: the GTP-U user plane, both directions
    unsigned sessions = 1;     // --sessions N (upf): sessions installed; frames spread over them
    unsigned sdf_filters = 0;  // --sdf-filters K (upf): SDF filters on each uplink PDR
    bool qer = true;           // --qer off (upf): no QER on either PDR
};

void usage(const char* argv0) {
    std::fprintf(
        stderr,
        "usage: %s [--workload icmp|upf] [--size 64|128|512|1400]\n"
        "          [--duration SECONDS] [--warmup SECONDS] [--inflight K] [--burst N]\n"
        "          [--mode cross|inline] [--sessions N] [--sdf-filters K] [--qer on|off]\n"
        "  --workload  icmp: ICMP echo answered on N3 (default)\n"
        "              upf: GTP-U uplink decapsulation and downlink encapsulation\n"
        "  --size      frame length in bytes without FCS (64, 128, 512, 1400; default 64); with "
        "upf, the\n"
        "              N6 frame (inner IPv4/UDP packet + 14), the N3 frame being 44 bytes longer\n"
        "  --duration  measured interval (default 10 s, at most 600)\n"
        "  --warmup    run before measuring (default 1 s)\n"
        "  --inflight  frames circulating (default 1024, 64..16384)\n"
        "  --burst     braid worker burst size (default 32)\n"
        "  --sessions  upf: sessions installed (1..1000000, default 1); frame slot s belongs to\n"
        "              session s %% N when N <= K in flight, else to session s * N / K\n"
        "              (above 100000, rounded down to a session with an IPv4 UE: one in\n"
        "              ceil(N / 100000); the others have IPv6 UEs and carry no traffic)\n"
        "  --sdf-filters upf: SDF filters on each session's uplink PDR (0..64, default 0); the\n"
        "              K-1 first name other DN ports, the last matches the traffic\n"
        "  --qer       upf: on (default): QER with QFI 9 on both PDRs; off: no QER\n"
        "  --mode      cross: braid's worker on lcore 1, reflector on lcore 0 (default)\n"
        "              inline: graph walk and reflector alternate on lcore 1\n",
        argv0);
}

bool parse_args(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            usage(argv[0]);
            std::exit(0);
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "%s: %s needs a value\n", argv[0], a.c_str());
            return false;
        }
        const char* v = argv[++i];
        char* end = nullptr;
        if (a == "--size") {
            o.size = static_cast<unsigned>(std::strtoul(v, &end, 10));
        } else if (a == "--duration") {
            o.duration_s = std::strtod(v, &end);
        } else if (a == "--warmup") {
            o.warmup_s = std::strtod(v, &end);
        } else if (a == "--inflight") {
            o.inflight = static_cast<unsigned>(std::strtoul(v, &end, 10));
        } else if (a == "--mode") {
            if (std::string(v) != "cross" && std::string(v) != "inline") {
                std::fprintf(stderr, "%s: --mode is cross or inline\n", argv[0]);
                return false;
            }
            o.inline_mode = std::string(v) == "inline";
            continue;
        } else if (a == "--workload") {
            if (std::string(v) != "icmp" && std::string(v) != "upf") {
                std::fprintf(stderr, "%s: --workload is icmp or upf\n", argv[0]);
                return false;
            }
            o.upf = std::string(v) == "upf";
            continue;
        } else if (a == "--qer") {
            if (std::string(v) != "on" && std::string(v) != "off") {
                std::fprintf(stderr, "%s: --qer is on or off\n", argv[0]);
                return false;
            }
            o.qer = std::string(v) == "on";
            continue;
        } else if (a == "--sessions") {
            o.sessions = static_cast<unsigned>(std::strtoul(v, &end, 10));
        } else if (a == "--sdf-filters") {
            o.sdf_filters = static_cast<unsigned>(std::strtoul(v, &end, 10));
        } else if (a == "--burst") {
            o.burst = static_cast<unsigned>(std::strtoul(v, &end, 10));
        } else {
            std::fprintf(stderr, "%s: unknown option %s\n", argv[0], a.c_str());
            return false;
        }
        if (end == v || *end != '\0') {
            std::fprintf(stderr, "%s: bad value for %s: %s\n", argv[0], a.c_str(), v);
            return false;
        }
    }
    if (o.sessions < 1 || o.sessions > max_sessions) {
        std::fprintf(stderr, "--sessions must be 1..%u\n", max_sessions);
        return false;
    }
    if (o.sdf_filters > 64) {
        std::fprintf(stderr, "--sdf-filters must be 0..64\n");
        return false;
    }
    if (o.size != 64 && o.size != 128 && o.size != 512 && o.size != 1400) {
        std::fprintf(stderr, "--size must be 64, 128, 512 or 1400\n");
        return false;
    }
    if (!(o.duration_s > 0 && o.duration_s <= 600) || !(o.warmup_s >= 0 && o.warmup_s <= 60)) {
        std::fprintf(stderr, "--duration must be in (0, 600], --warmup in [0, 60]\n");
        return false;
    }
    if (o.inflight < 64 || o.inflight > 16384 || o.burst < 1 || o.burst > 256) {
        std::fprintf(stderr, "--inflight must be 64..16384, --burst 1..256\n");
        return false;
    }
    return true;
}

// Addresses (RFC 2544 benchmarking range 198.18.0.0/15), as in tests/pipeline/golden.py:
// braid's N3 side and the gNB, braid's N6 side and the DN host, the UE.
constexpr std::array<uint8_t, 6> braid_mac = {2, 0, 0, 0, 3, 1};  // N3
constexpr std::array<uint8_t, 6> peer_mac = {2, 0, 0, 0, 3, 2};   // gNB
constexpr uint32_t braid_ip = 0xC6120001;                         // 198.18.0.1 (N3)
constexpr uint32_t peer_ip = 0xC6120002;                          // 198.18.0.2 (gNB)
constexpr std::array<uint8_t, 6> n6_mac = {2, 0, 0, 0, 6, 1};
constexpr std::array<uint8_t, 6> dn_mac = {2, 0, 0, 0, 6, 2};
constexpr uint32_t n6_ip = 0xC6130001;  // 198.19.0.1
constexpr uint32_t dn_ip = 0xC6130002;  // 198.19.0.2
constexpr uint32_t ue_ip = 0xC6136401;  // 198.19.100.1: session 0's UE
constexpr uint64_t upf_seid = 1;
constexpr uint32_t ul_teid = 0x1001;
constexpr uint32_t dl_teid = 0x2002;
constexpr uint8_t upf_qfi = 9;
// Session i's UE: 198.19.100.1 + i up to 198.19.255.255 (39935 addresses), then from
// 198.18.1.1 on (up to 198.18.255.255), so session 0 keeps the one-session address.
constexpr uint32_t ue_addr(uint32_t i) {
    constexpr uint32_t first_block = 0xC6140000 - ue_ip;
    return i < first_block ? ue_ip + i : 0xC6120101 + (i - first_block);
}
static_assert(ue_addr(max_v4_sessions - 1) < 0xC6130000, "UE addresses run into 198.19.0.0/24");
// The IPv4 UE of session `sess` (a multiple of v4_stride: the sessions that carry traffic).
uint32_t ue4_of(uint32_t sess) {
    return ue_addr(sess / v4_stride);
}
constexpr uint16_t ue_port = 40000;  // inner UDP port of the UE
constexpr uint16_t dn_port = 7;      // ... and of the DN host
constexpr uint16_t icmp_ident = 0x4242;
constexpr size_t hdr_len = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_icmp_hdr);
constexpr size_t seq_off = hdr_len - 2;  // ICMP sequence number (big endian)
constexpr size_t icmp_off = hdr_len - sizeof(rte_icmp_hdr);

// UPF frame layout. N6: Ethernet (14) | inner IPv4 (20) | UDP (8) | payload. N3: Ethernet (14)
// | outer IPv4 (20) | UDP (8) | GTP-U (8 + seq, N-PDU, next type: 4) | PDU Session Container
// (4) | the same inner packet.
// With --qer off braid sends its downlink G-PDUs without a PDU Session Container (it has no QFI
// to put in one: gtpu_encap takes it from the PDR's QER), so the gNB's uplink G-PDUs carry none
// either and both N3 directions use the 8-byte GTP-U header: 8 bytes less. Set once in main().
bool with_container = true;
constexpr size_t n3_inner_max = 58;
size_t n3_inner = n3_inner_max;   // offset of the inner IPv4 header in an N3 frame
size_t n3_extra = n3_inner - 14;  // N3 frame length − N6 frame length
constexpr size_t upf_n6_hdr = 14 + 20 + 8;
size_t upf_n3_hdr = n3_inner + 20 + 8;
constexpr size_t upf_n3_hdr_max = n3_inner_max + 20 + 8;
void set_container(bool on) {
    with_container = on;
    n3_inner = on ? n3_inner_max : n3_inner_max - 8;
    n3_extra = n3_inner - 14;
    upf_n3_hdr = n3_inner + 20 + 8;
}

uint16_t fold(uint32_t s) {
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return static_cast<uint16_t>(s);
}

// One's complement sum of `len` bytes (big-endian words), not folded.
uint32_t sum16(const uint8_t* p, size_t len) {
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < len; i += 2) {
        s += uint32_t(p[i]) << 8 | p[i + 1];
    }
    if (len & 1) {
        s += uint32_t(p[len - 1]) << 8;
    }
    return s;
}

// One's complement checksum over `len` bytes (big-endian words), the value to store (~sum).
uint16_t inet_cksum(const uint8_t* p, size_t len) {
    return static_cast<uint16_t>(~fold(sum16(p, len)));
}

void put16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
uint16_t get16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
void put32(uint8_t* p, uint32_t v) {
    put16(p, static_cast<uint16_t>(v >> 16));
    put16(p + 2, static_cast<uint16_t>(v));
}

constexpr unsigned max_size = 1400;
constexpr unsigned max_frame = max_size + n3_inner_max - 14;
using Frame = std::array<uint8_t, max_frame>;  // the first `len` bytes are the frame, the rest 0

// The echo request with sequence number `seq`, written independently of DPDK's helpers.
Frame make_request(unsigned size, uint16_t seq) {
    Frame f{};
    std::memcpy(f.data(), braid_mac.data(), 6);
    std::memcpy(f.data() + 6, peer_mac.data(), 6);
    put16(f.data() + 12, 0x0800);
    uint8_t* ip = f.data() + 14;
    ip[0] = 0x45;
    put16(ip + 2, static_cast<uint16_t>(size - 14));
    put16(ip + 4, seq);  // identification
    ip[8] = 64;          // TTL: braid's replies carry 64, so the reflected request is identical
    ip[9] = 1;           // ICMP
    put32(ip + 12, peer_ip);
    put32(ip + 16, braid_ip);
    put16(ip + 10, inet_cksum(ip, 20));
    uint8_t* icmp = ip + 20;
    icmp[0] = 8;  // echo request
    put16(icmp + 4, icmp_ident);
    put16(icmp + 6, seq);
    for (size_t i = hdr_len; i < size; ++i) {
        f[i] = static_cast<uint8_t>(i * 7 + 3);
    }
    put16(icmp + 2, inet_cksum(icmp, size - 34));
    return f;
}

// The reply braid must send for make_request(size, seq) (RFC 792): MACs and IPs swapped, TTL 64,
// type 0, both checksums recomputed from scratch.
Frame make_reply(unsigned size, uint16_t seq) {
    Frame f = make_request(size, seq);
    std::memcpy(f.data(), peer_mac.data(), 6);
    std::memcpy(f.data() + 6, braid_mac.data(), 6);
    uint8_t* ip = f.data() + 14;
    ip[8] = 64;
    put32(ip + 12, braid_ip);
    put32(ip + 16, peer_ip);
    put16(ip + 10, 0);
    put16(ip + 10, inet_cksum(ip, 20));
    uint8_t* icmp = ip + 20;
    icmp[0] = 0;
    put16(icmp + 2, 0);
    put16(icmp + 2, inet_cksum(icmp, size - 34));
    return f;
}

inline void swap_bytes(uint8_t* a, uint8_t* b, size_t n) {
    uint8_t tmp[8];
    std::memcpy(tmp, a, n);
    std::memcpy(a, b, n);
    std::memcpy(b, tmp, n);
}

// Reply → request in place: swap MACs, swap IPs (the IPv4 header checksum covers the same
// 16-bit words, so it stays valid), ICMP type 0 → 8 with the checksum updated per RFC 1624
// eqn. 3: HC' = ~(~HC + ~m + m'), m and m' being the type/code word before and after.
inline void reflect(uint8_t* f) {
    swap_bytes(f, f + 6, 6);
    uint8_t* ip = f + 14;
    swap_bytes(ip + 12, ip + 16, 4);
    uint8_t* icmp = f + icmp_off;
    const uint16_t m_old = get16(icmp);
    icmp[0] = 8;
    const uint16_t m_new = get16(icmp);
    const uint16_t hc = get16(icmp + 2);
    put16(icmp + 2,
          static_cast<uint16_t>(~fold(uint32_t(uint16_t(~hc)) + uint16_t(~m_old) + m_new)));
}

// --- UPF frames --------------------------------------------------------------------------

// The inner packet at `ip` (`len` bytes): IPv4/UDP between the UE and the DN host, IPv4
// identification = `seq`, TTL 64; `uplink`: UE → DN (UDP 40000 → 7), else DN → UE (7 → 40000).
// The payload is the same for every frame; both checksums are computed from scratch.
void write_inner(uint8_t* ip, size_t len, uint16_t seq, bool uplink, uint32_t sess) {
    ip[0] = 0x45;
    put16(ip + 2, static_cast<uint16_t>(len));
    put16(ip + 4, seq);
    ip[8] = 64;
    ip[9] = 17;  // UDP
    put32(ip + 12, uplink ? ue4_of(sess) : dn_ip);
    put32(ip + 16, uplink ? dn_ip : ue4_of(sess));
    put16(ip + 10, 0);
    put16(ip + 10, inet_cksum(ip, 20));
    uint8_t* udp = ip + 20;
    put16(udp, uplink ? ue_port : dn_port);
    put16(udp + 2, uplink ? dn_port : ue_port);
    put16(udp + 4, static_cast<uint16_t>(len - 20));
    for (size_t i = 8; i < len - 20; ++i) {
        udp[i] = static_cast<uint8_t>(i * 7 + 3);
    }
    // RFC 768: over the pseudo-header (source, destination, protocol, UDP length) and the
    // datagram; a computed 0 is sent as 0xffff.
    put16(udp + 6, 0);
    uint32_t s = sum16(ip + 12, 8) + 17 + uint32_t(len - 20) + sum16(udp, len - 20);
    uint16_t ck = static_cast<uint16_t>(~fold(s));
    put16(udp + 6, ck == 0 ? 0xffff : ck);
}

// UDP checksum of the inner packet at `ip` is right (pseudo-header included).
bool inner_udp_ok(const uint8_t* ip, size_t len) {
    return fold(sum16(ip + 12, 8) + 17 + uint32_t(len - 20) + sum16(ip + 20, len - 20)) == 0xffff;
}

// An N6 frame of `size` bytes. `from_braid`: what braid sends after decapsulating an uplink
// G-PDU (N6 MAC → DN MAC, UE → DN); else what the DN host sends toward the UE (DN MAC → N6 MAC,
// DN → UE). The UE is session `sess`'s.
Frame n6_frame(unsigned size, uint16_t seq, bool from_braid, uint32_t sess) {
    Frame f{};
    std::memcpy(f.data(), from_braid ? dn_mac.data() : n6_mac.data(), 6);
    std::memcpy(f.data() + 6, from_braid ? n6_mac.data() : dn_mac.data(), 6);
    put16(f.data() + 12, 0x0800);
    write_inner(f.data() + 14, size - 14, seq, from_braid, sess);
    return f;
}

// An N3 frame of `size` + 44 bytes carrying the inner packet of an N6 frame of `size` bytes.
// `from_braid`: the downlink G-PDU braid sends (N3 → gNB, TEID 0x2002, DL PDU SESSION
// INFORMATION with QFI 9, inner DN → UE); else the uplink G-PDU the gNB sends (gNB → N3, TEID
// 0x1001, UL PDU SESSION INFORMATION with QFI 9, inner UE → DN). Outer IPv4 identification
// `outer_id`, TTL 64, DF clear; UDP 2152 → 2152 with checksum 0. The TEIDs and the UE are
// session `sess`'s (the TEIDs above are session 0's).
Frame n3_frame(unsigned size, uint16_t seq, uint16_t outer_id, bool from_braid, uint32_t sess) {
    Frame f{};
    const size_t inner_len = size - 14;
    const size_t len = size + n3_extra;
    std::memcpy(f.data(), from_braid ? peer_mac.data() : braid_mac.data(), 6);
    std::memcpy(f.data() + 6, from_braid ? braid_mac.data() : peer_mac.data(), 6);
    put16(f.data() + 12, 0x0800);
    uint8_t* ip = f.data() + 14;
    ip[0] = 0x45;
    put16(ip + 2, static_cast<uint16_t>(len - 14));
    put16(ip + 4, outer_id);
    ip[8] = 64;
    ip[9] = 17;
    put32(ip + 12, from_braid ? braid_ip : peer_ip);
    put32(ip + 16, from_braid ? peer_ip : braid_ip);
    put16(ip + 10, inet_cksum(ip, 20));
    uint8_t* udp = ip + 20;
    put16(udp, 2152);
    put16(udp + 2, 2152);
    put16(udp + 4, static_cast<uint16_t>(len - 34));
    uint8_t* gtp = udp + 8;
    gtp[0] = with_container ? 0x34 : 0x30;  // version 1, PT 1, E 1 / 0
    gtp[1] = 0xff;                          // G-PDU
    put16(gtp + 2, static_cast<uint16_t>(n3_inner - 14 - 20 - 8 - 8 + inner_len));
    put32(gtp + 4, from_braid ? dl_teid + sess : ul_teid + sess);
    if (with_container) {
        gtp[11] = 0x85;                      // next extension header: PDU Session Container
        gtp[12] = 1;                         // length in 4-octet units
        gtp[13] = from_braid ? 0x00 : 0x10;  // PDU type 0 (DL) / 1 (UL)
        gtp[14] = upf_qfi;                   // DL: PPP 0, RQI 0; UL: no delay, no new IE; QFI
        gtp[15] = 0;                         // no next extension header
    }
    write_inner(f.data() + n3_inner, inner_len, seq, !from_braid, sess);
    return f;
}

// A decapsulated uplink packet (N6 TX) → a downlink packet for the UE (N6 RX), in place: swap
// MACs, inner IPs and UDP ports. The IPv4 and UDP checksums cover the same words (the
// pseudo-header included), so both stay valid.
inline void reflect_n6(uint8_t* f) {
    swap_bytes(f, f + 6, 6);
    swap_bytes(f + 26, f + 30, 4);
    swap_bytes(f + 34, f + 36, 2);
}

// A downlink G-PDU (N3 TX) → an uplink G-PDU (N3 RX), in place: swap MACs and outer IPs (outer
// IPv4 checksum unchanged, UDP checksum 0), TEID := the session's UL TEID `teid`, PDU Session
// Container type DL → UL (same QFI), swap inner IPs and UDP ports (inner checksums unchanged).
inline void reflect_n3(uint8_t* f, uint32_t teid) {
    swap_bytes(f, f + 6, 6);
    swap_bytes(f + 26, f + 30, 4);
    put32(f + 46, teid);
    if (with_container) {
        f[55] = 0x10;
    }
    swap_bytes(f + n3_inner + 12, f + n3_inner + 16, 4);
    swap_bytes(f + n3_inner + 20, f + n3_inner + 22, 2);
}

// The session frame slot `s` of `k` belongs to, of `n`: round robin while n <= k; with more
// sessions than frames in flight, the slots are spread evenly over the whole session range (so
// the sessions that carry traffic are scattered through the tables, not the first k).
uint32_t session_of(unsigned s, unsigned k, unsigned n) {
    if (n <= k) {
        return s % n;
    }
    const auto i = static_cast<uint32_t>(uint64_t(s) * n / k);
    return i - i % v4_stride;
}

struct Snapshot {
    uint64_t tsc = 0;
    uint64_t rx = 0, tx = 0, busy = 0, idle = 0, loops = 0, encap = 0, decap = 0;
    std::vector<pipelines::NodeStats> nodes;
};

Snapshot snap(const dataplane::WorkerContext& wc) {
    Snapshot s;
    s.tsc = rte_rdtsc();
    s.rx = wc.counters.rx_packets.get();
    s.tx = wc.counters.tx_packets.get();
    s.busy = wc.counters.busy_cycles.get();
    s.idle = wc.counters.idle_cycles.get();
    s.loops = wc.counters.loops.get();
    s.encap = wc.counters.gtpu_encapsulated.get();
    s.decap = wc.counters.gtpu_decapsulated.get();
    s.nodes = pipelines::node_stats(wc);
    return s;
}

// Latency histogram in TSC cycles, log-linear: exact below 64, then 64 buckets per power of two
// (each at most 1/64 = 1.6 % wide). Quantiles report a bucket's lower bound.
struct LatencyHistogram {
    static constexpr unsigned sub = 64;
    std::vector<uint64_t> buckets = std::vector<uint64_t>(sub + 58 * sub, 0);
    uint64_t count = 0;

    static unsigned index(uint64_t v) {
        if (v < sub) {
            return static_cast<unsigned>(v);
        }
        const unsigned e = 63 - static_cast<unsigned>(__builtin_clzll(v));  // >= 6
        return sub + (e - 6) * sub + static_cast<unsigned>((v >> (e - 6)) & (sub - 1));
    }
    static uint64_t lower(unsigned i) {
        if (i < sub) {
            return i;
        }
        const unsigned e = (i - sub) / sub + 6;
        return (uint64_t(sub) + (i - sub) % sub) << (e - 6);
    }
    void add(uint64_t v) {
        ++buckets[index(v)];
        ++count;
    }
    // The smallest bucket bound below which at least `q` of the samples lie (0 if none).
    uint64_t quantile(double q) const {
        const auto want = static_cast<uint64_t>(q * double(count));
        uint64_t seen = 0;
        for (unsigned i = 0; i < buckets.size(); ++i) {
            seen += buckets[i];
            if (seen > want) {
                return lower(i);
            }
        }
        return 0;
    }
};

// What both reflectors count. Single writer (whichever lcore reflects), read by the main lcore.
struct Reflector {
    virtual ~Reflector() = default;
    // One pass: take what braid sent, check it, turn it back into braid's input, feed it back.
    // Returns the number of frames reflected.
    virtual unsigned poll() = 0;

    dataplane::Counter reflected;
    dataplane::Counter mismatches;
    dataplane::Counter enqueue_failures;
    dataplane::Counter polls;
    dataplane::Counter empty_polls;
    // Per-packet latency through braid: the TSC when a frame slot was put on braid's RX ring
    // (once per poll, for the whole burst) and when the reflector took it off braid's TX ring,
    // recorded while `record` is set (the measured interval). Includes the time the frame waits
    // in the RX ring behind the others in flight: with K in flight it is about K / rate; run
    // with a small --inflight to see the graph itself.
    std::vector<uint64_t> sent_at;  // by slot (seq)
    LatencyHistogram latency;
    std::atomic<bool> record{false};

    void sent(uint16_t seq, uint64_t now) { sent_at[seq] = now; }
    LatencyHistogram ul_latency, dl_latency;  // upf: arrived on N6 TX / on N3 TX
    void arrived(uint16_t seq, uint64_t now, LatencyHistogram* dir = nullptr) {
        if (sent_at[seq] != 0 && record.load(std::memory_order_relaxed)) {
            latency.add(now - sent_at[seq]);
            if (dir != nullptr) {
                dir->add(now - sent_at[seq]);
            }
        }
    }

protected:
    // Count a poll of `n` frames and put them on `ring`.
    void put_back(rte_ring* ring, rte_mbuf** pkts, unsigned n) {
        if (n == 0) {
            return;
        }
        reflected.add(n);
        unsigned q = rte_ring_sp_enqueue_burst(ring, reinterpret_cast<void**>(pkts), n, nullptr);
        if (q != n) {  // cannot happen: the ring holds all K frames
            enqueue_failures.add(n - q);
            rte_pktmbuf_free_bulk(pkts + q, n - q);
        }
    }
    void count_poll(unsigned n) {
        polls.add();
        if (n == 0) {
            empty_polls.add();
        }
    }
};

struct IcmpReflector final : Reflector {
    rte_ring* rx = nullptr;  // we produce, braid's n3_rx consumes
    rte_ring* tx = nullptr;  // braid's n3_tx produces, we consume
    unsigned size = 64;
    unsigned k = 0;
    std::vector<uint8_t> reply_hdr;     // expected reply header for seq 0
    std::vector<uint16_t> reply_cksum;  // by seq: ICMP checksum of the expected reply
    std::vector<uint16_t> reply_ipid;   // by seq
    std::vector<uint16_t> reply_ipck;   // by seq
    std::vector<uint8_t> payload;       // bytes after the headers (same for every frame)

    bool matches(const rte_mbuf* m) const {
        if (m->nb_segs != 1 || rte_pktmbuf_pkt_len(m) != size || rte_pktmbuf_data_len(m) != size) {
            return false;
        }
        const auto* f = rte_pktmbuf_mtod(m, const uint8_t*);
        const uint16_t seq = get16(f + seq_off);
        if (seq >= k) {
            return false;
        }
        // Header: the seq-0 reply with the per-seq words patched in.
        uint8_t h[hdr_len];
        std::memcpy(h, reply_hdr.data(), hdr_len);
        put16(h + 14 + 4, reply_ipid[seq]);
        put16(h + 14 + 10, reply_ipck[seq]);
        put16(h + icmp_off + 2, reply_cksum[seq]);
        put16(h + seq_off, seq);
        return std::memcmp(f, h, hdr_len) == 0 &&
               std::memcmp(f + hdr_len, payload.data(), size - hdr_len) == 0;
    }

    unsigned poll() override {
        rte_mbuf* pkts[64];
        unsigned n = rte_ring_sc_dequeue_burst(tx, reinterpret_cast<void**>(pkts), 64, nullptr);
        const uint64_t now = n != 0 ? rte_rdtsc() : 0;
        for (unsigned i = 0; i < n; ++i) {
            rte_mbuf* m = pkts[i];
            if (matches(m)) [[likely]] {
                const uint16_t seq = get16(rte_pktmbuf_mtod(m, const uint8_t*) + seq_off);
                arrived(seq, now);
                sent(seq, now);
                reflect(rte_pktmbuf_mtod(m, uint8_t*));
            } else {
                mismatches.add();
                // Put a valid request back so the run continues.
                uint16_t seq = static_cast<uint16_t>(reflected.get() % k);
                auto req = make_request(size, seq);
                rte_pktmbuf_reset(m);
                std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(size)), req.data(), size);
            }
        }
        count_poll(n);
        put_back(rx, pkts, n);
        return n;
    }
};

struct UpfReflector final : Reflector {
    rte_ring* n3_rx = nullptr;  // we produce, braid's n3_rx consumes (uplink G-PDUs)
    rte_ring* n3_tx = nullptr;  // braid's n3_tx produces (downlink G-PDUs), we consume
    rte_ring* n6_rx = nullptr;  // we produce, braid's n6_rx consumes (downlink packets)
    rte_ring* n6_tx = nullptr;  // braid's n6_tx produces (decapsulated uplink packets)
    unsigned size = 64;         // N6 frame; N3 frames are size + 44
    unsigned k = 0;
    unsigned n_sessions = 1;
    // By seq: what depends on the slot's session. The UE address is in both IPv4 checksums'
    // words and the UDP pseudo-header, so those are kept whole rather than patched.
    struct Slot {
        uint32_t ue = 0;
        uint32_t ul_teid = 0;
        uint32_t dl_teid = 0;
        uint32_t inner_sum = 0;  // sum of the inner IPv4 header with id 0 and checksum 0
        uint16_t udp_ck = 0;     // inner UDP checksum (the same in both directions)
    };
    std::vector<Slot> slots;
    std::vector<uint8_t> n6_hdr;   // expected N6 TX header (42 bytes), seq 0
    std::vector<uint8_t> n3_hdr;   // expected N3 TX header (86 bytes), seq 0, outer id 0
    std::vector<uint8_t> payload;  // inner UDP payload (same for every frame)
    uint32_t outer_sum0 = 0;       // ... of the outer IPv4 header braid builds
    uint16_t next_outer_id = 0;    // braid numbers its G-PDUs 0, 1, 2, ... (one worker)
    dataplane::Counter from_n3;    // downlink G-PDUs turned into uplink G-PDUs
    dataplane::Counter from_n6;    // uplink packets turned into downlink packets

    uint16_t inner_ck(uint16_t seq) const {
        return static_cast<uint16_t>(~fold(slots[seq].inner_sum + seq));
    }

    bool match_n6(const uint8_t* f, uint32_t len) const {
        if (len != size) {
            return false;
        }
        const uint16_t seq = get16(f + 14 + 4);
        if (seq >= k) {
            return false;
        }
        uint8_t h[upf_n6_hdr];
        std::memcpy(h, n6_hdr.data(), upf_n6_hdr);
        put16(h + 14 + 4, seq);
        put16(h + 14 + 10, inner_ck(seq));
        put32(h + 14 + 12, slots[seq].ue);
        put16(h + 14 + 20 + 6, slots[seq].udp_ck);
        return std::memcmp(f, h, upf_n6_hdr) == 0 &&
               std::memcmp(f + upf_n6_hdr, payload.data(), size - upf_n6_hdr) == 0;
    }

    bool match_n3(const uint8_t* f, uint32_t len, uint16_t outer_id) const {
        if (len != size + n3_extra) {
            return false;
        }
        const uint16_t seq = get16(f + n3_inner + 4);
        if (seq >= k) {
            return false;
        }
        uint8_t h[upf_n3_hdr_max];
        std::memcpy(h, n3_hdr.data(), upf_n3_hdr);
        put16(h + 14 + 4, outer_id);
        put16(h + 14 + 10, static_cast<uint16_t>(~fold(outer_sum0 + outer_id)));
        put32(h + 14 + 20 + 8 + 4, slots[seq].dl_teid);
        put16(h + n3_inner + 4, seq);
        put16(h + n3_inner + 10, inner_ck(seq));
        put32(h + n3_inner + 16, slots[seq].ue);
        put16(h + n3_inner + 20 + 6, slots[seq].udp_ck);
        return std::memcmp(f, h, upf_n3_hdr) == 0 &&
               std::memcmp(f + upf_n3_hdr, payload.data(), size - upf_n6_hdr) == 0;
    }

    static bool single(const rte_mbuf* m) {
        return m->nb_segs == 1 && rte_pktmbuf_pkt_len(m) == rte_pktmbuf_data_len(m);
    }

    // Replace a wrong frame by a valid one for `ring` so the run continues.
    void replace(rte_mbuf* m, bool n3) {
        mismatches.add();
        const uint16_t seq = static_cast<uint16_t>(reflected.get() % k);
        const uint32_t sess = session_of(seq, k, n_sessions);
        const Frame f = n3 ? n3_frame(size, seq, 0, false, sess) : n6_frame(size, seq, false, sess);
        const unsigned len = n3 ? size + unsigned(n3_extra) : size;
        rte_pktmbuf_reset(m);
        std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(len)), f.data(), len);
    }

    unsigned poll() override {
        rte_mbuf* pkts[64];
        unsigned n = rte_ring_sc_dequeue_burst(n6_tx, reinterpret_cast<void**>(pkts), 64, nullptr);
        uint64_t now = n != 0 ? rte_rdtsc() : 0;
        for (unsigned i = 0; i < n; ++i) {
            rte_mbuf* m = pkts[i];
            auto* f = rte_pktmbuf_mtod(m, uint8_t*);
            if (single(m) && match_n6(f, rte_pktmbuf_data_len(m))) [[likely]] {
                const uint16_t seq = get16(f + 14 + 4);
                arrived(seq, now, &ul_latency);
                sent(seq, now);
                reflect_n6(f);
            } else {
                replace(m, false);
            }
        }
        from_n6.add(n);
        put_back(n6_rx, pkts, n);
        unsigned n3 = rte_ring_sc_dequeue_burst(n3_tx, reinterpret_cast<void**>(pkts), 64, nullptr);
        now = n3 != 0 ? rte_rdtsc() : 0;
        for (unsigned i = 0; i < n3; ++i) {
            rte_mbuf* m = pkts[i];
            auto* f = rte_pktmbuf_mtod(m, uint8_t*);
            if (single(m) && match_n3(f, rte_pktmbuf_data_len(m), next_outer_id++)) [[likely]] {
                const uint16_t seq = get16(f + n3_inner + 4);
                arrived(seq, now, &dl_latency);
                sent(seq, now);
                reflect_n3(f, slots[seq].ul_teid);
            } else {
                replace(m, true);
            }
        }
        from_n3.add(n3);
        put_back(n3_rx, pkts, n3);
        count_poll(n + n3);
        return n + n3;
    }

    // Fill in the expected headers for K frames of `size` over `n_sessions` sessions.
    void prepare() {
        const Frame n6 = n6_frame(size, 0, true, 0);
        n6_hdr.assign(n6.begin(), n6.begin() + upf_n6_hdr);
        payload.assign(n6.begin() + upf_n6_hdr, n6.begin() + size);
        const Frame n3 = n3_frame(size, 0, 0, true, 0);
        n3_hdr.assign(n3.begin(), n3.begin() + upf_n3_hdr);
        uint8_t ip[20];
        slots.assign(k, Slot{});
        for (unsigned s = 0; s < k; ++s) {
            const uint32_t sess = session_of(s, k, n_sessions);
            const Frame f = n6_frame(size, 0, true, sess);
            std::memcpy(ip, f.data() + 14, 20);
            put16(ip + 10, 0);
            slots[s] = {ue4_of(sess), ul_teid + sess, dl_teid + sess, sum16(ip, 20),
                        get16(f.data() + 14 + 20 + 6)};
        }
        std::memcpy(ip, n3.data() + 14, 20);
        put16(ip + 10, 0);
        outer_sum0 = sum16(ip, 20);
    }
};

// Check the generator against itself before trusting it with braid: every frame carries valid
// checksums, the matcher accepts what braid must send, and reflecting it gives back braid's next
// input byte for byte, for every sequence number used.
bool self_test_icmp(unsigned size, unsigned k) {
    for (unsigned s = 0; s < k; ++s) {
        auto req = make_request(size, static_cast<uint16_t>(s));
        auto rep = make_reply(size, static_cast<uint16_t>(s));
        if (inet_cksum(&req[14], 20) != 0 || inet_cksum(&req[34], size - 34) != 0 ||
            inet_cksum(&rep[14], 20) != 0 || inet_cksum(&rep[34], size - 34) != 0) {
            std::fprintf(stderr, "self-test: bad checksum for seq %u\n", s);
            return false;
        }
        reflect(rep.data());
        if (rep != req) {
            std::fprintf(stderr,
                         "self-test: reflecting the reply for seq %u does not give the request\n",
                         s);
            return false;
        }
    }
    return true;
}

bool self_test_upf(unsigned size, unsigned k, unsigned n) {
    UpfReflector r;
    r.size = size;
    r.k = k;
    r.n_sessions = n;
    r.prepare();
    const size_t inner_len = size - 14;
    for (unsigned s = 0; s < k; ++s) {
        const auto seq = static_cast<uint16_t>(s);
        const auto id = static_cast<uint16_t>(s * 37 + 5);  // any outer identification
        const uint32_t sess = session_of(s, k, n);
        Frame ul6 = n6_frame(size, seq, true, sess);
        const Frame dl6 = n6_frame(size, seq, false, sess);
        Frame dl3 = n3_frame(size, seq, id, true, sess);
        const Frame ul3 = n3_frame(size, seq, id, false, sess);
        for (const Frame* f : std::initializer_list<const Frame*>{&ul6, &dl6}) {
            if (inet_cksum(f->data() + 14, 20) != 0 || !inner_udp_ok(f->data() + 14, inner_len)) {
                std::fprintf(stderr, "self-test: bad N6 checksum for seq %u\n", s);
                return false;
            }
        }
        for (const Frame* f : std::initializer_list<const Frame*>{&dl3, &ul3}) {
            if (inet_cksum(f->data() + 14, 20) != 0 || inet_cksum(f->data() + n3_inner, 20) != 0 ||
                !inner_udp_ok(f->data() + n3_inner, inner_len) ||
                std::memcmp(f->data() + upf_n3_hdr, ul6.data() + upf_n6_hdr, inner_len - 28) != 0) {
                std::fprintf(stderr, "self-test: bad N3 frame for seq %u\n", s);
                return false;
            }
        }
        if (!r.match_n6(ul6.data(), size) || !r.match_n3(dl3.data(), size + n3_extra, id) ||
            r.match_n3(dl3.data(), size + n3_extra, static_cast<uint16_t>(id + 1)) ||
            r.match_n6(dl6.data(), size) || r.match_n3(ul3.data(), size + n3_extra, id)) {
            std::fprintf(stderr, "self-test: the matcher is wrong for seq %u\n", s);
            return false;
        }
        reflect_n6(ul6.data());
        // Another session's frame with this sequence number is not what braid must send.
        if (n > 1) {
            // The next session with traffic (with an IPv4 UE: v4_stride apart).
            uint32_t other = (sess + v4_stride) % n;
            other -= other % v4_stride;
            if (r.match_n6(n6_frame(size, seq, true, other).data(), size) ||
                r.match_n3(n3_frame(size, seq, id, true, other).data(), size + n3_extra, id)) {
                std::fprintf(stderr, "self-test: the matcher ignores the session for seq %u\n", s);
                return false;
            }
        }
        reflect_n3(dl3.data(), ul_teid + sess);
        if (ul6 != dl6 || dl3 != ul3) {
            std::fprintf(stderr, "self-test: reflecting seq %u does not give braid's input\n", s);
            return false;
        }
    }
    return true;
}

// --mode inline: braid's graph and the reflector take turns on the worker lcore, so that no
// cache line crosses cores (as in testpmd's one-core loopback). This replaces App::worker_main
// (same walk, TX flush and cycle accounting into the worker's counters; no RCU reports, which
// nothing needs here: the worker is never put online and the control core changes nothing while
// it runs) and adds the reflection after each walk, timed separately.
struct Inline {
    dataplane::App* app = nullptr;
    dataplane::WorkerContext* wc = nullptr;
    Reflector* r = nullptr;
    std::atomic<bool> stop{false};
    dataplane::Counter reflect_cycles;
};

int inline_main(void* arg) {
    auto& c = *static_cast<Inline*>(arg);
    dataplane::WorkerContext& wc = *c.wc;
    const std::vector<dataplane::PortRuntime>& ports = c.app->ports();
    uint64_t prev = rte_rdtsc();
    while (!c.stop.load(std::memory_order_acquire)) {
        wc.rx_this_loop = 0;
        rte_graph_walk(wc.graph);
        for (const auto& port : ports) {
            wc.counters.tx_packets.add(
                rte_eth_tx_buffer_flush(port.port_id, wc.txq, wc.tx_buffers[port.index]));
        }
        const uint64_t t1 = rte_rdtsc();
        (wc.rx_this_loop > 0 ? wc.counters.busy_cycles : wc.counters.idle_cycles).add(t1 - prev);
        wc.counters.loops.add();
        c.r->poll();
        prev = rte_rdtsc();
        c.reflect_cycles.add(prev - t1);
    }
    return 0;
}

std::string hz_string(uint64_t hz) {
    char b[32];
    std::snprintf(b, sizeof(b), "%.3f GHz", double(hz) / 1e9);
    return b;
}

// A net_ring ethdev on two new rings (RX: we produce; TX: braid produces). Returns its name.
bool ring_port(const char* name, unsigned ring_size, rte_ring** rx, rte_ring** tx,
               std::string* ethname) {
    const std::string base = name;
    *rx = rte_ring_create(("bench_rx_" + base).c_str(), ring_size, SOCKET_ID_ANY,
                          RING_F_SP_ENQ | RING_F_SC_DEQ);
    *tx = rte_ring_create(("bench_tx_" + base).c_str(), ring_size, SOCKET_ID_ANY,
                          RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (*rx == nullptr || *tx == nullptr) {
        std::fprintf(stderr, "bench_pipeline: cannot create rings: %s\n", rte_strerror(rte_errno));
        return false;
    }
    int port = rte_eth_from_rings(("net_ring_bench_" + base).c_str(), rx, 1, tx, 1, 0);
    char n[RTE_ETH_NAME_MAX_LEN];
    if (port < 0 || rte_eth_dev_get_name_by_port(static_cast<uint16_t>(port), n) != 0) {
        std::fprintf(stderr, "bench_pipeline: rte_eth_from_rings failed\n");
        return false;
    }
    *ethname = n;
    return true;
}

config::Port port_config(const char* name, config::PortRole role, const std::string& dev,
                         std::array<uint8_t, 6> mac, uint32_t ip) {
    config::Port p;
    p.name = name;
    p.role = role;
    p.vdev = dev;
    p.mac = mac;
    p.ipv4 = config::Ipv4Prefix{ip, 24};
    p.rx_descriptors = 1024;
    p.tx_descriptors = 1024;
    return p;
}

// The sessions of the upf workload and the neighbors they need, as RingLab::add_sessions does:
// session i through App::create_session, the action function the PFCP handler calls.
// With `sdf` > 0, each uplink PDR gets `sdf` SDF filters: UDP from the DN host's ports
// 1001, 1002, ... (never the traffic's 7) to the UE's port 40000, then the one that matches.
bool install_sessions(dataplane::App& app, unsigned n, unsigned sdf, bool qer, std::string* err) {
    using namespace dataplane;
    std::vector<sdf::Filter> filters;
    for (unsigned j = 0; j < sdf; ++j) {
        const unsigned remote_port = j + 1 == sdf ? dn_port : 1001 + j;
        const std::string text =
            "permit out 17 from 198.19.0.2 " + std::to_string(remote_port) + " to assigned 40000";
        auto parsed = sdf::parse_flow_description(text);
        if (auto* e = std::get_if<std::string>(&parsed)) {
            *err = "SDF filter '" + text + "': " + *e;
            return false;
        }
        sdf::Filter f;
        f.flow = std::get<sdf::FlowDescription>(parsed);
        filters.push_back(f);
    }
    // Neighbors first: a session's gNB peer that is already known sends no ARP request.
    app.neighbors().learn(0, peer_ip, {2, 0, 0, 0, 3, 2}, true, 0);
    app.neighbors().learn(1, dn_ip, {2, 0, 0, 0, 6, 2}, true, 0);
    app.control_tick(1);
    for (uint32_t i = 0; i < n; ++i) {
        const bool v4 = i % v4_stride == 0;
        SessionSpec s =
            simple_session(upf_seid + i, ul_teid + i, v4 ? ue4_of(i) : 0, peer_ip, dl_teid + i);
        if (!v4) {  // 2001:db8:<i, 32 bits>::/64
            sdf::Prefix p6;
            p6.family = 6;
            p6.len = 64;
            p6.addr = {
                0x20,      0x01, 0x0d, 0xb8, uint8_t(i >> 24), uint8_t(i >> 16), uint8_t(i >> 8),
                uint8_t(i)};
            for (Pdr& p : s.pdrs) {
                if (p.ue_ipv4) {
                    p.ue_ipv4.reset();
                    p.ue_ipv6 = p6;
                }
            }
        }
        Qer q;
        q.id = 1;
        q.qfi = upf_qfi;
        Urr u;
        u.id = 1;  // volume measured, no trigger: nothing is ever reported
        if (qer) {
            s.qers = {q};
        }
        s.urrs = {u};
        for (Pdr& p : s.pdrs) {
            if (qer) {
                p.qer_ids = {1};
            }
            p.urr_ids = {1};
            if (p.source == Interface::access) {
                p.sdf_filters = filters;
            }
        }
        if (auto e = app.create_session(s)) {
            *err = "create_session " + std::to_string(i) + ": " + e->rule + ": " + e->message;
            return false;
        }
    }
    return true;
}

bool enqueue_frame(rte_mempool* pool, rte_ring* ring, const Frame& f, unsigned len) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    char* d = m != nullptr ? rte_pktmbuf_append(m, static_cast<uint16_t>(len)) : nullptr;
    if (d == nullptr) {
        std::fprintf(stderr, "bench_pipeline: mbuf allocation failed\n");
        return false;
    }
    std::memcpy(d, f.data(), len);
    if (rte_ring_sp_enqueue(ring, m) != 0) {
        std::fprintf(stderr, "bench_pipeline: RX ring full while filling\n");
        return false;
    }
    return true;
}

// VmRSS and VmHWM of this process in KiB (0 if /proc is not readable).
std::pair<uint64_t, uint64_t> rss_kib() {
    std::pair<uint64_t, uint64_t> r{0, 0};
    FILE* f = std::fopen("/proc/self/status", "r");
    if (f == nullptr) {
        return r;
    }
    char line[256];
    while (std::fgets(line, sizeof(line), f) != nullptr) {
        unsigned long long v = 0;
        if (std::sscanf(line, "VmRSS: %llu", &v) == 1) {
            r.first = v;
        } else if (std::sscanf(line, "VmHWM: %llu", &v) == 1) {
            r.second = v;
        }
    }
    std::fclose(f);
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    if (!parse_args(argc, argv, opt)) {
        usage(argv[0]);
        return 2;
    }
    v4_stride = (opt.sessions + max_v4_sessions - 1) / max_v4_sessions;
    set_container(opt.qer);
    if (!(opt.upf ? self_test_upf(opt.size, opt.inflight, opt.sessions)
                  : self_test_icmp(opt.size, opt.inflight))) {
        return 1;
    }

    const std::string prefix = "braid-bench-" + std::to_string(getpid());
    std::string err;
    if (!dataplane::eal_init(
            {"bench_pipeline", "-l", "0-1", "--no-huge", "-m", "1024", "--no-pci", "--file-prefix",
             prefix, "--log-level", "lib.eal:warning", "--no-telemetry"},
            &err)) {
        std::fprintf(stderr, "bench_pipeline: %s\n", err.c_str());
        return 2;
    }
    // EAL leaves its runtime directory behind; a benchmark must not litter /var/run/dpdk.
    static const std::string runtime_dir = "/var/run/dpdk/" + prefix;
    std::atexit([] {
        std::error_code ec;
        std::filesystem::remove_all(runtime_dir, ec);
    });

    unsigned ring_size = 64;
    while (ring_size <= opt.inflight) {
        ring_size <<= 1;
    }
    IcmpReflector icmp;
    UpfReflector upf;
    Reflector& r = opt.upf ? static_cast<Reflector&>(upf) : icmp;
    r.sent_at.assign(opt.inflight, 0);
    std::vector<rte_ring*> rings;  // every ring frames can sit in, for the final count
    config::Config cfg;
    std::string n3_dev, n6_dev;
    if (!ring_port("n3", ring_size, &icmp.rx, &icmp.tx, &n3_dev)) {
        return 2;
    }
    cfg.ports.push_back(port_config("n3", config::PortRole::n3, n3_dev, braid_mac, braid_ip));
    if (opt.upf) {
        upf.n3_rx = icmp.rx;
        upf.n3_tx = icmp.tx;
        if (!ring_port("n6", ring_size, &upf.n6_rx, &upf.n6_tx, &n6_dev)) {
            return 2;
        }
        cfg.ports.push_back(port_config("n6", config::PortRole::n6, n6_dev, n6_mac, n6_ip));
        rings = {upf.n3_rx, upf.n3_tx, upf.n6_rx, upf.n6_tx};
    } else {
        rings = {icmp.rx, icmp.tx};
    }
    cfg.sessions.max = std::max<uint32_t>(cfg.sessions.max, opt.sessions);
    cfg.workers.lcores = {1};
    cfg.workers.burst_size = static_cast<uint16_t>(opt.burst);
    cfg.mempool.mbufs_per_port = 2047;  // unused by net_ring (it never allocates)
    cfg.mempool.cache_size = 32;

    dataplane::App app;
    if (!app.setup(cfg, &err)) {
        std::fprintf(stderr, "bench_pipeline: setup: %s\n", err.c_str());
        return 2;
    }
    const uint64_t install_t0 = rte_rdtsc();
    if (opt.upf && !install_sessions(app, opt.sessions, opt.sdf_filters, opt.qer, &err)) {
        std::fprintf(stderr, "bench_pipeline: %s\n", err.c_str());
        app.shutdown();
        return 2;
    }

    const double install_s = double(rte_rdtsc() - install_t0) / double(rte_get_tsc_hz());

    rte_mempool* pool = rte_pktmbuf_pool_create("bench_pool", opt.inflight + 63, 0, 0,
                                                RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (pool == nullptr) {
        std::fprintf(stderr, "bench_pipeline: cannot create the mbuf pool\n");
        return 2;
    }
    if (opt.upf) {
        // Half the frames start as downlink packets on N6, half as uplink G-PDUs on N3.
        upf.size = opt.size;
        upf.k = opt.inflight;
        upf.n_sessions = opt.sessions;
        upf.prepare();
        for (unsigned s = 0; s < opt.inflight; ++s) {
            const auto seq = static_cast<uint16_t>(s);
            const uint32_t sess = session_of(s, opt.inflight, opt.sessions);
            const bool ok =
                s % 2 == 0
                    ? enqueue_frame(pool, upf.n6_rx, n6_frame(opt.size, seq, false, sess), opt.size)
                    : enqueue_frame(pool, upf.n3_rx, n3_frame(opt.size, seq, seq, false, sess),
                                    opt.size + unsigned(n3_extra));
            if (!ok) {
                return 2;
            }
        }
    } else {
        icmp.size = opt.size;
        icmp.k = opt.inflight;
        auto rep0 = make_reply(opt.size, 0);
        icmp.reply_hdr.assign(rep0.begin(), rep0.begin() + hdr_len);
        icmp.payload.assign(rep0.begin() + hdr_len, rep0.begin() + opt.size);
        for (unsigned s = 0; s < opt.inflight; ++s) {
            auto rep = make_reply(opt.size, static_cast<uint16_t>(s));
            icmp.reply_ipid.push_back(get16(&rep[14 + 4]));
            icmp.reply_ipck.push_back(get16(&rep[14 + 10]));
            icmp.reply_cksum.push_back(get16(&rep[icmp_off + 2]));
            if (!enqueue_frame(pool, icmp.rx, make_request(opt.size, static_cast<uint16_t>(s)),
                               opt.size)) {
                return 2;
            }
        }
    }

    Inline inl;
    inl.app = &app;
    inl.wc = app.workers()[0];
    inl.r = &r;
    if (opt.inline_mode) {
        if (rte_eal_remote_launch(inline_main, &inl, inl.wc->lcore_id) != 0) {
            std::fprintf(stderr, "bench_pipeline: cannot launch on lcore %u\n", inl.wc->lcore_id);
            return 2;
        }
    } else if (!app.launch(&err)) {
        std::fprintf(stderr, "bench_pipeline: launch: %s\n", err.c_str());
        return 2;
    }
    // The main lcore reflects in cross mode (polls that brought frames are timed); in inline
    // mode it only watches the counters.
    dataplane::Counter cross_reflect_cycles;
    auto pump = [&] {
        if (opt.inline_mode) {
            rte_delay_us_sleep(200);
        } else {
            const uint64_t t = rte_rdtsc();
            if (r.poll() != 0) {
                cross_reflect_cycles.add(rte_rdtsc() - t);
            }
        }
    };
    const dataplane::WorkerContext& wc = *app.workers()[0];  // freed by app.shutdown()
    const unsigned worker_lcore = wc.lcore_id;
    const uint64_t hz = app.tsc_hz();

    // Warm-up, then the measured interval; both bounded by the TSC.
    const uint64_t t0 = rte_rdtsc();
    const uint64_t warm_end = t0 + static_cast<uint64_t>(opt.warmup_s * double(hz));
    while (rte_rdtsc() < warm_end) {
        pump();
    }
    const uint64_t refl0 = r.reflected.get();
    const uint64_t polls0 = r.polls.get(), empty0 = r.empty_polls.get();
    const uint64_t rcyc0 = opt.inline_mode ? inl.reflect_cycles.get() : cross_reflect_cycles.get();
    Snapshot a = snap(wc);
    r.record.store(true, std::memory_order_relaxed);
    const uint64_t end = a.tsc + static_cast<uint64_t>(opt.duration_s * double(hz));
    // Windows of 1/100 of the interval (at least 10 ms): other load on the machine preempts the
    // worker or the reflector now and then, which inflates a mean; the median window does not
    // see it as long as fewer than half of the windows are hit.
    const uint64_t window = std::max<uint64_t>((end - a.tsc) / 100, hz / 100);
    std::vector<double> win_mpps, win_cpp;
    uint64_t w_tsc = a.tsc, w_rx = a.rx, w_busy = a.busy;
    uint64_t next_window = a.tsc + window;
    uint64_t occ_rx = 0, occ_tx = 0, occ_n = 0;  // ring occupancy, sampled once a window
    for (uint64_t now = rte_rdtsc(); now < end; now = rte_rdtsc()) {
        pump();
        if (now >= next_window) {
            for (size_t i = 0; i < rings.size(); ++i) {
                (i % 2 == 0 ? occ_rx : occ_tx) += rte_ring_count(rings[i]);
            }
            ++occ_n;
            const uint64_t rx = wc.counters.rx_packets.get(), busy = wc.counters.busy_cycles.get();
            if (rx > w_rx) {
                win_mpps.push_back(double(rx - w_rx) * double(hz) / double(now - w_tsc) / 1e6);
                win_cpp.push_back(double(busy - w_busy) / double(rx - w_rx));
            } else {
                win_mpps.push_back(0);
            }
            w_tsc = now, w_rx = rx, w_busy = busy;
            next_window = now + window;
        }
    }
    r.record.store(false, std::memory_order_relaxed);
    Snapshot b = snap(wc);
    const auto rss_kb = rss_kib();  // sessions installed, traffic running
    const uint64_t refl1 = r.reflected.get();
    const uint64_t polls = r.polls.get() - polls0, empty_polls = r.empty_polls.get() - empty0;
    const uint64_t reflect_cycles =
        (opt.inline_mode ? inl.reflect_cycles.get() : cross_reflect_cycles.get()) - rcyc0;
    // Stop the worker (it flushes its TX buffers) before reading the totals.
    if (opt.inline_mode) {
        inl.stop.store(true, std::memory_order_release);
    } else {
        app.quit_.store(true, std::memory_order_release);
    }
    rte_eal_wait_lcore(worker_lcore);
    // Totals since launch (warm-up included), for scripts/bench_callgrind.sh: its instruction
    // counts cover the whole run, so they are divided by whole-run packet counts.
    const Snapshot total = snap(wc);

    // Usage counting: the URR must have seen exactly the packets the worker (de)capsulated,
    // each counted with the length of the inner IPv4 packet.
    const uint64_t encap_total = wc.counters.gtpu_encapsulated.get();
    const uint64_t decap_total = wc.counters.gtpu_decapsulated.get();
    bool usage_ok = true;
    std::string usage_text = "-";
    if (opt.upf) {
        // Summed over the sessions; every session a frame slot belongs to has carried packets
        // both ways (each slot alternates between uplink and downlink), every other none.
        std::vector<bool> active(opt.sessions, false);
        for (unsigned s = 0; s < opt.inflight; ++s) {
            active[session_of(s, opt.inflight, opt.sessions)] = true;
        }
        std::optional<dataplane::UsageTotals> u = dataplane::UsageTotals{};
        for (uint32_t i = 0; i < opt.sessions && u; ++i) {
            auto ui = app.current_usage(upf_seid + i, 1);
            if (!ui || (active[i] ? ui->packets_ul == 0 || ui->packets_dl == 0
                                  : ui->packets_ul != 0 || ui->packets_dl != 0)) {
                std::fprintf(stderr, "bench_pipeline: session %u usage is wrong\n", i);
                u.reset();
                break;
            }
            u->packets_ul += ui->packets_ul;
            u->packets_dl += ui->packets_dl;
            u->bytes_ul += ui->bytes_ul;
            u->bytes_dl += ui->bytes_dl;
        }
        const uint64_t inner = opt.size - 14;
        usage_ok = u && u->packets_ul == decap_total && u->packets_dl == encap_total &&
                   u->bytes_ul == decap_total * inner && u->bytes_dl == encap_total * inner &&
                   app.take_reports().empty();
        char t[200];
        std::snprintf(t, sizeof(t),
                      "URR 1 of all sessions: ul %" PRIu64 " pkts / %" PRIu64 " B, dl %" PRIu64
                      " pkts / %" PRIu64 " B (worker: %" PRIu64 " decapsulated, %" PRIu64
                      " encapsulated) %s",
                      u ? u->packets_ul : 0, u ? u->bytes_ul : 0, u ? u->packets_dl : 0,
                      u ? u->bytes_dl : 0, decap_total, encap_total, usage_ok ? "ok" : "WRONG");
        usage_text = t;
    }
    const uint64_t control_tx = app.control_tx_packets();

    // Drops before shutdown(): it frees the worker contexts that hold the counters, after which
    // App::drops() sums over no worker and reads 0. The worker has stopped, so these are final.
    uint64_t drops_total = 0;
    std::string drops_text;
    for (size_t i = 0; i < pipelines::drop_reason_count; ++i) {
        uint64_t d = app.drops(static_cast<pipelines::DropReason>(i));
        if (d != 0) {
            drops_total += d;
            drops_text +=
                " " + std::string(pipelines::drop_reason_table[i].name) + "=" + std::to_string(d);
        }
    }
    // Stop braid; collect every frame (rings and braid's TX buffer, which the worker flushed).
    const uint64_t braid_leak = app.shutdown();
    std::set<rte_mbuf*> recovered;
    for (rte_ring* ring : rings) {
        rte_mbuf* m = nullptr;
        while (rte_ring_dequeue(ring, reinterpret_cast<void**>(&m)) == 0) {
            recovered.insert(m);
        }
    }
    const uint64_t frames_back = recovered.size();
    for (rte_mbuf* m : recovered) {
        rte_pktmbuf_free(m);
    }
    const unsigned pool_in_use = rte_mempool_in_use_count(pool);

    // Report.
    const double secs = double(b.tsc - a.tsc) / double(hz);
    const uint64_t pkts = b.rx - a.rx;
    const uint64_t busy = b.busy - a.busy;
    const uint64_t idle = b.idle - a.idle;
    const double mpps = double(pkts) / secs / 1e6;
    const double cpp_busy = pkts ? double(busy) / double(pkts) : 0;
    const double cpp_total = pkts ? double(busy + idle) / double(pkts) : 0;
    const double busy_pct = (busy + idle) ? 100.0 * double(busy) / double(busy + idle) : 0;
    const uint64_t ul = b.decap - a.decap, dl = b.encap - a.encap;
    const double refl_cpp = refl1 > refl0 ? double(reflect_cycles) / double(refl1 - refl0) : 0.0;

    if (opt.upf) {
        std::printf(
            "braid bench_pipeline: UPF user plane, %u session(s) from SEID %" PRIu64
            " (QER QFI %u%s, URR, %u SDF filters on the uplink PDR; installed in %.3f s), uplink "
            "n3_rx -> eth_classify -> gtpu_input "
            "-> pdr_ul -> "
            "qer_meter -> urr_count -> far_forward -> n6_tx, downlink n6_rx -> eth_classify -> "
            "pdr_dl -> qer_meter -> urr_count -> far_forward -> gtpu_encap -> n3_tx;\n"
            "  inner IPv4/UDP packet %u B: N6 frames %u B, N3 frames %u B (GTP-U%s PDU Session "
            "Container); %u in flight, burst %u, mode %s\n",
            opt.sessions, upf_seid, upf_qfi, opt.qer ? "" : " off: no QER", opt.sdf_filters,
            install_s, opt.size - 14, opt.size, opt.size + unsigned(n3_extra),
            opt.qer ? " with" : ", no", opt.inflight, opt.burst,
            opt.inline_mode ? "inline" : "cross");
    } else {
        std::printf(
            "braid bench_pipeline: n3_rx -> eth_classify -> icmp_local -> n3_tx, ICMP echo, "
            "%u-byte frames, %u in flight, burst %u, mode %s\n",
            opt.size, opt.inflight, opt.burst, opt.inline_mode ? "inline" : "cross");
    }
    std::printf("  worker lcore %u, TSC %s, measured %.3f s after %.1f s warm-up\n", worker_lcore,
                hz_string(hz).c_str(), secs, opt.warmup_s);
    std::printf("  packets (worker rx)        %" PRIu64 "  (tx %" PRIu64 ", reflected %" PRIu64
                ")\n",
                pkts, b.tx - a.tx, refl1 - refl0);
    if (opt.upf) {
        std::printf("    uplink (decapsulated)    %" PRIu64 "  (%.3f Mpps)\n", ul,
                    double(ul) / secs / 1e6);
        std::printf("    downlink (encapsulated)  %" PRIu64 "  (%.3f Mpps)\n", dl,
                    double(dl) / secs / 1e6);
    }
    std::printf("  reflector (%s)  %" PRIu64
                " polls, %.1f%% empty, %.1f pkts/poll, %.1f cycles/pkt%s\n",
                opt.inline_mode ? "worker lcore" : "main lcore  ", polls,
                polls ? 100.0 * double(empty_polls) / double(polls) : 0.0,
                polls ? double(refl1 - refl0) / double(polls) : 0.0, refl_cpp,
                opt.inline_mode ? " (every poll timed)" : " (polls that brought frames timed)");
    std::printf("  mean ring occupancy        rx %.0f, tx %.0f (of %u in flight)\n",
                occ_n ? double(occ_rx) / double(occ_n) : 0.0,
                occ_n ? double(occ_tx) / double(occ_n) : 0.0, opt.inflight);
    std::printf("  Mpps per worker            %.3f\n", mpps);
    std::printf("  busy cycles / packet       %.1f\n", cpp_busy);
    std::printf(
        "  all worker cycles / packet %.1f  (busy %.1f%% of loops' cycles, %.1f pkts/loop)\n",
        cpp_total, busy_pct, double(pkts) / double(std::max<uint64_t>(1, b.loops - a.loops)));
    std::printf("  capacity at 100%% busy      %.3f Mpps\n",
                cpp_busy > 0 ? double(hz) / cpp_busy / 1e6 : 0);
    auto median = [](std::vector<double> v) {
        if (v.empty()) {
            return 0.0;
        }
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    const double med_mpps = median(win_mpps), med_cpp = median(win_cpp);
    const double max_mpps =
        win_mpps.empty() ? 0 : *std::max_element(win_mpps.begin(), win_mpps.end());
    std::printf(
        "  %zu windows of %.0f ms: median %.3f Mpps, median %.1f busy cycles/packet, "
        "best %.3f Mpps\n",
        win_mpps.size(), double(window) * 1e3 / double(hz), med_mpps, med_cpp, max_mpps);
    std::printf("  per node (measured interval; rte_graph stats, each call timed with rdtsc):\n");
    std::printf("    %-14s %14s %14s %10s %12s %12s\n", "node", "calls", "objs", "objs/call",
                "cycles/call", "cycles/obj");
    std::map<std::string, pipelines::NodeStats> before;
    for (const auto& n : a.nodes) {
        before[n.name] = n;
    }
    std::string node_kv;
    // The UL/DL split of the graph's cycles: nodes only one direction goes through, nodes both
    // share (per packet of either direction), and the rest (empty source polls).
    static const std::set<std::string> ul_nodes = {"n3_rx", "gtpu_input", "pdr_ul", "n6_tx"};
    static const std::set<std::string> dl_nodes = {"n6_rx", "pdr_dl", "gtpu_encap", "n3_tx"};
    static const std::set<std::string> shared_nodes = {"eth_classify", "qer_meter", "urr_count",
                                                       "far_forward"};
    uint64_t ul_cyc = 0, dl_cyc = 0, shared_cyc = 0, other_cyc = 0;
    for (const auto& n : b.nodes) {
        const auto& o = before[n.name];
        uint64_t calls = n.calls - o.calls, objs = n.objs - o.objs, cyc = n.cycles - o.cycles;
        (ul_nodes.count(n.name)       ? ul_cyc
         : dl_nodes.count(n.name)     ? dl_cyc
         : shared_nodes.count(n.name) ? shared_cyc
                                      : other_cyc) += cyc;
        std::printf("    %-14s %14" PRIu64 " %14" PRIu64 " %10.1f %12.1f %12s\n", n.name.c_str(),
                    calls, objs, calls ? double(objs) / double(calls) : 0.0,
                    calls ? double(cyc) / double(calls) : 0.0,
                    objs ? std::to_string(double(cyc) / double(objs)).substr(0, 6).c_str() : "-");
        char kv[160];
        std::snprintf(kv, sizeof(kv), "result.node.%s.cycles_per_obj=%.2f\n", n.name.c_str(),
                      objs ? double(cyc) / double(objs) : 0.0);
        node_kv += kv;
    }
    double ul_cpp = 0, dl_cpp = 0;
    if (opt.upf && ul > 0 && dl > 0) {
        const double shared = double(shared_cyc + other_cyc) / double(ul + dl);
        ul_cpp = double(ul_cyc) / double(ul) + shared;
        dl_cpp = double(dl_cyc) / double(dl) + shared;
        std::printf(
            "  graph cycles per packet by direction: uplink %.1f, downlink %.1f  (nodes of one "
            "direction: ul %.1f, dl %.1f per packet of it; eth_classify, qer_meter, urr_count, "
            "far_forward and empty sources: %.1f per packet of either)\n",
            ul_cpp, dl_cpp, double(ul_cyc) / double(ul), double(dl_cyc) / double(dl), shared);
    }
    std::printf("  correctness: mismatching frames %" PRIu64 ", drops %" PRIu64
                "%s, ring enqueue "
                "failures %" PRIu64 ", frames back %" PRIu64
                " of %u, bench mbufs not returned %u, "
                "braid pool leak %" PRIu64 ", control-core packets %" PRIu64 "\n",
                r.mismatches.get(), drops_total, drops_text.c_str(), r.enqueue_failures.get(),
                frames_back, opt.inflight, pool_in_use, braid_leak, control_tx);
    if (opt.upf) {
        std::printf("  usage: %s\n", usage_text.c_str());
    }
    // Read after the worker stopped (inline mode writes the histograms on its lcore).
    auto us = [&](uint64_t cycles) { return double(cycles) * 1e6 / double(hz); };
    std::printf("  latency (RX ring in -> TX ring out, %" PRIu64
                " samples): p50 %.2f us, p99 %.2f us (%" PRIu64 " / %" PRIu64 " cycles)\n",
                r.latency.count, us(r.latency.quantile(0.5)), us(r.latency.quantile(0.99)),
                r.latency.quantile(0.5), r.latency.quantile(0.99));
    if (opt.upf) {
        std::printf("    uplink p50 %.2f us, p99 %.2f us; downlink p50 %.2f us, p99 %.2f us\n",
                    us(r.ul_latency.quantile(0.5)), us(r.ul_latency.quantile(0.99)),
                    us(r.dl_latency.quantile(0.5)), us(r.dl_latency.quantile(0.99)));
    }
    std::printf("  memory: VmRSS %.1f MiB, VmHWM %.1f MiB\n", double(rss_kb.first) / 1024,
                double(rss_kb.second) / 1024);
    std::printf("result.latency_p50_us=%.3f\nresult.latency_p99_us=%.3f\n",
                us(r.latency.quantile(0.5)), us(r.latency.quantile(0.99)));
    std::printf(
        "result.latency_ul_p50_us=%.3f\nresult.latency_ul_p99_us=%.3f\n"
        "result.latency_dl_p50_us=%.3f\nresult.latency_dl_p99_us=%.3f\n",
        us(r.ul_latency.quantile(0.5)), us(r.ul_latency.quantile(0.99)),
        us(r.dl_latency.quantile(0.5)), us(r.dl_latency.quantile(0.99)));
    std::printf("result.rss_mib=%.1f\nresult.hwm_mib=%.1f\n", double(rss_kb.first) / 1024,
                double(rss_kb.second) / 1024);

    std::printf("result.workload=%s\n", opt.upf ? "upf" : "icmp");
    std::printf("result.mode=%s\n", opt.inline_mode ? "inline" : "cross");
    std::printf("result.reflect_cycles_per_pkt=%.2f\n", refl_cpp);
    std::printf("result.size=%u\nresult.inflight=%u\nresult.seconds=%.3f\nresult.tsc_hz=%" PRIu64
                "\nresult.packets=%" PRIu64
                "\nresult.mpps=%.4f\nresult.cycles_per_pkt_busy=%.2f\n"
                "result.cycles_per_pkt_total=%.2f\nresult.busy_pct=%.2f\nresult.mismatches=%" PRIu64
                "\nresult.drops=%" PRIu64
                "\nresult.window_median_mpps=%.4f\n"
                "result.window_median_cycles_per_pkt=%.2f\nresult.window_best_mpps=%.4f\n%s",
                opt.size, opt.inflight, secs, hz, pkts, mpps, cpp_busy, cpp_total, busy_pct,
                r.mismatches.get(), drops_total, med_mpps, med_cpp, max_mpps, node_kv.c_str());
    std::printf("result.frames_back=%" PRIu64 "\n", frames_back);
    std::printf("result.total.packets=%" PRIu64 "\nresult.total.decap=%" PRIu64
                "\nresult.total.encap=%" PRIu64 "\n",
                total.rx, total.decap, total.encap);
    for (const auto& n : total.nodes) {
        std::printf("result.total.node.%s.objs=%" PRIu64 "\n", n.name.c_str(), n.objs);
    }
    if (opt.upf) {
        std::printf("result.n3_frame=%u\nresult.n6_frame=%u\n", opt.size + unsigned(n3_extra),
                    opt.size);
        std::printf("result.packets_ul=%" PRIu64 "\nresult.packets_dl=%" PRIu64
                    "\nresult.mpps_ul=%.4f\nresult.mpps_dl=%.4f\n",
                    ul, dl, double(ul) / secs / 1e6, double(dl) / secs / 1e6);
        std::printf("result.ul_cycles_per_pkt=%.2f\nresult.dl_cycles_per_pkt=%.2f\n", ul_cpp,
                    dl_cpp);
        std::printf("result.usage_ok=%d\n", usage_ok ? 1 : 0);
        std::printf("result.qer=%d\nresult.install_s=%.3f\n", opt.qer ? 1 : 0, install_s);
        std::printf("result.sessions=%u\nresult.sessions_with_traffic=%u\nresult.sdf_filters=%u\n",
                    opt.sessions, std::min(opt.sessions, opt.inflight), opt.sdf_filters);
    }

    for (rte_ring* ring : rings) {
        rte_ring_free(ring);
    }
    rte_mempool_free(pool);
    dataplane::eal_cleanup();
    const bool ok = r.mismatches.get() == 0 && drops_total == 0 && r.enqueue_failures.get() == 0 &&
                    pool_in_use == 0 && braid_leak == 0 && pkts > 0 &&
                    frames_back == opt.inflight && usage_ok && control_tx == 0 &&
                    (!opt.upf || (ul > 0 && dl > 0));
    std::printf("result.ok=%d\n", ok ? 1 : 0);
    return ok ? 0 : 1;
}
