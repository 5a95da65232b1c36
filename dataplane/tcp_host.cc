#include "dataplane/tcp_host.h"

#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_random.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <algorithm>
#include <cstring>

#include "dataplane/app.h"
#include "dataplane/flow_owner.h"
#include "dataplane/gtpu.h"
#include "dataplane/mbuf_meta.h"
#include "dataplane/sdf.h"
#include "dataplane/session_table.h"
#include "dataplane/token_owner.h"
#include "tcpstack/icmp.h"

namespace braid::dataplane {

using pipelines::DropReason;

namespace {

constexpr uint64_t tunnel_keep_us = 10'000'000;  // see TcpHost::tunnels_
constexpr uint64_t tick_us = 1000;               // timers and blocked applications: every 1 ms
constexpr uint64_t states_period_us = 200'000;   // connections-by-state gauge refresh
constexpr uint32_t source_chunk = 64 * 1024;     // bytes a source queues per send() at most
constexpr uint16_t ephemeral_first = 32768;      // like Linux's ip_local_port_range
constexpr uint16_t ephemeral_count = 28232;

constexpr std::string_view mode_names[] = {
#define BRAID_X(name, help) #name,
    BRAID_TCP_APP_MODES(BRAID_X)
#undef BRAID_X
};

// The source pattern: 8-byte words of SplitMix64 indexed by their position in the stream, so
// that the bytes do not depend on how the stream is cut into sends.
uint64_t pattern_word(uint64_t index) {
    uint64_t z = (index + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void fill_pattern(uint8_t* out, uint64_t offset, size_t len) {
    size_t i = 0;
    // Head up to a word boundary, whole words, tail: the bytes are those of the little-endian
    // words whatever the cut.
    while (i < len && (offset + i) % 8 != 0) {
        const uint64_t o = offset + i;
        out[i++] = static_cast<uint8_t>(pattern_word(o / 8) >> (8 * (o % 8)));
    }
    for (; i + 8 <= len; i += 8) {
        const uint64_t w = pattern_word((offset + i) / 8);
        std::memcpy(out + i, &w, 8);  // x86-64: little endian
    }
    while (i < len) {
        const uint64_t o = offset + i;
        out[i++] = static_cast<uint8_t>(pattern_word(o / 8) >> (8 * (o % 8)));
    }
}

void hash_chain(Sha256& h, const rte_mbuf* m) {
    for (; m != nullptr; m = m->next) {
        h.update(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len);
    }
}

// Detaches from `chain` the longest prefix of whole segments holding at most `max` bytes (the
// relay's unit: a received chain can be larger than the peer's send space). nullptr when even the
// first segment does not fit. The remainder stays a valid chain in `chain` (nullptr if none).
rte_mbuf* take_prefix(rte_mbuf*& chain, uint32_t max) {
    uint32_t bytes = 0;
    uint16_t segs = 0;
    rte_mbuf* last = nullptr;
    for (rte_mbuf* m = chain; m != nullptr && bytes + m->data_len <= max; m = m->next) {
        bytes += m->data_len;
        ++segs;
        last = m;
    }
    if (last == nullptr) {
        return nullptr;
    }
    rte_mbuf* head = chain;
    rte_mbuf* rest = last->next;
    if (rest != nullptr) {
        rest->pkt_len = head->pkt_len - bytes;
        rest->nb_segs = static_cast<uint16_t>(head->nb_segs - segs);
        last->next = nullptr;
        head->pkt_len = bytes;
        head->nb_segs = segs;
    }
    chain = rest;
    return head;
}

tcp::IpAddr addr_v4(const void* network_order) {
    tcp::IpAddr a;
    std::memcpy(a.bytes.data(), network_order, 4);
    return a;
}

tcp::IpAddr addr_v6(const void* bytes) {
    tcp::IpAddr a;
    a.family = 6;
    std::memcpy(a.bytes.data(), bytes, 16);
    return a;
}

tcp::IpAddr port_v4(const PortRuntime& p) {
    const uint32_t be = rte_cpu_to_be_32(p.ipv4);
    return addr_v4(&be);
}

}  // namespace

FlowKey flow_key_in(const tcp::FourTuple& t) {
    if (t.local.family == 4) {
        uint32_t src = 0;
        uint32_t dst = 0;
        std::memcpy(&src, t.remote.bytes.data(), 4);
        std::memcpy(&dst, t.local.bytes.data(), 4);
        return FlowKey::v4(rte_be_to_cpu_32(src), rte_be_to_cpu_32(dst), t.remote_port,
                           t.local_port, IPPROTO_TCP);
    }
    return FlowKey::v6(t.remote.bytes.data(), t.local.bytes.data(), t.remote_port, t.local_port,
                       IPPROTO_TCP);
}

std::string_view to_string(TcpAppMode m) {
    return static_cast<size_t>(m) < std::size(mode_names) ? mode_names[static_cast<size_t>(m)]
                                                          : "?";
}

std::optional<TcpAppMode> tcp_app_mode(std::string_view name) {
    for (size_t i = 0; i < std::size(mode_names); ++i) {
        if (mode_names[i] == name) {
            return static_cast<TcpAppMode>(i);
        }
    }
    return std::nullopt;
}

struct TcpHost::App {
    TcpAppRecord rec;
    Sha256 rx_hash;
    Sha256 tx_hash;
    rte_mbuf* pending = nullptr;  // echo: received data send() did not take yet
    bool closing = false;         // close() called
    bool write_shut = false;      // source: everything sent, FIN queued
    bool blocked = false;         // waiting for mbufs or send space: pumped every tick
};

TcpHost::TcpHost(const TcpHostConfig& cfg, std::span<const PortRuntime> ports) : cfg_(cfg) {
    for (const PortRuntime& p : ports) {
        ports_.push_back(&p);
    }
    engine_ = std::make_unique<tcp::Engine>(
        cfg_.engine, [this](tcp::OutSegment&& s) { on_segment(std::move(s)); },
        [this](const tcp::Event& e) {
            // MPTCP connections' events pass through the endpoint (it owns their stream).
            if (mptcp_) {
                mptcp_->on_engine_event(e);
            } else {
                events_.push_back(e);
            }
        });
    mptcp::EndpointConfig mc;
    mc.data_pool = cfg_.pool;
    mc.rcv_buf = cfg_.engine.default_rcv_buf;
    mc.snd_buf = cfg_.engine.default_snd_buf;
    mc.checksums = cfg_.mptcp_checksums;
    mc.secret = cfg_.engine.secret;
    mc.secret[0] ^= 0x5a;  // not the ISN/cookie key itself
    mc.rng = [] { return rte_rand(); };
    mc.access_of = [this](const tcp::FourTuple& t) { return access_of(t); };
    mc.advertise = [this](const tcp::FourTuple& t) { return advertise_for(t); };
    if (cfg_.tokens != nullptr) {
        tokens_ =
            std::make_unique<SharedTokenTable>(*cfg_.tokens, static_cast<uint16_t>(cfg_.worker));
    } else {
        tokens_ = std::make_unique<mptcp::LocalTokenTable>();
    }
    mptcp_ = std::make_unique<mptcp::Endpoint>(
        *engine_, mc, *tokens_, [this](const tcp::Event& e) { events_.push_back(e); });
    if (cfg_.proxy) {
        mptcp::convert::ProxyConfig pc = cfg_.proxy->proxy;
        if (pc.pool == nullptr) {
            pc.pool = cfg_.pool;
        }
        if (registers_flows()) {
            // The N6 connection's replies (server → the UE's address) reach any worker by RSS:
            // pdr_dl hands them here through the flow-owner table.
            pc.n6_claim = [this](const tcp::FourTuple& t) {
                return cfg_.flows->insert(flow_key_in(t), static_cast<uint16_t>(cfg_.worker)) ==
                       FlowOwnerTable::Insert::inserted;
            };
            pc.n6_opened = [this](const tcp::FourTuple& t, std::optional<tcp::ConnId> c) {
                if (c) {
                    registered_[*c] = flow_key_in(t);
                } else {
                    cfg_.flows->erase(flow_key_in(t));
                }
            };
        }
        converter_ = std::make_unique<mptcp::convert::Converter>(cfg_.proxy->policy);
        // The converter asks for the context of the UE whose SYN is being handled: that of the
        // T-PDU input_uplink() is feeding in (the event runs inside that call).
        proxy_ = std::make_unique<mptcp::convert::Proxy>(
            *engine_, *mptcp_, *converter_, [this](const tcp::IpAddr&) { return uplink_ue_; }, pc);
        proxy_->start();
        if (cfg_.sessions != nullptr) {
            proxy_->set_session_lookup([this](const tcp::IpAddr& a) { return session_of(a); });
        }
    }
    // Ephemeral ports: each worker starts at its own offset so that two workers rarely pick the
    // same port toward one server (the engine refuses a tuple already in use anyway).
    next_ephemeral_ =
        static_cast<uint16_t>((ephemeral_count / std::max(1u, cfg_.n_workers)) * cfg_.worker);
}

TcpHost::~TcpHost() {
    for (auto& [id, a] : apps_) {
        rte_pktmbuf_free(a->pending);
    }
    apps_.clear();
    for (const auto& [id, key] : registered_) {
        cfg_.flows->erase(key);  // this worker's flows end with it
    }
    registered_.clear();
    for (const tcp::FourTuple& t : adopted_) {
        cfg_.flows->erase(flow_key_in(t));
    }
    adopted_.clear();
    proxy_.reset();
    engine_.reset();  // frees every queued mbuf
    mptcp_.reset();
    for (rte_mbuf* m : frames_) {
        rte_pktmbuf_free(m);
    }
    for (rte_mbuf* m : dl_frames_) {
        rte_pktmbuf_free(m);
    }
}

const PortRuntime* TcpHost::port_for(const tcp::IpAddr& local) const {
    for (const PortRuntime* p : ports_) {
        if (local.family == 4 && p->has_ipv4 && port_v4(*p) == local) {
            return p;
        }
        if (local.family == 6 &&
            ((p->has_ipv6 && std::memcmp(p->ipv6.data(), local.bytes.data(), 16) == 0) ||
             std::memcmp(p->ipv6_link_local.data(), local.bytes.data(), 16) == 0)) {
            return p;
        }
    }
    return nullptr;
}

// --- segments in -------------------------------------------------------------------------

DropReason TcpHost::input(rte_mbuf* m, uint64_t now_us) {
    const uint16_t l3 = meta(m).l3_offset;
    const uint8_t version = *rte_pktmbuf_mtod_offset(m, const uint8_t*, l3) >> 4;
    const bool cksum_ok =
        (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD;
    tcp::FourTuple t;
    uint32_t l4_off = 0;
    uint32_t l4_len = 0;
    if (version == 4) {
        const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, l3);
        const uint32_t ihl = (ip->version_ihl & 0x0f) * 4u;
        l4_off = l3 + ihl;
        l4_len = rte_be_to_cpu_16(ip->total_length) - ihl;  // eth_classify: total >= ihl
        if (l4_len < tcp::wire::min_header_len) {
            return DropReason::tcp_bad_header;
        }
        if (!cksum_ok && rte_ipv4_udptcp_cksum_mbuf_verify(m, ip, l4_off) != 0) {
            return DropReason::tcp_bad_checksum;
        }
        t.local = addr_v4(&ip->dst_addr);
        t.remote = addr_v4(&ip->src_addr);
    } else {
        const auto* ip6 = rte_pktmbuf_mtod_offset(m, const rte_ipv6_hdr*, l3);
        l4_off = l3 + sizeof(rte_ipv6_hdr);
        l4_len = rte_be_to_cpu_16(ip6->payload_len);
        if (l4_len < tcp::wire::min_header_len) {
            return DropReason::tcp_bad_header;
        }
        if (!cksum_ok && rte_ipv6_udptcp_cksum_mbuf_verify(m, ip6, l4_off) != 0) {
            return DropReason::tcp_bad_checksum;
        }
        t.local = addr_v6(ip6->dst_addr);
        t.remote = addr_v6(ip6->src_addr);
    }
    uint8_t copy[tcp::wire::min_header_len + tcp::wire::max_options_len];
    const uint32_t head_len = std::min<uint32_t>(l4_len, sizeof copy);
    const auto* head = static_cast<const uint8_t*>(rte_pktmbuf_read(m, l4_off, head_len, copy));
    if (head == nullptr) {
        return DropReason::tcp_bad_header;
    }
    if (head != copy) {
        // In place in the mbuf: copy it out, the option spans must outlive the trimming below.
        std::memcpy(copy, head, head_len);
    }
    const tcp::wire::SegmentResult seg = tcp::wire::parse_segment({copy, head_len});
    if (!seg.segment) {
        return DropReason::tcp_bad_header;
    }
    const tcp::wire::OptionsResult opts = tcp::wire::parse_options(seg.segment->options);
    if (opts.error) {
        return DropReason::tcp_bad_options;
    }
    const tcp::wire::Header& h = seg.segment->header;
    const uint32_t hdr_len =
        tcp::wire::min_header_len + static_cast<uint32_t>(seg.segment->options.size());
    const uint32_t payload_len = l4_len - hdr_len;
    rte_mbuf* payload = nullptr;
    if (payload_len > 0) {
        if (rte_pktmbuf_adj(m, static_cast<uint16_t>(l4_off + hdr_len)) == nullptr) {
            return DropReason::tcp_bad_header;  // headers spread over segments: not from a NIC
        }
        if (rte_pktmbuf_pkt_len(m) > payload_len) {
            rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - payload_len));
        }
        payload = m;
    } else {
        rte_pktmbuf_free(m);
    }
    now_us_ = now_us;
    t.local_port = h.dst_port;
    t.remote_port = h.src_port;
    engine_->input(t, h, opts.options, payload, now_us);
    mptcp_->poll(now_us);
    run_events();
    return DropReason::count;
}

namespace {

pipelines::DropReason icmp_drop_reason(tcp::IcmpParseError e) {
    using E = tcp::IcmpParseError;
    switch (e) {
        case E::bad_checksum:
            return DropReason::icmp_bad_checksum;
        case E::not_an_error:
        case E::unhandled_type:
            return DropReason::icmp_unhandled;
        case E::address_mismatch:
            return DropReason::icmp_error_mismatch;
        default:
            return DropReason::icmp_malformed;
    }
}

// ICMP errors are short (RFC 1812 §4.3.2.3: at most 576 octets; RFC 4443 §2.4: at most the
// IPv6 minimum MTU): a longer one in several segments is not read.
constexpr uint32_t icmp_read_max = 1280;

}  // namespace

DropReason TcpHost::input_icmp(rte_mbuf* m, uint64_t now_us) {
    const uint16_t l3 = meta(m).l3_offset;
    const uint32_t len = rte_pktmbuf_pkt_len(m) - l3;
    uint8_t copy[icmp_read_max];
    const auto* p =
        static_cast<const uint8_t*>(rte_pktmbuf_read(m, l3, std::min(len, icmp_read_max), copy));
    if (p == nullptr) {
        return DropReason::icmp_malformed;
    }
    tcp::IcmpParseError why{};
    const auto e = tcp::parse_icmp_error({p, std::min(len, icmp_read_max)}, &why);
    if (!e) {
        return icmp_drop_reason(why);
    }
    now_us_ = now_us;
    switch (engine_->icmp_error(*e, now_us)) {
        case tcp::IcmpVerdict::no_connection:
            return DropReason::icmp_error_no_connection;
        case tcp::IcmpVerdict::out_of_window:
            return DropReason::icmp_error_out_of_window;
        case tcp::IcmpVerdict::aborted:
        case tcp::IcmpVerdict::soft:
        case tcp::IcmpVerdict::ignored:
            break;
    }
    rte_pktmbuf_free(m);
    mptcp_->poll(now_us);
    run_events();
    return DropReason::count;
}

bool TcpHost::for_proxy(const sdf::PacketKey& key) const {
    if (!proxy_ || key.proto != IPPROTO_TCP || !key.has_ports) {
        return false;
    }
    const mptcp::convert::ProxyConfig& pc = proxy_->config();
    return key.family == pc.address.family && key.remote_port == pc.port &&
           std::memcmp(key.remote.data(), pc.address.bytes.data(), key.family == 4 ? 4 : 16) == 0;
}

mptcp::convert::UeContext TcpHost::session_of(const tcp::IpAddr& a) {
    const SessionRules* r =
        a.family == 4
            ? cfg_.sessions->by_ue_ipv4(uint32_t{a.bytes[0]} << 24 | uint32_t{a.bytes[1]} << 16 |
                                        uint32_t{a.bytes[2]} << 8 | a.bytes[3])
            : cfg_.sessions->by_ue_ipv6(a.bytes.data());
    if (r == nullptr) {
        if (auto it = tunnels_.find(a); it != tunnels_.end()) {
            it->second.gone = true;  // the proxy is about to say goodbye through it
        }
        return {};
    }
    // The tunnel the session's downlink PDR for the proxy's segments to this UE uses.
    sdf::PacketKey key;
    key.family = a.family;
    key.proto = IPPROTO_TCP;
    key.has_ports = true;
    key.remote_port = cfg_.proxy->proxy.port;
    std::memcpy(key.ue.data(), a.bytes.data(), a.family == 4 ? 4 : 16);
    std::memcpy(key.remote.data(), cfg_.proxy->proxy.address.bytes.data(), a.family == 4 ? 4 : 16);
    const CompiledPdr* pdr = r->match_downlink(key);
    const Far* far = pdr != nullptr ? &r->fars[pdr->far_index] : nullptr;
    if (far != nullptr && far->action.forward && far->outer_header) {
        DlTunnel& t = tunnels_[a];
        t.teid = far->outer_header->teid;
        t.peer_ipv4 = far->outer_header->peer_ipv4;
        t.qfi.reset();
        for (uint16_t qi : pdr->qer_indices) {
            if (r->qers[qi].qer.qfi) {
                t.qfi = r->qers[qi].qer.qfi;
                break;
            }
        }
        t.gone = false;
        t.seen_us = now_us_;
    }
    return ue_context(*r);
}

// A segment of the proxy to a UE whose session is gone: GTP-U/UDP/IPv4 in front of it with the
// remembered tunnel, out of the N3 port (send_frames adds Ethernet). Not charged to any URR
// and not policed: the session's rules no longer exist. False: no tunnel known (the caller
// sends it down the normal path, where pdr_dl drops it).
bool TcpHost::farewell(rte_mbuf* m, const tcp::IpAddr& ue) {
    auto it = tunnels_.find(ue);
    if (it == tunnels_.end() || !it->second.gone) {
        return false;
    }
    const PortRuntime* n3 = nullptr;
    for (const PortRuntime* p : ports_) {
        if (p->role == config::PortRole::n3 && p->has_ipv4) {
            n3 = p;
            break;
        }
    }
    if (n3 == nullptr) {
        return false;
    }
    std::optional<gtpu::DlPduSessionInfo> pdu;
    if (it->second.qfi) {
        pdu = gtpu::DlPduSessionInfo{};
        pdu->qfi = *it->second.qfi & 0x3f;
    }
    const uint32_t payload = rte_pktmbuf_pkt_len(m);
    const size_t outer = gtpu::ipv4_gpdu_outer_len(pdu);
    if (payload > UINT16_MAX - outer) {
        return false;
    }
    auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, static_cast<uint16_t>(outer)));
    if (p == nullptr) {
        return false;
    }
    if (gtpu::encode_ipv4_gpdu_outer(std::span<uint8_t>(p, outer), n3->ipv4, it->second.peer_ipv4,
                                     ip_id_++, gtpu::Teid(it->second.teid),
                                     static_cast<uint16_t>(payload), pdu) != outer) {
        rte_pktmbuf_adj(m, static_cast<uint16_t>(outer));  // as it came, for the caller
        return false;
    }
    meta(m).port_index = n3->index;
    meta(m).l3_offset = 0;
    frames_.push_back(m);
    count(TcpHostCounter::farewell_frames);
    return true;
}

