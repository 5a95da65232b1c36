// The session action functions (App): the one path by which sessions are created, modified and
// deleted — for the CLI, the YAML static sessions and PFCP alike — and the control core's side
// of the user plane: usage monitoring, buffered packets, Error Indication and End Marker.
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "control/log.h"
#include "dataplane/app.h"
#include "dataplane/gtpu.h"
#include "dataplane/mbuf_meta.h"

namespace braid::dataplane {

namespace {

constexpr uint32_t default_buffer_packets = 64;  // per session, without a BAR count
constexpr size_t max_pending_reports = 4096;     // not yet taken by PFCP
constexpr size_t max_recent_reports = 64;        // kept for the CLI

std::string ipv4_text(uint32_t host) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%u.%u.%u.%u", host >> 24, (host >> 16) & 0xff,
                  (host >> 8) & 0xff, host & 0xff);
    return buf;
}

const Far* find_far(const SessionSpec& s, uint32_t id) {
    for (const Far& f : s.fars) {
        if (f.id == id) {
            return &f;
        }
    }
    return nullptr;
}

}  // namespace

void App::want_session_neighbors(const SessionSpec& spec, uint64_t now_ms) {
    // The GTP-U peers of the session's FARs: resolve them before the first downlink packet.
    for (const Far& f : spec.fars) {
        if (!f.outer_header) {
            continue;
        }
        for (const auto& p : ports_) {
            if (p.role != config::PortRole::n3) {
                continue;
            }
            uint32_t hop = f.outer_header->peer_ipv4;
            if (p.has_gateway_ipv4 && p.has_ipv4) {
                const uint32_t mask = p.ipv4_len == 0 ? 0 : ~uint32_t{0} << (32 - p.ipv4_len);
                hop = (hop & mask) == (p.ipv4 & mask) ? hop : p.gateway_ipv4;
            }
            if (auto req = neighbors_->want(p.index, hop, now_ms)) {
                send_arp_request(req->port_index, req->target_ipv4);
            }
        }
    }
}

std::optional<SpecError> App::create_session(const SessionSpec& spec) {
    if (auto err = sessions_->create_session(spec)) {
        ++session_counters_.rejected;
        return err;
    }
    ++session_counters_.created;
    want_session_neighbors(spec, now_ms_);
    track_gtpu_peers(nullptr, &spec);
    // DEBUG, not INFO: a line per session costs ~15 us on the control core (DPDK's log stream
    // writes stdout and syslog), a third of an establishment (docs/BENCHMARKS.md, bench_pfcp);
    // the session counters and `show sessions` say the same in aggregate.
    BRAID_LOG(dataplane, DEBUG,
              "session %" PRIu64 " created: %zu PDRs, %zu FARs, %zu QERs, %zu URRs", spec.seid,
              spec.pdrs.size(), spec.fars.size(), spec.qers.size(), spec.urrs.size());
    return std::nullopt;
}

std::optional<SpecError> App::modify_session(const SessionSpec& spec, const ModifyFlags& flags,
                                             std::vector<UsageReport>* reports) {
    const SessionSpec* current = sessions_->spec(spec.seid);
    if (current == nullptr) {
        ++session_counters_.rejected;
        return SpecError{SpecError::Kind::dangling_ref, "session " + std::to_string(spec.seid),
                         "no session with this SEID"};
    }
    const SessionSpec before = *current;
    // Still valid after the modification: retired snapshots are freed by reclaim() only.
    const SessionRules* old_rules = sessions_->by_seid(spec.seid);
    if (auto err = sessions_->modify_session(spec)) {
        ++session_counters_.rejected;
        return err;
    }
    ++session_counters_.modified;
    track_gtpu_peers(&before, &spec);
    const SessionRules* rules = sessions_->by_seid(spec.seid);
    std::vector<UsageReport> out;
    // URRs the modification removed: their final report (TS 29.244 §7.5.5.1, Usage Report in
    // the response, trigger TERMR).
    std::vector<uint32_t> removed;
    for (const CompiledUrr& u : old_rules->urrs) {
        if (std::none_of(rules->urrs.begin(), rules->urrs.end(),
                         [&](const CompiledUrr& n) { return n.urr.id == u.urr.id; })) {
            removed.push_back(u.urr.id);
        }
    }
    if (!removed.empty()) {
        // Their monitor state goes with their usage blocks when the old snapshot is freed.
        usage_->report_now(*old_rules, removed, UsageTrigger::termination, now_ms_, out);
    }
    if (flags.query_all_urrs || !flags.query_urrs.empty()) {
        usage_->report_now(*rules,
                           flags.query_all_urrs ? std::vector<uint32_t>{} : flags.query_urrs,
                           UsageTrigger::query, now_ms_, out);
    }
    // SNDEM: an End Marker on the old path of each tunnel whose outer header changed.
    if (flags.send_end_marker) {
        for (const Far& old : before.fars) {
            const Far* now = find_far(spec, old.id);
            if (old.outer_header && now != nullptr && now->outer_header &&
                !(*old.outer_header == *now->outer_header)) {
                send_end_marker(old.outer_header->peer_ipv4, old.outer_header->teid);
            }
        }
    }
    want_session_neighbors(spec, now_ms_);
    session_counters_.usage_reports += out.size();
    if (reports != nullptr) {
        reports->insert(reports->end(), out.begin(), out.end());
    }
    return std::nullopt;
}

