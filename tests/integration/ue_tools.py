"""UE-side tools for the MPTCP proxy (issue 7): the RFC 8803 Convert message, the UE client and
the DN server used by tests/integration/test_proxy*.py and scripts/demo_atsss.py. Standard
library only; CLIENT and SERVER are programs run with `ip netns exec NS python3 -c CODE ...`.
"""

from __future__ import annotations

import socket
import struct


def connect_msg(dst: str, port: int) -> bytes:
    """Convert header + Connect TLV (RFC 8803 §6.1, §6.2.5): 24 bytes, 6 words."""
    addr = b"\x00" * 10 + b"\xff\xff" + socket.inet_aton(dst)
    tlv = bytes([10, 5]) + struct.pack("!H", port) + addr
    return bytes([1, 1 + len(tlv) // 4, 0x22, 0x63]) + tlv


# The UE: MPTCP socket, Convert message as SYN data, then `SIZE` bytes up, half-close, and
# everything the server sends back. Prints JSON.
CLIENT = r"""
import hashlib, json, socket, sys
msg = bytes.fromhex(sys.argv[1]); size = int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)  # IPPROTO_MPTCP
s.settimeout(float(sys.argv[6]) if len(sys.argv) > 6 else 20)
s.bind((sys.argv[3], 0))
s.sendto(msg, socket.MSG_FASTOPEN, (sys.argv[4], int(sys.argv[5])))
up = bytes((i * 7 + 3) & 0xff for i in range(size))
out = {"up_sha": hashlib.sha256(up).hexdigest()}
try:
    s.sendall(up)
    s.shutdown(socket.SHUT_WR)
except OSError as e:
    out["send_error"] = str(e)
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
except OSError as e:
    out["recv_error"] = str(e)
out["data"] = data[:64].hex()
out["len"] = len(data)
out["tail_sha"] = hashlib.sha256(data[4 + 64:]).hexdigest() if len(data) > 68 else ""
out["digest"] = data[4:68].decode(errors="replace") if len(data) >= 68 else ""
print(json.dumps(out))
"""

# The DN server: one connection; reads to EOF, answers the SHA-256 of what it read (64 hex
# bytes) and `size` bytes of its own pattern, then closes.
SERVER = r"""
import hashlib, socket, sys
size = int(sys.argv[2])
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[3]))); l.listen(4); l.settimeout(30)
c, peer = l.accept(); c.settimeout(20)
h = hashlib.sha256()
while True:
    b = c.recv(65536)
    if not b:
        break
    h.update(b)
c.sendall(h.hexdigest().encode())
c.sendall(bytes((i * 13 + 1) & 0xff for i in range(size)))
c.close()
print(peer[0])
"""


# Bulk transfers (test_proxy_atsss.py: steering modes, an access cut, long transfers). Both ends
# stream: the bytes are never held in memory, each side hashes what it sends and receives. The
# stream is PATTERN: 1 MiB blocks of a seeded pseudo-random block, each stamped with its index
# in its first 8 bytes, so that a lost, duplicated or reordered block changes the SHA-256.
PATTERN = r"""
import hashlib, random
_BASE = random.Random(0x6272616964).randbytes(1 << 20)
def pattern(total):
    base, i, left = bytearray(_BASE), 0, total
    while left > 0:
        base[0:8] = i.to_bytes(8, "big")
        n = min(left, len(base))
        yield bytes(base[:n])
        left -= n
        i += 1
def pattern_sha(total):
    h = hashlib.sha256()
    for b in pattern(total):
        h.update(b)
    return h.hexdigest()
"""

# The UE: MPTCP socket bound to argv[1], the Convert message argv[4] (hex) as SYN data to the
# proxy argv[2]:argv[3]; then waits for a line on stdin when argv[7] is "gate" (the test lets
# it go once both subflows are up), sends b"G" and argv[5] bytes of PATTERN up while it reads
# everything down; argv[6] bytes of PATTERN are expected after the 4-byte Convert reply.
# Prints JSON: the reply, bytes and SHA-256 both ways, how long the transfer took.
BULK_CLIENT = PATTERN + r"""
import json, socket, sys, threading, time
src, proxy, port, msg = sys.argv[1], sys.argv[2], int(sys.argv[3]), bytes.fromhex(sys.argv[4])
up_size, down_size, gate = int(sys.argv[5]), int(sys.argv[6]), sys.argv[7] == "gate"
timeout = float(sys.argv[8])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)  # IPPROTO_MPTCP
s.settimeout(timeout)
s.bind((src, 0))
s.sendto(msg, socket.MSG_FASTOPEN, (proxy, port))
out = {"up": up_size}
if gate:
    print("connected", flush=True)
    sys.stdin.readline()
t0 = time.monotonic()
def reader():
    h, n, reply = hashlib.sha256(), 0, b""
    try:
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            if len(reply) < 4:
                k = 4 - len(reply)
                reply += b[:k]
                b = b[k:]
            h.update(b)
            n += len(b)
    except OSError as e:
        out["recv_error"] = str(e)
    out.update(reply=reply.hex(), down=n, down_sha=h.hexdigest(),
               down_s=round(time.monotonic() - t0, 3))
r = threading.Thread(target=reader)
r.start()
h = hashlib.sha256()
try:
    s.sendall(b"G")
    for b in pattern(up_size):
        s.sendall(b)
        h.update(b)
    s.shutdown(socket.SHUT_WR)
except OSError as e:
    out["send_error"] = str(e)
out["up_sha"] = h.hexdigest()
r.join(timeout + 5)
out["reader_alive"] = r.is_alive()
out["seconds"] = round(time.monotonic() - t0, 3)
out["down_ok"] = out.get("down") == down_size and out.get("down_sha") == pattern_sha(down_size)
print(json.dumps(out), flush=True)
"""

# The DN server: one connection on argv[1]:argv[2]; waits for the UE's b"G", then sends
# argv[3] bytes of PATTERN while it reads (and hashes) the rest up to EOF. Prints JSON: the
# peer address, the bytes and SHA-256 it received after the b"G".
BULK_SERVER = PATTERN + r"""
import json, socket, sys, threading
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2]))); l.listen(4); l.settimeout(float(sys.argv[4]))
down_size = int(sys.argv[3])
c, peer = l.accept(); c.settimeout(float(sys.argv[4]))
out = {"peer": peer[0]}
first = c.recv(1)
out["go"] = first.decode(errors="replace")
def sender():
    try:
        for b in pattern(down_size):
            c.sendall(b)
        c.shutdown(socket.SHUT_WR)
    except OSError as e:
        out["send_error"] = str(e)
t = threading.Thread(target=sender)
t.start()
h, n = hashlib.sha256(), 0
try:
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        h.update(b)
        n += len(b)
except OSError as e:
    out["recv_error"] = str(e)
t.join(float(sys.argv[4]))
out.update(up=n, up_sha=h.hexdigest(), sender_alive=t.is_alive())
c.close()
print(json.dumps(out), flush=True)
"""


# Many connections at once (test_proxy_atsss.py): argv[5] threads, each an MPTCP socket from
# argv[1] with the Convert message argv[4] as SYN data to the proxy argv[2]:argv[3]; each reads
# the 4-byte Convert reply (at most argv[8] connects pending at once: braid's proxy listener
# has a half-open backlog of 128, past which SYNs with data are refused), then all wait until
# every one is connected (a barrier), print
# "connected N" and wait for a line on stdin; then each sends its own payload (argv[6] bytes
# naming the connection), half-closes and expects the SHA-256 of the payload (64 hex bytes)
# and the payload back before EOF. Prints JSON: how many succeeded, failures by reason.
MANY_CLIENT = r"""
import collections, hashlib, json, socket, sys, threading, time
src, proxy, port, msg = sys.argv[1], sys.argv[2], int(sys.argv[3]), bytes.fromhex(sys.argv[4])
n, size, timeout = int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
pending = threading.BoundedSemaphore(int(sys.argv[8]) if len(sys.argv) > 8 else n)
threading.stack_size(256 << 10)
barrier = threading.Barrier(n + 1, timeout=timeout)
go = threading.Event()
lock = threading.Lock()
result = collections.Counter()
def one(i):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)  # IPPROTO_MPTCP
    s.settimeout(timeout)
    step = "connect"
    try:
        s.bind((src, 0))
        with pending:
            s.sendto(msg, socket.MSG_FASTOPEN, (proxy, port))
            step = "reply"
            reply = b""
            while len(reply) < 4:
                b = s.recv(4 - len(reply))
                if not b:
                    raise EOFError("eof")
                reply += b
        if reply != bytes.fromhex("01012263"):
            raise ValueError("reply " + reply.hex())
        step = "barrier"
        barrier.wait()
        go.wait(timeout)
        step = "send"
        payload = (b"%06d:" % i) * (size // 7 + 1)
        payload = payload[:size]
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        step = "recv"
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        if data != hashlib.sha256(payload).hexdigest().encode() + payload:
            raise ValueError("data %d bytes" % len(data))
        with lock:
            result["ok"] += 1
    except Exception as e:
        with lock:
            result[step + ": " + type(e).__name__] += 1
        try:
            barrier.abort()
        except Exception:
            pass
    finally:
        s.close()
t0 = time.monotonic()
threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
try:
    barrier.wait()
    print("connected %d %.3f" % (n, time.monotonic() - t0), flush=True)
    sys.stdin.readline()
except threading.BrokenBarrierError:
    print("broken", flush=True)
go.set()
for t in threads:
    t.join(timeout + 10)
print(json.dumps({"n": n, "result": dict(result), "seconds": round(time.monotonic() - t0, 3),
                  "alive": sum(t.is_alive() for t in threads)}), flush=True)
"""

# The DN server for MANY_CLIENT: accepts argv[3] connections on argv[1]:argv[2], a thread
# each: reads to EOF, answers the SHA-256 (hex) of what it read and the bytes themselves, then
# closes. Prints JSON: connections served, peers seen.
MANY_SERVER = r"""
import collections, hashlib, json, socket, sys, threading
n, timeout = int(sys.argv[3]), float(sys.argv[4])
threading.stack_size(256 << 10)
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2]))); l.listen(4096); l.settimeout(timeout)
lock = threading.Lock()
served, peers, errors = [0], collections.Counter(), collections.Counter()
def serve(c):
    c.settimeout(timeout)
    try:
        data = b""
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
        c.sendall(hashlib.sha256(data).hexdigest().encode() + data)
        with lock:
            served[0] += 1
    except OSError as e:
        with lock:
            errors[type(e).__name__] += 1
    finally:
        c.close()
threads = []
try:
    for _ in range(n):
        c, peer = l.accept()
        peers[peer[0]] += 1
        t = threading.Thread(target=serve, args=(c,))
        t.start()
        threads.append(t)
except OSError as e:
    errors["accept: " + type(e).__name__] += 1
for t in threads:
    t.join(timeout)
print(json.dumps({"accepted": len(threads), "served": served[0], "peers": dict(peers),
                  "errors": dict(errors)}), flush=True)
"""