mptcp::convert::UeContext ue_context(const SessionRules& rules) {
    mptcp::convert::UeContext ue;
    ue.in_session = true;
    ue.mptcp_enabled = rules.mptcp;
    if (rules.ue.v4.family == 4) {
        ue.ue_v4 = mptcp::convert::Address::v4(
            uint32_t{rules.ue.v4.addr[0]} << 24 | uint32_t{rules.ue.v4.addr[1]} << 16 |
            uint32_t{rules.ue.v4.addr[2]} << 8 | rules.ue.v4.addr[3]);
    }
    if (rules.ue.v6.family == 6) {
        ue.ue_v6 = mptcp::convert::Address::v6(rules.ue.v6.addr);
    }
    ue.seid = rules.seid;
    ue.generation = rules.generation;
    ue.scheduler = rules.scheduler;
    return ue;
}

DropReason TcpHost::input_uplink(rte_mbuf* m, const mptcp::convert::UeContext& ue,
                                 uint64_t now_us) {
    uplink_ue_ = ue;
    meta(m).l3_offset = 0;
    const DropReason r = input(m, now_us);
    uplink_ue_ = {};
    return r;
}

// --- segments out ------------------------------------------------------------------------

void TcpHost::on_segment(tcp::OutSegment&& s) {
    const PortRuntime* port = port_for(s.tuple.local);
    std::vector<rte_mbuf*>* out = &frames_;
    if (port == nullptr && proxy_) {
        // Not one of braid's port addresses: the proxy's. From the proxy address it goes to a
        // UE (the session's downlink path adds GTP-U); from anything else it is an N6
        // connection opened from the UE's address or the N6 pool.
        if (s.tuple.local == cfg_.proxy->proxy.address) {
            out = &dl_frames_;
            port = ports_.empty() ? nullptr : ports_.front();  // not used to send
        } else {
            for (const PortRuntime* p : ports_) {
                if (p->index == cfg_.proxy->n6_port_index) {
                    port = p;
                }
            }
        }
    }
    rte_mbuf* m = port != nullptr ? rte_pktmbuf_alloc(cfg_.pool) : nullptr;
    uint8_t tcp_hdr[tcp::wire::min_header_len + tcp::wire::max_options_len];
    const auto hdr_len = tcp::wire::emit_header(s.header, s.options, tcp_hdr);
    const bool v4 = s.tuple.local.family == 4;
    const uint32_t ip_len = v4 ? sizeof(rte_ipv4_hdr) : sizeof(rte_ipv6_hdr);
    uint8_t* p = m != nullptr && hdr_len ? reinterpret_cast<uint8_t*>(rte_pktmbuf_append(
                                               m, static_cast<uint16_t>(ip_len + *hdr_len)))
                                         : nullptr;
    if (p == nullptr || (s.payload != nullptr && rte_pktmbuf_chain(m, s.payload) != 0)) {
        rte_pktmbuf_free(m);
        rte_pktmbuf_free(s.payload);
        count(TcpHostCounter::tx_no_mbuf);
        return;
    }
    std::memcpy(p + ip_len, tcp_hdr, *hdr_len);
    const uint32_t l4_len = *hdr_len + s.payload_len;
    auto* th = reinterpret_cast<rte_tcp_hdr*>(p + ip_len);
    if (v4) {
        auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p);
        ip->version_ihl = 0x45;
        ip->type_of_service = 0;
        ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(ip_len + l4_len));
        ip->packet_id = rte_cpu_to_be_16(ip_id_++);
        ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
        ip->time_to_live = 64;
        ip->next_proto_id = IPPROTO_TCP;
        ip->hdr_checksum = 0;
        std::memcpy(&ip->src_addr, s.tuple.local.bytes.data(), 4);
        std::memcpy(&ip->dst_addr, s.tuple.remote.bytes.data(), 4);
        ip->hdr_checksum = rte_ipv4_cksum(ip);
        th->cksum = rte_ipv4_udptcp_cksum_mbuf(m, ip, ip_len);
    } else {
        auto* ip6 = reinterpret_cast<rte_ipv6_hdr*>(p);
        ip6->vtc_flow = rte_cpu_to_be_32(6u << 28);
        ip6->payload_len = rte_cpu_to_be_16(static_cast<uint16_t>(l4_len));
        ip6->proto = IPPROTO_TCP;
        ip6->hop_limits = 64;
        std::memcpy(ip6->src_addr, s.tuple.local.bytes.data(), 16);
        std::memcpy(ip6->dst_addr, s.tuple.remote.bytes.data(), 16);
        th->cksum = rte_ipv6_udptcp_cksum_mbuf(m, ip6, ip_len);
    }
    MbufMeta& md = meta(m);
    md.port_index = port->index;
    md.l3_offset = 0;
    count(TcpHostCounter::frames_out);
    if (out == &dl_frames_ && !tunnels_.empty() && farewell(m, s.tuple.remote)) {
        return;
    }
    out->push_back(m);
}

