// SHA-256 (FIPS 180-4) over a stream, for the TCP test applications (dataplane/tcp_host.h): a
// transfer is verified by the digest of what one side sent against what the other received.
// Not for secrets (no constant-time care, no key handling); MPTCP's keyed HMACs use IPsec-MB.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace braid::dataplane {

class Sha256 {
public:
    using Digest = std::array<uint8_t, 32>;

    Sha256() { reset(); }
    void reset();
    void update(const void* data, size_t len);
    Digest finish();  // the digest; the object must be reset() before reuse

    static std::string hex(const Digest& d);

private:
    void block(const uint8_t* p);

    std::array<uint32_t, 8> h_{};
    std::array<uint8_t, 64> buf_{};
    size_t buf_len_ = 0;
    uint64_t total_ = 0;  // bytes hashed
};

}  // namespace braid::dataplane
