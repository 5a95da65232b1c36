// Unit tests for control/pfcp/session_procedures and ies_session: the PFCP session procedures
// (TS 29.244 §6.3, §7.5, §7.6) against MemorySessionActions, sans I/O. Requests are built with
// braid's own encoders or taken from scapy (tests/unit/pfcp/session_vectors.py); responses are
// decoded with braid's decoders. With BRAID_PFCP_SESSION_DUMP=<dir> every message braid built is
// written there, for `session_vectors.py --tshark build/tests/unit_tests` to dissect.
#include "control/pfcp/session_procedures.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>
#include "tests/unit/hex.h"

#include "control/pfcp/header.h"
#include "control/pfcp/ie.h"
#include "control/pfcp/ies.h"
#include "control/pfcp/ies_session.h"
#include "control/pfcp/message.h"

namespace {

using namespace braid::pfcp;
namespace dp = braid::dataplane;
using braid::test::Bytes;
using braid::test::hex;

// ---- constants (addresses from 198.18.0.0/15 only) ---------------------------------------------

const NodeId smf_id = NodeId::from_ipv4({198, 18, 4, 1});
const NodeId smf2_id = NodeId::from_ipv4({198, 18, 4, 9});
const NodeId upf_id = NodeId::from_ipv4({198, 18, 4, 2});
const PeerRef smf{"198.18.4.1", 8805, smf_id};
const PeerRef smf2{"198.18.4.9", 8805, smf2_id};
constexpr uint32_t upf_n3 = 0xc6120001;   // 198.18.0.1
constexpr uint32_t gnb_n3 = 0xc6120002;   // 198.18.0.2
constexpr uint32_t gnb2_n3 = 0xc6120003;  // 198.18.0.3
constexpr uint32_t ue_ip = 0xc6136402;    // 198.19.100.2
constexpr uint32_t ue_pool = 0xc6140000;  // 198.20.0.0/16
constexpr uint64_t cp_seid = 0x1122334455667788;
constexpr uint64_t first_up_seid = 0x100000001;
constexpr uint32_t teid_first = 0x1000;

Ipv4Address wire(uint32_t host) {
    return {static_cast<uint8_t>(host >> 24), static_cast<uint8_t>(host >> 16),
            static_cast<uint8_t>(host >> 8), static_cast<uint8_t>(host)};
}

UeIpPoolConfig v4_pool(uint32_t network, uint8_t len, std::string network_instance = "") {
    UeIpPoolConfig p;
    p.family = 4;
    p.length = len;
    p.network_instance = std::move(network_instance);
    for (int i = 0; i < 4; ++i) {
        p.prefix[i] = static_cast<uint8_t>(network >> (24 - 8 * i));
    }
    return p;
}

// 2001:db8:<third>::/<len>
UeIpPoolConfig v6_pool(uint16_t third, uint8_t len, std::string network_instance = "") {
    UeIpPoolConfig p;
    p.family = 6;
    p.length = len;
    p.network_instance = std::move(network_instance);
    p.prefix = {
        0x20, 0x01, 0x0d, 0xb8, static_cast<uint8_t>(third >> 8), static_cast<uint8_t>(third)};
    return p;
}

SessionProceduresConfig test_config() {
    SessionProceduresConfig c;
    c.node_id = upf_id;
    c.n3_ipv4 = upf_n3;
    c.teid_first = teid_first;
    c.teid_last = 0x1fff;
    c.ue_ip_pools = {v4_pool(ue_pool, 16)};
    c.first_seid = first_up_seid;
    return c;
}

// ---- dumping what braid built (for tshark, see the header comment) -----------------------------

void dump(const std::string& name, const Bytes& b) {
    const char* dir = std::getenv("BRAID_PFCP_SESSION_DUMP");
    if (dir == nullptr || b.empty()) {
        return;
    }
    static int n = 0;
    char file[64];
    std::snprintf(file, sizeof(file), "/%04d-", n++);
    std::string path = std::string(dir) + file + name + ".bin";
    if (FILE* f = std::fopen(path.c_str(), "wb")) {
        std::fwrite(b.data(), 1, b.size(), f);
        std::fclose(f);
    }
}

// ---- a decoded message ------------------------------------------------------------------------

struct Reply {
    Bytes bytes;