// --- timers and applications ---------------------------------------------------------------

void TcpHost::poll(uint64_t now_us) {
    if (now_us < next_tick_us_) {
        return;
    }
    next_tick_us_ = now_us + tick_us;
    now_us_ = now_us;
    engine_->on_timer(now_us);
    mptcp_->poll(now_us);
    run_events();
    if (proxy_) {
        // Session steering: a bounded number of connections per tick (MAR changes, deletions).
        proxy_->check_sessions(now_us);
        mptcp_->poll(now_us);
        run_events();
    }
    if (proxy_ && proxy_->next_timer() <= now_us) {
        proxy_->on_timer(now_us);
        mptcp_->poll(now_us);
        run_events();
    }
    std::vector<tcp::ConnId> retry;
    retry.swap(blocked_);
    for (tcp::ConnId id : retry) {
        if (auto it = apps_.find(id); it != apps_.end() && it->second->blocked) {
            pump(*it->second, now_us);
        }
    }
    run_events();
    if (now_us >= next_states_us_) {
        next_states_us_ = now_us + states_period_us;
        const auto by_state = engine_->connections_by_state();
        for (size_t i = 0; i < by_state.size(); ++i) {
            states_[i].set(by_state[i]);
        }
        const auto mp_state = mptcp_->connections_by_state();
        for (size_t i = 0; i < mp_state.size(); ++i) {
            mptcp_states_[i].set(mp_state[i]);
        }
        const auto sf_state = mptcp_->subflows_by_state();
        for (size_t i = 0; i < sf_state.size(); ++i) {
            mptcp_subflow_states_[i].set(sf_state[i]);
        }
        // Subflows routed here by another worker whose connection is gone: their flows too.
        std::erase_if(adopted_, [this](const tcp::FourTuple& t) {
            if (engine_->owns(t)) {
                return false;
            }
            if (cfg_.flows->owner(flow_key_in(t)) == static_cast<uint16_t>(cfg_.worker)) {
                cfg_.flows->erase(flow_key_in(t));
            }
            return true;
        });
        // Tunnels of UEs the proxy no longer checks (no connection left) are forgotten.
        std::erase_if(tunnels_, [now_us](const auto& kv) {
            return now_us - kv.second.seen_us > tunnel_keep_us;
        });
        if (proxy_) {
            const auto px_state = proxy_->connections_by_state();
            for (size_t i = 0; i < px_state.size(); ++i) {
                proxy_states_[i].set(px_state[i]);
            }
        }
    }
}

