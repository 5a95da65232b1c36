// libFuzzer target: the PFCP session procedures (control/pfcp/session_procedures.h) over
// MemorySessionActions, sans I/O.
//
// Byte 0 of the input says what the rest is (seeds: tests/unit/pfcp/session_vectors.py
// --corpus tests/fuzz/corpus/pfcp_session):
//   0: a datagram from the SMF; every message in it goes to the handler, as the server does
//   1: the IEs of a Session Establishment Request
//   2: the IEs of a Session Modification Request for an established session
//   3: the IEs of a Session Deletion Request for that session
//   4: the IEs of the Session Report Response to a Session Report Request braid sent
// Every input starts from a fresh handler with one session established by the scapy-built
// request of tests/unit/pfcp/test_pfcp_session.cc (PDRs 1-3, FARs 1-2, QER 1, URR 1, BAR 1).
// Contracts checked (a violation aborts):
//  - nothing crashes, reads out of bounds, leaks or throws, whatever the bytes;
//  - a request gets one response that parses, of the matching type, with the request's sequence
//    number and a Cause; an accepted establishment carries a UP F-SEID;
//  - a rejected request changes nothing, in the dataplane or in the procedures;
//  - the actions never refuse a spec: the procedures check everything the dataplane would.
#include <rte_log.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "control/pfcp/header.h"
#include "control/pfcp/ie.h"
#include "control/pfcp/ies.h"
#include "control/pfcp/ies_session.h"
#include "control/pfcp/session_procedures.h"

namespace {

using namespace braid::pfcp;
namespace dp = braid::dataplane;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_pfcp_session: %s\n", what);
    std::abort();
}

// The actions, with the contract that they never refuse what the procedures hand them.
class CheckedActions final : public SessionActions {
public:
    MemorySessionActions inner;

    std::optional<dp::SpecError> create(const dp::SessionSpec& spec) override {
        auto e = inner.create(spec);
        if (e) {
            std::fprintf(stderr, "%s %s\n", e->rule.c_str(), e->message.c_str());
            fail("the procedures handed over a spec the dataplane refuses (create)");
        }
        return e;
    }
    std::optional<dp::SpecError> modify(const dp::SessionSpec& spec, const dp::ModifyFlags& flags,
                                        std::vector<dp::UsageReport>* reports) override {
        auto e = inner.modify(spec, flags, reports);
        if (e) {
            std::fprintf(stderr, "%s %s\n", e->rule.c_str(), e->message.c_str());
            fail("the procedures handed over a spec the dataplane refuses (modify)");
        }
        return e;
    }
    std::optional<std::vector<dp::UsageReport>> remove(uint64_t seid) override {
        return inner.remove(seid);
    }
    const dp::SessionSpec* spec(uint64_t seid) const override { return inner.spec(seid); }
    std::vector<dp::SessionReport> take_reports() override { return inner.take_reports(); }
    std::optional<uint64_t> teid_owner(uint32_t teid) const override {
        return inner.teid_owner(teid);
    }
    std::optional<uint64_t> ue_ipv4_owner(uint32_t ue_ipv4) const override {
        return inner.ue_ipv4_owner(ue_ipv4);
    }
    std::optional<uint64_t> ue_ipv6_owner(const Ipv6Address& prefix) const override {
        return inner.ue_ipv6_owner(prefix);
    }
    int64_t unix_ms(uint64_t ms) const override { return inner.unix_ms(ms); }
};

class Sender final : public RequestSender {
public:
    std::vector<ResponseCallback> callbacks;
    bool send_request(const NodeId&, std::vector<uint8_t> msg, ResponseCallback cb) override {
        auto m = parse_message(std::span<const uint8_t>(msg));
        if (!m || m->header.type != MessageType::session_report_request) {
            fail("a Session Report Request that does not parse");
        }
        callbacks.push_back(std::move(cb));
        return true;
    }
};

