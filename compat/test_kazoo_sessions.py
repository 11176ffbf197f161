"""Kazoo + raw: ephemerals, session close, expiry, negotiated timeouts, reconnects, getEphemerals."""

import socket
import threading

import pytest
from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState, KeeperState

from zkharness import wait_until
from zkwire import OP_CREATE, OP_EXISTS, GetEphemerals, Out, RawConn, create_body, kazoo_call


def test_ephemeral_removed_when_session_closes(client_factory, prefix):
    a, b = client_factory(), client_factory()
    a.create(prefix)
    a.create(f"{prefix}/eph", b"mine", ephemeral=True)
    assert b.exists(f"{prefix}/eph").ephemeralOwner == a.client_id[0]
    a.stop()
    # closeSession is answered only after its ephemerals are gone
    assert b.exists(f"{prefix}/eph") is None
    assert b.exists(prefix).numChildren == 0


def test_expiry_by_closing_a_second_connection_with_same_session(zk, client_factory, prefix):
    a = client_factory(timeout=4.0)
    watcher = client_factory()
    a.create(prefix)
    a.create(f"{prefix}/eph", ephemeral=True)
    deleted = threading.Event()
    watcher.exists(f"{prefix}/eph", watch=lambda ev: ev.type == "DELETED" and deleted.set())
    states = []
    a.add_listener(states.append)
    sid, pw = a.client_id
    twin = KazooClient(hosts=zk.hosts, client_id=(sid, pw), timeout=4.0)
    twin.start(timeout=30)
    assert twin.client_id[0] == sid
    twin.stop()  # sends closeSession for the shared session id
    twin.close()
    assert deleted.wait(15)
    assert watcher.exists(f"{prefix}/eph") is None
    wait_until(lambda: KazooState.LOST in states, 30, what="original client to see its session LOST")
    # kazoo then starts a brand-new session; the old ephemeral stays gone
    wait_until(lambda: a.connected and a.client_id[0] != sid, 30, what="a new session")
    assert a.exists(f"{prefix}/eph") is None


def test_session_expires_without_pings(zk, client_factory, prefix):
    b = client_factory()
    b.create(prefix)
    with RawConn(zk.port) as c:
        hello = c.connect(timeout_ms=1000)
        assert hello.timeout == 1000 and hello.session_id != 0
        rep = c.request(OP_CREATE, create_body(f"{prefix}/eph", b"", flags=1))
        assert rep.err == 0
        assert b.exists(f"{prefix}/eph").ephemeralOwner == hello.session_id
        # send nothing more: the server must expire the session and drop the node
        wait_until(lambda: b.exists(f"{prefix}/eph") is None, 20, what="ephemeral of idle session to vanish")
        assert c.closed_by_server(10)


@pytest.mark.parametrize("asked,granted", [(10, 1000), (1000, 1000), (5000, 5000), (10_000_000, 60000)])
def test_negotiated_timeout_is_clamped(zk, asked, granted):
    with RawConn(zk.port) as c:
        hello = c.connect(timeout_ms=asked)
        assert hello.timeout == granted
        assert len(hello.passwd) == 16


def test_connect_response_mirrors_readonly_byte(zk):
    with RawConn(zk.port) as c:
        assert c.connect(read_only=False).read_only is False
    with RawConn(zk.port) as c:
        hello = c.connect(read_only=None)
        assert hello.read_only is None and hello.timeout > 0


def test_unknown_session_gets_zero_timeout_and_close(zk):
    with RawConn(zk.port) as c:
        hello = c.connect(session_id=0x1234_5678_9ABC, passwd=b"\x01" * 16)
        assert hello.timeout == 0
        assert hello.session_id == 0
        assert c.closed_by_server(10)


def test_wrong_password_is_refused_but_session_survives(zk, client_factory, prefix):
    a = client_factory()
    a.create(prefix, b"x")
    sid, _ = a.client_id
    with RawConn(zk.port) as c:
        hello = c.connect(session_id=sid, passwd=b"\x07" * 16)
        assert hello.timeout == 0
        assert c.closed_by_server(10)
    # the real owner keeps (or regains) its session
    assert wait_until(lambda: a.get(prefix)[0] == b"x", 30, what="owner to keep working")
    assert a.client_id[0] == sid


def test_session_resumes_on_new_connection_with_password(zk, client_factory, prefix):
    a = client_factory()
    a.create(prefix)
    a.create(f"{prefix}/eph", ephemeral=True)
    sid, pw = a.client_id
    with RawConn(zk.port) as c:
        hello = c.connect(session_id=sid, passwd=pw, timeout_ms=10000)
        assert hello.session_id == sid and hello.timeout == 10000 and hello.passwd == pw
        rep = c.request(OP_EXISTS, Out().str(f"{prefix}/eph").bool(False).bytes())
        assert rep.err == 0
    wait_until(lambda: a.connected and a.exists(f"{prefix}/eph") is not None, 30, what="a to reconnect")
    assert a.client_id[0] == sid


def test_state_listener_sees_suspended_then_connected_on_drop(client_factory, prefix):
    a = client_factory()
    states = []
    a.add_listener(states.append)
    a.create(prefix)
    a._connection._socket.shutdown(socket.SHUT_RDWR)  # drop the TCP connection under kazoo's feet
    wait_until(lambda: KazooState.SUSPENDED in states and states[-1] == KazooState.CONNECTED, 30,
               what="suspend then reconnect")
    assert a.exists(prefix) is not None
    assert a.client_state == KeeperState.CONNECTED


def test_get_ephemerals_lists_only_this_sessions_nodes(client_factory, prefix):
    a, b = client_factory(), client_factory()
    a.create(f"{prefix}/x", makepath=True)
    a.create(f"{prefix}/x/e1", ephemeral=True)
    a.create(f"{prefix}/e2", ephemeral=True)
    a.create(f"{prefix}/persistent")
    b.create(f"{prefix}/theirs", ephemeral=True)
    assert sorted(kazoo_call(a, GetEphemerals(prefix))) == sorted([f"{prefix}/x/e1", f"{prefix}/e2"])
    assert kazoo_call(a, GetEphemerals(f"{prefix}/x")) == [f"{prefix}/x/e1"]
    assert kazoo_call(b, GetEphemerals(prefix)) == [f"{prefix}/theirs"]
    assert f"{prefix}/e2" in kazoo_call(a, GetEphemerals("/"))
