// Algorithm selection, the initial window and the slow start both algorithms share.
#include "tcpstack/cc/cc.h"

#include <algorithm>

namespace braid::tcp {
namespace {

// An MSS is a 16-bit option value; clamping here keeps 2*SMSS and cwnd + SMSS far from overflow
// whatever the engine passes.
uint32_t sane_smss(uint32_t smss) {
    return std::clamp<uint32_t>(smss, 1, 65535);
}

}  // namespace

std::optional<CcAlgorithm> parse_cc_algorithm(std::string_view name) {
    if (name == "newreno" || name == "reno") {
        return CcAlgorithm::newreno;
    }
    if (name == "cubic") {
        return CcAlgorithm::cubic;
    }
    return std::nullopt;
}

std::string_view to_string(CcAlgorithm a) {
    switch (a) {
        case CcAlgorithm::newreno:
            return "newreno";
        case CcAlgorithm::cubic:
            return "cubic";
    }
    return "unknown";
}

uint32_t initial_window(uint32_t smss, uint32_t segments) {
    const uint64_t mss = sane_smss(smss);
    uint64_t iw = segments * mss;
    if (segments == 10) {
        // RFC 6928 §2: min(10*MSS, max(2*MSS, 14600)).
        iw = std::min<uint64_t>(10 * mss, std::max<uint64_t>(2 * mss, 14600));
    }
    return static_cast<uint32_t>(std::clamp<uint64_t>(iw, mss, kMaxCwnd));
}

CcCommon CcCommon::make(uint32_t smss, uint32_t iw_segments) {
    smss = sane_smss(smss);
    iw_segments = std::max<uint32_t>(iw_segments, 1);
    // RFC 5681 §3.1: the initial ssthresh SHOULD be arbitrarily high.
    return CcCommon{smss, iw_segments, initial_window(smss, iw_segments), kMaxCwnd};
}

uint32_t CcCommon::slow_start(uint32_t acked) {
    // RFC 3465 §2.2 with L = 2*SMSS: one delayed ACK (two segments) still doubles cwnd per RTT,
    // and a stretch ACK cannot open the window by more than two segments at once.
    const uint32_t grow = std::min<uint32_t>(acked, 2 * smss);
    if (uint64_t{cwnd} + grow < ssthresh) {
        cwnd += grow;
        return 0;
    }
    const uint32_t used = ssthresh > cwnd ? ssthresh - cwnd : 0;
    cwnd = std::max(cwnd, ssthresh);
    return acked - used;  // continues in congestion avoidance
}

void CcCommon::set_smss(uint32_t new_smss) {
    smss = sane_smss(new_smss);
    if (pristine) {
        cwnd = initial_window(smss, iw_segments);
    }
    cwnd = std::max(cwnd, smss);
}

CongestionControl::CongestionControl(CcAlgorithm a, uint32_t smss, uint32_t initial_window_segments)
    : impl_(a == CcAlgorithm::cubic
                ? std::variant<NewReno, Cubic>(Cubic(smss, initial_window_segments))
                : std::variant<NewReno, Cubic>(NewReno(smss, initial_window_segments))) {}

CcAlgorithm CongestionControl::algorithm() const {
    return std::holds_alternative<Cubic>(impl_) ? CcAlgorithm::cubic : CcAlgorithm::newreno;
}

uint32_t CongestionControl::cwnd() const {
    return std::visit([](const auto& cc) { return cc.cwnd(); }, impl_);
}

uint32_t CongestionControl::ssthresh() const {
    return std::visit([](const auto& cc) { return cc.ssthresh(); }, impl_);
}

void CongestionControl::on_ack(const AckSample& s) {
    std::visit([&](auto& cc) { cc.on_ack(s); }, impl_);
}

void CongestionControl::on_congestion_event(uint32_t bytes_in_flight, uint64_t now_us) {
    std::visit([&](auto& cc) { cc.on_congestion_event(bytes_in_flight, now_us); }, impl_);
}

void CongestionControl::on_recovery_exit(uint64_t now_us) {
    std::visit([&](auto& cc) { cc.on_recovery_exit(now_us); }, impl_);
}

void CongestionControl::on_rto(uint32_t bytes_in_flight, uint64_t now_us) {
    std::visit([&](auto& cc) { cc.on_rto(bytes_in_flight, now_us); }, impl_);
}

void CongestionControl::on_idle_restart(uint64_t now_us) {
    std::visit([&](auto& cc) { cc.on_idle_restart(now_us); }, impl_);
}

void CongestionControl::set_smss(uint32_t smss) {
    std::visit([&](auto& cc) { cc.set_smss(smss); }, impl_);
}

}  // namespace braid::tcp
