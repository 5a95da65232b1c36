// Unit tests for control/config: strict YAML parsing, rendering and the embedded default.
#include "control/config.h"
#include "control/static_sessions.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace {

using braid::config::Config;
using braid::config::Error;
using braid::config::parse;
using braid::config::parse_file;
using braid::config::ParseResult;
using braid::config::PortRole;

// Two minimal valid ports. Lines 1..7; sections appended by with() start at line 8.
const std::string two_ports =
    "ports:\n"
    "  - name: a\n"
    "    role: n3\n"
    "    vdev: net_null0\n"
    "  - name: b\n"
    "    role: n6\n"
    "    vdev: net_null1\n";

// two_ports plus `text` (a whole section or more) from line 8 on.
std::string with(const std::string& text) {
    return two_ports + text;
}

// Port 0 with one extra line (`field`) at line 5; path ports[0].<key>.
std::string port_field(const std::string& field) {
    return "ports:\n"
           "  - name: a\n"
           "    role: n3\n"
           "    vdev: net_null0\n"
           "    " +
           field +
           "\n"
           "  - name: b\n"
           "    role: n6\n"
           "    vdev: net_null1\n";
}

// A config setting the dotted `path` (e.g. "pfcp.listen.port" or "ports[0].mtu") to `value`.
// Returns the YAML and the line the value sits on.
std::pair<std::string, int> set_value(const std::string& path, const std::string& value) {
    const std::string port_prefix = "ports[0].";
    if (path.rfind(port_prefix, 0) == 0) {
        return {port_field(path.substr(port_prefix.size()) + ": " + value), 5};
    }
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t dot = path.find('.'); dot != std::string::npos; dot = path.find('.', start)) {
        parts.push_back(path.substr(start, dot - start));
        start = dot + 1;
    }
    parts.push_back(path.substr(start));
    std::string text;
    for (size_t i = 0; i < parts.size(); ++i) {
        text += std::string(i * 2, ' ') + parts[i] + ":";
        text += i + 1 == parts.size() ? " " + value + "\n" : "\n";
    }
    return {with(text), 8 + static_cast<int>(parts.size()) - 1};
}

std::string all_errors(const ParseResult& r) {
    std::string out;
    for (const Error& e : r.errors) {
        out += e.to_string() + "\n";
    }
    return out;
}

// True if some error has this key, this line (0: any), and contains `text`.
bool has_error(const ParseResult& r, const std::string& key, int line, const std::string& text) {
    for (const Error& e : r.errors) {
        if (e.key == key && (line == 0 || e.line == line) &&
            e.message.find(text) != std::string::npos) {
            return true;
        }
    }
    return false;
}

#define REQUIRE_OK(result)        \
    do {                          \
        INFO(all_errors(result)); \
        REQUIRE((result).ok());   \
    } while (0)

#define CHECK_ERROR(result, key, line, text)               \
    do {                                                   \
        INFO(all_errors(result));                          \
        CHECK_FALSE((result).ok());                        \
        CHECK_FALSE((result).config.has_value());          \
        CHECK(has_error((result), (key), (line), (text))); \
    } while (0)

uint32_t ipv4(const char* s) {
    in_addr a{};
    REQUIRE(inet_pton(AF_INET, s, &a) == 1);
    return ntohl(a.s_addr);
}

std::array<uint8_t, 16> ipv6(const char* s) {
    std::array<uint8_t, 16> a{};
    REQUIRE(inet_pton(AF_INET6, s, a.data()) == 1);
    return a;
}

// Every field set to a non-default value.
const std::string full_config = R"(eal:
  main_lcore: 2
  file_prefix: braid-test.1
  no_huge: false
  memory_mb: 4096
  no_pci: false
  extra_args: ["--log-level", "lib.eal:debug", "-a", "0000:3b:02.0"]
ports:
  - name: access_0
    role: n3
    pci: "0000:3b:02.0"
    mac: "02:00:00:AA:bb:01"
    ipv4: 198.18.3.2/30
    ipv6: 2001:db8:3::2/127
    gateway_ipv4: 198.18.3.1
    gateway_ipv6: "fe80::1"
    rx_queues: 4
    tx_queues: 8
    rx_descriptors: 4096
    tx_descriptors: 2048
    mtu: 9000
    promiscuous: true
  - name: core-0
    role: n6
    pci: "3b:02.1"
    ipv4: 198.19.6.2/24
    gateway_ipv6: 2001:db8:6::1
mempool:
  mbufs_per_port: 65535
  cache_size: 512
  data_room: 10240
workers:
  lcores: [4, 3]
  burst_size: 64
  tx_drain_us: 50
  handoff_ring_size: 256
pfcp:
  enabled: false
  listen:
    address: "::"
    port: 8806
  node_id: upf-1.example.org
  heartbeat:
    interval_s: 5
    misses: 4
  t1_ms: 500
  n1: 5
  duplicate_window_ms: 9000
  peer_lost: keep_sessions
  peers:
    - address: 198.18.5.1
    - address: 2001:db8:5::1
      port: 8806
metrics:
  enabled: false
  listen:
    address: 0.0.0.0
    port: 9100
cli:
  socket_path: ""
neighbors:
  max_entries: 4096
  reachable_s: 60
  retry_ms: 250
  max_retries: 5
  hold_per_neighbor: 8
  hold_total: 100
  hold_timeout_ms: 2000
log:
  level: debug
)";

}  // namespace

TEST_CASE("the embedded default config parses without errors", "[config]") {
    const ParseResult r = parse(braid::config::default_yaml(), "<default>");
    REQUIRE_OK(r);
    const Config& c = *r.config;

    CHECK(c.eal.main_lcore == 0);
    CHECK(c.eal.file_prefix == "braid");
    CHECK(c.eal.no_huge);
    CHECK(c.eal.memory_mb == 512);
    CHECK(c.eal.no_pci);
    CHECK(c.eal.extra_args.empty());

    REQUIRE(c.ports.size() == 2);
    const auto* n3 = c.port_by_name("n3");
    const auto* n6 = c.port_by_name("n6");
    REQUIRE(n3 != nullptr);
    REQUIRE(n6 != nullptr);
    CHECK(n3->role == PortRole::n3);
    CHECK(n3->vdev == "net_tap0,iface=braid-n3");
    CHECK(n3->pci.empty());
    CHECK(n3->ipv4 == braid::config::Ipv4Prefix{ipv4("198.18.0.1"), 24});
    CHECK(n3->ipv6 == braid::config::Ipv6Prefix{ipv6("2001:db8:3::1"), 64});
    CHECK(n3->gateway_ipv4 == ipv4("198.18.0.254"));
    CHECK_FALSE(n3->gateway_ipv6.has_value());
    CHECK_FALSE(n3->mac.has_value());
    CHECK(n6->role == PortRole::n6);
    CHECK(n6->vdev == "net_tap1,iface=braid-n6");
    CHECK(n6->ipv4 == braid::config::Ipv4Prefix{ipv4("198.19.0.1"), 24});
    CHECK(n6->ipv6 == braid::config::Ipv6Prefix{ipv6("2001:db8:6::1"), 64});
    CHECK(n6->gateway_ipv4 == ipv4("198.19.0.254"));

    CHECK(c.workers.lcores == std::vector<unsigned>{1});
    CHECK(c.mempool.mbufs_per_port == 8191);
    CHECK(c.cli.socket_path == "/run/braid/cli.sock");
    CHECK(c.metrics.enabled);
    CHECK(c.metrics.listen.address == "127.0.0.1");
    CHECK(c.metrics.listen.port == 9464);
    CHECK(c.pfcp.enabled);
    CHECK(c.pfcp.listen.address == "127.0.0.1");
    CHECK(c.pfcp.listen.port == 8805);
    CHECK_FALSE(c.pfcp.node_id.has_value());
    CHECK(c.pfcp.heartbeat.interval_s == 10);
    CHECK(c.pfcp.heartbeat.misses == 3);
    CHECK(c.pfcp.t1_ms == 3000);
    CHECK(c.pfcp.n1 == 3);
    CHECK_FALSE(c.pfcp.duplicate_window_ms.has_value());
    CHECK(c.pfcp.duplicate_window_ms_default() == 14000);
    CHECK(c.pfcp.peer_lost == braid::config::PfcpPeerLost::delete_sessions);
    CHECK(c.pfcp.peers.empty());
    CHECK(c.log.level == "info");
}

TEST_CASE("omitted sections and fields take the defaults from config.h", "[config]") {
    const ParseResult r = parse(two_ports);
    REQUIRE_OK(r);
    Config expected;
    expected.ports = r.config->ports;  // the only required section
    CHECK(*r.config == expected);

    const auto& a = r.config->ports[0];
    CHECK(a.rx_queues == 1);
    CHECK(a.tx_descriptors == 1024);
    CHECK(a.mtu == 1500);
    CHECK_FALSE(a.promiscuous);
}

