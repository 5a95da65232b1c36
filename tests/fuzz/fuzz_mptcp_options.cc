// libFuzzer target: braid::mptcp::wire::parse() on arbitrary bytes (one MPTCP option, kind and
// length included). Pure C++, no EAL.
//
// Invariants checked (abort on violation):
//   - a failed parse carries a named error (< ParseError::count);
//   - what parses re-encodes (option_len/emit agree) to exactly as many bytes as were parsed
//     (every form's length is fixed by its fields), with the same kind, length and subtype;
//   - the re-encoded bytes parse again to an equal value (parse -> emit -> parse is stable);
//   - emit never writes past a buffer one byte too small (it refuses instead).
// The input is also presented with its length byte forced to the input size, so that the
// fuzzer reaches the per-subtype parsers without first having to guess the framing.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "mptcp/wire/options.h"

namespace {

using namespace braid::mptcp::wire;

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

void check_one(std::span<const uint8_t> in) {
    ParseResult r = parse(in);
    if (!r.option) {
        check(r.error < ParseError::count, "unnamed error");
        return;
    }
    auto len = option_len(*r.option);
    check(len.has_value(), "parsed value not representable");
    check(*len == in.size(), "re-encoded length differs from the parsed length");

    std::array<uint8_t, max_option_len + 1> buf{};
    buf.fill(0xa5);
    auto n = emit(*r.option, std::span<uint8_t>(buf.data(), max_option_len));
    check(n == len, "emit and option_len disagree");
    check(buf[max_option_len] == 0xa5, "emit wrote past the buffer");
    check(buf[0] == in[0] && buf[1] == in[1], "kind or length changed");
    check((buf[2] >> 4) == (in[2] >> 4), "subtype changed");

    std::vector<uint8_t> small(*n - 1);
    check(!emit(*r.option, small), "emit accepted a too small buffer");

    ParseResult back = parse(std::span<const uint8_t>(buf.data(), *n));
    check(back.option.has_value(), "re-encoded option does not parse");
    check(*back.option == *r.option, "parse -> emit -> parse changed the value");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const uint8_t> in(data, size);
    check_one(in);
    if (size >= 2 && size <= max_option_len) {
        std::array<uint8_t, max_option_len> framed{};
        std::copy(in.begin(), in.end(), framed.begin());
        framed[0] = option_kind;
        framed[1] = static_cast<uint8_t>(size);
        check_one(std::span<const uint8_t>(framed.data(), size));
    }
    return 0;
}
