"""Watches: one-shot data/exists/child, persistent and recursive (addWatch), removeWatches/checkWatches,
SetWatches on reconnect, and delivery order. "Did not fire" is proven with a later barrier event, never a sleep.
"""

import threading

import pytest
from kazoo.exceptions import NoWatcherError

from zkwire import (
    ADD_WATCH_PERSISTENT,
    ADD_WATCH_PERSISTENT_RECURSIVE,
    EV_CHANGED,
    EV_CHILD,
    EV_CREATED,
    EV_DELETED,
    OP_GETDATA,
    OP_SETDATA,
    OP_SETWATCHES,
    WATCHER_ANY,
    WATCHER_CHILDREN,
    WATCHER_DATA,
    WATCHER_PERSISTENT,
    WATCHER_PERSISTENT_RECURSIVE,
    AddWatch,
    CheckWatches,
    EventTap,
    In,
    Out,
    RawConn,
    RemoveWatches,
    kazoo_call,
)


class Recorder:
    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def __call__(self, ev):
        with self.cond:
            self.events.append((ev.type, ev.path))
            self.cond.notify_all()

    def wait(self, n=1, timeout=15):
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.events) >= n, timeout)
        assert ok, f"expected {n} events, got {self.events}"
        return list(self.events)


def barrier(client, writer, path):
    """Fires a fresh one-shot watch on `path` and waits for it: every event sent before it has arrived."""
    rec = Recorder()
    if writer.exists(path) is None:
        writer.create(path, makepath=True)
    client.get(path, watch=rec)
    writer.set(path, b"barrier")
    rec.wait(1)


def test_data_watch_is_one_shot(client_factory, prefix):
    a, b = client_factory(), client_factory()
    b.create(prefix, b"0")
    rec = Recorder()
    a.get(prefix, watch=rec)
    b.set(prefix, b"1")
    assert rec.wait(1) == [("CHANGED", prefix)]
    b.set(prefix, b"2")
    barrier(a, b, f"{prefix}-barrier")
    assert rec.events == [("CHANGED", prefix)]


def test_exists_watch_on_missing_node_fires_created(client_factory, prefix):
    a, b = client_factory(), client_factory()
    rec = Recorder()
    assert a.exists(prefix, watch=rec) is None
    b.create(prefix)
    assert rec.wait(1) == [("CREATED", prefix)]


def test_exists_watch_on_existing_node(client_factory, prefix):
    a, b = client_factory(), client_factory()
    b.create(prefix)
    r1, r2 = Recorder(), Recorder()
    a.exists(prefix, watch=r1)
    b.set(prefix, b"x")
    assert r1.wait(1) == [("CHANGED", prefix)]
    a.exists(prefix, watch=r2)
    b.delete(prefix)
    assert r2.wait(1) == [("DELETED", prefix)]


def test_child_watch_fires_on_create_and_delete_not_on_child_data(client_factory, prefix):
    a, b = client_factory(), client_factory()
    b.create(f"{prefix}/c1", makepath=True)
    r1, r2 = Recorder(), Recorder()
    a.get_children(prefix, watch=r1)
    b.set(f"{prefix}/c1", b"data change is not a child change")
    b.create(f"{prefix}/c2")
    assert r1.wait(1) == [("CHILD", prefix)]
    a.get_children(prefix, watch=r2)
    b.delete(f"{prefix}/c1")
    assert r2.wait(1) == [("CHILD", prefix)]
    barrier(a, b, f"{prefix}-barrier")
    assert r1.events == [("CHILD", prefix)] and r2.events == [("CHILD", prefix)]


def test_delete_fires_deleted_on_node_and_child_on_parent(client_factory, prefix):
    a, b = client_factory(), client_factory()
    b.create(f"{prefix}/n", makepath=True)
    data_rec, child_rec, parent_rec = Recorder(), Recorder(), Recorder()
    a.get(f"{prefix}/n", watch=data_rec)
    a.get_children(f"{prefix}/n", watch=child_rec)
    a.get_children(prefix, watch=parent_rec)
    b.delete(f"{prefix}/n")
    assert data_rec.wait(1) == [("DELETED", f"{prefix}/n")]
    assert child_rec.wait(1) == [("DELETED", f"{prefix}/n")]
    assert parent_rec.wait(1) == [("CHILD", prefix)]


def test_set_acl_fires_nothing(client_factory, prefix):
    a, b = client_factory(), client_factory()
    b.create(prefix)
    tap = EventTap(a)
    a.get(prefix, watch=lambda e: None)
    a.get_children(prefix, watch=lambda e: None)
    b.set_acls(prefix, b.get_acls(prefix)[0])
    barrier(a, b, f"{prefix}-barrier")
    assert [e for e in tap.snapshot() if e[1] == prefix] == []