    Message msg() const {
        auto m = parse_message(std::span<const uint8_t>(bytes));
        REQUIRE(m);
        return *m;
    }
    Header header() const { return msg().header; }
    uint64_t seid() const { return header().seid.value_or(Seid(0xdead)).value(); }
    IeList ies() const {
        auto l = IeList::parse(msg().body);
        REQUIRE(l);
        return *l;
    }
    Cause cause() const {
        auto c = decode_mandatory<CauseIe>(ies());
        REQUIRE(c);
        return c->value;
    }
    std::optional<IeType> offending() const {
        auto o = decode_optional<OffendingIe>(ies());
        REQUIRE(o);
        return *o ? std::optional<IeType>((*o)->value) : std::nullopt;
    }
    std::optional<FailedRuleId> failed_rule() const {
        auto f = decode_optional<FailedRuleId>(ies());
        REQUIRE(f);
        return *f;
    }
    template <typename T>
    std::vector<T> all() const {
        auto v = decode_list<T>(ies());
        REQUIRE(v);
        return *v;
    }
    template <typename T>
    std::optional<T> one() const {
        auto v = decode_optional<T>(ies());
        REQUIRE(v);
        return *v;
    }
};

// ---- request builders ---------------------------------------------------------------------------

Bytes tlv(IeType type, const Bytes& value) {
    const auto t = static_cast<uint16_t>(type);
    Bytes out = {static_cast<uint8_t>(t >> 8), static_cast<uint8_t>(t),
                 static_cast<uint8_t>(value.size() >> 8), static_cast<uint8_t>(value.size())};
    out.insert(out.end(), value.begin(), value.end());
    return out;
}

Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts) {
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

using Body = std::function<void(Writer&)>;

Bytes message(MessageType type, uint64_t seid, uint32_t seq, const Body& body) {
    Bytes out;
    Header h;
    h.type = type;
    h.seid = Seid(seid);
    h.sequence = SequenceNumber(seq);
    const size_t start = begin_message(h, out);
    Writer w(out);
    body(w);
    REQUIRE(w.ok());
    REQUIRE(finish_message(out, start));
    return out;
}

FTeid choose(std::optional<uint8_t> id = std::nullopt, bool v4 = true, bool v6 = false) {
    FTeid f;
    f.choose = FTeid::Choose{v4, v6, id};
    return f;
}

FTeid fteid(uint32_t teid, uint32_t addr = upf_n3) {
    FTeid f;
    f.teid = Teid(teid);
    f.ipv4 = wire(addr);
    return f;
}

UeIpAddress ue_address(uint32_t addr, bool destination) {
    UeIpAddress u;
    u.ipv4 = wire(addr);
    u.destination = destination;
    return u;
}

UeIpAddress ue_choose(bool destination) {
    UeIpAddress u;
    u.choose_v4 = true;
    u.destination = destination;
    return u;
}

CreatePdr ul_pdr(uint16_t id, FTeid ft, uint32_t far = 1) {
    CreatePdr p;
    p.pdr_id.value = id;
    p.precedence.value = 200 + id;
    p.pdi.source_interface.value = SourceInterface::Value::access;
    p.pdi.local_f_teid = ft;
    p.pdi.network_instance = NetworkInstance{"internet"};
    p.outer_header_removal = OuterHeaderRemoval{};
    p.far_id = FarId{far};
    return p;
}

CreatePdr dl_pdr(uint16_t id, UeIpAddress ue, uint32_t far = 2) {
    CreatePdr p;
    p.pdr_id.value = id;
    p.precedence.value = 100 + id;
    p.pdi.source_interface.value = SourceInterface::Value::core;
    p.pdi.ue_ip_addresses.push_back(ue);
    p.far_id = FarId{far};
    return p;
}

OuterHeaderCreation gtpu(uint32_t teid, uint32_t peer) {
    OuterHeaderCreation o;
    o.description = OuterHeaderCreation::gtpu_udp_ipv4;
    o.teid = Teid(teid);
    o.ipv4_address = wire(peer);
    return o;
}

CreateFar forward_far(uint32_t id, DestinationInterface::Value dest,
                      std::optional<OuterHeaderCreation> ohc = std::nullopt) {
    CreateFar f;
    f.far_id.value = id;
    f.apply_action.flags = ApplyAction::forw;
    f.forwarding_parameters = ForwardingParameters{DestinationInterface{dest}, std::nullopt, ohc};
    return f;
}

CreateFar ul_far() {
    return forward_far(1, DestinationInterface::Value::core);
}
CreateFar dl_far(uint32_t teid = 0x01000002, uint32_t peer = gnb_n3) {
    return forward_far(2, DestinationInterface::Value::access, gtpu(teid, peer));
}

CreateUrr volume_urr(uint32_t id) {
    CreateUrr u;
    u.urr_id.value = id;
    u.measurement_method.flags = MeasurementMethod::volum | MeasurementMethod::durat;
    u.reporting_triggers.flags = ReportingTriggers::volth | ReportingTriggers::perio;
    u.volume_threshold = VolumeThreshold{1000000, std::nullopt, std::nullopt};
    u.measurement_period = MeasurementPeriod{60};
    return u;
}

CreateQer qer(uint32_t id) {
    CreateQer q;
    q.qer_id.value = id;
    q.mbr = Mbr{100000, 200000};
    q.qfi = Qfi{9};
    return q;
}

FSeid cp_f_seid(uint64_t seid = cp_seid) {
    FSeid f;
    f.seid = Seid(seid);
    f.ipv4 = wire(0xc6120401);
    return f;
}

// The common establishment: UL PDR 1 (CHOOSE) -> FAR 1 (core), DL PDR 2 (UE IP) -> FAR 2.
struct Establishment {
    std::optional<NodeId> node = smf_id;
    std::optional<FSeid> cp = cp_f_seid();
    std::vector<CreatePdr> pdrs = {ul_pdr(1, choose()), dl_pdr(2, ue_address(ue_ip, true))};
    std::vector<CreateFar> fars = {ul_far(), dl_far()};
    std::vector<CreateQer> qers;
    std::vector<CreateUrr> urrs;
    std::optional<CreateBar> bar;
    Body extra;  // more IEs at the end

    Bytes bytes(uint32_t seq = 1) const {
        return message(MessageType::session_establishment_request, 0, seq, [&](Writer& w) {
            if (node) {
                node->encode(w);
            }
            if (cp) {
                cp->encode(w);
            }
            for (const auto& p : pdrs) {
                p.encode(w);
            }
            for (const auto& f : fars) {
                f.encode(w);
            }
            for (const auto& u : urrs) {
                u.encode(w);
            }
            for (const auto& q : qers) {
                q.encode(w);
            }
            if (bar) {
                bar->encode(w);
            }
            if (extra) {
                extra(w);
            }
        });
    }
};

// ---- the harness --------------------------------------------------------------------------------

struct SentRequest {
    NodeId peer;
    Bytes bytes;
    ResponseCallback on_response;
};

class FakeSender : public RequestSender {
public:
    std::vector<SentRequest> sent;
    bool associated = true;
    bool send_request(const NodeId& peer, std::vector<uint8_t> msg,
                      ResponseCallback on_response) override {
        if (!associated) {
            return false;
        }
        dump("report_request", msg);
        sent.push_back({peer, std::move(msg), std::move(on_response)});
        return true;
    }
};

struct Harness {
    MemorySessionActions actions;
    FakeSender sender;
    SessionProcedures procs;

    explicit Harness(SessionProceduresConfig cfg = test_config())
        : procs(std::move(cfg), actions, &sender) {}

    Reply send(const Bytes& request, const PeerRef& peer = smf, const char* name = "response") {
        auto m = parse_message(std::span<const uint8_t>(request));
        REQUIRE(m);
        auto r = procs.handle_session_message(*m, peer);
        REQUIRE(r);
        auto parsed = parse_message(std::span<const uint8_t>(*r));
        REQUIRE(parsed);
        REQUIRE(parsed->bytes.size() == r->size());
        CHECK(static_cast<uint8_t>(parsed->header.type) ==
              static_cast<uint8_t>(m->header.type) + 1);
        CHECK(parsed->header.sequence == m->header.sequence);
        dump(name, *r);
        return Reply{std::move(*r)};
    }

    // Establishes `e` and returns braid's SEID.
    uint64_t establish(const Establishment& e = {}) {
        Reply r = send(e.bytes(), smf, "establishment_response");
        REQUIRE(r.cause() == Cause::request_accepted);
        auto up = r.one<FSeid>();
        REQUIRE(up);
        return up->seid.value();
    }

    Reply modify(uint64_t seid, const Body& body, const PeerRef& peer = smf) {
        return send(message(MessageType::session_modification_request, seid, 7, body), peer,
                    "modification_response");
    }
    Reply remove(uint64_t seid, const PeerRef& peer = smf) {
        return send(message(MessageType::session_deletion_request, seid, 8, [](Writer&) {}), peer,
                    "deletion_response");
    }
    const dp::SessionSpec& spec(uint64_t seid) {
        const dp::SessionSpec* s = actions.spec(seid);
        REQUIRE(s != nullptr);
        return *s;
    }
};

// The rule with `id` among `rules` (a PDR, a FAR...).
template <typename Rule>
const Rule& by_id(const std::vector<Rule>& rules, uint32_t id) {
    for (const auto& r : rules) {
        if (r.id == id) {
            return r;
        }
    }
    FAIL("no rule " << id);
    return rules.front();
}

const dp::Pdr& pdr(const dp::SessionSpec& s, uint16_t id) {
    return by_id(s.pdrs, id);
}

const dp::Far& far(const dp::SessionSpec& s, uint32_t id) {
    return by_id(s.fars, id);
}
template <typename T>
const T* rule(const std::vector<T>& rules, uint32_t id) {
    for (const auto& r : rules) {
        if (r.id == id) {
            return &r;
        }
    }
    return nullptr;
}

// Field-by-field equality of two specs (the dataplane types have no operator==).
bool same(const dp::SessionSpec& a, const dp::SessionSpec& b) {
    auto same_pdr = [](const dp::Pdr& x, const dp::Pdr& y) {
        return x.id == y.id && x.precedence == y.precedence && x.source == y.source &&
               x.local_teid == y.local_teid && x.ue_ipv4 == y.ue_ipv4 && x.ue_ipv6 == y.ue_ipv6 &&
               x.qfi == y.qfi && x.sdf_filters == y.sdf_filters &&
               x.network_instance == y.network_instance &&
               x.remove_outer_header == y.remove_outer_header && x.far_id == y.far_id &&
               x.qer_ids == y.qer_ids && x.urr_ids == y.urr_ids;
    };
    auto same_far = [](const dp::Far& x, const dp::Far& y) {
        return x.id == y.id && x.action == y.action && x.destination == y.destination &&
               x.outer_header == y.outer_header && x.bar_id == y.bar_id &&
               x.network_instance == y.network_instance;
    };
    auto same_qer = [](const dp::Qer& x, const dp::Qer& y) {
        return x.id == y.id && x.gate_ul_open == y.gate_ul_open &&
               x.gate_dl_open == y.gate_dl_open && x.mbr_ul_kbps == y.mbr_ul_kbps &&
               x.mbr_dl_kbps == y.mbr_dl_kbps && x.qfi == y.qfi;
    };
    auto same_urr = [](const dp::Urr& x, const dp::Urr& y) {
        return x.id == y.id && x.measure_volume == y.measure_volume &&
               x.measure_duration == y.measure_duration &&
               x.volume_threshold_bytes == y.volume_threshold_bytes &&
               x.time_threshold_s == y.time_threshold_s &&
               x.measurement_period_s == y.measurement_period_s;
    };
    auto same_bar = [](const dp::Bar& x, const dp::Bar& y) {
        return x.id == y.id && x.buffering_packets == y.buffering_packets;
    };
    return a.seid == b.seid &&
           std::equal(a.pdrs.begin(), a.pdrs.end(), b.pdrs.begin(), b.pdrs.end(), same_pdr) &&
           std::equal(a.fars.begin(), a.fars.end(), b.fars.begin(), b.fars.end(), same_far) &&
           std::equal(a.qers.begin(), a.qers.end(), b.qers.begin(), b.qers.end(), same_qer) &&
           std::equal(a.urrs.begin(), a.urrs.end(), b.urrs.begin(), b.urrs.end(), same_urr) &&
           std::equal(a.bars.begin(), a.bars.end(), b.bars.begin(), b.bars.end(), same_bar);
}

// ---- scapy vectors (tests/unit/pfcp/session_vectors.py) ----
const Bytes scapy_establishment =
    hex("21320218000000000000000000020100003c000500c61204010039000d021122334455667788c612"
        "040100010076003800020001001d0004000000c9000200470014000100001500020d050016000908"
        "696e7465726e657400170026010000227065726d6974206f75742069702066726f6d20616e792074"
        "6f2061737369676e6564007c000109005f000100006c0004000000010051000400000001006d0004"
        "0000000100010045003800020002001d0004000000640002001b00140001010016000908696e7465"
        "726e6574005d000506c6136402006c0004000000020051000400000001006d000400000001000100"
        "6e003800020003001d0004000000cb000200470014000100001500020d050016000908696e746572"
        "6e657400170026010000227065726d6974206f75742069702066726f6d20616e7920746f20617373"
        "69676e6564007c000109005f000100006c000400000001005100040000000100030023006c000400"
        "000001002c00010200040012002a0001010016000908696e7465726e657400030034006c00040000"
        "0002002c0001020004001e002a00010000160007066163636573730054000a010001000002c61200"
        "020058000101000600280051000400000001003e000103002500020300004000040000003c001f00"
        "090100000000000f424000070020006d0004000000010019000100001a000a00000186a00000030d"
        "40007c0001090055000a0058000101008c00010a");
const Bytes scapy_establishment_chv4 =
    hex("213200b3000000000000000000020200003c000500c61204010039000d021122334455667789c612"
        "040100010032003800020001001d0004000000c80002001300140001000015000105005d00051200"
        "000000005f000100006c00040000000100010028003800020002001d0004000000640002000e0014"
        "000101005d00051600000000006c00040000000200030016006c000400000001002c000102000400"
        "05002a0001010003000d006c000400000002002c00010c");
const Bytes scapy_modification =
    hex("213400e100000001000000010002030000120008006d0004000000010001006e003800020004001d"
        "0004000000cc000200470014000100001500020d070016000908696e7465726e6574001700260100"
        "00227065726d6974206f75742069702066726f6d20616e7920746f2061737369676e6564007c0001"
        "09005f000100006c0004000000010051000400000001000a0029006c000400000002002c00010200"
        "0b0018002a0001000054000a010002000002c61200030031000102000d0015005100040000000100"
        "1f00090100000000001e84800031000104004d00080051000400000001");
const Bytes scapy_deletion = hex("2136000c000000010000000100020400");
const Bytes scapy_report_response_accepted = hex("213900110000000100000001000001000013000101");
const Bytes scapy_report_response_not_found = hex("213900110000000100000001000001000013000141");
// ---- end of scapy vectors ----

// ==== IE codecs ==================================================================================

template <typename T>
T round_trip(const T& v) {
    Bytes b;
    Writer w(b);
    v.encode(w);
    REQUIRE(w.ok());
    auto l = IeList::parse(std::span<const uint8_t>(b));
    REQUIRE(l);
    auto d = decode_mandatory<T>(*l);
    REQUIRE(d);
    CHECK(*d == v);
    return *d;
}

TEST_CASE("session IEs encode and decode back", "[pfcp-session]") {
    CreatePdr p = ul_pdr(7, choose(3));
    p.pdi.sdf_filters.push_back(SdfFilter{"permit out 17 from 198.18.9.0/24 to assigned",
                                          std::nullopt, std::nullopt, std::nullopt, 5});
    p.pdi.qfis.push_back(Qfi{5});
    p.pdi.source_interface_type = TgppInterfaceType{TgppInterfaceType::n3_3gpp_access};
    p.urr_ids = {UrrId{1}, UrrId{2}};
    p.qer_ids = {QerId{4}};
    round_trip(p);
    UpdatePdr up;
    up.pdr_id.value = 7;
    up.far_id = FarId{9};
    up.pdi = p.pdi;
    round_trip(up);
    round_trip(dl_far());
    CreateFar dupl = ul_far();
    dupl.apply_action.flags |= ApplyAction::dupl;
    dupl.duplicating_parameters = {
        DuplicatingParameters{DestinationInterface{DestinationInterface::Value::li_function},
                              gtpu(0x77, gnb2_n3)},
        DuplicatingParameters{DestinationInterface{DestinationInterface::Value::core},
                              std::nullopt}};
    round_trip(dupl);
    UpdateFar uf;
    uf.far_id.value = 2;
    uf.apply_action = ApplyAction{ApplyAction::buff | ApplyAction::nocp};
    uf.update_forwarding_parameters = UpdateForwardingParameters{
        std::nullopt, NetworkInstance{"x"}, gtpu(5, gnb2_n3), PfcpSmReqFlags{PfcpSmReqBits::sndem}};
    uf.bar_id = BarId{3};
    uf.update_duplicating_parameters = {UpdateDuplicatingParameters{
        DestinationInterface{DestinationInterface::Value::li_function}, gtpu(0x78, gnb_n3)}};
    round_trip(uf);
    round_trip(qer(3));
    round_trip(UpdateQer{QerId{3}, GateStatus{GateStatus::Gate::closed, GateStatus::Gate::open},
                         std::nullopt, Gbr{1, 2}, Qfi{7}});
    round_trip(volume_urr(1));
    round_trip(UpdateUrr{UrrId{1}, std::nullopt, ReportingTriggers{ReportingTriggers::timth},
                         std::nullopt, std::nullopt, TimeThreshold{30}});
    round_trip(CreateBar{BarId{1}, SuggestedBufferingPacketsCount{12}});
    round_trip(UpdateBar{BarId{1}, std::nullopt});
    round_trip(RemovePdr{PdrId{3}});
    round_trip(RemoveBar{BarId{3}});
    round_trip(QueryUrr{UrrId{0x80000001}});
    round_trip(CreatedPdr{PdrId{1}, fteid(0x1234), ue_address(ue_ip, true)});
    UsageReportDeletion ur;
    ur.urr_id.value = 1;
    ur.ur_seqn.value = 3;
    ur.trigger.flags = UsageReportTrigger::termr | UsageReportTrigger::emrre;
    ur.start_time = StartTime{0xe9000000};
    ur.end_time = EndTime{0xe9000010};
    ur.volume_measurement = VolumeMeasurement{30, 10, 20, 3, 1, 2};
    ur.duration_measurement = DurationMeasurement{16};
    round_trip(ur);
    round_trip(ErrorIndicationReport{{fteid(0x55, gnb_n3), fteid(0x56, gnb2_n3)}});
    round_trip(DownlinkDataReport{{PdrId{2}, PdrId{4}}});
    for (auto t : {FailedRuleId::RuleType::pdr, FailedRuleId::RuleType::far,
                   FailedRuleId::RuleType::bar, FailedRuleId::RuleType::urr}) {
        round_trip(FailedRuleId{t, 0x7f});
    }
}

TEST_CASE("session IE golden bytes", "[pfcp-session]") {
    auto enc = [](const auto& v) {
        Bytes b;
        Writer w(b);
        v.encode(w);
        REQUIRE(w.ok());
        return b;
    };
    // Failed Rule ID FAR 5; Report Type USAR|ERIR; Usage Report Trigger TERMR (2 octets).
    CHECK(enc(FailedRuleId{FailedRuleId::RuleType::far, 5}) == hex("0072 0005 01 00000005"));
    CHECK(enc(FailedRuleId{FailedRuleId::RuleType::pdr, 2}) == hex("0072 0003 00 0002"));
    CHECK(enc(ReportType{ReportTypeBits::usar | ReportTypeBits::erir}) == hex("0027 0001 06"));
    CHECK(enc(TgppInterfaceType{TgppInterfaceType::n3_untrusted_non_3gpp_access}) ==
          hex("00a0 0001 0d"));
    // Duplicating Parameters (5) ⊃ Destination Interface LI Function + Outer Header Creation.
    CHECK(enc(DuplicatingParameters{DestinationInterface{DestinationInterface::Value::li_function},
                                    gtpu(0x77, gnb_n3)}) ==
          hex("0005 0013 | 002a 0001 04 | 0054 000a 0100 00000077 "
              "c6120002"));
    CHECK(enc(UsageReportTrigger{UsageReportTrigger::termr}) == hex("003f 0002 00 08"));
    CHECK(enc(UsageReportTrigger{UsageReportTrigger::emrre}) == hex("003f 0003 00 00 10"));
    CHECK(enc(VolumeMeasurement{30, std::nullopt, std::nullopt, 3, std::nullopt, std::nullopt}) ==
          hex("0042 0011 09 000000000000001e 0000000000000003"));
    CHECK(enc(CreatedPdr{PdrId{1}, fteid(0x1000), std::nullopt}) ==
          hex("0008 0013 | 0038 0002 0001 | 0015 0009 01 00001000 c6120001"));
    // Wrong lengths and values are refused with the member's type.
    auto decode_failed = [](const Bytes& b) {
        auto l = IeList::parse(std::span<const uint8_t>(b));
        REQUIRE(l);
        auto f = decode_optional<FailedRuleId>(*l);
        REQUIRE_FALSE(f);
        return f.error();
    };
    CHECK(decode_failed(hex("0072 0002 01 00")) ==
          Rejection{Cause::invalid_length, IeType::failed_rule_id});
    CHECK(decode_failed(hex("0072 0002 1f 00")) ==
          Rejection{Cause::mandatory_ie_incorrect, IeType::failed_rule_id});
}

TEST_CASE("grouped IE decoding: missing, short, repeated and unknown members", "[pfcp-session]") {
    auto decode = [](const Bytes& b) {
        auto l = IeList::parse(std::span<const uint8_t>(b));
        REQUIRE(l);
        return decode_mandatory<CreatePdr>(*l);
    };
    const Bytes pdr_id = hex("0038 0002 0001");
    const Bytes precedence = hex("001d 0004 00000001");
    const Bytes pdi = tlv(IeType::pdi, hex("0014 0001 00"));
    const Bytes far_id = hex("006c 0004 00000001");
    // PDR ID, Precedence, PDI{Source Interface} + a vendor IE + an unknown IE: accepted.
    auto ok = decode(tlv(IeType::create_pdr, cat({pdr_id, precedence, pdi, hex("8001 0003 4e20 ff"),
                                                  hex("7000 0000"), far_id})));
    REQUIRE(ok);
    CHECK(ok->far_id == FarId{1});
    // Members in reverse order.
    CHECK(decode(tlv(IeType::create_pdr, cat({far_id, pdi, precedence, pdr_id}))));
    // Without Precedence: 66 + Precedence; PDI without Source Interface: 66 + Source Interface.
    CHECK(decode(tlv(IeType::create_pdr, cat({pdr_id, pdi}))).error() ==
          Rejection{Cause::mandatory_ie_missing, IeType::precedence});
    CHECK(decode(tlv(IeType::create_pdr, cat({pdr_id, precedence, hex("0002 0000")}))).error() ==
          Rejection{Cause::mandatory_ie_missing, IeType::source_interface});
    // A PDR ID of one octet: 68 + PDR ID. Two PDR IDs: 69 + PDR ID.
    CHECK(decode(tlv(IeType::create_pdr, cat({hex("0038 0001 01"), precedence, pdi}))).error() ==
          Rejection{Cause::invalid_length, IeType::pdr_id});
    CHECK(decode(tlv(IeType::create_pdr, cat({pdr_id, pdr_id, precedence, pdi}))).error() ==
          Rejection{Cause::mandatory_ie_incorrect, IeType::pdr_id});
    // A PDI whose member runs past it: 68.
    CHECK(decode(tlv(IeType::create_pdr, cat({pdr_id, precedence, hex("0002 0004 0014 0009")})))
              .error()
              .cause == Cause::invalid_length);
}

// ==== Session Establishment ======================================================================

TEST_CASE("establishment with CHOOSE and CHOOSE ID", "[pfcp-session]") {
    Harness h;
    Establishment e;
    e.pdrs = {ul_pdr(1, choose(5)), dl_pdr(2, ue_address(ue_ip, true)), ul_pdr(3, choose(5)),
              ul_pdr(4, choose(6)), ul_pdr(5, choose())};
    Reply r = h.send(e.bytes(42));
    REQUIRE(r.cause() == Cause::request_accepted);
    CHECK(r.seid() == cp_seid);  // the CP's SEID in the header
    CHECK(r.header().sequence == SequenceNumber(42));
    CHECK(r.one<NodeId>() == upf_id);
    auto up = r.one<FSeid>();
    REQUIRE(up);
    CHECK(up->seid.value() == first_up_seid);
    CHECK(up->ipv4 == upf_id.ipv4);

    auto created = r.all<CreatedPdr>();
    REQUIRE(created.size() == 4);  // PDR 2 had nothing allocated
    auto teid_of = [&](uint16_t id) {
        for (const auto& c : created) {
            if (c.pdr_id.value == id) {
                REQUIRE(c.local_f_teid);
                CHECK(c.local_f_teid->ipv4 == wire(upf_n3));
                CHECK_FALSE(c.local_f_teid->choose);
                CHECK_FALSE(c.ue_ip_address);
                return c.local_f_teid->teid.value();
            }
        }
        FAIL("no Created PDR " << id);
        return 0u;
    };
    CHECK(teid_of(1) == teid_of(3));
    CHECK(teid_of(1) != teid_of(4));
    CHECK(teid_of(5) != teid_of(1));
    CHECK(teid_of(5) != teid_of(4));
    CHECK(teid_of(1) >= teid_first);

    const auto& s = h.spec(first_up_seid);
    CHECK(pdr(s, 1).local_teid == teid_of(1));
    CHECK(pdr(s, 3).local_teid == teid_of(1));
    CHECK(pdr(s, 4).local_teid == teid_of(4));
    CHECK(pdr(s, 2).ue_ipv4 == ue_ip);
    CHECK(pdr(s, 1).remove_outer_header);
    CHECK(pdr(s, 1).source == dp::Interface::access);
    CHECK(pdr(s, 1).network_instance == "internet");
    CHECK(pdr(s, 2).source == dp::Interface::core);

    const auto* sess = h.procs.session(first_up_seid);
    REQUIRE(sess != nullptr);
    CHECK(sess->cp_f_seid == cp_f_seid());
    CHECK(sess->peer == smf_id);
    CHECK(h.procs.counters().event(SessionEvent::established) == 1);
    CHECK(h.procs.counters().event(SessionEvent::teids_allocated) == 3);
    CHECK(h.procs.counters().sessions.get() == 1);

    // CHOOSE IDs are per request: the next session's CHOOSE ID 5 is a new TEID.
    Establishment e2;
    e2.cp = cp_f_seid(cp_seid + 1);
    e2.pdrs = {ul_pdr(1, choose(5)), dl_pdr(2, ue_address(ue_ip + 1, true))};
    Reply r2 = h.send(e2.bytes());
    REQUIRE(r2.cause() == Cause::request_accepted);
    auto c2 = r2.all<CreatedPdr>();
    REQUIRE(c2.size() == 1);
    CHECK(c2[0].local_f_teid->teid.value() != teid_of(1));
    CHECK(c2[0].local_f_teid->teid.value() != teid_of(4));
    CHECK(r2.one<FSeid>()->seid.value() != first_up_seid);
}

TEST_CASE("establishment with an SMF-chosen F-TEID", "[pfcp-session]") {
    Harness h;
    Establishment e;
    e.pdrs = {ul_pdr(1, fteid(0x77)), dl_pdr(2, ue_address(ue_ip, true))};
    Reply r = h.send(e.bytes());
    REQUIRE(r.cause() == Cause::request_accepted);
    CHECK(r.all<CreatedPdr>().empty());
    CHECK(pdr(h.spec(first_up_seid), 1).local_teid == 0x77u);

    SECTION("the same TEID for another session: 71 Invalid F-TEID allocation option") {
        Establishment e2;
        e2.cp = cp_f_seid(cp_seid + 1);
        e2.pdrs = {ul_pdr(1, fteid(0x77)), dl_pdr(2, ue_address(ue_ip + 1, true))};
        Reply r2 = h.send(e2.bytes());
        CHECK(r2.cause() == Cause::invalid_f_teid_allocation_option);
        CHECK(r2.offending() == IeType::f_teid);
        CHECK(r2.seid() == cp_seid + 1);
        CHECK(r2.one<NodeId>() == upf_id);
        CHECK_FALSE(r2.one<FSeid>());
        CHECK(h.actions.sessions.size() == 1);
    }
    SECTION("... with PFCPSEReq-Flags RESTI (restoration): 86") {
        Establishment e2;
        e2.cp = cp_f_seid(cp_seid + 1);
        e2.pdrs = {ul_pdr(1, fteid(0x77)), dl_pdr(2, ue_address(ue_ip + 1, true))};
        e2.extra = [](Writer& w) { PfcpSeReqFlags{PfcpSeReqBits::resti}.encode(w); };
        Reply r2 = h.send(e2.bytes());
        CHECK(r2.cause() == Cause::pfcp_session_restoration_failure);
        CHECK(h.actions.sessions.size() == 1);
    }
    SECTION("the same UE address for another session: 73 + Failed Rule ID") {
        Establishment e2;
        e2.cp = cp_f_seid(cp_seid + 1);
        Reply r2 = h.send(e2.bytes());
        CHECK(r2.cause() == Cause::rule_creation_modification_failure);
        CHECK(r2.failed_rule() == FailedRuleId{FailedRuleId::RuleType::pdr, 2});
        CHECK(h.actions.sessions.size() == 1);
    }
    SECTION("TEID 0 is refused") {
        Establishment e2;
        e2.cp = cp_f_seid(cp_seid + 1);
        e2.pdrs = {ul_pdr(1, fteid(0)), dl_pdr(2, ue_address(ue_ip + 1, true))};
        CHECK(h.send(e2.bytes()).cause() == Cause::invalid_f_teid_allocation_option);
    }
    SECTION("an allocated TEID skips TEIDs in use") {
        SessionProceduresConfig c = test_config();
        Harness h2(c);
        Establishment a;
        a.pdrs = {ul_pdr(1, fteid(teid_first)), dl_pdr(2, ue_address(ue_ip, true))};
        REQUIRE(h2.send(a.bytes()).cause() == Cause::request_accepted);
        Establishment b;
        b.cp = cp_f_seid(cp_seid + 1);
        b.pdrs = {ul_pdr(1, choose()), dl_pdr(2, ue_address(ue_ip + 1, true))};
        Reply rb = h2.send(b.bytes());
        REQUIRE(rb.cause() == Cause::request_accepted);
        CHECK(rb.all<CreatedPdr>().at(0).local_f_teid->teid.value() == teid_first + 1);
    }
}

TEST_CASE("establishment allocates the UE IPv4 address (CHV4)", "[pfcp-session]") {
    Harness h;
    Establishment e;
    UeIpAddress src = ue_choose(false);
    e.pdrs = {ul_pdr(1, choose()), dl_pdr(2, ue_choose(true))};
    e.pdrs[0].pdi.ue_ip_addresses.push_back(src);
    Reply r = h.send(e.bytes());
    REQUIRE(r.cause() == Cause::request_accepted);
    auto created = r.all<CreatedPdr>();
    REQUIRE(created.size() == 2);
    REQUIRE(created[0].ue_ip_address);
    REQUIRE(created[1].ue_ip_address);
    const Ipv4Address a = *created[0].ue_ip_address->ipv4;
    CHECK(created[1].ue_ip_address->ipv4 == a);
    CHECK_FALSE(created[0].ue_ip_address->destination);
    CHECK(created[1].ue_ip_address->destination);
    CHECK_FALSE(created[1].ue_ip_address->choose_v4);
    CHECK(a == wire(ue_pool + 1));  // the first host of the pool
    CHECK(created[0].local_f_teid);
    CHECK_FALSE(created[1].local_f_teid);
    const auto& s = h.spec(first_up_seid);
    CHECK(pdr(s, 1).ue_ipv4 == ue_pool + 1);
    CHECK(pdr(s, 2).ue_ipv4 == ue_pool + 1);
    CHECK(h.procs.counters().event(SessionEvent::ue_addresses_allocated) == 1);

    // The next session gets the next address.
    Establishment e2 = e;
    e2.cp = cp_f_seid(cp_seid + 1);
    Reply r2 = h.send(e2.bytes());
    REQUIRE(r2.cause() == Cause::request_accepted);
    CHECK(r2.all<CreatedPdr>().at(1).ue_ip_address->ipv4 == wire(ue_pool + 2));

    SECTION("the pool exhausted: 79") {
        SessionProceduresConfig c = test_config();
        c.ue_ip_pools = {v4_pool(0xc6140000, 30)};  // two hosts
        Harness small(c);
        for (uint64_t i = 0; i < 2; ++i) {
            Establishment x = e;
            x.cp = cp_f_seid(cp_seid + i);
            REQUIRE(small.send(x.bytes()).cause() == Cause::request_accepted);
        }
        Establishment x = e;
        x.cp = cp_f_seid(cp_seid + 2);
        Reply rx = small.send(x.bytes());
        CHECK(rx.cause() == Cause::all_dynamic_addresses_are_occupied);
        CHECK(rx.offending() == IeType::ue_ip_address);
        CHECK(small.actions.sessions.size() == 2);
        // Deleting a session frees its address.
        REQUIRE(small.remove(first_up_seid).cause() == Cause::request_accepted);
        CHECK(small.send(x.bytes()).cause() == Cause::request_accepted);
    }
    SECTION("no pool of the family: 76 (no pools; CHV6 with an IPv4 pool only)") {
        SessionProceduresConfig c = test_config();
        c.ue_ip_pools.clear();
        Harness none(c);
        CHECK(none.send(e.bytes()).cause() == Cause::service_not_supported);
        Establishment v6;
        UeIpAddress u;
        u.choose_v6 = true;
        v6.pdrs = {ul_pdr(1, choose()), dl_pdr(2, u)};
        Reply r6 = h.send(v6.bytes());
        CHECK(r6.cause() == Cause::service_not_supported);
        CHECK(r6.offending() == IeType::ue_ip_address);
    }
}

TEST_CASE("UE address pools: IPv6 /64, network instances, release (§5.21)", "[pfcp-session]") {
    SessionProceduresConfig c = test_config();
    c.ue_ip_pools = {v4_pool(ue_pool, 30), v6_pool(1, 63), v4_pool(0xc6150000, 24, "ims")};
    Harness h(c);
    const UeIpPools& pools = h.procs.ue_ip_pools();
    const auto& used = h.procs.counters().ue_pool_used;
    REQUIRE(used.size() == 3);

    UeIpAddress both;
    both.choose_v4 = true;
    both.choose_v6 = true;
    both.destination = true;
    Establishment e;
    e.pdrs = {ul_pdr(1, choose()), dl_pdr(2, both)};

    SECTION("CHV4 and CHV6 in one IE: one address and one /64, returned in Created PDR") {
        Reply r = h.send(e.bytes());
        REQUIRE(r.cause() == Cause::request_accepted);
        auto created = r.all<CreatedPdr>();
        REQUIRE(created.size() == 2);
        REQUIRE(created[1].ue_ip_address);
        const UeIpAddress& ue = *created[1].ue_ip_address;
        CHECK(ue.ipv4 == wire(ue_pool + 1));
        CHECK(ue.ipv6 == Ipv6Address{0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01});
        CHECK_FALSE(ue.ipv6_prefix_delegation_bits);  // no IPv6D: a /64
        CHECK_FALSE(ue.choose_v4);
        CHECK_FALSE(ue.choose_v6);
        CHECK(ue.destination);
        const dp::Pdr& dl = pdr(h.spec(first_up_seid), 2);
        REQUIRE(dl.ue_ipv6);
        CHECK(dl.ue_ipv6->len == 64);
        CHECK(dl.ue_ipv6->addr[5] == 0x01);
        CHECK(used[0].get() == 1);
        CHECK(used[1].get() == 1);
        CHECK(h.procs.counters().event(SessionEvent::ue_addresses_allocated) == 2);

        // A PDR created later by modification with CHV6 gets the session's /64, not a new one.
        UeIpAddress v6;
        v6.choose_v6 = true;
        v6.destination = true;
        Reply m = h.modify(first_up_seid, [&](Writer& w) { dl_pdr(3, v6).encode(w); });
        REQUIRE(m.cause() == Cause::request_accepted);
        auto c3 = m.all<CreatedPdr>();
        REQUIRE(c3.size() == 1);
        CHECK(c3[0].ue_ip_address->ipv6 == ue.ipv6);
        CHECK(used[1].get() == 1);

        // Deletion frees both; the next session gets them again.
        REQUIRE(h.remove(first_up_seid).cause() == Cause::request_accepted);
        CHECK(used[0].get() == 0);
        CHECK(used[1].get() == 0);
        Establishment e2 = e;
        e2.cp = cp_f_seid(cp_seid + 1);
        Reply r2 = h.send(e2.bytes());
        REQUIRE(r2.cause() == Cause::request_accepted);
        CHECK(r2.all<CreatedPdr>().at(1).ue_ip_address->ipv4 == wire(ue_pool + 2));
        CHECK(used[0].get() == 1);
    }
    SECTION("the PDI's network instance picks the pool") {
        e.pdrs[1].pdi.network_instance = NetworkInstance{"ims"};
        e.pdrs[1].pdi.ue_ip_addresses = {ue_choose(true)};
        Reply r = h.send(e.bytes());
        REQUIRE(r.cause() == Cause::request_accepted);
        CHECK(r.all<CreatedPdr>().at(1).ue_ip_address->ipv4 == wire(0xc6150001));
        CHECK(used[2].get() == 1);
        CHECK(used[0].get() == 0);
        // The "ims" network instance has no IPv6 pool of its own; the default one serves it.
        UeIpAddress v6;
        v6.choose_v6 = true;
        e.pdrs[1].pdi.ue_ip_addresses = {v6};
        e.cp = cp_f_seid(cp_seid + 1);
        CHECK(h.send(e.bytes()).cause() == Cause::request_accepted);
        CHECK(used[1].get() == 1);
    }
    SECTION("a rejected establishment holds nothing") {
        h.actions.fail_next = dp::SpecError{dp::SpecError::Kind::too_many_rules, "pdr 2", "x"};
        CHECK(h.send(e.bytes()).cause() != Cause::request_accepted);
        CHECK(used[0].get() == 0);
        CHECK(used[1].get() == 0);
        CHECK(pools.used(0) == 0);
        // A rejection later in the same request (unknown FAR) frees the candidates too.
        Establishment bad = e;
        bad.pdrs[1].far_id = FarId{99};
        CHECK(h.send(bad.bytes()).cause() != Cause::request_accepted);
        CHECK(pools.used(0) == 0);
        Reply r = h.send(e.bytes());
        REQUIRE(r.cause() == Cause::request_accepted);
        CHECK(pools.used(0) == 1);
    }
    SECTION("exhaustion: 79 + Offending IE; the SMF's association ending frees the pool") {
        for (uint64_t i = 0; i < 2; ++i) {
            Establishment x = e;
            x.cp = cp_f_seid(cp_seid + i);
            REQUIRE(h.send(x.bytes()).cause() == Cause::request_accepted);
        }
        Establishment x = e;
        x.cp = cp_f_seid(cp_seid + 2);
        Reply rx = h.send(x.bytes());
        CHECK(rx.cause() == Cause::all_dynamic_addresses_are_occupied);
        CHECK(rx.offending() == IeType::ue_ip_address);
        CHECK(pools.used(0) == 2);
        CHECK(h.procs.drop_peer_sessions(smf_id) == 2);
        CHECK(pools.used(0) == 0);
        CHECK(pools.used(1) == 0);
        CHECK(h.send(x.bytes()).cause() == Cause::request_accepted);
    }
    SECTION("two CHOOSE UE IP Address IEs in one PDI: 73") {
        e.pdrs[1].pdi.ue_ip_addresses.push_back(ue_choose(true));
        Reply r = h.send(e.bytes());
        CHECK(r.cause() == Cause::rule_creation_modification_failure);
        CHECK(pools.used(0) == 0);
    }
}

TEST_CASE("establishment with every rule type", "[pfcp-session]") {
    Harness h;
    Establishment e;
    e.pdrs = {ul_pdr(1, choose()), dl_pdr(2, ue_address(ue_ip, true))};
    e.pdrs[0].qer_ids = {QerId{1}};
    e.pdrs[0].urr_ids = {UrrId{1}, UrrId{2}};
    e.pdrs[0].pdi.qfis = {Qfi{9}};
    e.pdrs[0].pdi.sdf_filters = {SdfFilter{"permit out 17 from 198.18.9.0/24 1000-2000 to assigned",
                                           0x2cfc, 7, 0x12345, 11}};
    e.pdrs[1].qer_ids = {QerId{1}, QerId{2}};
    e.pdrs[1].urr_ids = {UrrId{1}};
    CreateFar buffering;
    buffering.far_id.value = 3;
    buffering.apply_action.flags = ApplyAction::buff | ApplyAction::nocp;
    buffering.bar_id = BarId{1};
    e.fars.push_back(buffering);
    e.pdrs.push_back(dl_pdr(3, ue_address(ue_ip, true), 3));
    CreateQer closed = qer(2);
    closed.gate_status = GateStatus{GateStatus::Gate::closed, GateStatus::Gate::open};
    closed.mbr.reset();
    e.qers = {qer(1), closed};
    CreateUrr timed;
    timed.urr_id.value = 2;
    timed.measurement_method.flags = MeasurementMethod::durat;
    timed.reporting_triggers.flags = ReportingTriggers::timth | ReportingTriggers::quhti;
    timed.time_threshold = TimeThreshold{30};
    e.urrs = {volume_urr(1), timed};
    e.bar = CreateBar{BarId{1}, SuggestedBufferingPacketsCount{10}};
    REQUIRE(h.send(e.bytes()).cause() == Cause::request_accepted);

    const auto& s = h.spec(first_up_seid);
    const auto& p1 = pdr(s, 1);
    CHECK(p1.qfi == uint8_t{9});
    CHECK(p1.qer_ids == std::vector<uint32_t>{1});
    CHECK(p1.urr_ids == std::vector<uint32_t>{1, 2});
    REQUIRE(p1.sdf_filters.size() == 1);
    const auto& f = p1.sdf_filters[0];
    REQUIRE(f.flow);
    CHECK(f.flow->proto == uint8_t{17});
    CHECK(f.flow->ue_assigned);
    CHECK(f.tos == std::array<uint8_t, 2>{0x2c, 0xfc});
    CHECK(f.spi == 7u);
    CHECK(f.flow_label == 0x12345u);
    CHECK(f.id == 11u);
    const dp::Far* dl = rule(s.fars, 2);
    REQUIRE(dl != nullptr);
    CHECK(dl->action.forward);
    CHECK(dl->destination == dp::Interface::access);
    CHECK(dl->outer_header == dp::OuterHeaderCreation{0x01000002, gnb_n3});
    const dp::Far* buff = rule(s.fars, 3);
    REQUIRE(buff != nullptr);
    CHECK(buff->action.buffer);
    CHECK(buff->action.notify_cp);
    CHECK_FALSE(buff->action.forward);
    CHECK(buff->bar_id == 1u);
    const dp::Qer* q1 = rule(s.qers, 1);
    REQUIRE(q1 != nullptr);
    CHECK(q1->mbr_ul_kbps == 100000);
    CHECK(q1->mbr_dl_kbps == 200000);
    CHECK(q1->qfi == uint8_t{9});
    CHECK(q1->gate_ul_open);
    const dp::Qer* q2 = rule(s.qers, 2);
    REQUIRE(q2 != nullptr);
    CHECK_FALSE(q2->gate_ul_open);
    CHECK(q2->gate_dl_open);
    CHECK(q2->mbr_ul_kbps == 0);
    const dp::Urr* u1 = rule(s.urrs, 1);
    REQUIRE(u1 != nullptr);
    CHECK(u1->measure_volume);
    CHECK(u1->volume_threshold_bytes == 1000000);
    CHECK(u1->measurement_period_s == 60);
    CHECK(u1->time_threshold_s == 0);
    const dp::Urr* u2 = rule(s.urrs, 2);
    REQUIRE(u2 != nullptr);
    CHECK_FALSE(u2->measure_volume);
    CHECK(u2->measure_duration);
    CHECK(u2->time_threshold_s == 30);
    CHECK(u2->volume_threshold_bytes == 0);
    const dp::Bar* b = rule(s.bars, 1);
    REQUIRE(b != nullptr);
    CHECK(b->buffering_packets == 10);
}

TEST_CASE("establishment: IE order, unknown and vendor IEs", "[pfcp-session]") {
    Harness h;
    Establishment e;
    // Rules before the Node ID and F-SEID, FARs before PDRs, unknown and vendor IEs anywhere.
    Bytes b = message(MessageType::session_establishment_request, 0, 3, [&](Writer& w) {
        w.begin_vendor_ie(0x8123, 18681);
        w.put_u8(1);
        w.end_ie();
        for (const auto& f : e.fars) {
            f.encode(w);
        }
        w.begin_ie(static_cast<IeType>(0x7ff0));
        w.end_ie();
        for (const auto& p : e.pdrs) {
            p.encode(w);
        }
        cp_f_seid().encode(w);
        smf_id.encode(w);
        // PDN Type and APN/DNN: known, not used.
        const uint8_t ipv4 = 1;
        w.add(IeType::pdn_type, std::span(&ipv4, 1));
        w.add(IeType::apn_dnn, std::span<const uint8_t>());
    });
    CHECK(h.send(b).cause() == Cause::request_accepted);
}

TEST_CASE("establishment rejections install nothing", "[pfcp-session]") {
    struct Case {
        const char* name;
        std::function<void(Establishment&)> edit;
        Cause cause;
        std::optional<IeType> offending;
        std::optional<FailedRuleId> failed_rule;
        bool has_cp_seid = true;
    };
    using R = FailedRuleId::RuleType;
    const std::vector<Case> cases = {
        {"no Node ID", [](Establishment& e) { e.node.reset(); }, Cause::mandatory_ie_missing,
         IeType::node_id, std::nullopt},
        {"no CP F-SEID", [](Establishment& e) { e.cp.reset(); }, Cause::mandatory_ie_missing,
         IeType::f_seid, std::nullopt, false},
        {"no Create PDR", [](Establishment& e) { e.pdrs.clear(); }, Cause::mandatory_ie_missing,
         IeType::create_pdr, std::nullopt},
        {"no Create FAR", [](Establishment& e) { e.fars.clear(); }, Cause::mandatory_ie_missing,
         IeType::create_far, std::nullopt},
        {"two CP F-SEIDs",
         [](Establishment& e) { e.extra = [](Writer& w) { cp_f_seid(5).encode(w); }; },
         Cause::mandatory_ie_incorrect, IeType::f_seid, std::nullopt},
        {"Node ID too short",
         [](Establishment& e) {
             e.node.reset();
             e.extra = [](Writer& w) { w.add(IeType::node_id, hex("00 c612")); };
         },
         Cause::invalid_length, IeType::node_id, std::nullopt},
        {"PDR ID missing in Create PDR",
         [](Establishment& e) {
             e.pdrs.pop_back();
             e.extra = [](Writer& w) {
                 w.begin_grouped(IeType::create_pdr);
                 Precedence{1}.encode(w);
                 Pdi pdi;
                 pdi.local_f_teid = choose();
                 pdi.encode(w);
                 FarId{1}.encode(w);
                 w.end_grouped();
             };
         },
         Cause::mandatory_ie_missing, IeType::pdr_id, std::nullopt},
        {"Apply Action DROP|FORW",
         [](Establishment& e) {
             e.fars.erase(e.fars.begin());
             e.extra = [](Writer& w) {
                 w.add(IeType::create_far, cat({hex("006c 0004 00000001"), hex("002c 0001 03")}));
             };
         },
         Cause::mandatory_ie_incorrect, IeType::apply_action, std::nullopt},
        {"Destination Interface missing",
         [](Establishment& e) {
             e.fars.pop_back();
             e.extra = [](Writer& w) {
                 w.begin_grouped(IeType::create_far);
                 FarId{2}.encode(w);
                 ApplyAction{ApplyAction::forw}.encode(w);
                 w.begin_grouped(IeType::forwarding_parameters);
                 gtpu(1, gnb_n3).encode(w);
                 w.end_grouped();
                 w.end_grouped();
             };
         },
         Cause::mandatory_ie_missing, IeType::destination_interface, std::nullopt},
        {"FORW without Forwarding Parameters",
         [](Establishment& e) { e.fars[0].forwarding_parameters.reset(); },
         Cause::conditional_ie_missing, IeType::forwarding_parameters, std::nullopt},
        {"FORW to Access without Outer Header Creation",
         [](Establishment& e) { e.fars[1].forwarding_parameters->outer_header_creation.reset(); },
         Cause::conditional_ie_missing, IeType::outer_header_creation, std::nullopt},
        {"PDR without FAR ID", [](Establishment& e) { e.pdrs[0].far_id.reset(); },
         Cause::conditional_ie_missing, IeType::far_id, std::nullopt},
        {"VOLTH without Volume Threshold",
         [](Establishment& e) {
             e.urrs = {volume_urr(1)};
             e.urrs[0].volume_threshold.reset();
         },
         Cause::conditional_ie_missing, IeType::volume_threshold, std::nullopt},
        {"PERIO without Measurement Period",
         [](Establishment& e) {
             e.urrs = {volume_urr(1)};
             e.urrs[0].measurement_period.reset();
         },
         Cause::conditional_ie_missing, IeType::measurement_period, std::nullopt},
        {"a FAR that does not exist", [](Establishment& e) { e.pdrs[1].far_id = FarId{9}; },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::pdr, 2}},
        {"a QER that does not exist", [](Establishment& e) { e.pdrs[0].qer_ids = {QerId{4}}; },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::pdr, 1}},
        {"a URR that does not exist", [](Establishment& e) { e.pdrs[1].urr_ids = {UrrId{4}}; },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::pdr, 2}},
        {"a BAR that does not exist", [](Establishment& e) { e.fars[1].bar_id = BarId{3}; },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::far, 2}},
        {"two PDRs with one ID", [](Establishment& e) { e.pdrs[1].pdr_id.value = 1; },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::pdr, 1}},
        {"two FARs with one ID", [](Establishment& e) { e.fars[1].far_id.value = 1; },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::far, 1}},
        {"a bad SDF filter",
         [](Establishment& e) {
             e.pdrs[0].pdi.sdf_filters = {
                 SdfFilter{"permit out ip from nowhere to assigned", {}, {}, {}, {}}};
         },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::pdr, 1}},
        {"two QFIs",
         [](Establishment& e) {
             e.pdrs[0].pdi.qfis = {Qfi{1}, Qfi{2}};
         },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::pdr, 1}},
        {"an IPv6 outer header",
         [](Establishment& e) {
             auto& ohc = *e.fars[1].forwarding_parameters->outer_header_creation;
             ohc.description = OuterHeaderCreation::gtpu_udp_ipv6;
         },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::far, 2}},
        {"a PDR with nothing to match on",
         [](Establishment& e) { e.pdrs[1].pdi.ue_ip_addresses.clear(); },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::pdr, 2}},
        {"an Application ID", [](Establishment& e) { e.pdrs[1].pdi.application_id = "app"; },
         Cause::unknown_application_id, IeType::application_id, std::nullopt},
        {"CHOOSE IPv6 only",
         [](Establishment& e) { e.pdrs[0].pdi.local_f_teid = choose(1, false, true); },
         Cause::invalid_f_teid_allocation_option, IeType::f_teid, std::nullopt},
        {"a GTP-U tunnel toward the core (N9)",
         [](Establishment& e) {
             e.fars[0].forwarding_parameters->outer_header_creation = gtpu(0x99, gnb2_n3);
         },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::far, 1}},
        {"DUPL without Duplicating Parameters",
         [](Establishment& e) { e.fars[0].apply_action.flags |= ApplyAction::dupl; },
         Cause::conditional_ie_missing, IeType::duplicating_parameters, std::nullopt},
        {"Duplicating Parameters without an Outer Header Creation",
         [](Establishment& e) {
             e.fars[0].apply_action.flags |= ApplyAction::dupl;
             e.fars[0].duplicating_parameters = {DuplicatingParameters{
                 DestinationInterface{DestinationInterface::Value::li_function}, std::nullopt}};
         },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::far, 1}},
        {"more copy destinations than braid keeps",
         [](Establishment& e) {
             e.fars[0].apply_action.flags |= ApplyAction::dupl;
             e.fars[0].duplicating_parameters.assign(
                 dp::max_duplicates + 1,
                 DuplicatingParameters{
                     DestinationInterface{DestinationInterface::Value::li_function},
                     gtpu(0x77, gnb2_n3)});
         },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::far, 1}},
        {"two UE addresses in one session",
         [](Establishment& e) { e.pdrs.push_back(dl_pdr(3, ue_address(ue_ip + 5, true))); },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::pdr, 3}},
    };
    for (const Case& c : cases) {
        DYNAMIC_SECTION(c.name) {
            Harness h;
            Establishment e;
            c.edit(e);
            Reply r = h.send(e.bytes(), smf, "establishment_rejection");
            CHECK(r.cause() == c.cause);
            CHECK(r.offending() == c.offending);
            CHECK(r.failed_rule() == c.failed_rule);
            CHECK(r.seid() == (c.has_cp_seid ? cp_seid : 0));
            CHECK(r.one<NodeId>() == upf_id);
            CHECK_FALSE(r.one<FSeid>());
            CHECK(r.all<CreatedPdr>().empty());
            CHECK(h.actions.sessions.empty());
            CHECK(h.procs.session_count() == 0);
            CHECK(h.procs.counters().rejected(c.cause) == 1);
        }
    }
}