TEST_CASE("every section and field parses into the typed model", "[config]") {
    const ParseResult r = parse(full_config);
    REQUIRE_OK(r);
    const Config& c = *r.config;

    CHECK(c.eal.main_lcore == 2);
    CHECK(c.eal.file_prefix == "braid-test.1");
    CHECK_FALSE(c.eal.no_huge);
    CHECK(c.eal.memory_mb == 4096);
    CHECK_FALSE(c.eal.no_pci);
    CHECK(c.eal.extra_args ==
          std::vector<std::string>{"--log-level", "lib.eal:debug", "-a", "0000:3b:02.0"});

    REQUIRE(c.ports.size() == 2);
    const auto& p0 = c.ports[0];
    CHECK(p0.name == "access_0");
    CHECK(p0.role == PortRole::n3);
    CHECK(p0.pci == "0000:3b:02.0");
    CHECK(p0.vdev.empty());
    CHECK(p0.mac == std::array<uint8_t, 6>{0x02, 0x00, 0x00, 0xaa, 0xbb, 0x01});
    CHECK(p0.ipv4 == braid::config::Ipv4Prefix{ipv4("198.18.3.2"), 30});
    CHECK(p0.ipv6 == braid::config::Ipv6Prefix{ipv6("2001:db8:3::2"), 127});
    CHECK(p0.gateway_ipv4 == ipv4("198.18.3.1"));
    CHECK(p0.gateway_ipv6 == ipv6("fe80::1"));
    CHECK(p0.rx_queues == 4);
    CHECK(p0.tx_queues == 8);
    CHECK(p0.rx_descriptors == 4096);
    CHECK(p0.tx_descriptors == 2048);
    CHECK(p0.mtu == 9000);
    CHECK(p0.promiscuous);

    const auto& p1 = c.ports[1];
    CHECK(p1.name == "core-0");
    CHECK(p1.role == PortRole::n6);
    CHECK(p1.pci == "3b:02.1");
    CHECK_FALSE(p1.ipv6.has_value());
    CHECK_FALSE(p1.gateway_ipv4.has_value());
    CHECK(p1.gateway_ipv6 == ipv6("2001:db8:6::1"));

    CHECK(c.mempool.mbufs_per_port == 65535);
    CHECK(c.mempool.cache_size == 512);
    CHECK(c.mempool.data_room == 10240);
    CHECK(c.workers.lcores == std::vector<unsigned>{4, 3});
    CHECK(c.workers.burst_size == 64);
    CHECK(c.workers.tx_drain_us == 50);
    CHECK(c.workers.handoff_ring_size == 256);
    CHECK_FALSE(c.pfcp.enabled);
    CHECK(c.pfcp.listen.address == "::");
    CHECK(c.pfcp.listen.port == 8806);
    CHECK(c.pfcp.node_id == "upf-1.example.org");
    CHECK(c.pfcp.heartbeat.interval_s == 5);
    CHECK(c.pfcp.heartbeat.misses == 4);
    CHECK(c.pfcp.t1_ms == 500);
    CHECK(c.pfcp.n1 == 5);
    CHECK(c.pfcp.duplicate_window_ms == 9000u);
    CHECK(c.pfcp.peer_lost == braid::config::PfcpPeerLost::keep_sessions);
    CHECK(c.pfcp.peers ==
          std::vector<braid::config::Endpoint>{{"198.18.5.1", 8805}, {"2001:db8:5::1", 8806}});
    CHECK_FALSE(c.metrics.enabled);
    CHECK(c.metrics.listen.address == "0.0.0.0");
    CHECK(c.metrics.listen.port == 9100);
    CHECK(c.cli.socket_path.empty());
    CHECK(c.neighbors.max_entries == 4096);
    CHECK(c.neighbors.reachable_s == 60);
    CHECK(c.neighbors.retry_ms == 250);
    CHECK(c.neighbors.max_retries == 5);
    CHECK(c.neighbors.hold_per_neighbor == 8);
    CHECK(c.neighbors.hold_total == 100);
    CHECK(c.neighbors.hold_timeout_ms == 2000);
    CHECK(c.log.level == "debug");
}

TEST_CASE("render then parse yields an equal config", "[config]") {
    SECTION("the default") {
        const ParseResult first = parse(braid::config::default_yaml());
        REQUIRE_OK(first);
        const ParseResult again = parse(braid::config::render(*first.config), "<rendered>");
        REQUIRE_OK(again);
        CHECK(*again.config == *first.config);
    }
    SECTION("a config exercising every field") {
        const ParseResult first = parse(full_config);
        REQUIRE_OK(first);
        const std::string text = braid::config::render(*first.config);
        const ParseResult again = parse(text, "<rendered>");
        INFO(text);
        REQUIRE_OK(again);
        CHECK(*again.config == *first.config);
        // Rendering is stable: a second round gives the same text.
        CHECK(braid::config::render(*again.config) == text);
    }
    SECTION("strings that look like other YAML types stay strings") {
        ParseResult first = parse(two_ports);
        REQUIRE_OK(first);
        Config c = *first.config;
        c.pfcp.node_id = "198.18.2.3";
        c.cli.socket_path = "true";
        c.eal.extra_args = {"null", "~", "123", "", "a: b", "- x", "#comment", "'q\""};
        const ParseResult again = parse(braid::config::render(c));
        REQUIRE_OK(again);
        CHECK(*again.config == c);
    }
}

TEST_CASE("malformed YAML reports a syntax error with its line", "[config]") {
    const ParseResult r = parse(with("workers:\n  lcores: [1, 2\nlog:\n  level: info\n"), "t.yaml");
    INFO(all_errors(r));
    REQUIRE_FALSE(r.ok());
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].line >= 9);
    CHECK(r.errors[0].message.find("YAML syntax error in t.yaml") != std::string::npos);

    const ParseResult tab = parse("ports:\n  - name: a\n\t- role: n3\n");
    REQUIRE(tab.errors.size() == 1);
    CHECK(tab.errors[0].line == 3);
}

TEST_CASE("garbage input never throws and always yields an error", "[config]") {
    const std::vector<std::string> inputs = {
        "",
        "---\n",
        "[",
        "\"",
        "{a: 1",
        "- 1\n-2",
        "ports: *nope",
        "a: &x [*x]",
        "\x01\x02\xff",
        "ports: !!binary x",
        "42",
        "--- a\n--- b\n",
        // Self-referencing aliases: the walker must not recurse into them.
        "ports: &p [*p]",
        "ports:\n  - &q {name: *q, role: n3}\n",
        "workers:\n  lcores: &l [*l]\n",
        std::string("ports:\n  - \0\n", 12),
    };
    for (const std::string& text : inputs) {
        INFO(text);
        ParseResult r;
        REQUIRE_NOTHROW(r = parse(text));
        CHECK_FALSE(r.ok());
        CHECK_FALSE(r.errors.empty());
    }
}

TEST_CASE("a missing or empty ports section is an error", "[config]") {
    CHECK_ERROR(parse(""), "ports", 0, "missing required key 'ports'");
    CHECK_ERROR(parse("log:\n  level: info\n"), "ports", 1, "missing required key 'ports'");
    CHECK_ERROR(parse("ports: []\n"), "ports", 1, "at least one port");
    CHECK_ERROR(parse("ports:\n"), "ports", 1, "at least one port");
}

TEST_CASE("the top level must be a single map", "[config]") {
    CHECK_ERROR(parse("- a\n- b\n"), "", 1, "must be a map, got a sequence");
    CHECK_ERROR(parse(two_ports + "---\n" + two_ports), "", 0, "one YAML document");
}

TEST_CASE("an unknown top-level key names the key, its line and the valid keys", "[config]") {
    const ParseResult r = parse(with("workerz:\n  lcores: [1]\n"));
    CHECK_ERROR(r, "workerz", 8, "unknown key 'workerz' (expected one of: eal, ports, mempool");
}

TEST_CASE("an unknown key in a port names ports[i].key and its line", "[config]") {
    const ParseResult r = parse(port_field("rx_desc: 512"));
    CHECK_ERROR(r, "ports[0].rx_desc", 5, "unknown key 'rx_desc'");
    CHECK(has_error(r, "ports[0].rx_desc", 5, "rx_descriptors"));

    const ParseResult second = parse(two_ports + "    colour: blue\n");
    CHECK_ERROR(second, "ports[1].colour", 8, "unknown key 'colour'");
}

TEST_CASE("an unknown key in a nested endpoint names the full path and its line", "[config]") {
    const ParseResult r = parse(with("pfcp:\n  listen:\n    address: 127.0.0.1\n    prot: 8805\n"));
    CHECK_ERROR(r, "pfcp.listen.prot", 11, "unknown key 'prot' (expected one of: address, port)");

    const ParseResult m = parse(with("metrics:\n  listen: {addr: 127.0.0.1}\n"));
    CHECK_ERROR(m, "metrics.listen.addr", 9, "unknown key 'addr'");
}

TEST_CASE("a duplicate key in a map is an error", "[config]") {
    CHECK_ERROR(parse(with("log:\n  level: info\n  level: debug\n")), "log.level", 10,
                "duplicate key 'level'");
}

