// Unit tests for control/pfcp/node: node procedures and reliability, sans I/O with injected time
// (TS 29.244 §6.2, §6.4, §7.4, §7.6). Every datagram braid sends lands in Harness::sent; time
// only moves when a test says so.
#include "control/pfcp/node.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include "tests/unit/hex.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/event_loop.h"
#include "control/pfcp/header.h"
#include "control/pfcp/ie.h"
#include "control/pfcp/ies.h"
#include "control/pfcp/message.h"
#include "control/pfcp/server.h"

namespace {

using namespace braid::pfcp;
using braid::test::Bytes;
using braid::test::hex;

const PeerAddress smf{"198.18.5.1", 8805};
const PeerAddress smf_other_port{"198.18.5.1", 40000};
const PeerAddress smf2{"198.18.5.2", 8805};
const NodeId smf_id = NodeId::from_fqdn("smf.example.org");
const NodeId smf2_id = NodeId::from_ipv4({198, 18, 5, 2});
const NodeId upf_id = NodeId::from_ipv4({198, 18, 0, 1});
constexpr uint32_t smf_rts = 0xe9000000;
constexpr uint32_t upf_rts = 0xe8000000;
constexpr uint64_t t0 = 1000000;

NodeConfig test_config() {
    NodeConfig c;
    c.node_id = upf_id;
    c.recovery_time = RecoveryTimeStamp{upf_rts};
    c.heartbeat_interval_ms = 1000;
    c.heartbeat_misses = 3;
    c.t1_ms = 100;
    c.n1 = 2;
    c.duplicate_window_ms = 500;
    return c;
}

// ---- message builders
// ----------------------------------------------------------------------------

template <typename F>
Bytes message(MessageType type, uint32_t seq, std::optional<Seid> seid, F&& ies) {
    Bytes out;
    Header h;
    h.type = type;
    h.sequence = SequenceNumber(seq);
    h.seid = seid;
    const size_t start = begin_message(h, out);
    Writer w(out);
    ies(w);
    REQUIRE(w.ok());
    REQUIRE(finish_message(out, start));
    return out;
}

Bytes setup_request(uint32_t seq, const NodeId& id = smf_id, uint32_t rts = smf_rts) {
    return message(MessageType::association_setup_request, seq, std::nullopt, [&](Writer& w) {
        id.encode(w);
        RecoveryTimeStamp{rts}.encode(w);
        CpFunctionFeatures{CpFeature::load}.encode(w);
    });
}

Bytes heartbeat_request(uint32_t seq, uint32_t rts = smf_rts) {
    return message(MessageType::heartbeat_request, seq, std::nullopt,
                   [&](Writer& w) { RecoveryTimeStamp{rts}.encode(w); });
}

Bytes heartbeat_response(uint32_t seq, uint32_t rts = smf_rts) {
    return message(MessageType::heartbeat_response, seq, std::nullopt,
                   [&](Writer& w) { RecoveryTimeStamp{rts}.encode(w); });
}

Bytes node_id_request(MessageType type, uint32_t seq, const NodeId& id = smf_id) {
    return message(type, seq, std::nullopt, [&](Writer& w) { id.encode(w); });
}

Bytes session_request(MessageType type, uint32_t seq, uint64_t seid = 0x1234) {
    return message(type, seq, Seid(type == MessageType::session_establishment_request ? 0 : seid),
                   [&](Writer& w) {
                       if (type == MessageType::session_establishment_request) {
                           smf_id.encode(w);
                           FSeid f;
                           f.seid = Seid(0xc0ffee);
                           f.ipv4 = Ipv4Address{198, 18, 5, 1};
                           f.encode(w);
                       }
                   });
}

// ---- a parsed datagram braid sent
// ----------------------------------------------------------------

struct Sent {
    PeerAddress to;
    Bytes bytes;

    Header header() const {
        auto m = parse_message(std::span<const uint8_t>(bytes));
        REQUIRE(m.ok());
        return m->header;
    }
    MessageType type() const { return header().type; }
    uint32_t seq() const { return header().sequence.value(); }
    IeList ies() const {
        auto m = parse_message(std::span<const uint8_t>(bytes));
        REQUIRE(m.ok());
        auto l = IeList::parse(m->body);
        REQUIRE(l.ok());
        return *l;
    }
    template <typename T>
    std::optional<T> ie() const {
        auto v = ies().find(T::type);
        if (!v) {
            return std::nullopt;
        }
        auto r = parse_ie<T>(*v);
        REQUIRE(r.ok());
        return *r;
    }
    Cause cause() const {
        auto c = ie<CauseIe>();
        REQUIRE(c.has_value());
        return c->value;
    }
    std::optional<IeType> offending() const {
        auto o = ie<OffendingIe>();
        return o ? std::optional<IeType>(o->value) : std::nullopt;
    }
};

// Records what the node asks of the session procedures; answers Cause 1 to every request.
struct FakeHandler final : SessionHandler {
    std::vector<std::pair<MessageType, PeerRef>> messages;
    std::vector<NodeId> dropped;
    size_t sessions = 5;

    std::optional<std::vector<uint8_t>> handle_session_message(const Message& msg,
                                                               const PeerRef& peer) override {
        messages.emplace_back(msg.header.type, peer);
        const auto type = static_cast<MessageType>(static_cast<uint8_t>(msg.header.type) + 1);
        return message(type, msg.header.sequence.value(), Seid(0xc0ffee), [&](Writer& w) {
            if (type == MessageType::session_establishment_response) {
                upf_id.encode(w);
            }
            CauseIe{Cause::request_accepted}.encode(w);
        });
    }
    size_t drop_peer_sessions(const NodeId& peer) override {
        dropped.push_back(peer);
        return sessions;
    }
};

struct Harness {
    std::deque<Sent> sent;
    FakeHandler handler;
    Node node;
    uint64_t now = t0;

