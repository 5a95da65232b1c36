#include "dataplane/eal.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_pdump.h>

#include <memory>

#include "dataplane/mbuf_meta.h"

namespace braid::dataplane {

int mbuf_meta_offset = -1;

bool register_mbuf_meta() {
    static const rte_mbuf_dynfield desc = {"braid_mbuf_meta", sizeof(MbufMeta), alignof(MbufMeta),
                                           0};
    mbuf_meta_offset = rte_mbuf_dynfield_register(&desc);
    return mbuf_meta_offset >= 0;
}

std::vector<std::string> eal_args(const config::Config& cfg, const std::string& argv0,
                                  const std::vector<std::string>& extra) {
    std::vector<std::string> a{argv0};
    std::string lcores = std::to_string(cfg.eal.main_lcore);
    for (unsigned l : cfg.workers.lcores) {
        lcores += "," + std::to_string(l);
    }
    a.insert(a.end(), {"-l", lcores, "--main-lcore", std::to_string(cfg.eal.main_lcore)});
    a.insert(a.end(), {"--file-prefix", cfg.eal.file_prefix});
    if (cfg.eal.no_huge) {
        a.push_back("--no-huge");
    }
    if (cfg.eal.memory_mb > 0) {
        a.insert(a.end(), {"-m", std::to_string(cfg.eal.memory_mb)});
    }
    bool any_pci = false;
    for (const auto& p : cfg.ports) {
        if (!p.pci.empty()) {
            any_pci = true;
            a.insert(a.end(), {"-a", p.pci});
        } else {
            a.insert(a.end(), {"--vdev", p.vdev});
        }
    }
    // Without a PCI port, braid must not touch the PCI bus at all (it could take over the
    // machine's own NIC).
    if (cfg.eal.no_pci || !any_pci) {
        a.push_back("--no-pci");
    }
    a.insert(a.end(), cfg.eal.extra_args.begin(), cfg.eal.extra_args.end());
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
}

bool eal_init(const std::vector<std::string>& args, std::string* err) {
    // rte_eal_init keeps pointers into argv: the strings must outlive the process.
    static std::vector<std::string> keep;
    static std::vector<char*> argv;
    keep = args;
    argv.clear();
    for (auto& s : keep) {
        argv.push_back(s.data());
    }
    argv.push_back(nullptr);
    if (rte_eal_init(static_cast<int>(keep.size()), argv.data()) < 0) {
        *err = std::string("EAL initialisation failed: ") + rte_strerror(rte_errno);
        return false;
    }
    if (!register_mbuf_meta()) {
        *err = std::string("cannot register the mbuf metadata field: ") + rte_strerror(rte_errno);
        return false;
    }
    // Lets dpdk-dumpcap (a secondary process) capture on braid's ports. Needs shared hugepage
    // memory; with --no-huge a secondary cannot attach, which is logged, not fatal.
    if (rte_pdump_init() < 0) {
        *err = std::string("rte_pdump_init failed: ") + rte_strerror(rte_errno);
        return false;
    }
    return true;
}

void eal_cleanup() {
    rte_pdump_uninit();
    rte_eal_cleanup();
}

}  // namespace braid::dataplane
