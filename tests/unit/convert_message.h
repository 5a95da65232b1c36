// The RFC 8803 Convert message a UE puts in its first SYN, for tests: one Connect TLV to an
// IPv4 destination (mptcp/convert/wire.h builds it).
#pragma once

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <string>

#include "mptcp/convert/wire.h"

namespace braid::test {

inline std::string convert_connect_v4(uint32_t dst, uint16_t port) {
    mptcp::convert::wire::Connect c;
    c.port = port;
    c.address = mptcp::convert::Address::v4(dst);
    std::array<uint8_t, mptcp::convert::wire::max_message_len> buf{};
    mptcp::convert::wire::Builder b(buf);
    auto n = b.connect(c).finish();
    REQUIRE(n);
    return std::string(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(*n));
}

}  // namespace braid::test
