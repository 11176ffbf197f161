"""Durability and session resumption across restarts and kill -9 (dedicated servers, same dataDir and port)."""

from kazoo.protocol.states import KazooState

from conftest import make_client
from zkharness import wait_until
from zkwire import OP_CLOSE, OP_CREATE, RawConn, create_body

N = 200


def test_acknowledged_writes_survive_kill9(fresh_server):
    srv = fresh_server()
    c = make_client(srv.hosts)
    c.create("/dur")
    stats = {}
    for i in range(N):
        path = c.create("/dur/n-", f"value-{i}".encode(), sequence=True)
        if i % 10 == 0:
            c.set(path, f"updated-{i}".encode())
        stats[path] = c.exists(path)
    last = c.exists("/dur")
    c.stop()
    c.close()
    srv.kill9()
    srv.start()
    c = make_client(srv.hosts)
    try:
        children = c.get_children("/dur")
        assert len(children) == N
        for i, path in enumerate(sorted(stats)):
            data, st = c.get(path)
            want = f"updated-{i}" if i % 10 == 0 else f"value-{i}"
            assert data == want.encode()
            assert st == stats[path]
        assert c.exists("/dur") == last
        # counters and zxids continue where they were
        assert c.create("/dur/n-", sequence=True) == f"/dur/n-{N:010d}"
        assert c.exists(f"/dur/n-{N:010d}").czxid > max(s.mzxid for s in stats.values())
    finally:
        c.stop()
        c.close()


def _resume_after(fresh_server, crash: bool):
    """A session survives a server restart when its owner reconnects (same id and password) in time.

    The owner is a raw connection: kazoo's handshake read timeout equals the session timeout, which makes
    its reconnect timing around a restart nondeterministic."""
    srv = fresh_server()
    owner = RawConn(srv.port)
    hello = owner.connect(timeout_ms=30000)
    assert owner.request(OP_CREATE, create_body("/e", b"mine", flags=1)).err == 0
    if crash:
        srv.kill9()
    else:
        srv.stop()
    owner.close()
    srv.start()
    with RawConn(srv.port) as again:
        back = again.connect(timeout_ms=30000, session_id=hello.session_id, passwd=hello.passwd)
        assert (back.session_id, back.timeout, back.passwd) == (hello.session_id, 30000, hello.passwd)
        c = make_client(srv.hosts)
        try:
            assert c.exists("/e").ephemeralOwner == hello.session_id
        finally:
            c.stop()
            c.close()
        assert again.request(OP_CLOSE, b"").err == 0
    c = make_client(srv.hosts)
    try:
        assert c.exists("/e") is None  # closing the resumed session removes its ephemerals
    finally:
        c.stop()
        c.close()


def test_session_and_ephemerals_resume_after_kill9(fresh_server):
    _resume_after(fresh_server, crash=True)


def test_session_resumes_after_graceful_restart(fresh_server):
    _resume_after(fresh_server, crash=False)


def test_kazoo_reconnects_after_restart(fresh_server):
    srv = fresh_server()
    c = make_client(srv.hosts, timeout=30.0)
    try:
        states = []
        c.add_listener(states.append)
        c.create("/k", b"1")
        srv.kill9()
        wait_until(lambda: KazooState.SUSPENDED in states, 30, what="client to notice the crash")
        srv.start()
        wait_until(lambda: c.connected, 60, what="client to reconnect")
        assert c.get("/k")[0] == b"1"
    finally:
        c.stop()
        c.close()


def test_restored_session_expires_if_client_never_returns(fresh_server):
    srv = fresh_server()
    with RawConn(srv.port) as raw:
        hello = raw.connect(timeout_ms=2000)
        assert raw.request(OP_CREATE, create_body("/orphan", flags=1)).err == 0
        srv.kill9()  # crash while the session is alive
    srv.start()
    c = make_client(srv.hosts)
    try:
        node = c.exists("/orphan")
        assert node is None or node.ephemeralOwner == hello.session_id
        wait_until(lambda: c.exists("/orphan") is None, 30, what="restored session to expire")
    finally:
        c.stop()
        c.close()
