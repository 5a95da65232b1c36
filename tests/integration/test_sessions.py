"""Static sessions from the CLI: the same action functions PFCP will call, over the socket."""

from __future__ import annotations


def test_session_add_show_delete(braid):
    rc, out = braid.cli("session", "add", "7", "teid", "4097", "ue", "198.19.100.1", "gnb",
                        "198.18.0.2", "gnb-teid", "8193")
    assert rc == 0, out
    assert "session 7 added" in out
    rc, out = braid.cli("show", "sessions")
    assert rc == 0, out
    assert "session 7 " in out and "1 sessions" in out, out
    rc, out = braid.cli("show", "session", "7")
    assert rc == 0, out
    assert "teid 4097" in out and "ue 198.19.100.1" in out, out
    assert "via GTP-U teid 8193 peer 198.18.0.2" in out, out


def test_session_conflicts_are_refused_and_change_nothing(braid):
    rc, out = braid.cli("session", "add", "8", "teid", "4097", "ue", "198.19.100.2", "gnb",
                        "198.18.0.2", "gnb-teid", "8194")
    assert rc == 3, out
    assert out.startswith("error: session add: teid_in_use"), out
    rc, out = braid.cli("session", "add", "7", "teid", "5000", "ue", "198.19.100.9", "gnb",
                        "198.18.0.2", "gnb-teid", "8195")
    assert rc == 3 and "duplicate_id" in out, out
    rc, out = braid.cli("session", "add", "9", "teid", "0", "ue", "198.19.100.3", "gnb",
                        "198.18.0.2", "gnb-teid", "1")
    assert rc == 3 and "TEID 0 is reserved" in out, out
    rc, out = braid.cli("session", "add", "9", "teid", "12", "ue", "198.19.100.300", "gnb",
                        "198.18.0.2", "gnb-teid", "1")
    assert rc == 3, out
    rc, out = braid.cli("show", "sessions")
    assert "1 sessions" in out, out


def test_session_delete(braid):
    rc, out = braid.cli("session", "del", "7")
    assert rc == 0 and "session 7 deleted" in out, out
    rc, out = braid.cli("session", "del", "7")
    assert rc == 3 and "no session 7" in out, out
    rc, out = braid.cli("show", "session", "7")
    assert rc == 3, out
    rc, out = braid.cli("show", "sessions")
    assert "0 sessions" in out, out
    assert braid.running()
