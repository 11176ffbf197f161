#![allow(clippy::unwrap_used)]

use super::*;
use crate::proto::jute::Jute;

fn three() -> QuorumConfig {
    let props = Properties::parse(
        "server.1=127.0.0.1:2801:3801:participant;127.0.0.1:2181\n\
         server.2=127.0.0.1:2802:3802:participant;127.0.0.1:2182\n\
         server.3=127.0.0.1:2803:3803:participant;127.0.0.1:2183\n\
         version=100000000\n",
    )
    .unwrap();
    QuorumConfig::from_properties(&props, true, false).unwrap()
}

fn ids(v: &[u64]) -> BTreeSet<u64> {
    v.iter().copied().collect()
}

struct Fixture {
    committed: QuorumConfig,
    last_seen: QuorumConfig,
    synced: BTreeSet<u64>,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            committed: three(),
            last_seen: three(),
            synced: ids(&[1, 2, 3]),
        }
    }

    fn ctx(&self) -> ReconfigContext<'_> {
        ReconfigContext {
            reconfig_enabled: true,
            standalone_enabled: true,
            multi_address_enabled: false,
            committed: &self.committed,
            last_seen: &self.last_seen,
            synced: &self.synced,
            may_write_config: true,
            zxid: 0x1_0000_0005,
        }
    }
}

fn incremental(joining: Option<&str>, leaving: Option<&str>) -> ReconfigOp {
    ReconfigOp {
        joining: joining.map(str::to_string),
        leaving: leaving.map(str::to_string),
        new_members: None,
        from_config: -1,
    }
}

fn code_of(op: &ReconfigOp, ctx: &ReconfigContext<'_>) -> i32 {
    prepare_reconfig(op, ctx).unwrap_err().code().code()
}

#[test]
fn add_a_server_gives_byte_exact_text_and_txn() {
    let f = Fixture::new();
    let op = incremental(Some("server.4=127.0.0.1:2804:3804;2184"), None);
    let p = prepare_reconfig(&op, &f.ctx()).unwrap();
    let expected = "server.1=127.0.0.1:2801:3801:participant;127.0.0.1:2181\n\
                    server.2=127.0.0.1:2802:3802:participant;127.0.0.1:2182\n\
                    server.3=127.0.0.1:2803:3803:participant;127.0.0.1:2183\n\
                    server.4=127.0.0.1:2804:3804:participant;0.0.0.0:2184\n\
                    version=100000005";
    assert_eq!(p.text, expected);
    assert_eq!(p.config.version, 0x1_0000_0005);
    assert_eq!(p.verifier.voters(), &ids(&[1, 2, 3, 4]));
    assert_eq!(p.txn.path, "/zookeeper/config");
    assert_eq!(p.txn.version, -1);
    assert_eq!(p.txn.data.as_deref(), Some(expected.as_bytes()));
    // The txn record: path, data buffer, version.
    let mut bytes = Vec::new();
    p.txn.write_to(&mut bytes);
    assert_eq!(&bytes[..4], &17i32.to_be_bytes());
    assert_eq!(&bytes[bytes.len() - 4..], &(-1i32).to_be_bytes());
}

#[test]
fn remove_and_role_and_client_changes() {
    let f = Fixture::new();
    // Remove 3, turn 2 into an observer at a new client address: 1 is then the only voter,
    // which standaloneEnabled refuses...
    let op = incremental(
        Some("server.2=127.0.0.1:2802:3802:observer;127.0.0.1:2282"),
        Some("3"),
    );
    assert_eq!(code_of(&op, &f.ctx()), -8);
    // ...but with standaloneEnabled=false one voter is enough.
    let mut ctx = f.ctx();
    ctx.standalone_enabled = false;
    let p = prepare_reconfig(&op, &ctx).unwrap();
    assert_eq!(
        p.text,
        "server.1=127.0.0.1:2801:3801:participant;127.0.0.1:2181\n\
         server.2=127.0.0.1:2802:3802:observer;127.0.0.1:2282\n\
         version=100000005"
    );
    // Leaving list with blanks and empty parts, as Java's StringUtils.split allows.
    let op = incremental(None, Some(" 3 ,, "));
    let p = prepare_reconfig(&op, &f.ctx()).unwrap();
    assert_eq!(p.verifier.voters(), &ids(&[1, 2]));
    // Unknown leavers are ignored.
    let op = incremental(None, Some("9"));
    assert_eq!(
        prepare_reconfig(&op, &f.ctx())
            .unwrap()
            .config
            .servers
            .len(),
        3
    );
}

