#include "tcpstack/mbuf_util.h"

#include <rte_mbuf.h>

#include <algorithm>

#include "tcpstack/wire/tcp.h"

namespace braid::tcp {

rte_mbuf* mbuf_trim_front(rte_mbuf* m, uint32_t n) {
    if (m == nullptr) {
        return nullptr;
    }
    if (n >= rte_pktmbuf_pkt_len(m)) {
        rte_pktmbuf_free(m);
        return nullptr;
    }
    // Whole leading segments go; the new head inherits the packet fields.
    while (n >= m->data_len) {
        rte_mbuf* next = m->next;
        next->pkt_len = m->pkt_len - m->data_len;
        next->nb_segs = static_cast<uint16_t>(m->nb_segs - 1);
        n -= m->data_len;
        m->next = nullptr;
        m->nb_segs = 1;
        rte_pktmbuf_free_seg(m);
        m = next;
    }
    m->data_off = static_cast<uint16_t>(m->data_off + n);
    m->data_len = static_cast<uint16_t>(m->data_len - n);
    m->pkt_len -= n;
    return m;
}

rte_mbuf* mbuf_truncate(rte_mbuf* m, uint32_t n) {
    if (m == nullptr) {
        return nullptr;
    }
    if (n == 0) {
        rte_pktmbuf_free(m);
        return nullptr;
    }
    if (n >= rte_pktmbuf_pkt_len(m)) {
        return m;
    }
    uint32_t left = n;
    uint16_t segs = 0;
    rte_mbuf* s = m;
    while (true) {
        ++segs;
        if (left <= s->data_len) {
            s->data_len = static_cast<uint16_t>(left);
            if (s->next != nullptr) {
                rte_pktmbuf_free(s->next);
                s->next = nullptr;
            }
            break;
        }
        left -= s->data_len;
        s = s->next;
    }
    m->pkt_len = n;
    m->nb_segs = segs;
    return m;
}

rte_mbuf* mbuf_clone_range(rte_mempool* pool, rte_mbuf* src, uint32_t off, uint32_t len,
                           rte_mbuf** tail, rte_mbuf* head) {
    rte_mbuf* const orig_head = head;
    rte_mbuf* s = src;
    while (s != nullptr && off >= s->data_len) {
        off -= s->data_len;
        s = s->next;
    }
    while (s != nullptr && len > 0) {
        uint32_t take = std::min<uint32_t>(len, s->data_len - off);
        rte_mbuf* mi = rte_pktmbuf_alloc(pool);
        if (mi == nullptr) {
            if (orig_head == nullptr) {
                rte_pktmbuf_free(head);
            }
            return nullptr;
        }
        rte_pktmbuf_attach(mi, s);
        mi->data_off = static_cast<uint16_t>(s->data_off + off);
        mi->data_len = static_cast<uint16_t>(take);
        mi->pkt_len = take;
        if (head == nullptr) {
            head = mi;
        } else {
            (*tail)->next = mi;
            head->nb_segs = static_cast<uint16_t>(head->nb_segs + 1);
            head->pkt_len += take;
        }
        *tail = mi;
        len -= take;
        off = 0;
        s = s->next;
    }
    return head;
}

uint16_t mbuf_tcp_checksum_ipv4(std::span<const uint8_t, 4> src, std::span<const uint8_t, 4> dst,
                                std::span<const uint8_t> header, const rte_mbuf* payload) {
    uint64_t len = header.size();
    uint64_t acc = wire::partial_sum(src) + uint64_t{wire::partial_sum(dst)} + 6;
    acc += wire::partial_sum(header);
    bool odd = (header.size() & 1) != 0;
    for (const rte_mbuf* m = payload; m != nullptr; m = m->next) {
        uint16_t part =
            wire::partial_sum({rte_pktmbuf_mtod(m, const uint8_t*), size_t{m->data_len}});
        if (odd) {
            part = static_cast<uint16_t>((part >> 8) | (part << 8));  // RFC 1071 §2(B)
        }
        acc += part;
        odd ^= (m->data_len & 1) != 0;
        len += m->data_len;
    }
    acc += (len >> 16) + (len & 0xffff);
    return wire::checksum_fold(acc);
}

}  // namespace braid::tcp
