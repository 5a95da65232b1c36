#include "control/pfcp/node.h"

#include <arpa/inet.h>

#include <cinttypes>
#include <deque>
#include <map>
#include <utility>

#include "control/log.h"
#include "control/pfcp/message.h"

namespace braid::pfcp {

// ---- tables
// ---------------------------------------------------------------------------------------

namespace {

// What braid implements of §8.2.25 whatever its configuration, one row per feature (the SMF
// selects UPFs by these bits). node_config() (server.cc) adds what depends on the config:
// UEIP with UE IP pools, MPTCP (octet 8 bit 8) with the MPTCP proxy running — steered by the
// session's MPTCP MAR, applied to live connections on modification, torn down with the
// session (issue 7). ATSSS-LL stays unclaimed: the datapath does not split traffic between the
// accesses by an ATSSS-LL MAR (a PDR with a MAR forwards through the primary access's FAR).
constexpr UpFeature implemented_up_features[] = {
    UpFeature::ftup,  // F-TEID allocation by the UP function (CHOOSE)
};

// The value of the first `type` IE (§7.6: the first instance counts), or nothing when the IE is
// absent or its value does not parse. For IEs braid can do without or reports on its own terms
// (a response's Cause, a heartbeat's Recovery Time Stamp); mandatory IEs of a request go through
// missing_mandatory() and the rejection path instead.
template <typename T>
std::optional<T> find_ie(const IeList& ies, IeType type) {
    if (auto ie = ies.find(type)) {
        if (auto v = parse_ie<T>(*ie)) {
            return *v;
        }
    }
    return std::nullopt;
}
template <typename T>
std::optional<T> find_ie(const Result<IeList, IeError>& ies, IeType type) {
    return ies ? find_ie<T>(*ies, type) : std::nullopt;
}
// ... in a message body whose IE framing may not parse.
template <typename T>
std::optional<T> find_ie(std::span<const uint8_t> body, IeType type) {
    return find_ie<T>(IeList::parse(body), type);
}

}  // namespace

UpFunctionFeatures up_function_features() {
    UpFunctionFeatures f;
    for (UpFeature feature : implemented_up_features) {
        f.set(feature);
    }
    return f;
}

const std::array<CounterInfo, static_cast<size_t>(NodeEvent::count)> node_event_table = {{
#define BRAID_X(name, help) {#name, help},
    BRAID_PFCP_NODE_EVENTS(BRAID_X)
#undef BRAID_X
}};

const std::array<CounterInfo, static_cast<size_t>(DropReason::count)> drop_reason_table = {{
#define BRAID_X(name, help) {#name, help},
    BRAID_PFCP_DROP_REASONS(BRAID_X)
#undef BRAID_X
}};

std::string_view label(MessageType t) {
    switch (t) {
#define BRAID_X(name, value, text, req, sess) \
    case MessageType::name:                   \
        return #name;
        BRAID_PFCP_MESSAGE_TYPES(BRAID_X)
#undef BRAID_X
    }
    return "unknown";
}

std::string_view label(Cause c) {
    switch (c) {
#define BRAID_X(name, value, text) \
    case Cause::name:              \
        return #name;
        BRAID_PFCP_CAUSES(BRAID_X)
#undef BRAID_X
    }
    return is_acceptance(c) ? "spare_acceptance" : "spare_rejection";
}

std::string_view to_string(AssociationState s) {
    switch (s) {
        case AssociationState::established:
            return "established";
        case AssociationState::unreachable:
            return "unreachable";
    }
    return "unknown";
}

std::string PeerAddress::to_string() const {
    if (ip.find(':') != std::string::npos) {
        return "[" + ip + "]:" + std::to_string(port);
    }
    return ip + ":" + std::to_string(port);
}

std::string to_string(const NodeId& id) {
    char buf[INET6_ADDRSTRLEN] = {};
    switch (id.kind) {
        case NodeId::Kind::ipv4:
            inet_ntop(AF_INET, id.ipv4.data(), buf, sizeof(buf));
            return buf;
        case NodeId::Kind::ipv6:
            inet_ntop(AF_INET6, id.ipv6.data(), buf, sizeof(buf));
            return buf;
        case NodeId::Kind::fqdn:
            return id.fqdn;
    }
    return "?";
}

// ---- the node ----------------------------------------------------------------------------------

namespace {

using Key = std::pair<PeerAddress, uint32_t>;  // peer endpoint + sequence number

// An association's map key: the Node ID (§6.2.6: associations are per Node ID).
std::string node_key(const NodeId& id) {
    static constexpr const char* kinds[] = {"v4:", "v6:", "fqdn:"};
    return kinds[static_cast<size_t>(id.kind) % 3] + to_string(id);
}

MessageType response_to(MessageType request) {
    return static_cast<MessageType>(static_cast<uint8_t>(request) + 1);
}

// Does the response message (Table 7.3-1 / §7.4, §7.5) carry braid's Node ID?
bool response_has_node_id(MessageType t) {
    switch (t) {
        case MessageType::association_setup_response:
        case MessageType::association_update_response:
        case MessageType::association_release_response:
        case MessageType::session_set_deletion_response:
        case MessageType::session_set_modification_response:
        case MessageType::session_establishment_response:
            return true;
        default:
            return false;
    }
}

}  // namespace

struct Node::Impl {
    Node& node;

