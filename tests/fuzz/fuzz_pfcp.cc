// libFuzzer target: the PFCP codec (control/pfcp) and the PFCP node (control/pfcp/node.h).
//
// The input is read three times: as a datagram (MessageReader: headers, FO chains), as a bare IE
// list, and as a datagram handed to a fresh pfcp::Node (sans I/O, no sockets) twice: from a peer
// with an association (session messages reach a stub SessionHandler) and from one without; the
// node's timers then run past every retransmission and heartbeat deadline. Every IE list is
// walked recursively; every IE braid has a typed parser for is parsed.
// Contracts checked (a violation aborts):
//  - nothing crashes, reads out of bounds or throws, whatever the bytes;
//  - a header that parsed re-encodes (encode_header) to a header that parses equal;
//  - an IE list that parsed re-encodes with Writer (grouped IEs rebuilt member by member)
//    to the identical bytes;
//  - a typed IE that parsed encodes without a Writer error, and the encoding parses back to an
//    equal value;
//  - every datagram the node sends is one well-framed PFCP message with well-framed IEs, at most
//    one answer per message received (plus the node's own requests), and a response to a
//    request carries the request's sequence number.
// Built by meson with -Dfuzz=true (tests/fuzz/meson.build); scripts/fuzz.sh runs it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <vector>

#include <rte_log.h>

#include "control/pfcp/header.h"
#include "control/pfcp/ie.h"
#include "control/pfcp/ies.h"
#include "control/pfcp/node.h"