TEST_CASE("values of the wrong YAML type are errors", "[config]") {
    SECTION("a map where a scalar is expected") {
        CHECK_ERROR(parse(port_field("mtu: {a: 1}")), "ports[0].mtu", 5,
                    "expected an integer, got a map");
        CHECK_ERROR(parse(port_field("name2: x")), "ports[0].name2", 5, "unknown key");
        CHECK_ERROR(parse(with("log:\n  level: {x: 1}\n")), "log.level", 9,
                    "expected a log level, got a map");
    }
    SECTION("a sequence where a scalar is expected") {
        CHECK_ERROR(parse(port_field("ipv4: [198.18.0.1/24]")), "ports[0].ipv4", 5,
                    "got a sequence");
        CHECK_ERROR(parse(with("cli:\n  socket_path: [a]\n")), "cli.socket_path", 9,
                    "expected a string, got a sequence");
    }
    SECTION("a scalar where a map or sequence is expected") {
        CHECK_ERROR(parse(with("pfcp: yes\n")), "pfcp", 8, "expected a map, got a scalar");
        CHECK_ERROR(parse(with("pfcp:\n  listen: 127.0.0.1:8805\n")), "pfcp.listen", 9,
                    "expected a map");
        CHECK_ERROR(parse(with("workers:\n  lcores: 1\n")), "workers.lcores", 9,
                    "expected a sequence");
        CHECK_ERROR(parse(with("eal:\n  extra_args: --no-telemetry\n")), "eal.extra_args", 9,
                    "expected a sequence");
        CHECK_ERROR(parse("ports:\n  name: a\n"), "ports", 2, "expected a sequence");
        CHECK_ERROR(parse("ports:\n  - a\n"), "ports[0]", 2, "expected a map");
    }
    SECTION("a null where a value is required") {
        CHECK_ERROR(parse(port_field("mtu:")), "ports[0].mtu", 5, "expected an integer, got null");
        CHECK_ERROR(parse(with("log:\n  level:\n")), "log.level", 9, "got null");
    }
    SECTION("a quoted number is a string, not an integer") {
        CHECK_ERROR(parse(port_field("mtu: \"1500\"")), "ports[0].mtu", 5,
                    "expected an integer, got a quoted string '1500'");
    }
}

TEST_CASE("a null optional field is unset and a null section keeps its defaults", "[config]") {
    const ParseResult r = parse(port_field("mac: ~") + "pfcp:\nmetrics:\n  listen:\n");
    REQUIRE_OK(r);
    CHECK_FALSE(r.config->ports[0].mac.has_value());
    CHECK(r.config->pfcp == braid::config::Pfcp{});
    CHECK(r.config->metrics == braid::config::Metrics{});
}

TEST_CASE("booleans accept only true and false", "[config]") {
    REQUIRE_OK(parse(port_field("promiscuous: true")));
    REQUIRE_OK(parse(port_field("promiscuous: false")));
    for (const char* bad : {"yes", "no", "on", "True", "FALSE", "1", "0", "\"true\""}) {
        INFO(bad);
        CHECK_ERROR(parse(port_field(std::string("promiscuous: ") + bad)), "ports[0].promiscuous",
                    5, "expected true or false");
    }
}

TEST_CASE("integers must be plain non-negative decimals", "[config]") {
    CHECK_ERROR(parse(port_field("mtu: -1500")), "ports[0].mtu", 5, "non-negative");
    CHECK_ERROR(parse(port_field("mtu: 1500.0")), "ports[0].mtu", 5, "no fractions");
    CHECK_ERROR(parse(port_field("mtu: 1.5e3")), "ports[0].mtu", 5, "no fractions");
    CHECK_ERROR(parse(port_field("mtu: 0x5dc")), "ports[0].mtu", 5, "hex/octal not accepted");
    CHECK_ERROR(parse(port_field("mtu: 01500")), "ports[0].mtu", 5, "leading zeros");
    CHECK_ERROR(parse(port_field("mtu: +1500")), "ports[0].mtu", 5, "decimal integer");
    CHECK_ERROR(parse(port_field("mtu: 1500x")), "ports[0].mtu", 5, "decimal integer");
    CHECK_ERROR(parse(port_field("mtu: 99999999999999999999999")), "ports[0].mtu", 5,
                "out of range");
    REQUIRE_OK(parse(port_field("mtu: 1500")));
    REQUIRE_OK(parse(with("mempool:\n  cache_size: 0\n")));
}

TEST_CASE("numbers outside their range are rejected at both ends", "[config]") {
    struct Range {
        std::string path;
        uint64_t min;
        uint64_t max;
    };
    const std::vector<Range> ranges = {
        {"ports[0].rx_queues", 1, 64},
        {"ports[0].tx_queues", 1, 64},
        {"ports[0].rx_descriptors", 64, 16384},
        {"ports[0].tx_descriptors", 64, 16384},
        {"ports[0].mtu", 576, 9600},
        {"mempool.mbufs_per_port", 1023, 4194303},
        {"mempool.cache_size", 0, 512},
        {"mempool.data_room", 1024, 16384},
        {"workers.burst_size", 1, 256},
        {"workers.tx_drain_us", 1, 100000},
        {"eal.main_lcore", 0, 1023},
        {"eal.memory_mb", 0, 1048576},
        {"pfcp.listen.port", 1, 65535},
        {"pfcp.heartbeat.interval_s", 1, 3600},
        {"pfcp.heartbeat.misses", 1, 100},
        {"pfcp.t1_ms", 10, 60000},
        {"pfcp.n1", 0, 10},
        {"pfcp.duplicate_window_ms", 100, 3600000},
        {"metrics.listen.port", 1, 65535},
        {"neighbors.max_entries", 16, 1048576},
        {"neighbors.reachable_s", 1, 86400},
        {"neighbors.retry_ms", 10, 60000},
        {"neighbors.max_retries", 0, 100},
        {"neighbors.hold_per_neighbor", 0, 65536},
        {"neighbors.hold_total", 0, 65536},
        {"neighbors.hold_timeout_ms", 10, 60000},
    };
    for (const Range& range : ranges) {
        INFO(range.path);
        for (uint64_t ok : {range.min, range.max}) {
            const auto [text, line] = set_value(range.path, std::to_string(ok));
            INFO(text);
            REQUIRE_OK(parse(text));
        }
        {
            const auto [text, line] = set_value(range.path, std::to_string(range.max + 1));
            CHECK_ERROR(parse(text), range.path, line,
                        std::to_string(range.max + 1) + " is out of range (" +
                            std::to_string(range.min) + ".." + std::to_string(range.max) + ")");
        }
        if (range.min > 0) {
            const auto [text, line] = set_value(range.path, std::to_string(range.min - 1));
            CHECK_ERROR(parse(text), range.path, line, "is out of range");
        } else {
            const auto [text, line] = set_value(range.path, "-1");
            CHECK_ERROR(parse(text), range.path, line, "non-negative");
        }
    }
}

TEST_CASE("descriptor counts must be powers of two", "[config]") {
    CHECK_ERROR(parse(port_field("rx_descriptors: 1000")), "ports[0].rx_descriptors", 5,
                "1000 is not a power of two");
    CHECK_ERROR(parse(port_field("tx_descriptors: 1536")), "ports[0].tx_descriptors", 5,
                "not a power of two");
    for (int n = 64; n <= 16384; n *= 2) {
        REQUIRE_OK(parse(port_field("rx_descriptors: " + std::to_string(n))));
    }
}

TEST_CASE("the hand-off ring size must be a power of two in range", "[config]") {
    {
        const auto [text, line] = set_value("workers.handoff_ring_size", "1000");
        CHECK_ERROR(parse(text), "workers.handoff_ring_size", line, "1000 is not a power of two");
    }
    for (const char* out_of_range : {"32", "32768"}) {
        INFO(out_of_range);
        const auto [text, line] = set_value("workers.handoff_ring_size", out_of_range);
        CHECK_ERROR(parse(text), "workers.handoff_ring_size", line, "is out of range");
    }
    for (int n = 64; n <= 16384; n *= 2) {
        REQUIRE_OK(parse(set_value("workers.handoff_ring_size", std::to_string(n)).first));
    }
}

TEST_CASE("port addresses must be IPv4/IPv6 prefixes with a length", "[config]") {
    SECTION("IPv4") {
        REQUIRE_OK(parse(port_field("ipv4: 198.18.0.1/32")));
        for (const char* bad :
             {"198.18.0.1", "198.18.0.1/33", "198.18.0.1/0", "198.18.0/24", "198.18.0.256/24",
              "198.18.0.1/", "198.18.0.1/2a", "2001:db8::1/64", "198.18.0.1/24/1", "/24"}) {
            INFO(bad);
            CHECK_ERROR(parse(port_field(std::string("ipv4: \"") + bad + "\"")), "ports[0].ipv4", 5,
                        "not an IPv4 prefix");
        }
    }
    SECTION("IPv6") {
        REQUIRE_OK(parse(port_field("ipv6: ::ffff:198.18.0.1/128")));
        for (const char* bad :
             {"2001:db8::1", "2001:db8::1/129", "2001:db8::1/0", "2001:db8:::1/64",
              "2001:db8::g/64", "198.18.0.1/24", "fe80::1%eth0/64"}) {
            INFO(bad);
            CHECK_ERROR(parse(port_field(std::string("ipv6: \"") + bad + "\"")), "ports[0].ipv6", 5,
                        "not an IPv6 prefix");
        }
    }
    SECTION("the message says what is wrong") {
        CHECK_ERROR(parse(port_field("ipv4: 198.18.0.1")), "ports[0].ipv4", 5,
                    "missing prefix length");
        CHECK_ERROR(parse(port_field("ipv4: 198.18.0.1/40")), "ports[0].ipv4", 5,
                    "prefix length must be 1..32");
        CHECK_ERROR(parse(port_field("ipv6: 2001:db8::1/200")), "ports[0].ipv6", 5,
                    "prefix length must be 1..128");
    }
    SECTION("gateways are plain addresses of their family") {
        CHECK_ERROR(parse(port_field("gateway_ipv4: 198.18.0.254/24")), "ports[0].gateway_ipv4", 5,
                    "not an IPv4 address");
        CHECK_ERROR(parse(port_field("gateway_ipv4: 2001:db8::1")), "ports[0].gateway_ipv4", 5,
                    "not an IPv4 address");
        CHECK_ERROR(parse(port_field("gateway_ipv6: 198.18.0.254")), "ports[0].gateway_ipv6", 5,
                    "not an IPv6 address");
    }
    SECTION("endpoint addresses are IPv4 or IPv6 literals") {
        CHECK_ERROR(parse(with("pfcp:\n  listen:\n    address: localhost\n")),
                    "pfcp.listen.address", 10, "not an IPv4 or IPv6 address");
        REQUIRE_OK(parse(with("pfcp:\n  listen:\n    address: \"::1\"\n")));
    }
}

