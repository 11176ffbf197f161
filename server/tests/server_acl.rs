//! ACLs on the real `zkserver`: world/auth/digest/ip schemes, every permission bit, the super
//! digest from `SERVER_JVMFLAGS`, setACL versions and who may read an ACL.
#![allow(clippy::unwrap_used)]

mod common;

use common::util::{connect, digest_id, open};
use common::zkserver::ZkServer;
use zkserver::client::{Client, ClientError};
use zkserver::proto::codes::{perms, CreateMode, ErrorCode};
use zkserver::proto::records::Acl;

fn no_auth<T: std::fmt::Debug>(r: Result<T, ClientError>) {
    assert!(
        matches!(r, Err(ClientError::Api(ErrorCode::NoAuth))),
        "expected NoAuth, got {r:?}"
    );
}

fn world(p: i32) -> Vec<Acl> {
    vec![Acl::new(p, "world", "anyone")]
}

/// Which of read/write/create/delete/admin `c` may do on `base` (which has a child `k` and
/// the ACL `acl`).
async fn allowed(c: &Client, base: &str, acl: &[Acl]) -> [bool; 5] {
    let read = c.get_data(base, false).await.is_ok();
    let children = c.get_children(base, false).await.is_ok();
    assert_eq!(read, children, "getChildren needs READ like getData");
    let write = c.set_data(base, b"w", -1).await.is_ok();
    let create = c
        .create(&format!("{base}/new"), b"", &open(), CreateMode::Persistent)
        .await
        .is_ok();
    let delete = c.delete(&format!("{base}/k"), -1).await.is_ok();
    // Re-setting the same ACL changes nothing but needs ADMIN.
    let admin = c.set_acl(base, acl, -1).await.is_ok();
    [read, write, create, delete, admin]
}

