//! multi (14) and multiRead (22): the operations, their results and their wire form (facts §6).

use bytes::{BufMut, Bytes};

use super::config::Chroot;
use super::error::ClientError;
use crate::proto::codes::{op, CreateMode, ErrorCode};
use crate::proto::jute::{Jute, JuteReader, JuteWrite};
use crate::proto::records::{
    Acl, CheckVersionRequest, Create2Response, CreateResponse, DeleteRequest, ErrorResponse,
    GetChildrenResponse, GetDataResponse, MultiHeader, PathWatchRequest, Stat, StatResponse,
};

/// One write inside a `multi`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Sent as create (1), or createContainer (19) for [`CreateMode::Container`].
    Create {
        path: String,
        data: Vec<u8>,
        acl: Vec<Acl>,
        mode: CreateMode,
    },
    /// Sent as create2 (15): the result carries the new node's Stat.
    Create2 {
        path: String,
        data: Vec<u8>,
        acl: Vec<Acl>,
        mode: CreateMode,
    },
    /// Sent as createTTL (21).
    CreateTtl {
        path: String,
        data: Vec<u8>,
        acl: Vec<Acl>,
        mode: CreateMode,
        ttl_ms: i64,
    },
    Delete {
        path: String,
        version: i32,
    },
    SetData {
        path: String,
        data: Vec<u8>,
        version: i32,
    },
    /// check (13): fails the whole multi unless the node's version matches (−1 = any).
    Check {
        path: String,
        version: i32,
    },
}

/// One read inside a `multiRead`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOp {
    GetData { path: String },
    GetChildren { path: String },
}

/// The outcome of one op of a multi or multiRead, as the server reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    Create {
        path: String,
    },
    Create2 {
        path: String,
        stat: Stat,
    },
    Delete,
    SetData {
        stat: Stat,
    },
    Check,
    GetData {
        data: Option<Vec<u8>>,
        stat: Stat,
    },
    GetChildren {
        children: Vec<String>,
    },
    /// An error entry. In a failed multi every entry is one: `Ok` before the failing op, the
    /// failure itself, then `RuntimeInconsistency`.
    Error(ErrorCode),
}

/// The first real failure of a multi: its index and code (skipping `Ok` error entries).
pub fn first_error(results: &[OpResult]) -> Option<(usize, ErrorCode)> {
    results.iter().enumerate().find_map(|(i, r)| match r {
        OpResult::Error(c) if *c != ErrorCode::Ok => Some((i, *c)),
        _ => None,
    })
}

fn create_record<W: BufMut>(
    w: &mut W,
    path: &str,
    data: &[u8],
    acl: &[Acl],
    mode: CreateMode,
    chroot: &Chroot,
) {
    w.put_ustring(&chroot.to_server(path));
    w.put_buffer(Some(data));
    acl.to_vec().write_to(w);
    w.put_i32(mode_flags(mode));
}

/// The `flags` int of a create request for a mode.
pub fn mode_flags(mode: CreateMode) -> i32 {
    match mode {
        CreateMode::Persistent => 0,
        CreateMode::Ephemeral => 1,
        CreateMode::PersistentSequential => 2,
        CreateMode::EphemeralSequential => 3,
        CreateMode::Container => 4,
        CreateMode::PersistentWithTtl => 5,
        CreateMode::PersistentSequentialWithTtl => 6,
    }
}

fn put_header<W: BufMut>(w: &mut W, opcode: i32) {
    MultiHeader {
        op: opcode,
        done: false,
        err: -1,
    }
    .write_to(w);
}

fn put_terminator<W: BufMut>(w: &mut W) {
    MultiHeader {
        op: -1,
        done: true,
        err: -1,
    }
    .write_to(w);
}