TEST_CASE("establishment: other rejections", "[pfcp-session]") {
    Harness h;
    SECTION("a peer without association: 72") {
        PeerRef lone{"198.18.4.7", 8805, std::nullopt};
        CHECK(h.send(Establishment{}.bytes(), lone).cause() ==
              Cause::no_established_pfcp_association);
    }
    SECTION("broken IE framing: 68") {
        Bytes b = Establishment{}.bytes();
        b.push_back(0x00);  // a truncated IE header after the last IE
        b.push_back(0x01);
        b[3] = static_cast<uint8_t>(b[3] + 2);
        Reply r = h.send(b);
        CHECK(r.cause() == Cause::invalid_length);
    }
    SECTION("the TEID range exhausted: 75") {
        SessionProceduresConfig c = test_config();
        c.teid_last = c.teid_first;  // one TEID
        Harness one(c);
        REQUIRE(one.send(Establishment{}.bytes()).cause() == Cause::request_accepted);
        Establishment e;
        e.cp = cp_f_seid(cp_seid + 1);
        e.pdrs[1] = dl_pdr(2, ue_address(ue_ip + 1, true));
        Reply r = one.send(e.bytes());
        CHECK(r.cause() == Cause::no_resources_available);
        CHECK(one.actions.sessions.size() == 1);
    }
    SECTION("the dataplane refuses: its error mapped") {
        h.actions.fail_next =
            dp::SpecError{dp::SpecError::Kind::bad_filter, "pdr 1", "the classifier failed"};
        Reply r = h.send(Establishment{}.bytes());
        CHECK(r.cause() == Cause::rule_creation_modification_failure);
        CHECK(r.failed_rule() == FailedRuleId{FailedRuleId::RuleType::pdr, 1});
        h.actions.fail_next =
            dp::SpecError{dp::SpecError::Kind::too_many_rules, "session", "table full"};
        CHECK(h.send(Establishment{}.bytes()).cause() == Cause::no_resources_available);
        CHECK(h.actions.sessions.empty());
        CHECK(h.procs.session_count() == 0);
    }
}

