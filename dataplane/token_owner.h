// MPTCP tokens across workers (RFC 8684 §3.1: a token names one connection on the host, not on
// a worker). An MP_JOIN SYN from the UE's other access arrives on whatever worker RSS picks for
// that access's outer tuple; the worker that sees it looks the token up here and hands the SYN
// to the worker holding the connection (pipelines/tcp_local.cc, proxy_input).
//
// TokenOwnerTable is the global part: token → worker index in an rte_hash with lock-free
// readers, like FlowOwnerTable (dataplane/flow_owner.h): the value is the worker index, not a
// pointer, and erased key slots are reused after an RCU grace period. SharedTokenTable is one
// worker's mptcp::TokenTable over it: the connection ids stay in a worker-local map (a ConnId
// means nothing on another worker), uniqueness is checked globally.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>

#include "mptcp/endpoint.h"

struct rte_hash;
struct rte_rcu_qsbr;

namespace braid::dataplane {

class TokenOwnerTable {
public:
    // `rcu`: the workers' QSBR variable (App::rcu()); erased key slots wait for a grace period.
    static std::unique_ptr<TokenOwnerTable> create(const std::string& name, uint32_t capacity,
                                                   rte_rcu_qsbr* rcu, std::string* err);
    ~TokenOwnerTable();
    TokenOwnerTable(const TokenOwnerTable&) = delete;
    TokenOwnerTable& operator=(const TokenOwnerTable&) = delete;

    // Any worker. False if the token is held (by any worker) or the table is full. Two
    // workers adding one token at the same instant: rte_hash's multi-writer add serialises
    // them, the second finds the key and fails (tokens come from 64-bit random keys, a
    // collision is already rare).
    bool insert(uint32_t token, uint16_t worker);
    // The holder, when its connection ends. False if the token is not in the table.
    bool erase(uint32_t token);
    // Lock-free readers (any worker, between two quiescent-state reports).
    std::optional<uint16_t> owner(uint32_t token) const;
    uint32_t size() const { return live_.load(std::memory_order_relaxed); }

private:
    TokenOwnerTable() = default;
    rte_hash* hash_ = nullptr;
    std::atomic<uint32_t> live_{0};  // a statistic (rte_hash_count counts deferred slots)
};

// One worker's view: what its Endpoint uses instead of mptcp::LocalTokenTable when several
// workers run (TcpHostConfig::tokens).
class SharedTokenTable final : public mptcp::TokenTable {
public:
    SharedTokenTable(TokenOwnerTable& global, uint16_t worker) : global_(global), worker_(worker) {}
    ~SharedTokenTable() override;
    // Held by any worker: the Endpoint draws another key (keys unique on the host).
    bool contains(uint32_t token) const override { return global_.owner(token).has_value(); }
    bool insert(uint32_t token, tcp::ConnId c) override;
    // This worker's connections only (another worker's ConnId is meaningless here).
    std::optional<tcp::ConnId> find(uint32_t token) const override;
    void erase(uint32_t token) override;
    size_t size() const { return local_.size(); }

private:
    TokenOwnerTable& global_;
    uint16_t worker_;
    std::unordered_map<uint32_t, tcp::ConnId> local_;
};

// The token of an MP_JOIN SYN (RFC 8684 §3.2: the receiver's token, naming the connection the
// subflow joins) in `ip`, an IPv4 or IPv6 packet from its first octet (untrusted: a T-PDU's
// inner packet); nullopt when it is not a TCP SYN without ACK carrying a valid MP_JOIN (IPv6
// with extension headers included: the UE's subflows carry none).
std::optional<uint32_t> join_syn_token(std::span<const uint8_t> ip);

}  // namespace braid::dataplane
