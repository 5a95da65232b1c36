// Connection-level receive side of one MPTCP connection (RFC 8684 §3.3), sans-I/O: DSS
// mappings and the in-order bytes of each subflow go in, connection-level in-order bytes, the
// DATA_ACK and the connection-level receive window come out.
//
//   subflow bytes --(per-subflow mappings: SSN -> DSN, §3.3.1)--> data-level reassembly
//   (out of order across subflows, first copy wins, duplicates trimmed) --> read()
//
// The TCP engine hands each subflow's bytes in subflow order (SSN relative: SYN = 0, first byte
// = 1) together with the mapping from the same segment, mapping first. Bytes are copied into
// owned buffers here: this layer is the pure bookkeeping, the zero-copy mbuf form comes with the
// engine wiring.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "mptcp/counters.h"
#include "mptcp/crypto.h"
#include "mptcp/data_seq.h"
#include "mptcp/wire/options.h"

namespace braid::mptcp {

// Index of a subflow in its connection (0 = the initial subflow).
using SubflowId = uint8_t;
inline constexpr size_t max_subflows = 8;
// Mappings announced but not yet consumed, per subflow (a few segments' worth in flight).
inline constexpr size_t max_pending_mappings = 16;

// clang-format off
#define BRAID_MPTCP_RX_ERRORS(X)                                                                  \
    X(none,              "no error")                                                              \
    X(bad_subflow,       "subflow id out of range")                                               \
    X(mapping_changed,   "a mapping contradicts an earlier one for the same subflow bytes (§3.3.1 MUST NOT)") \
    X(mapping_table_full, "too many mappings pending on the subflow")                            \
    X(unmapped_overflow, "a receive window of subflow bytes arrived without a mapping (§3.3.1: subflow broken)") \
    X(checksum_failed,   "DSS checksum failed (§3.3.1, §3.7: MP_FAIL / fallback)")                \
    X(checksum_missing,  "checksums negotiated but the mapping carries none (§3.3: RST, MP_TCPRST 0x01)") \
    X(checksum_unexpected, "mapping carries a checksum that was not negotiated (§3.3: RST)")
// clang-format on

enum class RxError : uint8_t {
#define BRAID_X(name, help) name,
    BRAID_MPTCP_RX_ERRORS(BRAID_X)
#undef BRAID_X
        count
};
std::string_view to_string(RxError);

struct RxResult {
    uint32_t accepted = 0;       // new data-level bytes stored
    uint32_t duplicate = 0;      // data-level bytes already held or read
    uint32_t beyond_window = 0;  // dropped: past the window edge or the DATA_FIN
    uint32_t unmapped = 0;       // subflow bytes without a mapping (dropped)
    RxError error = RxError::none;
    DataSeq failed_dsn;  // checksum_failed: start of the failed mapping, for MP_FAIL (§3.7)
    // checksum_failed with the fallback allowed (allow_fallback()): the failed mapping's bytes
    // and everything after it on the subflow were taken as an infinite mapping (§3.7).
    bool fell_back = false;
};

class Receiver {
public:
    // `first_dsn` = the peer's IDSN + 1 (§3.1: the MP_CAPABLE SYN occupies the IDSN);
    // `buffer` = the connection-level receive buffer in bytes, shared by all subflows (§3.3.4).
    Receiver(DataSeq first_dsn, uint32_t buffer, bool checksums, Counters& counters);

    // A DSS mapping received on `sf` (a 32-bit DSN is extended against the DATA_ACK). An
    // infinite mapping (data_len 0, §3.7) maps the rest of the subflow 1:1 from its DSN.
    RxResult on_mapping(SubflowId sf, const wire::DssMapping& m, bool data_fin);
    // In-order subflow payload starting at relative SSN `ssn`.
    RxResult on_data(SubflowId sf, uint32_t ssn, std::span<const uint8_t> bytes);
    // The subflow is gone: its pending mappings and partly received mapped data are dropped
    // (the data arrives again on another subflow, §3.3.6).
    void remove_subflow(SubflowId sf);