TEST_CASE("establishment from scapy", "[pfcp-session]") {
    Harness h;
    Reply r = h.send(scapy_establishment);
    REQUIRE(r.cause() == Cause::request_accepted);
    CHECK(r.seid() == cp_seid);
    auto created = r.all<CreatedPdr>();
    REQUIRE(created.size() == 2);
    CHECK(created[0].pdr_id.value == 1);
    CHECK(created[1].pdr_id.value == 3);
    CHECK(created[0].local_f_teid->teid == created[1].local_f_teid->teid);
    const auto& s = h.spec(first_up_seid);
    CHECK(s.pdrs.size() == 3);
    CHECK(pdr(s, 2).ue_ipv4 == ue_ip);
    CHECK(pdr(s, 1).qfi == uint8_t{9});
    CHECK(rule(s.fars, 2)->outer_header == dp::OuterHeaderCreation{0x01000002, gnb_n3});
    CHECK(rule(s.fars, 2)->bar_id == 1u);
    CHECK(rule(s.urrs, 1)->volume_threshold_bytes == 1000000);
    CHECK(rule(s.urrs, 1)->measurement_period_s == 60);
    CHECK(rule(s.qers, 1)->mbr_dl_kbps == 200000);
    CHECK(rule(s.bars, 1)->buffering_packets == 10);

    Reply r2 = h.send(scapy_establishment_chv4);
    REQUIRE(r2.cause() == Cause::request_accepted);
    auto c2 = r2.all<CreatedPdr>();
    REQUIRE(c2.size() == 2);
    CHECK(c2[0].ue_ip_address->ipv4 == wire(ue_pool + 1));
    CHECK(c2[1].ue_ip_address->ipv4 == wire(ue_pool + 1));
    CHECK(c2[1].ue_ip_address->destination);
}

