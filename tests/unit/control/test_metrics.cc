#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "control/log.h"
#include "control/metrics.h"

using namespace braid;

namespace {

// GET /metrics HTTP/1.0 against addr:port; returns the whole response ("" on failure).
std::string http_get(const char* addr, uint16_t port, const char* path = "/metrics") {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return "";
    }
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    ::inet_pton(AF_INET, addr, &sa.sin_addr);
    std::string out;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) {
        const std::string req = std::string("GET ") + path + " HTTP/1.0\r\nHost: test\r\n\r\n";
        if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
            char buf[4096];
            ssize_t n;
            while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) {
                out.append(buf, static_cast<size_t>(n));
            }
        }
    }
    ::close(fd);
    return out;
}

bool contains(const std::string& hay, const std::string& needle) {
    return hay.find(needle) != std::string::npos;
}

metrics::Family rx_family() {
    return metrics::Family{
        "braid_port_rx_packets_total",
        "Packets received on a port.",
        metrics::Type::counter,
        {{{{"port", "n3"}, {"queue", "0"}}, 12}, {{{"port", "n6"}, {"queue", "1"}}, 34}}};
}

}  // namespace

TEST_CASE("render_text writes HELP, TYPE and samples", "[metrics]") {
    std::vector<metrics::Family> fams;
    fams.push_back(rx_family());
    fams.push_back(
        metrics::Family{"braid_sessions", "Active sessions.", metrics::Type::gauge, {{{}, 7}}});
    const std::string text = metrics::render_text(fams);
    CHECK(text ==
          "# HELP braid_port_rx_packets_total Packets received on a port.\n"
          "# TYPE braid_port_rx_packets_total counter\n"
          "braid_port_rx_packets_total{port=\"n3\",queue=\"0\"} 12\n"
          "braid_port_rx_packets_total{port=\"n6\",queue=\"1\"} 34\n"
          "# HELP braid_sessions Active sessions.\n"
          "# TYPE braid_sessions gauge\n"
          "braid_sessions 7\n");
}

TEST_CASE("render_text escapes label values and help", "[metrics]") {
    metrics::Family f{"braid_drops_total",
                      "Drops \\ by\nreason.",
                      metrics::Type::counter,
                      {{{{"reason", "say \"hi\"\\\nbye"}}, 1.5}}};
    const std::string text = metrics::render_text({f});
    CHECK(contains(text, "# HELP braid_drops_total Drops \\\\ by\\nreason.\n"));
    CHECK(contains(text, "braid_drops_total{reason=\"say \\\"hi\\\"\\\\\\nbye\"} 1.5\n"));
    // Every line is a comment or a sample: no raw newline leaked.
    CHECK(std::count(text.begin(), text.end(), '\n') == 3);
}

TEST_CASE("render_text writes a histogram: cumulative buckets, +Inf, sum and count", "[metrics]") {
    metrics::Sample s;
    s.buckets = {{0.001, 2}, {0.01, 3}};
    s.count = 4;
    s.value = 1.5;
    metrics::Family f{"braid_proxy_setup_seconds", "Setup.", metrics::Type::histogram, {s}};
    std::string why;
    CHECK(metrics::valid_family(f, &why));
    const std::string text = metrics::render_text({f});
    CHECK(contains(text, "# TYPE braid_proxy_setup_seconds histogram\n"));
    CHECK(contains(text, "braid_proxy_setup_seconds_bucket{le=\"0.001\"} 2\n"));
    CHECK(contains(text, "braid_proxy_setup_seconds_bucket{le=\"0.01\"} 3\n"));
    CHECK(contains(text, "braid_proxy_setup_seconds_bucket{le=\"+Inf\"} 4\n"));
    CHECK(contains(text, "braid_proxy_setup_seconds_sum 1.5\n"));
    CHECK(contains(text, "braid_proxy_setup_seconds_count 4\n"));
    // Not cumulative, or above the count, or named like a counter: refused.
    f.samples[0].buckets = {{0.001, 3}, {0.01, 2}};
    CHECK_FALSE(metrics::valid_family(f, &why));
    CHECK(contains(why, "cumulative"));
    f.samples[0].buckets = {{0.001, 5}};
    CHECK_FALSE(metrics::valid_family(f, nullptr));
    f.samples[0].buckets = {{0.01, 1}, {0.001, 2}};
    CHECK_FALSE(metrics::valid_family(f, nullptr));
    CHECK_FALSE(
        metrics::valid_family({"braid_setup_total", "", metrics::Type::histogram, {}}, nullptr));
}

