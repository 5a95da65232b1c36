// Two engines wired back to back through the wire codec (every segment is emitted to bytes and
// parsed again), with a seeded drop / reorder / delay hook and simulated time: bulk transfers
// must deliver identical bytes and both ends must close.
#include <catch2/catch.hpp>

#include <rte_mbuf.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/tcpstack/harness.h"

using namespace braid::test;

namespace {

struct Packet {
    bool to_server;
    std::vector<uint8_t> bytes;  // TCP header + options as emitted
    rte_mbuf* payload;
    FourTuple tuple;  // as seen by the receiver
};

struct Impairment {
    double loss = 0;
    double reorder = 0;  // probability of an extra delay of up to reorder_us
    uint64_t reorder_us = 3000;
    uint64_t one_way_us = 5000;
    uint32_t seed = 1;
};

struct Pair {
    explicit Pair(EngineConfig cfg, Impairment imp)
        : imp_(imp),
          rng_(imp.seed),
          client(
              cfg, [this](OutSegment&& s) { wire_out(false, std::move(s)); },
              [this](const Event& e) { client_events.push_back(e); }),
          server(
              cfg, [this](OutSegment&& s) { wire_out(true, std::move(s)); },
              [this](const Event& e) { server_events.push_back(e); }) {}

    ~Pair() {
        for (auto& [t, p] : in_flight) {
            rte_pktmbuf_free(p.payload);
        }
    }

    void wire_out(bool from_server, OutSegment&& s) {
        Packet p;
        p.to_server = !from_server;
        p.bytes.resize(60);
        auto n = wire::emit_header(s.header, s.options, p.bytes);
        REQUIRE(n);
        p.bytes.resize(*n);
        p.payload = s.payload;
        p.tuple = FourTuple{s.tuple.remote, s.tuple.local, s.tuple.remote_port, s.tuple.local_port};
        ++sent_segments;
        if (p.tuple.local == flood_source || p.tuple.remote == flood_source) {
            rte_pktmbuf_free(p.payload);  // spoofed flood sources never answer
            return;
        }
        std::uniform_real_distribution<double> u(0, 1);
        if (u(rng_) < imp_.loss) {
            ++dropped;
            rte_pktmbuf_free(p.payload);
            return;
        }
        uint64_t at = now + imp_.one_way_us;
        if (u(rng_) < imp_.reorder) {
            at += static_cast<uint64_t>(u(rng_) * static_cast<double>(imp_.reorder_us));
        }
        in_flight.emplace(std::make_pair(at, seq_++), std::move(p));
    }

    void deliver(Packet& p) {
        auto r = wire::parse_segment(p.bytes);
        REQUIRE(r.segment);
        auto o = wire::parse_options(r.segment->options);
        REQUIRE_FALSE(o.error);
        Engine& e = p.to_server ? server : client;
        e.input(p.tuple, r.segment->header, o.options, p.payload, now);
    }

    // Runs until `done` or the simulated deadline; returns false on timeout.
    template <typename Step>
    bool run(uint64_t limit_us, Step step) {
        uint64_t end = now + limit_us;
        while (now < end) {
            if (step()) {
                return true;
            }
            uint64_t next = std::min(client.next_timer(), server.next_timer());
            if (!in_flight.empty()) {
                next = std::min(next, in_flight.begin()->first.first);
            }
            if (next == UINT64_MAX) {
                next = now + 1000;
            }
            now = std::max(now, next);
            while (!in_flight.empty() && in_flight.begin()->first.first <= now) {
                Packet p = std::move(in_flight.begin()->second);
                in_flight.erase(in_flight.begin());
                deliver(p);
            }
            client.on_timer(now);
            server.on_timer(now);
        }
        return false;
    }

