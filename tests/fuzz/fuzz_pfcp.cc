// libFuzzer target: the PFCP codec (control/pfcp).
//
// The input is read twice: as a datagram (MessageReader: headers, FO chains) and as a bare IE
// list. Every IE list is walked recursively; every IE braid has a typed parser for is parsed.
// Contracts checked (a violation aborts):
//  - nothing crashes, reads out of bounds or throws, whatever the bytes;
//  - a header that parsed re-encodes (encode_header) to a header that parses equal;
//  - an IE list that parsed re-encodes with Writer (grouped IEs rebuilt member by member)
//    to the identical bytes;
//  - a typed IE that parsed encodes without a Writer error, and the encoding parses back to an
//    equal value.
// Not wired into meson; build by hand:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. control/pfcp/*.cc \
//       tests/fuzz/fuzz_pfcp.cc -o /tmp/fuzz_pfcp
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "control/pfcp/header.h"
#include "control/pfcp/ie.h"
#include "control/pfcp/ies.h"

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

}  // namespace

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
    return 0;
}
