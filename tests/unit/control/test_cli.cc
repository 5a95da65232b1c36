#include "control/cli/cli.h"

#include "control/event_loop.h"

#include <cmdline.h>
#include <cmdline_parse.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using braid::cli::Args;
using braid::cli::Command;
using braid::cli::Output;
using braid::cli::Registry;
using braid::cli::SocketServer;
using braid::cli::StringOutput;

namespace {

// Records the last call of any handler registered through it.
struct Calls {
    int count = 0;
    std::string grammar;
    Args args;
};

braid::cli::Handler recorder(Calls* calls, std::string grammar, std::string reply = "ok\n") {
    return [calls, grammar, reply](const Args& args, Output& out) {
        ++calls->count;
        calls->grammar = grammar;
        calls->args = args;
        out.write(reply);
    };
}

void add(Registry& r, Calls* calls, const std::string& grammar, const std::string& help) {
    r.add({grammar, help, recorder(calls, grammar)});
}

// A registry shaped like braid's own.
void add_sample_commands(Registry& r, Calls* calls) {
    add(r, calls, "show port info|stats|xstats all|<port:u16>", "Show port information");
    add(r, calls, "show version", "Show the braid version");
    add(r, calls, "show session <seid:u64>", "Show one PFCP session");
    add(r, calls, "set log all <level:str>", "Set the log level of every component");
    add(r, calls, "set log <component:str> <level:str>", "Set the log level of a component");
    add(r, calls, "set counter <value:u32>", "Set a 32-bit counter");
    add(r, calls, "ping <addr:ipv4>", "Ping an IPv4 address");
    add(r, calls, "ping6 <addr:ipv6>", "Ping an IPv6 address");
    add(r, calls, "neigh add <addr:ip>", "Add a neighbor");
    add(r, calls, "echo <text:str...>", "Print the rest of the line");
}

std::string error_of(const Registry& r, std::string_view line) {
    Registry::Match m = r.match(line);
    CHECK(m.command == nullptr);
    return m.error;
}

}  // namespace

TEST_CASE("cli grammar validation rejects malformed grammars", "[cli]") {
    Registry r;
    auto h = [](const Args&, Output&) {};
    std::string err;

    SECTION("well-formed grammars are accepted") {
        CHECK(r.try_add({"show port info|stats|xstats all|<port:u16>", "x", h}, &err));
        CHECK(r.try_add({"set log <component:str> <level:str>", "x", h}, &err));
        CHECK(r.try_add({"echo <text:str...>", "x", h}, &err));
        CHECK(r.try_add({"neigh <a:ip> <b:ipv4> <c:ipv6> <d:u32> <e:u64>", "x", h}, &err));
        CHECK(r.size() == 4 + 2);  // plus the built-in help commands
    }
    SECTION("malformed ones are refused with a reason") {
        struct Bad {
            const char* grammar;
            const char* reason;
        };
        const Bad bad[] = {
            {"", "empty grammar"},
            {"   ", "empty grammar"},
            {"show <port>", "must be <name:type>"},
            {"show <port:u8>", "unknown type 'u8'"},
            {"show <port:u16", "must end with '>'"},
            {"show <:u16>", "bad placeholder name"},
            {"show <a:u16>|<b:u16>", "more than one placeholder"},
            {"show a||b", "empty alternative"},
            {"show a|", "empty alternative"},
            {"show a|a", "repeated"},
            {"show <x:str...> more", "must be the last element"},
            {"show a|<x:str...>", "cannot have alternatives"},
            {"show <x:u16...>", "only <name:str...>"},
            {"show <x:u16> <x:u32>", "used twice"},
            {"show x#y", "'#' is not allowed"},
            {"show a>b", "bad literal"},
            {"show\tport", "tabs"},
        };
        for (const Bad& b : bad) {
            INFO(b.grammar);
            err.clear();
            CHECK_FALSE(r.try_add({b.grammar, "x", h}, &err));
            CHECK_THAT(err, Catch::Contains(b.reason));
        }
        CHECK(r.size() == 2);
    }
    SECTION("duplicates, missing handlers and late additions are refused") {
        CHECK(r.try_add({"show port <port:u16>", "x", h}, &err));
        CHECK_FALSE(r.try_add({"show  port   <port:u16>", "y", h}, &err));
        CHECK_THAT(err, Catch::Contains("duplicate"));
        CHECK_FALSE(r.try_add({"help", "mine", h}, &err));
        CHECK_FALSE(r.try_add({"show x", "x", nullptr}, &err));
        CHECK_THAT(err, Catch::Contains("no handler"));
        CHECK(r.cmdline_ctx() != nullptr);
        CHECK_FALSE(r.try_add({"show y", "x", h}, &err));
        CHECK_THAT(err, Catch::Contains("cmdline_ctx"));
    }
}