#[test]
fn non_incremental_members() {
    let f = Fixture::new();
    let op = ReconfigOp {
        new_members: Some(
            "server.1=127.0.0.1:2801:3801:participant;127.0.0.1:2181,\
             server.2=127.0.0.1:2802:3802;2182,server.5=127.0.0.1:2805:3805:observer,version=9"
                .into(),
        ),
        // Ignored in this mode.
        joining: Some("garbage".into()),
        leaving: Some("x".into()),
        from_config: 0x1_0000_0000,
    };
    let p = prepare_reconfig(&op, &f.ctx()).unwrap();
    assert_eq!(
        p.text,
        "server.1=127.0.0.1:2801:3801:participant;127.0.0.1:2181\n\
         server.2=127.0.0.1:2802:3802:participant;0.0.0.0:2182\n\
         server.5=127.0.0.1:2805:3805:observer\n\
         version=100000005"
    );
    let bad = |m: &str| ReconfigOp {
        new_members: Some(m.into()),
        from_config: -1,
        ..ReconfigOp::default()
    };
    let f2 = Fixture::new();
    let mut ctx = f2.ctx();
    ctx.synced = &f.synced;
    for (members, code) in [
        ("server.1=127.0.0.1:2801:3801;2181,tickTime=2", -8),
        ("server.1=127.0.0.1:2801:3801;2181,group.1=1", -8),
        ("server.1=127.0.0.1:2801", -8),
        ("server.x=127.0.0.1:2801:3801", -5),
        ("server.1=127.0.0.1:2801:3801,version=zz", -5),
        ("server.1=127.0.0.1:2801:3801,server.4=a:1:2:observer", -5),
        ("server.1=127.0.0.1:2801:3801", -8),
        ("", -8),
    ] {
        assert_eq!(code_of(&bad(members), &ctx), code, "{members}");
    }
}

#[test]
fn error_codes_in_apache_order() {
    let mut f = Fixture::new();
    let ok = incremental(Some("server.4=127.0.0.1:2804:3804;2184"), None);

    let mut ctx = f.ctx();
    ctx.reconfig_enabled = false;
    assert_eq!(code_of(&ok, &ctx), -123);

    // Disabled wins over everything else.
    ctx.may_write_config = false;
    assert_eq!(code_of(&ok, &ctx), -123);

    // Version check against the last seen config; -1 skips it.
    let mut stale = ok.clone();
    stale.from_config = 0x1;
    let err = prepare_reconfig(&stale, &f.ctx()).unwrap_err();
    assert_eq!(err.code().code(), -103);
    assert_eq!(
        err.to_string(),
        "Reconfiguration from version 1 failed -- last seen version is 100000000"
    );
    let mut exact = ok.clone();
    exact.from_config = 0x1_0000_0000;
    assert!(prepare_reconfig(&exact, &f.ctx()).is_ok());

    // No quorum of the new voters synced: 4 and 5 are not connected yet.
    let two_new = incremental(
        Some("server.4=127.0.0.1:2804:3804;2184,server.5=127.0.0.1:2805:3805;2185"),
        Some("3"),
    );
    f.synced = ids(&[1, 2]);
    assert_eq!(code_of(&two_new, &f.ctx()), -13);
    f.synced = ids(&[1, 2, 4]);
    assert!(prepare_reconfig(&two_new, &f.ctx()).is_ok());
    // Synced observers do not count.
    f.synced = ids(&[1, 9]);
    assert_eq!(code_of(&ok, &f.ctx()), -13);
    f.synced = ids(&[1, 2, 3]);

    // Authorisation is checked last.
    let mut ctx = f.ctx();
    ctx.may_write_config = false;
    assert_eq!(code_of(&ok, &ctx), -102);
    assert_eq!(code_of(&incremental(None, Some("1,2,3")), &ctx), -8);

    // In progress: the last seen config is newer than the committed one.
    f.last_seen.version = 0x1_0000_0003;
    assert_eq!(code_of(&ok, &f.ctx()), -14);
}

