// libFuzzer target: SDF filters (dataplane/sdf.h) on untrusted input. Pure C++, no EAL (only
// the linear classifier is built; the rte_acl one is compared with it in the unit tests).
//
// Input: an IPFilterRule text, optionally followed by a NUL octet and an inner IP packet
// (tests/fuzz/corpus/sdf/, written by tests/fuzz/make_corpus.py). Without a NUL the whole input
// is tried as both.
//
// Invariants checked (abort on violation):
//   - parse_flow_description never crashes; an error is a non-empty message; a parsed value
//     prints (to_string) to a text that parses back to the same value and prints the same;
//   - extract_key never reads outside the packet (ASan) and, when it succeeds, gives family 4
//     or 6, ports only for TCP/UDP/SCTP, an SPI only for ESP, a 20-bit flow label (IPv6 only),
//     and the uplink key is the downlink key with UE and remote sides swapped;
//   - matches() on the parsed filter (plus ToS, SPI and flow label taken from the packet now and
//     then) agrees with a one-rule linear Classifier, which accepts every parsed filter.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "dataplane/sdf.h"

namespace {

using namespace braid::dataplane::sdf;

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "fuzz_sdf: invariant violated: %s\n", what);
        std::abort();
    }
}

UeAddresses ue_addresses() {
    UeAddresses ue;
    ue.v4.family = 4;
    ue.v4.len = 32;
    const uint8_t v4[] = {198, 19, 100, 1};
    std::memcpy(ue.v4.addr.data(), v4, sizeof(v4));
    ue.v6.family = 6;
    ue.v6.len = 64;
    const uint8_t v6[] = {0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0x00, 0x01};  // 2001:db8:100:1::/64
    std::memcpy(ue.v6.addr.data(), v6, sizeof(v6));
    return ue;
}

const UeAddresses ue = ue_addresses();

std::optional<FlowDescription> check_parse(std::string_view text) {
    auto r = parse_flow_description(text);
    if (auto* e = std::get_if<std::string>(&r)) {
        check(!e->empty(), "empty error message");
        return std::nullopt;
    }
    const FlowDescription& fd = std::get<FlowDescription>(r);
    const std::string printed = to_string(fd);
    auto again = parse_flow_description(printed);
    check(std::holds_alternative<FlowDescription>(again), "to_string output does not parse");
    check(std::get<FlowDescription>(again) == fd, "to_string does not round-trip");
    check(to_string(std::get<FlowDescription>(again)) == printed, "to_string is not canonical");
    return fd;
}

bool check_key(const uint8_t* p, size_t n, Direction dir, PacketKey& k) {
    if (!extract_key(p, n, dir, k)) {
        return false;
    }
    check(k.family == 4 || k.family == 6, "family");
    check(!k.has_ports || k.proto == 6 || k.proto == 17 || k.proto == 132, "ports without L4");
    check(!k.has_spi || k.proto == 50, "SPI without ESP");
    check(k.flow_label <= 0xfffff, "flow label wider than 20 bits");
    check(k.family == 6 || k.flow_label == 0, "flow label on IPv4");
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
    const size_t text_len = nul ? static_cast<size_t>(nul - data) : size;
    const uint8_t* pkt = nul ? nul + 1 : data;
    const size_t pkt_len = nul ? size - text_len - 1 : size;

    const std::optional<FlowDescription> fd =
        check_parse(std::string_view(reinterpret_cast<const char*>(data), text_len));

    PacketKey dl;
    PacketKey ul;
    const bool has_dl = check_key(pkt, pkt_len, Direction::downlink, dl);
    const bool has_ul = check_key(pkt, pkt_len, Direction::uplink, ul);
    check(has_dl == has_ul, "direction changes whether a key is extracted");
    if (!has_dl) {
        return 0;
    }
    check(dl.ue == ul.remote && dl.remote == ul.ue && dl.ue_port == ul.remote_port &&
              dl.remote_port == ul.ue_port && dl.proto == ul.proto &&
              dl.has_ports == ul.has_ports && dl.tos == ul.tos && dl.flow_label == ul.flow_label &&
              dl.has_spi == ul.has_spi && dl.spi == ul.spi,
          "uplink key is not the swapped downlink key");
    if (!fd) {
        return 0;
    }

    Filter f;
    f.flow = *fd;
    // Optional fields from the packet's own bytes, so that they sometimes match.
    if (pkt_len > 1 && (pkt[pkt_len - 1] & 1) != 0) {
        f.tos = std::array<uint8_t, 2>{dl.tos, pkt[pkt_len - 2]};
    }
    if (pkt_len > 1 && (pkt[pkt_len - 1] & 2) != 0) {
        f.spi = dl.spi;
    }
    if (pkt_len > 1 && (pkt[pkt_len - 1] & 4) != 0) {
        f.flow_label = dl.flow_label;
    }
    const bool m = matches(f, dl, ue);
    std::string err;
    RuleInput r;
    r.pdr_index = 7;
    r.precedence = 1;
    r.filters.push_back(f);
    auto c = Classifier::build({r}, ue, &err, Classifier::Engine::linear);
    check(c != nullptr, "a parsed filter is refused by Classifier::build");
    check(c->match(dl, 0, std::nullopt) == (m ? 7 : -1), "classifier and matches() disagree");
    return 0;
}