    struct Association {
        AssociationInfo info;
        uint64_t next_heartbeat_ms = 0;
        uint64_t heartbeat_sent_ms = 0;
        bool heartbeat_in_flight = false;
    };
    std::map<std::string, Association> associations;  // by node_key()

    struct Pending {
        PeerAddress to;
        MessageType type{};
        std::vector<uint8_t> bytes;
        uint32_t transmissions = 1;
        uint32_t max_transmissions = 1;
        uint32_t timeout_ms = 0;
        uint64_t deadline_ms = 0;
        bool count_timeout = true;  // heartbeats count as misses instead
        std::function<void(const Message*)> done;
    };
    std::map<Key, Pending> pending;

    struct Cached {
        MessageType request_type{};
        std::vector<uint8_t> response;
        uint64_t expires_ms = 0;
    };
    std::map<Key, Cached> cache;
    std::deque<std::pair<Key, uint64_t>> cache_order;  // insertion (= expiry) order

    std::vector<PendingPeer> peers;
    SequenceNumber next_seq{1};
    uint64_t now = 0;

    explicit Impl(Node& n) : node(n) {
        for (const PeerAddress& p : n.config_.peers) {
            peers.push_back(PendingPeer{p, 0, false, 0});
        }
    }

    NodeCounters& counters() { return node.counters_; }
    const NodeConfig& cfg() const { return node.config_; }
    void count(NodeEvent e, uint64_t n = 1) { counters().events[static_cast<size_t>(e)].inc(n); }
    void count(DropReason r) { counters().drops[static_cast<size_t>(r)].inc(); }

    void refresh_gauges() {
        size_t unreachable = 0;
        for (const auto& [k, a] : associations) {
            unreachable += a.info.state == AssociationState::unreachable;
        }
        counters().associations.set(associations.size());
        counters().associations_unreachable.set(unreachable);
    }

    Association* by_ip(const std::string& ip) {
        for (auto& [k, a] : associations) {
            if (a.info.address.ip == ip) {
                return &a;
            }
        }
        return nullptr;
    }

    // ---- output -------------------------------------------------------------------------------

    void transmit(const PeerAddress& to, std::span<const uint8_t> bytes) {
        if (bytes.size() >= 2) {
            const auto type = static_cast<MessageType>(bytes[1]);
            counters().tx_by_type[bytes[1]].inc();
            if (is_known(type) && !is_request(type) && type != MessageType::heartbeat_response &&
                type != MessageType::version_not_supported_response) {
                count_rejection(bytes);
            }
        }
        node.send_(to, bytes);
    }

    void count_rejection(std::span<const uint8_t> bytes) {
        auto m = parse_message(bytes);
        if (!m) {
            return;
        }
        if (auto cause = find_ie<CauseIe>(m->body, IeType::cause);
            cause && !is_acceptance(cause->value)) {
            counters().rejections_by_cause[static_cast<uint8_t>(cause->value)].inc();
        }
    }

    template <typename F>
    std::vector<uint8_t> build(MessageType type, SequenceNumber seq, std::optional<Seid> seid,
                               F&& ies) {
        std::vector<uint8_t> out;
        Header h;
        h.type = type;
        h.sequence = seq;
        h.seid = seid;
        const size_t start = begin_message(h, out);
        Writer w(out);
        ies(w);
        if (!w.ok() || !finish_message(out, start)) {
            // Only braid's own values go in here: a failure is a bug, not a peer's doing.
            BRAID_LOG(pfcp, ERR, "bug: cannot encode %s", std::string(to_string(type)).c_str());
        }
        return out;
    }

    // A rejection (§7.2.3.2): Node ID where the response has one, Cause, Offending IE if known.
    std::vector<uint8_t> reject(MessageType request, SequenceNumber seq, std::optional<Seid> seid,
                                const Rejection& r) {
        const MessageType type = response_to(request);
        // The S flag follows the message type, whatever the request's header said.
        seid =
            is_session_message(type) ? std::optional<Seid>(seid.value_or(Seid(0))) : std::nullopt;
        return build(type, seq, seid, [&](Writer& w) {
            if (response_has_node_id(type)) {
                node.config_.node_id.encode(w);
            }
            CauseIe{r.cause}.encode(w);
            if (static_cast<uint16_t>(r.offending_ie) != 0) {
                OffendingIe{r.offending_ie}.encode(w);
            }
        });
    }

