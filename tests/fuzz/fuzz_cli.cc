// libFuzzer target: CLI line tokenizing and matching (control/cli/cli.h).
//
// The registry holds the same grammar strings as control/commands.cc's register_commands(),
// with handlers that only print their bound arguments (so Args accessors run too). The input
// is executed once as a whole line and then split on '\n', each line executed separately (the
// way the socket server feeds lines). Also exercises help(prefix). Must never crash or throw.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "control/cli/cli.h"

namespace {

using braid::cli::Args;
using braid::cli::Output;

// Prints what a real handler would read from Args: literals, placeholders, numbers.
void echo_args(const Args& a, Output& out) {
    static constexpr std::string_view names[] = {"port", "component", "level", "topic",
                                                 "addr", "n",         "what"};
    for (size_t i = 0; i < a.words().size(); ++i) {
        out.write(a.word(i));
        out.write(" ");
    }
    for (auto n : names) {
        if (auto v = a.get(n)) {
            out.write(*v);
        }
        if (auto u = a.get_uint(n)) {
            out.printf("%llu", static_cast<unsigned long long>(*u));
        }
    }
    (void)a.has("all");
    (void)a.has("dot");
    out.write("\n");
}

const braid::cli::Registry& registry() {
    static braid::cli::Registry* r = [] {
        auto* reg = new braid::cli::Registry();
        // The grammar of control/commands.cc register_commands(), handlers replaced.
        static constexpr const char* grammars[] = {
            "show version",
            "show config",
            "show port info all|<port:u16>",
            "show port stats all|<port:u16>",
            "show port xstats all|<port:u16>",
            "clear port stats",
            "clear port stats all|<port:u16>",
            "show lcores",
            "show graph",
            "show graph dot",
            "show neighbors",
            "show drops",
            "show drops all",
            "show log",
            "set log <component:str> <level:str>",
            "show metrics",
            "quit",
            // The remaining placeholder types of the grammar (cli.h), so that their parsers
            // are fuzzed as well even though no braid command uses them yet.
            "debug ipv4 <addr:ipv4>",
            "debug ipv6 <addr:ipv6>",
            "debug ip <addr:ip>",
            "debug u32 <n:u32>",
            "debug u64 <n:u64>",
            "debug echo <what:str...>",
        };
        for (const char* g : grammars) {
            reg->add({g, "fuzz", echo_args});
        }
        // A handler that throws must be reported as an error, never propagated.
        reg->add({"debug throw", "fuzz", [](const Args&, Output&) { throw 42; }});
        return reg;
    }();
    return *r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 8192) {
        return -1;  // the socket server caps lines at 4096 bytes anyway
    }
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto& r = registry();
    braid::cli::StringOutput out;
    r.execute(input, out);
    size_t start = 0;
    while (start <= input.size()) {
        size_t nl = input.find('\n', start);
        if (nl == std::string_view::npos) {
            nl = input.size();
        }
        const std::string_view line = input.substr(start, nl - start);
        out.clear();
        const bool ok = r.execute(line, out);
        if (!ok && out.str().rfind("error: ", 0) != 0) {
            __builtin_trap();  // a failed match must write an "error: ..." line
        }
        (void)r.match(line);
        start = nl + 1;
    }
    (void)r.help(input.substr(0, 64));
    return 0;
}
