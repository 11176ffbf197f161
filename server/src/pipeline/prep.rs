//! Prep: turns a write request into a txn, checking it against the outstanding state exactly as
//! Apache's PrepRequestProcessor does (same checks, same order, same error codes). Every value a
//! txn carries (final path, versions, parent cversion, time) is decided here, so applying it is
//! deterministic on every server.

use std::sync::Arc;

use bytes::Bytes;

use super::pending::Overlay;
use crate::auth::AuthInfo;
use crate::proto::codes::{op, perms, CreateMode, EphemeralKind, MAX_TTL};
use crate::proto::jute::{Jute, JuteReader};
use crate::proto::records::{
    CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, MultiHeader,
    SetAclRequest, SetDataRequest, StatPersisted,
};
use crate::proto::txn::{
    CheckVersionTxn, CreateContainerTxn, CreateTtlTxn, CreateTxn, DeleteTxn, ErrorTxn, SetAclTxn,
    SetDataTxn, TxnBody,
};
use crate::proto::ErrorCode;
use crate::tree::{parent_of, validate_path, NodeMeta};

/// What prep needs to know about the request and the server.
pub struct PrepContext<'a> {
    pub auth: &'a AuthInfo,
    pub session: i64,
    pub zxid: i64,
    pub time: i64,
    pub extended_types_enabled: bool,
    pub max_buffer: usize,
    /// `zookeeper.enforceQuota`: hard quota limits reject writes only when set (Apache's
    /// default is false: exceeding a quota is merely logged).
    pub enforce_quota: bool,
}

/// Is `op` a request that becomes a txn?
pub fn is_write(op: i32) -> bool {
    matches!(
        op,
        op::CREATE
            | op::CREATE2
            | op::CREATE_CONTAINER
            | op::CREATE_TTL
            | op::DELETE
            | op::SET_DATA
            | op::SET_ACL
            | op::MULTI
            | op::CLOSE_SESSION
            | op::RECONFIG
    )
}

fn reader(body: Bytes, ctx: &PrepContext) -> JuteReader {
    JuteReader::with_max_len(body, 2 * ctx.max_buffer)
}

/// Apache's checkAndIncVersion: −1 matches anything; versions wrap at 2^31 and skip −1,
/// which a client could not ask for (ZOOKEEPER-4743).
fn check_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(match current.wrapping_add(1) {
        -1 => 0,
        v => v,
    })
}

fn record(ov: &Overlay, path: &str) -> Result<NodeMeta, ErrorCode> {
    ov.get(path).ok_or(ErrorCode::NoNode)
}

/// Paths no client may delete.
fn is_reserved(path: &str) -> bool {
    matches!(
        path,
        "/" | "/zookeeper" | "/zookeeper/quota" | "/zookeeper/config"
    )
}

/// The parent of a path to create, with Apache's cheap pre-checks (the full path is
/// validated once any sequence suffix is added).
fn parent_for_create(path: &str) -> Result<&str, ErrorCode> {
    match path.rfind('/') {
        Some(_) if !path.contains('\0') => Ok(parent_of(path)),
        _ => Err(ErrorCode::BadArguments),
    }
}

