// braid's PFCP server: the N4 UDP socket (IPv4 or IPv6, nonblocking) on the control EventLoop
// around the sans-I/O Node (node.h). A periodic timer on the loop drives the node's timers.
//
//   auto server = pfcp::Server::start(cfg.pfcp, loop, handler, &err);  // null + err on failure
//   server->request_sender();  // for the session procedures (Session Report Request)
//
// Runs on the control core only; add_collectors() reads counters from the exporter thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "control/config.h"
#include "control/event_loop.h"
#include "control/metrics.h"
#include "control/pfcp/node.h"
#include "control/pfcp/session_handler.h"

namespace braid::pfcp {

// The node configuration for a `pfcp` config section. `unix_now` becomes braid's Recovery Time
// Stamp. Returns nothing and sets *err when the Node ID or a peer address cannot be used.
std::optional<NodeConfig> node_config(const config::Pfcp& cfg, int64_t unix_now, std::string* err);

class Server {
public:
    // Binds cfg.listen and starts the node (UP-initiated association setups go out now).
    static std::unique_ptr<Server> start(const config::Pfcp& cfg, control::EventLoop& loop,
                                         SessionHandler* handler, std::string* err);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    Node& node() { return *node_; }
    const Node& node() const { return *node_; }
    RequestSender& request_sender() { return *node_; }
    void set_session_handler(SessionHandler* handler) { node_->set_session_handler(handler); }

    const std::string& listen_address() const { return address_; }
    uint16_t port() const { return port_; }  // the bound port

private:
    Server() = default;
    void on_readable();
    void send(const PeerAddress& to, std::span<const uint8_t> datagram);

    control::EventLoop* loop_ = nullptr;
    int fd_ = -1;
    bool ipv6_ = false;
    std::string address_;
    uint16_t port_ = 0;
    std::unique_ptr<Node> node_;
    std::shared_ptr<bool> alive_;  // the loop's timer outlives nothing it cannot check
};

// /metrics families for the node's counters (braid_pfcp_*). `node` must outlive the exporter.
void add_collectors(metrics::Exporter& exporter, const Node& node);

}  // namespace braid::pfcp
