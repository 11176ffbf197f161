"""Kazoo: create/read/update/delete, exact Stat relations, errors, reserved nodes, path validation."""

import pytest
from kazoo.exceptions import (
    BadArgumentsError,
    BadVersionError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
)

from zkwire import RawCreate, kazoo_call


def test_create_get_roundtrip_and_initial_stat(kz, prefix):
    assert kz.create(prefix, b"hello") == prefix
    data, st = kz.get(prefix)
    assert data == b"hello"
    assert st.czxid == st.mzxid == st.pzxid
    assert st.czxid > 0
    assert st.ctime == st.mtime and st.ctime > 0
    assert (st.version, st.cversion, st.aversion) == (0, 0, 0)
    assert st.ephemeralOwner == 0
    assert st.dataLength == 5
    assert st.numChildren == 0


def test_create2_returns_the_same_stat_as_a_read(kz, prefix):
    path, st = kz.create(prefix, b"abc", include_data=True)
    assert path == prefix
    assert st == kz.exists(prefix)
    assert st.dataLength == 3


def test_set_data_bumps_version_and_mzxid_only(kz, prefix):
    kz.create(prefix, b"v0")
    _, st0 = kz.get(prefix)
    st1 = kz.set(prefix, b"v1-longer")
    assert st1.version == 1
    assert st1.mzxid > st0.mzxid
    assert st1.czxid == st0.czxid
    assert st1.pzxid == st0.pzxid
    assert st1.mtime >= st0.mtime and st1.ctime == st0.ctime
    assert st1.dataLength == len(b"v1-longer")
    assert (st1.cversion, st1.aversion) == (0, 0)
    # setting the same bytes is still a new version
    st2 = kz.set(prefix, b"v1-longer")
    assert st2.version == 2 and st2.mzxid > st1.mzxid
    assert kz.get(prefix) == (b"v1-longer", st2)


def test_empty_and_null_data(kz, prefix):
    kz.create(prefix)  # kazoo sends b""
    data, st = kz.get(prefix)
    assert data == b"" and st.dataLength == 0
    kz.set(prefix, b"")
    assert kz.get(prefix)[1].dataLength == 0


def test_children_change_cversion_pzxid_numchildren(kz, prefix):
    kz.create(prefix)
    parent0 = kz.exists(prefix)
    _, c1 = kz.create(f"{prefix}/a", include_data=True)
    _, c2 = kz.create(f"{prefix}/b", include_data=True)
    p = kz.exists(prefix)
    assert p.numChildren == 2
    assert p.cversion == 2
    assert p.pzxid == c2.czxid
    assert p.mzxid == parent0.mzxid and p.version == 0  # child ops do not touch data fields
    kz.delete(f"{prefix}/a")
    p2 = kz.exists(prefix)
    assert p2.numChildren == 1
    assert p2.cversion == 3  # creations + deletions as seen by clients
    assert p2.pzxid > c2.czxid
    # the delete's zxid is the next write; a fresh create gets a larger zxid still
    _, c3 = kz.create(f"{prefix}/c", include_data=True)
    assert c3.czxid > p2.pzxid
    assert sorted(kz.get_children(prefix)) == ["b", "c"]
    children, pst = kz.get_children(prefix, include_data=True)
    assert sorted(children) == ["b", "c"] and pst.cversion == 4 and pst.numChildren == 2
    assert c1.czxid < c2.czxid < c3.czxid


def test_set_data_on_child_does_not_touch_parent(kz, prefix):
    kz.create(f"{prefix}/x", makepath=True)
    before = kz.exists(prefix)
    kz.set(f"{prefix}/x", b"changed")
    assert kz.exists(prefix) == before


def test_zxids_strictly_increase_per_write(kz, prefix):
    kz.create(prefix)
    zx = []
    for i in range(5):
        zx.append(kz.set(prefix, str(i).encode()).mzxid)
    assert zx == sorted(zx) and len(set(zx)) == 5


def test_ephemeral_owner_is_session_id(kz, prefix):
    kz.create(prefix)
    _, st = kz.create(f"{prefix}/e", ephemeral=True, include_data=True)
    assert st.ephemeralOwner == kz.client_id[0]
    assert kz.exists(prefix).ephemeralOwner == 0


