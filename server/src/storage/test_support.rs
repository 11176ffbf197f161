//! Builders shared by the storage unit tests.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;

use crate::proto::codes::op;
use crate::proto::records::Acl;
use crate::proto::txn::{CreateTxn, Txn, TxnBody, TxnHeader};

/// A create txn for `/n<zxid>` with some data, as a log payload.
pub fn create_txn(zxid: i64) -> Txn {
    Txn {
        hdr: TxnHeader {
            client_id: 0x1234,
            cxid: zxid as i32,
            zxid,
            time: 1_700_000_000_000,
            kind: op::CREATE,
        },
        body: TxnBody::Create(CreateTxn {
            path: format!("/n{zxid}"),
            data: Some(Bytes::from(vec![b'x'; 20])),
            acl: Acl::open_unsafe(),
            ephemeral: false,
            parent_cversion: zxid as i32,
        }),
        digest: None,
    }
}

/// Writes txns `zxids` through one writer, committing once at the end of each slice and
/// rolling between slices. Returns the log files created.
pub fn write_log(dir: &std::path::Path, files: &[&[i64]], prealloc: u64) {
    let mut w = super::TxnLogWriter::open(dir, prealloc, true).unwrap();
    for zxids in files {
        for z in *zxids {
            w.append(*z, &create_txn(*z).encode()).unwrap();
        }
        w.roll().unwrap();
    }
}