def test_every_watching_client_is_notified(client_factory, prefix):
    writer = client_factory()
    writer.create(prefix)
    readers = [client_factory() for _ in range(3)]
    recs = [Recorder() for _ in readers]
    for r, rec in zip(readers, recs):
        r.get(prefix, watch=rec)
    writer.set(prefix, b"x")
    for rec in recs:
        assert rec.wait(1) == [("CHANGED", prefix)]


def test_notification_precedes_reads_that_see_the_change(client_factory, prefix):
    a, b = client_factory(), client_factory()
    b.create(prefix, b"old")
    tap = EventTap(a)
    a.get(prefix, watch=lambda e: None)
    b.set(prefix, b"new")
    for _ in range(2000):
        data, _ = a.get(prefix)
        if data == b"new":
            break
    assert data == b"new"
    assert (EV_CHANGED, prefix) in tap.snapshot()


def test_persistent_watch_fires_repeatedly_for_the_node_only(client_factory, prefix):
    a, b = client_factory(), client_factory()
    tap = EventTap(a)
    assert kazoo_call(a, AddWatch(prefix, ADD_WATCH_PERSISTENT)) == 0
    b.create(prefix)
    b.set(prefix, b"1")
    b.set(prefix, b"2")
    b.create(f"{prefix}/child")
    b.set(f"{prefix}/child", b"not reported")
    b.delete(f"{prefix}/child")
    b.delete(prefix)
    want = [(EV_CREATED, prefix), (EV_CHANGED, prefix), (EV_CHANGED, prefix), (EV_CHILD, prefix),
            (EV_CHILD, prefix), (EV_DELETED, prefix)]
    assert tap.wait_count(len(want)) == want
    b.create(prefix)  # still armed after the delete
    assert tap.wait_count(len(want) + 1)[-1] == (EV_CREATED, prefix)


def test_persistent_recursive_watch_covers_descendants_without_child_events(client_factory, prefix):
    a, b = client_factory(), client_factory()
    b.create(prefix)
    tap = EventTap(a)
    kazoo_call(a, AddWatch(prefix, ADD_WATCH_PERSISTENT_RECURSIVE))
    b.create(f"{prefix}/x")
    b.create(f"{prefix}/x/y")
    b.set(f"{prefix}/x/y", b"1")
    b.delete(f"{prefix}/x/y")
    b.set(prefix, b"root")
    b.create(f"{prefix}-sibling")  # outside the subtree
    want = [(EV_CREATED, f"{prefix}/x"), (EV_CREATED, f"{prefix}/x/y"), (EV_CHANGED, f"{prefix}/x/y"),
            (EV_DELETED, f"{prefix}/x/y"), (EV_CHANGED, prefix)]
    assert tap.wait_count(len(want)) == want
    barrier(a, b, f"{prefix}-barrier")
    assert [e for e in tap.snapshot() if e[1].startswith(prefix + "/") or e[1] == prefix] == want


def test_remove_data_watch_stops_notifications(client_factory, prefix):
    a, b = client_factory(), client_factory()
    b.create(prefix)
    tap = EventTap(a)
    a.get(prefix, watch=lambda e: None)
    kazoo_call(a, CheckWatches(prefix, WATCHER_DATA))
    kazoo_call(a, RemoveWatches(prefix, WATCHER_DATA))
    with pytest.raises(NoWatcherError):
        kazoo_call(a, CheckWatches(prefix, WATCHER_DATA))
    with pytest.raises(NoWatcherError):
        kazoo_call(a, RemoveWatches(prefix, WATCHER_DATA))
    b.set(prefix, b"x")
    barrier(a, b, f"{prefix}-barrier")
    assert [e for e in tap.snapshot() if e[1] == prefix] == []


def test_remove_watches_by_type(client_factory, prefix):
    a, b = client_factory(), client_factory()
    b.create(prefix)
    tap = EventTap(a)
    a.get_children(prefix, watch=lambda e: None)
    a.get(prefix, watch=lambda e: None)
    kazoo_call(a, RemoveWatches(prefix, WATCHER_CHILDREN))
    b.create(f"{prefix}/c")  # child watch removed: nothing
    b.set(prefix, b"x")  # data watch kept: fires
    tap.wait_for(lambda e: e == (EV_CHANGED, prefix))
    assert (EV_CHILD, prefix) not in tap.snapshot()
    a.get(prefix, watch=lambda e: None)
    a.get_children(prefix, watch=lambda e: None)
    kazoo_call(a, RemoveWatches(prefix, WATCHER_ANY))
    with pytest.raises(NoWatcherError):
        kazoo_call(a, CheckWatches(prefix, WATCHER_ANY))


