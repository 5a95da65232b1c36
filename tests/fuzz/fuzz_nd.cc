// libFuzzer target: braid::dataplane::nd::parse() on arbitrary bytes (an ICMPv6 Neighbor
// Solicitation or Advertisement arriving on N3 or N6). Pure C++, no EAL. Build by hand:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. dataplane/nd.cc \
//       tests/fuzz/fuzz_nd.cc -o /tmp/fuzz_nd && /tmp/fuzz_nd -max_total_time=60
//
// Input: octet 0 the hop limit, 1..16 the source, 17..32 the destination, the rest the ICMPv6
// message. Invariants checked (abort on violation):
//   - a parse never reads outside the message (ASan) and fails with a named reason;
//   - an accepted message came with hop limit 255, code 0, at least 24 octets and a unicast
//     target equal to octets 8..23 of the message;
//   - the solicitation build_solicitation() makes for that target parses back to the same
//     target with braid's link-layer address, and its checksum verifies.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "dataplane/nd.h"

namespace {

using namespace braid::dataplane;

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 33) {
        return 0;
    }
    nd::Ipv6Addr src, dst;
    std::memcpy(src.data(), data + 1, 16);
    std::memcpy(dst.data(), data + 17, 16);
    // A copy of exactly the message's size, so that ASan sees any read beyond it.
    std::vector<uint8_t> icmp(data + 33, data + size);
    const nd::ParseResult r = nd::parse(icmp.data(), icmp.size(), data[0], src, dst);
    if (!r.msg) {
        check(!nd::to_string(r.error).empty() && nd::to_string(r.error) != "?", "named reason");
        return 0;
    }
    check(data[0] == 255, "hop limit 255");
    check(icmp.size() >= 24 && icmp[1] == 0, "length and code");
    check(std::memcmp(r.msg->target.data(), icmp.data() + 8, 16) == 0, "target");
    check(r.msg->target[0] != 0xff, "unicast target");

    const MacAddr mac{2, 0, 0, 0, 6, 1};
    std::vector<uint8_t> frame(nd::solicitation_frame_len);
    check(nd::build_solicitation(frame, mac, src, r.msg->target) == frame.size(), "built");
    nd::Ipv6Addr group;
    std::memcpy(group.data(), frame.data() + 38, 16);
    check(nd::icmp6_checksum(src, group, frame.data() + 54, 32) == 0, "checksum");
    const nd::ParseResult back = nd::parse(frame.data() + 54, 32, frame[21], src, group);
    const bool dad_like = src == nd::Ipv6Addr{};
    check(back.msg.has_value() != dad_like, "round trip");
    if (back.msg) {
        check(back.msg->target == r.msg->target && back.msg->lladdr == mac, "same target");
    }
    return 0;
}