void TcpHost::adopt_flow(const tcp::FourTuple& t) {
    if (!registers_flows() || std::find(adopted_.begin(), adopted_.end(), t) != adopted_.end()) {
        return;
    }
    adopted_.push_back(t);
}

void TcpHost::run_events() {
    // Handlers call the engine, which may raise more events: drain until quiet.
    std::vector<tcp::Event> batch;
    while (!events_.empty()) {
        batch.swap(events_);
        for (const tcp::Event& e : batch) {
            on_event(e);
        }
        batch.clear();
    }
}

void TcpHost::on_event(const tcp::Event& e) {
    const uint64_t now_us = now_us_;
    if ((e.kind == tcp::EventKind::closed || e.kind == tcp::EventKind::reset) &&
        !registered_.empty()) {
        if (auto it = registered_.find(e.conn); it != registered_.end()) {
            cfg_.flows->erase(it->second);
            registered_.erase(it);
        }
    }
    if (proxy_ && proxy_->on_event(e, now_us)) {
        return;
    }
    switch (e.kind) {
        case tcp::EventKind::established: {
            if (e.listener != 0) {
                auto svc = by_listener_.find(e.listener);
                // MP_JOIN subflows are not new connections: the endpoint keeps them.
                while (auto id = mptcp_->accept(e.listener)) {
                    if (svc == by_listener_.end()) {
                        engine_->abort(*id, now_us);  // the service was removed meanwhile
                        continue;
                    }
                    auto a = std::make_unique<App>();
                    a->rec.conn = *id;
                    a->rec.worker = cfg_.worker;
                    a->rec.mode = svc->second.mode;
                    a->rec.target_bytes = svc->second.bytes;
                    if (auto info = engine_->describe(*id)) {
                        a->rec.tuple = info->tuple;
                    }
                    a->rec.started_us = now_us;
                    count(TcpHostCounter::app_connections);
                    if (svc->second.mptcp) {
                        mptcp_->set_scheduler(*id, svc->second.scheduler, now_us);
                    }
                    App& ref = *a;
                    apps_[*id] = std::move(a);
                    pump(ref, now_us);
                }
                return;
            }
            if (auto it = apps_.find(e.conn); it != apps_.end()) {
                pump(*it->second, now_us);
            }
            return;
        }
        case tcp::EventKind::readable:
        case tcp::EventKind::writable:
            if (auto it = apps_.find(e.conn); it != apps_.end()) {
                pump(*it->second, now_us);
            }
            return;
        case tcp::EventKind::closed:
        case tcp::EventKind::reset:
            if (auto it = apps_.find(e.conn); it != apps_.end()) {
                finish(*it->second, e.reason, now_us);
            }
            return;
        case tcp::EventKind::syn_data:
            return;  // the test applications' listeners do not defer SYNs
    }
}

