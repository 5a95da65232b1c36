#include "dataplane/port.h"

#include "control/log.h"

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_thash.h>

#include <algorithm>
#include <cstring>

namespace braid::dataplane {

// The widely used Microsoft/Intel default key (also DPDK's testpmd default).
const uint8_t default_rss_key[40] = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

namespace {

constexpr uint16_t software_reta_size = 128;

}  // namespace

std::string ethdev_name(const config::Port& pc) {
    if (!pc.pci.empty()) {
        // "BB:DD.F" is accepted in the config; EAL names the device with its domain.
        return std::count(pc.pci.begin(), pc.pci.end(), ':') == 1 ? "0000:" + pc.pci : pc.pci;
    }
    return pc.vdev.substr(0, pc.vdev.find(','));
}

bool configure_port(const config::Port& pc, const config::Config& cfg, PortRuntime& p,
                    std::string* err) {
    const std::string what = "port " + pc.name + " (" + p.device + ")";
    uint16_t id = 0;
    std::string name = ethdev_name(pc);
    if (rte_eth_dev_get_port_by_name(name.c_str(), &id) != 0) {
        *err = what + ": no such device was probed (check the vdev/pci string and the EAL log)";
        return false;
    }
    p.port_id = id;
    rte_eth_dev_info info{};
    if (int rc = rte_eth_dev_info_get(id, &info); rc != 0) {
        *err = what + ": cannot read device info: " + rte_strerror(-rc);
        return false;
    }
    p.driver = info.driver_name != nullptr ? info.driver_name : "?";
    if (p.rx_queues > info.max_rx_queues || p.tx_queues > info.max_tx_queues) {
        *err = what + ": needs " + std::to_string(p.rx_queues) + " RX and " +
               std::to_string(p.tx_queues) + " TX queues (one per worker), the device has " +
               std::to_string(info.max_rx_queues) + "/" + std::to_string(info.max_tx_queues) +
               " (for net_af_packet add qpairs=N to the vdev string)";
        return false;
    }
    int socket = rte_eth_dev_socket_id(id);
    if (socket < 0) {
        socket = 0;
    }
    std::string pool_name = "mp_" + pc.name;
    p.pool = rte_pktmbuf_pool_create(pool_name.c_str(), cfg.mempool.mbufs_per_port,
                                     cfg.mempool.cache_size, 0, cfg.mempool.data_room, socket);
    if (p.pool == nullptr) {
        *err = what + ": cannot create a mempool of " + std::to_string(cfg.mempool.mbufs_per_port) +
               " mbufs: " + rte_strerror(rte_errno) + " (see mempool.* and eal.memory_mb)";
        return false;
    }

    rte_eth_conf conf{};
    conf.rxmode.mtu = pc.mtu;
    if (p.rx_queues > 1 && info.flow_type_rss_offloads != 0) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_key = const_cast<uint8_t*>(default_rss_key);
        conf.rx_adv_conf.rss_conf.rss_key_len = sizeof(default_rss_key);
        conf.rx_adv_conf.rss_conf.rss_hf =
            (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_TCP) & info.flow_type_rss_offloads;
    }
    if (int rc = rte_eth_dev_configure(id, p.rx_queues, p.tx_queues, &conf); rc != 0) {
        *err = what + ": configure failed: " + rte_strerror(-rc);
        return false;
    }
    uint16_t nb_rxd = pc.rx_descriptors;
    uint16_t nb_txd = pc.tx_descriptors;
    if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(id, &nb_rxd, &nb_txd); rc != 0) {
        *err = what + ": descriptor counts refused: " + rte_strerror(-rc);
        return false;
    }
    for (uint16_t q = 0; q < p.rx_queues; ++q) {
        if (int rc = rte_eth_rx_queue_setup(id, q, nb_rxd, static_cast<unsigned>(socket), nullptr,
                                            p.pool);
            rc != 0) {
            *err = what + ": RX queue " + std::to_string(q) + " setup failed: " + rte_strerror(-rc);
            return false;
        }
    }
    for (uint16_t q = 0; q < p.tx_queues; ++q) {
        if (int rc = rte_eth_tx_queue_setup(id, q, nb_txd, static_cast<unsigned>(socket), nullptr);
            rc != 0) {
            *err = what + ": TX queue " + std::to_string(q) + " setup failed: " + rte_strerror(-rc);
            return false;
        }
    }
    rte_eth_macaddr_get(id, &p.mac);
    if (pc.mac) {
        rte_ether_addr mac;
        std::memcpy(mac.addr_bytes, pc.mac->data(), 6);
        int rc = rte_eth_dev_default_mac_addr_set(id, &mac);
        if (rc == -ENOTSUP) {
            // Software devices without a MAC filter (net_ring, net_null): braid still uses the
            // configured address in everything it sends and accepts.
            BRAID_LOG(dataplane, NOTICE, "%s: device cannot change its MAC; using %s in software",
                      what.c_str(), "the configured address");
        } else if (rc != 0) {
            *err = what + ": cannot set the MAC address: " + rte_strerror(-rc);
            return false;
        }
        p.mac = mac;
    }
    if (pc.promiscuous) {
        rte_eth_promiscuous_enable(id);
    }
    // IPv6 link-local address from the MAC (RFC 4291 §2.5.1, modified EUI-64).
    p.ipv6_link_local = {0xfe, 0x80};
    p.ipv6_link_local[8] = p.mac.addr_bytes[0] ^ 0x02;
    p.ipv6_link_local[9] = p.mac.addr_bytes[1];
    p.ipv6_link_local[10] = p.mac.addr_bytes[2];
    p.ipv6_link_local[11] = 0xff;
    p.ipv6_link_local[12] = 0xfe;
    p.ipv6_link_local[13] = p.mac.addr_bytes[3];
    p.ipv6_link_local[14] = p.mac.addr_bytes[4];
    p.ipv6_link_local[15] = p.mac.addr_bytes[5];
    return true;
}