std::optional<std::vector<UsageReport>> App::delete_session(uint64_t seid) {
    const SessionRules* rules = sessions_->by_seid(seid);
    if (rules == nullptr) {
        return std::nullopt;
    }
    std::vector<UsageReport> out;
    usage_->report_now(*rules, {}, UsageTrigger::termination, now_ms_, out);
    buffer_->discard(seid);
    track_gtpu_peers(sessions_->spec(seid), nullptr);
    sessions_->delete_session(seid);
    ++session_counters_.deleted;
    session_counters_.usage_reports += out.size();
    BRAID_LOG(dataplane, DEBUG, "session %" PRIu64 " deleted (%zu final usage reports)", seid,
              out.size());
    return out;
}

void App::push_report(SessionReport r) {
    if (reports_.size() >= max_pending_reports) {
        reports_.erase(reports_.begin());
        ++session_counters_.reports_dropped;
    }
    recent_reports_.push_back(r);
    if (recent_reports_.size() > max_recent_reports) {
        recent_reports_.pop_front();
    }
    reports_.push_back(std::move(r));
}

std::vector<SessionReport> App::take_reports() {
    std::vector<SessionReport> out;
    out.swap(reports_);
    return out;
}

std::optional<UsageTotals> App::current_usage(uint64_t seid, uint32_t urr_id) const {
    const SessionRules* rules = sessions_->by_seid(seid);
    return rules == nullptr ? std::nullopt : usage_->current(*rules, urr_id);
}

void App::poll_usage(uint64_t now_ms) {
    // A bounded slice of the pass per control tick: PFCP requests wait behind a tick, so its
    // pause must stay well under a millisecond (bench_pfcp prints each tick's pause). The cost
    // is one per URR (its usage block: the workers' slices and the monitor state beside them),
    // one per session without URRs; a pass over a table larger than the budget is spread over
    // several 10 ms ticks, each session still polled once per pass: 100,000 single-URR
    // sessions take 100 ticks, so a URR's triggers are checked every ~1 s instead of 100 ms at
    // that size.
    constexpr size_t usage_poll_budget = 1024;
    std::vector<UsageReport> out;
    // Prefetch ahead of the walk (SessionTable::walk_step): the URR array of a snapshot, then
    // each URR's usage block: the monitor state (two lines) and the workers' slices. Without it
    // every URR cost a chain of dependent cache misses (~0.25 µs each at 40,000 sessions).
    const auto ahead = [](const SessionRules& r, unsigned stage) {
        if (stage == 1) {
            __builtin_prefetch(r.urrs.data());
            return;
        }
        for (const CompiledUrr& u : r.urrs) {
            if (u.usage) {
                const char* m = reinterpret_cast<const char*>(&u.usage.shared());
                __builtin_prefetch(m);
                __builtin_prefetch(m + 64);
                for (unsigned w = 0; w < u.usage.size(); ++w) {
                    __builtin_prefetch(&u.usage[w]);
                }
            }
        }
    };
    usage_pass_active_ = !sessions_->walk_step(
        usage_poll_budget,
        [&](const SessionRules& r) {
            if (!r.urrs.empty()) {
                usage_->poll(r, now_ms, out);
            }
            return r.urrs.size();
        },
        ahead);
    for (UsageReport& r : out) {
        BRAID_LOG(dataplane, INFO,
                  "usage report: session %" PRIu64 " urr %u #%u %s: ul %" PRIu64 " B dl %" PRIu64
                  " B, %u s",
                  r.seid, r.urr_id, r.sequence, std::string(to_string(r.trigger)).c_str(),
                  r.volume.bytes_ul, r.volume.bytes_dl, r.duration_s);
        push_report(std::move(r));
        ++session_counters_.usage_reports;
    }
}