TEST_CASE("a port MAC must be six colon-separated hex bytes and unicast", "[config]") {
    REQUIRE_OK(parse(port_field("mac: \"02:AB:cd:00:00:01\"")));
    for (const char* bad : {"02:ab:cd:00:00", "02:ab:cd:00:00:01:02", "02-ab-cd-00-00-01",
                            "02:ab:cd:00:00:0g", "2:ab:cd:00:00:01", "02ab.cd00.0001"}) {
        INFO(bad);
        CHECK_ERROR(parse(port_field(std::string("mac: \"") + bad + "\"")), "ports[0].mac", 5,
                    "not a MAC address");
    }
    CHECK_ERROR(parse(port_field("mac: \"01:00:5e:00:00:01\"")), "ports[0].mac", 5, "multicast");
    CHECK_ERROR(parse(port_field("mac: \"00:00:00:00:00:00\"")), "ports[0].mac", 5, "all-zero");
}

TEST_CASE("a PCI address must be DDDD:BB:DD.F or BB:DD.F", "[config]") {
    const auto pci_port = [](const std::string& pci) {
        return "ports:\n"
               "  - name: a\n"
               "    role: n3\n"
               "    pci: \"" +
               pci +
               "\"\n"
               "  - name: b\n"
               "    role: n6\n"
               "    vdev: net_null1\n";
    };
    for (const char* good : {"0000:3b:02.0", "3b:02.7", "FFFF:ff:1f.0", "0001:00:00.1"}) {
        INFO(good);
        REQUIRE_OK(parse(pci_port(good)));
    }
    for (const char* bad : {"0000:3b:02", "000:3b:02.0", "0000:3b:20.0", "0000:3b:02.8",
                            "0000:3g:02.0", "3b:2.0", "0000-3b-02.0", "0000:3b:02.0 ", ""}) {
        INFO(bad);
        CHECK_ERROR(parse(pci_port(bad)), "ports[0].pci", 4, "not a PCI address");
    }
}

TEST_CASE("a port needs exactly one of pci and vdev", "[config]") {
    CHECK_ERROR(parse(port_field("pci: \"0000:3b:02.0\"")), "ports[0]", 2,
                "exactly one of 'pci' and 'vdev' must be set, not both");
    CHECK_ERROR(parse("ports:\n  - name: a\n    role: n3\n  - name: b\n    role: n6\n    "
                      "vdev: net_null1\n"),
                "ports[0]", 2, "exactly one of 'pci' and 'vdev' must be set");
    CHECK_ERROR(parse(port_field("vdev: net_null2")), "ports[0].vdev", 5, "duplicate key 'vdev'");
    CHECK_ERROR(parse("ports:\n  - name: a\n    role: n3\n    vdev: \"net null\"\n  - name: b\n"
                      "    role: n6\n    vdev: net_null1\n"),
                "ports[0].vdev", 4, "not a vdev string");
}

TEST_CASE("ports need a name and a role", "[config]") {
    CHECK_ERROR(parse("ports:\n  - role: n3\n    vdev: x0\n  - name: b\n    role: n6\n    "
                      "vdev: x1\n"),
                "ports[0].name", 2, "missing required key 'name'");
    CHECK_ERROR(parse("ports:\n  - name: a\n    vdev: x0\n  - name: b\n    role: n6\n    "
                      "vdev: x1\n"),
                "ports[0].role", 2, "missing required key 'role'");
}

TEST_CASE("port names must be unique and match [a-z0-9_-]{1,31}", "[config]") {
    const ParseResult dup = parse(
        "ports:\n  - name: a\n    role: n3\n    vdev: x0\n  - name: a\n    role: n6\n    vdev: "
        "x1\n");
    CHECK_ERROR(dup, "ports[1].name", 5, "duplicate port name 'a' (also ports[0])");

    for (const char* bad : {"N3", "n3.0", "n 3", "\"\"", "abcdefghijklmnopqrstuvwxyz0123456"}) {
        INFO(bad);
        const std::string text = std::string("ports:\n  - name: ") + bad +
                                 "\n    role: n3\n    vdev: x0\n  - name: b\n    role: n6\n"
                                 "    vdev: x1\n";
        CHECK_ERROR(parse(text), "ports[0].name", 2, "must match [a-z0-9_-]{1,31}");
    }
    REQUIRE_OK(
        parse("ports:\n  - name: abcdefghijklmnopqrstuvwxyz01234\n    role: n3\n    "
              "vdev: x0\n  - name: b\n    role: n6\n    vdev: x1\n"));
}

TEST_CASE("the same device cannot back two ports", "[config]") {
    CHECK_ERROR(parse("ports:\n  - name: a\n    role: n3\n    vdev: net_tap0,iface=x\n"
                      "  - name: b\n    role: n6\n    vdev: net_tap0,iface=y\n"),
                "ports[1].vdev", 7, "duplicate vdev device 'net_tap0'");
    CHECK_ERROR(parse("ports:\n  - name: a\n    role: n3\n    pci: \"3b:02.0\"\n"
                      "  - name: b\n    role: n6\n    pci: \"3b:02.0\"\n"),
                "ports[1].pci", 7, "duplicate PCI address");
}

TEST_CASE("port roles are n3 or n6 and both must be present", "[config]") {
    CHECK_ERROR(parse("ports:\n  - name: a\n    role: n9\n    vdev: x0\n  - name: b\n    role: n6\n"
                      "    vdev: x1\n"),
                "ports[0].role", 3, "unknown port role 'n9' (expected n3 or n6)");
    CHECK_ERROR(parse("ports:\n  - name: a\n    role: n6\n    vdev: x0\n  - name: b\n    role: n6\n"
                      "    vdev: x1\n"),
                "ports", 1, "no port with role n3");
    CHECK_ERROR(parse("ports:\n  - name: a\n    role: n3\n    vdev: x0\n"), "ports", 1,
                "no port with role n6");

    // A bad role does not also produce a misleading "no port with role" error.
    const ParseResult r = parse(
        "ports:\n  - name: a\n    role: n3\n    vdev: x0\n  - name: b\n"
        "    role: N6\n    vdev: x1\n");
    CHECK(r.errors.size() == 1);

    REQUIRE_OK(
        parse("ports:\n  - {name: a, role: n3, vdev: x0}\n  - {name: b, role: n3, vdev: x1}\n"
              "  - {name: c, role: n6, vdev: x2}\n"));
}

TEST_CASE("worker lcores are unique, non-empty and exclude the main lcore", "[config]") {
    CHECK_ERROR(parse(with("workers:\n  lcores: [1, 2, 1]\n")), "workers.lcores[2]", 9,
                "duplicate worker lcore 1");
    CHECK_ERROR(parse(with("workers:\n  lcores: []\n")), "workers.lcores", 9,
                "at least one worker lcore");
    CHECK_ERROR(parse(with("workers:\n  lcores: [1, 2.5]\n")), "workers.lcores[1]", 9,
                "expected an integer");
    CHECK_ERROR(parse(with("workers:\n  lcores: [1, 1024]\n")), "workers.lcores[1]", 9,
                "out of range (0..1023)");
    REQUIRE_OK(parse(with("workers:\n  lcores: [1, 2, 3, 7]\n")));
}

TEST_CASE("a worker lcore equal to eal.main_lcore is an error", "[config]") {
    CHECK_ERROR(parse(with("workers:\n  lcores: [1]\neal:\n  main_lcore: 1\n")),
                "workers.lcores[0]", 9, "is eal.main_lcore");
    CHECK_ERROR(parse(with("workers:\n  lcores:\n    - 2\n    - 0\n")), "workers.lcores[1]", 11,
                "worker lcore 0 is eal.main_lcore");
}

TEST_CASE("no_huge requires memory_mb > 0", "[config]") {
    CHECK_ERROR(parse(with("eal:\n  no_huge: true\n")), "eal.memory_mb", 9, "must be > 0");
    CHECK_ERROR(parse(with("eal:\n  no_huge: true\n  memory_mb: 0\n")), "eal.memory_mb", 10,
                "must be > 0");
    REQUIRE_OK(parse(with("eal:\n  no_huge: true\n  memory_mb: 256\n")));
    REQUIRE_OK(parse(with("eal:\n  no_huge: false\n  memory_mb: 0\n")));
}

TEST_CASE("eal.no_pci is taken as given", "[config]") {
    const ParseResult r = parse(with("eal:\n  no_pci: false\n"));
    REQUIRE_OK(r);
    CHECK_FALSE(r.config->eal.no_pci);  // vdev-only ports: the dataplane forces it on
}