// ==== Session Modification =======================================================================

TEST_CASE("modification: create, update and remove rules", "[pfcp-session]") {
    Harness h;
    Establishment e;
    e.pdrs[0].qer_ids = {QerId{1}};
    e.pdrs[0].urr_ids = {UrrId{1}};
    e.pdrs[1].qer_ids = {QerId{1}};
    e.qers = {qer(1)};
    e.urrs = {volume_urr(1)};
    e.bar = CreateBar{BarId{1}, std::nullopt};
    const uint64_t seid = h.establish(e);
    const uint32_t ul_teid = *pdr(h.spec(seid), 1).local_teid;

    Reply r = h.modify(seid, [&](Writer& w) {
        // Order deliberately scrambled.
        UpdateFar uf;
        uf.far_id.value = 2;
        uf.update_forwarding_parameters =
            UpdateForwardingParameters{std::nullopt, std::nullopt, gtpu(0x02000002, gnb2_n3),
                                       PfcpSmReqFlags{PfcpSmReqBits::sndem}};
        uf.bar_id = BarId{2};
        uf.encode(w);
        RemoveQer{QerId{1}}.encode(w);
        ul_pdr(4, choose(7)).encode(w);
        CreateBar{BarId{2}, SuggestedBufferingPacketsCount{5}}.encode(w);
        UpdateQer uq;
        uq.qer_id.value = 2;
        uq.gate_status = GateStatus{GateStatus::Gate::closed, GateStatus::Gate::closed};
        uq.encode(w);
        qer(2).encode(w);
        UpdateUrr uu;
        uu.urr_id.value = 1;
        uu.reporting_triggers = ReportingTriggers{ReportingTriggers::timth};
        uu.time_threshold = TimeThreshold{20};
        uu.encode(w);
        UpdatePdr up;
        up.pdr_id.value = 2;
        up.precedence = Precedence{50};
        up.qer_ids = {QerId{2}};
        up.encode(w);
        UpdateBar{BarId{1}, SuggestedBufferingPacketsCount{7}}.encode(w);
    });
    REQUIRE(r.cause() == Cause::request_accepted);
    CHECK(r.seid() == cp_seid);
    auto created = r.all<CreatedPdr>();
    REQUIRE(created.size() == 1);
    CHECK(created[0].pdr_id.value == 4);
    CHECK(created[0].local_f_teid->teid.value() != ul_teid);
    CHECK(r.all<UsageReportModification>().empty());

    const auto& s = h.spec(seid);
    CHECK(rule(s.qers, 1) == nullptr);
    CHECK(pdr(s, 1).qer_ids.empty());  // the reference to the removed QER went with it
    CHECK(pdr(s, 2).qer_ids == std::vector<uint32_t>{2});
    CHECK(pdr(s, 2).precedence == 50);
    CHECK(pdr(s, 4).local_teid == created[0].local_f_teid->teid.value());
    CHECK_FALSE(rule(s.qers, 2)->gate_dl_open);
    CHECK(rule(s.fars, 2)->outer_header == dp::OuterHeaderCreation{0x02000002, gnb2_n3});
    CHECK(rule(s.fars, 2)->bar_id == 2u);
    CHECK(rule(s.bars, 1)->buffering_packets == 7);
    CHECK(rule(s.bars, 2)->buffering_packets == 5);
    CHECK(rule(s.urrs, 1)->time_threshold_s == 20);
    CHECK(rule(s.urrs, 1)->volume_threshold_bytes == 0);  // VOLTH no longer a trigger
    REQUIRE(h.actions.modify_calls.size() == 1);
    CHECK(h.actions.modify_calls[0].send_end_marker);
    CHECK_FALSE(h.actions.modify_calls[0].query_all_urrs);

    // VOLTH again: the threshold the URR was created with is still known.
    Reply r2 = h.modify(seid, [](Writer& w) {
        UpdateUrr uu;
        uu.urr_id.value = 1;
        uu.reporting_triggers = ReportingTriggers{ReportingTriggers::volth};
        uu.encode(w);
        RemoveBar{BarId{2}}.encode(w);
        RemovePdr{PdrId{4}}.encode(w);
    });
    REQUIRE(r2.cause() == Cause::request_accepted);
    CHECK(rule(h.spec(seid).urrs, 1)->volume_threshold_bytes == 1000000);
    CHECK(rule(h.spec(seid).bars, 2) == nullptr);
    CHECK_FALSE(rule(h.spec(seid).fars, 2)->bar_id);
    CHECK(h.spec(seid).pdrs.size() == 2);
    CHECK_FALSE(h.actions.modify_calls[1].send_end_marker);
    CHECK(h.procs.counters().event(SessionEvent::modified) == 2);
}

TEST_CASE("modification: Query URR, QAURR and removed URRs report usage", "[pfcp-session]") {
    Harness h;
    Establishment e;
    e.pdrs[0].urr_ids = {UrrId{1}, UrrId{2}};
    CreateUrr u2 = volume_urr(2);
    u2.measurement_method.flags = MeasurementMethod::volum;
    e.urrs = {volume_urr(1), u2};
    h.actions.now_ms = 1000;
    const uint64_t seid = h.establish(e);
    h.actions.now_ms = 31000;
    h.actions.set_usage(seid, 1, {10, 1000, 20, 3000});
    h.actions.set_usage(seid, 2, {1, 100, 2, 200});

    SECTION("Query URR 1") {
        Reply r = h.modify(seid, [](Writer& w) { QueryUrr{UrrId{1}}.encode(w); });
        REQUIRE(r.cause() == Cause::request_accepted);
        auto reports = r.all<UsageReportModification>();
        REQUIRE(reports.size() == 1);
        const auto& u = reports[0];
        CHECK(u.urr_id.value == 1);
        CHECK(u.ur_seqn.value == 0);
        CHECK(u.trigger.flags == UsageReportTrigger::immer);
        CHECK(u.volume_measurement == VolumeMeasurement{4000, 1000, 3000, 30, 10, 20});
        CHECK(u.duration_measurement == DurationMeasurement{30});
        // NTP seconds of the injected clock (unix_offset_ms + ms).
        const int64_t unix_start = (h.actions.unix_offset_ms + 1000) / 1000;
        CHECK(u.start_time == StartTime{RecoveryTimeStamp::from_unix(unix_start).ntp_seconds});
        CHECK(u.end_time == EndTime{RecoveryTimeStamp::from_unix(unix_start + 30).ntp_seconds});
        REQUIRE(h.actions.modify_calls.size() == 1);
        CHECK(h.actions.modify_calls[0].query_urrs == std::vector<uint32_t>{1});
    }
    SECTION("QAURR") {
        Reply r = h.modify(seid, [](Writer& w) { PfcpSmReqFlags{PfcpSmReqBits::qaurr}.encode(w); });
        REQUIRE(r.cause() == Cause::request_accepted);
        auto reports = r.all<UsageReportModification>();
        REQUIRE(reports.size() == 2);
        CHECK(reports[1].urr_id.value == 2);
        CHECK_FALSE(reports[1].duration_measurement);  // URR 2 measures volume only
        CHECK(h.actions.modify_calls[0].query_all_urrs);
        CHECK(h.procs.counters().event(SessionEvent::usage_reports_sent) == 2);
    }
    SECTION("Remove URR 2: its final report") {
        Reply r = h.modify(seid, [](Writer& w) { RemoveUrr{UrrId{2}}.encode(w); });
        REQUIRE(r.cause() == Cause::request_accepted);
        auto reports = r.all<UsageReportModification>();
        REQUIRE(reports.size() == 1);
        CHECK(reports[0].urr_id.value == 2);
        CHECK(reports[0].trigger.flags == UsageReportTrigger::termr);
        CHECK_FALSE(reports[0].duration_measurement);
        CHECK(pdr(h.spec(seid), 1).urr_ids == std::vector<uint32_t>{1});
        CHECK(h.procs.session(seid)->urrs.count(2) == 0);
    }
}

TEST_CASE("modification: Update PDR with a new PDI asking for CHOOSE", "[pfcp-session]") {
    Harness h;
    const uint64_t seid = h.establish();
    const uint32_t old = *pdr(h.spec(seid), 1).local_teid;
    Reply r = h.modify(seid, [](Writer& w) {
        UpdatePdr up;
        up.pdr_id.value = 1;
        up.pdi = ul_pdr(1, choose()).pdi;
        up.encode(w);
    });
    REQUIRE(r.cause() == Cause::request_accepted);
    auto updated = r.all<UpdatedPdr>();
    REQUIRE(updated.size() == 1);
    CHECK(updated[0].pdr_id.value == 1);
    REQUIRE(updated[0].local_f_teid);
    CHECK(updated[0].local_f_teid->teid.value() != old);
    CHECK(r.all<CreatedPdr>().empty());
    CHECK(pdr(h.spec(seid), 1).local_teid == updated[0].local_f_teid->teid.value());
}

TEST_CASE("modification: CP F-SEID change", "[pfcp-session]") {
    Harness h;
    const uint64_t seid = h.establish();
    Reply r = h.modify(seid, [](Writer& w) { cp_f_seid(0x99).encode(w); });
    REQUIRE(r.cause() == Cause::request_accepted);
    CHECK(r.seid() == 0x99);
    CHECK(h.procs.session(seid)->cp_f_seid.seid == Seid(0x99));
    CHECK(h.remove(seid).seid() == 0x99);
}

TEST_CASE("modification rejections leave the session exactly as it was", "[pfcp-session]") {
    struct Case {
        const char* name;
        Body body;
        Cause cause;
        std::optional<IeType> offending;
        std::optional<FailedRuleId> failed_rule;
    };
    using R = FailedRuleId::RuleType;
    const std::vector<Case> cases = {
        {"Update FAR of an unknown FAR",
         [](Writer& w) {
             UpdateFar f;
             f.far_id.value = 9;
             f.apply_action = ApplyAction{ApplyAction::drop};
             f.encode(w);
         },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::far, 9}},
        {"Remove PDR of an unknown PDR", [](Writer& w) { RemovePdr{PdrId{9}}.encode(w); },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::pdr, 9}},
        {"Remove URR of an unknown URR", [](Writer& w) { RemoveUrr{UrrId{9}}.encode(w); },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::urr, 9}},
        {"Update QER of an unknown QER",
         [](Writer& w) {
             UpdateQer{QerId{9}, {}, {}, {}, {}}.encode(w);
         },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::qer, 9}},
        {"Update BAR of an unknown BAR",
         [](Writer& w) {
             UpdateBar{BarId{9}, {}}.encode(w);
         },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::bar, 9}},
        {"Remove FAR still used by a PDR", [](Writer& w) { RemoveFar{FarId{2}}.encode(w); },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::pdr, 2}},
        {"Create PDR with an existing ID", [](Writer& w) { ul_pdr(1, choose()).encode(w); },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::pdr, 1}},
        {"Create PDR referencing an unknown FAR",
         [](Writer& w) { ul_pdr(5, choose(), 7).encode(w); },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::pdr, 5}},
        {"Query URR of an unknown URR", [](Writer& w) { QueryUrr{UrrId{9}}.encode(w); },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::urr, 9}},
        {"a valid change plus an invalid one",
         [](Writer& w) {
             UpdatePdr up;
             up.pdr_id.value = 2;
             up.precedence = Precedence{1};
             up.encode(w);
             qer(3).encode(w);
             RemovePdr{PdrId{9}}.encode(w);
         },
         Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{R::pdr, 9}},
        {"Update URR: VOLTH without a threshold ever given",
         [](Writer& w) {
             CreateUrr u;
             u.urr_id.value = 5;
             u.measurement_method.flags = MeasurementMethod::volum;
             u.encode(w);
             UpdateUrr uu;
             uu.urr_id.value = 5;
             uu.reporting_triggers = ReportingTriggers{ReportingTriggers::volth};
             uu.encode(w);
         },
         Cause::conditional_ie_missing, IeType::volume_threshold, std::nullopt},
        {"Update FAR: FORW to Access without outer header",
         [](Writer& w) {
             CreateFar f;
             f.far_id.value = 5;
             f.apply_action.flags = ApplyAction::drop;
             f.encode(w);
             UpdateFar u;
             u.far_id.value = 5;
             u.apply_action = ApplyAction{ApplyAction::forw};
             u.update_forwarding_parameters = UpdateForwardingParameters{
                 DestinationInterface{DestinationInterface::Value::access}, {}, {}, {}};
             u.encode(w);
         },
         Cause::conditional_ie_missing, IeType::outer_header_creation, std::nullopt},
        {"two PFCPSMReq-Flags",
         [](Writer& w) {
             PfcpSmReqFlags{PfcpSmReqBits::qaurr}.encode(w);
             PfcpSmReqFlags{PfcpSmReqBits::sndem}.encode(w);
         },
         Cause::mandatory_ie_incorrect, IeType::pfcpsmreq_flags, std::nullopt},
        {"Remove PDR without its PDR ID",
         [](Writer& w) {
             w.begin_grouped(IeType::remove_pdr);
             w.end_grouped();
         },
         Cause::mandatory_ie_missing, IeType::pdr_id, std::nullopt},
        {"Create PDR with a truncated F-TEID",
         [](Writer& w) {
             w.begin_grouped(IeType::create_pdr);
             PdrId{5}.encode(w);
             Precedence{5}.encode(w);
             w.begin_grouped(IeType::pdi);
             SourceInterface{}.encode(w);
             w.add(IeType::f_teid, hex("01 000000"));
             w.end_grouped();
             FarId{1}.encode(w);
             w.end_grouped();
         },
         Cause::invalid_length, IeType::f_teid, std::nullopt},
        {"Update Forwarding Parameters with a bad Destination Interface",
         [](Writer& w) {
             w.begin_grouped(IeType::update_far);
             FarId{2}.encode(w);
             w.begin_grouped(IeType::update_forwarding_parameters);
             w.add(IeType::destination_interface, hex("0f"));
             w.end_grouped();
             w.end_grouped();
         },
         Cause::mandatory_ie_incorrect, IeType::destination_interface, std::nullopt},
        {"Create PDR with an F-TEID of another session",
         [](Writer& w) { ul_pdr(5, fteid(0x1fff)).encode(w); },
         Cause::invalid_f_teid_allocation_option, IeType::f_teid, std::nullopt},
        {"deeply nested grouped IEs are not followed",
         [](Writer& w) {
             // Create PDR > PDI > PDI > ... beyond max_ie_depth.
             for (unsigned i = 0; i < max_ie_depth - 1; ++i) {
                 w.begin_grouped(i == 0 ? IeType::create_pdr : IeType::pdi);
             }
             for (unsigned i = 0; i < max_ie_depth - 1; ++i) {
                 w.end_grouped();
             }
         },
         Cause::mandatory_ie_missing, IeType::pdr_id, std::nullopt},
    };
    for (const Case& c : cases) {
        DYNAMIC_SECTION(c.name) {
            Harness h;
            Establishment e;
            e.urrs = {volume_urr(1)};
            e.pdrs[0].urr_ids = {UrrId{1}};
            const uint64_t seid = h.establish(e);
            // Another session owns TEID 0x1fff.
            Establishment other;
            other.cp = cp_f_seid(cp_seid + 1);
            other.pdrs = {ul_pdr(1, fteid(0x1fff)), dl_pdr(2, ue_address(ue_ip + 1, true))};
            REQUIRE(h.send(other.bytes()).cause() == Cause::request_accepted);

            const dp::SessionSpec before = h.spec(seid);
            const SessionProcedures::Session session_before = *h.procs.session(seid);
            Reply r = h.modify(seid, c.body);
            CHECK(r.cause() == c.cause);
            CHECK(r.offending() == c.offending);
            CHECK(r.failed_rule() == c.failed_rule);
            CHECK(r.seid() == cp_seid);
            CHECK(r.all<UsageReportModification>().empty());
            CHECK(r.all<CreatedPdr>().empty());
            CHECK(same(h.spec(seid), before));
            CHECK(*h.procs.session(seid) == session_before);
            CHECK(h.actions.modify_calls.empty());
        }
    }
}