void TcpHost::pump(App& a, uint64_t now_us) {
    const tcp::ConnId c = a.rec.conn;
    auto st = mptcp_->state(c);  // an MPTCP connection outlives its initial subflow
    if (!st || *st == tcp::State::syn_sent || *st == tcp::State::syn_received) {
        return;
    }
    a.blocked = false;  // block() lists it again if it still cannot proceed
    // Read side.
    if (a.rec.mode == TcpAppMode::echo) {
        // Relay what was received, never more than the send buffer takes: the rest waits in
        // `pending` (the engine's receive window closes meanwhile: backpressure, no loss).
        for (;;) {
            if (a.pending == nullptr) {
                a.pending = mptcp_->recv(c, now_us);
                if (a.pending == nullptr) {
                    break;
                }
                hash_chain(a.rx_hash, a.pending);
                a.rec.rx_bytes += rte_pktmbuf_pkt_len(a.pending);
            }
            rte_mbuf* part = take_prefix(a.pending, mptcp_->send_space(c));
            if (part == nullptr) {
                mptcp_->want_writable(c);
                block(a);
                return;
            }
            const uint32_t len = rte_pktmbuf_pkt_len(part);
            hash_chain(a.tx_hash, part);  // before send(): the engine owns `part` after it
            if (mptcp_->send(c, part, now_us) == 0) {
                rte_pktmbuf_free(part);  // writing was shut down: nothing more to echo
                break;
            }
            a.rec.tx_bytes += len;
        }
    } else {
        while (rte_mbuf* m = mptcp_->recv(c, now_us)) {
            if (a.rec.mode == TcpAppMode::sink) {
                hash_chain(a.rx_hash, m);
            }
            a.rec.rx_bytes += rte_pktmbuf_pkt_len(m);
            rte_pktmbuf_free(m);
        }
    }
    // Write side: the source's pattern, as far as the send buffer takes it.
    if (a.rec.mode == TcpAppMode::source) {
        while (a.rec.tx_bytes < a.rec.target_bytes) {
            const uint32_t space = mptcp_->send_space(c);
            uint64_t want =
                std::min<uint64_t>({space, a.rec.target_bytes - a.rec.tx_bytes, source_chunk});
            if (want == 0) {
                mptcp_->want_writable(c);  // `writable` when ACKs free space
                break;
            }
            rte_mbuf* head = nullptr;
            uint64_t built = 0;
            while (built < want) {
                rte_mbuf* m = rte_pktmbuf_alloc(cfg_.pool);
                if (m == nullptr) {
                    break;
                }
                const uint16_t n = static_cast<uint16_t>(
                    std::min<uint64_t>(rte_pktmbuf_tailroom(m), want - built));
                auto* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, n));
                fill_pattern(d, a.rec.tx_bytes + built, n);
                if (head == nullptr) {
                    head = m;
                } else if (rte_pktmbuf_chain(head, m) != 0) {
                    rte_pktmbuf_free(m);
                    break;
                }
                built += n;
            }
            if (head == nullptr) {
                count(TcpHostCounter::app_no_mbuf);
                block(a);
                break;
            }
            const uint32_t len = rte_pktmbuf_pkt_len(head);
            hash_chain(a.tx_hash, head);
            if (mptcp_->send(c, head, now_us) == 0) {
                rte_pktmbuf_free(head);  // cannot happen: len <= send_space()
                block(a);
                break;
            }
            a.rec.tx_bytes += len;
        }
        if (a.rec.tx_bytes >= a.rec.target_bytes && !a.write_shut) {
            a.write_shut = true;
            mptcp_->shutdown_write(c, now_us);  // FIN after the data; keep reading
        }
    }
    // The peer closed and everything it sent was handled: close our side too.
    if (!a.closing && a.pending == nullptr && mptcp_->peer_closed(c) &&
        (a.rec.mode != TcpAppMode::source || a.write_shut)) {
        a.closing = true;
        mptcp_->close(c, now_us);
    }
}

