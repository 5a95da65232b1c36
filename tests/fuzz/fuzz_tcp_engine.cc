// libFuzzer target: arbitrary segments and application calls driven into a tcpstack Engine, so
// that connections in every state (LISTEN, SYN-SENT, SYN-RECEIVED, ESTABLISHED, the closing
// states, TIME-WAIT; SYN cookies when the backlog of 2 is full) see hostile input.
//
// The input is a script of records. Sequence and acknowledgment numbers are picked relative to
// the connection's own RCV.NXT / SND.UNA / SND.NXT (plus a fuzzed delta) so that the fuzzer gets
// past the acceptability tests; options are raw fuzzed bytes through the wire parser.
//
// EAL comes up once (--no-huge, --no-pci, no device, --file-prefix braid-fuzz-tcp-<pid>).
// Invariants checked (abort on violation):
//   - every segment the engine emits has options that fit in 40 bytes and a payload length
//     equal to its mbuf chain's length;
//   - after the engine is destroyed every mbuf is back in its pool (no leak, no double free
//     — the latter also caught by ASan / mempool debug);
//   - per-tuple connection lookup never sees more connections than the engine's limits.
#include <dirent.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fuzz_eal.h"
#include "fuzz_tcp_script.h"
#include "tcpstack/engine.h"

namespace {

using namespace braid::tcp;

constexpr unsigned pool_size = 4095;
rte_mempool* data_pool = nullptr;
rte_mempool* clone_pool = nullptr;

using braid::fuzz::check;
using braid::fuzz::Reader;
using braid::fuzz::tuple_for;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
    braid::fuzz::eal_up("tcp");
    data_pool = rte_pktmbuf_pool_create("fuzz_tcp_data", pool_size, 0, 0,
                                        1024 + RTE_PKTMBUF_HEADROOM, SOCKET_ID_ANY);
    clone_pool = rte_pktmbuf_pool_create("fuzz_tcp_clone", pool_size, 0, 0, 0, SOCKET_ID_ANY);
    if (data_pool == nullptr || clone_pool == nullptr) {
        std::fprintf(stderr, "fuzz_tcp_engine: cannot create mbuf pools\n");
        std::exit(1);
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Reader r{std::span<const uint8_t>(data, size)};
    {
        EngineConfig cfg;
        cfg.clone_pool = clone_pool;
        cfg.secret.fill(0x42);
        cfg.cc = (size & 1) ? CcAlgorithm::cubic : CcAlgorithm::newreno;
        cfg.msl_us = 1'000'000;
        cfg.max_connections = 6;
        cfg.max_per_source = 4;
        cfg.default_rcv_buf = 8192;
        cfg.default_snd_buf = 8192;
        cfg.keepalive = true;
        cfg.keepalive_idle_us = 5'000'000;
        cfg.keepalive_interval_us = 1'000'000;
        cfg.keepalive_probes = 2;
        uint64_t now = 1'000'000;
        Engine eng(
            cfg,
            [](OutSegment&& s) {
                check(wire::options_len(s.options) <= wire::max_options_len, "options too long");
                uint32_t len = s.payload == nullptr ? 0 : rte_pktmbuf_pkt_len(s.payload);
                check(len == s.payload_len, "payload_len != chain length");
                rte_pktmbuf_free(s.payload);
            },
            [](const Event&) {});
        ListenOptions lo;
        lo.port = 80;
        lo.backlog = 2;
        lo.accept_syn_data = true;
        lo.mss_clamp = 1200;
        eng.listen(lo);
        std::vector<ConnId> ids;
        FourTuple active = tuple_for(2);
        if (auto c = eng.connect({.tuple = active}, now)) {
            ids.push_back(*c);
        }
        while (!r.empty()) {
            uint8_t op = r.u8();
            switch (op % 8) {
                case 0:
                case 1:
                case 2:
                case 3: {  // a segment
                    FourTuple t = tuple_for(r.u8());
                    wire::Header h;
                    h.src_port = t.remote_port;
                    h.dst_port = t.local_port;
                    h.flags = r.u8();
                    uint8_t base = r.u8();
                    std::optional<ConnInfo> info;
                    for (const auto& i : eng.describe_all()) {
                        if (i.tuple == t) {
                            info = i;
                        }
                    }
                    int32_t dseq = static_cast<int16_t>(r.u16());
                    int32_t dack = static_cast<int16_t>(r.u16());
                    uint32_t rseq = info ? info->rcv_nxt : r.u32();
                    uint32_t rack = info ? ((base & 1) ? info->snd_nxt : info->snd_una) : r.u32();
                    h.seq = Seq(rseq + static_cast<uint32_t>(base & 2 ? dseq : 0));
                    h.ack = Seq(rack + static_cast<uint32_t>(base & 4 ? dack : 0));
                    h.window = r.u16();
                    auto ob = r.bytes(r.u8() % 41);
                    auto parsed = wire::parse_options(ob);
                    if (parsed.error) {
                        break;  // the caller drops segments with malformed options
                    }
                    rte_mbuf* p = braid::fuzz::payload(data_pool, r.u16() % 3000);
                    eng.input(t, h, parsed.options, p, now);
                    if (auto c = eng.accept(1)) {
                        ids.push_back(*c);
                    }
                    break;
                }
                case 4:
                    now += uint64_t{r.u16()} * (op & 0x80 ? 1000 : 10);
                    eng.on_timer(now);
                    break;
                case 5:
                    if (!ids.empty()) {
                        ConnId c = ids[r.u8() % ids.size()];
                        rte_mbuf* p = braid::fuzz::payload(data_pool, r.u16() % 5000);
                        if (p != nullptr && eng.send(c, p, now) == 0) {
                            rte_pktmbuf_free(p);
                        }
                    }
                    break;
                case 6:
                    if (!ids.empty()) {
                        ConnId c = ids[r.u8() % ids.size()];
                        rte_pktmbuf_free(eng.recv(c, now));
                    }
                    break;
                case 7:
                    if (!ids.empty()) {
                        ConnId c = ids[r.u8() % ids.size()];
                        uint8_t what = r.u8();
                        switch (what % 4) {
                            case 0:
                                eng.shutdown_write(c, now);
                                break;
                            case 1:
                                eng.close(c, now);
                                break;
                            case 2:
                                eng.abort(c, now);
                                break;
                            default:
                                eng.set_rcv_buf(c, uint32_t{r.u16()}, now);
                                break;
                        }
                    }
                    break;
            }
            check(eng.connection_count() <= cfg.max_connections + 1, "connection limit");
        }
    }
    check(rte_mempool_avail_count(data_pool) == pool_size, "data mbufs leaked");
    check(rte_mempool_avail_count(clone_pool) == pool_size, "clone mbufs leaked");
    return 0;
}