    explicit Harness(NodeConfig cfg = test_config(), bool with_handler = true)
        : node(
              std::move(cfg),
              [this](const PeerAddress& to, std::span<const uint8_t> d) {
                  sent.push_back(Sent{to, Bytes(d.begin(), d.end())});
              },
              with_handler ? &handler : nullptr) {}

    void recv(const Bytes& b, const PeerAddress& from = smf) { node.on_datagram(b, from, now); }
    void advance_to(uint64_t t) {
        now = t;
        node.on_timer(now);
    }
    void advance(uint64_t ms) { advance_to(now + ms); }
    Sent take() {
        REQUIRE_FALSE(sent.empty());
        Sent s = sent.front();
        sent.pop_front();
        return s;
    }
    // Sends `req`, expects exactly one answer, returns it.
    Sent exchange(const Bytes& req, const PeerAddress& from = smf) {
        recv(req, from);
        REQUIRE(sent.size() == 1);
        return take();
    }
    void associate(uint32_t seq = 1, const NodeId& id = smf_id, const PeerAddress& from = smf) {
        const Sent r = exchange(setup_request(seq, id), from);
        REQUIRE(r.type() == MessageType::association_setup_response);
        REQUIRE(r.cause() == Cause::request_accepted);
    }
    const NodeCounters& c() const { return node.counters(); }
};

}  // namespace

// ---- Association Setup (§6.2.6) ---------------------------------------------------------------

TEST_CASE("pfcp node: association setup request gets braid's node id and rts and features",
          "[pfcp-node]") {
    Harness h;
    const Sent r = h.exchange(setup_request(7));
    CHECK(r.to == smf);
    CHECK(r.seq() == 7);
    CHECK(r.type() == MessageType::association_setup_response);
    CHECK_FALSE(r.header().seid.has_value());
    CHECK(r.ie<NodeId>() == upf_id);
    CHECK(r.cause() == Cause::request_accepted);
    CHECK(r.ie<RecoveryTimeStamp>() == RecoveryTimeStamp{upf_rts});
    const auto features = r.ie<UpFunctionFeatures>();
    REQUIRE(features.has_value());
    CHECK(*features == UpFunctionFeatures{UpFeature::ftup});  // exactly what braid implements
    CHECK_FALSE(features->has(UpFeature::mptcp));
    CHECK_FALSE(features->has(UpFeature::atsss_ll));
    // IE order as in Table 7.4.4.2-1: Node ID, Cause, Recovery Time Stamp, UP Function Features.
    std::vector<IeType> order;
    for (IeView ie : r.ies()) {
        order.push_back(ie.type());
    }
    CHECK(order == std::vector<IeType>{IeType::node_id, IeType::cause, IeType::recovery_time_stamp,
                                       IeType::up_function_features});
    // FTUP is octet 5 bit 5; two octets (the IE's minimum).
    CHECK(r.ies().find(IeType::up_function_features)->value().size() == 2);
    CHECK(r.ies().find(IeType::up_function_features)->value()[0] == 0x10);

    const auto assocs = h.node.associations();
    REQUIRE(assocs.size() == 1);
    CHECK(assocs[0].node_id == smf_id);
    CHECK(assocs[0].address == smf);
    CHECK(assocs[0].recovery_time.ntp_seconds == smf_rts);
    CHECK(assocs[0].state == AssociationState::established);
    CHECK_FALSE(assocs[0].up_initiated);
    REQUIRE(assocs[0].cp_features.has_value());
    CHECK(assocs[0].cp_features->has(CpFeature::load));
    CHECK(h.c().event(NodeEvent::associations_established) == 1);
    CHECK(h.c().associations.get() == 1);
    CHECK(h.c().rx(MessageType::association_setup_request) == 1);
    CHECK(h.c().tx(MessageType::association_setup_response) == 1);
}

TEST_CASE("pfcp node: malformed association setup requests are rejected with cause and IE",
          "[pfcp-node]") {
    Harness h;
    SECTION("Node ID missing: 66 + Offending IE Node ID") {
        const Sent r = h.exchange(message(MessageType::association_setup_request, 3, std::nullopt,
                                          [](Writer& w) { RecoveryTimeStamp{smf_rts}.encode(w); }));
        CHECK(r.type() == MessageType::association_setup_response);
        CHECK(r.seq() == 3);
        CHECK(r.cause() == Cause::mandatory_ie_missing);
        CHECK(r.offending() == IeType::node_id);
        CHECK(r.ie<NodeId>() == upf_id);
        CHECK_FALSE(r.ie<UpFunctionFeatures>().has_value());  // §7.2.3.2: only the Cause & co.
        CHECK(h.c().rejected(Cause::mandatory_ie_missing) == 1);
    }
    SECTION("Recovery Time Stamp missing: 66 + Offending IE Recovery Time Stamp") {
        const Sent r = h.exchange(node_id_request(MessageType::association_setup_request, 3));
        CHECK(r.cause() == Cause::mandatory_ie_missing);
        CHECK(r.offending() == IeType::recovery_time_stamp);
    }
    SECTION("Recovery Time Stamp too short: 68 + Offending IE") {
        const Sent r = h.exchange(
            message(MessageType::association_setup_request, 3, std::nullopt, [](Writer& w) {
                smf_id.encode(w);
                w.add(IeType::recovery_time_stamp, hex("0102"));
            }));
        CHECK(r.cause() == Cause::invalid_length);
        CHECK(r.offending() == IeType::recovery_time_stamp);
    }
    SECTION("Node ID of an undefined type: 69 + Offending IE") {
        const Sent r = h.exchange(
            message(MessageType::association_setup_request, 3, std::nullopt, [](Writer& w) {
                w.add(IeType::node_id, hex("05 01020304"));
                RecoveryTimeStamp{smf_rts}.encode(w);
            }));
        CHECK(r.cause() == Cause::mandatory_ie_incorrect);
        CHECK(r.offending() == IeType::node_id);
    }
    SECTION("an IE Length past the message: 68") {
        Bytes b = setup_request(3);
        b.back() = 0;  // still framed; now break the last IE's length instead
        b[b.size() - 3] = 0x7f;
        const Sent r = h.exchange(b);
        CHECK(r.cause() == Cause::invalid_length);
    }
    CHECK(h.node.associations().empty());
}