void TcpHost::block(App& a) {
    if (!a.blocked) {
        a.blocked = true;
        blocked_.push_back(a.rec.conn);
    }
}

void TcpHost::finish(App& a, tcp::CloseReason reason, uint64_t now_us) {
    a.rec.finished = true;
    a.rec.reason = reason;
    a.rec.finished_us = now_us;
    if (a.rec.mode == TcpAppMode::sink || a.rec.mode == TcpAppMode::echo) {
        a.rec.rx_sha256 = Sha256::hex(a.rx_hash.finish());
    }
    if (a.rec.mode == TcpAppMode::source || a.rec.mode == TcpAppMode::echo) {
        a.rec.tx_sha256 = Sha256::hex(a.tx_hash.finish());
    }
    rte_pktmbuf_free(a.pending);
    a.pending = nullptr;
    if (a.rec.active_open && cfg_.flows != nullptr && cfg_.n_workers > 1) {
        cfg_.flows->erase(flow_key_in(a.rec.tuple));
    }
    history_.push_back(a.rec);
    while (history_.size() > cfg_.history) {
        history_.pop_front();
    }
    count(TcpHostCounter::app_finished);
    const tcp::ConnId id = a.rec.conn;
    apps_.erase(id);  // `a` is gone from here on
}

bool AccessPrefix::contains(const tcp::IpAddr& a) const {
    if (a.family != addr.family) {
        return false;
    }
    for (unsigned bit = 0; bit < len; bit += 8) {
        const unsigned n = std::min(8u, len - bit);
        const uint8_t mask = static_cast<uint8_t>(0xff00 >> n);
        if (((a.bytes[bit / 8] ^ addr.bytes[bit / 8]) & mask) != 0) {
            return false;
        }
    }
    return true;
}