    // The SEID for the header of a rejected session request: the CP's SEID from the CP F-SEID
    // of an Establishment Request, else 0 (§7.2.2.4.2 (b), (c)).
    std::optional<Seid> rejection_seid(const Message& m) {
        if (!m.header.seid) {
            return std::nullopt;
        }
        if (m.header.type == MessageType::session_establishment_request) {
            if (auto fseid = find_ie<FSeid>(m.body, IeType::f_seid)) {
                return fseid->seid;
            }
        }
        return Seid(0);
    }

    // Sends a request braid originates, tracked for retransmission and response matching.
    void send_tracked(const PeerAddress& to, std::vector<uint8_t> bytes, uint32_t timeout_ms,
                      uint32_t max_transmissions, bool count_timeout,
                      std::function<void(const Message*)> done) {
        SequenceNumber seq = next_seq;
        for (uint32_t i = 0; i <= SequenceNumber::max_value && pending.count({to, seq.value()});
             ++i) {
            ++seq;
        }
        next_seq = seq.next();
        const size_t off = (bytes[0] & 0x01) != 0 ? 12 : 4;
        bytes[off] = static_cast<uint8_t>(seq.value() >> 16);
        bytes[off + 1] = static_cast<uint8_t>(seq.value() >> 8);
        bytes[off + 2] = static_cast<uint8_t>(seq.value());
        Pending p;
        p.to = to;
        p.type = static_cast<MessageType>(bytes[1]);
        p.bytes = std::move(bytes);
        p.max_transmissions = max_transmissions;
        p.timeout_ms = timeout_ms;
        p.deadline_ms = now + timeout_ms;
        p.count_timeout = count_timeout;
        p.done = std::move(done);
        auto it = pending.insert_or_assign(Key{to, seq.value()}, std::move(p)).first;
        transmit(to, it->second.bytes);
    }

    // ---- duplicate cache (§6.4)
    // -------------------------------------------------------------------

    void remember(const Key& key, MessageType request_type, const std::vector<uint8_t>& response) {
        while (cache.size() >= cfg().max_cached_responses && !cache_order.empty()) {
            evict_front();
        }
        const uint64_t expires = now + cfg().duplicate_window_ms;
        cache.insert_or_assign(key, Cached{request_type, response, expires});
        cache_order.emplace_back(key, expires);
    }

    void evict_front() {
        const auto& [key, expires] = cache_order.front();
        auto it = cache.find(key);
        if (it != cache.end() && it->second.expires_ms == expires) {
            cache.erase(it);
        }
        cache_order.pop_front();
    }

    void expire_cache() {
        while (!cache_order.empty() && cache_order.front().second <= now) {
            evict_front();
        }
    }

    // ---- input --------------------------------------------------------------------------------

    void on_datagram(std::span<const uint8_t> datagram, const PeerAddress& from) {
        if (datagram.empty()) {
            count(DropReason::too_short);
            return;
        }
        std::span<const uint8_t> rest = datagram;
        while (!rest.empty()) {
            auto m = parse_message(rest);
            if (!m) {
                header_error(m.error(), rest, from);
                return;
            }
            rest = rest.subspan(m->bytes.size());
            counters().rx_by_type[static_cast<uint8_t>(m->header.type)].inc();
            if (!m->header.follow_on && !rest.empty()) {
                header_error(HeaderError{HeaderError::Code::trailing_bytes, m->header}, {}, from);
                return;
            }
            on_message(*m, from);
        }
    }

    void header_error(const HeaderError& e, std::span<const uint8_t> rest,
                      const PeerAddress& from) {
        using Code = HeaderError::Code;
        switch (e.code) {
            case Code::too_short:
                count(DropReason::too_short);
                return;
            case Code::length_too_small:
                count(DropReason::length_too_small);
                return;
            case Code::bad_version:
                count(DropReason::bad_version);
                if (rest[1] != static_cast<uint8_t>(MessageType::version_not_supported_response)) {
                    version_not_supported(rest, from);
                }
                return;
            case Code::seid_flag_mismatch:
                counters().rx_by_type[static_cast<uint8_t>(e.header->type)].inc();
                count(DropReason::seid_flag_mismatch);
                BRAID_LOG(pfcp, INFO, "%s from %s: S flag does not match the type, dropped",
                          std::string(to_string(e.header->type)).c_str(), from.to_string().c_str());
                return;
            case Code::length_beyond_datagram:
                counters().rx_by_type[static_cast<uint8_t>(e.header->type)].inc();
                [[fallthrough]];
            case Code::trailing_bytes: {
                count(DropReason::bad_length);
                const Header& h = *e.header;
                if (h.type == MessageType::heartbeat_request) {
                    transmit(from, heartbeat_response(h.sequence));  // exempt from 68 (§7.6)
                } else if (is_request(h.type)) {
                    // §7.6: a length inconsistent with the UDP length is answered with Cause 68.
                    transmit(from, reject(h.type, h.sequence, Seid(0),
                                          Rejection{Cause::invalid_length, IeType{}}));
                }
                return;
            }
        }
    }