/// A create of any flavour (create, create2, createContainer, createTTL).
fn prep_create(
    kind: i32,
    req: CreateTtlRequest,
    ctx: &PrepContext,
    ov: &mut Overlay,
) -> Result<TxnBody, ErrorCode> {
    let mode = CreateMode::from_flags(req.flags).ok_or(ErrorCode::BadArguments)?;
    if mode.is_ttl() && !ctx.extended_types_enabled {
        return Err(ErrorCode::Unimplemented);
    }
    if mode.is_ttl() {
        if req.ttl <= 0 || req.ttl > MAX_TTL {
            return Err(ErrorCode::BadArguments);
        }
    } else if req.ttl >= 0 {
        return Err(ErrorCode::BadArguments);
    }
    // The opcode and the mode must agree: containers only via createContainer, TTL only via createTTL.
    if (kind == op::CREATE_CONTAINER) != mode.is_container()
        || (kind == op::CREATE_TTL) != mode.is_ttl()
    {
        return Err(ErrorCode::BadArguments);
    }
    let parent_path = parent_for_create(&req.path)?.to_string();
    let acl = ctx.auth.fixup_acl(&req.acl)?;
    let parent = record(ov, &parent_path)?;
    ctx.auth.check(&parent.acl, perms::CREATE)?;
    let parent_cversion = parent.stat.cversion;
    let mut path = req.path;
    if mode.is_sequential() {
        path.push_str(&format!("{:010}", parent_cversion));
    }
    validate_path(&path)?;
    if ov.get(&path).is_some() {
        return Err(ErrorCode::NodeExists);
    }
    if matches!(
        EphemeralKind::of(parent.stat.ephemeral_owner),
        EphemeralKind::Normal(_)
    ) {
        return Err(ErrorCode::NoChildrenForEphemerals);
    }
    let data_len = req.data.as_ref().map_or(0, |d| d.len());
    if ctx.enforce_quota && ov.tree.quota_exceeded(&path, data_len as i64, 1) {
        return Err(ErrorCode::QuotaExceeded);
    }
    let new_cversion = parent_cversion.wrapping_add(1);
    let owner = if mode.is_ephemeral() {
        ctx.session
    } else if mode.is_container() {
        crate::proto::codes::CONTAINER_EPHEMERAL_OWNER
    } else if mode.is_ttl() {
        EphemeralKind::ttl_owner(req.ttl)
    } else {
        0
    };
    let mut parent2 = parent.clone();
    parent2.num_children += 1;
    parent2.stat.cversion = new_cversion;
    parent2.stat.pzxid = ctx.zxid;
    ov.set(&parent_path, Some(parent2));
    ov.set(
        &path,
        Some(NodeMeta {
            stat: StatPersisted {
                czxid: ctx.zxid,
                mzxid: ctx.zxid,
                ctime: ctx.time,
                mtime: ctx.time,
                version: 0,
                cversion: 0,
                aversion: 0,
                ephemeral_owner: owner,
                pzxid: ctx.zxid,
            },
            num_children: 0,
            acl: Arc::new(acl.clone()),
            data_len: data_len as i32,
        }),
    );
    Ok(match kind {
        op::CREATE_CONTAINER => TxnBody::CreateContainer(CreateContainerTxn {
            path,
            data: req.data,
            acl,
            parent_cversion: new_cversion,
        }),
        op::CREATE_TTL => TxnBody::CreateTtl(CreateTtlTxn {
            path,
            data: req.data,
            acl,
            parent_cversion: new_cversion,
            ttl: req.ttl,
        }),
        _ => TxnBody::Create(CreateTxn {
            path,
            data: req.data,
            acl,
            ephemeral: mode.is_ephemeral(),
            parent_cversion: new_cversion,
        }),
    })
}

fn prep_delete(
    req: DeleteRequest,
    ctx: &PrepContext,
    ov: &mut Overlay,
) -> Result<TxnBody, ErrorCode> {
    validate_path(&req.path)?;
    if is_reserved(&req.path) {
        return Err(ErrorCode::BadArguments);
    }
    let parent_path = parent_of(&req.path).to_string();
    let parent = record(ov, &parent_path)?;
    ctx.auth.check(&parent.acl, perms::DELETE)?;
    let node = record(ov, &req.path)?;
    check_version(node.stat.version, req.version)?;
    if node.num_children > 0 {
        return Err(ErrorCode::NotEmpty);
    }
    let mut parent2 = parent;
    parent2.num_children -= 1;
    parent2.stat.pzxid = ctx.zxid;
    ov.set(&parent_path, Some(parent2));
    ov.set(&req.path, None);
    Ok(TxnBody::Delete(DeleteTxn { path: req.path }))
}

fn prep_set_data(
    req: SetDataRequest,
    ctx: &PrepContext,
    ov: &mut Overlay,
) -> Result<TxnBody, ErrorCode> {
    validate_path(&req.path)?;
    let node = record(ov, &req.path)?;
    ctx.auth.check(&node.acl, perms::WRITE)?;
    let new_len = req.data.as_ref().map_or(0, |d| d.len()) as i64;
    if ctx.enforce_quota
        && ov
            .tree
            .quota_exceeded(&req.path, new_len - node.data_len as i64, 0)
    {
        return Err(ErrorCode::QuotaExceeded);
    }
    let version = check_version(node.stat.version, req.version)?;
    let mut node2 = node;
    node2.stat.version = version;
    node2.stat.mtime = ctx.time;
    node2.stat.mzxid = ctx.zxid;
    node2.data_len = new_len as i32;
    ov.set(&req.path, Some(node2));
    Ok(TxnBody::SetData(SetDataTxn {
        path: req.path,
        data: req.data,
        version,
    }))
}