TEST_CASE("cli matches literals, alternatives and placeholders", "[cli]") {
    Registry r;
    Calls calls;
    add_sample_commands(r, &calls);

    SECTION("literal alternatives") {
        Registry::Match m = r.match("show port stats all");
        REQUIRE(m.command != nullptr);
        CHECK(m.error.empty());
        CHECK(m.command->grammar == "show port info|stats|xstats all|<port:u16>");
        CHECK(m.args.has("stats"));
        CHECK(m.args.has("all"));
        CHECK_FALSE(m.args.has("info"));
        CHECK_FALSE(m.args.get("port"));
        CHECK(m.args.words() == std::vector<std::string>{"show", "port", "stats", "all"});
        CHECK(m.args.word(2) == "stats");
        CHECK(m.args.word(9).empty());
    }
    SECTION("placeholder in a mixed alternative") {
        Registry::Match m = r.match("  show\tport xstats 7  ");
        REQUIRE(m.command != nullptr);
        CHECK(m.args.get("port") == "7");
        CHECK(m.args.get_uint("port") == 7u);
        CHECK(m.args.has("xstats"));
        CHECK_FALSE(m.args.has("all"));
        CHECK_FALSE(m.args.has("7"));  // a placeholder value is not a literal
    }
    SECTION("a comment ends the line") {
        Registry::Match m = r.match("show port info 3 # the uplink");
        REQUIRE(m.command != nullptr);
        CHECK(m.args.get_uint("port") == 3u);
        CHECK(r.match("show version#comment").command != nullptr);
    }
    SECTION("a literal beats a placeholder") {
        Registry::Match m = r.match("set log all debug");
        REQUIRE(m.command != nullptr);
        CHECK(m.command->grammar == "set log all <level:str>");
        CHECK(m.args.get("level") == "debug");
        m = r.match("set log pfcp debug");
        REQUIRE(m.command != nullptr);
        CHECK(m.command->grammar == "set log <component:str> <level:str>");
        CHECK(m.args.get("component") == "pfcp");
        CHECK_FALSE(m.args.has("pfcp"));
    }
    SECTION("rest of the line") {
        Registry::Match m = r.match("echo hello   brave new   world");
        REQUIRE(m.command != nullptr);
        CHECK(m.args.get("text") == "hello brave new world");
        CHECK_THAT(error_of(r, "echo"), Catch::Contains("incomplete command"));
    }
    SECTION("empty lines and comments match nothing, silently") {
        for (const char* line : {"", "   ", "\t\n", "# just a comment", "  #"}) {
            Registry::Match m = r.match(line);
            CHECK(m.command == nullptr);
            CHECK(m.error.empty());
        }
    }
    SECTION("get on an unknown name") {
        Registry::Match m = r.match("show session 42");
        REQUIRE(m.command != nullptr);
        CHECK(m.args.get_uint("seid") == 42u);
        CHECK_FALSE(m.args.get("nope"));
        CHECK_FALSE(m.args.get_uint("nope"));
    }
}