    // §7.6: Version Not Supported Response, header only, echoing the sequence number if readable.
    void version_not_supported(std::span<const uint8_t> rest, const PeerAddress& from) {
        const size_t off = (rest[0] & 0x01) != 0 ? 12 : 4;
        const SequenceNumber seq(rest.size() >= off + 3 ? load_u24(&rest[off]) : 0);
        transmit(from, build(MessageType::version_not_supported_response, seq, std::nullopt,
                             [](Writer&) {}));
    }

    void on_message(const Message& m, const PeerAddress& from) {
        const MessageType type = m.header.type;
        if (!is_known(type)) {
            count(DropReason::unknown_message_type);  // §7.6: silently discarded
            return;
        }
        if (!is_request(type)) {
            on_response(m, from);
            return;
        }
        const Key key{from, m.header.sequence.value()};
        if (auto it = cache.find(key);
            it != cache.end() && it->second.request_type == type && it->second.expires_ms > now) {
            count(NodeEvent::duplicate_requests);
            transmit(from, it->second.response);
            return;
        }
        std::optional<std::vector<uint8_t>> response = on_request(m, from);
        if (response) {
            remember(key, type, *response);
            transmit(from, *response);
        }
    }

    std::optional<std::vector<uint8_t>> on_request(const Message& m, const PeerAddress& from) {
        switch (m.header.type) {
            case MessageType::heartbeat_request:
                return heartbeat_request(m, from);
            case MessageType::association_setup_request:
                return association_setup_request(m, from);
            case MessageType::association_update_request:
                return association_update_request(m);
            case MessageType::association_release_request:
                return association_release_request(m);
            case MessageType::pfd_management_request:
            case MessageType::session_set_deletion_request:
            case MessageType::session_set_modification_request:
                return not_supported(m, from);
            case MessageType::session_establishment_request:
            case MessageType::session_modification_request:
            case MessageType::session_deletion_request:
                return session_request(m, from);
            default:  // Node Report Request, Session Report Request: the UPF sends those
                count(DropReason::unexpected_request);
                BRAID_LOG(pfcp, INFO, "unexpected %s from %s: dropped",
                          std::string(to_string(m.header.type)).c_str(), from.to_string().c_str());
                return std::nullopt;
        }
    }

    void on_response(const Message& m, const PeerAddress& from) {
        const Key key{from, m.header.sequence.value()};
        auto it = pending.find(key);
        if (m.header.type == MessageType::version_not_supported_response) {
            count(DropReason::version_not_supported);
            BRAID_LOG(pfcp, WARNING, "%s does not support PFCP version 1",
                      from.to_string().c_str());
            if (it != pending.end()) {
                finish(it, nullptr);
            }
            return;
        }
        if (it == pending.end() || response_to(it->second.type) != m.header.type) {
            count(DropReason::unmatched_response);  // §6.4: discarded
            return;
        }
        finish(it, &m);
    }

    void finish(std::map<Key, Pending>::iterator it, const Message* m) {
        auto done = std::move(it->second.done);
        pending.erase(it);
        if (done) {
            done(m);
        }
    }

    // ---- node procedures ------------------------------------------------------------------

    std::vector<uint8_t> heartbeat_response(SequenceNumber seq) {
        return build(MessageType::heartbeat_response, seq, std::nullopt,
                     [&](Writer& w) { node.config_.recovery_time.encode(w); });
    }

    // §6.2.2.2. Exempt from the Cause 66/68 rules (§7.6): always answered.
    std::optional<std::vector<uint8_t>> heartbeat_request(const Message& m,
                                                          const PeerAddress& from) {
        const auto rts = find_ie<RecoveryTimeStamp>(m.body, IeType::recovery_time_stamp);
        if (Association* a = by_ip(from.ip)) {
            heard_from(*a);
            if (rts && *rts != a->info.recovery_time) {
                peer_restarted_drop(node_key(a->info.node_id), *rts, "Heartbeat Request");
            }
        }
        return heartbeat_response(m.header.sequence);
    }

    // The peer answered or asked: it is alive.
    void heard_from(Association& a) {
        a.info.last_heartbeat_ms = now;
        a.info.heartbeat_misses = 0;
        if (a.info.state == AssociationState::unreachable) {
            a.info.state = AssociationState::established;
            count(NodeEvent::heartbeat_recoveries);
            BRAID_LOG(pfcp, NOTICE, "peer %s (%s) is reachable again; sessions were kept",
                      to_string(a.info.node_id).c_str(), a.info.address.to_string().c_str());
            refresh_gauges();
        }
    }

