// Congestion control for the tcpstack engine: NewReno (RFC 5681 + RFC 3465 byte counting) and
// CUBIC (RFC 9438), selectable per connection. Sans-I/O: the engine reports ACKs, congestion
// events, RTOs and idle restarts with the time injected; the controller only keeps cwnd and
// ssthresh in bytes. Loss detection, fast retransmit and recovery bookkeeping (RFC 6675 / 6582)
// stay in the engine. A value type (std::variant inside): no heap per connection.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>

namespace braid::tcp {

enum class CcAlgorithm : uint8_t { newreno, cubic };
// "newreno" / "reno" / "cubic"; nullopt for anything else (config names the key).
std::optional<CcAlgorithm> parse_cc_algorithm(std::string_view name);
std::string_view to_string(CcAlgorithm a);

// One cumulative ACK that acknowledged new data outside loss recovery.
struct AckSample {
    uint32_t acked_bytes;      // newly acknowledged bytes (SND.UNA advance)
    uint32_t bytes_in_flight;  // FlightSize before this ACK was processed
    uint64_t now_us;           // injected clock
    uint32_t rtt_us;           // RTT sample carried by this ACK (0 = none)
    bool app_limited;          // the sender had nothing to send: do not grow cwnd (RFC 7661 spirit)
};

// RFC 6928 initial window: min(n*SMSS, max(2*SMSS, 14600)) for n = 10 (n*SMSS for other n).
uint32_t initial_window(uint32_t smss, uint32_t segments = 10);

// Upper bound on cwnd and the "arbitrarily high" initial ssthresh (RFC 5681 §3.1): 1 GiB, far
// above any window scale-limited send window, and far from uint32_t overflow.
inline constexpr uint32_t kMaxCwnd = 1u << 30;

// State shared by both algorithms; bytes throughout.
struct CcCommon {
    static CcCommon make(uint32_t smss, uint32_t iw_segments);

    uint32_t smss;
    uint32_t iw_segments;
    uint32_t cwnd;
    uint32_t ssthresh;
    bool pristine = true;  // nothing acked or lost yet: set_smss() recomputes the IW
    bool in_rto = false;   // an RTO since the last ACK: a backoff must not cut ssthresh again
    // RFC 3465 slow start (L = 2*SMSS); returns the bytes of `acked` left over once cwnd reached
    // ssthresh, for congestion avoidance.
    uint32_t slow_start(uint32_t acked);
    // Keeps cwnd in bytes; recomputes the IW if nothing happened yet (MSS learnt from the SYN).
    void set_smss(uint32_t new_smss);
    // RFC 5681 eq. (4) and RFC 9438 §4.6: max(x, 2*SMSS), and never above kMaxCwnd.
    uint32_t cut_ssthresh(uint64_t x) const {
        return static_cast<uint32_t>(std::clamp<uint64_t>(x, 2 * smss, kMaxCwnd));
    }
};

// RFC 5681 with appropriate byte counting (RFC 3465): slow start grows by min(acked, L=2*SMSS) per
// ACK, congestion avoidance by one SMSS each time a full cwnd of bytes has been acknowledged.
class NewReno {
public:
    NewReno(uint32_t smss, uint32_t initial_window_segments);
    uint32_t cwnd() const { return c_.cwnd; }
    uint32_t ssthresh() const { return c_.ssthresh; }
    void on_ack(const AckSample& s);
    void on_congestion_event(uint32_t bytes_in_flight, uint64_t now_us);
    void on_recovery_exit(uint64_t now_us);
    void on_rto(uint32_t bytes_in_flight, uint64_t now_us);
    void on_idle_restart(uint64_t now_us);
    void set_smss(uint32_t smss);

private:
    CcCommon c_;
    uint32_t bytes_acked_ = 0;  // RFC 3465 §2.1 byte counter for congestion avoidance
};

// RFC 9438 CUBIC: window growth as a cubic function of the time since the last congestion event,
// with the Reno-friendly estimate (§4.3) and fast convergence (§4.7). Slow start is NewReno's.
class Cubic {
public:
    static constexpr double c = 0.4;                                    // §5.1
    static constexpr double beta = 0.7;                                 // §4.6
    static constexpr double alpha = 3.0 * (1.0 - beta) / (1.0 + beta);  // §4.3, 9/17

    Cubic(uint32_t smss, uint32_t initial_window_segments);
    uint32_t cwnd() const { return c_.cwnd; }
    uint32_t ssthresh() const { return c_.ssthresh; }
    void on_ack(const AckSample& s);
    void on_congestion_event(uint32_t bytes_in_flight, uint64_t now_us);
    void on_recovery_exit(uint64_t now_us);
    void on_rto(uint32_t bytes_in_flight, uint64_t now_us);
    void on_idle_restart(uint64_t now_us);
    void set_smss(uint32_t smss);

    // Introspection for tests and `show tcp connection`: segments, seconds.
    double w_max_segments() const { return w_max_; }
    double k_seconds() const { return k_; }
    bool in_epoch() const { return in_epoch_; }

private:
    void reduce(uint32_t bytes_in_flight);
    void start_epoch(uint64_t now_us);
    double w_cubic(double t_seconds) const;
    void sync_from_segments();  // cwnd_seg_ -> c_.cwnd
    void sync_from_bytes();     // c_.cwnd -> cwnd_seg_

    CcCommon c_;
    double cwnd_seg_ = 0;    // cwnd in (fractional) segments; c_.cwnd is its byte image
    double w_max_ = 0;       // segments, window before the last reduction (after §4.7)
    double cwnd_prior_ = 0;  // segments, cwnd before the last reduction (§4.3)
    double w_est_ = 0;       // segments, Reno-friendly estimate (§4.3)
    double k_ = 0;           // seconds, §4.2 eq. (2)
    uint64_t epoch_start_us_ = 0;
    bool in_epoch_ = false;     // false: the epoch starts on the next congestion-avoidance ACK
    uint64_t last_ack_us_ = 0;  // for excluding app-limited time from t (§5.8)
    uint32_t srtt_us_ = 0;      // 1/8 EWMA of the RTT samples, for W_cubic(t + RTT) (§4.2)
};

class CongestionControl {
public:
    CongestionControl(CcAlgorithm a, uint32_t smss, uint32_t initial_window_segments = 10);
    CcAlgorithm algorithm() const;
    uint32_t cwnd() const;
    uint32_t ssthresh() const;
    void on_ack(const AckSample& s);  // new data acked outside recovery
    // Enter fast recovery: ssthresh and cwnd are cut once (RFC 6675 §5 step 4.2: cwnd =
    // ssthresh). RFC 5681/6582 dup-ACK inflation, if the engine uses it, is the engine's.
    void on_congestion_event(uint32_t bytes_in_flight, uint64_t now_us);
    void on_recovery_exit(uint64_t now_us);  // cwnd = ssthresh
    // cwnd = 1 SMSS (loss window). A backoff before any new ACK keeps ssthresh (RFC 5681 §3.1).
    void on_rto(uint32_t bytes_in_flight, uint64_t now_us);
    void on_idle_restart(uint64_t now_us);  // RFC 5681 4.1 restart window
    void set_smss(uint32_t smss);

    const Cubic* cubic() const { return std::get_if<Cubic>(&impl_); }

private:
    std::variant<NewReno, Cubic> impl_;
};

}  // namespace braid::tcp