void read_rss_info(PortRuntime& p) {
    rte_eth_dev_info info{};
    rte_eth_dev_info_get(p.port_id, &info);
    p.rss = RssInfo{};
    if (p.rx_queues > 1 && info.flow_type_rss_offloads != 0 && info.reta_size > 0) {
        std::vector<uint8_t> key(info.hash_key_size > 0 ? info.hash_key_size : 40);
        rte_eth_rss_conf rc{};
        rc.rss_key = key.data();
        rc.rss_key_len = static_cast<uint8_t>(key.size());
        std::vector<rte_eth_rss_reta_entry64> reta((info.reta_size + RTE_ETH_RETA_GROUP_SIZE - 1) /
                                                   RTE_ETH_RETA_GROUP_SIZE);
        for (auto& e : reta) {
            e.mask = ~0ull;
        }
        if (rte_eth_dev_rss_hash_conf_get(p.port_id, &rc) == 0 &&
            rte_eth_dev_rss_reta_query(p.port_id, reta.data(), info.reta_size) == 0) {
            p.rss.device_rss = true;
            p.rss.rss_hf = rc.rss_hf;
            p.rss.key.assign(key.begin(), key.begin() + rc.rss_key_len);
            for (uint16_t i = 0; i < info.reta_size; ++i) {
                p.rss.reta.push_back(
                    reta[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE]);
            }
            return;
        }
    }
    // No hardware RSS: the application still knows which key and RETA it would use, so that
    // source-port selection works the same whether or not the device hashes.
    p.rss.key.assign(std::begin(default_rss_key), std::end(default_rss_key));
    for (uint16_t i = 0; i < software_reta_size; ++i) {
        p.rss.reta.push_back(static_cast<uint16_t>(i % p.rx_queues));
    }
}

uint32_t rss_hash_ipv4(const PortRuntime& p, uint32_t src, uint32_t dst, uint16_t sport,
                       uint16_t dport) {
    uint32_t tuple[3] = {src, dst, (uint32_t{sport} << 16) | dport};
    return rte_softrss(tuple, 3, p.rss.key.data());
}

uint16_t rss_queue(const PortRuntime& p, uint32_t hash) {
    return p.rss.reta.empty() ? 0 : p.rss.reta[hash % p.rss.reta.size()];
}

}  // namespace braid::dataplane
