#include "control/pfcp/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "control/log.h"

namespace braid::pfcp {

namespace {

constexpr uint32_t timer_period_ms = 10;
constexpr int max_datagrams_per_wakeup = 64;  // then let the loop serve others

uint64_t steady_ms() {
    using namespace std::chrono;
    return static_cast<uint64_t>(
        duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

// Numeric text as inet_ntop writes it, so that addresses compare as strings; IPv4-mapped IPv6
// is written as IPv4. nullopt if `text` is no address.
std::optional<std::string> canonical_ip(const std::string& text) {
    char buf[INET6_ADDRSTRLEN] = {};
    in_addr a4{};
    if (inet_pton(AF_INET, text.c_str(), &a4) == 1) {
        inet_ntop(AF_INET, &a4, buf, sizeof(buf));
        return buf;
    }
    in6_addr a6{};
    if (inet_pton(AF_INET6, text.c_str(), &a6) == 1) {
        if (IN6_IS_ADDR_V4MAPPED(&a6)) {
            inet_ntop(AF_INET, &a6.s6_addr[12], buf, sizeof(buf));
        } else {
            inet_ntop(AF_INET6, &a6, buf, sizeof(buf));
        }
        return buf;
    }
    return std::nullopt;
}

PeerAddress from_sockaddr(const sockaddr_storage& ss) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (ss.ss_family == AF_INET) {
        const auto& s4 = reinterpret_cast<const sockaddr_in&>(ss);
        inet_ntop(AF_INET, &s4.sin_addr, buf, sizeof(buf));
        return {buf, ntohs(s4.sin_port)};
    }
    const auto& s6 = reinterpret_cast<const sockaddr_in6&>(ss);
    if (IN6_IS_ADDR_V4MAPPED(&s6.sin6_addr)) {
        inet_ntop(AF_INET, &s6.sin6_addr.s6_addr[12], buf, sizeof(buf));
    } else {
        inet_ntop(AF_INET6, &s6.sin6_addr, buf, sizeof(buf));
    }
    return {buf, ntohs(s6.sin6_port)};
}

// The sockaddr for `to` on a socket of the given family (IPv4 peers on an IPv6 socket are
// IPv4-mapped). False if the address does not fit the socket.
bool to_sockaddr(const PeerAddress& to, bool ipv6_socket, sockaddr_storage& ss, socklen_t& len) {
    std::memset(&ss, 0, sizeof(ss));
    in_addr a4{};
    in6_addr a6{};
    const bool is_v4 = inet_pton(AF_INET, to.ip.c_str(), &a4) == 1;
    if (!ipv6_socket) {
        if (!is_v4) {
            return false;
        }
        auto& s4 = reinterpret_cast<sockaddr_in&>(ss);
        s4.sin_family = AF_INET;
        s4.sin_port = htons(to.port);
        s4.sin_addr = a4;
        len = sizeof(s4);
        return true;
    }
    auto& s6 = reinterpret_cast<sockaddr_in6&>(ss);
    s6.sin6_family = AF_INET6;
    s6.sin6_port = htons(to.port);
    if (is_v4) {
        s6.sin6_addr.s6_addr[10] = 0xff;
        s6.sin6_addr.s6_addr[11] = 0xff;
        std::memcpy(&s6.sin6_addr.s6_addr[12], &a4, 4);
    } else if (inet_pton(AF_INET6, to.ip.c_str(), &a6) == 1) {
        s6.sin6_addr = a6;
    } else {
        return false;
    }
    len = sizeof(s6);
    return true;
}

NodeId node_id_of(const std::string& text) {
    in_addr a4{};
    in6_addr a6{};
    if (inet_pton(AF_INET, text.c_str(), &a4) == 1) {
        Ipv4Address a{};
        std::memcpy(a.data(), &a4, 4);
        return NodeId::from_ipv4(a);
    }
    if (inet_pton(AF_INET6, text.c_str(), &a6) == 1) {
        Ipv6Address a{};
        std::memcpy(a.data(), &a6, 16);
        return NodeId::from_ipv6(a);
    }
    return NodeId::from_fqdn(text);
}

}  // namespace

std::optional<NodeConfig> node_config(const config::Pfcp& cfg, int64_t unix_now, std::string* err) {
    NodeConfig n;
    n.node_id = node_id_of(cfg.node_id.value_or(cfg.listen.address));
    n.recovery_time = RecoveryTimeStamp::from_unix(unix_now);
    n.heartbeat_interval_ms = cfg.heartbeat.interval_s * 1000;
    n.heartbeat_misses = cfg.heartbeat.misses;
    n.t1_ms = cfg.t1_ms;
    n.n1 = cfg.n1;
    n.duplicate_window_ms = cfg.duplicate_window_ms.value_or(cfg.duplicate_window_ms_default());
    // UEIP (§5.21) only with somewhere to allocate from: the SMF then leaves CHV4/CHV6 to braid.
    if (!cfg.ue_ip_pools.empty()) {
        n.features.set(UpFeature::ueip);
    }
    // MPTCP (§5.20, octet 8 bit 8) only with the proxy running: the SMF then sends TCI and
    // MPTCP MARs to braid, which steers and tears down proxied connections by them.
    if (cfg.mptcp_proxy.enabled) {
        n.features.set(UpFeature::mptcp);
    }
    n.peer_lost = cfg.peer_lost == config::PfcpPeerLost::keep_sessions
                      ? PeerLostPolicy::keep_sessions
                      : PeerLostPolicy::delete_sessions;
    for (const config::Endpoint& p : cfg.peers) {
        auto ip = canonical_ip(p.address);
        if (!ip) {
            if (err != nullptr) {
                *err = "pfcp: peer '" + p.address + "' is not an IP address";
            }
            return std::nullopt;
        }
        n.peers.push_back(PeerAddress{*ip, p.port});
    }
    return n;
}

std::unique_ptr<Server> Server::start(const config::Pfcp& cfg, control::EventLoop& loop,
                                      SessionHandler* handler, std::string* err) {
    const auto fail = [&](std::string why) -> std::unique_ptr<Server> {
        if (err != nullptr) {
            *err = std::move(why);
        }
        return nullptr;
    };
    auto ncfg = node_config(cfg, static_cast<int64_t>(std::time(nullptr)), err);
    if (!ncfg) {
        return nullptr;
    }
    std::unique_ptr<Server> s(new Server());
    s->loop_ = &loop;
    s->address_ = cfg.listen.address;
    const std::string where = PeerAddress{cfg.listen.address, cfg.listen.port}.to_string();

    sockaddr_storage ss{};
    socklen_t len = 0;
    in_addr probe{};
    s->ipv6_ = inet_pton(AF_INET, cfg.listen.address.c_str(), &probe) != 1;
    if (!to_sockaddr(PeerAddress{cfg.listen.address, cfg.listen.port}, s->ipv6_, ss, len)) {
        return fail("pfcp: '" + cfg.listen.address + "' is not an IP address");
    }
    s->fd_ = socket(s->ipv6_ ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd_ < 0) {
        return fail(std::string("pfcp: socket: ") + std::strerror(errno));
    }
    if (s->ipv6_) {
        // "::" serves IPv4 peers too (as IPv4-mapped addresses); a specific address only itself.
        const auto& s6 = reinterpret_cast<const sockaddr_in6&>(ss);
        const int v6only = IN6_IS_ADDR_UNSPECIFIED(&s6.sin6_addr) ? 0 : 1;
        setsockopt(s->fd_, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
    }
    if (bind(s->fd_, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
        return fail("pfcp: cannot listen on " + where + ": " + std::strerror(errno));
    }
    sockaddr_storage bound{};
    socklen_t blen = sizeof(bound);
    if (getsockname(s->fd_, reinterpret_cast<sockaddr*>(&bound), &blen) == 0) {
        s->port_ = from_sockaddr(bound).port;
    }

    Server* self = s.get();
    s->node_ = std::make_unique<Node>(
        std::move(*ncfg),
        [self](const PeerAddress& to, std::span<const uint8_t> d) { self->send(to, d); }, handler);
    std::string loop_err;
    if (!loop.add_fd(
            s->fd_, [self](uint32_t) { self->on_readable(); }, &loop_err)) {
        return fail("pfcp: " + loop_err);
    }
    s->alive_ = std::make_shared<bool>(true);
    loop.add_periodic(timer_period_ms, [self, alive = std::weak_ptr<bool>(s->alive_)] {
        if (alive.lock()) {
            self->node_->on_timer(steady_ms());
        }
    });
    const NodeConfig& nc = s->node_->config();
    BRAID_LOG(pfcp, NOTICE,
              "PFCP listening on %s as Node ID %s; heartbeat %u ms x %u, T1 %u ms, N1 %u, "
              "UP features: %s; %zu peers to associate with",
              PeerAddress{cfg.listen.address, s->port_}.to_string().c_str(),
              to_string(nc.node_id).c_str(), nc.heartbeat_interval_ms, nc.heartbeat_misses,
              nc.t1_ms, nc.n1, to_string(nc.features).c_str(), nc.peers.size());
    s->node_->start(steady_ms());
    return s;
}

Server::~Server() {
    alive_.reset();
    if (fd_ >= 0) {
        if (loop_ != nullptr && node_) {
            loop_->remove_fd(fd_);
        }
        close(fd_);
    }
}

void Server::on_readable() {
    std::array<uint8_t, 65536> buf;
    for (int i = 0; i < max_datagrams_per_wakeup; ++i) {
        sockaddr_storage ss{};
        socklen_t len = sizeof(ss);
        const ssize_t n =
            recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&ss), &len);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                BRAID_LOG(pfcp, WARNING, "recvfrom: %s", std::strerror(errno));
            }
            return;
        }
        node_->on_datagram(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)),
                           from_sockaddr(ss), steady_ms());
    }
}