TEST_CASE("valid_family naming rules", "[metrics]") {
    std::string why;
    CHECK(metrics::valid_family(rx_family(), &why));
    CHECK(metrics::valid_family({"braid_sessions", "", metrics::Type::gauge, {}}, &why));

    auto bad = [&](metrics::Family f, const char* expect) {
        why.clear();
        CHECK_FALSE(metrics::valid_family(f, &why));
        CHECK(contains(why, expect));
        CHECK(contains(why, f.name));
    };
    bad({"port_rx_total", "", metrics::Type::counter, {}}, "^braid_");
    bad({"braid_", "", metrics::Type::gauge, {}}, "^braid_");
    bad({"braid_Rx_total", "", metrics::Type::counter, {}}, "^braid_");
    bad({"braid_rx-x_total", "", metrics::Type::counter, {}}, "^braid_");
    bad({"braid_rx_packets", "", metrics::Type::counter, {}}, "_total");
    bad({"braid_sessions_total", "", metrics::Type::gauge, {}}, "_total");
    bad({"braid_rx_total", "", metrics::Type::counter, {{{{"Port", "a"}}, 1}}}, "label name");
    bad({"braid_rx_total", "", metrics::Type::counter, {{{{"0q", "a"}}, 1}}}, "label name");
    bad({"braid_rx_total", "", metrics::Type::counter, {{{{"", "a"}}, 1}}}, "label name");
    bad({"braid_rx_total", "", metrics::Type::counter, {{{{"q", "a"}, {"q", "b"}}, 1}}},
        "repeated");
    bad({"braid_rx_total",
         "",
         metrics::Type::counter,
         {{{{"a", "1"}, {"b", "2"}}, 1}, {{{"b", "2"}, {"a", "1"}}, 2}}},
        "same label set");
    CHECK(metrics::valid_family(
        {"braid_rx_total", "", metrics::Type::counter, {{{{"_q", "a"}}, 1}}}, nullptr));
    CHECK_FALSE(metrics::valid_family({"braid_rx", "", metrics::Type::counter, {}}, nullptr));
}

TEST_CASE("Exporter serves collectors over HTTP", "[metrics]") {
    std::string err;
    auto exp = metrics::Exporter::start("127.0.0.1", 0, &err);
    REQUIRE(exp != nullptr);
    CHECK(err.empty());
    REQUIRE(exp->port() != 0);

    int calls = 0;
    exp->add_collector("ports", [&calls](std::vector<metrics::Family>& out) {
        ++calls;
        out.push_back(rx_family());
    });
    exp->add_collector("buggy", [](std::vector<metrics::Family>& out) {
        out.push_back({"braid_bad_counter", "no _total", metrics::Type::counter, {{{}, 1}}});
        out.push_back({"braid_port_rx_packets_total", "duplicate", metrics::Type::counter, {}});
        out.push_back({"braid_ok", "fine", metrics::Type::gauge, {{{}, 3}}});
    });
    exp->add_collector("throws",
                       [](std::vector<metrics::Family>&) { throw std::runtime_error("boom"); });

    const std::string resp = http_get("127.0.0.1", exp->port());
    INFO(resp);
    CHECK(resp.rfind("HTTP/1.", 0) == 0);
    CHECK(contains(resp, " 200 "));
    CHECK(contains(resp, "# TYPE braid_port_rx_packets_total counter\n"));
    CHECK(contains(resp, "braid_port_rx_packets_total{port=\"n3\",queue=\"0\"} 12\n"));
    CHECK(contains(resp, "braid_port_rx_packets_total{port=\"n6\",queue=\"1\"} 34\n"));
    CHECK(contains(resp, "braid_ok 3\n"));
    CHECK(contains(resp, "# TYPE braid_build_info gauge\n"));
    CHECK(contains(resp, "braid_build_info{version=\""));
    CHECK(contains(resp, "git_rev=\""));
    CHECK(contains(resp, "braid_metrics_scrapes_total 1\n"));
    // Invalid and duplicate families are dropped and counted, per collector.
    CHECK_FALSE(contains(resp, "braid_bad_counter"));
    CHECK_FALSE(contains(resp, "braid_port_rx_packets_total duplicate"));
    CHECK(contains(resp, "braid_metrics_invalid_families_total{collector=\"buggy\"} 2\n"));
    CHECK(contains(resp, "braid_metrics_invalid_families_total{collector=\"throws\"} 1\n"));
    CHECK(calls == 1);

    // Counters accumulate across scrapes.
    const std::string resp2 = http_get("127.0.0.1", exp->port());
    CHECK(contains(resp2, "braid_metrics_scrapes_total 2\n"));
    CHECK(contains(resp2, "braid_metrics_invalid_families_total{collector=\"buggy\"} 4\n"));

    // collect() is the scrape's content without HTTP (and is not a scrape).
    const std::string text = metrics::render_text(exp->collect());
    CHECK(contains(text, "braid_port_rx_packets_total{port=\"n6\",queue=\"1\"} 34\n"));
    CHECK(contains(text, "braid_metrics_scrapes_total 2\n"));
    for (const auto& f : exp->collect()) {
        std::string why;
        CHECK(metrics::valid_family(f, &why));
    }

    // Another path is not served.
    CHECK_FALSE(contains(http_get("127.0.0.1", exp->port(), "/other"), "braid_build_info"));
}

