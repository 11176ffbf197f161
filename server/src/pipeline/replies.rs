//! Reply records for applied txns, as Apache's FinalRequestProcessor builds them.

use bytes::BufMut;

use crate::proto::codes::op;
use crate::proto::jute::Jute;
use crate::proto::records::{Create2Response, CreateResponse, ErrorResponse, MultiHeader, StatResponse};
use crate::proto::ErrorCode;
use crate::tree::TxnResult;

/// The response record for request type `kind`, given the txn's result (empty for header-only replies).
pub fn write_reply(kind: i32, res: &TxnResult) -> Result<Vec<u8>, ErrorCode> {
    if kind == op::MULTI {
        return Ok(multi_reply(res));
    }
    if res.err != ErrorCode::Ok {
        return Err(res.err);
    }
    Ok(single(kind, res))
}

fn single(kind: i32, res: &TxnResult) -> Vec<u8> {
    let stat = || res.stat.clone().unwrap_or_default();
    match kind {
        op::CREATE => CreateResponse { path: res.path.clone() }.to_bytes(),
        op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => Create2Response {
            path: res.path.clone(),
            stat: stat(),
        }
        .to_bytes(),
        op::SET_DATA | op::SET_ACL => StatResponse { stat: stat() }.to_bytes(),
        _ => Vec::new(),
    }
}

/// A multi reply: one (MultiHeader, result) per op, then the terminator. In a failed multi
/// every entry is an error entry (0 before the failure, the code, then −2), as Apache answers.
fn multi_reply(res: &TxnResult) -> Vec<u8> {
    let mut out = Vec::new();
    let failed = res.multi.iter().any(|s| s.kind == op::ERROR || s.err != ErrorCode::Ok);
    for sub in &res.multi {
        if failed {
            // Ops before the failing one report 0; error sub-txns carry their own code.
            let err = if sub.kind == op::ERROR { sub.err.code() } else { 0 };
            MultiHeader { op: op::ERROR, done: false, err }.write_to(&mut out);
            ErrorResponse { err }.write_to(&mut out);
        } else {
            MultiHeader { op: sub.kind, done: false, err: 0 }.write_to(&mut out);
            let body = match sub.kind {
                // Inside a multi, a check answers with nothing and a delete too.
                op::CHECK | op::DELETE => Vec::new(),
                k => single(k, sub),
            };
            out.put_slice(&body);
        }
    }
    MultiHeader { op: -1, done: true, err: -1 }.write_to(&mut out);
    out
}
