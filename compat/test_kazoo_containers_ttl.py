"""Containers and TTL nodes (raw createContainer/createTTL over kazoo's session).

The shared server runs with -Dznode.container.checkIntervalMs=1000 and extendedTypesEnabled=true.
"""

import pytest
from kazoo.exceptions import BadArgumentsError, NoNodeError, UnimplementedError

from zkharness import wait_until
from zkwire import OPEN_ACL, CreateContainer, CreateTTL, kazoo_call

REAP = 30  # generous bound for the 1 s reaper


def test_container_create_returns_stat(kz, prefix):
    path, st = kazoo_call(kz, CreateContainer(prefix, b"c", OPEN_ACL))
    assert path == prefix
    assert st == kz.exists(prefix)
    assert st.dataLength == 1 and st.numChildren == 0 and st.czxid == st.pzxid


def test_container_deleted_after_last_child_goes(kz, prefix):
    kz.create(prefix)
    empty, used = f"{prefix}/never-used", f"{prefix}/used"
    kazoo_call(kz, CreateContainer(empty, b"", OPEN_ACL))
    kazoo_call(kz, CreateContainer(used, b"", OPEN_ACL))
    kz.create(f"{used}/a")
    kz.create(f"{used}/b")
    kz.delete(f"{used}/a")
    # still has a child: must survive reaper passes; the empty-but-never-used container too
    kz.create(f"{prefix}/probe")
    kz.delete(f"{used}/b")
    wait_until(lambda: kz.exists(used) is None, REAP, what="container reaped")
    # a reaper pass happened after `empty` existed, and it was kept: containers that never had a child stay
    assert kz.exists(empty) is not None


def test_container_children_may_be_anything(kz, prefix):
    kazoo_call(kz, CreateContainer(prefix, b"", OPEN_ACL))
    kz.create(f"{prefix}/eph", ephemeral=True)
    kz.create(f"{prefix}/seq-", sequence=True)
    assert len(kz.get_children(prefix)) == 2


def test_ttl_node_expires_when_untouched_and_childless(kz, prefix):
    kz.create(prefix)
    path, st = kazoo_call(kz, CreateTTL(f"{prefix}/ttl", b"t", OPEN_ACL, 5, 500))
    assert path == f"{prefix}/ttl"
    assert st.dataLength == 1
    wait_until(lambda: kz.exists(path) is None, REAP, what="TTL node to expire")


def test_ttl_node_with_children_is_kept(kz, prefix):
    kz.create(prefix)
    path, _ = kazoo_call(kz, CreateTTL(f"{prefix}/ttl", b"", OPEN_ACL, 5, 300))
    kz.create(f"{path}/child")
    short, _ = kazoo_call(kz, CreateTTL(f"{prefix}/short", b"", OPEN_ACL, 5, 300))
    wait_until(lambda: kz.exists(short) is None, REAP, what="childless TTL sibling to expire")
    assert kz.exists(path) is not None
    kz.delete(f"{path}/child")
    wait_until(lambda: kz.exists(path) is None, REAP, what="TTL node to expire once childless")


def test_ttl_sequential(kz, prefix):
    kz.create(prefix)
    p1, _ = kazoo_call(kz, CreateTTL(f"{prefix}/s-", b"", OPEN_ACL, 6, 60_000))
    p2, _ = kazoo_call(kz, CreateTTL(f"{prefix}/s-", b"", OPEN_ACL, 6, 60_000))
    assert (p1, p2) == (f"{prefix}/s-0000000000", f"{prefix}/s-0000000001")


@pytest.mark.parametrize("ttl", [0, -5, 0x0000_0100_0000_0000])
def test_ttl_out_of_range_is_bad_arguments(kz, prefix, ttl):
    kz.create(prefix)
    with pytest.raises(BadArgumentsError):
        kazoo_call(kz, CreateTTL(f"{prefix}/bad", b"", OPEN_ACL, 5, ttl))
    assert kz.exists(f"{prefix}/bad") is None


@pytest.mark.parametrize("flags", [0, 1, 2, 3, 4])
def test_create_ttl_requires_a_ttl_mode(kz, prefix, flags):
    kz.create(prefix)
    with pytest.raises(BadArgumentsError):
        kazoo_call(kz, CreateTTL(f"{prefix}/bad", b"", OPEN_ACL, flags, 1000))


def test_max_ttl_accepted(kz, prefix):
    kz.create(prefix)
    path, _ = kazoo_call(kz, CreateTTL(f"{prefix}/max", b"", OPEN_ACL, 5, 0x0000_00FF_FFFF_FFFF))
    assert kz.exists(path) is not None


def test_ttl_and_container_missing_parent(kz, prefix):
    with pytest.raises(NoNodeError):
        kazoo_call(kz, CreateTTL(f"{prefix}/a/b", b"", OPEN_ACL, 5, 1000))
    with pytest.raises(NoNodeError):
        kazoo_call(kz, CreateContainer(f"{prefix}/a/b", b"", OPEN_ACL))


def test_ttl_disabled_is_unimplemented(fresh_server):
    from conftest import make_client

    srv = fresh_server(cfg_extra={"extendedTypesEnabled": "false"})
    c = make_client(srv.hosts)
    try:
        with pytest.raises(UnimplementedError):
            kazoo_call(c, CreateTTL("/ttl", b"", OPEN_ACL, 5, 1000))
        # containers do not need extended types
        kazoo_call(c, CreateContainer("/cont", b"", OPEN_ACL))
        assert c.exists("/cont") is not None
    finally:
        c.stop()
        c.close()


def test_container_and_ttl_report_zero_ephemeral_owner(kz, prefix):
    kz.create(prefix)
    _, cst = kazoo_call(kz, CreateContainer(f"{prefix}/c", b"", OPEN_ACL))
    _, tst = kazoo_call(kz, CreateTTL(f"{prefix}/t", b"", OPEN_ACL, 5, 60_000))
    assert cst.ephemeralOwner == 0 and kz.exists(f"{prefix}/c").ephemeralOwner == 0
    assert tst.ephemeralOwner == 0 and kz.exists(f"{prefix}/t").ephemeralOwner == 0