def test_errors_nonode_nodeexists_notempty_badversion(kz, prefix):
    with pytest.raises(NoNodeError):
        kz.get(prefix)
    assert kz.exists(prefix) is None
    with pytest.raises(NoNodeError):
        kz.create(f"{prefix}/missing-parent/child")
    kz.create(prefix, b"1")
    with pytest.raises(NodeExistsError):
        kz.create(prefix)
    kz.create(f"{prefix}/c")
    with pytest.raises(NotEmptyError):
        kz.delete(prefix)
    with pytest.raises(BadVersionError):
        kz.set(prefix, b"x", version=7)
    with pytest.raises(BadVersionError):
        kz.delete(f"{prefix}/c", version=3)
    with pytest.raises(NoNodeError):
        kz.set(f"{prefix}/nope", b"x")
    with pytest.raises(NoNodeError):
        kz.delete(f"{prefix}/nope")
    with pytest.raises(NoNodeError):
        kz.get_children(f"{prefix}/nope")
    # a matching version works
    kz.delete(f"{prefix}/c", version=0)
    st = kz.set(prefix, b"2", version=0)
    assert st.version == 1
    kz.delete(prefix, version=1)
    assert kz.exists(prefix) is None


def test_no_children_for_ephemerals(kz, prefix):
    kz.create(prefix)
    kz.create(f"{prefix}/eph", ephemeral=True)
    with pytest.raises(NoChildrenForEphemeralsError):
        kz.create(f"{prefix}/eph/child")


def test_makepath_and_recursive_delete(kz, prefix):
    kz.create(f"{prefix}/a/b/c", b"deep", makepath=True)
    assert kz.get(f"{prefix}/a/b/c")[0] == b"deep"
    kz.delete(prefix, recursive=True)
    assert kz.exists(prefix) is None


def test_unicode_names_and_binary_data(kz, prefix):
    kz.create(prefix)
    name = f"{prefix}/ünïcødé-名前-\u00e9"
    blob = bytes(range(256)) * 4
    kz.create(name, blob)
    assert kz.get(name)[0] == blob
    assert "ünïcødé-名前-\u00e9" in kz.get_children(prefix)


def test_large_data_under_limit(kz, prefix):
    blob = b"z" * (1024 * 1000)  # below the default jute.maxbuffer (0xfffff) including framing
    kz.create(prefix, blob)
    data, st = kz.get(prefix)
    assert data == blob and st.dataLength == len(blob)


@pytest.mark.parametrize("path", ["/zookeeper", "/zookeeper/quota", "/zookeeper/config"])
def test_reserved_nodes_cannot_be_deleted(kz, path):
    with pytest.raises(BadArgumentsError):
        kz.delete(path)
    assert kz.exists(path) is not None


def test_root_and_zookeeper_nodes_exist(kz):
    assert "zookeeper" in kz.get_children("/")
    assert set(kz.get_children("/zookeeper")) >= {"quota", "config"}
    assert kz.exists("/").czxid == 0


def test_children_may_be_created_under_zookeeper(kz, prefix):
    name = f"/zookeeper{prefix}"
    kz.create(name, b"x")
    assert kz.get(name)[0] == b"x"
    kz.delete(name)


@pytest.mark.parametrize(
    "suffix",
    ["/", "/.", "/..", "/bad\u0001char", "/bad\u007fchar", "/bad\u0085x", "/bad\ufff5x", "/bad\u0000x"],
)
def test_invalid_paths_are_bad_arguments(kz, prefix, suffix):
    kz.create(prefix)
    with pytest.raises(BadArgumentsError):
        kazoo_call(kz, RawCreate(prefix + suffix, b"", [(31, "world", "anyone")], 0))
    assert kz.get_children(prefix) == []


@pytest.mark.parametrize("bad", ["//x", "", "noslash"])
def test_invalid_paths_at_root_are_bad_arguments(kz, bad):
    with pytest.raises(BadArgumentsError):
        kazoo_call(kz, RawCreate(bad, b"", [(31, "world", "anyone")], 0))


def test_parent_lookup_precedes_path_validation(kz, prefix):
    """Apache resolves the parent (text before the last '/') before validating the whole path."""
    with pytest.raises(NoNodeError):
        kazoo_call(kz, RawCreate(f"{prefix}//b", b"", [(31, "world", "anyone")], 0))
    kz.create(prefix)
    with pytest.raises(NoNodeError):
        kazoo_call(kz, RawCreate(f"{prefix}/./b", b"", [(31, "world", "anyone")], 0))


def test_dot_names_inside_segments_are_fine(kz, prefix):
    kz.create(f"{prefix}.x/..y/a.b", makepath=True)
    assert kz.exists(f"{prefix}.x/..y/a.b")


@pytest.mark.parametrize("flags", [7, 42, -1])
def test_unknown_create_flags_rejected(kz, prefix, flags):
    with pytest.raises(BadArgumentsError):
        kazoo_call(kz, RawCreate(prefix, b"", [(31, "world", "anyone")], flags))
    assert kz.exists(prefix) is None