    size_t delete_sessions(const NodeId& peer) {
        if (node.handler_ == nullptr) {
            return 0;
        }
        const size_t n = node.handler_->drop_peer_sessions(peer);
        count(NodeEvent::sessions_deleted, n);
        return n;
    }

    // A changed Recovery Time Stamp outside Association Setup: the peer lost its state, so do
    // the association and its sessions.
    void peer_restarted_drop(const std::string& key, RecoveryTimeStamp rts, const char* where) {
        auto it = associations.find(key);
        if (it == associations.end()) {
            return;
        }
        const AssociationInfo info = it->second.info;
        count(NodeEvent::peer_restarts);
        const size_t n = delete_sessions(info.node_id);
        BRAID_LOG(pfcp, NOTICE,
                  "peer %s (%s) restarted (Recovery Time Stamp %" PRIu32 " -> %" PRIu32
                  " in %s): association and %zu sessions deleted",
                  to_string(info.node_id).c_str(), info.address.to_string().c_str(),
                  info.recovery_time.ntp_seconds, rts.ntp_seconds, where, n);
        associations.erase(it);
        peer_gone(info.address);
        refresh_gauges();
    }

    // A configured peer lost its association: set it up again from now on.
    void peer_gone(const PeerAddress& address) {
        for (PendingPeer& p : peers) {
            if (p.address.ip == address.ip && !p.in_flight) {
                p.next_attempt_ms = now;
            }
        }
    }

    struct SetupIes {
        NodeId node_id;
        RecoveryTimeStamp rts;
        std::optional<CpFunctionFeatures> cp_features;
    };

    // Node ID (M), Recovery Time Stamp (M), CP Function Features (C) of an Association Setup
    // Request or Response.
    Result<SetupIes, Rejection> setup_ies(const IeList& ies) {
        if (auto t = missing_mandatory(ies, {IeType::node_id, IeType::recovery_time_stamp})) {
            return Unexpected{Rejection{Cause::mandatory_ie_missing, *t}};
        }
        auto id = parse_ie<NodeId>(*ies.find(IeType::node_id));
        if (!id) {
            return Unexpected{rejection_for(id.error())};
        }
        auto rts = parse_ie<RecoveryTimeStamp>(*ies.find(IeType::recovery_time_stamp));
        if (!rts) {
            return Unexpected{rejection_for(rts.error())};
        }
        SetupIes out{*id, *rts, std::nullopt};
        if (auto ie = ies.find(IeType::cp_function_features)) {
            auto f = parse_ie<CpFunctionFeatures>(*ie);
            if (!f) {
                return Unexpected{rejection_for(f.error())};
            }
            out.cp_features = *f;
        }
        return out;
    }

    // Creates or refreshes the association for a setup that succeeded (§6.2.6.2.2).
    void associate(const SetupIes& s, const PeerAddress& address, bool up_initiated) {
        const std::string key = node_key(s.node_id);
        auto it = associations.find(key);
        if (it != associations.end()) {
            AssociationInfo& old = it->second.info;
            if (old.recovery_time != s.rts) {
                count(NodeEvent::peer_restarts);
                const size_t n = delete_sessions(s.node_id);
                BRAID_LOG(pfcp, NOTICE,
                          "peer %s (%s) restarted (Recovery Time Stamp %" PRIu32 " -> %" PRIu32
                          " in Association Setup): %zu sessions deleted",
                          to_string(s.node_id).c_str(), address.to_string().c_str(),
                          old.recovery_time.ntp_seconds, s.rts.ntp_seconds, n);
            } else {
                BRAID_LOG(pfcp, NOTICE,
                          "association with %s (%s) set up again, same Recovery Time Stamp: "
                          "sessions kept",
                          to_string(s.node_id).c_str(), address.to_string().c_str());
            }
        } else {
            BRAID_LOG(pfcp, NOTICE, "association with %s (%s) established (%s-initiated)%s%s",
                      to_string(s.node_id).c_str(), address.to_string().c_str(),
                      up_initiated ? "UP" : "CP", s.cp_features ? ", CP features: " : "",
                      s.cp_features ? to_string(*s.cp_features).c_str() : "");
        }
        Association& a = associations[key];
        a.info.node_id = s.node_id;
        a.info.address = address;
        a.info.recovery_time = s.rts;
        a.info.cp_features = s.cp_features;
        a.info.state = AssociationState::established;
        a.info.up_initiated = up_initiated;
        a.info.established_ms = now;
        a.info.heartbeat_misses = 0;
        if (!a.heartbeat_in_flight) {
            a.next_heartbeat_ms = now + cfg().heartbeat_interval_ms;
        }
        count(NodeEvent::associations_established);
        refresh_gauges();
    }

