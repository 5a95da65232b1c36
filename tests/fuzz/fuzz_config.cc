// libFuzzer target: the YAML configuration parser (control/config.h).
//
// Contract checked: parse() never throws or crashes on any input; when it accepts a document,
// render() of the result parses again, without errors, to an equal Config (parse(render(c)) ==
// c, as config.h promises). A violation aborts with both renderings on stderr.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "control/config.h"

namespace {

[[noreturn]] void fail(const char* what, const std::string& rendered, const std::string& again,
                       const braid::config::ParseResult& r) {
    std::fprintf(stderr, "fuzz_config: %s\n--- render(parse(input)):\n%s\n", what,
                 rendered.c_str());
    for (const auto& e : r.errors) {
        std::fprintf(stderr, "  %s\n", e.to_string().c_str());
    }
    if (!again.empty()) {
        std::fprintf(stderr, "--- render(parse(render(parse(input)))):\n%s\n", again.c_str());
    }
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // A configuration file is small; very large inputs only slow the fuzzer down.
    if (size > 64 * 1024) {
        return -1;
    }
    const std::string_view yaml(reinterpret_cast<const char*>(data), size);
    // No try/catch on purpose: parse() must not throw, so an escaping exception should reach
    // libFuzzer (std::terminate → abort → crash report).
    braid::config::ParseResult r = braid::config::parse(yaml, "<fuzz>");
    static const bool verbose = std::getenv("BRAID_FUZZ_VERBOSE") != nullptr;
    if (verbose) {  // BRAID_FUZZ_VERBOSE=1: what the parser made of each input
        std::fprintf(stderr, "fuzz_config: %s\n", r.ok() ? "accepted" : "rejected");
        for (const auto& e : r.errors) {
            std::fprintf(stderr, "  %s\n", e.to_string().c_str());
        }
    }
    if (!r.ok()) {
        if (r.config.has_value() && r.errors.empty()) {
            std::abort();  // unreachable by definition of ok(); keeps the invariant explicit
        }
        return 0;
    }
    const std::string rendered = braid::config::render(*r.config);
    braid::config::ParseResult again = braid::config::parse(rendered, "<render>");
    if (!again.ok()) {
        fail("render() output does not parse", rendered, "", again);
    }
    if (!(*again.config == *r.config)) {
        fail("parse(render(c)) != c", rendered, braid::config::render(*again.config), again);
    }
    return 0;
}
