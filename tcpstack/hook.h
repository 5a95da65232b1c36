// The seam between the TCP engine and a layer above it that rides on TCP options and owns the
// byte stream (MPTCP, issue 6; docs/ARCHITECTURE.md "MPTCP on the engine"). tcpstack knows
// nothing of that layer: a listener carries a ConnHook*, every connection accepted from it may
// be attached to the hook, and an attached connection (a subflow, for MPTCP)
//   - shows the hook the options of every acceptable segment it receives (after the ACK is
//     processed, before the payload), so the hook sees the handshake and its own signalling;
//   - hands its in-order payload to the hook instead of its receive queue (the hook owns the
//     stream; recv() on the connection yields nothing), and advertises a window that counts
//     what the hook still holds (rcv_held), so flow control spans both layers;
//   - lets the hook add option bytes to every segment it sends (Options::mptcp_out) and
//     reserve room for them: its MSS shrinks by data_option_room() so data segments keep
//     their options within 40 bytes.
// A hook may detach a connection (on_input returns false): from then on it is plain TCP.
//
// Every call runs inside an Engine call: like the sinks, a hook must not call back into the
// Engine (queue the work and do it after the call returns).
#pragma once

#include <cstdint>

#include "tcpstack/seq.h"
#include "tcpstack/wire/tcp.h"

struct rte_mbuf;

namespace braid::tcp {

struct FourTuple;
using ConnId = uint32_t;

class ConnHook {
public:
    virtual ~ConnHook() = default;

    // A SYN on a listener with this hook created connection `c` (SYN-RECEIVED, the SYN/ACK not
    // sent yet). True: attach the connection.
    virtual bool on_syn(ConnId c, const FourTuple& t, const wire::Header& h, const wire::Options& o,
                        uint64_t now_us) = 0;
    // After on_syn attached `c`: its SYN carried `len` bytes that the connection keeps outside
    // the hook's stream (a deferred SYN, ListenOptions::defer_syn_data; RFC 8684 App. B.2: the
    // first byte after the handshake has relative subflow sequence number 1).
    virtual void on_syn_data(ConnId /*c*/, uint32_t /*len*/) {}
    // Every SYN on a listener with this hook, before any state exists for it. True: refuse it
    // with a RST (MPTCP: an MP_JOIN for an unknown token or a full connection). `cookie_pressure`:
    // the listener is answering with SYN cookies now (a hook that needs state may refuse).
    virtual bool refuse_syn(const FourTuple&, const wire::Header&, const wire::Options&,
                            bool /*cookie_pressure*/) {
        return false;
    }
    // Stateless SYN/ACK (SYN cookie, RFC 4987): add options to `out` for the SYN `syn`; `isn` is
    // the cookie ISN the SYN/ACK carries. Nothing may be kept: the ACK must prove it all.
    virtual void on_cookie_syn_ack(const FourTuple& t, uint32_t isn, const wire::Options& syn,
                                   wire::Options& out) = 0;
    // Connection `c` was rebuilt from a valid cookie ACK `h`/`o` (ISN = h.ack - 1). True:
    // attach it (on_input then follows for this same segment).
    virtual bool on_cookie_ack(ConnId c, const FourTuple& t, const wire::Header& h,
                               const wire::Options& o, uint64_t now_us) = 0;
    // An acceptable segment with ACK on an attached connection, before its payload. False:
    // detach (the connection goes on as plain TCP; the hook forgets it).
    virtual bool on_input(ConnId c, const wire::Header& h, const wire::Options& o, uint32_t len,
                          uint64_t now_us) = 0;
    // In-order payload of an attached connection (taken). `seq` is the subflow sequence number
    // of its first byte.
    virtual void on_data(ConnId c, Seq seq, rte_mbuf* payload, uint32_t len, uint64_t now_us) = 0;
    // A segment of an attached connection is about to go out: add options (mptcp_out) within
    // the 40 bytes. `payload` (may be nullptr) is the segment's data, for checksums.
    virtual void on_output(ConnId c, const wire::Header& h, wire::Options& o,
                           const rte_mbuf* payload, uint32_t len, uint64_t now_us) = 0;
    // A RST of an attached connection is about to go out (abort, timeout, keep-alive): add
    // options (MPTCP: MP_FASTCLOSE for the whole connection, MP_TCPRST with a reason).
    virtual void on_rst_output(ConnId, wire::Options&) {}
    // An acceptable RST arrived on an attached connection (RFC 5961: exact sequence number);
    // the connection closes right after this call.
    virtual void on_rst_input(ConnId, const wire::Options&) {}
    // At most this many bytes from sequence `seq` on in one data segment (>= 1): MPTCP ends a
    // segment where its DSS mapping ends (one mapping per segment).
    virtual uint32_t segment_limit(ConnId, Seq) const { return UINT32_MAX; }
    // Bytes of this connection's stream the hook holds unread (shrinks the advertised window).
    virtual uint32_t rcv_held(ConnId c) const = 0;
    // Option bytes to keep free on data segments (the MSS shrinks by this much).
    virtual uint32_t data_option_room(ConnId c) const = 0;
    // The connection is gone (closed, reset, aborted): the hook forgets it.
    virtual void on_closed(ConnId c) = 0;
};

}  // namespace braid::tcp