fn prep_set_acl(
    req: SetAclRequest,
    ctx: &PrepContext,
    ov: &mut Overlay,
) -> Result<TxnBody, ErrorCode> {
    validate_path(&req.path)?;
    let acl = ctx.auth.fixup_acl(&req.acl)?;
    let node = record(ov, &req.path)?;
    ctx.auth.check(&node.acl, perms::ADMIN)?;
    let version = check_version(node.stat.aversion, req.version)?;
    let mut node2 = node;
    node2.stat.aversion = version;
    node2.acl = Arc::new(acl.clone());
    ov.set(&req.path, Some(node2));
    Ok(TxnBody::SetAcl(SetAclTxn {
        path: req.path,
        acl,
        version,
    }))
}

fn prep_check(
    req: CheckVersionRequest,
    ctx: &PrepContext,
    ov: &mut Overlay,
) -> Result<TxnBody, ErrorCode> {
    validate_path(&req.path)?;
    let node = record(ov, &req.path)?;
    ctx.auth.check(&node.acl, perms::READ)?;
    check_version(node.stat.version, req.version)?;
    Ok(TxnBody::Check(CheckVersionTxn {
        path: req.path,
        version: req.version,
    }))
}

/// A decoded write request (one op of a multi, or a whole single request).
enum WriteReq {
    Create(i32, CreateTtlRequest),
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    SetAcl(SetAclRequest),
    Check(CheckVersionRequest),
}

fn decode_write(kind: i32, r: &mut JuteReader) -> Result<WriteReq, ErrorCode> {
    let bad = |_| ErrorCode::MarshallingError;
    Ok(match kind {
        op::CREATE | op::CREATE2 | op::CREATE_CONTAINER => {
            let c = CreateRequest::read_from(r).map_err(bad)?;
            WriteReq::Create(
                kind,
                CreateTtlRequest {
                    path: c.path,
                    data: c.data,
                    acl: c.acl,
                    flags: c.flags,
                    ttl: -1,
                },
            )
        }
        op::CREATE_TTL => WriteReq::Create(kind, CreateTtlRequest::read_from(r).map_err(bad)?),
        op::DELETE => WriteReq::Delete(DeleteRequest::read_from(r).map_err(bad)?),
        op::SET_DATA => WriteReq::SetData(SetDataRequest::read_from(r).map_err(bad)?),
        op::SET_ACL => WriteReq::SetAcl(SetAclRequest::read_from(r).map_err(bad)?),
        op::CHECK => WriteReq::Check(CheckVersionRequest::read_from(r).map_err(bad)?),
        _ => return Err(ErrorCode::Unimplemented),
    })
}

fn prep_decoded(req: WriteReq, ctx: &PrepContext, ov: &mut Overlay) -> Result<TxnBody, ErrorCode> {
    match req {
        WriteReq::Create(kind, c) => prep_create(kind, c, ctx, ov),
        WriteReq::Delete(d) => prep_delete(d, ctx, ov),
        WriteReq::SetData(d) => prep_set_data(d, ctx, ov),
        WriteReq::SetAcl(a) => prep_set_acl(a, ctx, ov),
        WriteReq::Check(c) => prep_check(c, ctx, ov),
    }
}

