// libFuzzer target: braid::tcp::parse_icmp_error() (tcpstack/icmp.h) on arbitrary bytes taken
// as an IP packet — what tcp_local hands TcpHost::input_icmp from icmp_local and pdr_dl. Pure
// C++, no EAL.
//
// Invariants checked (abort on violation):
//   - a failed parse carries a named error (< IcmpParseError::count);
//   - a parsed error's addresses have the family of the packet (IPv6 iff the first nibble is 6)
//     and its local address is the packet's destination (the quoted source);
//   - hard() only for Destination Unreachable; too_big only for ICMPv4 3/4 or ICMPv6 2;
//   - the parse is a pure function of the bytes (a second parse gives the same result), and
//     octets after the length the IP header states do not change it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "tcpstack/icmp.h"

namespace {

using namespace braid::tcp;

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

bool same(const std::optional<IcmpError>& a, const std::optional<IcmpError>& b) {
    if (a.has_value() != b.has_value()) {
        return false;
    }
    if (!a) {
        return true;
    }
    return a->v6 == b->v6 && a->type == b->type && a->code == b->code && a->kind == b->kind &&
           a->tuple == b->tuple && a->seq == b->seq && a->mtu == b->mtu;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const uint8_t> in(data, size);
    IcmpParseError why = IcmpParseError::count;
    const auto e = parse_icmp_error(in, &why);
    if (!e) {
        check(why < IcmpParseError::count, "failure without a named error");
        return 0;
    }
    const bool v6 = size > 0 && data[0] >> 4 == 6;
    check(e->v6 == v6, "family differs from the packet's");
    check(e->tuple.local.family == (v6 ? 6 : 4) && e->tuple.remote.family == e->tuple.local.family,
          "tuple family");
    const size_t dst_off = v6 ? 24 : 16;
    check(std::memcmp(e->tuple.local.bytes.data(), data + dst_off, v6 ? 16 : 4) == 0,
          "local address is not the packet's destination");
    check(!e->hard() || e->kind == IcmpKind::unreachable, "hard error that is not unreachable");
    if (e->kind == IcmpKind::too_big) {
        check(v6 ? e->type == 2 : (e->type == 3 && e->code == 4), "too_big from another type");
    }
    IcmpParseError why2 = IcmpParseError::count;
    check(same(e, parse_icmp_error(in, &why2)), "parse is not deterministic");
    std::vector<uint8_t> padded(data, data + size);
    padded.resize(size + 16, 0xa5);
    check(same(e, parse_icmp_error(padded, nullptr)), "trailing octets changed the result");
    return 0;
}