TEST_CASE("pfcp node: a repeated setup keeps sessions unless the recovery time stamp changed",
          "[pfcp-node]") {
    Harness h;
    h.associate(1);
    SECTION("same Recovery Time Stamp: sessions kept") {
        h.associate(2);
        CHECK(h.handler.dropped.empty());
        CHECK(h.c().event(NodeEvent::peer_restarts) == 0);
    }
    SECTION("new Recovery Time Stamp: the peer restarted, its sessions go") {
        const Sent r = h.exchange(setup_request(2, smf_id, smf_rts + 60));
        CHECK(r.cause() == Cause::request_accepted);
        REQUIRE(h.handler.dropped.size() == 1);
        CHECK(h.handler.dropped[0] == smf_id);
        CHECK(h.c().event(NodeEvent::peer_restarts) == 1);
        CHECK(h.c().event(NodeEvent::sessions_deleted) == 5);
        REQUIRE(h.node.associations().size() == 1);
        CHECK(h.node.associations()[0].recovery_time.ntp_seconds == smf_rts + 60);
    }
}

// ---- Heartbeat (§6.2.2)
// ----------------------------------------------------------------------------

TEST_CASE("pfcp node: heartbeat requests are answered whether associated or not", "[pfcp-node]") {
    Harness h;
    const Sent r = h.exchange(heartbeat_request(0xabcdef));
    CHECK(r.type() == MessageType::heartbeat_response);
    CHECK(r.seq() == 0xabcdef);
    CHECK(r.ie<RecoveryTimeStamp>() == RecoveryTimeStamp{upf_rts});
    // Exempt from the Cause 66 rule: a request without Recovery Time Stamp is answered too.
    const Sent r2 =
        h.exchange(message(MessageType::heartbeat_request, 9, std::nullopt, [](Writer&) {}));
    CHECK(r2.type() == MessageType::heartbeat_response);
}

TEST_CASE("pfcp node: a changed recovery time stamp in a heartbeat is a peer restart",
          "[pfcp-node]") {
    Harness h;
    h.associate();
    SECTION("in a Heartbeat Request from the peer") {
        h.now += 50;
        const Sent r = h.exchange(heartbeat_request(40, smf_rts + 1));
        CHECK(r.type() == MessageType::heartbeat_response);
    }
    SECTION("in the Heartbeat Response to braid's request") {
        h.advance(1000);
        const Sent hb = h.take();
        REQUIRE(hb.type() == MessageType::heartbeat_request);
        h.recv(heartbeat_response(hb.seq(), smf_rts + 1));
    }
    CHECK(h.c().event(NodeEvent::peer_restarts) == 1);
    REQUIRE(h.handler.dropped.size() == 1);
    CHECK(h.handler.dropped[0] == smf_id);
    CHECK(h.node.associations().empty());  // the restarted peer sets up again
    // ... so session requests are refused until it does.
    const Sent r = h.exchange(session_request(MessageType::session_modification_request, 41));
    CHECK(r.cause() == Cause::no_established_pfcp_association);
}

TEST_CASE("pfcp node: braid sends heartbeats every interval and answers keep the peer",
          "[pfcp-node]") {
    Harness h;
    h.associate();
    h.advance(999);
    CHECK(h.sent.empty());
    for (int i = 0; i < 5; ++i) {
        h.advance(1);
        const Sent hb = h.take();
        CHECK(hb.to == smf);
        CHECK(hb.type() == MessageType::heartbeat_request);
        CHECK(hb.ie<RecoveryTimeStamp>() == RecoveryTimeStamp{upf_rts});
        h.now += 30;
        h.recv(heartbeat_response(hb.seq()));
        h.advance(969);
        CHECK(h.sent.empty());  // no retransmission of heartbeats, next one at +1000
    }
    CHECK(h.c().tx(MessageType::heartbeat_request) == 5);
    CHECK(h.c().event(NodeEvent::heartbeat_losses) == 0);
    REQUIRE(h.node.associations().size() == 1);
    CHECK(h.node.associations()[0].last_heartbeat_ms == h.now - 969);
}

TEST_CASE("pfcp node: heartbeat loss deletes the peer's sessions (delete_sessions)",
          "[pfcp-node]") {
    Harness h;
    h.associate();
    const uint64_t start = h.now;
    std::vector<uint64_t> sent_at;
    for (uint64_t t = start; t <= start + 4000; t += 10) {
        h.advance_to(t);
        while (!h.sent.empty()) {
            CHECK(h.take().type() == MessageType::heartbeat_request);
            sent_at.push_back(t - start);
        }
    }
    // interval 1000 ms, 3 misses: requests at 1000, 2000, 3000; lost at 4000.
    CHECK(sent_at == std::vector<uint64_t>{1000, 2000, 3000});
    CHECK(h.c().event(NodeEvent::heartbeat_losses) == 1);
    REQUIRE(h.handler.dropped.size() == 1);
    CHECK(h.node.associations().empty());
    CHECK(h.c().associations.get() == 0);
}