/// Preps a write request. `Ok` carries the txn body and whether its changes should be kept
/// (false for a failed multi, which is still logged but changes nothing).
pub fn prep_write(
    kind: i32,
    body: Bytes,
    ctx: &PrepContext,
    ov: &mut Overlay,
) -> Result<(TxnBody, bool), ErrorCode> {
    let mut r = reader(body, ctx);
    if kind != op::MULTI {
        let req = decode_write(kind, &mut r)?;
        return prep_decoded(req, ctx, ov).map(|b| (b, true));
    }
    let mut subs = Vec::new();
    let mut failed: Option<ErrorCode> = None;
    loop {
        let h = MultiHeader::read_from(&mut r).map_err(|_| ErrorCode::MarshallingError)?;
        if h.done {
            break;
        }
        if !matches!(
            h.op,
            op::CREATE
                | op::CREATE2
                | op::CREATE_CONTAINER
                | op::CREATE_TTL
                | op::DELETE
                | op::SET_DATA
                | op::CHECK
        ) {
            // Apache fails to decode a multi that mixes reads into writes (or holds an
            // unknown op): a marshalling error.
            return Err(ErrorCode::MarshallingError);
        }
        let req = match decode_write(h.op, &mut r)? {
            // Apache rebuilds multi ops from their records: a create's opcode follows its
            // mode, so create2 becomes create (and its result carries no stat).
            WriteReq::Create(k, c) if k != op::CREATE_TTL => {
                let k = if c.flags == 4 {
                    op::CREATE_CONTAINER
                } else {
                    op::CREATE
                };
                WriteReq::Create(k, c)
            }
            other => other,
        };
        let sub_kind = match &req {
            WriteReq::Create(k, _) => *k,
            _ => h.op,
        };
        if failed.is_some() {
            // Apache does not prep ops after the first failure.
            subs.push((
                op::ERROR,
                TxnBody::Error(ErrorTxn {
                    err: ErrorCode::RuntimeInconsistency.code(),
                }),
            ));
            continue;
        }
        match prep_decoded(req, ctx, ov) {
            Ok(b) => subs.push((sub_kind, b)),
            Err(e) => {
                failed = Some(e);
                subs.push((op::ERROR, TxnBody::Error(ErrorTxn { err: e.code() })));
            }
        }
    }
    Ok((TxnBody::Multi(subs), failed.is_none()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::pending::PendingChanges;
    use crate::proto::records::{Acl, SetDataRequest};
    use crate::tree::DataTree;

    fn ctx(auth: &AuthInfo, zxid: i64) -> PrepContext<'_> {
        PrepContext {
            auth,
            session: 0x42,
            zxid,
            time: 1000,
            extended_types_enabled: false,
            max_buffer: 0xfffff,
            enforce_quota: true,
        }
    }

    fn create(path: &str, flags: i32) -> Bytes {
        Bytes::from(
            CreateRequest {
                path: path.into(),
                data: Some(Bytes::from_static(b"d")),
                acl: Acl::open_unsafe(),
                flags,
            }
            .to_bytes(),
        )
    }

    #[test]
    fn sequential_names_come_from_pending_parent_cversion() {
        let tree = DataTree::new();
        let mut pending = PendingChanges::new();
        let auth = AuthInfo::for_address("127.0.0.1".parse().unwrap());
        for (i, z) in [(0, 1), (1, 2)] {
            let mut ov = Overlay::new(&tree, &pending);
            let (b, keep) =
                prep_write(op::CREATE, create("/q-", 2), &ctx(&auth, z), &mut ov).unwrap();
            assert!(keep);
            let TxnBody::Create(c) = b else {
                panic!("not a create")
            };
            assert_eq!(c.path, format!("/q-{:010}", i));
            for (p, m) in ov.into_changes() {
                pending.set(z, p, m);
            }
        }
    }

    #[test]
    fn errors_in_apache_order() {
        let tree = DataTree::new();
        let pending = PendingChanges::new();
        let auth = AuthInfo::for_address("127.0.0.1".parse().unwrap());
        let c = ctx(&auth, 1);
        let mut ov = Overlay::new(&tree, &pending);
        assert_eq!(
            prep_write(op::CREATE, create("/a/b", 0), &c, &mut ov).unwrap_err(),
            ErrorCode::NoNode
        );
        assert_eq!(
            prep_write(op::CREATE, create("/zookeeper", 0), &c, &mut ov).unwrap_err(),
            ErrorCode::NodeExists
        );
        assert_eq!(
            prep_write(op::CREATE, create("/x", 9), &c, &mut ov).unwrap_err(),
            ErrorCode::BadArguments
        );
        assert_eq!(
            prep_write(op::CREATE_TTL, create("/x", 5), &c, &mut ov).unwrap_err(),
            ErrorCode::MarshallingError
        );
        let del = Bytes::from(
            DeleteRequest {
                path: "/zookeeper".into(),
                version: -1,
            }
            .to_bytes(),
        );
        assert_eq!(
            prep_write(op::DELETE, del, &c, &mut ov).unwrap_err(),
            ErrorCode::BadArguments
        );
        let set = Bytes::from(
            SetDataRequest {
                path: "/zookeeper".into(),
                data: None,
                version: 7,
            }
            .to_bytes(),
        );
        assert_eq!(
            prep_write(op::SET_DATA, set, &c, &mut ov).unwrap_err(),
            ErrorCode::BadVersion
        );
    }
}