mptcp::Access TcpHost::access_of(const tcp::FourTuple& t) const {
    if (proxy_ && t.local == cfg_.proxy->proxy.address && t.local_port == cfg_.proxy->proxy.port) {
        return cfg_.proxy->link_access ? cfg_.proxy->link_access(t.remote) : mptcp::Access::unknown;
    }
    auto l = listener_of_port_.find(t.local_port);
    if (l == listener_of_port_.end()) {
        return mptcp::Access::unknown;
    }
    auto svc = by_listener_.find(l->second);
    if (svc == by_listener_.end()) {
        return mptcp::Access::unknown;
    }
    for (const AccessPrefix& p : svc->second.access) {
        if (p.contains(t.remote)) {
            return p.access;
        }
    }
    return mptcp::Access::unknown;
}

std::vector<mptcp::AdvertisedAddress> TcpHost::advertise_for(const tcp::FourTuple& t) const {
    auto l = listener_of_port_.find(t.local_port);
    if (l == listener_of_port_.end()) {
        return {};
    }
    auto svc = by_listener_.find(l->second);
    if (svc == by_listener_.end()) {
        return {};
    }
    std::vector<mptcp::AdvertisedAddress> v;
    for (const mptcp::AdvertisedAddress& a : svc->second.advertise) {
        // The connection's own address and port are ID 0 already.
        if (a.address != t.local || a.port.value_or(t.local_port) != t.local_port) {
            v.push_back(a);
        }
    }
    return v;
}

// --- control -----------------------------------------------------------------------------