TEST_CASE("pfcp node: heartbeat loss keeps sessions (keep_sessions) and recovers", "[pfcp-node]") {
    NodeConfig cfg = test_config();
    cfg.peer_lost = PeerLostPolicy::keep_sessions;
    Harness h(cfg);
    h.associate();
    const uint64_t start = h.now;
    std::optional<Sent> last_hb;
    for (uint64_t t = start; t <= start + 4000; t += 10) {
        h.advance_to(t);
        while (!h.sent.empty()) {
            last_hb = h.take();
        }
    }
    CHECK(h.c().event(NodeEvent::heartbeat_losses) == 1);
    CHECK(h.handler.dropped.empty());
    REQUIRE(h.node.associations().size() == 1);
    CHECK(h.node.associations()[0].state == AssociationState::unreachable);
    CHECK(h.c().associations_unreachable.get() == 1);
    // Session requests are still served while unreachable.
    const Sent s = h.exchange(session_request(MessageType::session_modification_request, 77));
    CHECK(s.cause() == Cause::request_accepted);
    // Still asking (a request went out at the loss); an answer brings the peer back.
    REQUIRE(last_hb.has_value());
    REQUIRE(last_hb->type() == MessageType::heartbeat_request);
    h.recv(heartbeat_response(last_hb->seq()));
    CHECK(h.node.associations()[0].state == AssociationState::established);
    CHECK(h.c().event(NodeEvent::heartbeat_recoveries) == 1);
    CHECK(h.c().event(NodeEvent::heartbeat_losses) == 1);
}

// ---- Association Update and Release (§6.2.7, §6.2.8) -------------------------------------------

TEST_CASE("pfcp node: association update", "[pfcp-node]") {
    Harness h;
    SECTION("without an association: 72") {
        const Sent r = h.exchange(node_id_request(MessageType::association_update_request, 5));
        CHECK(r.type() == MessageType::association_update_response);
        CHECK(r.cause() == Cause::no_established_pfcp_association);
        CHECK(r.ie<NodeId>() == upf_id);
    }
    SECTION("associated: accepted, CP features updated") {
        h.associate();
        const Sent r = h.exchange(
            message(MessageType::association_update_request, 5, std::nullopt, [](Writer& w) {
                smf_id.encode(w);
                CpFunctionFeatures{CpFeature::bundl}.encode(w);
            }));
        CHECK(r.cause() == Cause::request_accepted);
        CHECK(r.ie<NodeId>() == upf_id);
        CHECK(h.node.associations()[0].cp_features->has(CpFeature::bundl));
    }
    SECTION("Node ID missing: 66") {
        const Sent r = h.exchange(
            message(MessageType::association_update_request, 5, std::nullopt, [](Writer&) {}));
        CHECK(r.cause() == Cause::mandatory_ie_missing);
        CHECK(r.offending() == IeType::node_id);
    }
}

TEST_CASE("pfcp node: association release deletes the peer's sessions", "[pfcp-node]") {
    Harness h;
    h.associate();
    h.associate(2, smf2_id, smf2);
    const Sent r = h.exchange(node_id_request(MessageType::association_release_request, 9));
    CHECK(r.type() == MessageType::association_release_response);
    CHECK(r.cause() == Cause::request_accepted);
    CHECK(r.ie<NodeId>() == upf_id);
    REQUIRE(h.handler.dropped.size() == 1);
    CHECK(h.handler.dropped[0] == smf_id);
    REQUIRE(h.node.associations().size() == 1);
    CHECK(h.node.associations()[0].node_id == smf2_id);
    CHECK(h.c().event(NodeEvent::associations_released) == 1);
    CHECK(h.c().event(NodeEvent::sessions_deleted) == 5);
    // Released twice: no association any more.
    const Sent again = h.exchange(node_id_request(MessageType::association_release_request, 10));
    CHECK(again.cause() == Cause::no_established_pfcp_association);
}

// ---- Session messages
// -------------------------------------------------------------------------------

TEST_CASE("pfcp node: session requests need an association", "[pfcp-node]") {
    Harness h;
    const Sent r = h.exchange(session_request(MessageType::session_establishment_request, 11));
    CHECK(r.type() == MessageType::session_establishment_response);
    CHECK(r.seq() == 11);
    CHECK(r.cause() == Cause::no_established_pfcp_association);
    CHECK(r.ie<NodeId>() == upf_id);
    REQUIRE(r.header().seid.has_value());
    CHECK(r.header().seid->value() == 0xc0ffee);  // the CP's SEID from its F-SEID
    const Sent d = h.exchange(session_request(MessageType::session_deletion_request, 12));
    CHECK(d.type() == MessageType::session_deletion_response);
    CHECK(d.cause() == Cause::no_established_pfcp_association);
    CHECK_FALSE(d.ie<NodeId>().has_value());  // not an IE of the Deletion Response
    CHECK(h.handler.messages.empty());
    CHECK(h.c().rejected(Cause::no_established_pfcp_association) == 2);
}