// A digest of everything a rejected request must leave alone.
std::string state(const CheckedActions& a, const SessionProcedures& p) {
    std::string out;
    auto add = [&](uint64_t v) { out += std::to_string(v) + ","; };
    for (const auto& [seid, s] : a.inner.sessions) {
        add(seid);
        for (const auto& r : s.pdrs) {
            add(r.id), add(r.precedence), add(static_cast<uint64_t>(r.source));
            add(r.local_teid.value_or(0xffffffffff)), add(r.ue_ipv4.value_or(0xffffffffff));
            add(r.qfi.value_or(0xff)), add(r.sdf_filters.size()), add(r.remove_outer_header);
            add(r.far_id), out += r.network_instance + ";";
            for (auto q : r.qer_ids) {
                add(q);
            }
            out += "|";
            for (auto u : r.urr_ids) {
                add(u);
            }
            out += ";";
        }
        for (const auto& f : s.fars) {
            add(f.id), add(f.action.drop), add(f.action.forward), add(f.action.buffer);
            add(f.action.notify_cp), add(static_cast<uint64_t>(f.destination));
            add(f.outer_header ? f.outer_header->teid : 0xffffffffff);
            add(f.outer_header ? f.outer_header->peer_ipv4 : 0), add(f.bar_id.value_or(999));
            out += f.network_instance + ";";
        }
        for (const auto& q : s.qers) {
            add(q.id), add(q.gate_ul_open), add(q.gate_dl_open), add(q.mbr_ul_kbps);
            add(q.mbr_dl_kbps), add(q.qfi.value_or(0xff));
        }
        for (const auto& u : s.urrs) {
            add(u.id), add(u.measure_volume), add(u.measure_duration),
                add(u.volume_threshold_bytes);
            add(u.time_threshold_s), add(u.measurement_period_s);
        }
        for (const auto& b : s.bars) {
            add(b.id), add(b.buffering_packets);
        }
        const auto* ps = p.session(seid);
        if (ps != nullptr) {
            add(ps->cp_f_seid.seid.value()), add(ps->urrs.size());
            for (const auto& [id, u] : ps->urrs) {
                add(id), add(u.method), add(u.triggers), add(u.volume_threshold.value_or(0));
                add(u.time_threshold.value_or(0)), add(u.measurement_period.value_or(0));
            }
        }
        out += "\n";
    }
    add(p.session_count());
    return out;
}

std::vector<uint8_t> from_hex(const char* s) {
    std::vector<uint8_t> out;
    for (; s[0] != 0 && s[1] != 0; s += 2) {
        out.push_back(static_cast<uint8_t>(std::strtoul(std::string(s, 2).c_str(), nullptr, 16)));
    }
    return out;
}

