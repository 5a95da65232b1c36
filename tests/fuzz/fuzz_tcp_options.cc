// libFuzzer target: braid::tcp::wire::parse_options() and parse_segment() on arbitrary bytes
// (the options area of a TCP header, and a whole segment). Pure C++, no EAL.
//
// Invariants checked (abort on violation):
//   - a failed parse carries a named error (< WireError::count);
//   - every span the parser returns (MPTCP options, TFO cookie, segment options and payload)
//     lies inside the input;
//   - SACK blocks ≤ 4, MPTCP options ≤ max_mptcp_options, each MPTCP span starts with kind 30
//     and has the length its second byte announces;
//   - what parsed re-encodes (emit_options) to ≤ 40 bytes, a multiple of 4, that parses again to
//     the same MSS, window scale, SACK-permitted, timestamps, MPTCP options and TFO cookie, and to
//     a prefix of the SACK blocks (blocks that do not fit are dropped, the first ones kept).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "tcpstack/wire/tcp.h"

namespace {

using namespace braid::tcp::wire;

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

bool inside(std::span<const uint8_t> inner, std::span<const uint8_t> outer) {
    if (inner.empty()) {
        return true;
    }
    return inner.data() >= outer.data() &&
           inner.data() + inner.size() <= outer.data() + outer.size();
}

bool same_bytes(std::span<const uint8_t> a, std::span<const uint8_t> b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (size_t i = 0; i < a.size(); ++i) {
        if (a[i] != b[i]) {
            return false;
        }
    }
    return true;
}

void check_options(std::span<const uint8_t> in) {
    OptionsResult r = parse_options(in);
    if (r.error) {
        check(*r.error < WireError::count, "unnamed error");
        return;
    }
    const Options& o = r.options;
    check(o.sack_count <= max_sack_blocks, "too many SACK blocks");
    check(o.mptcp_count <= max_mptcp_options, "too many MPTCP options");
    for (uint8_t i = 0; i < o.mptcp_count; ++i) {
        check(inside(o.mptcp[i], in), "MPTCP span outside the input");
        check(o.mptcp[i].size() >= 2 && o.mptcp[i][0] == kind::mptcp &&
                  o.mptcp[i][1] == o.mptcp[i].size(),
              "MPTCP span not a whole option");
    }
    check(inside(o.fast_open_cookie, in), "TFO cookie outside the input");

    std::array<uint8_t, max_options_len> buf{};
    auto n = emit_options(o, buf);
    if (!n) {
        return;  // MPTCP + TFO + the rest can exceed 40 bytes when the input was longer
    }
    check(*n <= max_options_len && *n % 4 == 0, "emitted length");
    check(*n == options_len(o), "options_len disagrees with emit_options");
    OptionsResult back = parse_options(std::span<const uint8_t>(buf.data(), *n));
    check(!back.error, "re-encoded options do not parse");
    const Options& b = back.options;
    check(b.mss == o.mss, "MSS changed");
    check(b.window_scale == o.window_scale, "window scale changed");
    check(b.sack_permitted == o.sack_permitted, "SACK-permitted changed");
    check(b.timestamps == o.timestamps, "timestamps changed");
    check(b.mptcp_count == o.mptcp_count, "MPTCP count changed");
    for (uint8_t i = 0; i < o.mptcp_count; ++i) {
        check(same_bytes(b.mptcp[i], o.mptcp[i]), "MPTCP bytes changed");
    }
    check(b.fast_open == o.fast_open, "TFO presence changed");
    check(same_bytes(b.fast_open_cookie, o.fast_open_cookie), "TFO cookie changed");
    check(b.sack_count <= o.sack_count, "SACK blocks appeared");
    for (uint8_t i = 0; i < b.sack_count; ++i) {
        check(b.sack[i] == o.sack[i], "SACK block changed");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const uint8_t> in(data, size);
    check_options(in.first(size < max_options_len ? size : max_options_len));
    SegmentResult s = parse_segment(in);
    if (!s.segment) {
        check(s.error < WireError::count, "unnamed segment error");
        return 0;
    }
    check(inside(s.segment->options, in) && inside(s.segment->payload, in),
          "segment spans outside the input");
    check(s.segment->options.size() <= max_options_len, "options longer than 40 bytes");
    check_options(s.segment->options);
    return 0;
}