std::optional<std::string> TcpHost::add_service(const TcpServiceSpec& s) {
    if (listener_of_port_.contains(s.tcp_port)) {
        return "TCP port " + std::to_string(s.tcp_port) + " already has a service";
    }
    if (s.mode == TcpAppMode::source && s.bytes == 0) {
        return "a source service needs a byte count";
    }
    tcp::ListenOptions o;
    o.any_addr = true;
    o.port = s.tcp_port;
    if (s.mptcp) {
        o.hook = mptcp_.get();
    }
    auto id = engine_->listen(o);
    if (!id) {
        return "cannot listen on TCP port " + std::to_string(s.tcp_port);
    }
    by_listener_[*id] = s;
    listener_of_port_[s.tcp_port] = *id;
    services_.push_back(s);
    return std::nullopt;
}

std::optional<std::string> TcpHost::remove_service(uint16_t tcp_port) {
    auto it = listener_of_port_.find(tcp_port);
    if (it == listener_of_port_.end()) {
        return "no service on TCP port " + std::to_string(tcp_port);
    }
    // The engine keeps the listener (no unlisten): new connections to it are aborted on accept.
    by_listener_.erase(it->second);
    listener_of_port_.erase(it);
    std::erase_if(services_, [&](const TcpServiceSpec& s) { return s.tcp_port == tcp_port; });
    return std::nullopt;
}

std::variant<tcp::ConnId, std::string> TcpHost::connect(const TcpConnectSpec& s, uint64_t now_us) {
    now_us_ = now_us;
    const PortRuntime* port = nullptr;
    for (const PortRuntime* p : ports_) {
        if (p->index == s.port_index) {
            port = p;
        }
    }
    if (port == nullptr) {
        return std::string("no such port");
    }
    if (s.mode == TcpAppMode::source && s.bytes == 0) {
        return std::string("a source connection needs a byte count");
    }
    tcp::ConnectOptions o;
    o.tuple.remote = s.remote;
    o.tuple.remote_port = s.remote_port;
    if (s.remote.family == 4) {
        if (!port->has_ipv4) {
            return "port " + port->name + " has no IPv4 address";
        }
        o.tuple.local = port_v4(*port);
    } else {
        if (!port->has_ipv6) {
            return "port " + port->name + " has no IPv6 address";
        }
        o.tuple.local = addr_v6(port->ipv6.data());
    }
    std::optional<tcp::ConnId> id;
    for (uint32_t tries = 0; !id && tries < (s.local_port != 0 ? 1u : 64u); ++tries) {
        o.tuple.local_port = s.local_port;
        if (o.tuple.local_port == 0) {
            o.tuple.local_port = static_cast<uint16_t>(ephemeral_first + next_ephemeral_);
            next_ephemeral_ = static_cast<uint16_t>((next_ephemeral_ + 1) % ephemeral_count);
        }
        if (cfg_.flows != nullptr && cfg_.n_workers > 1 &&
            cfg_.flows->insert(flow_key_in(o.tuple), static_cast<uint16_t>(cfg_.worker)) !=
                FlowOwnerTable::Insert::inserted) {
            continue;  // another worker's flow, or the table is full
        }
        id = engine_->connect(o, now_us);
        if (!id && cfg_.flows != nullptr && cfg_.n_workers > 1) {
            cfg_.flows->erase(flow_key_in(o.tuple));
        }
    }
    if (!id) {
        return std::string("the engine refused the connection (tuple in use or connection limit)");
    }
    auto a = std::make_unique<App>();
    a->rec.conn = *id;
    a->rec.worker = cfg_.worker;
    a->rec.tuple = o.tuple;
    a->rec.mode = s.mode;
    a->rec.active_open = true;
    a->rec.target_bytes = s.bytes;
    a->rec.started_us = now_us;
    apps_[*id] = std::move(a);
    count(TcpHostCounter::app_connections);
    run_events();
    return *id;
}

bool TcpHost::close(tcp::ConnId c, uint64_t now_us) {
    now_us_ = now_us;
    if (!mptcp_->state(c)) {
        return false;
    }
    if (auto it = apps_.find(c); it != apps_.end()) {
        it->second->closing = true;
    }
    mptcp_->close(c, now_us);
    run_events();
    return true;
}

bool TcpHost::mptcp_advertise(uint32_t token, const mptcp::AdvertisedAddress& a, uint64_t now_us) {
    now_us_ = now_us;
    auto c = mptcp_->find_token(token);
    bool ok = c && mptcp_->advertise(*c, a, now_us);
    run_events();
    return ok;
}

bool TcpHost::mptcp_withdraw(uint32_t token, uint8_t address_id, uint64_t now_us) {
    now_us_ = now_us;
    auto c = mptcp_->find_token(token);
    bool ok = c && mptcp_->withdraw(*c, address_id, now_us);
    run_events();
    return ok;
}

bool TcpHost::abort(tcp::ConnId c, uint64_t now_us) {
    now_us_ = now_us;
    if (!mptcp_->state(c)) {
        return false;
    }
    mptcp_->abort(c, now_us);
    run_events();
    return true;
}

std::vector<TcpAppRecord> TcpHost::apps() const {
    std::vector<TcpAppRecord> out;
    for (const auto& [id, a] : apps_) {
        out.push_back(a->rec);
    }
    std::sort(out.begin(), out.end(),
              [](const TcpAppRecord& x, const TcpAppRecord& y) { return x.conn < y.conn; });
    out.insert(out.end(), history_.begin(), history_.end());
    return out;
}

}  // namespace braid::dataplane