TEST_CASE("modification of an unknown session: 65 with SEID 0", "[pfcp-session]") {
    Harness h;
    const uint64_t seid = h.establish();
    Reply r = h.modify(seid + 1, [](Writer&) {});
    CHECK(r.cause() == Cause::session_context_not_found);
    CHECK(r.seid() == 0);
    // Another SMF may not touch it.
    Reply r2 = h.modify(
        seid, [](Writer& w) { RemovePdr{PdrId{1}}.encode(w); }, smf2);
    CHECK(r2.cause() == Cause::session_context_not_found);
    CHECK(r2.seid() == 0);
    CHECK(h.spec(seid).pdrs.size() == 2);
    // Deleted behind the procedures' back (the CLI): not found either, and forgotten.
    h.actions.sessions.clear();
    CHECK(h.modify(seid, [](Writer&) {}).cause() == Cause::session_context_not_found);
    CHECK(h.procs.session_count() == 0);
    CHECK(h.procs.counters().rejected(Cause::session_context_not_found) == 3);
}

TEST_CASE("modification: the dataplane refuses", "[pfcp-session]") {
    Harness h;
    const uint64_t seid = h.establish();
    const dp::SessionSpec before = h.spec(seid);
    h.actions.fail_next = dp::SpecError{dp::SpecError::Kind::two_ue_addresses, "pdr 2", "x"};
    Reply r = h.modify(seid, [](Writer& w) {
        UpdatePdr up;
        up.pdr_id.value = 2;
        up.precedence = Precedence{1};
        up.encode(w);
    });
    CHECK(r.cause() == Cause::rule_creation_modification_failure);
    CHECK(r.failed_rule() == FailedRuleId{FailedRuleId::RuleType::pdr, 2});
    CHECK(same(h.spec(seid), before));
}

TEST_CASE("modification from scapy (handover with SNDEM, query)", "[pfcp-session]") {
    Harness h;
    REQUIRE(h.send(scapy_establishment).cause() == Cause::request_accepted);
    h.actions.set_usage(first_up_seid, 1, {1, 100, 1, 100});
    Reply r = h.send(scapy_modification);
    REQUIRE(r.cause() == Cause::request_accepted);
    CHECK(r.seid() == cp_seid);
    CHECK(r.all<CreatedPdr>().size() == 1);
    auto reports = r.all<UsageReportModification>();
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].volume_measurement->total_octets == 200u);
    const auto& s = h.spec(first_up_seid);
    CHECK(s.qers.empty());
    CHECK(pdr(s, 2).qer_ids.empty());
    CHECK(rule(s.fars, 2)->outer_header == dp::OuterHeaderCreation{0x02000002, gnb2_n3});
    CHECK(rule(s.urrs, 1)->volume_threshold_bytes == 2000000);
    REQUIRE(h.actions.modify_calls.size() == 1);
    CHECK(h.actions.modify_calls[0].send_end_marker);
    CHECK(h.actions.modify_calls[0].query_all_urrs);
}

// ==== Session Deletion ===========================================================================

TEST_CASE("deletion returns the final usage reports", "[pfcp-session]") {
    Harness h;
    Establishment e;
    e.pdrs[0].urr_ids = {UrrId{1}, UrrId{2}};
    e.urrs = {volume_urr(1), volume_urr(2)};
    const uint64_t seid = h.establish(e);
    h.actions.now_ms = 5000;
    h.actions.set_usage(seid, 2, {7, 700, 3, 300});
    Reply r = h.remove(seid);
    REQUIRE(r.cause() == Cause::request_accepted);
    CHECK(r.seid() == cp_seid);
    auto reports = r.all<UsageReportDeletion>();
    REQUIRE(reports.size() == 2);
    CHECK(reports[0].urr_id.value == 1);
    CHECK(reports[1].urr_id.value == 2);
    for (const auto& u : reports) {
        CHECK(u.trigger.flags == UsageReportTrigger::termr);
        CHECK(u.start_time);
        CHECK(u.end_time);
        CHECK(u.duration_measurement == DurationMeasurement{5});
    }
    CHECK(reports[1].volume_measurement == VolumeMeasurement{1000, 700, 300, 10, 7, 3});
    CHECK(h.actions.sessions.empty());
    CHECK(h.procs.session(seid) == nullptr);
    CHECK(h.procs.counters().event(SessionEvent::deleted) == 1);
    CHECK(h.procs.counters().sessions.get() == 0);

    // Deleted twice: 65 with SEID 0.
    Reply again = h.remove(seid);
    CHECK(again.cause() == Cause::session_context_not_found);
    CHECK(again.seid() == 0);
}

TEST_CASE("deletion from scapy", "[pfcp-session]") {
    Harness h;
    REQUIRE(h.send(scapy_establishment).cause() == Cause::request_accepted);
    Reply r = h.send(scapy_deletion);
    CHECK(r.cause() == Cause::request_accepted);
    CHECK(r.all<UsageReportDeletion>().size() == 1);
    CHECK(h.procs.session_count() == 0);
}

TEST_CASE("drop_peer_sessions deletes the peer's sessions only", "[pfcp-session]") {
    Harness h;
    const uint64_t a = h.establish();
    Establishment e2;
    e2.cp = cp_f_seid(cp_seid + 1);
    e2.pdrs[1] = dl_pdr(2, ue_address(ue_ip + 1, true));
    REQUIRE(h.send(e2.bytes(), smf2).cause() == Cause::request_accepted);
    Establishment e3;
    e3.cp = cp_f_seid(cp_seid + 2);
    e3.pdrs[1] = dl_pdr(2, ue_address(ue_ip + 2, true));
    REQUIRE(h.send(e3.bytes()).cause() == Cause::request_accepted);
    CHECK(h.procs.drop_peer_sessions(smf_id) == 2);
    CHECK(h.procs.session_count() == 1);
    CHECK(h.actions.sessions.size() == 1);
    CHECK(h.procs.session(a) == nullptr);
    CHECK(h.procs.drop_peer_sessions(smf_id) == 0);
    CHECK(h.procs.counters().event(SessionEvent::deleted_with_peer) == 2);
}

TEST_CASE("messages a UPF does not handle get no response", "[pfcp-session]") {
    Harness h;
    for (Bytes b : {scapy_report_response_accepted,
                    message(MessageType::session_establishment_response, 1, 1, [](Writer&) {})}) {
        auto m = parse_message(std::span<const uint8_t>(b));
        REQUIRE(m);
        CHECK_FALSE(h.procs.handle_session_message(*m, smf));
    }
    CHECK(h.procs.counters().event(SessionEvent::unexpected_messages) == 2);
}

// ==== Session Report =============================================================================

TEST_CASE("poll sends one Session Report Request per session", "[pfcp-session]") {
    Harness h;
    Establishment e;
    e.pdrs[0].urr_ids = {UrrId{1}};
    e.urrs = {volume_urr(1)};
    e.bar = CreateBar{BarId{1}, std::nullopt};
    const uint64_t seid = h.establish(e);

    h.procs.poll(0);
    CHECK(h.sender.sent.empty());  // nothing to report

    dp::UsageReport u;
    u.seid = seid;
    u.urr_id = 1;
    u.sequence = 4;
    u.trigger = dp::UsageTrigger::volume_threshold;
    u.start_ms = 1000;
    u.end_ms = 61000;
    u.volume = {100, 100000, 900, 1000000};
    u.duration_s = 60;
    h.actions.pending_reports.push_back(u);
    h.actions.pending_reports.push_back(dp::ErrorIndicationReport{seid, 0x01000002, gnb_n3});
    h.actions.pending_reports.push_back(dp::DownlinkDataReport{seid, 2});
    h.actions.pending_reports.push_back(dp::DownlinkDataReport{seid, 2});
    h.actions.pending_reports.push_back(dp::DownlinkDataReport{0x4242, 1});  // not a PFCP session
    h.procs.poll(100);

    REQUIRE(h.sender.sent.size() == 1);
    const SentRequest& req = h.sender.sent[0];
    CHECK(req.peer == smf_id);
    Reply r{req.bytes};
    CHECK(r.header().type == MessageType::session_report_request);
    CHECK(r.seid() == cp_seid);
    auto type = r.one<ReportType>();
    REQUIRE(type);
    CHECK(type->flags == (ReportTypeBits::usar | ReportTypeBits::erir | ReportTypeBits::dldr));
    auto dldr = r.one<DownlinkDataReport>();
    REQUIRE(dldr);
    CHECK(dldr->pdr_ids == std::vector<PdrId>{PdrId{2}});
    auto eir = r.one<ErrorIndicationReport>();
    REQUIRE(eir);
    REQUIRE(eir->remote_f_teids.size() == 1);
    CHECK(eir->remote_f_teids[0] == fteid(0x01000002, gnb_n3));
    auto usage = r.all<UsageReportReport>();
    REQUIRE(usage.size() == 1);
    CHECK(usage[0].urr_id.value == 1);
    CHECK(usage[0].ur_seqn.value == 4);
    CHECK(usage[0].trigger.flags == UsageReportTrigger::volth);
    CHECK(usage[0].volume_measurement ==
          VolumeMeasurement{1100000, 100000, 1000000, 1000, 100, 900});
    CHECK(usage[0].duration_measurement == DurationMeasurement{60});
    CHECK(h.procs.counters().event(SessionEvent::report_requests_sent) == 1);
    CHECK(h.procs.counters().event(SessionEvent::reports_unowned) == 1);

    auto respond = [&](const Bytes& b) {
        auto m = parse_message(std::span<const uint8_t>(b));
        REQUIRE(m);
        h.sender.sent.back().on_response(*m);
    };
    SECTION("accepted") {
        respond(scapy_report_response_accepted);
        CHECK(h.procs.session_count() == 1);
        CHECK(h.procs.counters().report_responses_by_cause[1].get() == 1);
    }
    SECTION("accepted with Update BAR") {
        respond(message(MessageType::session_report_response, seid, 1, [](Writer& w) {
            CauseIe{Cause::request_accepted}.encode(w);
            UpdateBarReport{BarId{1}, SuggestedBufferingPacketsCount{3}}.encode(w);
        }));
        CHECK(rule(h.spec(seid).bars, 1)->buffering_packets == 3);
    }
    SECTION("rejected: counted, session kept") {
        respond(message(MessageType::session_report_response, seid, 1,
                        [](Writer& w) { CauseIe{Cause::request_rejected}.encode(w); }));
        CHECK(h.procs.session_count() == 1);
        CHECK(h.procs.counters().event(SessionEvent::report_responses_rejected) == 1);
    }
    SECTION("Session context not found: the session is deleted locally") {
        respond(scapy_report_response_not_found);
        CHECK(h.procs.session_count() == 0);
        CHECK(h.actions.sessions.empty());
        CHECK(h.procs.counters().event(SessionEvent::deleted_by_report_response) == 1);
    }
    SECTION("no Cause") {
        respond(message(MessageType::session_report_response, seid, 1, [](Writer&) {}));
        CHECK(h.procs.counters().event(SessionEvent::report_responses_malformed) == 1);
        CHECK(h.procs.session_count() == 1);
    }
    SECTION("no response after the retransmissions") {
        h.sender.sent.back().on_response(std::nullopt);
        CHECK(h.procs.counters().event(SessionEvent::report_timeouts) == 1);
        CHECK(h.procs.session_count() == 1);
    }
    SECTION("no association: not sent") {
        h.sender.associated = false;
        h.actions.pending_reports.push_back(dp::DownlinkDataReport{seid, 2});
        h.procs.poll(200);
        CHECK(h.sender.sent.size() == 1);
        CHECK(h.procs.counters().event(SessionEvent::report_send_failures) == 1);
    }
}

TEST_CASE("a report callback outliving the procedures is harmless", "[pfcp-session]") {
    MemorySessionActions actions;
    FakeSender sender;
    ResponseCallback cb;
    {
        SessionProcedures procs(test_config(), actions, &sender);
        Bytes req = Establishment{}.bytes();
        auto msg = parse_message(std::span<const uint8_t>(req));
        REQUIRE(msg);
        REQUIRE(procs.handle_session_message(*msg, smf));
        actions.pending_reports.push_back(dp::DownlinkDataReport{first_up_seid, 2});
        procs.poll(0);
        REQUIRE(sender.sent.size() == 1);
        cb = sender.sent[0].on_response;
    }
    cb(std::nullopt);
    SUCCEED("no crash");
}

TEST_CASE("configuration checks", "[pfcp-session]") {
    SessionProceduresConfig c = test_config();
    CHECK_FALSE(check(c));
    c.node_id = NodeId::from_fqdn("upf.example.org");
    CHECK(check(c));
    c.n4_ipv4 = wire(0xc6120402);
    CHECK_FALSE(check(c));
    c.teid_first = 0;
    CHECK(check(c));
    c = test_config();
    c.ue_ip_pools = {v4_pool(0xc6140001, 16)};
    CHECK(check(c));
    CHECK(cause_label(Cause::mandatory_ie_missing) == "mandatory_ie_missing");
    CHECK(cause_label(static_cast<Cause>(200)) == "spare_rejection");
}

// ---- Multi-Access Rules (§5.20) -----------------------------------------------------------------

