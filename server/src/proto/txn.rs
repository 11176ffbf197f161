//! Transactions: the unit that is logged, replicated and applied (TxnHeader + record +
//! optional TxnDigest). The same bytes are a log entry's payload and a PROPOSAL's data.

use bytes::{BufMut, Bytes};

use super::codes::op;
use super::jute::{Jute, JuteError, JuteReader, JuteWrite};
use super::records::Acl;
use crate::jute_record;

jute_record! {
    pub struct TxnHeader { pub client_id: i64, pub cxid: i32, pub zxid: i64, pub time: i64, pub kind: i32 }
}

jute_record! { pub struct CreateContainerTxn { pub path: String, pub data: Option<Bytes>, pub acl: Vec<Acl>, pub parent_cversion: i32 } }
jute_record! { pub struct CreateTtlTxn { pub path: String, pub data: Option<Bytes>, pub acl: Vec<Acl>, pub parent_cversion: i32, pub ttl: i64 } }
jute_record! { pub struct DeleteTxn { pub path: String } }
jute_record! { pub struct SetDataTxn { pub path: String, pub data: Option<Bytes>, pub version: i32 } }
jute_record! { pub struct SetAclTxn { pub path: String, pub acl: Vec<Acl>, pub version: i32 } }
jute_record! { pub struct CheckVersionTxn { pub path: String, pub version: i32 } }
jute_record! { pub struct CreateSessionTxn { pub time_out: i32 } }
jute_record! { pub struct ErrorTxn { pub err: i32 } }
jute_record! { pub struct TxnDigest { pub version: i32, pub tree_digest: i64 } }

/// CreateTxn; `parent_cversion` is −1 when read from the old V0 form that lacks it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateTxn {
    pub path: String,
    pub data: Option<Bytes>,
    pub acl: Vec<Acl>,
    pub ephemeral: bool,
    pub parent_cversion: i32,
}

impl Jute for CreateTxn {
    fn write_to<W: BufMut>(&self, w: &mut W) {
        self.path.write_to(w);
        self.data.write_to(w);
        self.acl.write_to(w);
        self.ephemeral.write_to(w);
        self.parent_cversion.write_to(w);
    }
    fn read_from(r: &mut JuteReader) -> Result<Self, JuteError> {
        let path = String::read_from(r)?;
        let data = Option::<Bytes>::read_from(r)?;
        let acl = Vec::<Acl>::read_from(r)?;
        let ephemeral = bool::read_from(r)?;
        let parent_cversion = if r.remaining() >= 4 {
            i32::read_from(r)?
        } else {
            -1
        };
        Ok(CreateTxn {
            path,
            data,
            acl,
            ephemeral,
            parent_cversion,
        })
    }
}

/// CloseSessionTxn; `paths_to_delete` is `None` in old logs that carry no record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CloseSessionTxn {
    pub paths_to_delete: Option<Vec<String>>,
}

/// The body of a txn; which variant is decided by the header's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnBody {
    /// create (1) and create2 (15)
    Create(CreateTxn),
    CreateContainer(CreateContainerTxn),
    CreateTtl(CreateTtlTxn),
    /// delete (2) and deleteContainer (20)
    Delete(DeleteTxn),
    /// setData (5) and reconfig (16)
    SetData(SetDataTxn),
    SetAcl(SetAclTxn),
    Check(CheckVersionTxn),
    /// Sub-txns with their own types; an `Error` sub-txn marks a failed multi.
    Multi(Vec<(i32, TxnBody)>),
    CreateSession(CreateSessionTxn),
    CloseSession(CloseSessionTxn),
    Error(ErrorTxn),
}

impl TxnBody {
    /// About how many bytes the encoding takes (exact for the fixed parts, an allowance per
    /// ACL), so that encoding allocates once.
    fn size_hint(&self) -> usize {
        let data = |d: &Option<Bytes>| d.as_ref().map_or(0, |d| d.len());
        let acls = |a: &[Acl]| a.len() * 48;
        32 + match self {
            TxnBody::Create(t) => t.path.len() + data(&t.data) + acls(&t.acl),
            TxnBody::CreateContainer(t) => t.path.len() + data(&t.data) + acls(&t.acl),
            TxnBody::CreateTtl(t) => t.path.len() + data(&t.data) + acls(&t.acl),
            TxnBody::Delete(t) => t.path.len(),
            TxnBody::SetData(t) => t.path.len() + data(&t.data),
            TxnBody::SetAcl(t) => t.path.len() + acls(&t.acl),
            TxnBody::Check(t) => t.path.len(),
            TxnBody::Multi(subs) => subs.iter().map(|(_, b)| 12 + b.size_hint()).sum(),
            TxnBody::CreateSession(_) | TxnBody::CloseSession(_) | TxnBody::Error(_) => 0,
        }
    }

    pub fn write_to<W: BufMut>(&self, w: &mut W) {
        match self {
            TxnBody::Create(t) => t.write_to(w),
            TxnBody::CreateContainer(t) => t.write_to(w),
            TxnBody::CreateTtl(t) => t.write_to(w),
            TxnBody::Delete(t) => t.write_to(w),
            TxnBody::SetData(t) => t.write_to(w),
            TxnBody::SetAcl(t) => t.write_to(w),
            TxnBody::Check(t) => t.write_to(w),
            TxnBody::Multi(subs) => {
                w.put_i32(subs.len() as i32);
                for (kind, body) in subs {
                    w.put_i32(*kind);
                    let mut b = Vec::new();
                    body.write_to(&mut b);
                    w.put_buffer(Some(&b));
                }
            }
            TxnBody::CreateSession(t) => t.write_to(w),
            TxnBody::CloseSession(t) => {
                if let Some(p) = &t.paths_to_delete {
                    p.write_to(w)
                }
            }
            TxnBody::Error(t) => t.write_to(w),
        }
    }