    std::vector<uint8_t> setup_response(SequenceNumber seq) {
        return build(MessageType::association_setup_response, seq, std::nullopt, [&](Writer& w) {
            node.config_.node_id.encode(w);
            CauseIe{Cause::request_accepted}.encode(w);
            node.config_.recovery_time.encode(w);
            node.config_.features.encode(w);
        });
    }

    // §6.2.6.2 (CP-initiated) Association Setup.
    std::optional<std::vector<uint8_t>> association_setup_request(const Message& m,
                                                                  const PeerAddress& from) {
        const SequenceNumber seq = m.header.sequence;
        auto ies = IeList::parse(m.body);
        if (!ies) {
            return reject(m.header.type, seq, std::nullopt, rejection_for(ies.error()));
        }
        auto s = setup_ies(*ies);
        if (!s) {
            BRAID_LOG(pfcp, NOTICE, "Association Setup Request from %s rejected: %s (%s)",
                      from.to_string().c_str(), std::string(to_string(s.error().cause)).c_str(),
                      std::string(to_string(s.error().offending_ie)).c_str());
            return reject(m.header.type, seq, std::nullopt, s.error());
        }
        associate(*s, from, false);
        return setup_response(seq);
    }

    // The association named by the Node ID (M) of an Update/Release Request, or the rejection.
    Result<std::string, Rejection> named_association(const IeList& ies) {
        if (auto t = missing_mandatory(ies, {IeType::node_id})) {
            return Unexpected{Rejection{Cause::mandatory_ie_missing, *t}};
        }
        auto id = parse_ie<NodeId>(*ies.find(IeType::node_id));
        if (!id) {
            return Unexpected{rejection_for(id.error())};
        }
        std::string key = node_key(*id);
        if (!associations.count(key)) {
            return Unexpected{Rejection{Cause::no_established_pfcp_association, IeType{}}};
        }
        return key;
    }

    std::vector<uint8_t> accepted(MessageType type, SequenceNumber seq) {
        return build(type, seq, std::nullopt, [&](Writer& w) {
            node.config_.node_id.encode(w);
            CauseIe{Cause::request_accepted}.encode(w);
        });
    }

    // §6.2.7.3 (CP-initiated) Association Update.
    std::optional<std::vector<uint8_t>> association_update_request(const Message& m) {
        const SequenceNumber seq = m.header.sequence;
        auto ies = IeList::parse(m.body);
        if (!ies) {
            return reject(m.header.type, seq, std::nullopt, rejection_for(ies.error()));
        }
        auto key = named_association(*ies);
        if (!key) {
            return reject(m.header.type, seq, std::nullopt, key.error());
        }
        Association& a = associations[*key];
        if (auto ie = ies->find(IeType::cp_function_features)) {
            auto f = parse_ie<CpFunctionFeatures>(*ie);
            if (!f) {
                return reject(m.header.type, seq, std::nullopt, rejection_for(f.error()));
            }
            a.info.cp_features = *f;
        }
        BRAID_LOG(pfcp, INFO, "association with %s updated", to_string(a.info.node_id).c_str());
        return accepted(MessageType::association_update_response, seq);
    }

    // §6.2.8.3 (CP-initiated) Association Release: the peer's sessions go with it.
    std::optional<std::vector<uint8_t>> association_release_request(const Message& m) {
        const SequenceNumber seq = m.header.sequence;
        auto ies = IeList::parse(m.body);
        if (!ies) {
            return reject(m.header.type, seq, std::nullopt, rejection_for(ies.error()));
        }
        auto key = named_association(*ies);
        if (!key) {
            return reject(m.header.type, seq, std::nullopt, key.error());
        }
        auto it = associations.find(*key);
        const AssociationInfo info = it->second.info;
        const size_t n = delete_sessions(info.node_id);
        associations.erase(it);
        count(NodeEvent::associations_released);
        refresh_gauges();
        BRAID_LOG(pfcp, NOTICE,
                  "association with %s (%s) released by the peer: %zu sessions deleted",
                  to_string(info.node_id).c_str(), info.address.to_string().c_str(), n);
        peer_gone(info.address);
        return accepted(MessageType::association_release_response, seq);
    }

    // Node requests braid knows but does not implement.
    std::optional<std::vector<uint8_t>> not_supported(const Message& m, const PeerAddress& from) {
        const Cause cause = by_ip(from.ip) != nullptr ? Cause::service_not_supported
                                                      : Cause::no_established_pfcp_association;
        return reject(m.header.type, m.header.sequence, std::nullopt, Rejection{cause, IeType{}});
    }