TEST_CASE("Exporter accepts IPv6 literals", "[metrics]") {
    std::string err;
    auto exp = metrics::Exporter::start("::1", 0, &err);
    if (exp != nullptr) {
        CHECK(exp->port() != 0);
    } else {  // no IPv6 loopback, or civetweb built without IPv6 (Debian 12)
        INFO(err);
        CHECK(err.rfind("metrics: cannot listen on [::1]:0: ", 0) == 0);
    }
    auto exp2 = metrics::Exporter::start("[::1]", 0, &err);
    CHECK((exp2 != nullptr) == (exp != nullptr));
}

TEST_CASE("Exporter start failures return nullptr and a message", "[metrics]") {
    std::string err;
    SECTION("address not local") {
        auto exp = metrics::Exporter::start("198.18.255.255", 9464, &err);
        CHECK(exp == nullptr);
        INFO(err);
        CHECK(err.rfind("metrics: cannot listen on 198.18.255.255:9464: ", 0) == 0);
        CHECK(contains(err, "assign"));  // EADDRNOTAVAIL
    }
    SECTION("port already bound") {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(fd >= 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
        REQUIRE(::listen(fd, 1) == 0);
        socklen_t len = sizeof(sa);
        REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0);
        const uint16_t port = ntohs(sa.sin_port);
        auto exp = metrics::Exporter::start("127.0.0.1", port, &err);
        ::close(fd);
        CHECK(exp == nullptr);
        INFO(err);
        CHECK(err.rfind("metrics: cannot listen on 127.0.0.1:" + std::to_string(port) + ": ", 0) ==
              0);
        CHECK(contains(err, "in use"));
    }
    SECTION("not an address") {
        auto exp = metrics::Exporter::start("localhost:x", 9464, &err);
        CHECK(exp == nullptr);
        CHECK(contains(err, "metrics: cannot listen on "));
    }
    SECTION("IPv6 literal is bracketed") {
        auto exp = metrics::Exporter::start("2001:db8::1", 9464, &err);
        CHECK(exp == nullptr);
        CHECK(err.rfind("metrics: cannot listen on [2001:db8::1]:9464: ", 0) == 0);
    }
    SECTION("null err is allowed") {
        CHECK(metrics::Exporter::start("198.18.255.255", 9464, nullptr) == nullptr);
    }
}