TEST_CASE("pfcp node: session requests from an associated peer go to the handler", "[pfcp-node]") {
    Harness h;
    h.associate();
    // Any source port of the peer's address: SMFs send requests from ephemeral ports.
    const Sent r =
        h.exchange(session_request(MessageType::session_establishment_request, 20), smf_other_port);
    CHECK(r.to == smf_other_port);
    CHECK(r.type() == MessageType::session_establishment_response);
    CHECK(r.cause() == Cause::request_accepted);
    REQUIRE(h.handler.messages.size() == 1);
    CHECK(h.handler.messages[0].first == MessageType::session_establishment_request);
    CHECK(h.handler.messages[0].second.address == smf.ip);
    CHECK(h.handler.messages[0].second.port == smf_other_port.port);
    CHECK(h.handler.messages[0].second.node_id == smf_id);
}

TEST_CASE("pfcp node: without a session handler session requests get cause 64", "[pfcp-node]") {
    Harness h(test_config(), false);
    h.associate();
    const Sent r = h.exchange(session_request(MessageType::session_modification_request, 21));
    CHECK(r.type() == MessageType::session_modification_response);
    CHECK(r.cause() == Cause::request_rejected);
    CHECK(h.c().event(NodeEvent::session_requests_unhandled) == 1);
    // Release works without a handler (no sessions to delete).
    CHECK(h.exchange(node_id_request(MessageType::association_release_request, 22)).cause() ==
          Cause::request_accepted);
}

// ---- Duplicate requests (§6.4) ------------------------------------------------------------------

TEST_CASE("pfcp node: a retransmitted request gets the cached response without re-execution",
          "[pfcp-node]") {
    Harness h;
    h.associate(1);
    const Bytes req = session_request(MessageType::session_modification_request, 30);
    const Sent first = h.exchange(req);
    h.now += 100;
    const Sent again = h.exchange(req);
    CHECK(again.bytes == first.bytes);
    CHECK(h.handler.messages.size() == 1);
    CHECK(h.c().event(NodeEvent::duplicate_requests) == 1);

    SECTION("node requests too: a duplicate setup does not count as a second setup") {
        CHECK(h.exchange(setup_request(1)).type() == MessageType::association_setup_response);
        CHECK(h.c().event(NodeEvent::associations_established) == 1);
        CHECK(h.c().event(NodeEvent::duplicate_requests) == 2);
    }
    SECTION("another type under the same sequence number is a new request") {
        h.exchange(session_request(MessageType::session_deletion_request, 30));
        CHECK(h.handler.messages.size() == 2);
    }
    SECTION("the same number from another port is another request") {
        h.exchange(req, smf_other_port);
        CHECK(h.handler.messages.size() == 2);
    }
    SECTION("after the window the request runs again") {
        h.advance(500);  // duplicate_window_ms from the first answer (t+0): expired at t+500
        h.exchange(req);
        CHECK(h.handler.messages.size() == 2);
        CHECK(h.c().event(NodeEvent::duplicate_requests) == 1);
    }
}

TEST_CASE("pfcp node: the duplicate cache is bounded", "[pfcp-node]") {
    NodeConfig cfg = test_config();
    cfg.max_cached_responses = 4;
    Harness h(cfg);
    for (uint32_t seq = 1; seq <= 10; ++seq) {
        h.exchange(heartbeat_request(seq));
    }
    CHECK(h.node.cached_responses() == 4);
    h.exchange(heartbeat_request(10));
    CHECK(h.c().event(NodeEvent::duplicate_requests) == 1);
}

// ---- Requests braid sends: retransmission, matching, sequence numbers (§6.4) -------------------

TEST_CASE("pfcp node: requests are retransmitted T1 x N1 and then the callback gets nothing",
          "[pfcp-node]") {
    Harness h;
    h.associate();
    int calls = 0;
    std::optional<Message> got;
    const Bytes report = message(MessageType::session_report_request, 0, Seid(0xc0ffee),
                                 [](Writer& w) { w.add(IeType::report_type, hex("02")); });
    REQUIRE(h.node.send_request(smf_id, report, [&](const std::optional<Message>& m) {
        ++calls;
        got = m;
    }));
    const Sent first = h.take();
    CHECK(first.to == smf);
    CHECK(first.type() == MessageType::session_report_request);
    std::vector<uint64_t> at{0};
    const uint64_t start = h.now;
    for (uint64_t t = start + 1; t <= start + 1000; ++t) {
        if (t % 1000 == 0) {
            continue;  // stay clear of heartbeat times
        }
        h.now = t;
        h.node.on_timer(t);
        while (!h.sent.empty()) {
            const Sent s = h.take();
            if (s.type() == MessageType::heartbeat_request) {
                continue;
            }
            CHECK(s.bytes == first.bytes);  // byte-identical retransmission
            at.push_back(t - start);
        }
    }
    CHECK(at == std::vector<uint64_t>{0, 100, 200});  // 1 + N1 transmissions, T1 apart
    CHECK(calls == 1);
    CHECK_FALSE(got.has_value());
    CHECK(h.c().event(NodeEvent::retransmissions) == 2);
    CHECK(h.c().event(NodeEvent::request_timeouts) == 1);
    CHECK(h.node.outstanding_requests() <= 1);  // at most a heartbeat
    // A response after the last attempt is a late duplicate: discarded.
    h.recv(message(MessageType::session_report_response, first.seq(), Seid(1),
                   [](Writer& w) { CauseIe{Cause::request_accepted}.encode(w); }));
    CHECK(calls == 1);
    CHECK(h.c().drop(DropReason::unmatched_response) == 1);
}

