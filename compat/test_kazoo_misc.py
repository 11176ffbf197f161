"""sync, getConfig, whoAmI, getAllChildrenNumber, oversize requests, server version, initial tree."""

import pytest
from kazoo.exceptions import ConnectionLoss, NoAuthError, NoNodeError

from conftest import make_client
from zkharness import wait_until
from zkwire import GetAllChildrenNumber, WhoAmI, kazoo_call


def test_sync_returns_path(kz, prefix):
    kz.create(prefix)
    assert kz.sync(prefix) == prefix


@pytest.mark.standalone_only(reason="an ensemble's /zookeeper/config holds its server.N lines")
def test_get_config_node_in_standalone(kz):
    data, st = kz.get("/zookeeper/config")
    assert st.aversion == -1 and st.czxid == 0 and st.version == 0
    assert st.dataLength == len(data)
    acls, _ = kz.get_acls("/zookeeper/config")
    assert [(a.perms, a.id.scheme, a.id.id) for a in acls] == [(1, "world", "anyone")]
    with pytest.raises(NoAuthError):
        kz.set("/zookeeper/config", b"server.1=evil")


def test_who_am_i(client_factory):
    anon = client_factory()
    assert kazoo_call(anon, WhoAmI()) == [("ip", "127.0.0.1")]
    user = client_factory()
    user.add_auth("digest", "alice:secret")
    assert sorted(kazoo_call(user, WhoAmI())) == [("digest", "alice"), ("ip", "127.0.0.1")]


def test_get_all_children_number(kz, prefix):
    kz.create(f"{prefix}/a/b/c", makepath=True)
    kz.create(f"{prefix}/a/d")
    kz.create(f"{prefix}/e")
    assert kazoo_call(kz, GetAllChildrenNumber(prefix)) == 5
    assert kazoo_call(kz, GetAllChildrenNumber(f"{prefix}/a/b/c")) == 0
    with pytest.raises(NoNodeError):
        kazoo_call(kz, GetAllChildrenNumber(f"{prefix}/missing"))


def test_oversize_request_drops_connection_only(client_factory, prefix):
    big = client_factory()
    other = client_factory()
    big.create(prefix)
    with pytest.raises(ConnectionLoss):
        big.create(f"{prefix}/big", b"x" * (2 * 1024 * 1024))
    assert other.get_children(prefix) == []
    # the session itself survives: kazoo reconnects and keeps working
    wait_until(lambda: big.connected and big.exists(prefix) is not None, 30, what="reconnect after drop")
    assert big.exists(f"{prefix}/big") is None


def test_data_just_over_jute_maxbuffer_is_refused(client_factory, prefix):
    c = client_factory()
    c.create(prefix)
    with pytest.raises(ConnectionLoss):
        c.set(prefix, b"y" * 0xFFFFF)  # data alone fills jute.maxbuffer; the frame exceeds it
    wait_until(lambda: c.connected and c.exists(prefix) is not None, 30, what="reconnect")
    assert c.get(prefix)[0] == b""


def test_server_version_via_kazoo(kz):
    version = kz.server_version()
    assert len(version) >= 2 and version[0] == 3


def test_initial_tree_of_a_new_server(fresh_server):
    srv = fresh_server()
    c = make_client(srv.hosts)
    try:
        assert sorted(c.get_children("/")) == ["zookeeper"]
        root = c.exists("/")
        assert (root.czxid, root.mzxid, root.version, root.aversion, root.numChildren) == (0, 0, 0, 0, 1)
        zk_node = c.exists("/zookeeper")
        # /zookeeper's children are added without bumping its stored cversion: 2*0 - 2
        assert zk_node.cversion == -2 and zk_node.numChildren == 2
        quota = c.exists("/zookeeper/quota")
        assert (quota.czxid, quota.numChildren, quota.dataLength) == (0, 0, 0)
        c.create("/first")
        assert c.exists("/first").czxid == 2  # zxid 1 was this session's createSession
    finally:
        c.stop()
        c.close()
