// libFuzzer target: arbitrary segments and application calls into MPTCP connections — a tcpstack
// Engine whose listener is hooked to an mptcp::Endpoint (mptcp/endpoint.h), SYN cookies when the
// backlog of 2 is full. Besides raw option bytes (through the TCP option parser, so MPTCP
// options reach the endpoint as the datapath gives them), the script can synthesize the MPTCP
// options a client sends: the third ACK echoing braid's last key, DSS with DATA_ACK / mappings /
// DATA_FIN at fuzzed offsets from the client's IDSN, with or without checksums, so that the
// fuzzer gets past the handshake into the data level; and MP_JOIN (a SYN with the token of
// braid's last key, the third ACK with the HMAC-A for braid's last SYN/ACK nonce, or a wrong
// one) and MP_PRIO, so that connections get several subflows that fail in any order.
//
// EAL comes up once (--no-huge, --no-pci, no device, --file-prefix braid-fuzz-mptcp-<pid>).
// Invariants checked (abort on violation):
//   - every segment the engine emits has options that fit in 40 bytes, MPTCP options that
//     parse, and a payload length equal to its mbuf chain's length;
//   - after the engine and endpoint are destroyed every mbuf is back in its pool.
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
#include "mptcp/endpoint.h"
#include "mptcp/wire/options.h"
#include "tcpstack/engine.h"