void App::report_error_indication(uint32_t teid, uint32_t peer_ipv4) {
    // The session whose downlink tunnel the peer did not know (TS 29.244 §5.6: the UPF reports
    // the Remote F-TEID; the SMF decides what to do).
    for (uint64_t seid : sessions_->seids()) {
        const SessionSpec* s = sessions_->spec(seid);
        for (const Far& f : s->fars) {
            if (f.outer_header && f.outer_header->teid == teid &&
                f.outer_header->peer_ipv4 == peer_ipv4) {
                BRAID_LOG(dataplane, WARNING,
                          "Error Indication from %s for TEID 0x%08x: session %" PRIu64,
                          ipv4_text(peer_ipv4).c_str(), teid, seid);
                push_report(ErrorIndicationReport{seid, teid, peer_ipv4});
                ++session_counters_.error_ind_reports;
                return;
            }
        }
    }
    BRAID_LOG(dataplane, INFO, "Error Indication from %s for TEID 0x%08x: no session uses it",
              ipv4_text(peer_ipv4).c_str(), teid);
    ++session_counters_.error_ind_unmatched;
}

void App::drain_buffered_packets() {
    rte_mbuf* pkts[64];
    for (auto* wc : workers_) {
        unsigned n;
        while ((n = rte_ring_sc_dequeue_burst(wc->w2m_pkts, reinterpret_cast<void**>(pkts), 64,
                                              nullptr)) > 0) {
            for (unsigned i = 0; i < n; ++i) {
                const uint64_t seid = meta(pkts[i]).seid;
                const SessionRules* r = sessions_->by_seid(seid);
                if (r == nullptr) {
                    rte_pktmbuf_free(pkts[i]);
                    continue;
                }
                // The PDR's FAR as it is now decides the bound and the notification.
                uint32_t cap = default_buffer_packets;
                const Far* far = nullptr;
                const uint16_t pi = meta(pkts[i]).pdr_index;
                uint16_t pdr_id = 0;
                if (pi < r->pdrs.size()) {
                    far = &r->fars[r->pdrs[pi].far_index];
                    pdr_id = r->pdrs[pi].id;
                }
                if (far != nullptr && far->bar_id) {
                    for (const Bar& b : r->bars) {
                        if (b.id == *far->bar_id && b.buffering_packets != 0) {
                            cap = b.buffering_packets;
                        }
                    }
                }
                if (buffer_->push(seid, pkts[i], cap, r->generation) && far != nullptr &&
                    far->action.notify_cp) {
                    push_report(DownlinkDataReport{seid, pdr_id});
                    ++session_counters_.downlink_data_reports;
                }
            }
        }
    }
}

void App::release_buffered_packets() {
    // A session changed since its packets were buffered: hand them back to pdr_dl, oldest
    // first, to meet its rules as they are now (buffered again if the FAR still says so).
    for (auto [seid, generation] : buffer_->sessions()) {
        const SessionRules* r = sessions_->by_seid(seid);
        if (r == nullptr) {
            buffer_->discard(seid);
        } else if (r->generation != generation) {
            for (rte_mbuf* m : buffer_->release(seid)) {
                meta(m).inner_offset = release_to_pdr_dl;
                if (workers_.empty() || rte_ring_sp_enqueue(workers_[0]->m2w_pkts, m) != 0) {
                    rte_pktmbuf_free(m);
                    ++control_tx_failures_;
                }
            }
        }
    }
}