    // §3.7 fallback to an infinite mapping, allowed while the connection has one subflow and
    // never had another (the owner clears it for good at the first join). Allowed, a checksum
    // failure whose mapping starts at the in-order point does not stop the stream: the failed
    // bytes and all later subflow bytes map 1:1 from the failed DSN, as the peer's infinite
    // mapping will say (Linux delivers them too), and checksums and mappings end.
    void allow_fallback(bool ok) { fallback_ok_ = ok; }
    // Falls back on subflow `sf` without a local checksum failure (the peer sent MP_FAIL): from
    // the first subflow byte not delivered, bytes map 1:1 onto the next expected DSN. A mapping
    // partly received is delivered unverified. False: data is held out of order (non-contiguous,
    // §3.7: reset instead).
    bool fall_back(SubflowId sf);
    bool fallen_back() const { return fallen_back_; }
    // After the fallback the subflow's FIN is the DATA_FIN: the stream ends after what was
    // delivered.
    void fin_after_fallback() { note_fin(nxt_); }

    // Connection-level in-order bytes for the application.
    size_t readable() const { return ready_.size(); }
    size_t read(std::span<uint8_t> out);

    // Next expected DSN, one past the DATA_FIN once that is reached (§3.3.2, §3.3.3).
    DataSeq data_ack() const;
    // Bytes the peer may send past data_ack(); the right edge data_ack() + window() never moves
    // left (§3.3.4), even when the application does not read.
    uint32_t window();
    bool fin_received() const { return fin_reached_; }
    // Data-level bytes held (in order unread + out of order).
    size_t buffered() const { return ready_.size() + ooo_bytes_; }

private:
    struct Mapping {
        uint32_t ssn = 0;
        uint32_t len = 0;  // subflow bytes (without the DATA_FIN)
        int64_t rel = 0;   // first DSN, relative to base_ (negative: before the first byte)
        bool fin = false;
        bool infinite = false;
        std::optional<uint16_t> checksum;
        uint32_t consumed = 0;
        std::optional<crypto::DssChecksum> sum;
        std::vector<uint8_t> held;  // checksummed mappings are delivered only once verified
    };
    struct Subflow {
        bool seen = false;
        uint32_t next_ssn = 1;
        uint64_t unmapped_run = 0;
        std::deque<Mapping> mappings;
    };
    struct Stored {
        uint32_t accepted = 0;
        uint32_t duplicate = 0;
        uint32_t beyond = 0;
    };

    Stored store(int64_t rel, std::span<const uint8_t> bytes);
    void finish_mapping(Mapping& m, RxResult& r);
    // The subflow's bytes from `ssn` on map 1:1 from `rel`; `held` (bytes from `ssn` already
    // consumed) delivered first. Checksums and other mappings end.
    void enter_infinite(Subflow& s, uint32_t ssn, int64_t rel, std::span<const uint8_t> held,
                        RxResult& r);
    void note_fin(int64_t fin_rel);
    int64_t edge();
    // Offset of `d` from base_, saturated to nxt_ ± 2^40: a peer's 64-bit DSN may be anything,
    // and far outside that band its data is all duplicate or all beyond the window (< 2^32)
    // anyway; the band keeps every later offset sum far from int64 overflow.
    int64_t rel_of(DataSeq d) const;
    static void add(RxResult& r, const Stored& s);

    DataSeq base_;
    uint32_t buffer_;
    bool checksums_;
    Counters& counters_;
    int64_t nxt_ = 0;   // next expected, relative to base_
    int64_t edge_ = 0;  // right edge of the window, relative; never decreases
    std::optional<int64_t> fin_rel_;
    bool fin_reached_ = false;
    bool fallback_ok_ = false;
    bool fallen_back_ = false;
    std::deque<uint8_t> ready_;
    std::map<int64_t, std::vector<uint8_t>> ooo_;  // disjoint ranges above nxt_
    size_t ooo_bytes_ = 0;
    Subflow subflows_[max_subflows];
};

}  // namespace braid::mptcp
