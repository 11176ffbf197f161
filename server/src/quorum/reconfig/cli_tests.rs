#![allow(clippy::unwrap_used)]

use super::*;

fn usage_of(args: &[&str]) -> String {
    match ReconfigArgs::parse(args.iter().copied()) {
        Err(ReconfigCliError::Usage(m)) => m,
        other => panic!("{args:?}: expected a usage error, got {other:?}"),
    }
}

#[test]
fn incremental_options_like_zkcli() {
    let a = ReconfigArgs::parse([
        "-add",
        "Server.4=ZK4:2888:3888;2181",
        "-remove",
        "3",
        "-v",
        "100000002",
        "-s",
        "-server",
        "127.0.0.1:2181",
        "--auth",
        "digest:super:pw",
    ])
    .unwrap();
    assert_eq!(a.server, "127.0.0.1:2181");
    assert!(a.stats);
    assert_eq!(a.auth, vec![("digest".to_string(), b"super:pw".to_vec())]);
    assert_eq!(
        a.op,
        ReconfigOp {
            joining: Some("server.4=zk4:2888:3888;2181".into()),
            leaving: Some("3".into()),
            new_members: None,
            from_config: 0x1_0000_0002,
        }
    );
    let b = ReconfigArgs::parse(["--remove", "2"]).unwrap();
    assert_eq!(b.server, DEFAULT_SERVER);
    assert_eq!(b.op.from_config, -1);
    assert_eq!(b.op.joining, None);
}

#[test]
fn members_and_file() {
    let a = ReconfigArgs::parse(["-members", "server.1=A:1:2;3,server.2=b:4:5;6"]).unwrap();
    assert_eq!(
        a.op.new_members.as_deref(),
        Some("server.1=a:1:2;3,server.2=b:4:5;6")
    );
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("new.cfg");
    std::fs::write(&f, "server.2=b:4:5;6\nserver.1=a:1:2:observer\n").unwrap();
    let a = ReconfigArgs::parse(["-file", f.to_str().unwrap()]).unwrap();
    assert_eq!(
        a.op.new_members.as_deref(),
        Some("server.1=a:1:2:observer\nserver.2=b:4:5:participant;0.0.0.0:6\nversion=0")
    );
    std::fs::write(&f, "server.1=a:1\n").unwrap();
    assert!(usage_of(&["-file", f.to_str().unwrap()]).starts_with("Error processing "));
    assert!(usage_of(&["-file", "/nonexistent/zk.cfg"]).starts_with("Error processing "));
}

#[test]
fn usage_errors_match_zkcli() {
    assert_eq!(usage_of(&[]), USAGE);
    assert_eq!(usage_of(&["-s", "-v", "1"]), USAGE);
    assert_eq!(
        usage_of(&["-remove", "1", "-v", "xyz"]),
        "-v must be followed by a long (configuration version)"
    );
    assert!(usage_of(&["-members", "server.1=a:1:2;3", "-add", "x"])
        .starts_with("Can't use -file or -members together with -add or -remove"));
    assert!(usage_of(&["-members", "m", "-file", "f"]).starts_with("Can't use -file and -members"));
    assert_eq!(
        usage_of(&["-remove"]),
        "Missing argument for option: remove"
    );
    assert_eq!(usage_of(&["-bogus", "1"]), "Unrecognized option: -bogus");
    assert_eq!(usage_of(&["stray"]), "unexpected argument 'stray'");
    assert!(usage_of(&["-remove", "1", "--auth", "nocolon"]).contains("scheme:credentials"));
}

#[test]
fn error_messages_as_zkcli_prints_them() {
    let api = |c| zkcli_message(&ClientError::Api(c));
    assert_eq!(
        api(ErrorCode::ReconfigDisabled),
        "KeeperErrorCode = Reconfig is disabled"
    );
    assert_eq!(
        api(ErrorCode::Unimplemented),
        "KeeperErrorCode = Unimplemented"
    );
    assert_eq!(
        api(ErrorCode::BadArguments),
        "Arguments are not valid : null"
    );
    assert_eq!(api(ErrorCode::NoAuth), "Insufficient permission : null");
    assert_eq!(api(ErrorCode::BadVersion), "version No is not valid : null");
    assert!(api(ErrorCode::NewConfigNoQuorum).starts_with("No quorum of new config"));
    assert!(api(ErrorCode::ReconfigInProgress).starts_with("Another reconfiguration"));
    assert_eq!(
        zkcli_message(&ClientError::ConnectionLoss),
        "KeeperErrorCode = ConnectionLoss"
    );
    assert_eq!(
        ReconfigCliError::from(ClientError::Api(ErrorCode::ReconfigDisabled)).to_string(),
        "KeeperErrorCode = Reconfig is disabled"
    );
}

#[test]
fn stat_printed_like_statprinter() {
    let s = Stat {
        czxid: 0,
        mzxid: 0x1_0000_0005,
        ctime: 0,
        mtime: 1_000,
        version: -1,
        cversion: 0,
        aversion: -1,
        ephemeral_owner: 0,
        data_length: 42,
        num_children: 0,
        pzxid: 0,
    };
    assert_eq!(
        render_stat(&s),
        "cZxid = 0x0\nctime = Thu Jan 01 00:00:00 UTC 1970\nmZxid = 0x100000005\n\
         mtime = Thu Jan 01 00:00:01 UTC 1970\npZxid = 0x0\ncversion = 0\ndataVersion = -1\n\
         aclVersion = -1\nephemeralOwner = 0x0\ndataLength = 42\nnumChildren = 0\n"
    );
}
