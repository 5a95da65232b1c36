// Connection-level send side of one MPTCP connection (RFC 8684 §3.3), sans-I/O: application
// bytes are queued once; each subflow asks for the next chunk it may send and gets its DSS
// mapping (DSN, SSN, data-level length, checksum); DATA_ACKs free the queue; data sent on a
// subflow that stalls is handed to the others with its original DSNs (§3.3.6 reinjection).
//
// Freeing rule (§3.3.2, §3.3.6: "only after Data ACK and subflow ACK on every subflow it was
// sent on"): the bytes a subflow sent stay in that subflow's own TCP send queue until its
// subflow ACK (tcpstack keeps them for retransmission on that subflow, as the RFC also asks);
// this queue holds the connection-level copy until the DATA_ACK. Together that is the rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

#include "mptcp/counters.h"
#include "mptcp/data_seq.h"
#include "mptcp/receiver.h"
#include "mptcp/wire/options.h"

namespace braid::mptcp {

struct Chunk {
    wire::DssMapping mapping;  // data_len counts the DATA_FIN (§3.3.3)
    bool data_fin = false;
    bool reinjected = false;
    std::vector<uint8_t> bytes;  // subflow payload (may be empty: DATA_FIN alone)
};

enum class AckStatus : uint8_t {
    advanced,     // new data acknowledged (or the window grew)
    duplicate,    // the current DATA_ACK again
    old,          // below the current DATA_ACK: ignored
    beyond_sent,  // acknowledges data never sent: ignored
};

class Sender {
public:
    // `first_dsn` = own IDSN + 1; `buffer` = connection-level send buffer (§3.3.4: at least the
    // peer's receive buffer); `window` = the peer's window before any DATA_ACK (from the
    // handshake; §3.3.4: a window is connection-level only together with a Data ACK).
    Sender(DataSeq first_dsn, uint32_t buffer, uint32_t window, bool checksums, Counters& counters);

    // Queues application bytes; returns how many fit.
    size_t write(std::span<const uint8_t> bytes);
    // Queues the DATA_FIN after the data written so far (§3.3.3).
    void shutdown();

    // The next chunk for subflow `sf`, whose next payload byte has relative SSN `ssn`, at most
    // `max_len` bytes: first data waiting for reinjection that `sf` has not carried, then new
    // data within the connection-level window, then the DATA_FIN. `new_data` false: only the
    // first kind (a redundant scheduler's copy subflow).
    std::optional<Chunk> next(SubflowId sf, uint32_t ssn, uint32_t max_len, bool new_data = true);
    // Redundant scheduling: the new data of `c`, just sent on subflow `sf`, is offered to one
    // other subflow as a copy with the same DSNs (counted as tx_redundant_bytes when taken).
    void duplicate(SubflowId sf, const Chunk& c);
    // Subflow `sf` stalled or failed: everything it carried that is not Data-ACKed becomes
    // available to the other subflows (§3.3.6).
    void reinject(SubflowId sf);
    // Everything sent and not Data-ACKed becomes available again to every subflow, those that
    // carried it included (§3.3.6: the subflows acknowledged it, the peer never Data-ACKed it:
    // it may have dropped it; with one subflow that is the only way to send it again).
    void retransmit_unacked();

    // A DATA_ACK (32-bit forms are extended against the current one) with the connection-level
    // window in bytes (already scaled), relative to it (§3.3.4).
    AckStatus on_data_ack(uint64_t raw, bool ack64, uint32_t window);

    // Oldest DSN not Data-ACKed (one past the DATA_FIN once that is acked).
    DataSeq snd_una() const { return base_ + static_cast<uint64_t>(una_ + (fin_acked_ ? 1 : 0)); }
    DataSeq snd_nxt() const { return base_ + static_cast<uint64_t>(nxt_); }
    size_t unsent() const { return static_cast<size_t>(queued_end() - nxt_); }
    size_t in_flight() const { return static_cast<size_t>(nxt_ - una_); }
    size_t buffered() const { return buf_.size(); }
    bool fin_sent() const { return fin_sent_; }
    bool fin_acked() const { return fin_acked_; }
    // Right edge of the peer's window; never moves left (§3.3.4: the largest recent one).
    DataSeq window_edge() const { return base_ + static_cast<uint64_t>(edge_); }

private:
    struct Sent {
        int64_t rel;
        uint32_t len;       // DSN space: data bytes, +1 for a DATA_FIN at the end
        uint32_t subflows;  // bit per subflow that carried it
    };
    struct Range {
        int64_t rel;
        uint32_t len;
        uint32_t carried;   // subflows that already carried it
        bool copy = false;  // a redundant copy (not a reinjection)
    };

    int64_t queued_end() const { return una_ + static_cast<int64_t>(buf_.size()); }
    // DSN space end: data plus the DATA_FIN once queued.
    int64_t space_end() const { return queued_end() + (fin_queued_ ? 1 : 0); }
    Chunk make_chunk(int64_t rel, uint32_t len, uint32_t ssn, SubflowId sf, bool reinjected);

    DataSeq base_;
    uint32_t buffer_;
    bool checksums_;
    Counters& counters_;
    int64_t una_ = 0;  // relative to base_
    int64_t nxt_ = 0;  // next new DSN (relative), DATA_FIN included once sent
    int64_t edge_ = 0;
    bool fin_queued_ = false;
    bool fin_sent_ = false;
    bool fin_acked_ = false;
    std::deque<uint8_t> buf_;  // bytes from una_ on
    std::deque<Sent> sent_;
    std::deque<Range> reinject_;
};

}  // namespace braid::mptcp
