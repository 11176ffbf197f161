//! Reads and other requests that change no znode: served straight from the applied tree, as
//! Apache's FinalRequestProcessor does, registering watches as they go.

use bytes::{BufMut, Bytes};

use crate::auth::AuthInfo;
use crate::proto::codes::{event, op, perms};
use crate::proto::jute::{Jute, JuteReader};
use crate::proto::records::{
    AddWatchRequest, CheckVersionRequest, ClientInfo, ErrorResponse, GetAclResponse,
    GetAllChildrenNumberResponse, GetChildren2Response, GetChildrenResponse, GetDataResponse,
    GetEphemeralsResponse, MultiHeader, PathRequest, PathWatchRequest, SetWatches, SetWatches2,
    StatResponse, WatchTypeRequest, WhoAmIResponse,
};
use crate::proto::ErrorCode;
use crate::tree::DataTree;
use crate::watch::{WatchKind, WatchManager};

/// Everything a read may look at or touch.
pub struct ReadContext<'a> {
    pub tree: &'a DataTree,
    pub watches: &'a mut WatchManager,
    pub auth: &'a AuthInfo,
    pub session: i64,
    pub max_buffer: usize,
}

/// The encoded response record (empty for ops that answer with a header only).
pub type ReadResult = Result<Vec<u8>, ErrorCode>;

fn enc<T: Jute>(v: &T) -> ReadResult {
    Ok(v.to_bytes())
}

pub fn is_read(kind: i32) -> bool {
    matches!(
        kind,
        op::EXISTS
            | op::CHECK
            | op::GET_DATA
            | op::GET_ACL
            | op::GET_CHILDREN
            | op::GET_CHILDREN2
            | op::SYNC
            | op::CHECK_WATCHES
            | op::REMOVE_WATCHES
            | op::MULTI_READ
            | op::GET_EPHEMERALS
            | op::GET_ALL_CHILDREN_NUMBER
            | op::ADD_WATCH
            | op::WHO_AM_I
    )
}

fn get_data(cx: &mut ReadContext, path: &str, watch: bool) -> Result<GetDataResponse, ErrorCode> {
    let (data, stat) = cx.tree.get_data(path).ok_or(ErrorCode::NoNode)?;
    let meta = cx.tree.meta(path).ok_or(ErrorCode::NoNode)?;
    cx.auth.check(&meta.acl, perms::READ)?;
    if watch {
        cx.watches.add(cx.session, path, WatchKind::Data);
    }
    Ok(GetDataResponse { data, stat })
}

fn get_children(
    cx: &mut ReadContext,
    path: &str,
    watch: bool,
) -> Result<GetChildren2Response, ErrorCode> {
    let meta = cx.tree.meta(path).ok_or(ErrorCode::NoNode)?;
    cx.auth.check(&meta.acl, perms::READ)?;
    let (children, stat) = cx.tree.get_children(path).ok_or(ErrorCode::NoNode)?;
    if watch {
        cx.watches.add(cx.session, path, WatchKind::Child);
    }
    Ok(GetChildren2Response { children, stat })
}