    IpAddr flood_source = IpAddr::v4(198, 19, 255, 99);
    Impairment imp_;
    std::mt19937 rng_;
    uint64_t now = 1'000'000;
    uint64_t seq_ = 0;
    std::map<std::pair<uint64_t, uint64_t>, Packet> in_flight;
    std::vector<Event> client_events, server_events;
    uint64_t sent_segments = 0, dropped = 0;
    Engine client;
    Engine server;
};

std::string random_bytes(size_t n, uint32_t seed) {
    std::mt19937 g(seed);
    std::string s(n, '\0');
    for (auto& c : s) {
        c = static_cast<char>(g());
    }
    return s;
}

bool has(const std::vector<Event>& v, EventKind k) {
    return std::any_of(v.begin(), v.end(), [k](const Event& e) { return e.kind == k; });
}

// Client sends `data`, closes; the server reads everything, closes when the client's FIN came.
void transfer(EngineConfig cfg, Impairment imp, size_t size, uint32_t flood_per_step = 0) {
    Pair p(cfg, imp);
    ListenOptions lo;
    lo.port = 80;
    lo.backlog = 16;
    uint32_t flood_sent = 0;
    size_t max_conns = 0;
    REQUIRE(p.server.listen(lo));
    FourTuple t{IpAddr::v4(198, 18, 0, 2), IpAddr::v4(198, 18, 0, 1), 40000, 80};
    auto cid = p.client.connect({.tuple = t}, p.now);
    REQUIRE(cid);
    const std::string data = random_bytes(size, imp.seed);
    size_t sent = 0;
    std::string got;
    std::optional<ConnId> sid;
    bool client_closed = false, server_closed = false;
    bool ok = p.run(600'000'000, [&] {
        for (uint32_t i = 0; i < flood_per_step; ++i, ++flood_sent) {
            // A SYN flood from spoofed sources (their SYN,ACKs vanish) on the same listener.
            FourTuple ft{IpAddr::v4(198, 18, 0, 1), p.flood_source, 80,
                         static_cast<uint16_t>(1024 + flood_sent % 60000)};
            wire::Header h;
            h.src_port = ft.remote_port;
            h.dst_port = 80;
            h.seq = Seq(flood_sent * 7919u);
            h.flags = flag::syn;
            h.window = 65535;
            wire::Options o;
            o.mss = 1460;
            p.server.input(ft, h, o, nullptr, p.now);
        }
        max_conns = std::max(max_conns, p.server.connection_count());
        if (!sid) {
            sid = p.server.accept(1);
        }
        if (has(p.client_events, EventKind::established)) {
            while (sent < data.size()) {
                size_t n = std::min<size_t>({data.size() - sent, 16384, p.client.send_space(*cid)});
                if (n == 0) {
                    break;
                }
                rte_mbuf* m = make_payload(std::string_view(data).substr(sent, n), 1500);
                REQUIRE(p.client.send(*cid, m, p.now) == n);
                sent += n;
            }
            if (sent == data.size() && !client_closed) {
                p.client.close(*cid, p.now);
                client_closed = true;
            }
        }
        if (sid) {
            while (rte_mbuf* m = p.server.recv(*sid, p.now)) {
                got += take_bytes(m);
            }
            if (p.server.peer_closed(*sid) && !server_closed) {
                p.server.close(*sid, p.now);
                server_closed = true;
            }
        }
        return server_closed && got.size() == data.size() && !p.server.state(*sid) &&
               p.client.state(*cid) == State::time_wait;
    });
    INFO("segments " << p.sent_segments << " dropped " << p.dropped << " received " << got.size()
                     << " of " << data.size());
    if (!ok) {
        for (size_t i = 0; i < counter_count; ++i) {
            if (p.server.counters()[i] != 0 || p.client.counters()[i] != 0) {
                UNSCOPED_INFO(counter_info[i].name << " client " << p.client.counters()[i]
                                                   << " server " << p.server.counters()[i]);
            }
        }
        auto ci = p.client.describe(*cid);
        UNSCOPED_INFO("client state " << (ci ? to_string(ci->state) : "gone"));
    }
    CHECK(ok);
    CHECK(got.size() == data.size());
    CHECK(got == data);
    if (imp.loss > 0) {
        CHECK(p.client.counters()[static_cast<size_t>(Counter::retransmissions)] > 0);
    }
    CHECK(p.client.counters()[static_cast<size_t>(Counter::refused_no_mbuf)] == 0);
    if (flood_per_step > 0) {
        INFO("flood SYNs " << flood_sent << ", most server connections " << max_conns);
        CHECK(flood_sent > 10'000);
        // Half-open state stays bounded by the backlog; the rest got cookies.
        CHECK(max_conns <= *lo.backlog + 1);
        CHECK(p.server.counters()[static_cast<size_t>(Counter::syn_cookies_sent)] > 10'000);
    }
}

}  // namespace

TEST_CASE("Back to back: 1 MB on a clean path, bytes identical, both sides close") {
    transfer(test_config(), {}, 1 << 20);
}

TEST_CASE("Back to back: 1 MB with 2% loss and reordering, SACK, CUBIC") {
    EngineConfig cfg = test_config();
    cfg.cc = CcAlgorithm::cubic;
    transfer(cfg, {.loss = 0.02, .reorder = 0.05, .seed = 7}, 1 << 20);
}

TEST_CASE("Back to back: 1 MB with 3% loss, no SACK (NewReno), no timestamps") {
    EngineConfig cfg = test_config();
    cfg.sack = false;
    cfg.timestamps = false;
    transfer(cfg, {.loss = 0.03, .reorder = 0.02, .seed = 11}, 1 << 20);
}

TEST_CASE("Back to back: 256 KB with 10% loss, heavy reordering, window scaling off") {
    EngineConfig cfg = test_config();
    cfg.window_scale = false;
    transfer(cfg, {.loss = 0.10, .reorder = 0.3, .reorder_us = 20'000, .seed = 3}, 256 << 10);
}

TEST_CASE(
    "RFC 4987: during a SYN flood an established transfer keeps flowing, state stays bounded") {
    EngineConfig cfg = test_config();
    cfg.syn_retries = 1;  // half-open connections of the flood expire (1 s + 2 s)
    transfer(cfg, {.loss = 0.01, .seed = 5}, 512 << 10, 500);
}