TEST_CASE("eal.file_prefix and pfcp.node_id are validated", "[config]") {
    CHECK_ERROR(parse(with("eal:\n  file_prefix: \"a/b\"\n")), "eal.file_prefix", 9, "must match");
    CHECK_ERROR(parse(with("eal:\n  file_prefix: \"\"\n")), "eal.file_prefix", 9, "must match");
    CHECK_ERROR(parse(with("pfcp:\n  node_id: \"upf 1\"\n")), "pfcp.node_id", 9,
                "neither an IP address nor a DNS name");
    REQUIRE_OK(parse(with("pfcp:\n  node_id: \"2001:db8::5\"\n")));
}

TEST_CASE("pfcp reliability, peer policy and peers are validated", "[config]") {
    SECTION("unknown keys name their path") {
        CHECK_ERROR(parse(with("pfcp:\n  heartbeat:\n    interval: 5\n")),
                    "pfcp.heartbeat.interval", 10,
                    "unknown key 'interval' (expected one of: interval_s, misses)");
        CHECK_ERROR(parse(with("pfcp:\n  peers:\n    - address: 198.18.5.1\n      prot: 1\n")),
                    "pfcp.peers[0].prot", 11, "unknown key 'prot'");
        CHECK_ERROR(parse(with("pfcp:\n  t1: 100\n")), "pfcp.t1", 9, "unknown key 't1'");
    }
    SECTION("peer_lost is one of two policies") {
        const ParseResult r = parse(with("pfcp:\n  peer_lost: delete_sessions\n"));
        REQUIRE_OK(r);
        CHECK(r.config->pfcp.peer_lost == braid::config::PfcpPeerLost::delete_sessions);
        CHECK_ERROR(parse(with("pfcp:\n  peer_lost: keep\n")), "pfcp.peer_lost", 9,
                    "unknown policy 'keep' (expected delete_sessions or keep_sessions)");
        CHECK_ERROR(parse(with("pfcp:\n  peer_lost: true\n")), "pfcp.peer_lost", 9,
                    "unknown policy 'true'");
    }
    SECTION("a peer needs an address; the port defaults to 8805") {
        const ParseResult r = parse(with("pfcp:\n  peers:\n    - address: 198.18.5.1\n"));
        REQUIRE_OK(r);
        REQUIRE(r.config->pfcp.peers.size() == 1);
        CHECK(r.config->pfcp.peers[0].port == 8805);
        CHECK_ERROR(parse(with("pfcp:\n  peers:\n    - port: 8805\n")), "pfcp.peers[0].address", 10,
                    "missing required key 'address'");
        CHECK_ERROR(parse(with("pfcp:\n  peers:\n    - address: smf.example.org\n")),
                    "pfcp.peers[0].address", 10, "not an IPv4 or IPv6 address");
        CHECK_ERROR(parse(with("pfcp:\n  peers:\n    -\n")), "pfcp.peers[0]", 0,
                    "expected a map, got null");
        CHECK_ERROR(parse(with("pfcp:\n  peers: 198.18.5.1\n")), "pfcp.peers", 9,
                    "expected a sequence");
        CHECK_ERROR(parse(with("pfcp:\n  peers:\n    - address: 0.0.0.0\n")),
                    "pfcp.peers[0].address", 10, "is a wildcard");
    }
    SECTION("duplicate peers are rejected") {
        CHECK_ERROR(parse(with("pfcp:\n  peers:\n    - address: 198.18.5.1\n"
                               "    - {address: 198.18.5.1, port: 8805}\n")),
                    "pfcp.peers[1]", 11,
                    "duplicate peer 198.18.5.1 port 8805 (also pfcp.peers[0])");
        REQUIRE_OK(
            parse(with("pfcp:\n  peers:\n    - address: 198.18.5.1\n"
                       "    - {address: 198.18.5.1, port: 8806}\n")));
    }
    SECTION("a peer's address family must fit the listen address") {
        CHECK_ERROR(parse(with("pfcp:\n  peers:\n    - address: 2001:db8:5::1\n")),
                    "pfcp.peers[0].address", 10,
                    "peer '2001:db8:5::1' is IPv6 but pfcp.listen.address '127.0.0.1' is IPv4");
        CHECK_ERROR(parse(with("pfcp:\n  listen:\n    address: \"2001:db8::1\"\n  peers:\n"
                               "    - address: 198.18.5.1\n")),
                    "pfcp.peers[0].address", 12, "is IPv4 but");
        REQUIRE_OK(
            parse(with("pfcp:\n  listen:\n    address: \"::\"\n  node_id: upf\n"
                       "  peers:\n    - address: 198.18.5.1\n    - address: 2001:db8::5\n")));
    }
    SECTION("a wildcard listen address needs a node_id") {
        CHECK_ERROR(parse(with("pfcp:\n  listen:\n    address: 0.0.0.0\n")), "pfcp.node_id", 10,
                    "must be set when pfcp.listen.address is a wildcard");
        CHECK_ERROR(parse(with("pfcp:\n  listen:\n    address: \"::\"\n")), "pfcp.node_id", 10,
                    "must be set");
        REQUIRE_OK(parse(with("pfcp:\n  listen:\n    address: 0.0.0.0\n  node_id: 198.18.0.1\n")));
        REQUIRE_OK(parse(with("pfcp:\n  enabled: false\n  listen:\n    address: 0.0.0.0\n")));
    }
    SECTION("duplicate_window_ms: null is the default from T1 and N1") {
        const ParseResult r =
            parse(with("pfcp:\n  t1_ms: 1000\n  n1: 2\n  duplicate_window_ms:\n"));
        REQUIRE_OK(r);
        CHECK_FALSE(r.config->pfcp.duplicate_window_ms.has_value());
        CHECK(r.config->pfcp.duplicate_window_ms_default() == 5000);
    }
}

TEST_CASE("pfcp.ue_ip_pools: prefixes, network instances, errors naming the key", "[config]") {
    const ParseResult r =
        parse(with("pfcp:\n  ue_ip_pools:\n    - prefix: 198.20.0.0/16\n"
                   "    - prefix: 2001:db8:100::/48\n      network_instance: ims\n"));
    REQUIRE_OK(r);
    const auto& pools = r.config->pfcp.ue_ip_pools;
    REQUIRE(pools.size() == 2);
    CHECK(pools[0].family == 4);
    CHECK(pools[0].length == 16);
    CHECK(pools[0].prefix[0] == 198);
    CHECK(pools[0].prefix[1] == 20);
    CHECK(pools[0].network_instance.empty());
    CHECK(pools[1].family == 6);
    CHECK(pools[1].length == 48);
    CHECK(pools[1].prefix[5] == 0x00);
    CHECK(pools[1].prefix[4] == 0x01);
    CHECK(pools[1].network_instance == "ims");
    // render() writes them back.
    const ParseResult back = parse(render(*r.config));
    REQUIRE_OK(back);
    CHECK(back.config->pfcp.ue_ip_pools == pools);

    CHECK_ERROR(parse(with("pfcp:\n  ue_ip_pools:\n    - prefix: 198.20.0.1/16\n")),
                "pfcp.ue_ip_pools[0].prefix", 10, "host bits set");
    CHECK_ERROR(parse(with("pfcp:\n  ue_ip_pools:\n    - prefix: 198.20.0.0\n")),
                "pfcp.ue_ip_pools[0].prefix", 10, "missing prefix length");
    CHECK_ERROR(parse(with("pfcp:\n  ue_ip_pools:\n    - prefix: 2001:db8::/80\n")),
                "pfcp.ue_ip_pools[0].prefix", 10, "a /64 per session");
    CHECK_ERROR(parse(with("pfcp:\n  ue_ip_pools:\n    - prefix: 198.300.0.0/16\n")),
                "pfcp.ue_ip_pools[0].prefix", 10, "is not an IPv4 address");
    CHECK_ERROR(parse(with("pfcp:\n  ue_ip_pools:\n    - network_instance: ims\n")),
                "pfcp.ue_ip_pools[0].prefix", 10, "missing required key 'prefix'");
    CHECK_ERROR(parse(with("pfcp:\n  ue_ip_pools:\n    - prefix: 198.20.0.0/16\n      nat: 1\n")),
                "pfcp.ue_ip_pools[0].nat", 11, "unknown key 'nat'");
    CHECK_ERROR(parse(with("pfcp:\n  ue_ip_pools:\n    - prefix: 198.20.0.0/16\n"
                           "    - prefix: 198.20.7.0/24\n")),
                "pfcp.ue_ip_pools", 9, "overlaps UE IP pool 0");
    // A null element carries the mark of what follows it (yaml-cpp), here the end of input.
    CHECK_ERROR(parse(with("pfcp:\n  ue_ip_pools:\n    -\n")), "pfcp.ue_ip_pools[0]", 11,
                "expected a map");
}