    /// Decodes the record for txn type `kind`.
    pub fn read_from(kind: i32, r: &mut JuteReader) -> Result<TxnBody, JuteError> {
        Ok(match kind {
            op::CREATE | op::CREATE2 => TxnBody::Create(CreateTxn::read_from(r)?),
            op::CREATE_CONTAINER => TxnBody::CreateContainer(CreateContainerTxn::read_from(r)?),
            op::CREATE_TTL => TxnBody::CreateTtl(CreateTtlTxn::read_from(r)?),
            op::DELETE | op::DELETE_CONTAINER => TxnBody::Delete(DeleteTxn::read_from(r)?),
            op::SET_DATA | op::RECONFIG => TxnBody::SetData(SetDataTxn::read_from(r)?),
            op::SET_ACL => TxnBody::SetAcl(SetAclTxn::read_from(r)?),
            op::CHECK => TxnBody::Check(CheckVersionTxn::read_from(r)?),
            op::MULTI => {
                let n = r.read_vec_len("multi txns")?.unwrap_or(0);
                let mut subs = Vec::with_capacity(n);
                for _ in 0..n {
                    let sub_kind = r.read_i32("multi txn type")?;
                    let data = r.read_buffer("multi txn data")?.unwrap_or_default();
                    let body = TxnBody::read_from(sub_kind, &mut JuteReader::new(data))?;
                    subs.push((sub_kind, body));
                }
                TxnBody::Multi(subs)
            }
            op::CREATE_SESSION => TxnBody::CreateSession(CreateSessionTxn::read_from(r)?),
            op::CLOSE_SESSION => TxnBody::CloseSession(CloseSessionTxn {
                paths_to_delete: if r.remaining() >= 4 {
                    Some(Vec::<String>::read_from(r)?)
                } else {
                    None
                },
            }),
            op::ERROR => TxnBody::Error(ErrorTxn::read_from(r)?),
            other => {
                return Err(JuteError::BadValue {
                    what: "txn type",
                    value: other as i64,
                })
            }
        })
    }
}

/// A whole txn as logged: header, body, and the tree digest after applying it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    pub hdr: TxnHeader,
    pub body: TxnBody,
    pub digest: Option<TxnDigest>,
}

impl Txn {
    pub fn zxid(&self) -> i64 {
        self.hdr.zxid
    }

    /// The bytes of a log entry's payload (and of a PROPOSAL).
    pub fn encode(&self) -> Vec<u8> {
        // Header 32 bytes, digest 12.
        let mut v = Vec::with_capacity(44 + self.body.size_hint());
        self.write_to(&mut v);
        v
    }

    pub fn write_to<W: BufMut>(&self, w: &mut W) {
        self.hdr.write_to(w);
        self.body.write_to(w);
        if let Some(d) = &self.digest {
            d.write_to(w);
        }
    }

    /// Decodes a log payload; a digest is read only if bytes remain for it.
    pub fn decode(buf: Bytes) -> Result<Txn, JuteError> {
        let mut r = JuteReader::new(buf);
        let hdr = TxnHeader::read_from(&mut r)?;
        let body = TxnBody::read_from(hdr.kind, &mut r)?;
        let digest = if r.remaining() >= 12 {
            Some(TxnDigest::read_from(&mut r)?)
        } else {
            None
        };
        Ok(Txn { hdr, body, digest })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(kind: i32) -> TxnHeader {
        TxnHeader {
            client_id: 0x1234,
            cxid: 7,
            zxid: 0x100000003,
            time: 1_700_000_000_000,
            kind,
        }
    }

    #[test]
    fn create_txn_round_trips_with_digest() {
        let t = Txn {
            hdr: hdr(op::CREATE),
            body: TxnBody::Create(CreateTxn {
                path: "/a".into(),
                data: Some(Bytes::from_static(b"x")),
                acl: Acl::open_unsafe(),
                ephemeral: true,
                parent_cversion: 3,
            }),
            digest: Some(TxnDigest {
                version: 2,
                tree_digest: 99,
            }),
        };
        assert_eq!(Txn::decode(Bytes::from(t.encode())).unwrap(), t);
    }

    #[test]
    fn multi_and_close_session_round_trip() {
        let t = Txn {
            hdr: hdr(op::MULTI),
            body: TxnBody::Multi(vec![
                (op::DELETE, TxnBody::Delete(DeleteTxn { path: "/x".into() })),
                (op::ERROR, TxnBody::Error(ErrorTxn { err: -101 })),
            ]),
            digest: None,
        };
        assert_eq!(Txn::decode(Bytes::from(t.encode())).unwrap(), t);
        let c = Txn {
            hdr: hdr(op::CLOSE_SESSION),
            body: TxnBody::CloseSession(CloseSessionTxn {
                paths_to_delete: Some(vec!["/e".into()]),
            }),
            digest: None,
        };
        assert_eq!(Txn::decode(Bytes::from(c.encode())).unwrap(), c);
    }
}
