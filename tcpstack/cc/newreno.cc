// NewReno's window arithmetic (RFC 5681 §3.1, RFC 3465 byte counting). Recovery itself — which
// segment to retransmit, partial ACKs (RFC 6582), the SACK pipe (RFC 6675) — is the engine's.
#include <algorithm>

#include "tcpstack/cc/cc.h"

namespace braid::tcp {

NewReno::NewReno(uint32_t smss, uint32_t initial_window_segments)
    : c_(CcCommon::make(smss, initial_window_segments)) {}

void NewReno::on_ack(const AckSample& s) {
    c_.pristine = false;
    c_.in_rto = false;
    if (s.app_limited || s.acked_bytes == 0) {
        return;  // cwnd only grows while it limits the sender (RFC 7661 §4.2 in spirit)
    }
    uint32_t acked = s.acked_bytes;
    if (c_.cwnd < c_.ssthresh) {
        acked = c_.slow_start(acked);
        if (acked == 0) {
            return;
        }
    }
    // RFC 3465 §2.1: one SMSS each time a whole cwnd has been acknowledged (RFC 5681 eq. (3)
    // without the per-ACK rounding error; exactly +1 SMSS per RTT with or without delayed ACKs).
    bytes_acked_ += acked;
    if (bytes_acked_ >= c_.cwnd) {
        bytes_acked_ -= c_.cwnd;
        c_.cwnd = std::min(c_.cwnd + c_.smss, kMaxCwnd);
    }
}

void NewReno::on_congestion_event(uint32_t bytes_in_flight, uint64_t /*now_us*/) {
    c_.pristine = false;
    // RFC 5681 eq. (4).
    c_.ssthresh = c_.cut_ssthresh(bytes_in_flight / 2);
    c_.cwnd = c_.ssthresh;
    bytes_acked_ = 0;
}

void NewReno::on_recovery_exit(uint64_t /*now_us*/) {
    c_.cwnd = c_.ssthresh;  // RFC 5681 §3.2 step 6 ("deflating" the window)
    bytes_acked_ = 0;
}

void NewReno::on_rto(uint32_t bytes_in_flight, uint64_t /*now_us*/) {
    c_.pristine = false;
    if (!c_.in_rto) {
        c_.ssthresh = c_.cut_ssthresh(bytes_in_flight / 2);  // RFC 5681 eq. (4)
    }
    c_.in_rto = true;
    c_.cwnd = c_.smss;  // loss window, RFC 5681 §3.1
    bytes_acked_ = 0;
}

void NewReno::on_idle_restart(uint64_t /*now_us*/) {
    // RFC 5681 §4.1: RW = min(IW, cwnd).
    c_.cwnd = std::min(c_.cwnd, initial_window(c_.smss, c_.iw_segments));
    bytes_acked_ = 0;
}

void NewReno::set_smss(uint32_t smss) {
    c_.set_smss(smss);
}

}  // namespace braid::tcp