TEST_CASE("pfcp.mptcp_proxy: keys checked, enabled accepted", "[config]") {
    const ParseResult r = parse(
        with("pfcp:\n  mptcp_proxy:\n    address_v4: 198.18.7.1\n    address_v6: 2001:db8:7::1\n"
             "    port: 5124\n    link_specific_pools:\n      tgpp:\n        - prefix: "
             "198.19.10.0/24\n      non_tgpp:\n        - prefix: 198.19.20.0/24\n"));
    REQUIRE_OK(r);
    const auto& mp = r.config->pfcp.mptcp_proxy;
    CHECK_FALSE(mp.enabled);
    CHECK(mp.address_v4 == ipv4("198.18.7.1"));
    CHECK(mp.port == 5124);
    REQUIRE(mp.tgpp_pools.size() == 1);
    CHECK(mp.tgpp_pools[0].prefix[2] == 10);
    REQUIRE(mp.non_tgpp_pools.size() == 1);
    const ParseResult back = parse(render(*r.config));
    REQUIRE_OK(back);
    CHECK(back.config->pfcp.mptcp_proxy == mp);

    // The proxy datapath exists (issue 7): enabled is accepted and round-trips.
    const ParseResult on = parse(with("pfcp:\n  mptcp_proxy:\n    enabled: true\n"));
    REQUIRE_OK(on);
    CHECK(on.config->pfcp.mptcp_proxy.enabled);
    REQUIRE_OK(parse(render(*on.config)));
    CHECK(parse(render(*on.config)).config->pfcp.mptcp_proxy.enabled);
    CHECK_ERROR(parse(with("pfcp:\n  mptcp_proxy:\n    address_v6: 198.18.7.1\n")),
                "pfcp.mptcp_proxy.address_v6", 10, "not an IPv6 address");
    CHECK_ERROR(parse(with("pfcp:\n  mptcp_proxy:\n    link_specific_pools:\n      wifi: []\n")),
                "pfcp.mptcp_proxy.link_specific_pools.wifi", 11, "unknown key 'wifi'");
}

TEST_CASE("pfcp.mptcp_proxy: converter policy keys (address mode, pools, ACL, limits)",
          "[config]") {
    using braid::config::ProxyAddressMode;
    SECTION("defaults") {
        const ParseResult r = parse(two_ports);
        REQUIRE_OK(r);
        const auto& mp = r.config->pfcp.mptcp_proxy;
        CHECK(mp.address_mode == ProxyAddressMode::preserving);
        CHECK(mp.n6_pool.empty());
        CHECK(mp.deny_prefixes.empty());
        CHECK(mp.per_ue_max_connections == 64);
        CHECK(mp.per_ue_max_pending_syns == 16);
        CHECK(mp.error_reply_rate == 10);
        CHECK(mp.connect_timeout_ms == 10000);
    }
    SECTION("every key, and render round trip") {
        const ParseResult r =
            parse(with("pfcp:\n  mptcp_proxy:\n    address_mode: sharing\n"
                       "    n6_pool: [198.18.100.0/24, \"2001:db8:100::/64\"]\n"
                       "    deny_prefixes: [198.18.128.0/17, \"2001:db8:dead::/48\"]\n"
                       "    per_ue_max_connections: 100\n    per_ue_max_pending_syns: 100\n"
                       "    error_reply_rate: 5\n    connect_timeout_ms: 2500\n"));
        REQUIRE_OK(r);
        const auto& mp = r.config->pfcp.mptcp_proxy;
        CHECK(mp.address_mode == ProxyAddressMode::sharing);
        REQUIRE(mp.n6_pool.size() == 2);
        CHECK(mp.n6_pool[0].family == 4);
        CHECK(mp.n6_pool[0].addr[2] == 100);
        CHECK(mp.n6_pool[0].len == 24);
        CHECK(mp.n6_pool[1].family == 6);
        CHECK(mp.n6_pool[1].len == 64);
        REQUIRE(mp.deny_prefixes.size() == 2);
        CHECK(mp.deny_prefixes[0].addr[2] == 128);
        CHECK(mp.deny_prefixes[1].addr[4] == 0xde);
        CHECK(mp.per_ue_max_connections == 100);
        CHECK(mp.per_ue_max_pending_syns == 100);
        CHECK(mp.error_reply_rate == 5);
        CHECK(mp.connect_timeout_ms == 2500);
        const ParseResult back = parse(render(*r.config));
        REQUIRE_OK(back);
        CHECK(back.config->pfcp.mptcp_proxy == mp);
    }
    SECTION("bad values name the key and line") {
        CHECK_ERROR(parse(with("pfcp:\n  mptcp_proxy:\n    address_mode: nat\n")),
                    "pfcp.mptcp_proxy.address_mode", 10, "unknown address mode 'nat'");
        CHECK_ERROR(parse(with("pfcp:\n  mptcp_proxy:\n    address_mode: sharing\n")),
                    "pfcp.mptcp_proxy.n6_pool", 10, "sharing needs an n6_pool");
        CHECK_ERROR(parse(with("pfcp:\n  mptcp_proxy:\n    n6_pool: [198.18.100.0/24]\n")),
                    "pfcp.mptcp_proxy.n6_pool", 10, "only with address_mode: sharing");
        CHECK_ERROR(parse(with("pfcp:\n  mptcp_proxy:\n    address_mode: sharing\n"
                               "    n6_pool: [198.18.100.0/24, 198.18.101.0/24]\n")),
                    "pfcp.mptcp_proxy.n6_pool[1]", 11, "one prefix per family");
        CHECK_ERROR(parse(with("pfcp:\n  mptcp_proxy:\n    address_mode: sharing\n"
                               "    n6_pool: [\"2001:db8::/48\"]\n")),
                    "pfcp.mptcp_proxy.n6_pool[0]", 11, "prefix length must be 64..128");
        CHECK_ERROR(parse(with("pfcp:\n  mptcp_proxy:\n    address_mode: sharing\n"
                               "    n6_pool: [198.18.100.1/24]\n")),
                    "pfcp.mptcp_proxy.n6_pool[0]", 11, "host bits are set");
        CHECK_ERROR(parse(with("pfcp:\n  mptcp_proxy:\n    deny_prefixes: [198.18.0.0]\n")),
                    "pfcp.mptcp_proxy.deny_prefixes[0]", 10, "missing prefix length");
        CHECK_ERROR(parse(with("pfcp:\n  mptcp_proxy:\n    deny_prefixes: [300.1.2.0/24]\n")),
                    "pfcp.mptcp_proxy.deny_prefixes[0]", 10, "not an IPv4 address");
        CHECK_ERROR(parse(with("pfcp:\n  mptcp_proxy:\n    deny_prefixes: 198.18.0.0/15\n")),
                    "pfcp.mptcp_proxy.deny_prefixes", 10, "expected a sequence");
        CHECK_ERROR(parse(with("pfcp:\n  mptcp_proxy:\n    per_ue_max_connections: 0\n")),
                    "pfcp.mptcp_proxy.per_ue_max_connections", 10, "out of range (1..65536)");
        CHECK_ERROR(parse(with("pfcp:\n  mptcp_proxy:\n    per_ue_max_pending_syns: 5000\n")),
                    "pfcp.mptcp_proxy.per_ue_max_pending_syns", 10, "out of range (1..4096)");
        CHECK_ERROR(parse(with("pfcp:\n  mptcp_proxy:\n    error_reply_rate: 0\n")),
                    "pfcp.mptcp_proxy.error_reply_rate", 10, "out of range (1..10000)");
        CHECK_ERROR(parse(with("pfcp:\n  mptcp_proxy:\n    connect_timeout_ms: 50\n")),
                    "pfcp.mptcp_proxy.connect_timeout_ms", 10, "out of range (100..120000)");
        CHECK_ERROR(parse(with("pfcp:\n  mptcp_proxy:\n    per_ue_max_connections: 8\n"
                               "    per_ue_max_pending_syns: 9\n")),
                    "pfcp.mptcp_proxy.per_ue_max_pending_syns", 11,
                    "above per_ue_max_connections (8)");
        CHECK_ERROR(parse(with("pfcp:\n  ue_ip_pools:\n    - prefix: 198.18.96.0/20\n"
                               "  mptcp_proxy:\n    address_mode: sharing\n"
                               "    n6_pool: [198.18.100.0/24]\n")),
                    "pfcp.mptcp_proxy.n6_pool", 13, "overlaps the UE address pool 198.18.96.0/20");
    }
}

TEST_CASE("the log level must be one of the syslog names", "[config]") {
    for (const char* level :
         {"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}) {
        INFO(level);
        const ParseResult r = parse(with(std::string("log:\n  level: ") + level + "\n"));
        REQUIRE_OK(r);
        CHECK(r.config->log.level == level);
    }
    for (const char* bad : {"verbose", "INFO", "warn", "error", "7"}) {
        INFO(bad);
        CHECK_ERROR(parse(with(std::string("log:\n  level: ") + bad + "\n")), "log.level", 9,
                    "unknown log level");
    }
}

TEST_CASE("all errors are collected, not just the first", "[config]") {
    const ParseResult r = parse(R"(bogus: 1
ports:
  - name: a
    role: n3
    vdev: x0
    ipv4: 198.18.0.1
    mtu: 100
  - name: b
    role: n6
    vdev: x1
    mac: "zz:00:00:00:00:00"
workers:
  lcores: [0]
log:
  level: loud
)");
    INFO(all_errors(r));
    CHECK_FALSE(r.ok());
    CHECK_FALSE(r.config.has_value());
    CHECK(r.errors.size() == 6);
    CHECK(has_error(r, "bogus", 1, "unknown key"));
    CHECK(has_error(r, "ports[0].ipv4", 6, "missing prefix length"));
    CHECK(has_error(r, "ports[0].mtu", 7, "out of range"));
    CHECK(has_error(r, "ports[1].mac", 11, "not a MAC address"));
    CHECK(has_error(r, "workers.lcores[0]", 13, "is eal.main_lcore"));
    CHECK(has_error(r, "log.level", 15, "unknown log level"));
}

TEST_CASE("Error::to_string names the key path and the line", "[config]") {
    CHECK(Error{"ports[1].ipv4", 12, "not an IPv4 prefix: 'x'"}.to_string() ==
          "config: ports[1].ipv4 (line 12): not an IPv4 prefix: 'x'");
    CHECK(Error{"ports", 0, "missing"}.to_string() == "config: ports: missing");
    CHECK(Error{"", 3, "YAML syntax error"}.to_string() == "config: line 3: YAML syntax error");
    CHECK(Error{"", 0, "cannot open"}.to_string() == "config: cannot open");
}

TEST_CASE("parse_file on a missing file gives a clear error", "[config]") {
    const ParseResult r = parse_file("/nonexistent/braid/config.yaml");
    REQUIRE_FALSE(r.ok());
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].to_string() ==
          "config: cannot open '/nonexistent/braid/config.yaml': No such file or directory");
}

