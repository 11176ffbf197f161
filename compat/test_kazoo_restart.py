"""Durability and session resumption across restarts and kill -9 (dedicated servers, same dataDir and port)."""

from kazoo.protocol.states import KazooState

from conftest import make_client
from zkharness import wait_until
from zkwire import OP_CREATE, RawConn, create_body

N = 200


def test_acknowledged_writes_survive_kill9(fresh_server):
    srv = fresh_server()
    c = make_client(srv.hosts)
    c.create("/dur")
    stats = {}
    for i in range(N):
        path = c.create(f"/dur/n-", f"value-{i}".encode(), sequence=True)
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


def test_session_and_ephemerals_resume_after_kill9(fresh_server):
    srv = fresh_server()
    c = make_client(srv.hosts, timeout=20.0)
    try:
        states = []
        c.add_listener(states.append)
        c.create("/e", ephemeral=True)
        sid = c.client_id[0]
        srv.kill9()
        wait_until(lambda: KazooState.SUSPENDED in states, 30, what="client to notice the crash")
        srv.start()
        wait_until(lambda: c.connected, 40, what="client to reconnect")
        assert c.client_id[0] == sid
        assert KazooState.LOST not in states
        assert c.exists("/e").ephemeralOwner == sid
    finally:
        c.stop()
        c.close()


def test_session_resumes_after_graceful_restart(fresh_server):
    srv = fresh_server()
    c = make_client(srv.hosts, timeout=20.0)
    try:
        states = []
        c.add_listener(states.append)
        c.create("/g", b"1", ephemeral=True)
        sid = c.client_id[0]
        srv.restart()
        wait_until(lambda: c.connected and c.exists("/g") is not None, 40, what="reconnect after restart")
        assert c.client_id[0] == sid and KazooState.LOST not in states
        assert c.get("/g")[0] == b"1"
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