#[tokio::test]
async fn each_permission_bit_allows_exactly_its_operation() {
    let zk = ZkServer::start_default();
    let (c, _rx) = connect(&zk.addr()).await;
    let bits = [
        perms::READ,
        perms::WRITE,
        perms::CREATE,
        perms::DELETE,
        perms::ADMIN,
    ];
    for (i, bit) in bits.into_iter().enumerate() {
        let base = format!("/n{bit}");
        c.create(&base, b"", &open(), CreateMode::Persistent)
            .await
            .unwrap();
        c.create(&format!("{base}/k"), b"", &open(), CreateMode::Persistent)
            .await
            .unwrap();
        c.set_acl(&base, &world(bit), -1).await.unwrap();
        let got = allowed(&c, &base, &world(bit)).await;
        let mut want = [false; 5];
        want[i] = true;
        assert_eq!(got, want, "perm bit {bit}");
        // Since 3.9 exists on an existing node needs READ too (3.8 checked nothing).
        let ex = c.exists(&base, false).await;
        if bit == perms::READ {
            assert!(ex.unwrap().is_some());
        } else {
            no_auth(ex);
        }
        assert_eq!(
            c.exists(&format!("{base}/none"), false).await.unwrap(),
            None
        );
    }
    // Deleting a node is governed by its parent's ACL, not its own.
    no_auth(c.delete("/n16/k", -1).await);
    no_auth(c.delete("/n1/k", -1).await);
    c.create("/open", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    c.create("/open/locked", b"", &world(0), CreateMode::Persistent)
        .await
        .unwrap();
    c.delete("/open/locked", -1).await.unwrap();
}

#[tokio::test]
async fn digest_auth_and_ip_schemes() {
    let zk = ZkServer::start_default();
    let (owner, _rx) = connect(&zk.addr()).await;
    let (other, _rx2) = connect(&zk.addr()).await;

    // "auth" without any authenticated id is invalid.
    assert!(matches!(
        owner
            .create(
                "/a",
                b"",
                &[Acl::new(perms::ALL, "auth", "")],
                CreateMode::Persistent
            )
            .await,
        Err(ClientError::Api(ErrorCode::InvalidAcl))
    ));
    owner.add_auth("digest", b"alice:secret").await.unwrap();
    owner
        .create(
            "/a",
            b"x",
            &[Acl::new(perms::ALL, "auth", "")],
            CreateMode::Persistent,
        )
        .await
        .unwrap();
    let (acl, _) = owner.get_acl("/a").await.unwrap();
    assert_eq!(
        acl,
        vec![Acl::new(
            perms::ALL,
            "digest",
            &digest_id("alice", "secret")
        )]
    );
    no_auth(other.get_data("/a", false).await);
    other.add_auth("digest", b"alice:wrong").await.unwrap();
    no_auth(other.get_data("/a", false).await);
    other.add_auth("digest", b"alice:secret").await.unwrap();
    other.get_data("/a", false).await.unwrap();
    let who = other.who_am_i().await.unwrap();
    assert!(
        who.contains(&("digest".to_string(), "alice".to_string())),
        "{who:?}"
    );

    // A digest ACL written directly.
    owner
        .create(
            "/d",
            b"",
            &[Acl::new(perms::READ, "digest", &digest_id("bob", "pw"))],
            CreateMode::Persistent,
        )
        .await
        .unwrap();
    no_auth(owner.get_data("/d", false).await);

    // ip: exact, CIDR match and mismatch, bad address.
    for (id, ok) in [
        ("127.0.0.1", true),
        ("127.0.0.0/8", true),
        ("10.0.0.0/8", false),
        ("127.0.0.2", false),
    ] {
        let p = format!("/ip-{}", id.replace('/', "_"));
        owner
            .create(
                &p,
                b"",
                &[Acl::new(perms::READ, "ip", id)],
                CreateMode::Persistent,
            )
            .await
            .unwrap();
        let r = other.get_data(&p, false).await;
        assert_eq!(r.is_ok(), ok, "ip {id}: {r:?}");
    }
    for bad in ["300.1.1.1", "1.2.3.4/40", "nonsense"] {
        assert!(
            matches!(
                owner
                    .create(
                        "/bad",
                        b"",
                        &[Acl::new(perms::READ, "ip", bad)],
                        CreateMode::Persistent
                    )
                    .await,
                Err(ClientError::Api(ErrorCode::InvalidAcl))
            ),
            "ip {bad}"
        );
    }
    // Unknown scheme and empty ACL list are invalid.
    assert!(matches!(
        owner
            .create(
                "/bad",
                b"",
                &[Acl::new(perms::READ, "nope", "x")],
                CreateMode::Persistent
            )
            .await,
        Err(ClientError::Api(ErrorCode::InvalidAcl))
    ));
    assert!(matches!(
        owner.create("/bad", b"", &[], CreateMode::Persistent).await,
        Err(ClientError::Api(ErrorCode::InvalidAcl))
    ));
    // Bad auth data for an unknown scheme fails the session.
    let (bad, _rx3) = connect(&zk.addr()).await;
    assert!(bad.add_auth("nosuchscheme", b"x").await.is_err());
}

#[tokio::test]
async fn super_digest_bypasses_acls() {
    let zk = ZkServer::builder()
        .prop(
            "zookeeper.DigestAuthenticationProvider.superDigest",
            digest_id("super", "adminpw"),
        )
        .start();
    let (c, _rx) = connect(&zk.addr()).await;
    c.create(
        "/locked",
        b"s",
        &[Acl::new(perms::ALL, "digest", &digest_id("x", "y"))],
        CreateMode::Persistent,
    )
    .await
    .unwrap();
    no_auth(c.get_data("/locked", false).await);
    let (su, _rx2) = connect(&zk.addr()).await;
    su.add_auth("digest", b"super:wrongpw").await.unwrap();
    no_auth(su.get_data("/locked", false).await);
    su.add_auth("digest", b"super:adminpw").await.unwrap();
    assert_eq!(
        su.get_data("/locked", false).await.unwrap().0.as_deref(),
        Some(&b"s"[..])
    );
    su.set_acl("/locked", &open(), -1).await.unwrap();
    c.get_data("/locked", false).await.unwrap();
}

#[tokio::test]
async fn set_acl_versions_and_get_acl_rights() {
    let zk = ZkServer::start_default();
    let (c, _rx) = connect(&zk.addr()).await;
    c.create("/v", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    let st = c.set_acl("/v", &world(perms::ALL), 0).await.unwrap();
    assert_eq!(st.aversion, 1);
    assert_eq!(st.version, 0, "setACL leaves the data version alone");
    assert!(matches!(
        c.set_acl("/v", &open(), 0).await,
        Err(ClientError::Api(ErrorCode::BadVersion))
    ));
    let st = c
        .set_acl("/v", &world(perms::READ | perms::ADMIN), 1)
        .await
        .unwrap();
    assert_eq!(st.aversion, 2);
    let (acl, st2) = c.get_acl("/v").await.unwrap();
    assert_eq!(acl, world(perms::READ | perms::ADMIN));
    assert_eq!(st2.aversion, 2);
    assert!(matches!(
        c.set_acl("/missing", &open(), -1).await,
        Err(ClientError::Api(ErrorCode::NoNode))
    ));

    // getACL needs READ or ADMIN.
    for (p, ok) in [
        (perms::READ, true),
        (perms::ADMIN, true),
        (perms::WRITE | perms::CREATE | perms::DELETE, false),
    ] {
        let path = format!("/g{p}");
        c.create(&path, b"", &world(p), CreateMode::Persistent)
            .await
            .unwrap();
        let r = c.get_acl(&path).await;
        if ok {
            assert_eq!(r.unwrap().0, world(p));
        } else {
            no_auth(r);
        }
    }
}