/// Executes one read. `body` is the request record.
pub fn execute(kind: i32, body: Bytes, cx: &mut ReadContext) -> ReadResult {
    let mut r = JuteReader::with_max_len(body, 2 * cx.max_buffer);
    let bad = |_| ErrorCode::MarshallingError;
    match kind {
        op::EXISTS => {
            let req = PathWatchRequest::read_from(&mut r).map_err(bad)?;
            if req.path.contains('\0') {
                return Err(ErrorCode::BadArguments);
            }
            if let Some(meta) = cx.tree.meta(&req.path) {
                cx.auth.check(&meta.acl, perms::READ)?;
            }
            if req.watch {
                // An exists watch is set whether or not the node exists.
                cx.watches.add(cx.session, &req.path, WatchKind::Data);
            }
            let stat = cx.tree.stat(&req.path).ok_or(ErrorCode::NoNode)?;
            enc(&StatResponse { stat })
        }
        op::CHECK => {
            // A standalone check changes nothing, so it is answered as a read: logging it as a
            // txn of type 13 would make the log unreadable for Apache's tools.
            let req = CheckVersionRequest::read_from(&mut r).map_err(bad)?;
            let meta = cx.tree.meta(&req.path).ok_or(ErrorCode::NoNode)?;
            cx.auth.check(&meta.acl, perms::READ)?;
            if req.version != -1 && req.version != meta.stat.version {
                return Err(ErrorCode::BadVersion);
            }
            let stat = cx.tree.stat(&req.path).ok_or(ErrorCode::NoNode)?;
            enc(&StatResponse { stat })
        }
        op::GET_DATA => {
            let req = PathWatchRequest::read_from(&mut r).map_err(bad)?;
            enc(&get_data(cx, &req.path, req.watch)?)
        }
        op::GET_CHILDREN => {
            let req = PathWatchRequest::read_from(&mut r).map_err(bad)?;
            let resp = get_children(cx, &req.path, req.watch)?;
            enc(&GetChildrenResponse {
                children: resp.children,
            })
        }
        op::GET_CHILDREN2 => {
            let req = PathWatchRequest::read_from(&mut r).map_err(bad)?;
            enc(&get_children(cx, &req.path, req.watch)?)
        }
        op::GET_ACL => {
            let req = PathRequest::read_from(&mut r).map_err(bad)?;
            let (mut acl, stat) = cx.tree.get_acl(&req.path).ok_or(ErrorCode::NoNode)?;
            cx.auth.check(&acl, perms::READ | perms::ADMIN)?;
            // Without ADMIN, digest hashes are hidden (ZOOKEEPER-1392).
            if cx.auth.check(&acl, perms::ADMIN).is_err() {
                for a in acl.iter_mut().filter(|a| a.id.scheme == "digest") {
                    let user = a.id.id.split(':').next().unwrap_or("").to_string();
                    a.id.id = format!("{user}:x");
                }
            }
            enc(&GetAclResponse { acl, stat })
        }
        op::GET_ALL_CHILDREN_NUMBER => {
            let req = PathRequest::read_from(&mut r).map_err(bad)?;
            let meta = cx.tree.meta(&req.path).ok_or(ErrorCode::NoNode)?;
            cx.auth.check(&meta.acl, perms::READ)?;
            let total_number = cx
                .tree
                .all_children_number(&req.path)
                .ok_or(ErrorCode::NoNode)?;
            enc(&GetAllChildrenNumberResponse { total_number })
        }
        op::GET_EPHEMERALS => {
            let req = PathRequest::read_from(&mut r).map_err(bad)?;
            let prefix = req.path.trim();
            let ephemerals = cx
                .tree
                .ephemerals_of(cx.session)
                .into_iter()
                .filter(|p| prefix.is_empty() || prefix == "/" || p.starts_with(prefix))
                .collect();
            enc(&GetEphemeralsResponse { ephemerals })
        }
        op::SYNC => {
            let req = PathRequest::read_from(&mut r).map_err(bad)?;
            enc(&req)
        }
        op::CHECK_WATCHES | op::REMOVE_WATCHES => {
            let req = WatchTypeRequest::read_from(&mut r).map_err(bad)?;
            let found = if kind == op::CHECK_WATCHES {
                cx.watches.contains(cx.session, &req.path, req.kind)
            } else {
                cx.watches.remove(cx.session, &req.path, req.kind)
            };
            if found {
                Ok(Vec::new())
            } else {
                Err(ErrorCode::NoWatcher)
            }
        }
        op::ADD_WATCH => {
            let req = AddWatchRequest::read_from(&mut r).map_err(bad)?;
            let mode = match req.mode {
                0 => WatchKind::Persistent,
                1 => WatchKind::PersistentRecursive,
                _ => return Err(ErrorCode::BadArguments),
            };
            cx.watches.add(cx.session, &req.path, mode);
            enc(&ErrorResponse { err: 0 })
        }
        op::WHO_AM_I => {
            let client_info = cx
                .auth
                .who_am_i()
                .into_iter()
                .map(|(auth_scheme, user)| ClientInfo { auth_scheme, user })
                .collect();
            enc(&WhoAmIResponse { client_info })
        }
        op::MULTI_READ => multi_read(&mut r, cx),
        _ => Err(ErrorCode::Unimplemented),
    }
}