TEST_CASE("cli number placeholders are range-checked", "[cli]") {
    Registry r;
    Calls calls;
    add_sample_commands(r, &calls);

    CHECK(r.match("show port stats 0").command != nullptr);
    CHECK(r.match("show port stats 65535").command != nullptr);
    CHECK(r.match("show port stats 00080").args.get_uint("port") == 80u);
    CHECK(error_of(r, "show port stats 65536") ==
          "error: bad argument '65536' for <port:u16>: not a number in 0..65535");
    CHECK(error_of(r, "show port stats x") ==
          "error: bad argument 'x' for <port:u16>: not a number in 0..65535");
    for (const char* bad : {"-1", "+1", "0x10", "1e3", "1.0", "99999999999999999999999"}) {
        INFO(bad);
        CHECK_THAT(error_of(r, std::string("show port stats ") + bad),
                   Catch::StartsWith("error: bad argument"));
    }
    CHECK(r.match("set counter 4294967295").args.get_uint("value") == 4294967295u);
    CHECK(error_of(r, "set counter 4294967296") ==
          "error: bad argument '4294967296' for <value:u32>: not a number in 0..4294967295");
    CHECK(r.match("show session 18446744073709551615").args.get_uint("seid") ==
          18446744073709551615u);
    CHECK_THAT(error_of(r, "show session 18446744073709551616"),
               Catch::Contains("not a number in 0..18446744073709551615"));
}

TEST_CASE("cli ip placeholders use inet_pton", "[cli]") {
    Registry r;
    Calls calls;
    add_sample_commands(r, &calls);

    CHECK(r.match("ping 198.18.0.1").args.get("addr") == "198.18.0.1");
    CHECK(error_of(r, "ping 198.18.0.256") ==
          "error: bad argument '198.18.0.256' for <addr:ipv4>: not an IPv4 address");
    CHECK_THAT(error_of(r, "ping 2001:db8::1"), Catch::Contains("not an IPv4 address"));
    CHECK(r.match("ping6 2001:db8::1").command != nullptr);
    CHECK(r.match("ping6 ::ffff:198.18.0.1").command != nullptr);
    CHECK_THAT(error_of(r, "ping6 198.18.0.1"), Catch::Contains("not an IPv6 address"));
    CHECK(r.match("neigh add 198.18.0.2").command != nullptr);
    CHECK(r.match("neigh add fe80::1").command != nullptr);
    CHECK(error_of(r, "neigh add gateway") ==
          "error: bad argument 'gateway' for <addr:ip>: not an IPv4 or IPv6 address");
}

TEST_CASE("cli explains lines that do not match", "[cli]") {
    Registry r;
    Calls calls;
    add_sample_commands(r, &calls);

    CHECK(error_of(r, "foo bar") == "error: unknown command: 'foo bar'. Type 'help'.");
    CHECK(error_of(r, "show port") ==
          "error: incomplete command: 'show port' \u2014 expected one of: info stats xstats");
    CHECK(error_of(r, "show port stats") ==
          "error: incomplete command: 'show port stats' \u2014 expected one of: all <port:u16>");
    CHECK(error_of(r, "show") ==
          "error: incomplete command: 'show' \u2014 expected one of: port "
          "version session");
    CHECK(error_of(r, "show bogus 1") ==
          "error: unknown word 'bogus' after 'show' \u2014 "
          "expected one of: port version session");
    CHECK(error_of(r, "show version now please") ==
          "error: unexpected 'now please' after complete command 'show version'");
    CHECK(error_of(r, "show port stats all extra") ==
          "error: unexpected 'extra' after complete command 'show port stats all'");

    SECTION("two equally good matches are ambiguous") {
        Registry amb;
        add(amb, &calls, "clear <what:str>", "a");
        add(amb, &calls, "clear <thing:str>", "b");
        CHECK(error_of(amb, "clear flows") ==
              "error: ambiguous command: 'clear flows' matches: "
              "'clear <what:str>' 'clear <thing:str>'");
    }
}