TEST_CASE("parse_file reads a file and reports errors against its lines", "[config]") {
    char path[] = "/tmp/braid_test_config_XXXXXX";
    const int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    {
        std::ofstream out(path);
        out << braid::config::default_yaml();
    }
    const ParseResult good = parse_file(path);
    {
        std::ofstream out(path);
        out << with("log:\n  level: chatty\n");
    }
    const ParseResult bad = parse_file(path);
    std::remove(path);

    REQUIRE_OK(good);
    CHECK(*good.config == *parse(braid::config::default_yaml()).config);
    CHECK_ERROR(bad, "log.level", 9, "unknown log level 'chatty'");
}

TEST_CASE("port_by_name and to_string(PortRole)", "[config]") {
    const ParseResult r = parse(two_ports);
    REQUIRE_OK(r);
    REQUIRE(r.config->port_by_name("a") != nullptr);
    CHECK(r.config->port_by_name("a")->role == PortRole::n3);
    CHECK(r.config->port_by_name("b") == &r.config->ports[1]);
    CHECK(r.config->port_by_name("c") == nullptr);
    CHECK(braid::config::to_string(PortRole::n3) == "n3");
    CHECK(braid::config::to_string(PortRole::n6) == "n6");
}

TEST_CASE("a stray flow indicator is an error, not a hang (yaml-cpp LoadAll loop)", "[config]") {
    auto r = braid::config::parse(",", "<fuzz>");
    REQUIRE_FALSE(r.ok());
    REQUIRE_FALSE(r.errors.empty());
    CHECK(r.errors[0].line == 1);
}

TEST_CASE("text that is not UTF-8 is rejected with its line", "[config]") {
    std::string yaml(braid::config::default_yaml());
    yaml += "# \xff\n";
    auto r = braid::config::parse(yaml, "<fuzz>");
    REQUIRE_FALSE(r.ok());
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message.find("UTF-8") != std::string::npos);
    CHECK(r.errors[0].line > 1);
}

TEST_CASE("static sessions parse, render and round-trip", "[config]") {
    const std::string text = with(R"(sessions:
  max: 100
  static:
    - seid: 7
      uplink_teid: 4097
      ue_ipv4: 198.19.100.1
      ue_ipv6: 2001:db8:100:1::/64
      gnb_ipv4: 198.18.0.2
      gnb_teid: 8193
      qfi: 9
      mbr_ul_kbps: 1000
      mbr_dl_kbps: 2000
      uplink_filters: ["permit out 17 from any 53 to assigned"]
      downlink_filters: ["permit out ip from 198.19.0.0/24 to assigned"]
      volume_threshold_bytes: 1000000
      time_threshold_s: 60
      period_s: 10
    - seid: 8
      uplink_teid: 4098
      ue_ipv4: 198.19.100.2
      gnb_ipv4: 198.18.0.2
      gnb_teid: 8194
)");
    const ParseResult r = parse(text);
    REQUIRE_OK(r);
    const auto& s = r.config->sessions.static_sessions;
    REQUIRE(s.size() == 2);
    CHECK(s[0].seid == 7);
    CHECK(s[0].uplink_teid == 4097);
    CHECK(s[0].ue_ipv4 == ipv4("198.19.100.1"));
    REQUIRE(s[0].ue_ipv6);
    CHECK(s[0].ue_ipv6->addr == ipv6("2001:db8:100:1::"));
    CHECK(s[0].gnb_ipv4 == ipv4("198.18.0.2"));
    CHECK(s[0].qfi == 9);
    CHECK(s[0].mbr_dl_kbps == 2000);
    CHECK(s[0].uplink_filters == std::vector<std::string>{"permit out 17 from any 53 to assigned"});
    CHECK(s[0].period_s == 10);
    CHECK_FALSE(s[1].ue_ipv6);
    CHECK_FALSE(s[1].qfi);
    const ParseResult again = parse(braid::config::render(*r.config), "<rendered>");
    REQUIRE_OK(again);
    CHECK(*again.config == *r.config);
}

TEST_CASE("static session errors name the entry and the field", "[config]") {
    auto session = [](const std::string& fields) {
        return with("sessions:\n  static:\n    - seid: 7\n" + fields);
    };
    const std::string base =
        "      uplink_teid: 1\n      ue_ipv4: 198.19.100.1\n      gnb_ipv4: 198.18.0.2\n"
        "      gnb_teid: 2\n";
    REQUIRE_OK(parse(session(base)));
    CHECK_ERROR(parse(session("      ue_ipv4: 198.19.100.1\n      gnb_ipv4: 198.18.0.2\n"
                              "      gnb_teid: 2\n")),
                "sessions.static[0]", 0, "needs 'uplink_teid'");
    CHECK_ERROR(parse(session("      uplink_teid: 1\n      gnb_ipv4: 198.18.0.2\n"
                              "      gnb_teid: 2\n")),
                "sessions.static[0]", 0, "needs ue_ipv4 or ue_ipv6");
    CHECK_ERROR(parse(session(base + "      uplink_filters: [\"permit in ip from any to any\"]\n")),
                "sessions.static[0].uplink_filters[0]", 15, "not an SDF filter");
    CHECK_ERROR(parse(session(base + "      ue_ipv6: 2001:db8:100::/48\n")),
                "sessions.static[0].ue_ipv6", 15, "must be a /64");
    CHECK_ERROR(parse(session(base + "      qfi: 64\n")), "sessions.static[0].qfi", 15,
                "out of range");
    CHECK_ERROR(parse(session(base + "      gnb_teid_typo: 3\n")),
                "sessions.static[0].gnb_teid_typo", 15, "unknown key");
    CHECK_ERROR(parse(with("sessions:\n  static:\n    - seid: 0\n" + base)),
                "sessions.static[0].seid", 10, "out of range");
}

TEST_CASE("static sessions: link-specific addresses (issue 7)", "[config][link]") {
    auto session = [](const std::string& fields) {
        return with(
            "sessions:\n  static:\n    - seid: 7\n      uplink_teid: 1\n"
            "      ue_ipv4: 198.19.100.1\n      gnb_ipv4: 198.18.0.2\n"
            "      gnb_teid: 2\n" +
            fields);
    };
    const ParseResult r = parse(session(
        "      mptcp: true\n      link_addresses: {tgpp: [198.19.210.1, \"2001:db8:30::/64\"], "
        "non_tgpp: [198.19.220.1]}\n"));
    REQUIRE_OK(r);
    const auto& s = r.config->sessions.static_sessions.at(0);
    REQUIRE(s.tgpp_link_addresses.size() == 2);
    CHECK(s.tgpp_link_addresses[0].family == 4);
    CHECK(s.tgpp_link_addresses[0].len == 32);
    CHECK(s.tgpp_link_addresses[0].addr[2] == 210);
    CHECK(s.tgpp_link_addresses[1].family == 6);
    CHECK(s.tgpp_link_addresses[1].len == 64);
    REQUIRE(s.non_tgpp_link_addresses.size() == 1);
    CHECK(s.non_tgpp_link_addresses[0].addr[2] == 220);
    const ParseResult again = parse(braid::config::render(*r.config), "<rendered>");
    REQUIRE_OK(again);
    CHECK(*again.config == *r.config);
    // The session the loader builds carries them to the datapath, per access.
    const braid::dataplane::SessionSpec spec = braid::control::session_spec(s);
    REQUIRE(spec.link_addresses.size() == 3);
    CHECK(spec.mptcp);
    CHECK(spec.link_addresses[0].access == braid::dataplane::LinkAccess::tgpp);
    CHECK(spec.link_addresses[2].access == braid::dataplane::LinkAccess::non_tgpp);
    CHECK(braid::dataplane::compile(spec).rules);

    const std::string key = "sessions.static[0].link_addresses";
    CHECK_ERROR(parse(session("      link_addresses: {tgpp: [198.19.210.1]}\n")), key, 0,
                "need 'mptcp: true'");
    CHECK_ERROR(parse(session("      mptcp: true\n      link_addresses: {tgpp: [198.19.210.1, "
                              "198.19.210.2]}\n")),
                key, 0, "more than one IPv4 link-specific address for tgpp");
    CHECK_ERROR(parse(session("      mptcp: true\n      link_addresses: {tgpp: [198.19.210.1], "
                              "non_tgpp: [198.19.210.1]}\n")),
                key, 0, "listed twice");
    CHECK_ERROR(parse(session("      mptcp: true\n      link_addresses: {tgpp: [198.19.100.1]}\n")),
                key, 0, "the UE's address");
    CHECK_ERROR(parse(session("      mptcp: true\n      link_addresses: {tgpp: "
                              "[\"2001:db8:30::/48\"]}\n")),
                key + ".tgpp[0]", 0, "prefix length must be 64");
    CHECK_ERROR(
        parse(session("      mptcp: true\n      link_addresses: {tgpp: [\"2001:db8:30::/80\"]}\n")),
        key + ".tgpp[0]", 0, "a /64 prefix");
    CHECK_ERROR(
        parse(session("      mptcp: true\n      link_addresses: {tgpp: [not-an-address]}\n")),
        key + ".tgpp[0]", 0, "");
    CHECK_ERROR(parse(session("      mptcp: true\n      link_addresses: {wifi: [198.19.210.1]}\n")),
                key + ".wifi", 0, "unknown key");
}