namespace {

using namespace braid::pfcp;

[[noreturn]] void fail(const char* what, IeType t) {
    std::fprintf(stderr, "fuzz_pfcp: %s (IE %u %.*s)\n", what, static_cast<unsigned>(t),
                 static_cast<int>(to_string(t).size()), to_string(t).data());
    std::abort();
}

template <typename T>
void check_typed(const IeView& ie) {
    auto parsed = parse_ie<T>(ie);
    if (!parsed) {
        if (parsed.error().type != ie.type()) {
            fail("typed parse error names another IE", ie.type());
        }
        return;
    }
    std::vector<uint8_t> out;
    Writer w(out);
    parsed->encode(w);
    if (!w.ok()) {
        fail("a parsed IE does not encode", ie.type());
    }
    auto list = IeList::parse(std::span<const uint8_t>(out));
    if (!list || list->begin() == list->end()) {
        fail("an encoded IE does not frame", ie.type());
    }
    auto again = parse_ie<T>(*list->begin());
    if (!again) {
        fail("an encoded IE does not parse", ie.type());
    }
    if (!(*again == *parsed)) {
        fail("parse(encode(x)) != x", ie.type());
    }
}

void check_leaf(const IeView& ie) {
    switch (ie.type()) {
        case IeType::cause:
            return check_typed<CauseIe>(ie);
        case IeType::offending_ie:
            return check_typed<OffendingIe>(ie);
        case IeType::recovery_time_stamp:
            return check_typed<RecoveryTimeStamp>(ie);
        case IeType::node_id:
            return check_typed<NodeId>(ie);
        case IeType::f_seid:
            return check_typed<FSeid>(ie);
        case IeType::f_teid:
            return check_typed<FTeid>(ie);
        case IeType::ue_ip_address:
            return check_typed<UeIpAddress>(ie);
        case IeType::up_function_features:
            return check_typed<UpFunctionFeatures>(ie);
        case IeType::cp_function_features:
            return check_typed<CpFunctionFeatures>(ie);
        case IeType::source_interface:
            return check_typed<SourceInterface>(ie);
        case IeType::destination_interface:
            return check_typed<DestinationInterface>(ie);
        case IeType::network_instance:
            return check_typed<NetworkInstance>(ie);
        case IeType::sdf_filter:
            return check_typed<SdfFilter>(ie);
        case IeType::apply_action:
            return check_typed<ApplyAction>(ie);
        case IeType::outer_header_creation:
            return check_typed<OuterHeaderCreation>(ie);
        case IeType::outer_header_removal:
            return check_typed<OuterHeaderRemoval>(ie);
        case IeType::precedence:
            return check_typed<Precedence>(ie);
        case IeType::pdr_id:
            return check_typed<PdrId>(ie);
        case IeType::far_id:
            return check_typed<FarId>(ie);
        case IeType::qer_id:
            return check_typed<QerId>(ie);
        case IeType::urr_id:
            return check_typed<UrrId>(ie);
        case IeType::qfi:
            return check_typed<Qfi>(ie);
        case IeType::gate_status:
            return check_typed<GateStatus>(ie);
        case IeType::mbr:
            return check_typed<Mbr>(ie);
        case IeType::gbr:
            return check_typed<Gbr>(ie);
        case IeType::volume_threshold:
            return check_typed<VolumeThreshold>(ie);
        case IeType::time_threshold:
            return check_typed<TimeThreshold>(ie);
        case IeType::measurement_method:
            return check_typed<MeasurementMethod>(ie);
        case IeType::reporting_triggers:
            return check_typed<ReportingTriggers>(ie);
        case IeType::measurement_period:
            return check_typed<MeasurementPeriod>(ie);
        default:
            return;  // unknown or not yet typed: opaque
    }
}

// Walks `list`, checking every leaf, and rebuilds it into `w` IE by IE.
void walk(const IeList& list, Writer& w) {
    for (IeView ie : list) {
        if (ie.depth() != list.depth()) {
            fail("IE depth differs from its list", ie.type());
        }
        if (ie.is_vendor_specific()) {
            w.begin_vendor_ie(ie.raw_type(), ie.enterprise_id());
            w.put_bytes(ie.value());
            w.end_ie();
            continue;
        }
        if (is_grouped(ie.type())) {
            auto members = ie.members();
            if (members) {
                w.begin_grouped(ie.type());
                walk(*members, w);
                w.end_grouped();
                continue;
            }
            if (members.error().code != IeError::Code::excessive_nesting &&
                members.error().code != IeError::Code::truncated_header &&
                members.error().code != IeError::Code::length_beyond_buffer &&
                members.error().code != IeError::Code::invalid_length) {
                fail("unexpected member framing error", ie.type());
            }
        } else {
            check_leaf(ie);
        }
        w.add(ie.type(), ie.value());  // opaque: copied as is
    }
}

void check_list(std::span<const uint8_t> bytes) {
    auto list = IeList::parse(bytes);
    if (!list) {
        return;
    }
    (void)validate_tree(*list);
    std::vector<uint8_t> out;
    Writer w(out);
    walk(*list, w);
    if (!w.ok()) {
        fail("re-encoding a parsed IE list failed", IeType{});
    }
    if (out.size() != bytes.size() || !std::equal(out.begin(), out.end(), bytes.begin())) {
        fail("re-encoded IE list differs", IeType{});
    }
}

void check_header(const Message& m) {
    std::vector<uint8_t> out;
    encode_header(m.header, out);
    out.insert(out.end(), m.body.begin(), m.body.end());
    auto again = parse_message(std::span<const uint8_t>(out));
    if (!again) {
        fail("a parsed header does not re-parse", IeType{});
    }
    if (!(again->header == m.header) || again->body.size() != m.body.size()) {
        fail("header round trip differs", IeType{});
    }
}

// ---- the node ------------------------------------------------------------------------------

// Answers every session request with a bare Cause 1 response; deletes nothing.
struct StubHandler final : SessionHandler {
    std::optional<std::vector<uint8_t>> handle_session_message(const Message& msg,
                                                               const PeerRef&) override {
        if (!is_request(msg.header.type)) {
            return std::nullopt;
        }
        std::vector<uint8_t> out;
        Header h;
        h.type = static_cast<MessageType>(static_cast<uint8_t>(msg.header.type) + 1);
        h.sequence = msg.header.sequence;
        h.seid = Seid(1);
        const size_t start = begin_message(h, out);
        Writer w(out);
        CauseIe{Cause::request_accepted}.encode(w);
        finish_message(out, start);
        return out;
    }
    size_t drop_peer_sessions(const NodeId&) override { return 0; }
};

void check_sent(std::span<const uint8_t> d) {
    auto m = parse_message(d);
    if (!m) {
        fail("the node sent an unparsable message", IeType{});
    }
    if (m->bytes.size() != d.size()) {
        fail("the node sent octets after its message", IeType{});
    }
    if (!IeList::parse(m->body)) {
        fail("the node sent badly framed IEs", IeType{});
    }
}

void drive_node(std::span<const uint8_t> input) {
    const PeerAddress smf{"198.18.5.1", 8805};
    const PeerAddress stranger{"198.18.5.2", 8805};
    NodeConfig cfg;
    cfg.node_id = NodeId::from_ipv4({198, 18, 0, 1});
    cfg.recovery_time = RecoveryTimeStamp{0xe8000000};
    cfg.heartbeat_interval_ms = 1000;
    cfg.t1_ms = 100;
    cfg.n1 = 2;
    cfg.duplicate_window_ms = 500;
    cfg.max_cached_responses = 16;
    cfg.peers = {stranger};

    struct Out {
        PeerAddress to;
        std::vector<uint8_t> bytes;
    };
    std::vector<Out> sent;
    StubHandler handler;
    Node node(
        cfg,
        [&](const PeerAddress& to, std::span<const uint8_t> d) {
            check_sent(d);
            sent.push_back({to, std::vector<uint8_t>(d.begin(), d.end())});
        },
        &handler);
    node.start(0);

    // An association for `smf`: Association Setup Request, seq 1.
    std::vector<uint8_t> setup;
    Header h;
    h.type = MessageType::association_setup_request;
    h.sequence = SequenceNumber(1);
    const size_t start = begin_message(h, setup);
    Writer w(setup);
    NodeId::from_fqdn("smf.example.org").encode(w);
    RecoveryTimeStamp{0xe9000000}.encode(w);
    finish_message(setup, start);
    node.on_datagram(setup, smf, 1);
    if (node.associations().size() != 1) {
        fail("association setup failed", IeType{});
    }

    size_t messages = 0;  // an upper bound of what the input may answer: one per message
    for (std::span<const uint8_t> rest = input; rest.size() >= 8;) {
        auto m = parse_message(rest);
        ++messages;
        if (!m) {
            break;
        }
        rest = rest.subspan(m->bytes.size());
    }
    for (const PeerAddress& from : {smf, stranger}) {
        sent.clear();
        node.on_datagram(input, from, 2);
        size_t answers = 0;
        for (const Out& o : sent) {
            answers += o.to == from;
        }
        if (answers > std::max<size_t>(messages, 1)) {
            fail("more answers than messages", IeType{});
        }
        // A response to a whole-datagram request echoes its sequence number.
        auto req = parse_message(input);
        if (req && is_request(req->header.type) && !req->header.follow_on && answers == 1 &&
            req->bytes.size() == input.size()) {
            for (const Out& o : sent) {
                auto rsp = parse_message(std::span<const uint8_t>(o.bytes));
                if (o.to == from && !is_request(rsp->header.type) &&
                    !(rsp->header.sequence == req->header.sequence)) {
                    fail("a response does not echo the request's sequence number", IeType{});
                }
            }
        }
    }
    for (uint64_t t = 10; t < 6000; t += 50) {
        node.on_timer(t);
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    rte_log_set_global_level(RTE_LOG_EMERG);  // the node logs every reject; keep runs fast
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 65535 + 64) {
        return -1;  // one UDP datagram at most
    }
    const std::span<const uint8_t> input(data, size);

    MessageReader reader(input);
    while (!reader.done()) {
        auto m = reader.next();
        if (!m) {
            break;
        }
        check_header(*m);
        check_list(m->body);
    }
    check_list(input);
    drive_node(input);
    return 0;
}