TEST_CASE("cli execute runs the handler or prints the error", "[cli]") {
    Registry r;
    Calls calls;
    add_sample_commands(r, &calls);
    StringOutput out;

    SECTION("handler receives the matched Args") {
        CHECK(r.execute("show port info 12", out));
        CHECK(calls.count == 1);
        CHECK(calls.grammar == "show port info|stats|xstats all|<port:u16>");
        CHECK(calls.args.get_uint("port") == 12u);
        CHECK(calls.args.has("info"));
        CHECK(out.str() == "ok\n");
    }
    SECTION("errors are printed, handlers not called") {
        for (const char* line : {"show port stats 70000", "nope", "show port", "show version x"}) {
            out.clear();
            CHECK_FALSE(r.execute(line, out));
            CHECK_THAT(out.str(), Catch::StartsWith("error: "));
            CHECK(out.str().back() == '\n');
        }
        CHECK(calls.count == 0);
    }
    SECTION("empty and comment lines do nothing") {
        CHECK(r.execute("", out));
        CHECK(r.execute("   # nothing", out));
        CHECK(out.str().empty());
        CHECK(calls.count == 0);
    }
    SECTION("a throwing handler becomes an error") {
        r.add({"boom", "Throws", [](const Args&, Output&) { throw std::runtime_error("bang"); }});
        CHECK_FALSE(r.execute("boom", out));
        CHECK(out.str() == "error: command failed: bang\n");
    }
    SECTION("Output::printf formats, short and long") {
        out.printf("%s=%d\n", "port", 3);
        std::string big(3000, 'x');
        out.printf("[%s]", big.c_str());
        CHECK(out.str() == "port=3\n[" + big + "]");
    }
}

TEST_CASE("cli help lists every command", "[cli]") {
    Registry r;
    Calls calls;
    add_sample_commands(r, &calls);

    std::string all = r.help();
    for (const char* help :
         {"Show port information", "Show the braid version", "Show one PFCP session",
          "Set the log level of every component", "Ping an IPv4 address", "Print the rest",
          "List all commands", "List the commands that start with"}) {
        CHECK_THAT(all, Catch::Contains(help));
    }
    CHECK_THAT(all, Catch::Contains("show port info|stats|xstats all|<port:u16>  Show port"));
    CHECK(std::count(all.begin(), all.end(), '\n') == static_cast<long>(r.size()));

    StringOutput out;
    CHECK(r.execute("help", out));
    CHECK(out.str() == all);

    out.clear();
    CHECK(r.execute("help show port", out));
    CHECK(out.str() == r.help("show port"));
    CHECK_THAT(out.str(), Catch::Contains("Show port information"));
    CHECK_THAT(out.str(), !Catch::Contains("version"));

    out.clear();
    CHECK(r.execute("help set log pfcp", out));
    CHECK_THAT(out.str(), Catch::Contains("Set the log level of a component"));
    CHECK_THAT(out.str(), !Catch::Contains("every component"));

    out.clear();
    r.execute("help frobnicate", out);
    CHECK(out.str() == "error: no command starts with 'frobnicate'. Type 'help'.\n");
}

// ---------------------------------------------------------------------------------------------
// librte_cmdline (no EAL needed)

namespace {

struct TestCmdline {
    explicit TestCmdline(Registry& r) {
        out_fd = memfd_create("cli-test", 0);
        REQUIRE(out_fd >= 0);
        cl = cmdline_new(r.cmdline_ctx(), "braid> ", -1, dup(out_fd));  // cl closes the dup
        REQUIRE(cl != nullptr);
    }
    ~TestCmdline() {
        cmdline_free(cl);
        close(out_fd);
    }
    std::string output() const {
        std::string s(65536, '\0');
        ssize_t n = pread(out_fd, s.data(), s.size(), 0);
        s.resize(n > 0 ? static_cast<size_t>(n) : 0);
        return s;
    }
    int out_fd = -1;
    cmdline* cl = nullptr;
};

}  // namespace

