"""GTP-U path management on N3 (TS 29.281 §7.2): a gNB's Echo Request gets an Echo Response."""

from __future__ import annotations

from conftest import N3_IP, PYTHON

CLIENT = r"""
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 2152))
s.settimeout(3)
for seq in (1, 0xbeef):
    # version 1, PT 1, S = 1; Echo Request; length 4 (optional fields); TEID 0
    s.sendto(struct.pack("!BBHIHBB", 0x32, 1, 4, 0, seq, 0, 0), (sys.argv[1], 2152))
    data, peer = s.recvfrom(2048)
    print(peer[1], data.hex())
"""


def test_gtpu_echo_request_is_answered(lab, alive):
    cp = lab.ns(lab.gnb, PYTHON, "-c", CLIENT, N3_IP, timeout=15)
    assert cp.returncode == 0, f"no Echo Response: {cp.stdout}{cp.stderr}"
    lines = cp.stdout.split("\n")
    # From port 2152; header 0x32, type 2, length 6, TEID 0, the request's sequence number,
    # then Recovery (14) = 0.
    assert lines[0] == "2152 320200060000000000010000" + "0e00", cp.stdout
    assert lines[1] == "2152 3202000600000000beef00000e00", cp.stdout