    std::optional<std::vector<uint8_t>> session_request(const Message& m, const PeerAddress& from) {
        Association* a = by_ip(from.ip);
        if (a == nullptr) {
            BRAID_LOG(pfcp, INFO, "%s from %s: no PFCP association, rejected",
                      std::string(to_string(m.header.type)).c_str(), from.to_string().c_str());
            return reject(m.header.type, m.header.sequence, rejection_seid(m),
                          Rejection{Cause::no_established_pfcp_association, IeType{}});
        }
        if (node.handler_ == nullptr) {
            count(NodeEvent::session_requests_unhandled);
            BRAID_LOG(pfcp, WARNING, "%s from %s rejected: no session handler in this build",
                      std::string(to_string(m.header.type)).c_str(), from.to_string().c_str());
            return reject(m.header.type, m.header.sequence, rejection_seid(m),
                          Rejection{Cause::request_rejected, IeType{}});
        }
        return node.handler_->handle_session_message(m,
                                                     PeerRef{from.ip, from.port, a->info.node_id});
    }

    // ---- requests braid sends --------------------------------------------------------------

    void send_heartbeat(const std::string& key, Association& a) {
        auto bytes = build(MessageType::heartbeat_request, SequenceNumber(0), std::nullopt,
                           [&](Writer& w) { node.config_.recovery_time.encode(w); });
        a.heartbeat_in_flight = true;
        a.heartbeat_sent_ms = now;
        // One transmission per heartbeat interval: an unanswered request is a miss (§6.2.2).
        send_tracked(a.info.address, std::move(bytes), cfg().heartbeat_interval_ms, 1, false,
                     [this, key](const Message* m) { heartbeat_done(key, m); });
    }

    void heartbeat_done(const std::string& key, const Message* m) {
        auto it = associations.find(key);
        if (it == associations.end()) {
            return;
        }
        Association& a = it->second;
        a.heartbeat_in_flight = false;
        if (m != nullptr) {
            heard_from(a);
            a.next_heartbeat_ms = a.heartbeat_sent_ms + cfg().heartbeat_interval_ms;
            const auto rts = find_ie<RecoveryTimeStamp>(m->body, IeType::recovery_time_stamp);
            if (!rts) {
                count(DropReason::malformed_response);  // alive all the same
            } else if (*rts != a.info.recovery_time) {
                peer_restarted_drop(key, *rts, "Heartbeat Response");
            }
            return;
        }
        ++a.info.heartbeat_misses;
        a.next_heartbeat_ms = now;  // the interval has passed: ask again right away
        if (a.info.heartbeat_misses < cfg().heartbeat_misses ||
            a.info.state == AssociationState::unreachable) {
            return;
        }
        count(NodeEvent::heartbeat_losses);
        if (cfg().peer_lost == PeerLostPolicy::keep_sessions) {
            a.info.state = AssociationState::unreachable;
            BRAID_LOG(pfcp, WARNING,
                      "peer %s (%s) lost: %" PRIu32
                      " heartbeats unanswered; association and "
                      "sessions kept (peer_lost: keep_sessions)",
                      to_string(a.info.node_id).c_str(), a.info.address.to_string().c_str(),
                      a.info.heartbeat_misses);
            refresh_gauges();
            return;
        }
        const AssociationInfo info = a.info;
        const size_t n = delete_sessions(info.node_id);
        associations.erase(it);
        refresh_gauges();
        BRAID_LOG(pfcp, WARNING,
                  "peer %s (%s) lost: %" PRIu32
                  " heartbeats unanswered; association and %zu "
                  "sessions deleted (peer_lost: delete_sessions)",
                  to_string(info.node_id).c_str(), info.address.to_string().c_str(),
                  info.heartbeat_misses, n);
        peer_gone(info.address);
    }

    // §6.2.6.3 UP function initiated Association Setup towards a configured peer.
    void send_setup(size_t index) {
        PendingPeer& p = peers[index];
        auto bytes = build(MessageType::association_setup_request, SequenceNumber(0), std::nullopt,
                           [&](Writer& w) {
                               node.config_.node_id.encode(w);
                               node.config_.recovery_time.encode(w);
                               node.config_.features.encode(w);
                           });
        p.in_flight = true;
        ++p.attempts;
        send_tracked(p.address, std::move(bytes), cfg().t1_ms, cfg().n1 + 1, true,
                     [this, index](const Message* m) { setup_done(index, m); });
    }