/// multiRead: each op independent; a failed op becomes an error entry.
fn multi_read(r: &mut JuteReader, cx: &mut ReadContext) -> ReadResult {
    let mut out = Vec::new();
    loop {
        let h = MultiHeader::read_from(r).map_err(|_| ErrorCode::MarshallingError)?;
        if h.done {
            break;
        }
        if h.op != op::GET_DATA && h.op != op::GET_CHILDREN {
            // Only getData and getChildren may appear in a multiRead (Apache: "Invalid type of readOp").
            return Err(ErrorCode::MarshallingError);
        }
        let req = PathWatchRequest::read_from(r).map_err(|_| ErrorCode::MarshallingError)?;
        let res: Result<Vec<u8>, ErrorCode> = match h.op {
            op::GET_DATA => get_data(cx, &req.path, false).map(|v| v.to_bytes()),
            op::GET_CHILDREN => get_children(cx, &req.path, false).map(|v| {
                GetChildrenResponse {
                    children: v.children,
                }
                .to_bytes()
            }),
            _ => return Err(ErrorCode::BadArguments),
        };
        match res {
            Ok(b) => {
                MultiHeader {
                    op: h.op,
                    done: false,
                    err: 0,
                }
                .write_to(&mut out);
                out.put_slice(&b);
            }
            Err(e) => {
                MultiHeader {
                    op: op::ERROR,
                    done: false,
                    err: e.code(),
                }
                .write_to(&mut out);
                ErrorResponse { err: e.code() }.write_to(&mut out);
            }
        }
    }
    MultiHeader {
        op: -1,
        done: true,
        err: -1,
    }
    .write_to(&mut out);
    Ok(out)
}

/// Decodes setWatches (101) or setWatches2 (105) into the richer form.
pub fn decode_set_watches(kind: i32, body: Bytes) -> Result<SetWatches2, ErrorCode> {
    let mut r = JuteReader::new(body);
    let bad = |_| ErrorCode::MarshallingError;
    if kind == op::SET_WATCHES2 {
        return SetWatches2::read_from(&mut r).map_err(bad);
    }
    let w = SetWatches::read_from(&mut r).map_err(bad)?;
    Ok(SetWatches2 {
        relative_zxid: w.relative_zxid,
        data_watches: w.data_watches,
        exist_watches: w.exist_watches,
        child_watches: w.child_watches,
        ..Default::default()
    })
}

/// Re-registers a reconnecting client's watches. Changes it missed since `relative_zxid` fire
/// at once instead (returned as (event type, path), to be sent with zxid −1); persistent
/// watches are re-armed silently, as Apache does.
pub fn set_watches(req: &SetWatches2, cx: &mut ReadContext) -> Vec<(i32, String)> {
    let rel = req.relative_zxid;
    let mut events = Vec::new();
    for p in &req.data_watches {
        match cx.tree.meta(p) {
            None => events.push((event::NODE_DELETED, p.clone())),
            Some(m) if m.stat.mzxid > rel => events.push((event::NODE_DATA_CHANGED, p.clone())),
            Some(_) => cx.watches.add(cx.session, p, WatchKind::Data),
        }
    }
    for p in &req.exist_watches {
        if cx.tree.meta(p).is_some() {
            events.push((event::NODE_CREATED, p.clone()));
        } else {
            cx.watches.add(cx.session, p, WatchKind::Data);
        }
    }
    for p in &req.child_watches {
        match cx.tree.meta(p) {
            None => events.push((event::NODE_DELETED, p.clone())),
            Some(m) if m.stat.pzxid > rel => events.push((event::NODE_CHILDREN_CHANGED, p.clone())),
            Some(_) => cx.watches.add(cx.session, p, WatchKind::Child),
        }
    }
    for p in &req.persistent_watches {
        cx.watches.add(cx.session, p, WatchKind::Persistent);
    }
    for p in &req.persistent_recursive_watches {
        cx.watches
            .add(cx.session, p, WatchKind::PersistentRecursive);
    }
    events
}
