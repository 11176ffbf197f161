"""ACLs and auth: world/auth/digest/ip schemes, every permission bit, NOAUTH, INVALIDACL, setACL versions,
the super digest user, and failed auth."""

import struct

import pytest
from zkharness import is_apache
from kazoo.exceptions import AuthFailedError, BadVersionError, InvalidACLError, NoAuthError, NoNodeError
from kazoo.security import (
    ACL,
    CREATOR_ALL_ACL,
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    Id,
    Permissions,
    make_acl,
    make_digest_acl,
)

from zkharness import SUPER_PASSWORD, SUPER_USER, digest_id
from zkwire import OP_AUTH, Out, RawConn, RawCreate, kazoo_call

USER, PW = "alice", "secret"


def authed(client_factory, user=USER, pw=PW):
    c = client_factory()
    c.add_auth("digest", f"{user}:{pw}")
    return c


def test_default_acl_is_open(kz, prefix):
    kz.create(prefix)
    acls, st = kz.get_acls(prefix)
    assert acls == OPEN_ACL_UNSAFE
    assert st.aversion == 0


def test_digest_acl_denies_others_until_they_authenticate(client_factory, prefix):
    owner = authed(client_factory)
    other = client_factory()
    owner.create(prefix, b"secret", acl=[make_digest_acl(USER, PW, all=True)])
    acls, _ = owner.get_acls(prefix)
    assert acls == [ACL(Permissions.ALL, Id("digest", digest_id(USER, PW)))]
    for op in (lambda: other.get(prefix), lambda: other.set(prefix, b"x"), lambda: other.get_children(prefix),
               lambda: other.create(f"{prefix}/c"), lambda: other.set_acls(prefix, OPEN_ACL_UNSAFE)):
        with pytest.raises(NoAuthError):
            op()
    other.add_auth("digest", f"{USER}:{PW}")
    assert other.get(prefix)[0] == b"secret"
    wrong = authed(client_factory, USER, "not-the-password")
    with pytest.raises(NoAuthError):
        wrong.get(prefix)


def test_exists_needs_no_permission_on_3_8_but_get_acl_does(client_factory, prefix):
    if not is_apache():
        pytest.skip("3.8 behaviour; 3.9 checks READ on exists (see the zk39 test below)")
    owner = authed(client_factory)
    other = client_factory()
    owner.create(prefix, acl=[make_digest_acl(USER, PW, all=True)])
    assert other.exists(prefix).aversion == 0
    with pytest.raises(NoAuthError):
        other.get_acls(prefix)


@pytest.mark.zk39
def test_exists_needs_read_on_an_existing_node(client_factory, prefix):
    # 3.9's FinalRequestProcessor checks READ on exists when the node exists.
    owner = authed(client_factory)
    other = client_factory()
    owner.create(prefix, acl=[make_digest_acl(USER, PW, all=True)])
    with pytest.raises(NoAuthError):
        other.exists(prefix)
    assert other.exists(prefix + "/missing") is None
    with pytest.raises(NoAuthError):
        other.get_acls(prefix)
    assert owner.exists(prefix).aversion == 0


def test_get_acl_without_admin_masks_digest_hashes(client_factory, prefix):
    owner = authed(client_factory)
    reader = authed(client_factory, "bob", "pw2")
    owner.create(prefix, acl=[make_digest_acl(USER, PW, all=True), make_digest_acl("bob", "pw2", read=True)])
    acls, _ = reader.get_acls(prefix)
    assert sorted((a.perms, a.id.scheme, a.id.id) for a in acls) == [(1, "digest", "bob:x"), (31, "digest", "alice:x")]
    full, _ = owner.get_acls(prefix)
    assert {a.id.id for a in full} == {digest_id(USER, PW), digest_id("bob", "pw2")}


PERM_OPS = {
    "read": Permissions.READ,
    "list": Permissions.READ,
    "write": Permissions.WRITE,
    "create": Permissions.CREATE,
    "delete": Permissions.DELETE,
    "admin": Permissions.ADMIN,
}


def _run(op, c, node):
    if op == "read":
        c.get(node)
    elif op == "list":
        c.get_children(node)
    elif op == "write":
        c.set(node, b"w")
    elif op == "create":
        c.create(f"{node}/new")
    elif op == "delete":
        c.delete(f"{node}/existing")
    elif op == "admin":
        c.set_acls(node, c.get_acls(node)[0])


@pytest.mark.parametrize("granted", ["READ", "WRITE", "CREATE", "DELETE", "ADMIN"])
def test_each_permission_bit_is_enforced(client_factory, prefix, granted):
    user = authed(client_factory)
    admin = client_factory()
    admin.create(f"{prefix}/existing", makepath=True)
    perm = getattr(Permissions, granted)
    admin.set_acls(prefix, [ACL(perm, Id("digest", digest_id(USER, PW))), ACL(0, Id("world", "anyone"))])
    for op, needed in PERM_OPS.items():
        if needed == perm:
            _run(op, user, prefix)
        else:
            with pytest.raises(NoAuthError):
                _run(op, user, prefix)


