// EAL initialisation from the config: the EAL argument vector is derived from `eal:` and the
// ports (vdevs become --vdev, PCI addresses -a), never probing a device braid was not given.
#pragma once

#include <string>
#include <vector>

#include "control/config.h"

namespace braid::dataplane {

// The arguments braid passes to rte_eal_init (argv[0] included). `extra` (from the command line
// after `--`) is appended last.
std::vector<std::string> eal_args(const config::Config& cfg, const std::string& argv0,
                                  const std::vector<std::string>& extra);

// rte_eal_init + the process-wide registrations (mbuf metadata, pdump). On failure returns false
// with a message.
bool eal_init(const std::vector<std::string>& args, std::string* err);
void eal_cleanup();

}  // namespace braid::dataplane