    void setup_done(size_t index, const Message* m) {
        PendingPeer& p = peers[index];
        p.in_flight = false;
        const auto retry = [&](const char* why) {
            count(NodeEvent::association_setup_failures);
            p.next_attempt_ms = now + cfg().heartbeat_interval_ms;
            BRAID_LOG(pfcp, NOTICE,
                      "Association Setup with %s failed (%s): next attempt in %" PRIu32 " ms",
                      p.address.to_string().c_str(), why, cfg().heartbeat_interval_ms);
        };
        if (m == nullptr) {
            return retry("no response");
        }
        auto ies = IeList::parse(m->body);
        const auto cause = find_ie<CauseIe>(ies, IeType::cause);
        if (!cause) {
            count(DropReason::malformed_response);
            return retry("response without a valid Cause");
        }
        if (!is_acceptance(cause->value)) {
            return retry(std::string(to_string(cause->value)).c_str());
        }
        auto s = setup_ies(*ies);
        if (!s) {
            count(DropReason::malformed_response);
            return retry("response without a valid Node ID / Recovery Time Stamp");
        }
        associate(*s, p.address, true);
    }

    void on_timer() {
        // Retransmissions and timeouts (§6.4). Callbacks run after the scan: they may send.
        std::vector<std::function<void(const Message*)>> expired;
        for (auto it = pending.begin(); it != pending.end();) {
            Pending& p = it->second;
            if (p.deadline_ms > now) {
                ++it;
                continue;
            }
            if (p.transmissions < p.max_transmissions) {
                ++p.transmissions;
                p.deadline_ms = now + p.timeout_ms;
                count(NodeEvent::retransmissions);
                transmit(p.to, p.bytes);  // byte-identical: same sequence number
                ++it;
                continue;
            }
            if (p.count_timeout) {
                count(NodeEvent::request_timeouts);
                BRAID_LOG(pfcp, INFO, "%s to %s: no response after %" PRIu32 " transmissions",
                          std::string(to_string(p.type)).c_str(), p.to.to_string().c_str(),
                          p.transmissions);
            }
            expired.push_back(std::move(p.done));
            it = pending.erase(it);
        }
        for (auto& done : expired) {
            if (done) {
                done(nullptr);
            }
        }
        // Heartbeats.
        std::vector<std::string> due;
        for (auto& [key, a] : associations) {
            if (!a.heartbeat_in_flight && a.next_heartbeat_ms <= now) {
                due.push_back(key);
            }
        }
        for (const std::string& key : due) {
            auto it = associations.find(key);
            if (it != associations.end()) {
                send_heartbeat(key, it->second);
            }
        }
        // UP-initiated association setup.
        for (size_t i = 0; i < peers.size(); ++i) {
            const PendingPeer& p = peers[i];
            if (!p.in_flight && p.next_attempt_ms <= now && by_ip(p.address.ip) == nullptr) {
                send_setup(i);
            }
        }
        expire_cache();
    }
};

Node::Node(NodeConfig config, Send send, SessionHandler* handler)
    : config_(std::move(config)),
      send_(std::move(send)),
      handler_(handler),
      impl_(std::make_unique<Impl>(*this)) {}

Node::~Node() = default;

void Node::start(uint64_t now_ms) {
    impl_->now = now_ms;
    impl_->on_timer();
}

void Node::on_datagram(std::span<const uint8_t> datagram, const PeerAddress& from,
                       uint64_t now_ms) {
    impl_->now = now_ms;
    impl_->on_datagram(datagram, from);
}

void Node::on_timer(uint64_t now_ms) {
    impl_->now = now_ms;
    impl_->on_timer();
}

bool Node::send_request(const NodeId& peer, std::vector<uint8_t> msg,
                        ResponseCallback on_response) {
    auto it = impl_->associations.find(node_key(peer));
    if (it == impl_->associations.end()) {
        return false;
    }
    auto m = parse_message(std::span<const uint8_t>(msg));
    if (!m || !is_request(m->header.type) || m->bytes.size() != msg.size()) {
        BRAID_LOG(pfcp, ERR, "bug: send_request given something other than one request message");
        return false;
    }
    impl_->send_tracked(it->second.info.address, std::move(msg), config_.t1_ms, config_.n1 + 1,
                        true, [cb = std::move(on_response)](const Message* r) {
                            if (cb) {
                                cb(r != nullptr ? std::optional<Message>(*r) : std::nullopt);
                            }
                        });
    return true;
}

std::vector<AssociationInfo> Node::associations() const {
    std::vector<AssociationInfo> out;
    for (const auto& [key, a] : impl_->associations) {
        out.push_back(a.info);
    }
    return out;
}

std::vector<PendingPeer> Node::pending_peers() const {
    std::vector<PendingPeer> out;
    for (const PendingPeer& p : impl_->peers) {
        if (impl_->by_ip(p.address.ip) == nullptr) {
            out.push_back(p);
        }
    }
    return out;
}

size_t Node::outstanding_requests() const {
    return impl_->pending.size();
}

size_t Node::cached_responses() const {
    return impl_->cache.size();
}

void Node::set_next_sequence(SequenceNumber seq) {
    impl_->next_seq = seq;
}

}  // namespace braid::pfcp