void Server::send(const PeerAddress& to, std::span<const uint8_t> datagram) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    const char* why = "address family does not match the socket";
    if (to_sockaddr(to, ipv6_, ss, len)) {
        if (sendto(fd_, datagram.data(), datagram.size(), 0, reinterpret_cast<const sockaddr*>(&ss),
                   len) >= 0) {
            return;
        }
        why = std::strerror(errno);
    }
    node_->counters().events[static_cast<size_t>(NodeEvent::send_failures)].inc();
    BRAID_LOG(pfcp, INFO, "cannot send %zu octets to %s: %s", datagram.size(),
              to.to_string().c_str(), why);
}

// ---- metrics --------------------------------------------------------------------------------

void add_collectors(metrics::Exporter& exporter, const Node& node) {
    using metrics::Family;
    using metrics::Type;
    exporter.add_collector("pfcp", [&node](std::vector<Family>& out) {
        const NodeCounters& c = node.counters();
        Family msgs{"braid_pfcp_messages_total",
                    "PFCP messages by direction and type (retransmissions included)",
                    Type::counter,
                    {}};
        uint64_t unknown_rx = 0, unknown_tx = 0;
        for (size_t t = 0; t < 256; ++t) {
            const auto type = static_cast<MessageType>(t);
            if (!is_known(type)) {
                unknown_rx += c.rx_by_type[t].get();
                unknown_tx += c.tx_by_type[t].get();
                continue;
            }
            const std::string l(label(type));
            msgs.samples.push_back(
                {{{"direction", "rx"}, {"type", l}}, double(c.rx_by_type[t].get())});
            msgs.samples.push_back(
                {{{"direction", "tx"}, {"type", l}}, double(c.tx_by_type[t].get())});
        }
        msgs.samples.push_back({{{"direction", "rx"}, {"type", "unknown"}}, double(unknown_rx)});
        msgs.samples.push_back({{{"direction", "tx"}, {"type", "unknown"}}, double(unknown_tx)});
        out.push_back(std::move(msgs));

        Family rej{"braid_pfcp_rejections_total",
                   "PFCP responses braid sent with a rejection Cause",
                   Type::counter,
                   {}};
        uint64_t spare = 0;
        for (size_t v = 64; v < 256; ++v) {
            const auto cause = static_cast<Cause>(v);
            if (is_known(cause)) {
                rej.samples.push_back({{{"cause", std::string(label(cause))}},
                                       double(c.rejections_by_cause[v].get())});
            } else {
                spare += c.rejections_by_cause[v].get();
            }
        }
        rej.samples.push_back({{{"cause", "spare_rejection"}}, double(spare)});
        out.push_back(std::move(rej));

        const uint64_t all = c.associations.get();
        const uint64_t unreachable = c.associations_unreachable.get();
        out.push_back({"braid_pfcp_associations",
                       "PFCP associations held, by state",
                       Type::gauge,
                       {{{{"state", "established"}}, double(all - std::min(all, unreachable))},
                        {{{"state", "unreachable"}}, double(unreachable)}}});

        for (size_t e = 0; e < node_event_table.size(); ++e) {
            out.push_back({"braid_pfcp_" + std::string(node_event_table[e].name) + "_total",
                           std::string(node_event_table[e].help),
                           Type::counter,
                           {{{}, double(c.events[e].get())}}});
        }
        Family drops{
            "braid_pfcp_drops_total", "PFCP messages dropped, by reason", Type::counter, {}};
        for (size_t r = 0; r < drop_reason_table.size(); ++r) {
            drops.samples.push_back(
                {{{"reason", std::string(drop_reason_table[r].name)}}, double(c.drops[r].get())});
        }
        out.push_back(std::move(drops));
    });
}

}  // namespace braid::pfcp
