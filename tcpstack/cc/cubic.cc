// CUBIC, RFC 9438. Windows are kept in (fractional) segments as in the RFC's equations; the
// engine sees bytes. Time is the injected clock, t in seconds since the epoch started.
#include <algorithm>
#include <cmath>

#include "tcpstack/cc/cc.h"

namespace braid::tcp {
namespace {

constexpr double kUsPerSecond = 1e6;

}  // namespace

Cubic::Cubic(uint32_t smss, uint32_t initial_window_segments)
    : c_(CcCommon::make(smss, initial_window_segments)) {
    cwnd_seg_ = double(c_.cwnd) / c_.smss;
}

void Cubic::sync_from_segments() {
    const double bytes = std::clamp(cwnd_seg_ * c_.smss, double(c_.smss), double(kMaxCwnd));
    c_.cwnd = static_cast<uint32_t>(bytes);
    cwnd_seg_ = bytes / c_.smss;
}

void Cubic::sync_from_bytes() {
    cwnd_seg_ = double(c_.cwnd) / c_.smss;
}

double Cubic::w_cubic(double t_seconds) const {
    const double d = t_seconds - k_;
    return c * d * d * d + w_max_;  // §4.2 eq. (1)
}

void Cubic::start_epoch(uint64_t now_us) {
    in_epoch_ = true;
    epoch_start_us_ = now_us;
    const double cwnd_epoch = cwnd_seg_;
    if (w_max_ <= cwnd_epoch) {
        // No reduction to recover from (slow start ended at ssthresh, or an idle restart):
        // the plateau is here, growth is convex from the start and Reno-friendly at alpha = 1.
        w_max_ = cwnd_epoch;
        cwnd_prior_ = std::max(cwnd_prior_, cwnd_epoch);
        k_ = 0;
    } else {
        k_ = std::cbrt((w_max_ - cwnd_epoch) / c);  // §4.2 eq. (2)
    }
    w_est_ = cwnd_epoch;  // §4.3
}

void Cubic::on_ack(const AckSample& s) {
    c_.pristine = false;
    c_.in_rto = false;
    if (s.rtt_us != 0) {
        srtt_us_ = srtt_us_ == 0 ? s.rtt_us : srtt_us_ - srtt_us_ / 8 + s.rtt_us / 8;
    }
    if (s.app_limited || s.acked_bytes == 0) {
        // §5.8: cwnd does not grow while the application limits the sender, and the time spent
        // so does not count in t (the epoch moves forward by it).
        if (in_epoch_ && s.now_us > last_ack_us_) {
            epoch_start_us_ += s.now_us - last_ack_us_;
        }
        last_ack_us_ = std::max(last_ack_us_, s.now_us);
        return;
    }
    last_ack_us_ = std::max(last_ack_us_, s.now_us);
    uint32_t acked = s.acked_bytes;
    if (c_.cwnd < c_.ssthresh) {
        acked = c_.slow_start(acked);
        sync_from_bytes();
        if (acked == 0) {
            return;
        }
    }
    if (!in_epoch_) {
        start_epoch(s.now_us);
    }
    const double t =
        double(s.now_us > epoch_start_us_ ? s.now_us - epoch_start_us_ : 0) / kUsPerSecond;
    const double segs = double(acked) / c_.smss;

    // §4.3 Reno-friendly estimate: alpha_cubic until W_est reaches cwnd_prior, then Reno's 1.
    const double alpha_now = w_est_ >= cwnd_prior_ ? 1.0 : alpha;
    w_est_ += alpha_now * segs / cwnd_seg_;

    if (w_cubic(t) < w_est_) {
        // Reno-friendly region. max(): cwnd may run up to one RTT ahead of W_cubic(t), and an
        // ACK never shrinks the window.
        cwnd_seg_ = std::max(cwnd_seg_, w_est_);
    } else {
        // §4.4/§4.5 concave and convex regions: aim one RTT ahead, at most 1.5x per RTT.
        const double rtt = double(srtt_us_) / kUsPerSecond;
        const double target = std::clamp(w_cubic(t + rtt), cwnd_seg_, 1.5 * cwnd_seg_);
        cwnd_seg_ += (target - cwnd_seg_) / cwnd_seg_ * segs;
    }
    sync_from_segments();
}

void Cubic::reduce(uint32_t bytes_in_flight) {
    const double cwnd_now = cwnd_seg_;
    // §4.7 fast convergence: a flow whose plateau keeps falling releases bandwidth sooner.
    w_max_ = cwnd_now < w_max_ ? cwnd_now * (1.0 + beta) / 2.0 : cwnd_now;
    cwnd_prior_ = cwnd_now;
    // §4.6: ssthresh = flight_size * beta_cubic, at least 2 SMSS.
    c_.ssthresh = c_.cut_ssthresh(static_cast<uint64_t>(double(bytes_in_flight) * beta));
    in_epoch_ = false;
}

void Cubic::on_congestion_event(uint32_t bytes_in_flight, uint64_t /*now_us*/) {
    c_.pristine = false;
    reduce(bytes_in_flight);
    c_.cwnd = c_.ssthresh;  // §4.6: cwnd = max(ssthresh, 2*SMSS)
    sync_from_bytes();
}

void Cubic::on_recovery_exit(uint64_t /*now_us*/) {
    c_.cwnd = c_.ssthresh;
    sync_from_bytes();
}

void Cubic::on_rto(uint32_t bytes_in_flight, uint64_t /*now_us*/) {
    c_.pristine = false;
    if (!c_.in_rto) {
        reduce(bytes_in_flight);  // §4.8: ssthresh as for any congestion event, cwnd as Reno
    }
    c_.in_rto = true;
    in_epoch_ = false;
    c_.cwnd = c_.smss;
    sync_from_bytes();
}

void Cubic::on_idle_restart(uint64_t /*now_us*/) {
    c_.cwnd = std::min(c_.cwnd, initial_window(c_.smss, c_.iw_segments));  // RFC 5681 §4.1
    sync_from_bytes();
    in_epoch_ = false;  // a new epoch from the restart window towards the old W_max
}

void Cubic::set_smss(uint32_t smss) {
    const uint32_t old_smss = c_.smss;
    c_.set_smss(smss);
    const double scale = double(old_smss) / c_.smss;
    // The segment-denominated state keeps its meaning in bytes.
    w_max_ *= scale;
    cwnd_prior_ *= scale;
    w_est_ *= scale;
    sync_from_bytes();
    in_epoch_ = false;
}

}  // namespace braid::tcp