TEST_CASE("pfcp node: responses are matched on sequence number and peer", "[pfcp-node]") {
    Harness h;
    h.associate();
    std::vector<std::optional<uint8_t>> causes;
    const Bytes report = message(MessageType::session_report_request, 0, Seid(0xc0ffee),
                                 [](Writer& w) { w.add(IeType::report_type, hex("02")); });
    REQUIRE(h.node.send_request(smf_id, report, [&](const std::optional<Message>& m) {
        REQUIRE(m.has_value());
        CHECK(m->header.type == MessageType::session_report_response);
        causes.push_back(m->body.size() >= 5 ? std::optional<uint8_t>(m->body[4]) : std::nullopt);
    }));
    const Sent req = h.take();
    const Bytes rsp = message(MessageType::session_report_response, req.seq(), Seid(1),
                              [](Writer& w) { CauseIe{Cause::request_accepted}.encode(w); });
    h.recv(rsp, smf_other_port);  // right number, wrong port
    h.recv(rsp, smf2);            // right number, wrong address
    h.recv(message(MessageType::session_report_response, (req.seq() + 1) & 0xffffff, Seid(1),
                   [](Writer& w) { CauseIe{Cause::request_accepted}.encode(w); }));
    CHECK(causes.empty());
    CHECK(h.c().drop(DropReason::unmatched_response) == 3);
    h.recv(rsp);
    CHECK(causes.size() == 1);
    h.recv(rsp);  // duplicate response: discarded
    CHECK(causes.size() == 1);
    CHECK(h.c().drop(DropReason::unmatched_response) == 4);
    // Done: nothing is retransmitted any more.
    h.advance(500);
    while (!h.sent.empty()) {
        CHECK(h.take().type() == MessageType::heartbeat_request);
    }
}

TEST_CASE("pfcp node: send_request needs an association and a request", "[pfcp-node]") {
    Harness h;
    const Bytes report = message(MessageType::session_report_request, 0, Seid(1), [](Writer&) {});
    CHECK_FALSE(h.node.send_request(smf_id, report, {}));
    h.associate();
    const Bytes response =
        message(MessageType::session_report_response, 0, Seid(1), [](Writer&) {});
    CHECK_FALSE(h.node.send_request(smf_id, response, {}));
    CHECK_FALSE(h.node.send_request(smf2_id, report, {}));
    CHECK(h.sent.empty());
}

TEST_CASE("pfcp node: sequence numbers wrap at 24 bits", "[pfcp-node]") {
    Harness h;
    h.associate();
    h.node.set_next_sequence(SequenceNumber(0xfffffe));
    const Bytes report = message(MessageType::session_report_request, 0, Seid(1), [](Writer&) {});
    std::vector<uint32_t> seqs;
    for (int i = 0; i < 3; ++i) {
        REQUIRE(h.node.send_request(smf_id, report, {}));
        seqs.push_back(h.take().seq());
    }
    CHECK(seqs == std::vector<uint32_t>{0xfffffe, 0xffffff, 0});
    // Numbers still outstanding are skipped; a response to a wrapped number completes the right
    // request.
    h.node.set_next_sequence(SequenceNumber(0xffffff));
    int done = -1;
    REQUIRE(h.node.send_request(
        smf_id, report, [&](const std::optional<Message>& m) { done = m.has_value() ? 1 : 0; }));
    const Sent req = h.take();
    CHECK(req.seq() == 1);
    h.recv(message(MessageType::session_report_response, 0, Seid(1),
                   [](Writer& w) { CauseIe{Cause::request_accepted}.encode(w); }));
    CHECK(done == -1);
    h.recv(message(MessageType::session_report_response, 1, Seid(1),
                   [](Writer& w) { CauseIe{Cause::request_accepted}.encode(w); }));
    CHECK(done == 1);
}

// ---- UP-initiated association setup (§6.2.6.3) -----------------------------------------------

TEST_CASE("pfcp node: braid sets up associations with configured peers and retries",
          "[pfcp-node]") {
    NodeConfig cfg = test_config();
    cfg.peers = {smf};
    Harness h(cfg);
    h.node.start(h.now);
    const Sent req = h.take();
    CHECK(req.to == smf);
    CHECK(req.type() == MessageType::association_setup_request);
    CHECK(req.ie<NodeId>() == upf_id);
    CHECK(req.ie<RecoveryTimeStamp>() == RecoveryTimeStamp{upf_rts});
    CHECK(req.ie<UpFunctionFeatures>() == UpFunctionFeatures{UpFeature::ftup});
    REQUIRE(h.node.pending_peers().size() == 1);
    CHECK(h.node.pending_peers()[0].in_flight);

    // Unanswered: 1 + N1 transmissions T1 apart, then a new attempt one interval later.
    h.advance(100);
    CHECK(h.take().bytes == req.bytes);
    h.advance(100);
    CHECK(h.take().bytes == req.bytes);
    h.advance(100);
    CHECK(h.sent.empty());
    CHECK(h.c().event(NodeEvent::association_setup_failures) == 1);
    CHECK_FALSE(h.node.pending_peers()[0].in_flight);
    h.advance(999);
    CHECK(h.sent.empty());
    h.advance(1);
    const Sent retry = h.take();
    CHECK(retry.type() == MessageType::association_setup_request);
    CHECK(retry.seq() != req.seq());

    SECTION("a rejection is retried too") {
        h.recv(message(MessageType::association_setup_response, retry.seq(), std::nullopt,
                       [](Writer& w) {
                           smf_id.encode(w);
                           CauseIe{Cause::request_rejected}.encode(w);
                       }));
        CHECK(h.node.associations().empty());
        CHECK(h.c().event(NodeEvent::association_setup_failures) == 2);
        h.advance(1000);
        CHECK(h.take().type() == MessageType::association_setup_request);
    }
    SECTION("an acceptance establishes the association") {
        h.recv(message(MessageType::association_setup_response, retry.seq(), std::nullopt,
                       [](Writer& w) {
                           smf_id.encode(w);
                           CauseIe{Cause::request_accepted}.encode(w);
                           RecoveryTimeStamp{smf_rts}.encode(w);
                       }));
        const auto assocs = h.node.associations();
        REQUIRE(assocs.size() == 1);
        CHECK(assocs[0].node_id == smf_id);
        CHECK(assocs[0].up_initiated);
        CHECK(assocs[0].address == smf);
        CHECK(h.node.pending_peers().empty());
        // Lost later: braid sets it up again.
        for (int i = 0; i < 500; ++i) {
            h.advance(10);
        }
        CHECK(h.c().event(NodeEvent::heartbeat_losses) == 1);
        bool setup_again = false;
        while (!h.sent.empty()) {
            const bool setup = h.take().type() == MessageType::association_setup_request;
            setup_again = setup_again || setup;
        }
        CHECK(setup_again);
    }
}

