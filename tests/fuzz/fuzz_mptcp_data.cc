// libFuzzer target: braid::mptcp::Receiver driven by arbitrary DSS mappings and subflow bytes —
// what a peer controls on an MPTCP connection's receive side. Pure C++, no EAL.
//
// Input: a header byte (bit 0: checksums negotiated; bits 1..7: receive buffer in units of
// 64 bytes, at least 64), then operations until the input ends:
//   0 mapping: sf(1) dsn(8) flags(1: bit0 dsn8, bit1 DATA_FIN, bit2 checksum) ssn(4) len(2)
//              checksum(2)
//   1 data:    sf(1) ssn(4) n(1) n bytes
//   2 read:    n(1)
//   3 remove subflow: sf(1)
// Subflow ids are taken modulo max_subflows + 1 so that the out-of-range id is tried too.
//
// Invariants checked (abort on violation):
//   - every error is named (< RxError::count);
//   - the DATA_ACK never moves back, the window's right edge (DATA_ACK + window) never moves left;
//   - data held never exceeds the receive buffer;
//   - bytes accepted = bytes read + bytes still held (nothing lost or invented).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "mptcp/receiver.h"

namespace {

using namespace braid::mptcp;

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

struct Reader {
    std::span<const uint8_t> in;
    bool take(size_t n, std::span<const uint8_t>& out) {
        if (in.size() < n) {
            return false;
        }
        out = in.first(n);
        in = in.subspan(n);
        return true;
    }
    bool u8(uint8_t& v) {
        std::span<const uint8_t> b;
        if (!take(1, b)) {
            return false;
        }
        v = b[0];
        return true;
    }
    template <class T>
    bool be(T& v) {
        std::span<const uint8_t> b;
        if (!take(sizeof(T), b)) {
            return false;
        }
        v = 0;
        for (uint8_t x : b) {
            v = static_cast<T>(v << 8 | x);
        }
        return true;
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Reader rd{{data, size}};
    uint8_t header = 0;
    if (!rd.u8(header)) {
        return 0;
    }
    const uint32_t buffer = 64u * (header >> 1 | 1);
    const DataSeq first(0xfffffffff0000000ull);  // 2^64 and 2^32 wraps within reach
    Counters counters;
    Receiver r(first, buffer, (header & 1) != 0, counters);

    uint64_t accepted = 0;
    uint64_t read = 0;
    DataSeq ack = r.data_ack();
    DataSeq edge = ack + r.window();
    std::vector<uint8_t> sink(256);

    for (uint8_t op = 0; rd.u8(op);) {
        RxResult res;
        switch (op % 4) {
            case 0: {
                uint8_t sf = 0, flags = 0;
                uint64_t dsn = 0;
                uint32_t ssn = 0;
                uint16_t len = 0, csum = 0;
                if (!rd.u8(sf) || !rd.be(dsn) || !rd.u8(flags) || !rd.be(ssn) || !rd.be(len) ||
                    !rd.be(csum)) {
                    return 0;
                }
                braid::mptcp::wire::DssMapping m;
                m.dsn8 = (flags & 1) != 0;
                // Keep DSNs near the connection's space often enough to reach the data path.
                m.dsn = m.dsn8 ? (first + (dsn & 0xffff)).raw() ^ (dsn & 0xffff0000'00000000ull)
                               : static_cast<uint32_t>(dsn);
                m.ssn = ssn & 0x3ff;
                m.data_len = len & 0x1ff;
                if (flags & 4) {
                    m.checksum = csum;
                }
                res = r.on_mapping(static_cast<SubflowId>(sf % (max_subflows + 1)), m,
                                   (flags & 2) != 0);
                break;
            }
            case 1: {
                uint8_t sf = 0, n = 0;
                uint32_t ssn = 0;
                std::span<const uint8_t> bytes;
                if (!rd.u8(sf) || !rd.be(ssn) || !rd.u8(n) || !rd.take(n, bytes)) {
                    return 0;
                }
                res =
                    r.on_data(static_cast<SubflowId>(sf % (max_subflows + 1)), ssn & 0x3ff, bytes);
                break;
            }
            case 2: {
                uint8_t n = 0;
                if (!rd.u8(n)) {
                    return 0;
                }
                read += r.read(std::span<uint8_t>(sink.data(), n));
                break;
            }
            default: {
                uint8_t sf = 0;
                if (!rd.u8(sf)) {
                    return 0;
                }
                r.remove_subflow(static_cast<SubflowId>(sf % (max_subflows + 1)));
                break;
            }
        }
        check(res.error < RxError::count, "unnamed error");
        accepted += res.accepted;
        DataSeq now_ack = r.data_ack();
        DataSeq now_edge = now_ack + r.window();
        check(now_ack >= ack, "DATA_ACK moved back");
        check(now_edge >= edge, "window right edge moved left");
        check(r.buffered() <= buffer, "more data held than the buffer");
        check(accepted == read + r.buffered(), "bytes lost or invented");
        ack = now_ack;
        edge = now_edge;
    }
    return 0;
}
