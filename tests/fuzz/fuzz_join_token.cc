// libFuzzer target: braid::dataplane::join_syn_token() on arbitrary bytes (a T-PDU's inner
// packet: proxy_input routes MP_JOIN SYNs to the worker holding the token with it). Pure C++,
// no EAL.
//
// Invariants checked (abort on violation):
//   - a token is found only in an IPv4/IPv6 packet whose protocol is TCP;
//   - the result does not depend on bytes after the IP packet's own length (padding);
//   - the same input gives the same answer twice (no hidden state).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "dataplane/token_owner.h"

namespace {

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const uint8_t> in(data, size);
    const auto token = braid::dataplane::join_syn_token(in);
    check(token == braid::dataplane::join_syn_token(in), "deterministic");
    if (!token) {
        return 0;
    }
    const bool v4 = size >= 20 && data[0] >> 4 == 4 && data[9] == 6;
    const bool v6 = size >= 40 && data[0] >> 4 == 6 && data[6] == 6;
    check(v4 || v6, "a token only from TCP over IPv4/IPv6");
    std::vector<uint8_t> padded(data, data + size);
    padded.insert(padded.end(), {0xff, 0xff, 0xff, 0xff});
    check(braid::dataplane::join_syn_token(padded) == token, "padding changes nothing");
    return 0;
}