bool App::send_gtpu(uint32_t peer_ipv4, std::span<const uint8_t> message) {
    const PortRuntime* port = nullptr;
    for (const auto& p : ports_) {
        if (p.role == config::PortRole::n3 && p.has_ipv4) {
            port = &p;
            break;
        }
    }
    const NeighborSnapshot* nb = neighbor_snapshot();
    uint32_t hop = peer_ipv4;
    if (port != nullptr && port->has_gateway_ipv4) {
        const uint32_t mask = port->ipv4_len == 0 ? 0 : ~uint32_t{0} << (32 - port->ipv4_len);
        hop = (hop & mask) == (port->ipv4 & mask) ? hop : port->gateway_ipv4;
    }
    auto mac = port != nullptr && nb != nullptr ? nb->lookup(port->index, hop) : std::nullopt;
    rte_mbuf* m = mac ? rte_pktmbuf_alloc(port->pool) : nullptr;
    if (m == nullptr) {
        ++control_tx_failures_;
        return false;
    }
    const auto gtp_len = static_cast<uint16_t>(message.size());
    const auto len = static_cast<uint16_t>(sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) +
                                           sizeof(rte_udp_hdr) + gtp_len);
    auto* eth = reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_append(m, len));
    if (eth == nullptr) {
        rte_pktmbuf_free(m);
        ++control_tx_failures_;
        return false;
    }
    std::memcpy(eth->dst_addr.addr_bytes, mac->data(), RTE_ETHER_ADDR_LEN);
    eth->src_addr = port->mac;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    std::memset(ip, 0, sizeof(*ip));
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(len - sizeof(rte_ether_hdr)));
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_UDP;
    ip->src_addr = rte_cpu_to_be_32(port->ipv4);
    ip->dst_addr = rte_cpu_to_be_32(peer_ipv4);
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
    udp->src_port = rte_cpu_to_be_16(gtpu::udp_port);
    udp->dst_port = rte_cpu_to_be_16(gtpu::udp_port);
    udp->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(rte_udp_hdr) + gtp_len));
    std::memcpy(udp + 1, message.data(), gtp_len);
    udp->dgram_cksum = 0;
    udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
    meta(m).port_index = port->index;
    return send_from_control(m);
}

bool App::send_end_marker(uint32_t peer_ipv4, uint32_t teid) {
    uint8_t msg[8];
    const size_t n = gtpu::encode_end_marker(msg, gtpu::Teid(teid));
    if (n == 0 || !send_gtpu(peer_ipv4, std::span<const uint8_t>(msg, n))) {
        return false;
    }
    ++session_counters_.end_markers_sent;
    BRAID_LOG(dataplane, INFO, "End Marker sent to %s for TEID 0x%08x",
              ipv4_text(peer_ipv4).c_str(), teid);
    return true;
}

namespace {

// The distinct GTP-U peers a session's FARs tunnel to.
std::set<uint32_t> tunnel_peers(const SessionSpec* spec) {
    std::set<uint32_t> out;
    if (spec != nullptr) {
        for (const Far& f : spec->fars) {
            if (f.outer_header) {
                out.insert(f.outer_header->peer_ipv4);
            }
        }
    }
    return out;
}

}  // namespace

void App::track_gtpu_peers(const SessionSpec* before, const SessionSpec* after) {
    const std::set<uint32_t> old_peers = tunnel_peers(before);
    const std::set<uint32_t> new_peers = tunnel_peers(after);
    for (uint32_t ip : new_peers) {
        if (!old_peers.contains(ip)) {
            gtpu_paths_->add_user(ip, now_ms_);
        }
    }
    for (uint32_t ip : old_peers) {
        if (!new_peers.contains(ip)) {
            gtpu_paths_->remove_user(ip);
        }
    }
}

void App::log_path_transitions(const std::vector<GtpuPaths::Transition>& transitions) {
    for (const auto& t : transitions) {
        if (t.to == GtpuPaths::State::down) {
            BRAID_LOG(dataplane, WARNING,
                      "GTP-U path to %s is down: %u Echo Requests unanswered (was %s)",
                      ipv4_text(t.ipv4).c_str(), gtpu_paths_->config().n3_requests,
                      std::string(to_string(t.from)).c_str());
        } else {
            BRAID_LOG(dataplane, INFO, "GTP-U path to %s is %s (was %s)", ipv4_text(t.ipv4).c_str(),
                      std::string(to_string(t.to)).c_str(), std::string(to_string(t.from)).c_str());
        }
    }
}

void App::poll_gtpu_paths(uint64_t now_ms) {
    std::vector<GtpuPaths::Request> requests;
    std::vector<GtpuPaths::Transition> transitions;
    gtpu_paths_->poll(now_ms, requests, transitions);
    log_path_transitions(transitions);
    for (const auto& r : requests) {
        uint8_t msg[16];
        const size_t n = gtpu::encode_echo_request(msg, r.seq);
        // A failure (no route or MAC yet, ring full) is counted in control_tx_failures; the
        // request then times out like a lost one and is retransmitted.
        if (n != 0) {
            send_gtpu(r.ipv4, std::span<const uint8_t>(msg, n));
        }
    }
}

}  // namespace braid::dataplane