TEST_CASE("cli builds a librte_cmdline context", "[cli]") {
    Registry r;
    Calls calls;
    add(r, &calls, "show port info|stats|xstats all|<port:u16>", "Show port information");
    add(r, &calls, "show version", "Show the braid version");
    add(r, &calls, "set log all <level:str>", "Set every level");
    add(r, &calls, "set log <component:str> <level:str>", "Set one level");

    cmdline_parse_ctx_t* ctx = r.cmdline_ctx();
    REQUIRE(ctx != nullptr);
    CHECK(r.cmdline_ctx() == ctx);  // built once
    // help, help <topic>, show port (x2: all / <port>), show version, set log x2, fallback
    CHECK(r.cmdline_instance_count() == 8);
    size_t n = 0;
    while (ctx[n] != nullptr) {
        CHECK(ctx[n]->f != nullptr);
        CHECK(ctx[n]->tokens[0] != nullptr);
        ++n;
    }
    CHECK(n == 8);

    TestCmdline tc(r);

    SECTION("a good line reaches its handler through the callback") {
        int rc = cmdline_parse(tc.cl, "show port stats 3\n");
        CHECK(rc > 0);
        CHECK(calls.count == 1);
        CHECK(calls.args.get_uint("port") == 3u);
        CHECK(calls.args.has("stats"));
        CHECK(cmdline_parse(tc.cl, "  show port xstats all # c\n") > 0);
        CHECK(calls.count == 2);
        CHECK(calls.args.has("all"));
        CHECK_THAT(tc.output(), Catch::Contains("ok\n"));
    }
    SECTION("overlapping commands are not ambiguous for cmdline either") {
        CHECK(cmdline_parse(tc.cl, "set log all debug\n") > 0);
        CHECK(calls.grammar == "set log all <level:str>");
        CHECK(cmdline_parse(tc.cl, "set log pfcp debug\n") > 0);
        CHECK(calls.grammar == "set log <component:str> <level:str>");
        CHECK(calls.count == 2);
    }
    SECTION("a bad line prints the Registry's error and calls no handler") {
        CHECK(cmdline_parse(tc.cl, "show port stats 70000\n") > 0);
        CHECK(cmdline_parse(tc.cl, "show port\n") > 0);
        CHECK(cmdline_parse(tc.cl, "bogus\n") > 0);
        CHECK(calls.count == 0);
        std::string out = tc.output();
        CHECK_THAT(out, Catch::Contains("error: bad argument '70000' for <port:u16>"));
        CHECK_THAT(out, Catch::Contains("error: incomplete command: 'show port'"));
        CHECK_THAT(out, Catch::Contains("error: unknown command: 'bogus'. Type 'help'."));
    }
    SECTION("help works through cmdline") {
        CHECK(cmdline_parse(tc.cl, "help show\n") > 0);
        CHECK_THAT(tc.output(), Catch::Contains("Show the braid version"));
    }
    SECTION("tab completion") {
        char dst[256];
        int state = 0;
        CHECK(cmdline_complete(tc.cl, "show po", &state, dst, sizeof(dst)) == 2);
        CHECK(std::string(dst) == "rt ");
        state = 0;
        CHECK(cmdline_complete(tc.cl, "show port s", &state, dst, sizeof(dst)) == 2);
        CHECK(std::string(dst) == "tats ");
        // Listing the choices after "show port stats ": the literal and the placeholder.
        std::vector<std::string> choices;
        state = -1;
        while (cmdline_complete(tc.cl, "show port stats ", &state, dst, sizeof(dst)) == 1) {
            choices.emplace_back(dst);
        }
        REQUIRE(choices.size() == 2);
        CHECK_THAT(choices[0], Catch::StartsWith("all "));
        CHECK_THAT(choices[1], Catch::Contains("[port:u16]: Show port information"));
        // At the start of a line every first word is offered, the fallback is not.
        choices.clear();
        state = -1;
        while (cmdline_complete(tc.cl, "", &state, dst, sizeof(dst)) == 1) {
            choices.emplace_back(dst);
        }
        CHECK(choices.size() == 7);
        for (const auto& c : choices) {
            CHECK_FALSE(c.empty());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SocketServer, driven by a small poll loop

namespace {

uint64_t now_ms() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
}

struct PollLoop {
    std::map<int, std::function<void(uint32_t)>> fds;
    std::vector<std::function<void()>> periodic;

    SocketServer::LoopHooks hooks() {
        return {
            [this](int fd, std::function<void(uint32_t)> h) {
                fds[fd] = std::move(h);
                return true;
            },
            [this](int fd) { fds.erase(fd); },
            [this](uint32_t, std::function<void()> fn) { periodic.push_back(std::move(fn)); },
        };
    }

    void run_once(int timeout_ms = 5) {
        std::vector<pollfd> p;
        for (const auto& [fd, h] : fds) {
            p.push_back({fd, POLLIN, 0});
        }
        int n = poll(p.data(), p.size(), timeout_ms);
        for (int i = 0; n > 0 && i < static_cast<int>(p.size()); ++i) {
            if (p[i].revents != 0) {
                auto it = fds.find(p[i].fd);
                if (it != fds.end()) {
                    auto h = it->second;  // the handler may remove itself
                    h(static_cast<uint32_t>(p[i].revents));
                }
            }
        }
        for (auto& fn : periodic) {
            fn();
        }
    }
};

std::string unique_dir() {
    return "/tmp/braid-cli-test-" + std::to_string(getpid()) + "-" + std::to_string(now_ms());
}

int connect_unix(const std::string& path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

// Reads until the server closes the connection, running the loop meanwhile.
std::string read_to_eof(PollLoop& loop, int fd, int max_iterations = 2000) {
    std::string got;
    char buf[4096];
    for (int i = 0; i < max_iterations; ++i) {
        loop.run_once(2);
        while (true) {
            ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (n > 0) {
                got.append(buf, static_cast<size_t>(n));
            } else if (n == 0) {
                return got;
            } else if (errno == EAGAIN) {
                break;
            } else {
                return got + "<recv error>";
            }
        }
    }
    return got + "<timeout>";
}

bool send_all(int fd, const std::string& s) {
    return send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
}

}  // namespace

TEST_CASE("cli socket server round trip", "[cli]") {
    Registry r;
    Calls calls;
    add_sample_commands(r, &calls);
    const std::string dir = unique_dir();
    const std::string path = dir + "/run/cli.sock";

    PollLoop loop;
    SocketServer::Limits limits;
    limits.max_clients = 2;
    SocketServer server(limits);
    std::string err;
    REQUIRE(server.open(path, &err));
    INFO(err);
    server.attach(loop.hooks(), r);
    CHECK(server.listen_fd() >= 0);
    CHECK(loop.fds.count(server.listen_fd()) == 1);
    CHECK(loop.periodic.size() == 1);

    struct stat st {};
    REQUIRE(lstat(path.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(stat((dir + "/run").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0755);

    SECTION("several lines, then EOF") {
        int fd = connect_unix(path);
        REQUIRE(fd >= 0);
        REQUIRE(send_all(fd, "help\nshow port stats 3\r\nshow port stats 99999\n# c\n"));
        REQUIRE(shutdown(fd, SHUT_WR) == 0);
        std::string resp = read_to_eof(loop, fd);
        close(fd);
        CHECK_THAT(resp, Catch::StartsWith(r.help()));
        CHECK_THAT(resp, Catch::Contains("ok\n"));
        CHECK_THAT(resp, Catch::EndsWith("error: bad argument '99999' for <port:u16>: not a "
                                         "number in 0..65535\n"));
        CHECK(calls.count == 1);
        CHECK(calls.args.get_uint("port") == 3u);
        CHECK(server.requests() == 4);
        CHECK(server.errors() == 1);
        CHECK(server.clients() == 0);
    }
    SECTION("last line without a newline still runs") {
        int fd = connect_unix(path);
        REQUIRE(send_all(fd, "show version"));
        shutdown(fd, SHUT_WR);
        CHECK(read_to_eof(loop, fd) == "ok\n");
        close(fd);
    }
    SECTION("a line that is too long closes the connection") {
        int fd = connect_unix(path);
        REQUIRE(fd >= 0);
        std::string huge(5000, 'a');
        REQUIRE(send_all(fd, "show version\n" + huge));
        std::string resp = read_to_eof(loop, fd);
        close(fd);
        CHECK(resp == "ok\nerror: line too long (max 4096 bytes)\n");
        CHECK(server.errors() == 1);
        CHECK(server.clients() == 0);
    }
    SECTION("too many clients") {
        int a = connect_unix(path);
        int b = connect_unix(path);
        loop.run_once();
        CHECK(server.clients() == 2);
        int c = connect_unix(path);
        REQUIRE(c >= 0);
        CHECK(read_to_eof(loop, c) == "error: too many clients (max 2)\n");
        close(c);
        CHECK(server.errors() == 1);
        // The first two still work.
        REQUIRE(send_all(a, "show version\n"));
        shutdown(a, SHUT_WR);
        CHECK(read_to_eof(loop, a) == "ok\n");
        close(a);
        close(b);
        for (int i = 0; i < 20 && server.clients() > 0; ++i) {
            loop.run_once();
        }
        CHECK(server.clients() == 0);
    }
    SECTION("idle clients are closed") {
        int fd = connect_unix(path);
        REQUIRE(send_all(fd, "show ver"));  // half a line, then silence
        loop.run_once();
        loop.run_once();
        CHECK(server.clients() == 1);
        server.tick(now_ms() + 5000);
        CHECK(server.clients() == 1);
        server.tick(now_ms() + 31000);
        CHECK(server.clients() == 0);
        CHECK(read_to_eof(loop, fd) == "error: idle timeout\n");
        close(fd);
    }
    SECTION("a client that vanishes mid-conversation does no harm") {
        for (int i = 0; i < 5; ++i) {
            int fd = connect_unix(path);
            std::string many;
            for (int j = 0; j < 2000; ++j) {
                many += "help\n";
            }
            send(fd, many.data(), many.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            loop.run_once();
            close(fd);  // never reads the (large) response
            for (int j = 0; j < 5; ++j) {
                loop.run_once(1);
            }
        }
        for (int i = 0; i < 50 && server.clients() > 0; ++i) {
            loop.run_once(1);
        }
        CHECK(server.clients() == 0);
        int fd = connect_unix(path);
        REQUIRE(send_all(fd, "show version\n"));
        shutdown(fd, SHUT_WR);
        CHECK(read_to_eof(loop, fd) == "ok\n");
        close(fd);
    }
    SECTION("a second server refuses a live socket; close() unlinks it") {
        SocketServer other;
        CHECK_FALSE(other.open(path, &err));
        CHECK_THAT(err, Catch::Contains("another process is listening"));
        server.close();
        CHECK(access(path.c_str(), F_OK) != 0);
        CHECK(loop.fds.empty());
    }

    server.close();
    rmdir((dir + "/run").c_str());
    rmdir(dir.c_str());
}

TEST_CASE("cli socket server replaces stale sockets only", "[cli]") {
    const std::string dir = unique_dir() + "-stale";
    const std::string path = dir + "/cli.sock";
    REQUIRE(mkdir(dir.c_str(), 0700) == 0);
    std::string err;

    SECTION("a stale socket file is replaced") {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
        REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
        close(fd);  // the file stays, nobody listens
        SocketServer server;
        CHECK(server.open(path, &err));
        CHECK(server.listen_fd() >= 0);
        server.close();
    }
    SECTION("a regular file is left alone") {
        int fd = open(path.c_str(), O_CREAT | O_WRONLY, 0600);
        close(fd);
        SocketServer server;
        CHECK_FALSE(server.open(path, &err));
        CHECK_THAT(err, Catch::Contains("not a socket"));
        CHECK(access(path.c_str(), F_OK) == 0);
        unlink(path.c_str());
    }
    SECTION("a path that is too long") {
        SocketServer server;
        CHECK_FALSE(server.open(dir + "/" + std::string(200, 'x'), &err));
        CHECK_THAT(err, Catch::Contains("too long"));
    }
    rmdir(dir.c_str());
}

TEST_CASE("cli socket server on the control EventLoop", "[cli]") {
    Registry r;
    Calls calls;
    add_sample_commands(r, &calls);
    const std::string dir = unique_dir() + "-loop";
    const std::string path = dir + "/cli.sock";

    braid::control::EventLoop loop;
    SocketServer server;
    std::string err;
    REQUIRE(server.open(path, &err));
    server.attach(loop, r);

    // A blocking client in a thread, as braid-cli would be; the loop runs here.
    std::string resp;
    std::atomic<bool> done{false};
    std::thread client([&] {
        int fd = connect_unix(path);
        if (fd >= 0) {
            send_all(fd, "show port stats 5\nhelp show\n");
            shutdown(fd, SHUT_WR);
            char buf[4096];
            ssize_t n;
            while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
                resp.append(buf, static_cast<size_t>(n));
            }
            close(fd);
        }
        done = true;
    });
    uint64_t deadline = now_ms() + 5000;
    loop.add_periodic(5, [&] {
        if (done || now_ms() > deadline) {
            loop.stop();
        }
    });
    loop.run();
    client.join();

    CHECK(resp == "ok\n" + r.help("show"));
    CHECK(calls.args.get_uint("port") == 5u);
    CHECK(server.requests() == 2);
    CHECK(server.errors() == 0);
    server.close();
    rmdir(dir.c_str());
}
