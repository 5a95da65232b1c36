#include "dataplane/gtpu_paths.h"

namespace braid::dataplane {

std::string_view to_string(GtpuPaths::State s) {
    switch (s) {
        case GtpuPaths::State::probing:
            return "probing";
        case GtpuPaths::State::up:
            return "up";
        case GtpuPaths::State::down:
            return "down";
    }
    return "?";
}

void GtpuPaths::add_user(uint32_t ipv4, uint64_t now_ms) {
    auto [it, inserted] = peers_.try_emplace(ipv4);
    Peer& p = it->second;
    if (inserted) {
        p.ipv4 = ipv4;
        p.state_since_ms = now_ms;
        p.next_action_ms = now_ms;  // probe at the next poll
    }
    ++p.sessions;
}

void GtpuPaths::remove_user(uint32_t ipv4) {
    auto it = peers_.find(ipv4);
    if (it == peers_.end()) {
        return;
    }
    if (--it->second.sessions == 0) {
        peers_.erase(it);
    }
}

void GtpuPaths::set_state(Peer& p, State s, uint64_t now_ms, std::vector<Transition>& transitions) {
    if (p.state == s) {
        return;
    }
    transitions.push_back({p.ipv4, p.state, s});
    if (s == State::down) {
        ++p.path_failures;
        ++stats_.path_failures;
    } else if (s == State::up && p.state == State::down) {
        ++stats_.path_recoveries;
    }
    p.state = s;
    p.state_since_ms = now_ms;
}

bool GtpuPaths::on_echo_response(uint32_t ipv4, uint16_t seq, uint64_t now_ms,
                                 std::vector<Transition>& transitions) {
    auto it = peers_.find(ipv4);
    if (it == peers_.end() || !it->second.outstanding || it->second.outstanding_seq != seq) {
        ++stats_.unexpected_responses;
        return false;
    }
    Peer& p = it->second;
    p.outstanding = false;
    p.attempts = 0;
    p.last_response_ms = now_ms;
    p.last_rtt_ms = static_cast<uint32_t>(now_ms - p.last_sent_ms);
    ++p.responses;
    ++stats_.responses;
    p.next_action_ms = p.probe_start_ms + cfg_.echo_interval_ms;
    set_state(p, State::up, now_ms, transitions);
    return true;
}

void GtpuPaths::poll(uint64_t now_ms, std::vector<Request>& requests,
                     std::vector<Transition>& transitions) {
    for (auto& [ip, p] : peers_) {
        if (now_ms < p.next_action_ms) {
            continue;
        }
        if (p.outstanding) {
            // T3-RESPONSE expired for the last transmission.
            ++p.timeouts;
            ++stats_.timeouts;
            if (p.attempts >= cfg_.n3_requests) {
                // Give up on this probe; the next one starts at the echo interval.
                p.outstanding = false;
                p.attempts = 0;
                set_state(p, State::down, now_ms, transitions);
                p.next_action_ms = p.probe_start_ms + cfg_.echo_interval_ms;
                if (p.next_action_ms <= now_ms) {
                    p.next_action_ms = now_ms + cfg_.t3_response_ms;
                }
                continue;
            }
        } else {
            // A new probe with a new sequence number; retransmissions reuse it (§7.2.1 as for
            // any request: same sequence number).
            p.outstanding = true;
            p.outstanding_seq = p.next_seq++;
            p.attempts = 0;
            p.probe_start_ms = now_ms;
        }
        ++p.attempts;
        ++p.requests_sent;
        ++stats_.requests_sent;
        p.last_sent_ms = now_ms;
        p.next_action_ms = now_ms + cfg_.t3_response_ms;
        requests.push_back({p.ipv4, p.outstanding_seq});
    }
}

size_t GtpuPaths::count(State s) const {
    size_t n = 0;
    for (const auto& [ip, p] : peers_) {
        n += p.state == s ? 1 : 0;
    }
    return n;
}

}  // namespace braid::dataplane