// tests/unit/pfcp/session_vectors.py "establishment" (CP SEID 0x1122334455667788).
const std::vector<uint8_t>& base_establishment() {
    static const std::vector<uint8_t> v = from_hex(
        "21320218000000000000000000020100003c000500c61204010039000d021122334455667788c612"
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
    return v;
}

const NodeId smf_id = NodeId::from_ipv4({198, 18, 4, 1});
const PeerRef smf{"198.18.4.1", 8805, smf_id};

SessionProceduresConfig config() {
    SessionProceduresConfig c;
    c.node_id = NodeId::from_ipv4({198, 18, 4, 2});
    c.n3_ipv4 = 0xc6120001;
    c.teid_first = 0x1000;
    c.teid_last = 0x10ff;
    c.ue_ip_pools = {UeIpPoolConfig{"", 4, {198, 20, 0, 0}, 28},
                     UeIpPoolConfig{"", 6, {0x20, 0x01, 0x0d, 0xb8, 0x01}, 60}};
    c.first_seid = 0x100000001;
    return c;
}

// One request through the handler, with the contracts checked. Returns the response's Cause.
std::optional<Cause> request(SessionProcedures& procs, const CheckedActions& actions,
                             const Message& m) {
    const std::string before = state(actions, procs);
    auto r = procs.handle_session_message(m, smf);
    const bool is_request = m.header.type == MessageType::session_establishment_request ||
                            m.header.type == MessageType::session_modification_request ||
                            m.header.type == MessageType::session_deletion_request;
    if (!r) {
        if (is_request) {
            fail("a request without a response");
        }
        return std::nullopt;
    }
    if (!is_request) {
        fail("a response to something other than a request");
    }
    auto rm = parse_message(std::span<const uint8_t>(*r));
    if (!rm || rm->bytes.size() != r->size()) {
        fail("a response that does not parse");
    }
    if (static_cast<uint8_t>(rm->header.type) != static_cast<uint8_t>(m.header.type) + 1 ||
        !(rm->header.sequence == m.header.sequence)) {
        fail("a response of the wrong type or sequence number");
    }
    auto ies = IeList::parse(rm->body);
    if (!ies || validate_tree(*ies).ok() == false) {
        fail("a response whose IEs do not frame");
    }
    auto cause = decode_mandatory<CauseIe>(*ies);
    if (!cause) {
        fail("a response without a Cause");
    }
    if (is_acceptance(cause->value)) {
        if (m.header.type == MessageType::session_establishment_request) {
            auto up = decode_mandatory<FSeid>(*ies);
            if (!up || procs.session(up->seid.value()) == nullptr) {
                fail("an accepted establishment without a UP F-SEID of a session braid keeps");
            }
        }
        return cause->value;
    }
    if (state(actions, procs) != before) {
        fail("a rejected request changed the session state");
    }
    return cause->value;
}

std::vector<uint8_t> wrap(MessageType type, uint64_t seid, std::span<const uint8_t> ies) {
    std::vector<uint8_t> out;
    Header h;
    h.type = type;
    h.seid = Seid(seid);
    h.sequence = SequenceNumber(0x77);
    const size_t start = begin_message(h, out);
    out.insert(out.end(), ies.begin(), ies.end());
    if (!finish_message(out, start)) {
        out.clear();
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    rte_log_set_global_level(RTE_LOG_EMERG);  // the procedures log every rejection
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) {
        return 0;
    }
    CheckedActions actions;
    Sender sender;
    SessionProcedures procs(config(), actions, &sender);
    auto base = parse_message(std::span<const uint8_t>(base_establishment()));
    if (!base) {
        fail("the base establishment does not parse");
    }
    request(procs, actions, *base);
    const uint64_t seid = 0x100000001;
    if (procs.session(seid) == nullptr) {
        fail("the base establishment was not accepted");
    }
    actions.inner.set_usage(seid, 1, {1, 100, 2, 200});

    const std::span<const uint8_t> rest(data + 1, size - 1);
    std::vector<uint8_t> msg;
    switch (data[0] % 5) {
        case 0: {
            braid::pfcp::MessageReader reader(rest);
            while (!reader.done()) {
                auto m = reader.next();
                if (!m) {
                    break;
                }
                if (is_session_message(m->header.type)) {
                    request(procs, actions, *m);
                }
            }
            return 0;
        }
        case 1:
            msg = wrap(MessageType::session_establishment_request, 0, rest);
            break;
        case 2:
            msg = wrap(MessageType::session_modification_request, seid, rest);
            break;
        case 3:
            msg = wrap(MessageType::session_deletion_request, seid, rest);
            break;
        case 4: {
            actions.inner.pending_reports.push_back(dp::DownlinkDataReport{seid, 2});
            actions.inner.pending_reports.push_back(
                dp::ErrorIndicationReport{seid, 0x01000002, 0xc6120002});
            procs.poll(0);
            if (sender.callbacks.size() != 1) {
                fail("no Session Report Request");
            }
            auto rsp = wrap(MessageType::session_report_response, seid, rest);
            if (auto m = parse_message(std::span<const uint8_t>(rsp))) {
                sender.callbacks[0](*m);
            }
            // The session is either kept or deleted in both places.
            if ((procs.session(seid) == nullptr) != (actions.spec(seid) == nullptr)) {
                fail("the procedures and the dataplane disagree about a session");
            }
            return 0;
        }
    }
    if (msg.empty()) {
        return 0;
    }
    auto m = parse_message(std::span<const uint8_t>(msg));
    if (!m) {
        return 0;
    }
    request(procs, actions, *m);
    // Follow-up: a query of everything must work on whatever the request left.
    if (procs.session(seid) != nullptr) {
        const uint8_t qaurr[] = {0x00, 0x31, 0x00, 0x01, 0x04};
        auto q = wrap(MessageType::session_modification_request, seid, qaurr);
        auto qm = parse_message(std::span<const uint8_t>(q));
        if (!qm || request(procs, actions, *qm) != Cause::request_accepted) {
            fail("QAURR refused on a session the request left behind");
        }
    }
    return 0;
}
