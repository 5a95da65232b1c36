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