@pytest.mark.zk39
def test_remove_persistent_watches(client_factory, prefix):
    a, b = client_factory(), client_factory()
    b.create(prefix)
    tap = EventTap(a)
    kazoo_call(a, AddWatch(prefix, ADD_WATCH_PERSISTENT))
    kazoo_call(a, AddWatch(f"{prefix}/sub", ADD_WATCH_PERSISTENT_RECURSIVE))
    kazoo_call(a, RemoveWatches(prefix, WATCHER_PERSISTENT))
    kazoo_call(a, RemoveWatches(f"{prefix}/sub", WATCHER_PERSISTENT_RECURSIVE))
    with pytest.raises(NoWatcherError):
        kazoo_call(a, RemoveWatches(prefix, WATCHER_PERSISTENT))
    b.set(prefix, b"x")
    b.create(f"{prefix}/sub")
    barrier(a, b, f"{prefix}-barrier")
    assert [e for e in tap.snapshot() if e[1].startswith(prefix + "/") or e[1] == prefix] == []


def test_remove_watches_on_missing_path_is_nowatcher(kz, prefix):
    with pytest.raises(NoWatcherError):
        kazoo_call(kz, RemoveWatches(f"{prefix}/none", WATCHER_ANY))


def _getdata(path, watch):
    return Out().str(path).bool(watch).bytes()


def test_set_watches_on_reconnect_reports_missed_changes(zk, client_factory, prefix):
    b = client_factory()
    b.create(f"{prefix}/data", b"0", makepath=True)
    b.create(f"{prefix}/kids")
    b.create(f"{prefix}/same", b"0")
    c1 = RawConn(zk.port)
    hello = c1.connect(timeout_ms=20000)
    rep = c1.request(OP_GETDATA, _getdata(f"{prefix}/data", True))
    assert rep.err == 0
    seen = rep.zxid
    c1.close()  # no closeSession: the session lives on
    b.set(f"{prefix}/data", b"1")
    b.create(f"{prefix}/kids/k")
    b.create(f"{prefix}/born")
    with RawConn(zk.port) as c2:
        again = c2.connect(timeout_ms=20000, session_id=hello.session_id, passwd=hello.passwd, last_zxid=seen)
        assert again.session_id == hello.session_id
        body = (Out().long(seen).strs([f"{prefix}/data", f"{prefix}/same", f"{prefix}/gone"])
                .strs([f"{prefix}/born", f"{prefix}/unborn"]).strs([f"{prefix}/kids"]).bytes())
        rep = c2.request(OP_SETWATCHES, body, xid=-8)
        assert (rep.xid, rep.err) == (-8, 0)
        # Apache delivers these catch-up events before the SetWatches reply; accept either order
        got = {(typ, path) for typ, state, path in c2.events}
        assert all(state == 3 for _, state, _ in c2.events)
        c2.sock.settimeout(15)
        while len(got) < 4:
            r = c2.read_reply()
            assert r.xid == -1
            rd = In(r.body)
            typ, state, path = rd.int(), rd.int(), rd.str()
            assert state == 3
            got.add((typ, path))
        assert got == {(EV_CHANGED, f"{prefix}/data"), (EV_CREATED, f"{prefix}/born"),
                       (EV_CHILD, f"{prefix}/kids"), (EV_DELETED, f"{prefix}/gone")}
        # re-armed watch on /same still fires later
        b.set(f"{prefix}/same", b"1")
        r = c2.read_reply()
        rd = In(r.body)
        assert (r.xid, rd.int(), rd.int(), rd.str()) == (-1, EV_CHANGED, 3, f"{prefix}/same")


@pytest.mark.zk39
def test_notification_header_carries_txn_zxid(zk, client_factory, prefix):
    b = client_factory()
    b.create(prefix, b"0")
    with RawConn(zk.port) as c:
        c.connect()
        assert c.request(OP_GETDATA, _getdata(prefix, True)).err == 0
        st = b.set(prefix, b"1")
        c.sock.settimeout(15)
        r = c.read_reply()
        assert r.xid == -1 and r.zxid == st.mzxid


def test_raw_set_data_reply_zxid_matches_stat(zk, prefix, kz):
    kz.create(prefix)
    with RawConn(zk.port) as c:
        c.connect()
        rep = c.request(OP_SETDATA, Out().str(prefix).buf(b"v").int(-1).bytes())
        assert rep.err == 0
        st = In(rep.body).stat()
        assert rep.zxid >= st.mzxid and st.version == 1