// ---- Error handling (§7.6)
// -------------------------------------------------------------------------

TEST_CASE("pfcp node: unparsable and unknown input", "[pfcp-node]") {
    Harness h;
    SECTION("shorter than a header: dropped") {
        h.recv(hex("20 01 00"));
        CHECK(h.sent.empty());
        CHECK(h.c().drop(DropReason::too_short) == 1);
        h.recv({});
        CHECK(h.c().drop(DropReason::too_short) == 2);
    }
    SECTION("version 2: Version Not Supported Response with the sequence number") {
        const Sent r = h.exchange(hex("40 01 000c 123456 00 0060 0004 e9000000"));
        CHECK(r.type() == MessageType::version_not_supported_response);
        CHECK(r.seq() == 0x123456);
        CHECK(r.bytes == hex("20 0b 0004 123456 00"));
        CHECK(h.c().drop(DropReason::bad_version) == 1);
    }
    SECTION("unknown message type: silently dropped") {
        h.recv(hex("20 12 0004 000001 00"));
        h.recv(hex("20 ff 0004 000001 00"));
        CHECK(h.sent.empty());
        CHECK(h.c().drop(DropReason::unknown_message_type) == 2);
    }
    SECTION("Message Length past the datagram on a request: Cause 68") {
        const Sent r = h.exchange(hex("20 05 0020 000007 00 003c 0005 00c6120501"));
        CHECK(r.type() == MessageType::association_setup_response);
        CHECK(r.seq() == 7);
        CHECK(r.cause() == Cause::invalid_length);
        CHECK(h.c().drop(DropReason::bad_length) == 1);
    }
    SECTION("a bad length on a session request without S: the answer still has a SEID") {
        const Sent r = h.exchange(hex("20 32 0100 000005 00 003c 0005 00c6120501"));
        CHECK(r.type() == MessageType::session_establishment_response);
        REQUIRE(r.header().seid.has_value());
        CHECK(r.header().seid->value() == 0);
        CHECK(r.seq() == 5);
        CHECK(r.cause() == Cause::invalid_length);
    }
    SECTION("octets after the last message: Cause 68") {
        Bytes b = setup_request(8);
        b.push_back(0);
        const Sent r = h.exchange(b);
        CHECK(r.type() == MessageType::association_setup_response);
        CHECK(r.cause() == Cause::invalid_length);
        CHECK(h.node.associations().empty());
    }
    SECTION("a heartbeat with a bad length is answered all the same (exempt from 68)") {
        Bytes b = heartbeat_request(8);
        b.push_back(0);
        const Sent r = h.exchange(b);
        CHECK(r.type() == MessageType::heartbeat_response);
        CHECK(r.seq() == 8);
        CHECK_FALSE(r.ie<CauseIe>().has_value());
    }
    SECTION("Message Length shorter than the header: dropped") {
        h.recv(hex("21 32 0004 0000000000000000 000001 00"));
        CHECK(h.sent.empty());
        CHECK(h.c().drop(DropReason::length_too_small) == 1);
    }
    SECTION("S flag on a node message: dropped") {
        h.recv(hex("21 01 000c 0000000000000000 000001 00"));
        CHECK(h.sent.empty());
        CHECK(h.c().drop(DropReason::seid_flag_mismatch) == 1);
    }
    SECTION("requests a UPF never receives: dropped") {
        h.recv(node_id_request(MessageType::node_report_request, 3));
        h.recv(session_request(MessageType::session_report_request, 4));
        CHECK(h.sent.empty());
        CHECK(h.c().drop(DropReason::unexpected_request) == 2);
    }
    SECTION("a response to nothing: dropped") {
        h.recv(heartbeat_response(77));
        CHECK(h.sent.empty());
        CHECK(h.c().drop(DropReason::unmatched_response) == 1);
    }
    SECTION("garbage never crashes and never answers twice") {
        for (int i = 0; i < 256; ++i) {
            Bytes b = hex("20 01 000c 000001 00 0060 0004 e9000000");
            b[1] = static_cast<uint8_t>(i);
            h.recv(b);
            b.resize(static_cast<size_t>(i % 17));
            h.recv(b);
        }
        CHECK(h.sent.size() <= 256);
    }
}

TEST_CASE("pfcp node: node requests braid does not implement", "[pfcp-node]") {
    Harness h;
    const Sent r = h.exchange(node_id_request(MessageType::pfd_management_request, 1));
    CHECK(r.type() == MessageType::pfd_management_response);
    CHECK(r.cause() == Cause::no_established_pfcp_association);
    h.associate(2);
    CHECK(h.exchange(node_id_request(MessageType::pfd_management_request, 3)).cause() ==
          Cause::service_not_supported);
    const Sent s = h.exchange(node_id_request(MessageType::session_set_deletion_request, 4));
    CHECK(s.type() == MessageType::session_set_deletion_response);
    CHECK(s.cause() == Cause::service_not_supported);
    CHECK(s.ie<NodeId>() == upf_id);
}