#[test]
fn bad_incremental_arguments() {
    let f = Fixture::new();
    for (joining, leaving, code) in [
        // Leaving the whole ensemble.
        (None, Some("1,2,3"), -8),
        (None, Some("1,2"), -8),
        (None, Some("two"), -5),
        (Some("server.4"), None, -8),
        (Some("server.4=a=b"), None, -8),
        (Some("server.x=127.0.0.1:2804:3804;2184"), None, -5),
        // No client port.
        (Some("server.4=127.0.0.1:2804:3804"), None, -8),
        (Some("server.4=127.0.0.1:2804;2184"), None, -8),
        (Some("server.4=127.0.0.1:2804:3804:leader;2184"), None, -8),
    ] {
        let op = incremental(joining, leaving);
        assert_eq!(code_of(&op, &f.ctx()), code, "{joining:?} {leaving:?}");
    }
    // "4=..." without the "server." prefix is accepted, as Apache takes what follows the
    // last dot (or the whole key).
    let op = incremental(Some("4=127.0.0.1:2804:3804;2184"), None);
    assert!(prepare_reconfig(&op, &f.ctx()).is_ok());
}

#[test]
fn address_conflicts_except_wildcard_and_loopback() {
    let mut f = Fixture::new();
    let props = Properties::parse(
        "server.1=10.1.0.1:2888:3888;10.1.0.1:2181\n\
         server.2=10.1.0.2:2888:3888;10.1.0.2:2181\n\
         server.3=zk3.example:2888:3888;2181\n",
    )
    .unwrap();
    f.committed = QuorumConfig::from_properties(&props, true, false).unwrap();
    f.last_seen = f.committed.clone();
    let clash = incremental(Some("server.4=10.1.0.2:2181:3889;2182"), None);
    let err = prepare_reconfig(&clash, &f.ctx()).unwrap_err();
    assert_eq!(err.code().code(), -8);
    assert!(
        err.to_string().contains("server.4") && err.to_string().contains("server.2"),
        "{err}"
    );
    let by_name = incremental(Some("server.4=ZK3.example:2888:3999;2182"), None);
    assert_eq!(code_of(&by_name, &f.ctx()), -8);
    // Replacing server 2 with itself at the same addresses is fine (same id is skipped).
    let same = incremental(
        Some("server.2=10.1.0.2:2888:3888:observer;10.1.0.2:2181"),
        None,
    );
    assert!(prepare_reconfig(&same, &f.ctx()).is_ok());
    // Wildcard client addresses (port-only client parts) never conflict.
    let wildcard = incremental(Some("server.4=10.1.0.4:2888:3888;2181"), None);
    assert!(prepare_reconfig(&wildcard, &f.ctx()).is_ok());
    // A leaver's addresses are free for a joiner in the same request.
    let reuse = incremental(Some("server.4=10.1.0.2:2888:3888;2182"), Some("2"));
    assert!(prepare_reconfig(&reuse, &f.ctx()).is_ok());
}

#[test]
fn request_codec_keeps_nulls() {
    let op = ReconfigOp {
        joining: Some("server.4=a:1:2;3".into()),
        leaving: None,
        new_members: Some(String::new()),
        from_config: -1,
    };
    let bytes = op.encode();
    assert_eq!(ReconfigOp::decode(Bytes::from(bytes.clone())).unwrap(), op);
    // Same wire layout as the generated ReconfigRequest when no field is null.
    let full = ReconfigOp {
        joining: Some("j".into()),
        leaving: Some("l".into()),
        new_members: Some("m".into()),
        from_config: 0x1234,
    };
    let rec = crate::proto::records::ReconfigRequest {
        joining_servers: "j".into(),
        leaving_servers: "l".into(),
        new_members: "m".into(),
        cur_config_id: 0x1234,
    };
    assert_eq!(full.encode(), rec.to_bytes());
    assert!(ReconfigOp::decode(Bytes::from_static(&[0, 0])).is_err());
}
