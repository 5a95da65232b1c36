// EAL arguments derived from the config: braid never lets EAL probe a device it was not given.
#include <catch2/catch.hpp>

#include <algorithm>

#include "control/config.h"
#include "dataplane/eal.h"
#include "dataplane/port.h"

using namespace braid;

namespace {

bool has(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

std::string after(const std::vector<std::string>& v, const std::string& flag) {
    auto it = std::find(v.begin(), v.end(), flag);
    return it == v.end() || it + 1 == v.end() ? "" : *(it + 1);
}

config::Config parsed_default() {
    auto r = config::parse(config::default_yaml());
    REQUIRE(r.ok());
    return *r.config;
}

}  // namespace

TEST_CASE("eal_args: vdev-only configs always carry --no-pci", "[eal]") {
    config::Config c = parsed_default();
    c.eal.no_pci = false;  // even when the file does not ask for it
    auto a = dataplane::eal_args(c, "braid", {});
    CHECK(a.front() == "braid");
    CHECK(has(a, "--no-pci"));
    CHECK_FALSE(has(a, "-a"));
    CHECK(std::count(a.begin(), a.end(), "--vdev") == 2);
    CHECK(after(a, "--vdev") == "net_tap0,iface=braid-n3");
}

TEST_CASE("eal_args: PCI ports are allow-listed one by one, never the whole bus", "[eal]") {
    config::Config c = parsed_default();
    c.eal.no_pci = false;
    c.ports[0].vdev.clear();
    c.ports[0].pci = "0000:3b:02.0";
    auto a = dataplane::eal_args(c, "braid", {});
    CHECK_FALSE(has(a, "--no-pci"));
    CHECK(after(a, "-a") == "0000:3b:02.0");
    CHECK(std::count(a.begin(), a.end(), "-a") == 1);
    CHECK(std::count(a.begin(), a.end(), "--vdev") == 1);
}

TEST_CASE("eal_args: lcores, main lcore, file prefix, memory and extra arguments", "[eal]") {
    config::Config c = parsed_default();
    c.workers.lcores = {2, 3};
    c.eal.main_lcore = 1;
    c.eal.file_prefix = "t42";
    c.eal.extra_args = {"--log-level=lib.eal:debug"};
    auto a = dataplane::eal_args(c, "braid", {"--no-telemetry"});
    CHECK(after(a, "-l") == "1,2,3");
    CHECK(after(a, "--main-lcore") == "1");
    CHECK(after(a, "--file-prefix") == "t42");
    CHECK(has(a, "--no-huge"));
    CHECK(after(a, "-m") == "512");
    // Command-line extras come last so that they can override the file.
    CHECK(a[a.size() - 2] == "--log-level=lib.eal:debug");
    CHECK(a.back() == "--no-telemetry");
}

TEST_CASE("ethdev_name: the vdev name before its arguments, PCI addresses with a domain", "[eal]") {
    config::Port p;
    p.vdev = "net_af_packet0,iface=veth0,qpairs=2";
    CHECK(dataplane::ethdev_name(p) == "net_af_packet0");
    p.vdev.clear();
    p.pci = "3b:02.0";
    CHECK(dataplane::ethdev_name(p) == "0000:3b:02.0");
    p.pci = "0001:3b:02.1";
    CHECK(dataplane::ethdev_name(p) == "0001:3b:02.1");
}
