// Port bring-up: find the ethdev EAL probed for a config port, give it a mempool, RX queues
// (RSS when the device hashes), one TX queue per worker; and the queries the CLI and metrics use.
#pragma once

#include <string>

#include "control/config.h"
#include "dataplane/app.h"

namespace braid::dataplane {

// The Toeplitz key braid programs (and uses in software when the device has no RSS).
extern const uint8_t default_rss_key[40];

// The ethdev name EAL gives a config port: the vdev name before the first ',' or the PCI address
// in its full "DDDD:BB:DD.F" form.
std::string ethdev_name(const config::Port& pc);

// Configure the device, its queues and mempool; fills `p.port_id`, `p.mac`, `p.pool`, `p.driver`.
bool configure_port(const config::Port& pc, const config::Config& cfg, PortRuntime& p,
                    std::string* err);

// After start: the RSS key and RETA in force (queried from the device, or braid's software
// equivalent when the device does not hash).
void read_rss_info(PortRuntime& p);

// RSS hash of an IPv4 5-tuple with the port's key, and the RX queue it selects.
uint32_t rss_hash_ipv4(const PortRuntime& p, uint32_t src, uint32_t dst, uint16_t sport,
                       uint16_t dport);
uint16_t rss_queue(const PortRuntime& p, uint32_t hash);

}  // namespace braid::dataplane