namespace {

using namespace braid::tcp;
namespace mw = braid::mptcp::wire;

constexpr uint64_t client_key = 0x1122334455667788ULL;
uint64_t last_key = 0;         // braid's key from the last MP_CAPABLE it sent
uint32_t last_join_nonce = 0;  // braid's nonce from the last MP_JOIN SYN/ACK it sent
constexpr uint32_t client_nonce = 0x0badcafe;

constexpr unsigned pool_size = 4095;
rte_mempool* data_pool = nullptr;
rte_mempool* clone_pool = nullptr;

using braid::fuzz::check;
using braid::fuzz::Reader;
using braid::fuzz::tuple_for;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
    braid::fuzz::eal_up("mptcp");
    data_pool = rte_pktmbuf_pool_create("fuzz_mp_data", pool_size, 0, 0,
                                        1024 + RTE_PKTMBUF_HEADROOM, SOCKET_ID_ANY);
    clone_pool = rte_pktmbuf_pool_create("fuzz_mp_clone", pool_size, 0, 0, 0, SOCKET_ID_ANY);
    if (data_pool == nullptr || clone_pool == nullptr) {
        std::fprintf(stderr, "fuzz_mptcp_endpoint: cannot create mbuf pools\n");
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
        cfg.cc = CcAlgorithm::newreno;
        cfg.msl_us = 1'000'000;
        cfg.max_connections = 6;
        cfg.max_per_source = 4;
        cfg.default_rcv_buf = 8192;
        cfg.default_snd_buf = 8192;
        uint64_t now = 1'000'000;
        last_key = 0;
        last_join_nonce = 0;
        std::vector<Event> events;
        braid::mptcp::Endpoint* epp = nullptr;
        Engine eng(
            cfg,
            [](OutSegment&& s) {
                check(wire::options_len(s.options) <= wire::max_options_len, "options too long");
                uint32_t len = s.payload == nullptr ? 0 : rte_pktmbuf_pkt_len(s.payload);
                check(len == s.payload_len, "payload_len != chain length");
                std::span<const uint8_t> b(s.options.mptcp_out.data(), s.options.mptcp_out_len);
                while (!b.empty()) {
                    check(b.size() >= 2 && b[1] >= 2 && b[1] <= b.size(), "MPTCP option framing");
                    auto p = mw::parse(b.first(b[1]));
                    check(p.option.has_value(),
                          "braid emitted an MPTCP option that does not parse");
                    if (auto* c = std::get_if<mw::MpCapable>(&*p.option); c && c->sender_key) {
                        last_key = *c->sender_key;
                    }
                    if (auto* j = std::get_if<mw::MpJoinSynAck>(&*p.option)) {
                        last_join_nonce = j->nonce;
                    }
                    b = b.subspan(b[1]);
                }
                rte_pktmbuf_free(s.payload);
            },
            [&epp](const Event& e) {
                if (epp != nullptr) {
                    epp->on_engine_event(e);
                }
            });
        braid::mptcp::LocalTokenTable tokens;
        braid::mptcp::EndpointConfig ec;
        ec.data_pool = data_pool;
        ec.checksums = (size & 2) != 0;
        ec.rcv_buf = 8192;
        ec.snd_buf = 8192;
        uint64_t rng = 99;
        ec.rng = [&rng] { return rng = rng * 6364136223846793005ULL + 1; };
        ec.add_addr_retry_us = 1000;
        if (size & 4) {
            ec.advertise = [](const FourTuple&) {
                braid::mptcp::AdvertisedAddress a;
                a.address = IpAddr::v4(198, 18, 0, 9);
                return std::vector<braid::mptcp::AdvertisedAddress>{a};
            };
        }
        braid::mptcp::Endpoint ep(eng, ec, tokens,
                                  [&events](const Event& e) { events.push_back(e); });
        epp = &ep;
        ListenOptions lo;
        lo.port = 80;
        lo.backlog = 2;
        lo.hook = &ep;
        eng.listen(lo);
        const auto ck = [] {
            braid::mptcp::crypto::Sha256 sha;
            return braid::mptcp::crypto::key_material(sha, client_key);
        }();
        std::vector<ConnId> ids;
        while (!r.empty()) {
            uint8_t op = r.u8();
            switch (op % 8) {
                case 0:
                case 1:
                case 2:
                case 3: {  // a segment
                    FourTuple t = tuple_for(r.u8() & ~2);
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
                    std::array<uint8_t, 40> ob{};
                    size_t on = 0;
                    const uint8_t kind = r.u8();
                    if (kind % 4 == 3) {  // MP_JOIN SYN / third ACK, or MP_PRIO
                        braid::mptcp::crypto::Sha256 sha;
                        std::optional<mw::Option> opt;
                        if ((kind & 12) == 0) {
                            mw::MpJoinSyn j;
                            j.backup = (kind & 16) != 0;
                            j.address_id = r.u8();
                            j.token = braid::mptcp::crypto::key_material(sha, last_key).token ^
                                      (kind & 32 ? r.u32() : 0);
                            j.nonce = client_nonce;
                            opt = j;
                        } else if ((kind & 12) == 4) {
                            mw::MpJoinAck a;
                            a.hmac = braid::mptcp::crypto::join_ack_hmac(
                                sha, client_key, last_key, client_nonce, last_join_nonce);
                            a.hmac[0] ^= (kind & 32) ? 1 : 0;
                            opt = a;
                        } else if ((kind & 12) == 8) {
                            mw::MpPrio pr;
                            pr.backup = (kind & 16) != 0;
                            opt = pr;
                        } else if ((kind & 48) == 0) {  // ADD_ADDR: valid HMAC, echo, or bad
                            mw::AddAddr a;
                            a.address_id = r.u8();
                            a.address.v6 = (kind & 64) != 0;
                            a.address.bytes[0] = 198;
                            a.address.bytes[1] = 18;
                            a.address.bytes[3] = r.u8();
                            if (r.u8() & 1) {
                                a.port = r.u16();
                            }
                            a.echo = (kind & 128) != 0;
                            if (!a.echo) {
                                a.truncated_hmac = braid::mptcp::crypto::add_addr_hmac(
                                                       sha, client_key, last_key, a.address_id,
                                                       a.address, a.port) ^
                                                   r.u8();
                            }
                            opt = a;
                        } else if ((kind & 48) == 16) {
                            mw::RemoveAddr ra;
                            ra.count = static_cast<uint8_t>(1 + r.u8() % 3);
                            for (uint8_t i = 0; i < ra.count; ++i) {
                                ra.ids[i] = r.u8() % 4;
                            }
                            opt = ra;
                        } else {  // MP_FAIL near braid's IDSN
                            mw::MpFail f;
                            f.dsn = braid::mptcp::crypto::key_material(sha, last_key).idsn + 1 +
                                    static_cast<int16_t>(r.u16());
                            opt = f;
                        }
                        if (auto n = mw::emit(*opt, ob)) {
                            on = *n;
                        }
                    } else if (kind % 4 == 0) {  // raw bytes
                        auto raw = r.bytes(r.u8() % 41);
                        std::memcpy(ob.data(), raw.data(), raw.size());
                        on = raw.size();
                    } else {
                        std::optional<mw::Option> opt;
                        if (kind % 4 == 1) {  // MP_CAPABLE: SYN form or the echo of the keys
                            mw::MpCapable c;
                            c.flags = r.u8();
                            if (kind & 8) {
                                c.sender_key = client_key;
                                c.receiver_key = last_key ^ (kind & 16 ? r.u32() : 0);
                                if (kind & 32) {
                                    c.data_len = r.u16();
                                    if (kind & 64) {
                                        c.checksum = r.u16();
                                    }
                                }
                            }
                            opt = c;
                        } else {  // DSS relative to the client's IDSN
                            mw::Dss d;
                            if (kind & 8) {
                                d.data_ack = r.u32() + (kind & 16 ? uint64_t{r.u32()} << 32 : 0);
                            }
                            if (kind & 32) {
                                mw::DssMapping m;
                                m.dsn = ck.idsn + 1 + static_cast<int16_t>(r.u16());
                                m.ssn = r.u16();
                                m.data_len = r.u16() % 3000;
                                if (kind & 64) {
                                    m.checksum = r.u16();
                                }
                                d.mapping = m;
                                d.data_fin = (kind & 128) != 0;
                            }
                            opt = d;
                        }
                        if (auto n = mw::emit(*opt, ob)) {
                            on = *n;
                        }
                    }
                    auto parsed = wire::parse_options(std::span<const uint8_t>(ob.data(), on));
                    if (parsed.error) {
                        break;  // the caller drops segments with malformed options
                    }
                    rte_mbuf* p = braid::fuzz::payload(data_pool, r.u16() % 3000);
                    eng.input(t, h, parsed.options, p, now);
                    ep.poll(now);
                    if (auto c = ep.accept(1)) {
                        ids.push_back(*c);
                    }
                    break;
                }
                case 4:
                    now += uint64_t{r.u16()} * (op & 0x80 ? 1000 : 10);
                    eng.on_timer(now);
                    ep.poll(now);
                    break;
                case 5:
                    if (!ids.empty()) {
                        ConnId c = ids[r.u8() % ids.size()];
                        rte_mbuf* p = braid::fuzz::payload(data_pool, r.u16() % 5000);
                        if (p != nullptr && ep.send(c, p, now) == 0) {
                            rte_pktmbuf_free(p);
                        }
                    }
                    break;
                case 6:
                    if (!ids.empty()) {
                        ConnId c = ids[r.u8() % ids.size()];
                        rte_pktmbuf_free(ep.recv(c, now));
                    }
                    break;
                case 7:
                    if (!ids.empty()) {
                        ConnId c = ids[r.u8() % ids.size()];
                        switch (r.u8() % 5) {
                            case 0:
                                ep.shutdown_write(c, now);
                                break;
                            case 1:
                                ep.close(c, now);
                                break;
                            case 2: {
                                braid::mptcp::AdvertisedAddress a;
                                a.id = static_cast<uint8_t>(r.u8() % 4);
                                a.address = IpAddr::v4(198, 18, 0, static_cast<uint8_t>(r.u8()));
                                ep.advertise(c, a, now);
                                break;
                            }
                            case 3:
                                ep.withdraw(c, static_cast<uint8_t>(r.u8() % 4), now);
                                break;
                            default:
                                ep.abort(c, now);
                                break;
                        }
                    }
                    break;
            }
            check(eng.connection_count() <= cfg.max_connections + 1, "connection limit");
        }
        epp = nullptr;
    }
    check(rte_mempool_avail_count(data_pool) == pool_size, "data mbufs leaked");
    check(rte_mempool_avail_count(clone_pool) == pool_size, "clone mbufs leaked");
    return 0;
}