def test_world_read_only_acl(client_factory, prefix):
    creator = client_factory()
    creator.create(prefix, b"ro", acl=READ_ACL_UNSAFE)
    assert creator.get(prefix)[0] == b"ro"
    with pytest.raises(NoAuthError):
        creator.set(prefix, b"x")
    with pytest.raises(NoAuthError):
        creator.create(f"{prefix}/c")
    with pytest.raises(NoAuthError):
        creator.set_acls(prefix, OPEN_ACL_UNSAFE)
    # deleting the node itself needs DELETE on the parent ("/" is open), not on the node
    creator.delete(prefix)
    assert creator.exists(prefix) is None


def test_auth_scheme_expands_to_callers_ids(client_factory, prefix):
    anon = client_factory()
    with pytest.raises(InvalidACLError):
        anon.create(prefix, acl=CREATOR_ALL_ACL)
    assert anon.exists(prefix) is None
    user = client_factory()
    user.add_auth("digest", f"{USER}:{PW}")
    user.add_auth("digest", "bob:pw2")
    user.create(prefix, acl=CREATOR_ALL_ACL)
    acls, _ = user.get_acls(prefix)
    assert sorted((a.perms, a.id.scheme, a.id.id) for a in acls) == sorted(
        [(31, "digest", digest_id(USER, PW)), (31, "digest", digest_id("bob", "pw2"))]
    )


@pytest.mark.parametrize(
    "acl",
    [
        [],
        [(31, "digest", "no-colon-here")],
        [(31, "nosuchscheme", "x")],
        [(31, "ip", "not.an.ip")],
        [(31, "world", "someone")],
    ],
    ids=["empty", "digest-format", "unknown-scheme", "bad-ip", "world-not-anyone"],
)
def test_invalid_acls_rejected(kz, prefix, acl):
    with pytest.raises(InvalidACLError):
        kazoo_call(kz, RawCreate(prefix, b"", acl, 0))
    assert kz.exists(prefix) is None


def test_set_acl_invalid_acl_rejected(kz, prefix):
    kz.create(prefix)
    with pytest.raises(InvalidACLError):
        kz.set_acls(prefix, [make_acl("digest", "broken")])
    assert kz.get_acls(prefix)[1].aversion == 0


def test_duplicate_acl_entries_are_collapsed(kz, prefix):
    kz.create(prefix, acl=[make_acl("world", "anyone", all=True), make_acl("world", "anyone", all=True)])
    assert kz.get_acls(prefix)[0] == OPEN_ACL_UNSAFE


def test_ip_acl(kz, prefix):
    kz.create(prefix)
    kz.create(f"{prefix}/local", b"l", acl=[make_acl("ip", "127.0.0.1", read=True)])
    kz.create(f"{prefix}/subnet", b"s", acl=[make_acl("ip", "127.0.0.0/8", read=True)])
    kz.create(f"{prefix}/elsewhere", b"e", acl=[make_acl("ip", "10.11.12.13", read=True)])
    assert kz.get(f"{prefix}/local")[0] == b"l"
    assert kz.get(f"{prefix}/subnet")[0] == b"s"
    with pytest.raises(NoAuthError):
        kz.get(f"{prefix}/elsewhere")
    with pytest.raises(NoAuthError):
        kz.set(f"{prefix}/local", b"x")  # READ only


def test_set_acl_version_checks(kz, prefix):
    kz.create(prefix)
    with pytest.raises(BadVersionError):
        kz.set_acls(prefix, READ_ACL_UNSAFE, version=3)
    st = kz.set_acls(prefix, OPEN_ACL_UNSAFE, version=0)
    assert st.aversion == 1 and st.version == 0 and st.cversion == 0
    st = kz.set_acls(prefix, OPEN_ACL_UNSAFE, version=-1)
    assert st.aversion == 2
    assert kz.get_acls(prefix)[1].aversion == 2
    with pytest.raises(NoNodeError):
        kz.set_acls(f"{prefix}/missing", OPEN_ACL_UNSAFE)


def test_super_digest_user_sees_everything(client_factory, prefix):
    owner = authed(client_factory)
    owner.create(prefix, b"hidden", acl=[make_digest_acl(USER, PW, all=True)])
    owner.create(f"{prefix}/child", acl=[make_digest_acl(USER, PW, read=True)])
    root = authed(client_factory, SUPER_USER, SUPER_PASSWORD)
    assert root.get(prefix)[0] == b"hidden"
    root.set(prefix, b"overwritten")
    root.set(f"{prefix}/child", b"even without WRITE")
    root.delete(f"{prefix}/child")
    root.set_acls(prefix, OPEN_ACL_UNSAFE)
    assert client_factory().get(prefix)[0] == b"overwritten"


def test_wrong_super_password_is_just_a_digest_id(client_factory, prefix):
    owner = authed(client_factory)
    owner.create(prefix, acl=[make_digest_acl(USER, PW, all=True)])
    fake = authed(client_factory, SUPER_USER, "wrong")
    with pytest.raises(NoAuthError):
        fake.get(prefix)


def test_unknown_auth_scheme_fails_the_connection(client_factory, zk):
    c = client_factory()
    with pytest.raises(AuthFailedError):
        c.add_auth("nosuchscheme", "whatever")
    # on the wire: the auth reply carries xid -4 and AUTHFAILED, then the server closes the connection
    with RawConn(zk.port) as raw:
        raw.connect()
        raw.send_frame(struct.pack("!ii", -4, OP_AUTH) + Out().int(0).str("nosuchscheme").buf(b"x").bytes())
        rep = raw.read_reply()
        assert (rep.xid, rep.err) == (-4, -115)
        assert raw.closed_by_server()