// An MA PDU session (spec §1.12): UL PDRs per access (CHOOSE with CHOOSE IDs 1 and 2), one DL PDR
// whose MAR 1 splits between FAR 2 (3GPP, gNB) and FAR 3 (non-3GPP, N3IWF), Load Balancing 60/40.
// TS 29.244 §5.2.3: Apply Action DUPL with Duplicating Parameters (§7.5.2.3-3), updated by
// Update Duplicating Parameters (§7.5.4.3-3) per destination.
TEST_CASE("FAR DUPL: the copy destinations are stored and updated per destination",
          "[pfcp-session][dupl]") {
    Harness h;
    Establishment e;
    e.fars[0].apply_action.flags |= ApplyAction::dupl;
    e.fars[0].duplicating_parameters = {DuplicatingParameters{
        DestinationInterface{DestinationInterface::Value::li_function}, gtpu(0x77, gnb2_n3)}};
    REQUIRE(h.send(e.bytes(), smf, "establishment_response_dupl").cause() ==
            Cause::request_accepted);
    const auto far1 = [&h]() { return far(h.spec(first_up_seid), 1); };
    CHECK(far1().action.duplicate);
    CHECK(far1().action.forward);
    REQUIRE(far1().duplicates.size() == 1);
    CHECK(far1().duplicates[0].li_function);
    CHECK(far1().duplicates[0].outer_header == dp::OuterHeaderCreation{0x77, gnb2_n3});

    UpdateFar u;
    u.far_id.value = 1;
    SECTION("a new tunnel for the LI function's copies, then a second destination") {
        u.update_duplicating_parameters = {UpdateDuplicatingParameters{
            DestinationInterface{DestinationInterface::Value::li_function}, gtpu(0x78, gnb_n3)}};
        REQUIRE(h.modify(first_up_seid, [&](Writer& w) { u.encode(w); }).cause() ==
                Cause::request_accepted);
        REQUIRE(far1().duplicates.size() == 1);
        CHECK(far1().duplicates[0].outer_header == dp::OuterHeaderCreation{0x78, gnb_n3});
        u.update_duplicating_parameters = {UpdateDuplicatingParameters{
            DestinationInterface{DestinationInterface::Value::core}, gtpu(0x79, gnb_n3)}};
        REQUIRE(h.modify(first_up_seid, [&](Writer& w) { u.encode(w); }).cause() ==
                Cause::request_accepted);
        REQUIRE(far1().duplicates.size() == 2);
        CHECK(far1().duplicates[1].destination == dp::Interface::core);
        CHECK(far1().duplicates[1].outer_header == dp::OuterHeaderCreation{0x79, gnb_n3});
        // Without a Destination Interface, with two destinations: which one is ambiguous.
        u.update_duplicating_parameters = {
            UpdateDuplicatingParameters{std::nullopt, gtpu(0x7a, gnb_n3)}};
        Reply r = h.modify(first_up_seid, [&](Writer& w) { u.encode(w); });
        CHECK(r.cause() == Cause::conditional_ie_missing);
        CHECK(r.offending() == IeType::destination_interface);
        CHECK(far1().duplicates[1].outer_header == dp::OuterHeaderCreation{0x79, gnb_n3});
    }
    SECTION("a new destination without a tunnel: refused, the session as it was") {
        u.update_duplicating_parameters = {UpdateDuplicatingParameters{
            DestinationInterface{DestinationInterface::Value::core}, std::nullopt}};
        Reply r = h.modify(first_up_seid, [&](Writer& w) { u.encode(w); });
        CHECK(r.cause() == Cause::rule_creation_modification_failure);
        CHECK(r.failed_rule() == FailedRuleId{FailedRuleId::RuleType::far, 1});
        CHECK(far1().duplicates.size() == 1);
    }
    SECTION("Apply Action without DUPL: no more copies, the destinations kept") {
        u.apply_action = ApplyAction{ApplyAction::forw};
        REQUIRE(h.modify(first_up_seid, [&](Writer& w) { u.encode(w); }).cause() ==
                Cause::request_accepted);
        CHECK_FALSE(far1().action.duplicate);
        CHECK(far1().duplicates.size() == 1);
    }
}

Establishment ma_session() {
    Establishment e;
    e.pdrs = {ul_pdr(1, choose(1)), ul_pdr(4, choose(2)), dl_pdr(2, ue_address(ue_ip, true))};
    e.pdrs[0].multipath_applicable = MultipathApplicableIndication{MultipathApplicableBits::mtai};
    e.pdrs[2].far_id.reset();
    e.pdrs[2].mar_id = MarId{1};
    CreateFar n3gpp = dl_far(0x02000003, gnb2_n3);
    n3gpp.far_id.value = 3;
    e.fars = {ul_far(), dl_far(), n3gpp};
    e.urrs = {volume_urr(1)};
    CreateMar m;
    m.mar_id.value = 1;
    m.steering_functionality.value = SteeringFunctionalityValue::mptcp;
    m.steering_mode.value = SteeringModeValue::load_balancing;
    m.tgpp = TgppAccessForwarding{FarId{2}, Weight{60}, std::nullopt, {UrrId{1}}};
    m.non_tgpp = NonTgppAccessForwarding{FarId{3}, Weight{40}, std::nullopt, {}};
    e.extra = [m](Writer& w) { m.encode(w); };
    return e;
}

// PDI Source Interface Type (3GPP Interface Type, §8.2.118) tells which access an MA PDU
// session's uplink tunnel is: what the datapath checks the link-specific addresses against.
TEST_CASE("MA PDU session: each uplink PDR's access from its Source Interface Type",
          "[pfcp-session][mar]") {
    Harness h;
    Establishment e = ma_session();
    e.pdrs[0].pdi.source_interface_type = TgppInterfaceType{TgppInterfaceType::n3_3gpp_access};
    e.pdrs[1].pdi.source_interface_type =
        TgppInterfaceType{TgppInterfaceType::n3_untrusted_non_3gpp_access};
    Reply r = h.send(e.bytes(), smf, "establishment_response_interface_type");
    REQUIRE(r.cause() == Cause::request_accepted);
    const dp::SessionSpec& s = h.spec(first_up_seid);
    CHECK(pdr(s, 1).access == dp::LinkAccess::tgpp);
    CHECK(pdr(s, 4).access == dp::LinkAccess::non_tgpp);
    CHECK_FALSE(pdr(s, 2).access.has_value());  // the DL PDR: no type
    // Update PDR with a new PDI: a trusted non-3GPP access, then an interface that is no access
    // of the session (N9: no check), each replacing the old.
    for (auto [type, access] : {std::pair{TgppInterfaceType::n3_trusted_non_3gpp_access,
                                          std::optional<dp::LinkAccess>(dp::LinkAccess::non_tgpp)},
                                std::pair{uint8_t{15}, std::optional<dp::LinkAccess>()}}) {
        UpdatePdr u;
        u.pdr_id.value = 1;
        u.pdi = ul_pdr(1, fteid(pdr(h.spec(first_up_seid), 1).local_teid.value())).pdi;
        u.pdi->source_interface_type = TgppInterfaceType{type};
        Reply m = h.modify(first_up_seid, [&](Writer& w) { u.encode(w); });
        REQUIRE(m.cause() == Cause::request_accepted);
        CHECK(pdr(h.spec(first_up_seid), 1).access == access);
    }
}

CreateMar mar_with(uint8_t mode, std::optional<uint8_t> p3, std::optional<uint8_t> pn3,
                   std::optional<uint8_t> w3 = std::nullopt,
                   std::optional<uint8_t> wn3 = std::nullopt) {
    CreateMar m;
    m.mar_id.value = 1;
    m.steering_functionality.value = SteeringFunctionalityValue::atsss_ll;
    m.steering_mode.value = mode;
    auto pr = [](std::optional<uint8_t> v) {
        return v ? std::optional<Priority>(Priority{*v}) : std::nullopt;
    };
    auto wt = [](std::optional<uint8_t> v) {
        return v ? std::optional<Weight>(Weight{*v}) : std::nullopt;
    };
    m.tgpp = TgppAccessForwarding{FarId{2}, wt(w3), pr(p3), {}};
    m.non_tgpp = NonTgppAccessForwarding{FarId{3}, wt(wn3), pr(pn3), {}};
    return m;
}

TEST_CASE("MAR: an MA PDU session's rule is stored and drives the PDR's FAR",
          "[pfcp-session][mar]") {
    Harness h;
    Reply r = h.send(ma_session().bytes(), smf, "establishment_response_mar");
    REQUIRE(r.cause() == Cause::request_accepted);
    const dp::SessionSpec& s = h.spec(first_up_seid);
    REQUIRE(s.mars.size() == 1);
    const dp::Mar& m = s.mars[0];
    CHECK(m.id == 1);
    CHECK(m.steering_functionality == SteeringFunctionalityValue::mptcp);
    CHECK(m.steering_mode == SteeringModeValue::load_balancing);
    REQUIRE(m.tgpp);
    REQUIRE(m.non_tgpp);
    CHECK(m.tgpp->far_id == 2);
    CHECK(m.tgpp->weight == 60);
    CHECK(m.tgpp->urr_ids == std::vector<uint32_t>{1});
    CHECK(m.non_tgpp->far_id == 3);
    CHECK(m.non_tgpp->weight == 40);
    CHECK(pdr(s, 2).mar_id == 1);
    CHECK(pdr(s, 2).far_from_mar);
    CHECK(pdr(s, 2).far_id == 2);  // the heavier access
    CHECK(pdr(s, 1).multipath_applicable == MultipathApplicableBits::mtai);
    // Two UL F-TEIDs, one per CHOOSE ID.
    auto created = r.all<CreatedPdr>();
    REQUIRE(created.size() == 2);
    CHECK(created[0].local_f_teid->teid != created[1].local_f_teid->teid);
    // The compiled snapshot carries the MPTCP proxy's scheduler for the session (issue 7).
    {
        auto c = dp::compile(s);
        REQUIRE(c.rules);
        REQUIRE(c.rules->scheduler);
        CHECK(c.rules->scheduler_mar == 1);
        CHECK(c.rules->scheduler->mode == braid::mptcp::SchedulerMode::load_balancing);
        CHECK(c.rules->scheduler->access[0].weight == 60);
        CHECK(c.rules->scheduler->access[1].weight == 40);
    }

    SECTION("Update MAR: new weights move the PDR to the other access's FAR") {
        UpdateMar u;
        u.mar_id.value = 1;
        u.update_tgpp = UpdateTgppAccessForwarding{std::nullopt, Weight{30}, std::nullopt, {}};
        u.update_non_tgpp =
            UpdateNonTgppAccessForwarding{std::nullopt, Weight{70}, std::nullopt, {}};
        Reply m2 = h.modify(first_up_seid, [&](Writer& w) { u.encode(w); });
        REQUIRE(m2.cause() == Cause::request_accepted);
        const dp::SessionSpec& s2 = h.spec(first_up_seid);
        CHECK(s2.mars[0].tgpp->weight == 30);
        CHECK(s2.mars[0].tgpp->far_id == 2);  // kept
        CHECK(s2.mars[0].tgpp->urr_ids == std::vector<uint32_t>{1});
        CHECK(pdr(s2, 2).far_id == 3);
        // ... and the proxy's scheduler of the new snapshot.
        auto c = dp::compile(s2);
        REQUIRE(c.rules);
        REQUIRE(c.rules->scheduler);
        CHECK(c.rules->scheduler->access[0].weight == 30);
        CHECK(c.rules->scheduler->access[1].weight == 70);
    }
    SECTION("Update MAR: a new steering mode changes the proxy's scheduler") {
        UpdateMar u;
        u.mar_id.value = 1;
        u.steering_mode = SteeringMode{SteeringModeValue::smallest_delay};
        Reply m2 = h.modify(first_up_seid, [&](Writer& w) { u.encode(w); });
        REQUIRE(m2.cause() == Cause::request_accepted);
        auto c = dp::compile(h.spec(first_up_seid));
        REQUIRE(c.rules);
        REQUIRE(c.rules->scheduler);
        CHECK(c.rules->scheduler->mode == braid::mptcp::SchedulerMode::smallest_delay);
    }
    SECTION("Update MAR whose weights no longer sum to 100: 73 + MAR, session untouched") {
        UpdateMar u;
        u.mar_id.value = 1;
        u.update_tgpp = UpdateTgppAccessForwarding{std::nullopt, Weight{50}, std::nullopt, {}};
        Reply m2 = h.modify(first_up_seid, [&](Writer& w) { u.encode(w); });
        CHECK(m2.cause() == Cause::rule_creation_modification_failure);
        CHECK(m2.failed_rule() == FailedRuleId{FailedRuleId::RuleType::mar, 1});
        CHECK(h.spec(first_up_seid).mars[0].tgpp->weight == 60);
    }
    SECTION("Update MAR of an unknown MAR: 73 + MAR") {
        UpdateMar u;
        u.mar_id.value = 9;
        Reply m2 = h.modify(first_up_seid, [&](Writer& w) { u.encode(w); });
        CHECK(m2.cause() == Cause::rule_creation_modification_failure);
        CHECK(m2.failed_rule() == FailedRuleId{FailedRuleId::RuleType::mar, 9});
    }
    SECTION("Remove MAR: refused while a PDR uses it, accepted with the PDR") {
        Reply m2 = h.modify(first_up_seid, [](Writer& w) { RemoveMar{MarId{1}}.encode(w); });
        CHECK(m2.cause() == Cause::rule_creation_modification_failure);
        CHECK(m2.failed_rule() == FailedRuleId{FailedRuleId::RuleType::pdr, 2});
        CHECK(h.spec(first_up_seid).mars.size() == 1);
        Reply m3 = h.modify(first_up_seid, [](Writer& w) {
            RemovePdr{PdrId{2}}.encode(w);
            RemoveMar{MarId{1}}.encode(w);
        });
        REQUIRE(m3.cause() == Cause::request_accepted);
        CHECK(h.spec(first_up_seid).mars.empty());
    }
    SECTION("Remove FAR that the MAR names: 73 + MAR") {
        Reply m2 = h.modify(first_up_seid, [](Writer& w) { RemoveFar{FarId{3}}.encode(w); });
        CHECK(m2.cause() == Cause::rule_creation_modification_failure);
        CHECK(m2.failed_rule() == FailedRuleId{FailedRuleId::RuleType::mar, 1});
    }
    SECTION("Remove URR drops it from the MAR's access too") {
        Reply m2 = h.modify(first_up_seid, [](Writer& w) { RemoveUrr{UrrId{1}}.encode(w); });
        REQUIRE(m2.cause() == Cause::request_accepted);
        CHECK(h.spec(first_up_seid).mars[0].tgpp->urr_ids.empty());
    }
}