/// Encodes a MultiOperationRecord for multi (14).
pub fn encode_multi(ops: &[Op], chroot: &Chroot) -> Vec<u8> {
    let mut w = Vec::new();
    for o in ops {
        match o {
            Op::Create {
                path,
                data,
                acl,
                mode,
            } => {
                let code = if *mode == CreateMode::Container {
                    op::CREATE_CONTAINER
                } else {
                    op::CREATE
                };
                put_header(&mut w, code);
                create_record(&mut w, path, data, acl, *mode, chroot);
            }
            Op::Create2 {
                path,
                data,
                acl,
                mode,
            } => {
                put_header(&mut w, op::CREATE2);
                create_record(&mut w, path, data, acl, *mode, chroot);
            }
            Op::CreateTtl {
                path,
                data,
                acl,
                mode,
                ttl_ms,
            } => {
                put_header(&mut w, op::CREATE_TTL);
                create_record(&mut w, path, data, acl, *mode, chroot);
                w.put_i64(*ttl_ms);
            }
            Op::Delete { path, version } => {
                put_header(&mut w, op::DELETE);
                DeleteRequest {
                    path: chroot.to_server(path),
                    version: *version,
                }
                .write_to(&mut w);
            }
            Op::SetData {
                path,
                data,
                version,
            } => {
                put_header(&mut w, op::SET_DATA);
                w.put_ustring(&chroot.to_server(path));
                w.put_buffer(Some(data));
                w.put_i32(*version);
            }
            Op::Check { path, version } => {
                put_header(&mut w, op::CHECK);
                CheckVersionRequest {
                    path: chroot.to_server(path),
                    version: *version,
                }
                .write_to(&mut w);
            }
        }
    }
    put_terminator(&mut w);
    w
}

/// Encodes a MultiOperationRecord for multiRead (22). The watch flag is always false: 3.9
/// servers ignore it.
pub fn encode_multi_read(ops: &[ReadOp], chroot: &Chroot) -> Vec<u8> {
    let mut w = Vec::new();
    for o in ops {
        let (code, path) = match o {
            ReadOp::GetData { path } => (op::GET_DATA, path),
            ReadOp::GetChildren { path } => (op::GET_CHILDREN, path),
        };
        put_header(&mut w, code);
        PathWatchRequest {
            path: chroot.to_server(path),
            watch: false,
        }
        .write_to(&mut w);
    }
    put_terminator(&mut w);
    w
}

fn error_code(err: i32) -> Result<ErrorCode, ClientError> {
    ErrorCode::from_code(err)
        .ok_or_else(|| ClientError::Protocol(format!("unknown error code {err} in multi result")))
}