TEST_CASE("pfcp node: counters and labels are tables", "[pfcp-node]") {
    CHECK(node_event_table.size() == static_cast<size_t>(NodeEvent::count));
    CHECK(drop_reason_table.size() == static_cast<size_t>(DropReason::count));
    for (const auto& e : node_event_table) {
        CHECK_FALSE(e.name.empty());
        CHECK_FALSE(e.help.empty());
    }
    CHECK(label(MessageType::association_setup_request) == "association_setup_request");
    CHECK(label(static_cast<MessageType>(99)) == "unknown");
    CHECK(label(Cause::no_established_pfcp_association) == "no_established_pfcp_association");
    CHECK(to_string(NodeId::from_fqdn("smf.example.org")) == "smf.example.org");
    CHECK(to_string(upf_id) == "198.18.0.1");
    CHECK(PeerAddress{"2001:db8::9", 8805}.to_string() == "[2001:db8::9]:8805");
}

// ---- server.h: config translation and the UDP socket ------------------------------------------

TEST_CASE("pfcp server: node configuration from the pfcp config section", "[pfcp-node]") {
    braid::config::Pfcp cfg;
    cfg.listen = {"198.18.0.1", 8805};
    cfg.heartbeat = {7, 4};
    cfg.t1_ms = 250;
    cfg.n1 = 1;
    cfg.peer_lost = braid::config::PfcpPeerLost::keep_sessions;
    cfg.peers = {{"2001:db8:0:0::5", 8805}, {"198.18.5.1", 9000}};
    std::string err;
    auto n = node_config(cfg, 1700000000, &err);
    REQUIRE(n.has_value());
    CHECK(n->node_id == upf_id);  // default: the listen address
    CHECK(n->recovery_time.to_unix() == 1700000000);
    CHECK(n->heartbeat_interval_ms == 7000);
    CHECK(n->heartbeat_misses == 4);
    CHECK(n->t1_ms == 250);
    CHECK(n->n1 == 1);
    CHECK(n->duplicate_window_ms == 250 * 2 + 2000);
    CHECK(n->peer_lost == PeerLostPolicy::keep_sessions);
    // Written as inet_ntop writes what recvfrom() returns, so that they compare as text.
    CHECK(n->peers == std::vector<PeerAddress>{{"2001:db8::5", 8805}, {"198.18.5.1", 9000}});
    CHECK(n->features == up_function_features());

    cfg.node_id = "upf.example.org";
    cfg.duplicate_window_ms = 900;
    n = node_config(cfg, 0, &err);
    REQUIRE(n.has_value());
    CHECK(n->node_id == NodeId::from_fqdn("upf.example.org"));
    CHECK(n->duplicate_window_ms == 900);
    cfg.node_id = "2001:db8::1";
    CHECK(node_config(cfg, 0, &err)->node_id.kind == NodeId::Kind::ipv6);
}

TEST_CASE("pfcp server: MPTCP is claimed iff the MPTCP proxy runs, ATSSS-LL never", "[pfcp-node]") {
    braid::config::Pfcp cfg;
    cfg.listen = {"198.18.0.1", 8805};
    std::string err;
    auto n = node_config(cfg, 1700000000, &err);
    REQUIRE(n.has_value());
    CHECK_FALSE(n->features.has(UpFeature::mptcp));
    cfg.mptcp_proxy.enabled = true;
    n = node_config(cfg, 1700000000, &err);
    REQUIRE(n.has_value());
    CHECK(n->features.has(UpFeature::mptcp));
    CHECK(n->features.has(UpFeature::ftup));
    CHECK_FALSE(n->features.has(UpFeature::atsss_ll));
    // On the wire: FTUP octet 5 bit 5, MPTCP octet 8 bit 8 (spec §1.9; Wireshark byte3 & 0x80).
    Bytes buf;
    Writer w(buf);
    n->features.encode(w);
    REQUIRE(w.ok());
    CHECK(buf == Bytes{0x00, 0x2b, 0x00, 0x04, 0x10, 0x00, 0x00, 0x80});
}

TEST_CASE("pfcp server: a heartbeat over UDP on 127.0.0.1 is answered", "[pfcp-node]") {
    braid::control::EventLoop loop;
    braid::config::Pfcp cfg;
    cfg.listen = {"127.0.0.1", 0};  // the kernel picks the port
    cfg.node_id = "198.18.0.1";
    std::string err;
    auto server = Server::start(cfg, loop, nullptr, &err);
    INFO(err);
    REQUIRE(server != nullptr);
    REQUIRE(server->port() != 0);

    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(server->port());
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const Bytes hb = heartbeat_request(0x010203);
    REQUIRE(sendto(fd, hb.data(), hb.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                   sizeof(to)) == static_cast<ssize_t>(hb.size()));
    loop.add_periodic(200, [&loop] { loop.stop(); });
    loop.run();

    uint8_t buf[512];
    const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    close(fd);
    REQUIRE(n > 0);
    const Sent r{PeerAddress{}, Bytes(buf, buf + n)};
    CHECK(r.type() == MessageType::heartbeat_response);
    CHECK(r.seq() == 0x010203);
    CHECK(server->node().counters().rx(MessageType::heartbeat_request) == 1);

    // The same address and port cannot be bound twice.
    cfg.listen.port = server->port();
    CHECK(Server::start(cfg, loop, nullptr, &err) == nullptr);
    CHECK(err.find("cannot listen on 127.0.0.1:") != std::string::npos);
}
