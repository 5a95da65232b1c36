// Test vectors as written in the spec digests: "20 01 | 000c" -> bytes (blanks and '|' ignored).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace braid::test {

using Bytes = std::vector<uint8_t>;

inline Bytes hex(std::string_view s) {
    Bytes out;
    int hi = -1;
    for (char c : s) {
        int v = -1;
        if (c >= '0' && c <= '9') {
            v = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            v = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            v = c - 'A' + 10;
        } else {
            continue;
        }
        if (hi < 0) {
            hi = v;
        } else {
            out.push_back(static_cast<uint8_t>(hi << 4 | v));
            hi = -1;
        }
    }
    return out;
}

}  // namespace braid::test