/// Decodes a MultiResponse. The loop ends at the `done` header; every iteration consumes at
/// least the 9-byte header, so a truncated body ends in a decode error, never a hang.
pub fn decode_multi(body: Bytes, chroot: &Chroot) -> Result<Vec<OpResult>, ClientError> {
    let mut r = JuteReader::new(body);
    let mut out = Vec::new();
    loop {
        let h = MultiHeader::read_from(&mut r)?;
        if h.done {
            return Ok(out);
        }
        let res = match h.op {
            op::CREATE => OpResult::Create {
                path: chroot.to_client(&CreateResponse::read_from(&mut r)?.path),
            },
            op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => {
                let c = Create2Response::read_from(&mut r)?;
                OpResult::Create2 {
                    path: chroot.to_client(&c.path),
                    stat: c.stat,
                }
            }
            op::DELETE => OpResult::Delete,
            op::CHECK => OpResult::Check,
            op::SET_DATA => OpResult::SetData {
                stat: StatResponse::read_from(&mut r)?.stat,
            },
            op::GET_DATA => {
                let g = GetDataResponse::read_from(&mut r)?;
                OpResult::GetData {
                    data: g.data.map(|b| b.to_vec()),
                    stat: g.stat,
                }
            }
            op::GET_CHILDREN => OpResult::GetChildren {
                children: GetChildrenResponse::read_from(&mut r)?.children,
            },
            op::ERROR => OpResult::Error(error_code(ErrorResponse::read_from(&mut r)?.err)?),
            other => {
                return Err(ClientError::Protocol(format!(
                    "unexpected op {other} in multi response"
                )))
            }
        };
        out.push(res);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hdr(w: &mut Vec<u8>, op: i32, err: i32) {
        MultiHeader {
            op,
            done: false,
            err,
        }
        .write_to(w);
    }

    #[test]
    fn encodes_headers_records_and_terminator() {
        let chroot = Chroot::new(Some("/r")).unwrap();
        let b = encode_multi(
            &[
                Op::Check {
                    path: "/a".into(),
                    version: 3,
                },
                Op::Delete {
                    path: "/b".into(),
                    version: -1,
                },
            ],
            &chroot,
        );
        let mut r = JuteReader::new(Bytes::from(b));
        let h = MultiHeader::read_from(&mut r).unwrap();
        assert_eq!((h.op, h.done, h.err), (op::CHECK, false, -1));
        let c = CheckVersionRequest::read_from(&mut r).unwrap();
        assert_eq!((c.path.as_str(), c.version), ("/r/a", 3));
        assert_eq!(MultiHeader::read_from(&mut r).unwrap().op, op::DELETE);
        assert_eq!(DeleteRequest::read_from(&mut r).unwrap().path, "/r/b");
        let t = MultiHeader::read_from(&mut r).unwrap();
        assert_eq!((t.op, t.done, t.err), (-1, true, -1));
        assert!(r.is_empty());
    }

    #[test]
    fn container_and_ttl_use_their_opcodes() {
        let none = Chroot::default();
        let b = encode_multi(
            &[
                Op::Create {
                    path: "/c".into(),
                    data: vec![],
                    acl: Acl::open_unsafe(),
                    mode: CreateMode::Container,
                },
                Op::CreateTtl {
                    path: "/t".into(),
                    data: b"x".to_vec(),
                    acl: Acl::open_unsafe(),
                    mode: CreateMode::PersistentWithTtl,
                    ttl_ms: 500,
                },
            ],
            &none,
        );
        let mut r = JuteReader::new(Bytes::from(b));
        assert_eq!(
            MultiHeader::read_from(&mut r).unwrap().op,
            op::CREATE_CONTAINER
        );
        let c = crate::proto::records::CreateRequest::read_from(&mut r).unwrap();
        assert_eq!(c.flags, 4);
        assert_eq!(MultiHeader::read_from(&mut r).unwrap().op, op::CREATE_TTL);
        let t = crate::proto::records::CreateTtlRequest::read_from(&mut r).unwrap();
        assert_eq!((t.flags, t.ttl), (5, 500));
    }

    #[test]
    fn decodes_mixed_results_and_strips_chroot() {
        let chroot = Chroot::new(Some("/r")).unwrap();
        let mut w = Vec::new();
        hdr(&mut w, op::CREATE, 0);
        CreateResponse {
            path: "/r/a".into(),
        }
        .write_to(&mut w);
        hdr(&mut w, op::DELETE, 0);
        hdr(&mut w, op::SET_DATA, 0);
        StatResponse {
            stat: Stat {
                version: 4,
                ..Stat::default()
            },
        }
        .write_to(&mut w);
        hdr(&mut w, op::GET_DATA, 0);
        GetDataResponse {
            data: None,
            stat: Stat::default(),
        }
        .write_to(&mut w);
        hdr(&mut w, op::ERROR, -101);
        ErrorResponse { err: -101 }.write_to(&mut w);
        put_terminator(&mut w);
        let res = decode_multi(Bytes::from(w), &chroot).unwrap();
        assert_eq!(res[0], OpResult::Create { path: "/a".into() });
        assert_eq!(res[1], OpResult::Delete);
        assert!(matches!(&res[2], OpResult::SetData { stat } if stat.version == 4));
        assert!(matches!(&res[3], OpResult::GetData { data: None, .. }));
        assert_eq!(res[4], OpResult::Error(ErrorCode::NoNode));
        assert_eq!(first_error(&res), Some((4, ErrorCode::NoNode)));
    }

    #[test]
    fn failed_multi_first_error_skips_ok_entries() {
        let res = vec![
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::BadVersion),
            OpResult::Error(ErrorCode::RuntimeInconsistency),
        ];
        assert_eq!(first_error(&res), Some((1, ErrorCode::BadVersion)));
        assert_eq!(first_error(&[OpResult::Check]), None);
    }

    #[test]
    fn truncated_or_unknown_response_is_an_error() {
        let mut w = Vec::new();
        hdr(&mut w, op::CREATE, 0);
        assert!(decode_multi(Bytes::from(w), &Chroot::default()).is_err());
        let mut w = Vec::new();
        hdr(&mut w, 77, 0);
        put_terminator(&mut w);
        assert!(decode_multi(Bytes::from(w), &Chroot::default()).is_err());
    }
}