TEST_CASE("MAR: validation at establishment (all or nothing)", "[pfcp-session][mar]") {
    Harness h;
    Establishment e = ma_session();
    struct Case {
        const char* name;
        CreateMar mar;
        Cause cause;
        std::optional<IeType> offending;
        std::optional<FailedRuleId> failed;
    };
    using SM = SteeringModeValue;
    using P = PriorityValue;
    const FailedRuleId mar1{FailedRuleId::RuleType::mar, 1};
    CreateMar unknown_mode = mar_with(9, P::active, P::standby);
    CreateMar mpquic = mar_with(SM::active_standby, P::active, P::standby);
    mpquic.steering_functionality.value = SteeringFunctionalityValue::mpquic_udp;
    CreateMar unknown_function = mpquic;
    unknown_function.steering_functionality.value = 7;
    CreateMar unknown_far = mar_with(SM::smallest_delay, {}, {});
    unknown_far.non_tgpp->far_id = FarId{9};
    CreateMar no_access = mar_with(SM::smallest_delay, {}, {});
    no_access.tgpp.reset();
    no_access.non_tgpp.reset();
    CreateMar smi_and_thresholds = mar_with(SM::smallest_delay, {}, {});
    smi_and_thresholds.thresholds = Thresholds{100, std::nullopt};
    smi_and_thresholds.steering_mode_indicator = SteeringModeIndicator{0x01};
    CreateMar unknown_urr = mar_with(SM::smallest_delay, {}, {});
    unknown_urr.tgpp->urr_ids = {UrrId{42}};
    const std::vector<Case> cases = {
        {"unknown steering mode",
         unknown_mode,
         Cause::mandatory_ie_incorrect,
         IeType::steering_mode,
         {}},
        {"redundant (REDSM not claimed)",
         mar_with(SM::redundant, P::primary, P::secondary),
         Cause::service_not_supported,
         IeType::steering_mode,
         {}},
        {"MPQUIC functionality",
         mpquic,
         Cause::service_not_supported,
         IeType::steering_functionality,
         {}},
        {"unknown functionality",
         unknown_function,
         Cause::mandatory_ie_incorrect,
         IeType::steering_functionality,
         {}},
        {"weights sum to 90",
         mar_with(SM::load_balancing, {}, {}, 50, 40),
         Cause::rule_creation_modification_failure,
         {},
         mar1},
        {"weight above 100",
         mar_with(SM::load_balancing, {}, {}, 101, 0),
         Cause::mandatory_ie_incorrect,
         IeType::weight,
         {}},
        {"load balancing without weights",
         mar_with(SM::load_balancing, {}, {}),
         Cause::conditional_ie_missing,
         IeType::weight,
         {}},
        {"active-standby: same priority",
         mar_with(SM::active_standby, P::active, P::active),
         Cause::rule_creation_modification_failure,
         {},
         mar1},
        {"active-standby: no Active",
         mar_with(SM::active_standby, P::standby, P::no_standby),
         Cause::rule_creation_modification_failure,
         {},
         mar1},
        {"active-standby without priorities",
         mar_with(SM::active_standby, {}, {}),
         Cause::conditional_ie_missing,
         IeType::priority,
         {}},
        {"priority-based with Active-Standby values",
         mar_with(SM::priority_based, P::active, P::standby),
         Cause::rule_creation_modification_failure,
         {},
         mar1},
        {"unknown priority",
         mar_with(SM::active_standby, 9, P::standby),
         Cause::mandatory_ie_incorrect,
         IeType::priority,
         {}},
        {"an access's FAR does not exist",
         unknown_far,
         Cause::rule_creation_modification_failure,
         {},
         mar1},
        {"an access's URR does not exist",
         unknown_urr,
         Cause::rule_creation_modification_failure,
         {},
         mar1},
        {"no access at all",
         no_access,
         Cause::conditional_ie_missing,
         IeType::tgpp_access_forwarding_action_information,
         {}},
        {"SMI with Thresholds",
         smi_and_thresholds,
         Cause::mandatory_ie_incorrect,
         IeType::steering_mode_indicator,
         {}},
    };
    for (const Case& c : cases) {
        INFO(c.name);
        Establishment x = e;
        const CreateMar mar = c.mar;
        x.extra = [mar](Writer& w) { mar.encode(w); };
        Reply r = h.send(x.bytes());
        CHECK(r.cause() == c.cause);
        CHECK(r.offending() == c.offending);
        CHECK(r.failed_rule() == c.failed);
        CHECK(h.actions.sessions.empty());
    }
    // Valid variants are accepted: Active-Standby picks the Active access's FAR, Priority-based
    // the High one.
    Establishment as = e;
    const CreateMar m_as = mar_with(SM::active_standby, P::standby, P::active);
    as.extra = [m_as](Writer& w) { m_as.encode(w); };
    Reply ra = h.send(as.bytes());
    REQUIRE(ra.cause() == Cause::request_accepted);
    CHECK(pdr(h.spec(ra.one<FSeid>()->seid.value()), 2).far_id == 3);
    Establishment pb = e;
    pb.cp = cp_f_seid(cp_seid + 1);
    pb.pdrs[2].pdi.ue_ip_addresses = {ue_address(ue_ip + 1, true)};
    const CreateMar m_pb = mar_with(SM::priority_based, P::high, P::low);
    pb.extra = [m_pb](Writer& w) { m_pb.encode(w); };
    Reply rp = h.send(pb.bytes());
    REQUIRE(rp.cause() == Cause::request_accepted);
    CHECK(pdr(h.spec(rp.one<FSeid>()->seid.value()), 2).far_id == 2);

    SECTION("a PDR naming a MAR that does not exist: 73 + PDR") {
        Establishment x = e;
        x.cp = cp_f_seid(cp_seid + 2);
        x.pdrs[2].pdi.ue_ip_addresses = {ue_address(ue_ip + 2, true)};
        x.pdrs[2].mar_id = MarId{5};
        Reply r = h.send(x.bytes());
        CHECK(r.cause() == Cause::rule_creation_modification_failure);
        CHECK(r.failed_rule() == FailedRuleId{FailedRuleId::RuleType::pdr, 2});
    }
    SECTION("a PDR with neither FAR ID nor MAR ID: 67") {
        Establishment x = e;
        x.cp = cp_f_seid(cp_seid + 2);
        x.pdrs[2].mar_id.reset();
        Reply r = h.send(x.bytes());
        CHECK(r.cause() == Cause::conditional_ie_missing);
        CHECK(r.offending() == IeType::far_id);
    }
}

// ---- Provide ATSSS Control Information (§5.20.2, spec §1.13)
// --------------------------------------

Body provide_atsss(bool tci, bool lli = false, bool pmfi = false) {
    ProvideAtsssControlInformation p;
    if (tci) {
        p.mptcp = MptcpControlInformation{0x01};
    }
    if (lli) {
        p.atsss_ll = AtsssLlControlInformation{0x01};
    }
    if (pmfi) {
        p.pmf = PmfControlInformation{0x01};
    }
    return [p](Writer& w) { p.encode(w); };
}

TEST_CASE("ATSSS: no MPTCP proxy enabled: 221 omitted and counted", "[pfcp-session][atsss]") {
    Harness h;
    Establishment e;
    e.extra = provide_atsss(true, true, true);
    Reply r = h.send(e.bytes());
    REQUIRE(r.cause() == Cause::request_accepted);
    CHECK_FALSE(r.one<AtsssControlParameters>());
    CHECK(h.procs.counters().event(SessionEvent::atsss_mptcp_not_provided) == 1);
    CHECK(h.procs.counters().event(SessionEvent::atsss_ll_not_provided) == 1);
    CHECK(h.procs.counters().event(SessionEvent::atsss_pmf_not_provided) == 1);
    CHECK(h.procs.counters().event(SessionEvent::atsss_mptcp_provided) == 0);
    CHECK_FALSE(h.procs.session(first_up_seid)->mptcp);
}

TEST_CASE("ATSSS: link-specific addresses are committed only when the session is installed",
          "[pfcp-session][atsss]") {
    SessionProceduresConfig c = test_config();
    MptcpProxyConfig& mp = c.mptcp_proxy;
    mp.enabled = true;
    mp.ipv4 = Ipv4Address{198, 18, 7, 1};
    mp.port = 5124;
    mp.tgpp_pools = {v4_pool(0xc6130a00, 30)};      // 198.19.10.0/30
    mp.non_tgpp_pools = {v4_pool(0xc6131400, 30)};  // 198.19.20.0/30
    REQUIRE_FALSE(check(c));
    Harness h(c);
    Establishment e;
    e.extra = provide_atsss(true);
    // The datapath refuses the session (e.g. a link-specific address in use): nothing is kept.
    h.actions.fail_next =
        dp::SpecError{dp::SpecError::Kind::link_address_in_use, "link 1", "in use"};
    Reply bad = h.send(e.bytes());
    CHECK(bad.cause() != Cause::request_accepted);
    CHECK_FALSE(bad.one<AtsssControlParameters>());
    CHECK(h.procs.counters().event(SessionEvent::atsss_mptcp_provided) == 0);
    // The /30s have two addresses each: two sessions still get them, so the refused one holds
    // none.
    std::set<Ipv4Address> tgpp, non_tgpp;
    for (uint32_t i = 0; i < 2; ++i) {
        Establishment ok = e;
        ok.cp = cp_f_seid(cp_seid + 1 + i);
        ok.pdrs[1].pdi.ue_ip_addresses = {ue_address(ue_ip + 1 + i, true)};
        Reply r = h.send(ok.bytes());
        REQUIRE(r.cause() == Cause::request_accepted);
        auto a = r.one<AtsssControlParameters>();
        REQUIRE(a);
        REQUIRE(a->mptcp);
        tgpp.insert(*a->mptcp->link.tgpp_ipv4);
        non_tgpp.insert(*a->mptcp->link.non_tgpp_ipv4);
    }
    CHECK(tgpp == std::set<Ipv4Address>{wire(0xc6130a01), wire(0xc6130a02)});
    CHECK(non_tgpp == std::set<Ipv4Address>{wire(0xc6131401), wire(0xc6131402)});
    CHECK(h.procs.counters().event(SessionEvent::atsss_mptcp_provided) == 2);
}

TEST_CASE("ATSSS: MPTCP Parameters from the proxy config and link-specific pools",
          "[pfcp-session][atsss]") {
    SessionProceduresConfig c = test_config();
    MptcpProxyConfig& mp = c.mptcp_proxy;
    mp.enabled = true;
    mp.ipv4 = Ipv4Address{198, 18, 7, 1};
    mp.ipv6 = Ipv6Address{0x20, 0x01, 0x0d, 0xb8, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    mp.port = 5124;
    mp.tgpp_pools = {v4_pool(0xc6130a00, 30), v6_pool(0x10, 63)};  // 198.19.10.0/30
    mp.non_tgpp_pools = {v4_pool(0xc6131400, 30)};                 // 198.19.20.0/30
    REQUIRE_FALSE(check(c));
    Harness h(c);
    Establishment e;
    e.extra = provide_atsss(true);
    Reply r = h.send(e.bytes(), smf, "establishment_response_atsss");
    REQUIRE(r.cause() == Cause::request_accepted);
    auto a = r.one<AtsssControlParameters>();
    REQUIRE(a);
    REQUIRE(a->mptcp);
    const MptcpParameters& m = *a->mptcp;
    CHECK(m.address.proxy_type == 1);
    CHECK(m.address.port == 5124);
    CHECK(m.address.ipv4 == mp.ipv4);
    CHECK(m.address.ipv6 == mp.ipv6);
    CHECK(m.link.tgpp_ipv4 == wire(0xc6130a01));
    CHECK(m.link.tgpp_ipv6 == Ipv6Address{0x20, 0x01, 0x0d, 0xb8, 0x00, 0x10});
    CHECK(m.link.non_tgpp_ipv4 == wire(0xc6131401));
    CHECK_FALSE(m.link.non_tgpp_ipv6);
    REQUIRE(h.procs.session(first_up_seid)->mptcp);
    CHECK(*h.procs.session(first_up_seid)->mptcp == m);
    CHECK(h.procs.counters().event(SessionEvent::atsss_mptcp_provided) == 1);
    // The addresses reach the datapath with the session (issue 7): the spec the session action
    // published has them, per access, IPv6 as its /64, and may use the proxy.
    auto link_of = [&](uint64_t seid) {
        const dp::SessionSpec* spec = h.actions.spec(seid);
        REQUIRE(spec != nullptr);
        CHECK(spec->mptcp);
        return spec->link_addresses;
    };
    auto v4 = [](uint32_t host) {
        dp::sdf::Prefix p{4, {}, 32};
        const auto w = wire(host);
        std::copy(w.begin(), w.end(), p.addr.begin());
        return p;
    };
    const dp::sdf::Prefix tgpp6{
        6, {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 64};
    const std::vector<dp::LinkAddress> published = {{dp::LinkAccess::tgpp, v4(0xc6130a01)},
                                                    {dp::LinkAccess::tgpp, tgpp6},
                                                    {dp::LinkAccess::non_tgpp, v4(0xc6131401)}};
    CHECK(link_of(first_up_seid) == published);

    // A modification asking again gets the same addresses (a new instance replaces the old).
    Reply mr = h.modify(first_up_seid, provide_atsss(true));
    REQUIRE(mr.cause() == Cause::request_accepted);
    REQUIRE(mr.one<AtsssControlParameters>());
    CHECK(*mr.one<AtsssControlParameters>()->mptcp == m);
    CHECK(link_of(first_up_seid) == published);
    // ... and one without ATSSS keeps them (the spec diff starts from the session's spec).
    REQUIRE(h.modify(first_up_seid, [](Writer&) {}).cause() == Cause::request_accepted);
    CHECK(link_of(first_up_seid) == published);

    // A second session gets the next addresses; a third finds the /30s exhausted: the session
    // is accepted without 221 (it is conditional on allocation), and nothing is held for it.
    Establishment e2 = e;
    e2.cp = cp_f_seid(cp_seid + 1);
    e2.pdrs[1].pdi.ue_ip_addresses = {ue_address(ue_ip + 1, true)};
    Reply r2 = h.send(e2.bytes());
    REQUIRE(r2.cause() == Cause::request_accepted);
    CHECK(r2.one<AtsssControlParameters>()->mptcp->link.tgpp_ipv4 == wire(0xc6130a02));
    Establishment e3 = e;
    e3.cp = cp_f_seid(cp_seid + 2);
    e3.pdrs[1].pdi.ue_ip_addresses = {ue_address(ue_ip + 2, true)};
    Reply r3 = h.send(e3.bytes());
    REQUIRE(r3.cause() == Cause::request_accepted);
    CHECK_FALSE(r3.one<AtsssControlParameters>());
    CHECK(h.procs.counters().event(SessionEvent::atsss_mptcp_not_provided) == 1);
    const uint64_t third = r3.one<FSeid>()->seid.value();
    CHECK_FALSE(h.procs.session(third)->mptcp);

    // Deleting the first session frees its link-specific addresses for the third.
    REQUIRE(h.remove(first_up_seid).cause() == Cause::request_accepted);
    Reply m3 = h.modify(third, provide_atsss(true));
    REQUIRE(m3.cause() == Cause::request_accepted);
    REQUIRE(m3.one<AtsssControlParameters>());
    CHECK(m3.one<AtsssControlParameters>()->mptcp->link.tgpp_ipv4 == wire(0xc6130a01));

    SECTION("an enabled proxy without address, port or pools is refused by check()") {
        SessionProceduresConfig bad = c;
        bad.mptcp_proxy.port = 0;
        CHECK(check(bad));
        bad = c;
        bad.mptcp_proxy.ipv4.reset();
        bad.mptcp_proxy.ipv6.reset();
        CHECK(check(bad));
        bad = c;
        bad.mptcp_proxy.non_tgpp_pools.clear();
        CHECK(check(bad));
    }
}

}  // namespace