TEST_CASE("log parse_level", "[log]") {
    uint32_t lvl = 0;
    CHECK(log::parse_level("emerg", &lvl));
    CHECK(lvl == RTE_LOG_EMERG);
    CHECK(log::parse_level("err", &lvl));
    CHECK(lvl == RTE_LOG_ERR);
    CHECK(log::parse_level("warning", &lvl));
    CHECK(lvl == RTE_LOG_WARNING);
    CHECK(log::parse_level("DEBUG", &lvl));
    CHECK(lvl == RTE_LOG_DEBUG);
    CHECK(log::parse_level("7", &lvl));
    CHECK(lvl == RTE_LOG_INFO);
    CHECK_FALSE(log::parse_level("9", &lvl));
    CHECK_FALSE(log::parse_level("0", &lvl));
    CHECK_FALSE(log::parse_level("", &lvl));
    CHECK_FALSE(log::parse_level("warn", &lvl));
    CHECK_FALSE(log::parse_level("information", &lvl));
    CHECK(log::level_name(RTE_LOG_NOTICE) == "notice");
    CHECK(log::level_name(0) == "unknown");
}

TEST_CASE("log set_level and levels", "[log]") {
    log::init();
    log::init();  // idempotent
    const int pfcp = log::type(log::Component::pfcp);
    CHECK(pfcp >= RTE_LOGTYPE_FIRST_EXT_ID);
    CHECK(pfcp != log::type(log::Component::tcp));
    CHECK(log::type(log::Component::eal) == RTE_LOGTYPE_EAL);
    CHECK(log::name(log::Component::mptcp) == "mptcp");

    const uint32_t global_before = rte_log_get_global_level();
    std::string err;
    REQUIRE(log::set_level("all", "info", &err));
    REQUIRE(log::set_level("pfcp", "debug", &err));
    CHECK(rte_log_can_log(static_cast<uint32_t>(pfcp), RTE_LOG_DEBUG));
    CHECK_FALSE(
        rte_log_can_log(static_cast<uint32_t>(log::type(log::Component::tcp)), RTE_LOG_DEBUG));

    auto lv = log::levels();
    REQUIRE(lv.size() == log::component_count);
    CHECK(lv[0] == std::pair<std::string, std::string>{"eal", "info"});
    for (const auto& [comp, level] : lv) {
        CHECK(level == (comp == "pfcp" ? "debug" : "info"));
    }

    // When the global level is lower, it is raised for the named component only.
    rte_log_set_global_level(RTE_LOG_WARNING);
    REQUIRE(log::set_level("tcp", "notice", &err));
    CHECK(rte_log_can_log(static_cast<uint32_t>(log::type(log::Component::tcp)), RTE_LOG_NOTICE));
    CHECK_FALSE(rte_log_can_log(static_cast<uint32_t>(pfcp), RTE_LOG_NOTICE));
    CHECK_FALSE(rte_log_can_log(RTE_LOGTYPE_EAL, RTE_LOG_NOTICE));
    for (const auto& [comp, level] : log::levels()) {
        CHECK(level == (comp == "tcp" ? "notice" : "warning"));
    }

    REQUIRE(log::set_level("ALL", "err", &err));
    for (const auto& [comp, level] : log::levels()) {
        CHECK(level == "err");
    }

    CHECK_FALSE(log::set_level("pfcpx", "debug", &err));
    CHECK(contains(err, "unknown component 'pfcpx'"));
    CHECK(contains(err,
                   "all, eal, dataplane, pipelines, control, cli, metrics, config, pfcp, "
                   "tcp, mptcp"));
    CHECK_FALSE(log::set_level("pfcp", "verbose", &err));
    CHECK(contains(err, "unknown level 'verbose'"));
    CHECK(contains(err, "emerg, alert, crit, err, warning, notice, info, debug"));
    CHECK(log::set_level("pfcp", "debug", nullptr));

    // The macro compiles with and without arguments and does not evaluate disabled arguments.
    REQUIRE(log::set_level("all", "err", &err));
    int evaluated = 0;
    BRAID_LOG(pfcp, DEBUG, "not printed %d", ++evaluated);
    CHECK(evaluated == 0);
    BRAID_LOG(pfcp, ERR, "test message %d (expected in the test output)", ++evaluated);
    CHECK(evaluated == 1);
    BRAID_LOG(cli, INFO, "suppressed");

    rte_log_set_global_level(global_before);
    REQUIRE(log::set_level("all", "info", &err));
}
