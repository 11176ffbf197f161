"""multi (transactions) and multiRead: atomicity, per-op results and errors, one zxid per multi."""

import pytest
from kazoo.exceptions import (
    BadVersionError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
)

from zkwire import (
    OP_CHECK,
    OP_CREATE,
    OP_CREATE2,
    OP_CREATECONTAINER,
    OP_CREATETTL,
    OP_DELETE,
    OP_GETCHILDREN,
    OP_GETDATA,
    OP_MULTI,
    OP_MULTIREAD,
    OP_SETDATA,
    In,
    Out,
    RawConn,
    RawMulti,
    create_body,
    kazoo_call,
    multi_body,
    parse_multi,
)


def _delete(path, version=-1):
    return Out().str(path).int(version).bytes()


def _set(path, data, version=-1):
    return Out().str(path).buf(data).int(version).bytes()


def _check(path, version):
    return Out().str(path).int(version).bytes()


def _read(path):
    return Out().str(path).bool(False).bytes()


def test_transaction_success_results_and_shared_zxid(kz, prefix):
    kz.create(prefix, b"p")
    kz.create(f"{prefix}/old")
    t = kz.transaction()
    t.create(f"{prefix}/new", b"n")
    t.set_data(prefix, b"p2")
    t.check(prefix, 1)  # sees the set_data above
    t.delete(f"{prefix}/old")
    t.create(f"{prefix}/seq-", sequence=True)
    res = t.commit()
    assert res[0] == f"{prefix}/new"
    assert res[1].version == 1
    assert res[2] is True and res[3] is True
    assert res[4] == f"{prefix}/seq-0000000002"
    new = kz.exists(f"{prefix}/new")
    assert new.czxid == res[1].mzxid  # every op of a multi has the same zxid
    assert kz.exists(prefix).pzxid == new.czxid
    assert kz.exists(f"{prefix}/old") is None


def test_failed_transaction_is_atomic_with_per_op_errors(kz, prefix):
    kz.create(prefix)
    kz.create(f"{prefix}/exists")
    t = kz.transaction()
    t.create(f"{prefix}/a")
    t.set_data(prefix, b"changed")
    t.create(f"{prefix}/exists")
    t.delete(f"{prefix}/whatever")
    res = t.commit()
    assert [type(r) for r in res] == [RolledBackError, RolledBackError, NodeExistsError, RuntimeInconsistency]
    assert kz.exists(f"{prefix}/a") is None
    assert kz.get(prefix) == (b"", kz.exists(prefix)) and kz.exists(prefix).version == 0


@pytest.mark.parametrize(
    "failing,exc",
    [
        (lambda t, p: t.check(p, 5), BadVersionError),
        (lambda t, p: t.delete(p), NotEmptyError),
        (lambda t, p: t.set_data(f"{p}/missing", b""), NoNodeError),
        (lambda t, p: t.create(f"{p}/missing/x"), NoNodeError),
        (lambda t, p: t.delete(f"{p}/c", version=9), BadVersionError),
    ],
    ids=["check-version", "delete-notempty", "set-nonode", "create-noparent", "delete-version"],
)
def test_each_failure_kind_rolls_back(kz, prefix, failing, exc):
    kz.create(f"{prefix}/c", makepath=True)
    before = kz.exists(prefix)
    t = kz.transaction()
    t.create(f"{prefix}/first")
    failing(t, prefix)
    res = t.commit()
    assert isinstance(res[0], RolledBackError) and isinstance(res[1], exc)
    assert kz.exists(prefix) == before


def test_ops_see_earlier_ops_of_same_multi(kz, prefix):
    kz.create(prefix)
    t = kz.transaction()
    t.create(f"{prefix}/a")
    t.create(f"{prefix}/a/b", b"x")
    t.set_data(f"{prefix}/a/b", b"y")
    t.check(f"{prefix}/a/b", 1)
    t.delete(f"{prefix}/a/b")
    t.delete(f"{prefix}/a")
    res = t.commit()
    assert not any(isinstance(r, Exception) for r in res), res
    st = kz.exists(prefix)
    assert st.numChildren == 0 and st.cversion == 2  # one create + one delete under prefix


def test_raw_failed_multi_header_and_zxid_consumption(zk, kz, prefix):
    kz.create(prefix)
    with RawConn(zk.port) as c:
        c.connect()
        ok = c.request(OP_CREATE, create_body(f"{prefix}/x"))
        assert ok.err == 0
        body = multi_body([(OP_CREATE, create_body(f"{prefix}/y")), (OP_CREATE, create_body(f"{prefix}/x")),
                           (OP_DELETE, _delete(f"{prefix}/x"))])
        rep = c.request(OP_MULTI, body)
        assert rep.err == 0  # the whole-multi error stays in the per-op entries
        assert parse_multi(rep.body) == [(-1, 0, None), (-1, -110, None), (-1, -2, None)]
        assert rep.zxid > ok.zxid  # a failed multi is still a txn with its own zxid
        after = c.request(OP_CREATE, create_body(f"{prefix}/z"))
        assert In(after.body).str() == f"{prefix}/z"
        assert kz.exists(f"{prefix}/z").czxid > rep.zxid


def test_raw_multi_with_create2_ttl_container(kz, prefix):
    kz.create(prefix)
    res = kazoo_call(kz, RawMulti(OP_MULTI, [
        (OP_CREATE2, create_body(f"{prefix}/c2", b"d")),
        (OP_CREATECONTAINER, create_body(f"{prefix}/cont", flags=4)),
        (OP_CREATETTL, create_body(f"{prefix}/ttl", flags=5, ttl=60_000)),
        (OP_SETDATA, _set(f"{prefix}/c2", b"dd")),
        (OP_CHECK, _check(f"{prefix}/c2", 1)),
    ]))
    # Observed on Apache: a create2 inside multi is answered as a plain create (path only), while
    # container and TTL creates come back as create2 results carrying a Stat.
    assert [(t, e) for t, e, _ in res] == [(OP_CREATE, 0), (OP_CREATE2, 0), (OP_CREATE2, 0),
                                          (OP_SETDATA, 0), (OP_CHECK, 0)]
    assert res[0][2] == f"{prefix}/c2"
    (cpath, cst), (tpath, tst) = res[1][2], res[2][2]
    assert (cpath, tpath) == (f"{prefix}/cont", f"{prefix}/ttl")
    assert cst == kz.exists(cpath) and tst == kz.exists(tpath)
    assert res[3][2].version == 1 and res[3][2].dataLength == 2
    assert cst.czxid == tst.czxid == res[3][2].mzxid == kz.exists(f"{prefix}/c2").czxid


def test_empty_multi_succeeds(kz):
    assert kazoo_call(kz, RawMulti(OP_MULTI, [])) == []


def test_multi_read(kz, prefix):
    kz.create(f"{prefix}/a", b"A", makepath=True)
    kz.create(f"{prefix}/b", b"B")
    res = kazoo_call(kz, RawMulti(OP_MULTIREAD, [
        (OP_GETDATA, _read(f"{prefix}/a")),
        (OP_GETCHILDREN, _read(prefix)),
        (OP_GETDATA, _read(f"{prefix}/missing")),
        (OP_GETDATA, _read(f"{prefix}/b")),
    ]))
    assert res[0][0] == OP_GETDATA and res[0][2][0] == b"A" and res[0][2][1] == kz.exists(f"{prefix}/a")
    assert res[1][0] == OP_GETCHILDREN and sorted(res[1][2]) == ["a", "b"]
    assert res[2][:2] == (-1, -101)  # independent failure
    assert res[3][2][0] == b"B"