TEST_CASE("fault_injection: off when absent, parsed per role and direction, strict", "[config]") {
    using braid::dataplane::FaultDirection;
    SECTION("absent: every spec off") {
        const ParseResult r = parse(two_ports);
        REQUIRE_OK(r);
        CHECK_FALSE(r.config->fault_injection.enabled());
    }
    SECTION("the documented example") {
        const ParseResult r =
            parse(with("fault_injection:\n"
                       "  n6:\n"
                       "    rx: {drop: 1.0, seed: 7}\n"
                       "    tx: {delay_us: 25000, jitter_us: 5000}\n"));
        REQUIRE_OK(r);
        const auto& f = r.config->fault_injection;
        CHECK(f.at(1, FaultDirection::rx).drop_ppm == 10'000);
        CHECK(f.at(1, FaultDirection::rx).seed == 7);
        CHECK(f.at(1, FaultDirection::tx).delay_us == 25'000);
        CHECK(f.at(1, FaultDirection::tx).jitter_us == 5'000);
        CHECK_FALSE(f.at(0, FaultDirection::rx).enabled());
        const ParseResult again = parse(braid::config::render(*r.config));
        REQUIRE_OK(again);
        CHECK(again.config->fault_injection == f);
    }
    SECTION("errors name the key path and line") {
        const auto first_error = [](const std::string& text) {
            const ParseResult r = parse(with(text));
            REQUIRE_FALSE(r.errors.empty());
            return r.errors.front();
        };
        Error e = first_error("fault_injection:\n  n9: {}\n");
        CHECK(e.key == "fault_injection.n9");
        CHECK(e.line == 9);
        e = first_error("fault_injection:\n  n3:\n    up: {}\n");
        CHECK(e.key == "fault_injection.n3.up");
        e = first_error("fault_injection:\n  n3:\n    rx:\n      drop: 150\n");
        CHECK(e.key == "fault_injection.n3.rx.drop");
        CHECK(e.line == 11);
        CHECK(e.message.find("percentage") != std::string::npos);
        e = first_error("fault_injection:\n  n3:\n    tx:\n      loss: 1\n");
        CHECK(e.key == "fault_injection.n3.tx.loss");
        CHECK(e.message.find("unknown key 'loss'") != std::string::npos);
        e = first_error("fault_injection:\n  n3:\n    tx:\n      reorder_gap: 0\n");
        CHECK(e.key == "fault_injection.n3.tx.reorder_gap");
        e = first_error("fault_injection:\n  n3:\n    tx: [1]\n");
        CHECK(e.key == "fault_injection.n3.tx");
    }
}

TEST_CASE("tcp.services[].mptcp parses, defaults to off and renders back", "[config]") {
    const ParseResult r =
        parse(with("tcp:\n"
                   "  services:\n"
                   "    - {port: 5011, mode: echo, mptcp: true}\n"
                   "    - {port: 5012, mode: sink}\n"));
    REQUIRE_OK(r);
    REQUIRE(r.config->tcp.services.size() == 2);
    CHECK(r.config->tcp.services[0].mptcp);
    CHECK_FALSE(r.config->tcp.services[1].mptcp);
    const ParseResult again = parse(braid::config::render(*r.config), "<rendered>");
    REQUIRE_OK(again);
    CHECK(*again.config == *r.config);
    const ParseResult bad =
        parse(with("tcp:\n  services:\n    - {port: 5011, mode: echo, mptcp: maybe}\n"));
    CHECK_FALSE(bad.ok());
}

TEST_CASE("tcp.services[].scheduler parses, is checked and renders back", "[config]") {
    const ParseResult r =
        parse(with("tcp:\n"
                   "  services:\n"
                   "    - port: 5011\n"
                   "      mode: echo\n"
                   "      mptcp: true\n"
                   "      scheduler:\n"
                   "        mode: load_balancing\n"
                   "        tgpp: [198.19.0.2/32]\n"
                   "        non_tgpp: [198.19.0.3/32, 2001:db8:6::/64]\n"
                   "        preferred: non-3gpp\n"
                   "        tgpp_weight: 70\n"
                   "        rtt_threshold_ms: 150\n"
                   "        plr_threshold: 3\n"));
    REQUIRE_OK(r);
    const auto& s = r.config->tcp.services[0];
    CHECK(s.scheduler_set);
    CHECK(s.scheduler.mode == "load_balancing");
    CHECK(s.scheduler.tgpp.size() == 1);
    CHECK(s.scheduler.non_tgpp.size() == 2);
    CHECK(s.scheduler.preferred == "non-3gpp");
    CHECK(s.scheduler.tgpp_weight == 70);
    CHECK(s.scheduler.rtt_threshold_ms == 150u);
    CHECK(s.scheduler.plr_threshold == 3u);
    const ParseResult again = parse(braid::config::render(*r.config), "<rendered>");
    REQUIRE_OK(again);
    CHECK(*again.config == *r.config);

    auto err = [](const std::string& svc) {
        const ParseResult bad = parse(with("tcp:\n  services:\n    - " + svc + "\n"));
        REQUIRE_FALSE(bad.errors.empty());
        return bad.errors.front();
    };
    auto e = err("{port: 1, mode: echo, mptcp: true, scheduler: {mode: fastest}}");
    CHECK(e.key == "tcp.services[0].scheduler.mode");
    CHECK_THAT(e.message, Catch::Contains("not a scheduler"));
    e = err("{port: 1, mode: echo, scheduler: {mode: redundant}}");
    CHECK(e.key == "tcp.services[0].scheduler");
    CHECK_THAT(e.message, Catch::Contains("mptcp: true"));
    e = err("{port: 1, mode: echo, mptcp: true, scheduler: {tgpp_weight: 101}}");
    CHECK(e.key == "tcp.services[0].scheduler.tgpp_weight");
    e = err("{port: 1, mode: echo, mptcp: true, scheduler: {plr_threshold: 101}}");
    CHECK(e.key == "tcp.services[0].scheduler.plr_threshold");
    e = err("{port: 1, mode: echo, mptcp: true, scheduler: {preferred: wifi}}");
    CHECK(e.key == "tcp.services[0].scheduler.preferred");
    e = err("{port: 1, mode: echo, mptcp: true, scheduler: {tgpp: [198.19.0.0/33]}}");
    CHECK(e.key == "tcp.services[0].scheduler.tgpp[0]");
}

TEST_CASE("tcp.services[].advertise parses, is checked and renders back", "[config]") {
    const ParseResult r =
        parse(with("tcp:\n"
                   "  services:\n"
                   "    - port: 5011\n"
                   "      mode: echo\n"
                   "      mptcp: true\n"
                   "      advertise:\n"
                   "        - {id: 1, address: 198.18.0.9}\n"
                   "        - {id: 7, address: 2001:db8:9::1, port: 8080}\n"));
    REQUIRE_OK(r);
    const auto& s = r.config->tcp.services[0];
    REQUIRE(s.advertise.size() == 2);
    CHECK(s.advertise[0].id == 1);
    CHECK(s.advertise[0].family == 4);
    CHECK(s.advertise[0].addr[0] == 198);
    CHECK(s.advertise[0].addr[3] == 9);
    CHECK_FALSE(s.advertise[0].port);
    CHECK(s.advertise[1].id == 7);
    CHECK(s.advertise[1].family == 6);
    CHECK(s.advertise[1].addr[2] == 0x0d);
    CHECK(s.advertise[1].addr[3] == 0xb8);
    CHECK(s.advertise[1].port == 8080);
    const ParseResult again = parse(braid::config::render(*r.config), "<rendered>");
    REQUIRE_OK(again);
    CHECK(*again.config == *r.config);

    auto err = [](const std::string& svc) {
        const ParseResult bad = parse(with("tcp:\n  services:\n    - " + svc + "\n"));
        REQUIRE_FALSE(bad.errors.empty());
        return bad.errors.front();
    };
    auto e = err("{port: 1, mode: echo, advertise: [{id: 1, address: 198.18.0.9}]}");
    CHECK(e.key == "tcp.services[0].advertise");
    CHECK_THAT(e.message, Catch::Contains("mptcp: true"));
    e = err("{port: 1, mode: echo, mptcp: true, advertise: [{id: 0, address: 198.18.0.9}]}");
    CHECK(e.key == "tcp.services[0].advertise[0].id");
    e = err("{port: 1, mode: echo, mptcp: true, advertise: [{id: 1, address: nowhere}]}");
    CHECK(e.key == "tcp.services[0].advertise[0].address");
    e = err("{port: 1, mode: echo, mptcp: true, advertise: [{address: 198.18.0.9}]}");
    CHECK(e.key == "tcp.services[0].advertise[0]");
    e =
        err("{port: 1, mode: echo, mptcp: true, advertise: [{id: 2, address: 198.18.0.9}, "
            "{id: 2, address: 198.18.0.10}]}");
    CHECK(e.key == "tcp.services[0].advertise[1].id");
    CHECK_THAT(e.message, Catch::Contains("twice"));
}
